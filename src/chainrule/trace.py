r"""Every number of a forward and a backward pass, named and written out.

``trace(net, x, y, loss)`` runs a small network on a few samples in float64
and records each intermediate value of the forward pass and each
chain-rule product of the backward pass, the way one would on paper.

Notation (layers are the ``Dense`` layers, numbered from 1):

    x[n,i]          input i of sample n            (a0 = x)
    z{l}[n,j]       = sum_i a{l-1}[n,i] W{l}[i,j] + b{l}[j]
    a{l}[n,j]       = f_l(z{l}[n,j])               (f_l the layer's activation)
    W{l}[i,j]       weight from input i to unit j  (``Dense.weight``, shape (in, out))
    L               the loss, a mean over the batch

and backward, for the last layer ``L`` first, then down to layer 1:

    dL/dz{l}[n,j]    = dL/da{l}[n,j] * f_l'(z{l}[n,j])
    dL/dW{l}[i,j]    = sum_n dL/da{l}[n,j] * da{l}[n,j]/dz{l}[n,j] * dz{l}[n,j]/dW{l}[i,j]
                       with dz{l}[n,j]/dW{l}[i,j] = a{l-1}[n,i]
    dL/db{l}[j]      = sum_n dL/da{l}[n,j] * da{l}[n,j]/dz{l}[n,j] * 1
    dL/da{l-1}[n,i]  = sum_j dL/dz{l}[n,j] * W{l}[i,j]

Each of these is one *step*: its name (``"dL/dW2[0,1]"``), its value, the
factors it multiplies and the terms it sums, available as data
(``trace.steps``, ``trace.values``, ``trace.gradients``) and as text
(``print(trace)``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .activations import Activation, Identity, Softmax
from .embedding import Embedding
from .layers import Dense
from .losses import Loss, get_loss
from .merge import Add, Concatenate, Multiply
from .network import Network, Sequential, check_features

__all__ = ["Trace", "trace"]


class _Stage:
    """One Dense layer and the activation applied to it."""

    def __init__(self, number: int, index: int, dense: Dense, act: Activation) -> None:
        self.number, self.index, self.dense, self.act = number, index, dense, act


def _stages(net: Sequential) -> list[_Stage]:
    stages: list[_Stage] = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            act = layer.activation
            stages.append(_Stage(len(stages) + 1, i, layer, act if act is not None else Identity()))
        elif (
            isinstance(layer, Activation)
            and stages
            and isinstance(stages[-1].act, Identity)
            and stages[-1].dense.activation is None
            and stages[-1].index == i - 1
        ):
            stages[-1].act = layer  # Dense(...) then cr.ReLU(): one stage, z then a
        else:
            raise ValueError(
                f"trace follows Dense layers and their activations; layer {i} ({layer!r}) is "
                "not supported (remove Dropout/BatchNorm, and put each activation right after "
                "a Dense layer without one)"
            )
    for s in stages:
        if isinstance(s.act, Softmax):
            raise ValueError(
                "trace needs elementwise activations; leave the last layer without an "
                "activation (logits) and use loss='cross_entropy', which includes the softmax"
            )
    return stages


def _fmt(v: float, digits: int) -> str:
    return f"{float(v) + 0.0:.{digits}g}"  # + 0.0 turns -0.0 into 0.0


def _idx(*ix: int) -> str:
    return "[" + ",".join(str(i) for i in ix) + "]"


class Trace:
    """The recorded passes of ``trace``.

    Parameters
    ----------
    digits : int, default 5
        Significant digits of the numbers in ``text()``.

    Attributes
    ----------
    steps : list of dict
        In order of computation. Each step has ``phase`` (``"forward"``,
        ``"loss"`` or ``"backward"``), ``name`` (e.g. ``"z1[0,1]"``,
        ``"dL/dW2[0,1]"``), ``value`` (float), ``text`` (the formula with its
        numbers), ``layer`` (the Dense number, 0 for the loss), and where it
        applies ``sample``, ``factors`` (list of ``(name, value)`` multiplied
        together) and ``terms`` (list of dicts, each with ``sample`` or
        ``unit``, ``factors`` and ``value``, added together).
    values : dict of str to float
        Every named number: inputs, weights, ``z``, ``a``, ``y``, ``L`` and
        every derivative.
    arrays : dict of str to ndarray
        The same numbers as arrays: ``"x"``, ``"z1"``, ``"a1"``, ``"W1"``,
        ``"b1"``, ``"dL/da1"``, ``"da1/dz1"``, ``"dL/dz1"``, ``"dL/dW1"``,
        ``"dL/db1"``, ``"y"``...
    gradients : dict of str to ndarray
        dL/dparam for every parameter, keyed like ``net.parameters()``'s
        names (``"0.dense.weight"``...): the numbers ``net.backward`` fills.
    loss : float
        The loss value.
    """

    def __init__(self, digits: int = 5) -> None:
        self.digits = digits
        self.steps: list[dict[str, Any]] = []
        self.values: dict[str, float] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.gradients: dict[str, np.ndarray] = {}
        self.loss = float("nan")
        self.layer_names: dict[int, str] = {}

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def _add(self, phase: str, name: str, value: float, text: str, layer: int, **extra) -> None:
        step = {"phase": phase, "name": name, "value": float(value), "text": text, "layer": layer}
        step.update(extra)
        self.steps.append(step)
        self.values[name] = float(value)

    def text(self) -> str:
        """The whole trace as readable text, one step per line (sums over several lines)."""
        out: list[str] = []
        phase = None
        layer = None
        titles = {
            "forward": "Forward pass",
            "loss": "Loss",
            "backward": "Backward pass (the chain rule, last layer first)",
        }
        for s in self.steps:
            if s["phase"] != phase:
                phase, layer = s["phase"], None
                out.append(titles[phase])
            if phase in ("forward", "backward") and s["layer"] != layer:
                layer = s["layer"]
                out.append(f"  layer {layer} ({self.layer_names.get(layer, '')})")
            indent = "    " if phase != "loss" else "  "
            lines = s["text"].split("\n")
            out.append(indent + lines[0])
            out.extend(indent + "    " + line for line in lines[1:])
        out.append("Gradients (what net.backward puts in each param.grad)")
        for name, g in self.gradients.items():
            body = np.array2string(g, precision=self.digits, separator=", ")
            out.append(f"  {name} = " + body.replace("\n", "\n    " + " " * len(name)))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Trace(steps={len(self.steps)}, loss={self.loss:.6g})"


def _chain_products(key: str, factor_lists) -> tuple[list[dict], float]:
    """One chain-rule product per list of ``(name, value)`` factors, and their sum.

    Term ``k`` is ``{key: k, "factors": factors, "value": f_1·f_2·...}``: ``key`` is
    "sample" for a sum over the batch, "unit" for a sum over the units of a layer.
    """
    terms, total = [], 0.0
    for k, fac in enumerate(factor_lists):
        p = math.prod(v for _, v in fac)
        total += p
        terms.append({key: k, "factors": fac, "value": p})
    return terms, total


def _add_chain_sum(
    tr: Trace, name: str, head: str, terms: list, total: float, layer: int, f
) -> None:
    """Record a gradient that is a sum over samples of chain-rule products, one line each."""
    lines = [
        f"n={t['sample']}: "
        + "·".join(f"({f(v)})" for _, v in t["factors"])
        + f" = {f(t['value'])}"
        for t in terms
    ]
    tr._add(
        "backward", name, total, "\n".join([head, *lines, f"sum = {f(total)}"]), layer, terms=terms
    )


def _loss_grad_text(
    loss: Loss, out: str, n: int, j: int, a: float, t: float, g: float, N: int, d: int
) -> str:
    """``dL/da{L}[n,j] = ...`` with the loss's own formula where we know it."""
    f = lambda v: _fmt(v, d)  # noqa: E731
    head = f"dL/d{out}{_idx(n, j)}"
    if loss.name == "mse":
        return (
            f"{head} = 2·({out}{_idx(n, j)} - y{_idx(n, j)})/N = 2·(({f(a)}) - ({f(t)}))/{N}"
            f" = {f(g)}"
        )
    if loss.name == "mae":
        return f"{head} = sign({out}{_idx(n, j)} - y{_idx(n, j)})/N = sign(({f(a)}) - ({f(t)}))/{N} = {f(g)}"
    if loss.name == "binary_cross_entropy":
        return (
            f"{head} = (sigmoid({out}{_idx(n, j)}) - y{_idx(n, j)})/N = (sigmoid({f(a)}) - "
            f"({f(t)}))/{N} = {f(g)}"
        )
    if loss.name == "cross_entropy":
        return (
            f"{head} = (softmax({out}[{n},:])[{j}] - t{_idx(n, j)})/n = ({f(g * N + t)} - "
            f"({f(t)}))/{N} = {f(g)}"
        )
    return f"{head} = d{loss.name}/d{out}{_idx(n, j)} = {f(g)}"


def _loss_text(loss: Loss, out: str, value: float, N: int, d: int) -> str:
    forms = {
        "mse": f"(1/N) Σ_n,j ({out}[n,j] - y[n,j])^2",
        "mae": f"(1/N) Σ_n,j |{out}[n,j] - y[n,j]|",
        "binary_cross_entropy": f"(1/N) Σ_n,j BCE(sigmoid({out}[n,j]), y[n,j])",
        "cross_entropy": f"(1/N) Σ_n -log softmax({out}[n,:])[y_n]",
    }
    if loss.name in forms:
        return f"L = {forms[loss.name]} = {_fmt(value, d)}    (N = {N})"
    return f"L = {loss.name}({out}, y) = {_fmt(value, d)}"


def _checked_target(estimate: int, max_steps: int, loss, y, net, N: int) -> np.ndarray:
    """The targets as the loss reads them, once the trace's size is known to be small enough."""
    if estimate > max_steps:
        raise ValueError(
            f"trace would record about {estimate} steps (limit max_steps={max_steps}); it is "
            "meant for small networks and a few samples: pass fewer rows or raise max_steps"
        )
    T = loss.prepare_target(y, net.n_outputs, np.float64)
    if len(T) != N:
        raise ValueError(f"x has {N} samples but y has {len(T)}")
    return T


def trace(
    net: Sequential,
    x,
    y,
    loss: str | Loss,
    digits: int = 5,
    max_steps: int = 20_000,
) -> Trace:
    r"""Trace one forward and backward pass of a small network, step by step.

    Parameters
    ----------
    net : Sequential or Network
        ``Dense`` layers, each with an elementwise activation or followed by
        an activation layer; a graph ``Network`` may also hold ``Add``,
        ``Multiply``, ``Concatenate``, ``Embedding`` and shared layers (see
        *Graph networks* below). Not modified: the trace reads its weights and
        computes in float64 on its own.
    x : array-like of shape (n_samples, n_features)
        A few samples.
    y : array-like
        Their targets, in any form ``loss`` accepts.
    loss : str or Loss
        The loss, averaged over the batch as in training.
    digits : int, default 5
        Significant digits in the text.
    max_steps : int, default 20000
        Refuse networks and batches that would give more steps than this.

    Returns
    -------
    Trace
        ``print(trace)`` shows every step; ``trace.steps``, ``trace.values``
        and ``trace.gradients`` hold the numbers.

    Notes
    -----
    ``trace.gradients`` equals what ``net.backward(loss.backward())`` puts
    in each ``param.grad`` (up to float64 rounding; exactly the same
    products, summed in a different order), and both equal central finite
    differences of ``L``.

    Graph networks: values are named after the nodes (``h[n,j]`` is node
    ``h``'s output, ``h.z[n,j]`` a Dense node's pre-activation, ``W_h`` and
    ``b_h`` the weights of the layer first used at node ``h``), and the
    layer numbers of the steps are node positions in ``net.nodes``. Where a
    node feeds several layers, its gradient is written as the sum of what
    each reader sends back (the multivariable chain rule)::

        dL/dh[0,1] = dL/dh[0,1] via left + dL/dh[0,1] via s = (a) + (b) = a+b

    and a layer used at several nodes gets ``dL/dW`` summed over its uses.
    One output only (several: trace each with its own network).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.Sequential(cr.Dense(1, 2, activation="softplus"), cr.Dense(2, 1), seed=0)
    >>> t = cr.trace(net, np.array([[0.0], [1.0]]), np.array([0.0, 1.0]), "mse")
    >>> sorted(t.gradients)[:2]
    ['0.dense.weight', '0.dense.bias']
    """
    if isinstance(net, Network) and not isinstance(net, Sequential):
        return _trace_graph(net, x, y, loss, digits, max_steps)
    stages = _stages(net)
    loss = copy.deepcopy(get_loss(loss))
    X = np.array(check_features(x, net.n_features_in, np.float64), dtype=np.float64)
    N, n_in = X.shape
    widths = [n_in] + [s.dense.out_features for s in stages]
    estimate = sum(
        N * (2 * widths[k + 1]) * 3 + widths[k] * widths[k + 1] for k in range(len(stages))
    )
    T = _checked_target(estimate, max_steps, loss, y, net, N)
    tr = Trace(digits)
    f = lambda v: _fmt(v, digits)  # noqa: E731
    L = len(stages)
    tr.arrays["x"] = X
    for n in range(N):
        for i in range(n_in):
            tr.values[f"x{_idx(n, i)}"] = float(X[n, i])

    # -- forward ----------------------------------------------------------------------------
    acts = [X]
    zs: list[np.ndarray] = []
    Ws: list[np.ndarray] = []
    prev_name = "x"
    for s in stages:
        l = s.number
        W = s.dense.weight.value.astype(np.float64)
        b = s.dense.bias.value.astype(np.float64)
        Ws.append(W)
        tr.layer_names[l] = f"net.layers[{s.index}], {s.dense.in_features} -> " + (
            f"{s.dense.out_features}, {s.act.name}"
        )
        tr.arrays[f"W{l}"], tr.arrays[f"b{l}"] = W, b
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                tr.values[f"W{l}{_idx(i, j)}"] = float(W[i, j])
        for j in range(W.shape[1]):
            tr.values[f"b{l}[{j}]"] = float(b[j])
        a_prev = acts[-1]
        z = np.empty((N, W.shape[1]))
        for n in range(N):
            for j in range(W.shape[1]):
                terms = [(a_prev[n, i], W[i, j]) for i in range(W.shape[0])]
                value = 0.0
                for p, w in terms:
                    value += p * w
                value += b[j]
                z[n, j] = value
        a = np.asarray(s.act.f(z.copy()), dtype=np.float64)
        zs.append(z)
        acts.append(a)
        tr.arrays[f"z{l}"], tr.arrays[f"a{l}"] = z, a
        for n in range(N):
            for j in range(W.shape[1]):
                names = " + ".join(
                    f"{prev_name}{_idx(n, i)}·W{l}{_idx(i, j)}" for i in range(W.shape[0])
                )
                nums = " + ".join(f"({f(a_prev[n, i])})·({f(W[i, j])})" for i in range(W.shape[0]))
                tr._add(
                    "forward",
                    f"z{l}{_idx(n, j)}",
                    z[n, j],
                    f"z{l}{_idx(n, j)} = {names} + b{l}[{j}] = {nums} + ({f(b[j])}) = {f(z[n, j])}",
                    l,
                    sample=n,
                    factors=[
                        (f"{prev_name}{_idx(n, i)}", float(a_prev[n, i])) for i in range(W.shape[0])
                    ],
                )
                tr._add(
                    "forward",
                    f"a{l}{_idx(n, j)}",
                    a[n, j],
                    f"a{l}{_idx(n, j)} = {s.act.name}(z{l}{_idx(n, j)}) = {s.act.name}({f(z[n, j])})"
                    f" = {f(a[n, j])}",
                    l,
                    sample=n,
                )
        prev_name = f"a{l}"

    # -- loss ------------------------------------------------------------------------------
    out = acts[-1]
    value = loss.forward(out.copy(), T)
    dL_da = np.asarray(loss.backward(), dtype=np.float64)
    tr.loss = float(value)
    Tm = np.asarray(T, dtype=np.float64)
    if Tm.ndim == 1 and out.shape[1] > 1:  # integer labels stand for one-hot rows
        Tm = np.eye(out.shape[1])[Tm.astype(np.intp)]
    Tm = Tm.reshape(out.shape)
    tr.arrays["y"] = Tm
    for n in range(N):
        for j in range(out.shape[1]):
            tr.values[f"y{_idx(n, j)}"] = float(Tm[n, j])
    Nel = out.size if loss.name in ("mse", "mae", "binary_cross_entropy") else N
    tr._add("loss", "L", value, _loss_text(loss, f"a{L}", value, Nel, digits), 0)

    # -- backward --------------------------------------------------------------------------
    for s in reversed(stages):
        l = s.number
        z, a, a_prev, W = zs[l - 1], acts[l], acts[l - 1], Ws[l - 1]
        prev_name = "x" if l == 1 else f"a{l - 1}"
        if l == L:
            for n in range(N):
                for j in range(a.shape[1]):
                    tr._add(
                        "backward",
                        f"dL/da{l}{_idx(n, j)}",
                        dL_da[n, j],
                        _loss_grad_text(
                            loss, f"a{l}", n, j, a[n, j], Tm[n, j], dL_da[n, j], Nel, digits
                        ),
                        l,
                        sample=n,
                    )
        tr.arrays[f"dL/da{l}"] = dL_da
        da_dz = np.asarray(s.act.df(z.copy(), a.copy()), dtype=np.float64) * np.ones_like(z)
        dL_dz = dL_da * da_dz
        tr.arrays[f"da{l}/dz{l}"], tr.arrays[f"dL/dz{l}"] = da_dz, dL_dz
        for n in range(N):
            for j in range(a.shape[1]):
                nm = _idx(n, j)
                tr._add(
                    "backward",
                    f"da{l}/dz{l}{nm}",
                    da_dz[n, j],
                    f"da{l}/dz{l}{nm} = {s.act.name}'(z{l}{nm}) = {s.act.name}'({f(z[n, j])}) = "
                    f"{f(da_dz[n, j])}",
                    l,
                    sample=n,
                )
                tr._add(
                    "backward",
                    f"dL/dz{l}{nm}",
                    dL_dz[n, j],
                    f"dL/dz{l}{nm} = dL/da{l}{nm}·da{l}/dz{l}{nm} = ({f(dL_da[n, j])})·"
                    f"({f(da_dz[n, j])}) = {f(dL_dz[n, j])}",
                    l,
                    sample=n,
                    factors=[
                        (f"dL/da{l}{nm}", float(dL_da[n, j])),
                        (f"da{l}/dz{l}{nm}", float(da_dz[n, j])),
                    ],
                )
        dW = np.empty_like(W)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                terms, total = _chain_products(
                    "sample",
                    [
                        [
                            (f"dL/da{l}{_idx(n, j)}", float(dL_da[n, j])),
                            (f"da{l}/dz{l}{_idx(n, j)}", float(da_dz[n, j])),
                            (f"dz{l}{_idx(n, j)}/dW{l}{_idx(i, j)}", float(a_prev[n, i])),
                        ]
                        for n in range(N)
                    ],
                )
                dW[i, j] = total
                head = (
                    f"dL/dW{l}{_idx(i, j)} = Σ_n dL/da{l}[n,{j}]·da{l}/dz{l}[n,{j}]·"
                    f"dz{l}[n,{j}]/dW{l}{_idx(i, j)}    (dz{l}[n,{j}]/dW{l}{_idx(i, j)} = "
                    f"{prev_name}[n,{i}])"
                )
                _add_chain_sum(tr, f"dL/dW{l}{_idx(i, j)}", head, terms, total, l, f)
        db = np.empty(W.shape[1])
        for j in range(W.shape[1]):
            terms, total = _chain_products(
                "sample",
                [
                    [
                        (f"dL/da{l}{_idx(n, j)}", float(dL_da[n, j])),
                        (f"da{l}/dz{l}{_idx(n, j)}", float(da_dz[n, j])),
                        (f"dz{l}{_idx(n, j)}/db{l}[{j}]", 1.0),
                    ]
                    for n in range(N)
                ],
            )
            db[j] = total
            head = f"dL/db{l}[{j}] = Σ_n dL/da{l}[n,{j}]·da{l}/dz{l}[n,{j}]·dz{l}[n,{j}]/db{l}[{j}]    (dz/db = 1)"
            _add_chain_sum(tr, f"dL/db{l}[{j}]", head, terms, total, l, f)
        tr.arrays[f"dL/dW{l}"], tr.arrays[f"dL/db{l}"] = dW, db
        tr.gradients[s.dense.weight.name] = dW
        tr.gradients[s.dense.bias.name] = db
        if l > 1:  # pass the gradient down: dL/da{l-1} = sum_j dL/dz{l}[n,j] W{l}[i,j]
            below = np.empty_like(a_prev)
            for n in range(N):
                for i in range(W.shape[0]):
                    terms, total = _chain_products(
                        "unit",
                        [
                            [
                                (f"dL/dz{l}{_idx(n, j)}", float(dL_dz[n, j])),
                                (f"dz{l}{_idx(n, j)}/da{l - 1}{_idx(n, i)}", float(W[i, j])),
                            ]
                            for j in range(W.shape[1])
                        ],
                    )
                    below[n, i] = total
                    names = " + ".join(
                        f"dL/dz{l}{_idx(n, j)}·W{l}{_idx(i, j)}" for j in range(W.shape[1])
                    )
                    nums = " + ".join(
                        f"({f(dL_dz[n, j])})·({f(W[i, j])})" for j in range(W.shape[1])
                    )
                    tr._add(
                        "backward",
                        f"dL/da{l - 1}{_idx(n, i)}",
                        total,
                        f"dL/da{l - 1}{_idx(n, i)} = {names} = {nums} = {f(total)}",
                        l,
                        sample=n,
                        terms=terms,
                    )
            dL_da = below
    # in the order of net.parameters()
    order = [p.name for p in net.parameters()]
    tr.gradients = {k: tr.gradients[k] for k in order if k in tr.gradients}
    return tr


# -- graph networks: nodes in topological order, fan-out gradients summed term by term ----------
def _graph_check(net: Network) -> None:
    if len(net.outputs) != 1 or isinstance(net.n_outputs, list):
        raise ValueError(
            f"trace follows one output and its loss; this network has {len(net.outputs)} "
            f"outputs {net.output_names}: build a Network with one of them as outputs to trace it"
        )
    for node in net.nodes[len(net.inputs) :]:
        layer = node.layer
        ok = type(layer) in (Dense, Add, Multiply, Concatenate, Embedding) or isinstance(
            layer, Activation
        )
        act = layer.activation if type(layer) is Dense else layer
        if not ok:
            raise ValueError(
                f"trace follows Dense, activation, Add, Multiply, Concatenate and Embedding "
                f"layers; node {node.name!r} ({layer!r}) is not supported (remove Dropout/"
                "BatchNorm to trace the network)"
            )
        if isinstance(act, Softmax):
            raise ValueError(
                f"node {node.name!r}: trace needs elementwise activations; leave the output "
                "without an activation (logits) and use loss='cross_entropy'"
            )


def _trace_graph(net: Network, x, y, loss, digits: int, max_steps: int) -> Trace:
    """``trace`` for a graph ``Network`` (see its docstring)."""
    _graph_check(net)
    loss = copy.deepcopy(get_loss(loss))
    arrays = net.input_arrays(x)
    nodes = net.nodes
    n_in = len(net.inputs)
    N = len(arrays[0])
    estimate = 0
    for node in nodes[n_in:]:
        w_in = sum(p.n_features or 0 for p in node.inputs)
        estimate += N * 6 * (node.n_features or 0) + N * w_in * (1 + len(node.inputs))
        if type(node.layer) is Dense:
            estimate += node.layer.in_features * node.layer.out_features + node.layer.out_features
    T = _checked_target(estimate, max_steps, loss, y, net, N)
    tr = Trace(digits)
    f = lambda v: _fmt(v, digits)  # noqa: E731
    pos = {id(node): k for k, node in enumerate(nodes)}
    name = [node.name for node in nodes]
    # the layer of each Dense/Embedding named after the first node that uses it
    owner: dict[int, str] = {}
    for node in nodes[n_in:]:
        owner.setdefault(id(node.layer), node.name)
    readers: list[list[int]] = [[] for _ in nodes]
    for k, node in enumerate(nodes):
        for p in node.inputs:
            readers[pos[id(p)]].append(k)

    # -- forward ----------------------------------------------------------------------------
    vals: list[np.ndarray] = [None] * len(nodes)  # type: ignore[list-item]
    zs: dict[int, np.ndarray] = {}
    for k, (node, a) in enumerate(zip(nodes[:n_in], arrays)):
        vals[k] = np.asarray(a, np.float64) if not np.issubdtype(a.dtype, np.integer) else a
        tr.arrays[node.name] = vals[k]
        tr.layer_names[k] = f"input {node.name}"
        for n, i in np.ndindex(vals[k].shape):
            tr.values[f"{node.name}{_idx(n, i)}"] = float(vals[k][n, i])
    for k in range(n_in, len(nodes)):
        node, layer = nodes[k], nodes[k].layer
        ins = [pos[id(p)] for p in node.inputs]
        parents = ", ".join(name[j] for j in ins)
        v = name[k]
        tr.layer_names[k] = f"node {v} = {layer!r}({parents})"
        if type(layer) is Dense:
            W = layer.weight.value.astype(np.float64)
            B = layer.bias.value.astype(np.float64)
            lw = owner[id(layer)]
            tr.arrays[f"W_{lw}"], tr.arrays[f"b_{lw}"] = W, B
            for i, j in np.ndindex(W.shape):
                tr.values[f"W_{lw}{_idx(i, j)}"] = float(W[i, j])
            for j in range(len(B)):
                tr.values[f"b_{lw}[{j}]"] = float(B[j])
            act = layer.activation if layer.activation is not None else Identity()
            a_in, u = vals[ins[0]], name[ins[0]]
            z = np.empty((N, W.shape[1]))
            for n, j in np.ndindex(z.shape):
                total = 0.0
                for i in range(W.shape[0]):
                    total += a_in[n, i] * W[i, j]
                z[n, j] = total + B[j]
            out = np.asarray(act.f(z.copy()), np.float64)
            zs[k] = z
            for n, j in np.ndindex(z.shape):
                names = " + ".join(f"{u}{_idx(n, i)}·W_{lw}{_idx(i, j)}" for i in range(W.shape[0]))
                nums = " + ".join(f"({f(a_in[n, i])})·({f(W[i, j])})" for i in range(W.shape[0]))
                tr._add("forward", f"{v}.z{_idx(n, j)}", z[n, j],
                        f"{v}.z{_idx(n, j)} = {names} + b_{lw}[{j}] = {nums} + ({f(B[j])}) = "
                        f"{f(z[n, j])}", k, sample=n)  # fmt: skip
                if not isinstance(act, Identity):
                    tr._add("forward", f"{v}{_idx(n, j)}", out[n, j],
                            f"{v}{_idx(n, j)} = {act.name}({v}.z{_idx(n, j)}) = {act.name}("
                            f"{f(z[n, j])}) = {f(out[n, j])}", k, sample=n)  # fmt: skip
                else:
                    tr.values[f"{v}{_idx(n, j)}"] = float(out[n, j])
            tr.arrays[f"{v}.z"] = z
        elif isinstance(layer, Activation):
            a_in, u = vals[ins[0]], name[ins[0]]
            out = np.asarray(layer.f(a_in.copy()), np.float64)
            for n, j in np.ndindex(out.shape):
                tr._add("forward", f"{v}{_idx(n, j)}", out[n, j],
                        f"{v}{_idx(n, j)} = {layer.name}({u}{_idx(n, j)}) = {layer.name}("
                        f"{f(a_in[n, j])}) = {f(out[n, j])}", k, sample=n)  # fmt: skip
        elif type(layer) is Embedding:
            codes = layer.codes(vals[ins[0]])
            table = layer.weight.value.astype(np.float64)
            lw = owner[id(layer)]
            tr.arrays[f"E_{lw}"] = table
            out = table[codes]
            for n, j in np.ndindex(out.shape):
                tr._add("forward", f"{v}{_idx(n, j)}", out[n, j],
                        f"{v}{_idx(n, j)} = E_{lw}[{name[ins[0]]}[{n},0], {j}] = "
                        f"E_{lw}{_idx(int(codes[n]), j)} = {f(out[n, j])}", k, sample=n)  # fmt: skip
        else:  # a merge
            xs = [vals[j] for j in ins]
            if type(layer) is Concatenate:
                out = np.concatenate(xs, axis=1)
                cols = [(name[j], c) for j, x_ in zip(ins, xs) for c in range(x_.shape[1])]
                for n, c in np.ndindex(out.shape):
                    src, col = cols[c]
                    tr._add("forward", f"{v}{_idx(n, c)}", out[n, c],
                            f"{v}{_idx(n, c)} = {src}{_idx(n, col)} = {f(out[n, c])}", k,
                            sample=n)  # fmt: skip
            else:
                op = " + " if type(layer) is Add else "·"
                out = xs[0].copy()
                for x_ in xs[1:]:
                    out = out + x_ if type(layer) is Add else out * x_
                for n, j in np.ndindex(out.shape):
                    names = op.join(f"{name[i]}{_idx(n, j)}" for i in ins)
                    nums = op.join(f"({f(x_[n, j])})" for x_ in xs)
                    tr._add("forward", f"{v}{_idx(n, j)}", out[n, j],
                            f"{v}{_idx(n, j)} = {names} = {nums} = {f(out[n, j])}", k,
                            sample=n)  # fmt: skip
        vals[k] = out
        tr.arrays[v] = out

    # -- loss ------------------------------------------------------------------------------
    k_out = pos[id(net.outputs[0])]
    out = vals[k_out]
    value = loss.forward(out.copy(), T)
    dL_dout = np.asarray(loss.backward(), np.float64)
    tr.loss = float(value)
    Tm = np.asarray(T, np.float64)
    if Tm.ndim == 1 and out.shape[1] > 1:
        Tm = np.eye(out.shape[1])[Tm.astype(np.intp)]
    Tm = Tm.reshape(out.shape)
    tr.arrays["y"] = Tm
    for n, j in np.ndindex(Tm.shape):
        tr.values[f"y{_idx(n, j)}"] = float(Tm[n, j])
    Nel = out.size if loss.name in ("mse", "mae", "binary_cross_entropy") else N
    vo = name[k_out]
    tr._add("loss", "L", value, _loss_text(loss, vo, value, Nel, digits), 0)

    # -- backward: each node's gradient is the sum of what its readers send back -------------
    # via[k] = list of (reader label, array): dL/d(node k) through each reader
    via: list[list[tuple[str, np.ndarray]]] = [[] for _ in nodes]
    grads: dict[str, np.ndarray] = {}
    uses: dict[str, list[tuple[str, np.ndarray]]] = {}
    for k in range(len(nodes) - 1, -1, -1):
        v = name[k]
        if k == k_out:
            for n, j in np.ndindex(out.shape):
                tr._add("backward", f"dL/d{v}{_idx(n, j)} via the loss", dL_dout[n, j],
                        _loss_grad_text(loss, v, n, j, out[n, j], Tm[n, j], dL_dout[n, j], Nel,
                                        digits).replace(f"dL/d{v}{_idx(n, j)}",
                                                        f"dL/d{v}{_idx(n, j)} via the loss", 1),
                        k, sample=n)  # fmt: skip
            via[k].insert(0, ("the loss", dL_dout))
        if not via[k] or np.issubdtype(np.asarray(vals[k]).dtype, np.integer):
            continue  # codes: no gradient flows to them
        via[k].reverse()  # the readers in forward order (they were visited last to first)
        g = via[k][0][1].copy()
        for _, part in via[k][1:]:
            g = g + part
        tr.arrays[f"dL/d{v}"] = g
        if len(via[k]) > 1:  # the multivariable chain rule, term by term
            for n, j in np.ndindex(g.shape):
                nm = _idx(n, j)
                labels = " + ".join(f"dL/d{v}{nm} via {r}" for r, _ in via[k])
                nums = " + ".join(f"({f(part[n, j])})" for _, part in via[k])
                terms = [{"via": r, "value": float(part[n, j])} for r, part in via[k]]
                tr._add("backward", f"dL/d{v}{nm}", g[n, j],
                        f"dL/d{v}{nm} = {labels} = {nums} = {f(g[n, j])}", k, sample=n,
                        terms=terms)  # fmt: skip
        else:
            for n, j in np.ndindex(g.shape):
                tr.values[f"dL/d{v}{_idx(n, j)}"] = float(g[n, j])
        if k < n_in:
            continue
        layer = nodes[k].layer
        ins = [pos[id(p)] for p in nodes[k].inputs]
        if type(layer) is Dense:
            lw = owner[id(layer)]
            W = layer.weight.value.astype(np.float64)
            z = zs[k]
            act = layer.activation if layer.activation is not None else Identity()
            a_in, u = vals[ins[0]], name[ins[0]]
            da_dz = np.asarray(act.df(z.copy(), vals[k].copy()), np.float64) * np.ones_like(z)
            dz = g * da_dz
            for n, j in np.ndindex(z.shape):
                nm = _idx(n, j)
                if not isinstance(act, Identity):
                    tr._add("backward", f"dL/d{v}.z{nm}", dz[n, j],
                            f"dL/d{v}.z{nm} = dL/d{v}{nm}·{act.name}'({v}.z{nm}) = "
                            f"({f(g[n, j])})·({f(da_dz[n, j])}) = {f(dz[n, j])}", k,
                            sample=n)  # fmt: skip
                else:
                    tr.values[f"dL/d{v}.z{nm}"] = float(dz[n, j])
            dW = np.empty_like(W)
            for i, j in np.ndindex(W.shape):
                terms = [{"sample": n, "factors": [(f"dL/d{v}.z{_idx(n, j)}", float(dz[n, j])),
                          (f"{u}{_idx(n, i)}", float(a_in[n, i]))],
                          "value": float(dz[n, j] * a_in[n, i])} for n in range(N)]  # fmt: skip
                total = 0.0
                for t in terms:
                    total += t["value"]
                dW[i, j] = total
                head = f"dL/dW_{lw}{_idx(i, j)} at {v} = Σ_n dL/d{v}.z[n,{j}]·{u}[n,{i}]"
                _add_chain_sum(tr, f"dL/dW_{lw}{_idx(i, j)} at {v}", head, terms, total, k, f)
            db = dz.sum(axis=0)
            for j in range(len(db)):
                tr._add("backward", f"dL/db_{lw}[{j}] at {v}", db[j],
                        f"dL/db_{lw}[{j}] at {v} = Σ_n dL/d{v}.z[n,{j}] = "
                        + " + ".join(f"({f(dz[n, j])})" for n in range(N)) + f" = {f(db[j])}",
                        k)  # fmt: skip
            uses.setdefault(layer.weight.name, []).append((f"W_{lw}", v, dW))
            uses.setdefault(layer.bias.name, []).append((f"b_{lw}", v, db))
            part = np.empty_like(a_in, dtype=np.float64)
            for n, i in np.ndindex(a_in.shape):
                total = 0.0
                for j in range(W.shape[1]):
                    total += dz[n, j] * W[i, j]
                part[n, i] = total
                names = " + ".join(f"dL/d{v}.z{_idx(n, j)}·W_{lw}{_idx(i, j)}"
                                   for j in range(W.shape[1]))  # fmt: skip
                nums = " + ".join(f"({f(dz[n, j])})·({f(W[i, j])})" for j in range(W.shape[1]))
                tr._add("backward", f"dL/d{u}{_idx(n, i)} via {v}", total,
                        f"dL/d{u}{_idx(n, i)} via {v} = {names} = {nums} = {f(total)}", k,
                        sample=n)  # fmt: skip
            via[ins[0]].append((v, part))
        elif isinstance(layer, Activation):
            a_in, u = vals[ins[0]], name[ins[0]]
            d = np.asarray(layer.df(a_in.copy(), vals[k].copy()), np.float64) * np.ones_like(g)
            part = g * d
            for n, j in np.ndindex(g.shape):
                nm = _idx(n, j)
                tr._add("backward", f"dL/d{u}{nm} via {v}", part[n, j],
                        f"dL/d{u}{nm} via {v} = dL/d{v}{nm}·{layer.name}'({u}{nm}) = "
                        f"({f(g[n, j])})·({f(d[n, j])}) = {f(part[n, j])}", k,
                        sample=n)  # fmt: skip
            via[ins[0]].append((v, part))
        elif type(layer) is Embedding:
            lw = owner[id(layer)]
            codes = layer.codes(vals[ins[0]])
            dE = np.zeros(layer.weight.value.shape)
            for r, j in np.ndindex(dE.shape):
                rows = [n for n in range(N) if codes[n] == r]
                if rows:
                    dE[r, j] = sum(g[n, j] for n in rows)
                    tr._add("backward", f"dL/dE_{lw}{_idx(r, j)} at {v}", dE[r, j],
                            f"dL/dE_{lw}{_idx(r, j)} at {v} = Σ over the samples with code {r} "
                            f"of dL/d{v}[n,{j}] = " + " + ".join(f"({f(g[n, j])})" for n in rows)
                            + f" = {f(dE[r, j])}", k)  # fmt: skip
            uses.setdefault(layer.weight.name, []).append((f"E_{lw}", v, dE))
        else:  # merges: each input's share of dL/d(merge)
            xs = [vals[j] for j in ins]
            offset = 0
            for slot, j in enumerate(ins):
                u = name[j]
                if type(layer) is Concatenate:  # this input's columns of dL/d(merge)
                    width = xs[slot].shape[1]
                    part = g[:, offset : offset + width].copy()
                else:  # Add: dL/dv·1; Multiply: dL/dv times the product of the other inputs
                    others = np.ones_like(g)
                    for s_, x_ in enumerate(xs):
                        if s_ != slot and type(layer) is Multiply:
                            others = others * x_
                    part = g * others
                rest = [name[i] for s_, i in enumerate(ins) if s_ != slot]
                for n, c in np.ndindex(part.shape):
                    if type(layer) is Concatenate:
                        rule = f"dL/d{v}{_idx(n, offset + c)}"
                    elif type(layer) is Add:
                        rule = f"dL/d{v}{_idx(n, c)}·1"
                    else:
                        prod = "·".join(f"{r}{_idx(n, c)}" for r in rest)
                        rule = (f"dL/d{v}{_idx(n, c)}·{prod} = ({f(g[n, c])})·"
                                f"({f(others[n, c])})")  # fmt: skip
                    tr._add("backward", f"dL/d{u}{_idx(n, c)} via {v}", part[n, c],
                            f"dL/d{u}{_idx(n, c)} via {v} = {rule} = {f(part[n, c])}", k,
                            sample=n)  # fmt: skip
                if type(layer) is Concatenate:
                    offset += part.shape[1]
                via[j].append((v, part))
    # a layer used at several nodes: dL/dparam is the sum over its uses, entry by entry
    for p in net.parameters():
        parts = uses.get(p.name, [])[::-1]  # in forward order
        if not parts:
            grads[p.name] = np.zeros(p.value.shape)
            continue
        total = parts[0][2].copy()
        for _, _, part in parts[1:]:
            total = total + part
        grads[p.name] = total
        if len(parts) > 1:
            tr.layer_names[-1] = "shared layers: dL/dparam summed over the nodes that use them"
            sym = parts[0][0]
            for ix in np.ndindex(total.shape):
                nm = _idx(*ix)
                labels = " + ".join(f"dL/d{sym}{nm} at {v}" for _, v, _ in parts)
                nums = " + ".join(f"({f(part[ix])})" for _, _, part in parts)
                terms = [{"via": v, "value": float(part[ix])} for _, v, part in parts]
                tr._add("backward", f"dL/d{sym}{nm}", total[ix],
                        f"dL/d{sym}{nm} = {labels} = {nums} = {f(total[ix])}", -1,
                        terms=terms)  # fmt: skip
    tr.gradients = grads
    return tr

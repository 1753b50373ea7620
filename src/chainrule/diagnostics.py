r"""Why isn't it learning? Dead units, saturation, and gradient flow, in plain words.

Two tools look inside a network:

* ``diagnose`` runs one forward and one backward pass on a batch and
  returns a ``Report``: a per-layer table and a list of verdicts.
* ``Diagnostics`` is a callback for ``fit`` that records the same
  quantities per layer and per epoch (``.history``) and explains what went
  wrong (``.verdicts()``).

What is measured
----------------
For a layer ``a = f(z)``, ``z = x W + b``, over the ``n`` samples of a batch:

**Dead units** (ReLU). A ReLU unit with ``z <= 0`` for every sample outputs
0 everywhere and has ``f'(z) = 0`` everywhere, so

    dL/dW[i,j] = sum_n x[n,i] * dL/da[n,j] * f'(z[n,j]) = 0

no gradient ever reaches its weights again and it cannot recover. The same
fraction is measured for ``leaky_relu``, ``elu`` and ``selu`` (``z <= 0``
for every sample, equivalently ``a <= 0``), but those units still pass a
gradient through their negative side, so they are called *inactive* and
only reported in the table.

**Saturation** (sigmoid, tanh). The fraction of the ``n x units`` values
that lie on the flat tails of the function, where the derivative that the
chain rule multiplies by is nearly 0:

| activation | saturated when | largest derivative there                 |
| ---------- | -------------- | ---------------------------------------- |
| sigmoid    | ``|z| > 4``    | sigma'(4) = 0.0177 (7% of the peak 0.25) |
| tanh       | ``|z| > 2.5``  | tanh'(2.5) = 0.0266 (3% of the peak 1)   |

(``SIGMOID_SATURATION_Z``, ``TANH_SATURATION_Z``). Both functions
are monotonic, so the test is made on the output ``a`` with the same result.

**Gradient flow**. The Frobenius norm ``||dL/dW||`` of every ``Dense``
layer's weight gradient and the ratio ``||dL/dW_first|| / ||dL/dW_last||``
between the first and the last of them. Backpropagation multiplies the
gradient by ``f'(z) W^T`` once per layer; factors below 1 (a sigmoid's
``f'`` is at most 0.25) shrink it geometrically with depth, factors above 1
(large weights) blow it up.

**Update size** (``Diagnostics`` only). ``||W_after - W_before|| / ||W_before||``
for each optimizer step: around 1e-3 is the usual healthy pace; steps of
several percent of the weights per batch throw ReLU units off the data.

Verdicts
--------
A verdict is raised only when its number crosses a threshold, all of them
module constants:

* ``DEAD_WARN`` (0.5): at least half of a ReLU layer's units are dead (a
  healthy ReLU net often has 10-40% dead units and learns well);
* ``SATURATION_WARN`` (0.5): at least half a sigmoid/tanh layer's values
  are saturated;
* ``VANISHING_RATIO`` (1e-3): the first layer's weight gradient is more
  than a thousand times smaller than the last layer's;
* ``EXPLODING_RATIO`` (1e4): it is more than ten thousand times larger;
* ``EXPLODING_NORM`` (1e4): some layer's weight gradient norm exceeds
  ten thousand (or is not finite);
* ``HIGH_UPDATE_RATIO`` (0.05): a step changes a layer's weights by
  more than 5% of their norm (used to name the learning rate as the cause of
  dead units).

Layers are numbered as in ``net.layers`` (``net[3]`` is "layer 3"), the
same numbers as ``net.summary()``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .activations import Activation
from .callbacks import Callback
from .layers import BatchNorm, Dense, Dropout
from .losses import Loss, get_loss
from .network import Sequential, check_features

__all__ = [
    "DEAD_WARN",
    "EXPLODING_NORM",
    "EXPLODING_RATIO",
    "HIGH_UPDATE_RATIO",
    "SATURATION_WARN",
    "SIGMOID_SATURATION_Z",
    "TANH_SATURATION_Z",
    "VANISHING_RATIO",
    "Diagnostics",
    "Report",
    "diagnose",
]

#: sigmoid units with ``|z|`` above this are saturated: sigma'(4) = 0.0177 < 0.018.
SIGMOID_SATURATION_Z = 4.0
#: tanh units with ``|z|`` above this are saturated: tanh'(2.5) = 0.0266.
TANH_SATURATION_Z = 2.5
#: a verdict is raised when at least this fraction of a ReLU layer's units is dead.
DEAD_WARN = 0.5
#: a verdict is raised when at least this fraction of a sigmoid/tanh layer's values is saturated.
SATURATION_WARN = 0.5
#: vanishing gradients: ``||dL/dW_first|| / ||dL/dW_last||`` below this.
VANISHING_RATIO = 1e-3
#: exploding gradients: ``||dL/dW_first|| / ||dL/dW_last||`` above this.
EXPLODING_RATIO = 1e4
#: exploding gradients: any layer's ``||dL/dW||`` above this (or not finite).
EXPLODING_NORM = 1e4
#: ``||dW|| / ||W||`` per step above this is a large step (a high learning rate).
HIGH_UPDATE_RATIO = 5e-2

#: units whose gradient is exactly zero when z <= 0 for every sample
DEAD_KINDS = frozenset({"relu"})
#: units measured the same way, but which keep a gradient on their negative side
INACTIVE_KINDS = frozenset({"leaky_relu", "elu", "selu"})
SATURATING_KINDS = frozenset({"sigmoid", "tanh"})

_SIGMOID_LO = 1.0 / (1.0 + math.exp(SIGMOID_SATURATION_Z))  # sigma(-4)
_SIGMOID_HI = 1.0 / (1.0 + math.exp(-SIGMOID_SATURATION_Z))  # sigma(4)
_TANH_HI = math.tanh(TANH_SATURATION_Z)


# -- the measurements, shared by diagnose and Diagnostics --------------------------------
def unit_activation(layer) -> Activation | None:
    """The activation applied by ``layer`` (a ``Dense`` with one, or an activation layer).

    Parameters
    ----------
    layer : Layer
        Any layer of a network.
    """
    if isinstance(layer, Activation):
        return layer
    act = getattr(layer, "activation", None)
    return act if isinstance(act, Activation) else None


def is_watched(act: Activation | None) -> bool:
    """True for the activations whose units can die or saturate.

    Parameters
    ----------
    act : Activation or None
        The activation to ask about.
    """
    return act is not None and (
        act.name in DEAD_KINDS or act.name in INACTIVE_KINDS or act.name in SATURATING_KINDS
    )


def active_units(act: Activation, a: np.ndarray) -> np.ndarray:
    """Boolean per unit: ``z > 0`` for at least one row of ``a = f(z)``.

    For relu, leaky_relu, elu and selu, ``a > 0`` exactly when ``z > 0``.

    Parameters
    ----------
    act : Activation
        The layer's activation.
    a : ndarray of shape (n_samples, units)
        Its outputs on a batch.
    """
    return np.asarray((a > 0).any(axis=0))


def saturated_count(act: Activation, a: np.ndarray) -> int:
    """How many entries of ``a = f(z)`` lie on the flat tails (see the module table).

    Parameters
    ----------
    act : Activation
        The layer's activation (only sigmoid and tanh saturate here).
    a : ndarray
        Its outputs on a batch.
    """
    if act.name == "sigmoid":
        return int(np.count_nonzero(a < _SIGMOID_LO) + np.count_nonzero(a > _SIGMOID_HI))
    if act.name == "tanh":
        return int(np.count_nonzero(np.abs(a) > _TANH_HI))
    return 0


def _pow10(ratio: float) -> str:
    """``10^-6`` for 8.4e-7: the order of magnitude, rounded."""
    return f"10^{round(math.log10(ratio))}"


def _sci(x: float) -> str:
    """A short scientific form: 1.3e12, 4.0e-08 -> 4.0e-8."""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    mant = x / 10**exp
    if round(abs(mant), 1) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:.1f}e{exp}"


def _pct(frac: float) -> str:
    return f"{100 * frac:.0f}%"


def _weighted_layers(net: Sequential) -> list[tuple[int, Dense]]:
    return [(i, layer) for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]


# -- verdicts (one function each, used by both tools) ------------------------------------
def _dead_verdict(index: int, frac: float, n_units: int, cause: str) -> str:
    return (
        f"layer {index}: {_pct(frac)} of ReLU units are dead ({round(frac * n_units)} of "
        f"{n_units} output 0 for every sample, so no gradient reaches their weights; {cause})"
    )


def _saturation_verdict(index: int, kind: str, frac: float) -> str:
    z = SIGMOID_SATURATION_Z if kind == "sigmoid" else TANH_SATURATION_Z
    return (
        f"layer {index}: {_pct(frac)} of {kind} outputs are saturated (|z| > {z:g}, where "
        f"the derivative is below {0.018 if kind == 'sigmoid' else 0.027}; the weights or inputs "
        "are too large: standardise the inputs and use glorot initialisation, or relu)"
    )


def _vanishing_cause(saturated: list[tuple[int, str, float, float]]) -> str:
    """Why the gradient shrinks: the derivatives of the saturating layers, measured."""
    if not saturated:
        return "each layer multiplies the gradient by a factor below 1"
    kinds = sorted({k for _, k, _, _ in saturated})
    share = float(np.mean([f for _, _, f, _ in saturated]))
    lead = " and ".join(
        f"{k} saturation" if share >= 0.2 else f"small {k} derivatives" for k in kinds
    )
    parts = []
    for kind in kinds:
        sat = float(np.mean([f for _, k, f, _ in saturated if k == kind]))
        der = float(np.mean([d for _, k, _, d in saturated if k == kind]))
        peak = 0.25 if kind == "sigmoid" else 1.0
        name = "" if len(kinds) == 1 else f"{kind} "
        parts.append(
            f"the {name}derivative averages {der:.2g} (at most {peak:g}) and {_pct(sat)} of "
            f"the {name}outputs are saturated"
        )
    return f"{lead}: " + "; ".join(parts)


def _flow_verdicts(
    norms: list[tuple[int, float]], saturated: list[tuple[int, str, float, float]], n_dead: int
) -> list[str]:
    """Vanishing/exploding verdicts from per-layer weight-gradient norms (first to last)."""
    out: list[str] = []
    if not norms:
        return out
    bad = [(i, g) for i, g in norms if not math.isfinite(g)]
    if bad:
        i, g = bad[0]
        return [
            f"gradient norm is {g} in layer {i} (the numbers overflowed: lower the learning "
            "rate, use a smaller initialisation such as he or glorot, and try clipping, "
            "e.g. fit(..., clip_norm=1.0))"
        ]
    i_max, g_max = max(norms, key=lambda t: t[1])
    (i_first, g_first), (i_last, g_last) = norms[0], norms[-1]
    ratio = g_first / g_last if g_last > 0 else None
    if g_max > EXPLODING_NORM:
        grow = (
            f"; it grows by {_pow10(ratio)} from the last layer to the first"
            if (ratio is not None and ratio > 10)
            else ""
        )
        out.append(
            f"gradient norm exploded to {_sci(g_max)} in layer {i_max} (try clipping, e.g. "
            f"fit(..., clip_norm=1.0), and a smaller initialisation such as he or glorot{grow})"
        )
    elif ratio is not None and ratio > EXPLODING_RATIO and len(norms) > 1:
        out.append(
            f"gradients grow by {_pow10(ratio)} from the last layer to the first "
            f"(|dL/dW| {_sci(g_last)} in layer {i_last}, {_sci(g_first)} in layer {i_first}; the "
            "weights are too large for this depth: use he or glorot initialisation, or clip)"
        )
    if len(norms) > 1 and g_last > 0 and g_first == 0:
        why = "dead ReLU units block every path" if n_dead else "every path back is blocked"
        out.append(
            f"no gradient reaches layer {i_first}: its weight gradient is exactly 0 ({why}; "
            "try leaky_relu, he initialisation or a lower learning rate)"
        )
    elif ratio is not None and ratio < VANISHING_RATIO and len(norms) > 1:
        out.append(
            f"gradients shrink by {_pow10(ratio)} from the last layer to the first "
            f"(|dL/dW| {_sci(g_last)} in layer {i_last}, {_sci(g_first)} in layer {i_first}; "
            f"{_vanishing_cause(saturated)}; try relu and he initialisation, or BatchNorm)"
        )
    return out


# -- one batch: diagnose --------------------------------------------------------------------
class Report:
    """What ``diagnose`` found.

    Attributes
    ----------
    layers : list of dict
        One dict per layer of ``net.layers`` with the keys ``index``,
        ``layer`` (its repr), ``activation`` (name or None), ``units``,
        ``dead_fraction``, ``dead_units`` (indices), ``saturation``,
        ``mean_derivative`` (mean ``f'(z)``, sigmoid/tanh only),
        ``grad_norm`` (``||dL/dW||``), ``weight_norm`` and ``bias_mean``;
        a key is None where it does not apply to the layer.
    verdicts : list of str
        Plain-language problems with remedies; empty for a healthy network.
    grad_ratio : float or None
        ``||dL/dW_first|| / ||dL/dW_last||`` over the ``Dense`` layers.
    loss : float or None
        The loss on the batch (None when no targets were given).
    n_samples : int
        Rows in the batch.
    """

    def __init__(
        self,
        layers: list[dict[str, Any]],
        verdicts: list[str],
        grad_ratio: float | None,
        loss: float | None,
        n_samples: int,
    ) -> None:
        self.layers = layers
        self.verdicts = verdicts
        self.grad_ratio = grad_ratio
        self.loss = loss
        self.n_samples = n_samples

    @property
    def healthy(self) -> bool:
        """True when no verdict was raised."""
        return not self.verdicts

    def _rows(self) -> list[tuple[str, ...]]:
        def fmt(v, kind):
            if v is None:
                return "-"
            return _pct(v) if kind == "pct" else f"{v:.2e}"

        rows = [("#", "layer", "dead", "saturated", "|dL/dW|", "|W|")]
        for d in self.layers:
            rows.append(
                (
                    str(d["index"]),
                    d["layer"],
                    fmt(d["dead_fraction"], "pct"),
                    fmt(d["saturation"], "pct"),
                    fmt(d["grad_norm"], "num"),
                    fmt(d["weight_norm"], "num"),
                )
            )
        return rows

    def __str__(self) -> str:
        rows = self._rows()
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]

        def fmt(r):
            return "  ".join(
                f"{c:<{w}}" if k in (0, 1) else f"{c:>{w}}"
                for k, (c, w) in enumerate(zip(r, widths))
            )

        line = "-" * len(fmt(rows[0]))
        out = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
        extra = [f"{self.n_samples} samples"]
        if self.loss is not None:
            extra.append(f"loss {self.loss:.4g}")
        if self.grad_ratio is not None:
            extra.append(f"|dL/dW| first/last {self.grad_ratio:.2e}")
        out.append(", ".join(extra))
        if self.verdicts:
            out.append("Verdicts:")
            out.extend(f"  - {v}" for v in self.verdicts)
        else:
            out.append("No problems found: no dead or saturated layers, gradients flow.")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
        )
        items = "".join(f"<li>{html.escape(v)}</li>" for v in self.verdicts)
        verdicts = f"<ul>{items}</ul>" if items else "<p>No problems found.</p>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{verdicts}"

    def __repr__(self) -> str:
        return f"Report(n_samples={self.n_samples}, verdicts={len(self.verdicts)})"


def diagnose(
    net: Sequential,
    X,
    y=None,
    loss: str | Loss | None = None,
    seed: int = 0,
) -> Report:
    r"""Look inside ``net`` on one batch: dead units, saturation and gradient flow.

    Parameters
    ----------
    net : Sequential
        The network. Its weights, gradients, caches' meaning and BatchNorm
        statistics are left as they were (gradients are restored after the
        backward pass).
    X : array-like of shape (n_samples, n_features)
        The batch. Dead units are judged on it: use enough rows (a few
        hundred) for "0 on every sample" to mean something.
    y : array-like, optional
        Targets. With ``y`` the backward pass starts from the loss,
        ``dL/dy_hat``; without it, from a random probe
        ``g ~ N(0, 1) / n`` (seeded by ``seed``), which still shows how
        a gradient travels back through the layers.
    loss : str or Loss, optional
        The loss for ``y`` (default: the one the network was fitted with).
    seed : int
        Seed of the probe gradient when ``y`` is None.

    Returns
    -------
    Report
        ``.layers`` (per-layer numbers), ``.verdicts`` (plain language),
        ``str(report)`` a table with the verdicts below it.

    Notes
    -----
    Dropout layers are switched off during the pass (a random mask would
    make the numbers random); other layers run in their current mode.
    See the module documentation for every threshold.
    """
    Xb = check_features(X, net.n_features_in, net.dtype)
    if y is not None:
        if loss is None:
            if net.loss_ is None:
                raise ValueError(
                    "diagnose needs a loss with targets: pass loss='cross_entropy', 'mse', ... "
                    "(or fit the network first, or leave y out to use a probe gradient)"
                )
            loss = net.loss_
        loss = get_loss(loss)
        target = loss.prepare_target(np.asarray(y), net.n_outputs, net.dtype)
        if len(target) != len(Xb):
            raise ValueError(f"X has {len(Xb)} samples but y has {len(target)}")

    modes = [layer.training for layer in net.layers]
    saved_grads = [p.grad.copy() for p in net.parameters()]
    saved_buffers = [
        {k: v.copy() for k, v in layer.buffers().items()}
        for layer in net.layers
        if isinstance(layer, BatchNorm)
    ]
    outputs: list[np.ndarray] = []
    value = None
    try:
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.training = False
        with np.errstate(over="ignore", invalid="ignore"):
            out = Xb
            for layer in net.layers:
                out = layer.forward(out)
                outputs.append(out)
            if y is not None:
                value = loss.forward(out, target)
                grad = loss.backward()
            else:
                rng = np.random.default_rng(seed)
                grad = rng.standard_normal(out.shape) / len(out)
            net.backward(grad, input_grad=False)
        grad_norms = {
            i: float(np.linalg.norm(layer.weight.grad.astype(np.float64, copy=False)))
            for i, layer in _weighted_layers(net)
        }
    finally:
        for layer, mode in zip(net.layers, modes):
            layer.training = mode
        for p, g in zip(net.parameters(), saved_grads):
            p.grad[...] = g
        bns = iter(saved_buffers)
        for layer in net.layers:
            if isinstance(layer, BatchNorm):
                for k, v in next(bns).items():
                    layer.buffers()[k][...] = v

    rows: list[dict[str, Any]] = []
    verdicts: list[str] = []
    saturated: list[tuple[int, str, float, float]] = []
    n_dead_total = 0
    for i, layer in enumerate(net.layers):
        act = unit_activation(layer)
        a = outputs[i]
        d: dict[str, Any] = {
            "index": i,
            "layer": repr(layer),
            "activation": act.name if act is not None else None,
            "units": int(a.shape[1]) if act is not None else None,
            "dead_fraction": None,
            "dead_units": [],
            "saturation": None,
            "mean_derivative": None,
            "grad_norm": grad_norms.get(i),
            "weight_norm": None,
            "bias_mean": None,
        }
        if isinstance(layer, Dense):
            d["weight_norm"] = float(np.linalg.norm(layer.weight.value.astype(np.float64)))
            d["bias_mean"] = float(np.mean(layer.bias.value))
        if act is not None and (act.name in DEAD_KINDS or act.name in INACTIVE_KINDS):
            dead = ~active_units(act, a)
            d["dead_fraction"] = float(dead.mean())
            d["dead_units"] = np.flatnonzero(dead).tolist()
            if act.name in DEAD_KINDS:
                n_dead_total += int(dead.sum())
                if d["dead_fraction"] >= DEAD_WARN:
                    dense = _dense_of(net, i)
                    cause = _dead_remedy(dense)
                    if dense is not None:
                        b_dead = float(np.mean(dense.bias.value[dead]))
                        if b_dead <= -1.0:
                            cause = (
                                f"their biases are large and negative (mean {b_dead:.2g}), which "
                                "keeps z below 0; start the biases at 0 or use leaky_relu, and "
                                "if training drove them there, lower the learning rate"
                            )
                    verdicts.append(_dead_verdict(i, d["dead_fraction"], int(a.shape[1]), cause))
        if act is not None and act.name in SATURATING_KINDS:
            frac = saturated_count(act, a) / a.size
            d["saturation"] = float(frac)
            d["mean_derivative"] = float(np.mean(act.df(None, a), dtype=np.float64))
            saturated.append((i, act.name, float(frac), d["mean_derivative"]))
        rows.append(d)

    norms = sorted(grad_norms.items())
    flow = _flow_verdicts(norms, saturated, n_dead_total)
    vanishing = any(v.startswith("gradients shrink") for v in flow)
    if not vanishing:  # saturation named on its own only if the flow verdict did not
        verdicts.extend(
            _saturation_verdict(i, k, f) for i, k, f, _ in saturated if f >= SATURATION_WARN
        )
    verdicts.extend(flow)
    ratio = None
    if len(norms) > 1 and norms[-1][1] > 0 and math.isfinite(norms[0][1]):
        ratio = norms[0][1] / norms[-1][1]
    return Report(rows, verdicts, ratio, value, len(Xb))


def _dense_of(net: Sequential, i: int) -> Dense | None:
    """The Dense layer computing the z of the activation at ``net.layers[i]``."""
    layer = net.layers[i]
    if isinstance(layer, Dense):
        return layer
    if i > 0 and isinstance(net.layers[i - 1], Dense):
        return net.layers[i - 1]
    return None


def _dead_remedy(dense: Dense | None, lower_lr: bool = True) -> str:
    """The usual remedies, leaving out he initialisation when it is already used."""
    he = dense is not None and dense.weight_init.name.startswith("he")
    options = (["a lower learning rate"] if lower_lr else []) + ["leaky_relu"]
    options += ["BatchNorm"] if he else ["he initialisation"]
    return "try " + ", ".join(options[:-1]) + " or " + options[-1]


# -- during training: the Diagnostics callback -------------------------------------------
class Diagnostics(Callback):
    r"""Record dead units, saturation and gradient flow per layer during ``fit``.

    Pass it to ``fit(..., callbacks=[diag])``; after training read
    ``diag.history`` and ``diag.verdicts()``.

    Parameters
    ----------
    every : int, default 1
        Measure one batch in ``every`` (batches 0, every, 2 every, ... of
        each epoch). The cost per measured batch is about one extra pass
        over each layer's activations and weights.

    Attributes
    ----------
    epochs : list of int
        The epochs recorded (counted across ``fit`` calls).
    history : dict of str to dict of int to list of float
        ``history[metric][layer_index][k]`` is the value at ``epochs[k]``:

        ``dead_fraction``
            ReLU-family units with ``z <= 0`` on every sample of the measured
            batches of the epoch.
        ``dead_since_init``
            Units dead in every epoch so far, the first included (the first
            epoch starts from the initial weights): dead since initialisation.
        ``saturation``
            Fraction of sigmoid/tanh values on the flat tails (module table).
        ``mean_derivative``
            Mean of ``f'(z)`` over those values (sigmoid at most 0.25, tanh 1).
        ``grad_norm``, ``grad_norm_max``
            Mean and largest ``||dL/dW||`` over the measured batches (read
            after the step, so after any clipping).
        ``update_ratio``
            Mean ``||W_t - W_{t-1}|| / ||W_{t-1}||`` per measured step.
    lr : list of float
        The optimizer's learning rate at the end of each epoch.
    total_norm_before_clip : list of float
        Per epoch, the largest global gradient norm before clipping, when
        ``fit`` reports it as ``logs["grad_norm"]`` to ``on_batch_end``
        (NaN otherwise).
    kinds : dict of int to str
        The activation name of each recorded layer (``"linear"`` for a Dense
        layer without one).

    Notes
    -----
    ``fit`` calls ``on_batch_end`` after ``optimizer.step()``, when every
    ``param.grad`` still holds the batch's gradient and every layer still
    caches the batch's activations (``layer._a``); nothing is recomputed.
    """

    METRICS = ("dead_fraction", "dead_since_init", "saturation", "mean_derivative",
               "grad_norm", "grad_norm_max", "update_ratio")  # fmt: skip

    def __init__(self, every: int = 1) -> None:
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.every = int(every)
        self.epochs: list[int] = []
        self.lr: list[float] = []
        self.history: dict[str, dict[int, list[float]]] = {k: {} for k in self.METRICS}
        self.kinds: dict[int, str] = {}
        self.units: dict[int, int] = {}
        self.total_norm_before_clip: list[float] = []
        self._dead_all: dict[int, np.ndarray] = {}

    # -- hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        net = self.net
        self._watched = [
            (i, layer, act)
            for i, layer in enumerate(net.layers)
            if is_watched(act := unit_activation(layer))
        ]
        self._dense = _weighted_layers(net)
        for i, _, act in self._watched:
            self.kinds[i] = act.name
        for i, layer in self._dense:
            self.units[i] = layer.out_features
            act = layer.activation
            self.kinds.setdefault(i, act.name if act is not None else "linear")

    def on_epoch_begin(self, epoch, logs=None):
        self._alive = {i: None for i, _, _ in self._watched}
        self._sat = {i: [0, 0, 0.0] for i, _, _ in self._watched}
        self._norms: dict[int, list[float]] = {i: [] for i, _ in self._dense}
        self._updates: dict[int, list[float]] = {i: [] for i, _ in self._dense}
        self._prev = {i: layer.weight.value.copy() for i, layer in self._dense}
        self._total = math.nan

    def on_batch_end(self, batch, logs=None):
        every = self.every
        total = (logs or {}).get("grad_norm")  # the global norm before clipping, if fit gives it
        if total is not None and not (float(total) <= self._total):  # max, NaN-aware
            self._total = float(total)
        if batch % every == 0:
            self._measured = True
            for i, layer, act in self._watched:
                a = layer._a
                if act.name in SATURATING_KINDS:
                    s = self._sat[i]
                    s[0] += saturated_count(act, a)
                    s[1] += a.size
                    s[2] += float(np.sum(act.df(None, a), dtype=np.float64))
                else:
                    alive = active_units(act, a)
                    old = self._alive[i]
                    self._alive[i] = alive if old is None else (old | alive)
            for i, layer in self._dense:
                g = layer.weight.grad
                with np.errstate(over="ignore", invalid="ignore"):
                    self._norms[i].append(float(np.sqrt(np.vdot(g, g).real)))
                    w0 = self._prev[i]
                    den = float(np.linalg.norm(w0))
                    step = float(np.linalg.norm(layer.weight.value - w0))
                self._updates[i].append(step / den if den > 0 else math.inf)
        if (batch + 1) % every == 0:
            for i, layer in self._dense:
                np.copyto(self._prev[i], layer.weight.value)

    def on_epoch_end(self, epoch, logs=None):
        self._close_epoch()

    def on_train_end(self, logs=None):
        # training that diverged stops inside an epoch: keep what that epoch measured
        if getattr(self, "_measured", False):
            self._close_epoch()

    def _close_epoch(self) -> None:
        self._measured = False
        h = self.history
        self.epochs.append(len(self.epochs))
        opt = getattr(self.net, "optimizer_", None)
        self.lr.append(float(getattr(opt, "lr", math.nan)))
        self.total_norm_before_clip.append(self._total)
        for i, _, act in self._watched:
            if act.name in SATURATING_KINDS:
                n_sat, n_all, sum_d = self._sat[i]
                h["saturation"].setdefault(i, []).append(n_sat / n_all if n_all else math.nan)
                h["mean_derivative"].setdefault(i, []).append(sum_d / n_all if n_all else math.nan)
                continue
            alive = self._alive[i]
            if alive is None:
                continue
            dead = ~alive
            prev = self._dead_all.get(i)
            self._dead_all[i] = dead if prev is None else (prev & dead)
            h["dead_fraction"].setdefault(i, []).append(float(dead.mean()))
            h["dead_since_init"].setdefault(i, []).append(float(self._dead_all[i].mean()))
        for i, _ in self._dense:
            norms, ups = self._norms[i], self._updates[i]
            h["grad_norm"].setdefault(i, []).append(float(np.mean(norms)) if norms else math.nan)
            h["grad_norm_max"].setdefault(i, []).append(max(norms) if norms else math.nan)
            h["update_ratio"].setdefault(i, []).append(float(np.mean(ups)) if ups else math.nan)

    # -- reading it -----------------------------------------------------------------------
    def last(self) -> dict[int, dict[str, float]]:
        """The last epoch's numbers: ``{layer_index: {metric: value}}``."""
        out: dict[int, dict[str, float]] = {}
        for metric, per_layer in self.history.items():
            for i, values in per_layer.items():
                if values:
                    out.setdefault(i, {})[metric] = values[-1]
        return dict(sorted(out.items()))

    def verdicts(self) -> list[str]:
        """Plain-language problems seen in training, with remedies (empty when healthy).

        Dead units, saturation and the gradient ratio are judged on the last
        epoch; exploding norms on the largest norm of any epoch.
        """
        if not self.epochs:
            return []
        h = self.history
        out: list[str] = []
        n_dead = 0
        for i, fracs in sorted(h["dead_fraction"].items()):
            if self.kinds.get(i) not in DEAD_KINDS:
                continue
            frac = fracs[-1]
            n_units = len(self._dead_all[i])
            n_dead += round(frac * n_units)
            if frac < DEAD_WARN:
                continue
            since = h["dead_since_init"][i][-1]
            dense_i = i if i in h["update_ratio"] else i - 1
            steps = np.asarray(h["update_ratio"].get(dense_i, [0.0]), dtype=np.float64)
            steps = np.where(np.isfinite(steps), steps, 0.0)
            e_max = int(np.argmax(steps))
            lr = self.lr[-1] if self.lr else math.nan
            dense = _dense_of(self.net, i) if self.net is not None else None
            if steps[e_max] > HIGH_UPDATE_RATIO:
                remedy = _dead_remedy(dense).replace("a lower learning rate", "a lower rate")
                cause = (
                    f"learning rate {lr:g} is high for this net: in epoch {e_max + 1} each step "
                    f"changed the weights by {_pct(steps[e_max])} of their norm on average; "
                    + remedy
                )
            elif since >= frac / 2:
                negative = dense is not None and float(np.mean(dense.bias.value)) <= -1.0
                cause = (
                    f"{_pct(since)} of the units were dead from the first epoch: the initial "
                    + ("biases are large and negative and " if negative else "weights ")
                    + "put every sample on the zero side; "
                    + _dead_remedy(dense, lower_lr=False)
                )
            else:
                cause = _dead_remedy(dense)
            out.append(_dead_verdict(i, frac, n_units, cause))
        saturated = [
            (i, self.kinds[i], v[-1], h["mean_derivative"][i][-1])
            for i, v in sorted(h["saturation"].items())
        ]
        norms_last = [(i, v[-1]) for i, v in sorted(h["grad_norm"].items())]
        flow = _flow_verdicts(norms_last, saturated, n_dead)
        # exploding: judged on the largest norm of any batch of any epoch
        peaks = [(i, e, g) for i, v in h["grad_norm_max"].items() for e, g in enumerate(v)]
        worst = max(peaks, key=lambda t: t[2] if math.isfinite(t[2]) else math.inf, default=None)
        flow = [v for v in flow if not v.startswith(("gradient norm exploded", "gradient norm is"))]
        if worst is not None and (not math.isfinite(worst[2]) or worst[2] > EXPLODING_NORM):
            i, e, g = worst
            what = f"exploded to {_sci(g)}" if math.isfinite(g) else f"became {g}"
            flow.insert(
                0,
                f"gradient norm {what} in layer {i} at epoch {self.epochs[e] + 1} (try clipping, "
                "e.g. fit(..., clip_norm=1.0), a lower learning rate, or a smaller "
                "initialisation such as he or glorot)",
            )
        elif any(t > EXPLODING_NORM for t in self.total_norm_before_clip):  # clipping hid it
            e = int(np.nanargmax(self.total_norm_before_clip))
            flow.insert(
                0,
                f"gradient norm exploded to {_sci(self.total_norm_before_clip[e])} before "
                f"clipping at epoch {self.epochs[e] + 1} (clipping keeps each step bounded, but "
                "such gradients mean a learning rate or initialisation that is too large)",
            )
        if not any(v.startswith("gradients shrink") for v in flow):
            out.extend(
                _saturation_verdict(i, k, f) for i, k, f, _ in saturated if f >= SATURATION_WARN
            )
        out.extend(flow)
        return out

    def __str__(self) -> str:
        if not self.epochs:
            return "Diagnostics: nothing recorded yet (pass it to fit(..., callbacks=[...]))"
        rows = [("#", "kind", "dead", "dead since init", "saturated", "|dL/dW|", "|dW|/|W|")]
        for i, d in self.last().items():

            def get(k, pct=False, d=d):
                v = d.get(k)
                if v is None:
                    return "-"
                return _pct(v) if pct else f"{v:.2e}"

            rows.append(
                (
                    str(i),
                    self.kinds.get(i, "?"),
                    get("dead_fraction", True),
                    get("dead_since_init", True),
                    get("saturation", True),
                    get("grad_norm"),
                    get("update_ratio"),
                )
            )
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(0, f"Diagnostics after epoch {len(self.epochs)}:")
        v = self.verdicts()
        lines.append("Verdicts:" if v else "No problems found.")
        lines.extend(f"  - {s}" for s in v)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnostics(every={self.every}, epochs={len(self.epochs)})"

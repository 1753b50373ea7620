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

**Learning speed**. ``||dL/db|| / sqrt(units)`` of every ``Dense`` layer:
Nielsen's measure of how fast a layer learns (*Neural Networks and Deep
Learning*, ch. 5), per unit so that layers of different widths compare.
The vanishing-gradient verdict compares the first hidden layer's with the
output layer's.

**Update size** (``Diagnostics`` only). ``||W_after - W_before|| / ||W_before||``
for each optimizer step: around 1e-3 is the usual healthy pace; steps of
several percent of the weights per batch throw ReLU units off the data.

Verdicts
--------
Both tools turn what they measured into a ``chainrule.verdicts.Story`` and
hand it to ``chainrule.verdicts.judge``: verdicts are records
(``Verdict``: kind, layer, severity, evidence, text, ranked ``Remedy``
records), judged from the loss history as well as the layers, over a window
of epochs. ``diagnose`` reads the history ``fit`` left on the network
(``net.history_``); ``Diagnostics`` records its own. The tables and texts
below are views of the same records: a table row carries the kinds of the
verdicts about its layer, so the two cannot disagree. Every threshold is
documented in ``chainrule.verdicts``.

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
from .verdicts import (
    DEAD_WARN,
    EXPLODING_NORM,
    EXPLODING_RATIO,
    HIGH_UPDATE_RATIO,
    SATURATION_WARN,
    VANISHING_RATIO,
    LayerStory,
    Story,
    Verdict,
    constant_loss,
    judge,
    window_size,
)

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

#: units whose gradient is exactly zero when z <= 0 for every sample
DEAD_KINDS = frozenset({"relu"})
#: units measured the same way, but which keep a gradient on their negative side
INACTIVE_KINDS = frozenset({"leaky_relu", "elu", "selu"})
SATURATING_KINDS = frozenset({"sigmoid", "tanh"})

#: with ``every="auto"``, about this many batches are measured per epoch after the first.
AUTO_BATCHES = 8

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


def _pct(frac: float) -> str:
    return f"{100 * frac:.0f}%"


def _norm(a: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.vdot(a, a).real))


def _weighted_layers(net: Sequential) -> list[tuple[int, Dense]]:
    return [(i, layer) for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]


def _dense_of(net: Sequential, i: int) -> Dense | None:
    """The Dense layer computing the z of the activation at ``net.layers[i]``."""
    layer = net.layers[i]
    if isinstance(layer, Dense):
        return layer
    if i > 0 and isinstance(net.layers[i - 1], Dense):
        return net.layers[i - 1]
    return None


def _weight_rms(layer: Dense) -> float:
    """``RMS(W) * sqrt(fan_in)``: about 1 (Glorot) to 1.4 (He) keeps a signal's size."""
    w = layer.weight.value
    return float(np.sqrt(np.mean(np.square(w, dtype=np.float64))) * math.sqrt(w.shape[0]))


def _optimizer_facts(net) -> tuple[float | None, str | None]:
    opt = getattr(net, "optimizer_", None)
    if opt is None:
        return None, None
    lr = getattr(opt, "lr", None)
    return (float(lr) if lr is not None else None), getattr(opt, "name", None)


def _input_facts(sum_x, sum_x2, n) -> dict[str, float]:
    """RMS and spread of the features from their running sums (constant features ignored)."""
    if not n:
        return {}
    mean = sum_x / n
    rms = np.sqrt(np.maximum(sum_x2 / n, 0.0))
    std = np.sqrt(np.maximum(sum_x2 / n - mean**2, 0.0))
    live = std > 1e-12 * np.maximum(rms, 1e-300)
    if not live.any():
        return {}
    std = std[live]
    return {
        "input_rms_max": float(rms[live].max()),
        "input_rms_min": float(rms[live].min()),
        "input_std_spread": float(std.max() / std.min()),
    }


def _layer_skeleton(net: Sequential) -> list[LayerStory]:
    """One ``LayerStory`` per Dense layer or watched activation layer, measures empty."""
    out: list[LayerStory] = []
    dense_last = max((i for i, _ in _weighted_layers(net)), default=None)
    for i, layer in enumerate(net.layers):
        act = unit_activation(layer)
        if isinstance(layer, Dense):
            kind = act.name if act is not None else "linear"
            ly = LayerStory(i, kind, layer.out_features, dense=i)
            ly.hidden = act is not None and i != dense_last
            ly.weight_init = getattr(layer.weight_init, "name", None)
            out.append(ly)
        elif is_watched(act):
            dense = _dense_of(net, i)
            j = i - 1 if dense is not None else None
            ly = LayerStory(i, act.name, 0, dense=j)
            out.append(ly)
            # a Dense layer followed by its activation layer is a hidden layer
            for d in out:
                if d.index == j:
                    d.hidden = j != dense_last
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
        ``grad_norm`` (``||dL/dW||``), ``bias_grad_norm`` (``||dL/db||``),
        ``speed`` (``||dL/db|| / sqrt(units)``), ``weight_norm`` and
        ``bias_mean``; a key is None where it does not apply to the layer.
    verdicts : list of Verdict
        The records (``chainrule.verdicts.Verdict``), problems first, then
        information; ``problems`` holds only the alarms.
    grad_ratio : float or None
        ``||dL/dW_first|| / ||dL/dW_last||`` over the ``Dense`` layers.
    loss : float or None
        The loss on the batch (None when no targets were given).
    baseline : float or None
        The loss of the best constant prediction for these targets.
    n_samples : int
        Rows in the batch.
    story : Story or None
        The measures the verdicts were judged from.
    """

    def __init__(
        self,
        layers: list[dict[str, Any]],
        verdicts: list[Verdict],
        grad_ratio: float | None,
        loss: float | None,
        n_samples: int,
        baseline: float | None = None,
        story: Story | None = None,
    ) -> None:
        self.layers = layers
        self.verdicts = verdicts
        self.grad_ratio = grad_ratio
        self.loss = loss
        self.n_samples = n_samples
        self.baseline = baseline
        self.story = story

    @property
    def problems(self) -> list[Verdict]:
        """The verdicts that name a problem (severity ``"problem"``)."""
        return [v for v in self.verdicts if v.is_problem]

    @property
    def healthy(self) -> bool:
        """True when no verdict names a problem."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the per-layer rows and the verdict records."""
        from .verdicts import _jsonable

        return {
            "layers": _jsonable(self.layers),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "loss": _jsonable(self.loss),
            "baseline": _jsonable(self.baseline),
            "grad_ratio": _jsonable(self.grad_ratio),
            "n_samples": self.n_samples,
            "healthy": self.healthy,
        }

    def _rows(self) -> list[tuple[str, ...]]:
        def fmt(v, kind):
            if v is None:
                return "-"
            return _pct(v) if kind == "pct" else f"{v:.2e}"

        flags = _layer_flags(self.verdicts)
        rows = [("#", "layer", "dead", "saturated", "|dL/dW|", "|dL/db|/√n", "|W|", "verdict")]
        for d in self.layers:
            rows.append(
                (
                    str(d["index"]),
                    d["layer"],
                    fmt(d["dead_fraction"], "pct"),
                    fmt(d["saturation"], "pct"),
                    fmt(d["grad_norm"], "num"),
                    fmt(d["speed"], "num"),
                    fmt(d["weight_norm"], "num"),
                    flags.get(d["index"], ""),
                )
            )
        return rows

    def __str__(self) -> str:
        return self.format()

    def format(self, where: str = "python") -> str:
        """The table and the verdicts, remedies worded for ``where``: python, cli or playground.

        Parameters
        ----------
        where : {"python", "cli", "playground"}, default "python"
            Where the reader will apply the remedies.
        """
        rows = self._rows()
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]

        def fmt(r):
            return "  ".join(
                f"{c:<{w}}" if k in (0, 1, 7) else f"{c:>{w}}"
                for k, (c, w) in enumerate(zip(r, widths))
            ).rstrip()

        line = "-" * len(fmt(rows[0]))
        out = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
        extra = [f"{self.n_samples} samples"]
        if self.loss is not None:
            extra.append(f"loss {self.loss:.4g}")
        if self.baseline is not None:
            extra.append(f"constant prediction {self.baseline:.4g}")
        if self.grad_ratio is not None:
            extra.append(f"|dL/dW| first/last {self.grad_ratio:.2e}")
        out.append(", ".join(extra))
        out.extend(verdict_lines(self.verdicts, where))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
        )
        items = "".join(
            f"<li><b>{html.escape(v.title)}</b> ({v.severity}): {html.escape(v.text)}"
            + (f"<br>try: <code>{html.escape(v.remedies[0].python)}</code>" if v.remedies else "")
            + "</li>"
            for v in self.verdicts
        )
        verdicts = f"<ul>{items}</ul>" if self.problems or items else ""
        if not self.problems:
            verdicts = "<p>No problems found.</p>" + verdicts
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{verdicts}"

    def __repr__(self) -> str:
        return f"Report(n_samples={self.n_samples}, verdicts={len(self.verdicts)})"


def _layer_flags(verdicts: list[Verdict]) -> dict[int, str]:
    """Per layer, the kinds of the verdicts about it: ``dead_relu!`` for a problem."""
    flags: dict[int, list[str]] = {}
    for v in verdicts:
        if v.layer is not None:
            flags.setdefault(v.layer, []).append(v.kind + ("!" if v.is_problem else ""))
    return {i: ", ".join(k) for i, k in flags.items()}


def verdict_lines(verdicts: list[Verdict], where: str = "python") -> list[str]:
    """The verdicts in words: problems with their first remedies, then notes.

    ``where`` picks the remedies' wording: ``"python"``, ``"cli"`` or ``"playground"``.

    Parameters
    ----------
    verdicts : list of Verdict
        What ``judge`` found.
    where : {"python", "cli", "playground"}, default "python"
        Where the reader will apply the remedies.
    """
    problems = [v for v in verdicts if v.is_problem]
    notes = [v for v in verdicts if not v.is_problem]
    out: list[str] = []
    if problems:
        out.append("Verdicts:")
        for v in problems:
            out.append(f"  - {v.text}")
            words = [w for r in v.remedies if (w := getattr(r, where)) is not None]
            for k, w in enumerate(words[:2]):
                out.append(f"      {'try' if k == 0 else 'or '}: {w}")
    else:
        out.append("No problems found.")
    if notes:
        out.append("Notes (measures past a threshold on a network that learns):")
        out.extend(f"  - {v.text}" for v in notes)
    return out


def _history_story(history) -> tuple[list[float], list[float] | None]:
    if not history:
        return [], None
    h = history.history if hasattr(history, "history") else history
    loss = [float(x) for x in h.get("loss", [])]
    val = h.get("val_loss")
    return loss, ([float(x) for x in val] if val else None)


def diagnose(
    net: Sequential,
    X,
    y=None,
    loss: str | Loss | None = None,
    seed: int = 0,
    history="auto",
) -> Report:
    r"""Look inside ``net`` on one batch, and judge it with its training history.

    Parameters
    ----------
    net : Network
        The network (several outputs: ``y`` and ``loss`` one per output, as
        ``fit`` takes them, the loss ``sum_k w_k L_k``). Its weights, gradients, caches' meaning and BatchNorm
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
    history : dict, History, None or "auto"
        The training story (``{"loss": [...], "val_loss": [...]}``) judged
        with the batch; ``"auto"`` uses ``net.history_``, which ``fit``
        leaves on the network (and model files keep).

    Returns
    -------
    Report
        ``.layers`` (per-layer numbers), ``.verdicts`` (``Verdict`` records),
        ``str(report)`` a table with the verdicts below it.

    Notes
    -----
    Dropout layers are switched off during the pass (a random mask would
    make the numbers random); other layers run in their current mode.
    Without a training history, a measure past its threshold is a problem
    (nothing shows the network learns); see ``chainrule.verdicts``.
    """
    chain = isinstance(net, Sequential)
    multi = not chain and not net._single_output  # several outputs: L = sum_k w_k L_k
    if chain:
        Xb = check_features(X, net.n_features_in, net.dtype)
    else:  # a graph network: its inputs as fit takes them
        xs = net.input_arrays(X)
        Xb = xs[0]
    if y is not None:
        given = loss
        if loss is None:
            if net.loss_ is None:
                raise ValueError(
                    "diagnose needs a loss with targets: pass loss='cross_entropy', 'mse', ... "
                    "(or fit the network first, or leave y out to use a probe gradient)"
                )
            loss = net.loss_
        if multi:  # y and loss: one per output, as fit takes them
            from .training import _graph_losses, _per_output, _prepare_target

            weights = getattr(net, "loss_weights_", None) if given is None else None
            losses, weights = _graph_losses(net, loss, weights)
            targets = [
                _prepare_target(t, len(Xb), item, width, net.dtype, f"y[{name!r}]")
                for t, item, width, name in zip(
                    _per_output(net, y, "y"), losses, net.n_outputs, net.output_names
                )
            ]
        else:
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
            if chain:
                out = Xb
                for layer in net.layers:
                    out = layer.forward(out)
                    outputs.append(out)
            else:  # each layer's activations from its cache (a shared layer: its last use)
                out = net.forward(xs)
                outputs = [getattr(layer, "_a", None) for layer in net.layers]
            if y is not None and multi:  # dL/d(output k) = w_k dL_k/d(output k)
                parts = [item.forward(o, t) for o, t, item in zip(out, targets, losses)]
                value = sum(w * part for w, part in zip(weights, parts))
                grad = [
                    item.backward() * o.dtype.type(w) for o, item, w in zip(out, losses, weights)
                ]
            elif y is not None:
                value = loss.forward(out, target)
                grad = loss.backward()
            elif multi:
                rng = np.random.default_rng(seed)
                grad = [rng.standard_normal(o.shape) / len(o) for o in out]
            else:
                rng = np.random.default_rng(seed)
                grad = rng.standard_normal(out.shape) / len(out)
            net.backward(grad, input_grad=False)
        grad_norms = {
            i: _norm(layer.weight.grad.astype(np.float64, copy=False))
            for i, layer in _weighted_layers(net)
        }
        bias_norms = {
            i: _norm(layer.bias.grad.astype(np.float64, copy=False))
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
    for i, layer in enumerate(net.layers):
        act = unit_activation(layer)
        a = outputs[i]
        if a is None:
            act = None  # nothing cached to measure
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
            "bias_grad_norm": bias_norms.get(i),
            "speed": None,
            "weight_norm": None,
            "bias_mean": None,
        }
        if isinstance(layer, Dense):
            d["weight_norm"] = float(np.linalg.norm(layer.weight.value.astype(np.float64)))
            d["bias_mean"] = float(np.mean(layer.bias.value))
            d["speed"] = bias_norms[i] / math.sqrt(layer.out_features)
        if act is not None and (act.name in DEAD_KINDS or act.name in INACTIVE_KINDS):
            dead = ~active_units(act, a)
            d["dead_fraction"] = float(dead.mean())
            d["dead_units"] = np.flatnonzero(dead).tolist()
        if act is not None and act.name in SATURATING_KINDS:
            d["saturation"] = float(saturated_count(act, a) / a.size)
            d["mean_derivative"] = float(np.mean(act.df(None, a), dtype=np.float64))
        rows.append(d)

    # the story: these measures, the loss history fit left, the constant prediction's loss
    story_layers = _layer_skeleton(net)
    for ly in story_layers:
        d = rows[ly.index]
        if ly.units == 0:
            ly.units = d["units"] or 0
        if d["dead_fraction"] is not None and ly.kind in DEAD_KINDS:
            ly.dead = d["dead_fraction"]
        ly.saturation, ly.mean_derivative = d["saturation"], d["mean_derivative"]
        if ly.dense is not None:
            dense = net.layers[ly.dense]
            ly.grad_norm = ly.grad_norm_start = grad_norms[ly.dense]
            ly.speed = rows[ly.dense]["speed"]
            ly.weight_rms = _weight_rms(dense)
            ly.bias_mean = float(np.mean(dense.bias.value))
    # an activation layer's numbers belong to the Dense layer before it, for the judge
    by_index = {ly.index: ly for ly in story_layers}
    for ly in story_layers:
        if ly.dense is not None and ly.dense != ly.index and ly.dense in by_index:
            host = by_index[ly.dense]
            host.hidden = True
            if ly.saturation is not None:
                host.kind, host.saturation = ly.kind, ly.saturation
                host.mean_derivative = ly.mean_derivative
    if history == "auto":
        history = getattr(net, "history_", None)
    hist_loss, hist_val = _history_story(history)
    baseline = None
    if y is not None:  # several outputs: sum_k w_k (the constant predictor's L_k)
        pairs = zip(losses, targets, weights) if multi else [(loss, target, 1.0)]
        try:
            baseline = sum(w * constant_loss(item.name, t) for item, t, w in pairs)
        except (ValueError, TypeError):
            baseline = None
    lr, opt = _optimizer_facts(net)
    xb64 = Xb.astype(np.float64, copy=False)
    story = Story(
        layers=story_layers,
        loss=hist_loss,
        val_loss=hist_val,
        baseline=baseline,
        loss_name=None if y is None else [i.name for i in losses] if multi else loss.name,
        lr=lr,
        optimizer=opt,
        data_loss=value if hist_loss else None,
        **_input_facts(xb64.sum(axis=0), np.square(xb64).sum(axis=0), len(xb64)),
    )
    verdicts = judge(story)
    norms = sorted(grad_norms.items())
    ratio = None
    if len(norms) > 1 and norms[-1][1] > 0 and math.isfinite(norms[0][1]):
        ratio = norms[0][1] / norms[-1][1]
    return Report(rows, verdicts, ratio, value, len(Xb), baseline, story)


# -- during training: the Diagnostics callback -------------------------------------------
class Diagnostics(Callback):
    r"""Record dead units, saturation and gradient flow per layer during ``fit``, and judge.

    Pass it to ``fit(..., callbacks=[diag])``; after training (or after any
    epoch) read ``diag.history`` and ``diag.verdicts()``.

    Parameters
    ----------
    every : int or "auto", default "auto"
        Measure one batch in ``every`` (batches 0, every, 2 every, ... of
        each epoch). ``"auto"`` measures batches 0, 1, 2, 4, 8, 16... of the
        first epoch and then about 8 evenly spread batches per epoch (every
        batch of an epoch of up to 8), which keeps the cost near 1% of an
        epoch of the benchmark MLP (``benchmarks/diagnosis_cost.py``).

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
        ``speed``
            Median ``||dL/db|| / sqrt(units)`` over the measured batches:
            how fast the layer learns (Nielsen, ch. 5).
        ``update_ratio``
            Mean ``||W_t - W_{t-1}|| / ||W_{t-1}||`` per measured step.
    loss, val_loss : list of float
        The epoch's training (and validation) loss, as ``fit`` logged it.
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
               "grad_norm", "grad_norm_max", "speed", "update_ratio")  # fmt: skip

    def __init__(self, every: int | str = "auto") -> None:
        if every != "auto" and (
            isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1
        ):
            raise ValueError(f"every must be a positive integer or 'auto', got {every!r}")
        self.every = every if every == "auto" else int(every)
        self.epochs: list[int] = []
        self.lr: list[float] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self.history: dict[str, dict[int, list[float]]] = {k: {} for k in self.METRICS}
        self.kinds: dict[int, str] = {}
        self.units: dict[int, int] = {}
        self.total_norm_before_clip: list[float] = []
        self.diverged = False
        self.baseline: float | None = None
        self._dead_all: dict[int, np.ndarray] = {}
        self._grad_start: dict[int, float] = {}
        self._weight_rms: dict[int, float] = {}
        self._bias_mean: dict[int, float] = {}
        self._inputs = [None, None, 0]
        self._diff: dict[int, np.ndarray] = {}
        self._n_batches = 0
        self._stride = 1

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
            self._weight_rms.setdefault(i, _weight_rms(layer))
        y = (logs or {}).get("y")
        arrays = getattr(y, "arrays", None)  # a graph network's targets, one array per output
        if arrays is not None and len(arrays) == 1:
            y = arrays[0]
        loss_name = getattr(net, "loss_", None)
        if isinstance(loss_name, (list, tuple)) and len(loss_name) == 1:
            loss_name = loss_name[0]
        # the constant predictor's loss; several outputs: sum_k w_k (its L_k)
        if isinstance(y, np.ndarray) and isinstance(loss_name, str) and self.baseline is None:
            try:
                self.baseline = constant_loss(loss_name, y)
            except (ValueError, TypeError):
                self.baseline = None
        elif arrays is not None and isinstance(loss_name, (list, tuple)) and self.baseline is None:
            weights = getattr(net, "loss_weights_", None) or [1.0] * len(arrays)
            try:
                self.baseline = sum(
                    w * constant_loss(name, t) for name, t, w in zip(loss_name, arrays, weights)
                )
            except (ValueError, TypeError):
                self.baseline = None

    def on_epoch_begin(self, epoch, logs=None):
        self._alive = {i: None for i, _, _ in self._watched}
        self._sat = {i: [0, 0, 0.0] for i, _, _ in self._watched}
        self._norms: dict[int, list[float]] = {i: [] for i, _ in self._dense}
        self._speeds: dict[int, list[float]] = {i: [] for i, _ in self._dense}
        self._updates: dict[int, list[float]] = {i: [] for i, _ in self._dense}
        self._prev = {i: layer.weight.value.copy() for i, layer in self._dense}
        self._total = math.nan
        if self.every == "auto":  # the first epoch: batches 0, 1, 2, 4, 8, 16...
            n = self._n_batches
            self._stride = None if not n else max(1, n // AUTO_BATCHES)
        else:
            self._stride = self.every
        self._n_batches = 0

    def _measures(self, batch: int) -> bool:
        if self._stride is None:
            return batch & (batch - 1) == 0
        return batch % self._stride == 0

    def on_batch_end(self, batch, logs=None):
        self._n_batches = batch + 1
        total = (logs or {}).get("grad_norm")  # the global norm before clipping, if fit gives it
        if total is not None and not (float(total) <= self._total):  # max, NaN-aware
            self._total = float(total)
        if self._measures(batch):
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
            first = not self.epochs and not self._grad_start
            for i, layer in self._dense:
                g = layer.weight.grad
                gn = _norm(g)
                self._norms[i].append(gn)
                self._speeds[i].append(_norm(layer.bias.grad) / math.sqrt(layer.out_features))
                if first:
                    self._grad_start[i] = gn
                    self._bias_mean[i] = float(np.mean(layer.bias.value))
                w0 = self._prev[i]
                den = _norm(w0)
                diff = self._diff.get(i)
                if diff is None or diff.shape != w0.shape or diff.dtype != w0.dtype:
                    diff = self._diff[i] = np.empty_like(w0)
                step = _norm(np.subtract(layer.weight.value, w0, out=diff))
                self._updates[i].append(step / den if den > 0 else math.nan)
            if len(self.epochs) == 0 and self._dense:  # the inputs, seen by the first layer
                x = getattr(self._dense[0][1], "_x", None)
                if x is not None and self._dense[0][0] == 0:
                    x = x.astype(np.float64, copy=False)
                    s = self._inputs
                    s[0] = x.sum(axis=0) if s[0] is None else s[0] + x.sum(axis=0)
                    s[1] = np.square(x).sum(axis=0) if s[1] is None else s[1] + np.square(x).sum(0)
                    s[2] += len(x)
        if self._measures(batch + 1):  # keep the weights the next measured step starts from
            for i, layer in self._dense:
                np.copyto(self._prev[i], layer.weight.value)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" in logs:
            self.loss.append(float(logs["loss"]))
        if "val_loss" in logs:
            self.val_loss.append(float(logs["val_loss"]))
        self._close_epoch()

    def on_train_end(self, logs=None):
        # training that diverged stops inside an epoch: keep what that epoch measured
        if getattr(self, "_measured", False):
            self.diverged = True
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
            norms, ups, sp = self._norms[i], self._updates[i], self._speeds[i]
            h["grad_norm"].setdefault(i, []).append(float(np.mean(norms)) if norms else math.nan)
            h["grad_norm_max"].setdefault(i, []).append(max(norms) if norms else math.nan)
            h["speed"].setdefault(i, []).append(float(np.median(sp)) if sp else math.nan)
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

    def story(self) -> Story:
        """What was recorded, as the ``Story`` that ``chainrule.verdicts.judge`` reads.

        Per-layer measures are taken over the judging window (the last
        ``window_size(epochs)`` epochs): dead fraction, its minimum (dead in
        every epoch of the window); saturation and derivative, their mean;
        speed and step, their median; the largest step over all epochs.
        """
        h = self.history
        W = window_size(len(self.epochs))

        def win(metric, i, how):
            v = [x for x in h[metric].get(i, [])[-W:] if x is not None and math.isfinite(x)]
            return float(how(v)) if v else None

        layers = _layer_skeleton(self.net)
        by_index = {ly.index: ly for ly in layers}
        for ly in layers:
            i = ly.index
            if i not in self.units and ly.units == 0 and ly.dense is not None:
                ly.units = self.units.get(ly.dense, 0)
            if self.kinds.get(i) in DEAD_KINDS:
                ly.dead = win("dead_fraction", i, min)
                ly.dead_since_init = (h["dead_since_init"].get(i) or [None])[-1]
            if self.kinds.get(i) in SATURATING_KINDS:
                ly.saturation = win("saturation", i, np.mean)
                ly.mean_derivative = win("mean_derivative", i, np.mean)
            j = ly.dense
            if j is not None and j in self.units:
                ly.grad_norm = win("grad_norm", j, np.mean)
                gm = [x for x in h["grad_norm_max"].get(j, [])]
                ly.grad_norm_max = (
                    max(gm, key=lambda x: x if math.isfinite(x) else math.inf) if gm else None
                )
                ly.grad_norm_start = self._grad_start.get(j)
                ly.speed = win("speed", j, np.median)
                ly.update_ratio = win("update_ratio", j, np.median)
                ups = [x for x in h["update_ratio"].get(j, []) if math.isfinite(x)]
                ly.update_ratio_max = max(ups) if ups else None
                ly.weight_rms = self._weight_rms.get(j)
                ly.bias_mean = self._bias_mean.get(j)
        for ly in layers:  # an activation layer's numbers belong to its Dense layer too
            if ly.dense is not None and ly.dense != ly.index and ly.dense in by_index:
                host = by_index[ly.dense]
                if ly.saturation is not None:
                    host.kind, host.saturation = ly.kind, ly.saturation
                    host.mean_derivative = ly.mean_derivative
        lr, opt = _optimizer_facts(self.net)
        s = self._inputs
        return Story(
            layers=layers,
            loss=list(self.loss),
            val_loss=list(self.val_loss) or None,
            baseline=self.baseline,
            loss_name=getattr(self.net, "loss_", None),
            lr=lr,
            optimizer=opt,
            diverged=self.diverged,
            grad_norm_before_clip=max(
                (t for t in self.total_norm_before_clip if not math.isnan(t)), default=None
            ),
            **_input_facts(s[0], s[1], s[2]),
        )

    def records(self) -> list[Verdict]:
        """The verdicts as ``Verdict`` records: problems first, then information."""
        if not self.epochs:
            return []
        return judge(self.story())

    def verdicts(self) -> list[Verdict]:
        """The verdicts that name a problem (``severity == "problem"``), most specific first.

        ``records()`` adds the information-only ones. Each verdict is judged
        over a window of epochs (see ``chainrule.verdicts``).
        """
        return [v for v in self.records() if v.is_problem]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the last epoch's numbers and the verdict records."""
        from .verdicts import _jsonable

        return {
            "epochs": len(self.epochs),
            "layers": _jsonable(self.last()),
            "verdicts": [v.to_dict() for v in self.records()],
        }

    def __str__(self) -> str:
        if not self.epochs:
            return "Diagnostics: nothing recorded yet (pass it to fit(..., callbacks=[...]))"
        records = self.records()
        flags = _layer_flags(records)
        rows = [("#", "kind", "dead", "dead since init", "saturated", "|dL/dW|", "|dL/db|/√n",
                 "|dW|/|W|", "verdict")]  # fmt: skip
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
                    get("speed"),
                    get("update_ratio"),
                    flags.get(i, ""),
                )
            )
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = [
            "  ".join(f"{c:<{w}}" if k == 8 else f"{c:>{w}}" for k, (c, w) in
                      enumerate(zip(r, widths))).rstrip()
            for r in rows
        ]  # fmt: skip
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(0, f"Diagnostics after epoch {len(self.epochs)}:")
        lines.extend(verdict_lines(records))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnostics(every={self.every!r}, epochs={len(self.epochs)})"

"""Remedies: what to change when a network does not learn, and a way to change it.

A ``Remedy`` names one change (``changes``) in the words of each place a
user works (``python``, ``cli``, ``playground``), and ``apply`` makes it:
it returns a ``Treatment``, the network to train (rebuilt when the
architecture or initialisation changes) with the ``fit`` keyword arguments
to train it with, and a transform for the inputs when they must be
rescaled. ``remedies_for`` ranks them for a verdict by its evidence.

The names (``Remedy.name``) are stable: ``lower_lr``, ``raise_lr``,
``reinit``, ``relu_he``, ``leaky_relu``, ``zero_bias``, ``clip_norm``,
``standardise``, ``early_stopping``, ``l2``, ``wider``, ``adam``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NotApplicable", "Remedy", "Treatment", "rebuild", "remedies_for"]


class NotApplicable(ValueError):
    """A remedy that cannot be applied to this network; the message says why, in words."""


_NO_CLI = None  # no chainrule train flag does this
_NO_PLAYGROUND = None  # no playground control does this


@dataclass
class Treatment:
    """The result of ``Remedy.apply``: train ``net`` with ``fit_kwargs`` on ``transform(X)``.

    Attributes
    ----------
    net : Network
        The network to train (rebuilt by the remedy, or the original).
    fit_kwargs : dict
        Keyword arguments for ``net.fit``.
    transform : callable or None, default None
        Applied to ``X`` (and the validation inputs) before training, e.g. standardisation.
    """

    net: Any
    fit_kwargs: dict[str, Any]
    transform: Callable[[np.ndarray], np.ndarray] | None = None

    def fit(self, X, y, **extra):
        """Train the treated network: ``net.fit(transform(X), y, **fit_kwargs)``.

        Parameters
        ----------
        X : array-like
            Inputs, before ``transform``.
        y : array-like
            Targets.
        **extra
            More ``fit`` arguments; they override ``fit_kwargs``.
        """
        kw = {**self.fit_kwargs, **extra}
        if self.transform is not None:
            X = self.transform(X)
            if kw.get("validation_data") is not None:
                Xv, yv = kw["validation_data"]
                kw["validation_data"] = (self.transform(Xv), yv)
        return self.net.fit(X, y, **kw)


def _standardiser(X) -> Callable:
    """``A -> (A - mean) / std`` with the mean and std of ``X``'s columns (float32 out).

    Several inputs (a list in inputs order or a dict by name): each array of
    numbers on its own; arrays of integer codes (an ``Embedding``'s) pass unchanged.
    """
    if isinstance(X, (list, tuple, dict)):
        keys = list(X) if isinstance(X, dict) else range(len(X))
        parts = {k: _standardiser(X[k]) for k in keys}

        def each(A):
            out = {k: parts[k](A[k]) for k in keys}
            return out if isinstance(A, dict) else [out[k] for k in keys]

        return each
    X = np.asarray(X)
    if X.dtype.kind in "iub":  # codes: not numbers to rescale
        return lambda A: A
    X = X.astype(np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def transform(A, mean=mean, std=std):
        return ((np.asarray(A, dtype=np.float64) - mean) / std).astype(np.float32)

    return transform


@dataclass
class Remedy:
    """One fix, worded for each place, and applicable.

    Attributes
    ----------
    name : str
        A stable identifier (see the module documentation).
    changes : dict
        What changes: fit settings (``lr``, ``optimizer``, ``clip_norm``,
        ``l2``, ``early_stopping``), the network (``activation``,
        ``weight_init``, ``bias_init``, ``hidden``) or the data
        (``standardise``).
    python, cli, playground : str or None
        The change in the words of the Python API, the ``chainrule train``
        flags and the playground's controls; None where that place has no
        way to make it.
    why : str
        Why this fix follows from the evidence.
    """

    name: str
    changes: dict[str, Any]
    python: str
    cli: str | None
    playground: str | None
    why: str = ""

    def apply(self, net, fit_kwargs: dict[str, Any] | None = None, X=None) -> Treatment:
        """Make the change: a fresh network (same seed) and the fit settings to train it.

        Parameters
        ----------
        net : Sequential
            The network to treat; it is not modified. A remedy that changes
            the network returns a new one, rebuilt from ``net``'s layers with
            ``net.seed``; one that changes only training returns a fresh
            copy re-initialised with ``net.seed`` (or a deep copy without one).
        fit_kwargs : dict, optional
            The settings the network was trained with (``lr``, ``optimizer``...).
        X : array-like, optional
            Training inputs; needed by ``standardise`` to learn the scaling.
        """
        kw = dict(fit_kwargs or {})
        c = self.changes
        arch = {k: c[k] for k in ("activation", "weight_init", "bias_init", "hidden") if k in c}
        new = rebuild(net, **arch)
        for key in ("lr", "optimizer", "clip_norm", "l2"):
            if key in c:
                kw[key] = c[key]
        if "optimizer" in c and "lr" not in c:
            kw.pop("lr", None)
        if "early_stopping" in c:
            from .callbacks import EarlyStopping

            kw["callbacks"] = [*kw.get("callbacks", []), EarlyStopping(**c["early_stopping"])]
        transform = None
        if c.get("standardise"):
            if X is None:
                raise ValueError(
                    "the standardise remedy needs the training inputs: apply(net, kw, X=X)"
                )
            transform = _standardiser(X)
        return Treatment(new, kw, transform)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "changes": {k: v for k, v in self.changes.items()},
            "python": self.python,
            "cli": self.cli,
            "playground": self.playground,
            "why": self.why,
        }


# -- rebuilding a network with other choices ---------------------------------------------------
def _new_dense(layer, activation, weight_init, bias_init, hidden_layer: bool):
    """A fresh ``Dense`` of ``layer``'s shape with the changed choices (see ``rebuild``)."""
    from .layers import Dense

    act = copy.deepcopy(layer.activation)
    w = weight_init or ("auto" if activation is not None else layer.weight_init)
    if activation is not None and act is not None and hidden_layer:
        act = activation
    return Dense(layer.in_features, layer.out_features, activation=act, weight_init=w,
                 bias_init=bias_init or layer.bias_init)  # fmt: skip


def rebuild(net, activation=None, weight_init=None, bias_init=None, hidden=None):
    """A new, freshly initialised network like ``net`` with some choices changed.

    ``activation`` replaces the hidden layers' activation (and the weight
    init then defaults to the one that suits it), ``weight_init`` and
    ``bias_init`` every Dense layer's, ``hidden`` the hidden widths
    (a list; the Dense stack is rebuilt, other layers are dropped).

    A graph network (``cr.Network``) is rebuilt node by node with the same
    wiring, names and sharing: each layer is replaced once, a ``Dense`` by a
    fresh one with the changed choices (its activation kept where it computes
    an output), any other layer by a copy. ``hidden`` cannot apply to a graph
    (its widths are tied by its merges): a ``ValueError`` says so.

    Parameters
    ----------
    net : Network
        The network to copy.
    activation : str or None, default None
        The new hidden activation (None: unchanged).
    weight_init : str or None, default None
        The new weight initialiser (None: unchanged, or the activation's).
    bias_init : str or None, default None
        The new bias initialiser (None: unchanged).
    hidden : list of int or None, default None
        The new hidden widths (None: unchanged); a stack only.
    """
    from .layers import Dense
    from .network import Sequential

    if not isinstance(net, Sequential):
        return _rebuild_graph(net, activation, weight_init, bias_init, hidden)
    dense = [ly for ly in net.layers if isinstance(ly, Dense)]
    if hidden is not None:
        out_act = dense[-1].activation.name if dense[-1].activation is not None else None
        act = activation or next(
            (d.activation.name for d in dense[:-1] if d.activation is not None), "relu"
        )
        sizes = [dense[0].in_features, *hidden, dense[-1].out_features]
        layers = [
            Dense(
                a,
                b,
                activation=act,
                weight_init=weight_init or "auto",
                bias_init=bias_init or "zeros",
            )  # fmt: skip
            for a, b in zip(sizes[:-2], sizes[1:-1])
        ]
        layers.append(
            Dense(sizes[-2], sizes[-1], activation=out_act, weight_init=weight_init or "auto")
        )
    else:
        last = dense[-1] if dense else None
        layers = [
            _new_dense(layer, activation, weight_init, bias_init, layer is not last)
            if isinstance(layer, Dense)
            else copy.deepcopy(layer)
            for layer in net.layers
        ]
    seed = getattr(net, "seed", None)
    new = Sequential(*layers, seed=seed, dtype=net.dtype)
    if seed is None:
        new.reset_parameters(0)
    return new


def _rebuild_graph(net, activation, weight_init, bias_init, hidden):
    """``rebuild`` for a graph network: the same nodes, names and shared layers, new layers."""
    from .layers import Dense
    from .network import Network
    from .node import Input

    if hidden is not None:
        raise NotApplicable(
            "the 'wider' remedy rebuilds a stack with new hidden widths; a graph network's "
            "widths are tied by its wiring (Add and Multiply need equal widths), so it cannot "
            "be applied to one: widen its Dense layers by hand, as the remedy's words say"
        )
    seed = getattr(net, "seed", None)
    if all(v is None for v in (activation, weight_init, bias_init)):  # training changes only
        new = copy.deepcopy(net)
        if seed is not None:
            new.reset_parameters(seed)
        return new
    outputs = {id(o.layer) for o in net.outputs}
    new_layers = {
        id(layer): _new_dense(layer, activation, weight_init, bias_init, id(layer) not in outputs)
        if isinstance(layer, Dense)
        else copy.deepcopy(layer)
        for layer in net.layers
    }
    values = {}
    for node in net.nodes:
        if node.layer is None:
            values[id(node)] = Input(node.n_features, name=node.name)
        else:
            parents = [values[id(p)] for p in node.inputs]
            values[id(node)] = new_layers[id(node.layer)](*parents, name=node.name)
    new_outputs = [values[id(o)] for o in net.outputs]
    new = Network(
        [values[id(x)] for x in net.inputs],
        new_outputs[0] if net._single_output else new_outputs,
        seed=seed,
        dtype=net.dtype,
    )
    if seed is None:
        new.reset_parameters(0)
    return new


# -- the catalogue ----------------------------------------------------------------------------
def _nice(x: float) -> float:
    """Round to 1, 2 or 5 times a power of ten."""
    if not (x > 0 and math.isfinite(x)):
        return x
    e = math.floor(math.log10(x))
    m = x / 10**e
    m = 1 if m < 1.5 else 2 if m < 3.5 else 5 if m < 7.5 else 10
    return float(f"{m * 10**e:.3g}")


def _lr_remedy(name: str, lr: float, why: str) -> Remedy:
    return Remedy(
        name, {"lr": lr},
        python=f"net.fit(X, y, ..., lr={lr:g})",
        cli=f"chainrule train ... --lr {lr:g}",
        playground=f"Learning rate: {lr:g}",
        why=why,
    )  # fmt: skip


def _lower_lr(story, step: float | None) -> Remedy:
    lr = story.lr if story.lr else 1e-3
    if step is not None and math.isfinite(step) and step > 0:
        factor = min(0.1, max(1e-2, 0.01 / step))
    else:
        factor = 0.1
    new = _nice(lr * factor)
    return _lr_remedy(
        "lower_lr", new,
        f"steps of {100 * step:.0f}% of the weights throw the network off; aim for about 1%"
        if step and math.isfinite(step) else "the loss diverged",
    )  # fmt: skip


def _raise_lr(story, step: float | None) -> Remedy:
    lr = story.lr if story.lr else 1e-3
    factor = 100.0 if not step or not math.isfinite(step) else min(1000.0, max(10.0, 1e-2 / step))
    return _lr_remedy(
        "raise_lr", _nice(lr * factor),
        f"steps of {step:.0e} of the weights' norm are far below the usual ~1e-3" if step else "",
    )  # fmt: skip


def _clip() -> Remedy:
    return Remedy(
        "clip_norm", {"clip_norm": 1.0},
        python="net.fit(X, y, ..., clip_norm=1.0)",
        cli=_NO_CLI, playground=_NO_PLAYGROUND,
        why="clipping bounds every step, whatever the gradient",
    )  # fmt: skip


def _reinit(why: str) -> Remedy:
    return Remedy(
        "reinit", {"weight_init": "auto", "bias_init": "zeros"},
        python='cr.Dense(..., weight_init="auto", bias_init="zeros")  # He for ReLU, else Glorot',
        cli="chainrule train uses He/Glorot initialisation already",
        playground="Initialiser: he (ReLU) or glorot (tanh, sigmoid)",
        why=why,
    )  # fmt: skip


def _relu_he(why: str) -> Remedy:
    return Remedy(
        "relu_he", {"activation": "relu", "weight_init": "auto"},
        python='cr.Dense(..., activation="relu", weight_init="he_uniform") for hidden layers',
        cli="chainrule train ... --activation relu",
        playground="Activation: relu, Initialiser: he",
        why=why,
    )  # fmt: skip


def _leaky() -> Remedy:
    return Remedy(
        "leaky_relu", {"activation": "leaky_relu"},
        python='cr.Dense(..., activation="leaky_relu")',
        cli="chainrule train ... --activation leaky_relu",
        playground="Activation: leaky_relu",
        why="a leaky ReLU keeps a small gradient on its negative side, so no unit can die",
    )  # fmt: skip


def _zero_bias(bias: float) -> Remedy:
    return Remedy(
        "zero_bias", {"bias_init": "zeros"},
        python='cr.Dense(..., bias_init="zeros")',
        cli="chainrule train starts biases at 0 already",
        playground="Initialiser: any (the playground starts biases at 0)",
        why=f"the biases average {bias:.2g}, which keeps z below 0 for every sample",
    )  # fmt: skip


def _standardise() -> Remedy:
    return Remedy(
        "standardise", {"standardise": True},
        python="X = (X - X.mean(axis=0)) / X.std(axis=0)  # the same for validation and test data",
        cli="chainrule train standardises numeric columns already",
        playground="the playground's inputs are standardised already",
        why="features of RMS about 1 keep the first layer's z in the useful range",
    )  # fmt: skip


def _early(patience: int) -> Remedy:
    return Remedy(
        "early_stopping",
        {"early_stopping": {"monitor": "val_loss", "patience": patience,
                            "restore_best_weights": True}},  # fmt: skip
        python=f'net.fit(..., callbacks=[cr.EarlyStopping("val_loss", patience={patience})])',
        cli=f"chainrule train ... --validation-split 0.2 --patience {patience}",
        playground=_NO_PLAYGROUND,
        why="keep the weights of the epoch with the lowest validation loss",
    )  # fmt: skip


def _l2(value: float = 1e-2) -> Remedy:
    return Remedy(
        "l2", {"l2": value},
        python=f"net.fit(X, y, ..., l2={value:g})",
        cli=_NO_CLI, playground=f"L2: {value:g}",
        why="a penalty on large weights smooths what the network learns",
    )  # fmt: skip


def _wider(story) -> Remedy:
    widths = [ly.units for ly in story.layers if ly.hidden]
    new = [max(64, 4 * w) for w in widths] if widths else [64, 64]
    if len(new) == 1:
        new = new * 2
    text = ",".join(map(str, new))
    return Remedy(
        "wider", {"hidden": new},
        python=f"hidden layers of {text} units",
        cli=f"chainrule train ... --hidden {text}",
        playground=f"hidden layers: {text} neurons",
        why="more units and layers can draw a more complex boundary",
    )  # fmt: skip


def _adam() -> Remedy:
    return Remedy(
        "adam", {"optimizer": "adam", "lr": 1e-3},
        python='net.fit(X, y, ..., optimizer="adam", lr=0.001)',
        cli="chainrule train ... --optimizer adam --lr 0.001",
        playground="Optimizer: adam, Learning rate: 0.001",
        why="Adam scales each weight's step by its own gradient history",
    )  # fmt: skip


def remedies_for(kind: str, ev: dict[str, Any], story, ctx: dict[str, Any]) -> list[Remedy]:
    """The remedies for a verdict of ``kind``, ranked by its evidence ``ev``.

    Parameters
    ----------
    kind : str
        The verdict's kind, e.g. ``"exploding_gradients"``.
    ev : dict
        The verdict's evidence (its numbers).
    story : Story
        What was measured, which some remedies size themselves by.
    ctx : dict
        The setting: the network and fit arguments the remedies change.
    """
    rms = max((ly.weight_rms or 0.0) for ly in story.layers) if story.layers else 0.0
    step_max = ev.get("largest_step")
    if kind == "exploding_gradients":
        out = [_reinit(f"weights of RMS x sqrt(fan_in) {rms:.3g} grow the signal every layer")]
        out += [_clip(), _lower_lr(story, None)]
        if rms <= 2.0:
            out = out[1:] + out[:1]
        return out
    if kind == "lr_too_high":
        out = [_lower_lr(story, step_max), _clip()]
        if "dead_fraction" in ev:
            out.append(_leaky())
        return out
    if kind == "inputs_not_standardised":
        return [_standardise()]
    if kind == "dead_relu":
        bias = ev.get("bias_mean")
        out = []
        if bias is not None and bias <= -0.5:
            out.append(_zero_bias(bias))
        out += [_leaky(), _reinit("He initialisation keeps about half the units active")]
        if ev.get("dead_since_init", 1.0) < ev["dead_fraction"] / 2:
            out.insert(0, _lower_lr(story, step_max))
        return out
    if kind == "vanishing_gradients":
        out = [_relu_he("ReLU's derivative is 1 where active and He init keeps the signal's size")]
        if story.optimizer == "sgd":
            out.append(_adam())
        return out
    if kind == "saturation":
        relu = _relu_he("ReLU does not saturate for positive z")
        if rms > 2.0:
            reinit = _reinit(f"weights of RMS x sqrt(fan_in) {rms:.3g} push z onto the flat tails")
            # a sigmoid learns slowly even when well initialised (its derivative is at most
            # 0.25): ReLU first; a tanh layer needs only smaller initial weights
            return [relu, reinit] if ctx.get("unit") == "sigmoid" else [reinit, relu]
        return [relu, _lower_lr(story, step_max)]
    if kind == "lr_too_low":
        return [_raise_lr(story, ev.get("largest_median_step")), _adam()]
    if kind == "underfitting":
        return [_wider(story)]
    if kind == "not_learning":
        small = rms < 0.3
        out = [_reinit("the weights start all zero or tiny, so the units cannot differ")]
        if not small:
            out = [_adam(), _wider(story)] + out
        return out
    if kind == "overfitting":
        return [_early(max(3, int(ev.get("window_epochs", 5)))), _l2()]
    return []

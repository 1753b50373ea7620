r"""Verdicts: what is wrong with a network, judged from its whole training story.

A ``Verdict`` is a record (kind, layer, severity, evidence, text, remedies).
Every view of a diagnosis (``Report`` and ``Diagnostics`` tables and text,
``chainrule diagnose``, the playground) reads these records; nothing ever
branches on a message's wording.

``judge(story)`` turns a ``Story`` (the numbers measured by
``chainrule.diagnostics``) into verdicts, most specific cause first. The
measures and thresholds, all module constants:

=====================  ===================================================================
measure                definition
=====================  ===================================================================
baseline               the loss of the best constant prediction: ``H(p) = -sum p_k ln p_k``
                       for (binary) cross-entropy with class shares ``p``, ``Var(y)`` for
                       MSE, ``mean |y - median y|`` for MAE (others: the best of those
                       constants, evaluated)
relative loss ``r``    ``median(last W epochs' training loss) / baseline``; the window is
                       ``W = clip(epochs // 5, 3, 20)`` epochs, so a verdict does not
                       flicker from one epoch to the next
learns                 ``r < LEARNED`` (0.5): half the constant predictor's loss is gone
stuck                  ``r > STUCK`` (0.9)
plateau                ``|L[-W] - L[-1]| / L[-W] < PLATEAU`` (0.03) over the window
speed ``s_l``          ``||dL/db_l|| / sqrt(units_l)`` of Dense layer ``l`` (Nielsen ch. 5
                       uses ``||dL/db_l||`` as the speed at which a layer learns), median
                       over the window's measured batches; vanishing compares the first
                       hidden layer with the output layer, ``s_1 / s_out``
step ``u_l``           ``||W_t - W_{t-1}|| / ||W_{t-1}||`` per optimizer step
=====================  ===================================================================

A mechanism past its threshold (dead units, saturation, slow first layers)
is a *problem* only while the network does not learn; on a network that
learns it is reported with severity ``"info"`` and never as an alarm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .remedies import Remedy, remedies_for

__all__ = [
    "CHANCE_KINDS",
    "DEAD_WARN",
    "EXPLODING_NORM",
    "FROZEN_FIT",
    "HIGH_UPDATE_RATIO",
    "KINDS",
    "LEARNED",
    "LOW_UPDATE_RATIO",
    "OVERFIT_RISE",
    "PLATEAU",
    "SATURATION_WARN",
    "SMALL_NET",
    "STUCK",
    "FALLING",
    "FALLING_STEPS",
    "VANISHING_RATIO",
    "LayerStory",
    "Story",
    "Verdict",
    "constant_loss",
    "judge",
    "window_size",
]

#: the network learns when its loss is below this fraction of the baseline.
LEARNED = 0.5
#: stuck at chance: the loss is above this fraction of the baseline.
STUCK = 0.9
#: a plateau: the loss changed by less than this fraction over the window.
PLATEAU = 0.03
#: still falling (not stuck): the loss fell by at least this fraction over the window ...
FALLING = 0.005
#: ... and went down in at least this share of its epoch-to-epoch steps.
FALLING_STEPS = 0.8
#: dead ReLUs: at least this fraction of a ReLU layer's units output 0 on every sample.
DEAD_WARN = 0.5
#: saturation: at least this fraction of a sigmoid/tanh layer's values lie on the flat tails.
SATURATION_WARN = 0.5
#: vanishing gradients: the first hidden layer learns 100x slower than the output layer.
VANISHING_RATIO = 1e-2
#: exploding gradients: the first hidden layer learns 100x faster than the output layer.
EXPLODING_RATIO = 1e2
#: exploding gradients: a weight gradient norm ``||dL/dW||`` above this at the start.
EXPLODING_NORM = 1e4
#: a large step: ``||dW||/||W||`` above this per step (a learning rate that is too high).
HIGH_UPDATE_RATIO = 5e-2
#: a tiny step: every layer's median ``||dW||/||W||`` below this (a learning rate too low).
LOW_UPDATE_RATIO = 1e-4
#: overfitting: the validation loss is this fraction above its minimum, reached before the window.
OVERFIT_RISE = 0.1
#: a frozen layer (saturated, or 100x slower than the output layer) is a problem while the
#: loss is above this fraction of the baseline, even on a network that learns.
FROZEN_FIT = 0.2
#: a small network: at most this many hidden units in all (capacity for underfitting).
SMALL_NET = 8
#: overfitting seen by ``diagnose`` on held-out data: its loss is this many times the final
#: training loss ...
GAP_RATIO = 2.0
#: ... and above it by at least this fraction of the baseline.
GAP_ABS = 0.1
#: inputs not standardised: some feature's RMS outside [1/INPUT_SCALE, INPUT_SCALE] ...
INPUT_SCALE = 10.0
#: ... or the feature standard deviations spread by more than this factor.
INPUT_SPREAD = 100.0

#: every verdict kind, in the order a first verdict is chosen (most specific cause first).
KINDS = (
    "inputs_not_standardised",
    "exploding_gradients",
    "lr_too_high",
    "dead_relu",
    "vanishing_gradients",
    "saturation",
    "lr_too_low",
    "underfitting",
    "not_learning",
    "overfitting",
)
#: the kinds that only describe a symptom; raised when no cause above them was found.
CHANCE_KINDS = frozenset({"lr_too_low", "underfitting", "not_learning"})

_TITLES = {
    "exploding_gradients": "exploding gradients",
    "lr_too_high": "learning rate too high",
    "inputs_not_standardised": "inputs not standardised",
    "dead_relu": "dead ReLUs",
    "vanishing_gradients": "vanishing gradients",
    "saturation": "saturated units",
    "lr_too_low": "learning rate too low",
    "underfitting": "underfitting",
    "not_learning": "not learning",
    "overfitting": "overfitting",
}


@dataclass(eq=False)
class Verdict(str):
    """One finding: what, where, how sure, the numbers behind it, and what to do.

    A verdict is also its ``text`` (it subclasses ``str``), so code that
    printed, searched or sent the plain-text verdicts of earlier versions
    (and JSON) keeps working; read ``kind``, ``layer`` and ``evidence``
    rather than the words.

    Attributes
    ----------
    kind : str
        One of ``KINDS``.
    layer : int or None
        The layer index (as in ``net.layers``) the verdict is about, if any.
    severity : str
        ``"problem"`` (an alarm: the network is not learning as it should)
        or ``"info"`` (a measure past its threshold on a network that learns).
    evidence : dict
        The numbers that triggered it, under their measure's name.
    text : str
        One plain-language sentence built from ``evidence``.
    remedies : list of Remedy or None
        Ranked by the evidence, the most likely fix first.
    """

    kind: str
    layer: int | None
    severity: str
    evidence: dict[str, Any]
    text: str
    remedies: list[Remedy] = field(default_factory=list)

    def __new__(cls, kind, layer, severity, evidence, text, remedies=None):
        return super().__new__(cls, text)

    def __reduce__(self):
        return (type(self), (self.kind, self.layer, self.severity, self.evidence, self.text,
                             self.remedies))  # fmt: skip

    @property
    def title(self) -> str:
        """The kind in words, e.g. ``"learning rate too high"``."""
        return _TITLES[self.kind]

    @property
    def is_problem(self) -> bool:
        return self.severity == "problem"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return (f"Verdict(kind={self.kind!r}, layer={self.layer!r}, severity={self.severity!r}, "
                f"text={self.text!r})")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats that are not finite become None)."""
        d = asdict(self)
        d["title"] = self.title
        d["evidence"] = _jsonable(self.evidence)
        d["remedies"] = [r.to_dict() for r in self.remedies]
        return d


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass
class LayerStory:
    """What was measured in one layer (``None`` where it does not apply).

    Fractions and speeds are over the judging window; ``*_max`` over all
    of training; ``*_start`` on the first measured batch.

    Attributes
    ----------
    index : int
        The layer's position in ``net.layers``.
    kind : str
        The activation's name, "linear" for a Dense layer without one.
    units : int
        Width of the layer.
    dense : int or None
        Index of the Dense layer computing this layer's z.
    hidden : bool
        A Dense layer with an activation (not the output layer).
    dead : float or None
        Fraction of units that never activate.
    dead_since_init : float or None
        Fraction of units dead from the first measured batch on.
    saturation : float or None
        Fraction of outputs on the flat tails (sigmoid, tanh).
    mean_derivative : float or None
        Mean of f'(z) (sigmoid, tanh).
    grad_norm : float or None
        ``||dL/dW||``.
    grad_norm_start : float or None
        ``||dL/dW||`` on the first measured batch.
    grad_norm_max : float or None
        The largest ``||dL/dW||`` seen.
    speed : float or None
        ``||dL/db|| / sqrt(units)``.
    update_ratio : float or None
        Size of a step relative to the weights.
    update_ratio_max : float or None
        The largest such ratio seen.
    weight_rms : float or None
        RMS of W times sqrt(fan_in).
    bias_mean : float or None
        Mean of the biases.
    weight_init : str or None
        The layer's weight initialiser.
    """

    index: int
    kind: str  # the activation's name, "linear" for a Dense layer without one
    units: int
    dense: int | None = None  # the Dense layer computing this layer's z
    hidden: bool = False  # a Dense layer with an activation (not the output layer)
    dead: float | None = None
    dead_since_init: float | None = None
    saturation: float | None = None
    mean_derivative: float | None = None
    grad_norm: float | None = None
    grad_norm_start: float | None = None
    grad_norm_max: float | None = None
    speed: float | None = None  # ||dL/db|| / sqrt(units)
    update_ratio: float | None = None
    update_ratio_max: float | None = None
    weight_rms: float | None = None  # RMS of W times sqrt(fan_in)
    bias_mean: float | None = None
    weight_init: str | None = None


@dataclass
class Story:
    """Everything ``judge`` reads: the loss history and the per-layer measures.

    Attributes
    ----------
    layers : list of LayerStory
        One per layer.
    loss : list of float
        The training loss of each epoch.
    val_loss : list of float or None
        The validation loss of each epoch.
    baseline : float or None
        The loss of the best constant prediction.
    loss_name : str or None
        The loss trained with.
    lr : float or None
        The learning rate.
    optimizer : str or None
        The optimizer's name.
    diverged : bool
        Training stopped on a NaN or infinite loss.
    data_loss : float or None
        The loss on the data diagnosed (``diagnose`` only).
    grad_norm_before_clip : float or None
        The largest global gradient norm that clipping cut down.
    input_rms_max : float or None
        The largest RMS of an input column.
    input_rms_min : float or None
        The smallest RMS of an input column.
    input_std_spread : float or None
        How far apart the input columns' standard deviations are.
    n_features : int or None
        Number of input columns.
    """

    layers: list[LayerStory]
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] | None = None
    baseline: float | None = None
    loss_name: str | None = None
    lr: float | None = None
    optimizer: str | None = None
    diverged: bool = False
    data_loss: float | None = None  # the loss on the data diagnosed (diagnose only)
    grad_norm_before_clip: float | None = None  # the largest global norm clipping cut down
    input_rms_max: float | None = None
    input_rms_min: float | None = None
    input_std_spread: float | None = None
    n_features: int | None = None

    @property
    def trained(self) -> bool:
        """True when there is a training story to judge (at least 3 epochs)."""
        return len(self.loss) >= 3 or self.diverged


def window_size(epochs: int) -> int:
    """The judging window: ``clip(epochs // 5, 3, 20)`` epochs.

    Parameters
    ----------
    epochs : int
        Epochs trained.
    """
    return int(min(20, max(3, epochs // 5)))


# -- the constant predictor ------------------------------------------------------------------
def constant_loss(loss_name: str, y) -> float:
    """The loss of the best constant prediction for targets ``y`` (the baseline).

    Cross-entropy: the entropy of the class shares, ``-sum p_k ln p_k`` (``ln k``
    for ``k`` balanced classes); binary cross-entropy the same with two
    classes; MSE: ``Var(y)`` (mean over outputs); MAE: ``mean |y - median|``.
    Huber and hinge: the smallest of their losses at the mean, the median
    and (hinge) zero.

    Parameters
    ----------
    loss_name : str
        The loss: ``"cross_entropy"``, ``"binary_cross_entropy"``, ``"mse"``...
    y : array-like
        The training targets.
    """
    y = np.asarray(y, dtype=np.float64)
    if loss_name == "cross_entropy":
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot or probability rows
            p = y.mean(axis=0)
        else:
            _, counts = np.unique(y.reshape(-1), return_counts=True)
            p = counts / counts.sum()
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())
    y2 = y.reshape(len(y), -1)
    if loss_name == "binary_cross_entropy":
        p = np.clip(y2.mean(axis=0), 1e-12, 1 - 1e-12)
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    if loss_name == "mse":
        return float(np.mean(y2.var(axis=0)))
    if loss_name == "mae":
        return float(np.mean(np.abs(y2 - np.median(y2, axis=0))))
    from .losses import get_loss

    loss = get_loss(loss_name)
    best = math.inf
    for c in (y2.mean(axis=0), np.median(y2, axis=0), np.zeros(y2.shape[1])):
        pred = np.broadcast_to(c, y2.shape).copy()
        try:
            best = min(best, float(loss.forward(pred, y.reshape(len(y), -1))))
        except ValueError:
            continue
    return best


# -- judging ------------------------------------------------------------------------------------
def _med(values) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else math.nan


def _pct(frac: float) -> str:
    return f"{100 * frac:.0f}%"


def _g(x: float) -> str:
    return f"{x:.3g}"


class _Judge:
    def __init__(self, story: Story) -> None:
        self.s = story
        self.hidden = [ly for ly in story.layers if ly.hidden]
        loss = [x for x in story.loss]
        self.W = window_size(len(loss))
        self.win = loss[-self.W :] if loss else []
        finite = [x for x in self.win if math.isfinite(x)]
        self.loss_now = float(np.median(finite)) if finite else math.nan
        b = story.baseline
        self.r = self.loss_now / b if (b and b > 0 and math.isfinite(self.loss_now)) else math.nan
        # without a story, nothing says the network learns; without a baseline (several
        # outputs), the first epoch's loss stands in for it
        r_learn = self.r
        if not math.isfinite(r_learn) and len(loss) > 0 and loss[0] and math.isfinite(loss[0]):
            r_learn = self.loss_now / loss[0]
        self.learns = story.trained and r_learn < LEARNED
        self.stuck = story.trained and self.r > STUCK
        first = loss[-self.W] if len(loss) >= self.W else (loss[0] if loss else math.nan)
        last = loss[-1] if loss else math.nan
        self.change = abs(first - last) / abs(first) if first and math.isfinite(first) else math.nan
        self.plateau = story.trained and self.change < PLATEAU
        # still going down: lower by FALLING over the window, and lower from epoch to epoch
        # in most of it (a loss that wanders at chance goes down in about half the steps)
        steps = np.diff([x for x in self.win if math.isfinite(x)])
        self.falling = (
            story.trained
            and last < first
            and self.change >= FALLING
            and len(steps) > 0
            and float(np.mean(steps < 0)) >= FALLING_STEPS
        )
        ups = [ly.update_ratio_max for ly in story.layers if ly.update_ratio_max is not None]
        self.step_max = max((u for u in ups if math.isfinite(u)), default=math.nan)
        med = [ly.update_ratio for ly in story.layers if ly.update_ratio is not None]
        self.step_med_max = max((u for u in med if math.isfinite(u)), default=math.nan)
        self.out: list[Verdict] = []

    # a problem while the network does not learn; information once it does
    def severity(self) -> str:
        return "info" if self.learns else "problem"

    def add(self, kind, layer, severity, evidence, text, ctx=None) -> None:
        ev = {k: v for k, v in evidence.items()}
        self.out.append(
            Verdict(kind, layer, severity, ev, text, remedies_for(kind, ev, self.s, ctx or {}))
        )

    def base_evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {}
        if self.s.trained:
            ev["loss"] = self.loss_now
            ev["window_epochs"] = min(self.W, len(self.s.loss))
        if self.s.baseline is not None:
            ev["baseline"] = self.s.baseline
            if math.isfinite(self.r):
                ev["relative_loss"] = self.r
        return ev

    def loss_words(self) -> str:
        if not (self.s.trained and math.isfinite(self.r)):
            return ""
        return (
            f"; the loss is {_g(self.loss_now)}, {_pct(self.r)} of what a constant prediction "
            f"scores ({_g(self.s.baseline)})"
        )

    # -- each kind ------------------------------------------------------------------------
    def exploding(self) -> None:
        starts = [
            (ly.index, ly.grad_norm_start) for ly in self.s.layers if ly.grad_norm_start is not None
        ]
        bad = [(i, g) for i, g in starts if not math.isfinite(g) or g > EXPLODING_NORM]
        if bad:
            i, g = max(bad, key=lambda t: t[1] if math.isfinite(t[1]) else math.inf)
            rms = max((ly.weight_rms or 0.0) for ly in self.s.layers)
            ev = {"grad_norm_start": g, "layer_grad_norms": dict(starts), "weight_rms": rms}
            what = f"is {g}" if not math.isfinite(g) else f"is {g:.2e}"
            self.add(
                "exploding_gradients", i, "problem", ev,
                f"exploding gradients: from the first step, layer {i}'s weight gradient "
                f"||dL/dW|| {what} (alarm above {EXPLODING_NORM:.0e}); the initial weights "
                f"are too large for this depth (RMS x sqrt(fan_in) up to {rms:.3g}, 1 to 1.4 "
                "keeps a signal's size)",
            )  # fmt: skip
            return
        clipped = self.s.grad_norm_before_clip
        if clipped is not None and (not math.isfinite(clipped) or clipped > EXPLODING_NORM):
            self.add(
                "exploding_gradients", None, "problem", {"grad_norm_before_clip": clipped},
                f"exploding gradients: the global gradient norm reached {clipped:.2e} before "
                f"clipping (alarm above {EXPLODING_NORM:.0e}); clipping keeps each step bounded, "
                "but such gradients mean a learning rate or initialisation that is too large",
            )  # fmt: skip
            return
        pair = self.speed_pair()
        if pair and not self.learns:
            (i0, s0), (i1, s1) = pair
            if s1 > 0 and s0 / s1 > EXPLODING_RATIO:
                ev = {"speed_first": s0, "speed_last": s1, "speed_ratio": s0 / s1}
                self.add(
                    "exploding_gradients", i0, "problem", ev,
                    f"exploding gradients: layer {i0} learns {s0 / s1:.0f}x faster than layer "
                    f"{i1} (||dL/db||/sqrt(units) {s0:.2e} against {s1:.2e}; alarm above "
                    f"{EXPLODING_RATIO:.0f}x)" + self.loss_words(),
                )  # fmt: skip

    def lr_too_high(self) -> None:
        s = self.s
        if not s.trained:
            return
        loss = [x for x in s.loss]
        finite = [x for x in loss if math.isfinite(x)]
        ev = self.base_evidence()
        ev["largest_step"] = self.step_max
        if s.lr is not None:
            ev["lr"] = s.lr
        big = math.isfinite(self.step_max) and self.step_max > HIGH_UPDATE_RATIO
        steps = (
            f"; the largest steps changed a layer's weights by {_pct(self.step_max)} of their norm"
            if math.isfinite(self.step_max)
            else ""
        )
        lr = f"learning rate {s.lr:g}" if s.lr is not None else "the learning rate"
        if s.diverged:
            ev["diverged"] = True
            self.add("lr_too_high", None, "problem", ev,
                     f"{lr} is too high: the loss diverged to inf/NaN" + steps)  # fmt: skip
            return
        if not finite:
            return
        best = min(finite)
        i_best = loss.index(best)
        rose = (
            i_best < len(loss) - self.W
            and self.loss_now > best * 1.25
            and not self.learns
            and (s.val_loss is None or self.loss_now > best * 1.25)
        )
        win = np.asarray(self.win, dtype=np.float64)
        d = np.diff(win)
        flips = np.mean(np.sign(d[1:]) != np.sign(d[:-1])) if len(d) > 2 else 0.0
        swing = float(np.std(win) / np.mean(win)) if len(win) > 2 and np.mean(win) > 0 else 0.0
        oscillates = flips >= 0.5 and swing > 0.1 and not self.learns
        roomy = sum(ly.units for ly in self.hidden) > SMALL_NET
        dead_at_start = any(
            ly.dead_since_init is not None and ly.dead_since_init >= DEAD_WARN for ly in s.layers
        )
        # a collapse: large steps in the hidden layers themselves (an output layer that moves
        # alone is what vanishing gradients look like), or a loss that was lower before
        hidden_steps = [ly.update_ratio_max for ly in self.hidden if ly.update_ratio_max]
        hidden_big = max(hidden_steps, default=0.0) > HIGH_UPDATE_RATIO
        was_lower = s.baseline is not None and best < STUCK * s.baseline
        collapse = self.stuck and big and roomy and not dead_at_start and (hidden_big or was_lower)
        if oscillates:
            ev.update(oscillation=swing, sign_flips=float(flips))
            self.add("lr_too_high", None, "problem", ev,
                     f"{lr} is too high: the loss jumps up and down (std/mean {swing:.2f} over "
                     f"the last {len(win)} epochs) instead of falling" + steps)  # fmt: skip
        elif rose:
            ev.update(best_loss=best, best_epoch=i_best)
            self.add("lr_too_high", None, "problem", ev,
                     f"{lr} is too high: the loss rose from {_g(best)} (epoch {i_best + 1}) to "
                     f"{_g(self.loss_now)}" + steps)  # fmt: skip
        elif collapse:
            self.add(
                "lr_too_high",
                None,
                "problem",
                ev,
                f"{lr} is too high: the network collapsed to a constant prediction"
                + self.loss_words()
                + steps
                + f" (alarm above {_pct(HIGH_UPDATE_RATIO)})",
            )
        elif big and not self.learns and self.dead_during_training():
            i, frac = self.dead_during_training()
            ev.update(dead_fraction=frac, dead_layer=i)
            self.add("lr_too_high", i, "problem", ev,
                     f"{lr} is too high: large steps killed {_pct(frac)} of layer {i}'s ReLU "
                     "units during training" + self.loss_words() + steps)  # fmt: skip

    def dead_during_training(self):
        for ly in self.s.layers:
            if ly.kind == "relu" and ly.dead is not None and ly.dead >= DEAD_WARN:
                if ly.dead_since_init is not None and ly.dead_since_init < ly.dead / 2:
                    return ly.index, ly.dead
        return None

    def inputs(self) -> None:
        s = self.s
        if s.input_rms_max is None:
            return
        hi, lo, spread = s.input_rms_max, s.input_rms_min, s.input_std_spread or 1.0
        off = hi > INPUT_SCALE or hi < 1 / INPUT_SCALE or spread > INPUT_SPREAD
        if not off:
            return
        ev = self.base_evidence()
        ev.update(input_rms_max=hi, input_rms_min=lo, input_std_spread=spread)
        first = self.hidden[0] if self.hidden else None
        hurt = None
        if first is not None:
            if first.saturation is not None and first.saturation >= SATURATION_WARN:
                hurt = f"; {_pct(first.saturation)} of layer {first.index}'s outputs are saturated"
                ev["first_layer_saturation"] = first.saturation
            elif first.dead is not None and first.dead >= DEAD_WARN:
                hurt = f"; {_pct(first.dead)} of layer {first.index}'s units are dead"
                ev["first_layer_dead"] = first.dead
        sev = "problem" if (hurt or not self.learns) else "info"
        why = (
            f"the largest feature's RMS is {hi:.3g}"
            if hi > INPUT_SCALE or hi < 1 / INPUT_SCALE
            else f"feature standard deviations differ by {spread:.0f}x"
        )
        self.add("inputs_not_standardised", 0, sev, ev,
                 f"inputs not standardised: {why} (standardised features have RMS 1; alarm "
                 f"outside 1/{INPUT_SCALE:g}..{INPUT_SCALE:g} or a spread above "
                 f"{INPUT_SPREAD:.0f}x){hurt or ''}" + self.loss_words())  # fmt: skip

    def dead(self) -> None:
        for ly in self.s.layers:
            if ly.kind != "relu" or ly.dead is None or ly.dead < DEAD_WARN:
                continue
            n = round(ly.dead * ly.units)
            ev = self.base_evidence()
            ev.update(dead_fraction=ly.dead, dead_units=n, units=ly.units)
            if ly.dead_since_init is not None:
                ev["dead_since_init"] = ly.dead_since_init
            if ly.bias_mean is not None:
                ev["bias_mean"] = ly.bias_mean
            self.add("dead_relu", ly.index, self.severity(), ev,
                     f"layer {ly.index}: {_pct(ly.dead)} of ReLU units are dead ({n} of "
                     f"{ly.units} output 0 for every sample, so no gradient reaches their "
                     f"weights; alarm at {_pct(DEAD_WARN)})" + self.loss_words(),
                     {"dense": ly.dense})  # fmt: skip

    def speed_pair(self):
        dense = [ly for ly in self.s.layers if ly.dense == ly.index]
        if len(self.hidden) < 2 or not dense:
            return None
        first, last = self.hidden[0], dense[-1]
        if first.speed is None or last.speed is None:
            return None
        if not (math.isfinite(first.speed) and math.isfinite(last.speed)):
            return None
        return (first.index, first.speed), (last.index, last.speed)

    def vanishing(self) -> None:
        pair = self.speed_pair()
        if not pair:
            return
        (i0, s0), (i1, s1) = pair
        if s1 <= 0:
            return
        ratio = s0 / s1
        u0 = next(ly.update_ratio for ly in self.s.layers if ly.index == i0)
        u1 = next(ly.update_ratio for ly in self.s.layers if ly.index == i1)
        step_ratio = math.nan
        if u0 is not None and u1 is not None and u1 > 0:
            step_ratio = u0 / u1
        if not (ratio < VANISHING_RATIO or step_ratio < VANISHING_RATIO):
            return
        ev = self.base_evidence()
        ev.update(speed_first=s0, speed_last=s1, speed_ratio=ratio, first=i0, last=i1)
        extra = ""
        if math.isfinite(step_ratio):
            ev["step_ratio"] = step_ratio
            extra = f"; |dW|/|W| {u0:.1e} against {u1:.1e}"
        ratio = min(ratio, step_ratio) if math.isfinite(step_ratio) else ratio
        sat = [ly.saturation for ly in self.hidden if ly.saturation is not None]
        if sat:
            ev["mean_saturation"] = float(np.mean(sat))
        slower = f"{1 / ratio:.0f}x" if ratio > 0 else "infinitely"
        # a problem while the network does not learn, or while its first layer is all but
        # frozen and the loss is still far from a good fit
        sev = "problem" if (not self.learns or self.r > FROZEN_FIT) else "info"
        self.add("vanishing_gradients", i0, sev, ev,
                 f"vanishing gradients: layer {i0} learns {slower} slower than layer {i1} "
                 f"(||dL/db||/sqrt(units) {s0:.2e} against {s1:.2e}{extra}; alarm at "
                 f"{1 / VANISHING_RATIO:.0f}x)" + self.loss_words())  # fmt: skip

    def saturation(self) -> None:
        for ly in self.hidden:
            if ly.saturation is None or ly.saturation < SATURATION_WARN:
                continue
            ev = self.base_evidence()
            ev.update(saturation=ly.saturation, mean_derivative=ly.mean_derivative)
            z = 4 if ly.kind == "sigmoid" else 2.5
            peak = 0.25 if ly.kind == "sigmoid" else 1.0
            # a problem while the network does not learn, or while the saturated layer is
            # frozen (its weights hardly move) and the loss is still far from a good fit
            frozen = ly.update_ratio is not None and ly.update_ratio < LOW_UPDATE_RATIO
            if frozen:
                ev["step"] = ly.update_ratio
            sev = self.severity()
            if frozen and self.r > FROZEN_FIT:
                sev = "problem"
            self.add("saturation", ly.index, sev, ev,
                     f"layer {ly.index}: {_pct(ly.saturation)} of {ly.kind} outputs are "
                     f"saturated (|z| > {z}; mean derivative {ly.mean_derivative:.2g} of at most "
                     f"{peak:g}; alarm at {_pct(SATURATION_WARN)})" + self.loss_words(),
                     {"unit": ly.kind})  # fmt: skip

    def lr_too_low(self) -> None:
        s = self.s
        if not s.trained or self.learns or not math.isfinite(self.step_med_max):
            return
        if self.step_med_max >= LOW_UPDATE_RATIO:
            return
        ev = self.base_evidence()
        ev.update(largest_median_step=self.step_med_max, loss_change=self.change)
        if s.lr is not None:
            ev["lr"] = s.lr
        lr = f"learning rate {s.lr:g}" if s.lr is not None else "the learning rate"
        self.add("lr_too_low", None, "problem", ev,
                 f"{lr} is too low: every layer's weights change by less than "
                 f"{LOW_UPDATE_RATIO:.0e} of their norm per step (at most {self.step_med_max:.1e})"
                 f" and the loss moved {_pct(self.change)} over the last {len(self.win)} epochs"
                 + self.loss_words())  # fmt: skip

    def underfitting(self) -> None:
        s = self.s
        if not s.trained or self.learns or not self.plateau or not math.isfinite(self.r):
            return
        n_hidden = sum(ly.units for ly in self.hidden)
        if self.stuck and n_hidden > SMALL_NET:
            return  # at chance with room to learn: not a matter of capacity
        ev = self.base_evidence()
        ev.update(loss_change=self.change, hidden_units=n_hidden)
        self.add(
            "underfitting",
            None,
            "problem",
            ev,
            f"underfitting: the loss has stopped falling ({_pct(self.change)} change over "
            f"the last {len(self.win)} epochs) at {_pct(self.r)} of a constant prediction's "
            f"loss with {n_hidden} hidden units: the network is too small for the data",
        )

    def not_learning(self) -> None:
        s = self.s
        if not (self.stuck and s.trained):
            return
        ev = self.base_evidence()
        if self.falling:
            # near chance but still going down (a slow start, as on spirals): not yet a
            # problem, and saying "stuck" would be false
            ev["loss_change"] = self.change
            self.add("not_learning", None, "info", ev,
                     f"still near chance, but the loss fell {_pct(self.change)} over the last "
                     f"{len(self.win)} epochs: give it more epochs" + self.loss_words())  # fmt: skip
            return
        zero = [ly.index for ly in self.s.layers if ly.weight_rms == 0.0]
        if zero:
            ev["zero_weight_layers"] = zero
        self.add("not_learning", None, "problem", ev,
                 "not learning: stuck at chance" + self.loss_words()
                 + (f"; layers {zero} have all-zero weights, so every unit of a layer "
                    "computes the same thing" if zero else ""))  # fmt: skip

    def generalisation_gap(self) -> None:
        """The data diagnosed score far worse than the training loss fit logged."""
        s = self.s
        if s.data_loss is None or not s.loss or not s.baseline or s.val_loss:
            return
        train, held = s.loss[-1], s.data_loss
        if not (held > GAP_RATIO * train and held - train > GAP_ABS * s.baseline):
            return
        ev = self.base_evidence()
        ev.update(train_loss=train, data_loss=held)
        self.add("overfitting", None, "problem", ev,
                 f"overfitting: the loss on these data is {_g(held)}, "
                 f"{f'{held / train:.1f}x' if held < 1000 * train else 'over 1000 times'} the "
                 f"final training loss {_g(train)} (alarm above {GAP_RATIO:g}x and "
                 f"{_pct(GAP_ABS)} of a constant prediction's loss, {_g(s.baseline)})")  # fmt: skip

    def overfitting(self) -> None:
        v = self.s.val_loss
        if not v or len(v) < 3:
            self.generalisation_gap()
            return
        fin = [(i, x) for i, x in enumerate(v) if math.isfinite(x)]
        if not fin:
            return
        i_min, v_min = min(fin, key=lambda t: t[1])
        W = self.W
        v_now = _med(v[-W:])
        # the rise must also stand above the curve smoothed by a running median of the window,
        # so one lucky epoch of a noisy validation loss is not taken for the best the net did
        smooth = [_med(v[max(0, i - W + 1) : i + 1]) for i in range(len(v))]
        smooth_min = min((x for x in smooth if math.isfinite(x)), default=math.nan)
        if not v_now > smooth_min * (1 + OVERFIT_RISE):
            return
        t = self.s.loss
        if not (i_min < len(v) - W and v_now > v_min * (1 + OVERFIT_RISE)):
            return
        if not (t[-1] < t[i_min]):
            return
        ev = self.base_evidence()
        ev.update(val_loss_min=v_min, val_loss_min_epoch=i_min, val_loss=v_now,
                  train_loss_then=t[i_min], train_loss=t[-1])  # fmt: skip
        text = (f"overfitting: the validation loss rose from {_g(v_min)} (epoch {i_min + 1}) to "
                f"{_g(v_now)} while the training loss fell from {_g(t[i_min])} to {_g(t[-1])} "
                f"(alarm at +{_pct(OVERFIT_RISE)})")  # fmt: skip
        held = self.s.data_loss
        # data that score like the best validation epoch, and not like the training rows (the
        # playground diagnoses on its training rows: their low loss proves nothing)
        if (
            held is not None
            and held <= v_min * (1 + OVERFIT_RISE)
            and held > t[-1] * (1 + OVERFIT_RISE)
        ):
            # diagnose on held-out data: the weights kept score like the best epoch did
            # (early stopping restored them), so the overfitting is history, not this model
            ev["data_loss"] = held
            text += (f"; the weights kept score {_g(held)} on these data, as well as the best "
                     "epoch did (its weights were restored)")  # fmt: skip
            self.add("overfitting", None, "info", ev, text, {"best_epoch": i_min})
            return
        self.add("overfitting", None, "problem", ev, text, {"best_epoch": i_min})

    def symmetric(self) -> bool:
        """All-zero weights: every unit of a layer computes the same thing, forever."""
        # hidden layers only: a zero output layer (the tabular recipe's) still learns, because
        # the hidden units before it differ
        zero = [ly.index for ly in self.hidden if ly.weight_rms == 0.0]
        if not zero or self.learns:
            return False
        ev = self.base_evidence()
        ev["zero_weight_layers"] = zero
        self.add("not_learning", None, "problem", ev,
                 f"not learning: layers {zero} start with all-zero weights, so every unit of a "
                 "layer computes the same thing and gets the same gradient (or none)"
                 + self.loss_words())  # fmt: skip
        return True

    def run(self) -> list[Verdict]:
        if self.symmetric():
            return list(self.out)
        for step in (self.exploding, self.lr_too_high, self.inputs, self.dead, self.vanishing,
                     self.saturation):  # fmt: skip
            step()
        if not any(v.is_problem for v in self.out):
            for step in (self.lr_too_low, self.underfitting, self.not_learning):
                step()
                if any(v.is_problem for v in self.out):
                    break
        self.overfitting()
        rank = {k: i for i, k in enumerate(KINDS)}
        problems = [v for v in self.out if v.is_problem]
        infos = [v for v in self.out if not v.is_problem]
        problems.sort(key=lambda v: rank[v.kind])  # stable: layers stay in order
        return problems + infos


def judge(story: Story) -> list[Verdict]:
    """Verdicts for a training story: problems first (most specific cause first), then info.

    See the module documentation for each measure and threshold.

    Parameters
    ----------
    story : Story
        What was measured during training.
    """
    return _Judge(story).run()

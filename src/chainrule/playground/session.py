"""One browser tab's playground: its data, network, optimizer and training clock.

Plain NumPy and chainrule; :mod:`chainrule.playground.app` only moves the JSON
messages of :meth:`Session.handle` over a WebSocket. Training is the textbook
loop, one mini-batch at a time, so the page can pause between any two batches
and walk one batch through its forward pass, its chain rule and its update::

    out = net.forward(x_batch)                     # forward
    L = loss.forward(out, y_batch)                 # + l1 Σ|W| + (l2/2) Σ W²
    net.backward(loss.backward())                  # every param.grad (the chain rule)
    W.grad += l1·sign(W) + l2·W                    # the penalties' own derivatives
    optimizer.step()                               # the update

Messages a session answers are listed in :meth:`Session.handle`.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import numpy as np

from ..diagnostics import diagnose
from ..layers import Dense
from ..losses import get_loss
from ..network import Sequential
from ..optimizers import OPTIMIZERS, get_optimizer
from ..preprocessing import Preprocessor
from ..tasks import probabilities
from ..threads import one_blas_thread as _blas_one_thread
from ..trace import trace
from .data import (
    DEFAULT_FEATURES,
    FEATURES,
    PLAY_DATASETS,
    CSVError,
    Data,
    builtin,
    feature_matrix,
    parse_csv,
)

ACTIVATIONS = (
    "tanh",
    "relu",
    "leaky_relu",
    "sigmoid",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "identity",
)
INITS = (
    "auto",
    "he_uniform",
    "he_normal",
    "glorot_uniform",
    "glorot_normal",
    "lecun_normal",
    "orthogonal",
    "normal",
    "zeros",
)
LOSSES = {"classify": ("cross_entropy",), "regress": ("mse", "mae", "huber")}
OPTIMIZER_NAMES = tuple(OPTIMIZERS)

MAX_LAYERS = 8
MAX_UNITS = 128
MAX_PARAMS = 50_000
GRID = 40  # the output over the input plane: GRID x GRID points
CURVE = 200  # a 1-D regression's curve: this many points
UNIT_GRID = 16  # each node's own output over the input plane, drawn in the node
MAX_UNIT_MAPS = 64  # hidden units beyond this: no per-unit maps (bounded message size)
TRACE_POINTS = 4
TRACE_MAX_WEIGHTS = 400  # larger networks: the chain rule of a weight is not written out live
DIAGNOSE_EVERY = 0.5  # seconds between diagnoses while playing
CHAIN_EVERY = 0.5  # seconds between refreshes of the selected weight's chain rule

#: the defaults, chosen by measurement (benchmarks/playground_defaults.py): every built-in
#: data set learns within seconds, a net with two more layers does not collapse, and
#: the test loss does not run away from the training loss
DEFAULTS: dict[str, Any] = {
    "dataset": "spirals",
    "noise": 0.1,
    "train_ratio": 0.5,
    "hidden": [8, 8],
    "activation": "tanh",
    "init": "auto",
    "loss": "auto",
    "optimizer": "adam",
    "lr": 0.03,
    "batch_size": 16,
    "l1": 0.0,
    "l2": 0.001,
    "seed": 0,
    "features": "auto",
}


class PlaygroundError(ValueError):
    """A bad message from the page: shown there, the session carries on."""


# -- checking a configuration -------------------------------------------------------------
def _in_range(v, what: str, lo: float, hi: float) -> float:
    """The page's ``v`` (a number or its text) as a float in [lo, hi], else a PlaygroundError."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise PlaygroundError(f"{what} must be a number, got {v!r}")
    try:
        x = float(v)
    except ValueError:
        raise PlaygroundError(f"{what} must be a number, got {v!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise PlaygroundError(f"{what} must be between {lo:g} and {hi:g}, got {v!r}")
    return x


def _number(cfg: dict, key: str, lo: float, hi: float, integer: bool = False) -> float:
    v = cfg[key]
    x = _in_range(v, key, lo, hi)
    if integer:
        if x != int(x):
            raise PlaygroundError(f"{key} must be a whole number, got {v!r}")
        return int(x)
    return x


def _choice(cfg: dict, key: str, options) -> str:
    v = cfg[key]
    if v not in options:
        raise PlaygroundError(f"unknown {key} {v!r}; choose one of: {', '.join(options)}")
    return v


def validate(message: dict, custom: Data | None = None) -> dict:
    """A complete, checked configuration from a ``config`` message (defaults filled in).

    ``custom`` is the session's uploaded data, needed for ``dataset="custom"``.
    """
    unknown = set(message) - set(DEFAULTS) - {"type"}
    if unknown:
        raise PlaygroundError(f"unknown config keys: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **{k: v for k, v in message.items() if k != "type"}}
    out: dict[str, Any] = {}
    out["dataset"] = _choice(cfg, "dataset", tuple(PLAY_DATASETS))
    if out["dataset"] == "custom":
        if custom is None:
            raise PlaygroundError("no CSV uploaded in this tab yet: choose your CSV file first")
        task, dim = custom.task, custom.dim
    else:
        task, dim = PLAY_DATASETS[out["dataset"]][0], 1 if out["dataset"] == "sin" else 2
    out["noise"] = _number(cfg, "noise", 0.0, 1.0)
    out["train_ratio"] = _number(cfg, "train_ratio", 0.1, 0.9)
    hidden = cfg["hidden"]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise PlaygroundError(f"hidden must be a list of at most {MAX_LAYERS} layer sizes")
    units = []
    for k, h in enumerate(hidden):
        if isinstance(h, bool) or not isinstance(h, (int, float)) or h != int(h):
            raise PlaygroundError(f"hidden layer {k + 1} needs a whole number of units, got {h!r}")
        if not 1 <= h <= MAX_UNITS:
            raise PlaygroundError(
                f"hidden layer {k + 1} has {h} units; each layer needs 1 to {MAX_UNITS}"
            )
        units.append(int(h))
    out["hidden"] = units
    out["activation"] = _choice(cfg, "activation", ACTIVATIONS)
    out["init"] = _choice(cfg, "init", INITS)
    loss = cfg["loss"]
    if loss == "auto" or (
        loss in LOSSES["classify"] + LOSSES["regress"] and loss not in LOSSES[task]
    ):
        loss = LOSSES[task][0]  # a loss of the other problem type: this one's default
    out["loss"] = _choice({"loss": loss}, "loss", LOSSES[task])
    out["optimizer"] = _choice(cfg, "optimizer", OPTIMIZER_NAMES)
    out["lr"] = _number(cfg, "lr", 1e-6, 100.0)
    out["batch_size"] = _number(cfg, "batch_size", 1, 1000, integer=True)
    out["l1"] = _number(cfg, "l1", 0.0, 10.0)
    out["l2"] = _number(cfg, "l2", 0.0, 10.0)
    out["seed"] = _number(cfg, "seed", 0, 2**31 - 1, integer=True)
    out["features"] = _features(cfg["features"], dim)
    n_out = 1 if task == "regress" else _n_classes(out["dataset"], custom)
    widths = [len(out["features"]), *units, n_out]
    n_params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    if n_params > MAX_PARAMS:
        raise PlaygroundError(
            f"that network has {n_params:,} parameters; the playground allows {MAX_PARAMS:,} "
            "(use fewer or narrower layers)"
        )
    return out


def _features(features, dim: int) -> list[str]:
    if features == "auto":
        return list(DEFAULT_FEATURES[dim])
    known = FEATURES[dim]
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise PlaygroundError("features must be a list of feature names")
    if not features:
        raise PlaygroundError(
            f"choose at least one feature; features for this dataset: {', '.join(known)}"
        )
    for f in features:
        if f not in known:
            raise PlaygroundError(
                f"unknown feature {f!r}; features for this dataset: {', '.join(known)}"
            )
    if len(set(features)) != len(features):
        raise PlaygroundError("each feature may be chosen only once")
    return list(features)


def _n_classes(dataset: str, custom: Data | None) -> int:
    if dataset == "custom":
        return len(custom.classes)
    return 3 if dataset == "blobs" else 2


# -- compact numbers for the page ------------------------------------------------------------
def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _f32(a) -> str:
    """Float32 little-endian bytes, base64: the page reads them with a Float32Array."""
    return _b64(np.asarray(a, dtype="<f4"))


def _u8(p: np.ndarray) -> str:
    """Values in [0, 1] as bytes 0..255, base64."""
    return _b64(np.clip(np.rint(np.nan_to_num(p) * 255), 0, 255).astype(np.uint8))


def _i8_maps(maps: np.ndarray) -> tuple[str, list]:
    """Rows scaled to -127..127 by their own largest |value|: (base64, scales)."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float64))
    scale = np.abs(maps).max(axis=1) if maps.size else np.zeros(0)
    q = np.rint(127 * maps / np.where(scale > 0, scale, 1)[:, None]).astype(np.int8)
    return _b64(q), [round(float(s), 5) for s in scale]


def _r(a, digits: int = 4) -> list:
    """Rounded nested lists, NaN/inf as None (JSON has no NaN)."""
    a = np.round(np.asarray(a, dtype=np.float64), digits)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.where(np.isfinite(a), a, np.nan).astype(object).tolist()  # pragma: no cover


def _f(x) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# -- verdicts: the library's records, grouped, with remedies the page can apply -------------
def _page_settings(remedy, cfg: dict) -> dict | None:
    """A remedy's ``changes`` as this page's settings, or None when no control makes them.

    The page's controls: learning rate, optimizer, activation, initialiser, hidden
    layers, L2. Biases always start at 0 here, so ``bias_init="zeros"`` needs nothing;
    ``weight_init="auto"`` is the initialiser menu's "auto" (He for the ReLU family,
    Glorot otherwise). Clipping, early stopping and standardising have no control.
    """
    if remedy.playground is None:
        return None
    out: dict[str, Any] = {}
    for key, value in remedy.changes.items():
        if key in ("lr", "l2"):
            out[key] = value
        elif key == "optimizer" and value in OPTIMIZER_NAMES:
            out[key] = value
        elif key == "activation" and value in ACTIVATIONS:
            out[key] = value
        elif key == "weight_init" and value in INITS:
            out["init"] = value
        elif key == "bias_init" and value == "zeros":
            continue
        elif key == "hidden":
            out[key] = [min(int(h), MAX_UNITS) for h in value][:MAX_LAYERS]
        else:
            return None
    return out


#: the evidence that gives a layer's share in a grouped line ("dead ReLUs in layers 0 (62%), ...")
_LAYER_MEASURE = {"dead_relu": "dead_fraction", "saturation": "saturation"}


def page_verdicts(verdicts, cfg: dict, custom: Data | None = None) -> list[dict]:
    """The library's ``Verdict`` records for the page: one line per kind (its layers
    grouped), each remedy once, as a button where a page control makes it.

    Reads only the records' fields (``kind``, ``layer``, ``severity``, ``remedies``),
    never the wording. Returns a list of ``{"kind", "title", "severity", "layers",
    "text", "detail", "remedies"}``; a remedy is ``{"name", "label", "why", "set"}``
    with ``set`` the settings its button sends (None: shown as text, no button) and
    ``have`` True when the page's settings are that remedy already (not shown).
    """
    groups: dict[str, dict] = {}
    for v in verdicts:
        g = groups.get(v.kind)
        if g is None:
            g = groups[v.kind] = {
                "kind": v.kind,
                "title": v.title,
                "severity": v.severity,
                "layers": [],
                "detail": [],
                "records": [],
            }
        if v.is_problem:
            g["severity"] = "problem"
        if v.layer is not None and v.layer not in g["layers"]:
            g["layers"].append(v.layer)
        g["detail"].append(v.text)
        g["records"].append(v)
    out = []
    seen: set[str] = set()
    for g in groups.values():
        records = g.pop("records")
        if len(g["layers"]) > 1:  # one kind in several layers: one line
            key = _LAYER_MEASURE.get(g["kind"])
            where = ", ".join(
                f"{v.layer} ({100 * v.evidence[key]:.0f}%)"
                if key and isinstance(v.evidence.get(key), (int, float))
                else str(v.layer)
                for v in records
                if v.layer is not None
            )
            g["text"] = f"{g['title']} in layers {where}"
        else:
            g["text"] = g["detail"][0]
        remedies = []
        for v in records:
            for r in v.remedies:
                if r.name in seen:
                    continue
                seen.add(r.name)
                settings = _page_settings(r, cfg)
                have = False
                if settings is not None:
                    # only what differs; when the page has all of it already, nothing to
                    # press and nothing to say ("have": the page shows it not at all)
                    have = not any(cfg.get(k) != x for k, x in settings.items())
                    settings = {k: x for k, x in settings.items() if cfg.get(k) != x} or None
                    if settings is not None:
                        try:
                            validate({**cfg, **settings}, custom)
                        except PlaygroundError:
                            settings = None
                label = r.playground if r.playground is not None else f"in Python: {r.python}"
                remedies.append(
                    {"name": r.name, "label": label, "why": r.why, "set": settings, "have": have}
                )
        g["remedies"] = remedies
        out.append(g)
    return out


def _diverged_verdict(message: str, cfg: dict) -> dict:
    """The page's own record of a run it stopped (the loss became inf or NaN)."""
    lr = float(f"{cfg['lr'] / 10:.3g}")
    remedies = []
    if lr >= 1e-6:
        remedies.append(
            {
                "name": "lower_lr",
                "label": f"Learning rate: {lr:g}",
                "why": "the loss diverged",
                "set": {"lr": lr},
                "have": False,
            }
        )
    return {
        "kind": "diverged",
        "title": "training diverged",
        "severity": "problem",
        "layers": [],
        "text": "training stopped: " + message,
        "detail": ["training stopped: " + message],
        "remedies": remedies,
    }


# -- the session -----------------------------------------------------------------------------
class Session:
    """One tab's playground: data, network, optimizer and the training clock."""

    def __init__(self, tick_seconds: float = 0.008) -> None:
        self.tick_seconds = tick_seconds
        self.cfg: dict | None = None
        self.net: Sequential | None = None
        self.custom: Data | None = None
        self.running = False
        self.epoch = 0
        self.batches = 0  # optimizer steps taken
        self.diverged: str | None = None
        self.selected: dict | None = None  # {"kind": "weight"|"bias", "layer", "i", "j"}
        self._walk: dict | None = None  # the batch being walked through in step mode
        self._last_diag = -1e9
        self._last_chain = -1e9
        self._eps_mark = (time.perf_counter(), 0)
        self.eps = 0.0

    # -- building --------------------------------------------------------------------------
    def configure(self, cfg: dict) -> None:
        if cfg["dataset"] == "custom":
            data = self.custom
        else:
            data = builtin(cfg["dataset"], cfg["noise"], cfg["seed"])
        seed = cfg["seed"]
        perm = np.random.default_rng(seed).permutation(len(data.X))
        n_train = min(len(data.X) - 1, max(2, round(cfg["train_ratio"] * len(data.X))))
        tr, te = perm[:n_train], perm[n_train:]
        self.data = data
        self.task = data.task
        self.X_train, self.y_train = data.X[tr], data.y[tr]
        self.X_test, self.y_test = data.X[te], data.y[te]
        lo, hi = data.X.min(axis=0), data.X.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-6)
        self.lo, self.hi = lo - pad, hi + pad
        self.features = cfg["features"]
        self.F_train = self.transform(self.X_train)
        self.F_test = self.transform(self.X_test)
        n_out = 1 if self.task == "regress" else len(data.classes)
        widths = [len(self.features), *cfg["hidden"], n_out]
        layers = [
            Dense(a, b, activation=cfg["activation"], weight_init=cfg["init"])
            for a, b in zip(widths[:-2], widths[1:-1])
        ]
        layers.append(Dense(widths[-2], widths[-1], weight_init=cfg["init"]))
        self.net = Sequential(*layers, seed=seed)
        self.dense = [layer for layer in self.net.layers if isinstance(layer, Dense)]
        # the page draws the network from its layers' own description
        configs = [d.get_config() for d in self.dense]
        self.widths = [configs[0]["in_features"], *(c["out_features"] for c in configs)]
        self.net.loss_ = cfg["loss"]  # predict_proba works before the first step
        # an exported model expects these feature columns, in this order
        self.net.preprocessing_ = Preprocessor.identity(
            self.features,
            self.task,
            target="y",
            classes=None if self.task == "regress" else list(range(n_out)),
        ).to_dict()
        self.loss = get_loss(cfg["loss"])
        self.opt = get_optimizer(cfg["optimizer"], self.net.parameters(), lr=cfg["lr"])
        self.net.optimizer_ = self.opt  # as fit leaves it: the diagnosis reads lr and name
        self.cfg = cfg
        self.epoch = 0
        self.batches = 0
        self.diverged = None
        self.selected = None
        self._walk = None
        # the training story the diagnosis judges: each epoch's train and test loss
        self.history: dict[str, list[float]] = {"loss": [], "val_loss": []}
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(self.F_train))
        self._pos = 0
        self._safe = self.net.get_weights()
        self._eps_mark = (time.perf_counter(), 0)
        self.eps = 0.0
        self._last_diag = -1e9
        self._last_chain = -1e9
        self._y_range = (
            (float(self.y_train.min()), float(self.y_train.max()))
            if self.task == "regress"
            else None
        )

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Raw points -> the network's input (the chosen feature columns)."""
        return feature_matrix(X, self.features)

    def grid_points(self, size: int = GRID) -> np.ndarray:
        """The points the output is drawn on: row-major, top row (largest x2) first."""
        if self.data.dim == 1:
            return np.linspace(self.lo[0], self.hi[0], CURVE, dtype=np.float32).reshape(-1, 1)
        xs = np.linspace(self.lo[0], self.hi[0], size, dtype=np.float32)
        ys = np.linspace(self.hi[1], self.lo[1], size, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return np.c_[gx.ravel(), gy.ravel()]

    # -- training: the textbook loop, a batch at a time -------------------------------------
    def _next_batch(self) -> np.ndarray:
        """Row indices of the next mini-batch (a new shuffle at each epoch's start)."""
        bs = self.cfg["batch_size"]
        idx = self._order[self._pos : self._pos + bs]
        return idx

    def _advance(self, n_rows: int) -> None:
        self._pos += n_rows
        self.batches += 1
        if self._pos >= len(self._order):
            self.epoch += 1
            self._record_epoch()
            self._pos = 0
            self._order = self._rng.permutation(len(self.F_train))
            self._safe = self.net.get_weights()

    def _record_epoch(self) -> None:
        """Append the finished epoch's train and test loss (whole sets) to ``history``."""
        loss = self.loss
        for key, F, y in (
            ("loss", self.F_train, self.y_train),
            ("val_loss", self.F_test, self.y_test),
        ):
            value = _f(loss.forward(self.net.forward(F), y))
            self.history[key].append(math.nan if value is None else value)

    def _gradients(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """Forward, loss, backward on one batch: fills every param.grad, returns the loss."""
        out = self.net.forward(xb)
        value = self.loss.forward(out, yb)
        self.net.backward(self.loss.backward())
        l1, l2 = self.cfg["l1"], self.cfg["l2"]
        if l1 or l2:
            for d in self.dense:  # d/dW of l1 Σ|W| + (l2/2) Σ W², weights only
                d.weight.grad += l1 * np.sign(d.weight.value) + l2 * d.weight.value
        return value

    def train_step(self) -> bool:
        """One optimizer step on the next batch; False (and stopped) when it diverged."""
        idx = self._next_batch()
        value = self._gradients(self.F_train[idx], self.y_train[idx])
        if not math.isfinite(value):  # (an inf weight gives a non-finite loss a step later)
            self.net.set_weights(self._safe)
            self.diverged = (
                f"the loss became {value:g} at epoch {self.epoch + 1}; the weights are back at "
                "the start of that epoch. Lower the learning rate."
            )
            self.running = False
            return False
        self.opt.step()
        self._advance(len(idx))
        return True

    def train_for(self, seconds: float, max_epochs: int | None = None) -> None:
        """Train batch after batch for about ``seconds`` (at least one batch)."""
        self.net.train()
        start = time.perf_counter()
        target = None if max_epochs is None else self.epoch + max_epochs
        with np.errstate(all="ignore"), _blas_one_thread():
            while self.diverged is None:
                if not self.train_step():
                    break
                if target is not None and self.epoch >= target:
                    break
                if time.perf_counter() - start >= seconds and (target is None):
                    break
        self._walk = None

    def train_epochs(self, epochs: int) -> None:
        """Train exactly ``epochs`` more epochs (from wherever the current epoch stands)."""
        self.train_for(float("inf"), max_epochs=epochs)

    def burst(self) -> None:
        self.train_for(self.tick_seconds)

    # -- reporting -------------------------------------------------------------------------
    def _measure(self, F, y) -> tuple[float | None, float | None]:
        out = self.net.forward(F)
        loss = _f(get_loss(self.cfg["loss"]).forward(out, y))
        acc = None
        if self.task == "classify":
            acc = float(np.mean(np.argmax(out, axis=1) == y))
        return loss, acc

    def frame(self, full: bool = False) -> dict:
        """The update the page draws: compact, numbers as bytes where there are many.

        ``full`` adds the diagnosis and the selected weight's chain rule (while playing
        they come at most every ``DIAGNOSE_EVERY`` and ``CHAIN_EVERY`` seconds).
        """
        net = self.net
        now = time.perf_counter()
        t0, e0 = self._eps_mark
        if now - t0 >= 1.0:
            self.eps = (self.epoch - e0) / (now - t0)
            self._eps_mark = (now, self.epoch)
        net.eval()
        with np.errstate(all="ignore"), _blas_one_thread():
            train_loss, train_acc = self._measure(self.F_train, self.y_train)
            test_loss, test_acc = self._measure(self.F_test, self.y_test)
            msg: dict[str, Any] = {
                "type": "update",
                "epoch": self.epoch,
                "batches": self.batches,
                "running": self.running,
                "train_loss": train_loss,
                "test_loss": test_loss,
                "train_acc": train_acc,
                "test_acc": test_acc,
                "eps": round(self.eps, 1),
                "params": _f32(
                    np.concatenate(
                        [np.r_[d.weight.value.ravel(), d.bias.value] for d in self.dense]
                    )
                ),
                "widths": self.widths,
            }
            msg["output"] = self._output()
            if self.data.dim == 2 and 0 < sum(self.cfg["hidden"]) <= MAX_UNIT_MAPS:
                msg["unit_maps"] = self._unit_maps()
            if full or now - self._last_diag >= DIAGNOSE_EVERY:
                self._last_diag = now
                msg["diagnosis"] = self._diagnosis()
            if self.selected and (full or now - self._last_chain >= CHAIN_EVERY):
                self._last_chain = now
                msg["chain"] = self.chain_message()
        return msg

    def _output(self) -> dict:
        pts = self.grid_points()
        out = self.net.forward(self.transform(pts))
        if self.data.dim == 1:
            lo, hi = float(self.lo[0]), float(self.hi[0])
            return {"kind": "curve", "x0": lo, "x1": hi, "y": _f32(out.reshape(-1))}
        if self.task == "regress":
            return {
                "kind": "value",
                "size": GRID,
                "y": _f32(out.reshape(-1)),
                "range": self._y_range,
            }
        p = probabilities(out, self.loss)  # the page offers cross_entropy: softmax
        k = p.shape[1]
        return {"kind": "proba", "size": GRID, "k": k, "p": _u8(p[:, 1] if k == 2 else p)}

    def _unit_maps(self) -> dict:
        """Each hidden unit's output over the input plane, ``UNIT_GRID``² points, int8-scaled."""
        pts = self.grid_points(UNIT_GRID)
        out = self.transform(pts)
        maps = []
        for d in self.dense[:-1]:
            out = d.forward(out)
            maps.append(out.T)
        q, scale = _i8_maps(np.concatenate(maps, axis=0))
        return {"size": UNIT_GRID, "q": q, "scale": scale}

    def feature_maps(self) -> dict:
        """Each input feature over the input plane (drawn in the input nodes)."""
        if self.data.dim == 1:
            return {}
        F = self.transform(self.grid_points(UNIT_GRID))
        q, scale = _i8_maps(F.T)
        return {"size": UNIT_GRID, "q": q, "scale": scale}

    def _diagnosis(self) -> dict:
        # the whole story so far (the library judges its last few epochs, a window that
        # grows with the run, so the verdict does not flicker between redraws); before the
        # first epoch ends there is none
        history = self.history if self.history["loss"] else None
        report = diagnose(
            self.net, self.F_train, self.y_train, loss=self.cfg["loss"], history=history
        )
        layers = [
            {
                "index": row["index"],
                "units": row["units"],
                "activation": row["activation"],
                "grad_norm": _f(row["grad_norm"]),
                "dead_fraction": _f(row["dead_fraction"]),
                "saturation": _f(row["saturation"]),
            }
            for row in report.layers
        ]
        verdicts = page_verdicts(report.verdicts, self.cfg, self.custom)
        if self.diverged:
            verdicts.insert(0, _diverged_verdict(self.diverged, self.cfg))
        return {"layers": layers, "verdicts": verdicts, "epochs_judged": len(self.history["loss"])}

    # -- messages for one weight ---------------------------------------------------------------
    def _check_selection(self, message: dict) -> dict:
        kind = message.get("kind", "weight")
        if kind not in ("weight", "bias"):
            raise PlaygroundError(f"kind must be weight or bias, got {kind!r}")
        k = message.get("layer")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(self.dense):
            raise PlaygroundError(f"layer must be 0 to {len(self.dense) - 1}, got {k!r}")
        n_in, n_out = self.dense[k].weight.value.shape
        j = message.get("j")
        checks = [("j", j, n_out)]
        i = message.get("i") if kind == "weight" else None
        if kind == "weight":
            checks.insert(0, ("i", i, n_in))
        for name, v, n in checks:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
                raise PlaygroundError(f"{name} must be 0 to {n - 1} for layer {k}, got {v!r}")
        return {"kind": kind, "layer": k, "i": i, "j": j}

    def chain_message(self) -> dict:
        """The selected weight's (or bias's) gradient as a chain-rule product, traced by
        :func:`chainrule.trace` on the first ``TRACE_POINTS`` training points."""
        s = self.selected
        k, i, j = s["layer"], s["i"], s["j"]
        d = self.dense[k]
        value = float(d.weight.value[i, j] if s["kind"] == "weight" else d.bias.value[j])
        name = f"dL/dW{k + 1}[{i},{j}]" if s["kind"] == "weight" else f"dL/db{k + 1}[{j}]"
        msg = {"type": "chain", **s, "epoch": self.epoch, "value": value, "name": name}
        if self.net.n_parameters() > TRACE_MAX_WEIGHTS:
            n = min(TRACE_POINTS, len(self.F_train))
            with np.errstate(all="ignore"):
                self._gradients(self.F_train[:n], self.y_train[:n])  # net.backward's numbers
            g = d.weight.grad[i, j] if s["kind"] == "weight" else d.bias.grad[j]
            msg["grad"] = _f(float(g))
            msg["n_points"] = n
            msg["text"] = (
                f"on the first {n} training points: {name} = {float(g):.4g} (with the penalties)."
                f"\nThe network has {self.net.n_parameters():,} parameters; the chain rule is "
                f"written out term by term for networks of up to {TRACE_MAX_WEIGHTS:,}."
            )
            return msg
        n = min(TRACE_POINTS, len(self.F_train))
        with np.errstate(all="ignore"):
            tr = trace(
                self.net,
                self.F_train[:n],
                self.y_train[:n],
                self.cfg["loss"],
                digits=4,
                max_steps=2_000_000,
            )
        step = next(st for st in tr.steps if st["name"] == name)
        upstream = [st["text"] for st in tr.steps if st["name"].startswith(f"dL/da{k + 1}[")]
        upstream = [t for t in upstream if t.split("=")[0].strip().endswith(f",{j}]")]
        text = step["text"]
        if upstream:
            text += "\n\nwhere, one layer further along the chain:\n" + "\n".join(upstream)
        msg["grad"] = step["value"]
        msg["n_points"] = n
        msg["text"] = f"on the first {n} training points (loss {tr.loss:.4g}):\n{text}"
        return msg

    def set_parameter(self, message: dict) -> None:
        sel = self._check_selection(message)
        v = _in_range(message.get("value"), "a weight", -100, 100)
        d = self.dense[sel["layer"]]
        if sel["kind"] == "weight":
            d.weight.value[sel["i"], sel["j"]] = v
        else:
            d.bias.value[sel["j"]] = v
        self._safe = self.net.get_weights()
        self._walk = None
        self.selected = sel

    # -- step mode: one batch, forward, backward, update ------------------------------------
    def walk(self) -> dict:
        """The next phase of walking one batch: ``forward`` -> ``backward`` -> ``update``.

        Forward and backward are traced by :func:`chainrule.trace` (float64, every number
        named); the update is the optimizer's real step on that batch, so ``W_after -
        W_before`` is what training does.
        """
        if self._walk is None:
            if self.net.n_parameters() > TRACE_MAX_WEIGHTS:
                raise PlaygroundError(
                    f"step mode writes out every number of a batch; it takes networks of up to "
                    f"{TRACE_MAX_WEIGHTS} parameters (this one has {self.net.n_parameters():,})"
                )
            idx = self._next_batch()
            with np.errstate(all="ignore"):
                tr = trace(
                    self.net,
                    self.F_train[idx],
                    self.y_train[idx],
                    self.cfg["loss"],
                    digits=4,
                    max_steps=5_000_000,
                )
            self._walk = {"phase": "forward", "idx": idx, "trace": tr, "batch": self.batches + 1}
            return self._walk_forward()
        if self._walk["phase"] == "forward":
            self._walk["phase"] = "backward"
            return self._walk_backward()
        msg = self._walk_update()
        self._walk = None
        return msg

    def _walk_common(self, phase: str) -> dict:
        w = self._walk
        tr = w["trace"]
        return {
            "type": "walk",
            "phase": phase,
            "epoch": self.epoch,
            "batch": w["batch"],
            "rows": [int(r) for r in w["idx"]],
            "n": len(w["idx"]),
            "loss": _f(tr.loss),
            "optimizer": self.cfg["optimizer"],
            "lr": self.cfg["lr"],
        }

    def _walk_forward(self) -> dict:
        tr = self._walk["trace"]
        msg = self._walk_common("forward")
        L = len(self.dense)
        # values of the first point of the batch on every node (input, each layer's a)
        msg["nodes"] = [_r(tr.arrays["x"][0], 4)] + [
            _r(tr.arrays[f"a{l}"][0], 4) for l in range(1, L + 1)
        ]
        msg["z"] = [_r(tr.arrays[f"z{l}"][0], 4) for l in range(1, L + 1)]
        msg["target"] = _r(np.atleast_1d(tr.arrays["y"][0]), 4)
        msg["text"] = self._walk_text("forward", tr)
        return msg

    def _walk_backward(self) -> dict:
        tr = self._walk["trace"]
        msg = self._walk_common("backward")
        L = len(self.dense)
        # dL/dz of every node (summed over the batch: dL/db) and dL/dW of every edge
        msg["node_grads"] = [[]] + [_r(tr.arrays[f"dL/db{l}"], 5) for l in range(1, L + 1)]
        msg["edge_grads"] = _f32(
            np.concatenate([tr.arrays[f"dL/dW{l}"].ravel() for l in range(1, L + 1)])
        )
        msg["text"] = self._walk_text("backward", tr)
        return msg

    def _walk_update(self) -> dict:
        w = self._walk
        before = [p.value.copy() for p in self.net.parameters()]
        state_before = [
            {k: v.copy() for k, v in st.items()} for st in getattr(self.opt, "state", [])
        ]
        grads_traced = w["trace"]
        self.net.train()
        with np.errstate(all="ignore"), _blas_one_thread():
            ok = self.train_step()
        msg = self._walk_common("update")
        after = [p.value for p in self.net.parameters()]
        delta = np.concatenate([(a - b).ravel() for a, b in zip(after, before)])
        msg["edge_deltas"] = _f32(
            np.concatenate([(after[2 * l] - before[2 * l]).ravel() for l in range(len(self.dense))])
        )
        msg["max_change"] = float(np.abs(delta).max()) if delta.size else 0.0
        msg["ok"] = ok
        sel = self.selected or {"kind": "weight", "layer": len(self.dense) - 1, "i": 0, "j": 0}
        k = sel["layer"]
        if sel["kind"] == "weight":
            i, j = sel["i"], sel["j"]
            b, a = float(before[2 * k][i, j]), float(after[2 * k][i, j])
            g = float(grads_traced.arrays[f"dL/dW{k + 1}"][i, j])
            name = f"W{k + 1}[{i},{j}]"
        else:
            j = sel["j"]
            b, a = float(before[2 * k + 1][j]), float(after[2 * k + 1][j])
            g = float(grads_traced.arrays[f"dL/db{k + 1}"][j])
            name = f"b{k + 1}[{j}]"
        lr = self.cfg["lr"]
        lines = [
            f"update of {name} by {self.cfg['optimizer']} (learning rate {lr:g}):",
            f"  dL/d{name} on this batch = {g:.6g}",
        ]
        l1, l2 = self.cfg["l1"], self.cfg["l2"]
        if sel["kind"] == "weight" and (l1 or l2):
            pen = l1 * math.copysign(1.0, b) * (b != 0) + l2 * b
            lines.append(
                f"  + penalty l1·sign(W) + l2·W = {l1:g}·{int(np.sign(b))} + {l2:g}·{b:.6g} = {pen:.6g}"
            )
            g += pen
        if self.cfg["optimizer"] == "sgd" and not getattr(self.opt, "momentum", 0):
            lines.append(
                f"  {name} ← {name} − lr·grad = {b:.6g} − {lr:g}·({g:.6g}) = {b - lr * g:.6g}"
            )
        elif self._is_plain_adam():
            index = 2 * k + (0 if sel["kind"] == "weight" else 1)
            where = (sel["i"], sel["j"]) if sel["kind"] == "weight" else (sel["j"],)
            lines += self._adam_lines(name, index, where, state_before, b, g)
        else:
            lines.append(
                f"  {self.cfg['optimizer']} scales the step by its running averages of the gradient"
            )
        lines.append(f"  {name}: {b:.6g} → {a:.6g}  (change {a - b:+.6g})")
        msg["text"] = "\n".join(lines)
        return msg

    def _is_plain_adam(self) -> bool:
        opt = self.opt
        return (
            type(opt).__name__ == "Adam"
            and not opt.amsgrad
            and not opt.weight_decay
            and all("exp_avg" in st for st in opt.state)
        )

    def _adam_lines(self, name, index, where, state_before, b, g) -> list[str]:
        """Adam's update of one number, written out with its running averages."""
        opt = self.opt
        t, (b1, b2), eps, lr = opt.step_count, opt.betas, opt.eps, float(opt.lr)
        prev = state_before[index] if index < len(state_before) else {}
        m0 = float(prev["exp_avg"][where]) if "exp_avg" in prev else 0.0
        v0 = float(prev["exp_avg_sq"][where]) if "exp_avg_sq" in prev else 0.0
        m = b1 * m0 + (1 - b1) * g
        v = b2 * v0 + (1 - b2) * g * g
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        return [
            f"  Adam, step t = {t} (β1 = {b1:g}, β2 = {b2:g}, ε = {eps:g}):",
            f"  m = β1·m + (1−β1)·grad = {b1:g}·({m0:.6g}) + {1 - b1:.3g}·({g:.6g}) = {m:.6g}",
            f"  v = β2·v + (1−β2)·grad² = {b2:g}·({v0:.6g}) + {1 - b2:.3g}·({g:.6g})² = {v:.6g}",
            f"  m̂ = m/(1−β1^t) = {mh:.6g},  v̂ = v/(1−β2^t) = {vh:.6g}",
            f"  {name} ← {name} − lr·m̂/(√v̂ + ε) = {b:.6g} − {lr:g}·({mh:.6g})/({math.sqrt(vh):.6g} + {eps:g})"
            f" = {b - lr * mh / (math.sqrt(vh) + eps):.6g}",
        ]

    def _walk_text(self, phase: str, tr) -> str:
        s = self.selected or {"kind": "weight", "layer": len(self.dense) - 1, "i": 0, "j": 0}
        k, j = s["layer"] + 1, s["j"]
        if phase == "forward":
            names = [f"z{k}[0,{j}]", f"a{k}[0,{j}]"] if k < len(self.dense) else [f"z{k}[0,{j}]"]
            steps = [
                st["text"] for st in tr.steps if st["phase"] == "forward" and st["name"] in names
            ]
            loss = [st["text"] for st in tr.steps if st["phase"] == "loss"]
            return (
                f"forward pass of a batch of {len(self._walk['idx'])} points; on the nodes: the "
                f"values for its first point.\n" + "\n".join(steps + loss)
            )
        name = f"dL/dW{k}[{s['i']},{j}]" if s["kind"] == "weight" else f"dL/db{k}[{j}]"
        step = next(st for st in tr.steps if st["name"] == name)
        return (
            f"backward pass: on each edge dL/dW, on each node dL/db (summed over the batch)."
            f"\n{step['text']}"
        )

    # -- messages --------------------------------------------------------------------------
    def upload(self, message: dict) -> None:
        text = message.get("csv")
        problem = message.get("problem", "classify")
        name = message.get("name") or "your CSV"
        if not isinstance(name, str):
            name = "your CSV"
        try:
            self.custom = parse_csv(text, problem, name=name[:80])
        except CSVError as exc:
            raise PlaygroundError(str(exc)) from None

    def data_message(self) -> dict:
        return {
            "type": "data",
            "task": self.task,
            "dim": self.data.dim,
            "classes": [str(c) for c in self.data.classes],
            "config": self.cfg,
            "X_train": _r(self.X_train, 3),
            "y_train": _r(self.y_train, 3),
            "X_test": _r(self.X_test, 3),
            "y_test": _r(self.y_test, 3),
            "extent": _r([self.lo[0], self.hi[0], *(self.lo[1:2]), *(self.hi[1:2])]),
            "y_range": self._y_range,
            "feature_maps": self.feature_maps(),
        }

    def export_message(self) -> dict:
        """The network as a chainrule model file (safetensors), base64 for the page to save."""
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.safetensors"
            self.net.save(path)
            data = path.read_bytes()
        return {
            "type": "export",
            "filename": f"playground-{self.cfg['dataset']}.safetensors",
            "data": base64.b64encode(data).decode("ascii"),
            # the model's inputs are these feature columns of the raw points, in this order
            # (also stored in the file: net.preprocessing_["feature_names"])
            "feature_names": list(self.features),
        }

    def handle(self, raw: str) -> list[dict]:
        """Answer one message from the page; bad messages give an ``error`` message.

        - ``config`` (settings; missing keys take :data:`DEFAULTS`): a new network;
        - ``play`` / ``pause`` / ``reset``; ``step``: one epoch; ``walk``: the next phase
          of one batch (forward, backward, update);
        - ``select`` ``{kind, layer, i, j}``: the weight (or bias) whose chain rule the
          updates carry; ``set`` ``{kind, layer, i, j, value}``: edit it;
        - ``upload`` ``{csv, problem, name}``: the learner's data, then ``config`` with
          ``dataset: "custom"``; ``export``: the model file.
        """
        try:
            try:
                message = json.loads(raw)
            except ValueError:
                raise PlaygroundError("messages must be JSON objects") from None
            if not isinstance(message, dict):
                raise PlaygroundError("messages must be JSON objects")
            kind = message.get("type")
            if kind == "upload":
                self.upload(message)
                return [
                    {
                        "type": "uploaded",
                        "task": self.custom.task,
                        "rows": len(self.custom.X),
                        "classes": [str(c) for c in self.custom.classes],
                    }
                ]
            if kind == "config":
                cfg = validate(message, self.custom)
                running = self.running
                self.configure(cfg)
                self.running = running
                return [self.data_message(), self.frame(full=True)]
            known = ("play", "pause", "step", "walk", "reset", "select", "set", "export")
            if kind not in known:
                raise PlaygroundError(f"unknown message type {kind!r}")
            if self.net is None:
                raise PlaygroundError("send a config message first")
            if kind == "play":
                self.running = self.diverged is None
                return [{"type": "status", "running": self.running}]
            if kind == "pause":
                self.running = False
                return [{"type": "status", "running": False}, self.frame(full=True)]
            if kind == "step":
                self.running = False
                if self.diverged is None:
                    self.train_epochs(1)
                return [self.frame(full=True)]
            if kind == "walk":
                self.running = False
                if self.diverged is not None:
                    raise PlaygroundError("training diverged: reset first")
                m = self.walk()
                return [m] + ([self.frame(full=True)] if m["phase"] == "update" else [])
            if kind == "reset":
                self.running = False
                self.configure(self.cfg)
                return [self.data_message(), self.frame(full=True)]
            if kind == "select":
                self.selected = self._check_selection(message)
                return [self.chain_message()]
            if kind == "set":
                self.set_parameter(message)
                return [self.frame(full=True)]
            return [self.export_message()]
        except PlaygroundError as exc:
            return [{"type": "error", "message": str(exc)}]
        except Exception as exc:  # the engine refused something: tell the page, keep serving
            return [{"type": "error", "message": f"{type(exc).__name__}: {exc}"}]


def hello() -> dict:
    return {
        "type": "hello",
        "defaults": DEFAULTS,
        "options": {
            "dataset": {
                name: {"task": t, "about": about} for name, (t, about) in PLAY_DATASETS.items()
            },
            "activation": list(ACTIVATIONS),
            "init": list(INITS),
            "loss": {task: list(v) for task, v in LOSSES.items()},
            "optimizer": list(OPTIMIZER_NAMES),
            "features": {str(dim): list(names) for dim, names in FEATURES.items()},
            "default_features": {str(dim): v for dim, v in DEFAULT_FEATURES.items()},
        },
        "limits": {"layers": MAX_LAYERS, "units": MAX_UNITS, "params": MAX_PARAMS},
    }

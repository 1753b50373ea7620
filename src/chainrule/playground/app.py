"""The playground server: one page, one WebSocket per browser tab.

Each WebSocket is an independent :class:`Session` with its own data, network
and optimizer. Training runs in a background asyncio task that hands a short
burst of epochs (about ``tick_seconds`` of work) to a worker thread, then
pushes an update to the page, so the page and the other sessions stay
responsive. Closing the tab ends the session and its task.

Messages from the page (JSON objects with a ``type``):

- ``{"type": "config", "dataset": ..., "noise": ..., "train_ratio": ...,
  "hidden": [8, 8], "activation": ..., "init": ..., "loss": ...,
  "optimizer": ..., "lr": ..., "batch_size": ..., "l2": ...,
  "features": ["x1", "x2", ...]}`` builds a new network (missing keys take
  :data:`DEFAULTS`; ``features`` names the input columns the network is fed,
  computed from the raw points, see :data:`FEATURES`);
- ``{"type": "play" | "pause" | "step" | "reset"}``;
- ``{"type": "export"}``: the network as a chainrule model file (base64);
- ``{"type": "ack"}`` after the page has drawn an update: while playing, the
  next update is sent only then (training goes on in between);
- ``{"type": "weight", "layer": k, "i": i, "j": j}``: the chain-rule product
  behind ``dL/dW[i, j]`` of Dense layer ``k`` (0-based), traced by
  :func:`chainrule.trace` on a few training points.

Messages to the page: ``hello`` (options and limits), ``data`` (the points),
``update`` (epoch, losses, boundary or curve, weights, each hidden unit's
output over the input plane, per-layer numbers, verdicts), ``weight`` (the
traced text), ``export``, ``status`` and ``error``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .. import datasets
from ..diagnostics import diagnose
from ..layers import Dense
from ..network import Sequential
from ..optimizers import OPTIMIZERS, get_optimizer
from ..preprocessing import Preprocessor
from ..trace import trace

STATIC = Path(__file__).parent / "static"

#: playground name -> (chainrule.datasets name, task)
PLAY_DATASETS = {
    "xor": ("noisy_xor", "classify"),
    "circles": ("circles", "classify"),
    "moons": ("moons", "classify"),
    "spirals": ("spirals", "classify"),
    "blobs": ("blobs", "classify"),
    "sin": ("sin", "regress"),
}
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

#: task -> feature name -> the column it computes from the raw points (as in TensorFlow
#: Playground); the network's inputs are the chosen columns, in this order
FEATURES = {
    "classify": {
        "x1": lambda X: X[:, 0],
        "x2": lambda X: X[:, 1],
        "x1^2": lambda X: X[:, 0] ** 2,
        "x2^2": lambda X: X[:, 1] ** 2,
        "x1*x2": lambda X: X[:, 0] * X[:, 1],
        "sin(x1)": lambda X: np.sin(X[:, 0]),
        "sin(x2)": lambda X: np.sin(X[:, 1]),
    },
    "regress": {
        "x": lambda X: X[:, 0],
        "x^2": lambda X: X[:, 0] ** 2,
        "x^3": lambda X: X[:, 0] ** 3,
        "sin(x)": lambda X: np.sin(X[:, 0]),
    },
}
DEFAULT_FEATURES = {"classify": ["x1", "x2"], "regress": ["x"]}


def feature_matrix(X: np.ndarray, names: list[str], task: str) -> np.ndarray:
    """The network's input: the named feature columns of the raw points ``X``, in order."""
    X = np.asarray(X, dtype=np.float32)
    cols = [FEATURES[task][name](X) for name in names]
    return np.stack(cols, axis=1).astype(np.float32)


MAX_LAYERS = 8
MAX_UNITS = 128
MAX_PARAMS = 50_000
MAX_SESSIONS = 8
N_SAMPLES = 400
GRID = 40
UNIT_GRID = 12  # each hidden unit's output over the input plane, drawn in its node
MAX_UNIT_MAPS = 64  # hidden units beyond this: no per-unit maps (bounded message size)
TRACE_POINTS = 4
MAX_MESSAGE_BYTES = 1 << 18  # a page's message (an uploaded CSV included) is at most 256 KiB

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
    "l2": 0.0,
    "seed": 0,
    "features": "auto",
}


class PlaygroundError(ValueError):
    """A bad message from the page: shown there, the session carries on."""


def _number(cfg: dict, key: str, lo: float, hi: float, integer: bool = False) -> float:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise PlaygroundError(f"{key} must be a number, got {v!r}")
    try:
        x = float(v)
    except ValueError:
        raise PlaygroundError(f"{key} must be a number, got {v!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise PlaygroundError(f"{key} must be between {lo:g} and {hi:g}, got {v!r}")
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


def validate(message: dict) -> dict:
    """A complete, checked configuration from a ``config`` message (defaults filled in)."""
    unknown = set(message) - set(DEFAULTS) - {"type"}
    if unknown:
        raise PlaygroundError(f"unknown config keys: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **{k: v for k, v in message.items() if k != "type"}}
    out: dict[str, Any] = {}
    out["dataset"] = _choice(cfg, "dataset", tuple(PLAY_DATASETS))
    task = PLAY_DATASETS[out["dataset"]][1]
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
    out["loss"] = LOSSES[task][0] if loss == "auto" else _choice(cfg, "loss", LOSSES[task])
    out["optimizer"] = _choice(cfg, "optimizer", OPTIMIZER_NAMES)
    out["lr"] = _number(cfg, "lr", 1e-6, 100.0)
    if out["lr"] <= 0:
        raise PlaygroundError("lr must be positive")
    out["batch_size"] = _number(cfg, "batch_size", 1, 1000, integer=True)
    out["l2"] = _number(cfg, "l2", 0.0, 10.0)
    out["seed"] = _number(cfg, "seed", 0, 2**31 - 1, integer=True)
    out["features"] = _features(cfg["features"], task)
    n_in = len(out["features"])
    n_out = _n_outputs(out["dataset"])
    widths = [n_in, *units, n_out]
    n_params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    if n_params > MAX_PARAMS:
        raise PlaygroundError(
            f"that network has {n_params:,} parameters; the playground allows {MAX_PARAMS:,} "
            "(use fewer or narrower layers)"
        )
    return out


def _features(features, task: str) -> list[str]:
    if features == "auto":
        return list(DEFAULT_FEATURES[task])
    known = FEATURES[task]
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


def _n_outputs(dataset: str) -> int:
    return {"blobs": 3, "sin": 1}.get(dataset, 2)


def _r(a, digits: int = 4) -> list:
    """Rounded nested lists, NaN/inf as None (JSON has no NaN)."""
    a = np.round(np.asarray(a, dtype=np.float64), digits)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.where(np.isfinite(a), a, np.nan).astype(object).tolist()  # pragma: no cover


def _f(x) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class Session:
    """One tab's playground: data, network, optimizer and the training clock."""

    def __init__(self, tick_seconds: float = 0.1) -> None:
        self.tick_seconds = tick_seconds
        self.cfg: dict | None = None
        self.net: Sequential | None = None
        self.running = False
        self.epoch = 0
        self.diverged: str | None = None
        self._epoch_time = 0.01

    # -- building --------------------------------------------------------------------------
    def configure(self, cfg: dict) -> None:
        name, task = PLAY_DATASETS[cfg["dataset"]]
        seed = cfg["seed"]
        if name == "blobs":
            X, y = datasets.load(name, n_samples=N_SAMPLES, std=0.3 + 2 * cfg["noise"], seed=seed)
        else:
            X, y = datasets.load(name, n_samples=N_SAMPLES, noise=cfg["noise"], seed=seed)
        X = X.astype(np.float32)
        y = y.astype(np.float32) if task == "regress" else y
        perm = np.random.default_rng(seed).permutation(len(X))
        n_train = max(2, round(cfg["train_ratio"] * len(X)))
        tr, te = perm[:n_train], perm[n_train:]
        self.X_train, self.y_train, self.X_test, self.y_test = X[tr], y[tr], X[te], y[te]
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo)
        self.lo, self.hi = lo - pad, hi + pad
        self.task = task
        self.features = cfg["features"]
        self.F_train = self.transform(self.X_train)
        self.F_test = self.transform(self.X_test)
        widths = [len(self.features), *cfg["hidden"], _n_outputs(cfg["dataset"])]
        layers = [
            Dense(a, b, activation=cfg["activation"], weight_init=cfg["init"])
            for a, b in zip(widths[:-2], widths[1:-1])
        ]
        layers.append(Dense(widths[-2], widths[-1], weight_init=cfg["init"]))
        self.net = Sequential(*layers, seed=seed)
        self.net.loss_ = cfg["loss"]  # what fit would record: predict_proba works before epoch 1
        # an exported model expects these feature columns, in this order
        # (a full description, so `chainrule predict` reads a CSV with these columns)
        self.net.preprocessing_ = Preprocessor.identity(
            self.features,
            task,
            target="y",
            classes=None if task == "regress" else list(range(_n_outputs(cfg["dataset"]))),
        ).to_dict()
        self.opt = get_optimizer(cfg["optimizer"], self.net.parameters(), lr=cfg["lr"])
        self.cfg = cfg
        self.epoch = 0
        self.diverged = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Raw points -> the network's input (the chosen feature columns)."""
        return feature_matrix(X, self.features, self.task)

    def grid_points(self) -> np.ndarray:
        """The points the boundary is evaluated on: row-major, top row (largest x2) first."""
        if self.task == "regress":
            return np.linspace(self.lo[0], self.hi[0], 200, dtype=np.float32).reshape(-1, 1)
        xs = np.linspace(self.lo[0], self.hi[0], GRID, dtype=np.float32)
        ys = np.linspace(self.hi[1], self.lo[1], GRID, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return np.c_[gx.ravel(), gy.ravel()]

    # -- training --------------------------------------------------------------------------
    def train(self, epochs: int) -> None:
        cfg = self.cfg
        t0 = time.perf_counter()
        h = self.net.fit(
            self.F_train,
            self.y_train,
            loss=cfg["loss"],
            optimizer=self.opt,
            epochs=epochs,
            batch_size=cfg["batch_size"],
            l2=cfg["l2"],
            seed=cfg["seed"] + self.epoch,
        )
        done = len(h.history.get("loss", []))
        self.epoch += done
        if done:
            self._epoch_time = (time.perf_counter() - t0) / done
        if h.diverged:
            self.diverged = h.stop_reason
            self.running = False

    def burst(self) -> None:
        """Train for about ``tick_seconds``."""
        self.train(int(max(1, min(50, self.tick_seconds / max(self._epoch_time, 1e-6)))))

    def tick(self) -> dict:
        """Train for about ``tick_seconds`` and return the update for the page."""
        self.burst()
        return self.snapshot()

    # -- reporting -------------------------------------------------------------------------
    def snapshot(self) -> dict:
        net, cfg = self.net, self.cfg
        loss = cfg["loss"]
        with np.errstate(all="ignore"):
            train_loss = net.evaluate(self.F_train, self.y_train, loss=loss)["loss"]
            test_loss = net.evaluate(self.F_test, self.y_test, loss=loss)["loss"]
            pts = self.grid_points()
            feats = self.transform(pts)
            msg: dict[str, Any] = {
                "type": "update",
                "epoch": self.epoch,
                "running": self.running,
                "train_loss": _f(train_loss),
                "test_loss": _f(test_loss),
            }
            if self.task == "regress":
                msg["curve"] = {"x": _r(pts[:, 0]), "y": _r(net.predict(feats).reshape(-1))}
            else:
                proba = net.predict_proba(feats)
                msg["boundary"] = {
                    "size": GRID,
                    "extent": _r([self.lo[0], self.hi[0], self.lo[1], self.hi[1]]),
                    "n_classes": int(proba.shape[1]),
                    "proba": _r(proba.reshape(-1)),
                }
                if sum(cfg["hidden"]) <= MAX_UNIT_MAPS:
                    msg["unit_maps"] = {"size": UNIT_GRID, "maps": self._unit_maps()}
            report = diagnose(net, self.F_train, self.y_train, loss=loss)
        dense = [layer for layer in net.layers if isinstance(layer, Dense)]
        msg["weights"] = [_r(d.weight.value, 3) for d in dense]
        msg["biases"] = [_r(d.bias.value, 3) for d in dense]
        msg["layers"] = [
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
        msg["features"] = list(self.features)
        msg["verdicts"] = list(report.verdicts)
        if self.diverged:
            msg["verdicts"].insert(0, "training stopped: " + self.diverged)
        return msg

    def _unit_maps(self) -> list[list]:
        """Each hidden Dense layer's unit outputs on a coarse grid: (units, UNIT_GRID**2)."""
        xs = np.linspace(self.lo[0], self.hi[0], UNIT_GRID, dtype=np.float32)
        ys = np.linspace(self.hi[1], self.lo[1], UNIT_GRID, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        out = self.transform(np.c_[gx.ravel(), gy.ravel()])
        maps = []
        for layer in self.net.layers[:-1]:
            out = layer.forward(out)
            if isinstance(layer, Dense):
                maps.append(_r(out.T, 3))
        return maps

    def export_message(self) -> dict:
        """The network as a chainrule model file (safetensors), base64 for the page to save."""
        import base64
        import tempfile

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

    def data_message(self) -> dict:
        return {
            "type": "data",
            "task": self.task,
            "config": self.cfg,
            "X_train": _r(self.X_train, 3),
            "y_train": _r(self.y_train, 3),
            "X_test": _r(self.X_test, 3),
            "y_test": _r(self.y_test, 3),
            "extent": _r([self.lo[0], self.hi[0], *(self.lo[1:2]), *(self.hi[1:2])]),
        }

    def weight_message(self, message: dict) -> dict:
        dense = [layer for layer in self.net.layers if isinstance(layer, Dense)]
        k = message.get("layer")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(dense):
            raise PlaygroundError(f"layer must be 0 to {len(dense) - 1}, got {k!r}")
        n_in, n_out = dense[k].weight.value.shape
        i, j = message.get("i"), message.get("j")
        for name, v, n in (("i", i, n_in), ("j", j, n_out)):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
                raise PlaygroundError(f"{name} must be 0 to {n - 1} for layer {k}, got {v!r}")
        n = min(TRACE_POINTS, len(self.X_train))
        tr = trace(
            self.net,
            self.F_train[:n],
            self.y_train[:n],
            self.cfg["loss"],
            digits=4,
            max_steps=2_000_000,
        )
        name = f"dL/dW{k + 1}[{i},{j}]"
        step = next(s for s in tr.steps if s["name"] == name)
        upstream = [s["text"] for s in tr.steps if s["name"].startswith(f"dL/da{k + 1}[")]
        upstream = [t for t in upstream if t.split("=")[0].strip().endswith(f",{j}]")]
        text = step["text"]
        if upstream:
            text += "\n\nwhere, one layer further along the chain:\n" + "\n".join(upstream)
        return {
            "type": "weight",
            "layer": k,
            "i": i,
            "j": j,
            "value": float(dense[k].weight.value[i, j]),
            "grad": step["value"],
            "n_points": n,
            "text": f"on the first {n} training points (loss {tr.loss:.4g}):\n{text}",
        }

    # -- messages --------------------------------------------------------------------------
    def handle(self, raw: str) -> list[dict]:
        """Answer one message from the page; bad messages give an ``error`` message."""
        try:
            try:
                message = json.loads(raw)
            except ValueError:
                raise PlaygroundError("messages must be JSON objects") from None
            if not isinstance(message, dict):
                raise PlaygroundError("messages must be JSON objects")
            kind = message.get("type")
            if kind == "config":
                cfg = validate(message)
                running = self.running
                self.configure(cfg)
                self.running = running
                return [self.data_message(), self.snapshot()]
            if kind not in ("play", "pause", "step", "reset", "weight", "export"):
                raise PlaygroundError(f"unknown message type {kind!r}")
            if self.net is None:
                raise PlaygroundError("send a config message first")
            if kind == "play":
                self.running = self.diverged is None
                return [{"type": "status", "running": self.running}]
            if kind == "pause":
                self.running = False
                return [{"type": "status", "running": False}]
            if kind == "step":
                self.running = False
                if self.diverged is None:
                    self.train(1)
                return [self.snapshot()]
            if kind == "reset":
                self.running = False
                self.configure(self.cfg)
                return [self.data_message(), self.snapshot()]
            if kind == "export":
                return [self.export_message()]
            return [self.weight_message(message)]
        except PlaygroundError as exc:
            return [{"type": "error", "message": str(exc)}]
        except Exception as exc:  # the engine refused something: tell the page, keep serving
            return [{"type": "error", "message": f"{type(exc).__name__}: {exc}"}]


def hello() -> dict:
    return {
        "type": "hello",
        "defaults": DEFAULTS,
        "options": {
            "dataset": list(PLAY_DATASETS),
            "activation": list(ACTIVATIONS),
            "init": list(INITS),
            "loss": {"classify": list(LOSSES["classify"]), "regress": list(LOSSES["regress"])},
            "optimizer": list(OPTIMIZER_NAMES),
            "features": {task: list(names) for task, names in FEATURES.items()},
            "default_features": DEFAULT_FEATURES,
        },
        "limits": {"layers": MAX_LAYERS, "units": MAX_UNITS, "params": MAX_PARAMS},
    }


def _is_ack(raw: str) -> bool:
    if len(raw) > 40 or "ack" not in raw:
        return False
    try:
        message = json.loads(raw)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ack"


_LOCAL = {"127.0.0.1", "localhost", "::1"}


def origin_allowed(origin: str | None) -> bool:
    """Whether a WebSocket may open from this ``Origin``: none (not a browser) or loopback.

    A header that is not a URL at all (``http://[::1``) is refused like a foreign one.
    """
    if origin is None:
        return True
    try:
        return urlsplit(origin).hostname in _LOCAL
    except ValueError:
        return False


def create_app(max_sessions: int = MAX_SESSIONS, tick_seconds: float = 0.1):
    """The Starlette app. ``app.state.sessions`` maps a session id to its :class:`Session`."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect

    sessions: dict[int, Session] = {}

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def websocket_endpoint(websocket):
        if not origin_allowed(websocket.headers.get("origin")):
            # another web site must not drive a local session; closing before the
            # handshake answers HTTP 403 (a malformed Origin too, never a 500)
            await websocket.close(code=1008)
            return
        await websocket.accept()
        if len(sessions) >= max_sessions:
            await websocket.send_json(
                {
                    "type": "error",
                    "message": f"too many playground sessions (limit {max_sessions}); "
                    "close another tab and reload",
                }
            )
            await websocket.close(code=1013)
            return
        session = Session(tick_seconds)
        sid = id(session)
        sessions[sid] = session
        lock = asyncio.Lock()
        task: asyncio.Task | None = None

        # flow control: the next update waits for the page's "ack" of the last one, so a
        # slow page never falls behind on a queue of stale updates (training goes on)
        page_ready = asyncio.Event()
        page_ready.set()

        async def run() -> None:
            try:
                while session.running:
                    async with lock:
                        if not session.running:
                            break
                        if page_ready.is_set():
                            update = await asyncio.to_thread(session.tick)
                            page_ready.clear()
                            await websocket.send_json(update)
                        else:
                            await asyncio.to_thread(session.burst)
                    await asyncio.sleep(0.01)
            except Exception:  # the socket closed under us: the session is over
                session.running = False

        try:
            await websocket.send_json(hello())
            while True:
                try:
                    frame = await websocket.receive()
                except (WebSocketDisconnect, RuntimeError):
                    break
                if frame["type"] == "websocket.disconnect":
                    break
                raw = frame.get("text")
                if raw is None:  # a binary frame: the protocol is JSON text only
                    await websocket.close(code=1003, reason="text frames only (JSON messages)")
                    break
                if _is_ack(raw):
                    page_ready.set()
                    continue
                async with lock:
                    replies = await asyncio.to_thread(session.handle, raw)
                    for reply in replies:
                        await websocket.send_json(reply)
                if session.running and (task is None or task.done()):
                    task = asyncio.create_task(run())
        except WebSocketDisconnect:
            pass
        finally:
            session.running = False
            if task is not None:
                task.cancel()
            sessions.pop(sid, None)

    app = Starlette(
        routes=[
            Route("/", index),
            WebSocketRoute("/ws", websocket_endpoint),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.sessions = sessions
    return app


def check_port(port) -> int:
    """``port`` as an int from 0 to 65535 (0: the system picks a free one), else ValueError."""
    text = str(port).strip()
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or isinstance(port, bool) or not 0 <= value <= 65535:
        raise ValueError(
            f"--port must be a whole number from 0 to 65535 (0 picks a free port), got {text!r}"
        )
    return value


def bind(host: str, port: int):
    """A listening socket on ``host:port``; a port in use is a one-line ``ValueError``."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise ValueError(
            f"cannot listen on {host}:{port} ({why}); choose another --port, or --port 0 "
            "for a free one"
        ) from None
    sock.set_inheritable(True)
    return sock


def main(port: int = 8000, open_browser: bool = True, host: str = "127.0.0.1") -> None:
    """Serve the playground on loopback until interrupted (Ctrl-C).

    The socket is bound before anything is printed, so the address printed is the real
    one (``--port 0`` prints the port the system chose).
    """
    port = check_port(port)
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the playground needs Starlette and uvicorn: pip install 'chainrule[playground]'"
        ) from exc
    sock = bind(host, port)
    port = sock.getsockname()[1]
    url = f"http://{host}:{port}/"
    print(f"chainrule playground on {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(create_app(), log_level="warning", ws_max_size=MAX_MESSAGE_BYTES)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(prog="python -m chainrule.playground.app")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    try:
        main(args.port, not args.no_browser)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except KeyboardInterrupt:
        pass

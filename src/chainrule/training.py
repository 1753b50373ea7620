"""The training loop: mini-batch gradient descent with backpropagation.

One step is the whole method:

    out  = net.forward(X_batch)             # forward propagation
    L    = loss.forward(out, y_batch)       # how wrong
    net.backward(loss.backward())           # chain rule: every dL/dparam
    optimizer.step()                        # gradient descent

``fit`` adds what practice needs around it: shuffling (by index, into one
reused batch buffer, never a copy of the data set), validation, metrics,
callbacks, clipping, schedules, and a guard against divergence.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from .callbacks import Callback
from .class_weights import class_weight_rows
from .clipping import clip_grad_norm, clip_grad_value
from .layers import BatchNorm, Dense
from .losses import Loss, get_loss
from .metrics import METRICS, get_metric
from .network import Network, Sequential, check_features, provides
from .optimizers import Optimizer, get_optimizer
from .tasks import PROBABILITY_LOSSES, output_losses, output_task, probabilities
from .tasks import answer as _answer
from .validation import all_finite, check_finite, check_int, check_number


class DivergenceWarning(RuntimeWarning):
    """Training stopped because it diverged (see ``_DivergenceGuard`` for the rule)."""


class History:
    """What ``fit`` measured: ``history.history["loss"][epoch]`` and friends.

    Attributes
    ----------
    history : dict[str, list[float]]
        Per-epoch ``loss``, metrics, and ``val_``-prefixed validation values.
    epoch : list[int]
        Epoch indices (0-based) that ran.
    diverged : bool
        True if training stopped because it diverged (``stop_reason`` says how).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.diverged = False
        self.stop_reason: str | None = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch (``fit`` calls it).

        Parameters
        ----------
        epoch : int
            The epoch's number, from 0.
        logs : dict of str to float
            Its numbers: ``loss``, metrics, ``val_`` values.
        """
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def _repr_html_(self, max_rows: int = 20) -> str:
        """The per-epoch values as an HTML table, for Jupyter (the last ``max_rows`` epochs)."""
        import html

        keys = list(self.history)
        n = len(self.epoch)
        start = max(0, n - max_rows)
        head = "".join(f"<th>{html.escape(k)}</th>" for k in ["epoch", *keys])
        body = []
        for row in range(start, n):
            cells = [str(self.epoch[row])]
            for k in keys:
                v = self.history[k]
                cells.append(f"{v[row]:.6g}" if row < len(v) else "")
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        caption = f"History: {n} epoch{'s' if n != 1 else ''}"
        if start:
            caption += f", the last {n - start} shown"
        if self.diverged:
            caption += ", diverged"
        if self.stop_reason:
            caption += f", stopped: {self.stop_reason}"
        return (
            f"<table><caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


class _DivergenceGuard:
    """Watches every training step for divergence, and puts back weights that work.

    A step diverges when (checked in this order, every step, including the last
    of each epoch, where the weights are checked after the update):

    1. its loss is NaN or infinite;
    2. the network's outputs on the batch are NaN or infinite (a hinge loss, for
       one, stays finite on infinite outputs);
    3. the loss explodes: it is above ``FACTOR * max(L0, 1)`` (``L0`` the loss
       of the first step of this ``fit`` call, ``FACTOR = 1e5``) on two
       consecutive steps, the second no lower than the first. A healthy run does
       not climb 1e5-fold above where it started and stay there; Adam, RMSprop
       and Adagrad at ``lr=1e6`` do, within 2 steps in mini-batches and 14 in
       full batch. A bad but finite run may spike a few thousandfold and come
       back (Adam at ``lr=10`` on spirals, which kills its ReLUs: the diagnosis
       should see that, not a divergence), hence 1e5 and not 1e3. The floor of 1
       keeps a warm start from a tiny loss from tripping on noise.

    After the last step of an epoch the weights are checked finite, and the
    outputs on (up to 64 rows of) the last batch too.

    On divergence the weights from the start of the diverging epoch come back;
    they are checked (finite, with finite outputs on the batch), and if they fail,
    the weights from before this ``fit`` call come back instead. The
    ``DivergenceWarning`` and ``history.stop_reason`` say which.
    """

    FACTOR = 1e5

    def __init__(self, net: Sequential) -> None:
        self.net = net
        self.initial: list[np.ndarray] | None = None  # the weights before fit
        self.safe: list[np.ndarray] = []  # the weights at the start of this epoch
        self.bar: float | None = None  # FACTOR * max(L0, 1), set by the first step
        self.start = math.nan
        self.high: float | None = None  # the previous step's loss, when above the bar

    def epoch_start(self) -> None:
        """A copy of the weights at the start of an epoch (the first is kept as those
        from before the fit: no extra copy)."""
        self.safe = self.net.get_weights()
        if self.initial is None:
            self.initial = self.safe

    def _problem(self, value: float, out) -> str | None:
        if not math.isfinite(value):
            return f"the loss became {value}"
        outs = out if isinstance(out, list) else [out]  # a graph's outputs: a list
        if not all(o is None or np.isfinite(o).all() for o in outs):  # a batch: small
            return "the network's outputs became NaN or inf"
        if self.bar is None:
            self.start, self.bar = value, self.FACTOR * max(value, 1.0)
            return None
        if value <= self.bar:
            self.high = None
            return None
        if self.high is not None and value >= self.high:
            return (
                f"the loss exploded to {value:.3g} (it started at {self.start:.3g}; the limit is "
                f"{self.FACTOR:g} x max(start, 1) on two steps in a row, not decreasing)"
            )
        self.high = value
        return None

    def _works(self, xb) -> bool:
        """Finite weights, and finite outputs on (up to 64 rows of) the batch ``xb``
        (a list of input arrays for a graph network)."""
        if not all(all_finite(p.value) for p in self.net.parameters()):
            return False
        if xb is None:
            return True
        if isinstance(xb, list):
            return all(all_finite(o) for o in self.net.infer_run([x[:64] for x in xb]))
        out = xb[:64]
        for layer in self.net.layers:
            out = layer.infer(out)
        return all_finite(out)

    def diverged(self, value, out, history: History, xb, epoch: int, b: int) -> bool:
        """Check one step (before its update); on divergence stop training and tell."""
        problem = self._problem(value, out)
        if problem is None:
            return False
        self._stop(history, xb, f"{problem} at epoch {epoch + 1}, batch {b + 1}")
        return True

    def diverged_at_end(self, history: History, xb, epoch: int) -> bool:
        """Check the weights left by the last update of an epoch."""
        if self._works(xb):
            return False
        problem = "the last update of epoch {0} made the weights or the outputs NaN or inf"
        self._stop(history, xb, problem.format(epoch + 1))
        return True

    def _stop(self, history: History, xb, problem: str) -> None:
        self.net.set_weights(self.safe)
        if self._works(xb):
            restored = "the weights were restored to those at the start of that epoch"
        else:
            self.net.set_weights(self.initial)
            restored = (
                "the weights at the start of that epoch gave NaN or inf outputs too, so the "
                "weights from before this fit call were restored"
            )
        history.diverged = True
        history.stop_reason = (
            f"{problem}; {restored}. Lower the learning rate, standardise the inputs, or clip "
            "gradients (clip_norm=1.0)"
        )
        warnings.warn("training diverged: " + history.stop_reason, DivergenceWarning, stacklevel=5)
        self.net.stop_training = True


def _prepare(net: Sequential, X, y, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    X = check_features(X, net.n_features_in, net.dtype)  # also refuses NaN and inf
    y_arr = _prepare_target(y, len(X), loss, net.n_outputs, net.dtype)
    return np.ascontiguousarray(X), y_arr


def _prepare_target(y, n: int, loss: Loss, width, dtype, what: str = "y") -> np.ndarray:
    """Targets for ``n`` rows of an output of ``width`` columns, checked, in ``loss``'s form."""
    y_arr = np.asarray(y)
    if y_arr.dtype == object or not (np.issubdtype(y_arr.dtype, np.number) or y_arr.dtype == bool):
        raise TypeError(
            f"{what} must hold numbers, got dtype {y_arr.dtype}; encode labels as 0..K-1"
        )
    if y_arr.ndim == 0 or len(y_arr) != n:
        raise ValueError(
            f"X has {n} samples but {what} has {y_arr.shape[0] if y_arr.ndim else 'a scalar'}; "
            "they must have the same number of rows"
        )
    check_finite(y_arr, what)
    y_arr = loss.prepare_target(y_arr, width, dtype)
    return np.ascontiguousarray(y_arr)


# -- graph networks: several inputs, several outputs -------------------------------------
def _per_output(net: Network, value, what: str) -> list:
    """``value`` as one item per output: a list/tuple in outputs order, or a dict by name."""
    names = net.output_names
    if len(names) == 1:
        return [value]
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        missing = [k for k in names if k not in value]
        if unknown or missing:
            raise ValueError(
                f"{what} names outputs {sorted(value)}, but the network's outputs are {names}"
            )
        return [value[k] for k in names]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        got = f"{len(value)} items" if isinstance(value, (list, tuple)) else "one"
        raise ValueError(
            f"the network has {len(names)} outputs {names}, so {what} needs one per output "
            f"(a list in that order or a dict by output name); got {got}"
        )
    return list(value)


def _graph_losses(net: Network, loss, loss_weights) -> tuple[list[Loss], list[float]]:
    losses = [get_loss(spec) for spec in _per_output(net, loss, "loss")]
    if len({id(item) for item in losses}) != len(losses):  # one object per output: each caches
        import copy

        losses = [copy.deepcopy(item) for item in losses]
    if loss_weights is None:
        weights = [1.0] * len(losses)
    else:
        weights = [float(w) for w in _per_output(net, loss_weights, "loss_weights")]
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(f"loss_weights must be finite numbers >= 0, got {weights}")
    return losses, weights


def _prepare_graph(net: Network, X, y, losses: list[Loss]) -> tuple[list, list]:
    xs = net.input_arrays(X)
    for x, name in zip(xs, net.input_names):
        check_finite(x, f"input {name!r}" if len(xs) > 1 else "X")
    names = net.output_names
    ys = [
        _prepare_target(
            t, len(xs[0]), item, width, net.dtype, f"y[{name!r}]" if len(names) > 1 else "y"
        )
        for t, item, width, name in zip(_per_output(net, y, "y"), losses, _widths(net), names)
    ]
    return [np.ascontiguousarray(x) for x in xs], ys


def _widths(net: Network) -> list[int | None]:
    return [o.n_features for o in net.outputs]


class _GraphStep:
    """``fit``'s per-batch work for a graph network: gather the rows of every input and
    target, forward, the weighted sum of the output losses and each one's gradient,
    then backward. L = sum_k w_k L_k, so dL/d(output k) = w_k dL_k/d(output k)."""

    def __init__(
        self, net: Network, losses, weights, metric_fns, xs, ys, rows: int, train_rows=None
    ) -> None:
        self.net, self.losses, self.weights, self.metric_fns = net, losses, weights, metric_fns
        self.xs, self.ys = xs, ys
        self.train_rows = train_rows  # with validation_split: the rows of xs that train
        self.xb = self.outs = None  # the last batch's inputs and outputs, for the guard
        self.x_bufs = [np.empty((rows,) + x.shape[1:], x.dtype) for x in xs]
        self.y_bufs = [np.empty((rows,) + y.shape[1:], y.dtype) for y in ys]
        self.tasks = [output_task(item, w) for item, w in zip(losses, _widths(net))]
        n = len(xs[0]) if train_rows is None else len(train_rows)
        self.answers = [  # answers on the training rows, for the metrics
            np.empty((n,) + _answer_shape(net, task, w), np.float64) if fns else None
            for task, w, fns in zip(self.tasks, _widths(net), metric_fns)
        ]
        self.totals = [0.0] * len(losses)

    def forward(self, idx: np.ndarray, wb: np.ndarray | None, norm: float) -> float | None:
        """The batch's loss (``None``: its weights sum to 0, no step)."""
        m = len(idx)
        rows = idx if self.train_rows is None else self.train_rows[idx]
        xb = [
            np.take(x, rows, axis=0, out=b[:m], mode="clip") for x, b in zip(self.xs, self.x_bufs)
        ]
        yb = [
            np.take(y, rows, axis=0, out=b[:m], mode="clip") for y, b in zip(self.ys, self.y_bufs)
        ]
        net = self.net
        values = net.run(xb)
        outs = [values[k] for k in net._output_pos]
        self.xb, self.outs = xb, outs
        for ans, out, task in zip(self.answers, outs, self.tasks):
            if ans is not None:
                ans[idx] = _answer(out, task).reshape((m,) + ans.shape[1:])
        if norm <= 0:
            return None
        self.parts, self.grads = [], []
        for out, t, item, w in zip(outs, yb, self.losses, self.weights):
            part = item.forward(out, t)
            grad = item.backward()
            if wb is not None:  # sum_i w_i l_i / sum_i w_i, rows scaled to match
                part = float(wb @ item.row_losses(out, t)) / norm
                grad = grad * (wb * (m / norm)).astype(grad.dtype)[:, None]
            self.parts.append(part)
            self.grads.append(grad if w == 1.0 else grad * grad.dtype.type(w))
        return sum(w * part for w, part in zip(self.weights, self.parts))

    def backward(self, norm: float) -> None:
        for k, part in enumerate(self.parts):
            self.totals[k] += part * norm
        self.net.backward(_pack(self.net, self.grads), input_grad=False)

    def epoch_logs(self, total_weight: float) -> dict[str, float]:
        """Per-output losses (several outputs) and training metrics of the epoch."""
        net, logs = self.net, {}
        if not net._single_output:
            for name, total in zip(net.output_names, self.totals):
                logs[f"{name}_loss"] = total / total_weight
        self.totals = [0.0] * len(self.losses)
        if any(self.metric_fns):
            ys = self.ys if self.train_rows is None else [y[self.train_rows] for y in self.ys]
            logs.update(_metric_logs(net, ys, self.answers, self.metric_fns))
        return logs


def _batches(n: int, batch_size: int | None):
    bs = n if batch_size is None else batch_size
    for start in range(0, n, bs):
        yield slice(start, min(start + bs, n))


def _inference(
    net: Sequential, X, batch_size: int | None, rows=None, check: bool = False
) -> np.ndarray:
    """The network's outputs in inference mode, through ``layer.infer`` (no caching,
    no change of the layers' train/eval flags). A list, one per output, for a graph.
    Only for ``rows`` of ``X`` if given, gathered a batch at a time (never a copy of
    all those rows at once).

    ``check``: refuse outputs that are NaN or inf (``predict``, ``evaluate``...),
    rather than answer from them.
    """
    if not isinstance(net, Sequential):
        xs = net.input_arrays(X)  # refuses NaN and inf, naming the input
        with np.errstate(over="ignore", invalid="ignore"):
            outs = _graph_inference(net, xs, batch_size)
        if check:
            _check_graph_outputs(net, xs, outs)
        return outs
    if check:
        X = check_features(X, net.n_features_in, net.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            out = _inference(net, X, batch_size, rows)
        _check_outputs(net, X, out)
        return out
    if rows is None:
        X = check_features(X, net.n_features_in, net.dtype)
    layers = net.layers
    n = len(X) if rows is None else len(rows)
    if rows is None and (batch_size is None or n <= batch_size):
        out = X
        for layer in layers:
            out = layer.infer(out)
        return out
    parts = []
    for sl in _batches(n, batch_size):
        out = X[sl] if rows is None else X[rows[sl]]
        for layer in layers:
            out = layer.infer(out)
        parts.append(out)
    return np.concatenate(parts)


def _graph_inference(net: Network, xs: list[np.ndarray], batch_size: int | None, rows=None) -> list:
    """A graph's outputs, for ``rows`` of the inputs if given (gathered a batch at a time)."""
    n = len(xs[0]) if rows is None else len(rows)
    if rows is None and (batch_size is None or n <= batch_size):
        return net.infer_run(xs)
    parts = [
        net.infer_run([x[sl] if rows is None else x[rows[sl]] for x in xs])
        for sl in _batches(n, batch_size)
    ]
    return [np.concatenate(column) for column in zip(*parts)]


def _pack(net: Network, items: list):
    """One item for a one-output network, else the list (in outputs order)."""
    return items[0] if net._single_output else items


def _check_outputs(net: Sequential, X: np.ndarray, out: np.ndarray) -> None:
    """Finite inputs can still give NaN or inf outputs: say why instead of answering."""
    if all_finite(out):
        return
    row = int(np.argwhere(~np.isfinite(out))[0][0])
    if not all(all_finite(p.value) for p in net.parameters()):
        why = "the network's weights hold NaN or inf; train or load it again"
    else:
        why = (
            f"the values overflow {net.dtype} (the largest |x| in X is "
            f"{float(np.abs(X).max()):.3g}); standardise the inputs"
        )
    raise ValueError(f"the network's outputs are NaN or inf for row {row} of X: {why}")


def _check_graph_outputs(net: Network, xs: list[np.ndarray], outs: list) -> None:
    """As ``_check_outputs``, for each output of a graph network (named in the message)."""
    for out, name in zip(outs, net.output_names):
        if all_finite(out):
            continue
        row = int(np.argwhere(~np.isfinite(out))[0][0])
        where = f"row {row}" if net._single_output else f"output {name!r}, row {row}"
        if not all(all_finite(p.value) for p in net.parameters()):
            why = "the network's weights hold NaN or inf; train or load it again"
        else:
            big = max(float(np.abs(x).max()) for x in xs)
            why = (
                f"the values overflow {net.dtype} (the largest |x| in the inputs is {big:.3g}); "
                "standardise the inputs"
            )
        raise ValueError(f"the network's outputs are NaN or inf for {where}: {why}")


@provides("predict")
def predict(net: Network, X, batch_size: int | None = None) -> np.ndarray | list:
    """Class labels for a classifier (net fitted with a classification loss), else values.

    A list, in outputs order, for a network with several outputs.

    Parameters
    ----------
    net : Network
        A trained network (``fit`` recorded its loss, hence its task).
    X : array-like of shape (n_samples, n_features), list or dict
        Inputs, one row per sample; several inputs as a list in ``net.inputs``
        order or a dict by input name.
    batch_size : int or None, default None
        Rows per forward pass (None: all at once); bounds the memory used.
    """
    if not isinstance(net, Sequential):
        outs = _inference(net, X, batch_size, check=True)
        return _pack(
            net,
            [
                _answer(out, output_task(name, width))
                for out, name, width in zip(outs, output_losses(net), _widths(net))
            ],
        )
    task = output_task(net.loss_, net.n_outputs)
    return _answer(_inference(net, X, batch_size, check=True), task)


@provides("predict_proba")
def predict_proba(net: Network, X, batch_size: int | None = None) -> np.ndarray | list:
    """Softmax of the outputs for ``cross_entropy``, sigmoid for ``binary_cross_entropy``.

    With several outputs: a list in outputs order, ``None`` for an output
    trained with a regression loss.

    Parameters
    ----------
    net : Network
        A network trained with ``cross_entropy`` or ``binary_cross_entropy``.
    X : array-like of shape (n_samples, n_features), list or dict
        Inputs, as for ``predict``.
    batch_size : int or None, default None
        Rows per forward pass (None: all at once).
    """
    if not isinstance(net, Sequential) and not net._single_output:
        names = output_losses(net)
        if not any(name in PROBABILITY_LOSSES for name in names):
            raise ValueError(
                "predict_proba needs outputs trained with 'cross_entropy' or "
                f"'binary_cross_entropy'; this network's losses are {names}"
            )
        outs = _inference(net, X, batch_size, check=True)
        return [probabilities(out, name) for out, name in zip(outs, names)]
    out = _inference(net, X, batch_size, check=True)
    if not isinstance(net, Sequential):
        out = out[0]
    proba = probabilities(out, net.loss_)
    if proba is not None:
        return proba
    raise ValueError(
        "predict_proba needs a network trained with 'cross_entropy' or 'binary_cross_entropy'"
        + (
            f"; this one was trained with {net.loss_!r}"
            if net.loss_
            else "; this one was never fitted"
        )
    )


def _metric_list(metrics) -> list[tuple[str, Callable]]:
    if metrics is None:
        return []
    if isinstance(metrics, (str,)) or callable(metrics):
        metrics = [metrics]
    return [get_metric(m) for m in metrics]


@provides("evaluate")
def evaluate(
    net: Network, X, y, loss=None, metrics=None, batch_size: int | None = None
) -> dict[str, float]:
    """``{"loss": ..., metric: ...}`` on (X, y), in inference mode.

    Parameters
    ----------
    net : Network
        The network to score.
    X : array-like of shape (n_samples, n_features)
        Inputs, one row per sample.
    y : array-like
        Targets, as for ``fit``.
    loss : str, Loss or None, default None
        None uses the loss of the last ``fit``.
    metrics : list of str or callables, or None, default None
        None uses the metrics of the last ``fit``.
    batch_size : int or None, default None
        Rows per forward pass (None: all at once).
    """
    loss_spec = loss if loss is not None else net.loss_
    if loss_spec is None:
        raise ValueError("evaluate needs a loss: pass loss=... or fit the network first")
    if metrics is None:
        metrics = getattr(net, "metrics_", None)
    if not isinstance(net, Sequential):
        weights = getattr(net, "loss_weights_", None) if loss is None else None
        losses, weights = _graph_losses(net, loss_spec, weights)
        xs, ys = _prepare_graph(net, X, y, losses)
        return _evaluate_graph(
            net, _Rows(xs), _Rows(ys), losses, weights, metrics, batch_size, check=True
        )
    loss = get_loss(loss_spec)
    X, y = _prepare(net, X, y, loss)
    return _evaluate_prepared(net, X, y, loss, _metric_list(metrics), batch_size, check=True)


_CLASSIFICATION_METRICS = {"accuracy", "precision", "recall", "f1"}


def _graph_metrics(net: Network, metrics, losses: list[Loss]) -> list[list[tuple[str, Callable]]]:
    """The metrics of each output: a dict names the outputs; a list applies to every output
    it suits (accuracy, precision, recall, f1 to classification outputs; mse, mae, r2 to
    regression outputs; your own functions to all)."""
    if isinstance(metrics, dict):
        unknown = [k for k in metrics if k not in net.output_names]
        if unknown:
            raise ValueError(
                f"metrics names the output {unknown[0]!r}; the outputs are {net.output_names}"
            )
        return [_metric_list(metrics.get(name)) for name in net.output_names]
    fns = _metric_list(metrics)
    if net._single_output:
        return [fns]
    return [
        [
            (name, fn)
            for name, fn in fns
            if name not in METRICS
            or (name in _CLASSIFICATION_METRICS) == (output_task(item) != "regression")
        ]
        for item in losses
    ]


def _metric_logs(net: Network, ys: list, answers: list, metric_fns) -> dict[str, float]:
    """``{metric: value}``, or ``{"<output>_<metric>": value}`` for several outputs."""
    logs = {}
    for name, y, ans, fns in zip(net.output_names, ys, answers, metric_fns):
        for metric, fn in fns:
            logs[metric if net._single_output else f"{name}_{metric}"] = fn(y, ans)
    return logs


def _evaluate_graph(
    net, xs, ys, losses, weights, metrics, batch_size=None, rows=None, check=False
) -> dict[str, float]:
    with np.errstate(over="ignore", invalid="ignore"):
        outs = _graph_inference(net, xs.arrays, batch_size, rows)
    if check:
        _check_graph_outputs(net, xs.arrays, outs)
    if rows is not None:
        ys = ys[rows]
    parts = [item.forward(out, t) for out, t, item in zip(outs, ys.arrays, losses)]
    result = {"loss": sum(w * part for w, part in zip(weights, parts))}
    if not net._single_output:
        result.update({f"{name}_loss": part for name, part in zip(net.output_names, parts)})
    fns = _graph_metrics(net, metrics, losses)
    if any(fns):
        answers = [
            _answer(out, output_task(item, width))
            for out, item, width in zip(outs, losses, _widths(net))
        ]
        result.update(_metric_logs(net, ys.arrays, answers, fns))
    return result


class _Rows:
    """Several arrays with the same rows (a graph's inputs or targets), indexed together."""

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, rows) -> _Rows:
        return _Rows([a[rows] for a in self.arrays])


def _evaluate_prepared(
    net, X, y, loss, metric_fns, batch_size=None, rows=None, check=False
) -> dict:
    out = _inference(net, X, batch_size, rows, check)
    if rows is not None:
        y = y[rows]
    result = {"loss": loss.forward(out, y)}
    answers = _answer(out, output_task(loss, net.n_outputs))
    for name, fn in metric_fns:
        result[name] = fn(y, answers)
    return result


@provides("fit")
def fit(
    net: Network,
    X,
    y,
    loss: str | Loss | None = None,
    optimizer: str | Optimizer = "adam",
    lr: float | None = None,
    epochs: int = 10,
    batch_size: int | None = 32,
    shuffle: bool = True,
    validation_split: float = 0.0,
    validation_data: tuple | None = None,
    callbacks: Sequence[Callback] | None = None,
    metrics: Sequence[str | Callable] | str | None = None,
    verbose: int = 0,
    seed: int | None = None,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    schedule=None,
    sample_weight=None,
    l2: float = 0.0,
    loss_weights=None,
    class_weight: str | dict | None = None,
) -> History:
    """Train ``net`` by mini-batch gradient descent.

    Parameters
    ----------
    net : Network
        The network to train; its parameters are updated in place.
    X, y : array-like
        Inputs ``(n_samples, n_features)`` and targets (labels ``(n,)`` or
        one-hot rows for ``cross_entropy``, values for regression).
    loss : str, Loss or None, default None
        Required the first time; later calls reuse the last one.
    optimizer : str or Optimizer, default "adam"
        A name (``"sgd"``, ``"adam"``...) built on ``net.parameters()`` with
        ``lr``, or an optimizer you built (its state carries over between calls).
    lr : float or None, default None
        The learning rate η. None keeps the optimizer's own default (Adam's
        1e-3, SGD's 1e-3...); with an optimizer you built, a number replaces its ``lr``.
    epochs : int, default 10
        Passes over the training rows.
    batch_size : int or None, default 32
        Rows per gradient step; None is full-batch gradient descent.
    shuffle : bool, default True
        Visit the rows in a new random order every epoch.
    validation_split : float, default 0.0
        Fraction of rows (chosen at random with the fit seed) held out.
    validation_data : tuple (X_val, y_val) or None, default None
        Explicit validation set; overrides ``validation_split``.
    callbacks : list of Callback or None, default None
        E.g. ``EarlyStopping``, ``ModelCheckpoint``.
    metrics : list of str or callables, or None, default None
        Logged per epoch, e.g. ``["accuracy"]``; ``val_`` versions too.
    verbose : int
        0 silent; 1 a progress bar: tqdm's on stderr in a terminal, its widget
        in a notebook, plain lines in a pipe; 2 one line per epoch.
    seed : int or None
        Seed for shuffling and the validation split (default: the network's
        seed). Without it, shuffling goes on across ``fit`` calls where the
        last call stopped, so fitting an epoch at a time gives new batch
        orders; with it, shuffling starts afresh from that seed.
    clip_norm : float or None, default None
        Gradient clipping by global norm, before each step.
    clip_value : float or None, default None
        Gradient clipping of each element to ``[-clip_value, clip_value]``, before each step.
    schedule : Schedule or None, default None
        A learning-rate schedule on the optimizer, stepped after every epoch
        (``ReduceLROnPlateau`` is given ``val_loss``, or ``loss``).
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative, finite weight of each row. A batch's loss becomes
        ``sum w_i l_i / sum w_i`` (its gradient rows are scaled to match), a
        batch whose weights sum to 0 makes no step, and the logged ``loss`` is
        the weighted mean over the epoch. Split with the rows by
        ``validation_split`` (the validation loss itself is unweighted).
    l2 : float
        L2 penalty on the weights of ``Dense`` layers (not biases), as in
        scikit-learn: each batch's loss gets ``l2 * sum ||W||^2 / (2 n_b)``,
        ``n_b`` the batch's row count (or weight sum), and each weight
        gradient ``l2 * W / n_b``. The logged ``loss`` includes it.
    loss_weights : list or dict of float, optional
        For a network with several outputs: the training loss is
        ``sum_k w_k L_k`` (default every ``w_k = 1``; not normalised).
    class_weight : "balanced", dict or None, default None
        Weights by class, for a classification loss: row ``i`` weighs
        ``c[y_i]``, times its ``sample_weight`` when both are given, and
        training goes as with ``sample_weight`` (a batch's loss is
        ``sum_i w_i l_i / sum_i w_i``). "balanced" is
        ``c_k = n / (K n_k)`` over the rows given (``K`` the classes present,
        ``n_k`` the rows of class ``k``); a dict maps class labels (``0..K-1``;
        ``0``/``1``, or ``-1``/``+1`` for hinge, with one output) to weights
        >= 0 (0 leaves the class out of the loss), and a class it leaves out
        weighs 1. The class of a one-hot or probability row is its largest
        entry.

    Returns
    -------
    History

    Notes
    -----
    Inputs and targets of a graph network (``cr.Network``): ``X`` is one
    array for one input, else a list in ``net.inputs`` order or a dict by
    input name; with several outputs, ``y`` and ``loss`` are lists in
    ``net.outputs`` order (or dicts by output name), and the history also
    records each output's ``"<output name>_loss"``.

    A network with ``BatchNorm`` never gets a 1-row batch: a 1-row tail is
    folded into the batch before it.

    Divergence (a NaN or infinite loss or output, or a loss that explodes
    1e5-fold above where it started: see ``_DivergenceGuard``) is checked
    at every step and after the last update of each epoch. It stops training
    with a ``DivergenceWarning``; the weights are put back to those at the start
    of the diverging epoch if they give finite outputs, else to those from
    before the call, and ``history.diverged`` is True.

    ``validation_split`` holds out rows by index: batches and the validation
    set are gathered from ``X`` a batch at a time, never copied whole (every
    input of a graph network too).
    """
    if loss is None:
        if net.loss_ is None:
            raise ValueError(
                "fit needs a loss, e.g. loss='cross_entropy' for classification or loss='mse' "
                "for regression"
            )
        loss = net.loss_
        if loss_weights is None:
            loss_weights = getattr(net, "loss_weights_", None)
    graph = not isinstance(net, Sequential)  # a Sequential runs its chain in the loop below
    if graph:
        losses, loss_weights = _graph_losses(net, loss, loss_weights)
        clash = [n for n in net.output_names if n == "val" or n.startswith("val_")]
        if clash and not net._single_output:
            raise ValueError(
                f"an output is named {clash[0]!r}: the history's '{clash[0]}_loss' would read as "
                "a validation value; name the output otherwise, e.g. layer(node, name='value')"
            )
    else:
        loss = get_loss(loss)
    epochs = check_int("epochs", epochs, low=0)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, fix="or None for the whole data set")
    validation_split = check_number(
        "validation_split", validation_split, high=1.0, high_open=True, fix="a fraction of rows"
    )
    l2 = check_number("l2", l2, fix="the L2 penalty on the weights, e.g. 1e-4")
    for act in _activations(net):
        if act.name == "step":
            act.df(None, None)  # raises the explanation before any work is done

    if graph:
        X, y = map(_Rows, _prepare_graph(net, X, y, losses))
    else:
        X, y = _prepare(net, X, y, loss)
    sw = None if sample_weight is None else _check_sample_weight(sample_weight, len(X))
    if class_weight is not None:
        if graph and len(losses) != 1:
            raise ValueError(
                f"class_weight is for a network with one output, this one has {len(losses)}; "
                "give sample_weight (one weight per row) instead"
            )
        if graph:
            cw = _class_weight_rows(class_weight, y.arrays[0], losses[0], _widths(net)[0])
        else:
            cw = _class_weight_rows(class_weight, y, loss, net.n_outputs)
        sw = cw if sw is None else sw * cw  # both given: a row weighs their product
    seed_given = seed is not None
    seed = net.seed if seed is None else seed
    rng = np.random.default_rng(seed) if seed is not None else np.random.default_rng()

    train_rows = val_rows = None  # with validation_split: which rows of X train, validate
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        if graph:
            X_val, y_val = map(_Rows, _prepare_graph(net, *validation_data, losses))
        else:
            X_val, y_val = _prepare(net, *validation_data, loss)
    elif validation_split > 0:
        n_val = int(round(len(X) * validation_split))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_split={validation_split} leaves {n_val} validation rows out of "
                f"{len(X)}; use a larger split or pass validation_data"
            )
        perm = rng.permutation(len(X))
        # index sets, not copies: batches and validation are gathered from X by row
        val_rows, train_rows = perm[:n_val], perm[n_val:]
        X_val, y_val = X, y
        if sw is not None:
            sw = sw[perm[n_val:]]
    else:
        X_val = y_val = None

    if isinstance(optimizer, Optimizer):
        opt = optimizer
        if lr is not None:
            opt.lr = lr
    else:
        opt = get_optimizer(optimizer, net.parameters(), **({} if lr is None else {"lr": lr}))
    net.optimizer_ = opt
    if graph:
        net.loss_ = _pack(net, [item.name for item in losses])
        net.loss_weights_ = None if net._single_output else loss_weights
        graph_fns = _graph_metrics(net, metrics, losses)
        net.metrics_ = (
            metrics if isinstance(metrics, dict) else ([name for name, _ in graph_fns[0]] or None)
        )
        metric_fns, task = [], None  # the graph step keeps its own answers
    else:
        net.loss_ = loss.name
        metric_fns = _metric_list(metrics)
        net.metrics_ = [name for name, _ in metric_fns] or None
        task = output_task(loss, net.n_outputs)
    callbacks = list(callbacks or [])
    if verbose:
        from .progress import ProgressBar

        if not any(isinstance(cb, ProgressBar) for cb in callbacks):
            callbacks.append(ProgressBar(epochs, mode="auto" if verbose == 1 else "lines"))
    for cb in callbacks:
        cb.net = net
    net.stop_training = False

    n = len(X) if train_rows is None else len(train_rows)
    bs = n if batch_size is None else min(batch_size, n)
    starts = list(range(0, n, bs))
    widest = bs
    if len(starts) > 1 and n - starts[-1] == 1 and _has_batchnorm(net):
        del starts[-1]  # BatchNorm needs >= 2 rows: fold a 1-row tail into the batch before
        widest = bs + 1
    stops = starts[1:] + [n]
    if graph:
        step = _GraphStep(
            net, losses, loss_weights, graph_fns, X.arrays, y.arrays, widest, train_rows
        )
    else:
        x_buf = np.empty((widest, X.shape[1]), dtype=X.dtype)
        y_buf = np.empty((widest,) + y.shape[1:], dtype=y.dtype)
    weighted = sw is not None
    total_weight = float(sw.sum()) if weighted else float(n)
    penalised = [layer.weight for layer in net.layers if isinstance(layer, Dense)] if l2 else []
    # The shuffling generator and row order live on the network between calls,
    # so fitting again (an epoch at a time, say) goes on to new batch orders
    # instead of replaying the first call's; a seed passed to fit starts afresh.
    if shuffle:
        state = getattr(net, "_shuffle_state", None)
        if seed_given or state is None or len(state[1]) != n:
            state = net._shuffle_state = (rng, np.arange(n))
        rng, order = state
    else:
        order = np.arange(n)
    train_answers = (
        np.empty((n,) + _answer_shape(net, task), dtype=np.float64) if metric_fns else None
    )
    y_train = y if train_rows is None or not metric_fns or graph else y[train_rows]
    params = net.parameters()
    layers = net.layers
    n_layers = len(layers)

    history = History()
    guard = _DivergenceGuard(net)
    for cb in callbacks:
        cb.on_train_begin({"epochs": epochs, "y": y})  # y: e.g. Diagnostics' constant baseline
    modes = [layer.training for layer in layers]
    net.train()
    # overflow on the way to a NaN loss is reported once, as a DivergenceWarning
    errstate = np.errstate(over="ignore", invalid="ignore")
    errstate.__enter__()
    try:
        for epoch in range(epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            guard.epoch_start()
            if shuffle:
                rng.shuffle(order)
            total = 0.0
            for b, (start, stop) in enumerate(zip(starts, stops)):
                idx = order[start:stop]  # positions among the training rows
                m = len(idx)
                out = xb = None  # a graph's step keeps its own
                if graph:
                    wb = sw[idx] if weighted else None
                    norm = float(wb.sum()) if weighted else m
                    value = step.forward(idx, wb, norm)
                    if value is None:
                        continue  # every row of this batch has weight 0: no step
                else:
                    # mode="clip": the indices are valid by construction, and NumPy
                    # buffers `out` for the default mode="raise" (a second copy)
                    rows = idx if train_rows is None else train_rows[idx]
                    xb = np.take(X, rows, axis=0, out=x_buf[:m], mode="clip")
                    yb = np.take(y, rows, axis=0, out=y_buf[:m], mode="clip")
                    out = xb
                    for layer in layers:
                        out = layer.forward(out)
                    value = loss.forward(out, yb)
                    if train_answers is not None:
                        train_answers[idx] = _answer(out, task).reshape(
                            (m,) + train_answers.shape[1:]
                        )
                    norm = m
                    if weighted:
                        wb = sw[idx]
                        norm = float(wb.sum())
                        if norm <= 0:
                            continue  # every row of this batch has weight 0: no step
                        value = float(wb @ loss.row_losses(out, yb)) / norm
                if l2:  # the penalty l2 ||W||^2 / (2 n_b), on Dense weights only
                    scale = l2 / norm
                    squares = 0.0
                    for w in penalised:
                        flat = w.value.ravel()
                        squares += float(flat @ flat)
                    value += 0.5 * scale * squares
                if graph:
                    out, xb = step.outs, step.xb
                if guard.diverged(value, out, history, xb, epoch, b):
                    break
                if graph:
                    step.backward(norm)
                else:
                    grad = loss.backward()
                    if weighted:
                        grad = grad * (wb * (m / norm)).astype(grad.dtype)[:, None]
                    for i in range(n_layers - 1, -1, -1):
                        grad = layers[i].backward(grad, input_grad=i > 0)
                if l2:
                    for w in penalised:
                        w.grad += scale * w.value
                batch_logs = {"loss": value}
                if clip_norm is not None:  # callbacks see the norm before clipping hid it
                    batch_logs["grad_norm"] = clip_grad_norm(params, clip_norm)
                if clip_value is not None:
                    clip_grad_value(params, clip_value)
                opt.step()
                total += value * norm
                for cb in callbacks:
                    cb.on_batch_end(b, batch_logs)
            if history.diverged or guard.diverged_at_end(history, step.xb if graph else xb, epoch):
                break
            logs = {"loss": total / total_weight}
            for name, fn in metric_fns:
                logs[name] = fn(y_train, train_answers)
            if graph:
                logs.update(step.epoch_logs(total_weight))
            if X_val is not None and graph:
                val = _evaluate_graph(
                    net, X_val, y_val, losses, loss_weights, metrics, 4096, val_rows
                )
                logs.update({f"val_{k}": v for k, v in val.items()})
            elif X_val is not None:
                val = _evaluate_prepared(net, X_val, y_val, loss, metric_fns, 4096, val_rows)
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.append(epoch, logs)
            if schedule is not None:
                if hasattr(schedule, "patience"):  # ReduceLROnPlateau watches a number
                    schedule.step(logs.get("val_loss", logs["loss"]))
                else:
                    schedule.step()
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if net.stop_training:
                break
    finally:
        errstate.__exit__(None, None, None)
        for layer, mode in zip(layers, modes):
            layer.training = mode
    for cb in callbacks:
        cb.on_train_end({})
    net.history_ = history.history  # saved with the model, for `chainrule plot`
    return history


def _check_sample_weight(sample_weight, n: int) -> np.ndarray:
    try:
        sw = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must hold numbers") from None
    if sw.shape != (n,):
        raise ValueError(
            f"sample_weight has shape {sw.shape} but X has {n} rows; give one weight per row, "
            f"shape ({n},)"
        )
    if not np.isfinite(sw).all():
        raise ValueError(
            f"sample_weight contains NaN or inf (first at row {np.argwhere(~np.isfinite(sw))[0, 0]})"
        )
    if (sw < 0).any():
        raise ValueError(
            f"sample_weight must be non-negative; row {np.argmax(sw < 0)} has {sw[sw < 0][0]}"
        )
    if n and not (sw > 0).any():
        raise ValueError("sample_weight is zero for every row: there is nothing to learn from")
    return sw


def _class_weight_rows(class_weight, y: np.ndarray, loss: Loss, width: int | None) -> np.ndarray:
    """``fit``'s ``class_weight`` as one weight per row of the prepared targets ``y``."""
    if loss.kind == "regression":
        raise ValueError(
            f"class_weight is for classification, but loss {loss.name!r} is a regression loss; "
            "give sample_weight to weigh rows"
        )
    if not (isinstance(class_weight, dict) or class_weight == "balanced"):
        raise ValueError(
            f"class_weight must be 'balanced' or a dict {{class: weight}}, got {class_weight!r}"
        )
    width = width or 1
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        if loss.kind == "binary":
            raise ValueError(
                f"class_weight needs one class per row, but y has {y.shape[1]} 0/1 columns "
                "(several labels a row); give sample_weight instead"
            )
        labels, classes = y.argmax(axis=1), list(range(width))
    elif width > 1:
        labels, classes = y.ravel(), list(range(width))
    else:  # one output: class labels 0/1 (hinge: or -1/+1)
        labels = y.ravel()
        if not (np.isin(labels, (0, 1)).all() or np.isin(labels, (-1, 1)).all()):
            raise ValueError(
                "class_weight needs class labels 0/1 for a one-output network, but y holds "
                "other values (probabilities?); give sample_weight instead"
            )
        classes = [-1, 1] if (labels == -1).any() else [0, 1]
    labels = labels.astype(np.int64)
    if isinstance(class_weight, dict):
        return class_weight_rows(labels, class_weight, classes=classes)
    return class_weight_rows(labels, "balanced")  # K: the classes present


def _has_batchnorm(net: Sequential) -> bool:
    return any(isinstance(layer, BatchNorm) for layer in net.layers)


def _answer_shape(net: Sequential, task: str, width: int | None = None) -> tuple[int, ...]:
    k = (net.n_outputs if width is None else width) or 1
    if task == "multiclass" or k == 1:
        return ()
    return (k,)


def _activations(net: Sequential):
    from .activations import Activation

    for layer in net.layers:
        if isinstance(layer, Activation):
            yield layer
        act = getattr(layer, "activation", None)
        if act is not None:
            yield act

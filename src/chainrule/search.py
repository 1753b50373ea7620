"""Architecture and hyper-parameter search on Optuna: ``cr.search(X, y, n_trials=50)``.

Each trial builds a network from a point of the search space (a stack of
``Dense`` layers or residual blocks; depth, width, activation, learning rate,
dropout, weight decay and batch size drawn by Optuna's TPE sampler), trains
it with the recipe's schedule and whole budget (``chainrule.recipe``), and
scores it by k-fold cross-validation: every row is predicted once, by the
fold that did not train on it, with the fold's final weights (what the refit
on every row will deploy). The objective is what the user measures: the
error rate of those predictions for a classifier (ties broken by the
cross-entropy), their mean squared error for a regressor. Every trial sees
the same folds and the same seed. At every tenth of the first fold's epochs
its best validation loss so far goes to Optuna, and after each later fold
the validation loss of the folds done; the median pruner stops a trial doing
worse than the median of the completed trials at the same point.

Trial 0 is always the recipe's default, trained as ``chainrule train``
trains it, so the chosen configuration never scores worse than the default
on the validation rows; the default is kept unless the best trial beats it
by ``margin`` standard errors. The choice is then trained again on every row
(``refit=True``) exactly as ``chainrule train`` refits (the recipe's budget
for all the rows): chosen default, the same model as ``chainrule train
--validation-split 0``.

    result = cr.search(X, y, n_trials=50, seed=0)
    result.net.predict(X_new)        # the chosen network, trained on all rows
    print(result.table())            # every trial, best first
    result.to_frame()                # the same as a pandas DataFrame
    result.study                     # the Optuna study: plots, importances...

Optuna is an optional dependency: ``pip install "chainrule[search]"``.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import recipe
from .threads import blas_threads as _blas_threads

__all__ = ["SearchResult", "build_residual", "search", "search_space"]

#: The pruner's steps: tenths of the first fold's epoch budget (0-9), then one per later fold.
_STEPS_PER_FOLD = 10
#: No pruning before half the first fold's budget (the warm-up and the early epochs).
_WARMUP_STEPS = 5


def search_space(n_rows: int) -> dict[str, tuple]:
    """The search space for a table of ``n_rows`` training rows: name -> (kind, arguments).

    Centred on the recipe's default (``recipe.DEFAULTS``): widths 32 to 256
    around 100, learning rates 5e-4 to 1e-2 around 2e-3, dropout up to 0.3,
    decoupled weight decay (AdamW) of 0 to 1 (0: Adam, as the default), and
    batches of half, once or twice the recipe's ``batch_size_for(n_rows)``.
    Kinds: "int" and "int_log" (low, high), "float" and "float_log" (low,
    high), "categorical" (choices).

    Parameters
    ----------
    n_rows : int
        Rows each trial trains on (those of one fold's training part).
    """
    bs = recipe.batch_size_for(n_rows)
    sizes = tuple(sorted({min(256, max(16, b)) for b in (bs // 2, bs, 2 * bs)}))
    return {
        "architecture": ("categorical", ("stack", "residual")),
        "depth": ("int", 1, 3),
        "width": ("int_log", 32, 256),
        "activation": ("categorical", ("relu", "gelu", "silu")),
        "lr": ("float_log", 5e-4, 1e-2),
        "dropout": ("float", 0.0, 0.3),
        "weight_decay": ("categorical", (0.0, 0.01, 0.1, 1.0)),
        "batch_size": ("categorical", sizes),
    }


def _default_params(n_rows: int) -> dict[str, Any]:
    """The recipe's default, ``chainrule train``'s model, as a point of the search space."""
    return {
        "architecture": "stack",
        "depth": len(recipe.DEFAULTS["hidden"]),
        "width": int(recipe.DEFAULTS["hidden"][0]),
        "activation": recipe.DEFAULTS["activation"],
        "lr": recipe.DEFAULTS["lr"],
        "dropout": 0.0,
        "weight_decay": 0.0,
        "batch_size": recipe.batch_size_for(n_rows),
    }


def _inside(value, spec: tuple):
    """``value`` moved into the range or choices of ``spec`` (the nearest value it allows)."""
    kind, *a = spec
    if kind == "categorical":
        choices = list(a[0])
        if value in choices:
            return value
        numbers = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        if isinstance(value, (int, float)) and numbers:
            return min(numbers, key=lambda c: abs(c - value))
        return choices[0]
    low, high = a[0], a[1]
    return min(max(value, low), high)


def _suggest(trial, name: str, spec: tuple):
    kind, *a = spec
    if kind == "int":
        return trial.suggest_int(name, a[0], a[1])
    if kind == "int_log":
        return trial.suggest_int(name, a[0], a[1], log=True)
    if kind == "float":
        return trial.suggest_float(name, a[0], a[1])
    if kind == "float_log":
        return trial.suggest_float(name, a[0], a[1], log=True)
    if kind == "categorical":
        return trial.suggest_categorical(name, list(a[0]))
    raise ValueError(f"search space {name!r}: unknown kind {kind!r}")


def build_residual(
    n_inputs: int,
    width: int,
    blocks: int,
    activation: str,
    n_outputs: int,
    *,
    seed=None,
    dtype=np.float32,
    dropout: float = 0.0,
):
    """A residual MLP as a graph ``Network``: ``h = act(x W0)``, then ``h = h + act(h W_b)`` per block.

    Each block's ``Dense`` (and dropout) output is added to its input by
    ``Add``, so the gradient reaches the first layer through the skips
    unchanged; ``blocks`` blocks cost the products of a ``blocks + 1``-layer
    stack. The output layer starts at zero (the network answers 0 at step 0),
    as in the recipe's stack.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Widths of the input and of the (linear) output layer.
    width : int
        Width of the residual stream and of every block.
    blocks : int
        Number of residual blocks.
    activation : str
        Hidden activation name.
    seed : int or None, default None
        As for ``Network``.
    dtype : numpy dtype, default np.float32
        As for ``Network``.
    dropout : float
        Dropout probability after the first layer and inside each block (0: none).
    """
    from .layers import Dense, Dropout
    from .merge import Add
    from .network import Input, Network

    x = Input(n_inputs, name="x")
    h = Dense(n_inputs, width, activation=activation)(x, name="embed")
    if dropout > 0:
        h = Dropout(dropout)(h, name="embed_drop")
    for b in range(1, blocks + 1):
        r = Dense(width, width, activation=activation)(h, name=f"block{b}_dense")
        if dropout > 0:
            r = Dropout(dropout)(r, name=f"block{b}_drop")
        h = Add()(h, r, name=f"block{b}")
    out = Dense(width, n_outputs, weight_init="zeros")(h, name="out")
    return Network(inputs=x, outputs=out, seed=seed, dtype=dtype)


def _build(p: dict, n_inputs: int, n_outputs: int, seed: int, dtype):
    if p["architecture"] == "residual":
        return build_residual(
            n_inputs, p["width"], p["depth"], p["activation"], n_outputs,
            seed=seed, dtype=dtype, dropout=p["dropout"],
        )  # fmt: skip
    return recipe.build_mlp(
        n_inputs, [p["width"]] * p["depth"], p["activation"], n_outputs, seed=seed, dtype=dtype,
        dropout=p["dropout"], zero_last_layer=recipe.DEFAULTS["zero_last_layer"],
    )  # fmt: skip


def _batch_for(batch_size: int, n_rows: int, n_new: int) -> int:
    """The batch size for ``n_new`` rows, in the ratio to the recipe's it had for ``n_rows``.

    The recipe's own (``batch_size_for(n_rows)``) becomes ``batch_size_for(n_new)``,
    as in ``chainrule train``'s refit; half or twice it stays half or twice.
    """
    ratio = batch_size / recipe.batch_size_for(n_rows)
    return max(1, int(round(recipe.batch_size_for(n_new) * ratio)))


def _train(p: dict, X, Y, *, loss, n_out, seed, dtype, validation=None, callbacks=()):
    """Build and train one configuration as ``chainrule train`` does; return (net, history).

    The recipe's budget for ``len(X)`` rows, its warm-up/cosine schedule, its
    L2 penalty (``recipe.l2_for``), and the final weights (what a refit on
    every row deploys, so what is scored).
    """
    from .optimizers import get_optimizer
    from .training import fit

    n = len(X)
    bs = min(int(p["batch_size"]), n)
    epochs = recipe.epoch_budget(n, bs)
    net = _build(p, X.shape[1], n_out, seed, dtype)
    wd = float(p["weight_decay"])
    kwargs = {"lr": p["lr"], "betas": recipe.DEFAULTS["betas"]}
    if wd:
        kwargs["weight_decay"] = wd
    opt = get_optimizer("adamw" if wd else "adam", net.parameters(), **kwargs)
    steps = epochs * -(-n // bs)
    schedule = recipe.WarmupCosine(p["lr"], steps, recipe.DEFAULTS["warmup"])
    history = fit(
        net, X, Y, loss=loss, optimizer=opt, epochs=epochs, batch_size=bs,
        validation_data=validation, seed=seed, callbacks=[schedule, *callbacks],
        l2=recipe.l2_for("classify" if loss == "cross_entropy" else "regress"),
    )  # fmt: skip
    return net, history


def _row_losses(net, X, Y, task: str) -> np.ndarray:
    """Each row's loss: cross-entropy ``-log softmax(z)_y``, or the mean squared error of the row."""
    net.eval()
    out = np.asarray(net(X), dtype=np.float64)
    if task == "classify":
        top = out.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(out - top).sum(axis=1))
        return log_norm - out[np.arange(len(out)), Y]
    return ((out - Y) ** 2).mean(axis=1)


def _row_correct(net, X, Y, task: str) -> np.ndarray:
    """Classification: 1 where the top class is right; regression: the squared error of the row."""
    out = np.asarray(net(X), dtype=np.float64)
    if task == "classify":
        return (out.argmax(axis=1) == Y).astype(np.float64)
    return ((out - Y) ** 2).sum(axis=1)


def _folds(Y, k: int, classify: bool, rng) -> np.ndarray:
    """Fold number of each row: shuffled, and for classes dealt in turn (stratified)."""
    n = len(Y)
    perm = rng.permutation(n)
    if classify:
        perm = perm[np.argsort(Y[perm], kind="stable")]  # each class together, shuffled within
    fold = np.empty(n, dtype=np.intp)
    fold[perm] = np.arange(n) % k
    return fold


def _format_params(p: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


@dataclass
class SearchResult:
    """What ``search`` found.

    Attributes
    ----------
    net : Network
        The chosen configuration's network, trained (on every row with
        ``refit=True``); a regression network answers in the units of ``y``.
    best_params : dict
        Its point of the search space.
    best_value : float
        Its objective: the validation error rate (ties broken by the loss) for
        a classifier, the validation MSE on the standardised target for a
        regressor.
    default_value : float
        The objective of the recipe's default (trial 0).
    study : optuna.Study
        The whole study (``optuna.visualization`` plots, ``trials_dataframe``...).
    task : str
        "classify" or "regress".
    classes : ndarray or None
        The class labels, output ``k`` being ``classes[k]``.
    scores : dict
        The best trial's validation figures: ``{"val_score": accuracy or R²,
        "val_loss": cross-entropy or MSE on the standardised target}``.
    default_scores : dict
        The same for the recipe's default (trial 0).
    chosen : int
        The number of the trial whose configuration ``net`` has: the best
        trial, or 0 (the default) when the best did not beat it by ``margin``
        standard errors.
    gain : float
        The best trial's gain over the default in standard errors of the
        paired per-row difference (0 when the default is the best, inf when
        it did not complete).
    refit_epochs : int or None
        Epochs of the final training on every row (None without refit).
    space : dict
        The search space that was searched.
    """

    net: Any
    best_params: dict
    best_value: float
    default_value: float
    study: Any
    task: str
    classes: np.ndarray | None = None
    scores: dict = field(default_factory=dict)
    default_scores: dict = field(default_factory=dict)
    chosen: int = 0
    gain: float = math.inf
    refit_epochs: int | None = None
    space: dict = field(default_factory=dict)

    def to_frame(self):
        """Every trial as a pandas DataFrame, best first (pruned trials last).

        Columns: ``trial``, ``state`` ("complete", "pruned", "fail"),
        ``value`` (the objective, see ``best_value``), ``val_score``
        (accuracy or R² of the held-out rows), ``val_loss``,
        ``epochs`` (epochs trained, all folds together), ``seconds``, then
        one column per parameter of the search space.
        """
        import pandas as pd

        rows = []
        for t in self.study.trials:
            rows.append(
                {
                    "trial": t.number,
                    "state": t.state.name.lower(),
                    "value": t.value if t.state.name == "COMPLETE" else np.nan,
                    "val_score": t.user_attrs.get("val_score", np.nan),
                    "val_loss": t.user_attrs.get("val_loss", np.nan),
                    "epochs": t.user_attrs.get("epochs", np.nan),
                    "seconds": t.duration.total_seconds() if t.duration else np.nan,
                    **{name: t.params.get(name) for name in self.space},
                }
            )
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        frame["_done"] = frame["state"] != "complete"
        frame = frame.sort_values(["_done", "value", "trial"], kind="stable")
        return frame.drop(columns="_done").reset_index(drop=True)

    def table(self, top: int = 10) -> str:
        """The completed trials, best first, as a text table.

        Parameters
        ----------
        top : int, default 10
            How many trials to show.
        """
        import optuna

        done = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        done.sort(key=lambda t: (t.value, t.number))
        names = list(self.space)
        head = ["trial", "val_score", "val_loss", *names]
        rows = []
        for t in done[:top]:
            p = t.params
            cells = [
                str(t.number),
                f"{t.user_attrs.get('val_score', float('nan')):.4f}",
                f"{t.user_attrs.get('val_loss', float('nan')):.4f}",
            ]
            for n in names:
                v = p.get(n)
                cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
            rows.append(cells)
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
        ]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in self.study.trials)
        lines.append(f"{len(done)} complete, {pruned} pruned; trial 0 is the recipe's default")
        lines.append(self.choice())
        return "\n".join(lines)

    def choice(self) -> str:
        """One line: which trial ``net`` comes from, and why."""
        best = self.study.best_trial.number
        if self.chosen == best:
            why = "the default is the best" if best == 0 else f"{self.gain:.1f} SE over the default"
            return f"chosen: trial {best} ({why})"
        return (
            f"chosen: trial {self.chosen}, the default: the best, trial {best}, beat it by "
            f"{self.gain:.1f} standard errors on the validation rows, within the margin"
        )


def _check_whole(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")


def search(
    X,
    y,
    *,
    task: str | None = None,
    n_trials: int = 50,
    timeout: float | None = None,
    cv: int = 5,
    validation_data: tuple | None = None,
    refit: bool = True,
    margin: float = 2.0,
    space: dict | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    threads: int | None = 1,
    progress: bool | Callable[[str], None] = False,
    dtype=np.float32,
) -> SearchResult:
    """Search an MLP's architecture and training hyper-parameters with Optuna.

    A trial's value is its out-of-fold error rate ``(1/n) sum_i [yhat_i != y_i]``
    (plus ``L / (1000 n)``, the mean cross-entropy ``L`` breaking ties) for a
    classifier, its out-of-fold mean squared error on the standardised target
    for a regressor; each row ``i`` is predicted by the fold that held it out.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric inputs (standardise them, or use ``chainrule tune`` on a table).
    y : array-like of shape (n_samples,)
        Class labels or regression values.
    task : {"classify", "regress"} or None
        None detects it as ``chainrule train`` does
        (``preprocessing.detect_task``): text, booleans or a few whole numbers
        are classes.
    n_trials : int, default 50
        Stop after this many trials (or ``timeout``, whichever comes first).
    timeout : float or None, default None
        Seconds for the whole search, refit included (None: no limit): no
        trial starts, and one running stops, once what is left is what the
        slowest trial's fold, scaled to every row, says the refit will take.
        Trial 0, the default, always finishes.
    cv : int, default 5
        Folds of the cross-validation that scores every trial (stratified by
        class); each fold trains on ``(cv - 1) / cv`` of the rows, 80% for 5.
    validation_data : tuple (X_val, y_val) or None, default None
        An explicit validation set instead of ``cv``: trials train on ``X``
        and are scored on it.
    refit : bool, default True
        Train the chosen configuration again on every row (``X`` and
        ``validation_data``) for the recipe's budget, as ``chainrule train``
        refits; False returns the network of its first fold (or of the
        ``validation_data`` run), as it was scored.
    margin : float, default 2.0
        The best trial replaces the default only if it beats it by more than
        ``margin`` standard errors of the paired per-row difference,
        ``mean(d) > margin * sd(d) / sqrt(n)`` with ``d_i`` the default's
        error (or loss) on row ``i`` minus the best trial's: the best of
        many noisy scores is optimistic, and on a small table the default is
        often as good. 0 takes the best trial whenever it is better.
    space : dict or None, default None
        Replaces entries of ``search_space(n)`` (name -> (kind, arguments));
        a one-choice ``("categorical", (v,))`` fixes a parameter. Where the
        recipe's default lies outside it, trial 0 takes the nearest value the
        space allows.
    seed : int
        Seeds the TPE sampler, the folds, and every trial's weights and
        shuffling (the same for all trials): with ``n_jobs=1`` the same seed
        gives the same search.
    n_jobs : int
        Trials run in parallel threads (the order, hence the result, may then vary).
    threads : int or None
        BLAS threads during the search (through threadpoolctl, when it is
        installed; ``None`` leaves the library's default). One thread is the
        fast choice for small networks, whose tiny matrix products gain
        nothing from threads that wait for each other: four 200-row trials
        took 0.27 s with one thread and 4.5 s with the default two (one
        measurement, with an earlier form of this search) on this
        shared 2-core machine. Use ``n_jobs`` for parallelism instead.
    progress : bool or callable
        A plain line per finished trial (its value, the best so far, its
        parameters): True prints them to stderr, a callable receives them.
    dtype : numpy dtype, default np.float32
        Precision of every trial's network.

    Returns
    -------
    SearchResult

    Notes
    -----
    The pruner is Optuna's ``MedianPruner``: it sees the first fold's lowest
    validation loss so far at every tenth of its epoch budget (so trials of
    different budgets meet at the same points), then after each later fold
    the validation loss of the folds done; it prunes nothing in the first 5
    trials nor in the first half of the first fold. The sampler is
    ``TPESampler(seed=seed)``.
    """
    try:
        import optuna
    except ImportError:
        raise ImportError('search needs Optuna: pip install "chainrule[search]"') from None
    from .preprocessing import detect_task

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be 2-D with one row per target; got X {X.shape}, y {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds NaN or infinite values; impute or drop them first")
    if task is None:
        task = detect_task(y)[0]
    if task not in ("classify", "regress"):
        raise ValueError(f"task must be 'classify', 'regress' or None, got {task!r}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    _check_whole("n_jobs", n_jobs, 1)
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0 or None, got {timeout!r}")
    if validation_data is None:
        _check_whole("cv", cv, 2)
        if cv > len(X):
            raise ValueError(f"cv={cv} folds need at least {cv} rows; got {len(X)}")

    classes = None
    if task == "classify":
        classes, Y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("classification needs at least 2 classes in y")
        loss, n_out = "cross_entropy", len(classes)
    else:
        Y = y.astype(np.float64).reshape(len(y), -1)
        loss, n_out = "mse", Y.shape[1]

    # the parts: [(train rows, validation rows)] over X_all, Y_all (X then validation_data)
    if validation_data is not None:
        X_val = np.asarray(validation_data[0], dtype=np.float64)
        y_val = np.asarray(validation_data[1])
        if X_val.ndim != 2 or X_val.shape[1] != X.shape[1] or len(X_val) != len(y_val):
            raise ValueError(
                f"validation_data must be (X_val, y_val) with {X.shape[1]} columns and one row "
                f"per target; got X_val {X_val.shape}, y_val {y_val.shape}"
            )
        if task == "classify":
            idx = np.searchsorted(classes, y_val)
            if np.any(idx >= len(classes)) or np.any(
                classes[np.minimum(idx, len(classes) - 1)] != y_val
            ):
                raise ValueError("validation_data holds classes that y does not")
            Y_val = idx
        else:
            Y_val = y_val.astype(np.float64).reshape(len(y_val), -1)
        n_fit = len(X)
        X_all = np.concatenate([X, X_val])
        Y_all = np.concatenate([Y, Y_val])
        parts = [(np.arange(n_fit), np.arange(n_fit, len(X_all)))]
    else:
        X_all, Y_all = X, Y
        fold = _folds(Y, cv, task == "classify", np.random.default_rng(seed))
        parts = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(cv)]
    if min(len(p[0]) for p in parts) < 2 or min(len(p[1]) for p in parts) < 1:
        raise ValueError(f"too few rows to search: {len(X_all)}")

    shift = scale = None
    if task == "regress":  # the recipe's standardised target (statistics of the training rows)
        shift = Y_all[: len(X)].mean(axis=0)
        sd = Y_all[: len(X)].std(axis=0)
        scale = np.where(sd > 0, sd, 1.0)
        Y_all = ((Y_all - shift) / scale).astype(dtype)
    X_all = X_all.astype(dtype)
    n_rows = len(parts[0][0])

    grid = search_space(n_rows)
    if space:
        unknown = sorted(set(space) - set(grid))
        if unknown:
            raise ValueError(f"space names unknown parameter(s) {unknown}; known: {list(grid)}")
        grid.update(space)
    default = {name: _inside(v, grid[name]) for name, v in _default_params(n_rows).items()}

    nets: dict[int, Any] = {}  # without refit: each trial's first-fold network
    rows_of: dict[int, np.ndarray] = {}  # each row's error (or loss) out of fold
    lock = threading.Lock()

    from .callbacks import Callback

    class _Report(Callback):
        """The first fold's lowest validation loss so far to the pruner, at every tenth of it."""

        def __init__(self, trial, fold: int, budget: int) -> None:
            self.trial, self.fold, self.budget = trial, fold, budget
            self.epochs, self.best_value = 0, math.inf

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1
            self.best_value = min(self.best_value, float((logs or {}).get("val_loss", math.inf)))
            if self.trial.number > 0 and _time_left() < 0:  # the default always finishes
                raise optuna.TrialPruned("out of time")
            # at each tenth of the budget: trials of any budget report at the same steps
            done = _STEPS_PER_FOLD * (epoch + 1) // self.budget
            if self.fold == 0 and done > _STEPS_PER_FOLD * epoch // self.budget:
                self.trial.report(float(self.best_value), done - 1)
                if self.trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

    def objective(trial) -> float:
        p = {name: _suggest(trial, name, spec) for name, spec in grid.items()}
        losses = np.empty(len(X_all))
        hits = np.empty(len(X_all))
        reports, first = [], None
        try:
            for f, (tr, va) in enumerate(parts):
                budget = recipe.epoch_budget(len(tr), min(int(p["batch_size"]), len(tr)))
                reports.append(_Report(trial, f, budget))
                report = reports[-1]
                net, history = _train(
                    p, X_all[tr], Y_all[tr], loss=loss, n_out=n_out, seed=seed, dtype=dtype,
                    validation=(X_all[va], Y_all[va]), callbacks=[report],
                )  # fmt: skip
                if history.diverged:
                    raise optuna.TrialPruned("diverged")
                losses[va] = _row_losses(net, X_all[va], Y_all[va], task)
                hits[va] = _row_correct(net, X_all[va], Y_all[va], task)
                if f > 0:  # after each later fold, the validation loss of the folds so far
                    so_far = np.concatenate([v for _, v in parts[: f + 1]])
                    trial.report(float(losses[so_far].mean()), _STEPS_PER_FOLD + f - 1)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after fold {f + 1}")
                first = net if first is None else first
        finally:
            trial.set_user_attr("epochs", sum(r.epochs for r in reports))
        seen = np.concatenate([va for _, va in parts])
        if task == "classify":
            score = float(hits[seen].mean())
        else:
            total = ((Y_all[seen] - Y_all[seen].mean(axis=0)) ** 2).sum()
            score = float(1 - hits[seen].sum() / total) if total > 0 else float("nan")
        val_loss = float(losses[seen].mean())
        trial.set_user_attr("val_score", score)
        trial.set_user_attr("val_loss", val_loss)
        trial.set_user_attr("budget", budget)
        per_row = 1.0 - hits[seen] if task == "classify" else losses[seen]
        if task == "classify":  # the error rate; the loss only breaks ties (< one row for L < 1000)
            value = float(per_row.mean() + val_loss / (1000 * len(seen)))
        else:
            value = val_loss
        with lock:
            rows_of[trial.number] = per_row
            if not refit:
                nets[trial.number] = first
        return value

    t0 = time.perf_counter()
    refit_cost = [0.0]  # the slowest completed trial's one fold, scaled to every row

    def _time_left() -> float:
        """Seconds left for trials, keeping back what the refit on every row should take."""
        if timeout is None:
            return math.inf
        return t0 + timeout - (refit_cost[0] if refit else 0.0) - time.perf_counter()

    def _budget(study, t) -> None:
        if t.state == optuna.trial.TrialState.COMPLETE and t.duration is not None:
            fold = t.duration.total_seconds() / len(parts)
            with lock:
                refit_cost[0] = max(refit_cost[0], fold * len(X_all) / n_rows)
        if _time_left() <= 0:
            study.stop()

    callbacks = [_budget]
    if progress:
        say = progress if callable(progress) else (lambda line: print(line, file=sys.stderr))
        t_start = time.perf_counter()
        finished = []

        def _line(study, t) -> None:
            with lock:
                finished.append(t.number)
                head = f"[{len(finished)}/{n_trials}] trial {t.number}"
            if t.state == optuna.trial.TrialState.COMPLETE:
                a = t.user_attrs
                what = f"val_score {a['val_score']:.4f}, val_loss {a['val_loss']:.4f}"
            else:
                what = f"{t.state.name.lower()} after {t.user_attrs.get('epochs', 0)} epoch(s)"
            try:
                b = study.best_trial
                best = f"best trial {b.number} (val_score {b.user_attrs['val_score']:.4f})"
            except ValueError:
                best = "no trial complete yet"
            say(
                f"{head}: {what}; {best}; {time.perf_counter() - t_start:.1f}s; "
                f"{_format_params(t.params)}"
            )

        callbacks.append(_line)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=_WARMUP_STEPS),
    )
    study.enqueue_trial(default)
    with _blas_threads(threads):
        study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs, callbacks=callbacks)
        if not rows_of:
            raise RuntimeError("no trial completed: every one was pruned or diverged")
        best = study.best_trial
        gain = 0.0 if best.number == 0 else math.inf
        if best.number != 0 and 0 in rows_of:
            # the best trial's gain over the default, in standard errors of the paired rows
            d = rows_of[0] - rows_of[best.number]
            se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else 0.0
            gain = float(d.mean() / se) if se > 0 else (math.inf if d.mean() > 0 else 0.0)
            if gain <= margin:
                best = study.trials[0]
        params = {name: best.params[name] for name in grid}
        refit_epochs = None
        if refit:  # the recipe's budget for every row, at the batch size relative to the recipe's
            scaled = dict(params, batch_size=_batch_for(params["batch_size"], n_rows, len(X_all)))
            net, history = _train(
                scaled, X_all, Y_all, loss=loss, n_out=n_out, seed=seed, dtype=dtype
            )  # fmt: skip
            refit_epochs = len(history)
            if history.diverged:
                raise RuntimeError(f"the refit on every row diverged: {history.stop_reason}")
        else:
            net = nets[best.number]
    if task == "regress":
        recipe.rescale_output(net, scale, shift)
    net.eval()  # ready to predict: dropout off
    net.loss_ = loss
    net.clear_cache()
    first = study.trials[0]
    done = first.state == optuna.trial.TrialState.COMPLETE
    return SearchResult(
        net=net, best_params=params, best_value=float(best.value),
        default_value=float(first.value) if done else math.inf, study=study, task=task,
        classes=classes, refit_epochs=refit_epochs, chosen=best.number, gain=gain,
        scores={k: best.user_attrs.get(k) for k in ("val_score", "val_loss")},
        default_scores={k: first.user_attrs.get(k) for k in ("val_score", "val_loss")},
        space=grid,
    )  # fmt: skip

"""Architecture and hyper-parameter search on Optuna: ``cr.search(X, y, n_trials=50)``.

Each trial builds an MLP with ``chainrule.recipe`` (depth, width, activation,
learning rate, dropout, weight decay and batch size drawn by Optuna's TPE
sampler), trains it with the recipe's schedule and budget, and scores it by
its best validation loss. After every epoch the validation loss is reported
to Optuna, whose median pruner stops a trial that is doing worse than the
median of earlier trials at the same epoch. The first trial is always the
recipe's default, so the result is never worse than the default on the
validation rows.

    result = cr.search(X, y, n_trials=50, seed=0)
    result.net.predict(X_new)        # the best network, trained
    print(result.table())            # every trial, best first
    result.study                     # the Optuna study: plots, importances...

Optuna is an optional dependency: ``pip install "chainrule[search]"``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import recipe
from .threads import blas_threads as _blas_threads

__all__ = ["SearchResult", "search"]

#: The search space: name -> (kind, arguments).
SPACE: dict[str, tuple] = {
    "depth": ("int", 1, 3),
    "width": ("int_log", 16, 512),
    "activation": ("categorical", ("relu", "gelu", "silu", "tanh")),
    "lr": ("float_log", 1e-4, 3e-2),
    "dropout": ("float", 0.0, 0.5),
    "weight_decay": ("float_log", 1e-6, 1e-1),
    "batch_size": ("categorical", (16, 32, 64, 128, 256)),
}


def _default_params(n_train: int) -> dict[str, Any]:
    """The recipe's defaults as a point of the search space (the first trial)."""
    bs = recipe.batch_size_for(n_train)
    return {
        "depth": len(recipe.DEFAULTS["hidden"]),
        "width": int(recipe.DEFAULTS["hidden"][0]),
        "activation": recipe.DEFAULTS["activation"],
        "lr": recipe.DEFAULTS["lr"],
        "dropout": 0.0,
        "weight_decay": 1e-6,
        "batch_size": min(SPACE["batch_size"][1], key=lambda b: abs(b - bs)),
    }


def _suggest(trial, name: str):
    kind, *a = SPACE[name]
    if kind == "int":
        return trial.suggest_int(name, a[0], a[1])
    if kind == "int_log":
        return trial.suggest_int(name, a[0], a[1], log=True)
    if kind == "float":
        return trial.suggest_float(name, a[0], a[1])
    if kind == "float_log":
        return trial.suggest_float(name, a[0], a[1], log=True)
    return trial.suggest_categorical(name, list(a[0]))


@dataclass
class SearchResult:
    """What ``search`` found.

    Attributes
    ----------
    net : Sequential
        The best trial's network, trained (a regression network answers in
        the units of ``y``).
    best_params : dict
        Its point of the search space.
    best_value : float
        Its validation loss (cross-entropy, or MSE on the standardised target).
    default_value : float
        The validation loss of the recipe's default (trial 0).
    study : optuna.Study
        The whole study (``optuna.visualization`` plots, ``trials_dataframe``...).
    task : str
        "classify" or "regress".
    classes : ndarray or None
        The class labels, output ``k`` being ``classes[k]``.
    scores : dict
        The best trial's validation score: ``{"val_score": accuracy}`` for a
        classifier, ``{"val_score": R²}`` for a regressor.
    """

    net: Any
    best_params: dict
    best_value: float
    default_value: float
    study: Any
    task: str
    classes: np.ndarray | None = None
    scores: dict = field(default_factory=dict)

    def table(self, top: int = 10) -> str:
        """The completed trials, best first, as a text table.

        Parameters
        ----------
        top : int, default 10
            How many trials to show.
        """
        import optuna

        done = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        done.sort(key=lambda t: t.value)
        names = list(SPACE)
        head = ["trial", "val_loss", "val_score", *names]
        rows = []
        for t in done[:top]:
            p = t.params
            cells = [
                str(t.number),
                f"{t.value:.4f}",
                f"{t.user_attrs.get('val_score', float('nan')):.4f}",
            ]
            for n in names:
                v = p.get(n)
                cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
            rows.append(cells)
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
        ]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in self.study.trials)
        lines.append(f"{len(done)} complete, {pruned} pruned; trial 0 is the recipe's default")
        return "\n".join(lines)


def _infer_task(y: np.ndarray) -> str:
    if y.dtype.kind in "OUSb":
        return "classify"
    values = np.unique(y)
    whole = y.dtype.kind in "iu" or bool(np.all(values == np.round(values)))
    return "classify" if whole and len(values) <= min(20, max(2, len(y) // 5)) else "regress"


def search(
    X,
    y,
    *,
    task: str | None = None,
    n_trials: int = 50,
    timeout: float | None = None,
    validation_fraction: float = 0.2,
    validation_data: tuple | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    threads: int | None = 1,
    progress: bool = False,
    dtype=np.float32,
) -> SearchResult:
    """Search an MLP's architecture and training hyper-parameters with Optuna.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric inputs (standardise them, or use ``chainrule tune`` on a table).
    y : array-like of shape (n_samples,)
        Class labels or regression values.
    task : {"classify", "regress"} or None
        None guesses: text, booleans or a few whole numbers are classes.
    n_trials : int, default 50
        Stop after this many trials (or ``timeout``, whichever comes first).
    timeout : float or None, default None
        Stop after this many seconds (None: no limit).
    validation_fraction : float
        Rows held out (stratified by class) to score the trials, unless
        ``validation_data=(X_val, y_val)`` is given.
    validation_data : tuple (X_val, y_val) or None, default None
        An explicit validation set instead of a held-out fraction.
    seed : int
        Seeds the TPE sampler, the split, and every trial's weights and
        shuffling: with ``n_jobs=1`` the same seed gives the same search.
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
    progress : bool
        Optuna's progress bar.
    dtype : numpy dtype, default np.float32
        Precision of every trial's network.

    Returns
    -------
    SearchResult

    Notes
    -----
    The objective is the lowest validation loss over a trial's epochs
    (``RestoreBest`` keeps those weights). The pruner is Optuna's
    ``MedianPruner`` (5 startup trials, 5 warm-up epochs) on the per-epoch
    validation loss; the sampler is ``TPESampler(seed=seed)``.
    """
    try:
        import optuna
    except ImportError:
        raise ImportError('search needs Optuna: pip install "chainrule[search]"') from None
    from .optimizers import get_optimizer
    from .training import fit

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be 2-D with one row per target; got X {X.shape}, y {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds NaN or infinite values; impute or drop them first")
    if task is None:
        task = _infer_task(y)
    if task not in ("classify", "regress"):
        raise ValueError(f"task must be 'classify', 'regress' or None, got {task!r}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    rng = np.random.default_rng(seed)

    classes = None
    if task == "classify":
        classes, Y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("classification needs at least 2 classes in y")
        loss, n_out = "cross_entropy", len(classes)
    else:
        Y = y.astype(np.float64).reshape(len(y), -1)
        loss, n_out = "mse", Y.shape[1]

    if validation_data is not None:
        X_val = np.asarray(validation_data[0], dtype=np.float64)
        y_val = np.asarray(validation_data[1])
        if task == "classify":
            idx = np.searchsorted(classes, y_val)
            if np.any(idx >= len(classes)) or np.any(
                classes[np.minimum(idx, len(classes) - 1)] != y_val
            ):
                raise ValueError("validation_data holds classes that y does not")
            Y_val = idx
        else:
            Y_val = y_val.astype(np.float64).reshape(len(y_val), -1)
        X_tr, Y_tr = X, Y
    else:
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        perm = rng.permutation(len(X))
        if task == "classify":  # stratified: every class in both parts where possible
            val = np.concatenate(
                [p[: max(1, int(round(validation_fraction * len(p))))]
                 for p in (perm[Y[perm] == k] for k in range(len(classes)))]
            )  # fmt: skip
        else:
            val = perm[: max(1, int(round(validation_fraction * len(X))))]
        mask = np.zeros(len(X), dtype=bool)
        mask[val] = True
        X_tr, Y_tr, X_val, Y_val = X[~mask], Y[~mask], X[mask], Y[mask]
    if len(X_tr) < 2 or len(X_val) < 1:
        raise ValueError(f"too few rows to search: {len(X_tr)} to train, {len(X_val)} to validate")

    shift = scale = None
    if task == "regress":  # the recipe's standardised target
        shift = Y_tr.mean(axis=0)
        sd = Y_tr.std(axis=0)
        scale = np.where(sd > 0, sd, 1.0)
        Y_tr, Y_val = (Y_tr - shift) / scale, (Y_val - shift) / scale
    X_tr, X_val = X_tr.astype(dtype), X_val.astype(dtype)
    Y_tr = Y_tr.astype(dtype) if task == "regress" else Y_tr
    Y_val = Y_val.astype(dtype) if task == "regress" else Y_val
    n_train = len(X_tr)

    best = {"value": math.inf, "net": None}
    lock = threading.Lock()
    seeds = rng.integers(np.iinfo(np.int32).max, size=n_trials + 1024)

    class _Report(recipe.RestoreBest):
        def __init__(self, trial) -> None:
            super().__init__("val_loss")
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.trial.report(float(logs["val_loss"]), epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

    def objective(trial) -> float:
        p = {name: _suggest(trial, name) for name in SPACE}
        bs = min(int(p["batch_size"]), n_train)
        trial_seed = int(seeds[trial.number % len(seeds)])
        net = recipe.build_mlp(
            X_tr.shape[1], [p["width"]] * p["depth"], p["activation"], n_out,
            seed=trial_seed, dtype=dtype, dropout=p["dropout"], zero_last_layer=True,
        )  # fmt: skip
        opt = get_optimizer(
            "adamw", net.parameters(), lr=p["lr"], betas=recipe.DEFAULTS["betas"],
            weight_decay=p["weight_decay"],
        )  # fmt: skip
        epochs = recipe.epoch_budget(n_train, bs)
        steps = epochs * -(-n_train // bs)
        report = _Report(trial)
        history = fit(
            net, X_tr, Y_tr, loss=loss, optimizer=opt, epochs=epochs, batch_size=bs,
            validation_data=(X_val, Y_val), seed=trial_seed,
            callbacks=[recipe.WarmupCosine(p["lr"], steps, recipe.DEFAULTS["warmup"]), report],
        )  # fmt: skip
        if history.diverged or report.best_epoch is None:
            raise optuna.TrialPruned("diverged")
        net.eval()
        out = net(X_val).astype(np.float64)
        if task == "classify":
            score = float(np.mean(out.argmax(axis=1) == Y_val))
        else:
            resid = ((out - Y_val) ** 2).sum()
            score = float(1 - resid / ((Y_val - Y_val.mean(axis=0)) ** 2).sum())
        trial.set_user_attr("val_score", score)
        trial.set_user_attr("best_epoch", report.best_epoch)
        value = float(report.best_value)
        with lock:
            if value < best["value"]:
                best.update(value=value, net=net)
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
    )
    study.enqueue_trial(_default_params(n_train))
    with _blas_threads(threads):
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs, show_progress_bar=progress
        )
    if best["net"] is None:
        raise RuntimeError("no trial completed: every one was pruned or diverged")
    net = best["net"]
    if task == "regress":
        recipe.rescale_output(net, scale, shift)
    net.loss_ = loss
    net.clear_cache()
    default = study.trials[0]
    default_value = default.value if default.value is not None else math.inf
    return SearchResult(
        net=net, best_params=dict(study.best_params), best_value=float(study.best_value),
        default_value=float(default_value), study=study, task=task, classes=classes,
        scores={"val_score": study.best_trial.user_attrs.get("val_score")},
    )  # fmt: skip

"""Architecture and hyper-parameter search on Optuna: ``cr.search`` and ``chainrule tune``.

Optuna does the searching; this module only says what a trial is:

- a **sampler** proposes a network: depth, width, activation, learning
  rate, dropout, weight decay, batch size and (for depth >= 2) whether the
  hidden layers are joined by residual skips, ``h_{k+1} = h_k + f(W h_k + b)``;
  by default the seeded TPE sampler (a Tree-structured Parzen Estimator
  that models ``p(params | good)`` against ``p(params | bad)`` and picks
  the params maximising their ratio);
- the network trains with AdamW on the training rows; after every epoch its
  **validation loss** is reported to the trial, and a **pruner** (by default
  ``MedianPruner``: stop a trial whose loss at epoch ``t`` is worse than the
  median of the finished trials at ``t``) cuts hopeless trials short;
- a trial's value is its best validation loss, and its network keeps the
  weights of that epoch. The best trial's network comes back, with the
  table's preprocessing stored in it, so ``chainrule predict`` can use it.

Optuna (and pandas, for tables) are optional: ``pip install "chainrule[tune]"``.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .callbacks import Callback

__all__ = ["BASELINE", "DEFAULT_SPACE", "SearchResult", "search"]

#: The default search space. A list is a categorical choice, a 2-tuple a range
#: (sampled on a log scale for ``lr`` and ``weight_decay``), anything else fixed.
DEFAULT_SPACE: dict[str, Any] = {
    "n_layers": (1, 3),
    "width": [16, 32, 64, 128, 256],
    "activation": ["relu", "gelu", "silu", "tanh", "elu"],
    "lr": (1e-4, 3e-2),
    "dropout": (0.0, 0.5),
    "weight_decay": (1e-6, 1e-1),
    "batch_size": [16, 32, 64, 128],
    "residual": [False, True],
}
_LOG_SCALE = {"lr", "weight_decay"}

#: The first trial of a new study: a plain network like ``chainrule train``'s
#: default (two ReLU layers of 64, Adam's usual 1e-3, batch 32), so the search
#: starts from a known-good point and its best is never worse on the
#: validation rows.
BASELINE: dict[str, Any] = {
    "n_layers": 2,
    "width": 64,
    "activation": "relu",
    "lr": 1e-3,
    "dropout": 0.0,
    "weight_decay": 1e-6,
    "batch_size": 32,
    "residual": False,
}

_INSTALL = 'pip install "chainrule[tune]"'


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(f"search needs Optuna, which is not installed: {_INSTALL}") from None
    return optuna


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"search needs pandas for its tables: {_INSTALL}") from None
    return pd


# =============================================================================
# One trial: sample, build, train, report
# =============================================================================
def _suggest(trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Draw every parameter of ``space`` from ``trial`` (fixed values are recorded as given)."""
    params = {}
    for name, spec in space.items():
        if name == "residual" and params.get("n_layers", 2) < 2:
            params[name] = False  # one hidden layer has nothing to skip over
            continue
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec, tuple) and len(spec) == 2:
            lo, hi = spec
            if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                params[name] = trial.suggest_int(name, lo, hi)
            else:
                params[name] = trial.suggest_float(
                    name, float(lo), float(hi), log=name in _LOG_SCALE and lo > 0
                )
        else:
            params[name] = spec
            trial.set_user_attr(name, spec)
    return params


def build_candidate(
    n_inputs: int,
    n_outputs: int,
    params: Mapping[str, Any],
    seed: int | None = None,
):
    """The network a trial's ``params`` describe.

    ``n_layers`` hidden ``Dense(width, activation)`` layers (each followed
    by ``Dropout(dropout)`` when ``dropout > 0``) and a linear output layer.
    With ``residual`` the hidden layers after the first are skip connections,
    ``h_{k+1} = h_k + drop(act(W_k h_k + b_k))``, built as a ``cr.Network``
    with ``cr.Add``; otherwise it is a ``cr.Sequential``.
    """
    from .layers import Dense, Dropout
    from .merge import Add
    from .network import Network, Sequential
    from .node import Input

    depth, width = int(params["n_layers"]), int(params["width"])
    act, p = params["activation"], float(params["dropout"])

    def hidden(n_in: int) -> list:
        return [Dense(n_in, width, activation=act)] + ([Dropout(p)] if p > 0 else [])

    if not params.get("residual") or depth < 2:
        sizes = [n_inputs] + [width] * depth
        layers = [layer for a in sizes[:-1] for layer in hidden(a)]
        return Sequential(*layers, Dense(sizes[-1], n_outputs), seed=seed)
    x = Input(n_inputs, name="x")
    h = x
    for layer in hidden(n_inputs):
        h = layer(h)
    for _ in range(depth - 1):
        r = h
        for layer in hidden(width):
            r = layer(r)
        h = Add()(h, r)
    return Network(inputs=x, outputs=Dense(width, n_outputs)(h), seed=seed)


class _Report(Callback):
    """A ``fit`` callback: each epoch's validation loss to the Optuna trial, and prune.

    ``trial.report(val_loss, epoch)``, then ``trial.should_prune()`` asks the
    pruner; a pruned trial stops after this epoch (``search`` then raises
    ``optuna.TrialPruned``). A non-finite loss ends the trial as pruned too.
    """

    def __init__(self, trial) -> None:
        self.trial = trial
        self.pruned_at: int | None = None

    def on_train_begin(self, logs=None) -> None:
        self.pruned_at = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = float((logs or {}).get("val_loss", math.nan))
        if not math.isfinite(value):
            self.pruned_at = epoch
            self.net.stop_training = True
            return
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            self.net.stop_training = True


# =============================================================================
# The result
# =============================================================================
class SearchResult:
    """What ``search`` found.

    Attributes
    ----------
    study : optuna.Study
        The study (all trials, their parameters, values and states).
    best_model : Network
        The best trial's network with the weights of its best validation
        epoch and the table's preprocessing (``preprocessing_``): save it
        with ``cr.save`` and ``chainrule predict`` applies the same steps.
    best_params : dict
        Its parameters, fixed ones included.
    best_score : float
        Its validation loss (the value the search minimised).
    preprocessor : Preprocessor
        The encoding fitted on the training rows.
    validation_rows : numpy.ndarray
        Positions (in the table, after rows without a target were dropped)
        of the rows that scored the trials.
    """

    def __init__(
        self,
        study,
        best_model,
        best_params,
        preprocessor,
        features: list[str],
        metric: str,
        validation_rows: np.ndarray,
    ) -> None:
        self.validation_rows = validation_rows
        self.study = study
        self.best_model = best_model
        self.best_params = dict(best_params)
        self.best_score = float(study.best_value)
        self.preprocessor = preprocessor
        self.feature_columns = list(features)
        self.metric = metric

    def trials(self):
        """The results table: one row per trial (number, state, val loss, val metric, params).

        A pandas DataFrame built from ``study.trials_dataframe()``.
        """
        df = self.study.trials_dataframe(attrs=("number", "state", "value", "user_attrs", "params"))
        df = df.rename(columns={"number": "trial", "value": "val_loss"})
        df = df.rename(columns=lambda c: c.replace("params_", "").replace("user_attrs_", ""))
        df = df.loc[:, ~df.columns.duplicated()]
        return df

    def predict(self, data) -> np.ndarray:
        """Answers of ``best_model`` for a table (or array) in the target's own terms."""
        X = self.preprocessor.transform(_frame(data, self.feature_columns))
        return self.preprocessor.decode_target(self.best_model.predict(X))

    def plot_history(self):
        """Optimisation history (value of each trial and the best so far): a matplotlib Figure."""
        from optuna.visualization.matplotlib import plot_optimization_history

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            return plot_optimization_history(self.study).figure

    def plot_importances(self):
        """Parameter importances (Optuna's fANOVA on finished trials): a matplotlib Figure."""
        from optuna.visualization.matplotlib import plot_param_importances

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return plot_param_importances(self.study).figure

    def __repr__(self) -> str:
        return (
            f"SearchResult(best_score={self.best_score:.4g}, best_params={self.best_params}, "
            f"trials={len(self.study.trials)})"
        )


def _frame(data, columns: list[str]):
    """``data`` as a DataFrame: a DataFrame as is, an array with the columns ``search`` named."""
    pd = _pandas()
    if isinstance(data, pd.DataFrame):
        return data
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows, features), got shape {arr.shape}")
    if arr.shape[1] != len(columns):
        raise ValueError(f"X has {arr.shape[1]} features but the search used {len(columns)}")
    return pd.DataFrame(arr, columns=columns)


# =============================================================================
# The search
# =============================================================================
def search(
    X,
    y=None,
    *,
    target: str | None = None,
    task: str | None = None,
    n_trials: int = 50,
    timeout: float | None = None,
    epochs: int = 40,
    validation_split: float = 0.2,
    seed: int = 0,
    n_jobs: int = 1,
    threads: int | None = 1,
    space: Mapping[str, Any] | None = None,
    residual: bool = True,
    impute: str | None = None,
    ignore: tuple[str, ...] | list[str] = (),
    study=None,
    sampler=None,
    pruner=None,
    progress: Callable[[str], None] | None = None,
) -> SearchResult:
    """Search network architectures and training settings with Optuna.

    Each trial builds the network its parameters describe, trains it with
    AdamW for ``epochs`` epochs on the training rows, reports the validation
    loss after every epoch (the pruner may stop it) and scores
    ``min_t val_loss_t``. The search minimises that score.

    Parameters
    ----------
    X : pandas.DataFrame or array-like of shape (n_samples, n_features)
        A table with the ``target`` column, or features with ``y``.
    y : array-like of shape (n_samples,), optional
        Targets when ``X`` is an array (class labels or values).
    target : str, optional
        The target column when ``X`` is a DataFrame.
    task : {"classify", "regress"} or None
        Default: detected from the target, as ``chainrule train`` does.
    n_trials, timeout : int, float or None
        Stop after ``n_trials`` trials or ``timeout`` seconds, whichever comes first.
    epochs : int
        Epoch budget of each trial.
    validation_split : float
        Fraction of rows held out (chosen with ``seed``) to score the trials.
    seed : int
        Seeds the TPE sampler, the split, the weights and the shuffling: with
        ``n_jobs=1`` the same seed gives the same trials, best params and score.
    n_jobs : int
        Trials run at once, in threads (Optuna's ``n_jobs``; -1: one per CPU).
        Separate networks share no state, so this is safe, but the order in
        which trials finish then varies, and so does what TPE proposes next:
        with ``n_jobs > 1`` results are not reproducible.
    threads : int or None
        BLAS threads during the search (through threadpoolctl, when installed;
        ``None`` leaves the library default). One thread per trial is the fast
        choice for small tables: a 200-row trial took 0.07 s with one thread
        and 1.1 s with two on this 2-core machine under load, where the
        threads of tiny matrix products only wait for each other; use
        ``n_jobs`` for parallelism instead.
    space : dict, optional
        Overrides of ``DEFAULT_SPACE``: a list is a choice, a 2-tuple a range,
        any other value fixes the parameter.
    residual : bool
        Whether residual (skip-connection) variants are searched.
    impute, ignore
        Passed to ``Preprocessor`` (missing values; columns that are not features).
    study : optuna.Study, optional
        A study to continue or share (e.g. with a database storage across
        machines). Default: a new in-memory study with ``sampler`` and
        ``pruner``, whose first trial is ``BASELINE`` (the parameters of it
        that the space allows).
    sampler, pruner : optuna samplers and pruners, optional
        Default ``TPESampler(seed=seed)`` and ``MedianPruner(n_startup_trials=5,
        n_warmup_steps=5)``.
    progress : callable, optional
        Called with one line of text per finished trial.

    Returns
    -------
    SearchResult
        ``study``, ``best_model`` (with its preprocessing), ``best_params``,
        ``best_score``, ``trials()`` (a DataFrame) and the plots.

    Raises
    ------
    ImportError
        Without Optuna or pandas (``pip install "chainrule[tune]"``).
    ValueError
        For a bad argument or table (unknown target, too few rows...).
    """
    optuna = _optuna()
    pd = _pandas()
    from .optimizers import AdamW
    from .preprocessing import Preprocessor

    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not 0 < validation_split < 1:
        raise ValueError(
            f"validation_split must be between 0 and 1 (the trials are scored on it), "
            f"got {validation_split!r}"
        )
    if n_jobs == 0:
        raise ValueError("n_jobs must be >= 1, or -1 for one per CPU")
    space = dict(DEFAULT_SPACE) | dict(space or {})
    unknown = sorted(set(space) - set(DEFAULT_SPACE))
    if unknown:
        raise ValueError(
            f"unknown search parameter(s) {unknown}; the space has {sorted(DEFAULT_SPACE)}"
        )
    if not residual:
        space["residual"] = False

    # -- the table, the split and the preprocessing (as `chainrule train` does it) --
    if isinstance(X, pd.DataFrame):
        if y is not None:
            raise ValueError("give either a DataFrame with target= or an array X with y, not both")
        if target is None:
            raise ValueError("a DataFrame needs target=: the name of the column to predict")
        if target not in X.columns:
            shown = ", ".join(map(repr, list(X.columns)[:15]))
            raise ValueError(f"unknown target column {target!r}; the columns are: {shown}")
        df = X[X[target].notna()].reset_index(drop=True)
    else:
        if y is None:
            raise ValueError("an array X needs y (or pass a DataFrame and target=)")
        arr, y = np.asarray(X), np.asarray(y)
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {arr.shape}")
        if len(y) != len(arr):
            raise ValueError(f"X has {len(arr)} rows but y has {len(y)}")
        target = "y" if target is None else target
        df = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        df[target] = y
    n = len(df)
    n_val = int(round(n * validation_split))
    if not 1 <= n_val < n - 1:
        raise ValueError(
            f"validation_split={validation_split} leaves {n_val} validation row(s) of {n}; "
            "use more rows or another fraction"
        )
    perm = np.random.default_rng(seed).permutation(n)
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    pre = Preprocessor(target=target, task=task, impute=impute, ignore=ignore)
    pre.fit(df, rows=train_rows)
    Xall = pre.transform(df)
    yall = pre.encode_target(df[target])
    X_tr, y_tr, X_val, y_val = Xall[train_rows], yall[train_rows], Xall[val_rows], yall[val_rows]
    if pre.task == "classify":
        loss, n_out, metric = "cross_entropy", len(pre.classes), "accuracy"
    else:
        loss, n_out, metric = "mse", 1, "r2"

    # -- the study -----------------------------------------------------------------------
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if study is None:
        study = optuna.create_study(
            direction="minimize",
            sampler=sampler or optuna.samplers.TPESampler(seed=seed),
            pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
        )
        start = _within(BASELINE, space)
        if start:
            study.enqueue_trial(start)
    elif study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise ValueError("the study must minimise (direction='minimize'): its value is a loss")
    lock = threading.Lock()
    kept: dict[int, Any] = {}  # trial number -> network, for each trial that was best when it ended
    best = [math.inf]

    def train(params: Mapping[str, Any], trial=None):
        from .callbacks import EarlyStopping

        net = build_candidate(pre.n_features, n_out, params, seed=seed)
        opt = AdamW(net.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
        restore = EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True)
        report = _Report(trial) if trial is not None else None
        with warnings.catch_warnings():  # a diverging trial is just a bad trial
            warnings.simplefilter("ignore")
            history = net.fit(
                X_tr,
                y_tr,
                loss=loss,
                optimizer=opt,
                epochs=epochs,
                batch_size=int(params["batch_size"]),
                validation_data=(X_val, y_val),
                metrics=[metric],
                callbacks=[restore] + ([report] if report else []),
                seed=seed,
            )
        net.optimizer_ = None
        net.history_ = history.history
        net.preprocessing_ = pre.to_dict()
        return net, restore, report

    def objective(trial) -> float:
        params = _suggest(trial, space)
        net, restore, report = train(params, trial)
        if report.pruned_at is not None:
            trial.set_user_attr("epochs", report.pruned_at + 1)
            raise optuna.TrialPruned(f"pruned after epoch {report.pruned_at + 1}")
        value = float(restore.best)
        if not math.isfinite(value):  # diverged from the first epoch
            raise optuna.TrialPruned("the validation loss was never finite")
        trial.set_user_attr("epochs", len(net.history_.get("loss", [])))
        trial.set_user_attr(
            f"val_{metric}", float(net.history_[f"val_{metric}"][restore.best_epoch])
        )
        with lock:
            if value < best[0]:
                best[0] = value
                kept[trial.number] = net
        return value

    def announce(study, trial) -> None:
        if progress is None:
            return
        state = trial.state.name.lower()
        value = f"val_loss {trial.value:.4f}" if trial.value is not None else ""
        if trial.state == optuna.trial.TrialState.PRUNED:
            value = f"after {trial.user_attrs.get('epochs', '?')} epoch(s)"
        try:
            best_text = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best_text = "no finished trial yet"
        shown = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        progress(f"trial {trial.number:>3}  {state:<8} {value:<18} {best_text}  {shown}")

    with _blas_threads(threads):
        study.optimize(
            objective,
            n_trials=int(n_trials),
            timeout=timeout,
            n_jobs=n_jobs,
            callbacks=[announce],
            catch=(FloatingPointError,),
        )
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        raise ValueError(
            "no trial finished (all pruned, failed or out of time); raise the timeout or trials"
        )
    best_trial = study.best_trial
    params = {**_fixed(space), **best_trial.params}
    if params.get("n_layers", 2) < 2:
        params["residual"] = False
    model = kept.get(best_trial.number)
    if model is None:  # e.g. a shared study whose best trial ran elsewhere: train it again
        model = train(params)[0]
    return SearchResult(study, model, params, pre, pre.feature_columns(df), metric, val_rows)


def _blas_threads(threads: int | None):
    """``threadpoolctl.threadpool_limits(threads)``, or nothing without threadpoolctl or a limit."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, bool) or int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads), user_api="blas")


def _within(point: Mapping[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``point`` that ``space`` searches and allows."""
    inside = {}
    for name, value in point.items():
        spec = space.get(name)
        if isinstance(spec, list) and value in spec:
            inside[name] = value
        elif isinstance(spec, tuple) and len(spec) == 2 and spec[0] <= value <= spec[1]:
            inside[name] = value
    return inside


def _fixed(space: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in space.items() if not isinstance(v, (list, tuple))}


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)

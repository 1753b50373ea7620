"""``chainrule train`` and ``chainrule tune``: fit a network on a table."""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..threads import blas_for
from .errors import EXIT_DIVERGED, CLIError, _one_line
from .figures import _require_matplotlib, save_figure
from .fitting import (
    REFIT_MAX_ROWS,
    _choose_loss,
    _describe_preprocessing,
    _fit,
    _recipe_training,
    _save_model,
)
from .tables import (
    _check_out_folder,
    _columns_hint,
    _counts_text,
    _ModelData,
    _pandas,
    _size,
    _table,
    check_columns,
    load_model,
    read_table,
    scores,
    target_columns,
)
from .ui import UI

#: Model file suffixes ``train --out`` refuses, with what to use instead.
_OTHER_FORMATS = {
    ".onnx": "train to a .safetensors file, then 'chainrule export MODEL --to onnx OUT'",
    ".pt": "train to a .safetensors file, then 'chainrule export MODEL --to torch OUT'",
    ".pth": "train to a .safetensors file, then 'chainrule export MODEL --to torch OUT'",
    ".csv": "--out is the model file; predictions are written by 'chainrule predict'",
    ".json": "--out is the model file (.safetensors)",
    ".pkl": "chainrule writes safetensors model files, never pickles",
    ".pickle": "chainrule writes safetensors model files, never pickles",
}


def cmd_train(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule train``: read, preprocess, build, fit, report, save."""
    import contextlib

    with contextlib.ExitStack() as stack:  # undoes the kernel choice of a small job
        return _train(args, ui, stack)


def _train(args: argparse.Namespace, ui: UI, stack) -> int:
    from ..preprocessing import MissingValuesError, Preprocessor

    _check_train_options(args)
    out = None if args.dry_run else _check_out_folder(args.out)
    df = read_table(args.data)
    targets = target_columns(args.target, df, args.data)
    target = targets[0] if len(targets) == 1 else targets  # several: regressed together
    if len(targets) > 1 and args.task == "classify":
        raise CLIError(
            "--task classify: several targets are regressed together; train one classifier per "
            "target",
            code=2,
        )
    _check_ignored(args.ignore, df)
    for name in targets:
        if name in args.ignore:
            raise CLIError(f"the target {name!r} cannot also be in --ignore", code=2)
        if df[name].isna().all():
            raise CLIError(f"the target column {name!r} has no values")
    no_target = df[targets].isna().any(axis=1)
    if no_target.any():
        ui.note(
            f"note: dropped {int(no_target.sum())} row(s) with no value in the target "
            f"column{'s' if len(targets) > 1 else ''} {', '.join(map(repr, targets))}"
        )
        df = df[~no_target]
    ignore = list(args.ignore)
    if args.sample_weight is not None:
        _check_weight_column(df, args.sample_weight, targets)
        ignore.append(args.sample_weight)  # a weight, not a feature
    resumed = _resume_model(args, target) if args.resume else None

    pre = Preprocessor(target=target, task=args.task, impute=args.impute, ignore=ignore)
    if resumed is not None:
        pre = resumed.pre
    feature_cols = pre.feature_columns(df)
    if not feature_cols:
        raise CLIError(f"no feature columns: {args.data} holds only the target {target!r}")
    check_columns(df, [*feature_cols, *targets])
    if args.impute == "drop":
        incomplete = df[feature_cols].isna().any(axis=1)
        if incomplete.any():
            ui.note(
                f"note: --impute drop removed {int(incomplete.sum())} row(s) with missing values"
            )
            df = df[~incomplete]
        if len(df) == 0:
            raise CLIError("no rows left after dropping those with missing values")
    df = df.reset_index(drop=True)

    n = len(df)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(n)
    n_val = int(round(n * args.validation_split)) if args.validation_split > 0 else 0
    if args.validation_split > 0 and not 1 <= n_val < n:
        raise CLIError(
            f"--validation-split {args.validation_split} leaves {n_val} validation row(s) out of "
            f"{n}; use a larger fraction, more data, or --validation-split 0"
        )
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    try:
        if resumed is None:
            pre.fit(df, rows=train_rows)
        else:
            pre.missing_rows(df)  # every column the model was trained on is there
    except MissingValuesError as exc:
        raise CLIError(
            f"missing values in feature column(s) {_counts_text(exc.counts)}; choose what to do "
            "with --impute mean|median|drop (or fill them in the file)"
        ) from None
    except ValueError as exc:
        if resumed is None:
            raise
        raise CLIError(f"cannot resume {args.resume} on {args.data}: {_one_line(exc)}") from None
    for warning in pre.warnings:
        ui.warn(warning)
    how = (
        "given by --task"
        if args.task
        else f"auto-detected: {pre.task_reason}; override with --task"
    )
    if len(targets) > 1 and not args.task:  # several targets: regression only
        how = pre.task_reason
    task_line = f"task: {pre.task} ({how})"
    if pre.task == "classify":
        shown = ", ".join(map(str, pre.classes[:10])) + (", ..." if len(pre.classes) > 10 else "")
        task_line += f"; {len(pre.classes)} classes: {shown}"
    ui.note(task_line)
    ui.note(_describe_preprocessing(pre))

    X = pre.transform(df)
    for warning in pre.warnings:
        ui.warn(warning)
    y = pre.encode_target(df[target])
    n_classes = len(pre.classes) if pre.task == "classify" else 0
    loss, n_out = _choose_loss(args, pre.task, n_classes)
    n_out = len(targets) if len(targets) > 1 else n_out  # one output per regression target
    _check_size(pre.n_features, args.hidden, n_out)
    if resumed is not None:
        net = resumed.net
        if net.n_outputs != n_out:
            raise CLIError(
                f"cannot resume {args.resume}: it has {net.n_outputs} output(s) but loss {loss} "
                f"on this target needs {n_out}"
            )
    else:
        net = _new_network(args, pre, n_out)
    net.preprocessing_ = pre.to_dict()
    weights = _row_weights(args, df, pre, y)
    stack.enter_context(_kernels_for(net, len(df)))
    refit, why_not = _refit_choice(args, n, n_val)
    if args.dry_run:
        ui.out(net.summary())
        then = f", then a refit on all {n} rows" if refit else ""
        ui.out(
            f"loss {loss}, optimizer {args.optimizer}, {len(train_rows)} training rows, "
            f"{n_val} validation rows{then} (dry run: nothing trained or saved)"
        )
        return 0
    ui.detail(net.summary())

    model = _ModelData(net)
    X_tr, y_tr = X[train_rows], y[train_rows]
    validation = (X[val_rows], y[val_rows]) if n_val else None
    history, best, seconds = _run(
        ui, args, net, X_tr, y_tr, loss, pre.task, validation,
        None if weights is None else weights[train_rows], stack,
    )  # fmt: skip
    net.preprocessing_ = pre.to_dict()
    if history.diverged and not args.save_diverged:
        raise CLIError(
            f"training diverged: {history.stop_reason}; {out} was not written (--save-diverged "
            "writes it anyway)",
            code=EXIT_DIVERGED,
        )
    refit = refit and not history.diverged
    if not refit:  # saved before scoring, as a diverged model's outputs may not score
        _save_model(net, out, optimizer=net.optimizer_ if args.checkpoint else None)

    columns = [("train", scores(model, X_tr, y_tr), len(train_rows))]
    if validation is not None:
        columns.append(("validation", scores(model, *validation), n_val))
    names = list(columns[0][1])
    rows = [[name, *(c[1][name] for c in columns)] for name in names]
    rows.append(["rows", *(c[2] for c in columns)])
    ui.out(_table(["metric", *(c[0] for c in columns)], rows))
    ui.note(_metric_units(pre))
    ui.note(_penalty_note(pre.task))
    restored = ""
    if best is not None and best.best_epoch is not None:
        restored = (
            f"; restored epoch {best.best_epoch} (lowest validation loss, {best.best_value:.4g})"
        )
    if why_not:
        ui.note(why_not)
    if refit:
        ui.out(
            f"hold-out run: {len(history)} epoch(s) on {len(train_rows)} rows in {seconds:.1f}s"
            f"{restored}"
        )
        net, history, seconds = _refit(ui, args, df, pre, ignore, resumed, loss, n_out, stack)
        if history.diverged and not args.save_diverged:
            raise CLIError(
                f"the refit on all {n} rows diverged: {history.stop_reason}; {out} was not "
                "written (--no-refit saves the hold-out model; --save-diverged writes it anyway)",
                code=EXIT_DIVERGED,
            )
        _save_model(net, out, optimizer=net.optimizer_ if args.checkpoint else None)
        ui.out(
            f"validation metrics come from the hold-out run; the saved model was retrained on "
            f"all {n} rows ({len(history)} epoch(s) in {seconds:.1f}s; --no-refit saves the "
            "hold-out model instead)"
        )
        ui.out(f"saved model to {out} ({_size(out)})")
    else:
        ui.out(
            f"trained {len(history)} epoch(s) in {seconds:.1f}s{restored}; saved model to {out} "
            f"({_size(out)})"
        )
    if history.diverged:
        ui.warn(f"training diverged: {history.stop_reason}; saved to {out} (--save-diverged)")
    return EXIT_DIVERGED if history.diverged else 0


def _new_network(args: argparse.Namespace, pre, n_out: int):
    """The recipe's MLP for ``pre``'s inputs, seeded by ``--seed``."""
    from ..recipe import DEFAULTS, build_mlp

    return build_mlp(
        pre.n_features, args.hidden, args.activation, n_out, seed=args.seed,
        batch_norm=args.batchnorm, dropout=args.dropout,
        zero_last_layer=DEFAULTS["zero_last_layer"],
    )  # fmt: skip


def _run(ui: UI, args, net, X, y, loss, task, validation, weights, stack, desc="training"):
    """Train ``net`` with the recipe on ``(X, y)``: (history, RestoreBest or None, seconds)."""
    from ..recipe import l2_for

    opt, batch_size, epochs, callbacks, best = _recipe_training(args, net, len(X), validation)
    stack.enter_context(blas_for(net, batch_size))  # one BLAS thread for a small network
    t0 = time.perf_counter()
    history = _fit(
        ui,
        net,
        X,
        y,
        loss=loss,
        optimizer=opt,
        lr=None,
        epochs=epochs,
        batch_size=batch_size,
        validation=validation,
        metrics=["accuracy"] if task == "classify" else ["r2"],
        seed=args.seed,
        desc=desc,
        patience=args.patience,
        extra_callbacks=callbacks,
        sample_weight=weights,
        l2=l2_for(task),  # the recipe's penalty, as the estimators' alpha
    )
    net.history_ = history.history
    return history, best, time.perf_counter() - t0


def _refit_choice(args: argparse.Namespace, n: int, n_val: int) -> tuple[bool, str | None]:
    """Whether to train again on every row after the hold-out run, and a note when not by default.

    On by default when rows were held out, up to ``REFIT_MAX_ROWS`` rows and
    without ``--patience`` (whose stopping epoch was chosen on the held-out rows).
    """
    if n_val == 0 or args.refit is False:
        return False, None
    if args.refit:
        return True, None
    if args.patience is not None:
        return False, (
            "note: the saved model is the hold-out run's (--patience stops on the validation "
            "rows; --refit trains again on every row for the full budget)"
        )
    if n > REFIT_MAX_ROWS:
        return False, (
            f"note: the saved model is the hold-out run's: with {n:,} rows (more than "
            f"{REFIT_MAX_ROWS:,}) a refit on every row is off by default; --refit forces it"
        )
    return True, None


def _refit(ui: UI, args, df, pre, ignore, resumed, loss: str, n_out: int, stack):
    """The recipe again on every row of ``df``: preprocessing refitted, a fresh (or resumed) net.

    Returns (net, history, seconds).
    """
    from ..preprocessing import Preprocessor

    if resumed is not None:  # the resumed model again, with the preprocessing it was made with
        net = _resume_model(args, pre.target).net
    else:
        pre = Preprocessor(target=pre.target, task=pre.task, impute=args.impute, ignore=ignore)
        pre.fit(df)
        net = _new_network(args, pre, n_out)
    X, y = pre.transform(df), pre.encode_target(df[pre.target])
    weights = _row_weights(args, df, pre, y)
    net.preprocessing_ = pre.to_dict()
    history, _, seconds = _run(
        ui, args, net, X, y, loss, pre.task, None, weights, stack, desc="refit on all rows"
    )
    net.preprocessing_ = pre.to_dict()
    return net, history, seconds


#: The most parameters ``train`` builds (4 GB of float32 weights, before Adam's state).
MAX_PARAMETERS = 10**9


def _check_size(n_inputs: int, hidden: Sequence[int], n_outputs: int) -> None:
    """Refuse ``--hidden`` sizes whose weights could not fit in memory, before allocating."""
    sizes = [n_inputs, *hidden, n_outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if count > MAX_PARAMETERS:
        raise CLIError(
            f"--hidden {','.join(map(str, hidden))} makes a network of {count:,} parameters "
            f"({count * 4 / 1e9:,.0f} GB of float32), more than the {MAX_PARAMETERS:,} allowed; "
            "use smaller layers",
            code=2,
        )


def _check_train_options(args: argparse.Namespace) -> None:
    """Refuse option combinations of ``train`` that would be ignored or misread."""
    if args.patience is not None and args.validation_split == 0:
        raise CLIError(
            "--patience needs a validation set to watch, but --validation-split is 0; give "
            "--validation-split 0.2 (say) or drop --patience",
            code=2,
        )
    if args.refit and args.validation_split == 0:
        raise CLIError(
            "--refit trains again on every row after a hold-out run, but --validation-split 0 "
            "holds nothing out (every row already trains); drop one of them",
            code=2,
        )
    suffix = Path(args.out).suffix.lower()
    if suffix in _OTHER_FORMATS:
        raise CLIError(
            f"--out {args.out}: 'chainrule train' writes a .safetensors model file, not "
            f"{suffix}; {_OTHER_FORMATS[suffix]}",
            code=2,
        )


def _kernels_for(net, n_rows: int):
    """NumPy's kernels for a small job (a context): loading Numba's compiled loops costs ~1 s.

    A table of ``n_rows`` through layers at most ``w`` wide is ``n_rows * w``
    numbers a pass; under 2 million the fused loops gain less than their
    import costs. ``CHAINRULE_KERNELS``, when set, decides instead.
    """
    import contextlib

    from .. import kernels

    if os.environ.get("CHAINRULE_KERNELS"):
        return contextlib.nullcontext()
    widest = max([net.n_features_in or 1] + [p.value.shape[-1] for p in net.parameters()])
    if n_rows * widest < 2_000_000:
        return kernels.use("numpy")
    return contextlib.nullcontext()


def _metric_units(pre) -> str:
    """What the numbers of the metrics table are measured in."""
    if len(pre.targets) > 1:
        return (
            "note: loss is on the standardised targets, averaged over them; mse[t], rmse[t] and "
            "mae[t] are in the units of target t (mse squared), r2 has none; mean r2 averages "
            "the targets' r2"
        )
    if pre.task == "classify":
        if len(pre.classes) == 2:
            return (
                f"note: accuracy is a fraction of rows; precision, recall and f1 are for the "
                f"positive class {pre.classes[1]!r} (the other is {pre.classes[0]!r})"
            )
        return (
            "note: accuracy is a fraction of rows; precision, recall and f1 are macro averages "
            "over the classes"
        )
    return (
        f"note: loss is on the standardised target; mae and rmse are in the units of "
        f"{pre.target!r}, mse in its units squared, r2 has none"
    )


def _check_ignored(ignore: list[str], df) -> None:
    """``--ignore``: every named column must be in the table (a typo would keep it as an input)."""
    unknown = [c for c in ignore if c not in df.columns]
    if unknown:
        raise CLIError(
            f"--ignore names unknown column(s) {', '.join(map(repr, unknown))}; "
            f"{_columns_hint(df)}",
            code=2,
        )


def _penalty_note(task: str) -> str:
    """Why the progress lines' loss is above the table's: the recipe's L2 penalty."""
    from ..recipe import l2_for

    return (
        f"note: the progress lines' loss adds the recipe's L2 penalty alpha*sum(W^2)/(2 batch rows) "
        f"(alpha {l2_for(task):g}); the table's loss is the data loss alone"
    )


def _check_weight_column(df, column: str, targets: list[str]) -> None:
    """``--sample-weight``: a numeric column of finite, non-negative weights."""
    pd = _pandas()
    if column not in df.columns:
        raise CLIError(f"unknown --sample-weight column {column!r}; {_columns_hint(df)}", code=2)
    if column in targets:
        raise CLIError(f"the target {column!r} cannot also be the --sample-weight column", code=2)
    col = df[column]
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise CLIError(f"--sample-weight column {column!r} must hold numbers")
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise CLIError(f"--sample-weight column {column!r} has missing or infinite values")
    if np.any(values < 0):
        raise CLIError(f"--sample-weight column {column!r} has negative weights")
    if not np.any(values > 0):
        raise CLIError(f"--sample-weight column {column!r} is all zeros: nothing to learn from")


def _row_weights(args, df, pre, y):
    """Each training row's weight: ``--sample-weight`` times ``--class-weight`` (or None)."""
    weights = None
    if args.sample_weight is not None:
        weights = df[args.sample_weight].to_numpy(dtype=np.float64)
    if args.class_weight is None:
        return weights
    if pre.task != "classify":
        raise CLIError("--class-weight needs a classification target (or use --sample-weight)")
    from ..class_weights import class_weight_rows

    names = {str(c): i for i, c in enumerate(pre.classes)}
    if args.class_weight == "balanced":  # n / (K * count), scikit-learn's rule
        row = class_weight_rows(y, "balanced", classes=range(len(names)))
    else:
        per_class = {}
        for item in args.class_weight.split(","):
            name, sep, value = item.rpartition("=")
            if not sep or name not in names:
                raise CLIError(
                    f"--class-weight expects 'balanced' or CLASS=WEIGHT,... with classes "
                    f"{', '.join(names)}; got {item!r}",
                    code=2,
                )
            try:
                w = float(value)
            except ValueError:
                w = -1.0
            if not (math.isfinite(w) and w >= 0):
                raise CLIError(f"--class-weight {item!r}: the weight must be a number >= 0", code=2)
            per_class[names[name]] = w
        row = class_weight_rows(y, per_class, classes=range(len(names)))
    return row if weights is None else weights * row


class _Resumed:
    def __init__(self, net, pre) -> None:
        self.net, self.pre = net, pre


def _resume_model(args, target: str) -> _Resumed:
    """``--resume MODEL``: the network and the preprocessing it was trained with."""
    from ..preprocessing import Preprocessor

    net = load_model(args.resume)
    info = getattr(net, "preprocessing_", None)
    if not info:
        raise CLIError(
            f"cannot resume {args.resume}: it stores no preprocessing (was it written by "
            "'chainrule train'?)"
        )
    pre = Preprocessor.from_dict(info)
    if pre.target != target:
        raise CLIError(
            f"cannot resume {args.resume}: it predicts {pre.target!r}, not --target {target!r}",
            code=2,
        )
    return _Resumed(net, pre)


def cmd_tune(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule tune``: preprocess as ``train`` does, search with Optuna, save the best."""
    from ..preprocessing import MissingValuesError, Preprocessor
    from ..search import search

    started = time.perf_counter()  # --timeout counts the reading and the preprocessing too
    try:
        import optuna  # noqa: F401  (refused before any work, in one line)
    except ImportError:
        raise CLIError('tune needs Optuna: pip install "chainrule[search]"') from None
    out = _check_out_folder(args.out)
    plots = Path(args.plots) if args.plots else None
    if plots is not None:
        _require_matplotlib()
    df = read_table(args.data)
    targets = target_columns(args.target, df, args.data)
    if len(targets) > 1:
        raise CLIError(
            f"--target {args.target}: tune searches for one target at a time; tune each "
            f"(--target {targets[0]} --ignore {','.join(targets[1:])}), or train them together "
            f"with 'chainrule train {args.data} --target {args.target}'",
            code=2,
        )
    target = targets[0]
    _check_ignored(args.ignore, df)
    df = df[df[target].notna()]
    pre = Preprocessor(target=target, task=args.task, impute=args.impute, ignore=args.ignore)
    if not pre.feature_columns(df):
        raise CLIError(f"no feature columns: {args.data} holds only the target {target!r}")
    if args.impute == "drop":
        df = df[~df[pre.feature_columns(df)].isna().any(axis=1)]
    df = df.reset_index(drop=True)
    if len(df) < 2 * args.cv:
        raise CLIError(
            f"--cv {args.cv} needs at least {2 * args.cv} rows with a target; {args.data} has "
            f"{len(df)}",
            code=2,
        )
    try:
        pre.fit(df)  # every row: each is validated once and the chosen model refits on all
    except MissingValuesError as exc:
        raise CLIError(
            f"missing values in feature column(s) {_counts_text(exc.counts)}; choose what to do "
            "with --impute mean|median|drop (or fill them in the file)"
        ) from None
    X, y = pre.transform(df), pre.encode_target(df[target])
    ui.note(f"task: {pre.task}; {_describe_preprocessing(pre)}")
    ui.note(
        f"searching {args.trials} trial(s) on {len(df)} rows, each scored by {args.cv}-fold "
        "cross-validation; trial 0 is the default recipe"
    )
    t0 = time.perf_counter()
    timeout = None if args.timeout is None else max(1e-3, args.timeout - (t0 - started))
    try:
        result = search(
            X, y, task=pre.task, n_trials=args.trials, timeout=timeout, cv=args.cv,
            seed=args.seed, n_jobs=args.jobs, progress=ui.note if not ui.quiet else False,
        )  # fmt: skip
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except (RuntimeError, ValueError) as exc:
        raise CLIError(_one_line(exc)) from None
    seconds = time.perf_counter() - t0
    net = result.net
    net.preprocessing_ = pre.to_dict()
    _save_model(net, out)
    ui.out(result.table(args.top))
    metric = "accuracy" if pre.task == "classify" else "R2"
    best, default = result.scores, result.default_scores
    ui.out(
        f"chose trial {result.chosen}: validation {metric} {best['val_score']:.4f} (the default "
        f"recipe's {default['val_score']:.4f}); "
        f"{len(result.study.trials)} trial(s) in {seconds:.1f}s; trained again on all {len(df)} "
        f"rows for {result.refit_epochs} epoch(s); saved it to {out} ({_size(out)})"
    )
    if plots is not None:
        from optuna.visualization.matplotlib import (
            plot_optimization_history,
            plot_param_importances,
        )

        plots.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
            warnings.simplefilter("ignore")
            for name, draw in (("history", plot_optimization_history),
                               ("importances", plot_param_importances)):  # fmt: skip
                ax = draw(result.study)
                ui.note(f"wrote {save_figure(ax.figure, plots / f'{name}.png')}")
    return 0

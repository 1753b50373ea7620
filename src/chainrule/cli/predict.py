"""``chainrule predict`` and ``chainrule evaluate``: use a model file on a table."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..threads import blas_for
from .errors import CLIError
from .tables import (
    _atomic_write_text,
    _check_out_folder,
    _columns_hint,
    _ModelData,
    _pandas,
    _table,
    check_columns,
    load_model,
    read_table,
    scores,
    target_columns,
)
from .ui import UI


def _numpy_kernels_for_small_data(command):
    """Run a one-shot inference command on NumPy's kernels when its DATA file is small.

    Loading Numba's compiled loops costs about a second, more than they save
    on a table under 5 MB. ``CHAINRULE_KERNELS``, when set, decides instead.
    """
    import functools

    @functools.wraps(command)
    def run(args: argparse.Namespace, ui: UI) -> int:
        from .. import kernels

        path = Path(str(getattr(args, "data", "") or ""))
        small = path.is_file() and path.stat().st_size < 5_000_000
        if small and not os.environ.get("CHAINRULE_KERNELS"):
            with kernels.use("numpy"):
                return command(args, ui)
        return command(args, ui)

    return run


@_numpy_kernels_for_small_data
def cmd_predict(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule predict``: a CSV of predictions in the target's own terms."""
    from .. import training

    pd = _pandas()
    out = _check_out_folder(args.out) if args.out else None
    model = _ModelData(load_model(args.model))
    df = read_table(args.data)
    if model.multi_io or args.inputs is not None:
        return _predict_graph(model, df, args, ui, out)
    X, kept = model.features(df, target=model.target)
    if model.pre is not None:
        for warning in model.pre.warnings:
            ui.warn(warning)
    result = pd.DataFrame(index=range(len(df)))
    k = len(model.targets)
    empty = np.empty((0, k)) if k > 1 else np.empty(0)
    with blas_for(model.net, len(X)):  # one thread for a small network
        labels = model.decode(training.predict(model.net, X)) if len(X) else empty
    if k > 1:  # several regression targets: one column each, named after it
        for j, name in enumerate(model.targets):
            column = np.full(len(df), np.nan)
            column[kept] = labels[:, j]
            result[name] = column
    else:
        if model.task == "classify":
            column = np.full(len(df), None, dtype=object)
        else:
            column = np.full(len(df), np.nan)
        column[kept] = labels
        result["prediction"] = column
    if args.proba:
        if model.task != "classify":
            raise CLIError("--proba is for classifiers; this model is a regressor", code=2)
        try:
            with blas_for(model.net, len(X)):
                proba = (
                    training.predict_proba(model.net, X)
                    if len(X)
                    else np.empty((0, len(model.classes)))
                )
        except ValueError as exc:
            raise CLIError(f"--proba: {exc}") from None
        if proba.shape[1] == 1:
            proba = np.c_[1 - proba[:, 0], proba[:, 0]]
        for k, name in enumerate(model.classes):
            col = np.full(len(df), np.nan)
            col[kept] = proba[:, k]
            result[f"proba_{name}"] = col
    if not kept.all():
        ui.warn(
            f"{int((~kept).sum())} row(s) with missing values were not predicted (empty prediction)"
        )
    _write_predictions(result, out, ui)
    return 0


def _write_predictions(result, out, ui: UI) -> None:
    """The predictions as CSV: on stdout, or written whole to ``out`` (never half a file)."""
    text = result.to_csv(index=False)
    if out is None:
        sys.stdout.write(text)
    else:
        _atomic_write_text(out, text)
        ui.note(f"wrote {len(result)} prediction(s) to {out}")


def _predict_graph(model: _ModelData, df, args: argparse.Namespace, ui: UI, out) -> int:
    """``chainrule predict`` on named inputs (``--inputs``) and several outputs."""
    from . import graph_predict

    net = model.net
    if model.pre is not None and args.inputs is not None and not model.multi_io:
        raise CLIError(
            "--inputs is for networks with several inputs; this model stores its table's "
            "preprocessing and reads its columns by name: drop --inputs",
            code=2,
        )
    graph_predict.check_stored_preprocessing(net)
    arrays = graph_predict.input_arrays(net, df, graph_predict.parse_inputs(args.inputs, net, df))
    with blas_for(net, len(df)):  # one thread for a small network
        result = graph_predict.predictions(net, arrays, args.proba, ui.warn)
    _write_predictions(result, out, ui)
    return 0


def _labelled(model: _ModelData, df, target: str | None, ui: UI, data_name: str):
    """Network inputs and encoded targets of a labelled table."""
    if target is None and model.target is None:
        raise CLIError("this model stores no target column name; give --target COL", code=2)
    targets = model.targets if target is None else target_columns(target, df, data_name)
    wanted = max(1, len(model.targets))
    if len(targets) != wanted:
        raise CLIError(
            f"--target names {len(targets)} column(s) but this model predicts {wanted} "
            f"({', '.join(map(repr, model.targets))}); name one label column per target, "
            "comma separated, in that order",
            code=2,
        )
    for name in targets:
        if name not in df.columns:
            raise CLIError(f"unknown target column {name!r} in {data_name}; {_columns_hint(df)}")
        if df[name].isna().all():
            raise CLIError(f"the target column {name!r} has no values")
    check_columns(df, targets)
    no_target = df[targets].isna().any(axis=1)
    if no_target.any():
        shown = ", ".join(map(repr, targets))
        ui.note(f"note: ignored {int(no_target.sum())} row(s) with no value in {shown}")
        df = df[~no_target].reset_index(drop=True)
    target = targets[0] if len(targets) == 1 else targets
    X, kept = model.features(df, target=target)
    if model.pre is not None:
        for warning in model.pre.warnings:
            ui.warn(warning)
    if not kept.all():
        ui.note(f"note: ignored {int((~kept).sum())} row(s) with missing feature values")
    if len(X) == 0:
        raise CLIError("no rows left to evaluate")
    if len(targets) > 1:  # the model's own names, whatever the labels are called here
        y = model.encode_target(df[targets][kept].set_axis(model.targets, axis=1))
    else:
        y = model.encode_target(df[target][kept])
    return X, y, target


@_numpy_kernels_for_small_data
def cmd_evaluate(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule evaluate``: loss and metrics on labelled data."""
    model = _ModelData(load_model(args.model))
    df = read_table(args.data)
    if model.multi_io:
        return _evaluate_graph(model.net, df, args, ui)
    if args.inputs is not None:
        raise CLIError(
            "--inputs is for graph networks with several inputs or outputs; this model reads "
            "its table's columns directly: drop --inputs",
            code=2,
        )
    X, y, target = _labelled(model, df, args.target, ui, args.data)
    with blas_for(model.net, len(X)):  # one thread for a small network
        result = scores(model, X, y)
    if args.json:
        ui.out(
            json.dumps(
                {
                    "model": str(args.model),
                    "data": str(args.data),
                    "target": target,
                    "task": model.task,
                    "rows": len(X),
                    "metrics": result,
                },
                indent=2,
            )
        )
    else:
        ui.out(
            _table(["metric", "value"], [[k, v] for k, v in result.items()] + [["rows", len(X)]])
        )
    return 0


def _evaluate_graph(net, df, args: argparse.Namespace, ui: UI) -> int:
    """``chainrule evaluate`` on named inputs (``--inputs``), one target per output."""
    from .graph_evaluate import graph_scores

    with blas_for(net, len(df)):  # one thread for a small network
        found = graph_scores(net, df, args.inputs, args.target, args.data, ui.note)
    if args.json:
        info = {"model": str(args.model), "data": str(args.data), **found}
        ui.out(json.dumps(info, indent=2))
        return 0
    outputs = list(found["metrics"])
    keys = list(dict.fromkeys(k for scores_ in found["metrics"].values() for k in scores_))
    rows = [[k] + [found["metrics"][o].get(k, "") for o in outputs] for k in keys]
    rows.append(["target"] + [found["target"][o] for o in outputs])
    rows.append(["rows"] + [found["rows"]] * len(outputs))
    ui.out(_table(["metric", *outputs], rows))
    return 0

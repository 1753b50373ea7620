"""``chainrule evaluate`` on a graph network with several inputs or outputs.

The columns feeding each input come from ``--inputs`` exactly as for
``chainrule predict`` (``graph_predict.parse_inputs``). Each output is scored
on ``net.predict({name: array})``, so a stored target rescaling is undone
before the comparison, against its own target column, in that column's
units: accuracy and F1 for a classifier output, MSE, RMSE, MAE and R^2 for a
regression output.
"""

from __future__ import annotations

import numpy as np

from .errors import CLIError
from .tables import _pandas, _regression_scores, target_columns


def graph_targets(text: str | None, net, df, data_name: str) -> list[str]:
    """The target columns of ``--target``, one per output in ``net.outputs`` order.

    Parameters
    ----------
    text : str or None
        ``"y"`` or ``"y1,y2"``; required (a graph network stores no target name).
    net : Network
        The graph network, for its output names.
    df : pandas.DataFrame
        The table, for its column names.
    data_name : str
        The table's file name, for messages.
    """
    names = net.output_names
    if text is None:
        raise CLIError(
            f"a graph network stores no target column names; give --target with one column per "
            f"output, in this order: {', '.join(names)}",
            code=2,
        )
    targets = target_columns(text, df, data_name)
    if len(targets) != len(names):
        raise CLIError(
            f"--target names {len(targets)} column(s) but this network has {len(names)} "
            f"output(s) ({', '.join(names)}); give one target column per output, in that order",
            code=2,
        )
    return targets


def check_target(column, output: str, task: str, width: int) -> np.ndarray:
    """The target column as an array fit for an output answering ``task``.

    Parameters
    ----------
    column : pandas.Series
        The target column (no missing values).
    output : str
        The output's name, for messages.
    task : {"multiclass", "binary", "regression"}
        What the output answers (``chainrule.tasks.output_task``).
    width : int
        The output's number of columns.
    """
    pd = _pandas()
    name = column.name
    if task != "multiclass" and width > 1:
        raise CLIError(
            f"output {output!r} answers {width} columns but evaluate reads one target column per "
            "output; score it in Python: net.evaluate({name: array, ...}, [y1, y2])"
        )
    if not pd.api.types.is_numeric_dtype(column.dtype):
        kind = "integer labels" if task != "regression" else "numbers"
        raise CLIError(f"target {name!r} (output {output!r}) is not numeric; it must hold {kind}")
    values = column.to_numpy(dtype=np.float64)
    if task == "regression":
        return values
    k = max(width, 2) if task == "multiclass" else 2  # labels 0 .. k-1
    bad = (values != np.round(values)) | (values < 0) | (values >= k)
    if bad.any():
        raise CLIError(
            f"target {name!r} holds {values[bad][0]:g}, but output {output!r} ({task}) predicts "
            f"the integer labels 0..{k - 1}; give those labels (encode classes as 0..{k - 1})"
        )
    return values.astype(np.int64)


def output_scores(task: str, true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy and F1 (``chainrule.metrics``) for labels; MSE, RMSE, MAE, R^2 for values.

    F1 is class 1's for a yes/no output, the macro average otherwise.
    """
    from .. import metrics

    if task == "regression":
        return _regression_scores(true, np.asarray(pred, dtype=np.float64).reshape(len(true)))
    pred = np.asarray(pred).reshape(len(true))
    return {"accuracy": metrics.accuracy(true, pred), "f1": metrics.f1(true, pred)}


def graph_scores(net, df, inputs: str | None, target: str | None, data_name: str, note) -> dict:
    """``{"target", "task", "rows", "metrics"}``, each keyed by output name of a graph network.

    Parameters
    ----------
    net : Network
        The graph network.
    df : pandas.DataFrame
        The labelled table.
    inputs : str or None
        ``--inputs``, as for ``chainrule predict``.
    target : str or None
        ``--target``: one column per output.
    data_name : str
        The table's file name, for messages.
    note : callable
        Prints a note (rows left out).
    """
    from ..tasks import output_losses, output_task
    from . import graph_predict

    targets = graph_targets(target, net, df, data_name)
    mapping = graph_predict.parse_inputs(inputs, net, df)
    graph_predict.check_stored_preprocessing(net)
    no_target = df[targets].isna().any(axis=1)
    if no_target.all():
        raise CLIError(f"no row has a value in every target column ({', '.join(targets)})")
    if no_target.any():
        note(f"note: ignored {int(no_target.sum())} row(s) with no value in {', '.join(targets)}")
        df = df[~no_target].reset_index(drop=True)
    losses = output_losses(net)
    widths = [o.n_features for o in net.outputs]
    tasks = [output_task(loss, w) for loss, w in zip(losses, widths)]
    trues = [
        check_target(df[col], out, task, w)
        for col, out, task, w in zip(targets, net.output_names, tasks, widths)
    ]
    arrays = graph_predict.input_arrays(net, df, mapping)
    answers = net.predict(arrays)
    answers = [answers] if len(net.outputs) == 1 else answers
    result = {
        out: output_scores(task, true, pred)
        for out, task, true, pred in zip(net.output_names, tasks, trues, answers)
    }
    return {
        "target": dict(zip(net.output_names, targets)),
        "task": dict(zip(net.output_names, tasks)),
        "rows": len(df),
        "metrics": result,
    }

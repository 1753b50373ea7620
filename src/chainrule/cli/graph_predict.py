"""``chainrule predict`` on a graph network with several inputs or outputs.

A table has columns; a graph network has named inputs (``cr.Input``), each a
few columns wide. ``--inputs "num=a,b,c;extra=d,e"`` says which columns feed
which input. The answers come from ``net.predict({name: array})``, the
library's own path, so any stored per-input scaling (``answers.input_scalings``)
and target rescaling (``answers.output_scalings``) are applied exactly as in
Python. Several outputs give one block of columns each, named after the output.
"""

from __future__ import annotations

import numpy as np

from .errors import CLIError
from .tables import _columns_hint, _inputs_list, _pandas, check_columns, inputs_spelling


def parse_inputs(text: str | None, net, df) -> dict[str, list[str]]:
    """``{input name: [column, ...]}`` from ``--inputs`` (None: all columns, one input).

    Parameters
    ----------
    text : str or None
        ``"name=col,col;name=col"``; None is allowed for a one-input network.
    net : Network
        The graph network, for its input names and widths.
    df : pandas.DataFrame
        The table, for its column names.
    """
    names, widths = net.input_names, dict(zip(net.input_names, net.n_features_list))
    if text is None:
        if len(names) > 1:
            raise CLIError(
                f"this network has {len(names)} inputs [{_inputs_list(net)}]: say which columns "
                f"feed each with {inputs_spelling(net)}",
                code=2,
            )
        mapping = {names[0]: list(df.columns)}
    else:
        mapping = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, eq, cols = part.partition("=")
            name = name.strip()
            if not eq or not name:
                raise CLIError(
                    f"--inputs: {part!r} is not NAME=col,col; write {inputs_spelling(net)}",
                    code=2,
                )
            if name not in widths:
                raise CLIError(
                    f"--inputs: the network has no input {name!r}; its inputs are "
                    f"{_inputs_list(net)}",
                    code=2,
                )
            if name in mapping:
                raise CLIError(f"--inputs: input {name!r} is named twice", code=2)
            mapping[name] = [c.strip() for c in cols.split(",") if c.strip()]
        missing = [n for n in names if n not in mapping]
        if missing:
            raise CLIError(
                f"--inputs: no columns for input(s) {', '.join(map(repr, missing))}; give every "
                f"input: {inputs_spelling(net)}",
                code=2,
            )
    seen: dict[str, str] = {}
    for name in names:
        cols = mapping[name]
        if len(cols) != widths[name]:
            given = f" ({', '.join(cols)})" if cols and text is not None else ""
            where = "--inputs gives" if text is not None else "the table has"
            fix = "" if text is not None else f"; choose them with {inputs_spelling(net)}"
            raise CLIError(
                f"input {name!r} takes {widths[name]} columns but {where} {len(cols)}{given}{fix}",
                code=2,
            )
        for col in cols:
            if col not in df.columns:
                raise CLIError(f"--inputs: unknown column {col!r}; {_columns_hint(df)}", code=2)
            if col in seen:
                raise CLIError(
                    f"--inputs: column {col!r} is used twice (for {seen[col]!r} and {name!r}); "
                    "each column feeds one input",
                    code=2,
                )
            seen[col] = name
    return {name: mapping[name] for name in names}


def input_arrays(net, df, mapping: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Each input's columns of ``df`` as a float array, refusing text and missing cells."""
    pd = _pandas()
    used = [c for cols in mapping.values() for c in cols]
    check_columns(df, used)
    bad = [c for c in used if not pd.api.types.is_numeric_dtype(df[c].dtype)]
    if bad:
        raise CLIError(
            f"column(s) {', '.join(map(repr, bad[:5]))} are not numeric; a graph network's "
            "inputs read numbers (encode text as numbers first)"
        )
    arrays = {name: df[cols].to_numpy(dtype=np.float64) for name, cols in mapping.items()}
    for name, cols in mapping.items():
        holes = np.isnan(arrays[name]).any(axis=0)
        if holes.any():
            raise CLIError(
                f"column {cols[int(np.argmax(holes))]!r} (input {name!r}) has missing values; "
                "fill them in first"
            )
    return arrays


def check_stored_preprocessing(net) -> None:
    """Refuse stored preprocessing that ``net.predict`` cannot apply to a dict of inputs."""
    from ..answers import input_scalings, output_scalings, stored_preprocessor

    if stored_preprocessor(net) is not None:
        raise CLIError(
            f"this network stores a table's preprocessing (its columns) but has "
            f"{len(net.inputs)} input(s) and {len(net.outputs)} output(s): which columns and "
            "target belong to which is not recorded, so it cannot be applied; use Python"
        )
    try:
        input_scalings(net)
        output_scalings(net)
    except ValueError as exc:
        raise CLIError(f"the stored preprocessing cannot be applied: {exc}") from None


def _block(result, name: str, values: np.ndarray) -> None:
    values = np.asarray(values)
    if values.ndim == 1 or values.shape[1] == 1:
        result[name] = values.reshape(len(values))
    else:
        for j in range(values.shape[1]):
            result[f"{name}[{j}]"] = values[:, j]


def predictions(net, arrays: dict[str, np.ndarray], proba: bool, warn) -> dict:
    """Columns of ``net.predict`` (and ``net.predict_proba``) answers, in outputs order.

    One output: ``prediction`` (``prediction[j]`` when wider), ``proba_k``.
    Several: ``<output>`` or ``<output>[j]`` each, ``<output>_p[k]`` for each
    output with probabilities (cross_entropy, binary_cross_entropy).
    """
    from ..tasks import PROBABILITY_LOSSES, output_losses, output_task

    pd = _pandas()
    single = len(net.outputs) == 1
    labels = net.predict(arrays)
    labels = [labels] if single else labels
    names = ["prediction"] if single else net.output_names
    result = pd.DataFrame(index=range(len(next(iter(arrays.values())))))
    for name, values in zip(names, labels):
        _block(result, name, values)
    if not proba:
        return result
    losses = output_losses(net)
    has_proba = [loss in PROBABILITY_LOSSES for loss in losses]
    if not any(has_proba):
        raise CLIError(
            f"--proba needs an output trained with cross_entropy or binary_cross_entropy; this "
            f"network's losses are {list(losses)}",
            code=2,
        )
    probs = net.predict_proba(arrays)
    probs = [probs] if single else probs
    for name, p, loss, known, width in zip(
        names, probs, losses, has_proba, [o.n_features for o in net.outputs]
    ):
        if not known:
            if output_task(loss, width) != "regression":
                warn(
                    f"output {name!r} ({loss}) gives no probabilities; only its labels are written"
                )
            continue
        if p.shape[1] == 1:  # one yes/no column: the probability of 0, then of 1
            p = np.c_[1 - p[:, 0], p[:, 0]]
        for k in range(p.shape[1]):
            result[f"proba_{k}" if single else f"{name}_p[{k}]"] = p[:, k]
    return result


def describe_scaling(net) -> str:
    """One line for ``chainrule summary``: the plain scaling stored by input and output name."""
    from ..answers import input_scalings, output_scalings

    try:
        ins, outs = input_scalings(net), output_scalings(net)
    except ValueError as exc:
        return f"preprocessing: stored, but it cannot be applied: {exc}"
    scaled = [n for n, s in zip(net.input_names, ins) if s is not None]
    rescaled = [n for n, s in zip(net.output_names, outs) if s is not None]
    return (
        f"preprocessing: (x - mean) / scale stored for input(s) {scaled or 'none'}, "
        f"y * target_scale + target_mean for output(s) {rescaled or 'none'}; predict applies it"
    )

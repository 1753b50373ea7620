"""Reading CSV/TSV/Parquet tables and model files; scores, text tables, output files."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CLIError, _one_line


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise CLIError("reading tables needs pandas: pip install 'chainrule[cli]'") from None
    return pd


def read_table(path: str | os.PathLike):
    """A pandas DataFrame from a CSV, TSV or Parquet file, or a one-line CLIError."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"no such file: {path}")
    if p.is_dir():
        raise CLIError(f"{path} is a folder, not a data file")
    pd = _pandas()
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(p)
        except ImportError:
            raise CLIError("reading Parquet needs pyarrow: pip install pyarrow") from None
        except Exception as exc:
            raise CLIError(f"cannot read {path} as Parquet: {_one_line(exc)}") from None
    else:
        sep = "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","
        try:
            df = pd.read_csv(p, sep=sep)
        except pd.errors.EmptyDataError:
            raise CLIError(f"{path} is empty: expected a header line and rows") from None
        except pd.errors.ParserError as exc:
            raise CLIError(f"cannot parse {path} as CSV: {_one_line(exc)}") from None
        except UnicodeDecodeError:
            raise CLIError(f"{path} is not a text CSV file (is it binary?)") from None
        _check_header(pd, p, sep, path)
    if df.shape[1] == 0:
        raise CLIError(f"{path} is empty: it has no columns")
    if len(df) == 0:
        raise CLIError(f"{path} has a header but no rows")
    df.columns = [str(c) for c in df.columns]
    _refuse_duplicates(list(df.columns), path)
    return df


def _refuse_duplicates(names: list[str], path) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            raise CLIError(
                f"{path} has two columns named {name!r} (columns {seen[name] + 1} and {k + 1}); "
                "column names must be unique: rename or remove one"
            )
        seen[name] = k


def _check_header(pd, p: Path, sep: str, path) -> None:
    """Refuse repeated column names, which pandas would silently rename ``x``, ``x.1``."""
    try:
        header = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    except Exception:  # the full read worked; a header it cannot re-read is not our concern
        return
    _refuse_duplicates([str(v) for v in header.iloc[0].tolist()], path)


#: The largest magnitude chainrule's float32 networks can hold.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_columns(df, columns: Sequence[str]) -> None:
    """Refuse cells the network cannot take, naming the column, the row and the value.

    A text cell in a column whose other cells are numbers (at least 90% of them)
    is a typo, not a category; an infinite number, or one too large for float32
    (``1e300``), has no place in a float32 network. Row numbers count data rows
    from 1 (the header is not a row).
    """
    pd = _pandas()
    for name in columns:
        if name not in df.columns:
            continue
        col = df[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            continue
        if pd.api.types.is_numeric_dtype(col.dtype):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = np.isinf(values) | (np.abs(values) > _FLOAT32_MAX)
            if bad.any():
                i = int(np.argmax(bad))
                why = (
                    "is infinite"
                    if np.isinf(values[i])
                    else f"overflows float32 (largest {_FLOAT32_MAX:.3g})"
                )
                raise CLIError(
                    f"column {name!r} row {i + 1}: the value {values[i]:g} {why}; chainrule "
                    "computes in float32, so fix or rescale that value (or leave the cell empty "
                    "for a missing value)"
                )
            continue
        present = col.dropna()
        if present.empty:
            continue
        sample = present.iloc[:: max(1, len(present) // 500)]  # a text column: stop early
        if pd.to_numeric(sample, errors="coerce").isna().mean() > 0.5:
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        text = numbers.isna()
        n_text = int(text.sum())
        if 0 < n_text <= 0.1 * len(present):
            where = present.index[np.argmax(text.to_numpy())]
            row = df.index.get_loc(where) + 1
            raise CLIError(
                f"column {name!r} holds numbers except {n_text} text cell(s), the first in row "
                f"{row}: {str(present[where])!r}; fix that cell or leave it empty for a missing "
                "value (a numeric column is not one-hot encoded)"
            )


def _columns_hint(df) -> str:
    cols = list(df.columns)
    shown = ", ".join(map(repr, cols[:15])) + (", ..." if len(cols) > 15 else "")
    return f"the columns are: {shown}"


def target_columns(text: str, df, data) -> list[str]:
    """``--target``: a column of ``df``, or several numeric ones as ``a,b`` (a column's own
    name wins when it holds a comma)."""
    if text in df.columns:
        return [text]
    names = [c.strip() for c in text.split(",")]
    for name in names:
        if name not in df.columns:
            raise CLIError(f"unknown target column {name!r} in {data}; {_columns_hint(df)}")
    if len(set(names)) != len(names):
        raise CLIError(f"--target {text}: a column is named twice", code=2)
    return names


def load_model(path: str | os.PathLike):
    """The network in a model file (``serialization.load``) with clear one-line errors."""
    from ..serialization import load

    try:
        return load(path)
    except FileNotFoundError:
        raise CLIError(f"no such model file: {path}") from None
    except ImportError as exc:
        raise CLIError(str(exc)) from None


def inputs_spelling(net) -> str:
    """The ``--inputs`` option to give, with each input's name and width."""
    parts = [f"{name}=<{w} columns>" for name, w in zip(net.input_names, net.n_features_list)]
    return f'--inputs "{";".join(parts)}"'


def _inputs_list(net) -> str:
    return ", ".join(f"{n!r} ({w} columns)" for n, w in zip(net.input_names, net.n_features_list))


class _ModelData:
    """A loaded network with the preprocessing it was trained with (if any)."""

    def __init__(self, net) -> None:
        from ..preprocessing import Preprocessor

        self.net = net
        info = getattr(net, "preprocessing_", None)
        # a graph network with several inputs or outputs: one table cannot feed it directly
        self.multi_io = len(net.inputs) > 1 or len(net.outputs) > 1
        if self.multi_io and isinstance(info, dict) and "columns" not in info:
            info = None  # per-input scaling by input name: net.predict applies it (answers.py)
        self.pre = Preprocessor.from_dict(info) if info else None
        if self.pre is not None:
            self.task = self.pre.task
        elif self.multi_io:
            self.task = None  # one task per output; see the Python API
        else:
            from ..tasks import TARGET_TASK, output_task

            self.task = TARGET_TASK[output_task(net.loss_, net.n_outputs)]

    def refuse_multi_io(self) -> None:
        """diagnose reads one input and one target: say what works instead."""
        if not self.multi_io:
            return
        net = self.net
        how = f" with {inputs_spelling(net)}" if len(net.inputs) > 1 else ""
        raise CLIError(
            f"diagnose reads one table into one input and one target, but this "
            f"network has {len(net.inputs)} input(s) [{_inputs_list(net)}] and "
            f"{len(net.outputs)} output(s) {net.output_names}; chainrule predict and chainrule "
            f"evaluate work on it{how} (evaluate: --target with one column per output)"
        )

    @property
    def target(self) -> str | list[str] | None:
        return self.pre.target if self.pre is not None else None

    @property
    def targets(self) -> list[str]:
        """The target column names (several for a multi-target regressor; none if unknown)."""
        return self.pre.targets if self.pre is not None else []

    @property
    def classes(self) -> list:
        if self.pre is not None and self.pre.classes is not None:
            return list(self.pre.classes)
        if self.multi_io:
            return []
        k = self.net.n_outputs or 1
        return list(range(max(k, 2)))

    def features(self, df, target: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Network inputs and the mask of rows kept."""
        from ..preprocessing import MissingValuesError

        self.refuse_multi_io()

        skip = {target} if target is None or isinstance(target, str) else set(target)
        used = [c["name"] for c in self.pre.columns] if self.pre is not None else df.columns
        check_columns(df, [c for c in used if c not in skip])
        if self.pre is None:
            cols = [c for c in df.columns if c not in skip]
            pd = _pandas()
            bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c].dtype)]
            if bad:
                raise CLIError(
                    f"this model stores no preprocessing, so every column must be numeric; "
                    f"{', '.join(map(repr, bad[:5]))} are not"
                )
            if len(cols) != self.net.n_features_in:
                raise CLIError(
                    f"the data has {len(cols)} feature columns but the model expects "
                    f"{self.net.n_features_in} (it stores no preprocessing: give exactly its inputs)"
                )
            X = df[cols].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isnan(X).any():
                raise CLIError("the data has missing values; fill them in first")
            return X, np.ones(len(df), dtype=bool)
        try:
            X, kept = self.pre.transform(df, return_mask=True)
        except MissingValuesError as exc:
            raise CLIError(
                f"missing values in column(s) {_counts_text(exc.counts)}: the model was trained "
                "without --impute, so fill them in first (or retrain with --impute "
                "mean|median|drop)"
            ) from None
        return X, kept

    def encode_target(self, series) -> np.ndarray:
        if self.pre is not None:
            return self.pre.encode_target(series)
        pd = _pandas()
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numbers) & series.notna().to_numpy()
        if self.task == "classify":
            k = max(self.net.n_outputs or 1, 2)
            with np.errstate(invalid="ignore"):
                bad |= (numbers != np.round(numbers)) | (numbers < 0) | (numbers >= k)
        if bad.any():
            i = int(np.argmax(bad))
            wanted = f"class numbers 0..{k - 1}" if self.task == "classify" else "numbers"
            raise CLIError(
                f"target column {series.name!r} row {i + 1} holds {series.iloc[i]!r}, but this "
                f"model stores no preprocessing, so its targets must be {wanted}"
            )
        if self.task == "classify":
            return numbers.astype(np.int64)
        return numbers

    def decode(self, answers: np.ndarray) -> np.ndarray:
        """``net.predict`` answers to class names or values in the target's units."""
        if self.pre is not None:
            return self.pre.decode_target(answers)
        return answers

    def true_values(self, y_encoded: np.ndarray) -> np.ndarray:
        if self.pre is not None and self.task == "regress":
            scale, mean = np.asarray(self.pre.target_scale), np.asarray(self.pre.target_mean)
            return y_encoded * scale + mean  # per column for several targets
        return y_encoded


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name!r} ({n} missing)" for name, n in counts.items())


def scores(model: _ModelData, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss and metrics of ``model`` on network inputs ``X`` and encoded targets ``y``.

    Classification: ``loss``, ``accuracy``, ``precision``, ``recall``, ``f1``
    (class 1 for two classes, the macro average otherwise). Regression:
    ``loss`` (the training objective, on the standardised target), then
    ``mse``, ``rmse``, ``mae`` and ``r2`` in the target's units; with several
    targets, those four for each target ``t`` as ``mse[t]`` ... ``r2[t]``,
    then ``mean r2``, their average (a mean MAE would add different units).
    """
    from .. import metrics, training

    net = model.net
    result = {"loss": float(training.evaluate(net, X, y, metrics=[])["loss"])} if net.loss_ else {}
    answers = training.predict(net, X)
    if model.task == "classify":
        for name in ("accuracy", "precision", "recall", "f1"):
            result[name] = float(getattr(metrics, name)(y, answers))
    else:
        true = model.true_values(np.asarray(y, dtype=np.float64))
        pred = np.asarray(model.decode(answers), dtype=np.float64)
        if len(model.targets) < 2:
            return {**result, **_regression_scores(true, pred)}
        for j, name in enumerate(model.targets):
            for key, value in _regression_scores(true[:, j], pred[:, j]).items():
                result[f"{key}[{name}]"] = value
        result["mean r2"] = float(np.mean([result[f"r2[{n}]"] for n in model.targets]))
    return result


def _regression_scores(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R^2 of one target, in its units."""
    from .. import metrics

    mse = metrics.mse(true, pred)
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": metrics.mae(true, pred),
        "r2": metrics.r2(true, pred),
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1e5 else f"{v:.4g}"
        return str(v)

    text = [[str(h) for h in header]] + [[cell(v) for v in r] for r in rows]
    widths = [max(len(r[c]) for r in text) for c in range(len(header))]
    lines = []
    for k, r in enumerate(text):
        first = r[0].ljust(widths[0])
        rest = "  ".join(v.rjust(w) for v, w in zip(r[1:], widths[1:]))
        lines.append(f"{first}  {rest}".rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _atomic_write_text(path: Path, text: str) -> None:
    from ..atomic import write_atomic

    try:
        write_atomic(path, text)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None


def _check_out_folder(path: str | os.PathLike) -> Path:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise CLIError(f"cannot write {path}: it is a folder")
    return path


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1024:.1f} kB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"

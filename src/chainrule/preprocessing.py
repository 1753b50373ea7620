"""Tabular preprocessing that travels with the model: encode, impute, standardise.

A ``Preprocessor`` turns a table (a pandas DataFrame) into the matrix a
network reads, and the network's outputs back into the table's own terms:

1. **Encode.** Every feature column becomes one or more numbers, in the
   table's column order: a numeric column is one number (``True``/``False``
   become 1/0); a text (categorical) column becomes one 0/1 column per
   category seen in training, named ``"column=category"``. A category never
   seen in training encodes as all zeros.
2. **Impute** (only if asked). Missing values are filled with the column's
   training mean or median (the most frequent category for text columns), or
   the rows holding them are dropped. Without a policy a missing value is an
   error that names the columns.
3. **Standardise every encoded column**, the one-hot ones included:

       network input = (encoded - mean) / scale

   so ``mean`` and ``scale`` cover the whole input vector of the network
   (``scale`` is the standard deviation, or 1 for a constant column). An
   exporter that wants raw encoded inputs prepends exactly this step.
4. **Targets.** Classes are sorted and mapped to ``0..K-1``; output ``k``
   of the network is ``classes[k]``. A regression target is standardised
   too: ``value = output * target_scale + target_mean``. Several numeric
   targets (``target=["a", "b"]``) are regressed together, one network
   output each, each standardised with its own ``target_mean[j]`` and
   ``target_scale[j]``; a text or true/false column among them is refused
   (train one classifier per target instead).

Everything is stored as plain JSON (``Preprocessor.to_dict``) inside the
model file, so ``chainrule predict`` applies exactly the same steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._optional import require
from .tasks import TARGET_TASKS as TASKS
from .tasks import detect_task

#: The newest description this reads: 2 stores several targets (1, a single one, is
#: still what a one-target model writes, so older chainrules read it).
PREPROCESSING_VERSION = 2
IMPUTE_POLICIES = ("mean", "median", "drop")

__all__ = [
    "IMPUTE_POLICIES",
    "MissingValuesError",
    "Preprocessor",
    "TASKS",
    "detect_task",
]


class MissingValuesError(ValueError):
    """Feature columns hold missing values and no imputation policy was chosen.

    Attributes
    ----------
    counts : dict[str, int]
        Number of missing values per column, in column order.
    """

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)
        cols = ", ".join(f"{name!r} ({n})" for name, n in self.counts.items())
        super().__init__(
            f"missing values in feature column(s) {cols}; choose an imputation policy: "
            "impute='mean', 'median' or 'drop'"
        )


def _pandas():
    return require("pandas", "tabular preprocessing needs pandas", "'chainrule[cli]'")


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar from a numpy/pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _label_key(value: Any) -> str:
    """A type-tolerant key for a class label: 3, 3.0 and "3" are the same class."""
    value = _plain(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _sorted_labels(values) -> list:
    labels = [_plain(v) for v in values]
    try:
        return sorted(labels)
    except TypeError:  # mixed types: order by their text
        return sorted(labels, key=str)


def _is_numeric(series) -> bool:
    pd = _pandas()
    return bool(pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series))


def _describe_kind(series) -> str:
    pd = _pandas()
    if pd.api.types.is_bool_dtype(series.dtype):
        return "true/false values"
    if _is_numeric(series):
        return "numbers"
    return "text values"


def _mean_and_scale(y: np.ndarray) -> tuple[float, float]:
    """A target's standardisation: its mean and standard deviation (1 when it is constant)."""
    sd = float(y.std())
    return float(y.mean()), (sd if math.isfinite(sd) and sd > 0 else 1.0)


def _finite_list(values, key: str) -> None:
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"preprocessing {key!r} must be a list of numbers")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"preprocessing {key!r} holds NaN or infinite values")


def _finite_number(value, key: str, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or (positive and value <= 0):
        need = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"preprocessing {key!r} must be {need}, got {value!r}")


def _check_description(data: dict[str, Any]) -> None:
    """Type and range of every field of a stored preprocessing description."""
    _finite_list(data["mean"], "mean")
    _finite_list(data["scale"], "scale")
    if not all(v > 0 for v in data["scale"]):
        raise ValueError("preprocessing 'scale' must be > 0 everywhere (1 for constant columns)")
    task = data.get("task")
    if task not in TASKS:
        raise ValueError(f"preprocessing 'task' must be one of {TASKS}, got {task!r}")
    if data.get("impute") not in (None, *IMPUTE_POLICIES):
        raise ValueError(f"preprocessing 'impute' is not a known policy: {data.get('impute')!r}")
    target = data.get("target")
    if isinstance(target, list):
        if len(target) < 2 or not all(isinstance(t, str) for t in target):
            raise ValueError(
                f"preprocessing 'target' must be a column name or a list of them, got {target!r}"
            )
        if len(set(target)) != len(target) or task != "regress":
            raise ValueError(
                "preprocessing with several targets must name distinct regression ones"
            )
        for key, positive in (("target_mean", False), ("target_scale", True)):
            values = data.get(key)
            if not isinstance(values, list) or len(values) != len(target):
                raise ValueError(
                    f"preprocessing {key!r} must list one number per target ({len(target)})"
                )
            for v in values:
                _finite_number(v, key, positive)
    elif target is not None and not isinstance(target, str):
        raise ValueError(f"preprocessing 'target' must be text, got {target!r}")
    ignore = data.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise ValueError("preprocessing 'ignore' must be a list of column names")
    names = data.get("feature_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("preprocessing 'feature_names' must be a list of text")
    columns = data.get("columns", [])
    if not isinstance(columns, list):
        raise ValueError("preprocessing 'columns' must be a list")
    width = 0
    for c in columns:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ValueError(f"preprocessing column {c!r} must be an object with a text 'name'")
        if c.get("kind") == "numeric":
            _finite_number(c.get("fill", 0.0), f"fill of column {c['name']}")
            width += 1
        elif c.get("kind") == "categorical":
            cats = c.get("categories")
            if not isinstance(cats, list) or not cats or not all(isinstance(v, str) for v in cats):
                raise ValueError(
                    f"preprocessing column {c['name']!r} must list its categories as text"
                )
            if not isinstance(c.get("fill"), str):
                raise ValueError(f"preprocessing column {c['name']!r} must have a text fill")
            width += len(cats)
        else:
            raise ValueError(
                f"preprocessing column {c['name']!r} has kind {c.get('kind')!r}; "
                "expected 'numeric' or 'categorical'"
            )
    if columns and width != len(names):
        raise ValueError(
            f"preprocessing columns encode {width} inputs but 'feature_names' lists {len(names)}"
        )
    classes = data.get("classes")
    if task == "classify":
        if not isinstance(classes, list) or len(classes) < 2:
            raise ValueError("preprocessing of a classifier must list at least two 'classes'")
        if not all(isinstance(v, (str, int, float, bool)) for v in classes):
            raise ValueError("preprocessing 'classes' must be numbers or text")
    elif classes is not None:
        raise ValueError("preprocessing of a regression must have 'classes': null")
    if task == "regress" and not isinstance(target, list):
        for key, positive in (("target_mean", False), ("target_scale", True)):
            if data.get(key) is not None:
                _finite_number(data[key], key, positive)


class Preprocessor:
    """Encode, impute and standardise a table for a network; store it as JSON.

    Parameters
    ----------
    target : str, list of str or None
        Name of the target column (excluded from the features), or the names
        of several numeric columns to regress together.
    task : {"classify", "regress"} or None
        ``None`` detects it from the target column (see ``detect_task``).
    impute : {"mean", "median", "drop"} or None
        What to do with missing feature values; ``None`` makes them an error.
    ignore : sequence of str
        Columns that are neither features nor target (identifiers...).
    max_classes : int
        Passed to ``detect_task``.

    Attributes
    ----------
    task : str
        The task after ``fit`` (given or detected).
    task_reason : str
        Why that task was chosen ("given" when it was).
    columns : list of dict
        One entry per input column, in order: ``{"name", "kind": "numeric" |
        "categorical", "categories" (categorical only), "fill"}``.
    feature_names : list of str
        Names of the encoded columns (the network's inputs).
    mean, scale : numpy.ndarray
        Standardisation of the encoded columns.
    classes : list or None
        Original class labels in output order (classification).
    target_mean, target_scale : float, list of float or None
        Standardisation of a regression target (one number per target when
        there are several).
    warnings : list of str
        Notes from the last ``fit`` or ``transform`` (unknown
        categories, identifier-like columns...), for the user.

    Examples
    --------
    >>> pre = Preprocessor(target="species").fit(train_df)        # doctest: +SKIP
    >>> X, y = pre.transform(train_df), pre.encode_target(train_df["species"])  # doctest: +SKIP
    >>> labels = pre.decode_target(net.forward(pre.transform(new_df)))  # doctest: +SKIP
    """

    def __init__(
        self,
        target: str | Sequence[str] | None = None,
        task: str | None = None,
        impute: str | None = None,
        ignore: Sequence[str] = (),
        max_classes: int = 20,
    ) -> None:
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
        if impute is not None and impute not in IMPUTE_POLICIES:
            raise ValueError(f"impute must be one of {IMPUTE_POLICIES} or None, got {impute!r}")
        if target is not None and not isinstance(target, str):
            target = [str(t) for t in target]
            if not target or len(set(target)) != len(target):
                raise ValueError(f"target must name distinct columns, got {target!r}")
            target = target[0] if len(target) == 1 else target
            if isinstance(target, list) and task == "classify":
                raise ValueError(
                    "several targets are for regression; train one classifier per target"
                )
        self.target = target
        self.task = task
        self.task_reason = "given" if task is not None else ""
        self.impute = impute
        self.ignore = list(ignore)
        self.max_classes = int(max_classes)
        self.columns: list[dict[str, Any]] = []
        self.feature_names: list[str] = []
        self.mean = np.zeros(0)
        self.scale = np.ones(0)
        self.classes: list | None = None
        self.target_mean: float | list[float] | None = None
        self.target_scale: float | list[float] | None = None
        self.warnings: list[str] = []
        self._fitted = False

    @property
    def targets(self) -> list[str]:
        """The target column names: none, one, or several regressed together."""
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)

    # -- fitting ------------------------------------------------------------------
    def feature_columns(self, df) -> list[str]:
        """The columns of ``df`` used as features (all but the target and ``ignore``).

        Parameters
        ----------
        df : pandas.DataFrame
            The table.
        """
        skip = set(self.ignore) | set(self.targets)
        return [str(c) for c in df.columns if str(c) not in skip]

    def fit(self, df, rows: Sequence[int] | np.ndarray | None = None) -> Preprocessor:
        """Learn the encoding from ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            The table, including the target column if one was named.
        rows : array of int or None
            Positions of the rows to compute statistics from (means, scales,
            fill values: the training rows). All rows of ``df`` contribute to
            the task, the classes and the categories.

        Returns
        -------
        Preprocessor
            ``self``.
        """
        pd = _pandas()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Preprocessor.fit expects a pandas DataFrame, got {type(df).__name__}")
        df = df.rename(columns=str)
        self.warnings = []
        if len(df) == 0:
            raise ValueError("the table has no rows")
        missing = [c for c in self.ignore if c not in df.columns]
        if missing:
            raise ValueError(f"cannot ignore unknown column(s) {missing}")
        for name in self.targets:
            if name not in df.columns:
                raise ValueError(
                    f"unknown target column {name!r}; the columns are: "
                    + ", ".join(map(repr, df.columns))
                )
        if len(self.targets) > 1:
            self._fit_targets(df)
        elif self.target is not None:
            self._fit_target(df[self.target])
        names = self.feature_columns(df)
        if not names:
            raise ValueError("no feature columns: the table holds only the target column")
        fit_df = df if rows is None else df.iloc[np.asarray(rows)]
        if len(fit_df) == 0:
            raise ValueError("no rows to fit the preprocessing on")

        nan_counts = {c: int(df[c].isna().sum()) for c in names}
        nan_counts = {c: n for c, n in nan_counts.items() if n}
        if nan_counts and self.impute is None:
            raise MissingValuesError(nan_counts)

        self.columns = []
        for name in names:
            col = df[name]
            fit_col = fit_df[name].dropna()
            if col.notna().sum() == 0:
                raise ValueError(f"feature column {name!r} has no values at all; drop it")
            if _is_numeric(col):
                values = fit_col.to_numpy(dtype=np.float64)
                if len(values) == 0:
                    raise ValueError(f"feature column {name!r} has no values in the training rows")
                if not np.all(np.isfinite(values)):
                    raise ValueError(f"feature column {name!r} holds infinite values")
                fill = float(np.median(values) if self.impute == "median" else np.mean(values))
                self.columns.append({"name": name, "kind": "numeric", "fill": fill})
            else:
                text = col.dropna().astype(str)
                categories = sorted(set(text))
                counts = fit_col.astype(str).value_counts()
                fill = str(counts.index[0]) if len(counts) else categories[0]
                if len(categories) > 50 and len(categories) > 0.5 * len(text):
                    self.warnings.append(
                        f"column {name!r} has {len(categories)} distinct values in {len(text)} "
                        "rows: it looks like an identifier, not a category (ignore it)"
                    )
                self.columns.append(
                    {"name": name, "kind": "categorical", "categories": categories, "fill": fill}
                )
        self.feature_names = []
        for c in self.columns:
            if c["kind"] == "numeric":
                self.feature_names.append(c["name"])
            else:
                self.feature_names.extend(f"{c['name']}={v}" for v in c["categories"])

        self._fitted = True
        notes = self.warnings
        encoded = self.encode(fit_df)[0]
        self.warnings = notes + self.warnings
        self.mean = encoded.mean(axis=0) if len(encoded) else np.zeros(encoded.shape[1])
        std = encoded.std(axis=0) if len(encoded) else np.ones(encoded.shape[1])
        self.scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        if self.task == "regress" and self.target is not None:
            stats = [
                _mean_and_scale(self._numeric_target(fit_df[name].dropna(), name))
                for name in self.targets
            ]
            if len(stats) == 1:
                self.target_mean, self.target_scale = stats[0]
            else:
                self.target_mean = [m for m, _ in stats]
                self.target_scale = [sd for _, sd in stats]
        return self

    def _fit_targets(self, df) -> None:
        """Several targets: each a numeric column, regressed together."""
        for name in self.targets:
            values = df[name].dropna()
            if len(values) == 0:
                raise ValueError(f"target column {name!r} has no values")
            if not _is_numeric(values) or _pandas().api.types.is_bool_dtype(values.dtype):
                raise ValueError(
                    f"several targets are regressed together (one network output each), but "
                    f"{name!r} holds {_describe_kind(values)}; train one classifier per target "
                    f"instead (--target {name}, with the other targets in --ignore)"
                )
            self._numeric_target(values, name)
        if self.task is None:
            self.task_reason = f"{len(self.targets)} numeric targets, regressed together"
        self.task = "regress"
        self.classes = None

    def _fit_target(self, series) -> None:
        values = series.dropna()
        if len(values) == 0:
            raise ValueError(f"target column {self.target!r} has no values")
        if self.task is None:
            self.task, self.task_reason = detect_task(values, self.max_classes)
        if self.task == "classify":
            keys: dict[str, Any] = {}
            for v in _sorted_labels(values.unique()):
                keys.setdefault(_label_key(v), v)
            self.classes = list(keys.values())
            if len(self.classes) < 2:
                raise ValueError(
                    f"target column {self.target!r} has a single class ({self.classes[0]!r}); "
                    "classification needs at least two"
                    + (
                        ", or use --task regress for a numeric target"
                        if _is_numeric(values)
                        else ""
                    )
                )
        else:
            self.classes = None
            self._numeric_target(values)

    def _numeric_target(self, values, name: str | None = None) -> np.ndarray:
        name = self.target if name is None else name
        if not _is_numeric(values) or _pandas().api.types.is_bool_dtype(values.dtype):
            examples = ", ".join(repr(_plain(v)) for v in values.unique()[:3])
            raise ValueError(
                f"regression needs a numeric target, but {name!r} holds "
                f"{_describe_kind(values)} such as {examples}; use --task classify"
            )
        y = values.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"target column {name!r} holds infinite values")
        return y

    # -- applying it ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("this Preprocessor is not fitted yet; call fit(df) first")

    @property
    def n_features(self) -> int:
        """Width of the encoded feature vector (the network's input width)."""
        return len(self.feature_names)

    def missing_rows(self, df) -> np.ndarray:
        """Boolean mask of the rows of ``df`` with a missing value in a feature column.

        Parameters
        ----------
        df : pandas.DataFrame
            A table with the feature columns seen by ``fit``.
        """
        self._check_fitted()
        names = [c["name"] for c in self.columns]
        absent = [n for n in names if n not in df.columns]
        if absent:
            raise ValueError(
                f"the data has no column(s) {', '.join(map(repr, absent))}, which the model "
                "was trained on"
            )
        return df[names].isna().any(axis=1).to_numpy()

    def encode(self, df) -> tuple[np.ndarray, np.ndarray]:
        """Encoded (not standardised) features and the mask of rows kept.

        Numeric columns as they are, one-hot 0/1 columns for categories;
        missing values filled or rows dropped according to ``impute``.

        Parameters
        ----------
        df : pandas.DataFrame
            A table with the feature columns seen by ``fit``.

        Returns
        -------
        encoded : ndarray of float64, shape (n_kept, n_features)
        kept : ndarray of bool, shape (len(df),)
        """
        self._check_fitted()
        df = df.rename(columns=str)
        missing = self.missing_rows(df)
        if missing.any():
            if self.impute is None:
                counts = {}
                for c in self.columns:
                    n = int(df[c["name"]].isna().sum())
                    if n:
                        counts[c["name"]] = n
                raise MissingValuesError(counts)
        kept = ~missing if self.impute == "drop" else np.ones(len(df), dtype=bool)
        df = df[kept] if self.impute == "drop" else df
        out = np.empty((len(df), self.n_features), dtype=np.float64)
        j = 0
        self.warnings = []
        for c in self.columns:
            col = df[c["name"]]
            if c["kind"] == "numeric":
                if not _is_numeric(col):
                    bad = col.dropna()
                    raise ValueError(
                        f"column {c['name']!r} should hold numbers (as in training) but holds "
                        f"values such as {_plain(bad.iloc[0])!r}"
                    )
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
                out[:, j] = np.where(np.isnan(values), c["fill"], values)
                j += 1
            else:
                text = col.astype(object).where(col.notna(), c["fill"]).astype(str).to_numpy()
                cats = c["categories"]
                codes = _pandas().Index(cats).get_indexer(text).astype(np.int64)
                block = np.zeros((len(df), len(cats)))
                ok = codes >= 0
                block[np.flatnonzero(ok), codes[ok]] = 1.0
                if not ok.all():
                    unseen = sorted(set(text[~ok]))
                    self.warnings.append(
                        f"column {c['name']!r}: {int((~ok).sum())} row(s) hold categories not "
                        f"seen in training ({', '.join(map(repr, unseen[:3]))}"
                        f"{', ...' if len(unseen) > 3 else ''}), encoded as all zeros"
                    )
                out[:, j : j + len(cats)] = block
                j += len(cats)
        return out, kept

    def transform(self, df, return_mask: bool = False):
        """The network's input: encoded, imputed and standardised features.

        Parameters
        ----------
        df : pandas.DataFrame
            Must hold every feature column seen in ``fit`` (others are ignored).
        return_mask : bool
            Also return the boolean mask of the rows kept (with ``impute="drop"``
            rows with missing values are left out; otherwise all are kept).

        Returns
        -------
        X : ndarray of float64, shape (n_kept, n_features)
        kept : ndarray of bool, only with ``return_mask=True``
        """
        encoded, kept = self.encode(df)
        X = (encoded - self.mean) / self.scale
        return (X, kept) if return_mask else X

    def fit_transform(self, df, rows=None):
        """``fit`` then ``transform`` on the same table.

        Parameters
        ----------
        df : pandas.DataFrame
            The table.
        rows : sequence of int or None, default None
            Learn the encoding from these rows only (as ``fit``).
        """
        return self.fit(df, rows=rows).transform(df)

    def encode_target(self, series) -> np.ndarray:
        """Class indices ``0..K-1`` (int64), or standardised regression targets (float64).

        Several targets give an array of shape (n, k), column ``j`` being
        ``(y_j - target_mean[j]) / target_scale[j]``.

        Parameters
        ----------
        series : pandas.Series or pandas.DataFrame
            The target column (a DataFrame holding every target column when
            there are several).
        """
        self._check_fitted()
        if len(self.targets) > 1:
            if not hasattr(series, "columns"):
                raise TypeError(
                    f"this preprocessing has {len(self.targets)} targets: pass a DataFrame with "
                    f"the columns {self.targets!r}"
                )
            columns = []
            for j, name in enumerate(self.targets):
                if name not in series.columns:
                    raise ValueError(f"the targets have no column {name!r}")
                if series[name].isna().any():
                    raise ValueError(f"target column {name!r} has missing values")
                y = self._numeric_target(series[name], name)
                columns.append((y - self.target_mean[j]) / self.target_scale[j])
            return np.column_stack(columns)
        if self.task == "classify":
            index = {_label_key(v): k for k, v in enumerate(self.classes)}
            if series.isna().any():
                raise ValueError(f"target column {self.target!r} has missing values")
            keys = [_label_key(v) for v in series.tolist()]
            unknown = sorted({k for k in keys if k not in index})
            if unknown:
                raise ValueError(
                    f"target column {self.target!r} holds classes the model does not know: "
                    f"{', '.join(map(repr, unknown[:5]))}{', ...' if len(unknown) > 5 else ''}; "
                    f"known classes: {', '.join(map(repr, self.classes))}"
                )
            return np.array([index[k] for k in keys], dtype=np.int64)
        if series.isna().any():
            raise ValueError(f"target column {self.target!r} has missing values")
        y = self._numeric_target(series)
        return (y - self.target_mean) / self.target_scale

    def decode_target(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs (or class indices) back to class labels or target values.

        Parameters
        ----------
        outputs : ndarray
            For classification: raw outputs of shape (n, K) (arg-max taken),
            (n, 1) logits of a one-output binary network (class 1 when > 0),
            or integer class indices (n,). For regression: outputs (n, 1) or (n,);
            (n, k) for ``k`` targets.

        Returns
        -------
        ndarray
            Class labels (object array) or values (float64); shape (n, k),
            column ``j`` being ``outputs[:, j] * target_scale[j] + target_mean[j]``,
            for ``k`` targets.
        """
        self._check_fitted()
        outputs = np.asarray(outputs)
        if self.task == "classify":
            if outputs.ndim == 2:
                if outputs.shape[1] == 1:
                    idx = (outputs[:, 0] > 0).astype(np.int64)
                else:
                    idx = outputs.argmax(axis=1)
            else:
                idx = outputs.astype(np.int64)
            labels = np.empty(len(self.classes), dtype=object)
            labels[:] = self.classes
            return labels[idx]
        values = outputs.reshape(len(outputs), -1).astype(np.float64)
        k = len(self.targets)
        if k > 1:
            if values.shape[1] != k:
                raise ValueError(
                    f"outputs have {values.shape[1]} column(s) but the model has {k} targets"
                )
            return values * np.asarray(self.target_scale) + np.asarray(self.target_mean)
        return values[:, 0] * self.target_scale + self.target_mean

    # -- storage -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to apply this preprocessing again, as JSON-able data.

        Keys: ``version``, ``task``, ``target``, ``impute``, ``ignore``,
        ``columns`` (list of ``{"name", "kind", "categories"?, "fill"}``),
        ``feature_names``, ``mean``, ``scale`` (one number per network
        input), ``classes`` (or null), ``target_mean``, ``target_scale``
        (regression, else null). With several targets ``target``,
        ``target_mean`` and ``target_scale`` are lists, one entry per target
        and network output, and ``version`` is 2.
        """
        self._check_fitted()
        several = len(self.targets) > 1
        return {
            "version": 2 if several else 1,
            "task": self.task,
            "target": list(self.targets) if several else self.target,
            "impute": self.impute,
            "ignore": list(self.ignore),
            "columns": [dict(c) for c in self.columns],
            "feature_names": list(self.feature_names),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "classes": None if self.classes is None else [_plain(v) for v in self.classes],
            "target_mean": list(self.target_mean) if several else self.target_mean,
            "target_scale": list(self.target_scale) if several else self.target_scale,
        }

    @classmethod
    def identity(
        cls,
        feature_names: list[str],
        task: str,
        target: str = "y",
        classes: list | None = None,
    ) -> Preprocessor:
        """A fitted Preprocessor that passes numeric columns to the network unchanged.

        For a network trained on features you computed yourself (the
        playground's exports use it): each named column goes to one input,
        with mean 0 and scale 1, and no imputation. A classifier's output
        ``k`` is ``classes[k]``; a regression output is the value itself.

        Parameters
        ----------
        feature_names : list of str
            The input columns, in the network's input order.
        task : {"classify", "regress"}
            What the network answers.
        target : str, default "y"
            Name of the target column.
        classes : list or None, default None
            A classifier's class labels, output ``k`` meaning ``classes[k]``.

        Raises
        ------
        ValueError
            For an unknown task, no or repeated feature names, or a classifier
            without classes.
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        names = [str(n) for n in feature_names]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"feature_names must be distinct and not empty, got {names!r}")
        if task == "classify" and not classes:
            raise ValueError("a classifier needs its classes, e.g. classes=[0, 1]")
        k = len(names)
        return cls.from_dict(
            {
                "version": 1,
                "task": task,
                "target": target,
                "impute": None,
                "ignore": [],
                "columns": [{"name": n, "kind": "numeric", "fill": 0.0} for n in names],
                "feature_names": names,
                "mean": [0.0] * k,
                "scale": [1.0] * k,
                "classes": list(classes) if task == "classify" else None,
                "target_mean": 0.0 if task == "regress" else None,
                "target_scale": 1.0 if task == "regress" else None,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted Preprocessor from ``to_dict`` output, checking every field.

        Parameters
        ----------
        data : dict
            The description ``to_dict`` wrote (as stored in a model file).

        Raises
        ------
        ValueError
            A field of the wrong type or out of range (a NaN or non-positive
            scale, columns that do not add up to ``feature_names``...), named.
        """
        if not isinstance(data, dict) or "mean" not in data or "scale" not in data:
            raise ValueError("not a chainrule preprocessing description (no mean/scale)")
        _check_description(data)
        version = data.get("version", 1)
        if not isinstance(version, int) or version > PREPROCESSING_VERSION:
            raise ValueError(
                f"the preprocessing was written by a newer chainrule (version {version}); "
                f"this one reads version {PREPROCESSING_VERSION}: upgrade chainrule"
            )
        pre = cls(
            target=data.get("target"),
            task=data.get("task"),
            impute=data.get("impute"),
            ignore=data.get("ignore") or (),
        )
        pre.task_reason = "stored"
        pre.columns = [dict(c) for c in data.get("columns", [])]
        pre.feature_names = list(data.get("feature_names", []))
        pre.mean = np.asarray(data["mean"], dtype=np.float64)
        pre.scale = np.asarray(data["scale"], dtype=np.float64)
        pre.classes = None if data.get("classes") is None else list(data["classes"])
        several = isinstance(data.get("target"), list)
        for key in ("target_mean", "target_scale"):
            value = data.get(key)
            setattr(pre, key, [float(v) for v in value] if several else value)
        if not (len(pre.mean) == len(pre.scale) == len(pre.feature_names)):
            raise ValueError(
                "corrupt preprocessing: mean, scale and feature_names differ in length"
            )
        pre._fitted = True
        return pre

    def __repr__(self) -> str:
        if not self._fitted:
            return (
                f"Preprocessor(target={self.target!r}, task={self.task!r}, impute={self.impute!r})"
            )
        n_cat = sum(c["kind"] == "categorical" for c in self.columns)
        return (
            f"Preprocessor(target={self.target!r}, task={self.task!r}, "
            f"columns={len(self.columns)} ({n_cat} categorical), inputs={self.n_features}, "
            f"classes={self.classes!r})"
        )

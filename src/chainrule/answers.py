"""What a model answers for raw rows: its stored preprocessing in front, class names behind.

A network trained by ``chainrule train`` reads standardised, one-hot encoded
inputs and gives class indices; the user has a table. The preprocessing
stored with the model (``net.preprocessing_``, see ``chainrule.preprocessing``)
joins the two, and ``net.predict``, ``net.predict_proba`` and
``net.evaluate`` apply it, so that Python answers as ``chainrule predict``
does:

    raw table ──► encode, impute, (x - mean) / scale ──► net ──► classes[argmax]

Accepted inputs, for a model with stored preprocessing:

- a pandas DataFrame with the training columns (others are ignored);
- an array of raw values when every stored column is numeric, in the stored
  column order (``net.preprocessing_["columns"]``); anything else is refused
  with a message that says what to pass.

A model without stored preprocessing takes network inputs as before (a
DataFrame of numeric columns is read as its values). ``net(X)`` and the
functions of ``chainrule.training`` always take network inputs; the
``Network`` methods ``predict``, ``predict_proba`` and ``evaluate`` are the
functions of this module (registered with ``chainrule.network.provides``).
"""

from __future__ import annotations

import numpy as np

# training first: its network-input predict/predict_proba/evaluate register as the
# Network methods, and the ones below, which add the stored preprocessing, replace them
from . import training
from .network import Sequential, provides
from .preprocessing import MissingValuesError, Preprocessor, _label_key
from .tasks import output_losses, output_task

__all__ = [
    "evaluate",
    "graph_scalings",
    "input_scalings",
    "model_inputs",
    "output_scalings",
    "predict",
    "predict_proba",
    "standardisation",
    "stored_preprocessor",
    "target_scaling",
]


def _is_frame(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "to_numpy")


def stored_preprocessor(net) -> Preprocessor | None:
    """The full preprocessing stored on ``net`` (a ``Preprocessor``), or None.

    Parameters
    ----------
    net : Network
        A network, usually loaded from a file.
    """
    info = getattr(net, "preprocessing_", None)
    if isinstance(info, Preprocessor):
        return info
    if isinstance(info, dict) and "columns" in info:
        return Preprocessor.from_dict(info)
    return None


def _plain_spec(net) -> dict | None:
    spec = getattr(net, "preprocessing_", None)
    if isinstance(spec, Preprocessor):
        spec = spec.to_dict()
    if spec is not None and not isinstance(spec, dict):
        raise ValueError(
            f"net.preprocessing_ must be a dict like {{'mean': [...], 'scale': [...]}} or None, "
            f"not {type(spec).__name__}"
        )
    return spec


def standardisation(net) -> tuple[np.ndarray, np.ndarray] | None:
    """Full-width ``(mean, scale)`` of a plain stored standardisation, or None.

    ``net.preprocessing_`` may be a plain dict ``{"mean": [...], "scale": [...]}``
    (one value per input, or per column listed in ``"indices"``); a full
    ``Preprocessor`` description has them too. Exporters prepend exactly this.

    Parameters
    ----------
    net : Network
        A network, usually loaded from a file.
    """
    spec = _plain_spec(net)
    if spec is None or ("mean" not in spec and "scale" not in spec):
        return None
    n = net.n_features_in
    if n is None:
        raise ValueError("cannot prepend standardisation: the network's input width is unknown")
    arrays = []
    for key, default in (("mean", 0.0), ("scale", 1.0)):
        value = spec.get(key)
        arrays.append(
            np.full(0, default) if value is None else np.asarray(value, dtype=np.float64).ravel()
        )
    mean, scale = arrays
    indices = spec.get("indices")
    if indices is not None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                "net.preprocessing_['indices'] must be a list of integer column indices"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(
                f"net.preprocessing_['indices'] must lie in 0..{n - 1} for {n} input features"
            )
        full_mean, full_scale = np.zeros(n), np.ones(n)
        for key, arr, full in (("mean", mean, full_mean), ("scale", scale, full_scale)):
            if arr.size:
                if arr.size != idx.size:
                    raise ValueError(
                        f"net.preprocessing_[{key!r}] has {arr.size} values but 'indices' names "
                        f"{idx.size} columns"
                    )
                full[idx] = arr
        mean, scale = full_mean, full_scale
    else:
        for key, arr in (("mean", mean), ("scale", scale)):
            if arr.size not in (0, n):
                raise ValueError(
                    f"net.preprocessing_[{key!r}] has {arr.size} values but the network takes {n} "
                    "features; give one per input column (or add 'indices')"
                )
        mean = mean if mean.size else np.zeros(n)
        scale = scale if scale.size else np.ones(n)
    _check_mean_scale(mean, scale)
    return mean, scale


def _check_mean_scale(mean: np.ndarray, scale: np.ndarray) -> None:
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
        raise ValueError("net.preprocessing_ mean and scale must be finite")
    if np.any(scale <= 0):
        raise ValueError(
            "net.preprocessing_['scale'] contains 0 or a negative value; it must be > 0 (use 1 "
            "for constant columns, as scikit-learn's StandardScaler does)"
        )


def input_scalings(net) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per input of ``net`` (``net.inputs`` order), the stored ``(mean, scale)``, or None.

    One input: ``standardisation(net)``. Several inputs: ``"mean"`` and
    ``"scale"`` are dicts by input name, ``{"num": [...]}``, one value per
    column of that input; an input left out is not scaled. An input of
    integer codes (read by ``Embedding``) cannot be scaled. Anything else is
    a ``ValueError`` saying what is unclear.

    Parameters
    ----------
    net : Network
        A network, usually loaded from a file.
    """
    names = [x.name for x in net.inputs]
    spec = _plain_spec(net)
    if spec is None or ("mean" not in spec and "scale" not in spec):
        return [None] * len(names)
    keyed = isinstance(spec.get("mean"), dict) or isinstance(spec.get("scale"), dict)
    if "columns" in spec and len(names) > 1:
        raise ValueError(
            f"a table's preprocessing (its columns) is stored, but the network has {len(names)} "
            f"inputs {names}, and which columns feed which input is not recorded"
        )
    if not keyed and len(names) > 1:
        raise ValueError(
            f"net.preprocessing_ holds one 'mean'/'scale' but the network has {len(names)} "
            f"inputs {names}; give dicts by input name, e.g. {{'mean': {{{names[0]!r}: [...]}}, "
            f"'scale': {{{names[0]!r}: [...]}}}}"
        )
    if not keyed:
        scalings = [standardisation(net)]
    else:
        means, scales = spec.get("mean") or {}, spec.get("scale") or {}
        if not (isinstance(means, dict) and isinstance(scales, dict)):
            raise ValueError("net.preprocessing_ 'mean' and 'scale' must both be dicts by name")
        unknown = sorted(set(means) - set(names) | set(scales) - set(names))
        if unknown:
            raise ValueError(
                f"net.preprocessing_ scales an input {unknown[0]!r} the network does not have; "
                f"its inputs are {names}"
            )
        scalings = []
        for x in net.inputs:
            if x.name not in means and x.name not in scales:
                scalings.append(None)
                continue
            pair = []
            for values, default in ((means, 0.0), (scales, 1.0)):
                v = values.get(x.name)
                a = np.full(x.n_features or 0, default) if v is None else np.ravel(v)
                if a.size != x.n_features:
                    raise ValueError(
                        f"net.preprocessing_ has {a.size} values for input {x.name!r}, which "
                        f"has {x.n_features} columns"
                    )
                pair.append(a.astype(np.float64))
            _check_mean_scale(*pair)
            scalings.append(tuple(pair))
    codes = getattr(net, "_code_inputs", [False] * len(names))
    for name, scaling, code in zip(names, scalings, codes):
        if scaling is not None and code:
            raise ValueError(
                f"input {name!r} holds integer codes for an Embedding, which cannot be "
                "standardised; leave it out of 'mean' and 'scale'"
            )
    return scalings


def output_scalings(net) -> list[tuple[float, float] | None]:
    """Per output of ``net``, ``(target_mean, target_scale)`` of a standardised target, or None.

    One output: ``target_scaling(net)``. Several outputs: ``"target_mean"``
    and ``"target_scale"`` are dicts by output name, ``{"price": 120.0}``,
    for regression outputs only; an output left out is not rescaled.

    Parameters
    ----------
    net : Network
        A network, usually loaded from a file.
    """
    names = net.output_names
    spec = _plain_spec(net)
    if spec is None or spec.get("task") == "classify":
        return [None] * len(names)
    means, scales = spec.get("target_mean"), spec.get("target_scale")
    if means is None and scales is None:
        return [None] * len(names)
    if not isinstance(means, dict) and not isinstance(scales, dict):
        if len(names) == 1:
            return [target_scaling(net)]
        raise ValueError(
            f"net.preprocessing_ holds one target_mean/target_scale but the network has "
            f"{len(names)} outputs {names}; give dicts by output name, e.g. "
            f"{{'target_mean': {{{names[0]!r}: 0.0}}, 'target_scale': {{{names[0]!r}: 1.0}}}}"
        )
    if not (isinstance(means, dict) and isinstance(scales, dict)) or set(means) != set(scales):
        raise ValueError(
            "net.preprocessing_ target_mean and target_scale must be dicts naming the same outputs"
        )
    unknown = sorted(set(means) - set(names))
    if unknown:
        raise ValueError(
            f"net.preprocessing_ rescales an output {unknown[0]!r} the network does not have; "
            f"its outputs are {names}"
        )
    losses = output_losses(net)
    out = []
    for name, loss in zip(names, losses):
        if name not in means:
            out.append(None)
            continue
        if output_task(loss) != "regression":
            raise ValueError(
                f"net.preprocessing_ rescales output {name!r}, a classifier ({loss}): its "
                "labels are not values in a target's units"
            )
        mean, scale = float(means[name]), float(scales[name])
        if not (np.isfinite(mean) and np.isfinite(scale)) or scale == 0:
            raise ValueError("net.preprocessing_ target_scale must be finite and non-zero")
        out.append((mean, scale))
    return out


def target_scaling(net) -> tuple[float, float] | tuple[np.ndarray, np.ndarray] | None:
    """``(target_mean, target_scale)`` of a regressor whose target was standardised, or None.

    A network trained on ``(y - target_mean) / target_scale`` (as ``chainrule
    train`` does for a regression) answers ``output * target_scale +
    target_mean`` in the target's units. None for a classifier (``net.loss_``
    a classification loss) or when nothing is stored. Several targets give
    two arrays, one entry per output column.

    Parameters
    ----------
    net : Network
        A network, usually loaded from a file.
    """
    spec = getattr(net, "preprocessing_", None)
    if isinstance(spec, Preprocessor):
        spec = spec.to_dict()
    if not isinstance(spec, dict) or spec.get("task") == "classify":
        return None
    if isinstance(net.loss_, str) and output_task(net.loss_) != "regression":
        return None
    mean, scale = spec.get("target_mean"), spec.get("target_scale")
    if mean is None or scale is None:
        return None
    several = isinstance(mean, (list, tuple))
    try:
        mean, scale = (np.asarray(v, dtype=np.float64) for v in (mean, scale))
    except (TypeError, ValueError):
        raise ValueError(
            "net.preprocessing_ target_mean and target_scale must be numbers"
        ) from None
    if mean.shape != scale.shape or mean.ndim > 1:
        raise ValueError("net.preprocessing_ target_mean and target_scale must match in length")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))) or np.any(scale == 0):
        raise ValueError("net.preprocessing_ target_scale must be finite and non-zero")
    return (mean, scale) if several else (float(mean), float(scale))


def _numeric_frame(df, what: str = "X") -> np.ndarray:
    """A DataFrame of numbers as a float array, or a TypeError naming the other columns."""
    import pandas as pd

    bad = [
        str(c)
        for c in df.columns
        if not (pd.api.types.is_numeric_dtype(df[c].dtype) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if bad:
        raise TypeError(
            f"{what} has non-numeric column(s) {', '.join(map(repr, bad[:5]))} and this model "
            "stores no preprocessing to encode them; encode them as numbers first (or train "
            "with `chainrule train`, which stores the encoding with the model)"
        )
    return df.to_numpy(dtype=np.float64, na_value=np.nan)


def _describe_columns(pre: Preprocessor) -> str:
    names = [repr(c["name"]) + (" (text)" if c["kind"] != "numeric" else "") for c in pre.columns]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"the {len(names)} column(s) {shown}"


def _transform_array(pre: Preprocessor, X) -> tuple[np.ndarray, np.ndarray]:
    """Raw numeric rows (columns in the stored order) through the stored preprocessing."""
    if any(c["kind"] != "numeric" for c in pre.columns):
        raise ValueError(
            f"this model was trained on {_describe_columns(pre)}; its stored preprocessing "
            "encodes text columns, so pass a pandas DataFrame with those columns (e.g. "
            "pandas.read_csv of a table like the training one)"
        )
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}; pass a pandas DataFrame")
    if X.ndim != 2:
        raise ValueError(
            f"X has shape {X.shape}; give a 2-D batch of raw rows (n_samples, "
            f"{len(pre.columns)}), e.g. X.reshape(1, -1) for one row"
        )
    if X.shape[1] != len(pre.columns):
        raise ValueError(
            f"X has {X.shape[1]} columns but this model's stored preprocessing expects "
            f"{_describe_columns(pre)}, raw (they are standardised for you), in that order; "
            "or pass a pandas DataFrame with those columns"
        )
    X = X.astype(np.float64)
    missing = np.isnan(X)
    kept = np.ones(len(X), dtype=bool)
    if missing.any():
        if pre.impute is None:
            counts = {
                c["name"]: int(missing[:, j].sum())
                for j, c in enumerate(pre.columns)
                if missing[:, j].any()
            }
            raise MissingValuesError(counts)
        if pre.impute == "drop":
            kept = ~missing.any(axis=1)
            X = X[kept]
        else:
            fill = np.array([c["fill"] for c in pre.columns], dtype=np.float64)
            X = np.where(missing, fill, X)
    return (X - pre.mean) / pre.scale, kept


def model_inputs(net, X) -> tuple[np.ndarray, np.ndarray | None, Preprocessor | None]:
    """``(network inputs, rows kept or None, stored Preprocessor or None)`` for raw ``X``.

    Parameters
    ----------
    net : Network
        A trained network; its ``preprocessing_`` attribute (set by ``chainrule
        train`` or ``load``) holds the stored preprocessing, if any.
    X : array-like or pandas.DataFrame
        Raw rows: a DataFrame with the training table's columns when a
        ``Preprocessor`` is stored, else numbers (standardised here if a plain
        mean/scale is stored).
    """
    pre = stored_preprocessor(net)
    if not isinstance(net, Sequential) and (len(net.inputs) > 1 or pre is None):
        return _scaled_inputs(net, X), None, None
    if pre is not None:
        if _is_frame(X):
            Xn, kept = pre.transform(X, return_mask=True)
        else:
            Xn, kept = _transform_array(pre, X)
        return Xn, (None if kept.all() else kept), pre
    if _is_frame(X):
        X = _numeric_frame(X)
    plain = standardisation(net)
    if plain is not None:
        X = np.asarray(X)
        if X.ndim == 2 and X.shape[1] == len(plain[0]) and np.issubdtype(X.dtype, np.number):
            X = (X - plain[0]) / plain[1]
    return X, None, None


def graph_scalings(net, what: str) -> tuple[list, list]:
    """``(input_scalings(net), output_scalings(net))`` for an exporter of a graph network.

    Where the stored preprocessing's meaning for this graph is not clear, one
    ``ValueError`` naming the exporter (``what``), the reason and the fix.

    Parameters
    ----------
    net : Network
        The graph network being exported.
    what : str
        The exporter, for the message (``"to_torch"``, ``"to_onnx"``).
    """
    try:
        return input_scalings(net), output_scalings(net)
    except ValueError as exc:
        raise ValueError(
            f"{what} cannot build net.preprocessing_ into this graph network: {exc}. Pass "
            "preprocessing=False to export net(...) alone, and prepare its inputs yourself"
        ) from None


def _scaled_inputs(net, X):
    """A graph's inputs (one array, a list in inputs order, a dict by name), each standardised
    as ``input_scalings`` says; arrays of another shape are left for the network's checks."""
    names, scalings = net.input_names, input_scalings(net)

    def scaled(x, scaling):
        if len(names) == 1 and _is_frame(x):
            x = _numeric_frame(x)
        if scaling is None:
            return x
        a = np.asarray(x)
        if a.ndim == 2 and a.shape[1] == len(scaling[0]) and np.issubdtype(a.dtype, np.number):
            return (a - scaling[0]) / scaling[1]
        return x

    if isinstance(X, dict):
        return {k: scaled(v, scalings[names.index(k)]) if k in names else v for k, v in X.items()}
    if len(names) == 1:
        return scaled(X, scalings[0])
    if isinstance(X, (list, tuple)) and len(X) == len(names):
        return [scaled(x, scaling) for x, scaling in zip(X, scalings)]
    return X


def _scatter(values: np.ndarray, kept: np.ndarray | None, fill) -> np.ndarray:
    """``values`` for the kept rows, ``fill`` for rows dropped for missing values."""
    if kept is None:
        return values
    out = np.full((len(kept),) + values.shape[1:], fill, dtype=values.dtype)
    out[kept] = values
    return out


@provides("predict")
def predict(net, X, batch_size: int | None = None) -> np.ndarray:
    """Answers in the target's own terms: class names, or values in the target's units.

    Without stored preprocessing, the same as ``chainrule.training.predict``.
    Rows dropped for missing values (``impute="drop"``) answer None (classes)
    or NaN (values). A model with several regression targets answers one
    column per target: a DataFrame with the target names as columns (and
    ``X``'s index) when ``X`` is a DataFrame, else an array of shape (n, k).

    Parameters
    ----------
    net : Network
        A trained network; its ``preprocessing_`` attribute (set by ``chainrule
        train`` or ``load``) holds the stored preprocessing, if any.
    X : array-like or pandas.DataFrame
        Raw rows: a DataFrame with the training table's columns when a
        ``Preprocessor`` is stored, else numbers (standardised here if a plain
        mean/scale is stored).
    batch_size : int or None, default None
        Rows per forward pass (None: all at once).
    """
    Xn, kept, pre = model_inputs(net, X)
    answers = training.predict(net, Xn, batch_size=batch_size)
    if pre is None and not isinstance(net, Sequential):  # a graph: each output in its units
        outs = answers if isinstance(answers, list) else [answers]
        outs = [a if t is None else a * t[1] + t[0] for a, t in zip(outs, output_scalings(net))]
        return outs if isinstance(answers, list) else outs[0]
    if pre is None:
        target = target_scaling(net)  # a plain stored standardisation of the target
        return answers if target is None else answers * target[1] + target[0]
    decoded = pre.decode_target(answers)
    values = _scatter(decoded, kept, None if decoded.dtype == object else np.nan)
    if len(pre.targets) > 1 and _is_frame(X):
        import pandas as pd

        return pd.DataFrame(values, columns=pre.targets, index=X.index)
    return values


@provides("predict_proba")
def predict_proba(net, X, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities (as ``chainrule.training.predict_proba``) for raw ``X``.

    Column ``k`` is the probability of ``net.preprocessing_["classes"][k]``;
    a one-output binary network gives one column, the probability of the
    second class. Rows dropped for missing values are NaN.

    Parameters
    ----------
    net : Network
        A trained network; its ``preprocessing_`` attribute (set by ``chainrule
        train`` or ``load``) holds the stored preprocessing, if any.
    X : array-like or pandas.DataFrame
        Raw rows: a DataFrame with the training table's columns when a
        ``Preprocessor`` is stored, else numbers (standardised here if a plain
        mean/scale is stored).
    batch_size : int or None, default None
        Rows per forward pass (None: all at once).
    """
    Xn, kept, _ = model_inputs(net, X)
    return _scatter(training.predict_proba(net, Xn, batch_size=batch_size), kept, np.nan)


def _encode_targets(pre: Preprocessor, y) -> np.ndarray:
    """Targets in the table's terms (class names, values) as the network was trained on."""
    k = len(pre.targets)
    if k > 1:  # several targets: a DataFrame with their columns, or an (n, k) array
        if _is_frame(y):
            return pre.encode_target(y)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != k:
            raise ValueError(
                f"y has shape {y.shape} but this model has {k} targets {pre.targets!r}; give "
                f"an array of shape (n, {k}) or a DataFrame with those columns"
            )
        return (y - np.asarray(pre.target_mean)) / np.asarray(pre.target_scale)
    values = y.tolist() if hasattr(y, "tolist") else list(y)
    if pre.task == "classify":
        index = {_label_key(v): k for k, v in enumerate(pre.classes)}
        keys = [_label_key(v) for v in values]
        unknown = sorted({k for k in keys if k not in index})
        if unknown:
            raise ValueError(
                f"y holds classes the model does not know: {', '.join(map(repr, unknown[:5]))}; "
                f"known classes: {', '.join(map(repr, pre.classes))}"
            )
        return np.array([index[k] for k in keys], dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)
    return (y - (pre.target_mean or 0.0)) / (pre.target_scale or 1.0)


@provides("evaluate")
def evaluate(net, X, y, loss=None, metrics=None, batch_size: int | None = None) -> dict:
    """Loss and metrics for raw ``X`` and targets ``y`` in the table's own terms.

    With stored preprocessing, ``y`` holds class names (or values in the
    target's units); they are encoded as in training, so the loss is the
    training objective, as ``chainrule evaluate`` reports it.

    Parameters
    ----------
    net : Network
        A trained network; its ``preprocessing_`` attribute (set by ``chainrule
        train`` or ``load``) holds the stored preprocessing, if any.
    X : array-like or pandas.DataFrame
        Raw rows: a DataFrame with the training table's columns when a
        ``Preprocessor`` is stored, else numbers (standardised here if a plain
        mean/scale is stored).
    y : array-like
        The targets, one per row of ``X``: class names or values in the
        target's units with stored preprocessing (several targets: a
        DataFrame with their columns or an (n, k) array), else as given to ``fit``.
    loss : str, Loss or None, default None
        None uses the loss of the last ``fit``.
    metrics : list of str or callables, or None, default None
        None uses the metrics of the last ``fit``.
    batch_size : int or None, default None
        Rows per forward pass (None: all at once).
    """
    Xn, kept, pre = model_inputs(net, X)
    if pre is not None:
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        y = _encode_targets(pre, y)
        if kept is not None:
            y = y[kept]
    return training.evaluate(net, Xn, y, loss=loss, metrics=metrics, batch_size=batch_size)

"""Metrics: how good predictions are, in the units people report.

Every metric takes ``(y_true, y_pred)`` where ``y_pred`` is what
``net.predict`` answers: class labels for a classifier, values for regression.
Precision, recall and F1 are for class 1 in a binary problem and the
unweighted mean over classes (macro average) otherwise.

Examples
--------
>>> from chainrule import metrics
>>> metrics.accuracy([0, 1, 1, 0], [0, 1, 0, 0])
0.75
>>> metrics.precision([0, 1, 1, 0], [0, 1, 0, 0]), metrics.recall([0, 1, 1, 0], [0, 1, 0, 0])
(1.0, 0.5)
>>> metrics.mse([1.0, 2.0], [1.5, 2.0])
0.125
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _labels(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 2 and y_true.shape[1] > 1 and y_pred.ndim == 1:
        y_true = y_true.argmax(axis=1)  # one-hot or probability rows
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth: mean(y_true == y_pred).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels; one-hot (or probability) rows of shape ``(n, k)`` are
        turned into labels by ``argmax``.
    y_pred : array-like of shape (n,)
        Predicted labels, e.g. ``net.predict(X)``.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the two do not have the same shape (after the conversion above).
    """
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def _per_class_counts(y_true, y_pred):
    y_true, y_pred = _labels(y_true, y_pred)
    classes = np.union1d(np.unique(y_true), np.unique(y_pred))
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in classes], dtype=float)
    fp = np.array([np.sum((y_pred == c) & (y_true != c)) for c in classes], dtype=float)
    fn = np.array([np.sum((y_pred != c) & (y_true == c)) for c in classes], dtype=float)
    return classes, tp, fp, fn


def _safe_div(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _binary(classes) -> bool:
    return set(classes.tolist()) <= {0, 1}


def _select(classes, values):
    """Class 1's value in a binary problem, else the macro average."""
    if _binary(classes):
        return float(values[classes == 1][0]) if np.any(classes == 1) else 0.0
    return float(np.mean(values))


def precision(y_true, y_pred) -> float:
    """Precision, tp / (tp + fp): the share of predicted positives that are right.

    Computed per class ``c`` from the counts tp (predicted c, truly c), fp
    (predicted c, truly not) and fn (truly c, predicted not); a class with a
    zero denominator scores 0. Class 1's score when every label is 0 or 1,
    else the mean over the classes present in either array.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels; one-hot (or probability) rows of shape ``(n, k)`` are
        turned into labels by ``argmax``.
    y_pred : array-like of shape (n,)
        Predicted labels, e.g. ``net.predict(X)``.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the two do not have the same shape (after the conversion above).
    """
    classes, tp, fp, _ = _per_class_counts(y_true, y_pred)
    return _select(classes, _safe_div(tp, tp + fp))


def recall(y_true, y_pred) -> float:
    """Recall, tp / (tp + fn): the share of true positives that are found.

    Computed per class ``c`` from the counts tp (predicted c, truly c), fp
    (predicted c, truly not) and fn (truly c, predicted not); a class with a
    zero denominator scores 0. Class 1's score when every label is 0 or 1,
    else the mean over the classes present in either array.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels; one-hot (or probability) rows of shape ``(n, k)`` are
        turned into labels by ``argmax``.
    y_pred : array-like of shape (n,)
        Predicted labels, e.g. ``net.predict(X)``.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the two do not have the same shape (after the conversion above).
    """
    classes, tp, _, fn = _per_class_counts(y_true, y_pred)
    return _select(classes, _safe_div(tp, tp + fn))


def f1(y_true, y_pred) -> float:
    """F1 score, 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall.

    Computed per class ``c`` from the counts tp (predicted c, truly c), fp
    (predicted c, truly not) and fn (truly c, predicted not); a class with a
    zero denominator scores 0. Class 1's score when every label is 0 or 1,
    else the mean over the classes present in either array.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels; one-hot (or probability) rows of shape ``(n, k)`` are
        turned into labels by ``argmax``.
    y_pred : array-like of shape (n,)
        Predicted labels, e.g. ``net.predict(X)``.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the two do not have the same shape (after the conversion above).
    """
    classes, tp, fp, fn = _per_class_counts(y_true, y_pred)
    return _select(classes, _safe_div(2 * tp, 2 * tp + fp + fn))


def _values(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true, y_pred


def mse(y_true, y_pred) -> float:
    """Mean squared error, mean((y - y_hat)^2) over every entry.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
        True and predicted values; arrays of the same size are compared
        entry by entry in ``y_pred``'s shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ and cannot be matched by a reshape.
    """
    y_true, y_pred = _values(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error, mean(|y - y_hat|) over every entry.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
        True and predicted values; arrays of the same size are compared
        entry by entry in ``y_pred``'s shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ and cannot be matched by a reshape.
    """
    y_true, y_pred = _values(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot, averaged over output columns.

    Per column, SS_res = sum((y - y_hat)^2) and SS_tot = sum((y - mean(y))^2),
    as in scikit-learn's ``r2_score``: 1 is a perfect fit, 0 is no better
    than predicting the mean, and it can be negative. A constant column
    scores 1 if predicted exactly, else 0.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
        True and predicted values; arrays of the same size are compared
        entry by entry in ``y_pred``'s shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ and cannot be matched by a reshape.
    """
    y_true, y_pred = _values(y_true, y_pred)
    if y_true.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred[:, None]
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    score = np.where(
        ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0)
    )
    return float(np.mean(score))


METRICS: dict[str, Callable] = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "mse": mse,
    "mae": mae,
    "r2": r2,
}


def get_metric(spec: str | Callable) -> tuple[str, Callable]:
    """``(name, function)`` for a metric name or a function ``f(y_true, y_pred)``.

    Parameters
    ----------
    spec : str or callable
        One of ``"accuracy"``, ``"precision"``, ``"recall"``, ``"f1"``,
        ``"mse"``, ``"mae"``, ``"r2"`` (case-insensitive), or a function,
        which is named by its ``__name__``.

    Returns
    -------
    (str, callable)

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        If ``spec`` is neither a string nor callable.
    """
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in METRICS:
            return key, METRICS[key]
        raise ValueError(f"unknown metric {spec!r}; valid names are: {', '.join(sorted(METRICS))}")
    raise TypeError(f"metric must be a name string or a function, not {type(spec).__name__}")

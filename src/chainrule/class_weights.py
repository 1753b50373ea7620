"""Class weights as per-row sample weights: one home for ``fit``, the estimators and the CLI.

A classifier trained on a table where one class is rare learns mostly the
common one. Weighting each row by its class, ``w_i = c[y_i]``, makes the
loss ``sum_i w_i l_i / sum_i w_i``; with the "balanced" weights
``c_k = n / (K n_k)`` every class weighs the same in it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["class_weight_rows"]


def class_weight_rows(labels: np.ndarray, class_weight, classes=None) -> np.ndarray:
    """Each row's weight from its class: pass it to ``fit(..., sample_weight=...)``.

    Parameters
    ----------
    labels : array of shape (n,)
        The class of each row (any labels).
    class_weight : "balanced" or dict
        "balanced" gives class ``k`` the weight ``n / (K n_k)`` (scikit-learn's
        rule: every class then weighs the same in the loss); a dict maps
        labels to weights (numbers >= 0), and classes it does not name weigh 1.
    classes : sequence or None
        All the labels (default: those present); ``K`` counts them.

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> class_weight_rows(np.array(["a", "a", "a", "b"]), "balanced").tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    labels = np.asarray(labels)
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    idx = np.searchsorted(np.sort(classes), labels)
    order = np.argsort(classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a dict, got {class_weight!r}")
        counts = np.bincount(idx, minlength=len(classes)).astype(np.float64)
        per_class = len(labels) / (len(classes) * np.maximum(counts, 1))
        return per_class[idx]
    known = set(classes.tolist())
    unknown = [c for c in class_weight if c not in known]
    if unknown:
        raise ValueError(
            f"class_weight names class(es) {unknown!r} that are not in {classes.tolist()!r}"
        )
    per_class = np.ones(len(classes))
    sorted_classes = classes[order]
    for label, w in class_weight.items():
        number = isinstance(w, (int, float, np.number)) and not isinstance(w, (bool, np.bool_))
        if not (number and np.isfinite(w) and w >= 0):
            raise ValueError(
                f"class_weight for class {label!r} is {w!r}; class weights must be numbers >= 0 "
                "(0 leaves the class's rows out of the loss)"
            )
        per_class[int(np.searchsorted(sorted_classes, label))] = float(w)
    return per_class[idx]

"""What a network's outputs mean, and what a target column asks for: one vocabulary.

Two questions get asked all over chainrule, and this module answers both.

**What an output answers** (``output_task``), from the loss it is trained with
and its width ``K`` (number of columns):

| answer       | losses                                  | ``predict`` gives                 |
|--------------|-----------------------------------------|-----------------------------------|
| "multiclass" | cross_entropy; hinge with K > 1         | ``argmax_k z[:, k]``: one class   |
| "binary"     | binary_cross_entropy; hinge with K = 1  | ``z > 0``: yes/no per column      |
| "regression" | mse, mae, huber; no loss recorded       | ``z``: the values themselves      |

Probabilities (``probabilities``) exist only for the two cross-entropies:
``softmax(z)`` for cross_entropy, ``sigmoid(z)`` for binary_cross_entropy.

**What a target column asks** (``detect_task``), before any network exists:
``"classify"`` (labels) or ``"regress"`` (quantities). The two vocabularies
meet in ``TARGET_TASK``: an output that answers "multiclass" or "binary"
serves a "classify" target, one that answers "regression" a "regress" target.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid, softmax
from .losses import Loss, get_loss

#: What an output can answer, from its loss and width.
OUTPUT_TASKS = ("multiclass", "binary", "regression")
#: What a target column can ask for.
TARGET_TASKS = ("classify", "regress")
#: The losses whose outputs have probabilities (``probabilities``): softmax, sigmoid.
PROBABILITY_LOSSES = ("cross_entropy", "binary_cross_entropy")
#: The target task an output's answer serves.
TARGET_TASK = {"multiclass": "classify", "binary": "classify", "regression": "regress"}

__all__ = [
    "OUTPUT_TASKS",
    "PROBABILITY_LOSSES",
    "TARGET_TASK",
    "TARGET_TASKS",
    "answer",
    "detect_task",
    "output_losses",
    "output_task",
    "probabilities",
]


def output_losses(net) -> list:
    """The loss each of ``net``'s outputs was fitted with, in ``outputs`` order (None: never).

    ``net.loss_`` is one name for a one-output network, or a list with one per output.

    Parameters
    ----------
    net : Network
        A network; its ``loss_`` is what the last ``fit`` recorded.
    """
    spec = net.loss_
    return list(spec) if isinstance(spec, (list, tuple)) else [spec] * len(net.outputs)


def output_task(loss: str | Loss | None, width: int | None = 1) -> str:
    """What an output trained with ``loss`` answers: "multiclass", "binary" or "regression".

    Parameters
    ----------
    loss : str, Loss or None
        The loss, by name or as an object; None (never fitted) answers values.
    width : int or None, default 1
        Number of output columns ``K`` (None: unknown, read as 1). Only the hinge
        loss depends on it: one column is a yes/no, several are classes.
    """
    if loss is None or loss == "":
        return "regression"
    loss = get_loss(loss)
    if loss.name == "hinge" and (width or 1) > 1:
        return "multiclass"
    return loss.kind


def answer(outputs: np.ndarray, task: str) -> np.ndarray:
    """What ``predict`` returns for raw outputs ``z`` of shape (n, K) answering ``task``.

    ``argmax_k z`` for "multiclass"; ``z > 0`` as 0/1 for "binary" (shape (n,) when
    K = 1); ``z`` for "regression" (shape (n,) when K = 1).

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, n_outputs)
        Raw network outputs (logits for classification).
    task : {"multiclass", "binary", "regression"}
        What the output answers (see ``output_task``).
    """
    if task == "multiclass":
        return outputs.argmax(axis=1)
    if task == "binary":
        labels = (outputs > 0).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels
    return outputs[:, 0] if outputs.shape[1] == 1 else outputs


def probabilities(outputs: np.ndarray, loss: str | Loss | None) -> np.ndarray | None:
    """``softmax(z)`` for cross_entropy, ``sigmoid(z)`` for binary_cross_entropy, else None.

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, n_outputs)
        Raw network outputs (logits).
    loss : str, Loss or None
        The loss the output was trained with.
    """
    name = None if loss is None else get_loss(loss).name
    with np.errstate(over="ignore"):  # z - max(z) may round to -inf: exp gives the exact 0
        if name == "cross_entropy":
            return softmax(outputs)
        if name == "binary_cross_entropy":
            return sigmoid(outputs)
    return None


# -- what a target column asks -------------------------------------------------------------
def _present_values(y) -> np.ndarray:
    """A 1-D array of ``y``'s values without the missing ones: bool, float64 or object."""
    if hasattr(y, "dropna") and hasattr(y, "to_numpy"):  # a pandas Series
        from pandas.api import types

        y = y.dropna()
        if types.is_bool_dtype(y.dtype):
            return y.to_numpy(dtype=bool)
        if types.is_numeric_dtype(y.dtype):
            return y.to_numpy(dtype=np.float64)
        return y.to_numpy(dtype=object)
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"a target column must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "b":
        return a
    if a.dtype.kind in "iuf":
        a = a.astype(np.float64)
        return a[~np.isnan(a)]
    a = a.astype(object)
    return a[[not (v is None or (isinstance(v, float) and v != v)) for v in a]]


def detect_task(series, max_classes: int = 20) -> tuple[str, str]:
    """Guess whether a target column asks for classification or regression.

    Parameters
    ----------
    series : pandas.Series or array-like of shape (n,)
        The target column (missing values, NaN or None, are ignored). A Series
        and ``series.to_numpy()`` get the same answer.
    max_classes : int
        Most distinct integer values still read as classes.

    Returns
    -------
    task : {"classify", "regress"}
    reason : str
        A short explanation, for the user.

    Notes
    -----
    Text or true/false targets are classes. Numbers are classes when they are
    all whole numbers with at most ``min(max_classes, max(2, n // 5))``
    distinct values (a few values, each seen several times); otherwise the
    target is a quantity to regress.
    """
    values = _present_values(series)
    if values.dtype == bool:
        return "classify", "it holds true/false values"
    if values.dtype == object:
        return "classify", "it holds text values"
    unique = np.unique(values)
    limit = min(max_classes, max(2, len(values) // 5))
    if np.all(np.isfinite(unique)) and np.all(unique == np.round(unique)) and len(unique) <= limit:
        return "classify", f"it holds {len(unique)} distinct whole numbers"
    return "regress", f"it holds numbers with {len(unique)} distinct values"

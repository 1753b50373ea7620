"""Loss functions: ``forward(pred, y)`` gives the batch mean as a float,
``backward()`` gives dL/dpred, the first link of the chain rule.

Averages follow PyTorch's ``reduction="mean"``: over every element for the
regression losses, over the rows for the classification losses.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid
from .config import Configurable
from .validation import check_number


class Loss(Configurable):
    """Base class. Subclasses set ``name`` and define ``forward`` and ``backward``.

    ``kind`` says what the network predicts with it: ``"regression"``,
    ``"multiclass"`` (one logit per class) or ``"binary"`` (one logit per output).
    Ask ``chainrule.tasks.output_task(loss, width)``, not ``kind``: the hinge
    loss answers "multiclass" over several outputs.
    """

    name = "loss"
    kind = "regression"

    def forward(self, pred: np.ndarray, y: np.ndarray) -> float:
        """The loss of the batch (its mean), remembering what ``backward`` needs.

        Parameters
        ----------
        pred : ndarray of shape (n_samples, n_outputs)
            The network's raw outputs (logits for the classification losses).
        y : ndarray
            Targets, as ``prepare_target`` returns them.
        """
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        """dL/dpred for the batch of the last ``forward``: where backpropagation starts."""
        raise NotImplementedError

    def row_losses(self, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The loss of each row, as float64, so that ``mean(row_losses) == forward``.

        Used for weighted losses (``sum w_i l_i / sum w_i``); it does not touch
        the state ``backward`` reads.

        Parameters
        ----------
        pred : ndarray of shape (n_samples, n_outputs)
            The network's raw outputs.
        y : ndarray
            Targets, as ``prepare_target`` returns them.
        """
        raise NotImplementedError(f"{type(self).__name__} has no per-row form")

    def __call__(self, pred: np.ndarray, y: np.ndarray) -> float:
        return self.forward(pred, y)

    def prepare_target(self, y: np.ndarray, n_outputs: int, dtype) -> np.ndarray:
        """Check ``y`` against the network's output width and convert it once.

        Called by ``fit`` before training so that bad targets fail with a clear
        message instead of a broadcasting error deep inside a batch.

        Parameters
        ----------
        y : array-like
            Targets as the user gave them.
        n_outputs : int
            Width of the network's last layer.
        dtype : numpy dtype
            The network's float type, for targets used as numbers.
        """
        y = np.asarray(y)
        given = y.shape  # report the shape the caller gave, not the reshaped one
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"{self.name} targets have shape {given} but the network has {n_outputs} "
                f"output(s); give y with shape (n_samples, {n_outputs})"
                + (" or (n_samples,)" if n_outputs == 1 else "")
            )
        return y.astype(dtype, copy=False)


def _check_batch(pred: np.ndarray) -> None:
    """Refuse an empty batch: its mean loss would be 0/0."""
    if pred.size == 0:
        raise ValueError(
            f"the batch is empty (predictions of shape {pred.shape}); a loss needs at least one row"
        )


def _as_2d_like(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``y`` shaped like ``pred`` (``(n,)`` for ``(n, 1)``) and in its float dtype, so
    that ``pred - y`` and every gradient keep ``pred``'s dtype (float32 stays float32)."""
    _check_batch(pred)
    y = np.asarray(y)
    if y.shape != pred.shape:
        if y.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1 and y.shape[0] == pred.shape[0]:
            y = y.reshape(-1, 1)
        else:
            raise ValueError(
                f"targets of shape {y.shape} do not match predictions of shape {pred.shape}"
            )
    if y.dtype != pred.dtype and pred.dtype.kind == "f":
        y = y.astype(pred.dtype)
    return y


def _labels_for(name: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class labels (one per row of the logits ``z``) as an index array, or a clear error.

    Integer labels are checked to lie in ``0..K-1`` (a negative label would
    otherwise pick a class from the end); anything else goes through the full
    check of ``_prepare_labels``.
    """
    n, k = z.shape
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(
            f"{name}: {n} rows of predictions but targets of shape {y.shape}; give one label "
            f"per row, shape ({n},)"
        )
    if y.dtype.kind not in "iu":
        return _prepare_labels(name, y, k)
    # one reduction checks 0 <= y < k: seen as unsigned, a negative label is huge
    if y.view(f"u{y.itemsize}").max() >= k:
        return _prepare_labels(name, y, k)  # raises, naming the bad label
    return y.astype(np.intp, copy=False)


class MSE(Loss):
    """Mean squared error: L = mean((pred - y)^2);  dL/dpred = 2 (pred - y) / N."""

    name = "mse"

    def forward(self, pred, y):
        self._diff = pred - _as_2d_like(y, pred)
        return float(np.mean(self._diff * self._diff))

    def backward(self):
        return (2.0 / self._diff.size) * self._diff

    def row_losses(self, pred, y):
        d = pred.astype(np.float64) - _as_2d_like(y, pred)
        return (d * d).mean(axis=1)


class MAE(Loss):
    """Mean absolute error: L = mean|pred - y|;  dL/dpred = sign(pred - y) / N."""

    name = "mae"

    def forward(self, pred, y):
        self._diff = pred - _as_2d_like(y, pred)
        return float(np.mean(np.abs(self._diff)))

    def backward(self):
        return np.sign(self._diff) / self._diff.size

    def row_losses(self, pred, y):
        return np.abs(pred.astype(np.float64) - _as_2d_like(y, pred)).mean(axis=1)


class Huber(Loss):
    """Huber: quadratic near zero, linear beyond ``delta``.

    L = mean(0.5 d^2 if |d| <= delta else delta (|d| - delta / 2)),  d = pred - y
    dL/dpred = clip(d, -delta, delta) / N

    Parameters
    ----------
    delta : float, default 1.0
        Where the quadratic part meets the linear part; positive.
    """

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = check_number(
            "Huber delta", delta, low_open=True, fix="the width of the quadratic zone, e.g. 1.0"
        )

    def forward(self, pred, y):
        d = self._diff = pred - _as_2d_like(y, pred)
        a = np.abs(d)
        return float(
            np.mean(np.where(a <= self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta)))
        )

    def backward(self):
        return np.clip(self._diff, -self.delta, self.delta) / self._diff.size

    def row_losses(self, pred, y):
        a = np.abs(pred.astype(np.float64) - _as_2d_like(y, pred))
        delta = self.delta
        return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta)).mean(axis=1)

    def get_config(self):
        """``{"delta": delta}``."""
        return {"delta": self.delta}


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on logits z with targets y in [0, 1].

    L = mean(max(z, 0) - z y + log(1 + e^-|z|))    (= -y log s - (1-y) log(1-s), s = sigmoid z,
                                                      written so no exp can overflow)
    dL/dz = (sigmoid(z) - y) / N
    """

    name = "binary_cross_entropy"
    kind = "binary"

    def prepare_target(self, y, n_outputs, dtype):
        y = super().prepare_target(y, n_outputs, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "binary_cross_entropy targets must lie in [0, 1] (class labels 0/1 or "
                f"probabilities); got values from {y.min()} to {y.max()}"
            )
        return y

    def forward(self, pred, y):
        z = pred
        y = self._y = _as_2d_like(y, pred)
        self._z = z
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))

    def backward(self):
        z = self._z
        return ((sigmoid(z) - self._y) / z.size).astype(z.dtype, copy=False)

    def row_losses(self, pred, y):
        z = pred.astype(np.float64)
        y = _as_2d_like(y, pred)
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=1)


def _prepare_labels(name: str, y: np.ndarray, n_outputs: int) -> np.ndarray:
    """Integer class labels 0..K-1 as an index array, or a clear error."""
    y = np.asarray(y).ravel()
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise TypeError(f"{name} labels must be numbers 0..K-1, got dtype {y.dtype}")
    if y.size and not np.all(np.isfinite(y.astype(np.float64))):
        raise ValueError(f"{name} labels contain NaN or inf")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(
            f"{name} needs integer class labels 0..K-1 or one-hot/probability rows; "
            "got non-integer labels"
        )
    if y.size and (y.min() < 0 or y.max() >= n_outputs):
        raise ValueError(
            f"class labels must be in 0..{n_outputs - 1} for a network with {n_outputs} "
            f"outputs, but y contains {int(y.min()) if y.min() < 0 else int(y.max())}; "
            "widen the last layer or encode the labels as 0..K-1"
        )
    return y.astype(np.intp)


def _logits(name: str, pred) -> np.ndarray:
    """``pred`` as a non-empty 2-D array of scores (rows: samples), or a clear error."""
    z = np.asarray(pred)
    if z.ndim != 2:
        raise ValueError(
            f"{name} needs 2-D predictions (n_samples, n_outputs), got shape {z.shape}"
        )
    _check_batch(z)
    return z


def _one_hot_labels(name: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The labels of one-hot rows ``y`` (one 1 per row, zeros elsewhere), or a clear error."""
    if y.shape != z.shape:
        raise ValueError(
            f"{name}: targets of shape {y.shape} do not match predictions of shape {z.shape}"
        )
    if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
        raise ValueError(
            f"{name} with {z.shape[1]} outputs takes integer labels or one-hot rows (a single "
            "1 per row); these rows are not one-hot"
        )
    return y.argmax(axis=1)


class CrossEntropy(Loss):
    """Softmax cross-entropy on logits, fused for exactness and speed.

    With p = softmax(z) per row and targets t (one-hot, probabilities, or
    integer labels standing for one-hot rows):

    L = mean over rows of (logsumexp(z) - sum_k t_k z_k)
    dL/dz = (p - t) / n

    The row max is subtracted before exponentiating, so logits of 1e4 are exact.
    """

    name = "cross_entropy"
    kind = "multiclass"

    def prepare_target(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and n_outputs > 1):
            return _prepare_labels(self.name, y, n_outputs)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"cross_entropy targets have shape {y.shape} but the network has {n_outputs} "
                f"outputs; give integer labels of shape (n_samples,) or rows of shape (n_samples, {n_outputs})"
            )
        return y.astype(dtype, copy=False)

    def forward(self, pred, y):
        z = _logits(self.name, pred)
        n = z.shape[0]
        y = np.asarray(y)
        if y.ndim == 1:
            labels = _labels_for(self.name, z, y)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        self._p = e / s
        log_s = np.log(s)
        if y.ndim == 1:
            self._labels = labels
            self._t = None
            picked = shifted[np.arange(n), self._labels]
            return float((log_s[:, 0] - picked).sum() / n)  # np.mean's float32 sum and division
        if y.shape != z.shape:
            raise ValueError(f"targets of shape {y.shape} do not match logits of shape {z.shape}")
        self._labels = None
        self._t = y.astype(z.dtype, copy=False) if z.dtype.kind == "f" else y
        # sum_k t_k (logsumexp - z_k), with sum_k t_k not assumed to be 1
        return float(np.mean(np.sum(y * (log_s - shifted), axis=1)))

    def backward(self):
        p = self._p
        n = p.shape[0]
        if self._labels is not None:
            g = p.copy()
            g[np.arange(n), self._labels] -= 1
        else:
            g = p * self._t.sum(axis=1, keepdims=True) - self._t
        g /= n
        return g

    def row_losses(self, pred, y):
        z = pred.astype(np.float64)
        top = z.max(axis=1)
        lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        y = np.asarray(y)
        if y.ndim == 1:
            return lse - z[np.arange(len(z)), y.astype(np.intp, copy=False)]
        if y.shape != z.shape:
            raise ValueError(f"targets of shape {y.shape} do not match logits of shape {z.shape}")
        return np.sum(y * (lse[:, None] - z), axis=1)


class Hinge(Loss):
    """Hinge loss (the SVM margin loss) on raw scores.

    One output, targets y in {-1, +1} (or {0, 1}, read as -1/+1):
        L = mean(max(0, 1 - y z));   dL/dz = -y [y z < 1] / N
    K outputs, integer labels c (PyTorch's ``MultiMarginLoss``):
        L = mean over rows of sum_{j != c} max(0, 1 - z_c + z_j) / K
        dL/dz_j = [margin_j > 0] / (K n),  dL/dz_c = -sum_j [margin_j > 0] / (K n)
    """

    name = "hinge"
    kind = "binary"

    def prepare_target(self, y, n_outputs, dtype):
        if n_outputs > 1:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == n_outputs:  # one-hot rows: their labels
                fake = np.empty((len(y), n_outputs))
                return _one_hot_labels(self.name, fake, y).astype(np.intp)
            if y.ndim == 2 and y.shape[1] > 1:
                raise ValueError(
                    f"hinge with {n_outputs} outputs needs integer class labels of shape "
                    f"(n_samples,), got shape {y.shape}; use y.argmax(axis=1) for one-hot rows"
                )
            return _prepare_labels(self.name, y, n_outputs)
        y = super().prepare_target(y, n_outputs, dtype)
        values = set(np.unique(y).tolist())
        if not values <= {-1.0, 1.0} and not values <= {0.0, 1.0}:
            raise ValueError(f"hinge targets must be -1/+1 or 0/1 labels, got {sorted(values)[:5]}")
        return y

    def forward(self, pred, y):
        z = _logits(self.name, pred)
        y = np.asarray(y)
        if z.shape[1] == 1:
            y = _as_2d_like(y, z)
            y = np.where(y == 0, -1.0, y).astype(z.dtype)
            self._multi = False
            self._y = y
            self._margin = 1 - y * z
            return float(np.mean(np.maximum(self._margin, 0)))
        n, k = z.shape
        if y.ndim == 2 and y.shape[1] > 1:
            y = _one_hot_labels(self.name, z, y)
        labels = _labels_for(self.name, z, y)
        self._multi, self._labels = True, labels
        margins = 1 - z[np.arange(n), labels][:, None] + z
        margins[np.arange(n), labels] = 0
        self._margins = margins
        return float(np.mean(np.maximum(margins, 0).sum(axis=1) / k))

    def backward(self):
        if not self._multi:
            return -self._y * (self._margin > 0) / self._y.size
        m = self._margins
        n, k = m.shape
        g = (m > 0).astype(m.dtype)
        g[np.arange(n), self._labels] = -g.sum(axis=1)
        return g / (k * n)

    def row_losses(self, pred, y):
        z = pred.astype(np.float64)
        y = np.asarray(y)
        if z.shape[1] == 1:
            y = _as_2d_like(y, z)
            y = np.where(y == 0, -1.0, y)
            return np.maximum(1 - y * z, 0).mean(axis=1)
        rows = np.arange(len(z))
        labels = y.ravel().astype(np.intp)
        margins = 1.0 - z[rows, labels][:, None] + z
        margins[rows, labels] = 0.0
        return np.maximum(margins, 0.0).sum(axis=1) / z.shape[1]


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MSE, MAE, Huber, BinaryCrossEntropy, CrossEntropy, Hinge)
}
_ALIASES = {
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "bce": "binary_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "crossentropy": "cross_entropy",
    "categorical_cross_entropy": "cross_entropy",
    "ce": "cross_entropy",
}


def get_loss(spec: str | Loss) -> Loss:
    """A loss from its name string, an instance or a class.

    Parameters
    ----------
    spec : str, Loss or Loss subclass
        ``"mse"``, ``"cross_entropy"``..., or a loss object (returned as is).
    """
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"unknown loss {spec!r}; valid names are: {', '.join(sorted(LOSSES))}")
    raise TypeError(f"loss must be a name string or a Loss instance, not {type(spec).__name__}")

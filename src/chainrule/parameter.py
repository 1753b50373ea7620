"""A trainable array and its gradient: the only thing an optimizer ever sees."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A tensor the network learns.

    Parameters
    ----------
    value : array-like
        The initial value.
    name : str, default ""
        A readable name; ``Sequential`` sets it.

    Attributes
    ----------
    value : ndarray
        The current value (a weight matrix or a bias vector).
    grad : ndarray
        dL/dvalue from the last ``backward`` (same shape and dtype as ``value``).
        ``backward`` *overwrites* it with the gradient of the current batch
        (pass ``accumulate=True`` to ``Sequential.backward`` to add instead,
        PyTorch style); ``zero_grad`` sets it to zero.
    name : str
        A readable name such as ``"dense_0.weight"``.
    """

    __slots__ = ("value", "grad", "name")

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self.value = np.asarray(value)
        self.grad = np.zeros_like(self.value)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def size(self) -> int:
        return self.value.size

    def zero_grad(self) -> None:
        """Set ``grad`` to zero, in place."""
        self.grad[...] = 0

    def astype(self, dtype) -> None:
        """Cast value and grad in place of the attribute (new arrays, same Parameter).

        Parameters
        ----------
        dtype : numpy dtype
            ``np.float32`` or ``np.float64``.
        """
        self.value = self.value.astype(dtype, copy=False)
        self.grad = np.zeros_like(self.value)

    def __repr__(self) -> str:
        return f"Parameter({self.name or 'unnamed'}, shape={self.value.shape}, dtype={self.value.dtype})"

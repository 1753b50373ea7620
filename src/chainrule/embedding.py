"""``Embedding``: a learned vector for each category code (a lookup table).

For a categorical column with K values, one-hot encoding followed by a
``Dense(K, d)`` layer without bias computes exactly a row lookup; the lookup
is that product without the K-wide zeros.
"""

from __future__ import annotations

import numpy as np

from .initializers import Initializer, Normal, get_initializer
from .layer import Layer
from .parameter import Parameter
from .validation import check_int


class Embedding(Layer):
    """Integer codes 0..num_embeddings-1 to rows of a learned table W (num_embeddings, dim).

    Forward:   y_i = W[c_i]            (c: n codes, shape (n,) or (n, 1); y: (n, dim))
    Backward:  dL/dW[k] = sum of dL/dy_i over the rows i with c_i = k  (a scatter-add);
               the codes are discrete: there is no gradient with respect to them.

    Parameters
    ----------
    num_embeddings : int
        The number of categories K; codes must lie in 0..K-1.
    dim : int
        Length of each learned vector.
    weight_init : str, Initializer or None, default None
        None draws N(0, 1), as ``torch.nn.Embedding``.
    seed : int or None, default None
        Seed for the initial vectors (``Network(seed=...)`` re-draws every layer).
    dtype : numpy dtype, default np.float32
        Dtype of the vectors.
    """

    name = "embedding"
    _cache = ("_codes",)

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        weight_init: str | Initializer | None = None,
        seed: int | None = None,
        dtype=np.float32,
    ) -> None:
        self.num_embeddings = check_int("Embedding num_embeddings", num_embeddings)
        self.dim = check_int("Embedding dim", dim)
        self.weight_init = Normal(0.0, 1.0) if weight_init is None else get_initializer(weight_init)
        self.weight = Parameter(
            np.empty((self.num_embeddings, self.dim), np.dtype(dtype)), "weight"
        )
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator) -> None:
        dtype = self.weight.value.dtype
        self.weight.value = self.weight_init(self.weight.shape, rng, dtype)
        self.weight.grad = np.zeros_like(self.weight.value)

    def parameters(self) -> list[Parameter]:
        return [self.weight]

    def node_features(self, widths: list[int | None], parents: tuple = ()) -> int:
        if len(widths) != 1:
            raise ValueError(f"{self!r} takes one input (a column of codes), got {len(widths)}")
        if widths[0] not in (None, 1):
            where = f" node {parents[0].name!r}" if parents and parents[0].name else " its input"
            raise ValueError(
                f"{self!r} takes one column of integer codes, but{where} has {widths[0]} "
                "features; give each categorical column its own Input(1) and Embedding"
            )
        return self.dim

    def output_features(self, in_features: int) -> int:
        return self.dim

    def codes(self, x) -> np.ndarray:
        """``x`` as a vector of valid integer codes, or a ValueError saying what is wrong.

        Parameters
        ----------
        x : array-like of shape (n,) or (n, 1)
            Integer codes in 0..num_embeddings-1.
        """
        x = np.asarray(x)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(
                f"Embedding takes integer codes of shape (n,) or (n, 1), got shape {x.shape}"
            )
        if x.dtype.kind in "iub":
            codes = x.astype(np.intp, copy=False)
        elif x.dtype.kind == "f":
            if not np.isfinite(x).all() or (x != np.round(x)).any():
                bad = x[~np.isfinite(x) | (x != np.round(x))][0]
                raise ValueError(
                    f"Embedding takes integer codes, got the non-integer value {float(bad)!r}; encode "
                    "the categories as 0..K-1 (e.g. with pandas' factorize)"
                )
            codes = x.astype(np.intp)
        else:
            raise TypeError(f"Embedding takes integer codes, got dtype {x.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_embeddings):
            bad = codes[(codes < 0) | (codes >= self.num_embeddings)][0]
            raise ValueError(
                f"Embedding code {bad} is out of range: this Embedding has num_embeddings="
                f"{self.num_embeddings}, so codes must lie in 0..{self.num_embeddings - 1}; "
                "a category unseen at training time needs a code of its own (or a larger table)"
            )
        return codes

    def forward(self, x) -> np.ndarray:
        codes = self.codes(x)
        self._codes = codes
        return self.weight.value[codes]  # y_i = W[c_i]

    def infer(self, x) -> np.ndarray:
        return self.weight.value[self.codes(x)]

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> None:
        self.weight.grad[...] = 0
        np.add.at(self.weight.grad, self._codes, grad)  # dL/dW[k] = sum_{i: c_i = k} dL/dy_i
        return None  # codes are discrete: no gradient flows to them

    def get_config(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "dim": self.dim}


__all__ = ["Embedding"]

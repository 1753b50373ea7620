"""Merge layers: several nodes in, one out (``Add``, ``Multiply``, ``Concatenate``).

They exist for graph networks (``cr.Network``): ``cr.Add()(h, r)`` is a skip
connection. ``forward`` takes the input arrays and ``backward`` returns one
gradient per input, each the local derivative times dL/d(output).
"""

from __future__ import annotations

import numpy as np

from .layer import Layer


class Merge(Layer):
    """Base of the layers that take two or more inputs of the same number of rows."""

    n_inputs = None  # any number >= 2

    def node_features(self, widths: list[int | None], parents: tuple = ()) -> int | None:
        """Width of the merged node; at least two parents, whose widths ``merged_features`` checks.

        Parameters
        ----------
        widths : list of int or None
            Widths of the parent nodes, in argument order (None: not known yet).
        parents : tuple of Node, default ()
            The parent nodes, to name them in error messages.
        """
        if len(widths) < 2:
            raise ValueError(f"{self!r} merges two or more nodes, got {len(widths)}")
        return self.merged_features(widths, parents)

    def merged_features(self, widths: list[int | None], parents: tuple) -> int | None:
        """The output width for parents of ``widths`` columns, or a ValueError naming them.

        Parameters
        ----------
        widths : list of int or None
            Widths of the parent nodes, in argument order.
        parents : tuple of Node
            The parent nodes, to name them in error messages.
        """
        raise NotImplementedError

    def combine(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        """The forward rule, caching nothing.

        Parameters
        ----------
        xs : tuple of ndarray
            The inputs, each of shape (n_samples, width).
        """
        raise NotImplementedError

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        """The merged output, keeping what ``backward`` needs.

        Parameters
        ----------
        *xs : ndarray
            Two or more inputs with the same number of rows.
        """
        self._check_rows(xs)
        self._remember(xs)
        return self.combine(xs)

    def _remember(self, xs: tuple[np.ndarray, ...]) -> None:
        """Keep what ``backward`` needs."""

    def infer(self, *xs: np.ndarray) -> np.ndarray:
        """The merged output in inference mode, caching nothing.

        Parameters
        ----------
        *xs : ndarray
            Two or more inputs with the same number of rows.
        """
        self._check_rows(xs)
        return self.combine(xs)

    def output_features(self, in_features: int) -> int:
        return in_features

    @staticmethod
    def _same_widths(layer: Layer, widths: list[int | None], parents: tuple) -> int | None:
        known = {w for w in widths if w is not None}
        if len(known) > 1:
            names = (
                ", ".join(
                    f"{p.name or f'input {i}'} has {w}"
                    for i, (p, w) in enumerate(zip(parents, widths))
                )
                if parents
                else ", ".join(map(str, widths))
            )
            raise ValueError(
                f"{type(layer).__name__} needs inputs of the same width, but {names} features; "
                "use Concatenate to join different widths, or a Dense layer to match them"
            )
        return known.pop() if known else None

    def _check_rows(self, xs: tuple[np.ndarray, ...]) -> None:
        if len(xs) < 2:
            raise ValueError(f"{self!r} merges two or more arrays, got {len(xs)}")
        rows = {x.shape[0] for x in xs}
        if len(rows) > 1:
            raise ValueError(
                f"{type(self).__name__} got inputs with different numbers of rows "
                f"{[x.shape[0] for x in xs]}; every input must hold the same samples"
            )


def _same_shapes(layer: Layer, xs: tuple[np.ndarray, ...]) -> None:
    if len({x.shape for x in xs}) > 1:
        raise ValueError(
            f"{type(layer).__name__} needs arrays of one shape, got {[x.shape for x in xs]}"
        )


class Add(Merge):
    """Elementwise sum: y = x_1 + x_2 + ... (a skip or residual connection).

    Forward:   y = sum_k x_k
    Backward:  dy/dx_k = 1, so dL/dx_k = dL/dy for every input.
    """

    name = "add"
    _cache = ("_n",)

    def merged_features(self, widths, parents):
        return self._same_widths(self, widths, parents)

    def _remember(self, xs):
        self._n = len(xs)

    def combine(self, xs):
        _same_shapes(self, xs)
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        return out

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> list[np.ndarray]:
        # each input gets dL/dy itself; copies, since a layer may overwrite the array it is given
        return [grad] + [grad.copy() for _ in range(self._n - 1)]


class Multiply(Merge):
    """Elementwise product: y = x_1 * x_2 * ... (gating).

    Forward:   y = prod_k x_k
    Backward:  dy/dx_k = prod_{j != k} x_j  (for two inputs: d(a b)/da = b, d(a b)/db = a),
               so dL/dx_k = dL/dy * prod_{j != k} x_j.
    """

    name = "multiply"
    _cache = ("_xs",)

    def merged_features(self, widths, parents):
        return self._same_widths(self, widths, parents)

    def _remember(self, xs):
        self._xs = xs

    def combine(self, xs):
        _same_shapes(self, xs)
        out = xs[0] * xs[1]
        for x in xs[2:]:
            out *= x
        return out

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> list[np.ndarray]:
        xs = self._xs
        grads = []
        for k in range(len(xs)):
            g = grad.copy()
            for j, x in enumerate(xs):
                if j != k:
                    g *= x  # dL/dx_k = dL/dy * prod_{j != k} x_j
            grads.append(g)
        return grads


class Concatenate(Merge):
    """Side by side along the features: (n, a) and (n, b) give (n, a + b).

    Forward:   y = [x_1 | x_2 | ...]
    Backward:  dy/dx_k picks x_k's columns, so dL/dx_k is dL/dy's columns of x_k.
    """

    name = "concatenate"
    _cache = ("_widths",)

    def merged_features(self, widths, parents):
        return None if any(w is None for w in widths) else sum(widths)

    def _remember(self, xs):
        self._widths = [x.shape[1] for x in xs]

    def combine(self, xs):
        return np.concatenate(xs, axis=1)

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> list[np.ndarray]:
        ends = np.cumsum(self._widths)
        return [np.ascontiguousarray(grad[:, e - w : e]) for w, e in zip(self._widths, ends)]


__all__ = ["Add", "Multiply", "Concatenate", "Merge"]

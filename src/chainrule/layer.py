"""The layer interface: forward, backward (the chain rule), parameters."""

from __future__ import annotations

import numpy as np

from .config import Configurable
from .node import Node
from .parameter import Parameter


class Layer(Configurable):
    """One step of a network.

    ``forward(x)`` computes the output and caches what the backward pass needs;
    ``backward(grad)`` takes dL/d(output), fills the ``.grad`` of this layer's
    parameters and returns dL/d(input). ``input_grad=False`` lets the first
    layer skip computing dL/d(input), which nobody needs during training.

    ``backward`` may overwrite ``grad`` where that saves a pass over memory
    (``Dense`` does); ``Sequential.backward`` copies the gradient you pass in,
    so your array is never changed.
    """

    name = "layer"
    training = True
    _cache: tuple[str, ...] = ()  # attributes holding arrays of the last pass

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The output for the batch ``x``, keeping what ``backward`` will need.

        Parameters
        ----------
        x : ndarray of shape (n_samples, in_features)
            One row per sample.
        """
        raise NotImplementedError

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """The chain rule: dL/d(input) from dL/d(output), filling each ``param.grad``.

        Parameters
        ----------
        grad : ndarray of shape (n_samples, out_features)
            dL/d(output) for the batch of the last ``forward``.
        input_grad : bool, default True
            False skips computing dL/d(input) (and returns None): the first
            layer's input gradient is not needed for training.
        """
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The inference-mode output, caching nothing (safe to call from several threads).

        Layers whose behaviour differs in eval mode (Dropout, BatchNorm) override it.

        Parameters
        ----------
        x : ndarray of shape (n_samples, in_features)
            One row per sample.
        """
        return self.forward(x)

    def __call__(self, *inputs, name: str | None = None):
        """On arrays, ``forward``; on nodes (``cr.Input``...), a new node of a graph network.

        ``layer(node)`` computes nothing: it records "this layer applied to that
        node" for ``cr.Network`` (merge layers take several: ``cr.Add()(a, b)``).
        ``name`` names the new node.
        """
        if inputs and isinstance(inputs[0], Node):
            for i, x in enumerate(inputs):
                if not isinstance(x, Node):
                    raise TypeError(
                        f"{self!r} was called on nodes and on a {type(x).__name__} (argument "
                        f"{i}); in a graph every input is a node: wrap arrays in cr.Input"
                    )
            return Node(self, inputs, name)
        if name is not None:
            raise TypeError("name= only applies when a layer is called on nodes (cr.Input ...)")
        return self.forward(*inputs)

    def node_features(self, widths: list[int | None], parents: tuple = ()) -> int | None:
        """Width of the node this layer makes from parents of ``widths`` columns; checks them.

        One input by default; merge layers (``Add``...) override this.

        Parameters
        ----------
        widths : list of int or None
            Widths of the parent nodes, in argument order (None: not known yet).
        parents : tuple of Node, default ()
            The parent nodes, to name them in error messages.
        """
        if len(widths) != 1:
            raise ValueError(f"{self!r} takes one input, got {len(widths)}")
        (width,) = widths
        expected = getattr(self, "in_features", None) or getattr(self, "num_features", None)
        if expected is not None and width is not None and width != expected:
            where = f" from node {parents[0].name!r}" if parents and parents[0].name else ""
            raise ValueError(f"{self!r} expects {expected} features but gets {width}{where}")
        return self.output_features(width)

    def parameters(self) -> list[Parameter]:
        """The learned parameters, weight before bias (none for most layers)."""
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """State that is not learned by gradient but saved with the model (BatchNorm's)."""
        return {}

    def clear_cache(self) -> None:
        """Forget the arrays kept for ``backward`` (they hold the last batch alive)."""
        for name in self._cache:
            setattr(self, name, None)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re)initialise parameters and random state from ``rng``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The network's generator, shared by its layers in order.
        """

    def set_dtype(self, dtype: np.dtype) -> None:
        """Convert the parameters (and any state) to ``dtype``.

        Parameters
        ----------
        dtype : numpy dtype
            ``np.float32`` or ``np.float64``.
        """
        for p in self.parameters():
            p.astype(dtype)

    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of ``in_features`` columns.

        Parameters
        ----------
        in_features : int
            Width of the input.
        """
        return in_features

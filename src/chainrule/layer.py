"""The layer interface: forward, backward (the chain rule), parameters."""

from __future__ import annotations

import numpy as np

from .parameter import Parameter


class Layer:
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

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

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

    def get_config(self) -> dict:
        """Constructor arguments, for summaries and model files."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

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
        raise NotImplementedError

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The inference-mode output, caching nothing (safe to call from several threads).

        Layers whose behaviour differs in eval mode (Dropout, BatchNorm) override it.
        """
        return self.forward(x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def parameters(self) -> list[Parameter]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """State that is not learned by gradient but saved with the model (BatchNorm's)."""
        return {}

    def clear_cache(self) -> None:
        """Forget the arrays kept for ``backward`` (they hold the last batch alive)."""
        for name in self._cache:
            setattr(self, name, None)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re)initialise parameters and random state from ``rng``."""

    def set_dtype(self, dtype: np.dtype) -> None:
        for p in self.parameters():
            p.astype(dtype)

    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of ``in_features`` columns."""
        return in_features

    def get_config(self) -> dict:
        """Constructor arguments, for summaries and model files."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

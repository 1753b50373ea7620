"""One description per object: ``get_config()``, and the ``repr`` made from it.

Layers, activations, losses and initialisers are small Keras-like classes with a
``name`` and a ``get_config()``: the constructor arguments as plain data
(numbers, strings, None, and lists and dicts of them), so that

    type(obj)(**obj.get_config())

rebuilds an equal object. Model files store it, the playground reads it, and
``repr`` shows it: ``LeakyReLU(negative_slope=0.2)``.
"""

from __future__ import annotations


class Configurable:
    """Base of the classes described by ``get_config()``; their ``repr`` shows it."""

    def get_config(self) -> dict:
        """Constructor arguments, as plain data (empty when there are none)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


__all__ = ["Configurable"]

"""torch modules chainrule exports that torch itself lacks (imported only with torch).

``Standardise`` is the stored preprocessing's last step, ``(x - mean) / scale``,
put in front of an exported network so that the module takes the same
inputs as ``chainrule predict`` reads from a table (after one-hot encoding of
text columns) and answers the same numbers. ``Rescale`` follows a regressor
whose target was standardised in training: ``y * scale + mean``, the answer
in the target's own units.
"""

from __future__ import annotations

import numpy as np
import torch


class Standardise(torch.nn.Module):
    """y = (x - mean) / scale, feature by feature; no trainable parameters."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def extra_repr(self) -> str:
        return f"features={self.mean.numel()}"


class Rescale(torch.nn.Module):
    """y = x * scale + mean: a standardised regression output back in the target's units."""

    def __init__(self, mean: float, scale: float) -> None:
        super().__init__()
        self.mean = float(mean)
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.mean

    def extra_repr(self) -> str:
        return f"mean={self.mean!r}, scale={self.scale!r}"


class RescaleColumns(Rescale):
    """``Rescale`` for several regression targets: column ``j`` is ``x_j * scale[j] + mean[j]``."""

    def __init__(self, mean, scale) -> None:
        torch.nn.Module.__init__(self)
        self.mean = [float(v) for v in mean]  # as the model file stores them
        self.scale = [float(v) for v in scale]
        self.register_buffer("mean_columns", torch.tensor(self.mean, dtype=torch.float64))
        self.register_buffer("scale_columns", torch.tensor(self.scale, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale_columns.to(x.dtype) + self.mean_columns.to(x.dtype)


def rescale(mean, scale) -> Rescale:
    """The module that puts a standardised output back in target units: one or several columns."""
    return RescaleColumns(mean, scale) if np.ndim(mean) > 0 else Rescale(mean, scale)

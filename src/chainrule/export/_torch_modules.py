"""torch modules chainrule exports that torch itself lacks (imported only with torch).

``Standardise`` is the stored preprocessing's last step, ``(x - mean) / scale``,
put in front of an exported network so that the module takes the same
inputs as ``chainrule predict`` reads from a table (after one-hot encoding of
text columns) and answers the same numbers.
"""

from __future__ import annotations

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

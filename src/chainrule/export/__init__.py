"""Hand a chainrule network to the engines built for bigger jobs: PyTorch and ONNX.

chainrule trains small and medium networks fast on a CPU. When a network
outgrows it (a GPU, several machines, serving in production), the same
network moves, exactly, to PyTorch or to any ONNX runtime:

- ``to_torch`` gives an equivalent ``torch.nn.Sequential`` (same weights,
  same dtype, same train/eval mode) to train further, for example with
  ``torch.distributed`` (see ``examples/distributed_torch.py``);
  ``from_torch`` brings a ``torch.nn.Sequential`` of supported modules back;
  a graph ``Network`` becomes a ``GraphModule`` whose ``forward(*inputs)``
  follows the graph, and comes back the same way;
- ``to_onnx`` writes an ONNX model, built directly from the layers
  (not through torch), that any ONNX runtime can serve.

Each export reproduces ``net(X)`` in eval mode. Neither torch nor onnx is
needed to import this module: each function imports what it uses and says
which extra to install (``pip install "chainrule[torch]"`` or
``pip install "chainrule[onnx]"``) when it is missing.
"""

from __future__ import annotations

from .onnx import to_onnx, to_onnx_model
from .torch import from_torch, to_torch

__all__ = ["from_torch", "to_onnx", "to_onnx_model", "to_torch"]

"""Optional dependencies, imported where used: the module, or an error that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, needs: str, install: str) -> ModuleType:
    """``import module``, or an ImportError "{needs}: pip install {install}".

    Parameters
    ----------
    module : str
        The dotted module name, e.g. ``"safetensors.numpy"``.
    needs : str
        What needs it, said whole: ``"chainrule.plots needs matplotlib"``.
    install : str
        What to install: ``"'chainrule[plots]'"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{needs}: pip install {install}") from exc

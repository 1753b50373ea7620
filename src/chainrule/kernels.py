"""Fused loops for training's hot spots: Numba when it is installed, NumPy otherwise.

Outside the matrix products, a training step is a handful of elementwise
passes: the optimizer update (Adam's is about ten passes over every weight),
the bias add and ReLU after each product, and ReLU's backward with the bias
gradient. Each pass is one NumPy call that reads and writes whole arrays.
With Numba installed (``pip install "chainrule[fast]"``), these run as single
compiled loops (``_numba_kernels.py``) that do the same float operations in
the same order, so the results are bit-identical to the NumPy path; the tests
check that. The NumPy code stays in place as the reference and the fallback.

    cr.kernels.backend()           # "numba" or "numpy": what runs now
    cr.kernels.use("numpy")        # force the NumPy path from here on
    with cr.kernels.use("numpy"):  # ... or only inside this block
        net.fit(X, y)

With the default choice, ``"auto"``, arrays of fewer than ``MIN_SIZE`` elements
stay with NumPy, where a compiled call would save nothing; so a small network
never imports Numba. ``"numba"`` fuses every array, whatever its size.

The environment variable ``CHAINRULE_KERNELS`` (``auto``, ``numba`` or
``numpy``) sets the starting choice. The first fused call compiles the loops
(about a second), and Numba caches them on disk for later processes.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

__all__ = ["BACKENDS", "MIN_SIZE", "backend", "environment_error", "fusable", "fused", "use"]

BACKENDS = ("auto", "numba", "numpy")
#: With the "auto" backend, arrays smaller than this stay with NumPy.
MIN_SIZE = 4096

_choice = os.environ.get("CHAINRULE_KERNELS", "auto").strip().lower() or "auto"


def environment_error() -> str | None:
    """What is wrong with ``CHAINRULE_KERNELS``, or ``None``.

    A bad value does not break ``import chainrule`` (the ``chainrule`` command
    reports it in one line); the first use of the kernels raises it.
    """
    if _choice in BACKENDS:
        return None
    return (
        f"CHAINRULE_KERNELS={_choice!r} is not a kernel backend; use one of {BACKENDS} or unset it"
    )


_loaded: ModuleType | None | bool = None  # the compiled module, False if unavailable


def _check(name: object) -> str:
    if name not in BACKENDS:
        raise ValueError(f"kernel backend must be one of {BACKENDS}, got {name!r}")
    return str(name)


def _load() -> ModuleType | None:
    global _loaded
    if _loaded is None:
        try:
            from . import _numba_kernels
        except ImportError:
            _loaded = False
        else:
            _loaded = _numba_kernels
    return _loaded or None


class use:
    """Choose the backend: ``"auto"`` (Numba if installed), ``"numba"`` or ``"numpy"``.

    Takes effect at once; used as a context manager, the previous choice comes
    back at the end of the block.

    Parameters
    ----------
    name : {"auto", "numba", "numpy"}
        The backend.

    Raises
    ------
    ValueError
        For a name other than the three above.
    ImportError
        For ``"numba"`` when Numba is not installed.
    """

    def __init__(self, name: str) -> None:
        global _choice
        name = _check(name)
        if name == "numba" and _load() is None:
            raise ImportError(
                'the "numba" kernel backend needs Numba: pip install "chainrule[fast]" '
                '(or use "auto" to fall back to NumPy)'
            )
        self._previous = _choice
        _choice = name

    def __enter__(self) -> use:
        return self

    def __exit__(self, *exc: object) -> None:
        global _choice
        _choice = self._previous


def fused(size: int = MIN_SIZE) -> ModuleType | None:
    """The compiled loops for an array of ``size`` elements, or ``None`` (use NumPy).

    With ``"auto"``, arrays under ``MIN_SIZE`` elements stay with NumPy: a
    compiled call saves nothing there, and a small network then never pays
    Numba's import (about half a second). ``"numba"`` fuses every size.

    Parameters
    ----------
    size : int, default 4096
        Number of elements of the array to update (the default is ``MIN_SIZE``).
    """
    if _choice == "numpy" or (_choice == "auto" and size < MIN_SIZE):
        return None
    if _choice not in BACKENDS:  # a bad CHAINRULE_KERNELS, refused at first use
        raise ValueError(environment_error())
    loops = _load()
    if loops is None and _choice == "numba":
        raise ImportError(
            'CHAINRULE_KERNELS=numba needs Numba: pip install "chainrule[fast]", '
            "or unset CHAINRULE_KERNELS to fall back to NumPy"
        )
    return loops


def backend() -> str:
    """``"numba"`` or ``"numpy"``: which implementation runs (for arrays of ``MIN_SIZE`` or more)."""
    return "numpy" if fused() is None else "numba"


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def fusable(*arrays: np.ndarray) -> bool:
    """True if the arrays can go to a compiled loop: C-contiguous, one float dtype.

    Parameters
    ----------
    *arrays : ndarray
        The arrays one loop would read and write.
    """
    dtype = arrays[0].dtype
    if dtype not in _FLOATS:
        return False
    for a in arrays:  # a plain loop: this runs a few thousand times per epoch
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True

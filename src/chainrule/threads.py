"""How many threads BLAS may use: one for small networks, where threads cost more than they give.

A matrix product of a small network (a batch of 32 rows through 100 units)
finishes in microseconds, before a second BLAS thread has started its share;
on a machine where every core is busy that thread waits for one, and the
product waits for it: predicting 1,000 rows through 64 -> 100 -> 10 units
took 8 ms on OpenBLAS's two threads against 0.55 ms on one (2 shared cores).
``benchmarks/blas_threads.py`` measures it; ``small_network`` draws the line
from those figures.

The limit goes through ``threadpoolctl`` (optional: without it nothing is
limited). ``blas_for`` limits nothing when ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set (the user has chosen), nor
outside the main thread: the thread count is one setting for the whole
process, so two threads limiting and restoring it would undo each other out
of order, and OpenBLAS (0.3.31, measured) ignores a count set from another
thread once the main thread has set one.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = [
    "SMALL_ROWS",
    "SMALL_WIDTH",
    "blas_for",
    "blas_threads",
    "one_blas_thread",
    "small_network",
]

#: Widest layer (inputs included) of a "small" network.
SMALL_WIDTH = 256
#: Most rows through the network at once (a batch, or a table predicted in one pass).
SMALL_ROWS = 4096

_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_CONTROLLER: list = []  # threadpoolctl's controller, found once (finding it costs ~5 ms)


def _controller():
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def one_blas_thread():
    """A context in which BLAS runs on one thread (nothing without threadpoolctl)."""
    controller = _controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def blas_threads(threads: int | None):
    """A context limiting BLAS to ``threads`` threads; ``None`` limits nothing.

    Parameters
    ----------
    threads : int or None
        Threads BLAS may use (a whole number >= 1), or None for its default.
    """
    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, bool) or int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}")
    controller = _controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=int(threads), user_api="blas")


def small_network(net, rows: int) -> bool:
    """Whether ``rows`` rows at once through ``net`` are better done on one BLAS thread.

    Small means every layer at most ``SMALL_WIDTH`` (256) wide, inputs
    included, and at most ``SMALL_ROWS`` (4096) rows at once: each product is
    then at most 4096 x 256 x 256 multiply-adds, under ~20 ms on one core,
    which threads shorten little and, on a busy machine, lengthen many times
    (see ``benchmarks/blas_threads.py``).

    Parameters
    ----------
    net : Network
        The network (its parameters' shapes and ``n_features_in`` give the widths).
    rows : int
        Rows through the network at once: a batch, or a table predicted whole.
    """
    dims = [int(d) for p in net.parameters() for d in p.value.shape]
    widths = getattr(net, "n_features_in", None) or 1  # a list for a graph of several inputs
    dims.extend(int(w or 1) for w in (widths if isinstance(widths, (list, tuple)) else [widths]))
    return max(dims) <= SMALL_WIDTH and int(rows) <= SMALL_ROWS


def blas_for(net, rows: int):
    """One BLAS thread when ``small_network(net, rows)``, else BLAS's default (a context).

    Nothing is limited when ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or
    ``MKL_NUM_THREADS`` is set, nor outside the main thread.

    Parameters
    ----------
    net : Network
        The network about to train or predict.
    rows : int
        Rows through it at once.
    """
    if (
        any(os.environ.get(name) for name in _ENV)
        or threading.current_thread() is not threading.main_thread()
        or not small_network(net, rows)
    ):
        return contextlib.nullcontext()
    return one_blas_thread()

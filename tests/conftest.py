"""Shared numerical helpers for the reference tests (finite differences, tolerances).

The helpers are handed out as session-scoped fixtures so that hypothesis tests
can use them (function-scoped fixtures do not mix with ``@given``).
"""

from __future__ import annotations

import numpy as np
import pytest

EPS = float(np.finfo(np.float64).eps)


def _elementwise_diff(f, x: np.ndarray, rel: float = 1e-6):
    """Central differences of an *elementwise* ``f`` at every entry of ``x`` at once.

    Steps ``h = rel * max(1, |x|)`` and ``2h``, combined by Richardson
    extrapolation ``(4 D(h) - D(2h)) / 3`` so the truncation error is O(h^4).
    Returns ``(d, noise)``: the estimate of f'(x) and a bound on its rounding
    error (each value of f is trusted to a few ulps of ``|f| + |x| + 1``),
    which serves as the absolute floor of the comparison near zero. Points
    closer than ``2h`` to a kink must be skipped by the caller.
    """
    x = np.asarray(x, dtype=np.float64)
    h = rel * np.maximum(1.0, np.abs(x))
    ds, noises = [], []
    for step in (h, 2 * h):
        xp, xm = x + step, x - step
        dx = xp - xm  # the step actually taken (exactly representable)
        fp, fm = np.asarray(f(xp), np.float64), np.asarray(f(xm), np.float64)
        ds.append((fp - fm) / dx)
        noises.append(32 * EPS * (np.abs(fp) + np.abs(fm) + np.abs(x) + 1.0) / dx)
    d = (4 * ds[0] - ds[1]) / 3
    noise = (4 * noises[0] + noises[1]) / 3
    return d, noise


def _scalar_diff(phi, x: np.ndarray, rel: float = 1e-6, scale=0.0):
    """Central differences of a scalar function ``phi`` with respect to each entry of ``x``.

    Same steps and Richardson extrapolation as :func:`_elementwise_diff`.
    ``scale`` (a number or an array shaped like ``x``) adds to the magnitude
    that rounding errors in ``phi`` are relative to, for example the size of
    the inputs of the term that entry enters.
    """
    x = np.asarray(x, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), x.shape)
    d = np.empty_like(x)
    noise = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        h = rel * max(1.0, abs(x[idx]))
        est, err = [], []
        for step in (h, 2 * h):
            xp, xm = x.copy(), x.copy()
            xp[idx] += step
            xm[idx] -= step
            dx = xp[idx] - xm[idx]
            fp, fm = float(phi(xp)), float(phi(xm))
            est.append((fp - fm) / dx)
            err.append(32 * EPS * (abs(fp) + abs(fm) + scale[idx] + 1e-300) / dx)
        d[idx] = (4 * est[0] - est[1]) / 3
        noise[idx] = (4 * err[0] + err[1]) / 3
    return d, noise


def _assert_close(actual, desired, rtol: float, atol=0.0, mask=None, what: str = ""):
    """|actual - desired| <= rtol * max(|actual|, |desired|) + atol, elementwise.

    ``atol`` may be an array (a per-entry floor); ``mask`` selects the entries
    to compare. Reports the worst entry on failure.
    """
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    atol = np.broadcast_to(np.asarray(atol, dtype=np.float64), desired.shape)
    err = np.abs(actual - desired)
    bound = rtol * np.maximum(np.abs(actual), np.abs(desired)) + atol
    bad = ~(err <= bound)
    if mask is not None:
        bad &= np.asarray(mask, dtype=bool)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} entries differ; first at {i}: actual {actual[i]!r}, "
            f"desired {desired[i]!r}, error {err[i]:.3e} > bound {bound[i]:.3e}"
        )


def _max_rel_err(actual, desired) -> float:
    """Normwise relative error max|a - d| / max|d| (0 when both are zero)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    den = np.max(np.abs(desired)) if desired.size else 0.0
    num = np.max(np.abs(actual - desired)) if desired.size else 0.0
    return float(num / den) if den > 0 else float(num)


@pytest.fixture(scope="session")
def elementwise_diff():
    return _elementwise_diff


@pytest.fixture(scope="session")
def scalar_diff():
    return _scalar_diff


@pytest.fixture(scope="session")
def assert_close():
    return _assert_close


@pytest.fixture(scope="session")
def max_rel_err():
    return _max_rel_err

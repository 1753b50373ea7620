"""Argument and input checks shared by the whole library: one home for each.

Every check returns the value in its clean form (a float, an int, an array)
or raises a ``ValueError``/``TypeError`` whose message names the argument,
shows the value that was given and, where one helps, says what to do.

    lr = check_number("lr", lr)                        # a finite float >= 0
    p = check_number("validation_split", p, high=1.0, high_open=True)
    epochs = check_int("epochs", epochs, low=0)        # a whole number >= 0
    check_finite(X, "X")                               # no NaN, no inf
    X = as_float_array(X, np.float32, "X")             # cast, refusing overflow

The finiteness check is one reduction (``sum``) over the array, which is
finite exactly when every element is (a sum of finite values can only
overflow, and an overflow falls through to the exact element check); the
exact, slower check runs only to say where the bad value is.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["all_finite", "as_float_array", "check_finite", "check_int", "check_number"]


def check_number(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float | None = None,
    high_open: bool = False,
    low_open: bool = False,
    allow_inf: bool = False,
    fix: str = "",
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low`` with ``low_open``,
    ``high)`` with ``high_open``), else a ``TypeError`` (not a real number, a
    bool, a string) or a ``ValueError`` naming ``name`` (NaN, inf, out of range).
    ``allow_inf`` accepts ``+inf`` when there is no ``high`` (a norm bound of inf
    means no bound).

    Parameters
    ----------
    name : str
        The argument's name, for the error message ("lr").
    value : Any
        The value to check.
    low : float, default 0.0
        The lower bound, included unless ``low_open``.
    high : float or None, default None
        The upper bound, included unless ``high_open``; None: no upper bound
        (but ``value`` must be finite unless ``allow_inf``).
    high_open : bool, default False
        Exclude ``high`` itself: ``value < high``.
    low_open : bool, default False
        Exclude ``low`` itself: ``value > low``.
    allow_inf : bool, default False
        Accept ``+inf`` when ``high`` is None.
    fix : str, default ""
        A remedy appended to the error message after "; " (nothing when empty).

    Returns
    -------
    float
        ``float(value)``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    above = value > low if low_open else value >= low
    if high is None:
        ok = above and (math.isfinite(value) or (allow_inf and value == math.inf))
        wanted = f"{'>' if low_open else '>='} {low:g}"
    else:
        below = value < high if high_open else value <= high
        ok = above and below
        wanted = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not ok:
        raise ValueError(f"{name} must be {wanted}, got {value!r}" + (f"; {fix}" if fix else ""))
    return value


def check_int(name: str, value: Any, *, low: int = 1, fix: str = "") -> int:
    """``value`` as an int ``>= low`` ("a positive integer" for ``low=1``,
    "a non-negative integer" for ``low=0``), else a ``ValueError`` naming ``name``.
    Bools and floats are refused, even 3.0.

    Parameters
    ----------
    name : str
        The argument's name, for the error message ("epochs").
    value : Any
        The value to check.
    low : int, default 1
        The smallest accepted value.
    fix : str, default ""
        A remedy appended to the error message after "; " (nothing when empty).

    Returns
    -------
    int
        ``int(value)``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or value < low:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
            low, f"an integer >= {low}"
        )
        raise ValueError(f"{name} must be {kind}, got {value!r}" + (f"; {fix}" if fix else ""))
    return int(value)


def _first_bad(A: np.ndarray) -> str:
    bad = np.argwhere(~np.isfinite(A))[0]
    if A.ndim == 0:
        return "the value"
    return f"row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else "")


def all_finite(A: np.ndarray) -> bool:
    """True if the array ``A`` holds no NaN and no infinity.

    One reduction over ``A`` on the fast path (no boolean copy of the data);
    arrays of other kinds (integers, bools) are always finite.

    Parameters
    ----------
    A : numpy.ndarray
        The array to test.
    """
    if A.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(A, axis=None)):
            return True
    return bool(np.isfinite(A).all())


def check_finite(A: np.ndarray, what: str = "X") -> None:
    """Raise ``ValueError`` naming ``what`` and the first bad place if ``A`` holds
    a NaN or an infinity (see ``all_finite``).

    Parameters
    ----------
    A : numpy.ndarray
        The array to check.
    what : str, default "X"
        Its name in the error message.
    """
    if not all_finite(A):
        raise ValueError(
            f"{what} contains NaN or inf (first at {_first_bad(A)}); impute or drop those "
            "values first"
        )


def as_float_array(X: Any, dtype, what: str = "X") -> np.ndarray:
    """``X`` as an array of the float ``dtype``, refusing NaN, inf and values
    too large for ``dtype`` (1e300 is finite in float64 but overflows float32).

    No copy when ``X`` already has ``dtype``.

    Parameters
    ----------
    X : array-like
        The values to convert.
    dtype : numpy.dtype or str
        The float type wanted (``np.float32``, ``"float64"``).
    what : str, default "X"
        Its name in the error message.
    """
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(X, dtype=dtype)
    if not all_finite(out):
        src = np.asarray(X)
        where = _first_bad(out)
        if src is not out and src.dtype.kind in "fiu":
            bad = tuple(np.argwhere(~np.isfinite(out))[0])
            value = src[bad] if bad else src[()]
            if np.isfinite(value):
                raise ValueError(
                    f"{what} has the value {float(value):g} at {where}, too large for "
                    f"{dtype} (largest {float(np.finfo(dtype).max):.3g}): it overflows to "
                    "inf; rescale that column (standardise it) or use dtype=np.float64"
                )
        check_finite(out, what)
    return out

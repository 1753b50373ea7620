"""Small data sets for teaching, all generated from a seed (no download).

Each function returns ``(X, y)``: ``X`` float64 of shape ``(n, d)``, ``y``
int64 class labels of shape ``(n,)`` (float targets for ``sin``). The same
seed gives the same data on every machine.

Examples
--------
>>> import chainrule as cr
>>> X, y = cr.datasets.moons(100, noise=0.1, seed=0)
>>> X.shape, y.shape, sorted(set(y.tolist()))
((100, 2), (100,), [0, 1])
"""

from __future__ import annotations

import numpy as np

from ._optional import require
from .validation import check_int, check_number


def _noisy(X: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    noise = check_number("noise", noise)
    return X + noise * rng.normal(size=X.shape) if noise else X


def _truth_table(fn) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([fn(a, b) for a, b in X.astype(int)], dtype=np.int64)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of exclusive or: not linearly separable.

    Returns
    -------
    X : ndarray of shape (4, 2)
        The corners (0, 0), (0, 1), (1, 0), (1, 1), as float64.
    y : ndarray of shape (4,)
        ``a XOR b``: 0, 1, 1, 0, as int64.
    """
    return _truth_table(lambda a, b: a ^ b)


def logical_and() -> tuple[np.ndarray, np.ndarray]:
    """The four points of AND: linearly separable.

    Returns
    -------
    X : ndarray of shape (4, 2)
        The corners (0, 0), (0, 1), (1, 0), (1, 1), as float64.
    y : ndarray of shape (4,)
        ``a AND b``: 0, 0, 0, 1, as int64.
    """
    return _truth_table(lambda a, b: a & b)


def logical_or() -> tuple[np.ndarray, np.ndarray]:
    """The four points of OR: linearly separable.

    Returns
    -------
    X : ndarray of shape (4, 2)
        The corners (0, 0), (0, 1), (1, 0), (1, 1), as float64.
    y : ndarray of shape (4,)
        ``a OR b``: 0, 1, 1, 1, as int64.
    """
    return _truth_table(lambda a, b: a | b)


def noisy_xor(n_samples: int = 200, noise: float = 0.2, seed: int | None = 0):
    """Points around the four XOR corners (centred on 0), labelled by quadrant.

    ``X`` is uniform on the square [-1, 1]², then noise is added; the label
    is 1 where exactly one coordinate is positive (before the noise), so the
    classes overlap near the axes when ``noise > 0``.

    Parameters
    ----------
    n_samples : int, default 200
    noise : float, default 0.2
        Standard deviation of the Gaussian noise added to ``X`` (>= 0).
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        0 or 1.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= 1, or ``noise < 0``.
    """
    n = check_int("n_samples", n_samples)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return _noisy(X, noise, rng), y


def moons(n_samples: int = 200, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles, one per class (not linearly separable).

    Class 0 is the upper arc of the unit circle, class 1 the lower arc
    shifted by (1, 0.5); the rows come in random order.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, split as evenly as possible.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to ``X`` (>= 0).
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        0 or 1.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= 2, or ``noise < 0``.
    """
    n = check_int("n_samples", n_samples, low=2)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    order = rng.permutation(n)
    return _noisy(X, noise, rng)[order], y[order]


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0):
    """A small circle (class 1) inside a large one (class 0); ``factor`` is the radius ratio.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, split as evenly as possible.
    noise : float, default 0.05
        Standard deviation of the Gaussian noise added to ``X`` (>= 0).
    factor : float, default 0.5
        Radius of the inner circle (the outer one has radius 1), in (0, 1).
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        0 (outer) or 1 (inner).

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= 2, ``factor`` is not in (0, 1), or ``noise < 0``.
    """
    n = check_int("n_samples", n_samples, low=2)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor}")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n - n0, endpoint=False)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]])
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    order = rng.permutation(n)
    return _noisy(X, noise, rng)[order], y[order]


def spirals(
    n_samples: int = 300,
    n_arms: int = 2,
    noise: float = 0.1,
    turns: float = 1.5,
    seed: int | None = 0,
):
    """``n_arms`` interleaved spiral arms, one class each.

    A point at radius ``r`` (uniform in [0.05, 1]) on arm ``k`` has angle
    ``2π (turns · r + k / n_arms)``.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points; sample ``i`` belongs to arm ``i % n_arms``.
    n_arms : int, default 2
        Number of arms and classes (>= 2).
    noise : float, default 0.1
        The Gaussian noise added to ``X`` has standard deviation ``noise / 2`` (>= 0).
    turns : float, default 1.5
        How many times each arm winds around the centre.
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        The arm of each point, 0 to ``n_arms - 1``.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= ``n_arms``, ``n_arms < 2``, or ``noise < 0``.
    """
    n = check_int("n_samples", n_samples, low=n_arms)
    if n_arms < 2:
        raise ValueError(f"n_arms must be >= 2, got {n_arms}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_arms
    r = rng.uniform(0.05, 1.0, size=n)
    theta = r * turns * 2 * np.pi + labels * 2 * np.pi / n_arms
    X = np.c_[r * np.cos(theta), r * np.sin(theta)]
    return _noisy(X, noise * 0.5, rng), labels.astype(np.int64)


def blobs(
    n_samples: int = 200,
    centers: int = 3,
    n_features: int = 2,
    std: float = 0.5,
    seed: int | None = 0,
):
    """Gaussian clusters around ``centers`` random centres in [-3, 3]^d.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points; sample ``i`` belongs to cluster ``i % centers``.
    centers : int, default 3
        Number of clusters and classes.
    n_features : int, default 2
        Dimension ``d`` of the points.
    std : float, default 0.5
        Standard deviation of each cluster.
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        The cluster of each point, 0 to ``centers - 1``.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= ``centers``.
    """
    n = check_int("n_samples", n_samples, low=centers)
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-3, 3, size=(centers, n_features))
    y = np.arange(n) % centers
    X = mu[y] + std * rng.normal(size=(n, n_features))
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)


def sin(n_samples: int = 200, noise: float = 0.0, seed: int | None = 0):
    """y = sin(x) on [-pi, pi], a regression target of shape (n,).

    Parameters
    ----------
    n_samples : int, default 200
        Number of evenly spaced points ``x``.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to ``y`` (>= 0).
    seed : int or None, default 0
        Seed of the generator; None draws fresh randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The points ``x``, in increasing order.
    y : ndarray of shape (n_samples,)
        ``sin(x)`` plus noise, as float64.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= 1, or ``noise < 0``.
    """
    n = check_int("n_samples", n_samples)
    rng = np.random.default_rng(seed)
    x = np.linspace(-np.pi, np.pi, n).reshape(-1, 1)
    return x, _noisy(np.sin(x[:, 0]), noise, rng)


def digits():
    """scikit-learn's bundled 8x8 handwritten digits, pixels scaled to [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64)
        One flattened 8x8 image per row (row-major), float64 in [0, 1].
    y : ndarray of shape (1797,)
        The digit, 0 to 9, as int64.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    sk_datasets = require("sklearn.datasets", "digits() needs scikit-learn", "scikit-learn")
    X, y = sk_datasets.load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64)


DATASETS = {
    "xor": xor,
    "and": logical_and,
    "or": logical_or,
    "noisy_xor": noisy_xor,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
    "sin": sin,
    "digits": digits,
}


def load(name: str, **kwargs):
    """A data set by name: ``load("spirals", n_samples=500, noise=0.2)``.

    Parameters
    ----------
    name : str
        One of ``"xor"``, ``"and"``, ``"or"``, ``"noisy_xor"``, ``"moons"``,
        ``"circles"``, ``"spirals"``, ``"blobs"``, ``"sin"``, ``"digits"``.
    **kwargs
        Passed to that data set's function.

    Returns
    -------
    X, y : ndarray
        What the function returns.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones), or from the
        function itself for bad arguments.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)

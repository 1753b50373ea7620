"""Small data sets for teaching, all generated from a seed (no download).

Each function returns ``(X, y)``: ``X`` float64 of shape (n, d), ``y`` integer
class labels (or float targets for :func:`sin`).
"""

from __future__ import annotations

import numpy as np


def _check_n(n: int, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"n_samples must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _noisy(X: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    return X + noise * rng.normal(size=X.shape) if noise else X


def _truth_table(fn) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([fn(a, b) for a, b in X.astype(int)], dtype=np.int64)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of exclusive or: not linearly separable."""
    return _truth_table(lambda a, b: a ^ b)


def logical_and() -> tuple[np.ndarray, np.ndarray]:
    """The four points of AND: linearly separable."""
    return _truth_table(lambda a, b: a & b)


def logical_or() -> tuple[np.ndarray, np.ndarray]:
    """The four points of OR: linearly separable."""
    return _truth_table(lambda a, b: a | b)


def noisy_xor(n_samples: int = 200, noise: float = 0.2, seed: int | None = 0):
    """Points around the four XOR corners (centred on 0), labelled by quadrant."""
    n = _check_n(n_samples)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return _noisy(X, noise, rng), y


def moons(n_samples: int = 200, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles."""
    n = _check_n(n_samples, 2)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    order = rng.permutation(n)
    return _noisy(X, noise, rng)[order], y[order]


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0):
    """A small circle (class 1) inside a large one (class 0); ``factor`` is the radius ratio."""
    n = _check_n(n_samples, 2)
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
    """``n_arms`` interleaved spiral arms, one class each."""
    n = _check_n(n_samples, n_arms)
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
    """Gaussian clusters around ``centers`` random centres in [-3, 3]^d."""
    n = _check_n(n_samples, centers)
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-3, 3, size=(centers, n_features))
    y = np.arange(n) % centers
    X = mu[y] + std * rng.normal(size=(n, n_features))
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)


def sin(n_samples: int = 200, noise: float = 0.0, seed: int | None = 0):
    """y = sin(x) on [-pi, pi], a regression target of shape (n,)."""
    n = _check_n(n_samples)
    rng = np.random.default_rng(seed)
    x = np.linspace(-np.pi, np.pi, n).reshape(-1, 1)
    return x, _noisy(np.sin(x[:, 0]), noise, rng)


def digits():
    """scikit-learn's bundled 8x8 handwritten digits, pixels scaled to [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("digits() needs scikit-learn: pip install scikit-learn") from exc
    X, y = load_digits(return_X_y=True)
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
    """A data set by name: ``load("spirals", n_samples=500, noise=0.2)``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)

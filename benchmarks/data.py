"""The benchmark's data: synthetic MNIST-shaped rows from a fixed seed, or the real MNIST.

Every worker process calls :func:`load` with the same arguments, so every
contender trains on exactly the same numbers.
"""

from __future__ import annotations

import numpy as np

N_FEATURES = 784
N_CLASSES = 10
SIGNAL = 0.125


def synthetic(n_rows: int, seed: int, dtype=np.float32, prototypes_seed: int = 12345):
    """``(X, y)``: ``n_rows`` rows of 784 values in [0, 1] and labels 0..9.

    Each class has a random prototype image; a row is ``SIGNAL`` times its
    class prototype plus ``1 - SIGNAL`` times uniform noise: the values look
    like pixel intensities and the task is learnable but not trivial (about
    95% test accuracy after one epoch), so accuracy means something. Generated in chunks straight
    into the float32 result, so building the data never costs a second copy
    (the peak-memory measurement of ``fit`` stays honest).
    """
    dtype = np.dtype(dtype)
    prototypes = np.random.default_rng(prototypes_seed).random((N_CLASSES, N_FEATURES), dtype)
    prototypes *= dtype.type(SIGNAL)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n_rows)
    X = np.empty((n_rows, N_FEATURES), dtype)
    chunk = 8192
    for start in range(0, n_rows, chunk):
        part = X[start : start + chunk]
        rng.random(dtype=dtype, out=part)
        part *= dtype.type(1.0 - SIGNAL)
        part += prototypes[y[start : start + chunk]]
    return X, y


def load(
    source: str,
    rows: int,
    test_rows: int,
    seed: int = 0,
    dtype=np.float32,
    mnist_dir: str | None = None,
):
    """``(X_train, y_train, X_test, y_test)`` for ``source`` "synthetic" or "mnist".

    For MNIST, ``rows`` and ``test_rows`` take the first rows of each split
    (at most 60,000 and 10,000).
    """
    if source == "synthetic":
        X, y = synthetic(rows, seed, dtype)
        X_test, y_test = synthetic(test_rows, seed + 1, dtype)
        return X, y, X_test, y_test
    if source == "mnist":
        import mnist

        X, y = mnist.load("train", mnist_dir, dtype)
        X_test, y_test = mnist.load("test", mnist_dir, dtype)
        if rows < len(X):
            X, y = np.ascontiguousarray(X[:rows]), y[:rows].copy()
        return X, y, np.ascontiguousarray(X_test[:test_rows]), y_test[:test_rows].copy()
    raise ValueError(f"unknown data source {source!r}; use 'synthetic' or 'mnist'")

"""Teaching data sets: shapes, labels, seeds, and the geometry each promises."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets


def test_truth_tables():
    assert datasets.xor()[1].tolist() == [0, 1, 1, 0]
    assert datasets.logical_and()[1].tolist() == [0, 0, 0, 1]
    assert datasets.logical_or()[1].tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("name", ["noisy_xor", "moons", "circles", "spirals", "blobs", "sin"])
def test_seeded_and_shaped(name):
    X1, y1 = datasets.load(name, seed=3)
    X2, y2 = datasets.load(name, seed=3)
    X3, _ = datasets.load(name, seed=4)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3) or name == "sin"
    assert X1.ndim == 2 and len(X1) == len(y1)


def test_geometry():
    X, y = datasets.circles(400, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    X, y = datasets.spirals(300, n_arms=3)
    assert np.bincount(y).tolist() == [100, 100, 100]
    x, t = datasets.sin(50)
    np.testing.assert_allclose(t, np.sin(x[:, 0]))
    X, y = datasets.noisy_xor(500, noise=0.0)
    assert np.array_equal(y, (X[:, 0] > 0) ^ (X[:, 1] > 0))


def test_digits_are_scaled_to_unit_interval():
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.min() == 0.0 and X.max() == 1.0
    assert sorted(np.unique(y)) == list(range(10))


def test_errors():
    with pytest.raises(ValueError, match="unknown dataset 'spiral'; valid names are: .*spirals"):
        cr.datasets.load("spiral")
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        datasets.moons(0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        datasets.moons(10, noise=-1)

"""Weight initialisers, all drawn from a ``numpy.random.Generator``.

For a weight of shape ``(fan_in, fan_out)``:

==================  ==========================================================
``zeros``           0
``constant``        ``value``
``uniform``         U(low, high)
``normal``          N(mean, std^2)
``glorot_uniform``  U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (Xavier)
``glorot_normal``   N(0, 2 / (fan_in + fan_out))
``he_uniform``      U(-l, l), l = sqrt(6 / fan_in)                (Kaiming)
``he_normal``       N(0, 2 / fan_in)
``lecun_uniform``   U(-l, l), l = sqrt(3 / fan_in)
``lecun_normal``    N(0, 1 / fan_in)
``orthogonal``      ``gain`` times a random orthogonal matrix (QR of a Gaussian)
==================  ==========================================================

Glorot keeps the variance of activations and gradients steady for tanh and
sigmoid layers; He doubles it to make up for ReLU zeroing half its inputs;
LeCun suits SELU.
"""

from __future__ import annotations

import math

import numpy as np


class Initializer:
    """Base class: ``init(shape, rng, dtype) -> ndarray``."""

    name = "initializer"

    def __call__(self, shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        return self.sample(tuple(shape), rng).astype(dtype, copy=False)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


class Zeros(Initializer):
    name = "zeros"

    def sample(self, shape, rng):
        return np.zeros(shape)


class Constant(Initializer):
    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Uniform(Initializer):
    name = "uniform"

    def __init__(self, low: float = -0.05, high: float = 0.05) -> None:
        if not high > low:
            raise ValueError(f"uniform initialiser needs low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    def sample(self, shape, rng):
        return rng.uniform(self.low, self.high, size=shape)

    def get_config(self):
        return {"low": self.low, "high": self.high}


class Normal(Initializer):
    name = "normal"

    def __init__(self, mean: float = 0.0, std: float = 0.05) -> None:
        if std < 0:
            raise ValueError(f"normal initialiser needs std >= 0, got {std}")
        self.mean, self.std = float(mean), float(std)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.std, size=shape)

    def get_config(self):
        return {"mean": self.mean, "std": self.std}


class _VarianceScaling(Initializer):
    """Uniform or normal with variance ``scale / fan`` (the Glorot/He/LeCun family)."""

    scale = 1.0
    mode = "fan_in"  # or "fan_avg"
    distribution = "normal"

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        fan = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2
        var = self.gain**2 * self.scale / fan
        if self.distribution == "uniform":
            limit = math.sqrt(3 * var)  # U(-l, l) has variance l^2 / 3
            return rng.uniform(-limit, limit, size=shape)
        return rng.normal(0.0, math.sqrt(var), size=shape)

    def get_config(self):
        return {} if self.gain == 1.0 else {"gain": self.gain}


class GlorotUniform(_VarianceScaling):
    name, mode, distribution = "glorot_uniform", "fan_avg", "uniform"


class GlorotNormal(_VarianceScaling):
    name, mode, distribution = "glorot_normal", "fan_avg", "normal"


class HeUniform(_VarianceScaling):
    name, scale, distribution = "he_uniform", 2.0, "uniform"


class HeNormal(_VarianceScaling):
    name, scale, distribution = "he_normal", 2.0, "normal"


class LecunUniform(_VarianceScaling):
    name, distribution = "lecun_uniform", "uniform"


class LecunNormal(_VarianceScaling):
    name, distribution = "lecun_normal", "normal"


class Orthogonal(Initializer):
    """``gain * Q`` with Q from the QR decomposition of a Gaussian matrix (signs fixed)."""

    name = "orthogonal"

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def sample(self, shape, rng):
        rows, cols = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes Q uniformly distributed over orthogonal matrices
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain}


INITIALIZERS: dict[str, type[Initializer]] = {
    cls.name: cls
    for cls in (
        Zeros,
        Constant,
        Uniform,
        Normal,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
    )
}
_ALIASES = {
    "glorot": "glorot_uniform",
    "xavier": "glorot_uniform",
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "he": "he_uniform",
    "kaiming": "he_uniform",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "lecun": "lecun_normal",
}


def get_initializer(spec: str | Initializer) -> Initializer:
    """An initialiser from its name string or an instance."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in INITIALIZERS:
            return INITIALIZERS[key]()
        valid = sorted(set(INITIALIZERS) | set(_ALIASES))
        raise ValueError(f"unknown initialiser {spec!r}; valid names are: {', '.join(valid)}")
    raise TypeError(
        f"initialiser must be a name string or an Initializer, not {type(spec).__name__}"
    )

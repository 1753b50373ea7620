"""Weight initialisers, all drawn from a ``numpy.random.Generator``.

For a weight of shape ``(fan_in, fan_out)`` (a 1-D shape ``(n,)`` counts as
``fan_in = fan_out = n``):

| name | distribution |
|---|---|
| ``zeros`` | 0 |
| ``constant`` | ``value`` |
| ``uniform`` | U(low, high) |
| ``normal`` | N(mean, std²) |
| ``glorot_uniform`` (Xavier) | U(-l, l), l = sqrt(6 / (fan_in + fan_out)) |
| ``glorot_normal`` | N(0, 2 / (fan_in + fan_out)) |
| ``he_uniform`` (Kaiming) | U(-l, l), l = sqrt(6 / fan_in) |
| ``he_normal`` | N(0, 2 / fan_in) |
| ``lecun_uniform`` | U(-l, l), l = sqrt(3 / fan_in) |
| ``lecun_normal`` | N(0, 1 / fan_in) |
| ``orthogonal`` | ``gain`` times a random orthogonal matrix (QR of a Gaussian) |

Glorot keeps the variance of activations and gradients steady for tanh and
sigmoid layers; He doubles it to make up for ReLU zeroing half its inputs;
LeCun suits SELU. ``get_initializer`` also accepts the aliases ``glorot``,
``xavier``, ``xavier_uniform``, ``xavier_normal``, ``he``, ``kaiming``,
``kaiming_uniform``, ``kaiming_normal`` and ``lecun`` (= ``lecun_normal``).

Examples
--------
>>> import numpy as np
>>> from chainrule.initializers import get_initializer
>>> init = get_initializer("he_normal")
>>> w = init((256, 128), np.random.default_rng(0))
>>> w.shape, w.dtype
((256, 128), dtype('float32'))
>>> round(float(w.std()), 2)  # sqrt(2 / 256) = 0.088
0.09
"""

from __future__ import annotations

import math

import numpy as np

from .config import Configurable


class Initializer(Configurable):
    """Base class of the initialisers: ``init(shape, rng, dtype) -> ndarray``.

    Calling an initialiser draws float64 values with ``sample`` and casts
    them to ``dtype`` (default float32). Subclasses set ``name`` (the
    registry name) and implement ``sample``; those with arguments also
    return them from ``get_config``.
    """

    name = "initializer"

    def __call__(self, shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        """Draw a new array.

        Parameters
        ----------
        shape : tuple of int
            Shape of the array, e.g. ``(fan_in, fan_out)`` for a weight matrix.
        rng : numpy.random.Generator
            The source of randomness (unused by the constant initialisers).
        dtype : numpy dtype, default np.float32
            Dtype of the result; values are drawn in float64 and then cast.

        Returns
        -------
        ndarray of shape ``shape`` and dtype ``dtype``
        """
        return self.sample(tuple(shape), rng).astype(dtype, copy=False)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw a float64 array of ``shape`` (what subclasses implement).

        Parameters
        ----------
        shape : tuple of int
            ``(in_features, out_features)`` for a weight, ``(out_features,)`` for a bias.
        rng : numpy.random.Generator
            Where the random numbers come from.
        """
        raise NotImplementedError


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


class Zeros(Initializer):
    """All zeros: the usual start for biases (never for weights, whose units
    would then stay identical)."""

    name = "zeros"

    def sample(self, shape, rng):
        return np.zeros(shape)


class Constant(Initializer):
    """Every entry equal to ``value``.

    Parameters
    ----------
    value : float, default 0.0
    """

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Uniform(Initializer):
    """Independent draws from the uniform distribution U(low, high).

    Parameters
    ----------
    low : float, default -0.05
        The lower bound of the interval.
    high : float, default 0.05
        The upper bound of the interval.

    Raises
    ------
    ValueError
        If ``low >= high``.
    """

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
    """Independent draws from the normal distribution N(mean, std²).

    Parameters
    ----------
    mean : float, default 0.0
    std : float, default 0.05
        Standard deviation (>= 0).

    Raises
    ------
    ValueError
        If ``std < 0``.
    """

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
    """Glorot (Xavier) uniform: U(-l, l) with l = gain · sqrt(6 / (fan_in + fan_out)).

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, mode, distribution = "glorot_uniform", "fan_avg", "uniform"


class GlorotNormal(_VarianceScaling):
    """Glorot (Xavier) normal: N(0, gain² · 2 / (fan_in + fan_out)).

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, mode, distribution = "glorot_normal", "fan_avg", "normal"


class HeUniform(_VarianceScaling):
    """He (Kaiming) uniform: U(-l, l) with l = gain · sqrt(6 / fan_in), for ReLU layers.

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, scale, distribution = "he_uniform", 2.0, "uniform"


class HeNormal(_VarianceScaling):
    """He (Kaiming) normal: N(0, gain² · 2 / fan_in), for ReLU layers.

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, scale, distribution = "he_normal", 2.0, "normal"


class LecunUniform(_VarianceScaling):
    """LeCun uniform: U(-l, l) with l = gain · sqrt(3 / fan_in).

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, distribution = "lecun_uniform", "uniform"


class LecunNormal(_VarianceScaling):
    """LeCun normal: N(0, gain² / fan_in), the initialisation SELU assumes.

    Parameters
    ----------
    gain : float, default 1.0
        Multiplies the standard deviation.
    """

    name, distribution = "lecun_normal", "normal"


class Orthogonal(Initializer):
    """``gain * Q`` with Q from the QR decomposition of a Gaussian matrix (signs fixed).

    For a shape ``(rows, cols)`` the rows of Q are orthonormal when
    ``rows <= cols`` and its columns otherwise. Extra dimensions are
    flattened into ``cols``; a 1-D shape gives a unit vector.

    Parameters
    ----------
    gain : float, default 1.0
        Scale of the result.
    """

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
    """An initialiser from its name string or an instance.

    Parameters
    ----------
    spec : str or Initializer
        A name from the table in the module documentation or an alias
        (case-insensitive), built with its default arguments; an instance is
        returned unchanged.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        If ``spec`` is neither a string nor an ``Initializer``.

    Examples
    --------
    >>> from chainrule.initializers import get_initializer
    >>> get_initializer("kaiming")
    HeUniform()
    """
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

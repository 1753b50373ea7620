"""Activation functions, each with its exact derivative.

Every activation is a layer: ``forward(z)`` returns ``a = f(z)`` and
``backward(grad)`` returns ``dL/dz = dL/da * f'(z)``, the chain rule for one
elementwise step. Each class states its forward rule ``f`` and its local
derivative ``df`` side by side. ``df(z, a)`` receives both the input and the
output, because many derivatives are cheapest from the output (sigmoid:
``a (1 - a)``, tanh: ``1 - a^2``, ReLU: ``a > 0``).

Write your own from two functions:

    cube = cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2, name="cube")

or subclass ``Activation`` and define ``f`` and ``df``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import kernels
from .layer import Layer

_SQRT_2 = math.sqrt(2.0)


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc to double precision (NumPy has none): SciPy's when installed, else math.erfc.

    SciPy is imported on first use, not at import time: it costs a third of a
    second, which every command-line start would pay.
    """
    global _erfc
    try:
        from scipy.special import erfc
    except ImportError:  # pragma: no cover - exercised only without SciPy
        erfc = np.vectorize(math.erfc, otypes=[np.float64])
    _erfc = erfc
    return erfc(x)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = erfc(-z / sqrt 2) / 2: no cancellation in the left tail, unlike (1 + erf) / 2."""
    return 0.5 * _erfc(-z / _SQRT_2)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), evaluated without overflow for any |z|.

    Parameters
    ----------
    z : ndarray
        Any real numbers.
    """
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), stable for any |z|."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def softmax(z: np.ndarray) -> np.ndarray:
    """e^(z_i - max z) / sum_j e^(z_j - max z) over the last axis: exact for any logits.

    Parameters
    ----------
    z : ndarray
        Logits; each row (last axis) becomes a probability distribution.
    """
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Activation(Layer):
    """Base class: an elementwise function ``f`` and its derivative ``df``.

    Subclasses define ``f(z)`` and ``df(z, a)``. Set ``needs_input = False``
    when ``df`` uses only the output ``a``; layers then skip caching ``z``.

    ``f_`` and ``vjp_`` are the same computations allowed to overwrite their
    first argument (no new array per batch); layers call them only on arrays
    they own. Override them for speed, never for a different result.
    """

    name = "activation"
    needs_input = True
    _cache = ("_z", "_a")

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that redefines f or df must not inherit its parent's fast
        # paths (ReLU's in-place max, Tanh's in-place tanh, a compiled loop...):
        # they compute the parent's function. Without its own, it gets the
        # plain ones, which call its f and df.
        own = cls.__dict__
        if "f" in own:
            for fast in ("f_", "bias_f_"):
                if fast not in own:
                    setattr(cls, fast, getattr(Activation, fast))
        if "df" in own:
            for fast in ("vjp", "vjp_", "vjp_bias_"):
                if fast not in own:
                    setattr(cls, fast, getattr(Activation, fast))
            if "needs_input" not in own:  # the parent's df may have needed only a
                cls.needs_input = True

    def f(self, z: np.ndarray) -> np.ndarray:
        """The function itself, elementwise: ``a = f(z)``.

        Parameters
        ----------
        z : ndarray
            Pre-activations.
        """
        raise NotImplementedError

    def df(self, z: np.ndarray | None, a: np.ndarray) -> np.ndarray:
        """The derivative f'(z), elementwise.

        Parameters
        ----------
        z : ndarray or None
            Pre-activations (None when ``needs_input`` is False).
        a : ndarray
            ``f(z)``, which many derivatives reuse (sigmoid: ``a (1 - a)``).
        """
        raise NotImplementedError

    # -- the chain rule through this function ------------------------------
    def vjp(self, grad: np.ndarray, z: np.ndarray | None, a: np.ndarray) -> np.ndarray:
        """dL/dz given dL/da: elementwise, ``grad * f'(z)``."""
        return grad * self.df(z, a)

    # -- in-place variants, for speed ------------------------------------------
    def f_(self, z: np.ndarray) -> np.ndarray:
        """``f(z)``, possibly written into ``z`` (only called when ``z`` is not needed later)."""
        return self.f(z)

    def vjp_(self, grad: np.ndarray, z: np.ndarray | None, a: np.ndarray) -> np.ndarray:
        """``vjp``, possibly written into ``grad``."""
        return self.vjp(grad, z, a)

    # -- fused with a Dense layer's bias, for speed ------------------------------
    def bias_f_(self, z: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """``f(z + bias)``, possibly written into ``z`` (Dense's forward)."""
        z += bias
        return self.f_(z)

    def vjp_bias_(
        self, grad: np.ndarray, z: np.ndarray | None, a: np.ndarray, bias_grad: np.ndarray
    ) -> np.ndarray:
        """``vjp_``, and its sum over rows written into ``bias_grad`` (Dense's dL/db)."""
        grad = self.vjp_(grad, z, a)
        np.sum(grad, axis=0, out=bias_grad)
        return grad

    # -- as a layer of its own -----------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        a = self.f(x)
        self._z = x if self.needs_input else None
        self._a = a
        return a

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray:
        return self.vjp(grad, self._z, self._a)

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.f(x)


class Step(Activation):
    """Heaviside step: f(z) = 1 if z >= 0 else 0; f'(z) = 0 almost everywhere.

    The perceptron's activation. Its derivative is zero wherever it exists, so
    backpropagation carries no signal through it: gradient training refuses it.
    """

    name = "step"
    needs_input = False

    def f(self, z):
        return (z >= 0).astype(z.dtype)

    def df(self, z, a):
        raise ValueError(
            "the step activation cannot be trained by gradient descent: its derivative is 0 "
            "everywhere except at z=0, where it is undefined, so every weight gradient is 0. "
            "Use 'sigmoid' (a smooth step) or another differentiable activation, or train a "
            "single unit with cr.Perceptron, which uses the perceptron learning rule."
        )


class Identity(Activation):
    """f(z) = z; f'(z) = 1."""

    name = "identity"
    needs_input = False

    def f(self, z):
        return z

    def df(self, z, a):
        return np.ones_like(a)

    def vjp(self, grad, z, a):
        return grad


class Sigmoid(Activation):
    """f(z) = 1 / (1 + e^-z); f'(z) = a (1 - a)."""

    name = "sigmoid"
    needs_input = False

    def f(self, z):
        return sigmoid(z)

    def df(self, z, a):
        return a * (1 - a)

    def vjp_(self, grad, z, a):
        grad *= a
        grad *= 1 - a
        return grad


class Tanh(Activation):
    """f(z) = tanh z; f'(z) = 1 - a^2."""

    name = "tanh"
    needs_input = False

    def f(self, z):
        return np.tanh(z)

    def df(self, z, a):
        return 1 - a * a

    def f_(self, z):
        return np.tanh(z, out=z)


class ReLU(Activation):
    """f(z) = max(z, 0); f'(z) = 1 if z > 0 else 0 (0 at z = 0, as PyTorch)."""

    name = "relu"
    needs_input = False

    def f(self, z):
        return np.maximum(z, 0)

    def df(self, z, a):
        return (a > 0).astype(a.dtype)

    def f_(self, z):
        return np.maximum(z, 0, out=z)

    def vjp_(self, grad, z, a):
        return np.multiply(grad, a > 0, out=grad)

    # one compiled pass each way instead of two or three NumPy calls (see kernels.py)
    def bias_f_(self, z, bias):
        loops = kernels.fused(z.size)
        if loops is None or z.ndim != 2 or not kernels.fusable(z, bias):
            return super().bias_f_(z, bias)
        loops.add_bias_relu(z, bias)
        return z

    def vjp_bias_(self, grad, z, a, bias_grad):
        loops = kernels.fused(grad.size)
        if loops is None or grad.ndim != 2 or not kernels.fusable(grad, a, bias_grad):
            return super().vjp_bias_(grad, z, a, bias_grad)
        loops.relu_backward_bias_grad(grad, a, bias_grad, grad.dtype.type(0))
        return grad


class LeakyReLU(Activation):
    """f(z) = z if z > 0 else s z; f'(z) = 1 if z > 0 else s.

    Parameters
    ----------
    negative_slope : float, default 0.01
        The slope s for z <= 0.
    """

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def f(self, z):
        return np.where(z > 0, z, self.negative_slope * z)

    def df(self, z, a):
        return np.where(z > 0, 1.0, self.negative_slope).astype(z.dtype)

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    """f(z) = z if z > 0 else alpha (e^z - 1); f'(z) = 1 if z > 0 else a + alpha.

    Parameters
    ----------
    alpha : float, default 1.0
        The value f approaches as z goes to minus infinity is -alpha.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def f(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def df(self, z, a):
        return np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype)

    def get_config(self):
        return {"alpha": self.alpha}


class SELU(Activation):
    """f(z) = scale * (z if z > 0 else alpha (e^z - 1)); f'(z) = scale or a + scale*alpha.

    alpha and scale are the self-normalising constants of Klambauer et al. (2017).
    """

    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def f(self, z):
        return self.scale * np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def df(self, z, a):
        return np.where(z > 0, self.scale, a + self.scale * self.alpha).astype(z.dtype)


class Softplus(Activation):
    """f(z) = log(1 + e^(beta z)) / beta; f'(z) = sigmoid(beta z).

    As in PyTorch, where ``beta z > threshold`` the function is taken as linear
    (f(z) = z, f'(z) = 1); ``threshold=None`` keeps the exact form everywhere.

    Parameters
    ----------
    beta : float, default 1.0
        Sharpness: larger beta is closer to ReLU.
    threshold : float or None, default 20.0
        Above ``beta z > threshold`` the function is taken as linear.
    """

    name = "softplus"

    def __init__(self, beta: float = 1.0, threshold: float | None = 20.0) -> None:
        self.beta = float(beta)
        self.threshold = threshold

    def f(self, z):
        bz = self.beta * z
        out = _softplus(bz) / self.beta
        if self.threshold is not None:
            out = np.where(bz > self.threshold, z, out)
        return out

    def df(self, z, a):
        bz = self.beta * z
        d = sigmoid(bz)
        if self.threshold is not None:
            d = np.where(bz > self.threshold, 1.0, d).astype(z.dtype)
        return d

    def get_config(self):
        return {"beta": self.beta, "threshold": self.threshold}


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Activation):
    """f(z) = z Phi(z); f'(z) = Phi(z) + z phi(z), Phi the normal CDF.

    ``approximate="tanh"``: f(z) = z/2 (1 + tanh(u)), u = sqrt(2/pi)(z + 0.044715 z^3),
    f'(z) = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) sqrt(2/pi)(1 + 3*0.044715 z^2).

    Parameters
    ----------
    approximate : {"none", "tanh"}, default "none"
        "none" is the exact form (erf to double precision); "tanh" the approximation.
    """

    name = "gelu"

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def f(self, z):
        if self.approximate == "tanh":
            u = _SQRT_2_OVER_PI * (z + 0.044715 * z**3)
            return 0.5 * z * (1 + np.tanh(u))
        return (z * _normal_cdf(z)).astype(z.dtype, copy=False)

    def df(self, z, a):
        if self.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z**2)
            return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du
        cdf = _normal_cdf(z)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * z * z)
        return (cdf + z * pdf).astype(z.dtype, copy=False)

    def get_config(self):
        return {"approximate": self.approximate}


class SiLU(Activation):
    """Swish: f(z) = z sigmoid(z); f'(z) = s (1 + z (1 - s)), s = sigmoid(z)."""

    name = "silu"

    def f(self, z):
        return z * sigmoid(z)

    def df(self, z, a):
        s = sigmoid(z)
        return s * (1 + z * (1 - s))


class Mish(Activation):
    """f(z) = z tanh(softplus(z)); f'(z) = t + z (1 - t^2) sigmoid(z), t = tanh(softplus(z))."""

    name = "mish"

    def f(self, z):
        return z * np.tanh(_softplus(z))

    def df(self, z, a):
        t = np.tanh(_softplus(z))
        return t + z * (1 - t * t) * sigmoid(z)


class Softmax(Activation):
    """f(z)_i = e^(z_i - max z) / sum_j e^(z_j - max z), over each row.

    Not elementwise: its Jacobian is diag(a) - a a^T, so the chain rule gives
    dL/dz = a * (g - sum_j g_j a_j). Shifting by the row max makes it exact
    for any logits and invariant to adding a constant to a row.
    """

    name = "softmax"
    needs_input = False

    def f(self, z):
        return softmax(z)

    def df(self, z, a):
        raise TypeError("softmax has a full Jacobian, not an elementwise derivative; use vjp")

    def vjp(self, grad, z, a):
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))


class FunctionActivation(Activation):
    """An activation built from a function and its derivative.

    Parameters
    ----------
    f : callable
        ``f(z)``, elementwise.
    df : callable
        ``df(z, a)``, the derivative at ``z`` (``a = f(z)`` is given too).
    name : str, default "custom"
        Shown in summaries.
    """

    def __init__(
        self,
        f: Callable[[np.ndarray], np.ndarray],
        df: Callable[[np.ndarray, np.ndarray], np.ndarray],
        name: str = "custom",
    ) -> None:
        self._f, self._df, self.name = f, df, name

    def f(self, z):
        return np.asarray(self._f(z), dtype=z.dtype)

    def df(self, z, a):
        return np.asarray(self._df(z, a), dtype=z.dtype)

    def __repr__(self) -> str:
        return f"FunctionActivation(name={self.name!r})"


def activation_from_functions(
    f: Callable[[np.ndarray], np.ndarray],
    df: Callable[[np.ndarray, np.ndarray], np.ndarray],
    name: str = "custom",
) -> Activation:
    """Make an activation from ``f(z)`` and its derivative ``df(z, a)`` (``a = f(z)``).

    Check the derivative with ``chainrule.gradcheck`` before trusting it.

    Parameters
    ----------
    f : callable
        ``f(z)``, elementwise.
    df : callable
        ``df(z, a)``, the derivative at ``z`` (``a = f(z)`` is given too).
    name : str, default "custom"
        Shown in summaries.
    """
    return FunctionActivation(f, df, name)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (
        Step,
        Identity,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        SELU,
        Softplus,
        GELU,
        SiLU,
        Mish,
        Softmax,
    )
}
ACTIVATIONS["swish"] = SiLU
ACTIVATIONS["linear"] = Identity


def get_activation(spec: str | dict | Activation | None) -> Activation | None:
    """An activation from its name string, its description, an instance, a class, or None.

    Parameters
    ----------
    spec : str, dict, Activation, Activation subclass or None
        ``"relu"``, ``"tanh"``..., ``{"name": "leaky_relu", "config":
        {"negative_slope": 0.2}}`` (what ``Dense.get_config`` gives), or an
        activation object (returned as is).
    """
    if spec is None or isinstance(spec, Activation):
        return spec
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str) or set(spec) - {"name", "config"}:
            raise ValueError(
                f"an activation description is {{'name': str, 'config': dict}}, got {spec!r}"
            )
        return type(get_activation(spec["name"]))(**spec.get("config", {}))
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]()
        raise ValueError(
            f"unknown activation {spec!r}; valid names are: {', '.join(sorted(ACTIVATIONS))}"
        )
    raise TypeError(
        f"activation must be a name string, a description dict, an Activation instance "
        f"or None, not {type(spec).__name__}"
    )

"""Layers with parameters or state: Dense, Dropout, BatchNorm.

Each layer's ``forward`` states the rule, and ``backward`` applies the chain
rule to it: given g = dL/d(output) it fills the parameters' gradients and
returns dL/d(input).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, get_activation
from .initializers import Initializer, get_initializer
from .layer import Layer
from .parameter import Parameter
from .validation import check_int, check_number

_RELU_FAMILY = {"relu", "leaky_relu", "elu", "gelu", "silu", "mish", "softplus"}


def default_weight_init(activation: Activation | None) -> str:
    """He for the ReLU family, LeCun normal for SELU, Glorot otherwise.

    Parameters
    ----------
    activation : Activation or None
        The layer's activation (None: no activation).
    """
    if activation is None:
        return "glorot_uniform"
    if activation.name in _RELU_FAMILY:
        return "he_uniform"
    if activation.name == "selu":
        return "lecun_normal"
    return "glorot_uniform"


class Dense(Layer):
    """A fully connected layer of perceptrons: a = f(x W + b).

    Forward:   z = x W + b          (x: (n, in), W: (in, out), b: (out,))
               a = f(z)             (optional activation)
    Backward:  dL/dz = dL/da * f'(z)
               dL/dW = x^T dL/dz    dL/db = sum over rows of dL/dz
               dL/dx = dL/dz W^T

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    activation : str, dict, Activation or None, default None
        Applied to ``z``; ``None`` gives raw outputs (logits). A dict is the
        ``{"name", "config"}`` description ``get_config`` gives.
    weight_init : str or Initializer, default "auto"
        ``"auto"`` picks He for the ReLU family, LeCun normal for SELU and
        Glorot otherwise.
    bias_init : str or Initializer, default "zeros"
        How the biases start.
    seed : int or None, default None
        Seed for this layer's initial weights (``Sequential(seed=...)``
        re-draws every layer from one generator, which is the usual way).
    dtype : numpy dtype, default np.float32
        Parameter dtype; ``Sequential`` casts all layers to its own.
    """

    name = "dense"
    _cache = ("_x", "_z", "_a")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | dict | Activation | None = None,
        weight_init: str | Initializer = "auto",
        bias_init: str | Initializer = "zeros",
        seed: int | None = None,
        dtype=np.float32,
    ) -> None:
        self.in_features = check_int("Dense in_features", in_features)
        self.out_features = check_int("Dense out_features", out_features)
        self.activation = get_activation(activation)
        if weight_init == "auto":
            weight_init = default_weight_init(self.activation)
        self.weight_init = get_initializer(weight_init)
        self.bias_init = get_initializer(bias_init)
        dtype = np.dtype(dtype)
        self.weight = Parameter(np.empty((self.in_features, self.out_features), dtype), "weight")
        self.bias = Parameter(np.empty(self.out_features, dtype), "bias")
        self.reset_parameters(np.random.default_rng(seed))

    @property
    def dtype(self) -> np.dtype:
        return self.weight.value.dtype

    def reset_parameters(self, rng: np.random.Generator) -> None:
        dtype = self.weight.value.dtype
        self.weight.value = self.weight_init(self.weight.shape, rng, dtype)
        self.bias.value = self.bias_init(self.bias.shape, rng, dtype)
        self.weight.grad = np.zeros_like(self.weight.value)
        self.bias.grad = np.zeros_like(self.bias.value)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def output_features(self, in_features: int) -> int:
        return self.out_features

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.value
        self._x = x
        act = self.activation
        if act is None:
            z += self.bias.value
            return z
        if act.needs_input:
            z += self.bias.value
            a = act.f(z)
            self._z, self._a = z, a
        else:  # z is ours and not needed again: compute a = f(z + b) in its place
            a = act.bias_f_(z, self.bias.value)
            self._z, self._a = None, a
        return a

    def infer(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.value
        if self.activation is None:
            z += self.bias.value
            return z
        return self.activation.bias_f_(z, self.bias.value)

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self.activation is None:
            np.sum(grad, axis=0, out=self.bias.grad)  # dL/db
        else:  # dL/dz = dL/da f'(z), and dL/db = its sum over rows
            grad = self.activation.vjp_bias_(grad, self._z, self._a, self.bias.grad)
        np.matmul(self._x.T, grad, out=self.weight.grad)  # dL/dW = x^T dL/dz
        return grad @ self.weight.value.T if input_grad else None  # dL/dx

    def get_config(self) -> dict:
        """``in_features``, ``out_features`` and ``activation``: None or the activation's
        ``{"name", "config"}`` (what model files store); ``Dense(**get_config())``
        rebuilds the layer."""
        act = self.activation
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": None if act is None else {"name": act.name, "config": act.get_config()},
        }

    def __repr__(self) -> str:
        act = f", activation={self.activation!r}" if self.activation is not None else ""
        return f"Dense({self.in_features}, {self.out_features}{act})"


class Dropout(Layer):
    """Inverted dropout: during training keep each unit with probability 1 - p.

    Forward (training):  m_ij ~ Bernoulli(1 - p) / (1 - p),  y = x * m
    Forward (eval):      y = x
    Backward:            dL/dx = dL/dy * m

    Scaling by 1/(1 - p) at training time keeps the expected activation the
    same, so inference needs no correction. The mask of the last forward pass
    is in ``.mask``.

    Parameters
    ----------
    p : float, default 0.5
        Probability of dropping each unit, in [0, 1).
    seed : int or None, default None
        Seed of this layer's masks (``Sequential(seed=...)`` re-draws it).
    """

    name = "dropout"
    _cache = ("mask",)

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        self.p = check_number("Dropout p", p, high=1.0, high_open=True)
        self.mask: np.ndarray | None = None
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator) -> None:
        self._rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self._rng.random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
        mask = (keep >= self.p).astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self.mask = mask
        return x * mask

    def infer(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray:
        return grad if self.mask is None else grad * self.mask

    def get_config(self) -> dict:
        return {"p": self.p}


class BatchNorm(Layer):
    """Batch normalisation over the rows of each feature (``BatchNorm1d`` in PyTorch).

    Forward (training):  mu, var = mean and biased variance of the batch
                         x^ = (x - mu) / sqrt(var + eps),  y = gamma x^ + beta
                         running <- (1 - momentum) running + momentum batch
                         (running_var takes the unbiased variance)
    Forward (eval):      the same with the running statistics.
    Backward (training): dL/dx = (gamma / (n sigma)) (n g - sum g - x^ sum(g x^))

    Parameters
    ----------
    num_features : int
        Width of the input (and output).
    momentum : float, default 0.1
        Weight of the current batch in the running statistics, in [0, 1].
    eps : float, default 1e-5
        Added to the variance before the square root.
    dtype : numpy dtype, default np.float32
        Dtype of gamma, beta and the running statistics.
    """

    name = "batch_norm"
    _cache = ("_xhat", "_inv_std")

    def __init__(
        self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32
    ) -> None:
        self.num_features = check_int("BatchNorm num_features", num_features)
        self.momentum = check_number("BatchNorm momentum", momentum, high=1.0)
        self.eps = float(eps)
        self.weight = Parameter(np.ones(self.num_features, dtype), "weight")  # gamma
        self.bias = Parameter(np.zeros(self.num_features, dtype), "bias")  # beta
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_var = np.ones(self.num_features, dtype)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        self.weight.value[...] = 1
        self.bias.value[...] = 0
        self.running_mean[...] = 0
        self.running_var[...] = 1

    def set_dtype(self, dtype) -> None:
        super().set_dtype(dtype)
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    "BatchNorm needs at least 2 rows per batch in training mode to estimate a "
                    "variance; use a larger batch_size or call net.eval() for inference"
                )
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += m * var * (n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean) * inv_std
        self._inv_std, self._xhat = inv_std, xhat
        return xhat * self.weight.value + self.bias.value

    def infer(self, x: np.ndarray) -> np.ndarray:
        scale = self.weight.value / np.sqrt(self.running_var + self.eps)
        return (x - self.running_mean) * scale + self.bias.value

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        xhat = self._xhat
        self.bias.grad[...] = grad.sum(axis=0)  # dL/dbeta
        self.weight.grad[...] = (grad * xhat).sum(axis=0)  # dL/dgamma
        if not input_grad:
            return None
        g = grad * self.weight.value  # dL/dx^
        if not self.training:  # statistics are constants
            return g * self._inv_std
        n = grad.shape[0]
        return (self._inv_std / n) * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))

    def get_config(self) -> dict:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}


# Activations are layers too: cr.ReLU() can stand on its own in a Sequential.
__all__ = ["Dense", "Dropout", "BatchNorm", "Layer", "Parameter", "Activation"]

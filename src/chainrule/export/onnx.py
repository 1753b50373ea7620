"""chainrule -> ONNX: the network as an ONNX graph, built node by node (not through torch).

The graph takes one input, ``"input"``, of shape ``(batch, n_features)`` with
a dynamic batch dimension and the network's dtype (float32 or float64), and
gives ``"output"`` = ``net(X)`` in eval mode. Layer by layer:

```text
preprocessing_ mean/scale   Sub, Div                       (x - mean) / scale, first
Dense                       Gemm(x, W, b)                  W stored as (in, out), like chainrule
Dropout                     nothing                        (inference)
BatchNorm                   Sub, Mul, Mul, Add             (x - running_mean) * inv_std * gamma + beta,
                                                           with chainrule's own inv_std, so bit-exact
Step                        GreaterOrEqual, Cast
Identity                    nothing
Sigmoid, Tanh, ReLU         Sigmoid, Tanh, Relu
LeakyReLU, Softmax          LeakyRelu, Softmax(axis=-1)
ELU, SELU                   Elu, Selu
Softplus(beta, threshold)   Softplus(beta x) / beta        then Where(beta x > threshold, x, .)
GELU                        Gelu (opset >= 20, float32); otherwise 0.5 x (1 + Erf(x / sqrt 2)),
                            and the tanh form from Mul, Pow, Tanh, Add
SiLU, Mish                  x * Sigmoid(x), x * Tanh(Softplus(x))
```

That is the float32 graph. ONNX Runtime has no float64 kernels for Elu,
Selu, Softplus and Erf (nor, through Erf, the exact Gelu), its float64
tanh-form Gelu is accurate to about 1e-10 only, and operator attributes
(LeakyRelu's slope) are float32 numbers. A float64 network therefore gets
those functions written out in elementary operators, accurate to a few ulps:
LeakyReLU and ELU as Where(x > 0, x, .), expm1 as 2t / (1 - t) with
t = tanh(x / 2), log1p by Goldberg's formula log(1 + u) u / ((1 + u) - 1),
and erf from its Taylor series for |x| < 1 and from a Chebyshev expansion of
exp(x^2) erfc(x) in 1/x for 1 <= |x| < 6 (erf is 1 in float64 beyond). Both
forms are valid ONNX for any runtime.

A classifier (``net.loss_`` set by ``fit``) gets extra outputs after
``"output"``: ``"probabilities"`` (Softmax for ``cross_entropy``, Sigmoid for
``binary_cross_entropy``, equal to ``net.predict_proba``) and ``"label"``
(int64, equal to ``net.predict``: ArgMax, or ``output > 0`` for binary
outputs). A ``hinge`` classifier has no probabilities and gets ``"label"``
only. A classifier with stored class names (``net.preprocessing_["classes"]``,
as ``chainrule train`` stores them) also gets ``"class_name"`` last: a string
tensor, the name of each row's class as ``chainrule predict`` prints it
(numbers as text, 3.0 as "3"). A regression network whose target was standardised in training
(``net.preprocessing_`` has ``target_mean`` and ``target_scale``, as the
command line stores them) gets ``"value"`` = output * target_scale +
target_mean, in the target's own units (shape ``(batch,)`` for one output).
The whole ``net.preprocessing_`` (column names and categories included) is
stored as JSON in the model's metadata under ``"preprocessing"``.

A graph network (``cr.Network``) has one input per ``cr.Input``, named after it,
and its outputs first, in ``outputs`` order; then, output by output, the same
added outputs (``"<output>_probabilities"``, ``"<output>_label"``,
``"<output>_value"`` when it has several outputs). Its stored scaling is built
in where it is clear which input or output it belongs to
(``chainrule.answers.graph_scalings``); ``preprocessing=False`` leaves it out.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..activations import (
    ELU,
    GELU,
    SELU,
    Activation,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
)
from ..embedding import Embedding
from ..layers import BatchNorm, Dense, Dropout
from ..merge import Add, Concatenate, Multiply
from ..network import Network, Sequential
from ..serialization import architecture
from ..tasks import PROBABILITY_LOSSES, output_losses, output_task

if TYPE_CHECKING:  # pragma: no cover
    import onnx

MIN_OPSET = 17

# erf(x) = x * sum_n TAYLOR[n] x^(2n) for |x| < 1, TAYLOR[n] = 2/sqrt(pi) (-1)^n / (n! (2n + 1)),
# correctly rounded (computed with mpmath at 60 digits); the 19th term is below 2^-56 at |x| = 1.
_ERF_TAYLOR = (
    1.1283791670955126,
    -0.37612638903183754,
    0.11283791670955126,
    -0.026866170645131252,
    0.005223977625442188,
    -0.0008548327023450853,
    0.00012055332981789664,
    -1.492565035840625e-05,
    1.6462114365889248e-06,
    -1.6365844691234924e-07,
    1.4807192815879218e-08,
    -1.2290555301717928e-09,
    9.422759064650411e-11,
    -6.7113668551641105e-12,
    4.4632242632864775e-13,
    -2.7835162072109215e-14,
    1.6342614095367152e-15,
    -9.063970842808673e-17,
    4.763348040515068e-18,
)
# exp(a^2) erfc(a) for 1 <= a <= 6 as sum_k _ERFCX_CHEB[k] T_k(s), s = (2/a - 7/6) / (5/6) in
# [-1, 1]: Chebyshev interpolation of degree 22 in t = 1/a on [1/6, 1] (mpmath, 60 digits).
# With erf(a) = 1 - exp(-a^2) erfcx(a), the error in erf is below 2.3e-16 on [1, 6]; erf(a) is 1
# in float64 for a >= 6 (erfc(6) = 2e-17).
_ERFCX_CHEB = (
    0.27477468589795284,
    0.16699329119310397,
    -0.014778434908201299,
    0.0004607660043734876,
    0.0001765796783540858,
    -5.026984064246909e-05,
    7.4270133556075315e-06,
    -3.5188112192476504e-07,
    -1.715011288591872e-07,
    6.706623053010447e-08,
    -1.4316589264944173e-08,
    1.759556790853755e-09,
    7.452123864184311e-11,
    -1.1543784238948255e-10,
    3.8873494198360145e-11,
    -8.504873135952586e-12,
    1.1272313701780355e-12,
    4.3281651143402006e-14,
    -8.42206164159259e-14,
    3.200411713289397e-14,
    -8.149482483590788e-15,
    1.4378321601868732e-15,
    -1.1837208911494742e-16,
)
_ERF_SPLIT, _ERF_ONE = 1.0, 6.0  # Taylor below, Chebyshev up to, erf = +-1 beyond

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

_EXPORTABLE = (
    "Identity, Step, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softplus, GELU, SiLU, Mish, Softmax"
)


def _require_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'chainrule.export.to_onnx needs the onnx package: pip install "chainrule[onnx]" '
            "(or pip install onnx onnxruntime)"
        ) from exc
    return onnx


class _Graph:
    """Nodes and constants of one ONNX graph, with unique, readable tensor names."""

    def __init__(self, onnx, dtype: np.dtype, opset: int) -> None:
        self.onnx = onnx
        self.dtype = np.dtype(dtype)
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = {
            "input",
            "output",
            "probabilities",
            "label",
            "class_name",
            "value",
        }
        self._scalars: dict[tuple, str] = {}
        self._arrays: dict[int, tuple[np.ndarray, str]] = {}

    def name(self, hint: str) -> str:
        name, k = hint, 1
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def const(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``value`` (an array, or a scalar shared by all users)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        if array.ndim == 0:
            key = (array.dtype.str, array.tobytes())
            if key not in self._scalars:
                self._scalars[key] = self._add_const(array, f"c_{array.item():.17g}")
            return self._scalars[key]
        if array is value:  # a layer's own array (a shared layer's, used twice): one initializer
            if id(value) not in self._arrays:
                self._arrays[id(value)] = (value, self._add_const(array, hint))
            return self._arrays[id(value)][1]
        return self._add_const(array, hint)

    def _add_const(self, array: np.ndarray, hint: str) -> str:
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        out = self.name(hint)
        node = self.onnx.helper.make_node(
            op_type, inputs, [out], name=self.name(f"{hint}/{op_type}"), **attrs
        )
        self.nodes.append(node)
        return out

    def rename_output(self, current: str, new: str) -> None:
        """Make the tensor ``current`` (the last one produced) be called ``new``."""
        producer = next((n for n in reversed(self.nodes) if current in n.output), None)
        if producer is None:  # the input itself, e.g. a network of Dropout only
            self.nodes.append(self.onnx.helper.make_node("Identity", [current], [new], name=new))
            return
        for i, out in enumerate(producer.output):
            if out == current:
                producer.output[i] = new

    # -- shorthands --------------------------------------------------------------
    def mul(self, a: str, b: str, hint: str) -> str:
        return self.op("Mul", [a, b], hint)

    def add(self, a: str, b: str, hint: str) -> str:
        return self.op("Add", [a, b], hint)

    def sub(self, a: str, b: str, hint: str) -> str:
        return self.op("Sub", [a, b], hint)

    def div(self, a: str, b: str, hint: str) -> str:
        return self.op("Div", [a, b], hint)

    def where(self, cond: str, a: str, b: str, hint: str) -> str:
        return self.op("Where", [cond, a, b], hint)

    @property
    def double(self) -> bool:
        return self.dtype == np.float64


# -- float64 functions ORT has no kernel for, from elementary operations ----------------------
def _expm1_nonpositive(g: _Graph, m: str, hint: str) -> str:
    """expm1(m) for m <= 0 as 2t / (1 - t), t = tanh(m / 2): a few ulps, no cancellation."""
    t = g.op("Tanh", [g.mul(m, g.const(0.5), f"{hint}/half")], f"{hint}/t")
    return g.div(g.add(t, t, f"{hint}/2t"), g.sub(g.const(1.0), t, f"{hint}/1-t"), hint)


def _log1p_unit(g: _Graph, u: str, hint: str) -> str:
    """log1p(u) for u in [0, 1] by Goldberg's formula: log(w) * u / (w - 1), w = 1 + u."""
    one = g.const(1.0)
    w = g.add(u, one, f"{hint}/w")
    ratio = g.div(u, g.sub(w, one, f"{hint}/w-1"), f"{hint}/ratio")
    exact = g.mul(g.op("Log", [w], f"{hint}/log"), ratio, f"{hint}/goldberg")
    return g.where(g.op("Equal", [w, one], f"{hint}/tiny"), u, exact, hint)


def _softplus(g: _Graph, z: str, hint: str) -> str:
    """log(1 + e^z): the Softplus operator, or max(z, 0) + log1p(e^-|z|) in float64."""
    if not g.double:
        return g.op("Softplus", [z], hint)
    e = g.op("Exp", [g.op("Neg", [g.op("Abs", [z], f"{hint}/abs")], f"{hint}/-abs")], f"{hint}/e")
    pos = g.op("Max", [z, g.const(0.0)], f"{hint}/relu")
    return g.add(pos, _log1p_unit(g, e, f"{hint}/log1p"), hint)


def _elu_core(g: _Graph, x: str, alpha: float, hint: str) -> str:
    """x if x > 0 else alpha * expm1(x), in elementary operations (float64)."""
    m = g.op("Min", [x, g.const(0.0)], f"{hint}/neg_part")
    e = _expm1_nonpositive(g, m, f"{hint}/expm1")
    positive = g.op("Greater", [x, g.const(0.0)], f"{hint}/positive")
    return g.where(positive, x, g.mul(e, g.const(alpha), f"{hint}/alpha"), hint)


def _clenshaw(g: _Graph, coeffs, s: str, hint: str) -> str:
    """sum_k coeffs[k] T_k(s) by Clenshaw's recurrence."""
    s2 = g.add(s, s, f"{hint}/2s")
    b1, b2 = g.const(coeffs[-1]), None
    for k in range(len(coeffs) - 2, 0, -1):
        t = g.mul(s2, b1, f"{hint}/b{k}")
        if b2 is not None:
            t = g.sub(t, b2, f"{hint}/b{k}")
        b1, b2 = g.add(t, g.const(coeffs[k]), f"{hint}/b{k}"), b1
    return g.add(g.sub(g.mul(s, b1, f"{hint}/sb1"), b2, f"{hint}/sb1-b2"), g.const(coeffs[0]), hint)


def _erf(g: _Graph, x: str, hint: str) -> str:
    """erf: the Erf operator, or (float64) a Taylor series and a Chebyshev expansion."""
    if not g.double:
        return g.op("Erf", [x], hint)
    a = g.op("Abs", [x], f"{hint}/abs")
    # |x| < 1: x * P(x^2), on x clipped to [-1, 1] so the unused branch stays finite
    lo, hi = g.const(-_ERF_SPLIT), g.const(_ERF_SPLIT)
    xs = g.op("Min", [g.op("Max", [x, lo], f"{hint}/clip"), hi], f"{hint}/clip")
    u = g.mul(xs, xs, f"{hint}/x2")
    p = g.const(_ERF_TAYLOR[-1])
    for k in range(len(_ERF_TAYLOR) - 2, -1, -1):
        p = g.add(g.mul(p, u, f"{hint}/taylor{k}"), g.const(_ERF_TAYLOR[k]), f"{hint}/taylor{k}")
    small = g.mul(xs, p, f"{hint}/small")
    # 1 <= |x|: 1 - exp(-a^2) erfcx(a), a clipped to [1, 6], with the sign of x
    ac = g.op(
        "Min",
        [g.op("Max", [a, hi], f"{hint}/a_clip"), g.const(_ERF_ONE)],
        f"{hint}/a_clip",
    )
    t = g.div(g.const(1.0), ac, f"{hint}/t")
    t_lo, t_hi = 1.0 / _ERF_ONE, 1.0 / _ERF_SPLIT
    s = g.sub(
        g.mul(t, g.const(2.0 / (t_hi - t_lo)), f"{hint}/s"),
        g.const((t_hi + t_lo) / (t_hi - t_lo)),
        f"{hint}/s",
    )
    erfcx = _clenshaw(g, _ERFCX_CHEB, s, f"{hint}/erfcx")
    gauss = g.op("Exp", [g.op("Neg", [g.mul(ac, ac, f"{hint}/a2")], f"{hint}/-a2")], f"{hint}/exp")
    big = g.sub(g.const(1.0), g.mul(gauss, erfcx, f"{hint}/erfc"), f"{hint}/big")
    negative = g.op("Less", [x, g.const(0.0)], f"{hint}/negative")
    big = g.where(negative, g.op("Neg", [big], f"{hint}/-big"), big, f"{hint}/signed")
    return g.where(g.op("Less", [a, hi], f"{hint}/is_small"), small, big, hint)


# -- activations -------------------------------------------------------------------------
def _activation(g: _Graph, act: Activation, x: str, hint: str, where: str) -> str:
    kind = type(act)
    if kind is Identity:
        return x
    if kind is Step:
        positive = g.op("GreaterOrEqual", [x, g.const(0.0)], f"{hint}/ge0")
        return g.op("Cast", [positive], hint, to=g.elem)
    if kind is Sigmoid:
        return g.op("Sigmoid", [x], hint)
    if kind is Tanh:
        return g.op("Tanh", [x], hint)
    if kind is ReLU:
        return g.op("Relu", [x], hint)
    if kind is LeakyReLU:
        if not g.double:
            return g.op("LeakyRelu", [x], hint, alpha=act.negative_slope)
        # attributes are float32: the float64 slope must be a constant tensor
        positive = g.op("Greater", [x, g.const(0.0)], f"{hint}/positive")
        return g.where(positive, x, g.mul(x, g.const(act.negative_slope), f"{hint}/neg"), hint)
    if kind is ELU:
        if not g.double:
            return g.op("Elu", [x], hint, alpha=act.alpha)
        return _elu_core(g, x, act.alpha, hint)
    if kind is SELU:
        if not g.double:
            return g.op("Selu", [x], hint, alpha=SELU.alpha, gamma=SELU.scale)
        core = _elu_core(g, x, SELU.alpha, f"{hint}/elu")
        return g.mul(core, g.const(SELU.scale), hint)
    if kind is Softplus:
        beta = act.beta
        bz = x if beta == 1.0 else g.mul(x, g.const(beta), f"{hint}/beta_x")
        out = _softplus(g, bz, f"{hint}/softplus")
        if beta != 1.0:
            out = g.div(out, g.const(beta), f"{hint}/scaled")
        if act.threshold is None:
            return out
        linear = g.op("Greater", [bz, g.const(act.threshold)], f"{hint}/linear")
        return g.where(linear, x, out, hint)
    if kind is GELU:
        if g.opset >= 20 and not g.double:  # ORT's float64 Gelu is float32-accurate only
            return g.op("Gelu", [x], hint, approximate=act.approximate)
        if act.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            cube = g.op("Pow", [x, g.const(3.0)], f"{hint}/x3")
            inner = g.add(x, g.mul(cube, g.const(0.044715), f"{hint}/cx3"), f"{hint}/inner")
            u = g.mul(inner, g.const(_SQRT_2_OVER_PI), f"{hint}/u")
            one_plus = g.add(g.op("Tanh", [u], f"{hint}/tanh"), g.const(1.0), f"{hint}/1+tanh")
        else:  # 0.5 x (1 + erf(x / sqrt 2))
            e = _erf(g, g.div(x, g.const(_SQRT_2), f"{hint}/x_sqrt2"), f"{hint}/erf")
            one_plus = g.add(e, g.const(1.0), f"{hint}/1+erf")
        return g.mul(g.mul(x, g.const(0.5), f"{hint}/half_x"), one_plus, hint)
    if kind is SiLU:
        return g.mul(x, g.op("Sigmoid", [x], f"{hint}/sigmoid"), hint)
    if kind is Mish:
        sp = _softplus(g, x, f"{hint}/softplus")
        return g.mul(x, g.op("Tanh", [sp], f"{hint}/tanh"), hint)
    if kind is Softmax:
        return g.op("Softmax", [x], hint, axis=-1)
    raise ValueError(
        f"{where}: {act!r} is a custom activation with no ONNX equivalent (chainrule cannot "
        f"translate Python code into ONNX operators); exportable activations are {_EXPORTABLE}"
    )


# -- preprocessing and heads ------------------------------------------------------------------
def _preprocessing(net: Sequential) -> tuple[np.ndarray, np.ndarray] | None:
    """Full-width (mean, scale) from ``net.preprocessing_``, or None."""
    from ..answers import standardisation

    return standardisation(net)


def _class_names(net: Sequential, n_out: int | None) -> list[bytes] | None:
    """The stored class names (UTF-8), one per label value, or None when none are stored."""
    spec = getattr(net, "preprocessing_", None)
    classes = spec.get("classes") if isinstance(spec, dict) else None
    if not isinstance(classes, list) or not classes:
        return None
    if len(classes) != max(n_out or 1, 2):
        return None
    from ..preprocessing import _label_key

    return [_label_key(c).encode("utf-8") for c in classes]


def _target_scaling(net: Sequential) -> tuple[float, float] | None:
    """``(target_mean, target_scale)`` of a regression target standardised in training, or None."""
    if _task(net) is not None:
        return None
    from ..answers import target_scaling

    return target_scaling(net)


def _json_props(spec) -> str:
    def plain(value):
        if isinstance(value, (np.ndarray, np.generic)):
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON data")

    return json.dumps(spec, default=plain)


def _task(net: Sequential) -> str | None:
    """What ``net.predict`` answers: "multiclass", "binary", or None for values."""
    task = output_task(net.loss_ if isinstance(net.loss_, str) else None, net.n_outputs)
    return None if task == "regression" else task


#: The names of a one-output network's added outputs (a graph's are prefixed by the output's name).
_HEAD_NAMES = {"probabilities": "probabilities", "label": "label", "class_name": "class_name"}


def _classifier_outputs(
    g: _Graph, source: str, loss: str | None, task: str, width, names: dict, class_names=None
) -> list:
    """Add the classifier outputs computed from the tensor ``source``; return their value infos.

    ``names["probabilities"]``: Softmax (``cross_entropy``) or Sigmoid
    (``binary_cross_entropy``) of ``source``, as ``predict_proba``; none for
    ``hinge``. ``names["label"]``: int64, as ``predict``: ArgMax for
    ``task == "multiclass"``, else ``source > 0`` (a column for one output).
    ``names["class_name"]``: the stored class name of each row's label, when
    ``class_names`` is given and the label is one column.
    """
    onnx, helper = g.onnx, g.onnx.helper
    tensor, batch = helper.make_tensor_value_info, "batch"
    cols = width if width is not None else "outputs"
    infos = []
    prob, label = names["probabilities"], names["label"]
    if loss == "cross_entropy":
        g.nodes.append(helper.make_node("Softmax", [source], [prob], name=prob, axis=-1))
    elif loss == "binary_cross_entropy":
        g.nodes.append(helper.make_node("Sigmoid", [source], [prob], name=prob))
    if loss in PROBABILITY_LOSSES:
        infos.append(tensor(prob, g.elem, [batch, cols]))
    if task == "multiclass":
        g.nodes.append(
            helper.make_node("ArgMax", [source], [label], name=label, axis=1, keepdims=0)
        )
        label_shape = [batch]
    else:
        positive = g.op("Greater", [source, g.const(0.0)], f"{label}/positive")
        if width == 1:
            flags = g.op("Cast", [positive], f"{label}/int", to=onnx.TensorProto.INT64)
            axes = g.const([1], f"{label}.axes", dtype=np.int64)
            g.nodes.append(helper.make_node("Squeeze", [flags, axes], [label], name=label))
            label_shape = [batch]
        else:
            g.nodes.append(
                helper.make_node("Cast", [positive], [label], name=label, to=onnx.TensorProto.INT64)
            )
            label_shape = [batch, cols]
    infos.append(tensor(label, onnx.TensorProto.INT64, label_shape))
    if class_names is not None and len(label_shape) == 1:  # as `chainrule predict` prints them
        name = names["class_name"]
        table = g.name(f"{name}s")
        g.initializers.append(
            helper.make_tensor(table, onnx.TensorProto.STRING, [len(class_names)], class_names)
        )
        g.nodes.append(helper.make_node("Gather", [table, label], [name], name=name))
        infos.append(tensor(name, onnx.TensorProto.STRING, [batch]))
    return infos


def _layer(g: _Graph, layer, x: str, key: str, where: str) -> str:
    """The ONNX nodes of one single-input layer applied to ``x``; its constants named ``key.*``."""
    hint = f"{key}.{layer.name}"
    kind = type(layer)
    if kind is Dense:
        w = g.const(layer.weight.value, f"{key}.weight")
        b = g.const(layer.bias.value, f"{key}.bias")
        x = g.op("Gemm", [x, w, b], hint)
        if layer.activation is not None:
            act = layer.activation
            x = _activation(g, act, x, f"{hint}.{act.name}", where)
        return x
    if kind is Dropout:
        return x  # identity at inference
    if kind is BatchNorm:
        inv_std = 1.0 / np.sqrt(layer.running_var + layer.eps)  # as chainrule's eval forward
        x = g.sub(x, g.const(layer.running_mean, f"{key}.running_mean"), f"{hint}/centred")
        x = g.mul(x, g.const(inv_std, f"{key}.inv_std"), f"{hint}/normalised")
        x = g.mul(x, g.const(layer.weight.value, f"{key}.weight"), f"{hint}/scaled")
        return g.add(x, g.const(layer.bias.value, f"{key}.bias"), hint)
    return _activation(g, layer, x, hint, where)


def _check_layers(net: Sequential) -> None:
    """Fail before building anything if a layer cannot be exported."""
    for i, layer in enumerate(net.layers):
        if type(layer) not in (Dense, Dropout, BatchNorm) and not isinstance(layer, Activation):
            raise ValueError(
                f"layer {i} ({layer!r}) has no ONNX equivalent: only chainrule's built-in layers "
                "(Dense, Dropout, BatchNorm and the built-in activations) can be exported"
            )


def to_onnx_model(
    net: Sequential,
    opset: int = MIN_OPSET,
    include_probabilities: bool | None = None,
    preprocessing: bool = True,
) -> onnx.ModelProto:
    """Build (and check) the ONNX model of ``net`` in memory, without writing a file.

    The same graph as ``to_onnx`` writes (inputs, outputs, preprocessing and
    metadata are described there), for callers that serialise or inspect it
    themselves.

    Parameters
    ----------
    net : chainrule.Sequential
        ``Dense``, ``Dropout``, ``BatchNorm`` and built-in activation layers,
        float32 or float64.
    opset : int, default 17
        ONNX operator set, from 17 to the installed onnx package's newest.
    include_probabilities : bool or None, default None
        As in ``to_onnx``.
    preprocessing : bool, default True
        As in ``to_onnx``.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker.check_model(full_check=True)``.

    Raises
    ------
    TypeError
        If ``net`` is not a ``Sequential``, ``opset`` is not an integer, or
        ``include_probabilities`` is not None, True or False.
    ValueError
        For a layer with no ONNX equivalent, an ``opset`` out of range,
        ``include_probabilities=True`` on a network that is not a
        classifier, or a bad ``net.preprocessing_``.
    ImportError
        If the onnx package is not installed.
    """
    onnx = _require_onnx()
    helper = onnx.helper
    if not isinstance(net, Network):
        raise TypeError(
            f"to_onnx takes a chainrule Sequential or Network, not {type(net).__name__}"
        )
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    if not MIN_OPSET <= opset <= latest:
        raise ValueError(
            f"opset must be between {MIN_OPSET} and {latest} (this onnx package's newest), "
            f"got {opset}"
        )
    opset = int(opset)
    if include_probabilities not in (None, True, False):
        raise TypeError(
            f"include_probabilities must be None, True or False, got {include_probabilities!r}"
        )
    if not isinstance(net, Sequential):
        return graph_onnx_model(net, opset, include_probabilities, preprocessing)
    task = _task(net)
    if include_probabilities and task is None:
        raise ValueError(
            "include_probabilities=True needs a classifier (a network fitted with "
            f"'cross_entropy' or 'binary_cross_entropy'); net.loss_ is {net.loss_!r}"
        )
    heads = task is not None and include_probabilities is not False
    _check_layers(net)

    g = _Graph(onnx, net.dtype, opset)
    x = "input"
    pre = _preprocessing(net) if preprocessing else None
    if pre is not None:
        mean, scale = pre
        x = g.sub(x, g.const(mean, "preprocessing.mean"), "preprocessing/centred")
        x = g.div(x, g.const(scale, "preprocessing.scale"), "preprocessing/standardised")
    for i, layer in enumerate(net.layers):
        x = _layer(g, layer, x, str(i), f"layer {i} ({layer!r})")
    g.rename_output(x, "output")

    n_in, n_out = net.n_features_in, net.n_outputs
    batch = "batch"
    tensor = helper.make_tensor_value_info
    outputs = [tensor("output", g.elem, [batch, n_out if n_out is not None else "outputs"])]
    if heads:
        outputs += _classifier_outputs(
            g, "output", net.loss_, task, n_out, _HEAD_NAMES, _class_names(net, n_out)
        )
    target = _target_scaling(net) if preprocessing else None
    if target is not None:  # a regression target standardised in training: back to its units
        outputs.append(_value_output(g, "output", target, n_out, "value"))

    from .._version import __version__

    doc = f"chainrule {__version__} network: output = net(X) in eval mode"
    if pre is not None:
        doc += "; the input is standardised first, (x - mean) / scale"
    graph = helper.make_graph(
        g.nodes,
        "chainrule",
        [tensor("input", g.elem, [batch, n_in if n_in is not None else "features"])],
        outputs,
        initializer=g.initializers,
        doc_string=doc,
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="chainrule",
        producer_version=__version__,
        doc_string=doc,
    )
    model.ir_version = helper.find_min_ir_version_for(opsets)
    props = {
        "chainrule_version": __version__,
        "loss": str(net.loss_),
        "preprocessing": _json_props(getattr(net, "preprocessing_", None)),
        "dtype": str(net.dtype),
    }
    try:
        props["architecture"] = json.dumps(architecture(net))
    except ValueError:  # pragma: no cover - exportable layers are all serialisable
        pass
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def to_onnx(
    net: Sequential,
    path: str | os.PathLike,
    opset: int = MIN_OPSET,
    include_probabilities: bool | None = None,
    preprocessing: bool = True,
) -> Path:
    """Write ``net`` as an ONNX model that computes ``net(X)`` in eval mode.

    Parameters
    ----------
    net : chainrule.Sequential
        ``Dense``, ``Dropout``, ``BatchNorm`` and built-in activation layers
        (``Step`` included), float32 or float64.
    path : str or os.PathLike
        Where to write the ``.onnx`` file. It is written under a temporary
        name in the same folder and renamed into place, so a crash never
        leaves a half-written model.
    opset : int, default 17
        ONNX operator set, at least 17 (and at most the installed onnx
        package's newest). From 20 on, float32 GELU uses the ``Gelu`` operator.
    include_probabilities : bool or None, default None
        None: add the classifier outputs ``"probabilities"`` and
        ``"label"`` after ``"output"`` when the network was fitted with
        ``cross_entropy`` or ``binary_cross_entropy`` (``"label"`` only for
        ``hinge``). False: ``"output"`` only. True: require them (an error
        for a network that is not a classifier). A graph network gets them
        for each classifier output, after all of its own outputs: named as
        above for one output, ``"<output>_probabilities"`` and
        ``"<output>_label"`` for several.
    preprocessing : bool, default True
        Build the stored preprocessing (``net.preprocessing_``, see Notes)
        into the model; False gives ``net(X)`` only, on prepared inputs.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``net`` is not a ``Sequential``, ``opset`` is not an integer, or
        ``include_probabilities`` is not None, True or False.
    ValueError
        For a layer with no ONNX equivalent (a custom activation or layer
        class; the message names its index), an ``opset`` out of range,
        ``include_probabilities=True`` on a network that is not a
        classifier, or a bad ``net.preprocessing_``.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    ImportError
        If the onnx package is not installed.

    Notes
    -----
    Input ``"input"``: shape ``(batch, n_features)`` (the batch dimension is
    dynamic) in the network's dtype. Outputs: ``"output"`` = ``net(X)``; for
    a classifier ``"probabilities"`` (= ``net.predict_proba(X)``) and
    ``"label"`` (int64, = ``net.predict(X)``); for a regression network with
    a standardised target (``target_mean``/``target_scale`` in
    ``net.preprocessing_``), ``"value"`` in the target's units.

    Preprocessing: if ``net.preprocessing_`` is a dict with ``"mean"`` and/or
    ``"scale"`` (one value per input column, or per column listed in an
    optional ``"indices"``), the graph first computes ``(x - mean) / scale``
    in the network's dtype, so it takes raw (already one-hot encoded)
    features, while ``net(X)`` itself expects standardised ones.

    The model is checked with ``onnx.checker.check_model(full_check=True)``
    before it is written. float64 networks use elementary operators where
    ONNX Runtime lacks a float64 kernel (see the module documentation).

    Examples
    --------
    >>> cr.export.to_onnx(net, "model.onnx")                                    # doctest: +SKIP
    >>> import onnxruntime as ort                                               # doctest: +SKIP
    >>> sess = ort.InferenceSession("model.onnx")                               # doctest: +SKIP
    >>> logits, proba, label = sess.run(None, {"input": X.astype(np.float32)})  # doctest: +SKIP
    """
    from ..atomic import write_atomic

    model = to_onnx_model(
        net, opset=opset, include_probabilities=include_probabilities, preprocessing=preprocessing
    )
    return write_atomic(Path(path), model.SerializeToString())


# -- graph networks -----------------------------------------------------------------------------
def _value_output(g: _Graph, source: str, target: tuple[float, float], width, name: str):
    """``name`` = ``source * target_scale + target_mean`` (a column for one output); its info."""
    helper = g.onnx.helper
    t_mean, t_scale = target
    value = g.add(
        g.mul(source, g.const(t_scale), f"{name}/scaled"), g.const(t_mean), f"{name}/shifted"
    )
    if width == 1:
        axes = g.const([1], f"{name}.axes", dtype=np.int64)
        g.nodes.append(helper.make_node("Squeeze", [value, axes], [name], name=name))
        return helper.make_tensor_value_info(name, g.elem, ["batch"])
    g.rename_output(value, name)
    cols = width if width is not None else "outputs"
    return helper.make_tensor_value_info(name, g.elem, ["batch", cols])


def _graph_heads(net: Network, out_names: list[str], include_probabilities) -> list:
    """``(output, loss, task, names)`` for each output whose loss makes it a classifier.

    A one-output graph's added outputs are named as a ``Sequential``'s
    (``"probabilities"``, ``"label"``, ``"class_name"``); with several outputs,
    after the output: ``"<output>_probabilities"``, ``"<output>_label"``.
    """
    if include_probabilities is False:
        return []
    losses = output_losses(net)
    heads = []
    for name, node, loss in zip(out_names, net.outputs, losses):
        task = output_task(loss or None, node.n_features)
        if task == "regression":
            continue
        if len(out_names) == 1:
            names = dict(_HEAD_NAMES)
        else:
            names = {key: f"{name}_{key}" for key in _HEAD_NAMES}
        heads.append((name, loss, task, names))
    if include_probabilities and not heads:
        raise ValueError(
            "include_probabilities=True needs a classifier output (one fitted with "
            f"'cross_entropy', 'binary_cross_entropy' or 'hinge'); net.loss_ is {net.loss_!r}"
        )
    return heads


def graph_onnx_model(
    net: Network, opset: int, include_probabilities: bool | None, preprocessing: bool = True
):
    """The ONNX model of a graph network (called by ``to_onnx_model``, which checks ``opset``).

    One graph input per ``cr.Input``, named after it: shape ``(batch, width)`` in the
    network's dtype, or int64 ``(batch, 1)`` for an input read only by ``Embedding``
    layers (its codes). Outputs: ``net(...)``'s, in ``net.outputs`` order, named
    ``"output"`` for a one-output network and after the output nodes otherwise;
    then, for each output fitted with a classification loss, its probabilities
    and labels (``_classifier_outputs``), named as a ``Sequential``'s for one output
    and ``"<output>_probabilities"``, ``"<output>_label"`` for several.
    Merges become ``Add``, ``Mul`` and ``Concat``; an ``Embedding`` a ``Gather``
    of its table; a shared layer's weights are stored once.

    Parameters
    ----------
    net : Network
        The graph network to export.
    opset : int
        The ONNX opset, already checked by ``to_onnx_model``.
    include_probabilities : bool or None
        As for ``to_onnx_model``: add probability and label outputs after the network's.
    preprocessing : bool, default True
        Standardise each input as stored (``(x - mean) / scale`` before the graph) and add
        a ``"value"`` (one output) or ``"<output>_value"`` output, in the target's units,
        for each output whose target was standardised (``chainrule.answers.graph_scalings``).
    """
    from ..answers import graph_scalings

    onnx = _require_onnx()
    helper = onnx.helper
    n_in, n_out = len(net.inputs), len(net.outputs)
    ins, targets = (
        graph_scalings(net, "to_onnx") if preprocessing else ([None] * n_in, [None] * n_out)
    )
    g = _Graph(onnx, net.dtype, opset)
    single = not isinstance(net.n_outputs, list)
    out_names = ["output"] if single else [o.name for o in net.outputs]
    if len(set(out_names)) != len(out_names):
        raise ValueError(f"the network's outputs must be distinct nodes, got {out_names}")
    heads = {h[0]: h for h in _graph_heads(net, out_names, include_probabilities)}
    value_names = ["value" if single else f"{name}_value" for name in out_names]
    added = [name for *_, names in heads.values() for name in names.values()]
    added += [v for v, t in zip(value_names, targets) if t is not None]
    clash = sorted(set(added) & set(out_names + [x.name for x in net.inputs]))
    if clash:
        raise ValueError(
            f"to_onnx names an added classifier output {clash[0]!r}, which is already the name "
            "of an input or output of the network; rename that node, or pass "
            "include_probabilities=False"
        )
    g._used.update(added)
    in_names = [x.name for x in net.inputs]
    g._used.update(in_names + out_names)
    readers: dict[int, list] = {}
    for node in net.nodes:
        for parent in node.inputs:
            readers.setdefault(id(parent), []).append(node.layer)
    keys = {id(layer): str(i) for i, layer in enumerate(net.layers)}  # constants named by layer
    batch = "batch"
    tensor = helper.make_tensor_value_info
    inputs, values = [], {}
    for x in net.inputs:
        codes = all(isinstance(layer, Embedding) for layer in readers.get(id(x), []))
        width = x.n_features if x.n_features is not None else "features"
        elem = onnx.TensorProto.INT64 if codes else g.elem
        inputs.append(tensor(x.name, elem, [batch, 1 if codes else width]))
        values[id(x)] = x.name
    for x, scaling in zip(net.inputs, ins):
        if scaling is not None:  # the stored standardisation, first: (x - mean) / scale
            centred = g.sub(x.name, g.const(scaling[0], f"{x.name}.mean"), f"{x.name}/centred")
            values[id(x)] = g.div(
                centred, g.const(scaling[1], f"{x.name}.scale"), f"{x.name}/standardised"
            )
    flat = None
    for node in net.nodes[len(net.inputs) :]:
        layer, key = node.layer, keys[id(node.layer)]
        args = [values[id(p)] for p in node.inputs]
        hint, where = f"{node.name}", f"node {node.name!r} ({layer!r})"
        kind = type(layer)
        if kind is Add or kind is Multiply:
            op = "Add" if kind is Add else "Mul"
            out = args[0]
            for k, arg in enumerate(args[1:]):
                out = g.op(op, [out, arg], hint if k == len(args) - 2 else f"{hint}/{k}")
        elif kind is Concatenate:
            out = g.op("Concat", args, hint, axis=1)
        elif kind is Embedding:
            if flat is None:
                flat = g.const([-1], "codes.shape", dtype=np.int64)
            codes = g.op("Reshape", [args[0], flat], f"{hint}/codes")
            out = g.op(
                "Gather", [g.const(layer.weight.value, f"{key}.weight"), codes], hint, axis=0
            )
        elif kind in (Dense, Dropout, BatchNorm) or isinstance(layer, Activation):
            out = _layer(g, layer, args[0], key, where)
        else:
            raise ValueError(
                f"{where} has no ONNX equivalent: graph networks export Dense, Dropout, BatchNorm, "
                "Embedding, Add, Multiply, Concatenate and the built-in activations"
            )
        values[id(node)] = out
    outputs = []
    for name, node in zip(out_names, net.outputs):
        g.nodes.append(helper.make_node("Identity", [values[id(node)]], [name], name=name))
        width = node.n_features if node.n_features is not None else "outputs"
        outputs.append(tensor(name, g.elem, [batch, width]))
    classes = _class_names(net, net.n_outputs) if single else None
    for name, node, value, target in zip(out_names, net.outputs, value_names, targets):
        if name in heads:  # after all of the network's own outputs, in their order
            _, loss, task, names = heads[name]
            outputs += _classifier_outputs(g, name, loss, task, node.n_features, names, classes)
        elif target is not None:
            outputs.append(_value_output(g, name, target, node.n_features, value))

    from .._version import __version__

    doc = f"chainrule {__version__} graph network: outputs = net(...) in eval mode"
    graph = helper.make_graph(
        g.nodes, "chainrule", inputs, outputs, initializer=g.initializers, doc_string=doc
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph, opset_imports=opsets, producer_name="chainrule", producer_version=__version__,
        doc_string=doc,
    )  # fmt: skip
    model.ir_version = helper.find_min_ir_version_for(opsets)
    props = {"chainrule_version": __version__, "loss": json.dumps(net.loss_)}
    props["preprocessing"] = _json_props(getattr(net, "preprocessing_", None))
    props["dtype"] = str(net.dtype)
    try:
        props["architecture"] = json.dumps(architecture(net))
    except (ValueError, TypeError):  # pragma: no cover - exportable layers are all serialisable
        pass
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


__all__ = ["MIN_OPSET", "graph_onnx_model", "to_onnx", "to_onnx_model"]

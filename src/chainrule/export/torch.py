"""chainrule <-> PyTorch: the same network as a ``torch.nn.Sequential``, and back.

The mapping, layer by layer:

```text
chainrule                         torch
Dense(in, out)                    nn.Linear(in, out), weight = W.T (torch stores (out, in))
Dense(..., activation=f)          nn.Linear, then f's module (a separate module)
Identity, Sigmoid, Tanh, ReLU     nn.Identity, nn.Sigmoid, nn.Tanh, nn.ReLU
LeakyReLU(s), ELU(a), SELU        nn.LeakyReLU(s), nn.ELU(a), nn.SELU
Softplus(beta, threshold)         nn.Softplus(beta, threshold)
GELU(approximate)                 nn.GELU(approximate)
SiLU, Mish, Softmax               nn.SiLU, nn.Mish, nn.Softmax(dim=-1)
Dropout(p)                        nn.Dropout(p)
BatchNorm(n, momentum, eps)       nn.BatchNorm1d(n, eps, momentum), running statistics copied
```

Both libraries define these functions the same way (chainrule's were written
and tested against PyTorch's), so the torch model computes ``net(X)`` in eval
mode and follows the same training-mode rules: BatchNorm normalises with the
batch mean and biased variance and updates its running statistics with the
same momentum and the unbiased variance; Dropout drops with the same
probability and the same 1/(1 - p) scaling (with torch's random numbers, not
chainrule's). The ``Step`` activation (no torch module) and custom
activations (no code to translate) cannot be exported: they raise
``ValueError`` naming the layer.
"""

from __future__ import annotations

import copy
import math
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
from ..layer import Layer
from ..layers import BatchNorm, Dense, Dropout
from ..losses import get_loss
from ..merge import Add, Concatenate, Multiply
from ..network import Input, Network, Sequential

if TYPE_CHECKING:  # pragma: no cover
    import torch

# A chainrule Softplus with threshold=None is exact everywhere. torch's
# Softplus always switches to the identity above ``beta * x > threshold``; at
# 40 that switch is exact in float32 and float64 alike: exp(40) is far from
# overflow, and log1p(exp(-40)) / 40 ~ 1e-19 is below half an ulp of float64.
EXACT_SOFTPLUS_THRESHOLD = 40.0


def _require_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "chainrule.export.to_torch/from_torch need PyTorch: "
            'pip install "chainrule[torch]" (or pip install torch)'
        ) from exc
    return torch


def _check_softplus_threshold(threshold: float, dtype: np.dtype) -> None:
    """Refuse a threshold at which torch's switch to the identity is not exact in ``dtype``."""
    info = np.finfo(dtype)
    if not (
        math.exp(threshold) < float(info.max) and math.exp(-threshold) / threshold < info.eps / 2
    ):
        raise ValueError(  # pragma: no cover - never true for float32/float64
            f"Softplus(threshold=None) has no exact torch equivalent in {dtype}"
        )


def _torch_activation(act: Activation, where: str, dtype: np.dtype):
    """The torch module computing ``act``, or a ``ValueError`` naming ``where``."""
    nn = _require_torch().nn
    kind = type(act)
    if kind is Step:
        raise ValueError(
            f"{where}: the step activation (Heaviside) has no torch module, and its gradient is "
            "zero almost everywhere, so torch could not train it either; use 'sigmoid' (a smooth "
            "step) or export to ONNX with chainrule.export.to_onnx, which supports it"
        )
    simple = {
        Identity: nn.Identity,
        Sigmoid: nn.Sigmoid,
        Tanh: nn.Tanh,
        ReLU: nn.ReLU,
        SELU: nn.SELU,
        SiLU: nn.SiLU,
        Mish: nn.Mish,
    }
    if kind in simple:
        return simple[kind]()
    if kind is LeakyReLU:
        return nn.LeakyReLU(negative_slope=act.negative_slope)
    if kind is ELU:
        return nn.ELU(alpha=act.alpha)
    if kind is Softplus:
        threshold = act.threshold
        if threshold is None:
            threshold = EXACT_SOFTPLUS_THRESHOLD
            _check_softplus_threshold(threshold, dtype)
        return nn.Softplus(beta=act.beta, threshold=float(threshold))
    if kind is GELU:
        return nn.GELU(approximate=act.approximate)
    if kind is Softmax:
        return nn.Softmax(dim=-1)
    raise ValueError(
        f"{where}: {act!r} is a custom activation with no torch equivalent (chainrule cannot "
        "translate Python code into a torch module); use a built-in activation, or export the "
        "layers around it and write the activation as a torch module by hand"
    )


def _tensor(array: np.ndarray, like):
    """A torch tensor holding a copy of ``array`` (never sharing its memory)."""
    torch = _require_torch()
    return torch.from_numpy(np.array(array, copy=True, order="C")).to(like.dtype)


def to_torch(net: Sequential, preprocessing: bool = True) -> torch.nn.Sequential:
    """The same network as a ``torch.nn.Sequential``, with copies of its weights.

    Parameters
    ----------
    net : chainrule.Sequential
        A network of ``Dense``, ``Dropout``, ``BatchNorm`` and built-in
        activation layers, in float32 or float64.
    preprocessing : bool, default True
        Prepend the stored preprocessing (``Standardise``) and append the
        target's rescaling (``Rescale``), as described below; False gives
        exactly ``net(X)``.

    Returns
    -------
    torch.nn.Sequential
        Modules in the same order (a ``Dense`` with an activation becomes an
        ``nn.Linear`` followed by the activation's module), parameters in the
        network's dtype, and each module in its layer's train/eval mode (the
        container in ``net.training``). ``model(torch.from_numpy(X))`` equals
        ``net(X)``; in training mode BatchNorm and Dropout follow the same
        rules (Dropout with torch's random numbers).

    Raises
    ------
    TypeError
        If ``net`` is not a chainrule ``Sequential``.
    ValueError
        For a layer with no torch equivalent: the ``Step`` activation, a
        custom activation (``activation_from_functions`` or a subclass), or a
        layer class chainrule does not define. The message names the layer's
        index.
    ImportError
        If PyTorch is not installed.

    Notes
    -----
    ``Softplus(threshold=None)`` (exact everywhere) becomes
    ``nn.Softplus(threshold=40)``, which is exact in float32 and float64: above
    ``beta * x = 40`` the two differ by less than half an ulp. Building the
    modules does not draw from torch's global random generator.

    Preprocessing stored on the network (``net.preprocessing_``) becomes a
    first module, ``Standardise``: ``(x - mean) / scale``, as ``to_onnx``
    prepends it, so the module takes encoded table rows
    (``Preprocessor.encode``; for a table of numbers, its raw rows) and gives
    the outputs ``chainrule predict`` computes. ``preprocessing=False``
    leaves it out: the module is then exactly ``net(X)``. A regressor whose
    target was standardised in training (``target_mean``/``target_scale``
    stored) ends with ``Rescale``, ``y * target_scale + target_mean``, so it
    answers in the target's units, as ``chainrule predict`` and ONNX's
    ``"value"`` output do. A graph ``Network`` becomes a ``GraphModule``
    (``graph_to_torch``) with a ``Standardise`` per scaled input and a
    ``Rescale`` per rescaled output, where the stored preprocessing says which
    (dicts by input and output name for several); where it does not, a
    ``ValueError`` names the problem and ``preprocessing=False``.

    Examples
    --------
    >>> model = cr.export.to_torch(net).eval()              # doctest: +SKIP
    >>> model(torch.from_numpy(X)).detach().numpy()         # == net.eval()(X)  # doctest: +SKIP
    """
    torch = _require_torch()
    nn = torch.nn
    if isinstance(net, Network) and not isinstance(net, Sequential):
        return graph_to_torch(net, preprocessing=preprocessing)
    if not isinstance(net, Sequential):
        raise TypeError(
            f"to_torch takes a chainrule Sequential or Network, not {type(net).__name__}"
        )
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[net.dtype]
    modules: list = []
    for i, layer in enumerate(net.layers):
        where = f"layer {i} ({layer!r})"
        kind = type(layer)
        if kind is Dense:
            # skip_init: no draw from torch's global RNG for weights we overwrite anyway
            lin = torch.nn.utils.skip_init(
                nn.Linear, layer.in_features, layer.out_features, dtype=dtype
            )
            with torch.no_grad():
                lin.weight.copy_(_tensor(layer.weight.value.T, lin.weight))
                lin.bias.copy_(_tensor(layer.bias.value, lin.bias))
            group = [lin]
            if layer.activation is not None:
                group.append(_torch_activation(layer.activation, where, net.dtype))
        elif kind is Dropout:
            group = [nn.Dropout(p=layer.p)]
        elif kind is BatchNorm:
            bn = nn.BatchNorm1d(
                layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=dtype
            )
            with torch.no_grad():
                bn.weight.copy_(_tensor(layer.weight.value, bn.weight))
                bn.bias.copy_(_tensor(layer.bias.value, bn.bias))
                bn.running_mean.copy_(_tensor(layer.running_mean, bn.running_mean))
                bn.running_var.copy_(_tensor(layer.running_var, bn.running_var))
            group = [bn]
        elif isinstance(layer, Activation):
            group = [_torch_activation(layer, where, net.dtype)]
        else:
            raise ValueError(
                f"{where} has no torch equivalent: only chainrule's built-in layers (Dense, "
                "Dropout, BatchNorm and the built-in activations) can be exported"
            )
        for module in group:
            module.train(layer.training)
        modules.extend(group)
    if preprocessing:
        modules = _with_preprocessing(net, modules, dtype)
    model = nn.Sequential(*modules)
    model.training = net.training  # the container only; children keep their layer's mode
    return model


def _with_preprocessing(net: Sequential, modules: list, dtype) -> list:
    """``Standardise`` before the network and, for a regressor, ``Rescale`` after it."""
    from ..answers import standardisation, target_scaling

    stored, target = standardisation(net), target_scaling(net)
    if stored is None and target is None:
        return modules
    import torch

    from ._torch_modules import Standardise, rescale

    if stored is not None:
        mean, scale = (torch.tensor(a, dtype=dtype) for a in stored)
        modules = [Standardise(mean, scale), *modules]
    if target is not None:  # one mean and scale, or one per output column
        modules = [*modules, rescale(*target).to(dtype)]
    return modules


# -- back from torch ----------------------------------------------------------------------
def _supported_modules() -> dict:
    nn = _require_torch().nn
    return {
        nn.Linear: "Linear",
        nn.BatchNorm1d: "BatchNorm1d",
        nn.Dropout: "Dropout",
        nn.Identity: "Identity",
        nn.Sigmoid: "Sigmoid",
        nn.Tanh: "Tanh",
        nn.ReLU: "ReLU",
        nn.LeakyReLU: "LeakyReLU",
        nn.ELU: "ELU",
        nn.SELU: "SELU",
        nn.Softplus: "Softplus",
        nn.GELU: "GELU",
        nn.SiLU: "SiLU",
        nn.Mish: "Mish",
        nn.Softmax: "Softmax",
    }


def _numpy(tensor, dtype: np.dtype) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(dtype, copy=True)


def _chainrule_activation(module, where: str) -> Activation:
    nn = _require_torch().nn
    kind = type(module)
    simple = {
        nn.Identity: Identity,
        nn.Sigmoid: Sigmoid,
        nn.Tanh: Tanh,
        nn.ReLU: ReLU,
        nn.SELU: SELU,
        nn.SiLU: SiLU,
        nn.Mish: Mish,
    }
    if kind in simple:
        return simple[kind]()
    if kind is nn.LeakyReLU:
        return LeakyReLU(module.negative_slope)
    if kind is nn.ELU:
        return ELU(module.alpha)
    if kind is nn.Softplus:
        return Softplus(beta=float(module.beta), threshold=float(module.threshold))
    if kind is nn.GELU:
        return GELU(approximate=module.approximate)
    if kind is nn.Softmax:
        if module.dim not in (None, -1, 1):
            raise ValueError(
                f"{where}: chainrule's Softmax works over the features (dim=-1 or 1) of a 2-D "
                f"batch; this one has dim={module.dim}"
            )
        return Softmax()
    raise AssertionError(kind)  # pragma: no cover - callers check the type first


def _params_dtype(module) -> np.dtype:
    torch = _require_torch()
    dtypes = {p.dtype for p in module.parameters()} | {
        b.dtype for b in module.buffers() if b.is_floating_point()
    }
    if not dtypes:
        return np.dtype(np.float32)
    if len(dtypes) > 1:
        raise ValueError(
            f"the module mixes parameter dtypes {sorted(str(d) for d in dtypes)}; convert it to "
            "one dtype first (model.float() or model.double())"
        )
    (dtype,) = dtypes
    if dtype == torch.float32:
        return np.dtype(np.float32)
    if dtype == torch.float64:
        return np.dtype(np.float64)
    raise ValueError(
        f"chainrule networks are float32 or float64; the module is {dtype}: call model.float() "
        "or model.double() first"
    )


def from_torch(
    module: torch.nn.Sequential, *, fuse_activations: bool = True, loss: str | None = None
) -> Sequential:
    """A chainrule network equal to a ``torch.nn.Sequential`` of supported modules.

    Parameters
    ----------
    module : torch.nn.Sequential
        Built from ``nn.Linear``, ``nn.BatchNorm1d``, ``nn.Dropout`` and the
        activations ``nn.Identity``, ``Sigmoid``, ``Tanh``, ``ReLU``,
        ``LeakyReLU``, ``ELU``, ``SELU``, ``Softplus``, ``GELU``, ``SiLU``,
        ``Mish`` and ``Softmax(dim=-1)``, all float32 or all float64, on any
        device (the weights are copied to the CPU).
    fuse_activations : bool, default True
        True: an activation right after an ``nn.Linear`` becomes that
        ``Dense``'s ``activation``, chainrule's usual (and faster) form, so
        ``from_torch(to_torch(net))`` rebuilds ``net`` layer for layer when
        its activations were fused. False: every module becomes a layer of
        its own. The outputs are the same either way.
    loss : str or None, default None
        Recorded as ``net.loss_`` (what ``fit`` would set), so that
        ``predict`` answers class labels for a classifier, e.g.
        ``"cross_entropy"``; torch modules do not know their loss.

    Returns
    -------
    chainrule.Sequential
        With the module's dtype, copies of its weights and running
        statistics, and each layer in its module's train/eval mode.
        ``net(X)`` equals ``module(X)``.

    Raises
    ------
    TypeError
        If ``module`` is not an ``nn.Sequential``.
    ValueError
        For a module with no chainrule equivalent (named, with the list of
        supported ones), a nested ``nn.Sequential`` or ``nn.Flatten``, a
        ``BatchNorm1d`` without affine parameters, running statistics or a
        momentum, a ``Softmax`` over another dimension, or mixed dtypes.
    ImportError
        If PyTorch is not installed.

    Notes
    -----
    An ``nn.Linear(bias=False)`` becomes a ``Dense`` with a zero bias: the same
    outputs, but the bias is a parameter chainrule will train.
    """
    torch = _require_torch()
    nn = torch.nn
    if isinstance(module, _graph_classes()["GraphModule"]):
        return graph_from_torch(module, loss=loss)
    if not isinstance(module, nn.Sequential):
        raise TypeError(
            f"from_torch takes a torch.nn.Sequential, not {type(module).__name__}; wrap the "
            "modules in nn.Sequential(...) (DistributedDataParallel: pass model.module)"
        )
    if len(module) == 0:
        raise ValueError("from_torch got an empty nn.Sequential")
    children = list(module.named_children())
    from ._torch_modules import Rescale, Standardise

    stored: dict = {}
    if isinstance(children[0][1], Standardise):  # to_torch's stored preprocessing
        first = children.pop(0)[1]
        stored["mean"] = first.mean.detach().cpu().double().tolist()
        stored["scale"] = first.scale.detach().cpu().double().tolist()
    if children and isinstance(children[-1][1], Rescale):  # a regressor's target scaling
        last = children.pop()[1]
        stored.update(target_mean=last.mean, target_scale=last.scale)
    if not children:
        raise ValueError("from_torch got chainrule's preprocessing modules and no network")
    dtype = _params_dtype(module)
    supported = _supported_modules()
    layers: list[Layer] = []
    modes: list[bool] = []
    for i, (name, child) in enumerate(children):
        kind = type(child)
        where = f"module {i} ({name!r}: {child!r})" if name != str(i) else f"module {i} ({child!r})"
        if kind is nn.Sequential:
            raise ValueError(
                f"{where} is a nested nn.Sequential; chainrule networks are flat: unpack it, "
                "e.g. nn.Sequential(*outer[:i], *inner, *outer[i + 1:])"
            )
        if kind is nn.Flatten:
            raise ValueError(
                f"{where}: chainrule networks take 2-D (n_samples, n_features) input, so there "
                "is nothing to flatten; reshape the inputs with X.reshape(len(X), -1) and drop "
                "the nn.Flatten"
            )
        if kind not in supported:
            raise ValueError(
                f"{where} has no chainrule equivalent; supported modules are "
                f"{', '.join(supported.values())}"
            )
        if kind is nn.Linear:
            dense = Dense(child.in_features, child.out_features, weight_init="zeros", dtype=dtype)
            dense.weight.value[...] = _numpy(child.weight, dtype).T
            if child.bias is not None:
                dense.bias.value[...] = _numpy(child.bias, dtype)
            layers.append(dense)
            modes.append(child.training)
        elif kind is nn.Dropout:
            try:
                layers.append(Dropout(p=float(child.p)))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            modes.append(child.training)
        elif kind is nn.BatchNorm1d:
            if not child.affine:
                raise ValueError(
                    f"{where}: chainrule's BatchNorm always has a scale and shift (affine=True)"
                )
            if not child.track_running_stats or child.running_mean is None:
                raise ValueError(
                    f"{where}: chainrule's BatchNorm keeps running statistics for eval mode "
                    "(track_running_stats=True)"
                )
            if child.momentum is None:
                raise ValueError(
                    f"{where}: momentum=None (a cumulative average) has no chainrule equivalent; "
                    "chainrule's BatchNorm uses an exponential average with a momentum in [0, 1]"
                )
            bn = BatchNorm(child.num_features, momentum=child.momentum, eps=child.eps, dtype=dtype)
            bn.weight.value[...] = _numpy(child.weight, dtype)
            bn.bias.value[...] = _numpy(child.bias, dtype)
            bn.running_mean[...] = _numpy(child.running_mean, dtype)
            bn.running_var[...] = _numpy(child.running_var, dtype)
            layers.append(bn)
            modes.append(child.training)
        else:
            act = _chainrule_activation(child, where)
            last = layers[-1] if layers else None
            if fuse_activations and type(last) is Dense and last.activation is None:
                last.activation = act
            else:
                layers.append(act)
                modes.append(child.training)
    net = Sequential(*layers, dtype=dtype)
    for layer, training in zip(net.layers, modes):
        layer.training = training
    if loss is not None:
        net.loss_ = get_loss(loss).name
    if stored:
        net.preprocessing_ = stored
    return net


# -- graph networks -----------------------------------------------------------------------------
_GRAPH_CLASSES: dict = {}


def _graph_classes() -> dict:
    """The torch modules of a graph network, defined once torch is imported.

    ``GraphModule`` runs the nodes in order; ``AddModule``, ``MultiplyModule``
    and ``ConcatenateModule`` merge their inputs; ``CodesEmbedding`` is an
    ``nn.Embedding`` that also takes codes of shape ``(n, 1)``. They are
    reachable as ``chainrule.export.torch.GraphModule`` (...) so that pickle
    and ``torch.save`` find them.
    """
    if _GRAPH_CLASSES:
        return _GRAPH_CLASSES
    nn = _require_torch().nn
    import torch

    class GraphModule(nn.Module):
        """A chainrule graph network in torch: ``forward(*inputs)`` in ``input_names`` order.

        ``layers[i]`` is the torch module of the network's i-th layer (a shared
        layer is one module, used by several nodes); node ``k`` (after the
        inputs) is ``layers[plan[k][0]]`` applied to the values of the nodes
        ``plan[k][1]``. Several outputs come back as a tuple in ``outputs`` order.
        The stored preprocessing, when exported: ``before[i]`` (a ``Standardise``, or
        ``nn.Identity``) prepares input ``i``, ``after[k]`` (a ``Rescale``) output ``k``.
        """

        def __init__(self, layers, plan, input_names, input_widths, code_inputs, node_names,
                     output_positions, single_output, before=None, after=None) -> None:  # fmt: skip
            super().__init__()
            self.layers = nn.ModuleList(layers)
            self.before = None if before is None else nn.ModuleList(before)
            self.after = None if after is None else nn.ModuleList(after)
            self.plan = [(int(i), tuple(int(j) for j in parents)) for i, parents in plan]
            self.input_names = list(input_names)
            self.input_widths = list(input_widths)
            self.code_inputs = list(code_inputs)
            self.node_names = list(node_names)
            self.output_positions = list(output_positions)
            self.single_output = bool(single_output)

        def forward(self, *inputs):
            if len(inputs) != len(self.input_names):
                raise TypeError(
                    f"the network takes {len(self.input_names)} inputs {self.input_names} (in "
                    f"that order, embedding codes as int64), got {len(inputs)}"
                )
            before, after = getattr(self, "before", None), getattr(self, "after", None)
            values = list(inputs) if before is None else [m(x) for m, x in zip(before, inputs)]
            for i, parents in self.plan:
                values.append(self.layers[i](*(values[j] for j in parents)))
            outputs = tuple(values[k] for k in self.output_positions)
            if after is not None:
                outputs = tuple(m(y) for m, y in zip(after, outputs))
            return outputs[0] if self.single_output else outputs

    class AddModule(nn.Module):
        """y = x_1 + x_2 + ... (chainrule's ``Add``)."""

        def forward(self, *xs):
            out = xs[0] + xs[1]
            for x in xs[2:]:
                out = out + x
            return out

    class MultiplyModule(nn.Module):
        """y = x_1 * x_2 * ... elementwise (chainrule's ``Multiply``)."""

        def forward(self, *xs):
            out = xs[0] * xs[1]
            for x in xs[2:]:
                out = out * x
            return out

    class ConcatenateModule(nn.Module):
        """[x_1 | x_2 | ...] along the features (chainrule's ``Concatenate``)."""

        def forward(self, *xs):
            return torch.cat(xs, dim=1)

    class CodesEmbedding(nn.Embedding):
        """``nn.Embedding`` taking integer codes of shape ``(n,)`` or ``(n, 1)``."""

        def forward(self, codes):
            if codes.dim() == 2 and codes.shape[1] == 1:
                codes = codes[:, 0]
            return super().forward(codes)

    for cls in (GraphModule, AddModule, MultiplyModule, ConcatenateModule, CodesEmbedding):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        _GRAPH_CLASSES[cls.__name__] = cls
    return _GRAPH_CLASSES


def __getattr__(name: str):
    """``GraphModule`` and its merge modules, defined on first use (torch is optional)."""
    if name in (
        "GraphModule",
        "AddModule",
        "MultiplyModule",
        "ConcatenateModule",
        "CodesEmbedding",
    ):
        return _graph_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _graph_layer_module(layer: Layer, where: str, dtype: np.dtype):
    """The torch module computing one layer of a graph network."""
    torch = _require_torch()
    classes = _graph_classes()
    merges = {Add: "AddModule", Multiply: "MultiplyModule", Concatenate: "ConcatenateModule"}
    if type(layer) in merges:
        return classes[merges[type(layer)]]()
    if type(layer) is Embedding:
        tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[dtype]
        emb = torch.nn.utils.skip_init(
            classes["CodesEmbedding"], layer.num_embeddings, layer.dim, dtype=tdtype
        )
        with torch.no_grad():
            emb.weight.copy_(_tensor(layer.weight.value, emb.weight))
        return emb.train(layer.training)
    try:  # one layer as a one-layer Sequential (a copy: building it renames parameters)
        return to_torch(Sequential(copy.deepcopy(layer), dtype=dtype))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def graph_to_torch(net: Network, preprocessing: bool = True):
    """The graph network ``net`` as a ``GraphModule`` (an ``nn.Module``), with copies of its weights.

    ``module(*inputs)`` takes the inputs in ``net.inputs`` order (float tensors
    in the network's dtype; embedding codes as int64, shape ``(n,)`` or
    ``(n, 1)``) and returns ``net(...)``: one tensor, or a tuple in
    ``net.outputs`` order. Each layer becomes one module (a ``Dense`` with an
    activation an ``nn.Sequential(Linear, activation)``, as ``to_torch``
    builds it); a shared layer is one module used at each of its nodes, so
    torch accumulates both uses into one set of weights, as chainrule does.
    Called by ``to_torch`` for a ``Network`` that is not a ``Sequential``.

    With ``preprocessing``, the stored preprocessing comes along where its
    meaning is clear (``chainrule.answers.input_scalings`` and
    ``output_scalings``): a ``Standardise`` in front of each scaled input and a
    ``Rescale`` after each output whose target was standardised, so the
    module answers ``net.predict``'s values from raw inputs.

    Parameters
    ----------
    net : Network
        The graph network to hand over.
    preprocessing : bool, default True
        Build the stored preprocessing in; False gives exactly ``net(...)``.

    Raises
    ------
    ValueError
        For a layer with no torch equivalent (named by its node), or stored
        preprocessing whose meaning for this graph is not clear.
    """
    torch = _require_torch()
    before = after = None
    if preprocessing:
        from ..answers import graph_scalings
        from ._torch_modules import Standardise, rescale

        ins, outs = graph_scalings(net, "to_torch")
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
        if any(sc is not None for sc in ins):
            before = [
                torch.nn.Identity()
                if sc is None
                else Standardise(*(torch.tensor(a, dtype=dtype[net.dtype]) for a in sc))
                for sc in ins
            ]
        if any(sc is not None for sc in outs):
            after = [torch.nn.Identity() if sc is None else rescale(*sc) for sc in outs]
    layer_index = {id(layer): i for i, layer in enumerate(net.layers)}
    first_node = {}
    for node in net.nodes:
        if node.layer is not None:
            first_node.setdefault(id(node.layer), node.name)
    modules = [
        _graph_layer_module(layer, f"node {first_node[id(layer)]!r} ({layer!r})", net.dtype)
        for layer in net.layers
    ]
    position = {id(node): k for k, node in enumerate(net.nodes)}
    n_in = len(net.inputs)
    plan = [
        (layer_index[id(node.layer)], [position[id(p)] for p in node.inputs])
        for node in net.nodes[n_in:]
    ]
    code_inputs = [
        all(isinstance(child.layer, Embedding) for child in net.nodes if x in child.inputs)
        for x in net.inputs
    ]
    model = _graph_classes()["GraphModule"](
        modules,
        plan,
        [x.name for x in net.inputs],
        [x.n_features for x in net.inputs],
        code_inputs,
        [node.name for node in net.nodes],
        [position[id(o)] for o in net.outputs],
        len(net.outputs) == 1 and not isinstance(net.n_outputs, list),
        before,
        after,
    )
    model.training = net.training  # the container only; each module keeps its layer's mode
    return model


def graph_from_torch(module, *, loss=None) -> Network:
    """The chainrule ``Network`` equal to a ``GraphModule`` (what ``to_torch`` gives a graph).

    The wiring, input names and widths and node names come from the module;
    each layer from its torch module (through ``from_torch`` for the
    ``nn.Sequential`` ones), so a shared module becomes one shared layer.
    Called by ``from_torch``; ``loss`` as there (a list for several outputs).

    Parameters
    ----------
    module : GraphModule
        What ``to_torch`` made of a graph network (trained further or not).
    loss : str, list of str or None, default None
        The loss to record for ``predict`` (one per output for several outputs).
    """
    classes = _graph_classes()
    dtype = _params_dtype(module)
    merges = {
        classes["AddModule"]: Add,
        classes["MultiplyModule"]: Multiply,
        classes["ConcatenateModule"]: Concatenate,
    }
    layers: list[Layer] = []
    for i, child in enumerate(module.layers):
        if type(child) in merges:
            layers.append(merges[type(child)]())
        elif isinstance(child, classes["CodesEmbedding"]):
            emb = Embedding(child.num_embeddings, child.embedding_dim, dtype=dtype)
            emb.weight.value = _numpy(child.weight, dtype)
            emb.weight.grad = np.zeros_like(emb.weight.value)
            emb.training = child.training
            layers.append(emb)
        else:
            try:
                (layer,) = from_torch(child).layers
            except ValueError as exc:
                raise ValueError(f"GraphModule.layers[{i}]: {exc}") from None
            layers.append(layer)
    names = module.node_names
    values = [Input(w, name=n) for w, n in zip(module.input_widths, module.input_names)]
    for k, (i, parents) in enumerate(module.plan, start=len(values)):
        values.append(layers[i](*(values[j] for j in parents), name=names[k]))
    outputs = [values[k] for k in module.output_positions]
    modes = [layer.training for layer in layers]
    net = Network(
        inputs=values[: len(module.input_names)],
        outputs=outputs[0] if module.single_output else outputs,
        dtype=dtype,
    )
    for layer, training in zip(layers, modes):
        layer.training = training
    if loss is not None:
        net.loss_ = (
            [get_loss(x).name for x in loss] if isinstance(loss, list) else get_loss(loss).name
        )
    stored = _graph_preprocessing(module, net)
    if stored:
        net.preprocessing_ = stored
    return net


def _graph_preprocessing(module, net: Network) -> dict:
    """``net.preprocessing_`` again from a ``GraphModule``'s ``Standardise``/``Rescale`` modules."""
    from ._torch_modules import Rescale, Standardise

    stored: dict = {}
    before, after = getattr(module, "before", None), getattr(module, "after", None)
    one_in, one_out = len(net.inputs) == 1, net._single_output
    for m, x in zip(before or [], net.inputs):
        if isinstance(m, Standardise):
            for key in ("mean", "scale"):
                values = getattr(m, key).detach().cpu().double().tolist()
                if one_in:
                    stored[key] = values
                else:
                    stored.setdefault(key, {})[x.name] = values
    for m, o in zip(after or [], net.outputs):
        if isinstance(m, Rescale):
            for key, value in (("target_mean", m.mean), ("target_scale", m.scale)):
                if one_out:
                    stored[key] = value
                else:
                    stored.setdefault(key, {})[o.name] = value
    return stored


__all__ = [
    "EXACT_SOFTPLUS_THRESHOLD",
    "from_torch",
    "graph_from_torch",
    "graph_to_torch",
    "to_torch",
]

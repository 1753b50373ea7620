"""Model files: safetensors for the arrays, versioned JSON for the architecture.

No pickle anywhere: a model file holds only numbers and text, so loading one
cannot run code. The file is written under a temporary name and renamed into
place, so a crash never leaves a half-written model behind.

Layout of ``model.safetensors``::

    tensors   "<layer index>.<name>"   e.g. "0.weight", "0.bias", "1.running_mean"
    metadata  "format": "chainrule", "format_version": "1",
              "architecture": JSON {"layers": [{"type": ..., "config": {...}}, ...],
                                    "dtype": ..., "loss": ..., "metrics": ...,
                                    "chainrule_version": ...}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .activations import ACTIVATIONS, Activation, FunctionActivation, get_activation
from .layer import Layer
from .layers import BatchNorm, Dense, Dropout
from .network import Sequential

FORMAT_VERSION = "1"


def _require_safetensors():
    try:
        import safetensors.numpy as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "saving and loading models needs the safetensors package: pip install safetensors"
        ) from exc
    return st


def _activation_spec(act: Activation) -> dict:
    if isinstance(act, FunctionActivation) or ACTIVATIONS.get(act.name) is not type(act):
        raise ValueError(
            f"cannot save the custom activation {act!r}: a model file holds no code. Rebuild the "
            "network in Python and load its weights with load_weights, or use a built-in activation"
        )
    return {"name": act.name, "config": act.get_config()}


def _layer_spec(layer: Layer) -> dict:
    if isinstance(layer, Dense):
        config = {"in_features": layer.in_features, "out_features": layer.out_features}
        config["activation"] = (
            None if layer.activation is None else _activation_spec(layer.activation)
        )
        return {"type": "dense", "config": config}
    if isinstance(layer, Dropout):
        return {"type": "dropout", "config": {"p": layer.p}}
    if isinstance(layer, BatchNorm):
        return {"type": "batch_norm", "config": layer.get_config()}
    if isinstance(layer, Activation):
        return {"type": "activation", "config": _activation_spec(layer)}
    raise ValueError(f"cannot save layer {layer!r}: only chainrule's built-in layers can be saved")


def _build_activation(spec: dict | None) -> Activation | None:
    if spec is None:
        return None
    act = get_activation(spec["name"])
    return type(act)(**spec.get("config", {}))


def _build_layer(spec: dict) -> Layer:
    kind, config = spec["type"], dict(spec["config"])
    if kind == "dense":
        config["activation"] = _build_activation(config.get("activation"))
        return Dense(**config, weight_init="zeros")
    if kind == "dropout":
        return Dropout(**config)
    if kind == "batch_norm":
        return BatchNorm(**config)
    if kind == "activation":
        return _build_activation(config)
    raise ValueError(f"unknown layer type {kind!r} in model file")


def _tensors(net: Sequential) -> dict[str, np.ndarray]:
    """Every array a model file holds, named "<layer index>.<name>" (views, not copies)."""
    tensors = {}
    for i, layer in enumerate(net.layers):
        for p in layer.parameters():
            tensors[f"{i}.{p.name.rsplit('.', 1)[-1]}"] = p.value
        buffers = getattr(layer, "buffers", None)
        if buffers is not None:
            for name, value in buffers().items():
                tensors[f"{i}.{name}"] = value
    return tensors


def architecture(net: Sequential) -> dict:
    """The JSON-able description of a network (no weights)."""
    from . import __version__

    return {
        "layers": [_layer_spec(layer) for layer in net.layers],
        "dtype": str(net.dtype),
        "loss": net.loss_,
        "metrics": getattr(net, "metrics_", None),
        "seed": net.seed,
        "chainrule_version": __version__,
    }


def save(net: Sequential, path: str | os.PathLike) -> Path:
    """Write ``net`` to ``path`` (safetensors), atomically. Returns the path."""
    st = _require_safetensors()
    path = Path(path)
    metadata = {
        "format": "chainrule",
        "format_version": FORMAT_VERSION,
        "architecture": json.dumps(architecture(net)),
    }
    tensors = {k: np.ascontiguousarray(v) for k, v in _tensors(net).items()}
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        st.save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike) -> Sequential:
    """Read a network written by :func:`save`; its predictions are bit-identical."""
    _require_safetensors()
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except Exception as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != "chainrule":
        raise ValueError(
            f"{path} is a safetensors file but not a chainrule model (no chainrule metadata)"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} uses chainrule model format {metadata.get('format_version')!r}; this version "
            f"reads format {FORMAT_VERSION!r}"
        )
    arch = json.loads(metadata["architecture"])
    net = Sequential(*(_build_layer(s) for s in arch["layers"]), dtype=np.dtype(arch["dtype"]))
    net.seed = arch.get("seed")
    net.loss_ = arch.get("loss")
    net.metrics_ = arch.get("metrics")
    expected = set(_tensors(net))
    if expected != set(tensors):
        raise ValueError(
            f"{path} does not match its own architecture: missing {sorted(expected - set(tensors))}, "
            f"unexpected {sorted(set(tensors) - expected)}"
        )
    load_weights(net, tensors)
    return net


def load_weights(net: Sequential, tensors: dict[str, np.ndarray]) -> None:
    """Copy arrays named like :func:`save` writes them into ``net``'s parameters."""
    targets = _tensors(net)
    for key, value in tensors.items():
        if key not in targets:
            raise ValueError(f"the network has no tensor named {key!r}")
        target = targets[key]
        if target.shape != value.shape:
            raise ValueError(
                f"tensor {key!r} has shape {value.shape}, the network expects {target.shape}"
            )
        target[...] = value

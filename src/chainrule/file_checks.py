"""Checks on a model file, made before a single array is allocated.

A model file is untrusted input: a 300-byte file can claim a 100000 x 100000
layer, nest its JSON ten thousand levels deep or hide a NaN in a weight. Its
layout (safetensors) is

    8 bytes       n, the header length (little-endian unsigned)
    n bytes       JSON header: {tensor name: {"dtype", "shape", "data_offsets"}, ...,
                                "__metadata__": {str: str}}
    the rest      the tensors' bytes, back to back

and the checks run in this order, each one cheap:

1. ``read_header``: the header length against the file size and a bound
   (``MAX_HEADER_BYTES``), the JSON parsed with its depth bounded
   (``MAX_JSON_DEPTH``), each tensor entry's dtype, shape and byte range
   checked against each other and against the file: the ranges must tile the
   data exactly, so every claimed element really is in the file.
2. ``check_architecture``: every field of the architecture, type and range
   (layer sizes within ``MAX_FEATURES``, activation parameters finite and in
   range: ELU alpha finite, Softplus beta > 0 ...), and the shape of every
   tensor the network will need.
3. ``check_tensor_entries``: those shapes and dtypes against the header's:
   only now is anything allocated, and never more than the file holds.
4. ``check_preprocessing``, ``check_history``, ``check_optimizer_info``,
   ``check_random_info``: the other metadata, field by field.
5. ``read_tensors``: the arrays, refused if any value is NaN or infinite
   (unless ``allow_nonfinite``).

Every problem raises one ``ValueError`` that names the file and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Largest JSON header read (bytes); a real model's header is a few kilobytes.
MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Deepest nesting of lists and objects accepted in any JSON of a model file.
MAX_JSON_DEPTH = 32
#: Widest layer accepted (inputs or outputs of one layer).
MAX_FEATURES = 1 << 24
#: Most layers accepted in one network.
MAX_LAYERS = 10_000
#: Most tensors accepted in one file.
MAX_TENSORS = 100_000

#: safetensors dtype names chainrule reads, and their NumPy types (little-endian).
DTYPES = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NET_DTYPES = {"float32": "F32", "float64": "F64"}
OPTIMIZER_PREFIX = "optimizer."
RANDOM_PREFIX = "random."


class _Problem(ValueError):
    pass


def _fail(path, message: str):
    raise _Problem(f"{path} is not a valid chainrule model file: {message}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value, what: str, path, low=None, high=None, low_open=False) -> float:
    """A finite number within [low, high] (``low_open``: strictly above low), or an error."""
    try:
        ok = _is_number(value) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        ok = False
    if not ok:
        _fail(path, f"{what} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        bound = f"> {low}" if low_open else f">= {low}"
        _fail(path, f"{what} must be {bound}, got {value!r}")
    if high is not None and value > high:
        _fail(path, f"{what} must be <= {high}, got {value!r}")
    return float(value)


def _size(value, what: str, path) -> int:
    if not _is_int(value) or not 1 <= value <= MAX_FEATURES:
        _fail(path, f"{what} must be an integer from 1 to {MAX_FEATURES}, got {value!r}")
    return value


# -- JSON --------------------------------------------------------------------------------
def _depth_ok(value) -> bool:
    """True when ``value`` nests no deeper than ``MAX_JSON_DEPTH`` (iterative walk)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def loads(text: str | bytes, what: str, path) -> Any:
    """``json.loads`` with the size and depth bounded; a ValueError naming ``what``.

    Parameters
    ----------
    text : str or bytes
        The JSON text; at most ``MAX_HEADER_BYTES`` long, nested at most
        ``MAX_JSON_DEPTH`` levels.
    what : str
        What the text is, for the error message ("header", "architecture").
    path : str or Path
        The file being read; every error message names it.
    """
    if len(text) > MAX_HEADER_BYTES:
        _fail(path, f"its {what} is {len(text)} bytes, more than the {MAX_HEADER_BYTES} allowed")
    try:
        value = json.loads(text)
    except RecursionError:
        _fail(path, f"its {what} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(path, f"its {what} is not valid JSON ({exc})")
    if not _depth_ok(value):
        _fail(path, f"its {what} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    return value


# -- the container -----------------------------------------------------------------------
@dataclass
class Entry:
    """One tensor as the header describes it.

    Attributes
    ----------
    name : str
        The tensor's key in the header.
    dtype : numpy.dtype
        Its element type (little-endian, from the safetensors dtype code).
    shape : tuple of int
        Its shape.
    begin, end : int
        Its byte range ``[begin, end)``, counted from the start of the data section.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Header:
    """The checked header of a safetensors file.

    Attributes
    ----------
    entries : dict
        Tensor name -> its ``Entry``.
    metadata : dict
        The ``__metadata__`` strings (architecture, history, ...), still as JSON text.
    data_start : int
        Byte offset of the data section: ``8 + header length``.
    size : int
        The file's size in bytes.
    """

    entries: dict[str, Entry]
    metadata: dict[str, str]
    data_start: int
    size: int


def _unreadable(path, message: str):
    raise _Problem(f"{path} is not a readable safetensors file: {message}")


def read_header(path: Path) -> Header:
    """The checked header of a safetensors file; reads at most ``MAX_HEADER_BYTES``.

    Parameters
    ----------
    path : Path
        The safetensors file.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(10)
        n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
        if n < 2 or head[8:10] != b'{"':
            _unreadable(
                path,
                "it is not a chainrule model file (expected a safetensors model, got "
                f"{size} bytes of something else)",
            )
        if 8 + n > size:
            _unreadable(
                path,
                f"it is truncated (the header alone needs {8 + n} bytes, the file has {size}); "
                "the copy or save was cut off",
            )
        if n > MAX_HEADER_BYTES:
            _unreadable(path, f"its header is {n} bytes, more than the {MAX_HEADER_BYTES} allowed")
        f.seek(8)
        raw = f.read(n)
    try:
        header = loads(raw, "header", path)
    except _Problem as exc:
        _unreadable(path, f"its header is corrupt ({str(exc).split(': ', 1)[-1]})")
    if not isinstance(header, dict):
        _unreadable(path, f"its header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        _fail(path, "its metadata must be a JSON object of strings")
    if len(header) > MAX_TENSORS:
        _fail(path, f"it lists {len(header)} tensors, more than the {MAX_TENSORS} allowed")
    data_size = size - 8 - n
    ends = [
        info["data_offsets"][1]
        for info in header.values()
        if isinstance(info, dict)
        and isinstance(info.get("data_offsets"), list)
        and len(info["data_offsets"]) == 2
        and _is_int(info["data_offsets"][1])
    ]
    if ends and max(ends) > data_size:
        _unreadable(
            path,
            f"it is truncated (its header announces {8 + n + max(ends)} bytes, the file has "
            f"{size}); the copy or save was cut off",
        )
    entries = {}
    for name, info in header.items():
        entries[name] = _entry(path, name, info, data_size)
    # the byte ranges must tile the data exactly: nothing claimed that is not there
    position = 0
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if entry.begin != position:
            _fail(
                path,
                f"tensor {entry.name!r} starts at byte {entry.begin} of the data, expected "
                f"{position} (overlapping or missing data)",
            )
        position = entry.end
    if position != data_size:
        _fail(
            path,
            f"its header accounts for {position} bytes of tensor data but the file holds "
            f"{data_size} (trailing or missing data)",
        )
    return Header(entries, metadata, 8 + n, size)


def _entry(path, name: str, info, data_size: int) -> Entry:
    where = f"tensor {name!r}"
    if not isinstance(info, dict):
        _fail(path, f"{where} is described by a {type(info).__name__}, not an object")
    dtype = DTYPES.get(info.get("dtype")) if isinstance(info.get("dtype"), str) else None
    if dtype is None:
        _fail(
            path,
            f"{where} has dtype {info.get('dtype')!r}; chainrule reads {', '.join(DTYPES)}",
        )
    shape = info.get("shape")
    if not isinstance(shape, list) or len(shape) > 8:
        _fail(path, f"{where} has shape {shape!r}, not a list of at most 8 sizes")
    count = 1
    for dim in shape:
        if not _is_int(dim) or not 0 <= dim <= 1 << 40:
            _fail(path, f"{where} has shape {shape!r}: sizes must be integers from 0 to 2**40")
        count *= dim
        if count * dtype.itemsize > data_size:
            _fail(
                path,
                f"{where} claims shape {shape}, more bytes than the file's {data_size} bytes "
                "of data hold",
            )
    offsets = info.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        _fail(path, f"{where} has data offsets {offsets!r} outside the file's data")
    if offsets[1] - offsets[0] != count * dtype.itemsize:
        _fail(
            path,
            f"{where} has shape {shape} ({count * dtype.itemsize} bytes) but its data offsets "
            f"span {offsets[1] - offsets[0]} bytes",
        )
    return Entry(name, dtype, tuple(shape), offsets[0], offsets[1])


# -- the architecture --------------------------------------------------------------------
_ACTIVATION_PARAMS = {
    # name -> {parameter: check(value, what, path)}
    "leaky_relu": {"negative_slope": lambda v, w, p: _finite(v, w, p)},
    "elu": {"alpha": lambda v, w, p: _finite(v, w, p)},
    "softplus": {
        "beta": lambda v, w, p: _finite(v, w, p, low=0, low_open=True),
        "threshold": lambda v, w, p: None if v is None else _finite(v, w, p),
    },
    "gelu": {"approximate": lambda v, w, p: _choice(v, ("none", "tanh"), w, p)},
}


def _choice(value, choices, what: str, path):
    if value not in choices:
        _fail(path, f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _keys(spec: dict, allowed, required, what: str, path) -> None:
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        _fail(path, f"{what} has unknown field(s) {', '.join(map(repr, unknown[:5]))}")
    missing = [k for k in required if k not in spec]
    if missing:
        _fail(path, f"{what} lacks the field(s) {', '.join(map(repr, missing))}")


def check_activation(spec, what: str, path) -> None:
    """A stored activation: ``{"name": built-in name, "config": {checked parameters}}``.

    Parameters
    ----------
    spec : dict
        The stored activation.
    what : str
        Where it sits, for the error message ("layer 2 activation").
    path : str or Path
        The file being read; every error message names it.
    """
    from .activations import ACTIVATIONS

    if not isinstance(spec, dict):
        _fail(path, f"{what} must be an object, got {type(spec).__name__}")
    _keys(spec, ("name", "config"), ("name",), what, path)
    name = spec["name"]
    if not isinstance(name, str) or name not in ACTIVATIONS:
        _fail(path, f"{what} names an unknown activation {name!r}")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        _fail(path, f"{what}: config must be an object, got {type(config).__name__}")
    params = _ACTIVATION_PARAMS.get(ACTIVATIONS[name].name, {})
    _keys(config, params, (), f"{what} ({name})", path)
    for key, check in params.items():
        if key in config:
            check(config[key], f"{what} ({name}) {key}", path)


def check_architecture(arch, path) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Check every field of an architecture (a chain, or a graph with "graph"); no array is made.

    Parameters
    ----------
    arch : dict
        The architecture as decoded from the file's metadata.
    path : str or Path
        The file being read; every error message names it.

    Returns
    -------
    shapes : dict
        Name -> shape of every tensor the network holds ("<layer>.<name>").
    parameters : list of str
        The names of the trainable parameters, in ``net.parameters()`` order.
    """
    if not isinstance(arch, dict):
        _fail(path, f"its architecture is a JSON {type(arch).__name__}, not an object")
    dtype = arch.get("dtype")
    if not isinstance(dtype, str) or dtype not in _NET_DTYPES:
        _fail(path, f"its architecture has dtype {dtype!r}; expected 'float32' or 'float64'")
    _check_training_fields(arch, path)
    layers = arch.get("layers")
    if not isinstance(layers, list) or not layers:
        _fail(path, "its architecture has no list of layers")
    if len(layers) > MAX_LAYERS:
        _fail(path, f"its architecture has {len(layers)} layers, more than {MAX_LAYERS}")
    graph = "graph" in arch
    if graph:
        check_graph(arch["graph"], len(layers), path)
    shapes: dict[str, tuple[int, ...]] = {}
    parameters: list[str] = []
    width = None
    for i, spec in enumerate(layers):
        if graph:  # layers of a graph are not a chain: no width follows from the one before
            width = None
        where = f"layer {i}"
        if not isinstance(spec, dict):
            _fail(path, f"{where} is a {type(spec).__name__}, not an object")
        _keys(spec, ("type", "config"), ("type", "config"), where, path)
        kind, config = spec["type"], spec["config"]
        if not isinstance(config, dict):
            _fail(path, f"{where}: config must be an object, got {type(config).__name__}")
        if kind == "dense":
            _keys(config, ("in_features", "out_features", "activation"), ("in_features", "out_features"), where, path)  # fmt: skip
            n_in = _size(config["in_features"], f"{where} (dense) in_features", path)
            n_out = _size(config["out_features"], f"{where} (dense) out_features", path)
            if width is not None and n_in != width:
                _fail(path, f"{where} takes {n_in} inputs but the layer before gives {width}")
            if config.get("activation") is not None:
                check_activation(config["activation"], f"{where} activation", path)
            shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (n_in, n_out), (n_out,)
            parameters += [f"{i}.weight", f"{i}.bias"]
            width = n_out
        elif kind == "dropout":
            _keys(config, ("p",), ("p",), where, path)
            _finite(config["p"], f"{where} (dropout) p", path, low=0)
            if config["p"] >= 1:
                _fail(path, f"{where} (dropout) p must be below 1, got {config['p']!r}")
        elif kind == "batch_norm":
            _keys(config, ("num_features", "momentum", "eps"), ("num_features",), where, path)
            n = _size(config["num_features"], f"{where} (batch_norm) num_features", path)
            if width is not None and n != width:
                _fail(path, f"{where} normalises {n} features but the layer before gives {width}")
            if "momentum" in config:
                _finite(config["momentum"], f"{where} (batch_norm) momentum", path, 0, 1)
            if "eps" in config:
                _finite(config["eps"], f"{where} (batch_norm) eps", path, low=0, low_open=True)
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{i}.{name}"] = (n,)
            parameters += [f"{i}.weight", f"{i}.bias"]
            width = n
        elif kind == "activation":
            check_activation(config, where, path)
        elif kind == "embedding":
            _keys(config, ("num_embeddings", "dim"), ("num_embeddings", "dim"), where, path)
            n = _size(config["num_embeddings"], f"{where} (embedding) num_embeddings", path)
            dim = _size(config["dim"], f"{where} (embedding) dim", path)
            shapes[f"{i}.weight"] = (n, dim)
            parameters.append(f"{i}.weight")
            width = dim
        elif kind in ("add", "multiply", "concatenate"):
            if not graph:
                _fail(path, f"{where} is a {kind} layer, which only a graph network has")
            _keys(config, (), (), where, path)
        else:
            _fail(path, f"{where} has an unknown type {kind!r}")
    return shapes, parameters


def _name(value, what: str, path) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        _fail(path, f"{what} must be a name (text), got {value!r}")
    return value


def check_graph(spec, n_layers: int, path) -> None:
    """A graph network's connections: inputs, nodes (layer index, parent names), outputs.

    Every name is defined once and before it is used; every node's layer is
    one of the listed layers; the sizes are bounded.

    Parameters
    ----------
    spec : dict
        The architecture's "graph" field: "inputs", "nodes", "outputs".
    n_layers : int
        How many layers the architecture lists; node layer indices must be below it.
    path : str or Path
        The file being read; every error message names it.
    """
    if not isinstance(spec, dict):
        _fail(path, f"its graph must be an object, got {type(spec).__name__}")
    _keys(spec, ("inputs", "nodes", "outputs", "single_output", "loss_weights"), ("inputs", "nodes", "outputs"), "its graph", path)  # fmt: skip
    inputs, nodes, outputs = spec["inputs"], spec["nodes"], spec["outputs"]
    for key, value in (("inputs", inputs), ("nodes", nodes), ("outputs", outputs)):
        if not isinstance(value, list) or not value or len(value) > 4 * MAX_LAYERS:
            _fail(path, f"its graph {key} must be a non-empty list")
    defined: set[str] = set()
    for item in inputs:
        if not isinstance(item, dict):
            _fail(path, f"its graph input {item!r} must be an object")
        _keys(item, ("name", "n_features"), ("name", "n_features"), "a graph input", path)
        name = _name(item["name"], "a graph input's name", path)
        _size(item["n_features"], f"graph input {name!r} n_features", path)
        if name in defined:
            _fail(path, f"its graph defines {name!r} twice")
        defined.add(name)
    for item in nodes:
        if not isinstance(item, dict):
            _fail(path, f"its graph node {item!r} must be an object")
        _keys(item, ("name", "layer", "inputs"), ("name", "layer", "inputs"), "a graph node", path)
        name = _name(item["name"], "a graph node's name", path)
        layer = item["layer"]
        if not _is_int(layer) or not 0 <= layer < n_layers:
            _fail(path, f"graph node {name!r} names layer {layer!r} of {n_layers}")
        parents = item["inputs"]
        if not isinstance(parents, list) or not parents:
            _fail(path, f"graph node {name!r} must list its inputs")
        for parent in parents:
            if not isinstance(parent, str) or parent not in defined:
                _fail(path, f"graph node {name!r} reads {parent!r}, which is not defined before it")
        if name in defined:
            _fail(path, f"its graph defines {name!r} twice")
        defined.add(name)
    for name in outputs:
        if not isinstance(name, str) or name not in defined:
            _fail(path, f"its graph output {name!r} is not a node of the graph")
    if not isinstance(spec.get("single_output", False), bool):
        _fail(path, "its graph single_output must be true or false")
    weights = spec.get("loss_weights")
    if weights is not None:
        if not isinstance(weights, list) or len(weights) != len(outputs):
            _fail(path, "its graph loss_weights must be a list, one number per output")
        for w in weights:
            _finite(w, "a graph loss weight", path, low=0)


def _check_training_fields(arch: dict, path) -> None:
    """loss (a name, or one per output of a graph), metrics (names, or per output), seed."""
    from .losses import get_loss
    from .metrics import get_metric

    def known(name, lookup, what: str) -> None:
        try:
            if not isinstance(name, str):
                raise TypeError
            lookup(name)
        except (TypeError, ValueError, KeyError):
            _fail(path, f"its architecture names an unknown {what} {name!r}")

    loss = arch.get("loss")
    if isinstance(loss, list) and "graph" in arch and 0 < len(loss) <= MAX_LAYERS:
        for name in loss:
            if name is not None:
                known(name, get_loss, "loss")
    elif loss is not None:
        known(loss, get_loss, "loss")
    metrics = arch.get("metrics")
    if isinstance(metrics, dict) and "graph" in arch:
        groups = list(metrics.values())
    else:
        groups = [metrics]
    for group in groups:
        if group is None:
            continue
        if isinstance(group, str) and isinstance(metrics, dict):
            group = [group]
        if not isinstance(group, list) or len(group) > 100:
            _fail(path, f"its architecture's metrics must be a list of names, got {group!r}")
        for m in group:
            known(m, get_metric, "metric")
    seed = arch.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed < 2**128):
        _fail(path, f"its architecture's seed must be a non-negative integer or null, got {seed!r}")
    version = arch.get("chainrule_version")
    if version is not None and not isinstance(version, str):
        _fail(path, f"its architecture's chainrule_version must be text, got {version!r}")


def check_tensor_entries(
    header: Header, shapes: dict[str, tuple[int, ...]], dtype: str, path
) -> dict[str, Entry]:
    """The header's network tensors against the architecture's: names, shapes, dtype.

    Parameters
    ----------
    header : Header
        The checked header.
    shapes : dict
        Name -> shape the architecture needs (from ``check_architecture``).
    dtype : str
        The architecture's dtype ("float32" or "float64"); every tensor must have it.
    path : str or Path
        The file being read; every error message names it.

    Returns
    -------
    dict
        Name -> ``Entry`` of the network tensors (optimizer and random-state entries left out).
    """
    weights = {
        k: e
        for k, e in header.entries.items()
        if not k.startswith((OPTIMIZER_PREFIX, RANDOM_PREFIX))
    }
    if set(weights) != set(shapes):
        missing, extra = sorted(set(shapes) - set(weights)), sorted(set(weights) - set(shapes))
        _fail(
            path,
            f"its tensors do not match its own architecture: missing {missing[:5]}, "
            f"unexpected {extra[:5]}",
        )
    want = DTYPES[_NET_DTYPES[dtype]]
    for name, entry in weights.items():
        if entry.shape != shapes[name]:
            _fail(
                path,
                f"tensor {name!r} has shape {list(entry.shape)} but the architecture needs "
                f"{list(shapes[name])}",
            )
        if entry.dtype != want:
            _fail(
                path, f"tensor {name!r} is {entry.dtype.name}; this {dtype} network needs {dtype}"
            )
    return weights


# -- the other metadata ------------------------------------------------------------------
def check_history(history, path) -> None:
    """``{"loss": [numbers or null, ...], ...}``.

    Parameters
    ----------
    history : dict or None
        The stored training history; None (no history) passes.
    path : str or Path
        The file being read; every error message names it.
    """
    if history is None:
        return
    if not isinstance(history, dict):
        _fail(path, f"its history must be an object, got {type(history).__name__}")
    for key, values in history.items():
        if not isinstance(values, list) or not all(v is None or _is_number(v) for v in values):
            _fail(path, f"its history {key!r} must be a list of numbers")


def check_preprocessing(pre, n_inputs: int | None, n_outputs: int | None, path) -> None:
    """Stored preprocessing: a full ``Preprocessor`` description or a plain mean/scale.

    Parameters
    ----------
    pre : dict or None
        The stored preprocessing; None (none stored) passes.
    n_inputs : int or None
        The network's input width, which the preprocessing's output must match;
        None skips that check.
    n_outputs : int or None
        The network's output width, which the number of stored class names must
        match (2 classes also fit 1 sigmoid output); None skips that check.
    path : str or Path
        The file being read; every error message names it.
    """
    if pre is None:
        return
    if not isinstance(pre, dict):
        _fail(path, f"its preprocessing must be an object, got {type(pre).__name__}")
    if "columns" in pre or "feature_names" in pre:
        from .preprocessing import Preprocessor

        try:
            described = Preprocessor.from_dict(pre)
        except (ValueError, TypeError, KeyError) as exc:
            _fail(path, f"its preprocessing is corrupt ({exc})")
        if n_inputs is not None and described.n_features != n_inputs:
            _fail(
                path,
                f"its preprocessing gives {described.n_features} inputs but the network takes "
                f"{n_inputs}",
            )
        if described.classes is not None and n_outputs is not None:
            k = len(described.classes)
            if k != n_outputs and not (k == 2 and n_outputs == 1):
                _fail(
                    path,
                    f"its preprocessing names {k} classes but the network has {n_outputs} outputs",
                )
        return
    for key in ("mean", "scale"):
        stored = pre.get(key)
        if stored is None:
            continue
        # a graph network's scaling may be given input by input: {input name: [numbers]}
        for values in stored.values() if isinstance(stored, dict) else [stored]:
            if not isinstance(values, list) or not all(_is_number(v) for v in values):
                _fail(
                    path,
                    f"its preprocessing {key} must be a list of numbers (or an object of them "
                    "by input name)",
                )
            if not all(math.isfinite(v) for v in values):
                _fail(path, f"its preprocessing {key} holds NaN or infinite values")
            if key == "scale" and not all(v > 0 for v in values):
                _fail(path, "its preprocessing scale must be > 0 everywhere")
    indices = pre.get("indices")
    if indices is not None and (
        not isinstance(indices, list) or not all(_is_int(i) and i >= 0 for i in indices)
    ):
        _fail(path, "its preprocessing indices must be a list of column numbers")


def check_optimizer_info(info, header: Header, shapes, parameters: list[str], path) -> None:
    """A checkpoint's optimizer: a known name, finite scalars, state arrays shaped like
    the parameters they belong to.

    Parameters
    ----------
    info : dict
        The stored optimizer: "name" and "scalars" (step, lr, ...).
    header : Header
        The checked header, whose ``optimizer.state.<i>.<key>`` entries are checked.
    shapes : dict
        Name -> shape of every network tensor (from ``check_architecture``).
    parameters : list of str
        The trainable parameters' names; state ``i`` belongs to ``parameters[i]``.
    path : str or Path
        The file being read; every error message names it.
    """
    from .optimizers import OPTIMIZERS

    if not isinstance(info, dict):
        _fail(path, f"its optimizer state must be an object, got {type(info).__name__}")
    name = info.get("name")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        _fail(path, f"its optimizer state names an unknown optimizer {name!r}")
    scalars = info.get("scalars", {})
    if not isinstance(scalars, dict):
        _fail(path, "its optimizer scalars must be an object")
    for key, value in scalars.items():
        if isinstance(value, bool):
            continue
        _finite(value, f"optimizer {key!r}", path)
    step = scalars.get("step", 0)
    if not _is_int(step) or not 0 <= step < 2**62:
        _fail(path, f"its optimizer step must be an integer >= 0, got {step!r}")
    if "lr" in scalars:
        _finite(scalars["lr"], "optimizer 'lr'", path, low=0)
    for key, entry in header.entries.items():
        if not key.startswith(OPTIMIZER_PREFIX):
            continue
        parts = key[len(OPTIMIZER_PREFIX) :].split(".")
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit():
            _fail(path, f"it has an unexpected optimizer tensor {key!r}")
        i = int(parts[1])
        if i >= len(parameters):
            _fail(path, f"optimizer tensor {key!r} names parameter {i} of {len(parameters)}")
        if entry.shape != shapes[parameters[i]]:
            _fail(
                path,
                f"optimizer tensor {key!r} has shape {list(entry.shape)} but parameter {i} has "
                f"{list(shapes[parameters[i]])}",
            )
        if entry.dtype.kind != "f":
            _fail(path, f"optimizer tensor {key!r} is {entry.dtype.name}, not floating point")


def check_random_info(info, header: Header, path) -> None:
    """A checkpoint's random state: ``{"shuffle": state or null, "dropout": [[i, state]]}``.

    Parameters
    ----------
    info : dict or None
        The stored generator states; None (none stored) passes.
    header : Header
        The checked header, whose random-state entries (only ``shuffle_order``,
        an int64 vector) are checked.
    path : str or Path
        The file being read; every error message names it.
    """
    for key in header.entries:
        if key.startswith(RANDOM_PREFIX) and key != RANDOM_PREFIX + "shuffle_order":
            _fail(path, f"it has an unexpected random-state tensor {key!r}")
    order = header.entries.get(RANDOM_PREFIX + "shuffle_order")
    if order is not None and (len(order.shape) != 1 or order.dtype != DTYPES["I64"]):
        _fail(path, "its shuffle_order must be a vector of int64")
    if info is None:
        return
    if not isinstance(info, dict):
        _fail(path, f"its random state must be an object, got {type(info).__name__}")
    shuffle = info.get("shuffle")
    if shuffle is not None and not isinstance(shuffle, dict):
        _fail(path, "its shuffling generator state must be an object")
    dropout = info.get("dropout", [])
    if not isinstance(dropout, list) or not all(
        isinstance(d, list) and len(d) == 2 and _is_int(d[0]) and isinstance(d[1], dict)
        for d in dropout
    ):
        _fail(path, "its Dropout generator states must be a list of [layer index, state]")


# -- the arrays --------------------------------------------------------------------------
def read_tensors(
    path: Path, header: Header, allow_nonfinite: bool = False
) -> dict[str, np.ndarray]:
    """The tensors, each read as exactly the bytes its checked entry names.

    Parameters
    ----------
    path : Path
        The safetensors file.
    header : Header
        Its checked header (from ``read_header``).
    allow_nonfinite : bool, default False
        Accept floating-point tensors holding NaN or inf (a diverged run);
        by default they are an error.
    """
    tensors = {}
    with open(path, "rb") as f:
        for name, entry in header.entries.items():
            f.seek(header.data_start + entry.begin)
            count = int(np.prod(entry.shape, dtype=np.int64))
            array = np.fromfile(f, dtype=entry.dtype, count=count)
            if array.size != count:
                _fail(path, f"tensor {name!r} is cut off")
            array = array.reshape(entry.shape).astype(entry.dtype.newbyteorder("="), copy=False)
            if array.dtype.kind == "f" and not allow_nonfinite and not np.isfinite(array).all():
                _fail(
                    path,
                    f"tensor {name!r} holds NaN or infinite values (a diverged training?); "
                    "load it anyway with allow_nonfinite=True",
                )
            tensors[name] = array
    for name, array in tensors.items():
        if name.endswith(".running_var") and not (array[np.isfinite(array)] >= 0).all():
            _fail(path, f"tensor {name!r} holds negative variances")
    return tensors


__all__ = [
    "MAX_FEATURES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "check_architecture",
    "check_history",
    "check_optimizer_info",
    "check_preprocessing",
    "check_random_info",
    "check_tensor_entries",
    "loads",
    "read_header",
    "read_tensors",
]

"""Model files: safetensors for the arrays, versioned JSON for the architecture.

No pickle anywhere: a model file holds only numbers and text, so loading one
cannot run code. The file is written under a temporary name and renamed into
place, so a crash never leaves a half-written model behind.

Layout of ``model.safetensors`` (format version 2, or 3 for a checkpoint
that carries training randomness):

    tensors   "<layer index>.<name>"   e.g. "0.weight", "0.bias", "1.running_mean"
              "optimizer.<key>"         checkpoints only: the optimizer's state
                                        arrays, e.g. "optimizer.state.0.exp_avg"
              "random.shuffle_order"    checkpoints only (format 3): ``fit``'s
                                        current row order
    metadata  (string -> string, each JSON where noted)
      "format":         "chainrule"
      "format_version": "2"
      "architecture":   JSON {"layers": [{"type": ..., "config": {...}}, ...],
                              "dtype": ..., "loss": ..., "metrics": ..., "seed": ...,
                              "chainrule_version": ...}
      "preprocessing":  JSON, optional: ``net.preprocessing_`` (see
                        chainrule.preprocessing; at least "mean" and
                        "scale", one number per network input)
      "history":        JSON, optional: ``net.history_``, per-epoch training
                        numbers {"loss": [...], ...}
      "optimizer":      JSON, checkpoints only: {"name": "adam", "scalars":
                        {"step": 12, "lr": 0.001, ...}}; with the
                        "optimizer.*" tensors this is ``optimizer.state_dict()``
      "random":         JSON, checkpoints only (format 3): {"shuffle": the
                        state of ``fit``'s shuffling generator or null,
                        "dropout": [[layer index, generator state], ...]}

Versions: format 1 is format 2 without the optional keys; format 3 is format
2 plus "random", written only for checkpoints that have it, so a plain model
file stays readable by chainrule versions that read format 2; format 4 is a
graph network (``cr.Network``): the architecture also holds "graph" (see
``graph_spec``), which older versions cannot read. This module reads all four. A file from a newer format is refused with a message saying
to upgrade chainrule.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from . import file_checks as checks
from ._optional import require
from .activations import ACTIVATIONS, Activation, FunctionActivation, get_activation
from .atomic import write_atomic
from .embedding import Embedding
from .layer import Layer
from .layers import BatchNorm, Dense, Dropout
from .merge import Add, Concatenate, Multiply
from .network import Network, Sequential, provides
from .node import Input, Node

FORMAT_VERSION = "4"
#: Every format version this module can read.
READABLE_VERSIONS = ("1", "2", "3", "4")
_RANDOM_VERSION = "3"  # a checkpoint with random state
_GRAPH_VERSION = "4"  # a graph network
_OPTIMIZER_PREFIX = "optimizer."
_RANDOM_PREFIX = "random."
#: Bit generators a checkpoint may name (a name from a file is never looked up freely).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _require_safetensors():
    return require(
        "safetensors.numpy",
        "saving and loading models needs the safetensors package",
        "safetensors",
    )


#: Every built-in layer but the activations, by the ``type`` its file entry names. A layer's
#: entry is ``{"type": layer.name, "config": layer.get_config()}`` and it is rebuilt as
#: ``cls(**config)``; an activation is ``{"type": "activation", "config": {"name", "config"}}``.
_LAYERS = {
    cls.name: cls for cls in (Dense, Dropout, BatchNorm, Embedding, Add, Multiply, Concatenate)
}


def _activation_spec(act: Activation) -> dict:
    if isinstance(act, FunctionActivation) or ACTIVATIONS.get(act.name) is not type(act):
        raise ValueError(
            f"cannot save the custom activation {act!r}: a model file holds no code. Rebuild the "
            "network in Python and load its weights with load_weights, or use a built-in activation"
        )
    return {"name": act.name, "config": act.get_config()}


def _layer_spec(layer: Layer) -> dict:
    if isinstance(layer, Activation):
        return {"type": "activation", "config": _activation_spec(layer)}
    if _LAYERS.get(layer.name) is not type(layer):
        raise ValueError(
            f"cannot save layer {layer!r}: only chainrule's built-in layers can be saved"
        )
    act = getattr(layer, "activation", None)
    if act is not None:
        _activation_spec(act)  # a custom activation inside a Dense is refused too
    return {"type": layer.name, "config": layer.get_config()}


def _build_layer(spec: dict) -> Layer:
    kind, config = spec["type"], dict(spec["config"])
    if kind == "activation":
        return get_activation(config)
    if kind not in _LAYERS:
        raise ValueError(f"unknown layer type {kind!r} in model file")
    if kind == "dense":
        config["weight_init"] = "zeros"  # the weights come from the file: skip the random draw
    return _LAYERS[kind](**config)


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
    """The JSON-able description of a network (no weights).

    Parameters
    ----------
    net : Sequential
        The network to describe.
    """
    from ._version import __version__

    arch = {
        "layers": [_layer_spec(layer) for layer in net.layers],
        "dtype": str(net.dtype),
        "loss": net.loss_,
        "metrics": getattr(net, "metrics_", None),
        "seed": net.seed,
        "chainrule_version": __version__,
    }
    if not isinstance(net, Sequential):
        arch["graph"] = graph_spec(net)
    return arch


def _optimizer_state(net: Sequential, optimizer) -> tuple[dict[str, np.ndarray], dict]:
    """Split ``optimizer.state_dict()`` into tensors and JSON scalars, after checks."""
    from .optimizers import OPTIMIZERS

    name = getattr(optimizer, "name", None)
    if OPTIMIZERS.get(name) is not type(optimizer):
        raise ValueError(
            f"cannot save the state of {type(optimizer).__name__}: only chainrule's built-in "
            f"optimizers ({', '.join(sorted(OPTIMIZERS))}) can be stored in a checkpoint"
        )
    if [id(p) for p in optimizer.parameters] != [id(p) for p in net.parameters()]:
        raise ValueError(
            "the optimizer was built for other parameters than this network's; a checkpoint "
            "pairs a network with the optimizer that trains it (net.parameters(), in order)"
        )
    tensors: dict[str, np.ndarray] = {}
    scalars: dict = {}
    for key, value in optimizer.state_dict().items():
        if isinstance(value, np.ndarray) and value.ndim > 0:
            tensors[_OPTIMIZER_PREFIX + key] = np.ascontiguousarray(value)
        else:
            scalars[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
    return tensors, {"name": name, "scalars": scalars}


def _random_state(net: Sequential) -> tuple[dict[str, np.ndarray], dict | None]:
    """``fit``'s shuffling and each Dropout's generator, for a checkpoint to resume."""
    tensors: dict[str, np.ndarray] = {}
    info: dict = {"shuffle": None, "dropout": []}
    shuffle = getattr(net, "_shuffle_state", None)
    if shuffle is not None:
        rng, order = shuffle
        info["shuffle"] = rng.bit_generator.state
        tensors[_RANDOM_PREFIX + "shuffle_order"] = np.ascontiguousarray(order, dtype=np.int64)
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dropout):
            info["dropout"].append([i, layer._rng.bit_generator.state])
    if info["shuffle"] is None and not info["dropout"]:
        return {}, None
    return tensors, info


def _generator(state: dict, path: Path) -> np.random.Generator:
    """A generator in exactly the state a checkpoint recorded."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"{path} names an unknown random generator {name!r}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
        raise ValueError(f"{path} holds a corrupt random generator state ({exc!r})") from exc
    return np.random.Generator(bit_generator)


def _restore_random_state(net: Sequential, path: Path, metadata, tensors) -> None:
    info = _metadata_json(path, metadata, "random")
    if not info:
        return
    if info.get("shuffle") is not None:
        order = tensors.get(_RANDOM_PREFIX + "shuffle_order")
        if order is None or order.ndim != 1:
            raise ValueError(f"{path} has a shuffling state but no shuffle_order vector")
        order = order.astype(np.intp)
        # fit gathers rows with mode="clip": a corrupt order must not reach it
        if not np.array_equal(np.sort(order), np.arange(len(order))):
            raise ValueError(f"{path} has a shuffle_order that is not a permutation of the rows")
        net._shuffle_state = (_generator(info["shuffle"], path), order)
    for i, state in info.get("dropout", []):
        if not (isinstance(i, int) and 0 <= i < len(net.layers)) or not isinstance(
            net.layers[i], Dropout
        ):
            raise ValueError(f"{path} has a Dropout generator for layer {i!r}, which is not one")
        net.layers[i]._rng = _generator(state, path)


@provides("save")
def save(net: Network, path: str | os.PathLike, optimizer=None) -> Path:
    """Write ``net`` to ``path`` (safetensors), atomically. Returns the path.

    Parameters
    ----------
    net : Network
        A ``Sequential`` or a graph ``Network``.
    path : str or path-like
        The file to write; its folder must exist. The data goes to a
        temporary file in the same folder, renamed over ``path`` only once
        complete, so an existing file is never left half-written.
    optimizer : Optimizer or None
        Also store its state (a checkpoint): read it back with
        ``load_checkpoint`` to continue training exactly where it stopped.
        A checkpoint also records where ``fit``'s shuffling and each
        Dropout's random draws had got to.
        ``net.preprocessing_`` and ``net.history_`` are stored when present.
    """
    st = _require_safetensors()
    path = Path(path)
    metadata = {
        "format": "chainrule",
        "format_version": "2",  # 3 only when the file needs it (below)
        "architecture": json.dumps(architecture(net)),
    }
    preprocessing = getattr(net, "preprocessing_", None)
    if preprocessing is not None:
        metadata["preprocessing"] = _json(preprocessing, "net.preprocessing_")
    history = getattr(net, "history_", None)
    if history is not None:
        metadata["history"] = _json(history, "net.history_")
    tensors = {k: np.ascontiguousarray(v) for k, v in _tensors(net).items()}
    if optimizer is not None:
        opt_tensors, opt_meta = _optimizer_state(net, optimizer)
        tensors.update(opt_tensors)
        metadata["optimizer"] = _json(opt_meta, "the optimizer state")
        random_tensors, random_info = _random_state(net)
        if random_info is not None:
            tensors.update(random_tensors)
            metadata["random"] = _json(random_info, "the random generator states")
            metadata["format_version"] = _RANDOM_VERSION
    if not isinstance(net, Sequential):
        metadata["format_version"] = _GRAPH_VERSION
    # serialised in memory and written by the one atomic writer: the safetensors
    # library's own save_file would leave its temporary file behind if killed
    data = st.save(tensors, metadata=metadata)
    return write_atomic(path, data)


def _json(value, what: str) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot store {what} in a model file: it is not JSON data ({exc})"
        ) from exc


def _read(
    path: str | os.PathLike, allow_nonfinite: bool = False
) -> tuple[Path, dict[str, str], dict[str, np.ndarray]]:
    """Metadata and tensors of a chainrule model file, after every check.

    Everything a file claims is checked (``chainrule.file_checks``) before
    any array is made, so a hostile file costs no more memory than its own
    size and raises one ``ValueError`` naming the problem.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    header = checks.read_header(path)
    metadata = header.metadata
    if metadata.get("format") != "chainrule":
        raise ValueError(
            f"{path} is a safetensors file but not a chainrule model (no chainrule metadata)"
        )
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        if isinstance(version, str) and version.isdigit() and int(version) > int(FORMAT_VERSION):
            from ._version import __version__

            raise ValueError(
                f"{path} was written by a newer chainrule (model format {version}); chainrule "
                f"{__version__} reads formats up to {FORMAT_VERSION}: upgrade it with "
                "pip install -U chainrule"
            )
        raise ValueError(f"{path} has an unknown chainrule model format version {version!r}")
    _check_metadata(path, header)
    return path, metadata, checks.read_tensors(path, header, allow_nonfinite)


def _check_metadata(path: Path, header) -> None:
    """Every metadata field against the others and the header, before anything is built."""
    metadata = header.metadata
    arch = _metadata_json(path, metadata, "architecture")
    if arch is None:
        raise ValueError(f"{path} has no network architecture in its metadata")
    shapes, parameters = checks.check_architecture(arch, path)
    checks.check_tensor_entries(header, shapes, arch["dtype"], path)
    widths = [v for k, v in shapes.items() if k.endswith(".weight") and len(v) == 2]
    chain = "graph" not in arch  # a graph's inputs and outputs are not its first and last layer
    n_in = widths[0][0] if widths and chain else None
    n_out = widths[-1][1] if widths and chain else None
    checks.check_preprocessing(_metadata_json(path, metadata, "preprocessing"), n_in, n_out, path)
    checks.check_history(_metadata_json(path, metadata, "history"), path)
    optimizer = _metadata_json(path, metadata, "optimizer")
    if optimizer is not None:
        checks.check_optimizer_info(optimizer, header, shapes, parameters, path)
    elif any(k.startswith(_OPTIMIZER_PREFIX) for k in header.entries):
        raise ValueError(f"{path} has optimizer tensors but no optimizer metadata")
    checks.check_random_info(_metadata_json(path, metadata, "random"), header, path)


def _metadata_json(path: Path, metadata: dict[str, str], key: str):
    if key not in metadata:
        return None
    try:
        return checks.loads(metadata[key], f"{key!r} metadata", path)
    except ValueError as exc:
        raise ValueError(f"{path} has corrupt {key!r} metadata: {exc}") from None


def _build(path: Path, metadata: dict[str, str], tensors: dict[str, np.ndarray]) -> Sequential:
    arch = _metadata_json(path, metadata, "architecture")
    try:
        layers = [_build_layer(s) for s in arch["layers"]]
        if "graph" in arch:
            net = build_graph(arch["graph"], layers, np.dtype(arch["dtype"]))
        else:
            net = Sequential(*layers, dtype=np.dtype(arch["dtype"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} has a corrupt architecture ({exc!r})") from exc
    net.seed = arch.get("seed")
    net.loss_ = arch.get("loss")
    net.metrics_ = arch.get("metrics")
    net.preprocessing_ = _metadata_json(path, metadata, "preprocessing")
    net.history_ = _metadata_json(path, metadata, "history")
    weights = {
        k: v for k, v in tensors.items() if not k.startswith((_OPTIMIZER_PREFIX, _RANDOM_PREFIX))
    }
    expected = set(_tensors(net))
    if expected != set(weights):
        raise ValueError(
            f"{path} does not match its own architecture: missing {sorted(expected - set(weights))}, "
            f"unexpected {sorted(set(weights) - expected)}"
        )
    load_weights(net, weights)
    return net


def load(path: str | os.PathLike, allow_nonfinite: bool = False) -> Network:
    """Read a network written by ``save``; its predictions are bit-identical.

    Sets ``net.preprocessing_`` and ``net.history_`` (``None`` when the file
    holds none). A checkpoint's optimizer state is ignored: see
    ``load_checkpoint``.

    The network comes back in evaluation mode (``net.eval()``), ready for
    inference: ``net(X)`` applies no dropout and BatchNorm uses its running
    statistics. ``fit`` switches to training mode by itself; call
    ``net.train()`` before a hand-written training loop.

    Parameters
    ----------
    path : str or path-like
    allow_nonfinite : bool
        Load a file whose weights hold NaN or infinity (refused by default:
        such a network answers one class for every row).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is truncated, is not a chainrule model, comes from a
        newer chainrule (format version above ``FORMAT_VERSION``), or any of
        its fields is out of range or disagrees with its tensors (see
        ``chainrule.file_checks``); nothing large is allocated before.
    """
    net = _build(*_read(path, allow_nonfinite))
    net.eval()
    return net


def load_checkpoint(path: str | os.PathLike, allow_nonfinite: bool = False):
    """Read a checkpoint written by ``save(net, path, optimizer=opt)``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.safetensors`` checkpoint.
    allow_nonfinite : bool, default False
        Load tensors holding NaN or inf (a diverged run) instead of refusing
        the file, as in ``load``.

    Returns
    -------
    net : Sequential
    optimizer : Optimizer
        Of the saved class, on ``net.parameters()``, with its step count,
        hyperparameters and state arrays restored.

    Notes
    -----
    ``fit(net, X, y, optimizer=optimizer, ...)`` then continues training
    where it stopped, bit for bit as an uninterrupted run: the file records
    the optimizer's state, where ``fit``'s shuffling had got to and each
    Dropout's generator, and ``validation_split`` draws the same split from
    the network's seed at every call (when the network has a seed). Two things are not stored: a
    learning-rate schedule's state (pass a schedule positioned where it was)
    and a ``seed`` given to ``fit`` (it restarts the shuffling; leave it out
    when resuming). The network is in training mode, as it was when
    training stopped.
    """
    path, metadata, tensors = _read(path, allow_nonfinite)
    net = _build(path, metadata, tensors)
    info = _metadata_json(path, metadata, "optimizer")
    if info is None:
        raise ValueError(
            f"{path} holds no optimizer state: it was saved without optimizer=...; load the "
            "network alone with chainrule.load"
        )
    from .optimizers import get_optimizer

    state = dict(info.get("scalars", {}))
    n = len(_OPTIMIZER_PREFIX)
    state.update({k[n:]: v for k, v in tensors.items() if k.startswith(_OPTIMIZER_PREFIX)})
    try:
        optimizer = get_optimizer(info["name"], net.parameters())
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path} holds an unusable optimizer state ({exc})") from exc
    _restore_random_state(net, path, metadata, tensors)
    return net, optimizer


def read_metadata(path: str | os.PathLike) -> dict:
    """The decoded metadata of a model file, without building the network.

    Returns a dict with ``format``, ``format_version`` (str) and, decoded
    from JSON, ``architecture``, ``preprocessing``, ``history``,
    ``optimizer`` and ``random`` (``None`` when absent), plus ``tensors``:
    name -> shape.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.safetensors`` model file.
    """
    path, metadata, tensors = _read(path)
    out: dict = {"format": metadata["format"], "format_version": metadata["format_version"]}
    for key in ("architecture", "preprocessing", "history", "optimizer", "random"):
        out[key] = _metadata_json(path, metadata, key)
    out["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
    return out


def load_weights(net: Sequential, tensors: dict[str, np.ndarray]) -> None:
    """Copy arrays named like ``save`` writes them into ``net``'s parameters.

    Parameters
    ----------
    net : Sequential
        The network to fill, in place.
    tensors : dict of str to ndarray
        Arrays by tensor name (``"0.dense.weight"``...), shapes matching the network's.
    """
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


# -- graph networks: the connections between the layers ------------------------------------
def graph_spec(net: Network) -> dict:
    """The connections of a graph network, for its file's architecture.

    ``{"inputs": [{"name", "n_features"}...], "nodes": [{"name", "layer", "inputs"}...],
    "outputs": [names]}``: every node in ``net.nodes`` order after the inputs, with
    ``layer`` its layer's index in ``net.layers`` (a shared layer's index appears
    twice) and ``inputs`` its parents' names.

    Parameters
    ----------
    net : Network
        The network to describe.
    """
    index = {id(layer): i for i, layer in enumerate(net.layers)}
    return {
        "inputs": [{"name": x.name, "n_features": x.n_features} for x in net.inputs],
        "nodes": [
            {
                "name": node.name,
                "layer": index[id(node.layer)],
                "inputs": [p.name for p in node.inputs],
            }
            for node in net.nodes
            if node.layer is not None
        ],
        "outputs": [o.name for o in net.outputs],
        "single_output": net._single_output,
        "loss_weights": getattr(net, "loss_weights_", None),
    }


def build_graph(spec: dict, layers: list, dtype) -> Network:
    """The ``Network`` that ``graph_spec`` describes, on ``layers`` (``net.layers`` order).

    Parameters
    ----------
    spec : dict
        As ``graph_spec`` wrote it.
    layers : list of Layer
        The network's layers, rebuilt, in ``net.layers`` order.
    dtype : numpy dtype
        The network's float type.
    """
    nodes: dict[str, Node] = {}
    inputs = []
    for item in spec["inputs"]:
        nodes[item["name"]] = Input(item["n_features"], name=item["name"])
        inputs.append(nodes[item["name"]])
    for item in spec["nodes"]:
        k = item["layer"]
        if not (isinstance(k, int) and 0 <= k < len(layers)) or item["name"] in nodes:
            raise ValueError(f"node {item['name']!r} is corrupt ({item})")
        parents = [nodes[name] for name in item["inputs"]]
        nodes[item["name"]] = layers[k](*parents, name=item["name"])
    outputs = [nodes[name] for name in spec["outputs"]]
    net = Network(inputs, outputs[0] if spec.get("single_output") else outputs, dtype=dtype)
    if len(net.layers) != len(layers) or any(a is not b for a, b in zip(net.layers, layers)):
        raise ValueError("the graph does not use its layers in the order they are listed")
    net.loss_weights_ = spec.get("loss_weights")
    return net

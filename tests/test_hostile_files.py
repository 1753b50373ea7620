"""Hostile model files: each is refused by one ValueError that names the problem, cheaply.

Every file here is made in the test from a valid model (or from nothing) by
changing one thing: the container (header length, JSON, byte ranges), the
architecture (shape bombs, bad sizes, activation parameters), the tensors
(shapes, dtypes, NaN), the metadata (preprocessing, history) or a
checkpoint's optimizer and random state. A shape bomb claims a layer of
15000 x 15000 or 1e5 x 1e5 in a file of a few kilobytes; a subprocess
checks that refusing those costs at most 50 MB over the process baseline
(the old loader allocated 2.7-4.6 GB first, or died with MemoryError).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule.file_checks import MAX_HEADER_BYTES, MAX_JSON_DEPTH
from chainrule.preprocessing import Preprocessor

pytest.importorskip("safetensors")


# -- a valid model and a checkpoint, taken apart ------------------------------------------------
def _model():
    net = cr.Sequential(
        cr.Dense(4, 8, activation=cr.ELU(1.0)),
        cr.BatchNorm(8),
        cr.Dropout(0.25),
        cr.Dense(8, 6, activation=cr.Softplus(beta=2.0)),
        cr.LeakyReLU(0.1),
        cr.Dense(6, 3),
        seed=0,
    )
    return net


def _parts(path):
    """(tensor header entries, metadata, data bytes) of a safetensors file."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__")
    return header, metadata, raw[8 + n :]


def _pack(header: dict, metadata, data: bytes) -> bytes:
    full = dict(header)
    if metadata is not ...:
        full["__metadata__"] = metadata
    text = json.dumps(full).encode()
    return len(text).to_bytes(8, "little") + text + data


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The parts of a plain model file and of a checkpoint (with optimizer and RNG state)."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 4)), rng.integers(0, 3, 32)
    net = _model()
    net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=8)
    net.preprocessing_ = Preprocessor.identity(
        ["a", "b", "c", "d"], "classify", classes=["x", "y", "z"]
    ).to_dict()
    net.save(folder / "model.safetensors")
    net.save(folder / "checkpoint.safetensors", optimizer=net.optimizer_)
    cr.load(folder / "model.safetensors")  # both are valid to begin with
    cr.load_checkpoint(folder / "checkpoint.safetensors")
    x = cr.Input(3, name="x")
    h = cr.Dense(3, 4, activation="tanh")(x)
    s = cr.Add()(h, cr.Dense(4, 4)(h))
    graph = cr.Network(inputs=x, outputs=cr.Dense(4, 2)(s), seed=0)
    graph.loss_ = "cross_entropy"
    graph.save(folder / "graph.safetensors")
    cr.load(folder / "graph.safetensors")
    return {
        "model": _parts(folder / "model.safetensors"),
        "checkpoint": _parts(folder / "checkpoint.safetensors"),
        "graph": _parts(folder / "graph.safetensors"),
    }


# -- the cases -----------------------------------------------------------------------------------
# Each case: (kind, change, expected message). ``kind`` "model" mutates the plain model and
# loads it with cr.load; "checkpoint" mutates the checkpoint and loads it with load_checkpoint;
# "raw" is a function returning the whole file's bytes.
CASES: dict[str, tuple] = {}


def case(name, kind, message):
    def register(change):
        assert name not in CASES
        CASES[name] = (kind, change, message)
        return change

    return register


def raw(name, data: bytes, message):
    CASES[name] = ("raw", lambda: data, message)


def _len8(n: int) -> bytes:
    return n.to_bytes(8, "little")


# container: bytes that are not a (complete) safetensors file
SOMETHING_ELSE = "not a chainrule model file .expected a safetensors model"
raw("empty file", b"", SOMETHING_ELSE)
raw("four bytes", b"abcd", SOMETHING_ELSE)
raw("header length 0", _len8(0) + b'{"', SOMETHING_ELSE)
raw("header length 1", _len8(1) + b'{"', SOMETHING_ELSE)
raw("text file", b"a,b\n1,2\n3,4\n", SOMETHING_ELSE)
raw("pickle bytes", b"\x80\x04\x95" + b"\x00" * 40, SOMETHING_ELSE)
raw("header length 2**63", _len8(2**63) + b'{"a": 1}', "truncated .the header alone needs")
raw("header length 2**64-1", _len8(2**64 - 1) + b'{"a": 1}', "truncated .the header alone needs")
raw("header length past the end", _len8(500) + b'{"a": 1}', "truncated .the header alone needs")
raw(
    "header above the bound",
    _len8(MAX_HEADER_BYTES + 1) + b'{"' + b" " * (MAX_HEADER_BYTES - 1),
    f"more than the {MAX_HEADER_BYTES} allowed",
)
raw("header not JSON", _len8(6) + b'{"abc"', "header is corrupt .*not valid JSON")
raw("header invalid UTF-8", _len8(5) + b'{"\xff\xfe}', "header is corrupt")
raw("header JSON array", _len8(4) + b'{"a"', "header is corrupt")
raw(
    "header nested 100000 deep",
    _len8(5 + 200000) + b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}",
    "nested too deeply",
)
raw(
    "header nested 40 deep",
    _len8(7 + 80) + b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
    "nested too deeply",
)


def _header_case(name, entries: dict, message, data: bytes = b"", metadata=None):
    meta = {"format": "chainrule", "format_version": "2"} if metadata is None else metadata
    CASES[name] = ("raw", lambda: _pack(entries, meta, data), message)


def _t(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


_header_case("metadata a list", {}, "metadata must be a JSON object of strings", metadata=[1, 2])
_header_case("metadata a string", {}, "metadata must be a JSON object of strings", metadata="x")
_header_case("metadata number values", {}, "metadata must be a JSON object of strings", metadata={"format": 3})  # fmt: skip
_header_case("tensor entry a number", {"0.weight": 5}, "not an object", b"")
_header_case("unknown dtype", {"w": _t(dtype="F8_E4M3")}, "has dtype 'F8_E4M3'", b"\0" * 8)
_header_case("dtype missing", {"w": {"shape": [2], "data_offsets": [0, 8]}}, "has dtype None", b"\0" * 8)  # fmt: skip
_header_case("dtype a list", {"w": _t(dtype=["F32"])}, "has dtype", b"\0" * 8)
_header_case("shape a string", {"w": _t(shape="22")}, "sizes must be integers from 0", b"\0" * 8)
_header_case("shape negative", {"w": _t(shape=(-2,))}, "sizes must be integers from 0", b"\0" * 8)
_header_case("shape float", {"w": _t(shape=(2.0,))}, "sizes must be integers from 0", b"\0" * 8)
_header_case("shape bool", {"w": _t(shape=(True, 2))}, "sizes must be integers from 0", b"\0" * 8)
_header_case("shape 9 dims", {"w": _t(shape=(1,) * 9)}, "not a list of at most 8 sizes", b"\0" * 8)
_header_case("shape 2**50", {"w": _t(shape=(2**50,))}, "sizes must be integers from 0 to 2", b"\0" * 8)  # fmt: skip
_header_case(
    "header shape bomb 15000x15000",
    {"w": _t(shape=(15000, 15000), offsets=(0, 15000 * 15000 * 4))},
    "truncated .its header announces",
    b"\0" * 8,
)
_header_case(
    "header shape bomb 1e5x1e5 small offsets",
    {"w": _t(shape=(100000, 100000), offsets=(0, 8))},
    "claims shape .100000, 100000., more bytes than the file",
    b"\0" * 8,
)
_header_case(
    "header shape bomb 0 x 2**41",
    {"w": _t(shape=(0, 2**41), offsets=(0, 0)), "v": _t(offsets=(0, 8))},
    "sizes must be integers from 0 to 2..40",
    b"\0" * 8,
)
_header_case("offsets one number", {"w": _t(offsets=(8,))}, "data offsets .8. outside", b"\0" * 8)
_header_case(
    "offsets reversed", {"w": _t(offsets=(8, 0))}, "data offsets .8, 0. outside", b"\0" * 8
)
_header_case("offsets negative", {"w": _t(offsets=(-8, 0))}, "data offsets .-8, 0. outside", b"\0" * 8)  # fmt: skip
_header_case("offsets strings", {"w": _t(offsets=("0", "8"))}, "outside the file", b"\0" * 8)
_header_case("offsets span wrong", {"w": _t(offsets=(0, 4))}, "its data offsets span 4 bytes", b"\0" * 8)  # fmt: skip
_header_case(
    "offsets overlap",
    {"w": _t(offsets=(0, 8)), "v": _t(offsets=(4, 12))},
    "overlapping or missing data",
    b"\0" * 12,
)
_header_case(
    "offsets gap",
    {"w": _t(offsets=(0, 8)), "v": _t(offsets=(12, 20))},
    "overlapping or missing data",
    b"\0" * 20,
)
_header_case("trailing garbage", {"w": _t()}, "trailing or missing data", b"\0" * 16)
_header_case("no chainrule metadata", {"w": _t()}, "not a chainrule model", b"\0" * 8, metadata={})


# truncations and appendages of a real model file
for cut in (1, 7, 100, 1000):

    @case(f"truncated by {cut} bytes", "bytes", "truncated")
    def _cut(data: bytes, cut=cut) -> bytes:
        return data[:-cut]


@case("cut inside the header", "bytes", "truncated .the header alone")
def _cut_header(data):
    return data[:60]


@case("one byte appended", "bytes", "trailing or missing data")
def _append(data):
    return data + b"\0"


# metadata: format fields
def _meta(name, key, value, message, kind="model"):
    def change(header, metadata, data):
        if value is ...:
            metadata.pop(key, None)
        else:
            metadata[key] = value

    CASES[name] = (kind, change, message)


_meta("format missing", "format", ..., "not a chainrule model")
_meta("format other", "format", "pytorch", "not a chainrule model")
_meta("newer format", "format_version", "9", r"newer chainrule \(model format 9\)")
_meta("format version text", "format_version", "abc", "unknown chainrule model format version")
_meta("no architecture", "architecture", ..., "no network architecture")
_meta("architecture not JSON", "architecture", "{layers", "corrupt 'architecture' metadata.*not valid JSON")  # fmt: skip
_meta("architecture a list", "architecture", "[1, 2]", "architecture is a JSON list, not an object")
_meta("architecture null", "architecture", "null", "no network architecture")
_meta(
    "architecture nested 100000 deep",
    "architecture",
    '{"layers": ' + "[" * 100000 + "]" * 100000 + "}",
    "nested too deeply",
)
_meta(
    f"architecture nested {MAX_JSON_DEPTH + 1} deep",
    "architecture",
    '{"x": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}",
    "nested too deeply",
)
_meta("preprocessing not JSON", "preprocessing", "{mean", "corrupt 'preprocessing' metadata")
_meta(
    "preprocessing a list", "preprocessing", "[0, 1]", "preprocessing must be an object, got list"
)
_meta("history a list", "history", "[1, 2]", "history must be an object, got list")
_meta("history of text", "history", '{"loss": ["a"]}', "history 'loss' must be a list of numbers")
_meta(
    "history values a number", "history", '{"loss": 3}', "history 'loss' must be a list of numbers"
)
_meta(
    "history nested deep",
    "history",
    '{"loss": ' + "[" * 5000 + "]" * 5000 + "}",
    "nested too deeply",
)


# architecture fields
def _arch(name, change_arch, message, kind="model"):
    def change(header, metadata, data):
        arch = json.loads(metadata["architecture"])
        change_arch(arch)
        metadata["architecture"] = json.dumps(arch)

    CASES[name] = (kind, change, message)


def _set(path, value):
    """A change that sets arch[path...] = value (``...`` deletes)."""

    def change(arch):
        target = arch
        for key in path[:-1]:
            target = target[key]
        if value is ...:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


DENSE0 = ("layers", 0, "config")
for value in ("float16", "int8", None, 32, "object", ["float32"], {"a": 1}):
    _arch(f"dtype {value!r}", _set(("dtype",), value), "expected 'float32' or 'float64'")
_arch("layers missing", _set(("layers",), ...), "has no list of layers")
_arch("layers empty", _set(("layers",), []), "has no list of layers")
_arch("layers a dict", _set(("layers",), {"0": {}}), "has no list of layers")
_arch("10001 layers", _set(("layers",), [{"type": "dropout", "config": {"p": 0.1}}] * 10001), "more than 10000")  # fmt: skip
_arch("layer a string", _set(("layers", 1), "dense"), "layer 1 is a str, not an object")
_arch("layer type a dict", _set(("layers", 1, "type"), {"dense": 1}), "layer 1 has an unknown type")  # fmt: skip
_arch("layer type unknown", _set(("layers", 1, "type"), "conv2d"), "layer 1 has an unknown type 'conv2d'")  # fmt: skip
_arch("layer type missing", _set(("layers", 1, "type"), ...), "layer 1 lacks the field.s. 'type'")
_arch("layer config missing", _set(("layers", 1, "config"), ...), "layer 1 lacks the field.s. 'config'")  # fmt: skip
_arch(
    "layer config a list", _set(("layers", 1, "config"), [8]), "layer 1: config must be an object"
)
_arch("layer extra field", _set(("layers", 1, "code"), "import os"), "layer 1 has unknown field.s. 'code'")  # fmt: skip
_arch("dense unknown config", _set((*DENSE0, "weight_init"), "zeros"), "unknown field.s. 'weight_init'")  # fmt: skip
for key in ("in_features", "out_features"):
    for value in (0, -5, 1.5, "4", True, None, 2**25, 10**400):
        shown = "huge" if value == 10**400 else repr(value)
        _arch(
            f"dense {key} {shown}",
            _set((*DENSE0, key), value),
            f"layer 0 .dense. {key} must be an integer from 1 to 16777216",
        )
_arch("dense in_features missing", _set((*DENSE0, "in_features"), ...), "lacks the field.s. 'in_features'")  # fmt: skip


def _bomb_file(n_in, n_out):
    """A 1-layer architecture claiming Dense(n_in, n_out) over a 4x8 weight: ~400 bytes."""
    arch = {
        "layers": [{"type": "dense", "config": {"in_features": n_in, "out_features": n_out}}],
        "dtype": "float32",
    }
    meta = {"format": "chainrule", "format_version": "2", "architecture": json.dumps(arch)}
    tensors = {"0.weight": _t(shape=(4, 8), offsets=(0, 128)), "0.bias": _t(shape=(8,), offsets=(128, 160))}  # fmt: skip
    return _pack(tensors, meta, b"\0" * 160)


SHAPE_BOMBS = {
    "shape bomb 15000x15000": (15000, 15000),
    "shape bomb 20000x20000": (20000, 20000),
    "shape bomb 1e5x1e5": (100000, 100000),
    "shape bomb 16777216x16777216": (2**24, 2**24),
    "shape bomb 4x16777216": (4, 2**24),
    "shape bomb 1e9x1": (10**9, 1),
}
for name, (a, b) in SHAPE_BOMBS.items():
    if max(a, b) <= 2**24:
        message = f"tensor '0.weight' has shape .4, 8. but the architecture needs .{a}, {b}."
    else:
        message = "must be an integer from 1 to 16777216"
    raw(name, _bomb_file(a, b), message)
_arch("shape bomb 1e5x1e5 as a 2nd layer", _set((*DENSE0[:1], 3, "config", "in_features"), 100000), "layer 3 takes 100000 inputs but the layer before gives 8")  # fmt: skip
_arch(
    "shape bomb 15000 wide middle layer",
    lambda a: (
        _set(("layers", 3, "config", "out_features"), 15000)(a),
        _set(("layers", 5, "config", "in_features"), 15000)(a),
    ),
    "tensor '3.(weight|bias)' has shape .(8, )?6. but the architecture needs .(8, )?15000.",
)
_arch("widths disagree", _set(("layers", 3, "config", "in_features"), 7), "layer 3 takes 7 inputs but the layer before gives 8")  # fmt: skip
_arch("batch_norm width", _set(("layers", 1, "config", "num_features"), 9), "normalises 9 features but the layer before gives 8")  # fmt: skip
_arch("batch_norm eps 0", _set(("layers", 1, "config", "eps"), 0.0), r"eps must be > 0")
_arch("batch_norm eps -1", _set(("layers", 1, "config", "eps"), -1.0), r"eps must be > 0")
_arch("batch_norm eps NaN", _set(("layers", 1, "config", "eps"), math.nan), "eps must be a finite number")  # fmt: skip
_arch("batch_norm momentum 2", _set(("layers", 1, "config", "momentum"), 2.0), "momentum must be <= 1")  # fmt: skip
_arch("batch_norm momentum inf", _set(("layers", 1, "config", "momentum"), math.inf), "momentum must be a finite number")  # fmt: skip
_arch("dropout p 1", _set(("layers", 2, "config", "p"), 1.0), "dropout. p must be below 1")
_arch("dropout p -0.1", _set(("layers", 2, "config", "p"), -0.1), r"dropout. p must be >= 0")
_arch("dropout p NaN", _set(("layers", 2, "config", "p"), math.nan), "dropout. p must be a finite number")  # fmt: skip
_arch("dropout p text", _set(("layers", 2, "config", "p"), "0.5"), "dropout. p must be a finite number")  # fmt: skip
ACT0 = (*DENSE0, "activation")
ACT3 = ("layers", 3, "config", "activation")
_arch("ELU alpha inf", _set((*ACT0, "config", "alpha"), math.inf), r"\(elu\) alpha must be a finite number, got inf")  # fmt: skip
_arch("ELU alpha -inf", _set((*ACT0, "config", "alpha"), -math.inf), r"\(elu\) alpha must be a finite number")  # fmt: skip
_arch("ELU alpha NaN", _set((*ACT0, "config", "alpha"), math.nan), r"\(elu\) alpha must be a finite number")  # fmt: skip
_arch("ELU alpha text", _set((*ACT0, "config", "alpha"), "1"), r"\(elu\) alpha must be a finite number")  # fmt: skip
_arch("ELU alpha null", _set((*ACT0, "config", "alpha"), None), r"\(elu\) alpha must be a finite number")  # fmt: skip
_arch("ELU alpha huge int", _set((*ACT0, "config", "alpha"), 10**400), r"\(elu\) alpha must be a finite number")  # fmt: skip
_arch("ELU unknown parameter", _set((*ACT0, "config", "gamma"), 1.0), r"\(elu\) has unknown field.s. 'gamma'")  # fmt: skip
_arch("softplus beta 0", _set((*ACT3, "config", "beta"), 0.0), r"\(softplus\) beta must be > 0, got 0.0")  # fmt: skip
_arch("softplus beta -1", _set((*ACT3, "config", "beta"), -1.0), r"\(softplus\) beta must be > 0")
_arch("softplus beta NaN", _set((*ACT3, "config", "beta"), math.nan), r"\(softplus\) beta must be a finite number")  # fmt: skip
_arch("softplus threshold NaN", _set((*ACT3, "config", "threshold"), math.nan), r"\(softplus\) threshold must be a finite number")  # fmt: skip
_arch("leaky_relu slope NaN", _set(("layers", 4, "config", "config", "negative_slope"), math.nan), r"\(leaky_relu\) negative_slope must be a finite number")  # fmt: skip
_arch("gelu approximate unknown", _set(("layers", 4, "config"), {"name": "gelu", "config": {"approximate": "fast"}}), "approximate must be one of 'none', 'tanh'")  # fmt: skip
_arch("activation unknown", _set((*ACT0, "name"), "os.system"), "names an unknown activation 'os.system'")  # fmt: skip
_arch("activation name a number", _set((*ACT0, "name"), 3), "names an unknown activation 3")
_arch("activation a string", _set(ACT0, "relu"), "activation must be an object, got str")
_arch("activation config a list", _set((*ACT0, "config"), [1.0]), "config must be an object, got list")  # fmt: skip
_arch("relu with a parameter", _set(("layers", 4, "config"), {"name": "relu", "config": {"x": 1}}), r"\(relu\) has unknown field.s. 'x'")  # fmt: skip
_arch("loss unknown", _set(("loss",), "cross_entropyy"), "unknown loss 'cross_entropyy'")
_arch("loss a number", _set(("loss",), 5), "unknown loss 5")
_arch("metrics a string", _set(("metrics",), "accuracy"), "metrics must be a list of names")
_arch("metric unknown", _set(("metrics",), ["accuracy", "eval"]), "unknown metric 'eval'")
_arch("seed negative", _set(("seed",), -1), "seed must be a non-negative integer")
_arch("seed text", _set(("seed",), "0"), "seed must be a non-negative integer")
_arch("seed float", _set(("seed",), 1.5), "seed must be a non-negative integer")
_arch("version a number", _set(("chainrule_version",), 1.0), "chainrule_version must be text")


# tensors against the architecture
def _tensor_case(name, change_entries, message, kind="model"):
    CASES[name] = (kind, change_entries, message)


def _drop(key):
    def change(header, metadata, data):
        del header[key]
        return "repack"

    return change


def _retype(key, dtype, shape=None):
    def change(header, metadata, data):
        header[key]["dtype"] = dtype
        if shape is not None:
            header[key]["shape"] = shape

    return change


_tensor_case("weight missing", _drop("5.bias"), "missing .'5.bias'.")
_tensor_case("running_var missing", _drop("1.running_var"), "missing .'1.running_var'.")
_tensor_case("weight transposed", _retype("0.weight", "F32", [8, 4]), r"tensor '0.weight' has shape \[8, 4\] but the architecture needs \[4, 8\]")  # fmt: skip
_tensor_case("bias as a matrix", _retype("5.bias", "F32", [3, 1]), r"tensor '5.bias' has shape \[3, 1\]")  # fmt: skip
_tensor_case("weights as int32", _retype("0.weight", "I32"), "tensor '0.weight' is int32; this float32 network needs float32")  # fmt: skip
_tensor_case("bias as uint8 x4", _retype("5.bias", "U8", [12]), r"tensor '5.bias' has shape \[12\]")  # fmt: skip
_tensor_case("weights as float16", _retype("3.weight", "F16", [8, 12]), r"has shape \[8, 12\]")


def _nonfinite(key, index, value):
    def change(header, metadata, data):
        entry = header[key]
        array = np.frombuffer(
            data, dtype="<f4", count=1, offset=entry["data_offsets"][0] + 4 * index
        )
        assert np.isfinite(array).all()
        patched = bytearray(data)
        start = entry["data_offsets"][0] + 4 * index
        patched[start : start + 4] = np.float32(value).tobytes()
        return bytes(patched)

    return change


for key, value in [("0.weight", math.nan), ("0.weight", math.inf), ("5.bias", -math.inf), ("1.running_mean", math.nan), ("3.weight", math.nan)]:  # fmt: skip
    _tensor_case(
        f"{value} in {key}",
        _nonfinite(key, 1, value),
        f"tensor '{key}' holds NaN or infinite values .a diverged training.*allow_nonfinite=True",
    )
_tensor_case("negative running variance", _nonfinite("1.running_var", 0, -1.0), "'1.running_var' holds negative variances")  # fmt: skip
_tensor_case("extra tensor", lambda h, m, d: h.update({"6.weight": dict(h["5.bias"])}), "overlapping or missing data")  # fmt: skip


# preprocessing: a full description (Preprocessor.identity) changed one field at a time
def _pre(name, change_pre, message):
    def change(header, metadata, data):
        pre = json.loads(metadata["preprocessing"])
        change_pre(pre)
        metadata["preprocessing"] = json.dumps(pre)

    CASES[name] = ("model", change, message)


def _pset(key, value):
    def change(pre):
        if value is ...:
            del pre[key]
        else:
            pre[key] = value

    return change


_pre("scale NaN", _pset("scale", [1.0, math.nan, 1.0, 1.0]), "'scale' holds NaN or infinite values")
_pre("scale 0", _pset("scale", [1.0, 0.0, 1.0, 1.0]), "'scale' must be > 0")
_pre("scale negative", _pset("scale", [1.0, -2.0, 1.0, 1.0]), "'scale' must be > 0")
_pre("scale text", _pset("scale", ["1", 1.0, 1.0, 1.0]), "'scale' must be a list of numbers")
_pre("mean inf", _pset("mean", [math.inf, 0.0, 0.0, 0.0]), "'mean' holds NaN or infinite values")
_pre("mean a number", _pset("mean", 0.0), "'mean' must be a list of numbers")
_pre("mean missing", _pset("mean", ...), "no mean/scale")
_pre("mean too short", _pset("mean", [0.0]), "mean, scale and feature_names differ in length")
_pre("widths disagree with network", lambda p: p.update(feature_names=list("abcde"), mean=[0.0] * 5, scale=[1.0] * 5, columns=[{"name": c, "kind": "numeric", "fill": 0.0} for c in "abcde"]), "preprocessing gives 5 inputs but the network takes 4")  # fmt: skip
_pre("task unknown", _pset("task", "cluster"), "'task' must be one of")
_pre("impute unknown", _pset("impute", "zero"), "'impute' is not a known policy")
_pre("column kind unknown", lambda p: p["columns"][0].update(kind="image"), "has kind 'image'")
_pre("column name a number", lambda p: p["columns"][0].update(name=3), "text 'name'")
_pre("column fill NaN", lambda p: p["columns"][0].update(fill=math.nan), "fill of column a' must be a finite number")  # fmt: skip
_pre("categories not a list", lambda p: p["columns"][0].update(kind="categorical", categories="ab", fill="a"), "must list its categories as text")  # fmt: skip
_pre("columns disagree with feature names", lambda p: p["columns"].pop(), "columns encode 3 inputs but 'feature_names' lists 4")  # fmt: skip
_pre("one class", _pset("classes", ["x"]), "at least two 'classes'")
_pre("classes as objects", _pset("classes", [{"a": 1}, "y", "z"]), "'classes' must be numbers or text")  # fmt: skip
_pre("classes disagree with outputs", _pset("classes", ["x", "y", "z", "w"]), "names 4 classes but the network has 3 outputs")  # fmt: skip
_pre("target a number", _pset("target", 5), "'target' must be text")
_pre("ignore a string", _pset("ignore", "id"), "'ignore' must be a list of column names")
_pre("newer preprocessing", _pset("version", 99), "newer chainrule")
_meta("plain scale 0", "preprocessing", '{"mean": [0, 0, 0, 0], "scale": [1, 0, 1, 1]}', "preprocessing scale must be > 0")  # fmt: skip
_meta("plain scale NaN", "preprocessing", '{"mean": [0, 0, 0, 0], "scale": [1, NaN, 1, 1]}', "preprocessing scale holds NaN")  # fmt: skip
_meta("plain mean text", "preprocessing", '{"mean": "0", "scale": [1, 1, 1, 1]}', "preprocessing mean must be a list of numbers")  # fmt: skip


# checkpoints: optimizer and random state
def _opt(name, change_info, message):
    def change(header, metadata, data):
        info = json.loads(metadata["optimizer"])
        change_info(info)
        metadata["optimizer"] = json.dumps(info)

    CASES[name] = ("checkpoint", change, message)


_meta("optimizer a list", "optimizer", "[1, 2]", "optimizer state must be an object, got list", kind="checkpoint")  # fmt: skip
_meta("optimizer a string", "optimizer", '"adam"', "optimizer state must be an object, got str", kind="checkpoint")  # fmt: skip
_meta("optimizer missing", "optimizer", ..., "optimizer tensors but no optimizer metadata", kind="checkpoint")  # fmt: skip
_opt("optimizer unknown", lambda i: i.update(name="lbfgs"), "unknown optimizer 'lbfgs'")
_opt("optimizer name a list", lambda i: i.update(name=["adam"]), r"unknown optimizer \['adam'\]")
_opt("scalars a list", lambda i: i.update(scalars=[1]), "optimizer scalars must be an object")
_opt("lr NaN", lambda i: i["scalars"].update(lr=math.nan), "optimizer 'lr' must be a finite number")
_opt("lr negative", lambda i: i["scalars"].update(lr=-1.0), "optimizer 'lr' must be >= 0")
_opt("lr text", lambda i: i["scalars"].update(lr="0.1"), "optimizer 'lr' must be a finite number")
_opt("beta1 inf", lambda i: i["scalars"].update(beta1=math.inf), "optimizer 'beta1' must be a finite number")  # fmt: skip
_opt("step negative", lambda i: i["scalars"].update(step=-1), "optimizer step must be an integer >= 0")  # fmt: skip
_opt("step float", lambda i: i["scalars"].update(step=1.5), "optimizer step must be an integer >= 0")  # fmt: skip
_opt("step huge", lambda i: i["scalars"].update(step=2**70), "optimizer step must be an integer >= 0")  # fmt: skip
_opt("hyperparameter missing", lambda i: i["scalars"].pop("eps"), "unusable optimizer state .*missing keys")  # fmt: skip


def _opt_tensor(name, change_entries, message):
    CASES[name] = ("checkpoint", change_entries, message)


def _rename(old, new):
    def change(header, metadata, data):
        header[new] = header.pop(old)

    return change


_opt_tensor("optimizer tensor shape", _retype("optimizer.state.0.exp_avg", "F32", [8, 4]), r"optimizer tensor 'optimizer.state.0.exp_avg' has shape \[8, 4\] but parameter 0 has \[4, 8\]")  # fmt: skip
_opt_tensor("optimizer tensor int", _retype("optimizer.state.1.exp_avg", "I32"), "is int32, not floating point")  # fmt: skip
_opt_tensor("optimizer tensor bad key", _rename("optimizer.state.0.exp_avg", "optimizer.weights.0"), "unexpected optimizer tensor 'optimizer.weights.0'")  # fmt: skip
_opt_tensor("optimizer tensor parameter 99", _rename("optimizer.state.0.exp_avg", "optimizer.state.99.exp_avg"), "names parameter 99 of 8")  # fmt: skip
_opt_tensor("optimizer tensor unknown buffer", _rename("optimizer.state.0.exp_avg", "optimizer.state.0.momentum"), "unknown state buffer 'momentum'")  # fmt: skip
_opt_tensor("optimizer NaN state", _nonfinite("optimizer.state.0.exp_avg", 0, math.nan), "'optimizer.state.0.exp_avg' holds NaN or infinite values")  # fmt: skip


def _rand(name, change_info, message):
    def change(header, metadata, data):
        info = json.loads(metadata["random"])
        change_info(info)
        metadata["random"] = json.dumps(info)

    CASES[name] = ("checkpoint", change, message)


_meta(
    "random a list", "random", "[1]", "random state must be an object, got list", kind="checkpoint"
)
_rand("shuffle a number", lambda i: i.update(shuffle=5), "shuffling generator state must be an object")  # fmt: skip
_rand("dropout not pairs", lambda i: i.update(dropout=[[2]]), "Dropout generator states must be a list")  # fmt: skip
_rand("dropout index not a Dropout", lambda i: i.update(dropout=[[0, i["dropout"][0][1]]]), "Dropout generator for layer 0, which is not one")  # fmt: skip
_rand("bit generator unknown", lambda i: i["shuffle"].update(bit_generator="os"), "unknown random generator 'os'")  # fmt: skip
_rand("bit generator state text", lambda i: i["shuffle"].update(state="x"), "corrupt random generator state")  # fmt: skip
_rand("bit generator state huge", lambda i: i["shuffle"]["state"].update(state=2**200), "corrupt random generator state")  # fmt: skip
_opt_tensor("shuffle order float", _retype("random.shuffle_order", "F64"), "shuffle_order must be a vector of int64")  # fmt: skip
_opt_tensor("shuffle order 2-D", _retype("random.shuffle_order", "I64", [4, 8]), "shuffle_order must be a vector of int64")  # fmt: skip
_opt_tensor("random tensor unknown", _rename("random.shuffle_order", "random.other"), "unexpected random-state tensor 'random.other'")  # fmt: skip


def _not_a_permutation(header, metadata, data):
    entry = header["random.shuffle_order"]
    patched = bytearray(data)
    start = entry["data_offsets"][0]
    patched[start : start + 16] = np.array([0, 0], dtype="<i8").tobytes()
    return bytes(patched)


_opt_tensor("shuffle order not a permutation", _not_a_permutation, "not a permutation of the rows")


# graph networks: their connections
def _graph(name, change_graph, message):
    def change(header, metadata, data):
        arch = json.loads(metadata["architecture"])
        change_graph(arch)
        metadata["architecture"] = json.dumps(arch)

    CASES[name] = ("graph", change, message)


_graph("graph a list", _set(("graph",), []), "its graph must be an object, got list")
_graph("graph without nodes", _set(("graph", "nodes"), []), "graph nodes must be a non-empty list")
_graph("graph node layer 99", _set(("graph", "nodes", 0, "layer"), 99), "names layer 99 of")
_graph("graph node layer -1", _set(("graph", "nodes", 0, "layer"), -1), "names layer -1 of")
_graph("graph node reads the future", _set(("graph", "nodes", 0, "inputs"), ["nowhere"]), "reads 'nowhere', which is not defined before it")  # fmt: skip
_graph("graph node a cycle", lambda a: a["graph"]["nodes"][0].update(inputs=[a["graph"]["nodes"][-1]["name"]]), "which is not defined before it")  # fmt: skip
_graph(
    "graph output unknown", _set(("graph", "outputs"), ["ghost"]), "output 'ghost' is not a node"
)
_graph("graph input bomb", _set(("graph", "inputs", 0, "n_features"), 10**9), "n_features must be an integer from 1")  # fmt: skip
_graph("graph name twice", lambda a: a["graph"]["nodes"][1].update(name=a["graph"]["nodes"][0]["name"]), "defines .* twice")  # fmt: skip
_graph("graph loss weight NaN", _set(("graph", "loss_weights"), [math.nan]), "graph loss weight must be a finite number")  # fmt: skip
_graph("graph unknown field", _set(("graph", "code"), "x"), "its graph has unknown field.s. 'code'")
_graph("merge layer outside a graph", lambda a: a.pop("graph"), "is a add layer, which only a graph network has")  # fmt: skip
_graph("embedding bomb", lambda a: a["layers"].append({"type": "embedding", "config": {"num_embeddings": 10**8, "dim": 10**8}}), "num_embeddings must be an integer from 1")  # fmt: skip


# -- building the files --------------------------------------------------------------------------
def _build_file(base, name, folder):
    kind, change, _ = CASES[name]
    path = folder / (name.replace(" ", "_").replace("/", "_") + ".safetensors")
    if kind == "raw":
        path.write_bytes(change())
        return path, "model"
    if kind == "bytes":
        header, metadata, data = base["model"]
        path.write_bytes(change(_pack(header, metadata, data)))
        return path, "model"
    header, metadata, data = base[kind]
    header, metadata = json.loads(json.dumps(header)), dict(metadata)
    result = change(header, metadata, data)
    if isinstance(result, bytes):
        data = result
    elif result == "repack":  # a tensor removed: cut its bytes out and shift the others
        kept = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
        chunks, position = [], 0
        for _, entry in kept:
            begin, end = entry["data_offsets"]
            chunks.append(data[begin:end])
            entry["data_offsets"] = [position, position + end - begin]
            position += end - begin
        data = b"".join(chunks)
    path.write_bytes(_pack(header, metadata, data))
    return path, kind


def test_there_are_at_least_100_hostile_files():
    assert len(CASES) >= 100, len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_file_is_refused_with_a_specific_message(base, tmp_path, name):
    path, kind = _build_file(base, name, tmp_path)
    loader = cr.load_checkpoint if kind == "checkpoint" else cr.load  # graph: cr.load
    message = CASES[name][2]
    with pytest.raises(ValueError, match=message) as info:
        loader(path)
    assert str(path) in str(info.value) or "preprocessing" in str(info.value)


def test_nonfinite_weights_load_only_when_asked(base, tmp_path):
    path, _ = _build_file(base, "nan in 0.weight", tmp_path)
    with pytest.raises(ValueError, match="allow_nonfinite=True"):
        cr.load(path)
    net = cr.load(path, allow_nonfinite=True)
    assert np.isnan(net.layers[0].weight.value).sum() == 1


def test_the_unchanged_files_load(base, tmp_path):
    """The mutations above are the only problem: the base files themselves are whole."""
    for kind, loader in (("model", cr.load), ("checkpoint", cr.load_checkpoint)):
        path = tmp_path / f"{kind}.safetensors"
        path.write_bytes(_pack(*base[kind]))
        loader(path)


# -- memory: refusing a bomb costs almost nothing -------------------------------------------------
_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, tracemalloc
    import chainrule as cr

    valid, *files = sys.argv[1:]
    cr.load(valid)  # warm up: imports, first allocations
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    peaks = {}
    for item in files:
        kind, path = item.split(":", 1)
        tracemalloc.reset_peak()
        try:
            (cr.load_checkpoint if kind == "checkpoint" else cr.load)(path)
        except ValueError:
            pass
        else:
            raise SystemExit(f"{path} loaded")
        rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        peaks[path] = [rss, tracemalloc.get_traced_memory()[1] / 2**20]
    print(json.dumps(peaks))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux")
def test_refusing_any_hostile_file_costs_at_most_50_mb(base, tmp_path):
    """Every hostile file above, shape bombs included, in one fresh process: the peak
    resident memory (ru_maxrss) over the baseline after a first valid load, and the peak
    of Python and NumPy allocations (tracemalloc) while refusing each file, <= 50 MB."""
    names = sorted(CASES)
    assert sum("bomb" in n for n in names) >= 10
    valid = tmp_path / "valid.safetensors"
    valid.write_bytes(_pack(*base["model"]))
    items = []
    for name in names:
        path, kind = _build_file(base, name, tmp_path)
        items.append(f"{kind}:{path}")
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(valid), *items],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    peaks = json.loads(out.stdout)
    assert len(peaks) == len(names)
    rss = max(p[0] for p in peaks.values())
    traced, worst = max((p[1], name) for name, p in peaks.items())
    bombs = max(p[1] for name, p in peaks.items() if "bomb" in name)
    print(
        f"peak RSS over baseline {rss:.1f} MB; peak allocations {traced:.2f} MB ({worst}); "
        f"worst shape bomb {bombs:.3f} MB"
    )
    assert rss <= 50 and traced <= 50, peaks


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_random_corruptions_raise_value_error_or_load(base, tmp_path, kind):
    """300 seeded corruptions (bytes changed in the header, cuts, insertions): every one
    either loads (a change inside a weight's bytes) or raises ValueError, nothing else."""
    data = _pack(*base[kind])
    n = int.from_bytes(data[:8], "little")
    loader = cr.load_checkpoint if kind == "checkpoint" else cr.load
    rng = np.random.default_rng(7)
    path = tmp_path / "fuzz.safetensors"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        corrupt = bytearray(data)
        how = rng.integers(0, 3)
        if how == 0:  # change 1-4 bytes of the header JSON
            for _ in range(rng.integers(1, 5)):
                corrupt[rng.integers(8, 8 + n)] = rng.integers(0, 256)
        elif how == 1:  # cut the file anywhere
            corrupt = corrupt[: rng.integers(0, len(corrupt))]
        else:  # insert bytes anywhere
            at = rng.integers(0, len(corrupt))
            corrupt[at:at] = bytes(rng.integers(0, 256, rng.integers(1, 9)).tolist())
        path.write_bytes(bytes(corrupt))
        try:
            loader(path)
        except ValueError:
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
    assert outcomes["refused"] >= 250, outcomes


@pytest.mark.parametrize(
    "name", ["shape bomb 1e5x1e5", "header nested 100000 deep", "nan in 0.weight", "ELU alpha inf"]
)
def test_the_cli_refuses_a_hostile_file_in_one_line(base, tmp_path, capsys, name):
    from chainrule import cli

    path, _ = _build_file(base, name, tmp_path)
    for command in (["summary", str(path)], ["export", str(path), "--to", "onnx", str(tmp_path / "m.onnx")]):  # fmt: skip
        assert cli.main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("chainrule: error: ") and str(path) in err[0]
        assert "Traceback" not in err[0]
        assert not (tmp_path / "m.onnx").exists()

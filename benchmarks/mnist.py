"""A tiny reader for the MNIST IDX files (gzipped or not), for the benchmarks only.

The library never needs these files; the benchmarks use them to report test
accuracy beside the timings.

IDX format: a big-endian header (two zero bytes, a type code, the number of
dimensions, then one uint32 per dimension) followed by the raw values.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def default_dir() -> Path:
    """``../shared/data/mnist`` relative to the repository root (this file's parent's parent)."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in one IDX file (``.gz`` is decompressed on the fly)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_TYPES[raw[2]]), raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path} holds {len(raw)} bytes, its header announces {expected}")
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape)


def find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(
        f"MNIST file {stem}(.gz) not found in {directory}; pass --mnist-dir DIR with the four "
        "IDX files"
    )


def load(split: str = "train", directory: str | os.PathLike | None = None, dtype=np.float32):
    """``(X, y)``: images flattened to 784 columns scaled to [0, 1], labels as int64."""
    directory = Path(directory) if directory is not None else default_dir()
    images_stem, labels_stem = FILES[split]
    images = read_idx(find(directory, images_stem))
    labels = read_idx(find(directory, labels_stem))
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels in {directory}")
    dtype = np.dtype(dtype)
    X = images.reshape(len(images), -1).astype(dtype)
    X *= dtype.type(1.0 / 255.0)
    return X, labels.astype(np.int64)

"""The benchmark suite still runs: ``benchmarks/run.py --quick`` end to end, tiny sizes.

Only that it runs and reports is checked; timings are never asserted.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("threadpoolctl")

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"

TRAIN_ROWS = [
    "chainrule — SGD momentum",
    "PyTorch eager — SGD momentum",
    "scikit-learn MLP — SGD momentum",
    "chainrule — Adam",
    "PyTorch eager — Adam",
    "PyTorch eager fused=True — Adam",
    "scikit-learn MLP — Adam",
    "bare NumPy matmuls of one epoch",
]
PREDICT_ROWS = [
    f"{name} — predict {what}"
    for name in ("chainrule", "PyTorch eager", "scikit-learn MLP")
    for what in ("1 row", "256 rows")
]
TIME = re.compile(r"\s(\d+(?:\.\d+)?) (s|ms|µs)\s")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text())


def _row(stdout: str, label: str) -> str:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(label)]
    assert lines, f"no row starting with {label!r} in:\n{stdout}"
    return lines[0]


@pytest.mark.parametrize("label", TRAIN_ROWS + PREDICT_ROWS)
def test_table_has_a_positive_finite_time_for_every_contender(quick_run, label):
    stdout, _ = quick_run
    line = _row(stdout, label)
    found = TIME.search(line[len(label) :] + " ")
    assert found, f"no time in {line!r}"
    value = float(found.group(1))
    assert math.isfinite(value) and value > 0


def test_table_reports_blas_threads_matmul_share_memory_and_goals(quick_run):
    stdout, _ = quick_run
    assert "NumPy BLAS (threadpoolctl):" in stdout
    assert "torch.get_num_threads() = 2" in stdout
    assert "OPENBLAS_CORETYPE" in stdout
    assert "matmul share of chainrule's" in stdout
    assert "peak memory" in stdout
    assert "goal (issue 3)" in stdout


def test_json_output_has_the_expected_keys(quick_run):
    _, report = quick_run
    assert {"config", "environment", "rows", "matmul_share", "memory", "goals", "raw"} <= set(
        report
    )
    assert report["config"]["threads"] == 2
    assert report["environment"]["blas"], "threadpoolctl found no BLAS for NumPy"
    assert "torch_num_threads" in report["environment"]
    expected = {
        *(f"train/{c}/{o}" for c in ("chainrule", "torch", "sklearn") for o in ("sgd", "adam")),
        "train/torch_fused/adam",
        "matmul",
        *(f"predict{k}/{c}" for k in ("1", "N") for c in ("chainrule", "torch", "sklearn")),
    }
    assert expected <= set(report["rows"])
    for key in expected:
        row = report["rows"][key]
        assert {"label", "time", "vs_torch", "vs_sklearn"} <= set(row)
        t = row["time"]
        assert t["n"] == 1 and not row["errors"], (key, row["errors"])
        assert math.isfinite(t["median"]) and t["median"] > 0
        assert t["min"] <= t["median"] <= t["max"]
    for key in (k for k in expected if k.startswith("train/")):
        assert 0.0 <= report["rows"][key]["accuracy"]["median"] <= 1.0
    assert set(report["matmul_share"]) == {"sgd", "adam"}
    mem = {m["row"]: m for m in report["memory"]}
    assert mem["train/chainrule/sgd"]["data_bytes"] > 0
    assert mem["train/chainrule/sgd"]["peak_rss_process"] > 0
    assert len(report["goals"]) == 8


def _load_module(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_mnist_idx_reader_round_trips_a_tiny_gzipped_file(tmp_path):
    mnist = _load_module("mnist")
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 7], dtype=np.uint8)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 0x08, 3]) + np.array([2, 28, 28], ">u4").tobytes() + images.tobytes())
    with open(tmp_path / "train-labels-idx1-ubyte", "wb") as f:  # not gzipped: also read
        f.write(bytes([0, 0, 0x08, 1]) + np.array([2], ">u4").tobytes() + labels.tobytes())
    X, y = mnist.load("train", tmp_path)
    assert X.shape == (2, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X[0, :5], np.arange(5) / 255, rtol=1e-6)
    assert y.tolist() == [3, 7]
    with pytest.raises(FileNotFoundError, match="--mnist-dir"):
        mnist.load("test", tmp_path)


def test_synthetic_data_is_mnist_shaped_and_reproducible():
    data = _load_module("data")
    X, y = data.synthetic(300, seed=0)
    X2, y2 = data.synthetic(300, seed=0)
    assert X.shape == (300, 784) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert set(np.unique(y)) <= set(range(10))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)

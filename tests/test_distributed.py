"""The distributed example: 2 gloo processes train a chainrule network in torch (DDP), and the
network brought back into chainrule predicts what the torch model predicts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("torch")
pytest.importorskip("safetensors")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "distributed_torch.py"


@pytest.mark.slow
def test_distributed_example_trains_and_comes_back(tmp_path, max_rel_err):
    out, npz = tmp_path / "model.safetensors", tmp_path / "check.npz"
    command = [
        sys.executable, str(EXAMPLE),
        "--nproc", "2", "--dataset", "moons", "--n-samples", "400", "--noise", "0.1",
        "--hidden", "16,16", "--batchnorm", "--dropout", "0.05",
        "--epochs", "15", "--batch-size", "16", "--lr", "0.01", "--seed", "0",
        "--out", str(out), "--npz", str(npz), "--log-every", "5",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 processes (gloo)" in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.npz", "model.safetensors"]

    net = cr.load(out).eval()
    check = np.load(npz)
    X, torch_out = check["X"], check["torch_output"]
    assert [type(layer).__name__ for layer in net.layers] == [
        "Dense", "BatchNorm", "Dropout", "Dense", "BatchNorm", "Dropout", "Dense",
    ]  # fmt: skip
    assert net.loss_ == "cross_entropy"
    assert max_rel_err(net(X), torch_out) <= 1e-6
    np.testing.assert_array_equal(net.predict(X), torch_out.argmax(axis=1))

    losses = check["epoch_loss"]
    assert len(losses) == 15 and losses[-1] < losses[0]
    assert float(check["loss_after"]) < 0.5 * float(check["loss_before"])
    _, y = cr.datasets.moons(n_samples=400, noise=0.1, seed=0)
    assert np.mean(net.predict(X) == y) > 0.9


def test_distributed_example_reports_bad_input_in_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--csv", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == f"error: no CSV file at {tmp_path / 'missing.csv'}"

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
    assert "2 processes (gloo, cpu)" in run.stdout
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


# -- devices: the choice and the moves (checked on the CPU; no GPU needed) -------------------
def _example():
    """The example script as a module, to test its device functions directly."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("distributed_torch_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("device", "backend", "cuda", "count", "procs", "expected"),
    [
        ("cpu", None, False, 0, 2, ("cpu", "gloo")),  # the default, as before
        ("cpu", None, True, 8, 2, ("cpu", "gloo")),  # cpu stays cpu on a GPU machine
        ("auto", None, False, 0, 2, ("cpu", "gloo")),
        ("auto", None, True, 2, 2, ("cuda", "nccl")),
        ("cuda", None, True, 1, 1, ("cuda", "nccl")),
        ("cuda", "gloo", True, 4, 2, ("cuda", "gloo")),  # gloo also reduces CUDA tensors
        ("auto", "nccl", True, 1, None, ("cuda", "nccl")),  # torchrun, unknown procs per machine
    ],
)
def test_choose_device_picks_the_device_and_backend(device, backend, cuda, count, procs, expected):
    ex = _example()
    got = ex.choose_device(
        device, backend, cuda_available=cuda, cuda_count=count, procs_per_machine=procs
    )
    assert got == expected


@pytest.mark.parametrize(
    ("device", "backend", "cuda", "count", "procs", "message"),
    [
        ("cuda", None, False, 0, 2, "--device cuda: torch sees no CUDA device here"),
        ("cpu", "nccl", True, 2, 2, "--backend nccl works between CUDA GPUs only, and --device "
         "is cpu; use --backend gloo on CPUs"),
        ("auto", "nccl", False, 0, 2, "--backend nccl works between CUDA GPUs only, and torch "
         "sees no CUDA device here"),
        ("cuda", None, True, 1, 2, "this machine runs 2 processes and has 1 CUDA device(s); "
         "use --nproc 1"),
        ("gpu", None, True, 1, 1, "--device must be one of cpu, cuda, auto, not 'gpu'"),
    ],
)  # fmt: skip
def test_choose_device_refuses_what_cannot_run(device, backend, cuda, count, procs, message):
    ex = _example()
    with pytest.raises(ValueError) as info:
        ex.choose_device(
            device, backend, cuda_available=cuda, cuda_count=count, procs_per_machine=procs
        )
    assert message in str(info.value)


def test_rank_device_and_ddp_options():
    import torch

    ex = _example()
    assert ex.local_rank(3, {}) == 3  # spawned on one machine: the rank
    assert ex.local_rank(5, {"LOCAL_RANK": "1"}) == 1  # torchrun: rank 5 is GPU 1 of its machine
    assert ex.rank_device("cpu", 3) == torch.device("cpu")
    assert ex.rank_device("cuda", 3) == torch.device("cuda", 3)  # naming a device needs no GPU
    assert ex.ddp_options(torch.device("cpu")) == {}
    assert ex.ddp_options(torch.device("cuda", 3)) == {"device_ids": [3], "output_device": 3}


def test_to_device_moves_modules_and_batches_and_to_numpy_comes_back():
    """Moves to a device other than the CPU are checked on torch's 'meta' device (no GPU here)."""
    import torch

    ex = _example()
    net = cr.Sequential(cr.Dense(3, 4, activation="tanh"), cr.Dense(4, 2), seed=0)
    model = cr.export.to_torch(net)
    meta = torch.device("meta")
    model.to(meta)  # what the worker does to the model
    assert {p.device for p in model.parameters()} == {meta}
    xb, yb = torch.ones(5, 3), torch.zeros(5, dtype=torch.int64)
    mx, my = ex.to_device(meta, xb, yb)
    assert (mx.device, my.device, mx.shape, my.dtype) == (meta, meta, (5, 3), torch.int64)
    same = ex.to_device(torch.device("cpu"), xb)
    assert same[0] is xb  # already there: no copy
    out = torch.arange(6.0, requires_grad=True).reshape(2, 3) * 2
    back = ex.to_numpy(out)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, [[0, 2, 4], [6, 8, 10]])


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_example_refuses_cuda_and_nccl_without_a_gpu_in_one_line(capsys):
    ex = _example()
    for flags, start in [
        (["--device", "cuda"], "error: --device cuda: torch sees no CUDA device here"),
        (["--backend", "nccl"], "error: --backend nccl works between CUDA GPUs only"),
    ]:
        assert ex.main(flags) == 1  # before any process starts
        out, err = capsys.readouterr()
        assert err.startswith(start) and err.count("\n") == 1, err
        assert out == ""


@pytest.mark.slow
def test_cpu_path_trains_exactly_like_a_plain_torch_loop(tmp_path):
    """One gloo process on the CPU (``--device cpu``): every epoch's loss and the final outputs
    equal those of a plain single-process torch loop over the same shuffles, so the device
    handling changed nothing on the CPU."""
    import torch
    from torch.utils.data import DistributedSampler

    npz = tmp_path / "check.npz"
    command = [
        sys.executable, str(EXAMPLE), "--device", "cpu",
        "--nproc", "1", "--dataset", "moons", "--n-samples", "200", "--noise", "0.2",
        "--hidden", "8", "--batchnorm", "--dtype", "float64",
        "--epochs", "4", "--batch-size", "16", "--lr", "0.02", "--seed", "3",
        "--out", str(tmp_path / "m.safetensors"), "--npz", str(npz),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 processes (gloo, cpu)" in run.stdout
    check = np.load(npz)

    # the reference: the same network and data, trained by hand in one process
    X, y = cr.datasets.moons(n_samples=200, noise=0.2, seed=0)
    net = cr.Sequential(
        cr.Dense(2, 8, activation="tanh"), cr.BatchNorm(8), cr.Dense(8, 2),
        seed=3, dtype=np.float64,
    )  # fmt: skip
    model = cr.export.to_torch(net).train()
    inputs = torch.from_numpy(np.asarray(X, np.float64))
    target = torch.from_numpy(np.asarray(y, np.int64))
    criterion = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    order = DistributedSampler(range(200), num_replicas=1, rank=0, shuffle=True, seed=3)
    losses = []
    for epoch in range(4):
        order.set_epoch(epoch)
        idx = list(order)
        total = 0.0
        for start in range(0, 200, 16):
            b = idx[start : start + 16]
            opt.zero_grad()
            loss = criterion(model(inputs[b]), target[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        losses.append(total / 200)
    model.eval()
    with torch.no_grad():
        expected = model(inputs).numpy()
    np.testing.assert_allclose(check["epoch_loss"], losses, rtol=1e-12, atol=0)
    np.testing.assert_allclose(check["torch_output"], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(check["X"], X)


@pytest.mark.slow
def test_a_graph_network_trains_through_the_example(tmp_path, max_rel_err):
    """A residual graph network (cr.Add skips) saved with net.save goes through DDP and back."""
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 8, activation="tanh")(x)
    for _ in range(2):
        h = cr.Add()(h, cr.Dense(8, 8, activation="tanh")(h))
    net = cr.Network(inputs=x, outputs=cr.Dense(8, 2)(h), seed=0)
    net.loss_ = "cross_entropy"
    start, out, npz = (
        tmp_path / "start.safetensors",
        tmp_path / "out.safetensors",
        tmp_path / "c.npz",
    )
    net.save(start)
    command = [
        sys.executable, str(EXAMPLE), "--model", str(start), "--nproc", "2",
        "--dataset", "moons", "--n-samples", "300", "--epochs", "8", "--batch-size", "16",
        "--out", str(out), "--npz", str(npz),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    trained = cr.load(out).eval()
    assert isinstance(trained, cr.Network) and not isinstance(trained, cr.Sequential)
    assert [type(layer).__name__ for layer in trained.layers].count("Add") == 2
    check = np.load(npz)
    assert max_rel_err(trained(check["X"]), check["torch_output"]) <= 1e-6
    assert check["epoch_loss"][-1] < check["epoch_loss"][0]
    before = net.eval()(check["X"])
    assert not np.allclose(trained(check["X"]), before)  # the weights came back trained

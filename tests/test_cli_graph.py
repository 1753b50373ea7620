"""The CLI on graph-network model files: what it can do, and a clear refusal for the rest."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli  # noqa: E402


@pytest.fixture
def two_by_two(tmp_path):
    """A network with two inputs and two outputs, trained a little, and a 5-column table."""
    rng = np.random.default_rng(0)
    a, b = cr.Input(3, name="num"), cr.Input(2, name="extra")
    h = cr.Dense(5, 8, activation="relu")(cr.Concatenate()(a, b))
    net = cr.Network(inputs=[a, b], outputs=[cr.Dense(8, 2)(h), cr.Dense(8, 1)(h)], seed=0)
    A, B = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    targets = [(A[:, 0] > 0).astype(int), A[:, 1:2]]
    net.fit({"num": A, "extra": B}, targets, loss=["cross_entropy", "mse"], epochs=2, verbose=0)
    net.save(tmp_path / "two.safetensors")
    pd.DataFrame(np.c_[A, B], columns=list("abcde")).to_csv(tmp_path / "two.csv", index=False)
    return tmp_path


def _run(args, capsys):
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_of_a_two_output_network_lists_its_connections(two_by_two, capsys):
    code, out, err = _run(["summary", two_by_two / "two.safetensors", "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["loss"] == ["cross_entropy", "mse"] and info["task"] is None
    assert info["n_inputs"] == [3, 2] and info["n_parameters"] == 75


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "two.safetensors", "two.csv"],
        ["evaluate", "two.safetensors", "two.csv", "--target", "e"],
        ["diagnose", "two.safetensors", "two.csv", "--target", "e"],
    ],
)
def test_table_commands_refuse_several_inputs_in_one_line(two_by_two, capsys, command):
    args = [two_by_two / c if c.endswith((".csv", ".safetensors")) else c for c in command]
    code, out, err = _run(args, capsys)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "2 input(s) ['num' (3 columns), 'extra' (2 columns)]" in lines[0]
    assert "net.predict({name: array, ...})" in lines[0]


def test_export_of_a_two_output_network_to_onnx_matches_the_network(two_by_two, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = two_by_two / "two.onnx"
    code, _, err = _run(["export", two_by_two / "two.safetensors", path, "--to", "onnx"], capsys)
    assert code == 0, err
    net = cr.load(two_by_two / "two.safetensors")
    X = pd.read_csv(two_by_two / "two.csv").to_numpy(np.float32)
    feeds = {"num": X[:, :3], "extra": X[:, 3:]}
    got = ort.InferenceSession(str(path)).run(None, feeds)
    want = net([X[:, :3], X[:, 3:]])
    for g, w in zip(got[:2], want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_export_refusal_names_the_flag_and_the_flag_exports_the_network_alone(two_by_two, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {"mean": [0.0, 0.0, 0.0], "scale": [2.0, 2.0, 2.0]}  # one mean, 2 inputs
    net.save(two_by_two / "scaled.safetensors")
    path = two_by_two / "scaled.onnx"
    code, out, err = _run(
        ["export", two_by_two / "scaled.safetensors", path, "--to", "onnx"], capsys
    )
    assert code != 0 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Pass --no-preprocessing to export" in lines[0]
    assert "preprocessing=False" not in lines[0] and not path.exists()
    args = ["export", two_by_two / "scaled.safetensors", path, "--to", "onnx", "--no-preprocessing"]
    code, _, err = _run(args, capsys)
    assert code == 0, err
    X = pd.read_csv(two_by_two / "two.csv").to_numpy(np.float32)
    got = ort.InferenceSession(str(path)).run(None, {"num": X[:, :3], "extra": X[:, 3:]})
    for g, w in zip(got[:2], net([X[:, :3], X[:, 3:]])):  # net(...) alone: no scaling
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

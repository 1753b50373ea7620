"""Every example runs (small sizes), writes its figures and prints its story."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, tmp_path, capsys) -> tuple[dict, str]:
    result = load(name).main(tmp_path, small=True)
    out = capsys.readouterr().out
    assert result["figures"], "an example must write figures"
    for path in result["figures"]:
        assert Path(path).parent == tmp_path
        assert Path(path).read_bytes()[:8] == PNG_SIGNATURE, path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        Path(p).name for p in result["figures"]
    )
    assert "Figures written to" in out
    return result, out


def test_perceptron_and_xor(tmp_path, capsys):
    result, out = run("perceptron_and_xor", tmp_path, capsys)
    assert result["and_converged"] and not result["xor_converged"]
    assert result["xor_solved_by_mlp"]
    assert "A perceptron learns AND" in out and "predictions [0, 0, 0, 1]" in out
    assert "XOR is not linearly separable" in out
    assert "predictions [0, 1, 1, 0] for targets [0, 1, 1, 0]: XOR solved" in out
    assert {p.name for p in result["figures"]} >= {"perceptron_and.png", "perceptron_xor.png"}


def test_activations_compared(tmp_path, capsys):
    result, out = run("activations_compared", tmp_path, capsys)
    r = result["results"]
    assert "the step activation cannot be trained by gradient descent" in out
    for name in ("step (perceptron)", "sigmoid", "tanh", "relu"):
        assert re.search(rf"{re.escape(name)}\s+(-|\d\.\d{{4}})\s+{100 * r[name]['accuracy']:.1f}%",
                         out), name  # fmt: skip
    # one line cannot separate a ring from its centre; a trained MLP can
    assert r["step (perceptron)"]["accuracy"] < 0.7 < r["relu"]["accuracy"]
    assert "learns slowest" in out


def test_vanishing_gradients(tmp_path, capsys):
    result, out = run("vanishing_gradients", tmp_path, capsys)
    r = result["results"]
    problem = r["sigmoid, N(0, 1) init"]
    assert problem["loss"][-1] > 0.65  # it stays at chance
    first = problem["verdicts"][0]
    assert first.kind == "vanishing_gradients" and first.remedies[0].name == "relu_he"
    assert "verdict: vanishing gradients: layer 0 learns" in out
    assert result["report"].verdicts[0].kind == "vanishing_gradients"
    for fix in ("fix 1: relu + He init", "fix 2: sigmoid + BatchNorm"):
        # the gradient reaches the first layer now (a 20-layer ReLU net may still find
        # SGD's 0.1 a bumpy ride in the short run, and may be told so)
        assert not any(v.kind == "vanishing_gradients" for v in r[fix]["verdicts"])
        assert r[fix]["accuracy"] > 0.8
        assert r[fix]["loss"][-1] < problem["loss"][-1] - 0.2
    assert "The sigmoid network did not learn" in out


def test_dying_relu(tmp_path, capsys):
    result, out = run("dying_relu", tmp_path, capsys)
    r = result["results"]
    broken = r["relu, lr 1.0"]
    assert broken["verdicts"][0].kind == "lr_too_high"  # the cause first ...
    assert any(v.kind == "dead_relu" for v in broken["verdicts"])  # ... then what it did
    assert "learning rate 1 is too high" in out
    assert max(broken["dead"].values()) >= 0.5
    assert broken["accuracy"] < 0.6
    assert r["leaky_relu(0.1), lr 1.0"]["accuracy"] > broken["accuracy"] + 0.2
    assert not any(v.kind == "dead_relu" for v in r["leaky_relu(0.1), lr 1.0"]["verdicts"])
    assert r["relu, lr 0.01"]["accuracy"] > 0.95 and r["relu, lr 0.01"]["verdicts"] == []
    assert "ReLU units are dead" in str(result["report"])


def test_digits_weights(tmp_path, capsys):
    pytest.importorskip("sklearn")
    result, out = run("digits_weights", tmp_path, capsys)
    assert result["accuracy"] > 0.85
    assert f"test accuracy {100 * result['accuracy']:.1f}%" in out
    t, p = result["confused"]
    assert f"most frequent mistake: a {t} read as a {p}" in out
    assert "digits_first_layer_weights.png" in {f.name for f in result["figures"]}

"""Issue 15, item 4: the same 16 sigmoid blocks learn with skip connections and not without."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "residual_vs_stack.py"


def _example():
    spec = importlib.util.spec_from_file_location("example_residual_vs_stack", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_two_networks_differ_only_by_the_skips():
    ex = _example()
    stack, residual = ex.build(False, seed=0), ex.build(True, seed=0)
    kinds = [type(layer).__name__ for layer in residual.layers]
    assert kinds.count("Add") == 16 and kinds.count("Dense") == 34
    assert [type(layer).__name__ for layer in stack.layers] == ["Dense"] * 34
    assert len(ex.sigmoid_layers(stack)) == len(ex.sigmoid_layers(residual)) == 16
    for p, q in zip(stack.parameters(), residual.parameters()):  # the same initial weights
        np.testing.assert_array_equal(p.value, q.value)


@pytest.mark.slow  # about 5 s: two 34-layer networks, 30 epochs each
def test_residual_learns_the_moons_and_the_stack_cannot(capsys):
    """Stated accuracies (seed 0, 30 epochs): stack 50.0 %, residual 99.8 % (100 % on new points).
    The assertion leaves room for rounding across BLAS builds, not for a stack that learns."""
    ex = _example()
    results = ex.main(epochs=30, seed=0)
    printed = capsys.readouterr().out
    X, y = cr.datasets.moons(400, noise=0.1, seed=0)
    X_new, y_new = cr.datasets.moons(400, noise=0.1, seed=1)
    accuracy = {}
    for name, r in results.items():
        # labels from the raw logits (positive class where the logit is > 0), not from predict
        logits = np.asarray(r["net"].eval()(X)).ravel()
        accuracy[name] = np.mean((logits > 0).astype(int) == y)
        logits_new = np.asarray(r["net"](X_new)).ravel()
        accuracy[name + " new"] = np.mean((logits_new > 0).astype(int) == y_new)
    assert accuracy["residual"] >= 0.97 and accuracy["residual new"] >= 0.95
    assert accuracy["stack"] <= 0.6 and accuracy["stack new"] <= 0.6
    assert abs(results["stack"]["loss"][-1] - np.log(2)) < 0.01  # chance level
    assert results["residual"]["loss"][-1] < 0.05
    # the reason: the first sigmoid layer's gradient vanishes in the stack, not with the skips
    assert results["stack"]["grad_ratio"] < 1e-6 < 1e-2 < results["residual"]["grad_ratio"]
    assert f"training accuracy {100 * accuracy['residual']:.1f} %" in printed
    # and the diagnosis says so: vanishing gradients for the stack, no problem with the skips
    X_diag, y_diag = cr.datasets.moons(400, noise=0.1, seed=0)
    stack_verdicts = cr.diagnose(results["stack"]["net"], X_diag, y_diag).verdicts
    assert stack_verdicts[0].kind == "vanishing_gradients" and stack_verdicts[0].is_problem
    residual_verdicts = cr.diagnose(results["residual"]["net"], X_diag, y_diag).verdicts
    assert not any(v.is_problem for v in residual_verdicts), residual_verdicts

"""docs/graphs.md: the numbers worked out by hand on the page are right.

The page's two tables ("quantity | rule | with the numbers | value") hold every
number of the diamond's forward and backward pass written by hand. Here they
are recomputed with plain NumPy formulas (tanh, the logistic function, the
multivariable chain rule written out), independently of chainrule; then
``cr.trace``, run on the network the page builds, must agree with the same
table. The page's 16-block networks must be the ones of
``examples/residual_vs_stack.py`` (whose accuracies tests/test_residual_vs_stack.py
checks), and the page must sit in the guide right after the network page.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "graphs.md"
HEADER = "| quantity | rule | with the numbers | value |"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)

# the diamond of the page: x = 1, y = 2, squared error
X, Y = 1.0, 2.0
W_H, B_H, W_A, B_A, W_B, B_B = 0.5, 0.0, 2.0, 0.1, -1.0, 0.5


def hand_table() -> dict[str, tuple[str, str]]:
    """quantity -> (the arithmetic written on the page, the value written on the page)."""
    text = PAGE.read_text(encoding="utf-8")
    rows: dict[str, tuple[str, str]] = {}
    tables = text.split(HEADER)[1:]
    assert len(tables) == 2, "the page should have a forward and a backward table"
    for table in tables:
        lines = table.strip("\n").splitlines()
        assert set(lines[0]) <= set("|-")  # the separator row
        for line in lines[1:]:
            if not line.startswith("|"):
                break
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            assert len(cells) == 4, line
            rows[cells[0]] = (cells[2], cells[3])
    return rows


def by_numpy() -> dict[str, float]:
    """Every quantity of the tables, from the formulas alone (no chainrule)."""
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    v: dict[str, float] = {}
    v["h.z"] = W_H * X + B_H
    v["h"] = np.tanh(v["h.z"])
    v["a"] = W_A * v["h"] + B_A
    v["b.z"] = W_B * v["h"] + B_B
    v["b"] = sigmoid(v["b.z"])
    v["out"] = v["a"] + v["b"]
    v["L"] = (v["out"] - Y) ** 2
    v["dL/dout"] = 2 * (v["out"] - Y)
    v["dL/da"] = v["dL/dout"]  # d(a + b)/da = 1
    v["dL/db"] = v["dL/dout"]
    v["dL/db.z"] = v["dL/db"] * v["b"] * (1 - v["b"])  # sigmoid' = s (1 - s)
    v["dL/dh via a"] = v["dL/da"] * W_A
    v["dL/dh via b"] = v["dL/db.z"] * W_B
    v["dL/dh"] = v["dL/dh via a"] + v["dL/dh via b"]  # the multivariable chain rule
    v["dL/dh.z"] = v["dL/dh"] * (1 - v["h"] ** 2)  # tanh' = 1 - tanh^2
    v["dL/dW_h"] = v["dL/dh.z"] * X
    v["dL/dW_a"] = v["dL/da"] * v["h"]
    v["dL/dW_b"] = v["dL/db.z"] * v["h"]
    return {k: float(x) for k, x in v.items()}


def four_digits(x: float) -> float:
    return float(f"{x:.4g}")


def evaluate(arithmetic: str) -> float:
    """The 'with the numbers' cell as Python: '2·(1.5337 - 2)', 'σ(0.03788)', '0.4621²'."""
    expr = arithmetic.replace("·", "*").replace("²", "**2").replace("−", "-")
    expr = expr.replace("σ", "sigmoid")
    allowed = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    assert re.fullmatch(r"[\d.+\-*() a-z]*", expr), f"unexpected text in {arithmetic!r}"
    return float(eval(expr, {"__builtins__": {}}, allowed))


def test_every_hand_number_is_right():
    page, ref = hand_table(), by_numpy()
    assert set(page) == set(ref), f"rows differ: {set(page) ^ set(ref)}"
    for name, (arithmetic, written) in page.items():
        # the value is the exact one, to the four significant digits shown
        assert float(written) == four_digits(ref[name]), f"{name}: {written} vs {ref[name]:.6g}"
        # and the arithmetic shown gives it (its inputs are rounded: up to 4.5e-4 off)
        assert evaluate(arithmetic) == pytest.approx(ref[name], rel=6e-4), name
    # the point of the example: the gradient at the fork is the sum of both paths
    assert float(page["dL/dh"][1]) != float(page["dL/dh via a"][1])
    assert ref["dL/dh"] == pytest.approx(ref["dL/dh via a"] + ref["dL/dh via b"])


def test_prose_states_the_error_of_forgetting_a_path():
    ref = by_numpy()
    text = PAGE.read_text(encoding="utf-8")
    too_large = 100 * (ref["dL/dh via a"] / ref["dL/dh"] - 1)
    assert f"a gradient {too_large:.0f} % too large" in text
    assert f"would give {four_digits(ref['dL/dh via a']):g}" in text


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(PAGE.read_text(encoding="utf-8"))]


def _session(name: str) -> list[str]:
    return [code for opts, code in _blocks() if f'session="{name}"' in opts]


def test_the_page_diamond_and_cr_trace_agree_with_the_table(monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    scope: dict = {}
    exec(_session("diamond")[0], scope)  # the block that builds and draws the network
    net = scope["net"]
    weights = [w.ravel().tolist() for w in net.get_weights()]
    assert weights == [[W_H], [B_H], [W_A], [B_A], [W_B], [B_B]]
    page = {k: float(v) for k, (_, v) in hand_table().items()}
    t = cr.trace(net, [[X]], [[Y]], "mse", digits=4)
    from_trace = {
        "h.z": t["h.z[0,0]"], "h": t["h[0,0]"], "a": t["a.z[0,0]"], "b.z": t["b.z[0,0]"],
        "b": t["b[0,0]"], "out": t["out[0,0]"], "L": t.loss,
        "dL/dout": t["dL/dout[0,0] via the loss"], "dL/da": t["dL/da[0,0] via out"],
        "dL/db": t["dL/db[0,0] via out"], "dL/db.z": t["dL/db.z[0,0]"],
        "dL/dh via a": t["dL/dh[0,0] via a"], "dL/dh via b": t["dL/dh[0,0] via b"],
        "dL/dh": t["dL/dh[0,0]"], "dL/dh.z": t["dL/dh.z[0,0]"],
        "dL/dW_h": t.gradients["0.dense.weight"][0, 0],
        "dL/dW_a": t.gradients["1.dense.weight"][0, 0],
        "dL/dW_b": t.gradients["2.dense.weight"][0, 0],
    }  # fmt: skip
    assert set(from_trace) == set(page)
    for name, value in from_trace.items():
        assert four_digits(float(value)) == page[name], name
    # the sum line the page prints is there, with the table's numbers
    line = f"dL/dh[0,0] = dL/dh[0,0] via a + dL/dh[0,0] via b = ({page['dL/dh via a']:g}) + "
    assert line in str(t)


def _example():
    path = ROOT / "examples" / "residual_vs_stack.py"
    spec = importlib.util.spec_from_file_location("example_residual_vs_stack", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_deep_networks_are_the_example_networks():
    scope: dict = {}
    exec(_session("depth")[0], scope)  # the block that defines build(residual)
    ex = _example()
    for residual in (False, True):
        ours, theirs = scope["build"](residual), ex.build(residual, seed=0)
        assert ours.summary() == theirs.summary()
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            np.testing.assert_array_equal(p.value, q.value)


def test_page_is_in_the_guide_after_the_network_page():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    lines = [line.strip() for line in nav.splitlines()]
    k = lines.index("- A network of perceptrons: network.md")
    assert lines[k + 1] == "- Networks of any shape: graphs.md"

"""``cr.trace`` on graph networks: fan-out gradients written as sums, checked by hand.

The reference numbers are computed here with plain NumPy formulas (tanh, the logistic
function, matrix products), not with chainrule."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr


def diamond():
    """x -> h (tanh) -> left (sigmoid) -> s = left + h -> out: h feeds left and s."""
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 2, activation="tanh")(x, name="h")
    left = cr.Dense(2, 2, activation="sigmoid")(h, name="left")
    s = cr.Add()(left, h, name="s")
    out = cr.Dense(2, 1)(s, name="out")
    return cr.Network(inputs=x, outputs=out, seed=3, dtype=np.float64)


def test_trace_of_a_diamond_against_hand_arithmetic():
    net = diamond()
    X = np.array([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]])
    y = np.array([[1.0], [0.0], [0.5]])
    W1, b1 = net.layers[0].weight.value, net.layers[0].bias.value
    W2, b2 = net.layers[1].weight.value, net.layers[1].bias.value
    W3, b3 = net.layers[3].weight.value, net.layers[3].bias.value
    # forward, by hand
    h = np.tanh(X @ W1 + b1)
    z2 = h @ W2 + b2
    left = 1 / (1 + np.exp(-z2))
    s = left + h
    out = s @ W3 + b3
    L = np.mean((out - y) ** 2)
    # backward, by hand: the multivariable chain rule at h
    d_out = 2 * (out - y) / out.size
    d_s = d_out @ W3.T
    d_h_via_skip = d_s  # s = left + h: ds/dh = 1
    d_z2 = d_s * left * (1 - left)  # sigmoid' = sigmoid (1 - sigmoid)
    d_h_via_left = d_z2 @ W2.T
    d_h = d_h_via_skip + d_h_via_left
    d_z1 = d_h * (1 - h**2)  # tanh' = 1 - tanh^2
    expected = {
        "0.dense.weight": X.T @ d_z1, "0.dense.bias": d_z1.sum(0),
        "1.dense.weight": h.T @ d_z2, "1.dense.bias": d_z2.sum(0),
        "3.dense.weight": s.T @ d_out, "3.dense.bias": d_out.sum(0),
    }  # fmt: skip

    tr = cr.trace(net, X, y, "mse", digits=6)
    assert tr.loss == pytest.approx(L, rel=1e-13)
    for n, j in np.ndindex(h.shape):
        assert tr[f"h[{n},{j}]"] == pytest.approx(h[n, j], rel=1e-13)
        assert tr[f"s[{n},{j}]"] == pytest.approx(s[n, j], rel=1e-13)
        assert tr[f"dL/dh[{n},{j}] via s"] == pytest.approx(d_h_via_skip[n, j], rel=1e-12)
        assert tr[f"dL/dh[{n},{j}] via left"] == pytest.approx(d_h_via_left[n, j], rel=1e-12)
        assert tr[f"dL/dh[{n},{j}]"] == pytest.approx(d_h[n, j], rel=1e-12)
    assert list(tr.gradients) == [p.name for p in net.parameters()]
    for name, g in expected.items():
        np.testing.assert_allclose(tr.gradients[name], g, rtol=1e-12, atol=1e-15)

    # the sum is written term by term, with the numbers
    text = str(tr)
    line = next(li.strip() for li in text.splitlines() if li.strip().startswith("dL/dh[0,1] ="))
    f = lambda v: f"{float(v):.6g}"  # noqa: E731
    assert line == (
        f"dL/dh[0,1] = dL/dh[0,1] via left + dL/dh[0,1] via s = ({f(d_h_via_left[0, 1])}) + "
        f"({f(d_h_via_skip[0, 1])}) = {f(d_h[0, 1])}"
    )
    step = next(st for st in tr.steps if st["name"] == "dL/dh[0,1]")
    assert [t["via"] for t in step["terms"]] == ["left", "s"]  # the readers in forward order
    # only the fan-out node gets a sum: s, left and out have one reader (or the loss)
    sums = {st["name"].split("[")[0] for st in tr.steps if st.get("terms") and "via" in str(st)}
    assert sums == {"dL/dh"}
    assert re.search(r"dL/ds\[0,0\] via out = dL/dout\.z\[0,0\]·W_out\[0,0\]", text)


def test_trace_of_shared_layer_and_merges_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    a, c = cr.Input(2, name="a"), cr.Input(1, name="c")
    e = cr.Embedding(3, 2)(c, name="e")
    shared = cr.Dense(2, 2, activation="sigmoid")
    u = shared(a, name="u")
    v = shared(e, name="v")  # the same layer at two nodes
    m = cr.Multiply()(u, v, name="m")
    cat = cr.Concatenate()(m, a, name="cat")
    out = cr.Dense(4, 3)(cat, name="out")
    net = cr.Network(inputs=[a, c], outputs=out, seed=1, dtype=np.float64)
    A = np.array([[0.2, -0.7], [1.1, 0.4]])
    C = np.array([2, 0])
    y = np.array([1, 2])
    tr = cr.trace(net, [A, C], y, "cross_entropy")
    model = cr.export.to_torch(net)
    logits = model(torch.from_numpy(A), torch.from_numpy(C))
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).backward()
    reference = {}
    for layer, module in zip(net.layers, model.layers):
        for p, (_, tp) in zip(layer.parameters(), module.named_parameters()):
            g = tp.grad.numpy()
            reference[p.name] = g if isinstance(module, torch.nn.Embedding) else g.T
    assert set(reference) == set(tr.gradients)
    for name, g in reference.items():
        np.testing.assert_allclose(tr.gradients[name], g, rtol=1e-10, atol=1e-14)
    text = str(tr)
    # the shared layer's gradient: the sum of its two uses, entry by entry
    W = shared.weight.value
    for i, j in np.ndindex(W.shape):
        step = next(st for st in tr.steps if st["name"] == f"dL/dW_u[{i},{j}]")
        assert [t["via"] for t in step["terms"]] == ["u", "v"]
        assert sum(t["value"] for t in step["terms"]) == pytest.approx(
            reference["0.dense.weight"][i, j], rel=1e-10
        )
    assert re.search(r"dL/dW_u\[0,0\] = dL/dW_u\[0,0\] at u \+ dL/dW_u\[0,0\] at v = \(", text)
    # a shared layer's per-use term is its own chain-rule sum over the samples, with v's input e
    assert "dL/dW_u[1,0] at v = Σ_n dL/dv.z[n,0]·e[n,1]" in text
    # the embedding's fan-in: dL/dE rows only for the codes seen
    assert "dL/dE_e[2,0] at e = Σ over the samples with code 2" in text
    assert not any(st["name"].startswith("dL/dE_e[1,") for st in tr.steps)


def test_trace_graph_refusals():
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 2)(x)
    net = cr.Network(inputs=x, outputs=[cr.Dense(2, 1)(h), cr.Dense(2, 1)(h)])
    with pytest.raises(ValueError, match="one output"):
        cr.trace(net, np.ones((1, 2)), np.ones((1, 1)), "mse")
    x2 = cr.Input(2, name="x")
    dropped = cr.Network(inputs=x2, outputs=cr.Dense(2, 1)(cr.Dropout(0.5)(x2)))
    with pytest.raises(ValueError, match="Dropout"):
        cr.trace(dropped, np.ones((1, 2)), np.ones((1, 1)), "mse")


@pytest.mark.parametrize("graph", [False, True])
def test_trace_refuses_a_run_too_large_to_print(graph):
    x = cr.Input(2, name="x")
    if graph:
        net = cr.Network(inputs=x, outputs=cr.Dense(2, 1)(cr.Dense(2, 2)(x)), seed=0)
    else:
        net = cr.Sequential(cr.Dense(2, 2), cr.Dense(2, 1), seed=0)
    X, y = np.ones((3, 2)), np.zeros(3)
    with pytest.raises(
        ValueError, match=r"trace would record about \d+ steps \(limit max_steps=5\)"
    ):
        cr.trace(net, X, y, loss="mse", max_steps=5)
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        cr.trace(net, X, y[:2], loss="mse")

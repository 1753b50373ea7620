"""The traced passes: a worked example redone with plain Python arithmetic.

A 1-2-1 network with softplus hidden units and an identity output, with
weights set by hand, is fed three training points x = 0, 1, 2 with targets
0, 1, 0 and scored by the mean squared error. Every intermediate value and
every derivative is computed here with the ``math`` module only, and the
trace must show the same numbers, the same chain-rule factors, and gradients
equal to ``net.backward`` and to finite differences.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.trace import Trace, trace

# the worked example
XS = [0.0, 1.0, 2.0]
TS = [0.0, 1.0, 0.0]
W1 = [3.34, -3.53]  # input -> hidden unit 0, 1
B1 = [-1.43, 0.57]
W2 = [-1.22, -2.30]  # hidden unit 0, 1 -> output
B2 = 2.61


def worked_example_net(dtype=np.float64):
    net = cr.Sequential(cr.Dense(1, 2, activation="softplus"), cr.Dense(2, 1), seed=0, dtype=dtype)
    net[0].weight.value[...] = [W1]
    net[0].bias.value[...] = B1
    net[1].weight.value[...] = [[W2[0]], [W2[1]]]
    net[1].bias.value[...] = [B2]
    return net


def by_hand():
    """Every number of the example, with math only (no NumPy, no chainrule)."""

    def softplus(z):
        return math.log(1.0 + math.exp(z))

    def sigmoid(z):  # softplus'(z)
        return 1.0 / (1.0 + math.exp(-z))

    v = {}
    n_points = len(XS)
    for n, (x, t) in enumerate(zip(XS, TS)):
        for j in range(2):
            v[f"z1[{n},{j}]"] = x * W1[j] + B1[j]
            v[f"a1[{n},{j}]"] = softplus(v[f"z1[{n},{j}]"])
        out = W2[0] * v[f"a1[{n},0]"] + W2[1] * v[f"a1[{n},1]"] + B2
        v[f"z2[{n},0]"] = v[f"a2[{n},0]"] = out
        # L = (1/3) sum (out - t)^2  ->  dL/dout = 2 (out - t) / 3
        v[f"dL/da2[{n},0]"] = 2.0 * (out - t) / n_points
        v[f"da2/dz2[{n},0]"] = 1.0
        v[f"dL/dz2[{n},0]"] = v[f"dL/da2[{n},0]"]
        for j in range(2):
            v[f"dL/da1[{n},{j}]"] = v[f"dL/dz2[{n},0]"] * W2[j]
            v[f"da1/dz1[{n},{j}]"] = sigmoid(v[f"z1[{n},{j}]"])
            v[f"dL/dz1[{n},{j}]"] = v[f"dL/da1[{n},{j}]"] * v[f"da1/dz1[{n},{j}]"]
    v["L"] = sum((v[f"a2[{n},0]"] - t) ** 2 for n, t in enumerate(TS)) / n_points
    for j in range(2):
        v[f"dL/dW2[{j},0]"] = sum(v[f"dL/dz2[{n},0]"] * v[f"a1[{n},{j}]"] for n in range(3))
        v[f"dL/dW1[0,{j}]"] = sum(v[f"dL/dz1[{n},{j}]"] * XS[n] for n in range(3))
        v[f"dL/db1[{j}]"] = sum(v[f"dL/dz1[{n},{j}]"] for n in range(3))
    v["dL/db2[0]"] = sum(v[f"dL/dz2[{n},0]"] for n in range(3))
    return v


X = np.array(XS).reshape(-1, 1)
Y = np.array(TS)


@pytest.fixture(scope="module")
def traced():
    return trace(worked_example_net(), X, Y, "mse")


def test_every_number_matches_the_hand_computation(traced):
    hand = by_hand()
    assert len(hand) == 53
    assert {s["name"] for s in traced.steps} == set(hand)  # one step per number, no more
    for name, value in hand.items():
        assert traced[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    assert traced.loss == pytest.approx(hand["L"], rel=1e-12)


def test_the_weight_gradient_is_the_sum_of_three_chain_rule_products(traced):
    hand = by_hand()
    step = next(s for s in traced.steps if s["name"] == "dL/dW1[0,1]")
    assert step["phase"] == "backward" and step["layer"] == 1
    assert [t["sample"] for t in step["terms"]] == [0, 1, 2]
    for n, term in enumerate(step["terms"]):
        names = [f for f, _ in term["factors"]]
        assert names == [f"dL/da1[{n},1]", f"da1/dz1[{n},1]", f"dz1[{n},1]/dW1[0,1]"]
        factors = [v for _, v in term["factors"]]
        expected = [hand[f"dL/da1[{n},1]"], hand[f"da1/dz1[{n},1]"], XS[n]]
        assert factors == pytest.approx(expected, rel=1e-12)
        assert term["value"] == pytest.approx(math.prod(expected), rel=1e-12)
    assert step["value"] == pytest.approx(hand["dL/dW1[0,1]"], rel=1e-12)
    first = step["text"].splitlines()[0]
    assert first.startswith("dL/dW1[0,1] = Σ_n dL/da1[n,1]·da1/dz1[n,1]·dz1[n,1]/dW1[0,1]")
    assert "(dz1[n,1]/dW1[0,1] = x[n,0])" in first
    f = lambda v: f"{v + 0.0:.5g}"  # noqa: E731
    n1 = f"n=1: ({f(hand['dL/da1[1,1]'])})·({f(hand['da1/dz1[1,1]'])})·(1) = "
    assert n1 in step["text"]
    assert step["text"].splitlines()[-1] == f"sum = {f(hand['dL/dW1[0,1]'])}"


def test_forward_steps_show_the_weighted_sums(traced):
    step = next(s for s in traced.steps if s["name"] == "z2[2,0]")
    hand = by_hand()
    assert step["text"].startswith(
        "z2[2,0] = a1[2,0]·W2[0,0] + a1[2,1]·W2[1,0] + b2[0] = "
        f"({hand['a1[2,0]']:.5g})·(-1.22) + ({hand['a1[2,1]']:.5g})·(-2.3) + (2.61) = "
    )
    a = next(s for s in traced.steps if s["name"] == "a1[1,0]")
    assert a["text"] == (
        f"a1[1,0] = softplus(z1[1,0]) = softplus({hand['z1[1,0]']:.5g}) = {hand['a1[1,0]']:.5g}"
    )


def test_text_has_every_section_in_order(traced):
    text = str(traced)
    assert text == traced.text()
    heads = ["Forward pass", "Loss", "Backward pass", "Gradients"]
    positions = [text.index(h) for h in heads]
    assert positions == sorted(positions)
    assert "L = (1/N) Σ_n,j (a2[n,j] - y[n,j])^2" in text
    assert "dL/da2[0,0] = 2·(a2[0,0] - y[0,0])/N" in text
    assert text.index("  layer 2") < text.index("  layer 1 (", text.index("Backward"))
    assert repr(traced).startswith("Trace(steps=")
    # the data view: every step's value is in .values under its name
    assert all(traced.values[s["name"]] == s["value"] for s in traced.steps)


def test_gradients_equal_backward_and_finite_differences(traced):
    hand = by_hand()
    net = worked_example_net()
    loss = cr.MSE()
    loss.forward(net(X), Y)
    net.backward(loss.backward())
    assert list(traced.gradients) == [p.name for p in net.parameters()]
    for p in net.parameters():
        np.testing.assert_allclose(traced.gradients[p.name], p.grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        traced.gradients["0.dense.weight"], [[hand["dL/dW1[0,0]"], hand["dL/dW1[0,1]"]]]
    )
    # central differences of L with respect to every parameter
    eps = 1e-6
    for k, p in enumerate(net.parameters()):
        numeric = np.empty(p.value.size)
        for i in range(p.value.size):
            vals = []
            for sign in (1, -1):
                probe = copy.deepcopy(net)
                probe.parameters()[k].value.reshape(-1)[i] += sign * eps
                vals.append(cr.MSE().forward(probe(X), Y))
            numeric[i] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(traced.gradients[p.name].ravel(), numeric, rtol=1e-6, atol=1e-9)


def test_the_network_is_not_modified():
    net = worked_example_net(np.float32)
    for p in net.parameters():
        p.grad[...] = 3.0
    before = [p.value.copy() for p in net.parameters()]
    t = trace(net, X, Y, "mse")
    assert all(np.array_equal(p.value, b) for p, b in zip(net.parameters(), before))
    assert all(np.all(p.grad == 3.0) for p in net.parameters())
    assert isinstance(t, Trace)
    assert t["dL/db2[0]"] == pytest.approx(by_hand()["dL/db2[0]"], rel=1e-6)  # float32 weights


@pytest.mark.parametrize(
    "loss, y",
    [
        ("cross_entropy", np.array([0, 2, 1, 2])),
        ("binary_cross_entropy", np.array([[0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]])),
        ("mse", np.arange(12.0).reshape(4, 3) / 10),
        ("huber", np.arange(12.0).reshape(4, 3) / 10),
    ],
)
def test_other_losses_and_a_standalone_activation(loss, y):
    net = cr.Sequential(
        cr.Dense(2, 3),
        cr.Tanh(),
        cr.Dense(3, 3, activation="sigmoid"),
        cr.Dense(3, 3),
        seed=4,
        dtype=np.float64,
    )
    x = np.array([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8], [0.0, 0.0]])
    t = trace(net, x, y, loss)
    lo = cr.get_loss(loss)
    target = lo.prepare_target(y, 3, np.float64)
    assert t.loss == pytest.approx(lo.forward(net(x), target), rel=1e-12)
    net.backward(lo.backward())
    for p in net.parameters():
        np.testing.assert_allclose(t.gradients[p.name], p.grad, rtol=1e-12, atol=1e-15)
    assert "tanh'(" in t.text()
    assert t.arrays["a1"].shape == (4, 3) and np.allclose(t.arrays["a1"], np.tanh(t.arrays["z1"]))


def test_refuses_what_it_cannot_trace():
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match="Dropout"):
        trace(cr.Sequential(cr.Dense(2, 2), cr.Dropout(0.5), cr.Dense(2, 1)), x, [0, 1], "mse")
    with pytest.raises(ValueError, match="cross_entropy"):
        trace(cr.Sequential(cr.Dense(2, 2, activation="softmax")), x, [0, 1], "cross_entropy")
    with pytest.raises(ValueError, match="small networks"):
        trace(cr.Sequential(cr.Dense(2, 64), cr.Dense(64, 1)), np.zeros((99, 2)), np.zeros(99),
              "mse")  # fmt: skip
    with pytest.raises(ValueError, match="gradient descent"):  # the step's own explanation
        trace(cr.Sequential(cr.Dense(2, 2, activation="step"), cr.Dense(2, 1)), x, [0, 1], "mse")
    with pytest.raises(ValueError, match="1-D"):
        trace(worked_example_net(), np.array(XS), Y, "mse")

"""``cr.doctor`` and the rebuild remedies on graph networks (``cr.Network``).

References: the same doctor run on the equivalent ``Sequential`` (whose rebuild path is
independent of the graph one), hand-checked wiring, and the loss numbers themselves.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import verdicts
from chainrule.remedies import NotApplicable, Remedy, rebuild

FIT = {"loss": "binary_cross_entropy", "optimizer": "sgd", "lr": 0.1, "epochs": 30}


def sigmoid_chain():
    """Eight sigmoid layers and a linear output, wired with cr.Input / cr.Network (no skips)."""
    x = cr.Input(2, name="x")
    h = x
    for k in range(8):
        h = cr.Dense(2 if k == 0 else 16, 16, activation="sigmoid")(h, name=f"h{k}")
    return cr.Network(x, cr.Dense(16, 1)(h, name="out"), seed=0)


def sigmoid_stack():
    layers = [cr.Dense(2 if k == 0 else 16, 16, activation="sigmoid") for k in range(8)]
    return cr.Sequential(*layers, cr.Dense(16, 1), seed=0)


@pytest.fixture(scope="module")
def moons():
    return cr.datasets.moons(300, noise=0.1, seed=0)


def test_doctor_cures_the_vanishing_gradient_of_a_deep_sigmoid_graph(moons):
    X, y = moons
    result = cr.doctor(sigmoid_chain, X, y, FIT)
    assert result.verdict.kind == "vanishing_gradients"
    assert result.remedy.name == "relu_he"
    assert result.before_loss > 0.68  # a coin flip: log 2 = 0.693
    assert result.after_loss < 0.15
    assert result.cured
    treated = result.net
    assert type(treated) is cr.Network
    assert [n.name for n in treated.nodes] == ["x"] + [f"h{k}" for k in range(8)] + ["out"]
    assert all(type(layer.activation).__name__ == "ReLU" for layer in treated.layers[:-1])
    assert treated.layers[-1].activation is None  # the output layer keeps its own
    assert np.mean(treated.predict(X) == y) > 0.9
    # the same doctor on the same network written as a Sequential: the same numbers
    stack = cr.doctor(sigmoid_stack, X, y, FIT)
    assert stack.remedy.name == "relu_he"
    assert stack.before_loss == pytest.approx(result.before_loss, rel=1e-6)
    assert stack.after_loss == pytest.approx(result.after_loss, rel=1e-5)
    for a, b in zip(stack.net.get_weights(), treated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_rebuild_keeps_a_graphs_wiring_sharing_and_names():
    a, b = cr.Input(3, name="num"), cr.Input(1, name="city")
    shared = cr.Dense(5, 5, activation="tanh")
    z = cr.Concatenate()(a, cr.Embedding(4, 2)(b, name="emb"), name="z")
    t = shared(shared(z, name="t1"), name="t2")
    s = cr.Add()(z, t, name="skip")
    net = cr.Network([a, b], [cr.Dense(5, 2, activation="softmax")(s, name="p"),
                              cr.Dense(5, 1)(t, name="v")], seed=4)  # fmt: skip
    half = cr.initializers.Constant(0.5)
    new = rebuild(net, activation="relu", bias_init=half)
    assert [(n.name, [p.name for p in n.inputs]) for n in new.nodes] == [
        (n.name, [p.name for p in n.inputs]) for n in net.nodes
    ]
    layer = {n.name: n.layer for n in new.nodes}
    assert layer["t1"] is layer["t2"]  # still one shared layer
    assert len(new.parameters()) == len(net.parameters()) and new.seed == 4
    assert type(layer["t1"].activation).__name__ == "ReLU"
    assert type(layer["p"].activation).__name__ == "Softmax"  # outputs keep their own
    assert layer["v"].activation is None
    dense = [ly for ly in new.layers if isinstance(ly, cr.Dense)]
    assert all(np.all(d.bias.value == 0.5) for d in dense)
    # the rebuilt graph computes what its wiring says, by hand
    A, C = np.random.default_rng(1).normal(size=(4, 3)), np.array([0, 3, 1, 3])
    W, b = layer["t1"].weight.value, layer["t1"].bias.value
    z = np.concatenate([A, layer["emb"].weight.value[C]], axis=1)
    t = np.maximum(np.maximum(z @ W + b, 0) @ W + b, 0)
    v = t @ layer["v"].weight.value + layer["v"].bias.value
    np.testing.assert_allclose(new([A, C])[1], v, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotApplicable, match="'wider' remedy .* cannot be applied to one"):
        rebuild(net, hidden=[32])


def test_doctor_skips_a_remedy_a_graph_cannot_take_and_says_why(moons, monkeypatch):
    X, y = moons
    original = verdicts.remedies_for
    wider = Remedy("wider", {"hidden": [64, 64]}, python="hidden layers of 64,64 units",
                   cli=None, playground=None)  # fmt: skip

    def wider_first(kind, ev, story, ctx):
        return [wider, *original(kind, ev, story, ctx)]

    monkeypatch.setattr(verdicts, "remedies_for", wider_first)
    fit = dict(FIT, epochs=10)
    result = cr.doctor(sigmoid_chain, X, y, fit)
    assert result.remedy.name == "relu_he"
    assert result.notes[0].startswith("wider not applied: the 'wider' remedy rebuilds a stack")
    assert "note: wider not applied" in str(result)
    assert result.after_loss < result.before_loss - 0.1

    monkeypatch.setattr(verdicts, "remedies_for", lambda *args: [wider])
    result = cr.doctor(sigmoid_chain, X, y, fit)
    assert result.remedy is None and result.after_loss == result.before_loss
    assert str(result).endswith("no remedy applies to this network.")
    assert math.isfinite(result.before_loss)


def test_the_standardise_remedy_scales_each_numeric_input_of_a_graph():
    rng = np.random.default_rng(0)
    A, C = rng.normal(100.0, 20.0, size=(50, 2)), rng.integers(0, 3, 50)
    a, b = cr.Input(2, name="num"), cr.Input(1, name="city")
    net = cr.Network([a, b], cr.Dense(4, 1)(cr.Concatenate()(a, cr.Embedding(3, 2)(b))), seed=0)
    standardise = Remedy("standardise", {"standardise": True}, python="", cli=None,
                         playground=None)  # fmt: skip
    treatment = standardise.apply(net, {}, X=[A, C])
    A2, C2 = treatment.transform([A, C])
    np.testing.assert_allclose(A2, (A - A.mean(axis=0)) / A.std(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(C2, C)  # codes are not numbers to rescale
    by_name = standardise.apply(net, {}, X={"num": A, "city": C}).transform({"num": A, "city": C})
    np.testing.assert_allclose(by_name["num"], A2)

"""Graph networks: the multivariable chain rule checked by hand, shared layers, several
inputs and outputs in fit/predict/evaluate, files, and the error messages."""

from __future__ import annotations

import copy
import gc
import pickle

import numpy as np
import pytest

import chainrule as cr


def _rng(seed=0):
    return np.random.default_rng(seed)


def two_headed(seed=0, dtype=np.float64):
    """The design document's example: numbers and an embedded category, a shared layer,
    a classification head and a regression head."""
    a, b = cr.Input(5, name="num"), cr.Input(1, name="city")
    e = cr.Embedding(20, 4)(b)
    z = cr.Concatenate()(a, e)
    shared = cr.Dense(9, 9, activation="tanh")
    t = shared(shared(z))
    y1 = cr.Dense(9, 3)(t, name="label")
    y2 = cr.Dense(9, 1)(t, name="value")
    return cr.Network(inputs=[a, b], outputs=[y1, y2], seed=seed, dtype=dtype)


def two_headed_data(n=240, seed=0):
    rng = _rng(seed)
    A = rng.normal(size=(n, 5))
    C = rng.integers(0, 20, size=n)
    labels = (A[:, 0] > 0).astype(int) + (C % 2)
    values = A[:, 1:2] + 0.1 * C[:, None]
    return A, C, labels, values


# -- the chain rule on a graph, against arithmetic written out here --------------------------------
def test_diamond_input_gradient_is_the_sum_over_both_paths():
    """x feeds two layers: dL/dx = dL/dx via a + dL/dx via b."""
    x = cr.Input(2, name="x")
    a = cr.Dense(2, 3)(x)
    b = cr.Dense(2, 3, activation="tanh")(x)
    s = cr.Multiply()(a, b)
    net = cr.Network(x, s, seed=3, dtype=np.float64)
    rng = _rng(1)
    X, G = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    Wa, ba = net.layers[0].weight.value, net.layers[0].bias.value
    Wb, bb = net.layers[1].weight.value, net.layers[1].bias.value
    av, bv = X @ Wa + ba, np.tanh(X @ Wb + bb)
    np.testing.assert_allclose(net(X), av * bv, rtol=1e-14)
    dX = net.backward(G)
    via_a = (G * bv) @ Wa.T  # d(a b)/da = b
    via_b = (G * av * (1 - bv**2)) @ Wb.T  # d(a b)/db = a, tanh' = 1 - tanh^2
    np.testing.assert_allclose(dX, via_a + via_b, rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].weight.grad, X.T @ (G * bv), rtol=1e-12)


def test_a_shared_layer_accumulates_both_uses():
    """h1 = x W + b, h2 = h1 W + b: dL/dW = x^T (G W^T) + h1^T G, dL/db = sum(G W^T) + sum(G)."""
    x = cr.Input(3, name="x")
    layer = cr.Dense(3, 3)
    net = cr.Network(x, layer(layer(x)), seed=0, dtype=np.float64)
    assert net.layers == [layer] and net.parameters() == [layer.weight, layer.bias]
    rng = _rng(2)
    X, G = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    W, b = layer.weight.value, layer.bias.value
    h1 = X @ W + b
    np.testing.assert_allclose(net(X), h1 @ W + b, rtol=1e-14)
    dX = net.backward(G)
    np.testing.assert_allclose(layer.weight.grad, X.T @ (G @ W.T) + h1.T @ G, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, (G @ W.T).sum(0) + G.sum(0), rtol=1e-12)
    np.testing.assert_allclose(dX, G @ W.T @ W.T, rtol=1e-12)
    # accumulate=True adds to what is there, as for Sequential
    before = layer.weight.grad.copy()
    net(X)
    net.backward(G, accumulate=True)
    np.testing.assert_allclose(layer.weight.grad, 2 * before, rtol=1e-12)


def test_embedding_backward_is_a_scatter_add():
    codes = np.array([2, 0, 2, 2])
    emb = cr.Embedding(3, 2, seed=0)
    out = emb(codes)
    np.testing.assert_array_equal(out, emb.weight.value[codes])
    G = np.arange(8.0).reshape(4, 2)
    assert emb.backward(G) is None
    expected = np.zeros((3, 2))
    for i, c in enumerate(codes):
        expected[c] += G[i]
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_gradcheck_on_a_diamond_graph_with_two_inputs_and_outputs():
    x, c = cr.Input(3, name="x"), cr.Input(1, name="c")
    left = cr.Dense(3, 4, activation="softplus")(x)
    right = cr.Dense(3, 4, activation="sigmoid")(x)
    top = cr.Add()(left, right, cr.Embedding(5, 4)(c))
    net = cr.Network([x, c], [cr.Dense(4, 2)(top), cr.Dense(4, 1)(top)], seed=0)
    rng = _rng(4)
    X, C = rng.normal(size=(6, 3)), rng.integers(0, 5, size=6)
    result = cr.gradcheck(net, ["cross_entropy", "huber"], [X, C], [C % 2, rng.normal(size=6)])
    assert result.passed, str(result)
    assert set(result.errors) == {p.name for p in net.parameters()} | {"X[x]"}
    assert result.max_error < 1e-7
    # a wrong derivative is caught: break the sigmoid's
    bad = copy.deepcopy(net)
    act = bad.layers[1].activation
    act.df = lambda z, a: a  # should be a (1 - a)
    act.vjp_bias_ = cr.Activation.vjp_bias_.__get__(act)
    act.vjp_ = cr.Activation.vjp_.__get__(act)
    act.vjp = cr.Activation.vjp.__get__(act)
    assert not cr.gradcheck(bad, ["cross_entropy", "huber"], [X, C], [C % 2, rng.normal(size=6)])


# -- structure ---------------------------------------------------------------------------------------
def test_sequential_is_a_network_with_a_chain_graph():
    seq = cr.Sequential(cr.Dense(3, 4, activation="relu"), cr.Dense(4, 2))
    assert isinstance(seq, cr.Network)
    nodes = seq.nodes
    assert [n.layer for n in nodes] == [None, *seq.layers]
    assert all(n.inputs == (p,) for p, n in zip(nodes, nodes[1:]))
    assert seq.inputs[0] is nodes[0] and seq.outputs[0] is nodes[-1]
    assert [n.name for n in nodes] == ["input_0", "dense_0", "dense_1"]


def test_nodes_are_in_topological_order_and_layers_listed_once():
    net = two_headed()
    seen = set()
    for node in net.nodes:
        assert all(id(p) in seen for p in node.inputs), node
        seen.add(id(node))
    assert [type(layer).__name__ for layer in net.layers] == [
        "Embedding",
        "Concatenate",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert len(net.parameters()) == 7  # the shared Dense once
    assert net.n_parameters() == 20 * 4 + 90 + 30 + 10


def test_summary_has_a_connected_to_column_and_marks_the_shared_use():
    text = two_headed().summary()
    lines = text.splitlines()
    assert lines[0].split()[-2:] == ["connected", "to"]
    row = next(line for line in lines if line.split()[1:2] == ["concatenate_0"])
    assert row.endswith("num, embedding_0")
    assert sum("shared" in line for line in lines) == 1
    assert "Total parameters: 210" in text
    assert "<td" in two_headed()._repr_html_()


def test_a_layer_called_on_an_array_still_computes():
    layer = cr.Dense(2, 1, seed=0, dtype=np.float64)
    X = np.ones((3, 2))
    np.testing.assert_allclose(layer(X), X @ layer.weight.value + layer.bias.value)
    assert isinstance(layer(cr.Input(2)), cr.Node)


def test_a_node_dropped_before_the_network_is_built_does_not_count():
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 2)(x)
    cr.Dense(2, 5)(h)  # built and thrown away, as a notebook cell run twice does
    gc.collect()
    net = cr.Network(x, cr.Dense(2, 1)(h))
    assert len(net.layers) == 2


def test_copy_and_pickle_keep_the_graph():
    net = two_headed()
    A, C, _, _ = two_headed_data(8)
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        for a, b in zip(net([A, C]), other([A, C])):
            np.testing.assert_array_equal(a, b)
        assert other.output_names == ["label", "value"]


# -- fit, predict, evaluate with several inputs and outputs ---------------------------------------
def test_fit_with_a_dict_of_inputs_two_losses_and_loss_weights():
    A, C, labels, values = two_headed_data()
    net = two_headed(dtype=np.float32)
    hist = net.fit(
        {"num": A, "city": C},
        [labels, values],
        loss=["cross_entropy", "mse"],
        loss_weights=[1.0, 0.5],
        epochs=30,
        batch_size=32,
        metrics=["accuracy", "mae"],
        validation_split=0.25,
    )
    assert set(hist.history) == {
        "loss",
        "label_loss",
        "value_loss",
        "label_accuracy",
        "value_mae",
        "val_loss",
        "val_label_loss",
        "val_value_loss",
        "val_label_accuracy",
        "val_value_mae",
    }
    assert hist["loss"][-1] < 0.7 * hist["loss"][0]
    # the total is sum w_k L_k, each L_k the loss of that output, computed here
    res = net.evaluate([A, C], [labels, values])
    assert res["loss"] == pytest.approx(res["label_loss"] + 0.5 * res["value_loss"], rel=1e-6)
    logits, pred = net.eval()([A, C])
    assert res["value_loss"] == pytest.approx(np.mean((pred - values) ** 2), rel=1e-5)
    z = logits - logits.max(1, keepdims=True)
    ce = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(z)), labels])
    assert res["label_loss"] == pytest.approx(ce, rel=1e-5)
    assert res["label_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == labels))
    # predict answers each head's task; predict_proba gives None for the regression head
    p_label, p_value = net.predict({"city": C, "num": A})
    np.testing.assert_array_equal(p_label, logits.argmax(1))
    np.testing.assert_allclose(p_value, pred[:, 0], rtol=1e-6)
    proba, none = net.predict_proba([A, C])
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert none is None


def test_a_zero_loss_weight_leaves_that_head_untouched():
    A, C, labels, values = two_headed_data(64)
    net = two_headed()
    head = net.layers[4]  # the regression head's Dense
    before = head.weight.value.copy()
    net.fit(
        [A, C],
        [labels, values],
        loss=["cross_entropy", "mse"],
        loss_weights=[1.0, 0.0],
        optimizer="sgd",
        lr=0.1,
        epochs=2,
    )
    np.testing.assert_array_equal(head.weight.value, before)
    assert not np.array_equal(net.layers[2].weight.value, two_headed().layers[2].weight.value)


def test_validation_data_and_sample_weight_with_several_inputs():
    A, C, labels, values = two_headed_data(100)
    net = two_headed()
    w = np.ones(100)
    w[:50] = 0  # only the last 50 rows count
    hist = net.fit(
        [A, C],
        [labels, values],
        loss=["cross_entropy", "mse"],
        epochs=1,
        batch_size=None,
        optimizer="sgd",
        lr=0.0,
        sample_weight=w,
        validation_data=([A[50:], C[50:]], [labels[50:], values[50:]]),
    )
    # lr=0: the weighted training loss over rows 50.. equals the validation loss on them
    assert hist["loss"][0] == pytest.approx(hist["val_loss"][0], rel=1e-12)


def test_a_residual_network_learns_with_one_array():
    rng = _rng(5)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR-like quadrants
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 16, activation="tanh")(x)
    h = cr.Add()(h, cr.Dense(16, 16, activation="tanh")(h))
    net = cr.Network(x, cr.Dense(16, 2)(h), seed=0)
    net.fit(X, y, loss="cross_entropy", lr=0.02, epochs=60, batch_size=32)
    assert np.mean(net.predict(X) == y) > 0.9
    assert net.predict_proba(X).shape == (400, 2)
    np.testing.assert_array_equal(net([X]), net(X))  # a one-element list, or a dict by name
    np.testing.assert_array_equal(net({"x": X}), net(X))


# -- files ------------------------------------------------------------------------------------------
def test_save_load_is_bit_identical_and_marks_a_graph_file(tmp_path):
    A, C, labels, values = two_headed_data(50)
    net = two_headed(dtype=np.float32)
    net.fit([A, C], [labels, values], loss=["cross_entropy", "mse"], loss_weights=[1, 2], epochs=1)
    net.save(tmp_path / "g.safetensors")
    loaded = cr.load(tmp_path / "g.safetensors")
    for a, b in zip(net.eval()([A, C]), loaded([A, C])):
        np.testing.assert_array_equal(a, b)
    assert loaded.loss_ == ["cross_entropy", "mse"] and loaded.loss_weights_ == [1.0, 2.0]
    shared = [n.layer for n in loaded.nodes if n.name in ("dense_0", "dense_1")]
    assert shared[0] is shared[1]  # still one layer, used twice
    meta = cr.serialization.read_metadata(tmp_path / "g.safetensors")
    assert meta["format_version"] == "4"
    assert meta["architecture"]["graph"]["nodes"][1] == {
        "name": "concatenate_0",
        "layer": 1,
        "inputs": ["num", "embedding_0"],
    }
    # a Sequential's file is still the format older versions read
    cr.Sequential(cr.Dense(2, 1)).save(tmp_path / "s.safetensors")
    assert cr.serialization.read_metadata(tmp_path / "s.safetensors")["format_version"] == "2"


def test_a_graph_checkpoint_resumes_training_exactly(tmp_path):
    A, C, labels, values = two_headed_data(80)
    kw = dict(loss=["cross_entropy", "mse"], batch_size=16)
    ref = two_headed(dtype=np.float32)
    ref.fit([A, C], [labels, values], epochs=4, **kw)
    net = two_headed(dtype=np.float32)
    net.fit([A, C], [labels, values], epochs=2, **kw)
    net.save(tmp_path / "ckpt.safetensors", optimizer=net.optimizer_)
    resumed, opt = cr.load_checkpoint(tmp_path / "ckpt.safetensors")
    resumed.fit([A, C], [labels, values], epochs=2, optimizer=opt, **kw)
    for p, q in zip(ref.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


# -- errors -----------------------------------------------------------------------------------------
def test_a_node_that_reaches_no_output_is_named():
    x = cr.Input(4, name="x")
    h = cr.Dense(4, 3)(x)
    aux = cr.Dense(3, 2)(h, name="aux")
    with pytest.raises(ValueError, match="node 'aux' .* reaches no output"):
        cr.Network(x, cr.Dense(3, 1)(h))
    assert cr.Network(x, [cr.Dense(3, 1)(h), aux]).output_names[1] == "aux"


def test_an_unused_or_missing_input_is_refused():
    x, z = cr.Input(2, name="x"), cr.Input(2, name="z")
    with pytest.raises(ValueError, match="input 'z' reaches no output"):
        cr.Network([x, z], cr.Dense(2, 1)(x))
    with pytest.raises(ValueError, match=r"depend on Input\(2, name='z'\), which is not in inputs"):
        cr.Network(x, cr.Add()(x, z))


@pytest.mark.parametrize(
    "X, message",
    [
        ("one", r"has 2 inputs \['num', 'city'\] but got one array"),
        ("three", r"has 2 inputs \['num', 'city'\] but got 3 arrays"),
        ({"num": 0}, "missing input 'city'"),
        ({"num": 0, "city": 1, "town": 1}, "unknown input name 'town'"),
        ("rows", "'num' has 10, 'city' has 9"),
        ("width", "input 'num' has 4 features but Input 'num' expects 5"),
        ("code", "Embedding code 20 is out of range: .* codes must lie in 0..19"),
        ("fraction", "Embedding takes integer codes, got the non-integer value 1.5"),
    ],
)
def test_input_errors_name_the_problem(X, message):
    net = two_headed()
    A, C = np.zeros((10, 5)), np.zeros(10, dtype=int)
    cases = {
        "one": A,
        "three": [A, C, C],
        "rows": [A, C[:9]],
        "width": [A[:, :4], C],
        "code": [A, C + 20],
        "fraction": [A, C + 1.5],
    }
    if isinstance(X, dict):
        X = {k: (A, C)[v] for k, v in X.items()}
    else:
        X = cases[X]
    with pytest.raises(ValueError, match=message):
        net(X)


def test_merge_width_errors_and_target_count():
    x = cr.Input(4, name="x")
    a, b = cr.Dense(4, 3)(x, name="a"), cr.Dense(4, 2)(x, name="b")
    with pytest.raises(
        ValueError, match="Add needs inputs of the same width, but a has 3, b has 2"
    ):
        cr.Add()(a, b)
    with pytest.raises(ValueError, match="Multiply needs inputs of the same width"):
        cr.Multiply()(a, b)
    assert cr.Concatenate()(a, b).n_features == 5
    with pytest.raises(ValueError, match="Dense.* expects 3 features but gets 4 from node 'x'"):
        cr.Dense(3, 1)(x)
    with pytest.raises(ValueError, match="merges two or more"):
        cr.Add()(a)
    net = two_headed()
    A, C, labels, values = two_headed_data(10)
    with pytest.raises(ValueError, match=r"2 outputs \['label', 'value'\], so y needs one per"):
        net.fit([A, C], labels, loss=["cross_entropy", "mse"])
    with pytest.raises(ValueError, match="so loss needs one per output"):
        net.fit([A, C], [labels, values], loss="mse")
    with pytest.raises(
        ValueError, match=r"Embedding\(.*\) takes one column of integer codes, but node .x. has 4"
    ):
        cr.Embedding(5, 2)(x)


def test_duplicate_node_names_are_refused():
    x = cr.Input(2, name="h")
    with pytest.raises(ValueError, match="two nodes of the network are named 'h'"):
        cr.Network(x, cr.Dense(2, 1)(x, name="h"))


def test_node_names_stay_when_another_network_shares_the_nodes():
    x = cr.Input(3)
    h = cr.Dense(3, 4)(x)
    a, b = cr.Dense(4, 1)(h), cr.Dense(4, 2)(h)
    first = cr.Network(x, [a, b])
    assert first.output_names == ["dense_1", "dense_2"]
    second = cr.Network(x, [b, a])  # walks b's branch first, but keeps the names
    assert second.output_names == ["dense_2", "dense_1"]
    assert first.output_names == ["dense_1", "dense_2"]


def test_embedding_example_beats_the_one_hot_stack_with_a_sixth_of_the_parameters(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "embedding_tabular.py"
    spec = importlib.util.spec_from_file_location("example_embedding_tabular", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(tmp_path, small=True)
    out = capsys.readouterr().out
    r = result["results"]
    # Embedding(200, 4) + Dense(9, 32) + Dense(32, 1), against Dense(205, 32) + Dense(32, 1)
    assert r["embedding network"]["parameters"] == 200 * 4 + (9 * 32 + 32) + (32 + 1)
    assert r["one-hot stack"]["parameters"] == (205 * 32 + 32) + (32 + 1)
    ignored = r["numeric only"]["test_mse"]
    assert r["one-hot stack"]["test_mse"] < ignored / 4
    assert r["embedding network"]["test_mse"] < r["one-hot stack"]["test_mse"]
    assert result["embedding_r2"] > 0.7  # the 4 learned numbers carry the hidden u_c
    assert "lowest test error: embedding network" in out
    assert [p.name for p in tmp_path.iterdir()] == ["embedding_tabular.png"]

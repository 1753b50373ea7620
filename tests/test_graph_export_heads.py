"""Graph networks exported with their classifier outputs and their stored preprocessing.

References: ONNX Runtime and PyTorch running the exported model on raw inputs, against
``net.predict`` / ``net.predict_proba`` and against softmax, sigmoid and standardisation
written out in NumPy here; and the ``Sequential`` export of the same chain.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.export import from_torch, to_onnx, to_torch

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


def run_onnx(path, feeds: dict):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return names, dict(zip(names, sess.run(None, feeds)))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def four_heads(seed=0):
    """Two inputs (numbers and codes), four outputs: 3 classes, binary, a value, 2 labels."""
    rng = np.random.default_rng(seed)
    A, C = rng.normal(size=(60, 3)), rng.integers(0, 4, 60)
    a, b = cr.Input(3, name="num"), cr.Input(1, name="city")
    t = cr.Dense(5, 6, activation="tanh")(cr.Concatenate()(a, cr.Embedding(4, 2)(b)))
    outs = [cr.Dense(6, 3)(t, name="kind"), cr.Dense(6, 1)(t, name="flag"),
            cr.Dense(6, 1)(t, name="amount"), cr.Dense(6, 2)(t, name="tags")]  # fmt: skip
    net = cr.Network([a, b], outs, seed=seed)
    y = [rng.integers(0, 3, 60), rng.integers(0, 2, 60), rng.normal(size=60),
         rng.integers(0, 2, (60, 2))]  # fmt: skip
    losses = ["cross_entropy", "binary_cross_entropy", "mse", "binary_cross_entropy"]
    net.fit([A, C], y, loss=losses, lr=0.05, epochs=5, verbose=0, seed=0)
    return net, A, C


def test_each_classifier_output_gets_probabilities_and_labels_after_the_outputs(tmp_path):
    net, A, C = four_heads()
    names, got = run_onnx(
        to_onnx(net, tmp_path / "g.onnx"),
        {"num": A.astype(np.float32), "city": C.reshape(-1, 1).astype(np.int64)},
    )
    assert names == ["kind", "flag", "amount", "tags",  # the network's outputs first, in order
                     "kind_probabilities", "kind_label", "flag_probabilities", "flag_label",
                     "tags_probabilities", "tags_label"]  # fmt: skip
    proba, labels, raw = net.predict_proba([A, C]), net.predict([A, C]), net([A, C])
    for k, name in enumerate(["kind", "flag", "tags"]):
        k = [0, 1, 3][k]
        np.testing.assert_allclose(got[f"{name}_probabilities"], proba[k], rtol=1e-5, atol=1e-6)
        assert got[f"{name}_label"].dtype == np.int64
        np.testing.assert_array_equal(got[f"{name}_label"], labels[k])
    # and against the formulas, from the raw outputs alone
    np.testing.assert_allclose(got["kind_probabilities"], softmax(raw[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["flag_probabilities"], 1 / (1 + np.exp(-raw[1])), rtol=1e-5)
    np.testing.assert_array_equal(got["kind_label"], raw[0].argmax(axis=1))
    np.testing.assert_array_equal(got["flag_label"], (raw[1][:, 0] > 0).astype(int))
    np.testing.assert_array_equal(got["tags_label"], (raw[3] > 0).astype(int))
    assert got["kind_label"].shape == (60,) and got["tags_label"].shape == (60, 2)
    # the regression output has no added outputs; include_probabilities=False leaves only outputs
    names, _ = run_onnx(
        to_onnx(net, tmp_path / "plain.onnx", include_probabilities=False),
        {"num": A.astype(np.float32), "city": C.reshape(-1, 1).astype(np.int64)},
    )
    assert names == ["kind", "flag", "amount", "tags"]


def test_a_one_output_graph_is_named_as_the_sequential_and_computes_the_same(tmp_path):
    X, y = cr.datasets.moons(80, noise=0.2, seed=1)
    y3 = (y + (X[:, 0] > 1)).astype(int)  # three classes
    seq = cr.Sequential(cr.Dense(2, 5, activation="relu"), cr.Dense(5, 3), seed=3)
    seq.fit(X, y3, loss="cross_entropy", epochs=3, verbose=0, seed=0)
    x = cr.Input(2, name="input")
    h = cr.Dense(2, 5, activation="relu")(x)
    net = cr.Network(x, cr.Dense(5, 3)(h), seed=0)
    net.set_weights(seq.get_weights())
    net.loss_ = "cross_entropy"
    net.preprocessing_ = seq.preprocessing_ = {"classes": ["a", "b", "c"]}
    X32 = X.astype(np.float32)
    g_names, g = run_onnx(to_onnx(net, tmp_path / "g.onnx"), {"input": X32})
    s_names, s = run_onnx(to_onnx(seq, tmp_path / "s.onnx"), {"input": X32})
    assert g_names == s_names == ["output", "probabilities", "label", "class_name"]
    for name in ("output", "probabilities", "label", "class_name"):
        np.testing.assert_array_equal(g[name], s[name])
    np.testing.assert_allclose(g["probabilities"], net.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert list(g["class_name"]) == [["a", "b", "c"][k] for k in net.predict(X)]


def test_a_hinge_output_gets_a_label_only_and_refusals_name_the_problem(tmp_path):
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 4, activation="tanh")(x)
    net = cr.Network(x, [cr.Dense(4, 1)(h, name="side"), cr.Dense(4, 1)(h, name="size")], seed=0)
    X, y = cr.datasets.moons(50, noise=0.2, seed=0)
    net.fit(X, [y, X[:, 0]], loss=["hinge", "mse"], epochs=2, verbose=0)
    names, got = run_onnx(to_onnx(net, tmp_path / "h.onnx"), {"x": X.astype(np.float32)})
    assert names == ["side", "size", "side_label"]
    np.testing.assert_array_equal(got["side_label"], net.predict(X)[0])
    x = cr.Input(2, name="x")
    regression = cr.Network(x, cr.Dense(2, 1)(x), seed=0)
    regression.loss_ = "mse"
    with pytest.raises(ValueError, match="include_probabilities=True needs a classifier output"):
        to_onnx(regression, tmp_path / "r.onnx", include_probabilities=True)
    x = cr.Input(2, name="x")
    clash = cr.Network(x, [cr.Dense(2, 1)(x, name="side"),
                           cr.Dense(2, 1)(x, name="side_label")], seed=0)  # fmt: skip
    clash.loss_ = ["hinge", "mse"]
    with pytest.raises(ValueError, match="'side_label', which is already the name of an input"):
        to_onnx(clash, tmp_path / "c.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.onnx"]


# -- stored preprocessing -----------------------------------------------------------------------
def priced(seed=0):
    """Raw numbers far from standard (mean 50, sd 10), codes, a price in dollars, a class."""
    rng = np.random.default_rng(seed)
    A, C = rng.normal(50.0, 10.0, size=(80, 3)), rng.integers(0, 4, 80)
    mean, scale = A.mean(axis=0), A.std(axis=0)
    a, b = cr.Input(3, name="num"), cr.Input(1, name="city")
    t = cr.Dense(5, 6, activation="tanh")(cr.Concatenate()(a, cr.Embedding(4, 2)(b)))
    net = cr.Network([a, b], [cr.Dense(6, 1)(t, name="price"), cr.Dense(6, 2)(t, name="high")],
                     seed=seed)  # fmt: skip
    price = 200.0 + 30.0 * np.tanh((A[:, 0] - 50.0) / 10.0)
    net.fit([(A - mean) / scale, C], [(price - 200.0) / 30.0, (price > 200).astype(int)],
            loss=["mse", "cross_entropy"], epochs=5, verbose=0, seed=0)  # fmt: skip
    net.preprocessing_ = {
        "mean": {"num": mean.tolist()}, "scale": {"num": scale.tolist()},
        "target_mean": {"price": 200.0}, "target_scale": {"price": 30.0},
    }  # fmt: skip
    return net, A, C, mean, scale


def test_a_graph_with_stored_scaling_answers_from_raw_inputs_in_torch_and_onnx(tmp_path):
    net, A, C, mean, scale = priced()
    # by hand: the network on standardised numbers, its price output back in dollars
    raw = net([(A - mean) / scale, C])
    expected_price = raw[0][:, 0] * 30.0 + 200.0
    predicted = net.predict([A, C])
    np.testing.assert_allclose(predicted[0], expected_price, rtol=1e-5)
    np.testing.assert_array_equal(predicted[1], raw[1].argmax(axis=1))
    np.testing.assert_array_equal(net.predict({"city": C, "num": A})[1], predicted[1])

    module = to_torch(net).eval()
    with torch.no_grad():
        t_price, t_high = module(torch.from_numpy(A.astype(np.float32)), torch.from_numpy(C))
    np.testing.assert_allclose(t_price.numpy()[:, 0], predicted[0], rtol=1e-5)
    np.testing.assert_array_equal(t_high.numpy().argmax(axis=1), predicted[1])
    back = from_torch(module, loss=["mse", "cross_entropy"])  # the scaling comes back with it
    np.testing.assert_allclose(back.predict([A, C])[0], predicted[0], rtol=1e-6)
    assert back.preprocessing_["target_scale"] == {"price": 30.0}

    names, got = run_onnx(to_onnx(net, tmp_path / "p.onnx"),
                          {"num": A.astype(np.float32), "city": C.reshape(-1, 1)})  # fmt: skip
    assert names == ["price", "high", "price_value", "high_probabilities", "high_label"]
    onnx = pytest.importorskip("onnx")
    props = {p.key: p.value for p in onnx.load(tmp_path / "p.onnx").metadata_props}
    assert json.loads(props["preprocessing"])["target_scale"] == {"price": 30.0}
    np.testing.assert_allclose(got["price_value"], predicted[0], rtol=1e-5)
    np.testing.assert_array_equal(got["high_label"], predicted[1])
    np.testing.assert_allclose(got["high_probabilities"], net.predict_proba([A, C])[1], rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(got["price"], raw[0], rtol=1e-4, atol=1e-5)  # net(...) unchanged

    # preprocessing=False: exactly net(...) on prepared inputs, nothing added
    plain = to_torch(net, preprocessing=False).eval()
    with torch.no_grad():
        p_price, _ = plain(torch.from_numpy(((A - mean) / scale).astype(np.float32)),
                           torch.from_numpy(C))  # fmt: skip
    np.testing.assert_allclose(p_price.numpy(), raw[0], rtol=1e-5, atol=1e-6)
    names, _ = run_onnx(
        to_onnx(net, tmp_path / "q.onnx", preprocessing=False, include_probabilities=False),
        {"num": A.astype(np.float32), "city": C.reshape(-1, 1)},
    )
    assert names == ["price", "high"]


def test_a_one_input_graph_exports_its_scaling_as_the_same_sequential_does(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(5.0, 3.0, size=(30, 2))
    seq = cr.Sequential(cr.Dense(2, 4, activation="tanh"), cr.Dense(4, 1), seed=1)
    x = cr.Input(2, name="input")
    net = cr.Network(x, cr.Dense(4, 1)(cr.Dense(2, 4, activation="tanh")(x)), seed=0)
    net.set_weights(seq.get_weights())
    stored = {"mean": [5.0, 4.0], "scale": [3.0, 2.0], "target_mean": 7.0, "target_scale": 0.5}
    for model in (seq, net):
        model.loss_, model.preprocessing_ = "mse", dict(stored)
    np.testing.assert_allclose(net.predict(X), seq.predict(X), rtol=1e-6)
    np.testing.assert_allclose(net.predict(X), net((X - [5, 4]) / [3, 2])[:, 0] * 0.5 + 7.0,
                               rtol=1e-6)  # fmt: skip
    with torch.no_grad():
        ours = to_torch(net).eval()(torch.from_numpy(X.astype(np.float32))).numpy()
        theirs = to_torch(seq).eval()(torch.from_numpy(X.astype(np.float32))).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    g_names, g = run_onnx(to_onnx(net, tmp_path / "g.onnx"), {"input": X.astype(np.float32)})
    s_names, s = run_onnx(to_onnx(seq, tmp_path / "s.onnx"), {"input": X.astype(np.float32)})
    assert g_names == s_names == ["output", "value"]
    np.testing.assert_allclose(g["value"], s["value"], rtol=1e-6)
    np.testing.assert_allclose(g["value"], net.predict(X), rtol=1e-5)


@pytest.mark.parametrize(
    "stored, message",
    [
        ({"mean": [0.0, 0.0, 0.0]}, r"one 'mean'/'scale' but the network has 2 inputs"),
        ({"mean": {"city": [1.0]}, "scale": {"city": [2.0]}},
         r"input 'city' holds integer codes for an Embedding"),
        ({"mean": {"nums": [0.0] * 3}}, r"scales an input 'nums' the network does not have"),
        ({"target_mean": 1.0, "target_scale": 2.0}, r"one target_mean/target_scale but the "
                                                    r"network has 2 outputs"),
        ({"target_mean": {"high": 1.0}, "target_scale": {"high": 2.0}},
         r"rescales output 'high', a classifier"),
        ({"columns": [{"name": "a", "kind": "numeric"}], "mean": [0.0], "scale": [1.0]},
         r"a table's preprocessing \(its columns\) is stored, but the network has 2 inputs"),
    ],
)  # fmt: skip
def test_unclear_preprocessing_is_refused_in_one_message_naming_the_fix(stored, message, tmp_path):
    net, A, C, mean, scale = priced()
    net.preprocessing_ = stored
    for export in (lambda: to_torch(net), lambda: to_onnx(net, tmp_path / "x.onnx")):
        with pytest.raises(ValueError, match=message) as info:
            export()
        assert "preprocessing=False to export net(...) alone" in str(info.value)
        assert str(info.value).count("\n") == 0
    assert not (tmp_path / "x.onnx").exists()
    # the fix works: the network alone
    with torch.no_grad():
        out = to_torch(net, preprocessing=False).eval()(
            torch.from_numpy(A.astype(np.float32)), torch.from_numpy(C)
        )
    np.testing.assert_allclose(out[0].numpy(), net([A, C])[0], rtol=1e-5, atol=1e-6)


def test_scaling_by_input_name_survives_a_model_file_and_bad_values_are_refused(tmp_path):
    net, A, C, mean, scale = priced()
    net.save(tmp_path / "m.safetensors")
    again = cr.load(tmp_path / "m.safetensors")
    assert again.preprocessing_["mean"] == {"num": mean.tolist()}
    for ours, theirs in zip(again.predict([A, C]), net.predict([A, C])):
        np.testing.assert_array_equal(ours, theirs)
    net.preprocessing_["scale"] = {"num": [1.0, 0.0, 1.0]}
    net.save(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="preprocessing scale must be > 0 everywhere"):
        cr.load(tmp_path / "bad.safetensors")
    net.preprocessing_["scale"] = {"num": "1"}
    net.save(tmp_path / "text.safetensors")
    with pytest.raises(ValueError, match="scale must be a list of numbers \\(or an object of them"):
        cr.load(tmp_path / "text.safetensors")


def test_a_graph_output_with_a_scale_per_column_exports_its_units(tmp_path):
    """Two regression columns standardised separately: z_j * scale_j + mean_j, by hand."""
    x = cr.Input(3, name="x")
    out = cr.Dense(4, 2)(cr.Dense(3, 4, activation="tanh")(x))
    net = cr.Network(inputs=x, outputs=out, seed=0)
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    net.fit(X, np.zeros((6, 2)), loss="mse", epochs=1, verbose=0)
    net.preprocessing_ = {"target_mean": [1.0, -50.0], "target_scale": [2.0, 100.0]}
    by_hand = net(X) * np.array([2.0, 100.0]) + np.array([1.0, -50.0])
    np.testing.assert_allclose(net.predict(X), by_hand, rtol=1e-6)
    with torch.no_grad():
        ours = to_torch(net).eval()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(ours, by_hand, rtol=1e-5, atol=1e-4)
    names, got = run_onnx(to_onnx(net, tmp_path / "m.onnx"), {"x": X})
    assert names == ["output", "value"]
    np.testing.assert_allclose(got["value"], by_hand, rtol=1e-5, atol=1e-4)

"""Graph networks exported with their classifier outputs and their stored preprocessing.

References: ONNX Runtime and PyTorch running the exported model on raw inputs, against
``net.predict`` / ``net.predict_proba`` and against softmax, sigmoid and standardisation
written out in NumPy here; and the ``Sequential`` export of the same chain.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.export import to_onnx

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

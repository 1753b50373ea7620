"""Graph networks (``cr.Network``) exported to PyTorch and ONNX, and back from PyTorch.

References: PyTorch's own forward and autograd on the exported module, and ONNX Runtime
on the exported file, against chainrule's ``net(...)`` and ``net.backward``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule.export import from_torch, to_onnx, to_torch

torch = pytest.importorskip("torch")

ACTIVATIONS = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "gelu",
    "silu", "mish",
]  # fmt: skip


def random_graph(seed: int, dtype=np.float64):
    """A random DAG: 1-3 inputs (one may be embedded codes), Dense with varied activations,
    Add / Multiply / Concatenate merges, a layer used twice, 1-2 outputs.
    Returns the network and a function drawing inputs for it."""
    rng = np.random.default_rng(seed)
    n_inputs = int(rng.integers(1, 4))
    inputs, feeds, pool = [], [], []
    width = int(rng.integers(2, 5))
    for k in range(n_inputs):
        if k == 1 and rng.random() < 0.7:  # a column of category codes
            x = cr.Input(1, name=f"codes{k}")
            inputs.append(x)
            feeds.append(("codes", 6))
            pool.append(cr.Embedding(6, width)(x))
        else:
            n = int(rng.integers(1, 5))
            x = cr.Input(n, name=f"x{k}")
            inputs.append(x)
            feeds.append(("floats", n))
            pool.append(cr.Dense(n, width, activation=str(rng.choice(ACTIVATIONS)))(x))
    shared = cr.Dense(width, width, activation=str(rng.choice(ACTIVATIONS)))
    for _ in range(int(rng.integers(3, 6))):
        kind = rng.choice(["dense", "shared", "add", "multiply", "concat"])
        a = pool[int(rng.integers(len(pool)))]
        if kind == "dense" or len(pool) < 2 and kind in ("add", "multiply", "concat"):
            node = cr.Dense(width, width, activation=str(rng.choice(ACTIVATIONS)))(a)
        elif kind == "shared":
            node = shared(a)
        else:
            b = pool[int(rng.integers(len(pool)))]
            if kind == "add":
                node = cr.Add()(a, b)
            elif kind == "multiply":
                node = cr.Multiply()(a, b)
            else:
                node = cr.Dense(2 * width, width)(cr.Concatenate()(a, b))
        pool.append(node)
    # every node must reach an output: sum all leaves into the first output
    used = {id(p) for node in pool for p in node.inputs}
    leaves = [n for n in pool if id(n) not in used]
    top = leaves[0] if len(leaves) == 1 else cr.Add()(*leaves)
    outputs = [cr.Dense(width, int(rng.integers(1, 4)))(top)]
    if rng.random() < 0.5:
        outputs.append(cr.Dense(width, 1, activation="tanh")(pool[-1]))
    net = cr.Network(inputs=inputs, outputs=outputs if len(outputs) > 1 else outputs[0],
                     seed=seed, dtype=dtype)  # fmt: skip

    def draw(n_rows: int, data_seed: int = 1):
        r = np.random.default_rng(data_seed)
        return [
            r.integers(0, size, size=(n_rows, 1)) if what == "codes"
            else r.normal(size=(n_rows, size)).astype(dtype)
            for what, size in feeds
        ]  # fmt: skip

    return net, draw


def feed(xs):
    """What ``net(...)`` takes: one array for a one-input network, else a list in order."""
    return xs[0] if len(xs) == 1 else xs


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def torch_inputs(arrays):
    return [torch.from_numpy(np.asarray(a)) for a in arrays]  # codes stay int64


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


GRAPH_SEEDS = range(12)


@pytest.mark.parametrize("seed", GRAPH_SEEDS)
def test_to_torch_of_a_graph_computes_net_and_its_gradients(seed):
    net, draw = random_graph(seed)
    xs = draw(9)
    ours = as_list(net(feed(xs)))
    model = to_torch(net)
    theirs = model(*torch_inputs(xs))
    assert isinstance(theirs, tuple) == (len(ours) > 1)
    theirs = as_list(theirs)
    for o, t in zip(ours, theirs):
        assert t.dtype == torch.float64
        assert rel_err(t.detach().numpy(), o) <= 1e-10
    # gradients: L = sum_k sum(R_k * out_k) in both; torch autograd is the reference
    rng = np.random.default_rng(seed + 100)
    R = [rng.normal(size=o.shape) for o in ours]
    net.backward(R if len(R) > 1 else R[0])
    sum(torch.sum(torch.from_numpy(r) * t) for r, t in zip(R, theirs)).backward()
    ours_grads = [p.grad for p in net.parameters()]
    # torch's parameters: per layer (net.layers order), Linear/Embedding weight then bias
    torch_grads = []
    for module in model.layers:
        for name, p in module.named_parameters():
            g = p.grad.numpy()
            torch_grads.append(g.T if name.endswith("weight") and g.ndim == 2 and
                               not isinstance(module, torch.nn.Embedding) else g)  # fmt: skip
    assert len(ours_grads) == len(torch_grads)
    for g_ours, g_torch in zip(ours_grads, torch_grads):
        assert rel_err(g_ours, g_torch) <= 1e-10


def test_to_torch_graph_module_structure_shared_layer_and_errors():
    x = cr.Input(3, name="x")
    shared = cr.Dense(3, 3, activation="tanh")
    h = shared(shared(x))
    net = cr.Network(inputs=x, outputs=cr.Add()(h, x), seed=0, dtype=np.float64)
    model = to_torch(net)
    assert type(model).__name__ == "GraphModule" and model.input_names == ["x"]
    assert len(model.layers) == 2  # the shared Dense is one module, used twice
    assert sum(p.numel() for p in model.parameters()) == 12
    X = np.random.default_rng(0).normal(size=(4, 3))
    out = model(torch.from_numpy(X))
    assert isinstance(out, torch.Tensor)  # one output: a tensor, not a tuple
    W, b = shared.weight.value, shared.bias.value  # by hand: tanh(tanh(X W + b) W + b) + X
    expected = np.tanh(np.tanh(X @ W + b) @ W + b) + X
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match=r"takes 1 inputs \['x'\].*got 2"):
        model(torch.from_numpy(X), torch.from_numpy(X))
    # pickles (DDP spawn, torch.save) and keeps computing the same
    again = pickle.loads(pickle.dumps(model))
    assert torch.equal(again(torch.from_numpy(X)), out)

    class Twice(cr.Layer):
        def forward(self, x):
            return 2 * x

    x2 = cr.Input(3, name="x")
    custom = cr.Network(inputs=x2, outputs=Twice()(x2))
    with pytest.raises(ValueError, match="node 'twice_0'|has no torch equivalent"):
        to_torch(custom)


@pytest.mark.parametrize("seed", [0, 3, 5, 8])
def test_from_torch_brings_a_graph_module_back(seed):
    net, draw = random_graph(seed)
    net.loss_ = "mse" if not isinstance(net.n_outputs, list) else ["mse"] * len(net.outputs)
    model = to_torch(net)
    with torch.no_grad():  # train it a little in torch: new weights to bring back
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    back = from_torch(model, loss=net.loss_)
    assert isinstance(back, cr.Network) and not isinstance(back, cr.Sequential)
    assert back.summary() == net.summary()  # same nodes, names, layers, sharing, counts
    assert back.loss_ == net.loss_
    xs = draw(6, data_seed=2)
    expected = as_list(model(*torch_inputs(xs)))
    for o, t in zip(as_list(back(feed(xs))), expected):
        assert rel_err(o, t.detach().numpy()) <= 1e-12


def test_to_torch_graph_embedding_takes_codes_of_either_shape_and_train_mode():
    c = cr.Input(1, name="city")
    x = cr.Input(2, name="num")
    h = cr.Concatenate()(cr.Embedding(5, 3)(c), cr.Dropout(0.5)(x))
    net = cr.Network(inputs=[x, c], outputs=cr.Dense(5, 2)(h), seed=0, dtype=np.float64)
    codes = np.array([0, 4, 2])
    X = np.ones((3, 2))
    model = to_torch(net.eval())
    assert not model.training and not model.layers[1].training
    flat = model(torch.from_numpy(X), torch.from_numpy(codes))
    column = model(torch.from_numpy(X), torch.from_numpy(codes[:, None]))
    assert torch.equal(flat, column)
    assert rel_err(flat.detach().numpy(), net([X, codes])) <= 1e-12
    assert to_torch(net.train()).layers[1][0].training  # Dropout in training mode


# -- ONNX --------------------------------------------------------------------------------------
ort = pytest.importorskip("onnxruntime")


def onnx_outputs(path, net, xs):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: np.asarray(a) for i, a in zip(sess.get_inputs(), xs)}
    return sess, sess.run(None, feed)


@pytest.mark.parametrize("seed", GRAPH_SEEDS)
def test_to_onnx_of_a_graph_float32_matches_net(seed, tmp_path):
    net, draw = random_graph(seed, dtype=np.float32)
    xs = draw(11)
    path = to_onnx(net, tmp_path / "g.onnx")
    sess, outs = onnx_outputs(path, net, xs)
    assert [i.name for i in sess.get_inputs()] == [x.name for x in net.inputs]
    for i, x in zip(sess.get_inputs(), xs):
        assert i.type == ("tensor(int64)" if np.asarray(x).dtype.kind == "i" else "tensor(float)")
    ours = as_list(net(feed(xs)))
    names = ["output"] if len(ours) == 1 else [o.name for o in net.outputs]
    assert [o.name for o in sess.get_outputs()] == names
    assert len(outs) == len(ours)
    for o, r in zip(outs, ours):
        assert o.dtype == np.float32 and o.shape == r.shape
        assert rel_err(o, r) <= 1e-5


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_to_onnx_of_a_graph_float64(seed, tmp_path):
    net, draw = random_graph(seed, dtype=np.float64)
    xs = draw(5)
    _, outs = onnx_outputs(to_onnx(net, tmp_path / "g.onnx"), net, xs)
    for o, r in zip(outs, as_list(net(feed(xs)))):
        assert rel_err(o, r) <= 1e-12


def test_to_onnx_graph_shared_weights_once_output_feeding_a_layer_and_refusals(tmp_path):
    onnx = pytest.importorskip("onnx")
    x = cr.Input(2, name="x")
    shared = cr.Dense(2, 2, activation="relu")
    h = shared(x)
    y = shared(h)  # y is an output *and* feeds the last layer
    z = cr.Dense(2, 1)(y)
    net = cr.Network(inputs=x, outputs=[y, z], seed=0)
    path = to_onnx(net, tmp_path / "s.onnx")
    model = onnx.load(path)
    weights = [t for t in model.graph.initializer if t.name.endswith("weight")]
    assert sorted(t.name for t in weights) == ["0.weight", "1.weight"]  # shared: stored once
    X = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    _, outs = onnx_outputs(path, net, [X])
    W, b = shared.weight.value, shared.bias.value
    y_hand = np.maximum(np.maximum(X @ W + b, 0) @ W + b, 0)
    np.testing.assert_allclose(outs[0], y_hand, rtol=1e-6)
    np.testing.assert_allclose(outs[1], y_hand @ net.layers[1].weight.value +
                               net.layers[1].bias.value, rtol=1e-6)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx"]

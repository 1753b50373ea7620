"""Several networks over one ``Input`` (and shared layers), and the forgotten-branch check.

The rule (``cr.Network``'s docstring, docs/graphs.md): a node computed from a network's
values that reaches none of its outputs is an error naming it, unless it is computed
from an output, or belongs to a ``Network`` already built. References: PyTorch autograd
and SGD for the training, NumPy formulas for the forward passes.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def torch_sgd(weights, forward, X, y, lr, epochs):
    """Full-batch SGD on mean squared error with torch autograd; returns the trained weights."""
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)
    for _ in range(epochs):
        loss = ((forward(Xt, *params) - yt) ** 2).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    return [p.detach().numpy() for p in params]


def test_two_networks_on_one_input_build_and_each_trains_as_torch_does():
    X, y = data()
    x = cr.Input(3, name="x")
    out1 = cr.Dense(4, 1)(cr.Dense(3, 4, activation="tanh")(x))
    net1 = cr.Network(x, out1, seed=1, dtype=np.float64)
    out2 = cr.Dense(5, 1)(cr.Dense(3, 5, activation="sigmoid")(x))  # a second branch on x
    net2 = cr.Network(x, out2, seed=2, dtype=np.float64)  # net1's nodes do not block it
    assert [len(net1.layers), len(net2.layers)] == [2, 2]
    assert not {id(p) for p in net1.parameters()} & {id(p) for p in net2.parameters()}
    before1 = net1.get_weights()
    start2 = net2.get_weights()
    net2.fit(X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=5, batch_size=len(X),
             shuffle=False, verbose=0)  # fmt: skip

    def forward2(Xt, W1, b1, W2, b2):
        return torch.sigmoid(Xt @ W1 + b1) @ W2 + b2

    expected = torch_sgd(start2, forward2, X, y, lr=0.1, epochs=5)
    for ours, ref in zip(net2.get_weights(), expected):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13)
    for ours, ref in zip(net1.get_weights(), before1):  # training net2 left net1 alone
        np.testing.assert_array_equal(ours, ref)
    W1, b1, W2, b2 = net1.get_weights()  # and net1 still computes its own branch
    np.testing.assert_allclose(net1.predict(X), (np.tanh(X @ W1 + b1) @ W2 + b2)[:, 0],
                               rtol=1e-12)  # fmt: skip
    W1, b1, W2, b2 = expected
    hand = 1 / (1 + np.exp(-(X @ W1 + b1))) @ W2 + b2
    np.testing.assert_allclose(net2.predict(X), hand[:, 0], rtol=1e-10)


def test_an_encoder_built_before_its_autoencoder_shares_its_layer():
    X, _ = data(12, seed=3)
    x = cr.Input(3, name="x")
    encode = cr.Dense(3, 2, activation="tanh")
    z = encode(x, name="code")
    d = cr.Dense(2, 3)(z, name="decoded")
    encoder = cr.Network(x, z, dtype=np.float64)  # the decoder hangs on its output: allowed
    auto = cr.Network(x, d, seed=0, dtype=np.float64)
    assert encoder.layers[0] is auto.layers[0] is encode
    start = auto.get_weights()
    auto.fit(X, X, loss="mse", optimizer="sgd", lr=0.2, epochs=4, batch_size=len(X),
             shuffle=False, verbose=0)  # fmt: skip

    def forward(Xt, W1, b1, W2, b2):
        return torch.tanh(Xt @ W1 + b1) @ W2 + b2

    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in start]
    Xt = torch.from_numpy(X)
    for _ in range(4):  # the target is X itself: a (12, 3) mean squared error
        grads = torch.autograd.grad(((forward(Xt, *params) - Xt) ** 2).mean(), params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= 0.2 * g
    W1, b1 = (p.detach().numpy() for p in params[:2])
    # the encoder reads the weights its autoencoder trained: one layer, shared
    np.testing.assert_allclose(encoder(X), np.tanh(X @ W1 + b1), rtol=1e-10)


def test_a_forgotten_branch_is_still_named_next_to_a_built_network():
    x = cr.Input(3, name="x")
    first = cr.Network(x, cr.Dense(3, 1)(x), seed=0)
    h = cr.Dense(3, 4)(x, name="h")
    forgotten = cr.Dense(4, 2)(h, name="aux")  # computed from h, in no network: a mistake
    with pytest.raises(ValueError, match=r"node 'aux' \(Dense\(4, 2\) on 'h'\) reaches no output"):
        cr.Network(x, cr.Dense(4, 1)(h))
    del forgotten
    gc.collect()
    assert len(cr.Network(x, cr.Dense(4, 1)(h)).layers) == 2
    assert len(first.layers) == 1


def test_two_branches_built_before_either_network_say_how_to_build_them():
    x = cr.Input(2, name="x")
    out1 = cr.Dense(2, 1)(x, name="one")
    out2 = cr.Dense(2, 1)(x, name="two")
    with pytest.raises(ValueError, match=r"node 'two' .* reaches no output.*build that network "
                                         r"first \(or one with both outputs\)"):  # fmt: skip
        cr.Network(x, out1)
    both = cr.Network(x, [out1, out2], seed=0)  # marks both branches as built
    net1, net2 = cr.Network(x, out1), cr.Network(x, out2)
    X = np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)
    np.testing.assert_allclose(net1(X), both(X)[0])
    np.testing.assert_allclose(net2(X), both(X)[1])

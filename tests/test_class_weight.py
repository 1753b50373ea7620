"""``fit(..., class_weight=...)``: per-class weights as per-row sample weights.

The definition tested: row ``i`` weighs ``c[y_i]`` (times its sample weight),
and a batch's loss is ``sum_i w_i l_i / sum_i w_i``.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.zeros(n, dtype=np.int64)  # imbalanced: 7/10 class 0, 2/10 class 1, 1/10 class 2
    y[: 3 * n // 10] = 1
    y[: n // 10] = 2
    rng.shuffle(y)
    return X, y


def _net(n_out=3, dtype=np.float32):
    return cr.Sequential(cr.Dense(3, 8, activation="tanh"), cr.Dense(8, n_out), seed=1, dtype=dtype)


def _fit_weights(X, y, **kwargs):
    net = _net(kwargs.pop("n_out", 3))
    net.fit(X, y, loss=kwargs.pop("loss", "cross_entropy"), epochs=3, batch_size=16,
            validation_split=0.2, seed=4, **kwargs)  # fmt: skip
    return net.get_weights()


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_balanced_is_n_over_k_times_count_by_hand():
    X, y = _data(60)
    counts = np.bincount(y, minlength=3)
    assert counts.tolist() == [42, 12, 6]
    by_hand = {0: 60 / (3 * 42), 1: 60 / (3 * 12), 2: 60 / (3 * 6)}  # 0.476..., 1.666..., 3.333...
    sw = np.array([by_hand[k] for k in y])
    assert _same(_fit_weights(X, y, class_weight="balanced"), _fit_weights(X, y, sample_weight=sw))
    assert not _same(_fit_weights(X, y, class_weight="balanced"), _fit_weights(X, y))


def test_a_dict_equals_the_same_sample_weight_bit_for_bit():
    X, y = _data(60)
    sw = np.where(y == 2, 5.0, np.where(y == 1, 0.5, 1.0))  # class 0 left out of the dict: 1
    assert _same(_fit_weights(X, y, class_weight={2: 5.0, 1: 0.5}),
                 _fit_weights(X, y, sample_weight=sw))  # fmt: skip


def test_a_zero_weight_leaves_the_class_out_as_if_its_rows_were_dropped():
    """scikit-learn's meaning of 0: the class's rows add nothing to the loss or its gradient."""
    X, y = _data(60)
    rows = cr.class_weights.class_weight_rows(y, {2: 0.0})
    assert rows.tolist() == (y != 2).astype(float).tolist()
    zero = _fit_weights(X, y, class_weight={2: 0.0})
    assert _same(zero, _fit_weights(X, y, sample_weight=np.where(y == 2, 0.0, 1.0)))


def test_sample_weight_and_class_weight_multiply():
    X, y = _data(60)
    rows = np.linspace(0.5, 2.0, len(y))
    sw = rows * np.where(y == 2, 4.0, 1.0)
    assert _same(_fit_weights(X, y, class_weight={2: 4.0}, sample_weight=rows),
                 _fit_weights(X, y, sample_weight=sw))  # fmt: skip


def test_one_hot_rows_and_one_output_binary_labels():
    X, y = _data(60)
    onehot = np.eye(3)[y]
    sw = np.where(y == 1, 3.0, 1.0)
    assert _same(_fit_weights(X, onehot, class_weight={1: 3.0}),
                 _fit_weights(X, y, sample_weight=sw))  # fmt: skip
    yb = (y > 0).astype(np.int64)
    sw = np.where(yb == 1, 2.5, 1.0)
    assert _same(
        _fit_weights(X, yb, n_out=1, loss="binary_cross_entropy", class_weight={1: 2.5}),
        _fit_weights(X, yb, n_out=1, loss="binary_cross_entropy", sample_weight=sw),
    )


def _one_full_batch_step(X, y, loss, n_out, **kwargs):
    """W0 - W1 after one full-batch SGD step at lr 1: the gradient of the training loss."""
    net = _net(n_out, dtype=np.float64)
    before = net.get_weights()
    net.fit(X, y, loss=loss, optimizer="sgd", lr=1.0, epochs=1, batch_size=None,
            shuffle=False, **kwargs)  # fmt: skip
    return net, before, [b - a for b, a in zip(before, net.get_weights())]


def test_gradient_matches_torch_weighted_cross_entropy():
    torch = pytest.importorskip("torch")
    X, y = _data(40)
    weights = {0: 0.3, 1: 2.0, 2: 7.0}
    _, before, grads = _one_full_batch_step(X, y, "cross_entropy", 3, class_weight=weights)
    W1, b1, W2, b2 = (torch.tensor(w, requires_grad=True) for w in before)
    z = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    # torch's weighted mean, sum_i c[y_i] l_i / sum_i c[y_i], is the definition documented in fit
    c = torch.tensor([weights[k] for k in range(3)], dtype=torch.float64)
    torch.nn.CrossEntropyLoss(weight=c)(z, torch.tensor(y)).backward()
    for ours, ref in zip(grads, (W1, b1, W2, b2)):
        np.testing.assert_allclose(ours, ref.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_gradient_matches_finite_differences_of_the_definition():
    X, y = _data(30)
    yb = (y > 0).astype(np.int64)
    c = {0: 0.25, 1: 3.0}
    net, before, grads = _one_full_batch_step(X, yb, "binary_cross_entropy", 1, class_weight=c)
    w = np.array([c[k] for k in yb])

    def loss(params):  # sum_i w_i l_i / sum_i w_i with l_i the BCE on logits, by hand
        W1, b1, W2, b2 = params
        z = (np.tanh(X @ W1 + b1) @ W2 + b2)[:, 0]
        rows = np.logaddexp(0.0, z) - yb * z
        return float(w @ rows / w.sum())

    h = 1e-6
    for k, p in enumerate(before):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            up = [q.copy() for q in before]
            down = [q.copy() for q in before]
            up[k][idx] += h
            down[k][idx] -= h
            numeric[idx] = (loss(up) - loss(down)) / (2 * h)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "mse", "class_weight": "balanced"},
         "class_weight is for classification, but loss 'mse' is a regression loss; give "
         "sample_weight"),
        ({"class_weight": {3: 2.0}}, "class_weight names class(es) [3] that are not in [0, 1, 2]"),
        ({"class_weight": {"1": 2.0}}, "class_weight names class(es) ['1']"),
        ({"class_weight": {1: True}}, "class_weight for class 1 is True; class weights must be numbers >= 0"),
        ({"class_weight": {1: -2.0}}, "class_weight for class 1 is -2.0"),
        ({"class_weight": {1: float("nan")}}, "class_weight for class 1 is nan"),
        ({"class_weight": {1: "2"}}, "class_weight for class 1 is '2'"),
        ({"class_weight": "auto"}, "class_weight must be 'balanced' or a dict {class: weight}, got 'auto'"),
    ],
)  # fmt: skip
def test_errors_name_the_problem(kwargs, message):
    X, y = _data(30)
    target = y.astype(np.float64)[:, None].repeat(3, axis=1) if kwargs.get("loss") == "mse" else y
    with pytest.raises(ValueError) as err:
        _net().fit(X, target, loss=kwargs.pop("loss", "cross_entropy"), epochs=1, **kwargs)
    assert message in str(err.value)


def test_errors_for_targets_without_one_class_a_row():
    X, y = _data(30)
    with pytest.raises(ValueError, match=r"y has 3 0/1 columns \(several labels a row\)"):
        _net().fit(X, np.eye(3)[y], loss="binary_cross_entropy", epochs=1, class_weight="balanced")
    with pytest.raises(ValueError, match="class labels 0/1 for a one-output network"):
        _net(1).fit(X, np.full(30, 0.3), loss="binary_cross_entropy", epochs=1,
                    class_weight={1: 2.0})  # fmt: skip
    a = cr.Input(3, name="x")
    h = cr.Dense(3, 4)(a, name="h")
    net = cr.Network(inputs=a, outputs=[cr.Dense(4, 3)(h, name="p"), cr.Dense(4, 1)(h, name="q")])
    with pytest.raises(
        ValueError, match="class_weight is for a network with one output, this one has 2"
    ):
        net.fit(X, [y, y.astype(float)], loss=["cross_entropy", "mse"], epochs=1,
                class_weight="balanced")  # fmt: skip

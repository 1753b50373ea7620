"""The perceptron: truth tables, the learning rule step by step, XOR and its MLP fix."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.perceptron import ConvergenceWarning, Perceptron

X2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
XOR = np.array([0, 1, 1, 0])


def fit_quietly(p, X, y):
    """Fit and fail the test if a ConvergenceWarning is emitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return p.fit(X, y)


@pytest.mark.parametrize("name, y", [("AND", AND), ("OR", OR)])
def test_learns_two_input_gates(name, y):
    p = fit_quietly(Perceptron(2), X2, y)
    assert p.converged_, name
    assert p.n_epochs_ <= 10
    assert p.predict(X2).tolist() == y.tolist()
    assert p.score(X2, y) == 1.0
    assert p.errors_[-1] == 0 and all(e > 0 for e in p.errors_[:-1])


def test_learns_not():
    X = np.array([[0], [1]])
    p = fit_quietly(Perceptron(1), X, [1, 0])
    assert p.converged_ and p.n_epochs_ <= 10
    assert p.predict(X).tolist() == [1, 0]
    assert p.predict(X).dtype.kind == "i"


def test_and_weights_from_zero_init_satisfy_truth_table():
    p = fit_quietly(Perceptron(2, lr=1.0, weight_init="zeros"), X2, AND)
    w1, w2, b = *p.w, p.b
    # the learned line: only (1, 1) is on the positive side (step(0) = 1)
    assert b < 0 and w1 + b < 0 and w2 + b < 0 and w1 + w2 + b >= 0
    # with integer inputs, unit steps and zero init the weights stay integers
    np.testing.assert_array_equal(p.w, np.round(p.w))
    assert p.b == round(p.b)
    np.testing.assert_array_equal(p.net_input(X2), X2 @ p.w + p.b)


def test_learning_rate_only_rescales_from_zero_init():
    p1 = fit_quietly(Perceptron(2, lr=1.0), X2, AND)
    # a power of two keeps the arithmetic exact, so ties at z = 0 are decided alike
    p2 = fit_quietly(Perceptron(2, lr=0.25), X2, AND)
    assert p1.n_epochs_ == p2.n_epochs_ and p1.errors_ == p2.errors_
    np.testing.assert_array_equal(p2.w, 0.25 * p1.w)
    assert p2.b == 0.25 * p1.b


def test_one_epoch_by_hand():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([0, 1])
    p = Perceptron(2, lr=0.5, max_epochs=1)
    with pytest.warns(ConvergenceWarning):
        p.fit(X, y)
    # sample 1: z = 0 -> y_hat = 1, y - y_hat = -1:
    #   w = 0 + 0.5 * (-1) * [1, 2] = [-0.5, -1],  b = 0 + 0.5 * (-1) = -0.5
    # sample 2: z = -0.5*3 + -1*-1 - 0.5 = -1 -> y_hat = 0, y - y_hat = +1:
    #   w = [-0.5, -1] + 0.5 * [3, -1] = [1, -1.5],  b = -0.5 + 0.5 = 0
    np.testing.assert_array_equal(p.w, [1.0, -1.5])
    assert p.b == 0.0
    assert p.errors_ == [2] and p.n_epochs_ == 1 and not p.converged_
    np.testing.assert_array_equal(p.history_[0][0], [1.0, -1.5])
    # a second epoch makes no mistakes: z = [-2, 4.5] -> [0, 1]
    p = fit_quietly(Perceptron(2, lr=0.5, max_epochs=2), X, y)
    assert p.converged_ and p.errors_ == [2, 0] and p.n_epochs_ == 2
    np.testing.assert_array_equal(p.w, [1.0, -1.5])


def test_rule_matches_formula_from_random_init():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 3))
    y = rng.integers(0, 2, size=7)
    p = Perceptron(3, lr=0.3, max_epochs=1, weight_init="normal", seed=5)
    w, b = p.w.copy(), p.b
    assert np.any(w != 0) and b == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p.fit(X, y)
    for x_i, y_i in zip(X, y, strict=True):
        y_hat = 1 if w @ x_i + b >= 0 else 0
        w = w + 0.3 * (y_i - y_hat) * x_i
        b = b + 0.3 * (y_i - y_hat)
    np.testing.assert_allclose(p.w, w, rtol=0, atol=1e-12)
    assert p.b == pytest.approx(b, abs=1e-12)


def test_fit_restarts_and_history():
    p = Perceptron(2, weight_init="uniform", seed=0, shuffle=True)
    w0 = p.w.copy()
    fit_quietly(p, X2, OR)
    first = (p.w.copy(), p.b, list(p.errors_))
    fit_quietly(p, X2, OR)  # same seed: the same start and the same visiting order
    np.testing.assert_array_equal(p.w, first[0])
    assert (p.b, p.errors_) == first[1:]
    assert len(p.history_) == len(p.errors_) == p.n_epochs_
    np.testing.assert_array_equal(p.history_[-1][0], p.w)
    assert p.history_[-1][1] == p.b
    # history holds copies, not views of the live weights
    assert all(h[0] is not p.w for h in p.history_)
    assert not np.array_equal(w0, np.zeros(2))


def test_xor_does_not_converge():
    p = Perceptron(2, max_epochs=50)
    with pytest.warns(ConvergenceWarning, match="linearly separable") as record:
        p.fit(X2, XOR)
    message = str(record[0].message)
    assert "XOR" in message and "cr.Sequential" in message
    assert not p.converged_
    assert p.n_epochs_ == 50 and len(p.errors_) == 50
    assert min(p.errors_) >= 1
    assert p.score(X2, XOR) < 1.0


def test_mlp_learns_xor():
    """A 2-2-1 network trained by plain gradient descent solves what the perceptron cannot."""
    X = X2.astype(np.float64)
    net = cr.Sequential(cr.Dense(2, 2, activation="tanh"), cr.Dense(2, 1), seed=0)
    loss = cr.BinaryCrossEntropy()
    lr = 1.0
    for _ in range(2000):
        value = loss.forward(net.forward(X), XOR)
        net.backward(loss.backward())
        for p in net.parameters():
            p.value -= lr * p.grad
    assert value < 0.05
    logits = net.forward(X)[:, 0]
    assert (logits >= 0).astype(int).tolist() == XOR.tolist()


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([0, 1]), [0, 1], "1-D"),
        (np.zeros((2, 3)), [0, 1], "3 features but the perceptron expects 2"),
        (np.zeros((2, 2, 1)), [0, 1], "3 dimensions"),
        (np.zeros((0, 2)), [], "empty"),
        (np.array([[0, np.nan], [1, 1]]), [0, 1], "NaN"),
        (np.zeros((3, 2)), [0, 1], "3 samples but y has 2 labels"),
        (np.zeros((2, 2)), [0, 2], "only 0/1 labels"),
        (np.zeros((2, 2)), [-1, 1], r"\(y \+ 1\) // 2"),
        (np.zeros((2, 2)), [0, np.nan], "NaN"),
        (np.zeros((2, 2)), [[0, 1], [1, 0]], "1-D array of 0/1 labels"),
    ],
)
def test_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        Perceptron(2).fit(X, y)


def test_bad_input_types_and_constructor():
    with pytest.raises(TypeError, match="numbers"):
        Perceptron(2).predict(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="0/1 labels"):
        Perceptron(1).fit([[0], [1]], np.array(["no", "yes"]))
    with pytest.raises(ValueError, match="n_inputs"):
        Perceptron(0)
    with pytest.raises(ValueError, match="lr"):
        Perceptron(2, lr=0)
    with pytest.raises(ValueError, match="max_epochs"):
        Perceptron(2, max_epochs=0)
    with pytest.raises(ValueError, match="unknown"):
        Perceptron(2, weight_init="nonsense")


def test_accepts_bool_and_column_labels():
    p = fit_quietly(Perceptron(2), X2.astype(bool), AND.astype(bool).reshape(-1, 1))
    assert p.predict(X2).tolist() == AND.tolist()
    assert "Perceptron(n_inputs=2" in repr(p)

"""gradcheck: backpropagation agrees with finite differences, and catches wrong derivatives."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.gradcheck import GradcheckResult, gradcheck

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))
Y_REG = RNG.normal(size=(5, 2))

ACTIVATIONS = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "gelu",
    "silu",
    "mish",
    "softmax",
    cr.GELU(approximate="tanh"),
    cr.LeakyReLU(0.2),
    cr.ELU(alpha=0.5),
    cr.Softplus(beta=2.0),
]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_every_differentiable_activation(activation):
    net = cr.Sequential(cr.Dense(3, 4, activation=activation), cr.Dense(4, 2), seed=1)
    result = gradcheck(net, "mse", X, Y_REG)
    assert result.max_error < 1e-6, str(result)
    assert result.passed and bool(result)
    assert set(result.errors) == {
        "0.dense.weight",
        "0.dense.bias",
        "1.dense.weight",
        "1.dense.bias",
        "X",
    }


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softmax"])
def test_activation_as_its_own_layer(activation):
    net = cr.Sequential(cr.Dense(3, 4), cr.get_activation(activation), cr.Dense(4, 2), seed=2)
    assert gradcheck(net, "mse", X, Y_REG).max_error < 1e-6


LOSS_CASES = [
    ("mse", 2, Y_REG),
    ("mae", 2, Y_REG),
    (cr.Huber(delta=0.5), 2, Y_REG),
    ("binary_cross_entropy", 1, np.array([0, 1, 1, 0, 1])),
    ("binary_cross_entropy", 2, RNG.uniform(size=(5, 2))),  # probabilities as targets
    ("cross_entropy", 3, np.array([0, 2, 1, 2, 0])),
    ("cross_entropy", 3, np.eye(3)[[1, 0, 2, 2, 1]]),  # one-hot rows
    ("hinge", 1, np.array([-1, 1, 1, -1, 1])),
    ("hinge", 3, np.array([0, 2, 1, 2, 0])),
]


@pytest.mark.parametrize("loss, n_out, y", LOSS_CASES, ids=lambda v: str(v)[:20])
def test_every_loss(loss, n_out, y):
    net = cr.Sequential(cr.Dense(3, 4, activation="tanh"), cr.Dense(4, n_out), seed=3)
    result = gradcheck(net, loss, X, y)
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batchnorm(mode):
    net = cr.Sequential(
        cr.Dense(3, 4), cr.BatchNorm(4), cr.ReLU(), cr.Dense(4, 3), cr.BatchNorm(3), seed=4
    )
    net.forward(RNG.normal(size=(8, 3)) * 2 + 1)  # move the running statistics off 0/1
    getattr(net, mode)()
    result = gradcheck(net, "cross_entropy", X, np.array([0, 1, 2, 1, 0]))
    assert result.max_error < 1e-6, str(result)
    assert "1.batch_norm.weight" in result.errors and "4.batch_norm.bias" in result.errors


def test_dropout_is_switched_off_in_the_copy():
    net = cr.Sequential(cr.Dense(3, 6, activation="relu"), cr.Dropout(0.5), cr.Dense(6, 2), seed=5)
    assert net.training
    result = gradcheck(net, "mse", X, Y_REG)
    assert result.passed, str(result)
    assert net.training and net[1].training  # the user's network keeps its mode


def test_wrong_custom_derivative_fails_on_the_right_tensors():
    wrong = cr.activation_from_functions(lambda z: z**3, lambda z, a: 2 * z**2, name="cube")
    net = cr.Sequential(cr.Dense(3, 4, activation=wrong), cr.Dense(4, 1), seed=6)
    result = gradcheck(net, "mse", X, Y_REG[:, 0])
    assert not result.passed and not result
    # the derivative sits between layer 0's parameters and the loss: they (and X) are wrong...
    for name in ("0.dense.weight", "0.dense.bias", "X"):
        assert result.errors[name] > 0.1
    # ...while the last layer, after the activation, is unaffected
    assert result.errors["1.dense.weight"] < 1e-6
    assert result.errors["1.dense.bias"] < 1e-6
    assert set(result.failed()) == {"0.dense.weight", "0.dense.bias", "X"}
    assert result.max_error == max(result.errors.values())
    text = str(result)
    assert "FAIL" in text and "0.dense.weight" in text and "FAILED" in text


def test_right_custom_derivative_passes():
    right = cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2, name="cube")
    net = cr.Sequential(cr.Dense(3, 4, activation=right), cr.Dense(4, 1), seed=6)
    result = gradcheck(net, "mse", X, Y_REG[:, 0])
    assert result.passed and result.max_error < 1e-6, str(result)
    assert "PASSED" in str(result)


def test_users_network_is_not_modified():
    net = cr.Sequential(cr.Dense(3, 4, activation="tanh"), cr.BatchNorm(4), cr.Dense(4, 2), seed=7)
    net.forward(X)
    net.backward(np.ones((5, 2), np.float32))
    before = [(p.value.copy(), p.grad.copy(), p.value.dtype) for p in net.parameters()]
    stats = (net[1].running_mean.copy(), net[1].running_var.copy())
    loss = cr.MSE()
    gradcheck(net, loss, X, Y_REG)
    assert net.dtype == np.float32
    for p, (value, grad, dtype) in zip(net.parameters(), before, strict=True):
        assert p.value.dtype == dtype == np.float32
        np.testing.assert_array_equal(p.value, value)
        np.testing.assert_array_equal(p.grad, grad)
    np.testing.assert_array_equal(net[1].running_mean, stats[0])
    np.testing.assert_array_equal(net[1].running_var, stats[1])
    assert not hasattr(loss, "_diff")  # the user's loss object was not used either
    assert net.forward(X).dtype == np.float32


def test_float64_network_and_input_list():
    net = cr.Sequential(cr.Dense(3, 2, activation="sigmoid"), seed=8, dtype=np.float64)
    values = [p.value.copy() for p in net.parameters()]
    assert gradcheck(net, "mse", X.tolist(), Y_REG.tolist()).passed
    for p, v in zip(net.parameters(), values, strict=True):
        np.testing.assert_array_equal(p.value, v)


@pytest.mark.parametrize("step", ["dense", "layer"])
def test_step_is_refused(step):
    if step == "dense":
        net = cr.Sequential(cr.Dense(3, 2, activation="step"))
    else:
        net = cr.Sequential(cr.Dense(3, 2), cr.Step())
    with pytest.raises(ValueError, match="step activation cannot be trained by gradient descent"):
        gradcheck(net, "mse", X, Y_REG)


def test_n_samples_checks_a_random_subset():
    net = cr.Sequential(cr.Dense(3, 8, activation="tanh"), cr.Dense(8, 2), seed=9)
    result = gradcheck(net, "mse", X, Y_REG, n_samples=5, seed=1)
    assert result.n_checked == {
        "0.dense.weight": 5,
        "0.dense.bias": 5,
        "1.dense.weight": 5,
        "1.dense.bias": 2,
        "X": 5,
    }
    assert result.shapes["0.dense.weight"] == (3, 8)
    assert result.passed
    index, analytic, numeric = result.worst["0.dense.weight"]
    assert len(index) == 2 and analytic == pytest.approx(numeric, rel=1e-5)


def test_check_input_false_and_loss_by_class():
    net = cr.Sequential(cr.Dense(3, 2), seed=10)
    result = gradcheck(net, cr.MSE, X, Y_REG, check_input=False)
    assert "X" not in result.errors and result.passed
    assert result.loss > 0
    assert isinstance(result, GradcheckResult) and "passed=True" in repr(result)


def test_bad_arguments():
    net = cr.Sequential(cr.Dense(3, 2), seed=0)
    with pytest.raises(ValueError, match="eps"):
        gradcheck(net, "mse", X, Y_REG, eps=0)
    with pytest.raises(ValueError, match="tol"):
        gradcheck(net, "mse", X, Y_REG, tol=-1)
    with pytest.raises(ValueError, match="n_samples"):
        gradcheck(net, "mse", X, Y_REG, n_samples=0)
    with pytest.raises(ValueError, match="4 features but the first layer expects 3"):
        gradcheck(net, "mse", np.zeros((5, 4)), Y_REG)
    with pytest.raises(ValueError, match="output"):
        gradcheck(net, "mse", X, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="unknown loss"):
        gradcheck(net, "nonsense", X, Y_REG)


@settings(max_examples=15, deadline=None)
@given(
    activation=st.sampled_from(
        ["sigmoid", "tanh", "elu", "selu", "gelu", "silu", "mish", "softplus"]
    ),
    hidden=st.integers(1, 5),
    n_rows=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_random_networks_pass(activation, hidden, n_rows, seed):
    rng = np.random.default_rng(seed)
    net = cr.Sequential(
        cr.Dense(2, hidden, activation=activation),
        cr.Dense(hidden, 3, activation="tanh"),
        cr.Dense(3, 2),
        seed=seed,
    )
    labels = rng.integers(0, 2, size=n_rows)
    result = gradcheck(net, "cross_entropy", rng.normal(size=(n_rows, 2)), labels)
    assert result.max_error < 1e-6, str(result)

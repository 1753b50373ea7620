"""Layers, Sequential's checks and initialisers, against independently computed
expectations (formulas, counts, statistical bounds)."""

from __future__ import annotations

import contextlib
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import initializers as init

# -- Dense and Sequential: construction and input errors -------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True, None])
def test_dense_rejects_non_positive_or_non_integer_sizes(bad):
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        cr.Dense(bad, 3)
    with pytest.raises(ValueError, match="out_features must be a positive integer"):
        cr.Dense(3, bad)


def test_dense_accepts_numpy_integers():
    layer = cr.Dense(np.int64(3), np.int32(2))
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)


def test_sequential_width_mismatch_message():
    with pytest.raises(ValueError) as info:
        cr.Sequential(cr.Dense(4, 5), cr.ReLU(), cr.Dense(6, 2))
    msg = str(info.value)
    assert "layer 2" in msg and "expects 6 inputs" in msg and "gives 5" in msg
    with pytest.raises(ValueError, match="expects 7 inputs but the layer before it gives 5"):
        cr.Sequential(cr.Dense(4, 5), cr.BatchNorm(7))


def test_sequential_needs_layers():
    with pytest.raises(ValueError, match="at least one layer"):
        cr.Sequential()
    with pytest.raises(TypeError, match="not a chainrule Layer"):
        cr.Sequential(cr.Dense(2, 2), "relu")


@pytest.fixture
def net4():
    return cr.Sequential(cr.Dense(4, 3, activation="relu"), cr.Dense(3, 2), seed=0)


def test_one_dimensional_input_is_an_error(net4):
    with pytest.raises(ValueError) as info:
        net4.forward(np.zeros(4))
    msg = str(info.value)
    assert "1-D" in msg and "2-D" in msg and "reshape(1, -1)" in msg


def test_three_dimensional_input_is_an_error(net4):
    with pytest.raises(ValueError) as info:
        net4.forward(np.zeros((2, 4, 1)))
    msg = str(info.value)
    assert "3 dimensions" in msg and "2-D" in msg


def test_wrong_feature_count_message(net4):
    with pytest.raises(ValueError) as info:
        net4.forward(np.zeros((5, 3)))
    assert str(info.value) == "X has 3 features but the first layer expects 4"


def test_lists_are_accepted_and_cast(net4):
    out = net4.forward([[1, 2, 3, 4]])
    assert out.shape == (1, 2) and out.dtype == np.float32


# -- Dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9])
def test_dropout_train_mode_statistics_and_scaling(p, dtype):
    drop = cr.Dropout(p, seed=123)
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(400, 500)).astype(dtype)
    out = drop.forward(x)
    assert out.dtype == dtype
    n = x.size
    dropped = out == 0
    frac = dropped.mean()
    # binomial: 6 standard deviations
    assert abs(frac - p) < 6 * math.sqrt(p * (1 - p) / n)
    # kept entries are scaled by exactly 1 / (1 - p), computed in the data's dtype
    scale = dtype(1) / dtype(1 - p)
    kept = ~dropped
    np.testing.assert_array_equal(drop.mask[kept], scale)
    np.testing.assert_array_equal(drop.mask[dropped], 0)
    np.testing.assert_array_equal(out[kept], x[kept] * scale)
    np.testing.assert_allclose(out[kept] / x[kept], 1 / (1 - p), rtol=4 * np.finfo(dtype).eps)
    # the chain rule through the mask
    g = np.ones_like(x)
    np.testing.assert_array_equal(drop.backward(g), drop.mask)


def test_dropout_eval_mode_is_identity():
    x = np.random.default_rng(1).normal(size=(50, 20))
    drop = cr.Dropout(0.5, seed=0)
    drop.training = False
    out = drop.forward(x)
    np.testing.assert_array_equal(out, x)
    assert drop.mask is None
    g = np.random.default_rng(2).normal(size=x.shape)
    np.testing.assert_array_equal(drop.backward(g), g)
    # through a network: eval() switches it off, train() back on
    net = cr.Sequential(cr.Dense(20, 30), cr.Dropout(0.5), cr.Dense(30, 2), seed=4)
    plain = cr.Sequential(net[0], net[2])  # the same Dense layers without the dropout
    net.eval()
    assert not net.training
    np.testing.assert_array_equal(net.forward(x), plain.forward(x))
    net.train()
    assert net.training
    assert not np.array_equal(net.forward(x), plain.forward(x))


def test_dropout_p_zero_and_bad_p():
    x = np.ones((3, 4))
    np.testing.assert_array_equal(cr.Dropout(0.0).forward(x), x)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="Dropout p"):
            cr.Dropout(bad)


def test_dropout_masks_reproducible_from_seed():
    x = np.ones((20, 10))

    def masks(seed):
        net = cr.Sequential(cr.Dense(10, 10), cr.Dropout(0.3), seed=seed)
        return [net.forward(x) for _ in range(3)]

    for a, b in zip(masks(7), masks(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(masks(7)[0], masks(8)[0])


# -- BatchNorm -----------------------------------------------------------------------------------


def test_batchnorm_needs_two_rows_in_training():
    bn = cr.BatchNorm(3)
    with pytest.raises(ValueError, match="at least 2 rows"):
        bn.forward(np.ones((1, 3), np.float32))
    net = cr.Sequential(cr.Dense(2, 3), cr.BatchNorm(3), seed=0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.forward(np.ones((1, 2)))
    net.eval()  # inference on one row is fine
    assert net.forward(np.ones((1, 2))).shape == (1, 3)


def test_batchnorm_train_forward_normalises():
    x = np.random.default_rng(3).normal(5.0, 3.0, size=(64, 4))
    bn = cr.BatchNorm(4, eps=0.0)
    bn.set_dtype(np.float64)
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-12)
    # running statistics after one step: 0.9 * (0, 1) + 0.1 * (mean, unbiased var)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="num_features"):
        cr.BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        cr.BatchNorm(3, momentum=1.5)


# -- summary, seeds, dtypes ----------------------------------------------------------------------


def test_summary_widths_and_parameter_count():
    net = cr.Sequential(
        cr.Dense(4, 8, activation="relu"),
        cr.Dropout(0.2),
        cr.BatchNorm(8),
        cr.Dense(8, 3),
        cr.Tanh(),
        seed=0,
    )
    text = net.summary()
    lines = text.splitlines()
    widths = [8, 8, 8, 3, 3]
    for layer, width in zip(net.layers, widths):
        rows = [line for line in lines if repr(layer) in line]
        assert rows, f"{layer!r} missing from summary"
        assert re.search(rf"\b{width}\b", rows[0]), rows[0]
    total = (4 * 8 + 8) + 2 * 8 + (8 * 3 + 3)
    total_line = [line for line in lines if "total" in line.lower()][0]
    numbers = [int(s.replace(",", "")) for s in re.findall(r"\d[\d,]*", total_line)]
    assert total in numbers
    assert net.n_parameters() == total


def test_summary_of_a_large_network():
    sizes = [784, 256, 128, 10]
    net = cr.Sequential(
        *(cr.Dense(a, b, activation="relu") for a, b in zip(sizes, sizes[1:])), seed=0
    )
    total = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    assert total == 235_146
    text = net.summary()
    total_line = [line for line in text.splitlines() if "total" in line.lower()][0]
    assert total in [int(s.replace(",", "")) for s in re.findall(r"\d[\d,]*", total_line)]
    for width in sizes[1:]:
        assert re.search(rf"\b{width}\b", text)


def _weights(net):
    return [p.value.copy() for p in net.parameters()]


def _net(seed, dtype=np.float32):
    return cr.Sequential(
        cr.Dense(5, 7, activation="relu"),
        cr.Dense(7, 3, activation="tanh"),
        cr.Dense(3, 2),
        seed=seed,
        dtype=dtype,
    )


def test_same_seed_gives_bit_identical_weights():
    a, b = _weights(_net(0)), _weights(_net(0))
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    c = _weights(_net(1))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c) if x.any())
    # re-seeding an existing network reproduces it
    net = _net(1)
    net.reset_parameters(0)
    for x, y in zip(_weights(net), a):
        assert x.tobytes() == y.tobytes()
    # the same for float64, and a single Dense with its own seed
    for x, y in zip(_weights(_net(3, np.float64)), _weights(_net(3, np.float64))):
        assert x.tobytes() == y.tobytes()
    d1, d2 = cr.Dense(6, 4, seed=42), cr.Dense(6, 4, seed=42)
    assert d1.weight.value.tobytes() == d2.weight.value.tobytes()
    assert not np.array_equal(d1.weight.value, cr.Dense(6, 4, seed=43).weight.value)


def test_float64_request_casts_everything():
    net = cr.Sequential(
        cr.Dense(4, 6, activation="relu"),
        cr.BatchNorm(6),
        cr.Dropout(0.1),
        cr.Dense(6, 2),
        dtype=np.float64,
        seed=0,
    )
    for p in net.parameters():
        assert p.value.dtype == np.float64 and p.grad.dtype == np.float64, p.name
    bn = net.layers[1]
    assert bn.running_mean.dtype == np.float64 and bn.running_var.dtype == np.float64
    X = np.ones((3, 4), dtype=np.float32)
    out = net.forward(X)
    assert out.dtype == np.float64
    net.backward(np.ones_like(out))
    for p in net.parameters():
        assert p.grad.dtype == np.float64
    # default float32
    net32 = cr.Sequential(cr.Dense(4, 6), cr.BatchNorm(6), cr.Dense(6, 2), seed=0)
    assert all(p.value.dtype == np.float32 for p in net32.parameters())
    assert net32.forward(np.ones((3, 4))).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        cr.Sequential(cr.Dense(2, 2), dtype=np.int32)


def test_parameters_order_and_names():
    net = cr.Sequential(cr.Dense(3, 4), cr.ReLU(), cr.BatchNorm(4), cr.Dense(4, 1), seed=0)
    params = net.parameters()
    expected = [
        net[0].weight,
        net[0].bias,
        net[2].weight,
        net[2].bias,
        net[3].weight,
        net[3].bias,
    ]
    assert all(a is b for a, b in zip(params, expected)) and len(params) == len(expected)
    assert len({p.name for p in params}) == len(params)


# -- initialisers ----------------------------------------------------------------------------------

try:  # a multi-threaded QR of 400 x 300 is ~50x slower than one thread on a busy 2-core box
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def one_blas_thread():
    return threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()


FAN_IN, FAN_OUT = 400, 300
SHAPE = (FAN_IN, FAN_OUT)
N = FAN_IN * FAN_OUT

# name or instance -> (distribution, mean, std, uniform limit or None)
INITS = {
    "zeros": ("zeros", 0.0, 0.0, None),
    "constant": (init.Constant(0.25), 0.25, 0.0, None),
    "uniform": (init.Uniform(-0.3, 0.7), 0.2, 1.0 / math.sqrt(12), None),
    "uniform(default)": ("uniform", 0.0, 0.1 / math.sqrt(12), 0.05),
    "normal": (init.Normal(1.0, 0.2), 1.0, 0.2, None),
    "normal(default)": ("normal", 0.0, 0.05, None),
    "glorot_uniform": (
        "glorot_uniform",
        0.0,
        math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3),
        math.sqrt(6 / (FAN_IN + FAN_OUT)),
    ),
    "glorot_normal": ("glorot_normal", 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    "he_uniform": ("he_uniform", 0.0, math.sqrt(6 / FAN_IN) / math.sqrt(3), math.sqrt(6 / FAN_IN)),
    "he_normal": ("he_normal", 0.0, math.sqrt(2 / FAN_IN), None),
    "lecun_uniform": (
        "lecun_uniform",
        0.0,
        math.sqrt(3 / FAN_IN) / math.sqrt(3),
        math.sqrt(3 / FAN_IN),
    ),
    "lecun_normal": ("lecun_normal", 0.0, math.sqrt(1 / FAN_IN), None),
    # the columns of a 400 x 300 orthogonal matrix are unit vectors: mean square 1/400
    "orthogonal": ("orthogonal", 0.0, math.sqrt(1 / FAN_IN), None),
}


@pytest.mark.parametrize("name", list(INITS))
def test_initializer_statistics(name):
    spec, mean, std, limit = INITS[name]
    with one_blas_thread():
        w = cr.get_initializer(spec)(SHAPE, np.random.default_rng(0), np.float64)
    assert w.shape == SHAPE and w.dtype == np.float64
    if std == 0.0:
        np.testing.assert_array_equal(w, mean)
        return
    # the sample mean is within 5 standard errors, the sample std within ~1.5 %
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(N), (w.mean(), mean)
    assert abs(w.std() / std - 1) < 5 / math.sqrt(N), (w.std(), std)
    if limit is not None:
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.999 * limit
    if name == "uniform":
        assert w.min() >= -0.3 and w.max() <= 0.7 and w.min() < -0.299 and w.max() > 0.699


@pytest.mark.parametrize("shape", [(400, 300), (300, 400), (50, 50)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_is_orthogonal(shape, gain):
    with one_blas_thread():
        q = init.Orthogonal(gain)(shape, np.random.default_rng(1), np.float64)
    assert q.shape == shape
    k = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(k), atol=1e-12 * gain**2)


@pytest.mark.parametrize("name", list(INITS))
def test_initializer_reproducible_from_rng_seed(name):
    spec = INITS[name][0]
    a = cr.get_initializer(spec)((30, 20), np.random.default_rng(5), np.float64)
    b = cr.get_initializer(spec)((30, 20), np.random.default_rng(5), np.float64)
    assert a.tobytes() == b.tobytes()
    c = cr.get_initializer(spec)((30, 20), np.random.default_rng(6), np.float32)
    assert c.dtype == np.float32
    if INITS[name][2] > 0:
        assert not np.array_equal(a, c.astype(np.float64))


def test_initializer_names_aliases_and_errors():
    for name, cls in init.INITIALIZERS.items():
        assert isinstance(cr.get_initializer(name), cls)
    assert isinstance(cr.get_initializer("xavier"), init.GlorotUniform)
    assert isinstance(cr.get_initializer("kaiming_normal"), init.HeNormal)
    with pytest.raises(ValueError) as info:
        cr.get_initializer("glorot_uniformm")
    msg = str(info.value)
    assert "glorot_uniformm" in msg
    for name in init.INITIALIZERS:
        assert name in msg
    with pytest.raises(TypeError):
        cr.get_initializer(3)
    with pytest.raises(ValueError):
        init.Uniform(1.0, 1.0)
    with pytest.raises(ValueError):
        init.Normal(0.0, -1.0)


@pytest.mark.parametrize(
    "activation, limit",
    [
        ("relu", math.sqrt(6 / FAN_IN)),  # He uniform for the ReLU family
        ("gelu", math.sqrt(6 / FAN_IN)),
        ("tanh", math.sqrt(6 / (FAN_IN + FAN_OUT))),  # Glorot otherwise
        (None, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ],
)
def test_dense_default_initialisation(activation, limit):
    layer = cr.Dense(FAN_IN, FAN_OUT, activation=activation, seed=0)
    w = layer.weight.value.astype(np.float64)
    assert np.abs(w).max() <= limit * (1 + 1e-6)
    assert np.abs(w).max() > 0.999 * limit
    assert abs(w.std() / (limit / math.sqrt(3)) - 1) < 5 / math.sqrt(N)
    np.testing.assert_array_equal(layer.bias.value, 0)


def test_dense_selu_uses_lecun_normal():
    w = cr.Dense(FAN_IN, FAN_OUT, activation="selu", seed=0).weight.value.astype(np.float64)
    assert abs(w.std() / math.sqrt(1 / FAN_IN) - 1) < 5 / math.sqrt(N)
    assert np.abs(w).max() > 4 * math.sqrt(1 / FAN_IN)  # normal tails, not uniform

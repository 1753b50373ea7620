"""Losses against independent references: torch.nn losses and autograd, central
finite differences, and exact values (math / mpmath) at extreme logits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.losses import LOSSES

torch = pytest.importorskip("torch")
nn = torch.nn
mpmath = pytest.importorskip("mpmath")

EPS = float(np.finfo(np.float64).eps)
EDGES = (0.0, 1e-8, -1e-8, 1.0, -1.0, 30.0, -30.0, 1000.0, -1000.0)
no_fp_trouble = dict(all="raise", under="ignore")


def T(a, dtype=torch.float64):
    return torch.tensor(np.asarray(a), dtype=dtype)


# -- the cases: (our loss, data generator, torch reference) ----------------------------------
#
# make(rng, pred) -> y for our loss; ref(pred_tensor, y) -> torch scalar.


def _regression_target(rng, pred):
    return pred + rng.normal(0, 2, size=pred.shape)


def _binary01(rng, pred):
    return rng.integers(0, 2, size=pred.shape).astype(np.float64)


def _binary_pm1(rng, pred):
    return rng.choice([-1.0, 1.0], size=pred.shape)


def _soft01(rng, pred):
    return rng.uniform(0, 1, size=pred.shape)


def _labels(rng, pred):
    return rng.integers(0, pred.shape[1], size=pred.shape[0])


def _one_hot(rng, pred):
    return np.eye(pred.shape[1])[_labels(rng, pred)]


def _probabilities(rng, pred):
    t = rng.uniform(0, 1, size=pred.shape) ** 3
    return t / t.sum(axis=1, keepdims=True)


def _unnormalised(rng, pred):
    return rng.uniform(0, 1, size=pred.shape)


def _hinge_binary_ref(z, y):
    y = torch.where(y == 0, -torch.ones_like(y), y)
    return torch.clamp(1 - y * z, min=0).mean()


CASES = {
    # name: (loss factory, target maker, torch reference, number of outputs or None)
    "mse": (cr.MSE, _regression_target, lambda z, y: nn.MSELoss()(z, T(y)), None),
    "mae": (cr.MAE, _regression_target, lambda z, y: nn.L1Loss()(z, T(y)), None),
    "huber": (cr.Huber, _regression_target, lambda z, y: nn.HuberLoss(delta=1.0)(z, T(y)), None),
    "huber(0.3)": (
        lambda: cr.Huber(delta=0.3),
        _regression_target,
        lambda z, y: nn.HuberLoss(delta=0.3)(z, T(y)),
        None,
    ),
    "huber(2.5)": (
        lambda: cr.Huber(delta=2.5),
        _regression_target,
        lambda z, y: nn.HuberLoss(delta=2.5)(z, T(y)),
        None,
    ),
    "bce(0/1)": (
        cr.BinaryCrossEntropy,
        _binary01,
        lambda z, y: nn.BCEWithLogitsLoss()(z, T(y)),
        None,
    ),
    "bce(soft)": (
        cr.BinaryCrossEntropy,
        _soft01,
        lambda z, y: nn.BCEWithLogitsLoss()(z, T(y)),
        None,
    ),
    "ce(labels)": (
        cr.CrossEntropy,
        _labels,
        lambda z, y: nn.CrossEntropyLoss()(z, torch.tensor(y, dtype=torch.long)),
        "multi",
    ),
    "ce(one-hot)": (
        cr.CrossEntropy,
        _one_hot,
        lambda z, y: nn.CrossEntropyLoss()(z, T(y)),
        "multi",
    ),
    "ce(probabilities)": (
        cr.CrossEntropy,
        _probabilities,
        lambda z, y: nn.CrossEntropyLoss()(z, T(y)),
        "multi",
    ),
    "ce(unnormalised)": (
        cr.CrossEntropy,
        _unnormalised,
        lambda z, y: nn.CrossEntropyLoss()(z, T(y)),
        "multi",
    ),
    "hinge(+-1)": (cr.Hinge, _binary_pm1, lambda z, y: _hinge_binary_ref(z, T(y)), 1),
    "hinge(0/1)": (cr.Hinge, _binary01, lambda z, y: _hinge_binary_ref(z, T(y)), 1),
    "hinge(multi)": (
        cr.Hinge,
        _labels,
        lambda z, y: nn.MultiMarginLoss()(z, torch.tensor(y, dtype=torch.long)),
        "multi",
    ),
}


def _shape(rng, outputs) -> tuple[int, int]:
    n = int(rng.integers(1, 9))
    if outputs == 1:
        return n, 1
    if outputs == "multi":
        return n, int(rng.integers(2, 7))
    return n, int(rng.integers(1, 5))


def test_every_registered_loss_is_covered():
    covered = {type(CASES[name][0]()).__name__ for name in CASES}
    assert {cls.__name__ for cls in LOSSES.values()} <= covered


# -- against torch ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_backward_match_torch(name, seed, assert_close):
    make_loss, make_target, ref, outputs = CASES[name]
    rng = np.random.default_rng(seed)
    scale = [0.1, 1.0, 3.0, 10.0][seed]
    pred = rng.normal(0, scale, size=_shape(rng, outputs))
    y = make_target(rng, pred)
    loss = make_loss()
    value = loss.forward(pred, y)
    grad = loss.backward()
    assert type(value) is float
    assert grad.shape == pred.shape and grad.dtype == np.float64

    z = T(pred).requires_grad_(True)
    expected = ref(z, y)
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12, abs=1e-300)
    floor = 1e-15 * np.abs(z.grad.numpy()).max()
    assert_close(grad, z.grad.numpy(), rtol=1e-10, atol=floor, what=f"{name} grad vs torch")


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "bce(0/1)", "hinge(+-1)"])
def test_one_dimensional_targets_for_one_output(name):
    """y of shape (n,) is read as a column for a (n, 1) prediction (no broadcasting to (n, n))."""
    make_loss, make_target, ref, _ = CASES[name]
    rng = np.random.default_rng(5)
    pred = rng.normal(size=(6, 1))
    y = make_target(rng, pred)
    loss = make_loss()
    value = loss.forward(pred, y.ravel())
    grad = loss.backward()
    z = T(pred).requires_grad_(True)
    expected = ref(z, y)
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-300)


# -- against finite differences ---------------------------------------------------------------


def kink_mask(name: str, loss, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where central differences may straddle a kink of the loss (skip those)."""
    h = 1e-6 * np.maximum(1.0, np.abs(pred))
    y2 = y.reshape(pred.shape) if y.ndim == 1 and pred.shape[1] == 1 else y
    if name == "mae":
        return np.abs(pred - y2) <= 4 * h
    if name.startswith("huber"):
        return np.abs(np.abs(pred - y2) - loss.delta) <= 4 * h
    if name in ("hinge(+-1)", "hinge(0/1)"):
        s = np.where(y2 == 0, -1.0, y2)
        return np.abs(1 - s * pred) <= 4 * h
    if name == "hinge(multi)":
        n = pred.shape[0]
        zc = pred[np.arange(n), y][:, None]
        margin = 1 - zc + pred
        margin[np.arange(n), y] = 5.0
        hz = 4 * (h + h[np.arange(n), y][:, None])
        bad_row = np.any(np.abs(margin) <= hz, axis=1, keepdims=True)
        return np.broadcast_to(bad_row, pred.shape)
    return np.zeros(pred.shape, dtype=bool)


def n_terms(name: str, pred: np.ndarray) -> int:
    """How many terms the loss averages over."""
    if name.startswith("ce") or name == "hinge(multi)":
        return pred.shape[0]
    return pred.size


elements = st.one_of(
    st.sampled_from(EDGES), st.floats(-40.0, 40.0, allow_nan=False, allow_infinity=False)
)


@st.composite
def loss_inputs(draw, outputs):
    n = draw(st.integers(1, 5))
    if outputs == 1:
        k = 1
    elif outputs == "multi":
        k = draw(st.integers(2, 5))
    else:
        k = draw(st.integers(1, 4))
    pred = draw(hnp.arrays(np.float64, (n, k), elements=elements))
    seed = draw(st.integers(0, 2**32 - 1))
    return pred, seed


EDGE_PRED = np.array([[0.0, 1e-8, -1e-8], [30.0, -30.0, 1.0], [1000.0, -1000.0, -1.0]])


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_backward_matches_central_differences(name, data, scalar_diff, assert_close):
    make_loss, make_target, _, outputs = CASES[name]
    if data.draw(st.booleans(), label="edge example") and outputs != 1:
        pred, seed = EDGE_PRED.copy(), data.draw(st.integers(0, 100))
    else:
        pred, seed = data.draw(loss_inputs(outputs))
    rng = np.random.default_rng(seed)
    y = make_target(rng, pred)
    if name in ("mse", "mae") or name.startswith("huber"):
        # targets at edge values too, not only near the predictions
        y = np.where(rng.random(pred.shape) < 0.3, rng.choice(EDGES, size=pred.shape), y)
    loss = make_loss()
    with np.errstate(**no_fp_trouble):
        value = loss.forward(pred, y)
        grad = loss.backward()
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        # rounding in each term is relative to the size of its inputs
        row_scale = np.abs(pred).max(axis=1, keepdims=True) + np.abs(np.asarray(y, float)).max()
        scale = np.broadcast_to(row_scale / n_terms(name, pred), pred.shape)
        expected, noise = scalar_diff(lambda p: make_loss().forward(p, y), pred, scale=scale)
    mask = ~kink_mask(name, loss, pred, np.asarray(y))
    assert_close(grad, expected, rtol=1e-6, atol=noise, mask=mask, what=f"{name} grad vs FD")


def test_kink_conventions_match_torch():
    """At the kinks our subgradient is PyTorch's (MAE: sign(0) = 0; hinge: 0 at margin 0)."""
    # MAE at d = 0: torch's L1Loss gives 0
    pred = np.array([[1.0, 2.0]])
    loss = cr.MAE()
    loss.forward(pred, pred.copy())
    np.testing.assert_array_equal(loss.backward(), [[0.0, 0.0]])
    # Huber at |d| = delta: both sides agree (C1), gradient +-delta / N
    loss = cr.Huber(delta=0.5)
    loss.forward(np.array([[1.5, -0.5]]), np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(loss.backward(), [[0.25, -0.25]], rtol=0)
    # multiclass hinge at margin exactly 0: MultiMarginLoss counts only margins > 0
    z = np.array([[2.0, 1.0, 0.0]])
    loss = cr.Hinge()
    loss.forward(z, np.array([0]))
    t = T(z).requires_grad_(True)
    nn.MultiMarginLoss()(t, torch.tensor([0])).backward()
    np.testing.assert_array_equal(loss.backward(), t.grad.numpy())
    # binary hinge at margin exactly 0 (y z = 1): 0, as relu(1 - y z) in torch
    z = np.array([[1.0], [-1.0]])
    loss = cr.Hinge()
    loss.forward(z, np.array([1.0, -1.0]))
    t = T(z).requires_grad_(True)
    torch.relu(1 - T([[1.0], [-1.0]]) * t).mean().backward()
    np.testing.assert_array_equal(loss.backward(), t.grad.numpy())


# -- exact values at extreme logits -------------------------------------------------------------


def test_cross_entropy_exact_for_logits_1e4():
    z = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4, 1e4]])
    labels = np.array([0, 1, 0, 2])
    # independent: per row logsumexp(z) - z_label, written out with math
    rows = [
        math.log1p(math.exp(-1e4) + math.exp(-2e4)),  # 0.0
        1.0 + math.log1p(math.exp(-1.0)),  # lse = 1e4 + log(1 + e^-1), minus (1e4 - 1)
        2e4 + math.log(2.0),  # lse = 1e4 + log 2, minus -1e4
        math.log(3.0),
    ]
    expected = math.fsum(rows) / len(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**no_fp_trouble):
            loss = cr.CrossEntropy()
            value = loss.forward(z, labels)
            grad = loss.backward()
    assert value == pytest.approx(expected, rel=4 * EPS)
    t = T(z).requires_grad_(True)
    ref = nn.CrossEntropyLoss()(t, torch.tensor(labels))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=4 * EPS)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-300)
    # the same with one-hot targets, and in float32
    onehot = np.eye(3)[labels]
    assert cr.CrossEntropy().forward(z, onehot) == pytest.approx(expected, rel=4 * EPS)
    with np.errstate(**no_fp_trouble):
        v32 = cr.CrossEntropy().forward(z.astype(np.float32), labels)
    assert v32 == pytest.approx(expected, rel=1e-6)


def _mp_bce(z, y):
    z, y = mpmath.mpf(z), mpmath.mpf(y)
    return y * mpmath.log1p(mpmath.exp(-z)) + (1 - y) * mpmath.log1p(mpmath.exp(z))


def test_binary_cross_entropy_exact_at_extreme_logits():
    mpmath.mp.dps = 60
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0], [30.0], [-30.0], [1e-8], [0.0]])
    y = np.array([[1.0], [0.0], [0.0], [1.0], [1.0], [1.0], [0.0], [1.0]])
    for i in range(len(z)):
        loss = cr.BinaryCrossEntropy()
        with np.errstate(**no_fp_trouble):
            value = loss.forward(z[i : i + 1], y[i : i + 1])
            grad = loss.backward()[0, 0]
        expected = float(_mp_bce(z[i, 0], y[i, 0]))
        assert value == pytest.approx(expected, rel=4 * EPS, abs=1e-300), (z[i], y[i])
        # sigmoid(z) - y lies in [-1, 1] and is computed to absolute (not relative)
        # precision when it cancels (z = 30, y = 1), as in PyTorch
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(z[i, 0])))
        assert grad == pytest.approx(float(s - mpmath.mpf(y[i, 0])), rel=4 * EPS, abs=EPS)


# -- types, names, errors ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_forward_returns_python_float_and_keeps_float32(name):
    make_loss, make_target, _, outputs = CASES[name]
    rng = np.random.default_rng(3)
    pred = rng.normal(size=_shape(rng, outputs)).astype(np.float32)
    y = make_target(rng, pred)
    if y.dtype.kind == "f":
        y = y.astype(np.float32)
    loss = make_loss()
    value = loss.forward(pred, y)
    assert type(value) is float
    assert loss(pred, y) == value
    assert loss.backward().dtype == np.float32


def test_get_loss_names_and_errors():
    for name, cls in LOSSES.items():
        assert isinstance(cr.get_loss(name), cls)
    assert isinstance(cr.get_loss("bce"), cr.BinaryCrossEntropy)
    assert isinstance(cr.get_loss("Cross-Entropy"), cr.CrossEntropy)
    assert isinstance(cr.get_loss(cr.MSE), cr.MSE)
    h = cr.Huber(0.5)
    assert cr.get_loss(h) is h
    with pytest.raises(ValueError) as info:
        cr.get_loss("mse2")
    msg = str(info.value)
    assert "mse2" in msg
    for name in LOSSES:
        assert name in msg
    with pytest.raises(TypeError):
        cr.get_loss(1.0)
    with pytest.raises(ValueError, match="delta"):
        cr.Huber(delta=0.0)


@pytest.mark.parametrize(
    "loss, y, n_outputs, fragments",
    [
        (cr.CrossEntropy(), [0, 1, 3], 3, ["0..2", "3"]),
        (cr.CrossEntropy(), [0, -1, 2], 3, ["0..2", "-1"]),
        (cr.CrossEntropy(), [0.0, 1.5, 2.0], 3, ["non-integer"]),
        (cr.CrossEntropy(), [0.0, np.nan, 2.0], 3, ["NaN"]),
        (cr.CrossEntropy(), np.zeros((3, 2)), 3, ["shape (3, 2)", "3 outputs"]),
        (cr.CrossEntropy(), np.zeros((3, 2, 1)), 3, ["shape"]),
        (cr.Hinge(), [0, 1, 4], 4, ["0..3", "4"]),
        (cr.Hinge(), np.full((3, 4), 0.25), 4, ["integer labels or one-hot rows", "not one-hot"]),
        (cr.Hinge(), [0.5, 1.0], 3, ["hinge", "non-integer"]),
        (cr.Hinge(), [-1.0, 0.0, 1.0], 1, ["-1/+1 or 0/1"]),
        (cr.Hinge(), [2.0, 1.0], 1, ["-1/+1 or 0/1"]),
        (cr.BinaryCrossEntropy(), [0.0, 1.0, 2.0], 1, ["[0, 1]", "2"]),
        (cr.BinaryCrossEntropy(), [-0.5, 1.0], 1, ["[0, 1]", "-0.5"]),
        (cr.BinaryCrossEntropy(), np.zeros((3, 2)), 1, ["shape (3, 2)", "1 output"]),
        (cr.MSE(), np.zeros((4, 2)), 3, ["shape (4, 2)", "3 output", "(n_samples, 3)"]),
        (cr.MSE(), np.zeros(4), 2, ["shape (4,)", "(n_samples, 2)"]),
        (cr.MAE(), np.zeros((4, 2, 2)), 2, ["shape (4, 2, 2)"]),
        (cr.Huber(), np.zeros((4, 3)), 1, ["(n_samples, 1)", "(n_samples,)"]),
    ],
)
def test_prepare_target_rejects_bad_targets(loss, y, n_outputs, fragments):
    with pytest.raises(ValueError) as info:
        loss.prepare_target(np.asarray(y), n_outputs, np.float64)
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"


def test_prepare_target_accepts_good_targets():
    y = cr.CrossEntropy().prepare_target(np.array([0.0, 2.0, 1.0]), 3, np.float32)
    assert np.issubdtype(y.dtype, np.integer)
    np.testing.assert_array_equal(y, [0, 2, 1])
    y = cr.CrossEntropy().prepare_target(np.array([[0], [2]]), 3, np.float32)
    np.testing.assert_array_equal(y, [0, 2])
    onehot = cr.CrossEntropy().prepare_target(np.eye(3), 3, np.float32)
    assert onehot.shape == (3, 3) and onehot.dtype == np.float32
    y = cr.MSE().prepare_target(np.arange(4.0), 1, np.float32)
    assert y.shape == (4, 1) and y.dtype == np.float32
    y = cr.BinaryCrossEntropy().prepare_target(np.array([0.0, 0.25, 1.0]), 1, np.float64)
    assert y.shape == (3, 1)
    for labels in ([-1.0, 1.0, 1.0], [0.0, 1.0, 0.0]):
        assert cr.Hinge().prepare_target(np.array(labels), 1, np.float64).shape == (3, 1)
    y = cr.Hinge().prepare_target(np.array([0, 3, 1]), 4, np.float64)
    np.testing.assert_array_equal(y, [0, 3, 1])


def test_forward_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="do not match"):
        cr.MSE().forward(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="do not match"):
        cr.BinaryCrossEntropy().forward(np.zeros((4, 1)), np.zeros(5))
    with pytest.raises(ValueError, match="do not match"):
        cr.CrossEntropy().forward(np.zeros((4, 3)), np.zeros((4, 2)))


@settings(max_examples=50, deadline=None)
@given(
    z=hnp.arrays(np.float64, (4, 3), elements=elements),
    shift=st.floats(-1e3, 1e3, allow_nan=False),
    seed=st.integers(0, 2**32 - 1),
)
@example(
    z=np.array([[0.0, 1e-8, -1e-8], [30.0, -30.0, 1.0], [1000.0, -1000.0, -1.0], [0, 0, 0]]),
    shift=1e3,
    seed=0,
)
def test_cross_entropy_shift_invariance(z, shift, seed):
    labels = np.random.default_rng(seed).integers(0, 3, size=4)
    a = cr.CrossEntropy()
    b = cr.CrossEntropy()
    va = a.forward(z, labels)
    vb = b.forward(z + shift, labels)
    # adding a constant moves each logit by at most one rounding of |z + shift|
    tol = 8 * EPS * (np.abs(z).max() + abs(shift))
    assert abs(va - vb) <= 1e-12 * abs(va) + tol
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=0, atol=tol + 1e-15)


@pytest.mark.parametrize(
    "name, y_kind",
    [("mse", "real"), ("mae", "real"), ("huber", "real"), ("binary_cross_entropy", "bits"),
     ("cross_entropy", "labels"), ("cross_entropy", "probs"), ("hinge", "labels"),
     ("hinge", "signs")],
)  # fmt: skip
def test_row_losses_average_to_forward(name, y_kind):
    rng = np.random.default_rng(0)
    k = 1 if y_kind == "signs" else 3
    out = rng.normal(size=(9, k)) * 2
    probs = rng.random((9, 3))
    y = {
        "real": rng.normal(size=(9, 3)),
        "bits": rng.integers(0, 2, (9, 3)).astype(float),
        "labels": rng.integers(0, 3, 9),
        "probs": probs / probs.sum(axis=1, keepdims=True),
        "signs": rng.choice([-1.0, 1.0], 9),
    }[y_kind]
    loss = cr.get_loss(name)
    rows = loss.row_losses(out, y)
    assert rows.shape == (9,) and rows.dtype == np.float64
    np.testing.assert_allclose(np.mean(rows), loss.forward(out, y), rtol=1e-12)


def test_every_registered_loss_has_row_losses():
    for cls in LOSSES.values():
        assert cls.row_losses is not cr.Loss.row_losses, cls.__name__

"""Hypothesis properties over the API: every input gets a clean, specific error
(``ValueError``/``TypeError`` with a message) or a correct answer.

"Correct" is checked against formulas written out here in float64 (the losses,
one optimizer step, a dense layer's forward pass), not against chainrule itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import chainrule as cr  # noqa: E402

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLEAN = (ValueError, TypeError)
F32_MAX = float(np.finfo(np.float32).max)


def _clean(exc: BaseException) -> None:
    """A clean error: the right type and a message of some substance."""
    assert isinstance(exc, CLEAN), f"{type(exc).__name__}: {exc}"
    assert len(str(exc)) > 15, str(exc)
    event(f"refused with {type(exc).__name__}")


small_floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
any_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
odd_scalars = st.one_of(
    any_floats,
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.just([0.1]),
)


# =============================================================================
# Losses: reference formulas in float64
# =============================================================================
def _reference(name: str, z: np.ndarray, y: np.ndarray):
    """(value, gradient) in float64 from the textbook formulas, or None when the
    targets do not fit the predictions (then chainrule must raise)."""
    n, k = z.shape
    if name in ("mse", "mae", "huber", "binary_cross_entropy"):
        if y.shape == (n,) and k == 1:
            y = y.reshape(n, 1)
        if y.shape != z.shape:
            return None
        t = y.astype(np.float64)
        d = z - t
        if name == "mse":
            return np.mean(d**2), 2 * d / d.size
        if name == "mae":
            return np.mean(np.abs(d)), np.sign(d) / d.size
        if name == "huber":
            a = np.abs(d)
            return np.mean(np.where(a <= 1, 0.5 * d * d, a - 0.5)), np.clip(d, -1, 1) / d.size
        s = 1 / (1 + np.exp(-z))
        value = np.mean(-t * np.log(s) - (1 - t) * np.log1p(-s)) if np.all(np.abs(z) < 30) else None
        return value, (s - t) / z.size
    if name == "cross_entropy" and y.shape == z.shape:  # one-hot or probability rows
        t = y.astype(np.float64)
        top = z.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))
        p = np.exp(z - lse)
        return np.mean(np.sum(t * (lse - z), axis=1)), (p * t.sum(axis=1, keepdims=True) - t) / n
    if name == "hinge" and y.shape == z.shape:  # one-hot rows stand for their labels
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            return None
        y = y.argmax(axis=1)
    # classification with integer labels
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        return None
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)) or y.min() < 0 or y.max() >= k:
        return None
    c = y.astype(int)
    if name == "cross_entropy":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        value = np.mean(-np.log(p[np.arange(n), c]))
        g = p.copy()
        g[np.arange(n), c] -= 1
        return value, g / n
    margins = 1 - z[np.arange(n), c][:, None] + z  # multi-class hinge (k >= 2)
    margins[np.arange(n), c] = 0
    value = np.mean(np.maximum(margins, 0).sum(axis=1) / k)
    g = (margins > 0).astype(float)
    g[np.arange(n), c] = -g.sum(axis=1)
    return value, g / (k * n)


@st.composite
def loss_cases(draw):
    name = draw(st.sampled_from(["mse", "mae", "huber", "binary_cross_entropy", "cross_entropy"]))
    if draw(st.booleans()):
        name = "hinge"
    n = draw(st.integers(0, 5))
    k = draw(st.integers(2, 4)) if name in ("cross_entropy", "hinge") else draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    z = draw(hnp.arrays(dtype, (n, k), elements=st.floats(-20, 20, width=32)))
    shape = draw(
        st.sampled_from([(n,), (n, 1), (n, k), (max(n - 1, 0),), (n + 1,), (n, k + 1), ()])
    )
    ydtype = draw(st.sampled_from([np.int64, np.int32, np.float64, np.float32, np.bool_]))
    if ydtype == np.bool_:
        elements = st.booleans()
    elif np.issubdtype(ydtype, np.integer):
        elements = st.integers(-1, k)
    else:
        elements = st.one_of(st.sampled_from([0.0, 1.0, 2.0]), st.floats(-1, 3, width=32))
    y = draw(hnp.arrays(ydtype, shape, elements=elements))
    return name, z, y


@SETTINGS
@given(loss_cases())
def test_losses_answer_correctly_or_refuse_cleanly(case):
    name, z, y = case
    loss = cr.get_loss(name)
    if name == "binary_cross_entropy" and np.issubdtype(y.dtype, np.number):
        pass  # forward takes any real targets (probabilities); fit checks [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            value = loss.forward(z, y)
            grad = loss.backward()
        except Exception as exc:  # noqa: BLE001 - the property is about which exception
            _clean(exc)
            return
    event("answered")
    ref = _reference(name, z.astype(np.float64), y)
    assert ref is not None, f"{name} accepted targets {y.shape} for predictions {z.shape}"
    assert z.size > 0
    ref_value, ref_grad = ref
    assert grad.shape == z.shape and grad.dtype == z.dtype
    rtol = 1e-4 if z.dtype == np.float32 else 1e-9
    if ref_value is not None:
        assert value == pytest.approx(ref_value, rel=rtol, abs=rtol)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * 1e-2)


# =============================================================================
# Optimizers: construction, lr assignment and one step
# =============================================================================
@SETTINGS
@given(
    name=st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]),
    lr=odd_scalars,
    later=odd_scalars,
    g=hnp.arrays(np.float32, 4, elements=small_floats),
)
def test_optimizers_refuse_bad_rates_and_step_correctly(name, lr, later, g):
    theta0 = np.linspace(-1, 1, 4, dtype=np.float32)
    p = cr.Parameter(theta0.copy())
    try:
        opt = getattr(cr, name)([p], lr=lr)
    except Exception as exc:  # noqa: BLE001
        _clean(exc)
        assert not (
            isinstance(lr, (int, float))
            and not isinstance(lr, bool)
            and 0 <= lr <= F32_MAX  # the parameters are float32
        )
        return
    assert isinstance(lr, (int, float)) and not isinstance(lr, bool)
    assert 0 <= lr <= F32_MAX
    try:
        opt.lr = later
    except Exception as exc:  # noqa: BLE001
        _clean(exc)
        assert opt.lr == float(lr)
    rate = opt.lr
    assert 0 <= rate <= F32_MAX
    p.grad[...] = g
    with np.errstate(over="ignore"):  # lr * g may overflow float32: checked below
        opt.step()
    event("answered")
    g64, t64 = g.astype(np.float64), theta0.astype(np.float64)
    if name == "SGD":
        expected = t64 - rate * g64
    elif name in ("Adam", "AdamW"):
        # step 1: m̂ = g, v̂ = g², θ ← θ(1 - γλ) - γ g / (|g| + ε)  (AdamW's λ = 0.01)
        decay = 0.01 if name == "AdamW" else 0.0
        expected = t64 * (1 - rate * decay) - rate * g64 / (np.abs(g64) + 1e-8)
    elif name == "RMSprop":
        v = 0.01 * g64**2  # α = 0.99: v = (1 - α) g²
        expected = t64 - rate * g64 / (np.sqrt(v) + 1e-8)
    else:  # Adagrad: sum = g², θ ← θ - γ g / (√sum + ε)
        expected = t64 - rate * g64 / (np.sqrt(g64**2) + 1e-10)
    # float32 arithmetic: a true result beyond float32's range is an infinity of its sign
    big = np.abs(expected) > 0.999 * F32_MAX
    assert np.all(np.isinf(p.value[big]) | (np.abs(p.value[big]) >= 0.99 * F32_MAX))
    assert np.all(np.sign(p.value[big]) == np.sign(expected[big]))
    np.testing.assert_allclose(
        p.value[~big], expected[~big], rtol=2e-6, atol=1e-6 * max(rate, 1e-3)
    )


# =============================================================================
# predict: a correct answer (argmax of X W + b in float64) or a clean error
# =============================================================================
def _net():
    net = cr.Sequential(cr.Dense(3, 4), seed=0)
    net.loss_ = "cross_entropy"
    return net


inputs = st.one_of(
    hnp.arrays(
        st.sampled_from([np.float64, np.float32]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    hnp.arrays(
        st.sampled_from([np.int64, np.int8, np.bool_]),
        hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=4),
    ),
    hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(3)), elements=any_floats),
    st.lists(st.lists(st.one_of(st.floats(-5, 5), st.text(max_size=2)), max_size=4), max_size=3),
    st.text(max_size=4),
    st.none(),
)


@SETTINGS
@given(X=inputs)
def test_predict_answers_correctly_or_refuses_cleanly(X):
    net = _net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            labels = net.predict(X)
            proba = net.predict_proba(X)
        except Exception as exc:  # noqa: BLE001
            _clean(exc)
            return
    event("answered")
    A = np.asarray(X, dtype=np.float64)
    assert A.ndim == 2 and A.shape[1] == 3 and len(A) > 0 and np.isfinite(A).all()
    assert np.all(np.abs(A) <= np.finfo(np.float32).max)
    W, b = net.layers[0].weight.value.astype(np.float64), net.layers[0].bias.value
    logits = A @ W + b
    assert labels.shape == (len(A),)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    top = np.sort(logits, axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-3 * (1 + np.abs(top[:, -1]))  # no near-ties
    np.testing.assert_array_equal(labels[clear], logits.argmax(axis=1)[clear])


# =============================================================================
# fit: a finished or cleanly stopped run, or a clean error
# =============================================================================
def _mostly(valid, bad):
    """Valid values about three times in four, so that the correct-answer side is
    exercised as much as the refusals."""
    return st.one_of(valid, valid, valid, bad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=hnp.arrays(
        np.float64, st.tuples(st.integers(0, 12), st.integers(1, 3)), elements=st.floats(-3, 3)
    ),
    poison=_mostly(st.none(), st.sampled_from([np.nan, np.inf, -np.inf, 1e300])),
    y_kind=_mostly(st.just("labels"), st.sampled_from(["bad labels", "short", "values", "text"])),
    epochs=_mostly(st.integers(0, 3), st.one_of(st.integers(-2, -1), st.floats(0, 2), st.none())),
    batch_size=_mostly(st.one_of(st.integers(1, 8), st.none()), st.sampled_from([0, -1, 2.0])),
    validation_split=_mostly(st.sampled_from([0.0, 0.2, 0.5]), any_floats),
    lr=_mostly(st.sampled_from([1e-3, 0.1, 1e6, 1e30]), odd_scalars),
    optimizer=_mostly(st.sampled_from(["sgd", "adam", "rmsprop", "adagrad"]), st.just("nadam")),
)
def test_fit_trains_or_refuses_cleanly(
    X, poison, y_kind, epochs, batch_size, validation_split, lr, optimizer
):
    n, d = X.shape
    if poison is not None and X.size:
        X.flat[X.size // 2] = poison
    y = {
        "labels": np.arange(n) % 2,
        "bad labels": np.full(n, 2),  # class 2 on a 2-output network
        "short": np.zeros(max(n - 1, 0), dtype=int),
        "values": np.linspace(0, 1, n),
        "text": np.array(["a"] * n),
    }[y_kind]
    net = cr.Sequential(cr.Dense(d, 2), seed=0)
    before = net.get_weights()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            history = net.fit(
                X,
                y,
                loss="cross_entropy",
                optimizer=optimizer,
                lr=lr,
                epochs=epochs,
                batch_size=batch_size,
                validation_split=validation_split,
            )
        except Exception as exc:  # noqa: BLE001
            _clean(exc)
            for a, b in zip(before, net.get_weights()):  # a refused fit leaves the weights
                np.testing.assert_array_equal(a, b)
            return
    event("answered")
    # it ran: the inputs were all valid ...
    assert n > 0 and np.isfinite(X).all() and y_kind == "labels"
    assert isinstance(epochs, int) and epochs >= 0
    assert 0 <= validation_split < 1
    # ... and it either finished every epoch or stopped on divergence, with a warning
    others = [w for w in caught if not issubclass(w.category, cr.DivergenceWarning)]
    assert not others, [str(w.message) for w in others]
    if history.diverged:
        assert any(issubclass(w.category, cr.DivergenceWarning) for w in caught)
    else:
        assert len(history) == epochs
    assert all(np.isfinite(w).all() for w in net.get_weights())

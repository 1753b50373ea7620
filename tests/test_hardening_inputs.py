"""Hostile inputs to the Python API: non-finite data, divergence, unchecked values.

Each test states a promise of issue 14 and checks it against something that
could be false: an error message, a number computed independently here, the
weights before a call, or a measured memory peak.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.validation import all_finite, as_float_array, check_finite


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _classifier(seed=0):
    X, y = _data()
    net = cr.Sequential(cr.Dense(4, 8, activation="relu"), cr.Dense(8, 2), seed=seed)
    net.fit(X, y, loss="cross_entropy", epochs=1)
    return net


# =============================================================================
# Item 3: non-finite inputs are refused at every entry point
# =============================================================================
BAD_ROWS = {
    "nan": ([[np.nan, 0, 0, 0], [1, 2, 3, 4]], "row 0, column 0"),
    "inf": ([[1, 2, 3, 4], [0, np.inf, 0, 0]], "row 1, column 1"),
    "-inf": ([[1, 2, 3, 4], [0, 0, 0, -np.inf]], "row 1, column 3"),
    "1e300 (float32 overflow)": ([[1, 2, 3, 4], [0, 0, 1e300, 0]], "overflows"),
}
ENTRY_POINTS = {
    "predict": lambda net, X: net.predict(X),
    "predict_proba": lambda net, X: net.predict_proba(X),
    "predict batched": lambda net, X: net.predict(X, batch_size=1),
    "evaluate": lambda net, X: net.evaluate(X, [0, 1]),
    "net(X)": lambda net, X: net(X),
    "forward": lambda net, X: net.forward(X),
    "fit": lambda net, X: net.fit(X, [0, 1], epochs=1),
    "fit validation_data": lambda net, X: net.fit(
        np.ones((4, 4)), [0, 1, 0, 1], validation_data=(X, [0, 1]), epochs=1
    ),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("bad", list(BAD_ROWS))
def test_non_finite_inputs_are_refused(entry, bad):
    net = _classifier()
    rows, where = BAD_ROWS[bad]
    before = [w.copy() for w in net.get_weights()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning on the way
        with pytest.raises(ValueError, match="X") as info:
            ENTRY_POINTS[entry](net, rows)
    assert where in str(info.value)
    if "overflow" in bad:
        assert "float32" in str(info.value) and "1e+300" in str(info.value)
    else:
        assert "NaN or inf" in str(info.value)
    for a, b in zip(before, net.get_weights()):  # a refused fit changed nothing
        np.testing.assert_array_equal(a, b)


def test_float64_network_takes_1e300_but_not_inf():
    net = cr.Sequential(cr.Dense(2, 1), seed=0, dtype=np.float64)
    out = net([[1e300, 0.0]])
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="NaN or inf"):
        net([[np.inf, 0.0]])


@pytest.mark.parametrize("entry", ["predict", "predict_proba", "evaluate"])
def test_outputs_that_overflow_are_refused_not_answered(entry):
    """Finite inputs near float32's limit overflow inside the network: no label
    from an inf or NaN output."""
    net = cr.Sequential(cr.Dense(2, 2), seed=0)
    net.loss_ = "cross_entropy"
    net.layers[0].weight.value[...] = [[10.0, -10.0], [1.0, 1.0]]
    X = np.array([[1.0, 0.0], [1e38, 0.0]], dtype=np.float32)
    call = {
        "predict": lambda: net.predict(X),
        "predict_proba": lambda: net.predict_proba(X),
        "evaluate": lambda: net.evaluate(X, [0, 1]),
    }[entry]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="outputs are NaN or inf for row 1 of X") as info:
            call()
    assert "overflow float32" in str(info.value) and "1e+38" in str(info.value)
    net.layers[0].weight.value[0, 0] = np.nan  # and weights that are not finite
    with pytest.raises(ValueError, match="weights hold NaN or inf"):
        net.predict(X[:1])


def test_huge_but_finite_logits_give_exact_probabilities():
    net = cr.Sequential(cr.Dense(1, 2), seed=0)
    net.loss_ = "cross_entropy"
    net.layers[0].weight.value[...] = [[3e37, -3e37]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = net.predict_proba(np.array([[10.0]], dtype=np.float32))
    np.testing.assert_array_equal(proba, [[1.0, 0.0]])


def test_finite_check_is_one_reduction_without_a_copy():
    """The fast path allocates nothing the size of the data (a boolean mask would be
    a quarter of a float32 array); the exact check runs only when a value is bad."""
    X = np.random.default_rng(0).normal(size=(2_500_000,)).astype(np.float32)  # 10 MB
    tracemalloc.start()
    try:
        check_finite(X)
        assert all_finite(X)
        out = as_float_array(X, np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out is X
    assert peak < X.nbytes / 100, peak
    # a sum that overflows is not a bad value: falls through to the exact check
    big = np.full(10, 3e38, dtype=np.float32)
    check_finite(big)
    X[123_456] = np.nan
    with pytest.raises(ValueError, match="row 123456"):
        check_finite(X)


# =============================================================================
# Item 4: divergence caught at every step, and restored weights that work
# =============================================================================
def _fit_quiet(net, X, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, **kw)
    div = [w for w in caught if issubclass(w.category, cr.DivergenceWarning)]
    return history, div


def _finite_everywhere(net, X):
    return all(np.isfinite(w).all() for w in net.get_weights()) and np.isfinite(net(X)).all()


@pytest.mark.parametrize(
    ("optimizer", "lr"),
    [("adam", 1e6), ("rmsprop", 1e6), ("adagrad", 1e6), ("adamw", 1e6), ("sgd", 1e30)],
)
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("batch_size", [32, None])
def test_wild_learning_rates_stop_with_finite_weights(optimizer, lr, loss, batch_size):
    X, y = _data()
    k = 2 if loss == "cross_entropy" else 1
    net = cr.Sequential(cr.Dense(4, 16, activation="relu"), cr.Dense(16, k), seed=0)
    target = y if loss == "cross_entropy" else X @ np.array([1.0, 2.0, -1.0, 0.5])
    history, div = _fit_quiet(
        net, X, target, loss=loss, optimizer=optimizer, lr=lr, epochs=30, batch_size=batch_size
    )
    assert history.diverged and len(div) == 1
    assert "training diverged" in str(div[0].message)
    assert history.stop_reason in str(div[0].message)
    assert _finite_everywhere(net, X)
    # mini-batches: within the first epoch; full batch (one step an epoch): within 15
    assert len(history) == 0 if batch_size else len(history) < 15


def test_a_spike_that_comes_back_is_not_divergence():
    """Adam at lr=10 on the spirals spikes a few thousandfold, comes back and kills
    its ReLUs: a bad run for the diagnosis to explain, not a divergence."""
    X, y = cr.datasets.spirals(n_samples=400, noise=0.1, seed=0)
    net = cr.Sequential(
        cr.Dense(2, 8, activation="relu"), cr.Dense(8, 8, activation="relu"), cr.Dense(8, 2), seed=0
    )
    steps = []

    class Record(cr.Callback):
        def on_batch_end(self, batch, logs=None):
            steps.append(logs["loss"])

    history, div = _fit_quiet(
        net,
        X[:200],
        y[:200],
        loss="cross_entropy",
        optimizer="adam",
        lr=10,
        epochs=20,
        batch_size=16,
        callbacks=[Record()],
    )
    assert not history.diverged and not div
    assert max(steps) > 1e3 * steps[0]  # the spike the 1e3 rule would have stopped
    assert steps[-1] < 10  # ... and it came back


HEALTHY = [
    ("adam", 1e-3, "cross_entropy", 32),
    ("adam", 1e-2, "mse", 16),
    ("adam", 0.1, "huber", None),
    ("adamw", 1e-2, "cross_entropy", 64),
    ("sgd", 0.1, "cross_entropy", 32),
    ("sgd", 0.01, "mse", 8),
    ("rmsprop", 1e-3, "mse", 32),
    ("rmsprop", 1e-2, "cross_entropy", None),
    ("adagrad", 0.1, "cross_entropy", 32),
    ("adagrad", 0.5, "mae", 32),
]


@pytest.mark.parametrize(("optimizer", "lr", "loss", "batch_size"), HEALTHY)
@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_runs_never_trip_the_guard(optimizer, lr, loss, batch_size, seed):
    X, y = _data(seed=seed)
    k = 2 if loss == "cross_entropy" else 1
    net = cr.Sequential(cr.Dense(4, 32, activation="tanh"), cr.Dense(32, k), seed=seed)
    target = y if loss == "cross_entropy" else 100 * (X[:, :1] - X[:, 1:2] ** 2)
    history, div = _fit_quiet(
        net, X, target, loss=loss, optimizer=optimizer, lr=lr, epochs=15, batch_size=batch_size
    )
    assert not history.diverged and not div
    assert history["loss"][-1] < history["loss"][0]


def test_warm_start_from_a_tiny_loss_is_not_an_explosion():
    """A second fit starting near zero loss may rise a thousandfold by noise; the
    floor of 1 in the rule keeps that from counting as divergence."""
    X, y = _data()
    target = (X @ np.array([1.0, -1.0, 0.5, 0.0])).astype(np.float32)
    net = cr.Sequential(cr.Dense(4, 1), seed=0)
    net.fit(X, target, loss="mse", optimizer="adam", lr=0.05, epochs=40)
    assert net.evaluate(X, target)["loss"] < 1e-4
    history, div = _fit_quiet(net, X, target + 0.03 * np.sign(X[:, 0]), lr=0.05, epochs=3)
    assert not history.diverged and not div


def test_the_last_step_of_an_epoch_is_checked():
    """Full-batch SGD at lr 1e30 for one epoch: one step, whose update makes the
    weights non-finite; no later loss would see it. The fit must say so and put
    back the weights it started from."""
    X, y = _data()
    net = cr.Sequential(cr.Dense(4, 8, activation="relu"), cr.Dense(8, 2), seed=0)
    start = net.get_weights()
    history, div = _fit_quiet(
        net, X, y, loss="cross_entropy", optimizer="sgd", lr=1e30, epochs=1, batch_size=None
    )
    assert history.diverged and div
    assert "last update of epoch 1" in history.stop_reason
    for a, b in zip(start, net.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(net.predict_proba(X)).all()


def test_restored_weights_that_fail_fall_back_to_those_before_fit():
    """If the weights at the start of the diverging epoch give inf outputs
    themselves, the weights from before the fit come back, and the user is told."""
    X, y = _data()
    net = cr.Sequential(cr.Dense(4, 8, activation="relu"), cr.Dense(8, 2), seed=0)
    before = net.get_weights()

    class Poison(cr.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:  # finite, but every output overflows float32
                self.net.layers[1].weight.value[...] = 3e38

    history, div = _fit_quiet(
        net, X, y, loss="cross_entropy", optimizer="sgd", lr=0.01, epochs=3, callbacks=[Poison()]
    )
    assert history.diverged and len(history) == 1
    assert "epoch 2, batch 1" in history.stop_reason
    assert "weights from before this fit call were restored" in history.stop_reason
    for a, b in zip(before, net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_hinge_with_infinite_outputs_but_a_finite_loss_is_divergence():
    """Hinge stays finite (0) on +inf margins: outputs must be checked too."""
    X, y = _data()
    net = cr.Sequential(cr.Dense(4, 1), seed=0)
    w = net.layers[0].weight.value
    w[...] = 0
    w[0, 0] = 3e38  # outputs of rows with x0 > 1 overflow to +-inf

    history, div = _fit_quiet(
        net, X, np.where(X[:, 0] > 0, 1, -1), loss="hinge", optimizer="sgd", lr=0.0, epochs=1
    )
    assert history.diverged
    assert "outputs became NaN or inf" in history.stop_reason


# =============================================================================
# Unchecked values: optimizer hyperparameters after construction, losses
# =============================================================================
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        (float("nan"), ValueError, "lr must be >= 0, got nan"),
        (-1, ValueError, "lr must be >= 0, got -1.0"),
        (float("inf"), ValueError, "lr must be >= 0, got inf"),
        ("x", TypeError, "lr must be a number, got 'x'"),
        (None, TypeError, "lr must be a number, got None"),
        (True, TypeError, "lr must be a number, got True"),
    ],
)
def test_learning_rate_is_checked_after_construction(name, value, error, fragment):
    opt = getattr(cr, name)([cr.Parameter(np.ones(3, dtype=np.float32))], lr=0.1)
    with pytest.raises(error) as info:
        opt.lr = value
    assert fragment in str(info.value)
    assert opt.lr == 0.1  # unchanged
    opt.lr = np.float32(0.25)  # a NumPy number is fine, and stored as a float
    assert opt.lr == 0.25 and type(opt.lr) is float
    assert opt.state_dict()["lr"] == 0.25


def test_fit_with_a_bad_lr_on_an_optimizer_object_fails_before_training():
    X, y = _data()
    net = cr.Sequential(cr.Dense(4, 2), seed=0)
    opt = cr.Adam(net.parameters(), lr=0.01)
    before = net.get_weights()
    with pytest.raises(ValueError, match="lr must be >= 0, got nan"):
        net.fit(X, y, loss="cross_entropy", optimizer=opt, lr=float("nan"))
    for a, b in zip(before, net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_schedules_still_set_the_rate():
    opt = cr.SGD([cr.Parameter(np.ones(2))], lr=1.0)
    sched = cr.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    sched.step()
    assert opt.lr == 0.25


@pytest.mark.parametrize("loss", [cr.MSE(), cr.MAE(), cr.Huber(), cr.BinaryCrossEntropy()])
def test_a_loss_on_an_empty_batch_is_a_value_error(loss):
    with pytest.raises(ValueError, match="the batch is empty"):
        loss.forward(np.zeros((0, 1), np.float32), np.zeros(0))


@pytest.mark.parametrize("loss", [cr.CrossEntropy(), cr.Hinge()])
def test_a_classification_loss_on_an_empty_batch_is_a_value_error(loss):
    with pytest.raises(ValueError, match="the batch is empty"):
        loss.forward(np.zeros((0, 3), np.float32), np.zeros(0, dtype=np.int64))


def _multi_margin(z, labels):
    """PyTorch's MultiMarginLoss (p=1, margin=1), written out from its formula."""
    n, k = z.shape
    total = 0.0
    for i in range(n):
        c = labels[i]
        total += sum(max(0.0, 1 - z[i, c] + z[i, j]) for j in range(k) if j != c) / k
    return total / n


def test_hinge_takes_one_hot_rows_as_their_labels():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3))
    labels = np.array([0, 2, 1, 1, 0, 2])
    onehot = np.eye(3)[labels]
    h = cr.Hinge()
    value = h.forward(z, onehot)
    assert value == pytest.approx(_multi_margin(z, labels), rel=1e-12)
    grad = h.backward()
    h.forward(z, labels)
    np.testing.assert_array_equal(grad, h.backward())
    # and fit accepts them too, training the same network as labels do
    X, y = _data(60)
    a = cr.Sequential(cr.Dense(4, 3), seed=0)
    b = cr.Sequential(cr.Dense(4, 3), seed=0)
    a.fit(X, y, loss="hinge", epochs=2)
    b.fit(X, np.eye(3)[y], loss="hinge", epochs=2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize(
    ("loss", "pred", "y", "fragment"),
    [
        (cr.Hinge(), np.zeros((4, 3)), np.array([0, 1]), "4 rows of predictions"),
        (cr.Hinge(), np.zeros((4, 3)), np.array([0]), "4 rows of predictions"),
        (cr.Hinge(), np.zeros((4, 3)), np.full((4, 3), 1 / 3), "not one-hot"),
        (cr.Hinge(), np.zeros((4, 3)), np.array([0, 1, 2, -1]), "-1"),
        (cr.CrossEntropy(), np.zeros((4, 3)), np.array([0, 1, 2]), "4 rows of predictions"),
        (cr.CrossEntropy(), np.zeros((4, 3)), np.array([0, 1, 2, -1]), "-1"),
        (cr.CrossEntropy(), np.zeros((4, 3)), np.array([0, 1, 2, 3]), "0..2"),
        (cr.CrossEntropy(), np.zeros(4), np.array([0, 1, 2, 3]), "2-D predictions"),
        (cr.MSE(), np.zeros((4, 1)), np.zeros(3), "do not match"),
        (cr.MAE(), np.zeros((4, 2)), np.zeros((4, 1)), "do not match"),
        (cr.Huber(), np.zeros((4, 1)), np.zeros(5), "do not match"),
        (cr.BinaryCrossEntropy(), np.zeros((4, 1)), np.zeros(1), "do not match"),
    ],
)
def test_mismatched_targets_are_clear_errors(loss, pred, y, fragment):
    with pytest.raises(ValueError) as info:
        loss.forward(pred, y)
    assert fragment in str(info.value)


@pytest.mark.parametrize("loss", [cr.MSE(), cr.MAE(), cr.Huber(delta=0.5)])
@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.float64, np.bool_])
def test_regression_gradients_keep_the_prediction_dtype(loss, target_dtype):
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(8, 1)).astype(np.float32)
    y = rng.integers(0, 2, size=8).astype(target_dtype)
    value = loss.forward(pred, y)
    grad = loss.backward()
    assert grad.dtype == np.float32 and grad.shape == pred.shape
    d = pred[:, 0].astype(np.float64) - y.astype(np.float64)  # reference in float64
    if loss.name == "mse":
        ref, ref_grad = np.mean(d**2), 2 * d / 8
    elif loss.name == "mae":
        ref, ref_grad = np.mean(np.abs(d)), np.sign(d) / 8
    else:
        a = np.abs(d)
        ref = np.mean(np.where(a <= 0.5, 0.5 * d**2, 0.5 * (a - 0.25)))
        ref_grad = np.clip(d, -0.5, 0.5) / 8
    assert value == pytest.approx(ref, rel=1e-6)
    np.testing.assert_allclose(grad[:, 0], ref_grad, rtol=1e-6, atol=1e-8)


# =============================================================================
# Item 7: validation_split gathers from index sets, never copies the data
# =============================================================================
def test_validation_split_does_not_copy_the_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 256)).astype(np.float32)  # 51.2 MB
    y = (X[:, 0] > 0).astype(np.int64)
    net = cr.Sequential(cr.Dense(256, 2), seed=0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        net.fit(X, y, loss="cross_entropy", epochs=1, batch_size=1024, validation_split=0.2)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # the old X[perm] copies alone were 51 MB; batches, index vectors and the
    # validation chunks of 4096 rows (4 MB) are what remains
    assert peak < X.nbytes / 5, f"peak {peak / 1e6:.1f} MB on {X.nbytes / 1e6:.1f} MB of data"


@pytest.mark.parametrize("shuffle", [False, True])
def test_validation_split_trains_as_the_copied_split_did(shuffle):
    """With shuffle=False the batches of the index-set split are exactly those of
    fitting the copied rows X[perm[n_val:]] with validation_data=X[perm[:n_val]]."""
    X, y = _data(203)
    sw = np.random.default_rng(3).uniform(0.5, 2, size=len(X))
    a = cr.Sequential(cr.Dense(4, 6, activation="tanh"), cr.Dense(6, 2), seed=0)
    b = cr.Sequential(cr.Dense(4, 6, activation="tanh"), cr.Dense(6, 2), seed=0)
    ha = a.fit(
        X,
        y,
        loss="cross_entropy",
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        seed=5,
        shuffle=shuffle,
        metrics=["accuracy"],
        sample_weight=sw,
    )
    perm = np.random.default_rng(5).permutation(len(X))
    n_val = int(round(len(X) * 0.25))
    val, tr = perm[:n_val], perm[n_val:]
    if shuffle:
        b._shuffle_state = None
        rng = np.random.default_rng(5)
        rng.permutation(len(X))  # the draw that chose the split
        b._shuffle_state = (rng, np.arange(len(tr)))
    hb = b.fit(
        X[tr],
        y[tr],
        loss="cross_entropy",
        epochs=3,
        batch_size=16,
        validation_data=(X[val], y[val]),
        seed=None if shuffle else 5,
        shuffle=shuffle,
        metrics=["accuracy"],
        sample_weight=sw[tr],
    )
    assert ha.history == hb.history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_a_new_split_never_reuses_an_old_order():
    """Fitting again with another split must not shuffle with the old index set."""
    X, y = _data(100)
    net = cr.Sequential(cr.Dense(4, 2))  # no seed: a new split each call
    net.fit(X, y, loss="cross_entropy", epochs=1, validation_split=0.3)
    order = net._shuffle_state[1]
    assert sorted(order.tolist()) == list(range(70))  # positions among the 70 training rows
    net.fit(X, y, epochs=1, validation_split=0.5)
    assert sorted(net._shuffle_state[1].tolist()) == list(range(50))


@pytest.mark.parametrize(
    ("name", "attribute", "value", "error", "fragment"),
    [
        ("SGD", "momentum", float("nan"), ValueError, "momentum must be >= 0, got nan"),
        ("SGD", "nesterov", 1, TypeError, "nesterov must be True or False"),
        ("SGD", "dampening", 2.0, ValueError, "dampening must be in [0, 1]"),
        ("Adam", "beta1", 1.0, ValueError, "betas[0] must be in [0, 1)"),
        ("Adam", "eps", "x", TypeError, "eps must be a number"),
        ("AdamW", "weight_decay", None, TypeError, "weight_decay must be a number"),
        ("RMSprop", "alpha", -1, ValueError, "alpha must be in [0, 1]"),
        ("Adagrad", "lr_decay", float("inf"), ValueError, "lr_decay must be >= 0, got inf"),
    ],
)
def test_every_hyperparameter_is_checked_after_construction(
    name, attribute, value, error, fragment
):
    opt = getattr(cr, name)([cr.Parameter(np.ones(3))], lr=0.1)
    before = opt.hyperparameters()
    with pytest.raises(error) as info:
        setattr(opt, attribute, value)
    assert fragment in str(info.value)
    assert opt.hyperparameters() == before


def test_hyperparameters_checked_together_after_construction():
    opt = cr.SGD([cr.Parameter(np.ones(3))], lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        opt.momentum = 0.0
    assert opt.momentum == 0.9
    opt.momentum = 0.5  # a valid change goes through
    assert opt.hyperparameters()["momentum"] == 0.5
    # loading a state that turns nesterov off and momentum to 0 is not refused half-way
    plain = cr.SGD([cr.Parameter(np.ones(3))], lr=0.1).state_dict()
    opt.load_state_dict(plain)
    assert opt.momentum == 0.0 and opt.nesterov is False

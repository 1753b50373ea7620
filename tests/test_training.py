"""The fit loop: it learns, it is reproducible, it explains bad input and divergence."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.training import DivergenceWarning

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def _small_classifier(seed=0, dtype=np.float32):
    return cr.Sequential(cr.Dense(4, 8, activation="tanh"), cr.Dense(8, 3), seed=seed, dtype=dtype)


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=float)
    y = rng.integers(0, 3, n)
    X = centers[y] + 0.5 * rng.normal(size=(n, 4))
    return X, y


# -- it learns ---------------------------------------------------------------------
def test_xor_with_2_4_1_tanh_net_reaches_loss_below_001():
    net = cr.Sequential(
        cr.Dense(2, 4, activation="tanh"),
        cr.Dense(4, 1, activation="tanh"),
        seed=1,
        dtype=np.float64,
    )
    history = net.fit(XOR_X, XOR_Y, loss="mse", optimizer="adam", lr=0.05, epochs=500, batch_size=4)
    assert history["loss"][-1] < 0.01
    final = cr.MSE().forward(net(XOR_X), XOR_Y)  # recomputed independently of the history
    assert final < 0.01
    assert np.array_equal(net(XOR_X)[:, 0] > 0.5, XOR_Y > 0.5)


@pytest.mark.slow
def test_digits_64_128_10_relu_adam_reaches_97_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    net = cr.Sequential(cr.Dense(64, 128, activation="relu"), cr.Dense(128, 10), seed=0)
    net.fit(
        X_train, y_train, loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=50, batch_size=32
    )
    accuracy = np.mean(net.predict(X_test) == y_test)
    assert accuracy >= 0.97, accuracy


def test_sin_1_16_16_1_fits_to_mse_below_1e_3():
    x = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    y = np.sin(x)
    net = cr.Sequential(
        cr.Dense(1, 16, activation="tanh"),
        cr.Dense(16, 16, activation="tanh"),
        cr.Dense(16, 1),
        seed=0,
        dtype=np.float64,
    )
    net.fit(x, y, loss="mse", optimizer="adam", lr=0.005, epochs=800, batch_size=32)
    mse = float(np.mean((net.predict(x) - y[:, 0]) ** 2))
    assert mse < 1e-3, mse


def test_full_batch_gradient_descent_matches_manual_loop():
    X, y = _blobs(30)
    a, b = _small_classifier(dtype=np.float64), _small_classifier(dtype=np.float64)
    a.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.5,
        epochs=5,
        batch_size=None,
        shuffle=False,
    )
    loss = cr.CrossEntropy()
    for _ in range(5):  # plain gradient descent written out by hand
        loss.forward(b(X), y)
        b.backward(loss.backward())
        for p in b.parameters():
            p.value -= 0.5 * p.grad
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.value, pb.value, rtol=1e-12, atol=1e-14)


# -- reproducible -------------------------------------------------------------------
def test_same_seed_gives_identical_weights_and_history():
    X, y = _blobs()
    runs = []
    for _ in range(2):
        net = cr.Sequential(
            cr.Dense(4, 16, activation="relu"), cr.Dropout(0.2), cr.Dense(16, 3), seed=42
        )
        h = net.fit(
            X,
            y,
            loss="cross_entropy",
            epochs=4,
            batch_size=8,
            validation_split=0.2,
            metrics=["accuracy"],
        )
        runs.append((net, h))
    (n1, h1), (n2, h2) = runs
    assert h1.history == h2.history
    for p1, p2 in zip(n1.parameters(), n2.parameters()):
        assert np.array_equal(p1.value, p2.value)
    other = cr.Sequential(
        cr.Dense(4, 16, activation="relu"), cr.Dropout(0.2), cr.Dense(16, 3), seed=43
    )
    assert not np.array_equal(other[0].weight.value, n1[0].weight.value)


# -- history, metrics, validation -------------------------------------------------------
def test_history_records_validation_metrics_that_match_evaluate():
    X, y = _blobs(90)
    Xv, yv = _blobs(30, seed=1)
    net = _small_classifier()
    h = net.fit(
        X, y, loss="cross_entropy", epochs=3, validation_data=(Xv, yv), metrics=["accuracy"]
    )
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(h) == 3 and h.epoch == [0, 1, 2]
    result = net.evaluate(Xv, yv)
    assert result["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-6)
    assert result["accuracy"] == pytest.approx(np.mean(net.predict(Xv) == yv))


def test_metrics_agree_with_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert cr.metrics.accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    assert cr.metrics.precision(t, p) == pytest.approx(skm.precision_score(t, p, average="macro"))
    assert cr.metrics.recall(t, p) == pytest.approx(skm.recall_score(t, p, average="macro"))
    assert cr.metrics.f1(t, p) == pytest.approx(skm.f1_score(t, p, average="macro"))
    tb, pb = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    assert cr.metrics.f1(tb, pb) == pytest.approx(skm.f1_score(tb, pb))
    assert cr.metrics.precision(tb, pb) == pytest.approx(skm.precision_score(tb, pb))
    yt, yp = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    assert cr.metrics.r2(yt, yp) == pytest.approx(skm.r2_score(yt, yp))
    assert cr.metrics.mse(yt, yp) == pytest.approx(skm.mean_squared_error(yt, yp))
    assert cr.metrics.mae(yt, yp) == pytest.approx(skm.mean_absolute_error(yt, yp))


def test_predict_and_predict_proba_answer_the_task():
    X, y = _blobs()
    net = _small_classifier()
    net.fit(X, y, loss="cross_entropy", epochs=20, lr=0.01)
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(net.predict(X), proba.argmax(axis=1))
    binary = cr.Sequential(cr.Dense(4, 1), seed=0)
    binary.fit(X, (y == 0).astype(float), loss="binary_cross_entropy", epochs=2)
    p1 = binary.predict_proba(X)
    np.testing.assert_allclose(p1, 1 / (1 + np.exp(-binary(X).astype(np.float64))), rtol=1e-5)
    assert set(np.unique(binary.predict(X))) <= {0, 1}
    reg = cr.Sequential(cr.Dense(4, 1), seed=0)
    reg.fit(X, y.astype(float), loss="mse", epochs=1)
    assert reg.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="predict_proba needs a network trained with"):
        reg.predict_proba(X)


def test_predict_does_not_change_training_mode_and_is_deterministic_with_dropout():
    net = cr.Sequential(
        cr.Dense(4, 32, activation="relu"), cr.Dropout(0.5), cr.Dense(32, 3), seed=0
    )
    X, _ = _blobs()
    assert net.training
    assert np.array_equal(net.predict(X), net.predict(X))
    assert net.training


# -- callbacks ----------------------------------------------------------------------
def test_early_stopping_stops_and_restores_best_weights():
    X, y = _blobs(60)
    Xv, _ = _blobs(30, seed=5)
    yv = np.random.default_rng(7).integers(0, 3, 30)  # labels unrelated to X: val_loss must rise
    net = _small_classifier()
    seen = []

    class Record(cr.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(([p.value.copy() for p in self.net.parameters()], logs["val_loss"]))

    stop = cr.EarlyStopping(monitor="val_loss", patience=2)
    h = net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.5,
        epochs=100,
        validation_data=(Xv, yv),
        callbacks=[Record(), stop],
    )
    assert len(h) < 100 and stop.stopped_epoch == len(h) - 1
    best = int(np.argmin(h["val_loss"]))
    assert stop.best_epoch == best
    for p, v in zip(net.parameters(), seen[best][0]):
        assert np.array_equal(p.value, v)


def test_early_stopping_names_missing_monitor():
    X, y = _blobs()
    with pytest.raises(ValueError, match="monitors 'val_loss' but this fit logs only"):
        _small_classifier().fit(
            X, y, loss="cross_entropy", epochs=2, callbacks=[cr.EarlyStopping()]
        )


# -- divergence ----------------------------------------------------------------------
def test_nan_loss_stops_with_a_warning_and_keeps_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 1e3
    y = rng.normal(size=64) * 1e3
    net = cr.Sequential(cr.Dense(4, 32, activation="relu"), cr.Dense(32, 1), seed=0)
    with pytest.warns(DivergenceWarning, match="Lower the learning rate"):
        h = net.fit(X, y, loss="mse", optimizer="sgd", lr=10.0, epochs=50, batch_size=8)
    assert h.diverged and len(h) < 50
    for p in net.parameters():
        assert np.isfinite(p.value).all()
    assert np.isfinite(cr.MSE().forward(net(X), y))


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (
            np.zeros((5, 3)),
            np.zeros(5),
            ValueError,
            "X has 3 features but the first layer expects 4",
        ),
        (np.zeros(4), np.zeros(1), ValueError, "X is 1-D with shape"),
        (np.zeros((5, 4, 1)), np.zeros(5), ValueError, "X has 3 dimensions"),
        (np.zeros((5, 4)), np.zeros(6), ValueError, "X has 5 samples but y has 6"),
        (np.zeros((5, 4)), np.array([0, 1, 2, 3, 1]), ValueError, "class labels must be in 0..2"),
        (np.zeros((5, 4)), np.array([0, 1, -1, 0, 1]), ValueError, "class labels must be in 0..2"),
        (np.zeros((5, 4)), np.array([0, 1, 0.5, 0, 1]), ValueError, "non-integer labels"),
        (np.array([[0, 0, np.nan, 0]] * 5), np.zeros(5), ValueError, "X contains NaN or inf"),
        (np.zeros((5, 4)), np.array([0, 1, np.inf, 0, 1]), ValueError, "y contains NaN or inf"),
        (np.zeros((0, 4)), np.zeros(0), ValueError, "X is empty"),
        (np.array([["a", "b", "c", "d"]]), np.zeros(1), TypeError, "X must hold numbers"),
    ],
)
def test_bad_input_raises_specific_errors(X, y, error, message):
    net = _small_classifier()
    with pytest.raises(error, match=message):
        net.fit(X, y, loss="cross_entropy", epochs=1)


def test_bad_names_list_valid_choices():
    X, y = _blobs()
    net = _small_classifier()
    with pytest.raises(
        ValueError, match=r"unknown loss 'crossent'; valid names are: .*cross_entropy"
    ):
        net.fit(X, y, loss="crossent")
    with pytest.raises(ValueError, match=r"unknown optimizer .*adam"):
        net.fit(X, y, loss="cross_entropy", optimizer="adamm")
    with pytest.raises(ValueError, match=r"unknown activation 'rellu'; valid names are: .*relu"):
        cr.Dense(2, 2, activation="rellu")
    with pytest.raises(ValueError, match="fit needs a loss"):
        net.fit(X, y)


def test_bad_fit_arguments():
    X, y = _blobs()
    net = _small_classifier()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        net.fit(X, y, loss="cross_entropy", batch_size=0)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        net.fit(X, y, loss="cross_entropy", epochs=-1)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        net.fit(X, y, loss="cross_entropy", validation_split=1.5)


def test_step_activation_refuses_gradient_training():
    net = cr.Sequential(cr.Dense(2, 1, activation="step"), seed=0)
    with pytest.raises(ValueError, match="cannot be trained by gradient descent.*Perceptron"):
        net.fit(XOR_X, XOR_Y, loss="mse")


def test_fit_continues_from_a_trained_network():
    X, y = _blobs()
    net = _small_classifier()
    h1 = net.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=3)
    h2 = net.fit(X, y, epochs=3)  # loss reused, weights kept: training goes on, not over
    assert h2["loss"][0] < h1["loss"][0]


# -- sample weights and the L2 penalty --------------------------------------------------
def _regression_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)


def _full_batch_fit(X, y, epochs=5, **kw):
    net = cr.Sequential(cr.Dense(3, 5, activation="tanh"), cr.Dense(5, 1), seed=3, dtype=np.float64)
    history = net.fit(
        X, y, loss="mse", optimizer="sgd", lr=0.05, epochs=epochs, batch_size=None,
        shuffle=False, **kw,
    )  # fmt: skip
    return net, history


def test_sample_weight_two_equals_a_duplicated_row():
    X, y = _regression_data()
    w = np.ones(len(X))
    w[4] = 2.0
    rows = np.r_[np.arange(len(X)), 4]
    a, ha = _full_batch_fit(X, y, sample_weight=w, l2=0.3)
    b, hb = _full_batch_fit(X[rows], y[rows], l2=0.3)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
    for p, q in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_zero_weights_equal_removed_rows():
    X, y = _regression_data()
    w = np.ones(len(X))
    w[[1, 7]] = 0.0
    keep = w > 0
    a, ha = _full_batch_fit(X, y, sample_weight=w)
    b, hb = _full_batch_fit(X[keep], y[keep])
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
    for p, q in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_a_batch_of_zero_weights_makes_no_step():
    X, y = _regression_data(n=8)
    net = cr.Sequential(cr.Dense(3, 1), seed=0, dtype=np.float64)
    before = net.get_weights()
    net.fit(X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=1, batch_size=4, shuffle=False,
            sample_weight=np.r_[np.zeros(4), np.ones(4)])  # fmt: skip
    after_first_only = cr.Sequential(cr.Dense(3, 1), seed=0, dtype=np.float64)
    after_first_only.fit(X[4:], y[4:], loss="mse", optimizer="sgd", lr=0.1, epochs=1,
                         batch_size=4, shuffle=False)  # fmt: skip
    assert not np.array_equal(net.get_weights()[0], before[0])
    for p, q in zip(net.get_weights(), after_first_only.get_weights(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_l2_gradient_matches_finite_differences_of_the_penalised_loss():
    X, y = _regression_data(n=10)
    w = np.linspace(0.5, 2.0, len(X))
    l2, lr = 0.7, 1e-3

    def penalised_loss(net):
        rows = cr.MSE().row_losses(net(X), y)
        squares = sum(float(np.sum(layer.weight.value**2)) for layer in net.layers
                      if isinstance(layer, cr.Dense))  # fmt: skip
        return float(w @ rows) / w.sum() + l2 * squares / (2 * w.sum())

    net, _ = _full_batch_fit(X, y, epochs=0)
    start = [p.value.copy() for p in net.parameters()]
    numeric = []
    eps = 1e-6
    for p in net.parameters():
        g = np.zeros_like(p.value)
        for i in np.ndindex(p.value.shape):
            old = p.value[i]
            p.value[i] = old + eps
            up = penalised_loss(net)
            p.value[i] = old - eps
            down = penalised_loss(net)
            p.value[i] = old
            g[i] = (up - down) / (2 * eps)
        numeric.append(g)
    # one plain SGD step moves each parameter by -lr * gradient
    net.fit(X, y, loss="mse", optimizer="sgd", lr=lr, epochs=1, batch_size=None, shuffle=False,
            sample_weight=w, l2=l2)  # fmt: skip
    for p, p0, g in zip(net.parameters(), start, numeric, strict=True):
        np.testing.assert_allclose((p0 - p.value) / lr, g, rtol=1e-6, atol=1e-8)


def test_logged_loss_includes_the_l2_term():
    X, y = _regression_data()
    net, _ = _full_batch_fit(X, y, epochs=0)
    squares = sum(float(np.sum(layer.weight.value**2)) for layer in net.layers
                  if isinstance(layer, cr.Dense))  # fmt: skip
    expected = cr.MSE().forward(net(X), y) + 0.5 * squares / (2 * len(X))
    history = net.fit(X, y, loss="mse", optimizer="sgd", lr=1e-300, epochs=1, batch_size=None,
                      l2=0.5)  # fmt: skip
    assert history["loss"][0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "sample_weight, fragment",
    [
        (np.ones(5), r"sample_weight has shape \(5,\) but X has 12 rows"),
        (np.ones((12, 1)), r"sample_weight has shape \(12, 1\)"),
        (np.r_[np.ones(11), -1.0], "sample_weight must be non-negative; row 11 has -1.0"),
        (np.r_[np.ones(11), np.nan], "sample_weight contains NaN or inf"),
        (np.r_[np.ones(11), np.inf], "sample_weight contains NaN or inf"),
        (np.zeros(12), "sample_weight is zero for every row"),
        (["a"] * 12, "sample_weight must hold numbers"),
    ],
)
def test_bad_sample_weight_is_rejected(sample_weight, fragment):
    X, y = _regression_data()
    net = cr.Sequential(cr.Dense(3, 1), seed=0)
    with pytest.raises(ValueError, match=fragment):
        net.fit(X, y, loss="mse", epochs=1, sample_weight=sample_weight)


def test_bad_l2_is_rejected():
    X, y = _regression_data()
    net = cr.Sequential(cr.Dense(3, 1), seed=0)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match=r"l2 must be >= 0, got (-1.0|nan); the L2 penalty"):
            net.fit(X, y, loss="mse", epochs=1, l2=bad)


def test_sample_weight_is_split_with_the_rows():
    X, y = _regression_data(n=20)
    w = np.r_[np.zeros(10), np.ones(10)]
    net = cr.Sequential(cr.Dense(3, 1), seed=0, dtype=np.float64)
    history = net.fit(X, y, loss="mse", optimizer="sgd", lr=0.01, epochs=2, batch_size=None,
                      validation_split=0.25, sample_weight=w, seed=1)  # fmt: skip
    assert len(history["val_loss"]) == 2 and np.isfinite(history["loss"]).all()


def test_batchnorm_never_gets_a_one_row_batch():
    X, y = _regression_data(n=9)
    net = cr.Sequential(cr.Dense(3, 4), cr.BatchNorm(4), cr.Dense(4, 1), seed=0)
    history = net.fit(X, y, loss="mse", epochs=2, batch_size=4)  # 4 + 5 rows, not 4 + 4 + 1
    assert len(history) == 2


def test_fitting_again_goes_on_to_new_batch_orders():
    """Two fit calls of one epoch are one fit of two epochs, batch for batch."""
    X, y = cr.datasets.spirals(200, seed=1)

    def make():
        net = cr.Sequential(cr.Dense(2, 16, activation="tanh"), cr.Dense(16, 3), seed=7)
        return net, cr.SGD(net.parameters(), lr=0.1, momentum=0.9)

    once, opt_once = make()
    once.fit(X, y, loss="cross_entropy", optimizer=opt_once, epochs=2, batch_size=16)
    twice, opt_twice = make()
    for _ in range(2):
        twice.fit(X, y, loss="cross_entropy", optimizer=opt_twice, epochs=1, batch_size=16)
    for a, b in zip(once.get_weights(), twice.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # a seed given to fit starts the shuffling afresh: the same seed, the same batches
    first, opt_first = make()
    first.fit(X, y, loss="cross_entropy", optimizer=opt_first, epochs=1, batch_size=16, seed=3)
    snapshot = first.get_weights()
    again, opt_again = make()
    again.fit(X, y, loss="cross_entropy", optimizer=opt_again, epochs=1, batch_size=16, seed=3)
    for a, b in zip(snapshot, again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # re-seeding the network forgets the shuffling too: it trains as a new network
    twice.reset_parameters(7)
    fresh, opt_fresh = make()
    twice.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=1, batch_size=16)
    fresh.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=1, batch_size=16)
    for a, b in zip(fresh.get_weights(), twice.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cr_fit_is_the_function_behind_net_fit():
    """DESIGN names ``cr.fit``: the same training as ``net.fit``, weight for weight."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)

    def net():
        return cr.Sequential(cr.Dense(3, 4, activation="tanh"), cr.Dense(4, 2), seed=1)

    a, b = net(), net()
    a.fit(X, y, loss="cross_entropy", epochs=3, batch_size=16, verbose=0)
    cr.fit(b, X, y, loss="cross_entropy", epochs=3, batch_size=16, verbose=0)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert not np.array_equal(a.parameters()[0].value, net().parameters()[0].value)

"""Issue 14's guarantees on graph networks (issue 15): validation_split by index
sets, divergence judged on every output, non-finite inputs and outputs refused
with the input or output named."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, 4)).astype(np.float32)
    B = rng.normal(size=(n, 3)).astype(np.float32)
    C = rng.integers(0, 6, size=n)
    labels = (A[:, 0] + B[:, 0] > 0).astype(np.int64)
    values = (A[:, 1] - 2 * B[:, 1] + 0.1 * C).astype(np.float32)
    return A, B, C, labels, values


def _two_in_two_out(seed=0):
    """Two numeric inputs, an embedded code, a shared layer, two outputs."""
    a, b, c = cr.Input(4, name="a"), cr.Input(3, name="b"), cr.Input(1, name="code")
    z = cr.Concatenate()(a, b, cr.Embedding(6, 2)(c))
    shared = cr.Dense(9, 9, activation="tanh")
    t = shared(shared(z))
    y1 = cr.Dense(9, 2)(t, name="cls")
    y2 = cr.Dense(9, 1)(t, name="reg")
    return cr.Network(inputs=[a, b, c], outputs=[y1, y2], seed=seed)


def _fit_quiet(net, X, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, **kw)
    return history, [w for w in caught if issubclass(w.category, cr.DivergenceWarning)]


# -- (a) validation_split gathers from index sets --------------------------------------
def test_graph_validation_split_does_not_copy_the_inputs():
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(25_000, 256)).astype(np.float32)  # 25.6 MB
    X2 = rng.normal(size=(25_000, 256)).astype(np.float32)  # 25.6 MB
    y = (X1[:, 0] > X2[:, 0]).astype(np.int64)
    a, b = cr.Input(256, name="a"), cr.Input(256, name="b")
    net = cr.Network(inputs=[a, b], outputs=cr.Dense(256, 2)(cr.Add()(a, b)), seed=0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        net.fit([X1, X2], y, loss="cross_entropy", epochs=1, batch_size=1024, validation_split=0.2)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    data = X1.nbytes + X2.nbytes
    # copying X[perm] of both inputs was 59 MB at peak; what remains (16 MB) is the
    # validation chunk of 4096 rows: both inputs gathered, the Add and the output
    assert peak < 0.4 * data, f"peak {peak / 1e6:.1f} MB on {data / 1e6:.1f} MB of data"


def test_graph_validation_split_trains_as_the_copied_split_did():
    """shuffle=False: the index-set split gives exactly the history and weights of
    fitting the copied training rows with the copied validation rows."""
    A, B, C, labels, values = _data(203)
    sw = np.random.default_rng(3).uniform(0.5, 2, size=len(A))
    kw = dict(
        loss=["cross_entropy", "mse"],
        loss_weights=[1.0, 0.5],
        epochs=3,
        batch_size=16,
        shuffle=False,
        metrics=["accuracy", "mae"],
    )
    one, two = _two_in_two_out(), _two_in_two_out()
    ha = one.fit([A, B, C], [labels, values], validation_split=0.25, seed=5, sample_weight=sw, **kw)
    perm = np.random.default_rng(5).permutation(len(A))
    n_val = int(round(len(A) * 0.25))
    val, tr = perm[:n_val], perm[n_val:]
    hb = two.fit(
        {"a": A[tr], "b": B[tr], "code": C[tr]},
        [labels[tr], values[tr]],
        validation_data=([A[val], B[val], C[val]], [labels[val], values[val]]),
        seed=5,
        sample_weight=sw[tr],
        **kw,
    )
    assert set(ha.history) >= {"val_loss", "val_cls_accuracy", "val_reg_mae", "cls_accuracy"}
    assert ha.history == hb.history
    for wa, wb in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_array_equal(wa, wb)


# -- (b) the divergence guard looks at every output ------------------------------------
def _hinge_graph():
    a, b = cr.Input(4, name="a"), cr.Input(3, name="b")
    dense = cr.Dense(7, 1)
    net = cr.Network(inputs=[a, b], outputs=dense(cr.Concatenate()(a, b)), seed=0)
    dense.weight.value[...] = 0
    dense.weight.value[0, 0] = 3e38  # outputs of rows with |a0| > 1 overflow to +-inf
    return net


def test_graph_infinite_outputs_with_a_finite_loss_are_divergence():
    """Hinge is 0 on +inf margins (the label agrees with the sign): the loss alone
    would never see it."""
    A, B, *_ = _data()
    net = _hinge_graph()
    y = np.where(A[:, 0] > 0, 1, -1)
    history, div = _fit_quiet(net, [A, B], y, loss="hinge", optimizer="sgd", lr=0.0, epochs=1)
    assert history.diverged and len(div) == 1
    assert "outputs became NaN or inf at epoch 1, batch 1" in history.stop_reason


def test_graph_restored_weights_are_checked_on_the_outputs():
    """The weights at the start of the diverging epoch are finite but give inf
    outputs: the weights from before fit must come back (a check of the weights
    alone would accept them)."""
    A, B, C, labels, values = _data()
    net = _two_in_two_out()
    before = net.get_weights()

    class Poison(cr.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:  # finite, but the outputs overflow float32
                self.net.outputs[1].layer.weight.value[...] = 3e38

    history, div = _fit_quiet(
        net,
        [A, B, C],
        [labels, values],
        loss=["cross_entropy", "mse"],
        optimizer="sgd",
        lr=0.01,
        epochs=3,
        callbacks=[Poison()],
    )
    assert history.diverged and len(history) == 1 and len(div) == 1
    assert "epoch 2, batch 1" in history.stop_reason
    assert "weights from before this fit call were restored" in history.stop_reason
    for w0, w1 in zip(before, net.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_graph_last_update_of_an_epoch_is_checked_on_the_outputs():
    """The last update of the epoch leaves finite weights whose outputs overflow:
    only the end-of-epoch check, run on the outputs, can see it."""
    A, B, C, labels, values = _data()
    net = _two_in_two_out()
    before = net.get_weights()

    class Poison(cr.Callback):
        def on_batch_end(self, batch, logs=None):  # after the update of the only batch
            self.net.outputs[1].layer.weight.value[...] = 3e38

    history, div = _fit_quiet(
        net,
        {"a": A, "b": B, "code": C},
        [labels, values],
        loss=["cross_entropy", "mse"],
        optimizer="sgd",
        lr=0.0,
        epochs=2,
        batch_size=None,
        callbacks=[Poison()],
    )
    assert history.diverged and len(div) == 1 and len(history) == 0
    assert history.stop_reason.startswith(
        "the last update of epoch 1 made the weights or the outputs NaN or inf; the weights "
        "were restored to those at the start of that epoch"
    )
    for w0, w1 in zip(before, net.get_weights()):  # lr 0: the start of the epoch = before
        np.testing.assert_array_equal(w0, w1)


# -- (c) non-finite inputs and outputs are refused, named -----------------------------
def _fitted():
    A, B, C, labels, values = _data()
    net = _two_in_two_out()
    net.fit([A, B, C], [labels, values], loss=["cross_entropy", "mse"], epochs=1)
    return net, A, B, C, labels, values


ENTRY = {
    "predict": lambda net, X, y: net.predict(X),
    "predict_proba": lambda net, X, y: net.predict_proba(X),
    "predict batched": lambda net, X, y: net.predict(X, batch_size=7),
    "evaluate": lambda net, X, y: net.evaluate(X, y),
    "net(X)": lambda net, X, y: net(X),
    "fit": lambda net, X, y: net.fit(X, y, epochs=1),
}


@pytest.mark.parametrize("entry", list(ENTRY))
@pytest.mark.parametrize("form", ["list", "dict"])
@pytest.mark.parametrize(
    ("which", "bad", "message"),
    [
        ("a", np.nan, "input 'a' contains NaN or inf (first at row 4, column 2)"),
        ("b", np.inf, "input 'b' contains NaN or inf (first at row 4, column 2)"),
        ("b", 1e300, "input 'b'"),
        ("code", np.nan, "input 'code' contains NaN or inf (first at row 4)"),
        ("code", -np.inf, "input 'code' contains NaN or inf (first at row 4)"),
    ],
)
def test_non_finite_inputs_are_refused_naming_the_input(entry, form, which, bad, message):
    net, A, B, C, labels, values = _fitted()
    arrays = {"a": A.astype(np.float64), "b": B.astype(np.float64), "code": C.astype(np.float64)}
    target = arrays[which]
    if target.ndim == 1:
        target[4] = bad
    else:
        target[4, 2] = bad
    X = arrays if form == "dict" else [arrays["a"], arrays["b"], arrays["code"]]
    before = net.get_weights()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ENTRY[entry](net, X, [labels, values])
    for w0, w1 in zip(before, net.get_weights()):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize("entry", ["predict", "predict_proba", "predict batched", "evaluate"])
def test_non_finite_outputs_are_refused_naming_the_output(entry):
    net, A, B, C, labels, values = _fitted()
    net.outputs[1].layer.weight.value[...] = np.inf  # the regression head, "reg"
    with pytest.raises(ValueError) as err:
        ENTRY[entry](net, [A, B, C], [labels, values])
    assert str(err.value) == (
        "the network's outputs are NaN or inf for output 'reg', row 0: the network's weights "
        "hold NaN or inf; train or load it again"
    )


def test_overflowing_outputs_of_a_one_output_graph_say_standardise():
    A, B, *_ = _data()
    net = _hinge_graph()  # finite weights; rows with |a0| > 1 overflow float32
    row = int(np.argmax(np.abs(A[:, 0]) > 1))
    with pytest.raises(ValueError) as err:
        net.predict([A, B])
    big = max(float(np.abs(A).max()), float(np.abs(B).max()))
    assert str(err.value) == (
        f"the network's outputs are NaN or inf for row {row}: the values overflow float32 "
        f"(the largest |x| in the inputs is {big:.3g}); standardise the inputs"
    )


# -- cr.diagnose and Diagnostics on several outputs --------------------------------------
def _float64_two_out():
    a, c = cr.Input(4, name="a"), cr.Input(1, name="code")
    z = cr.Concatenate()(a, cr.Embedding(6, 2)(c))
    shared = cr.Dense(6, 6, activation="tanh")
    t = shared(shared(z))
    outs = [cr.Dense(6, 2)(t, name="cls"), cr.Dense(6, 1)(t, name="reg")]
    return cr.Network(inputs=[a, c], outputs=outs, seed=1, dtype=np.float64)


def test_diagnose_two_outputs_matches_torch_autograd():
    """Loss sum_k w_k L_k and every |dL/dW| against PyTorch; the constant-prediction
    baseline against the entropy of the class frequencies plus the variance."""
    torch = pytest.importorskip("torch")
    A, _, C, labels, values = _data(200)
    A, values = A.astype(np.float64), values.astype(np.float64)
    net = _float64_two_out()
    net.fit([A, C], [labels, values], loss=["cross_entropy", "mse"], loss_weights=[1.0, 0.5])
    report = cr.diagnose(net, {"a": A, "code": C}, [labels, values])

    module = cr.export.to_torch(net).double()
    logits, reg = module(torch.tensor(A), torch.tensor(C.reshape(-1, 1), dtype=torch.int64))
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    mse = torch.mean((reg[:, 0] - torch.tensor(values)) ** 2)
    total = ce + 0.5 * mse
    total.backward()
    assert report.loss == pytest.approx(float(total.detach()), rel=1e-10)
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    expected = sorted(float(m.weight.grad.norm()) for m in linears)
    measured = sorted(row["grad_norm"] for row in report.layers if row["grad_norm"] is not None)
    np.testing.assert_allclose(measured, expected, rtol=1e-8)
    p = np.bincount(labels) / len(labels)
    baseline = -np.sum(p * np.log(p)) + 0.5 * np.var(values)
    assert report.baseline == pytest.approx(baseline, rel=1e-9)


def test_diagnostics_callback_judges_two_outputs_against_the_weighted_baseline():
    A, _, C, labels, values = _data(200)
    net = _float64_two_out()
    diag = cr.Diagnostics()
    net.fit(
        [A, C],
        [labels, values],
        loss=["cross_entropy", "mse"],
        loss_weights=[1.0, 0.5],
        epochs=2,
        callbacks=[diag],
    )
    p = np.bincount(labels) / len(labels)
    baseline = -np.sum(p * np.log(p)) + 0.5 * np.var(values.astype(np.float64))
    assert diag.baseline == pytest.approx(baseline, rel=1e-6)


def test_an_output_named_val_is_refused_by_fit():
    a = cr.Input(4, name="a")
    h = cr.Dense(4, 4)(a)
    net = cr.Network(
        inputs=a, outputs=[cr.Dense(4, 2)(h, name="cls"), cr.Dense(4, 1)(h, name="val")]
    )
    A, _, _, labels, values = _data(50)
    with pytest.raises(
        ValueError, match="an output is named 'val': the history's 'val_loss' would"
    ):
        net.fit(A, [labels, values], loss=["cross_entropy", "mse"], epochs=1)

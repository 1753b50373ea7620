"""Diagnostics tell the truth: each problem is provoked on purpose and checked by hand.

Every number a verdict quotes is recomputed here independently, with a plain
NumPy forward and backward pass that does not use chainrule, and healthy
networks must raise no verdict at all.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.diagnostics import (
    DEAD_WARN,
    EXPLODING_NORM,
    SATURATION_WARN,
    VANISHING_RATIO,
    Diagnostics,
    Report,
    diagnose,
)
from chainrule.verdicts import window_size

Normal = cr.initializers.Normal
Constant = cr.initializers.Constant


@pytest.fixture(scope="module")
def moons():
    return cr.datasets.moons(200, noise=0.1, seed=0)


# -- an independent reference: a NumPy MLP ---------------------------------------------------
def _f(kind, z):
    if kind == "relu":
        return np.maximum(z, 0.0)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "tanh":
        return np.tanh(z)
    return z


def _df(kind, z):
    if kind == "relu":
        return (z > 0).astype(float)
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(z) ** 2
    return np.ones_like(z)


def reference(net, X, y, loss, bias=False):
    """Pre-activations and weight (and bias) gradients of a Dense-only net, in float64 NumPy."""
    Ws = [layer.weight.value.astype(float) for layer in net.layers]
    bs = [layer.bias.value.astype(float) for layer in net.layers]
    kinds = [layer.activation.name if layer.activation else None for layer in net.layers]
    a, ins, zs = np.asarray(X, float), [], []
    for W, b, k in zip(Ws, bs, kinds):
        ins.append(a)
        z = a @ W + b
        zs.append(z)
        a = _f(k, z)
    y = np.asarray(y, float).reshape(a.shape)
    if loss == "mse":
        g = 2 * (a - y) / a.size
    else:  # binary cross-entropy on logits
        g = (1 / (1 + np.exp(-a)) - y) / a.size
    grads = [None] * len(Ws)
    bgrads = [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        dz = g * _df(kinds[k], zs[k])
        grads[k] = ins[k].T @ dz
        bgrads[k] = dz.sum(axis=0)
        g = dz @ Ws[k].T
    return (zs, grads, bgrads) if bias else (zs, grads)


def pow10(ratio):
    return f"10^{round(math.log10(ratio))}"


def sci(x):
    e = math.floor(math.log10(x))
    return f"{x / 10**e:.1f}e{e}"


def deep(act, init, depth, width, seed=0, dtype=np.float64):
    layers = [cr.Dense(2, width, activation=act, weight_init=init)]
    layers += [cr.Dense(width, width, activation=act, weight_init=init) for _ in range(depth - 1)]
    layers.append(cr.Dense(width, 1, weight_init=init))
    return cr.Sequential(*layers, seed=seed, dtype=dtype)


# -- healthy networks -------------------------------------------------------------------------
def test_healthy_he_relu_net_on_moons_raises_no_verdict(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 32, activation="relu", weight_init="he_uniform"),
        cr.Dense(32, 32, activation="relu", weight_init="he_uniform"),
        cr.Dense(32, 1),
        seed=0,
    )
    before = diagnose(net, X, y, loss="binary_cross_entropy")
    assert before.verdicts == [] and before.healthy
    diag = Diagnostics()
    history = net.fit(X, y, loss="binary_cross_entropy", lr=0.01, epochs=15, callbacks=[diag])
    assert history["loss"][-1] < 0.2  # it did learn
    assert diag.verdicts() == []
    after = diagnose(net, X, y)
    assert after.verdicts == []
    assert "No problems found" in str(after) and "No problems found" in str(diag)
    assert len(diag.epochs) == 15
    for metric in ("dead_fraction", "grad_norm", "update_ratio"):
        assert all(len(v) == 15 for v in diag.history[metric].values())


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_healthy_glorot_net_raises_no_verdict(moons, act):
    X, y = moons
    net = cr.Sequential(cr.Dense(2, 16, activation=act), cr.Dense(16, 1), seed=1)
    diag = Diagnostics()
    net.fit(X, y, loss="binary_cross_entropy", lr=0.01, epochs=5, callbacks=[diag])
    assert diag.verdicts() == []
    assert diagnose(net, X, y).verdicts == []


# -- dead ReLU units ----------------------------------------------------------------------------
def test_large_negative_bias_kills_relu_units_counted_by_hand(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 32, activation="relu"),
        cr.Dense(32, 32, activation="relu", bias_init=Constant(-5)),
        cr.Dense(32, 1),
        seed=0,
        dtype=np.float64,
    )
    zs, grads = reference(net, X, y, "bce")
    dead = (zs[1] <= 0).all(axis=0)  # z <= 0 for every sample
    frac = dead.mean()
    assert frac >= DEAD_WARN  # the provocation worked
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    row = report.layers[1]
    assert row["dead_fraction"] == frac
    assert row["dead_units"] == np.flatnonzero(dead).tolist()
    assert report.layers[0]["dead_fraction"] == (zs[0] <= 0).all(axis=0).mean()
    (v,) = [v for v in report.verdicts if v.layer == 1]
    assert v.kind == "dead_relu" and v.is_problem  # no training story: nothing shows it learns
    assert v.evidence["dead_fraction"] == frac and v.evidence["dead_units"] == dead.sum()
    assert v.evidence["bias_mean"] == -5.0
    assert f"layer 1: {100 * frac:.0f}% of ReLU units are dead" in v.text
    assert f"({dead.sum()} of 32 output 0 for every sample" in v.text
    # the evidence picks the remedy: start the biases at 0
    assert v.remedies[0].name == "zero_bias" and "-5" in v.remedies[0].why
    # the table carries the verdict on the row of the layer it is about
    row1 = next(line for line in str(report).splitlines() if line.startswith("1 "))
    assert row1.endswith("dead_relu!")
    # the claim "no gradient reaches their weights" is true: those columns are exactly 0
    assert np.all(grads[1][:, dead] == 0)
    assert report.layers[1]["grad_norm"] == pytest.approx(np.linalg.norm(grads[1]), rel=1e-12)


def test_dead_units_from_initialisation_are_tracked_during_training(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 16, activation="relu"),
        cr.Dense(16, 16, activation="relu", bias_init=Constant(-5)),
        cr.Dense(16, 1),
        seed=0,
        dtype=np.float64,
    )
    zs, _ = reference(net, X, y, "bce")
    dead0 = (zs[1] <= 0).all(axis=0)
    diag = Diagnostics()
    net.fit(X, y, loss="binary_cross_entropy", optimizer="sgd", lr=0.05, epochs=3,
            callbacks=[diag])  # fmt: skip
    # a dead unit gets no gradient, so it stays dead: dead since initialisation
    assert diag.history["dead_since_init"][1] == [dead0.mean()] * 3
    assert diag.history["dead_fraction"][1] == [dead0.mean()] * 3
    (v,) = [v for v in diag.verdicts() if v.layer == 1]
    assert v.kind == "dead_relu"
    assert v.evidence["dead_fraction"] == dead0.mean() == v.evidence["dead_since_init"]
    assert f"{100 * dead0.mean():.0f}% of ReLU units are dead" in v.text
    assert v.remedies[0].name == "zero_bias"


def test_high_learning_rate_kills_relu_units_and_the_verdict_names_it(moons):
    X, y = moons
    act = "relu"
    net = cr.Sequential(
        cr.Dense(2, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 1),
        seed=0,
    )
    diag = Diagnostics()
    history = net.fit(X, y, loss="binary_cross_entropy", optimizer="adam", lr=1.0, epochs=20,
                      callbacks=[diag], metrics=["accuracy"])  # fmt: skip
    first, *rest = diag.verdicts()
    assert first.kind == "lr_too_high", diag.verdicts()  # the cause comes first ...
    assert first.text.startswith("learning rate 1 is too high")
    step = max(max(v) for v in diag.history["update_ratio"].values())
    assert first.evidence["largest_step"] == step > 0.05
    assert f"{100 * step:.0f}% of their norm" in first.text
    remedy = first.remedies[0]  # ... with lowering the rate as the first remedy
    assert remedy.name == "lower_lr" and remedy.changes["lr"] <= 0.1
    assert remedy.cli == f"chainrule train ... --lr {remedy.changes['lr']:g}"
    dead = [v for v in rest if v.kind == "dead_relu"]  # ... and the dead units after it
    assert dead
    for v in dead:
        i = v.layer
        # after training, a manual forward on all of X finds at least as many dead units
        # (a unit dead on every batch of the last epoch received no gradient since)
        zs, _ = reference(net, X, y, "bce")
        frac = (zs[i] <= 0).all(axis=0).mean()
        assert frac >= diag.history["dead_fraction"][i][-1] - 1e-12
        assert v.evidence["dead_fraction"] == min(diag.history["dead_fraction"][i][-3:])
        assert v.evidence["dead_fraction"] >= DEAD_WARN
    assert history["accuracy"][-1] < 0.9  # and the network learned badly


def test_leaky_relu_units_are_reported_as_inactive_not_dead(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 16, activation="leaky_relu", bias_init=Constant(-5)),
        cr.Dense(16, 1),
        seed=0,
        dtype=np.float64,
    )
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    z = X @ net[0].weight.value + net[0].bias.value
    assert report.layers[0]["dead_fraction"] == (z <= 0).all(axis=0).mean() > DEAD_WARN
    assert not any(v.kind == "dead_relu" for v in report.verdicts)  # they still get a gradient


def test_callback_numbers_equal_a_manual_replay_of_full_batch_training(moons):
    """Full-batch training: one step per epoch, so each epoch can be replayed by hand."""
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 16, activation="relu", bias_init=Constant(-0.5)),
        cr.Dense(16, 16, activation="relu", bias_init=Constant(-1.0)),
        cr.Dense(16, 1),
        seed=3,
        dtype=np.float64,
    )
    snapshots = []
    keep = cr.LambdaCallback(on_epoch_begin=lambda e, logs: snapshots.append(copy.deepcopy(net)))
    diag = Diagnostics()
    net.fit(X, y, loss="binary_cross_entropy", optimizer="sgd", lr=2.0, epochs=6,
            batch_size=None, callbacks=[keep, diag])  # fmt: skip
    snapshots.append(copy.deepcopy(net))
    dead_all = None
    for e in range(6):
        zs, grads, bgrads = reference(snapshots[e], X, y, "bce", bias=True)
        for i, units in ((0, 16), (1, 16), (2, 1)):  # learning speed ||dL/db|| / sqrt(units)
            assert diag.history["speed"][i][e] == pytest.approx(
                np.linalg.norm(bgrads[i]) / np.sqrt(units), rel=1e-9
            )
        for i in (0, 1):
            dead = (zs[i] <= 0).all(axis=0)
            assert diag.history["dead_fraction"][i][e] == dead.mean()
        dead_all = dead if dead_all is None else dead_all & dead
        assert diag.history["dead_since_init"][1][e] == dead_all.mean()
        for i in (0, 1, 2):
            assert diag.history["grad_norm"][i][e] == pytest.approx(
                np.linalg.norm(grads[i]), rel=1e-9
            )
            w0 = snapshots[e][i].weight.value
            w1 = snapshots[e + 1][i].weight.value
            ratio = np.linalg.norm(w1 - w0) / np.linalg.norm(w0)
            assert diag.history["update_ratio"][i][e] == pytest.approx(ratio, rel=1e-9)
    assert diag.lr == [2.0] * 6


def test_every_measures_one_batch_in_k(moons):
    X, y = moons
    net = cr.Sequential(cr.Dense(2, 8, activation="relu"), cr.Dense(8, 1), seed=0)
    seen = []
    probe = cr.LambdaCallback(
        on_batch_end=lambda b, logs: seen.append((b, float(np.linalg.norm(net[0].weight.grad))))
    )
    diag = Diagnostics(every=3)
    assert Diagnostics().every == "auto"
    net.fit(X, y, loss="binary_cross_entropy", epochs=1, batch_size=32, callbacks=[probe, diag])
    measured = [g for b, g in seen if b % 3 == 0]  # 7 batches: 0, 3, 6
    assert len(seen) == 7 and len(measured) == 3
    assert diag.history["grad_norm"][0][0] == pytest.approx(np.mean(measured), rel=1e-6)
    assert diag.history["grad_norm_max"][0][0] == pytest.approx(max(measured), rel=1e-6)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Diagnostics(every=0)


# -- vanishing gradients -----------------------------------------------------------------------
def test_deep_sigmoid_stack_with_normal_init_has_vanishing_gradients(moons):
    X, y = moons
    net = deep("sigmoid", Normal(0, 1), depth=20, width=16)
    zs, grads = reference(net, X, y, "bce")
    norms = [np.linalg.norm(g) for g in grads]
    ratio = norms[0] / norms[-1]
    assert ratio < VANISHING_RATIO
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    assert report.grad_ratio == pytest.approx(ratio, rel=1e-9)
    for i in range(21):
        assert report.layers[i]["grad_norm"] == pytest.approx(norms[i], rel=1e-9)
    for i in range(20):  # saturated: |z| > 4 for a sigmoid
        assert report.layers[i]["saturation"] == (np.abs(zs[i]) > 4).mean()
        s = 1 / (1 + np.exp(-zs[i]))
        assert report.layers[i]["mean_derivative"] == pytest.approx((s * (1 - s)).mean())
    _, _, bgrads = reference(net, X, y, "bce", bias=True)
    s_first = np.linalg.norm(bgrads[0]) / 4.0  # ||dL/db|| / sqrt(16 units)
    s_out = np.linalg.norm(bgrads[20])  # the output layer: 1 unit
    (v,) = [v for v in report.verdicts if v.kind == "vanishing_gradients"]
    assert v.layer == 0 and v.is_problem and v is report.verdicts[0]
    assert v.evidence["speed_first"] == pytest.approx(s_first, rel=1e-9)
    assert v.evidence["speed_last"] == pytest.approx(s_out, rel=1e-9)
    assert s_first / s_out < VANISHING_RATIO
    assert f"layer 0 learns {s_out / s_first:.0f}x slower than layer 20" in v.text
    assert v.remedies[0].name == "relu_he"
    assert v.remedies[0].playground == "Activation: relu, Initialiser: he"
    assert "vanishing gradients" in str(report)


def test_deep_sigmoid_stack_cannot_learn_and_the_callback_says_why(moons):
    X, y = moons
    net = deep("sigmoid", Normal(0, 1), depth=20, width=16, dtype=np.float32)
    diag = Diagnostics()
    history = net.fit(X, y, loss="binary_cross_entropy", optimizer="sgd", lr=0.1, epochs=8,
                      callbacks=[diag])  # fmt: skip
    assert history["loss"][-1] > 0.65  # stuck near log(2): it does not learn
    h = diag.history["speed"]
    w = window_size(8)  # the verdict is judged over the last epochs, not one
    ratio = np.median(h[0][-w:]) / np.median(h[20][-w:])
    first = diag.verdicts()[0]
    assert first.kind == "vanishing_gradients"
    assert first.evidence["speed_ratio"] == pytest.approx(ratio, rel=1e-12)
    assert first.evidence["relative_loss"] == pytest.approx(
        np.median(history["loss"][-w:]) / math.log(2), rel=1e-3
    )


def test_relu_he_net_of_the_same_depth_has_no_vanishing_verdict(moons):
    X, y = moons
    net = deep("relu", "he_uniform", depth=20, width=16)
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    assert not any(v.kind == "vanishing_gradients" for v in report.verdicts)
    assert report.grad_ratio > VANISHING_RATIO


# -- exploding gradients -------------------------------------------------------------------------
def test_deep_net_with_large_init_has_exploding_gradients(moons):
    X, y = moons
    net = deep("relu", Normal(0, 1), depth=10, width=32)
    _, grads = reference(net, X, y, "mse")
    norms = [np.linalg.norm(g) for g in grads]
    peak = max(norms)
    assert peak > EXPLODING_NORM
    report = diagnose(net, X, y, loss="mse")
    v = report.verdicts[0]
    i = int(np.argmax(norms))
    assert v.kind == "exploding_gradients" and v.layer == i
    assert v.evidence["grad_norm_start"] == pytest.approx(peak, rel=1e-9)
    assert f"weight gradient ||dL/dW|| is {peak:.2e}" in v.text
    # N(0, 1) weights: RMS x sqrt(fan_in) = sqrt(32), so a new initialisation comes first
    assert v.evidence["weight_rms"] == pytest.approx(np.sqrt(32), rel=0.1)
    assert [r.name for r in v.remedies[:2]] == ["reinit", "clip_norm"]


def test_exploding_gradients_seen_by_the_callback_even_when_training_diverges(moons):
    X, y = moons
    net = deep("relu", Normal(0, 1), depth=10, width=32, dtype=np.float32)
    diag = Diagnostics()
    with pytest.warns(cr.DivergenceWarning):
        net.fit(X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=5, callbacks=[diag])
    assert diag.epochs  # the diverging epoch's measurements were kept
    v = diag.verdicts()[0]
    assert v.kind == "exploding_gradients"
    assert not math.isfinite(v.evidence["grad_norm_start"]) or (
        v.evidence["grad_norm_start"] > EXPLODING_NORM
    )


# -- saturation ---------------------------------------------------------------------------------
def test_tanh_layer_with_large_weights_is_saturated(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 16, activation="tanh", weight_init=Normal(0, 10)),
        cr.Dense(16, 1),
        seed=0,
        dtype=np.float64,
    )
    z = X @ net[0].weight.value + net[0].bias.value
    frac = (np.abs(z) > 2.5).mean()
    assert frac >= SATURATION_WARN
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    assert report.layers[0]["saturation"] == frac
    (v,) = report.verdicts
    assert v.kind == "saturation" and v.layer == 0 and v.evidence["saturation"] == frac
    assert v.text.startswith(f"layer 0: {100 * frac:.0f}% of tanh outputs are saturated (|z| > 2.5")


# -- the report and the tool's manners -------------------------------------------------------------
def test_report_table_html_and_no_side_effects():
    X, y = cr.datasets.moons(64, seed=1)
    net = cr.Sequential(
        cr.Dense(2, 8, activation="relu"),
        cr.BatchNorm(8),
        cr.Dropout(0.5),
        cr.Dense(8, 1),
        seed=0,
    )
    for p in net.parameters():
        p.grad[...] = 7.0
    values = [p.value.copy() for p in net.parameters()]
    running = net[1].running_mean.copy()
    report = diagnose(net, X)  # no targets: a random probe gradient
    assert isinstance(report, Report) and report.loss is None
    assert all(np.all(p.grad == 7.0) for p in net.parameters())
    assert all(np.array_equal(p.value, v) for p, v in zip(net.parameters(), values))
    assert np.array_equal(net[1].running_mean, running)
    assert net[2].training  # Dropout's mode restored
    text = str(report)
    assert text.splitlines()[0].split()[:4] == ["#", "layer", "dead", "saturated"]
    assert "64 samples" in text
    assert [d["index"] for d in report.layers] == [0, 1, 2, 3]
    assert report.layers[1]["grad_norm"] is None  # BatchNorm: no Dense weight
    assert "<table>" in report._repr_html_()
    with pytest.raises(ValueError, match="needs a loss"):
        diagnose(net, X, y)
    with pytest.raises(ValueError, match="features"):
        diagnose(net, X[:, :1])


def test_standalone_activation_layers_are_diagnosed(moons):
    X, y = moons
    net = cr.Sequential(cr.Dense(2, 16, bias_init=Constant(-5)), cr.ReLU(), cr.Dense(16, 1), seed=0)
    report = diagnose(net, X, y, loss="binary_cross_entropy")
    z = X @ net[0].weight.value.astype(float) + net[0].bias.value
    assert report.layers[1]["dead_fraction"] == (z <= 0).all(axis=0).mean()
    (v,) = [v for v in report.verdicts if v.kind == "dead_relu"]
    assert v.layer == 1 and v.evidence["bias_mean"] == -5.0


def test_a_norm_hidden_by_clipping_is_still_reported(moons):
    """``fit`` may pass the global norm before clipping as ``logs["grad_norm"]``."""
    X, y = moons
    net = cr.Sequential(cr.Dense(2, 4, activation="relu"), cr.Dense(4, 1), seed=0)
    loss = cr.BinaryCrossEntropy()
    diag = Diagnostics()
    diag.net = net
    diag.on_train_begin({})
    diag.on_epoch_begin(0, {})
    loss.forward(net(X), y)
    net.backward(loss.backward())
    diag.on_batch_end(0, {"loss": 1.0, "grad_norm": 3.0e8})
    diag.on_batch_end(1, {"loss": 1.0, "grad_norm": 2.0})
    diag.on_epoch_end(0, {})
    assert diag.total_norm_before_clip == [3.0e8]
    (v,) = diag.verdicts()
    assert v.kind == "exploding_gradients" and v.evidence["grad_norm_before_clip"] == 3.0e8
    assert "reached 3.00e+08 before clipping" in v.text
    assert diag.kinds == {0: "relu", 1: "linear"}

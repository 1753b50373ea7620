"""Verdicts are records judged from the training story; remedies can be applied.

Loss stories are written by hand here, so each rule is checked against numbers
chosen independently of the code: a constant predictor's loss from its formula,
a validation curve that turns up, a loss that diverges or jumps.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.diagnostics import verdict_lines
from chainrule.remedies import rebuild
from chainrule.verdicts import KINDS, LayerStory, Story, constant_loss, judge, window_size

Constant = cr.initializers.Constant


@pytest.fixture(scope="module")
def moons():  # noqa: D103
    return cr.datasets.moons(200, noise=0.1, seed=0)


# -- the constant predictor ---------------------------------------------------------------------
def test_constant_loss_matches_the_textbook_values():
    assert constant_loss("cross_entropy", np.arange(1000) % 10) == pytest.approx(math.log(10))
    assert constant_loss("cross_entropy", np.eye(4)[np.arange(400) % 4]) == pytest.approx(
        math.log(4)
    )
    y = np.array([1] * 30 + [0] * 70)
    h = -(0.3 * math.log(0.3) + 0.7 * math.log(0.7))
    assert constant_loss("binary_cross_entropy", y) == pytest.approx(h)
    v = np.array([1.0, 2.0, 4.0, 9.0])
    assert constant_loss("mse", v) == pytest.approx(np.var(v))
    assert constant_loss("mae", v) == pytest.approx(np.mean(np.abs(v - 3.0)))  # median 3


def test_window_size_is_a_fifth_of_training_between_3_and_20():
    assert [window_size(n) for n in (1, 10, 15, 50, 200)] == [3, 3, 3, 10, 20]


# -- judged from a story written by hand --------------------------------------------------------
LN2 = math.log(2)


def _story(loss, val=None, baseline=LN2, **kw):
    layers = [
        LayerStory(0, "relu", 16, dense=0, hidden=True, update_ratio=1e-3, update_ratio_max=2e-3),
        LayerStory(1, "linear", 1, dense=1, update_ratio=1e-3, update_ratio_max=2e-3),
    ]
    return Story(layers, loss=loss, val_loss=val, baseline=baseline, lr=0.01, **kw)


def test_a_network_that_learns_gets_no_verdict():
    loss = list(np.geomspace(0.69, 0.05, 30))
    assert judge(_story(loss, val=[x * 1.2 for x in loss])) == []


def test_validation_loss_rising_while_training_loss_falls_is_overfitting():
    loss = list(np.geomspace(0.6, 0.01, 40))
    val = [0.6 - 0.01 * e for e in range(15)] + [0.46 + 0.02 * e for e in range(25)]
    (v,) = judge(_story(loss, val=val))
    assert v.kind == "overfitting" and v.is_problem
    assert (
        v.evidence["val_loss_min"] == pytest.approx(0.46) and v.evidence["val_loss_min_epoch"] == 14
    )
    w = window_size(40)
    assert v.evidence["val_loss"] == pytest.approx(np.median(val[-w:]))
    early = v.remedies[0]
    assert (
        early.name == "early_stopping" and early.changes["early_stopping"]["monitor"] == "val_loss"
    )
    assert "--patience" in early.cli


def test_a_diverged_loss_is_a_learning_rate_too_high_and_the_remedy_lowers_it():
    (v, *_) = judge(_story([0.7, 0.8, 5.0], diverged=True))
    assert v.kind == "lr_too_high" and v.evidence["diverged"] is True
    assert v.remedies[0].name == "lower_lr" and v.remedies[0].changes["lr"] == pytest.approx(1e-3)


def test_a_loss_that_jumps_up_and_down_is_a_learning_rate_too_high():
    loss = [0.69, 0.5] + [0.4, 0.9] * 10
    first = judge(_story(loss))[0]
    assert first.kind == "lr_too_high" and first.evidence["sign_flips"] == 1.0
    assert first.evidence["oscillation"] == pytest.approx(np.std(loss[-4:]) / np.mean(loss[-4:]))


def test_stuck_at_chance_with_nothing_else_wrong_is_not_learning():
    (v,) = judge(_story([0.693] * 20))
    assert v.kind == "not_learning" and v.evidence["relative_loss"] == pytest.approx(1.0, abs=1e-3)


def test_near_chance_but_falling_is_a_note_not_a_stuck_alarm():
    # the playground's default spirals net: 0.69 -> 0.66 over its first 60 epochs, then learns
    loss = list(np.linspace(0.693, 0.66, 60))
    verdicts = judge(_story(loss))
    assert [v.kind for v in verdicts] == ["not_learning"]
    (v,) = verdicts
    assert not v.is_problem and "still near chance" in v.text
    # the window is the last 12 epochs: (0.6656 - 0.66) / 0.6656 = 0.0084, above FALLING
    assert v.evidence["loss_change"] == pytest.approx((0.693 - 0.66) * 11 / 59 / 0.6656, rel=0.02)
    # the same level, flat over the window, is stuck; so is one that wanders at chance
    (w,) = judge(_story([0.693] * 48 + [0.665] * 12))
    assert w.kind == "not_learning" and w.is_problem
    wander = 0.693 + 0.004 * np.random.default_rng(0).standard_normal(60)
    (u,) = judge(_story(list(wander)))
    assert u.kind == "not_learning" and u.is_problem


def test_a_flat_loss_with_tiny_steps_is_a_learning_rate_too_low():
    s = _story([0.69 - 1e-4 * e for e in range(20)])
    for ly in s.layers:
        ly.update_ratio = 3e-6
    (v,) = judge(s)
    assert v.kind == "lr_too_low" and v.evidence["largest_median_step"] == 3e-6
    raise_lr = v.remedies[0]
    assert raise_lr.name == "raise_lr" and raise_lr.changes["lr"] == pytest.approx(
        10.0
    )  # 0.01 x 1000


def test_every_kind_is_ranked_and_records_are_json_ready(moons):
    X, y = moons
    net = cr.Sequential(cr.Dense(2, 8, activation="relu", bias_init=Constant(-5)), cr.Dense(8, 1))
    report = cr.diagnose(net, X, y, "binary_cross_entropy")
    d = json.loads(json.dumps(report.to_dict()))
    assert d["verdicts"][0]["kind"] == "dead_relu" and d["verdicts"][0]["layer"] == 0
    assert d["verdicts"][0]["remedies"][0]["playground"].startswith("Initialiser")
    assert not d["healthy"] and set(KINDS) >= {v["kind"] for v in d["verdicts"]}


# -- saturation on a network that learns is information, never an alarm ----------------------------
def test_a_saturated_tanh_net_that_fits_spirals_gets_no_alarm():
    X, y = cr.datasets.spirals(300, noise=0.05, seed=0)
    net = cr.Sequential(
        cr.Dense(2, 64, activation="tanh"),
        cr.Dense(64, 64, activation="tanh"),
        cr.Dense(64, 2),
        seed=0,
    )
    diag = cr.Diagnostics()
    h = net.fit(X, y, loss="cross_entropy", lr=0.05, epochs=200, callbacks=[diag])
    assert h["loss"][-1] < 0.01  # it fits
    assert diag.history["saturation"][1][-1] > 0.8  # with most tanh outputs saturated
    assert diag.verdicts() == []
    (note,) = diag.records()
    assert note.kind == "saturation" and note.severity == "info" and note.layer == 1
    report = cr.diagnose(net, X, y)
    assert report.healthy and "No problems found." in str(report)
    for v in report.verdicts:  # anything past a threshold is a note, and the table says so
        assert v.severity == "info"


# -- the table and the verdicts cannot disagree ---------------------------------------------------
def test_table_flags_come_from_the_verdicts(moons):
    X, y = moons
    net = cr.Sequential(
        cr.Dense(2, 16, activation="relu"),
        cr.Dense(16, 16, activation="relu"),
        cr.Dense(16, 1),
        seed=0,
    )
    net[0].bias.value[:12] = -100.0  # 12 of 16 units dead: 75%, past the alarm
    net[1].bias.value[:4] = -100.0  # 4 of 16: 25%, below it
    report = cr.diagnose(net, X, y, "binary_cross_entropy")
    assert [report.layers[i]["dead_fraction"] for i in (0, 1)] == [0.75, 0.25]
    rows = str(report).splitlines()[2:5]
    cells = [r.rsplit(")", 1)[1].split() for r in rows]  # the columns after the layer's repr
    assert cells[0][0] == "75%" and cells[0][-1] == "dead_relu!"
    assert cells[1][0] == "25%" and "dead_relu" not in rows[1]
    (v,) = [v for v in report.verdicts if v.kind == "dead_relu"]
    assert v.layer == 0 and v.evidence["dead_units"] == 12
    assert "no dead" not in str(report)  # the words never deny what the table shows


def test_verdict_lines_word_remedies_for_each_place():
    loss = list(np.geomspace(0.6, 0.01, 40))
    val = [0.6 - 0.01 * e for e in range(15)] + [0.46 + 0.02 * e for e in range(25)]
    verdicts = judge(_story(loss, val=val))
    py, cli, pg = (verdict_lines(verdicts, w) for w in ("python", "cli", "playground"))
    assert "cr.EarlyStopping" in py[2] and "--patience" in cli[2]
    assert pg[2].startswith("      try: L2")  # the playground has no early stopping: its L2 control


# -- remedies applied ---------------------------------------------------------------------------
def test_rebuild_changes_the_hidden_activation_and_keeps_the_seed():
    net = cr.Sequential(
        cr.Dense(2, 8, activation="sigmoid", weight_init=cr.initializers.Normal(0, 1)),
        cr.Dense(8, 8, activation="sigmoid"),
        cr.Dense(8, 1),
        seed=3,
    )
    new = rebuild(net, activation="relu", weight_init="auto")
    assert [d.activation.name if d.activation else None for d in new.layers] == [
        "relu",
        "relu",
        None,
    ]
    assert new[0].weight_init.name == "he_uniform" and new[2].weight_init.name == "glorot_uniform"
    again = rebuild(net, activation="relu", weight_init="auto")
    assert np.array_equal(new[0].weight.value, again[0].weight.value)  # same seed, same weights
    assert np.array_equal(net[0].weight.value, cr.Sequential(*net.layers, seed=3)[0].weight.value)


def test_standardise_remedy_rescales_the_inputs(moons):
    X, y = moons
    story = _story([1.0] * 5, input_rms_max=100.0, input_rms_min=50.0, input_std_spread=1.0)
    story.layers[0].dead = 0.9
    v = judge(story)[0]
    assert v.kind == "inputs_not_standardised"
    t = v.remedies[0].apply(cr.Sequential(cr.Dense(2, 4, activation="relu"), cr.Dense(4, 1), seed=0),
                            {"lr": 0.1}, X=X * 100)  # fmt: skip
    Z = t.transform(X * 100)
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-5) and np.allclose(Z.std(axis=0), 1, atol=1e-4)
    assert t.fit_kwargs == {"lr": 0.1}


def test_doctor_applies_the_first_remedy_and_retrains_with_the_same_seed(moons):
    X, y = moons

    def make():
        return cr.Sequential(
            cr.Dense(2, 32, activation="relu", bias_init=Constant(-5.0)), cr.Dense(32, 1), seed=0
        )

    kw = {"loss": "binary_cross_entropy", "lr": 0.01, "epochs": 40}
    result = cr.doctor(make, X, y, kw, seed=0)
    assert result.verdict.kind == "dead_relu" and result.remedy.name == "zero_bias"
    assert result.before_loss == pytest.approx(math.log(2), abs=0.01)  # stuck at chance
    # the treated run is the same network with biases at 0, trained with the same seed
    ref = cr.Sequential(cr.Dense(2, 32, activation="relu"), cr.Dense(32, 1), seed=0)
    h = ref.fit(X, y, seed=0, **kw)
    assert result.history_after["loss"] == pytest.approx(h["loss"], rel=1e-6)
    assert result.cured and result.after_loss < 0.1
    assert "applied: zero_bias" in str(result)


def test_the_first_verdict_does_not_flicker_from_epoch_to_epoch(moons):
    """The playground's case: deep sigmoid layers stuck at ln 2, judged after every epoch."""
    X, y = cr.datasets.spirals(300, noise=0.1, seed=0)
    layers = [cr.Dense(2 if i == 0 else 8, 8, activation="sigmoid") for i in range(6)]
    net = cr.Sequential(*layers, cr.Dense(8, 2), seed=0)
    diag = cr.Diagnostics()
    firsts = []
    watch = cr.LambdaCallback(
        on_epoch_end=lambda e, logs: firsts.append([v.kind for v in diag.verdicts()][:1])
    )
    h = net.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.03, epochs=60, batch_size=16,
                callbacks=[diag, watch])  # fmt: skip
    assert abs(h["loss"][-1] - math.log(2)) < 0.01  # a coin flip, all along
    assert firsts[10:] == [["vanishing_gradients"]] * 50


def test_graph_networks_are_diagnosed_through_their_own_forward(moons):
    X, y = moons
    x = cr.Input(2)
    h = cr.Dense(2, 16, activation="relu")(x)
    r = cr.Dense(16, 16, activation="relu", bias_init=Constant(-100.0))(h)  # every unit dead
    out = cr.Dense(16, 1)(cr.Add()(h, r))  # the skip path still carries a gradient
    net = cr.Network(inputs=x, outputs=out, seed=0)
    report = cr.diagnose(net, X, y, "binary_cross_entropy")
    z0 = X @ net.layers[0].weight.value + net.layers[0].bias.value
    assert report.layers[0]["dead_fraction"] == (z0 <= 0).all(axis=0).mean()
    assert report.layers[1]["dead_fraction"] == 1.0
    (v,) = [v for v in report.verdicts if v.kind == "dead_relu"]
    assert v.layer == 1 and v.remedies[0].name == "zero_bias"
    treated = v.remedies[0].apply(net, {}).net  # rebuilt with the same wiring, biases at 0
    assert [n.name for n in treated.nodes] == [n.name for n in net.nodes]
    assert all(np.all(d.bias.value == 0) for d in treated.layers if isinstance(d, cr.Dense))


def _sigmoid_blocks(residual, blocks=12):
    x = cr.Input(2)
    h = cr.Dense(2, 16)(x)
    for _ in range(blocks):
        r = cr.Dense(16, 16)(cr.Dense(16, 16, activation="sigmoid")(h))
        h = cr.Add()(h, r) if residual else r
    return cr.Network(inputs=x, outputs=cr.Dense(16, 1)(h), seed=0)


def test_graph_training_story_skips_cure_the_vanishing_gradient():
    """docs/graphs.md's case: the stack of sigmoid blocks vanishes; with skips it learns."""
    X, y = cr.datasets.moons(400, noise=0.1, seed=0)
    out = {}
    for residual in (False, True):
        net, diag = _sigmoid_blocks(residual), cr.Diagnostics()
        h = net.fit(X, y, loss="binary_cross_entropy", lr=0.01, epochs=20, seed=0,
                    callbacks=[diag])  # fmt: skip
        assert diag.baseline == pytest.approx(math.log(2), abs=1e-3)  # balanced moons
        out[residual] = (h["loss"][-1], diag.verdicts())
    stuck, problems = out[False]
    assert stuck > 0.68 and problems[0].kind == "vanishing_gradients"
    learnt, problems = out[True]
    assert learnt < 0.5 * math.log(2) and problems == []


def test_one_lucky_validation_epoch_is_not_taken_for_overfitting():
    # the playground's xor net (tanh 8,8, 40 epochs; recorded): the validation loss wanders
    # 0.20-0.35 around a flat level; its raw minimum 0.204 (epoch 18) is 22% below the last
    # window's median 0.249, the minimum of its running median (8 epochs) only 6%
    loss = [0.662, 0.61, 0.539, 0.468, 0.406, 0.346, 0.275, 0.281, 0.216, 0.183, 0.175, 0.165,
            0.17, 0.146, 0.181, 0.133, 0.138, 0.145, 0.126, 0.139, 0.14, 0.127, 0.132, 0.14,
            0.125, 0.11, 0.123, 0.116, 0.173, 0.18, 0.126, 0.107, 0.106, 0.136, 0.16, 0.129,
            0.107, 0.106, 0.105, 0.133]  # fmt: skip
    val = [0.718, 0.653, 0.585, 0.538, 0.443, 0.4, 0.322, 0.32, 0.26, 0.258, 0.264, 0.298,
           0.285, 0.253, 0.207, 0.24, 0.242, 0.204, 0.248, 0.212, 0.288, 0.255, 0.204, 0.29,
           0.207, 0.234, 0.263, 0.232, 0.249, 0.345, 0.24, 0.215, 0.218, 0.273, 0.332, 0.234,
           0.258, 0.237, 0.24, 0.322]  # fmt: skip
    assert np.median(val[-8:]) > 1.1 * min(val)  # the old rule's false alarm
    assert not [v for v in judge(_story(loss, val=val)) if v.kind == "overfitting"]


def test_training_rows_that_score_well_do_not_hide_overfitting():
    # diagnosing the training rows (as the playground does) gives a loss like the training
    # loss; that must not be read as "the best weights were restored"
    loss = list(np.geomspace(0.6, 0.01, 40))
    val = [0.6 - 0.01 * e for e in range(15)] + [0.46 + 0.02 * e for e in range(25)]
    (v,) = judge(_story(loss, val=val, data_loss=0.0105))
    assert v.kind == "overfitting" and v.is_problem and "restored" not in v.text
    # held-out rows that score like the best epoch: a note that the overfitting is history
    (w,) = judge(_story(loss, val=val, data_loss=0.47))
    assert w.kind == "overfitting" and not w.is_problem and "restored" in w.text

"""One task vocabulary: every place that asks "what do the outputs mean" agrees, for every
loss and for one and three output columns; a target column gets the same answer as a
pandas Series and as a NumPy array."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.answers import target_scaling
from chainrule.losses import LOSSES
from chainrule.tasks import TARGET_TASK, detect_task, output_losses, output_task

# What each loss's outputs answer, from the losses' definitions (DESIGN.md, "Losses"):
# softmax over K logits picks one class; a sigmoid or a margin per column is yes/no per
# column; the multi-class hinge over K > 1 columns picks the highest-scoring class.
EXPECTED = {
    ("mse", 1): "regression",
    ("mse", 3): "regression",
    ("mae", 1): "regression",
    ("mae", 3): "regression",
    ("huber", 1): "regression",
    ("huber", 3): "regression",
    ("binary_cross_entropy", 1): "binary",
    ("binary_cross_entropy", 3): "binary",
    ("cross_entropy", 1): "multiclass",
    ("cross_entropy", 3): "multiclass",
    ("hinge", 1): "binary",
    ("hinge", 3): "multiclass",
}
CASES = sorted(EXPECTED)


def test_the_table_covers_every_loss():
    assert {name for name, _ in EXPECTED} == set(LOSSES)


def _stack(name, width):
    net = cr.Sequential(cr.Dense(2, width), seed=1, dtype=np.float64)
    net.loss_ = name
    return net


def _graph(name, width):
    x = cr.Input(2, name="x")
    net = cr.Network(inputs=x, outputs=cr.Dense(2, width)(x), seed=1, dtype=np.float64)
    net.loss_ = name
    return net


def _by_hand(z, task):
    """What predict should give, written out independently of chainrule.tasks."""
    if task == "multiclass":
        return np.array([int(np.argmax(row)) for row in z])
    if task == "binary":
        flags = np.array([[1 if v > 0 else 0 for v in row] for row in z])
        return flags[:, 0] if z.shape[1] == 1 else flags
    return z[:, 0] if z.shape[1] == 1 else z


@pytest.mark.parametrize("name,width", CASES)
def test_output_task_by_name_and_by_object(name, width):
    assert output_task(name, width) == EXPECTED[name, width]
    assert output_task(LOSSES[name](), width) == EXPECTED[name, width]


@pytest.mark.parametrize("make", [_stack, _graph], ids=["stack", "graph"])
@pytest.mark.parametrize("name,width", CASES)
def test_predict_answers_as_the_table_says(make, name, width):
    net = make(name, width)
    X = np.random.default_rng(0).normal(size=(40, 2))
    z = net(X)
    got = net.predict(X)
    want = _by_hand(z, EXPECTED[name, width])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name,width", CASES)
def test_predict_proba_exists_only_for_the_cross_entropies(name, width):
    net = _stack(name, width)
    X = np.random.default_rng(1).normal(size=(10, 2))
    z = net(X)
    if name == "cross_entropy":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        np.testing.assert_allclose(net.predict_proba(X), e / e.sum(axis=1, keepdims=True))
    elif name == "binary_cross_entropy":
        np.testing.assert_allclose(net.predict_proba(X), 1 / (1 + np.exp(-z)))
    else:
        with pytest.raises(ValueError, match=f"this one was trained with '{name}'"):
            net.predict_proba(X)


@pytest.mark.parametrize("name,width", CASES)
def test_onnx_export_reads_the_same_task(name, width):
    pytest.importorskip("onnx")
    from chainrule.export.onnx import _task

    task = EXPECTED[name, width]
    assert _task(_stack(name, width)) == (None if task == "regression" else task)


@pytest.mark.parametrize("name,width", CASES)
def test_stored_target_scaling_applies_only_to_regression_outputs(name, width):
    net = _stack(name, width)
    net.preprocessing_ = {"task": "regress", "target_mean": 1.5, "target_scale": 2.0}
    want = (1.5, 2.0) if EXPECTED[name, width] == "regression" else None
    assert target_scaling(net) == want


@pytest.mark.parametrize("name,width", CASES)
def test_the_cli_reads_the_same_task_from_a_model_without_preprocessing(name, width):
    from chainrule.cli.tables import _ModelData

    net = _stack(name, width)
    net.preprocessing_ = None
    want = "regress" if EXPECTED[name, width] == "regression" else "classify"
    assert _ModelData(net).task == want == TARGET_TASK[EXPECTED[name, width]]


def test_a_network_never_fitted_answers_values():
    net = cr.Sequential(cr.Dense(2, 3), seed=0)
    assert net.loss_ is None and output_task(net.loss_, 3) == "regression"
    X = np.ones((4, 2), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(X), net(X))


def test_an_unknown_loss_name_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'cross_entropie'; valid names are"):
        output_task("cross_entropie", 3)


# -- what a target column asks: the same answer for a Series and an array --------------------
rng = np.random.default_rng(0)
COLUMNS = {
    # name: (values, the task a reader would name)
    "few whole numbers": (rng.integers(0, 3, 60), "classify"),
    "whole numbers as floats": (rng.integers(0, 4, 60).astype(float), "classify"),
    "many whole numbers": (np.arange(60), "regress"),
    "measurements": (rng.normal(size=60), "regress"),
    "measurements with NaN": (np.r_[rng.normal(size=58), np.nan, np.nan], "regress"),
    "classes with NaN": (np.r_[rng.integers(0, 2, 58).astype(float), np.nan, np.nan], "classify"),
    "an infinite value": (np.r_[rng.integers(0, 2, 59).astype(float), np.inf], "regress"),
    "true/false": (rng.random(60) > 0.5, "classify"),
    "text": (np.array(["cat", "dog", "eel"] * 20), "classify"),
    "text with None": (np.array(["cat", None, "dog"] * 20, dtype=object), "classify"),
    "two values, few rows": (np.array([0, 1, 1, 0]), "classify"),
    "three values, five rows": (np.array([0, 1, 2, 0, 1]), "regress"),  # limit max(2, 5 // 5)
}


@pytest.mark.parametrize("key", sorted(COLUMNS))
def test_detect_task_on_an_array_equals_on_a_series(key):
    pd = pytest.importorskip("pandas")
    values, task = COLUMNS[key]
    on_series = detect_task(pd.Series(values))
    assert on_series[0] == task
    assert detect_task(values) == on_series
    assert detect_task(list(values)) == on_series
    assert detect_task(np.asarray(values).reshape(-1, 1)) == on_series


def test_detect_task_reasons_name_what_the_column_holds():
    assert detect_task(np.array([True, False] * 5)) == ("classify", "it holds true/false values")
    assert detect_task(np.array(["a", "b"] * 5)) == ("classify", "it holds text values")
    assert detect_task(np.array([1, 2, 1, 2] * 5)) == (
        "classify",
        "it holds 2 distinct whole numbers",
    )
    assert detect_task(np.linspace(0, 1, 20)) == (
        "regress",
        "it holds numbers with 20 distinct values",
    )
    assert detect_task(np.arange(40) % 4, max_classes=3)[0] == "regress"


def test_detect_task_refuses_a_table():
    with pytest.raises(ValueError, match=r"a target column must be 1-D, got shape \(4, 2\)"):
        detect_task(np.zeros((4, 2)))


def test_output_losses_gives_one_loss_per_output_in_outputs_order():
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 3, activation="tanh")(x)
    net = cr.Network(inputs=x, outputs=[cr.Dense(3, 2)(h), cr.Dense(3, 1)(h)], seed=0)
    assert output_losses(net) == [None, None]  # never fitted
    X = np.random.default_rng(0).normal(size=(8, 2))
    net.fit(X, [np.arange(8) % 2, X[:, :1]], loss=["cross_entropy", "mse"], epochs=1, verbose=0)
    assert output_losses(net) == ["cross_entropy", "mse"]
    seq = cr.Sequential(cr.Dense(2, 1), seed=0)
    seq.fit(X, X[:, 0], loss="huber", epochs=1, verbose=0)
    assert output_losses(seq) == ["huber"]

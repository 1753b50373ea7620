"""Preprocessor: one-hot encoding, imputation, standardisation, targets, JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from chainrule.preprocessing import (  # noqa: E402
    MissingValuesError,
    Preprocessor,
    detect_task,
)


def _table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["oslo", "paris", "rome"], n),
            "member": rng.random(n) > 0.5,
            "label": rng.choice(["no", "yes"], n),
            "price": rng.normal(1000, 200, n),
        }
    )


def test_encoding_one_hot_and_standardises_every_column():
    df = _table()
    pre = Preprocessor(target="label", ignore=["price"]).fit(df)
    assert pre.task == "classify" and pre.classes == ["no", "yes"]
    assert pre.feature_names == ["age", "city=oslo", "city=paris", "city=rome", "member"]
    encoded, kept = pre.encode(df)
    assert kept.all()
    np.testing.assert_array_equal(encoded[:, 0], df["age"].to_numpy())
    np.testing.assert_array_equal(encoded[:, 1], (df["city"] == "oslo").to_numpy(float))
    np.testing.assert_array_equal(encoded[:, 4], df["member"].to_numpy(float))
    X = pre.transform(df)
    # every network input, one-hot columns included, has mean 0 and std 1 on the fit rows
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(X, (encoded - pre.mean) / pre.scale)
    assert len(pre.mean) == len(pre.scale) == pre.n_features == X.shape[1]


def test_statistics_come_from_the_fit_rows_only():
    df = _table(50)
    rows = np.arange(30)
    pre = Preprocessor(target="label", ignore=["price"]).fit(df, rows=rows)
    assert pre.mean[0] == pytest.approx(df["age"].iloc[:30].mean())
    assert pre.scale[0] == pytest.approx(df["age"].iloc[:30].std(ddof=0))


def test_constant_column_gets_scale_one():
    df = _table()
    df["const"] = 3.0
    pre = Preprocessor(target="label").fit(df)
    j = pre.feature_names.index("const")
    assert pre.scale[j] == 1.0 and pre.mean[j] == 3.0
    assert np.all(pre.transform(df)[:, j] == 0)


def test_unknown_category_encodes_as_zeros_with_a_warning():
    df = _table()
    pre = Preprocessor(target="label").fit(df)
    new = df.head(3).copy()
    new.loc[new.index[0], "city"] = "lima"
    encoded, _ = pre.encode(new)
    assert encoded[0, 2:5].tolist() == [0.0, 0.0, 0.0]
    assert any("lima" in w and "not seen in training" in w for w in pre.warnings)


def test_missing_values_need_a_policy():
    df = _table()
    df.loc[[1, 2], "age"] = np.nan
    df.loc[[5], "city"] = None
    with pytest.raises(MissingValuesError) as info:
        Preprocessor(target="label").fit(df)
    assert info.value.counts == {"age": 2, "city": 1}
    assert "impute=" in str(info.value)


@pytest.mark.parametrize("policy", ["mean", "median"])
def test_imputation_fills_with_training_statistics(policy):
    df = _table()
    df.loc[[1, 2], "age"] = np.nan
    df.loc[[5], "city"] = None
    pre = Preprocessor(target="label", impute=policy).fit(df)
    ages = df["age"].dropna()
    expected = ages.mean() if policy == "mean" else ages.median()
    encoded, kept = pre.encode(df)
    assert kept.all()
    assert encoded[1, 0] == pytest.approx(expected)
    most_frequent = df["city"].value_counts().index[0]
    j = pre.feature_names.index(f"city={most_frequent}")
    assert encoded[5, j] == 1.0


def test_drop_policy_leaves_out_incomplete_rows():
    df = _table()
    df.loc[[1, 2], "age"] = np.nan
    pre = Preprocessor(target="label", impute="drop").fit(df)
    X, kept = pre.transform(df, return_mask=True)
    assert kept.sum() == len(df) - 2 and not kept[1] and not kept[2]
    assert len(X) == len(df) - 2


def test_json_round_trip_gives_identical_transforms():
    df = _table()
    df.loc[[3], "age"] = np.nan
    pre = Preprocessor(target="label", impute="median").fit(df)
    data = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(data)
    np.testing.assert_array_equal(again.transform(df), pre.transform(df))
    np.testing.assert_array_equal(again.encode_target(df["label"]), pre.encode_target(df["label"]))
    assert again.classes == pre.classes and again.task == "classify"
    assert set(data) >= {"mean", "scale", "classes", "feature_names", "columns", "task"}


def test_newer_preprocessing_version_is_refused():
    pre = Preprocessor(target="label").fit(_table())
    data = pre.to_dict()
    data["version"] = 99
    with pytest.raises(ValueError, match="newer chainrule"):
        Preprocessor.from_dict(data)
    with pytest.raises(ValueError, match="no mean/scale"):
        Preprocessor.from_dict({"task": "classify"})


def test_classes_map_to_indices_and_back():
    df = pd.DataFrame({"x": np.arange(12.0), "y": ["b", "a", "c"] * 4})
    pre = Preprocessor(target="y").fit(df)
    assert pre.classes == ["a", "b", "c"]
    y = pre.encode_target(df["y"])
    assert y.tolist() == [1, 0, 2] * 4 and y.dtype == np.int64
    logits = np.eye(3)[y]
    assert pre.decode_target(logits).tolist() == df["y"].tolist()
    assert pre.decode_target(y).tolist() == df["y"].tolist()
    with pytest.raises(ValueError, match="classes the model does not know: 'z'"):
        pre.encode_target(pd.Series(["a", "z"]))


def test_integer_labels_tolerate_float_spelling():
    df = pd.DataFrame({"x": np.arange(20.0), "y": [0, 1, 2, 3] * 5})
    pre = Preprocessor(target="y").fit(df)
    assert pre.task == "classify" and pre.classes == [0, 1, 2, 3]
    assert pre.encode_target(pd.Series([3.0, 0.0])).tolist() == [3, 0]
    assert pre.encode_target(pd.Series(["2"])).tolist() == [2]


def test_regression_target_is_standardised_and_restored():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=60), "y": rng.normal(5000, 300, 60)})
    pre = Preprocessor(target="y").fit(df)
    assert pre.task == "regress" and pre.classes is None
    z = pre.encode_target(df["y"])
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1)
    np.testing.assert_allclose(pre.decode_target(z[:, None]), df["y"].to_numpy())


@pytest.mark.parametrize(
    "values, task",
    [
        (["a", "b"] * 10, "classify"),
        ([True, False] * 10, "classify"),
        ([0, 1, 2] * 10, "classify"),
        (list(np.linspace(0, 1, 30)), "regress"),
        (list(range(30)), "regress"),  # 30 distinct whole numbers in 30 rows: a quantity
        ([1.0, 2.0] * 15, "classify"),
    ],
)
def test_task_detection(values, task):
    detected, reason = detect_task(pd.Series(values))
    assert detected == task and reason


def test_target_errors_are_clear():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]})
    with pytest.raises(ValueError, match="single class \\('a'\\)"):
        Preprocessor(target="y").fit(df)
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="regression needs a numeric target.*--task classify"):
        Preprocessor(target="y", task="regress").fit(df)
    with pytest.raises(ValueError, match="unknown target column 'z'"):
        Preprocessor(target="z").fit(df)
    with pytest.raises(ValueError, match="no feature columns"):
        Preprocessor(target="y").fit(df[["y"]])


def test_transform_needs_the_training_columns():
    pre = Preprocessor(target="label").fit(_table())
    with pytest.raises(ValueError, match="no column\\(s\\) 'city'"):
        pre.transform(_table().drop(columns=["city"]))
    bad = _table()
    bad["age"] = "old"
    with pytest.raises(ValueError, match="should hold numbers"):
        pre.transform(bad)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="task must be"):
        Preprocessor(task="cluster")
    with pytest.raises(ValueError, match="impute must be"):
        Preprocessor(impute="zero")
    with pytest.raises(RuntimeError, match="not fitted"):
        Preprocessor().transform(_table())


def test_identity_preprocessor_passes_columns_through_and_checks_its_arguments():
    from chainrule.preprocessing import Preprocessor

    pre = Preprocessor.identity(["a", "b"], "classify", classes=[0, 1])
    d = pre.to_dict()
    assert d["feature_names"] == ["a", "b"] and d["mean"] == [0.0, 0.0] and d["scale"] == [1.0, 1.0]
    assert Preprocessor.from_dict(d).classes == [0, 1]
    reg = Preprocessor.identity(["x"], "regress").to_dict()
    assert reg["classes"] is None and (reg["target_mean"], reg["target_scale"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="task must be one of"):
        Preprocessor.identity(["a"], "cluster")
    with pytest.raises(ValueError, match="distinct and not empty"):
        Preprocessor.identity(["a", "a"], "regress")
    with pytest.raises(ValueError, match="a classifier needs its classes"):
        Preprocessor.identity(["a"], "classify")

"""One model, three doors: a model trained by `chainrule train` answers the same through
`chainrule predict`, `cr.load(...).predict(df)`, ONNX Runtime and the torch export.

The table has numeric columns on very different scales, a text column and
string class labels, so a door that skips the standardisation, the one-hot
encoding or the class names cannot agree by luck.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.preprocessing import Preprocessor

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "size": rng.normal(50.0, 20.0, n),  # far from standardised
            "weight": rng.normal(-3000.0, 800.0, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
        }
    )
    score = (df["size"] - 50) / 20 + 1.5 * (df["city"] == "rome") - (df["weight"] + 3000) / 800
    df["grade"] = np.where(score > 0.7, "high", np.where(score < -0.7, "low", "mid"))
    return df


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained through the CLI, and `chainrule predict --proba` on new rows."""
    folder = tmp_path_factory.mktemp("doors")
    _table(300, 0).to_csv(folder / "train.csv", index=False)
    new = _table(80, 1).drop(columns="grade")
    new.to_csv(folder / "new.csv", index=False)
    model = folder / "model.safetensors"
    args = ["train", str(folder / "train.csv"), "--target", "grade", "--epochs", "15"]
    assert cli.main([*args, "--seed", "0", "-q", "--out", str(model)]) == 0
    out = folder / "pred.csv"
    assert cli.main(["predict", str(model), str(folder / "new.csv"), "--proba", "--out", str(out)]) == 0  # fmt: skip
    answers = pd.read_csv(out)
    classes = [c[len("proba_") :] for c in answers.columns if c.startswith("proba_")]
    return {
        "folder": folder,
        "model": model,
        "new": pd.read_csv(folder / "new.csv"),
        "labels": answers["prediction"].to_numpy(dtype=object),
        "proba": answers[[f"proba_{c}" for c in classes]].to_numpy(),
        "classes": classes,
    }


def test_the_cli_answers_are_not_trivial(trained):
    assert trained["classes"] == ["high", "low", "mid"]
    assert len(set(trained["labels"])) == 3  # all three classes appear among the answers
    np.testing.assert_allclose(trained["proba"].sum(axis=1), 1.0, atol=1e-6)


def test_python_door_predict_on_a_raw_dataframe(trained):
    net = cr.load(trained["model"])
    labels = net.predict(trained["new"])
    assert labels.tolist() == trained["labels"].tolist()
    np.testing.assert_allclose(net.predict_proba(trained["new"]), trained["proba"], atol=1e-5)


def test_python_door_evaluate_matches_the_cli(trained, capsys):
    data = trained["folder"] / "train.csv"
    assert cli.main(["evaluate", str(trained["model"]), str(data), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)["metrics"]
    df = pd.read_csv(data)
    scores = cr.load(trained["model"]).evaluate(df.drop(columns="grade"), df["grade"])
    assert scores["loss"] == pytest.approx(report["loss"], rel=1e-6)
    assert scores["accuracy"] == pytest.approx(report["accuracy"])


def test_onnx_door_with_class_names(trained):
    ort = pytest.importorskip("onnxruntime")
    net = cr.load(trained["model"])
    path = trained["folder"] / "model.onnx"
    assert cli.main(["export", str(trained["model"]), "--to", "onnx", str(path)]) == 0
    session = ort.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    assert names == ["output", "probabilities", "label", "class_name"]  # net outputs first
    encoded, _ = Preprocessor.from_dict(net.preprocessing_).encode(trained["new"])
    output, proba, label, class_name = session.run(None, {"input": encoded.astype(np.float32)})
    assert class_name.tolist() == trained["labels"].tolist()
    assert [trained["classes"][k] for k in label] == trained["labels"].tolist()
    np.testing.assert_allclose(proba, trained["proba"], atol=1e-5)


def test_torch_door_with_the_preprocessing_inside(trained):
    torch = pytest.importorskip("torch")
    net = cr.load(trained["model"])
    path = trained["folder"] / "model.pt"
    assert cli.main(["export", str(trained["model"]), "--to", "torch", str(path)]) == 0
    module = torch.jit.load(str(path))
    encoded, _ = Preprocessor.from_dict(net.preprocessing_).encode(trained["new"])
    with torch.no_grad():
        logits = module(torch.tensor(encoded, dtype=torch.float32))
    proba = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(proba, trained["proba"], atol=1e-5)
    classes = net.preprocessing_["classes"]
    assert [classes[k] for k in proba.argmax(axis=1)] == trained["labels"].tolist()
    # the same module from Python, and back: from_torch reads the standardisation back
    again = cr.export.from_torch(cr.export.to_torch(net), loss="cross_entropy")
    X = encoded[:5]
    np.testing.assert_allclose(again.predict_proba(X), proba[:5], atol=1e-5)


def test_raw_numbers_are_standardised_or_refused(trained, tmp_path):
    """An array for a table with a text column is refused with what to pass; for an
    all-numeric table it is read as raw rows in the stored column order."""
    net = cr.load(trained["model"])
    with pytest.raises(ValueError, match="pass a pandas DataFrame with those columns"):
        net.predict(trained["new"][["size", "weight"]].to_numpy())
    df = _table(200, 2).drop(columns="city")
    df.to_csv(tmp_path / "numeric.csv", index=False)
    model = tmp_path / "numeric.safetensors"
    args = ["train", str(tmp_path / "numeric.csv"), "--target", "grade", "--epochs", "5"]
    assert cli.main([*args, "-q", "--out", str(model)]) == 0
    numeric = cr.load(model)
    rows = df.drop(columns="grade")
    np.testing.assert_array_equal(numeric.predict(rows.to_numpy()), numeric.predict(rows))
    np.testing.assert_allclose(
        numeric.predict_proba(rows.to_numpy()), numeric.predict_proba(rows), atol=1e-12
    )
    with pytest.raises(ValueError, match="X has 3 columns but .* expects the 2 column.s. 'size', 'weight'"):  # fmt: skip
        numeric.predict(np.zeros((2, 3)))


def test_a_dataframe_never_raises_attribute_error():
    net = cr.Sequential(cr.Dense(2, 3), seed=0)
    net.loss_ = "cross_entropy"
    df = pd.DataFrame({"a": [0.5, 1.0], "b": [2.0, -1.0]})
    np.testing.assert_array_equal(net.predict(df), net.predict(df.to_numpy()))
    np.testing.assert_array_equal(net(df), net(df.to_numpy()))
    with pytest.raises(TypeError, match="non-numeric column.s. 'b'"):
        net.predict(pd.DataFrame({"a": [0.5], "b": ["x"]}))
    with pytest.raises(TypeError, match="must hold numbers"):
        net(pd.DataFrame({"a": [0.5], "b": ["x"]}))


def test_a_regressor_answers_in_the_target_units_through_every_door(tmp_path):
    """The CLI standardises a regression target; every door gives values in its units."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"rooms": rng.integers(1, 8, 200), "area": rng.normal(90.0, 30.0, 200)})
    df["price"] = 40_000 * df["rooms"] + 2_000 * df["area"] + rng.normal(0, 5_000, 200)
    df.to_csv(tmp_path / "houses.csv", index=False)
    new = df.drop(columns="price").head(20)
    new.to_csv(tmp_path / "new.csv", index=False)
    model = tmp_path / "price.safetensors"
    args = ["train", str(tmp_path / "houses.csv"), "--target", "price", "--epochs", "10"]
    assert cli.main([*args, "-q", "--out", str(model)]) == 0
    out = tmp_path / "pred.csv"
    assert cli.main(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out)]) == 0
    expected = pd.read_csv(out)["prediction"].to_numpy()
    assert expected.std() > 10_000  # values in dollars, not standardised units
    net = cr.load(model)
    np.testing.assert_allclose(net.predict(new), expected, rtol=1e-5)
    np.testing.assert_allclose(net.predict(new.to_numpy()), expected, rtol=1e-5)
    X = new.to_numpy(dtype=np.float32)
    with torch.no_grad():
        values = cr.export.to_torch(net).eval()(torch.from_numpy(X)).numpy()[:, 0]
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    cr.export.to_onnx(net, tmp_path / "price.onnx")
    session = ort.InferenceSession(str(tmp_path / "price.onnx"))
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": X})))
    np.testing.assert_allclose(got["value"], expected, rtol=1e-5)
    back = cr.export.from_torch(cr.export.to_torch(net))  # Standardise and Rescale read back
    np.testing.assert_allclose(back.predict(X), expected, rtol=1e-5)


def test_rows_dropped_for_missing_values_answer_nothing_in_every_door(tmp_path):
    """A model trained with --impute drop leaves rows with missing values unanswered,
    from the CLI (an empty cell) and from Python (None, NaN probabilities) alike."""
    df = _table(200, 4)
    df.loc[::7, "size"] = np.nan
    df.to_csv(tmp_path / "train.csv", index=False)
    new = df.drop(columns="grade").head(30)
    new.to_csv(tmp_path / "new.csv", index=False)
    model = tmp_path / "m.safetensors"
    args = ["train", str(tmp_path / "train.csv"), "--target", "grade", "--impute", "drop"]
    assert cli.main([*args, "--epochs", "5", "-q", "--out", str(model)]) == 0
    out = tmp_path / "p.csv"
    assert cli.main(["predict", str(model), str(tmp_path / "new.csv"), "--proba", "--out", str(out)]) == 0  # fmt: skip
    expected = pd.read_csv(out)
    net = cr.load(model)
    labels = net.predict(new)
    missing = new["size"].isna().to_numpy()
    assert missing.sum() == 5 and all(v is None for v in labels[missing])
    assert expected["prediction"].isna().to_numpy().tolist() == missing.tolist()
    assert labels[~missing].tolist() == expected["prediction"][~missing].tolist()
    proba = net.predict_proba(new)
    assert np.isnan(proba[missing]).all()
    np.testing.assert_allclose(proba[~missing], expected.iloc[:, 1:].to_numpy()[~missing], atol=1e-6)  # fmt: skip

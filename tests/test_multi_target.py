"""Several regression targets: ``chainrule train --target a,b`` and the model it writes.

Each target is standardised on its own and de-standardised per column; the
network has one output per target; predict writes a column per target,
evaluate scores each, and ``cr.load(path).predict`` answers one column each.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli  # noqa: E402
from chainrule.preprocessing import Preprocessor  # noqa: E402


def run(capsys, *args):
    code = cli.main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _table(n, seed):
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    return pd.DataFrame({
        "x1": x1, "x2": x2, "x3": x3,
        "y1": 2 * x1 + 0.1 * rng.normal(size=n),  # scale ~2
        "y2": -100 * x2 + 5,                       # scale ~100, mean 5
        "kind": np.where(x3 > 0, "up", "down"),
        "flag": x3 > 0,
    })  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("multi")
    train, test = _table(400, 0), _table(200, 1)
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)
    code = cli.main(["train", str(d / "train.csv"), "--target", "y1,y2", "--ignore", "kind,flag",
                     "--out", str(d / "m.safetensors"), "--quiet"])  # fmt: skip
    assert code == 0
    return d, train, test


def _r2(true, pred):  # 1 - SS_res / SS_tot, by hand
    return 1 - np.sum((true - pred) ** 2) / np.sum((true - true.mean()) ** 2)


def test_predict_writes_one_column_per_target_each_well_fitted(capsys, trained):
    d, _, test = trained
    code, _, err = run(capsys, "predict", d / "m.safetensors", d / "test.csv",
                       "--out", d / "pred.csv")  # fmt: skip
    assert code == 0, err
    pred = pd.read_csv(d / "pred.csv")
    assert list(pred.columns) == ["y1", "y2"]
    for name in ("y1", "y2"):
        assert _r2(test[name].to_numpy(), pred[name].to_numpy()) > 0.95, name


def test_the_network_has_one_output_per_target_and_no_target_as_input(trained):
    d, _, _ = trained
    net = cr.load(d / "m.safetensors")
    assert net.n_outputs == 2 and net.loss_ == "mse"
    pre = Preprocessor.from_dict(net.preprocessing_)
    assert pre.feature_names == ["x1", "x2", "x3"] and pre.targets == ["y1", "y2"]
    stored = net.preprocessing_
    assert stored["target"] == ["y1", "y2"] and stored["version"] == 2


def test_evaluate_scores_each_target_and_the_mean(capsys, trained):
    d, _, test = trained
    code, out, err = run(capsys, "evaluate", d / "m.safetensors", d / "test.csv", "--json")
    assert code == 0, err
    report = json.loads(out)
    pred = cr.load(d / "m.safetensors").predict(test)
    for name in ("y1", "y2"):
        true = test[name].to_numpy()
        assert report["metrics"][f"r2[{name}]"] == pytest.approx(_r2(true, pred[name]), abs=1e-9)
        mae = np.mean(np.abs(true - pred[name].to_numpy()))
        assert report["metrics"][f"mae[{name}]"] == pytest.approx(mae, rel=1e-9)
    mean = (report["metrics"]["r2[y1]"] + report["metrics"]["r2[y2]"]) / 2
    assert report["metrics"]["mean r2"] == pytest.approx(mean)
    assert report["target"] == ["y1", "y2"]
    # labels under other names: one per target, in the model's order
    renamed = test.rename(columns={"y1": "a", "y2": "b"})
    renamed.to_csv(d / "renamed.csv", index=False)
    code, out, _ = run(capsys, "evaluate", d / "m.safetensors", d / "renamed.csv",
                       "--target", "a,b", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["metrics"] == report["metrics"]


def test_stored_scaling_matches_a_least_squares_fit(tmp_path, capsys):
    """A linear network on standardised targets, mapped back per column, is least squares."""
    df = _table(300, 2)
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "train", tmp_path / "t.csv", "--target", "y1,y2", "--ignore",
                       "kind,flag", "--hidden", "none", "--validation-split", "0", "--epochs",
                       "300", "--out", tmp_path / "lin.safetensors", "--quiet")  # fmt: skip
    assert code == 0, err
    net = cr.load(tmp_path / "lin.safetensors")
    Y = df[["y1", "y2"]].to_numpy()
    assert net.preprocessing_["target_mean"] == pytest.approx(Y.mean(axis=0).tolist())
    assert net.preprocessing_["target_scale"] == pytest.approx(Y.std(axis=0).tolist())
    A = np.c_[df[["x1", "x2", "x3"]].to_numpy(), np.ones(len(df))]
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
    reference = A @ coef
    pred = net.predict(df).to_numpy()
    for j in range(2):  # within 1% of each target's spread
        assert np.max(np.abs(pred[:, j] - reference[:, j])) < 0.01 * Y[:, j].std(), j


def test_three_doors_answer_one_column_per_target(capsys, trained):
    d, _, test = trained
    path = d / "m.safetensors"
    net = cr.load(path)
    framed = net.predict(test.set_index(np.arange(100, 300)))
    assert list(framed.columns) == ["y1", "y2"] and framed.index[0] == 100
    raw = test[["x1", "x2", "x3"]].to_numpy()  # every input numeric: raw rows, stored order
    plain = net.predict(raw)
    assert plain.shape == (200, 2)
    np.testing.assert_allclose(plain, framed.to_numpy())
    code, out, _ = run(capsys, "predict", path, d / "test.csv")  # the CLI's door: same numbers
    assert code == 0
    cli_pred = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(cli_pred[["y1", "y2"]].to_numpy(), plain, rtol=1e-6, atol=1e-9)
    # saving again and loading gives the same answers and the same description
    cr.save(net, d / "again.safetensors")
    again = cr.load(d / "again.safetensors")
    assert again.preprocessing_ == net.preprocessing_
    np.testing.assert_array_equal(again.predict(raw), plain)
    ev = net.evaluate(test, test[["y1", "y2"]])
    assert ev["loss"] == pytest.approx(net.evaluate(test, test[["y1", "y2"]].to_numpy())["loss"])


def test_a_one_target_file_as_older_chainrule_wrote_it_still_loads(tmp_path):
    net = cr.Sequential(cr.Dense(2, 1), seed=0)
    net.fit(np.zeros((4, 2)), np.zeros(4), loss="mse", epochs=1)
    net.preprocessing_ = {  # version 1: one target, its mean and scale as numbers
        "version": 1, "task": "regress", "target": "price", "impute": None, "ignore": [],
        "columns": [{"name": "a", "kind": "numeric", "fill": 0.0},
                    {"name": "b", "kind": "numeric", "fill": 0.0}],
        "feature_names": ["a", "b"], "mean": [1.0, 2.0], "scale": [2.0, 4.0],
        "classes": None, "target_mean": 100.0, "target_scale": 10.0,
    }  # fmt: skip
    cr.save(net, tmp_path / "old.safetensors")
    old = cr.load(tmp_path / "old.safetensors")
    X = np.array([[3.0, 6.0], [1.0, 2.0]])
    by_hand = net((X - [1.0, 2.0]) / [2.0, 4.0])[:, 0] * 10.0 + 100.0
    np.testing.assert_allclose(old.predict(X), by_hand, rtol=1e-6)
    assert old.predict(pd.DataFrame(X, columns=["a", "b"])).shape == (2,)


def test_a_file_written_by_chainrule_before_several_targets_still_predicts(capsys):
    """tests/data/regress_d80d84a.*: written by ``chainrule train`` and ``predict`` at d80d84a.

    ``chainrule -q train regress_d80d84a.csv --target price --hidden 8 --epochs 20 --seed 0``,
    then ``chainrule -q predict`` of the same table into ``regress_d80d84a_expected.csv``.
    """
    from pathlib import Path

    data = Path(__file__).parent / "data"
    net = cr.load(data / "regress_d80d84a.safetensors")
    assert net.preprocessing_["version"] == 1 and net.preprocessing_["target"] == "price"
    want = pd.read_csv(data / "regress_d80d84a_expected.csv")["prediction"].to_numpy()
    table = pd.read_csv(data / "regress_d80d84a.csv")
    np.testing.assert_allclose(net.predict(table), want, rtol=1e-6)
    code, out, _ = run(capsys, "-q", "predict", data / "regress_d80d84a.safetensors",
                       data / "regress_d80d84a.csv")  # fmt: skip
    got = pd.read_csv(io.StringIO(out))
    assert code == 0 and list(got.columns) == ["prediction"]
    np.testing.assert_allclose(got["prediction"].to_numpy(), want, rtol=1e-6)


def test_a_one_target_model_still_writes_version_1(tmp_path, capsys):
    _table(60, 3).to_csv(tmp_path / "t.csv", index=False)
    code, _, _ = run(capsys, "train", tmp_path / "t.csv", "--target", "y1", "--epochs", "1",
                     "--out", tmp_path / "one.safetensors", "--quiet")  # fmt: skip
    stored = cr.load(tmp_path / "one.safetensors").preprocessing_
    assert code == 0 and stored["version"] == 1 and stored["target"] == "y1"
    assert isinstance(stored["target_mean"], float)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--target", "y1,kind"], 1,
         "several targets are regressed together (one network output each), but 'kind' holds "
         "text values; train one classifier per target instead (--target kind, with the other "
         "targets in --ignore)"),
        (["--target", "y1,flag"], 1, "but 'flag' holds true/false values; train one classifier"),
        (["--target", "y1", "--target", "y2"], 2,
         "argument --target: given twice; name several regression targets once, comma "
         "separated: --target a,b"),
        (["--target", "y1,nope"], 1, "unknown target column 'nope' in"),
        (["--target", "y1,y1"], 2, "--target y1,y1: a column is named twice"),
        (["--target", "y1,y2", "--task", "classify"], 2,
         "--task classify: several targets are regressed together; train one classifier per "
         "target"),
        (["--target", "y1,y2", "--ignore", "y2"], 2, "the target 'y2' cannot also be in --ignore"),
        (["--target", "y1,y2", "--sample-weight", "y2"], 2,
         "the target 'y2' cannot also be the --sample-weight column"),
        (["--target", "y1,y2", "--class-weight", "balanced", "--ignore", "kind,flag"], 1,
         "--class-weight needs a classification target"),
    ],
)  # fmt: skip
def test_errors_are_one_line(tmp_path, capsys, args, code, message):
    _table(60, 4).to_csv(tmp_path / "t.csv", index=False)
    got, out, err = run(capsys, "train", tmp_path / "t.csv", *args, "--out",
                        tmp_path / "m.safetensors")  # fmt: skip
    last = err.strip().splitlines()[-1]  # notes may come first; the error is one line
    assert got == code and last.startswith("chainrule: error: ") and message in last
    assert "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_evaluate_refuses_the_wrong_number_of_label_columns(capsys, trained):
    d, _, _ = trained
    code, _, err = run(capsys, "evaluate", d / "m.safetensors", d / "test.csv", "--target", "y1")
    assert (
        code == 2
        and (
            "--target names 1 column(s) but this model predicts 2 ('y1', 'y2'); name one label "
            "column per target, comma separated, in that order"
        )
        in err
    )


def test_python_errors_name_the_columns():
    df = _table(40, 5)
    with pytest.raises(ValueError, match="several targets are for regression"):
        Preprocessor(target=["y1", "y2"], task="classify")
    with pytest.raises(ValueError, match="target must name distinct columns"):
        Preprocessor(target=["y1", "y1"])
    pre = Preprocessor(target=["y1", "y2"], ignore=["kind", "flag"]).fit(df)
    with pytest.raises(TypeError, match=r"pass a DataFrame with the columns \['y1', 'y2'\]"):
        pre.encode_target(df["y1"])
    with pytest.raises(ValueError, match="outputs have 1 column"):
        pre.decode_target(np.zeros((3, 1)))
    bad = pre.to_dict()
    bad["target_scale"] = [1.0]
    with pytest.raises(ValueError, match=r"'target_scale' must list one number per target \(2\)"):
        Preprocessor.from_dict(bad)


def test_other_commands_on_a_multi_target_model(capsys, trained):
    d, _, _ = trained
    model, data = d / "m.safetensors", d / "test.csv"
    code, _, err = run(capsys, "evaluate", model, data, "--target", "y1", "--target", "y2")
    assert code == 2 and "given twice; name several regression targets once" in err
    code, _, err = run(capsys, "plot", model, data, "--kind", "scatter", "--out", d / "s.png")
    assert code == 2 and "--kind scatter draws one target, this model predicts 2" in err
    code, _, err = run(capsys, "train", d / "train.csv", "--target", "y2,y1", "--ignore",
                       "kind,flag", "--resume", model, "--out", d / "r.safetensors")  # fmt: skip
    assert code == 2 and "it predicts ['y1', 'y2'], not --target ['y2', 'y1']" in err
    code, _, err = run(capsys, "train", d / "train.csv", "--target", "y1,y2", "--ignore",
                       "kind,flag", "--dry-run")  # fmt: skip
    assert code == 0 and "task: regress (2 numeric targets, regressed together)" in err


def test_exports_rescale_each_output_column(tmp_path, trained):
    torch = pytest.importorskip("torch")
    from chainrule import export
    from chainrule.answers import stored_preprocessor

    d, _, test = trained
    net = cr.load(d / "m.safetensors")
    want = net.predict(test).to_numpy()
    encoded, _ = stored_preprocessor(net).encode(test)  # the exports standardise themselves
    module = torch.jit.script(export.to_torch(net).eval())
    got = module(torch.tensor(encoded, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.abs(want).max())
    back = export.from_torch(export.to_torch(net))
    assert back.preprocessing_["target_scale"] == pytest.approx(net.preprocessing_["target_scale"])
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    export.to_onnx(net, str(tmp_path / "m.onnx"))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    value = session.run(["value"], {"input": encoded.astype(np.float32)})[0]
    np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-4 * np.abs(want).max())

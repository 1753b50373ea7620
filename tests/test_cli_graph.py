"""The CLI on graph-network model files: what it can do, and a clear refusal for the rest."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli  # noqa: E402


@pytest.fixture
def two_by_two(tmp_path):
    """A network with two inputs and two outputs, trained a little, and a 5-column table."""
    rng = np.random.default_rng(0)
    a, b = cr.Input(3, name="num"), cr.Input(2, name="extra")
    h = cr.Dense(5, 8, activation="relu")(cr.Concatenate()(a, b))
    net = cr.Network(inputs=[a, b], outputs=[cr.Dense(8, 2)(h), cr.Dense(8, 1)(h)], seed=0)
    A, B = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    targets = [(A[:, 0] > 0).astype(int), A[:, 1:2]]
    net.fit({"num": A, "extra": B}, targets, loss=["cross_entropy", "mse"], epochs=2, verbose=0)
    net.save(tmp_path / "two.safetensors")
    pd.DataFrame(np.c_[A, B], columns=list("abcde")).to_csv(tmp_path / "two.csv", index=False)
    return tmp_path


def _run(args, capsys):
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_of_a_two_output_network_lists_its_connections(two_by_two, capsys):
    code, out, err = _run(["summary", two_by_two / "two.safetensors", "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["loss"] == ["cross_entropy", "mse"] and info["task"] is None
    assert info["n_inputs"] == [3, 2] and info["n_parameters"] == 75


@pytest.mark.parametrize("target", ["e", "a,e"])
def test_diagnose_refuses_several_inputs_and_points_to_predict_and_evaluate(
    two_by_two, capsys, target
):
    args = ["diagnose", two_by_two / "two.safetensors", two_by_two / "two.csv", "--target", target]
    code, out, err = _run(args, capsys)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "diagnose reads one table into one input and one target" in lines[0]
    assert "2 input(s) ['num' (3 columns), 'extra' (2 columns)]" in lines[0]
    assert (
        "chainrule predict and chainrule evaluate work on it with "
        '--inputs "num=<3 columns>;extra=<2 columns>"' in lines[0]
    )


def _predict(folder, capsys, *extra, model="two.safetensors"):
    code, out, err = _run(["predict", folder / model, folder / "two.csv", *extra], capsys)
    assert code == 0, err
    return pd.read_csv(io.StringIO(out))


def _by_hand(folder, model="two.safetensors", num="cab", extra="ed"):
    """net.predict / predict_proba in Python on the columns --inputs names."""
    net = cr.load(folder / model)
    table = pd.read_csv(folder / "two.csv")
    feeds = {"num": table[list(num)].to_numpy(), "extra": table[list(extra)].to_numpy()}
    return net, feeds


def test_predict_with_inputs_equals_net_predict_on_the_same_columns(two_by_two, capsys):
    got = _predict(two_by_two, capsys, "--inputs", "num=c,a,b; extra=e,d")
    net, feeds = _by_hand(two_by_two)
    labels, values = net.predict(feeds)
    assert list(got.columns) == ["dense_1", "dense_2"] == net.output_names
    assert got["dense_1"].tolist() == labels.tolist()  # class labels: exact
    assert 0 < labels.sum() < len(labels)  # both classes occur: the check can fail
    np.testing.assert_allclose(got["dense_2"], values, rtol=1e-6, atol=1e-6)
    # another column order gives other answers: the mapping is really read
    plain = _predict(two_by_two, capsys, "--inputs", "num=a,b,c;extra=d,e")
    assert not np.allclose(plain["dense_2"], got["dense_2"])


def test_predict_proba_writes_each_classifier_outputs_probabilities(two_by_two, capsys):
    got = _predict(two_by_two, capsys, "--inputs", "num=c,a,b;extra=e,d", "--proba")
    net, feeds = _by_hand(two_by_two)
    proba, none = net.predict_proba(feeds)
    assert none is None  # the mse output has no probabilities, so no columns
    assert list(got.columns) == ["dense_1", "dense_2", "dense_1_p[0]", "dense_1_p[1]"]
    np.testing.assert_allclose(got[["dense_1_p[0]", "dense_1_p[1]"]], proba, atol=1e-6)
    assert (got["dense_1"] == got[["dense_1_p[0]", "dense_1_p[1]"]].to_numpy().argmax(1)).all()


def test_predict_applies_the_stored_per_input_and_output_scaling(two_by_two, capsys):
    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {
        "mean": {"num": [1.0, 2.0, 3.0]},
        "scale": {"num": [2.0, 2.0, 4.0]},
        "target_mean": {"dense_2": 10.0},
        "target_scale": {"dense_2": 3.0},
    }
    net.save(two_by_two / "scaled.safetensors")
    got = _predict(
        two_by_two, capsys, "--inputs", "num=a,b,c;extra=d,e", model="scaled.safetensors"
    )
    _, feeds = _by_hand(two_by_two, num="abc", extra="de")
    # independent arithmetic: the bare network on (x - mean) / scale, then * 3 + 10
    bare = cr.load(two_by_two / "two.safetensors")
    scaled = {"num": (feeds["num"] - [1.0, 2.0, 3.0]) / [2.0, 2.0, 4.0], "extra": feeds["extra"]}
    logits, value = bare(scaled)
    assert got["dense_1"].tolist() == logits.argmax(1).tolist()
    np.testing.assert_allclose(got["dense_2"], value[:, 0] * 3.0 + 10.0, rtol=1e-6, atol=1e-5)


def test_predict_refuses_stored_scaling_it_cannot_apply(two_by_two, capsys):
    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {"mean": [0.0, 0.0, 0.0], "scale": [2.0, 2.0, 2.0]}  # one, 2 inputs
    net.save(two_by_two / "bad.safetensors")
    args = ["predict", two_by_two / "bad.safetensors", two_by_two / "two.csv"]
    code, out, err = _run([*args, "--inputs", "num=a,b,c;extra=d,e"], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert "the stored preprocessing cannot be applied" in lines[0]
    assert "holds one 'mean'/'scale' but the network has 2 inputs" in lines[0]


@pytest.mark.parametrize(
    "spec, message",
    [
        (None, 'say which columns feed each with --inputs "num=<3 columns>;extra=<2 columns>"'),
        ("num=a,b,c;other=d,e", "the network has no input 'other'; its inputs are 'num' (3"),
        ("num=a,b,c", "no columns for input(s) 'extra'; give every input: --inputs \"num=<3"),
        ("num=a,b;extra=d,e", "input 'num' takes 3 columns but --inputs gives 2 (a, b)"),
        ("num=a,b,c;extra=d,x", "unknown column 'x'; the columns are: 'a', 'b', 'c', 'd', 'e'"),
        ("num=a,b,c;extra=c,e", "column 'c' is used twice (for 'num' and 'extra')"),
        ("num=a,b,c;num=d,e", "input 'num' is named twice"),
        ("num=a,b,c;extra", "'extra' is not NAME=col,col"),
    ],
)
def test_predict_refuses_a_wrong_inputs_option_in_one_line(two_by_two, capsys, spec, message):
    args = ["predict", two_by_two / "two.safetensors", two_by_two / "two.csv"]
    code, out, err = _run(args + ([] if spec is None else ["--inputs", spec]), capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert message in lines[0]


def test_predict_refuses_text_and_missing_cells(two_by_two, capsys):
    table = pd.read_csv(two_by_two / "two.csv")
    table["t"] = "x"
    table.loc[3, "d"] = np.nan
    table.to_csv(two_by_two / "two.csv", index=False)
    args = ["predict", two_by_two / "two.safetensors", two_by_two / "two.csv", "--inputs"]
    code, _, err = _run([*args, "num=a,b,t;extra=d,e"], capsys)
    assert code == 1 and err.count("\n") == 1 and "column(s) 't' are not numeric" in err
    code, _, err = _run([*args, "num=a,b,c;extra=d,e"], capsys)
    assert code == 1 and "column 'd' (input 'extra') has missing values" in err


def test_one_input_graph_networks_predict_without_inputs(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = cr.Input(3, name="x")
    h = cr.Dense(3, 3, activation="tanh")(x)
    skip = cr.Add()(x, h)
    one = cr.Network(inputs=x, outputs=cr.Dense(3, 1)(skip), seed=1)
    two = cr.Network(inputs=x, outputs=[cr.Dense(3, 3)(skip), cr.Dense(3, 2)(skip)], seed=2)
    X = rng.normal(size=(30, 3))
    one.fit(X, X[:, :1], loss="mse", epochs=1, verbose=0)
    two.fit(
        X,
        [(X[:, 0] > 0) + (X[:, 1] > 0), X[:, 1:]],
        loss=["cross_entropy", "mse"],
        epochs=1,
        verbose=0,
    )
    one.save(tmp_path / "one.safetensors")
    two.save(tmp_path / "two.safetensors")
    pd.DataFrame(X, columns=list("abc")).to_csv(tmp_path / "two.csv", index=False)
    got = _predict(tmp_path, capsys, model="one.safetensors")
    assert list(got.columns) == ["prediction"]
    np.testing.assert_allclose(got["prediction"], one.predict(X), rtol=1e-6, atol=1e-6)
    got = _predict(tmp_path, capsys, model="two.safetensors")
    labels, values = two.predict(X)
    names = two.output_names
    assert list(got.columns) == [names[0], f"{names[1]}[0]", f"{names[1]}[1]"]
    assert got[names[0]].tolist() == labels.tolist()
    np.testing.assert_allclose(got.iloc[:, 1:], values, rtol=1e-6, atol=1e-6)


def test_export_of_a_two_output_network_to_onnx_matches_the_network(two_by_two, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = two_by_two / "two.onnx"
    code, _, err = _run(["export", two_by_two / "two.safetensors", path, "--to", "onnx"], capsys)
    assert code == 0, err
    net = cr.load(two_by_two / "two.safetensors")
    X = pd.read_csv(two_by_two / "two.csv").to_numpy(np.float32)
    feeds = {"num": X[:, :3], "extra": X[:, 3:]}
    got = ort.InferenceSession(str(path)).run(None, feeds)
    want = net([X[:, :3], X[:, 3:]])
    for g, w in zip(got[:2], want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_export_refusal_names_the_flag_and_the_flag_exports_the_network_alone(two_by_two, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {"mean": [0.0, 0.0, 0.0], "scale": [2.0, 2.0, 2.0]}  # one mean, 2 inputs
    net.save(two_by_two / "scaled.safetensors")
    path = two_by_two / "scaled.onnx"
    code, out, err = _run(
        ["export", two_by_two / "scaled.safetensors", path, "--to", "onnx"], capsys
    )
    assert code != 0 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Pass --no-preprocessing to export" in lines[0]
    assert "preprocessing=False" not in lines[0] and not path.exists()
    args = ["export", two_by_two / "scaled.safetensors", path, "--to", "onnx", "--no-preprocessing"]
    code, _, err = _run(args, capsys)
    assert code == 0, err
    X = pd.read_csv(two_by_two / "two.csv").to_numpy(np.float32)
    got = ort.InferenceSession(str(path)).run(None, {"num": X[:, :3], "extra": X[:, 3:]})
    for g, w in zip(got[:2], net([X[:, :3], X[:, 3:]])):  # net(...) alone: no scaling
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_summary_says_which_inputs_and_outputs_a_stored_scaling_covers(two_by_two, capsys):
    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {"mean": {"extra": [1.0, 2.0]}, "scale": {"extra": [2.0, 2.0]}}
    net.save(two_by_two / "scaled.safetensors")
    net.preprocessing_ = {"mean": [0.0, 0.0, 0.0], "scale": [2.0, 2.0, 2.0]}  # one, 2 inputs
    net.save(two_by_two / "bad.safetensors")
    code, out, err = _run(["summary", two_by_two / "scaled.safetensors"], capsys)
    assert code == 0, err
    assert "(x - mean) / scale stored for input(s) ['extra']" in out
    assert "target_mean for output(s) none" in out
    code, out, err = _run(["summary", two_by_two / "bad.safetensors"], capsys)
    assert code == 0, err
    assert "preprocessing: stored, but it cannot be applied: net.preprocessing_ holds one" in out


def test_predict_help_shows_the_inputs_option_with_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert 'chainrule predict graph.safetensors new.csv --inputs "num=a,b,c;extra=d,e"' in out
    assert '"NAME=col,col;NAME=col"' in out


def test_proba_on_outputs_without_probabilities_is_refused(two_by_two, capsys):
    rng = np.random.default_rng(2)
    a, b = cr.Input(3, name="num"), cr.Input(2, name="extra")
    h = cr.Concatenate()(a, b)
    net = cr.Network(inputs=[a, b], outputs=[cr.Dense(5, 1)(h), cr.Dense(5, 1)(h)], seed=0)
    A, B = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    net.fit([A, B], [A[:, :1], B[:, :1]], loss=["mse", "mae"], epochs=1, verbose=0)
    net.save(two_by_two / "reg.safetensors")
    args = ["predict", two_by_two / "reg.safetensors", two_by_two / "two.csv"]
    code, out, err = _run([*args, "--inputs", "num=a,b,c;extra=d,e", "--proba"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--proba needs an output trained with cross_entropy or binary_cross_entropy" in err


def test_predict_feeds_an_embedded_category_column_and_refuses_unknown_codes(tmp_path, capsys):
    rng = np.random.default_rng(3)
    num, cat = cr.Input(2, name="num"), cr.Input(1, name="cat")
    h = cr.Concatenate()(num, cr.Embedding(4, 3)(cat))
    net = cr.Network(inputs=[num, cat], outputs=cr.Dense(5, 3)(h), seed=0)
    N, C = rng.normal(size=(30, 2)), rng.integers(0, 4, size=(30, 1))
    net.fit({"num": N, "cat": C}, C[:, 0] % 3, loss="cross_entropy", epochs=3, verbose=0)
    net.save(tmp_path / "emb.safetensors")
    table = pd.DataFrame({"k": C[:, 0], "a": N[:, 0], "b": N[:, 1]})
    table.to_csv(tmp_path / "two.csv", index=False)
    got = _predict(
        tmp_path, capsys, "--inputs", "num=a,b;cat=k", "--proba", model="emb.safetensors"
    )
    assert list(got.columns) == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert got["prediction"].tolist() == net.predict({"num": N, "cat": C}).tolist()
    np.testing.assert_allclose(got.iloc[:, 1:], net.predict_proba([N, C]), atol=1e-6)
    table.loc[4, "k"] = 7
    table.to_csv(tmp_path / "two.csv", index=False)
    args = ["predict", tmp_path / "emb.safetensors", tmp_path / "two.csv", "--inputs"]
    code, out, err = _run([*args, "num=a,b;cat=k"], capsys)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "Embedding code 7 is out of range" in err and "codes must lie in 0..3" in err


def _labelled(folder, label=None, value=None):
    """two.csv plus a label column (class 1 when a > 0.3: some answers are wrong) and b*2."""
    table = pd.read_csv(folder / "two.csv")
    table["label"] = (table["a"] > 0.3).astype(int) if label is None else label
    table["value"] = table["b"] * 2 if value is None else value
    table.to_csv(folder / "labelled.csv", index=False)
    return table


def _evaluate(folder, capsys, *extra, model="two.safetensors"):
    return _run(["evaluate", folder / model, folder / "labelled.csv", *extra], capsys)


def _one_line(code, out, err, want_code):
    lines = err.strip().splitlines()
    assert code == want_code and out == "" and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_evaluate_scores_each_output_as_sklearn_does_on_net_predict(two_by_two, capsys):
    from sklearn import metrics as sk

    table = _labelled(two_by_two)
    inputs = ["--inputs", "num=c,a,b;extra=e,d"]
    code, out, err = _evaluate(two_by_two, capsys, *inputs, "--target", "label,value", "--json")
    assert code == 0, err
    got = json.loads(out)
    net, feeds = _by_hand(two_by_two, num="cab", extra="ed")
    labels, values = net.predict(feeds)
    y, v = table["label"].to_numpy(), table["value"].to_numpy()
    assert 0 < sk.accuracy_score(y, labels) < 1  # neither trivially right nor wrong
    want = {
        "dense_1": {"accuracy": sk.accuracy_score(y, labels), "f1": sk.f1_score(y, labels)},
        "dense_2": {
            "mse": sk.mean_squared_error(v, values),
            "rmse": np.sqrt(sk.mean_squared_error(v, values)),
            "mae": sk.mean_absolute_error(v, values),
            "r2": sk.r2_score(v, values),
        },
    }
    assert got["metrics"].keys() == want.keys()
    for output, scores in want.items():
        assert got["metrics"][output].keys() == scores.keys()
        for key, value in scores.items():
            assert abs(got["metrics"][output][key] - value) <= 1e-9, (output, key)
    assert got["target"] == {"dense_1": "label", "dense_2": "value"} and got["rows"] == 40
    assert got["task"] == {"dense_1": "multiclass", "dense_2": "regression"}
    # the table: one column per output, in outputs order
    code, out, err = _evaluate(two_by_two, capsys, *inputs, "--target", "label,value")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["metric", "dense_1", "dense_2"]
    accuracy = next(line for line in lines if line.startswith("accuracy")).split()
    assert accuracy[1] == f"{want['dense_1']['accuracy']:.4f}"


def test_evaluate_undoes_the_stored_target_scaling_before_scoring(two_by_two, capsys):
    from sklearn.metrics import mean_absolute_error

    net = cr.load(two_by_two / "two.safetensors")
    net.preprocessing_ = {"target_mean": {"dense_2": 10.0}, "target_scale": {"dense_2": 3.0}}
    net.save(two_by_two / "scaled.safetensors")
    table = _labelled(two_by_two)
    args = ["--inputs", "num=a,b,c;extra=d,e", "--target", "label,value", "--json"]
    code, out, err = _evaluate(two_by_two, capsys, *args, model="scaled.safetensors")
    assert code == 0, err
    _, feeds = _by_hand(two_by_two, num="abc", extra="de")
    _, raw = cr.load(two_by_two / "two.safetensors")(feeds)
    want = mean_absolute_error(table["value"], raw[:, 0] * 3.0 + 10.0)  # in the target's units
    assert abs(json.loads(out)["metrics"]["dense_2"]["mae"] - want) <= 1e-6 * want


def test_evaluate_one_output_scores_macro_f1_for_three_classes(tmp_path, capsys):
    from sklearn import metrics as sk

    rng = np.random.default_rng(1)
    a, b = cr.Input(2, name="left"), cr.Input(1, name="right")
    out = cr.Dense(3, 3)(cr.Concatenate()(a, b))
    net = cr.Network(inputs=[a, b], outputs=out, seed=0)
    X = rng.normal(size=(60, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 2], [-0.5, 0.5])
    net.fit({"left": X[:, :2], "right": X[:, 2:]}, y, loss="cross_entropy", epochs=3, verbose=0)
    net.save(tmp_path / "three.safetensors")
    pd.DataFrame({"p": X[:, 0], "q": X[:, 1], "r": X[:, 2], "y": y}).to_csv(
        tmp_path / "three.csv", index=False
    )
    args = ["evaluate", tmp_path / "three.safetensors", tmp_path / "three.csv"]
    code, text, err = _run(
        [*args, "--inputs", "left=p,q;right=r", "--target", "y", "--json"], capsys
    )
    assert code == 0, err
    got = json.loads(text)["metrics"][net.output_names[0]]
    pred = net.predict({"left": X[:, :2], "right": X[:, 2:]})
    assert len(set(pred.tolist())) > 1 and 0 < sk.accuracy_score(y, pred) < 1
    assert abs(got["accuracy"] - sk.accuracy_score(y, pred)) <= 1e-9
    assert abs(got["f1"] - sk.f1_score(y, pred, average="macro")) <= 1e-9


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--target", "label"],
            "--target names 1 column(s) but this network has 2 output(s) (dense_1, dense_2)",
        ),
        (["--target", "label,value,a"], "--target names 3 column(s) but this network has 2"),
        ([], "give --target with one column per output, in this order: dense_1, dense_2"),
        (["--target", "label,nope"], "nope"),
    ],
)
def test_evaluate_refuses_a_wrong_number_of_targets_in_one_line(two_by_two, capsys, extra, message):
    _labelled(two_by_two)
    code, out, err = _evaluate(two_by_two, capsys, "--inputs", "num=a,b,c;extra=d,e", *extra)
    assert message in _one_line(code, out, err, 1 if "nope" in message else 2)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (None, 'with --inputs "num=<3 columns>;extra=<2 columns>"'),
        ("num=a,b;extra=d,e", "input 'num' takes 3 columns but --inputs gives 2 (a, b)"),
        ("num=a,b,c;extra=d,zz", "unknown column 'zz'"),
    ],
)
def test_evaluate_refuses_a_wrong_inputs_option_in_one_line(two_by_two, capsys, inputs, message):
    _labelled(two_by_two)
    extra = [] if inputs is None else ["--inputs", inputs]
    code, out, err = _evaluate(two_by_two, capsys, *extra, "--target", "label,value")
    assert message in _one_line(code, out, err, 2)


@pytest.mark.parametrize(
    "label, message",
    [
        (
            0.5,
            "target 'label' holds 0.5, but output 'dense_1' (multiclass) predicts the integer "
            "labels 0..1",
        ),
        (2, "target 'label' holds 2, but output 'dense_1'"),
        (-1, "target 'label' holds -1"),
        ("yes", "target 'label' (output 'dense_1') is not numeric; it must hold integer labels"),
    ],
)
def test_evaluate_refuses_labels_the_classifier_output_cannot_predict(
    two_by_two, capsys, label, message
):
    labels = np.zeros(40, dtype=object)
    labels[7] = label
    _labelled(two_by_two, label=labels)
    args = ["--inputs", "num=a,b,c;extra=d,e", "--target", "label,value"]
    assert message in _one_line(*_evaluate(two_by_two, capsys, *args), 1)


def test_evaluate_leaves_out_rows_without_a_target_and_says_so(two_by_two, capsys):
    from sklearn.metrics import r2_score

    values = pd.read_csv(two_by_two / "two.csv")["b"].to_numpy() * 2
    values[[3, 9]] = np.nan
    _labelled(two_by_two, value=values)
    args = ["--inputs", "num=a,b,c;extra=d,e", "--target", "label,value", "--json"]
    code, out, err = _evaluate(two_by_two, capsys, *args)
    assert code == 0, err
    assert "ignored 2 row(s) with no value in label, value" in err
    got = json.loads(out)
    net, feeds = _by_hand(two_by_two, num="abc", extra="de")
    keep = ~np.isnan(values)
    _, pred = net.predict({k: v[keep] for k, v in feeds.items()})
    assert got["rows"] == 38
    assert abs(got["metrics"]["dense_2"]["r2"] - r2_score(values[keep], pred)) <= 1e-9

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


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "two.safetensors", "two.csv", "--target", "e"],
        ["diagnose", "two.safetensors", "two.csv", "--target", "e"],
    ],
)
def test_evaluate_and_diagnose_refuse_several_inputs_and_point_to_predict(
    two_by_two, capsys, command
):
    args = [two_by_two / c if c.endswith((".csv", ".safetensors")) else c for c in command]
    code, out, err = _run(args, capsys)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "2 input(s) ['num' (3 columns), 'extra' (2 columns)]" in lines[0]
    assert (
        'chainrule predict works on it with --inputs "num=<3 columns>;extra=<2 columns>"'
        in (lines[0])
    )
    assert "net.evaluate({name: array, ...}, [y1, y2])" in lines[0]


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

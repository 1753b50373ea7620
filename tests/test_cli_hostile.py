"""Hostile tables, files and option values for the ``chainrule`` command.

Every case must fail the way the CLI promises: a non-zero exit code, exactly
one line on stderr (``chainrule: error: ...``, run with ``-q`` so no notes
appear) that names the problem (a fragment each case states), and never a
Python traceback. Most cases run in-process through ``chainrule.cli.main``
(fast); a handful run as real subprocesses of the console script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

from chainrule import cli, kernels  # noqa: E402

N = 60


def _write_tables(d: Path) -> None:
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=N), rng.normal(size=N), rng.normal(size=N)
    label = np.where(a + b > 0, "yes", "no")
    ok = pd.DataFrame({"a": a, "b": b, "c": c, "y": label})
    ok.to_csv(d / "ok.csv", index=False)
    reg = pd.DataFrame({"a": a, "b": b, "c": c, "y": 3 * a - b + 0.1 * c})
    reg.to_csv(d / "reg.csv", index=False)

    def write(name: str, df) -> None:
        df.to_csv(d / name, index=False)

    (d / "empty.csv").write_text("")
    (d / "blank_lines.csv").write_text("\n\n\n")
    (d / "header_only.csv").write_text("a,b,y\n")
    (d / "one_row.csv").write_text("a,b,y\n1,2,yes\n")
    (d / "two_rows.csv").write_text("a,b,y\n1,2,yes\n3,4,no\n")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.csv").write_bytes("a,y\n1,caf\xe9\n".encode("latin-1"))
    (d / "ragged.csv").write_text("a,b,y\n1,2,yes\n1,2,3,4,5\n")
    (d / "fake.parquet").write_text("a,b\n1,2\n")
    (d / "notes.txt").write_text("not a model\n")
    (d / "garbage.safetensors").write_bytes(np.random.default_rng(1).bytes(300))
    (d / "empty.safetensors").write_bytes(b"")
    (d / "json.safetensors").write_text('{"a": 1}')
    (d / "folder.csv").mkdir()
    (d / "existing_dir").mkdir()

    write("all_nan_feature.csv", ok.assign(b=np.nan))
    write("all_nan_target.csv", ok.assign(y=np.nan))
    write("one_class.csv", ok.assign(y="yes"))
    write("one_class_numeric.csv", ok.assign(y=1))
    write("only_target.csv", ok[["y"]])
    write("inf_feature.csv", ok.assign(b=np.where(np.arange(N) == 7, np.inf, b)))
    write("neg_inf_feature.csv", ok.assign(c=np.where(np.arange(N) == 3, -np.inf, c)))
    write("huge_feature.csv", ok.assign(a=np.where(np.arange(N) == 5, 1e300, a)))
    write("huge_neg_feature.csv", ok.assign(a=np.where(np.arange(N) == 5, -1e39, a)))
    write("inf_target.csv", reg.assign(y=np.where(np.arange(N) == 2, np.inf, reg.y)))
    write("huge_target.csv", reg.assign(y=np.where(np.arange(N) == 2, 1e300, reg.y)))
    text = ok.astype({"a": object})
    text.loc[17, "a"] = "abc"
    write("text_cell.csv", text)
    text2 = reg.astype({"y": object})
    text2.loc[4, "y"] = "n/a?"
    write("text_cell_target.csv", text2)
    missing = ok.copy()
    missing.loc[[1, 2], "a"] = np.nan
    write("missing.csv", missing)
    write("all_missing_rows.csv", ok.assign(a=np.nan, b=np.nan))
    (d / "dup_target.csv").write_text(
        "a,b,y,y\n" + "".join(f"{x:.3f},{z:.3f},{t},{t}\n" for x, z, t in zip(a, b, label))
    )
    (d / "dup_feature.csv").write_text(
        "a,a,y\n" + "".join(f"{x:.3f},{z:.3f},{t}\n" for x, z, t in zip(a, b, label))
    )
    (d / "dup_three.csv").write_text(
        "a,b,a,y\n" + "".join(f"{x:.3f},{z:.3f},1,{t}\n" for x, z, t in zip(a, b, label))
    )
    uni = ok.rename(columns={"a": "âge", "b": "日本", "y": "ÿ"})
    write("unicode.csv", uni)
    write("missing_feature.csv", ok.drop(columns=["c"]))
    write("three_classes.csv", ok.assign(y=np.array(["p", "q", "r"] * (N // 3))))
    (d / "commas.csv").write_text(",,\n,,\n,,\n")
    write("labels_2_5.csv", ok.assign(y=np.where(a > 0, 2, 5)))
    import chainrule as cr

    net = cr.Sequential(cr.Dense(3, 2), seed=0)  # saved from Python: no preprocessing
    net.fit(ok[["a", "b", "c"]].to_numpy(), (label == "yes").astype(int), loss="ce", epochs=1)
    net.save(d / "py.safetensors")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    _write_tables(d)
    old = Path.cwd()
    os.chdir(d)
    shown = warnings.showwarning
    try:
        for args in (
            ["-q", "train", "ok.csv", "--target", "y", "--epochs", "2", "--out", "clf.safetensors"],
            [
                "-q",
                "train",
                "reg.csv",
                "--target",
                "y",
                "--epochs",
                "2",
                "--out",
                "reg.safetensors",
            ],
        ):
            assert cli.main(args) == 0
    finally:
        warnings.showwarning = shown
        os.chdir(old)
    return d


T = ["-q", "train"]
OK = [*T, "ok.csv", "--target", "y"]
P = ["-q", "predict", "clf.safetensors"]
E = ["-q", "evaluate", "clf.safetensors"]

# (arguments, fragment of the one error line)
CASES: dict[str, tuple[list[str], str]] = {
    # -- tables ----------------------------------------------------------------------
    "empty file": ([*T, "empty.csv", "--target", "y"], "is empty"),
    "blank lines": ([*T, "blank_lines.csv", "--target", "y"], "is empty"),
    "header only": ([*T, "header_only.csv", "--target", "y"], "no rows"),
    "one row": ([*T, "one_row.csv", "--target", "y"], "validation"),
    "one row, no split": (
        [*T, "one_row.csv", "--target", "y", "--validation-split", "0"],
        "single class",
    ),
    "two rows": ([*T, "two_rows.csv", "--target", "y"], "validation"),
    "binary bytes": ([*T, "binary.csv", "--target", "y"], "binary.csv"),
    "latin-1 text": ([*T, "latin1.csv", "--target", "y"], "latin1.csv"),
    "ragged rows": ([*T, "ragged.csv", "--target", "y"], "ragged.csv"),
    "csv named parquet": ([*T, "fake.parquet", "--target", "y"], "fake.parquet"),
    "data is a folder": ([*T, "folder.csv", "--target", "y"], "folder"),
    "no such data": ([*T, "nope.csv", "--target", "y"], "no such file"),
    "all-NaN feature": ([*T, "all_nan_feature.csv", "--target", "y"], "'b'"),
    "all-NaN target": ([*T, "all_nan_target.csv", "--target", "y"], "no values"),
    "target missing": ([*T, "ok.csv", "--target", "label"], "unknown target column 'label'"),
    "target one class": ([*T, "one_class.csv", "--target", "y"], "single class"),
    "target one class (numbers)": (
        [*T, "one_class_numeric.csv", "--target", "y", "--task", "classify"],
        "single class",
    ),
    "only the target": ([*T, "only_target.csv", "--target", "y"], "no feature columns"),
    "unicode target missing": ([*T, "unicode.csv", "--target", "y"], "unknown target column"),
    "unicode ignore unknown": (
        [*T, "unicode.csv", "--target", "ÿ", "--ignore", "日本x"],
        "--ignore names unknown column(s) '日本x'",
    ),
    "inf feature": ([*T, "inf_feature.csv", "--target", "y"], "column 'b' row 8"),
    "-inf feature": ([*T, "neg_inf_feature.csv", "--target", "y"], "column 'c' row 4"),
    "1e300 feature": ([*T, "huge_feature.csv", "--target", "y"], "overflows float32"),
    "-1e39 feature": ([*T, "huge_neg_feature.csv", "--target", "y"], "overflows float32"),
    "inf target": ([*T, "inf_target.csv", "--target", "y"], "column 'y' row 3"),
    "1e300 target": ([*T, "huge_target.csv", "--target", "y"], "overflows float32"),
    "text cell": ([*T, "text_cell.csv", "--target", "y"], "column 'a'"),
    "text cell names row and value": ([*T, "text_cell.csv", "--target", "y"], "row 18: 'abc'"),
    "text cell in target": ([*T, "text_cell_target.csv", "--target", "y"], "'n/a?'"),
    "duplicated target": ([*T, "dup_target.csv", "--target", "y"], "two columns named 'y'"),
    "duplicated feature": ([*T, "dup_feature.csv", "--target", "y"], "two columns named 'a'"),
    "duplicated, apart": ([*T, "dup_three.csv", "--target", "y"], "columns 1 and 3"),
    "missing values": ([*T, "missing.csv", "--target", "y"], "--impute"),
    "impute drop leaves nothing": (
        [*T, "all_missing_rows.csv", "--target", "y", "--impute", "drop"],
        "no rows left",
    ),
    "everything ignored": (
        [*T, "ok.csv", "--target", "y", "--ignore", "a,b,c"],
        "no feature columns",
    ),
    "target ignored": ([*T, "ok.csv", "--target", "y", "--ignore", "y"], "--ignore"),
    "ignore unknown": ([*T, "ok.csv", "--target", "y", "--ignore", "zzz"], "'zzz'"),
    "regression loss to classify": ([*OK, "--loss", "mse"], "--loss mse"),
    "classification loss to regress": (
        [*T, "reg.csv", "--target", "y", "--loss", "cross_entropy"],
        "--loss cross_entropy",
    ),
    "bce with three classes": (
        [*T, "three_classes.csv", "--target", "y", "--loss", "bce"],
        "two classes",
    ),
    "regress a text target": ([*OK, "--task", "regress"], "'y'"),
    # -- option values ---------------------------------------------------------------
    "negative epochs": ([*OK, "--epochs", "-1"], "--epochs"),
    "zero epochs": ([*OK, "--epochs", "0"], "--epochs"),
    "text epochs": ([*OK, "--epochs", "ten"], "--epochs"),
    "fractional epochs": ([*OK, "--epochs", "1.5"], "--epochs"),
    "empty epochs": ([*OK, "--epochs", ""], "--epochs"),
    "huge epochs": ([*OK, "--epochs", "1e9"], "--epochs"),
    "zero batch size": ([*OK, "--batch-size", "0"], "--batch-size"),
    "negative batch size": ([*OK, "--batch-size", "-3"], "--batch-size"),
    "text batch size": ([*OK, "--batch-size", "x"], "--batch-size"),
    "text lr": ([*OK, "--lr", "fast"], "--lr"),
    "nan lr": ([*OK, "--lr", "nan"], "--lr"),
    "inf lr": ([*OK, "--lr", "inf"], "--lr"),
    "negative lr": ([*OK, "--lr", "-0.1"], "--lr"),
    "zero lr": ([*OK, "--lr", "0"], "--lr"),
    "hidden 8,abc": ([*OK, "--hidden", "8,abc"], "--hidden"),
    "hidden 0": ([*OK, "--hidden", "0"], "--hidden"),
    "hidden negative": ([*OK, "--hidden", "8,-4"], "--hidden"),
    "hidden empty part": ([*OK, "--hidden", "8,,8"], "--hidden"),
    "hidden float": ([*OK, "--hidden", "8.5"], "--hidden"),
    "hidden huge": ([*OK, "--hidden", "100000000000"], "--hidden"),
    "activation bogus": ([*OK, "--activation", "sigmoidal"], "--activation"),
    "activation softmax": ([*OK, "--activation", "softmax"], "--activation"),
    "activation step": ([*OK, "--activation", "step"], "step"),
    "loss bogus": ([*OK, "--loss", "l3"], "--loss"),
    "optimizer bogus": ([*OK, "--optimizer", "lbfgs"], "--optimizer"),
    "task bogus": ([*OK, "--task", "cluster"], "--task"),
    "impute bogus": ([*OK, "--impute", "zero"], "--impute"),
    "validation split 0.99": ([*OK, "--validation-split", "0.99"], "--validation-split"),
    "validation split 1": ([*OK, "--validation-split", "1"], "--validation-split"),
    "validation split negative": ([*OK, "--validation-split", "-0.1"], "--validation-split"),
    "validation split nan": ([*OK, "--validation-split", "nan"], "--validation-split"),
    "validation split text": ([*OK, "--validation-split", "most"], "--validation-split"),
    "patience without validation": (
        [*OK, "--patience", "3", "--validation-split", "0"],
        "--patience",
    ),
    "patience zero": ([*OK, "--patience", "0"], "--patience"),
    "patience text": ([*OK, "--patience", "x"], "--patience"),
    "seed negative": ([*OK, "--seed", "-5"], "--seed"),
    "seed text": ([*OK, "--seed", "abc"], "--seed"),
    "seed float": ([*OK, "--seed", "1.5"], "--seed"),
    "out onnx": ([*OK, "--out", "x.onnx"], "chainrule export"),
    "out torch": ([*OK, "--out", "x.pt"], "chainrule export"),
    "out csv": ([*OK, "--out", "x.csv"], "--out"),
    "out pickle": ([*OK, "--out", "x.pkl"], "--out"),
    "out missing folder": ([*OK, "--out", "no/such/m.safetensors"], "does not exist"),
    "out is a folder": ([*OK, "--out", "existing_dir"], "is a folder"),
    "target option missing": ([*T, "ok.csv"], "--target"),
    "unknown option": ([*OK, "--colour", "red"], "--colour"),
    "diverges (sgd lr 1e30)": (
        [*OK, "--optimizer", "sgd", "--lr", "1e30", "--out", "div.safetensors"],
        "diverged",
    ),
    "diverges (adam lr 1e6)": (
        [*OK, "--lr", "1e6", "--epochs", "3", "--out", "div.safetensors"],
        "diverged",
    ),
    # -- predict / evaluate ------------------------------------------------------------
    "predict: no model": (["-q", "predict", "nope.safetensors", "ok.csv"], "no such model"),
    "predict: model is text": (["-q", "predict", "notes.txt", "ok.csv"], "notes.txt"),
    "predict: model is garbage": (
        ["-q", "predict", "garbage.safetensors", "ok.csv"],
        "garbage.safetensors",
    ),
    "predict: model is empty": (["-q", "predict", "empty.safetensors", "ok.csv"], "empty"),
    "predict: model is JSON": (["-q", "predict", "json.safetensors", "ok.csv"], "json"),
    "predict: model is a folder": (["-q", "predict", "existing_dir", "ok.csv"], "existing_dir"),
    "predict: no data": ([*P, "nope.csv"], "no such file"),
    "predict: empty data": ([*P, "empty.csv"], "is empty"),
    "predict: header only": ([*P, "header_only.csv"], "no rows"),
    "predict: inf": ([*P, "inf_feature.csv"], "column 'b' row 8"),
    "predict: 1e300": ([*P, "huge_feature.csv"], "overflows float32"),
    "predict: -inf": ([*P, "neg_inf_feature.csv"], "is infinite"),
    "predict: text cell": ([*P, "text_cell.csv"], "'abc'"),
    "predict: missing column": ([*P, "missing_feature.csv"], "'c'"),
    "predict: duplicated column": ([*P, "dup_feature.csv"], "two columns named 'a'"),
    "predict: missing values": ([*P, "missing.csv", "--proba"], "missing"),
    "predict: proba of a regressor": (
        ["-q", "predict", "reg.safetensors", "reg.csv", "--proba"],
        "--proba",
    ),
    "predict: out folder missing": ([*P, "ok.csv", "--out", "no/such/p.csv"], "does not exist"),
    "evaluate: unknown target": ([*E, "ok.csv", "--target", "zzz"], "'zzz'"),
    "evaluate: target all NaN": ([*E, "all_nan_target.csv"], "no values"),
    "evaluate: unseen class": ([*E, "three_classes.csv"], "'p'"),
    "evaluate: inf": ([*E, "inf_feature.csv"], "column 'b'"),
    "evaluate: text cell in target": (
        ["-q", "evaluate", "reg.safetensors", "text_cell_target.csv"],
        "'n/a?'",
    ),
    "evaluate: regressor target inf": (
        ["-q", "evaluate", "reg.safetensors", "inf_target.csv"],
        "column 'y'",
    ),
    "evaluate: no data": ([*E, "nope.csv"], "no such file"),
    # -- other commands --------------------------------------------------------------------
    "summary: no model": (["-q", "summary", "nope.safetensors"], "no such model"),
    "summary: garbage": (["-q", "summary", "garbage.safetensors"], "garbage.safetensors"),
    "summary: text": (["-q", "summary", "notes.txt"], "notes.txt"),
    "plot: boundary of a 3-input model": (
        ["-q", "plot", "clf.safetensors", "ok.csv", "--kind", "boundary", "--out", "b.png"],
        "2 inputs",
    ),
    "plot: confusion without data": (
        ["-q", "plot", "clf.safetensors", "--kind", "confusion", "--out", "c.png"],
        "needs DATA",
    ),
    "plot: bogus kind": (["-q", "plot", "clf.safetensors", "--kind", "pie"], "--kind"),
    "plot: scatter of a classifier": (
        ["-q", "plot", "clf.safetensors", "ok.csv", "--kind", "scatter", "--out", "s.png"],
        "--kind scatter",
    ),
    "plot: bad image folder": (
        ["-q", "plot", "activations", "--out", "no/such/a.png"],
        "does not exist",
    ),
    "export: bogus format": (["-q", "export", "clf.safetensors", "--to", "tf", "m.tf"], "--to"),
    "export: missing folder": (
        ["-q", "export", "clf.safetensors", "--to", "onnx", "no/such/m.onnx"],
        "does not exist",
    ),
    "export: no model": (["-q", "export", "nope.safetensors", "--to", "onnx", "m.onnx"], "no such"),
    "diagnose: unknown target": (
        ["-q", "diagnose", "clf.safetensors", "ok.csv", "--target", "zzz"],
        "'zzz'",
    ),
    "diagnose: inf": (["-q", "diagnose", "clf.safetensors", "inf_feature.csv"], "column 'b'"),
    "demo: zero epochs": (["-q", "demo", "--epochs", "0"], "--epochs"),
    "demo: negative seed": (["-q", "demo", "--seed", "-1"], "--seed"),
    "demo: out is a file": (["-q", "demo", "--out", "ok.csv"], "not a folder"),
    "unknown command": (["-q", "fit", "ok.csv"], "fit"),
    "empty target name": ([*T, "ok.csv", "--target", ""], "unknown target column ''"),
    "nameless columns": ([*T, "commas.csv", "--target", "y"], "two columns named ''"),
    "python model: text column": (["-q", "predict", "py.safetensors", "ok.csv"], "'y'"),
    "python model: text labels": (
        ["-q", "evaluate", "py.safetensors", "ok.csv", "--target", "y"],
        "row 1 holds 'no'",
    ),
    "python model: labels out of range": (
        ["-q", "evaluate", "py.safetensors", "labels_2_5.csv", "--target", "y"],
        "class numbers 0..1",
    ),
    "python model: no target name": (["-q", "evaluate", "py.safetensors", "ok.csv"], "--target"),
    "python model: plot text labels": (
        ["-q", "plot", "py.safetensors", "ok.csv", "--target", "y", "--out", "p.png"],
        "'no'",
    ),
}

# A bad CHAINRULE_KERNELS, for several commands (set on the kernels module in-process)
KERNEL_CASES = {
    "kernels env: summary": ["-q", "summary", "clf.safetensors"],
    "kernels env: train": [*OK, "--epochs", "1", "--out", "k.safetensors"],
    "kernels env: predict": [*P, "ok.csv"],
}


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    shown = warnings.showwarning
    try:
        code = cli.main(args)
    finally:
        warnings.showwarning = shown
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0, f"exit 0; stderr: {err!r}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {err!r}"
    assert lines[0].startswith("chainrule: error: "), lines[0]
    assert "unexpected" not in lines[0], lines[0]
    assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def test_there_are_at_least_100_hostile_cases():
    assert len(CASES) + len(KERNEL_CASES) >= 100


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gives_one_line_error(name, work, capsys, monkeypatch):
    monkeypatch.chdir(work)
    args, fragment = CASES[name]
    code, _, err = _run(args, capsys)
    _assert_one_line_error(code, err, fragment)


@pytest.mark.parametrize("name", list(KERNEL_CASES))
def test_bad_kernel_environment_is_one_line(name, work, capsys, monkeypatch):
    monkeypatch.chdir(work)
    monkeypatch.setattr(kernels, "_choice", "bogus")
    code, _, err = _run(KERNEL_CASES[name], capsys)
    _assert_one_line_error(code, err, "CHAINRULE_KERNELS='bogus'")
    assert code == 2


def test_divergence_exit_code_and_out_kept(work, capsys, monkeypatch):
    """A diverged run exits with EXIT_DIVERGED (3) and leaves an existing --out untouched;
    --save-diverged writes it (and still exits 3)."""
    monkeypatch.chdir(work)
    target = work / "keep.safetensors"
    target.write_bytes(b"previous model")
    args = [*OK, "--optimizer", "sgd", "--lr", "1e30", "--out", str(target)]
    code, _, err = _run(args, capsys)
    assert code == cli.EXIT_DIVERGED == 3
    assert "was not written" in err and "--save-diverged" in err
    assert target.read_bytes() == b"previous model"
    code, _, err = _run([*args, "--save-diverged"], capsys)
    assert code == 3 and "Traceback" not in err
    assert target.read_bytes()[:8] != b"previous"
    from chainrule import load

    net = load(target)  # what was saved are the restored (finite) weights
    assert all(np.isfinite(p.value).all() for p in net.parameters())


def test_unicode_names_train_and_predict(work, capsys, monkeypatch):
    """Not hostile after all: unicode column names work end to end."""
    monkeypatch.chdir(work)
    code, _, err = _run(
        [*T, "unicode.csv", "--target", "ÿ", "--epochs", "1", "--out", "u.safetensors"], capsys
    )
    assert code == 0, err
    code, out, err = _run(["-q", "predict", "u.safetensors", "unicode.csv"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == N + 1


SUBPROCESS_CASES = {
    "kernels env": (["summary", "m.safetensors"], {"CHAINRULE_KERNELS": "bogus"}, "bogus"),
    "duplicated target": (["train", "dup_target.csv", "--target", "y"], {}, "'y'"),
    "text cell": (["train", "text_cell.csv", "--target", "y"], {}, "'abc'"),
    "predict 1e300": (["predict", "clf.safetensors", "huge_feature.csv"], {}, "float32"),
    "seed -5": (["train", "ok.csv", "--target", "y", "--seed", "-5"], {}, "--seed"),
    "sgd 1e30": (
        ["train", "ok.csv", "--target", "y", "--optimizer", "sgd", "--lr", "1e30", "--quiet"],
        {},
        "diverged",
    ),
}


def test_hostile_cases_as_real_processes(work):
    env = {**os.environ, "NO_COLOR": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONWARNINGS", None)
    for name, (args, extra, fragment) in SUBPROCESS_CASES.items():
        proc = subprocess.run(
            [sys.executable, "-m", "chainrule.cli", "-q", *args],
            cwd=work,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        _assert_one_line_error(proc.returncode, proc.stderr, fragment)
        if name == "sgd 1e30":
            assert proc.returncode == 3
            assert not (work / "model.safetensors").exists()


def test_help_and_docs_document_the_divergence_exit_code(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert "3 training diverged" in " ".join(out.split())
    assert "--save-diverged" in out
    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    assert "| 3 | `train` diverged" in page

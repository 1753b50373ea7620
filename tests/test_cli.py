"""The ``chainrule`` console script, run for real in subprocesses on CSV files written here.

Independent runs are started in parallel (a thread pool of subprocesses) to
keep the file fast; every expectation is still checked case by case.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli, training  # noqa: E402  (network inputs: X already encoded)
from chainrule.preprocessing import Preprocessor  # noqa: E402


def _script() -> list[str]:
    """The installed console script, else ``python -m chainrule.cli``."""
    name = "chainrule.exe" if os.name == "nt" else "chainrule"
    path = Path(sysconfig.get_path("scripts")) / name
    if path.is_file():
        return [str(path)]
    found = shutil.which("chainrule")
    if found:
        return [found]
    return [sys.executable, "-m", "chainrule.cli"]  # pragma: no cover - not installed


SCRIPT = _script()
ENV = {**os.environ, "MPLBACKEND": "Agg", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
ENV.pop("PYTHONWARNINGS", None)


def run(*args, cwd=None, cmd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(cmd or SCRIPT), *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_many(cases: dict, cwd=None) -> dict:
    """Run ``{key: args}`` in parallel; returns ``{key: CompletedProcess}``."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {k: pool.submit(run, *args, cwd=cwd) for k, args in cases.items()}
        return {k: f.result() for k, f in futures.items()}


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def table_values(stdout: str) -> dict[str, list[float]]:
    """Rows of the printed metrics table: name -> numbers."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isidentifier():
            try:
                rows[parts[0]] = [float(p) for p in parts[1:]]
            except ValueError:
                continue
    return rows


def is_png(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, checked from its signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100 and len(data) > 2000
    return width, height


# =============================================================================
# Data files and trained models, shared by the tests of this module
# =============================================================================
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n = 240
    age = rng.normal(40, 10, n).round(1)
    income = rng.normal(50_000, 10_000, n).round()
    city = rng.choice(["oslo", "paris", "rome"], n)
    score = (age - 40) / 10 + (income - 50_000) / 10_000 + 1.5 * (city == "rome")
    label = np.where(score > 1, "high", np.where(score > -0.5, "mid", "low"))
    mixed = pd.DataFrame({"age": age, "income": income, "city": city, "label": label})
    mixed.to_csv(d / "mixed.csv", index=False)

    x = rng.normal(size=(n, 3))
    price = 1000 * x[:, 0] - 500 * x[:, 1] ** 2 + 20_000 + rng.normal(0, 50, n)
    numeric = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "price": price})
    numeric.to_csv(d / "numeric.csv", index=False)

    missing = mixed.copy()
    missing.loc[[3, 10, 20], "age"] = np.nan
    missing.loc[[5], "city"] = np.nan
    missing.to_csv(d / "missing.csv", index=False)

    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("a,b,label\n")
    (d / "single.csv").write_text("a,label\n1,x\n2,x\n3,x\n4,x\n")
    (d / "notes.txt").write_text("this is not a model\n")
    mixed.drop(columns=["city"]).to_csv(d / "no_city.csv", index=False)
    return d


@pytest.fixture(scope="module")
def models(work) -> dict:
    """Train the three models the other tests use (in parallel)."""
    results = run_many(
        {
            "clf": [
                "train",
                "mixed.csv",
                "--target",
                "label",
                "--epochs",
                "15",
                "--validation-split",
                "0",
                "--out",
                "clf.safetensors",
                "--hidden",
                "16",
            ],
            "reg": [
                "train",
                "numeric.csv",
                "--target",
                "price",
                "--epochs",
                "15",
                "--out",
                "reg.safetensors",
                "--no-refit",  # the saved model is the one the printed metrics describe
                "--hidden",
                "16,8",
                "--activation",
                "tanh",
            ],
            "imp": [
                "train",
                "missing.csv",
                "--target",
                "label",
                "--impute",
                "mean",
                "--epochs",
                "3",
                "--out",
                "imp.safetensors",
                "--quiet",
            ],
        },
        cwd=work,
    )
    for r in results.values():
        ok(r)
    return results


def in_process(work: Path, model: str, data: str):
    """What the library computes in-process: the net, its Preprocessor, inputs and answers."""
    net = cr.load(work / model)
    pre = Preprocessor.from_dict(net.preprocessing_)
    df = pd.read_csv(work / data)
    X = pre.transform(df)
    return net, pre, df, X


# =============================================================================
# Training, prediction, evaluation
# =============================================================================
def test_train_classifier_reloads_and_prints_true_metrics(work, models):
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    r = models["clf"]
    assert "task: classify (auto-detected: it holds text values" in r.stderr
    assert "3 classes: high, low, mid" in r.stderr
    assert "1 categorical: city (3) -> 5 network inputs" in r.stderr
    net, pre, df, X = in_process(work, "clf.safetensors", "mixed.csv")
    assert net.loss_ == "cross_entropy" and net.n_features_in == 5
    assert pre.classes == ["high", "low", "mid"] and len(net.history_["loss"]) == 15
    y = pre.encode_target(df["label"])
    pred = training.predict(net, X)
    shown = table_values(r.stdout)
    assert shown["rows"] == [len(df)]
    assert shown["accuracy"][0] == pytest.approx(accuracy_score(y, pred), abs=5e-5)
    assert shown["f1"][0] == pytest.approx(f1_score(y, pred, average="macro"), abs=5e-5)
    proba = training.predict_proba(net, X).astype(np.float64)
    loss = log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=[0, 1, 2])
    assert shown["loss"][0] == pytest.approx(loss, abs=1e-4)
    assert "saved model to clf.safetensors" in r.stdout


def test_train_regression_auto_detects_and_reports_in_target_units(work, models):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    r = models["reg"]
    assert "task: regress (auto-detected" in r.stderr
    net, pre, df, X = in_process(work, "reg.safetensors", "numeric.csv")
    assert pre.task == "regress" and net.loss_ == "mse"
    # the validation split is the CLI's: a seeded permutation of the rows
    perm = np.random.default_rng(0).permutation(len(df))
    n_val = round(0.2 * len(df))
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    values = pre.decode_target(training.predict(net, X))
    truth = df["price"].to_numpy()
    shown = table_values(r.stdout)
    assert shown["rows"] == [len(train), len(val)]
    for col, rows in enumerate([train, val]):
        mse = mean_squared_error(truth[rows], values[rows])
        assert shown["mse"][col] == pytest.approx(mse, rel=1e-4)
        assert shown["rmse"][col] == pytest.approx(np.sqrt(mse), rel=1e-4)
        assert shown["mae"][col] == pytest.approx(
            mean_absolute_error(truth[rows], values[rows]), rel=1e-4
        )
        assert shown["r2"][col] == pytest.approx(r2_score(truth[rows], values[rows]), abs=5e-5)


def test_predict_evaluate_summary_match_the_library(work, models):
    from sklearn.metrics import accuracy_score, precision_score, r2_score

    res = run_many(
        {
            "proba": ["predict", "clf.safetensors", "mixed.csv", "--proba", "--out", "p.csv"],
            "reg_stdout": ["predict", "reg.safetensors", "numeric.csv"],
            "imp": ["predict", "imp.safetensors", "missing.csv"],
            "eval_clf": ["evaluate", "clf.safetensors", "mixed.csv", "--json"],
            "eval_reg": [
                "evaluate",
                "reg.safetensors",
                "numeric.csv",
                "--target",
                "price",
                "--json",
            ],
            "eval_table": ["evaluate", "clf.safetensors", "mixed.csv"],
            "summary": ["summary", "clf.safetensors"],
            "summary_json": ["summary", "reg.safetensors", "--json"],
        },
        cwd=work,
    )
    for r in res.values():
        ok(r)

    # classifier: class names and probabilities equal the in-process ones
    net, pre, df, X = in_process(work, "clf.safetensors", "mixed.csv")
    preds = pd.read_csv(work / "p.csv")
    assert list(preds.columns) == ["prediction", "proba_high", "proba_low", "proba_mid"]
    assert preds["prediction"].tolist() == pre.decode_target(training.predict(net, X)).tolist()
    np.testing.assert_array_equal(preds.iloc[:, 1:].to_numpy(), training.predict_proba(net, X))
    assert "wrote 240 prediction(s) to p.csv" in res["proba"].stderr

    # regressor to stdout: the values, unstandardised
    net_r, pre_r, df_r, X_r = in_process(work, "reg.safetensors", "numeric.csv")
    out = pd.read_csv(io.StringIO(res["reg_stdout"].stdout))
    np.testing.assert_array_equal(
        out["prediction"].to_numpy(), pre_r.decode_target(training.predict(net_r, X_r))
    )

    # a model trained with --impute mean predicts rows with missing values too
    net_i, pre_i, df_i, X_i = in_process(work, "imp.safetensors", "missing.csv")
    out = pd.read_csv(io.StringIO(res["imp"].stdout))
    assert len(out) == len(df_i) and out["prediction"].notna().all()
    assert out["prediction"].tolist() == pre_i.decode_target(training.predict(net_i, X_i)).tolist()

    # evaluate --json: full-precision numbers equal a recomputation
    y = pre.encode_target(df["label"])
    got = json.loads(res["eval_clf"].stdout)
    assert got["rows"] == len(df) and got["task"] == "classify" and got["target"] == "label"
    pred = training.predict(net, X)
    assert got["metrics"]["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert got["metrics"]["precision"] == pytest.approx(
        precision_score(y, pred, average="macro", zero_division=0), abs=1e-12
    )
    assert got["metrics"]["loss"] == pytest.approx(training.evaluate(net, X, y)["loss"], rel=1e-6)
    got = json.loads(res["eval_reg"].stdout)
    values = pre_r.decode_target(training.predict(net_r, X_r))
    assert got["metrics"]["r2"] == pytest.approx(r2_score(df_r["price"], values), abs=1e-9)
    assert table_values(res["eval_table"].stdout)["accuracy"][0] == pytest.approx(
        accuracy_score(y, pred), abs=5e-5
    )

    # summary
    text = res["summary"].stdout
    assert "format 2" in text and "3 classes: high, low, mid" in text
    assert "Dense(5, 16, activation=ReLU())" in text and "trained: 15 epoch(s)" in text
    info = json.loads(res["summary_json"].stdout)
    assert info["task"] == "regress" and info["target"] == "price" and info["n_inputs"] == 3
    assert info["n_parameters"] == net_r.n_parameters() and info["epochs_trained"] == 15
    assert [c["name"] for c in info["columns"]] == ["x1", "x2", "x3"]


def test_dry_run_parquet_pipe_and_quiet(work):
    pytest.importorskip("pyarrow")
    pd.read_csv(work / "mixed.csv").to_parquet(work / "mixed.parquet")
    res = run_many(
        {
            "dry": [
                "train",
                "mixed.parquet",
                "--target",
                "label",
                "--dry-run",
                "--hidden",
                "8,4",
                "--out",
                "never.safetensors",
            ],
            "pipe": [
                "train",
                "mixed.csv",
                "--target",
                "label",
                "--epochs",
                "3",
                "--out",
                "piped.safetensors",
                "--task",
                "classify",
                "--loss",
                "hinge",
            ],
            "quiet": [
                "train",
                "numeric.csv",
                "--target",
                "price",
                "--epochs",
                "2",
                "-q",
                "--out",
                "quiet.safetensors",
                "--validation-split",
                "0",
            ],
        },
        cwd=work,
    )
    for r in res.values():
        ok(r)
    assert "Dense(5, 8, activation=ReLU())" in res["dry"].stdout and "dry run" in res["dry"].stdout
    assert not (work / "never.safetensors").exists()
    # in a pipe, progress is plain lines on stderr: no bar, no colour
    err = res["pipe"].stderr
    assert "training: epoch 1/3  loss=" in err and "epoch 3/3" in err
    assert "\r" not in err and "\x1b" not in err and "\x1b" not in res["pipe"].stdout
    assert "given by --task" in err
    assert cr.load(work / "piped.safetensors").loss_ == "hinge"
    assert res["quiet"].stderr == "" and "mse" in res["quiet"].stdout


# =============================================================================
# Bad input: one line, the right exit code, no traceback
# =============================================================================
BAD_CASES = {
    # id: (args, exit code, text the message must hold)
    "missing data file": (["train", "nope.csv", "--target", "a"], 1, "no such file: nope.csv"),
    "empty csv": (["train", "empty.csv", "--target", "a"], 1, "empty.csv is empty"),
    "header only": (["train", "header_only.csv", "--target", "a"], 1, "has a header but no rows"),
    "unknown target": (
        ["train", "mixed.csv", "--target", "nope"],
        1,
        "unknown target column 'nope'",
    ),
    "text target for regression": (
        ["train", "mixed.csv", "--target", "label", "--task", "regress"],
        1,
        "regression needs a numeric target",
    ),
    "single class": (["train", "single.csv", "--target", "label"], 1, "a single class ('x')"),
    "NaN without --impute": (
        ["train", "missing.csv", "--target", "label"],
        1,
        "'age' (3 missing), 'city' (1 missing); choose what to do with --impute",
    ),
    "hidden 0": (
        ["train", "mixed.csv", "--target", "label", "--hidden", "0"],
        2,
        "argument --hidden: layer sizes must be at least 1",
    ),
    "hidden abc": (
        ["train", "mixed.csv", "--target", "label", "--hidden", "abc"],
        2,
        "argument --hidden: 'abc' is not a list of layer sizes",
    ),
    "truncated model": (["predict", "truncated.safetensors", "mixed.csv"], 1, "is truncated"),
    "not a model": (["predict", "notes.txt", "mixed.csv"], 1, "not a chainrule model file"),
    "safetensors, not chainrule": (["summary", "foreign.safetensors"], 1, "not a chainrule model"),
    "newer format": (
        ["evaluate", "future.safetensors", "mixed.csv"],
        1,
        "written by a newer chainrule (model format 5)",
    ),
    "missing model": (["summary", "absent.safetensors"], 1, "no such model file"),
    "no --target": (["train", "mixed.csv"], 2, "required: --target"),
    "unknown command": (["fly"], 2, "invalid choice: 'fly'"),
    "loss for the other task": (
        ["train", "mixed.csv", "--target", "label", "--loss", "mse"],
        2,
        "--loss mse is a regression loss",
    ),
    "missing out folder": (
        ["train", "mixed.csv", "--target", "label", "--out", "no/such/dir/m.safetensors"],
        1,
        "folder no/such/dir does not exist",
    ),
    "data without a model column": (
        ["predict", "clf.safetensors", "no_city.csv"],
        1,
        "no column(s) 'city'",
    ),
    "NaN at predict time": (
        ["predict", "clf.safetensors", "missing.csv"],
        1,
        "trained without --impute",
    ),
    "proba on a regressor": (
        ["predict", "reg.safetensors", "numeric.csv", "--proba"],
        2,
        "--proba is for classifiers",
    ),
}


@pytest.fixture(scope="module")
def bad_results(work, models):
    import safetensors.numpy as st
    from safetensors import safe_open

    data = (work / "clf.safetensors").read_bytes()
    (work / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    st.save_file({"w": np.zeros(3)}, str(work / "foreign.safetensors"))
    with safe_open(str(work / "clf.safetensors"), framework="np") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    meta["format_version"] = "5"
    st.save_file(tensors, str(work / "future.safetensors"), metadata=meta)
    return run_many({k: v[0] for k, v in BAD_CASES.items()}, cwd=work)


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_one_line(bad_results, case):
    _, code, expected = BAD_CASES[case]
    r = bad_results[case]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("chainrule: error: ")]
    assert r.returncode == code, r.stderr
    assert len(errors) == 1 and errors[0] == lines[-1], r.stderr
    assert not any(line.startswith("usage:") for line in lines), r.stderr
    assert expected in errors[0], errors[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_unexpected_errors_are_one_line_with_a_hint(monkeypatch, capsys):
    def boom(args, ui):
        raise RuntimeError("something broke\ninside")

    real = cli.build_parser

    def parser():
        p = real()
        for action in p._subparsers._group_actions:
            for sub in action.choices.values():
                sub.set_defaults(func=boom)
        return p

    monkeypatch.setattr(cli.run, "build_parser", parser)  # main() lives in chainrule.cli.run
    assert cli.main(["summary", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected RuntimeError: something broke inside (run again with --verbose" in err
    assert cli.main(["summary", "x", "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_missing_optional_modules_degrade_to_one_line():
    with pytest.raises(cli.CLIError, match="^diagnostics are not available in this build$"):
        cli._optional_module("no_such_module_here", "diagnostics")


# =============================================================================
# Atomic save: the previous model survives a failed or killed write
# =============================================================================
_FAILING_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import chainrule.atomic

    def broken(fd, data):
        os.write(fd, b"half a model")
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(28, "No space left on device")

    chainrule.atomic._write_all = broken
    from chainrule.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_a_failed_or_killed_save_keeps_the_previous_model(work, models, tmp_path):
    target = tmp_path / "model.safetensors"
    shutil.copy(work / "clf.safetensors", target)
    before = target.read_bytes()
    args = [
        "train",
        str(work / "mixed.csv"),
        "--target",
        "label",
        "--epochs",
        "1",
        "-q",
        "--out",
        str(target),
    ]
    cmd = [sys.executable, "-c", _FAILING_SAVE]
    with ThreadPoolExecutor(2) as pool:
        failed, killed = pool.map(
            lambda how: run(how, *args, cmd=cmd, cwd=tmp_path), ["fail", "kill"]
        )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines() == [
        f"chainrule: error: could not save {target}: disk full; the previous file is unchanged"
    ]
    assert killed.returncode == -9
    assert target.read_bytes() == before  # never half-written
    cr.load(target)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.safetensors"]
    # the failed save cleaned up; only the killed one can leave its hidden temporary behind
    assert all(name.startswith(".model.safetensors.") for name in leftovers)
    assert len(leftovers) <= 1


# =============================================================================
# Demo, plots, diagnose, export, help
# =============================================================================
def test_demo_writes_valid_pngs(tmp_path):
    r = ok(run("demo", "--out", tmp_path / "demo", "--epochs", "2", "--quiet"))
    assert "test accuracy:" in r.stdout and "diagnosis" in r.stdout
    assert r.stderr == ""
    out = tmp_path / "demo"
    for name in [
        "digits_loss.png",
        "digits_confusion.png",
        "spirals_loss.png",
        "spirals_boundary.png",
    ]:
        is_png(out / name)
        assert str(out / name) in r.stdout
    net = cr.load(out / "spirals.safetensors")
    assert net.preprocessing_["classes"] == [0, 1] and len(net.history_["loss"]) == 2
    assert cr.load(out / "digits.safetensors").n_features_in == 64
    assert pd.read_csv(out / "spirals.csv").columns.tolist() == ["x1", "x2", "arm"]


def test_plot_diagnose_export(work, models):
    cases = {
        "activations": ["plot", "activations", "--out", "act.png"],
        "loss": ["plot", "clf.safetensors", "--out", "loss.png"],
        "confusion": ["plot", "clf.safetensors", "mixed.csv", "--out", "conf.png"],
        "scatter": ["plot", "reg.safetensors", "numeric.csv", "--out", "scatter.png"],
        "diagnose": ["diagnose", "clf.safetensors", "mixed.csv"],
    }
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        cases["export"] = ["export", "clf.safetensors", "--to", "onnx", "clf.onnx"]
    res = run_many(cases, cwd=work)
    files = {
        "activations": "act.png",
        "loss": "loss.png",
        "confusion": "conf.png",
        "scatter": "scatter.png",
    }
    for name, file in files.items():
        assert f"wrote {file}" in ok(res[name]).stdout
        is_png(work / file)
    r = res["diagnose"]
    if r.returncode:  # the diagnostics module is optional in a build
        assert r.stderr.strip() == "chainrule: error: diagnostics are not available in this build"
    else:
        assert "samples" in r.stdout
    if "export" in res:
        ok(res["export"])
        assert (work / "clf.onnx").stat().st_size > 100


SUBCOMMANDS = ["demo", "train", "predict", "evaluate", "summary", "plot", "diagnose", "export"]


def test_help_for_every_subcommand_shows_examples(capsys):
    for sub in SUBCOMMANDS:  # in-process: the same parser the script builds
        with pytest.raises(SystemExit) as info:
            cli.main([sub, "--help"])
        out = capsys.readouterr().out
        assert info.value.code == 0, sub
        assert "examples:" in out and f"  chainrule {sub}" in out, sub
        assert "--quiet" in out and "--verbose" in out
    # and through the real console script
    with ThreadPoolExecutor(2) as pool:
        main, train = pool.map(lambda args: run(*args), [["--help"], ["train", "--help"]])
    for sub in SUBCOMMANDS:
        assert sub in ok(main).stdout
    assert "examples:" in main.stdout
    assert "  chainrule train iris.csv --target species" in ok(train).stdout


def test_version_and_python_m():
    from chainrule import __version__

    r = ok(run("--version"))
    assert r.stdout.strip() == f"chainrule {__version__}"
    r = ok(run("--version", cmd=[sys.executable, "-m", "chainrule.cli"]))
    assert r.stdout.strip() == f"chainrule {__version__}"

"""``cr.search`` and ``chainrule tune`` (Optuna): reproducibility, pruning, saved models, errors.

Every search here is a few trials of a few epochs on a 200-row table.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli  # noqa: E402
from chainrule.search import BASELINE, build_candidate  # noqa: E402

ENV = {**os.environ, "MPLBACKEND": "Agg", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
ENV.pop("PYTHONWARNINGS", None)
FAST = {"epochs": 6, "n_trials": 4}


def _table(n: int = 200, seed: int = 0):
    """Four numbers and a text label: 'yes' when x0 + x1 > 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["label"] = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return df


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "chainrule.cli", *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_same_seed_same_trials_best_params_and_score():
    df = _table()
    a = cr.search(df, target="label", seed=3, **FAST)
    b = cr.search(df, target="label", seed=3, **FAST)
    assert a.best_params == b.best_params
    assert a.best_score == b.best_score
    ta, tb = a.trials(), b.trials()
    pd.testing.assert_frame_equal(ta, tb)
    assert a.study.trials[0].params == BASELINE  # a new study starts from train's default
    c = cr.search(df, target="label", seed=4, **FAST)
    assert c.trials()["lr"].tolist() != ta["lr"].tolist()  # the seed drives the sampler


def test_best_model_holds_the_weights_of_its_best_validation_epoch():
    df = _table()
    r = cr.search(df, target="label", seed=0, **FAST)
    table = r.trials()
    assert {"trial", "state", "val_loss", "val_accuracy", "lr", "width", "n_layers"} <= set(table)
    assert len(table) == FAST["n_trials"]
    done = table[table["state"] == "COMPLETE"]
    assert r.best_score == pytest.approx(done["val_loss"].min())
    # the returned network, re-scored on the validation rows, gives the study's best value
    val = df.iloc[r.validation_rows]
    X_val = r.preprocessor.transform(val)
    y_val = r.preprocessor.encode_target(val["label"])
    assert r.best_model.evaluate(X_val, y_val, metrics=[])["loss"] == pytest.approx(
        r.best_score, rel=1e-5
    )
    assert min(r.best_model.history_["val_loss"]) == pytest.approx(r.best_score)


def test_median_pruner_prunes_a_trial_that_does_not_learn():
    df = _table()
    fixed = {"n_layers": 1, "width": 16, "activation": "tanh", "dropout": 0.0}
    fixed |= {"weight_decay": 1e-6, "batch_size": 16}
    study = optuna.create_study(
        direction="minimize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    )
    study.enqueue_trial({"lr": 3e-2})  # learns: the reference curve
    study.enqueue_trial({"lr": 1e-7})  # barely moves from its start: worse at every epoch
    study.enqueue_trial({"lr": 1e-7})
    r = cr.search(
        df, target="label", study=study, n_trials=3, epochs=8, space=fixed | {"lr": (1e-7, 1e-1)}
    )
    states = [t.state for t in study.trials]
    assert states[0] == optuna.trial.TrialState.COMPLETE
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) == 2
    # pruned at once, after the first reported epoch, not at the end of the budget
    assert all(t.user_attrs["epochs"] == 1 for t in pruned)
    assert r.best_params["lr"] == 3e-2


def test_residual_candidate_computes_the_skip_connections():
    params = {"n_layers": 3, "width": 5, "activation": "tanh", "dropout": 0.0, "residual": True}
    net = build_candidate(4, 2, params, seed=0)
    assert isinstance(net, cr.Network) and not isinstance(net, cr.Sequential)
    dense = [layer for layer in net.layers if isinstance(layer, cr.Dense)]
    assert len(dense) == 4
    x = np.random.default_rng(1).normal(size=(7, 4))
    W = [(d.weight.value.astype(np.float64), d.bias.value.astype(np.float64)) for d in dense]
    h = np.tanh(x @ W[0][0] + W[0][1])
    h = h + np.tanh(h @ W[1][0] + W[1][1])  # h2 = h1 + f(h1)
    h = h + np.tanh(h @ W[2][0] + W[2][1])
    expected = h @ W[3][0] + W[3][1]
    np.testing.assert_allclose(net(x.astype(np.float32)), expected, rtol=1e-5, atol=1e-5)
    plain = build_candidate(4, 2, params | {"residual": False}, seed=0)
    assert isinstance(plain, cr.Sequential)


def test_tune_saves_a_model_that_chainrule_predict_answers_like_the_search(tmp_path, capsys):
    df = _table()
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    model, plots = tmp_path / "best.safetensors", tmp_path / "plots"
    args = ["--trials", 4, "--epochs", 6, "--seed", 1, "--out", model, "--plots", plots]
    code = cli.main(["tune", str(data), "--target", "label", *map(str, args)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.count("trial ") >= 4  # one progress line per trial
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["trial", "state", "val_loss", "epochs"]
    assert "4 trial(s)" in lines[-1] and f"saved model to {model}" in lines[-1]
    for name in ("history.png", "importances.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    predict = _cli("predict", model, data)
    assert predict.returncode == 0, predict.stderr
    from_file = pd.read_csv(io.StringIO(predict.stdout))["prediction"].tolist()

    r = cr.search(df, target="label", seed=1, epochs=6, n_trials=4)
    in_process = r.predict(df.drop(columns="label")).tolist()
    assert set(in_process) <= {"yes", "no"}
    assert from_file == in_process
    assert np.mean(np.array(in_process) == df["label"].to_numpy()) > 0.8


def test_regression_search_predicts_in_the_target_units(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = 1000.0 + 50.0 * (X[:, 0] - 2 * X[:, 1])
    r = cr.search(X, y, seed=0, **FAST)
    assert r.metric == "r2"
    pred = r.predict(X)
    assert abs(pred.mean() - 1000.0) < 30.0  # in the target's units, not standardised
    path = tmp_path / "reg.safetensors"
    cr.save(r.best_model, path)
    out = _cli("predict", path, _write(tmp_path, X))
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(
        pd.read_csv(io.StringIO(out.stdout))["prediction"].to_numpy(), pred, rtol=1e-6
    )


def _write(tmp_path, X):
    path = tmp_path / "x.csv"
    pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).to_csv(path, index=False)
    return path


def test_cli_errors_are_one_line(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data.csv"
    _table(40).to_csv(data, index=False)
    zero = _cli("tune", data, "--target", "label", "--trials", 0)
    assert zero.returncode == 2
    assert zero.stderr.strip().count("\n") == 0 and "--trials" in zero.stderr
    assert "Traceback" not in zero.stderr
    unknown = _cli("tune", data, "--target", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().count("\n") == 0
    assert "unknown target column 'nope'" in unknown.stderr and "'label'" in unknown.stderr

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails
    code = cli.main(["tune", str(data), "--target", "label", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().count("\n") == 0
    assert 'pip install "chainrule[tune]"' in err and "Optuna" in err
    assert not (tmp_path / "m").exists()


def test_parallel_trials_in_threads_finish_and_keep_a_working_best_model():
    df = _table()
    r = cr.search(df, target="label", seed=0, n_jobs=2, **FAST)
    table = r.trials()
    assert len(table) == FAST["n_trials"]
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"}
    assert r.best_score == pytest.approx(table.loc[table["state"] == "COMPLETE", "val_loss"].min())
    answers = r.predict(df.drop(columns="label"))
    assert np.mean(answers == df["label"].to_numpy()) > 0.8


def test_python_errors_name_the_fix(monkeypatch):
    df = _table(40)
    with pytest.raises(ValueError, match="n_trials must be a whole number >= 1"):
        cr.search(df, target="label", n_trials=0)
    with pytest.raises(ValueError, match="unknown target column 'nope'"):
        cr.search(df, target="nope")
    with pytest.raises(ValueError, match=r"unknown search parameter\(s\) \['depth'\]"):
        cr.search(df, target="label", space={"depth": 3})
    with pytest.raises(ValueError, match="an array X needs y"):
        cr.search(df.to_numpy())
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[tune\]"'):
        cr.search(df, target="label")


def test_estimator_inside_an_optuna_objective_with_cross_validation():
    """No optuna.integration: a plain objective over scikit-learn's cross_val_score."""
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from chainrule.sklearn import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:300], y[:300]
    base = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    )

    def objective(trial):
        lr = trial.suggest_categorical("lr", [1e-7, 1e-2])
        est = clone(base).set_params(mlpclassifier__learning_rate=lr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cross_val_score(est, X, y, cv=3).mean()

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.GridSampler({"lr": [1e-7, 1e-2]}, seed=0)
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=2)
    # a step size of 1e-7 leaves the network where it started: 1e-2 must win
    assert study.best_params == {"lr": 1e-2}
    assert study.best_value > 0.9

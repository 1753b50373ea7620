"""``cr.search`` and ``chainrule tune``: Optuna's TPE and median pruner over the recipe's networks."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

pytest.importorskip("optuna")

import chainrule as cr  # noqa: E402
from chainrule import cli  # noqa: E402
from chainrule.search import build_residual, search_space  # noqa: E402

#: A space of one tiny network, for fast searches: only what a test varies is searched.
TINY = {
    "architecture": ("categorical", ("stack",)),
    "depth": ("int", 1, 1),
    "width": ("int_log", 8, 8),
    "activation": ("categorical", ("relu",)),
    "lr": ("float_log", 2e-3, 2e-3),
    "dropout": ("float", 0.0, 0.0),
    "weight_decay": ("categorical", (0.0,)),
    "batch_size": ("categorical", (16,)),
}


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] - X[:, 1] > 0, "a", "b")
    return X, y


def _tiny(**changes):
    return {**TINY, **changes}


def test_holdout_search_returns_the_network_it_scored_and_starts_from_the_default():
    X, y = _blobs()
    Xv, yv = _blobs(40, seed=1)
    space = {"width": ("int_log", 8, 100), "architecture": ("categorical", ("stack",))}
    r = cr.search(X, y, n_trials=2, validation_data=(Xv, yv), seed=0, refit=False, space=space)
    assert r.task == "classify" and list(r.classes) == ["a", "b"]
    t0 = r.study.trials[0].params
    assert (t0["architecture"], t0["depth"], t0["width"], t0["activation"]) == (
        "stack", 1, 100, "relu",
    )  # fmt: skip
    assert (t0["lr"], t0["dropout"], t0["weight_decay"]) == (2e-3, 0.0, 0.0)
    assert r.best_value <= r.default_value
    # the returned network is the one scored: its validation loss and accuracy are the trial's
    labels = np.searchsorted(r.classes, yv)
    r.net.eval()
    z = r.net(Xv.astype(np.float32))
    assert cr.CrossEntropy().forward(z, labels) == pytest.approx(r.scores["val_loss"], rel=1e-5)
    assert np.mean(z.argmax(axis=1) == labels) == pytest.approx(r.scores["val_score"])
    assert "trial 0 is the recipe's default" in r.table()


def test_tune_with_the_default_saves_the_model_chainrule_train_saves(tmp_path, capsys):
    """Trial 0 refit on every row is the model ``chainrule train`` saves: the same weights."""
    pytest.importorskip("pandas")
    pytest.importorskip("safetensors")
    import pandas as pd

    X, y = _blobs(150)
    df = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "colour": np.where(X[:, 2] > 0, "r", "g"),
                       "label": y})  # fmt: skip
    df.to_csv(tmp_path / "d.csv", index=False)
    common = [str(tmp_path / "d.csv"), "--target", "label", "--seed", "3", "-q"]
    assert cli.main(["tune", *common, "--trials", "1",
                     "--out", str(tmp_path / "tune.safetensors")]) == 0  # fmt: skip
    assert "chose trial 0" in capsys.readouterr().out
    tuned = cr.load(tmp_path / "tune.safetensors")
    # train's default (a hold-out run, then the refit on every row it saves), and train on
    # every row from the start
    for name, extra in (("refit", []), ("all", ["--validation-split", "0"])):
        out = tmp_path / f"{name}.safetensors"
        assert cli.main(["train", *common, *extra, "--out", str(out)]) == 0
        trained = cr.load(out)
        assert tuned.preprocessing_ == trained.preprocessing_
        assert len(trained.parameters()) == len(tuned.parameters()) == 4
        for p, q in zip(trained.parameters(), tuned.parameters()):
            np.testing.assert_allclose(q.value, p.value, rtol=1e-5, atol=1e-6)


def test_search_is_reproducible_with_a_seed():
    X, y = _blobs()
    space = _tiny(width=("int_log", 4, 16), lr=("float_log", 1e-3, 1e-2))
    a = cr.search(X, y, n_trials=4, cv=2, seed=5, space=space)
    b = cr.search(X, y, n_trials=4, cv=2, seed=5, space=space)
    assert a.best_params == b.best_params and a.best_value == b.best_value
    assert [t.params for t in a.study.trials] == [t.params for t in b.study.trials]
    np.testing.assert_array_equal(a.net(X.astype(np.float32)), b.net(X.astype(np.float32)))
    c = cr.search(X, y, n_trials=4, cv=2, seed=6, space=space)
    assert [t.params for t in c.study.trials[1:]] != [t.params for t in a.study.trials[1:]]


def test_regression_answers_in_the_targets_units():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    y = 1000 + 300 * X[:, 0] - 50 * X[:, 1]
    Xv = rng.normal(size=(50, 2))
    yv = 1000 + 300 * Xv[:, 0] - 50 * Xv[:, 1]
    r = cr.search(X, y, n_trials=2, validation_data=(Xv, yv), seed=0, refit=False)
    assert r.task == "regress"
    r.net.eval()
    pred = r.net(Xv.astype(np.float32))[:, 0].astype(np.float64)
    # the objective is the MSE on the target standardised with the training mean and sd
    mse_std = np.mean(((pred - yv) / y.std()) ** 2)
    assert mse_std == pytest.approx(r.best_value, rel=1e-3)
    r2 = 1 - np.sum((pred - yv) ** 2) / np.sum((yv - yv.mean()) ** 2)
    assert r2 == pytest.approx(r.scores["val_score"], rel=1e-4) and r2 > 0.9


def test_cross_validation_scores_every_row_once_and_refits_on_all_rows():
    X, y = _blobs(100)
    r = cr.search(X, y, n_trials=1, cv=4, seed=0, space=TINY)
    t = r.study.trials[0]
    # four folds of 75 training rows, each trained for the recipe's whole budget
    assert t.user_attrs["epochs"] == 4 * cr.recipe.epoch_budget(75, 16)
    # the refit: the recipe's budget for all 100 rows, as chainrule train refits
    assert r.refit_epochs == cr.recipe.epoch_budget(100, cr.recipe.batch_size_for(100))
    # the objective is the error rate of the out-of-fold predictions
    assert r.best_value == pytest.approx(1 - t.user_attrs["val_score"], abs=1e-3)
    # the refit model saw every row: it fits them at least as well as the folds predicted them
    acc = np.mean(r.classes[r.net(X.astype(np.float32)).argmax(axis=1)] == y)
    assert acc >= t.user_attrs["val_score"]
    held = cr.search(X, y, n_trials=1, cv=4, seed=0, space=TINY, refit=False)
    assert held.refit_epochs is None
    assert any(np.any(p.value != q.value) for p, q in
               zip(r.net.parameters(), held.net.parameters()))  # fmt: skip


def test_the_default_is_kept_unless_a_trial_beats_it_by_the_margin():
    X, _ = _blobs(100)
    y = 2 * X[:, 0] - X[:, 1]
    # lr 2e-3 is not a choice: trial 0 takes the nearest, 1e-6, and its outputs stay near 0
    space = _tiny(lr=("categorical", (1e-6, 1e-2)))
    r = cr.search(X, y, n_trials=3, cv=2, seed=0, space=space)
    assert r.study.trials[0].params["lr"] == 1e-6
    assert r.chosen == r.study.best_trial.number != 0 and r.best_params["lr"] == 1e-2
    assert r.gain > 2 and "SE over the default" in r.choice()
    # the same study, a margin no trial can beat: the default is kept, and said so
    kept = cr.search(X, y, n_trials=3, cv=2, seed=0, space=space, margin=1e9)
    assert kept.gain == r.gain and kept.chosen == 0 and kept.best_params["lr"] == 1e-6
    assert f"beat it by {r.gain:.1f} standard errors" in kept.table()
    assert kept.scores == kept.default_scores


def test_task_detection_is_the_one_of_chainrule_train():
    pd = pytest.importorskip("pandas")
    from chainrule.preprocessing import detect_task

    for values in (
        np.array(["a", "b"] * 10),
        np.array([True, False] * 10),
        np.arange(20) % 3,
        np.arange(20) % 3 + 0.0,
        np.linspace(0, 1, 20),
        np.array([1.0, np.nan, 2.0, 1.0] * 5),
    ):
        assert detect_task(values) == detect_task(pd.Series(values)), values
    X, y = _blobs(60)
    assert cr.search(X, (X[:, 0] > 0).astype(int), n_trials=1, cv=2, space=TINY).task == "classify"
    assert cr.search(X, X[:, 0] * 3.5, n_trials=1, cv=2, space=TINY).task == "regress"


def test_residual_network_is_h_plus_block_of_h():
    net = build_residual(3, 5, 2, "relu", 2, seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("Add") == 2 and kinds.count("Dense") == 4
    dense = [layer for layer in net.layers if type(layer).__name__ == "Dense"]
    assert np.all(dense[-1].weight.value == 0)  # the output starts at zero, as the stack's
    rng = np.random.default_rng(1)
    for layer in dense:
        layer.weight.value[...] = rng.normal(size=layer.weight.value.shape)
        layer.bias.value[...] = rng.normal(size=layer.bias.value.shape)
    X = rng.normal(size=(7, 3)).astype(np.float32)

    def relu(a):
        return np.maximum(a, 0)

    w = [(d.weight.value.astype(np.float64), d.bias.value.astype(np.float64)) for d in dense]
    h = relu(X @ w[0][0] + w[0][1])
    for W, b in w[1:3]:
        h = h + relu(h @ W + b)
    expected = h @ w[3][0] + w[3][1]
    np.testing.assert_allclose(net(X), expected, rtol=1e-5, atol=1e-5)


def test_the_residual_architecture_trains_saves_and_loads(tmp_path):
    pytest.importorskip("safetensors")
    X, y = _blobs(120)
    space = _tiny(architecture=("categorical", ("stack", "residual")), depth=("int", 2, 2))
    r = cr.search(X, y, n_trials=6, cv=2, seed=0, space=space)
    archs = {t.params["architecture"] for t in r.study.trials}
    assert archs == {"stack", "residual"}
    res = [t for t in r.study.trials if t.params["architecture"] == "residual"]
    assert any(t.state.name == "COMPLETE" for t in res)
    forced = cr.search(X, y, n_trials=1, cv=2, seed=0, refit=True,
                       space=_tiny(architecture=("categorical", ("residual",))))  # fmt: skip
    # a space without the stack: trial 0 is the default moved into it, a residual network
    assert forced.best_params["architecture"] == "residual"
    cr.save(forced.net, tmp_path / "res.safetensors")
    back = cr.load(tmp_path / "res.safetensors")
    Xf = X.astype(np.float32)
    np.testing.assert_array_equal(back(Xf), forced.net(Xf))
    assert np.mean(forced.classes[back(Xf).argmax(axis=1)] == y) > 0.9


def test_pruning_stops_bad_trials_before_their_budget():
    """A learning rate of 1e-7 leaves the network where it started: the median pruner stops it."""
    import optuna

    X, y = _blobs(120)
    space = _tiny(lr=("categorical", (2e-3, 3e-3, 1e-7)))
    r = cr.search(X, y, n_trials=16, cv=2, seed=0, space=space)
    trials = r.study.trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(pruned) > 0
    full = 2 * cr.recipe.epoch_budget(60, 16)  # two folds of 60 training rows, batches of 16
    assert all(t.user_attrs["epochs"] == full for t in complete)
    assert all(t.user_attrs["epochs"] < full for t in pruned)
    # no pruning until 5 trials have completed; after that, every trial that cannot learn stops
    # in the first fold (the pruner's steps 0-9 are its tenths)
    startup = [t.number for t in complete][4]
    hopeless = [t for t in trials if t.params["lr"] == 1e-7 and t.number > startup]
    assert hopeless and all(t.state == optuna.trial.TrialState.PRUNED for t in hopeless)
    assert all(t.user_attrs["epochs"] < full / 2 and t.last_step < 10 for t in hopeless)
    assert r.best_params["lr"] != 1e-7
    assert (r.to_frame()["state"] == "pruned").sum() == len(pruned)


def test_results_as_a_dataframe_best_first():
    pytest.importorskip("pandas")
    X, y = _blobs(100)
    r = cr.search(X, y, n_trials=4, cv=2, seed=0, space=_tiny(width=("int_log", 4, 32)))
    frame = r.to_frame()
    assert len(frame) == 4 and list(frame.columns[:7]) == [
        "trial", "state", "value", "val_score", "val_loss", "epochs", "seconds",
    ]  # fmt: skip
    assert set(search_space(80)) <= set(frame.columns)
    done = frame[frame["state"] == "complete"]
    assert list(done["value"]) == sorted(done["value"])
    assert done.iloc[0]["trial"] == r.study.best_trial.number
    by_trial = {t.number: t for t in r.study.trials}
    for _, row in done.iterrows():
        t = by_trial[row["trial"]]
        assert row["value"] == t.value and row["width"] == t.params["width"]


def test_progress_is_a_plain_line_per_trial(capsys):
    X, y = _blobs(80)
    lines = []
    cr.search(X, y, n_trials=3, cv=2, seed=0, space=_tiny(width=("int_log", 4, 32)),
              progress=lines.append)  # fmt: skip
    assert len(lines) == 3
    assert all(line.startswith(f"[{i + 1}/3] trial {i}: ") for i, line in enumerate(lines))
    assert not any("\r" in line or "\n" in line for line in lines)
    # trial 0 is the default, its width (100) moved inside the space searched (4 to 32)
    assert "architecture=stack depth=1 width=32 activation=relu lr=0.002" in lines[0]
    cr.search(X, y, n_trials=2, cv=2, seed=0, space=TINY, progress=True)
    err = capsys.readouterr().err
    assert err.count("/2] trial ") == 2 and "\r" not in err


def test_timeout_bounds_the_whole_search_and_the_default_always_finishes():
    import time

    import optuna

    X, y = _blobs(100)
    t0 = time.perf_counter()
    r = cr.search(X, y, n_trials=10_000, cv=2, timeout=1.5, seed=0, space=_tiny(
        width=("int_log", 4, 64)))  # fmt: skip
    seconds = time.perf_counter() - t0
    assert r.study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert len(r.study.trials) < 10_000
    assert seconds < 1.5 + 5  # the refit's share was kept back; slack for a loaded machine
    # a default slower than the limit still finishes, and the refit follows it
    slow = cr.search(X, y, n_trials=50, cv=2, timeout=1e-3, seed=0, space=TINY)
    assert len(slow.study.trials) <= 2 and slow.chosen == 0 and slow.refit_epochs > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_trials": 0}, "n_trials must be a positive integer"),
        ({"task": "cluster"}, "task must be 'classify', 'regress' or None"),
        ({"cv": 1}, "cv must be a whole number >= 2"),
        ({"cv": 500}, "cv=500 folds need at least 500 rows"),
        ({"n_jobs": 0}, "n_jobs must be a whole number >= 1"),
        ({"timeout": -1}, "timeout must be a number of seconds > 0"),
        ({"space": {"depht": ("int", 1, 2)}}, r"space names unknown parameter\(s\) \['depht'\]"),
    ],
)
def test_search_errors(kwargs, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        cr.search(X, y, **kwargs)


def test_search_refuses_missing_values():
    X, y = _blobs()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        cr.search(X, y, n_trials=1)


def test_threads_must_be_a_whole_number():
    X, y = _blobs()
    with pytest.raises(ValueError, match="threads must be a whole number >= 1 or None"):
        cr.search(X, y, n_trials=1, threads=0)


# -- chainrule tune ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    d = tmp_path_factory.mktemp("tune")
    X, y = _blobs(150)
    df = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "colour": np.where(X[:, 2] > 0, "r", "g"),
                       "label": y})  # fmt: skip
    df.to_csv(d / "d.csv", index=False)
    return d, df


def test_cli_tune_saves_the_model_the_search_returned(table, tmp_path, capsys, monkeypatch):
    """tune -> predict: the saved model, loaded or run by ``chainrule predict``, is the result's."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("safetensors")
    import importlib

    from chainrule.preprocessing import Preprocessor

    search_module = importlib.import_module("chainrule.search")  # cr.search is the function
    d, df = table
    found = {}
    real = search_module.search

    def spy(*args, **kwargs):
        found["result"] = real(*args, **kwargs)
        return found["result"]

    monkeypatch.setattr(search_module, "search", spy)
    model = tmp_path / "best.safetensors"
    code = cli.main(["tune", str(d / "d.csv"), "--target", "label", "--trials", "3", "--cv", "3",
                     "--out", str(model)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "trial 0 is the recipe's default" in out and f"saved it to {model}" in out
    assert re.search(r"trained again on all 150 rows for \d+ epoch", out)
    # a plain line per trial on stderr (not a tty here), no carriage-return bar
    progress = [line.split(":")[0] for line in err.splitlines() if line.startswith("[")]
    assert progress == ["[1/3] trial 0", "[2/3] trial 1", "[3/3] trial 2"]
    assert "\r" not in err
    net = cr.load(model)
    assert net.preprocessing_["feature_names"] == ["x1", "x2", "colour=g", "colour=r"]
    X = Preprocessor.from_dict(net.preprocessing_).transform(df).astype(np.float32)
    mine = found["result"].net
    np.testing.assert_array_equal(net(X), mine(X))
    code = cli.main(["predict", str(model), str(d / "d.csv"), "--out", str(tmp_path / "p.csv"),
                     "-q"])  # fmt: skip
    assert code == 0
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    assert list(found["result"].classes) == [0, 1]  # tune searches on the encoded labels
    expected = np.asarray(net.preprocessing_["classes"])[mine(X).argmax(axis=1)]
    np.testing.assert_array_equal(predicted, expected)
    assert np.mean(predicted == df["label"].to_numpy()) > 0.9


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--trials", "0"], "argument --trials: must be at least 1, got 0"),
        (["--trials", "many"], "argument --trials: 'many' is not a whole number"),
        (["--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
        (["--timeout", "-5"], "argument --timeout: must be a positive number, got -5"),
        (["--cv", "1"], "argument --cv: must be at least 2 folds, got 1"),
        (["--cv", "100"], "--cv 100 needs at least 200 rows with a target"),
        (["--seed", "-1"], "argument --seed: must be a whole number >= 0, got -1"),
        (["--ignore", "nope"], "--ignore names unknown column(s) 'nope'"),
    ],
)  # fmt: skip
def test_cli_tune_option_errors_are_one_line(table, tmp_path, capsys, extra, message):
    d, _ = table
    code = cli.main(["tune", str(d / "d.csv"), "--target", "label", "--trials", "1",
                     "--out", str(tmp_path / "m.safetensors"), *extra])  # fmt: skip
    _, err = capsys.readouterr()
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "m.safetensors").exists()


def test_cli_tune_unknown_target_and_missing_optuna(table, tmp_path, capsys, monkeypatch):
    d, _ = table
    args = ["tune", str(d / "d.csv"), "--trials", "1", "--out", str(tmp_path / "m.safetensors")]
    code = cli.main([*args, "--target", "price"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "unknown target column 'price'" in err and "label" in err
    code = cli.main([*args, "--target", "x1,x2"])  # several targets: train does that, not tune
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "tune searches for one target at a time; tune each (--target x1 --ignore x2)" in err
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    code = cli.main([*args, "--target", "label"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert 'tune needs Optuna: pip install "chainrule[search]"' in err


# -- the estimators inside search wrappers ----------------------------------------------


def test_estimator_in_scikit_learns_grid_search():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from chainrule.sklearn import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    )
    grid = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [1e-7, 1e-2]}, cv=3)
    grid.fit(X, y)
    # a step size of 1e-7 leaves the network near where it started: 1e-2 must win
    assert grid.best_params_ == {"mlpclassifier__learning_rate_init": 1e-2}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[1] > 0.9 and scores[1] > scores[0]
    assert grid.best_estimator_.predict(X[:5]).shape == (5,)


def test_estimator_inside_an_optuna_objective_with_cross_validation():
    """No optuna.integration: a plain objective over scikit-learn's cross_val_score."""
    import warnings

    import optuna
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
        est = clone(base).set_params(mlpclassifier__learning_rate_init=lr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cross_val_score(est, X, y, cv=3).mean()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.GridSampler({"lr": [1e-7, 1e-2]}, seed=0)
    )
    study.optimize(objective, n_trials=2)
    # a step size of 1e-7 leaves the network where it started: 1e-2 must win
    assert study.best_params == {"lr": 1e-2}
    assert study.best_value > 0.9


def test_estimator_inside_optunas_search_cv():
    """optuna_integration.OptunaSearchCV: each trial's score is scikit-learn's CV score."""
    import warnings

    pytest.importorskip("optuna_integration")
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna_integration import OptunaSearchCV
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from chainrule.sklearn import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    )
    space = {"mlpclassifier__learning_rate_init": CategoricalDistribution([1e-7, 1e-2])}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OptunaSearchCV is marked experimental
        search = OptunaSearchCV(pipe, space, n_trials=4, cv=3, random_state=0)
        search.fit(X, y)
        best = cross_val_score(pipe.set_params(**search.best_params_), X, y, cv=3).mean()
    # a step size of 1e-7 leaves the network near where it started: 1e-2 must win
    assert search.best_params_ == {"mlpclassifier__learning_rate_init": 1e-2}
    assert search.best_score_ == pytest.approx(best, abs=1e-12) and best > 0.9

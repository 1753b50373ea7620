"""``cr.search`` and ``chainrule tune``: Optuna's TPE and median pruner over the recipe's MLPs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("optuna")

import chainrule as cr  # noqa: E402


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] - X[:, 1] > 0, "a", "b")
    return X, y


def test_search_classifier_restores_its_best_epoch_and_starts_from_the_default():
    X, y = _blobs()
    Xv, yv = _blobs(40, seed=1)
    r = cr.search(X, y, n_trials=4, validation_data=(Xv, yv), seed=0)
    assert r.task == "classify" and list(r.classes) == ["a", "b"]
    t0 = r.study.trials[0].params
    assert (t0["depth"], t0["width"], t0["activation"]) == (1, 100, "relu")  # the recipe
    assert r.best_value <= r.default_value
    # the returned network is the one scored: its validation loss is the best value
    labels = np.searchsorted(r.classes, yv)
    r.net.eval()
    loss = cr.CrossEntropy().forward(r.net(Xv.astype(np.float32)), labels)
    assert loss == pytest.approx(r.best_value, rel=1e-5)
    assert "trial 0 is the recipe's default" in r.table()


def test_search_is_reproducible_with_a_seed():
    X, y = _blobs()
    a = cr.search(X, y, n_trials=3, seed=5)
    b = cr.search(X, y, n_trials=3, seed=5)
    assert a.best_params == b.best_params and a.best_value == b.best_value


def test_search_regression_answers_in_the_targets_units():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    y = 1000 + 300 * X[:, 0] - 50 * X[:, 1]
    Xv = rng.normal(size=(50, 2))
    yv = 1000 + 300 * Xv[:, 0] - 50 * Xv[:, 1]
    r = cr.search(X, y, n_trials=2, validation_data=(Xv, yv), seed=0)
    assert r.task == "regress"
    r.net.eval()
    pred = r.net(Xv.astype(np.float32))[:, 0].astype(np.float64)
    # the objective is the MSE on the target standardised with the training mean and sd
    mse_std = np.mean(((pred - yv) / y.std()) ** 2)
    assert mse_std == pytest.approx(r.best_value, rel=1e-3)
    assert 1 - np.sum((pred - yv) ** 2) / np.sum((yv - yv.mean()) ** 2) > 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_trials": 0}, "n_trials must be a positive integer"),
        ({"task": "cluster"}, "task must be 'classify', 'regress' or None"),
        ({"validation_fraction": 1.5}, r"validation_fraction must be in \(0, 1\)"),
    ],
)
def test_search_errors(kwargs, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        cr.search(X, y, **kwargs)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        cr.search(X, y, n_trials=1)


def test_cli_tune_saves_the_best_model_with_its_preprocessing(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("safetensors")
    from chainrule import cli

    X, y = _blobs(150)
    df = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "colour": np.where(X[:, 2] > 0, "r", "g"),
                       "label": y})  # fmt: skip
    df.to_csv(tmp_path / "d.csv", index=False)
    code = cli.main(["tune", str(tmp_path / "d.csv"), "--target", "label", "--trials", "3",
                     "--out", str(tmp_path / "best.safetensors"), "-q"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "trial 0 is the recipe's default" in out and "saved the best model" in out
    net = cr.load(tmp_path / "best.safetensors")
    assert net.preprocessing_["feature_names"] == ["x1", "x2", "colour=g", "colour=r"]
    code = cli.main(["predict", str(tmp_path / "best.safetensors"), str(tmp_path / "d.csv"),
                     "--out", str(tmp_path / "p.csv"), "-q"])  # fmt: skip
    assert code == 0
    agree = np.mean(pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy() == y)
    assert agree > 0.9


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


def test_threads_must_be_a_whole_number():
    X, y = _blobs()
    with pytest.raises(ValueError, match="threads must be a whole number >= 1 or None"):
        cr.search(X, y, n_trials=1, threads=0)

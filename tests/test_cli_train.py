"""``chainrule train``'s practitioner flags and the default recipe, run in-process.

--dropout, --batchnorm, --weight-decay, --class-weight, --sample-weight,
--resume, the restored epoch and the labelled metrics, the refit on every row
(--refit/--no-refit); each error is one line.
"""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import cli, recipe  # noqa: E402
from chainrule.preprocessing import Preprocessor  # noqa: E402
from chainrule.serialization import load_checkpoint  # noqa: E402


def train(capsys, *args):
    code = cli.main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = np.where(x1 + 0.5 * x2 > 0.3, "yes", "no")
    weight = np.ones(n)
    flipped = rng.random(n) < 0.25  # a quarter of the rows lie, and weigh nothing
    label_noisy = np.where(flipped, np.where(label == "yes", "no", "yes"), label)
    weight[flipped] = 0.0
    df = pd.DataFrame({"x1": x1, "x2": x2, "w": weight, "label": label_noisy})
    df.to_csv(d / "binary.csv", index=False)
    reg = pd.DataFrame({"a": x1, "b": x2, "price": 1000 + 250 * x1 - 80 * x2})
    reg.to_csv(d / "reg.csv", index=False)
    return d, df, flipped


def test_the_hold_out_run_restores_the_best_epoch_and_labels_the_metrics(capsys, tables):
    d, df, _ = tables
    code, out, err = train(capsys, d / "binary.csv", "--target", "label", "--ignore", "w",
                           "--no-refit", "--out", d / "m.safetensors")  # fmt: skip
    assert code == 0, err
    assert "retrained" not in out
    net = cr.load(d / "m.safetensors")
    val_loss = net.history_["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert f"restored epoch {best} (lowest validation loss" in out
    # the default budget: at least 600 steps of ~16-row batches over 192 training rows
    assert len(val_loss) == recipe.epoch_budget(192, recipe.batch_size_for(192))
    assert "precision, recall and f1 are for the positive class 'yes' (the other is 'no')" in err
    # the zero-initialised output layer of the recipe, and the default width
    assert [layer.out_features for layer in net.layers if isinstance(layer, cr.Dense)] == [100, 2]


def test_regression_metric_units_are_named(capsys, tables):
    d, _, _ = tables
    code, out, err = train(capsys, d / "reg.csv", "--target", "price", "--out", d / "r.safetensors")
    assert code == 0, err
    assert "mae and rmse are in the units of 'price', mse in its units squared" in err
    assert (
        "progress lines' loss adds the recipe's L2 penalty alpha*sum(W^2)/(2 batch rows) (alpha 0.0001)"
        in err
    )
    r2 = [line.split() for line in out.splitlines() if line.startswith("r2")][0]
    assert float(r2[2]) > 0.95  # a linear target: the validation R^2


def test_sample_weight_column_is_a_weight_not_a_feature(capsys, tables):
    d, df, flipped = tables
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--sample-weight", "w",
                         "--validation-split", "0", "--out", d / "w.safetensors")  # fmt: skip
    assert code == 0, err
    net = cr.load(d / "w.safetensors")
    assert net.preprocessing_["feature_names"] == ["x1", "x2"]
    pre = Preprocessor.from_dict(net.preprocessing_)
    X = pre.transform(df)
    truth = np.where(df["x1"] + 0.5 * df["x2"] > 0.3, "yes", "no")
    net.eval()
    pred = pre.decode_target(net(X))
    # the lying rows weigh 0: the model learns the true rule, even on the rows that lie
    assert np.mean(pred == truth) > 0.95
    assert np.mean(pred[flipped] == df["label"][flipped]) < 0.2


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sample-weight", "nope"], "unknown --sample-weight column 'nope'"),
        (["--sample-weight", "label"], "the target 'label' cannot also be the --sample-weight column"),
        (["--sample-weight", "x1"], "--sample-weight column 'x1' has negative weights"),
        (["--class-weight", "maybe=2"], "--class-weight expects 'balanced' or CLASS=WEIGHT,... with "
                                        "classes no, yes; got 'maybe=2'"),
        (["--class-weight", "yes=-1"], "--class-weight 'yes=-1': the weight must be a number >= 0"),
        (["--weight-decay", "-1"], "argument --weight-decay: must be a number >= 0, got -1"),
        (["--dropout", "1.5"], "argument --dropout"),
    ],
)  # fmt: skip
def test_flag_errors_are_one_line(capsys, tables, extra, message):
    d, _, _ = tables
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--ignore", "w",
                         "--out", d / "e.safetensors", "--quiet", *extra)  # fmt: skip
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_class_weight_balanced_and_regression_refusal(capsys, tables):
    d, _, _ = tables
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--ignore", "w",
                         "--class-weight", "balanced", "--out", d / "b.safetensors")  # fmt: skip
    assert code == 0, err
    code, _, err = train(capsys, d / "reg.csv", "--target", "price", "--class-weight", "balanced",
                         "--out", d / "b2.safetensors")  # fmt: skip
    assert code == 1 and "--class-weight needs a classification target" in err


def test_dropout_batchnorm_weight_decay_reach_the_model(capsys, tables):
    d, _, _ = tables
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--ignore", "w",
                         "--dropout", "0.2", "--batchnorm", "--weight-decay", "0.01",
                         "--hidden", "8,8", "--epochs", "3", "--checkpoint",
                         "--out", d / "reg.safetensors")  # fmt: skip
    assert code == 0, err
    net, opt = load_checkpoint(d / "reg.safetensors")
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("BatchNorm") == 2 and kinds.count("Dropout") == 2
    assert opt.weight_decay == 0.01 and tuple(opt.betas) == recipe.DEFAULTS["betas"]


def test_resume_continues_from_the_saved_weights(capsys, tables):
    d, df, _ = tables
    first = d / "first.safetensors"
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--ignore", "w",
                         "--out", first)  # fmt: skip
    assert code == 0, err
    # a step size too small to move anything: the resumed model answers as the saved one
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--resume", first,
                         "--lr", "1e-30", "--epochs", "1", "--out", d / "again.safetensors")  # fmt: skip
    assert code == 0, err
    a, b = cr.load(first), cr.load(d / "again.safetensors")
    X = Preprocessor.from_dict(a.preprocessing_).transform(df)
    np.testing.assert_allclose(b(X), a(X), rtol=1e-6, atol=1e-6)
    code, _, err = train(capsys, d / "reg.csv", "--target", "price", "--resume", first,
                         "--out", d / "bad.safetensors")  # fmt: skip
    assert code == 2 and "it predicts 'label', not --target 'price'" in err


def test_a_repeated_target_is_refused_not_the_last_one_kept(capsys, tables):
    d, _, _ = tables  # several regression targets: tests/test_multi_target.py
    code, _, err = train(capsys, d / "reg.csv", "--target", "price", "--target", "a", "--quiet")
    assert (
        code == 2 and "argument --target: given twice; name several regression targets once" in err
    )


def test_a_small_job_never_loads_numba_and_leaves_the_kernel_choice(capsys, tables):
    import os
    import subprocess
    import sys

    d, _, _ = tables
    before = cr.kernels.backend()
    code, _, _ = train(capsys, d / "reg.csv", "--target", "price", "--out", d / "k.safetensors")
    assert code == 0 and cr.kernels.backend() == before  # the choice came back after the job
    script = (
        "import sys; from chainrule import cli; "
        f"code = cli.main(['train', {str(d / 'reg.csv')!r}, '--target', 'price', '-q', "
        f"'--out', {str(d / 'k2.safetensors')!r}]); "
        f"code += cli.main(['predict', {str(d / 'k2.safetensors')!r}, {str(d / 'reg.csv')!r}, "
        f"'-q', '--out', {str(d / 'k2.csv')!r}]); "
        f"code += cli.main(['evaluate', {str(d / 'k2.safetensors')!r}, {str(d / 'reg.csv')!r}]); "
        "print(code, 'chainrule._numba_kernels' in sys.modules, 'numba' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_KERNELS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.stdout.splitlines()[-1].split() == ["0", "False", "False"], done.stderr


def _same_weights(a, b) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_train_uses_the_recipes_l2_penalty_of_its_task(capsys, tables, monkeypatch):
    """A classifier trains with ``recipe.l2_for("classify")``, a regressor with "regress"'s."""
    d, _, _ = tables
    cls = [d / "binary.csv", "--target", "label", "--ignore", "w"]
    reg = [d / "reg.csv", "--target", "price"]
    common = ["--validation-split", "0", "--epochs", "20", "--lr", "0.02"]

    def weights(args, name):
        code, _, err = train(capsys, *args, *common, "--out", d / name)
        assert code == 0, err
        return cr.load(d / name)

    plain_cls, plain_reg = weights(cls, "l2c.safetensors"), weights(reg, "l2r.safetensors")
    monkeypatch.setitem(recipe.L2, "classify", 50.0)  # a penalty too big to miss
    heavy_cls, same_reg = weights(cls, "l2c50.safetensors"), weights(reg, "l2r50.safetensors")
    norm = lambda net: sum(float(np.sum(w.weight.value**2)) for w in net.layers  # noqa: E731
                           if isinstance(w, cr.Dense))  # fmt: skip
    assert norm(heavy_cls) < 0.5 * norm(plain_cls)
    _same_weights(plain_reg, same_reg)  # the classifiers' penalty leaves a regressor alone
    monkeypatch.setitem(recipe.L2, "regress", 50.0)
    assert norm(weights(reg, "l2r50b.safetensors")) < 0.5 * norm(plain_reg)


def test_default_refit_saves_a_model_trained_on_every_row(capsys, tables):
    d, df, _ = tables
    args = [d / "binary.csv", "--target", "label", "--ignore", "w"]
    code, out, err = train(capsys, *args, "--out", d / "refit.safetensors")
    assert code == 0, err
    assert (
        "validation metrics come from the hold-out run; the saved model was retrained on all "
        "240 rows" in out
    )
    assert "--no-refit saves the hold-out model instead" in out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:1].isalpha()}
    assert table["rows"] == ["192", "48"]  # the metrics are the hold-out run's
    net = cr.load(d / "refit.safetensors")
    # every row: the preprocessing's means are those of all 240 rows (pandas), not of 192
    np.testing.assert_allclose(net.preprocessing_["mean"], df[["x1", "x2"]].mean(), rtol=1e-12)
    assert "val_loss" not in net.history_  # nothing was held out of this run
    assert len(net.history_["loss"]) == recipe.epoch_budget(240, recipe.batch_size_for(240))
    # the same recipe and seed on the same rows: the model --validation-split 0 trains
    code, out0, err = train(
        capsys, *args, "--validation-split", "0", "--out", d / "all.safetensors"
    )
    assert code == 0, err
    assert "retrained" not in out0
    _same_weights(net, cr.load(d / "all.safetensors"))
    # the restored epoch it reports is the hold-out run's, the one --no-refit saves
    code, _, err = train(capsys, *args, "--no-refit", "--out", d / "held.safetensors")
    assert code == 0, err
    held = cr.load(d / "held.safetensors")
    best = int(np.argmin(held.history_["val_loss"])) + 1
    assert f"hold-out run: {len(held.history_['loss'])} epoch(s) on 192 rows" in out
    assert f"restored epoch {best} (lowest validation loss" in out
    assert not np.allclose(held.preprocessing_["mean"], net.preprocessing_["mean"])


def test_refit_follows_patience_and_the_row_limit(capsys, tables, monkeypatch):
    from chainrule.cli import train as train_module

    d, _, _ = tables
    args = [d / "binary.csv", "--target", "label", "--ignore", "w", "--out", d / "p.safetensors"]
    code, out, err = train(capsys, *args, "--patience", "5")
    assert code == 0, err
    assert "the saved model is the hold-out run's (--patience stops on the validation rows" in err
    assert "val_loss" in cr.load(d / "p.safetensors").history_
    code, out, err = train(capsys, *args, "--patience", "5", "--refit")
    assert code == 0 and "retrained on all 240 rows" in out, err
    assert "val_loss" not in cr.load(d / "p.safetensors").history_
    monkeypatch.setattr(train_module, "REFIT_MAX_ROWS", 200)
    code, out, err = train(capsys, *args)
    assert code == 0 and "retrained" not in out, err
    assert "with 240 rows (more than 200) a refit on every row is off by default" in err
    code, out, _ = train(capsys, *args, "--dry-run")
    assert "192 training rows, 48 validation rows (dry run" in out
    monkeypatch.undo()
    code, out, _ = train(capsys, *args, "--dry-run")
    assert "48 validation rows, then a refit on all 240 rows (dry run" in out


def test_refit_without_a_hold_out_is_refused_in_one_line(capsys, tables):
    d, _, _ = tables
    code, _, err = train(capsys, d / "binary.csv", "--target", "label", "--refit",
                         "--validation-split", "0", "--quiet")  # fmt: skip
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert "--refit trains again on every row after a hold-out run, but --validation-split 0" in err

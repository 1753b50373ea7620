"""``chainrule diagnose`` reads the verdict records and the history the model file keeps.

The case from issue 13: a regression net that overfits (training R² near 1,
held-out data far below) was told "No problems found". It must now be told it
overfits, with the remedy worded as ``chainrule train`` flags; and a model
whose training restored the weights of its best validation epoch is told that
the overfitting is behind it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.cli import main  # noqa: E402

TRAIN = ["--target", "target", "--hidden", "128,128", "--epochs", "150", "--batch-size", "8",
         "--lr", "0.01"]  # fmt: skip


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("diabetes")
    frame = load_diabetes(as_frame=True).frame
    frame.iloc[:60].to_csv(d / "train.csv", index=False)
    frame.iloc[200:].to_csv(d / "test.csv", index=False)
    return d


def _verdicts(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  - ")]


def test_diagnose_tells_an_overfitting_regression_net_that_it_overfits(tables, capsys):
    model = tables / "overfit.safetensors"
    argv = ["train", str(tables / "train.csv"), *TRAIN, "--validation-split", "0"]
    assert main([*argv, "--out", str(model)]) == 0
    capsys.readouterr()
    net = cr.load(model)
    train_loss = net.history_["loss"][-1]
    assert main(["diagnose", str(model), str(tables / "test.csv")]) == 0
    out = capsys.readouterr().out
    assert "No problems found" not in out
    (verdict,) = _verdicts(out)
    held = float(verdict.split("the loss on these data is ")[1].split(",")[0])
    assert held > 2 * train_loss and held > 0.5  # far above a near-zero training loss
    assert "try: chainrule train ... --validation-split 0.2 --patience" in out


def test_a_model_restored_to_its_best_epoch_gets_a_note_not_an_alarm(tables, capsys):
    model = tables / "restored.safetensors"
    argv = ["train", str(tables / "train.csv"), *TRAIN, "--validation-split", "0.2", "--no-refit"]
    assert main([*argv, "--out", str(model)]) == 0
    assert "restored epoch" in capsys.readouterr().out
    v = np.asarray(cr.load(model).history_["val_loss"])
    assert v[-10:].mean() > 1.1 * v.min()  # the validation loss did turn up
    assert main(["diagnose", str(model), str(tables / "test.csv")]) == 0
    out = capsys.readouterr().out
    assert "No problems found." in out
    (note,) = _verdicts(out)
    assert note.startswith(f"  - overfitting: the validation loss rose from {v.min():.3g}")
    assert "(its weights were restored)" in note

"""``chainrule diagnose`` reads the verdict records and the history the model file keeps.

The case from issue 13: a regression net that overfits (training R² near 1,
validation far below) was told "No problems found". It must now be told it
overfits, with the remedy worded as ``chainrule train`` flags.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.cli import main  # noqa: E402


@pytest.mark.slow
def test_diagnose_tells_an_overfitting_regression_net_that_it_overfits(tmp_path, capsys):
    frame = load_diabetes(as_frame=True).frame
    frame.iloc[:60].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[200:].to_csv(tmp_path / "test.csv", index=False)
    model = tmp_path / "reg.safetensors"
    argv = ["train", str(tmp_path / "train.csv"), "--target", "target", "--hidden", "128,128",
            "--epochs", "150", "--batch-size", "8", "--lr", "0.01", "--validation-split", "0.2",
            "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    history = cr.load(model).history_
    v = np.asarray(history["val_loss"])
    assert v[-10:].mean() > 1.1 * v.min()  # it did overfit: validation loss turned up
    assert main(["diagnose", str(model), str(tmp_path / "test.csv")]) == 0
    out = capsys.readouterr().out
    assert "No problems found" not in out
    verdict = next(line for line in out.splitlines() if line.startswith("  - "))
    assert verdict.startswith("  - overfitting: the validation loss rose from")
    assert f"{v.min():.3g}" in verdict
    assert "try: chainrule train ... --validation-split 0.2 --patience" in out

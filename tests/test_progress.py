"""ProgressBar: a tqdm bar in a terminal, plain lines in a pipe, nothing when off."""

from __future__ import annotations

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule import progress
from chainrule.progress import ProgressBar, format_logs


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fit(bar, epochs=3, **kw):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    net = cr.Sequential(cr.Dense(3, 4, activation="relu"), cr.Dense(4, 2), seed=0)
    return net.fit(
        X,
        y,
        loss="cross_entropy",
        epochs=epochs,
        batch_size=8,
        metrics=["accuracy"],
        validation_split=0.25,
        callbacks=[bar],
        **kw,
    )


def test_lines_in_a_pipe():
    out = io.StringIO()  # not a terminal
    bar = ProgressBar(3, file=out, desc="fit")
    h = _fit(bar)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("fit: epoch 1/3  loss=")
    assert f"val_accuracy={h['val_accuracy'][-1]:.4g}" in lines[-1]
    assert bar.lines[-1] in lines[-1]


def test_bar_on_a_terminal():
    pytest.importorskip("tqdm")
    out = _Tty()
    bar = ProgressBar(3, file=out, desc="fit")
    _fit(bar)
    text = out.getvalue()
    assert "fit" in text and "3/3" in text and "loss=" in text
    assert "epoch 1/3" not in text  # a bar, not lines
    assert len(bar.lines) == 3 and bar._bar is None  # closed at the end


def test_forced_bar_and_off():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    _fit(ProgressBar(3, mode="bar", file=out))
    assert "3/3" in out.getvalue()
    out = io.StringIO()
    _fit(ProgressBar(3, mode="off", file=out))
    assert out.getvalue() == ""


def test_without_tqdm_a_terminal_gets_lines(monkeypatch):
    monkeypatch.setattr(progress, "_tqdm_class", lambda notebook: None)
    out = _Tty()
    _fit(ProgressBar(3, file=out))
    assert out.getvalue().count("epoch ") == 3


def test_long_runs_print_about_twenty_lines_and_the_last():
    out = io.StringIO()
    bar = ProgressBar(100, file=out)
    bar.on_train_begin({})
    for epoch in range(100):
        bar.on_epoch_begin(epoch)
        bar.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    bar.on_train_end({})
    lines = out.getvalue().splitlines()
    assert len(lines) == 21  # epoch 1, every 5th, and the last is the 100th
    assert "epoch 100/100" in lines[-1] and len(bar.lines) == 100


def test_early_stop_shows_the_last_epoch():
    out = io.StringIO()
    bar = ProgressBar(100, file=out, every=10)
    bar.on_train_begin({})
    for epoch in range(13):
        bar.on_epoch_begin(epoch)
        bar.on_epoch_end(epoch, {"loss": 0.5})
    bar.on_train_end({})
    lines = out.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["1/100", "10/100", "13/100"]


def test_epochs_can_come_from_fit_logs():
    out = io.StringIO()
    bar = ProgressBar(file=out, mode="lines")
    bar.on_train_begin({"epochs": 2})
    bar.on_epoch_end(0, {"loss": 0.25})
    assert "epoch 1/2  loss=0.25" in out.getvalue()


def test_format_logs_and_bad_arguments():
    assert format_logs({"loss": 0.123456, "accuracy": 1, "note": "x"}) == "loss=0.1235  accuracy=1"
    with pytest.raises(ValueError, match="mode must be"):
        ProgressBar(mode="fancy")
    with pytest.raises(ValueError, match="every must be"):
        ProgressBar(every=0)

"""ProgressBar: a tqdm bar in a terminal, plain lines in a pipe, nothing when off."""

from __future__ import annotations

import io
import os
import sys
import warnings

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


# -- in a Jupyter kernel (simulated here; tests/test_notebook.py runs a real one) ----------
@pytest.fixture
def no_ipywidgets(monkeypatch):
    """``import ipywidgets`` fails, and tqdm.notebook is imported afresh (then put back)."""
    tqdm = pytest.importorskip("tqdm")
    saved = sys.modules.pop("tqdm.notebook", None)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.delattr(tqdm, "notebook", raising=False)  # restored afterwards
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    yield
    sys.modules.pop("tqdm.notebook", None)
    if saved is not None:
        sys.modules["tqdm.notebook"] = saved


def test_notebook_without_ipywidgets_prints_lines_on_stdout_and_no_warning(no_ipywidgets, capsys):
    assert progress._tqdm_class(True) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto would raise TqdmWarning here
        h = _fit(ProgressBar(3))
    out, err = capsys.readouterr()
    assert err == ""  # nothing on the stream a notebook paints red
    lines = out.splitlines()
    assert [line.split()[2] for line in lines] == ["1/3", "2/3", "3/3"]
    assert f"loss={h['loss'][-1]:.4g}" in lines[-1]


def test_notebook_forced_bar_without_ipywidgets_also_prints_lines(no_ipywidgets, capsys):
    bar = ProgressBar(3, mode="bar")
    _fit(bar)
    assert bar._mode == "lines" and capsys.readouterr().out.count("training: epoch ") == 3


def test_notebook_with_ipywidgets_uses_the_widget_class():
    pytest.importorskip("ipywidgets")
    tqdm_notebook = pytest.importorskip("tqdm.notebook")
    assert progress._tqdm_class(True) is tqdm_notebook.tqdm
    assert progress._tqdm_class(False) is not tqdm_notebook.tqdm


def test_a_file_given_is_text_even_in_a_notebook(monkeypatch):
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    out = io.StringIO()
    bar = ProgressBar(3, file=out)
    _fit(bar)
    assert bar._mode == "lines" and out.getvalue().count("epoch ") == 3


class _Kernel:
    config = {"IPKernelApp": {}}


def test_in_notebook_needs_a_kernel_and_a_widget_front_end(monkeypatch):
    fake_ipython = type(sys)("IPython")
    fake_ipython.get_ipython = lambda: None
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    for key in [k for k in os.environ if k == "QT_API" or k.startswith("SPYDER")]:
        monkeypatch.delenv(key)
    assert not progress.in_notebook()  # IPython imported, but no shell running
    fake_ipython.get_ipython = _Kernel
    assert progress.in_notebook()
    monkeypatch.setenv("SPYDER_ARGS", "[]")  # Spyder's console runs a kernel too
    assert not progress.in_notebook()

"""A progress bar for ``fit``: one bar over the epochs with the loss and metrics.

``ProgressBar`` is a ``Callback``. Where it draws depends on where it runs:

* a terminal: a tqdm text bar on stderr;
* a Jupyter kernel with ipywidgets: tqdm's notebook widget, and when training
  ends the last epoch's line printed below it (a saved notebook keeps that
  text even where its widgets are not rendered);
* anywhere else (a pipe, a log file, CI, a notebook without ipywidgets, no
  tqdm installed): one plain line per epoch, never a warning about it.

    net.fit(X, y, loss="cross_entropy", epochs=20, callbacks=[ProgressBar(20)])

tqdm is optional (``pip install tqdm``), and so is ipywidgets for the widget
(``pip install "chainrule[notebook]"`` brings both kernel and widgets).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import time
from typing import IO

from .callbacks import Callback

MODES = ("auto", "bar", "lines", "off")

__all__ = ["MODES", "ProgressBar", "format_logs", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel whose front end draws widgets.

    Jupyter Notebook and Lab, VS Code and Colab do; the Qt console and
    Spyder run the same kernel but show widgets as text, so they count as
    a console here (tqdm.auto makes the same exception).
    """
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:  # pragma: no cover - unusual IPython builds
        return False
    if ip is None or "IPKernelApp" not in getattr(ip, "config", {}):
        return False
    qt_or_spyder = any(k == "QT_API" or k.startswith("SPYDER") for k in os.environ)
    return not qt_or_spyder


def format_logs(logs: dict | None, digits: int = 4) -> str:
    """``"loss=0.1234  accuracy=0.95"`` from a logs dict (numbers only, in order).

    Parameters
    ----------
    logs : dict or None
        An epoch's numbers, as callbacks receive them.
    digits : int, default 4
        Significant digits of each number.
    """
    parts = []
    for key, value in (logs or {}).items():
        try:
            parts.append(f"{key}={float(value):.{digits}g}")
        except (TypeError, ValueError):
            continue
    return "  ".join(parts)


def _tqdm_class(notebook: bool):
    """The tqdm class to draw with, or None to print plain lines instead.

    In a notebook that is ``tqdm.notebook.tqdm`` (an ipywidgets widget); when
    ipywidgets is missing it is None, not ``tqdm.auto``, which would warn
    and then write a text bar full of carriage returns to the cell.
    """
    try:
        if notebook:
            module = importlib.import_module("tqdm.notebook")
            # tqdm.notebook imports without ipywidgets but leaves IProgress None
            return module.tqdm if getattr(module, "IProgress", None) is not None else None
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class ProgressBar(Callback):
    """Show training progress: a bar in a terminal or notebook, plain lines elsewhere.

    Parameters
    ----------
    epochs : int or None
        Total number of epochs (the bar's length). ``None`` takes it from the
        ``"epochs"`` key of the logs ``fit`` passes to ``on_train_begin``.
    mode : {"auto", "bar", "lines", "off"}
        ``"auto"``: a bar in a terminal or notebook, one line per epoch
        otherwise. ``"bar"``: a tqdm bar even in a pipe. ``"lines"``: one line
        per epoch. ``"off"``: nothing. In a notebook a bar is tqdm's widget;
        without ipywidgets both bar modes print lines instead.
    file : file-like or None
        Where to write (default: ``sys.stderr``, resolved when training
        starts, so results on stdout stay clean; in a Jupyter kernel
        ``sys.stdout``, which the notebook does not paint as an error). A
        file given here is always written as text, never as a widget.
    desc : str
        Label shown before the bar.
    update_interval : float
        Seconds between live updates of the running loss inside an epoch.
    every : int or None
        In line mode, print every ``every``-th epoch (always the first and the
        last). ``None`` picks a step that prints about 20 lines in all.

    Attributes
    ----------
    lines : list of str
        Every per-epoch line shown (also in bar mode), for tests and logs.
    """

    def __init__(
        self,
        epochs: int | None = None,
        mode: str = "auto",
        file: IO[str] | None = None,
        desc: str = "training",
        update_interval: float = 0.2,
        every: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.epochs = epochs
        self.mode = mode
        self.file = file
        self.desc = desc
        self.update_interval = float(update_interval)
        if every is not None and (isinstance(every, bool) or int(every) < 1):
            raise ValueError(f"every must be a positive integer or None, got {every!r}")
        self.every = every
        self.lines: list[str] = []
        self._bar = None
        self._mode = "off"
        self._notebook = False
        self._printed: str | None = None  # the last line printed
        self._total = epochs

    # -- choosing how to show it -----------------------------------------------------
    def _stream(self) -> IO[str]:
        if self.file is not None:
            return self.file
        return sys.stdout if self._notebook else sys.stderr

    def _resolve(self) -> tuple[str, object]:
        """The effective mode ("bar", "lines", "off") and the tqdm class for a bar."""
        if self.mode == "off":
            return "off", None
        notebook = self._notebook = self.file is None and in_notebook()
        if self.mode == "lines":
            return "lines", None
        stream = self._stream()
        tty = bool(getattr(stream, "isatty", lambda: False)())
        if self.mode == "auto" and not (tty or notebook):
            return "lines", None
        tqdm = _tqdm_class(notebook)
        return ("bar", tqdm) if tqdm is not None else ("lines", None)

    # -- the hooks ------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        total = (logs or {}).get("epochs", self.epochs)
        self._total = total
        self._mode, tqdm = self._resolve()
        self._epoch_loss = 0.0
        self._batches = 0
        self._last_update = time.monotonic()
        self.lines = []
        self._printed = None
        if self._mode == "bar":
            self._bar = tqdm(
                total=total,
                desc=self.desc,
                unit="epoch",
                file=self.file,  # None: stderr, or the cell's stdout for a widget
                dynamic_ncols=True,
                leave=True,
            )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_loss = 0.0
        self._batches = 0
        self._t0 = time.perf_counter()

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._bar is None or not logs or "loss" not in logs:
            return
        self._epoch_loss += float(logs["loss"])
        self._batches += 1
        now = time.monotonic()
        if now - self._last_update >= self.update_interval:
            self._last_update = now
            self._bar.set_postfix_str(
                f"loss={self._epoch_loss / self._batches:.4g} (batch {batch + 1})", refresh=True
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        total = self._total if self._total is not None else "?"
        shown = format_logs(logs)
        seconds = time.perf_counter() - getattr(self, "_t0", time.perf_counter())
        line = f"epoch {epoch + 1}/{total}  {shown}  ({seconds:.2f}s)"
        self.lines.append(line)
        if self._mode == "bar" and self._bar is not None:
            self._bar.set_postfix_str(shown, refresh=False)
            self._bar.update(1)
        elif self._mode == "lines":
            every = self.every or max(1, math.ceil((self._total or 1) / 20))
            last = self._total is not None and epoch + 1 >= self._total
            if epoch == 0 or (epoch + 1) % every == 0 or last:
                self._print(line)

    def _print(self, line: str) -> None:
        prefix = f"{self.desc}: " if self.desc else ""
        print(prefix + line, file=self._stream(), flush=True)
        self._printed = line

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._mode == "lines" and self.lines and self._printed != self.lines[-1]:
            self._print(self.lines[-1])  # training stopped early: show where it ended
        widget = self._mode == "bar" and self._notebook and self._bar is not None
        self.close()
        if widget and self.lines:
            # the widget lives only as long as the page (and a saved notebook
            # often stores its first frame): say in text where training ended
            self._print(self.lines[-1])

    def close(self) -> None:
        """Close the bar (safe to call twice)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

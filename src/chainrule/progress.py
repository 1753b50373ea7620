"""A progress bar for ``fit``: one bar over the epochs with the loss and metrics.

``ProgressBar`` is a ``Callback``. It draws a tqdm
bar in a terminal (``tqdm.auto``, so a widget in a Jupyter notebook), and
prints one plain line per epoch when the output is not a terminal (a pipe, a
log file, CI) or when tqdm is not installed:

    net.fit(X, y, loss="cross_entropy", epochs=20, callbacks=[ProgressBar(20)])

tqdm is optional (``pip install tqdm``); nothing else is needed.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO

from .callbacks import Callback

MODES = ("auto", "bar", "lines", "off")

__all__ = ["MODES", "ProgressBar", "format_logs", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a widget)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:  # pragma: no cover - unusual IPython builds
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def format_logs(logs: dict | None, digits: int = 4) -> str:
    """``"loss=0.1234  accuracy=0.95"`` from a logs dict (numbers only, in order)."""
    parts = []
    for key, value in (logs or {}).items():
        try:
            parts.append(f"{key}={float(value):.{digits}g}")
        except (TypeError, ValueError):
            continue
    return "  ".join(parts)


def _tqdm_class(notebook: bool):
    try:
        if notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class ProgressBar(Callback):
    """Show training progress: a tqdm bar in a terminal, plain lines elsewhere.

    Parameters
    ----------
    epochs : int or None
        Total number of epochs (the bar's length). ``None`` takes it from the
        ``"epochs"`` key of the logs ``fit`` passes to ``on_train_begin``.
    mode : {"auto", "bar", "lines", "off"}
        ``"auto"``: a bar in a terminal or notebook, one line per epoch
        otherwise. ``"bar"``: a tqdm bar even in a pipe. ``"lines"``: one line
        per epoch. ``"off"``: nothing.
    file : file-like or None
        Where to write (default: ``sys.stderr``, resolved when training
        starts, so results on stdout stay clean).
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
        self._total = epochs

    # -- choosing how to show it -----------------------------------------------------
    def _stream(self) -> IO[str]:
        return self.file if self.file is not None else sys.stderr

    def _resolve(self) -> tuple[str, object]:
        """The effective mode ("bar", "lines", "off") and the tqdm class for a bar."""
        if self.mode == "off":
            return "off", None
        if self.mode == "lines":
            return "lines", None
        notebook = self.file is None and in_notebook()
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
        if self._mode == "bar":
            self._bar = tqdm(
                total=total,
                desc=self.desc,
                unit="epoch",
                file=self.file,  # None: tqdm's default (stderr)
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
        if (
            self._mode == "lines"
            and self.lines
            and getattr(self, "_printed", None) != self.lines[-1]
        ):
            self._print(self.lines[-1])  # training stopped early: show where it ended
        self.close()

    def close(self) -> None:
        """Close the bar (safe to call twice)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

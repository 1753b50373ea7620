"""Callbacks: code that ``fit`` calls at the edges of training, epochs and batches.

Subclass ``Callback`` and override any of its hooks. ``fit`` sets
``callback.net`` before training; a callback stops training by setting
``net.stop_training = True``. ``logs`` is the dict of this epoch's numbers
(``loss``, ``val_loss``, metrics...).

Examples
--------
>>> import chainrule as cr
>>> X, y = cr.datasets.moons(200, seed=0)
>>> net = cr.Sequential(cr.Dense(2, 16, activation="relu"), cr.Dense(16, 1), seed=0)
>>> seen = []
>>> log = cr.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
>>> stop = cr.EarlyStopping(monitor="loss", patience=2)
>>> history = net.fit(X, y, loss="binary_cross_entropy", epochs=5, callbacks=[log, stop])
>>> seen
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import math


class Callback:
    """Hooks called by ``fit``; all do nothing by default.

    Attributes
    ----------
    net : Sequential or None
        The network being trained, set by ``fit`` before ``on_train_begin``.
        Setting ``self.net.stop_training = True`` ends training after the
        current epoch.
    """

    net = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once before the first epoch (``logs`` holds ``epochs``).

        Parameters
        ----------
        logs : dict or None, default None
            ``{"epochs": n}``.
        """

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once after the last epoch, also when training stopped early.

        Parameters
        ----------
        logs : dict or None, default None
            The last epoch's numbers.
        """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of epoch ``epoch`` (counted from 0).

        Parameters
        ----------
        epoch : int
            The epoch about to run, from 0.
        logs : dict or None, default None
            Empty so far.
        """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called after epoch ``epoch`` with its numbers: ``loss``, metrics and ``val_`` values.

        Parameters
        ----------
        epoch : int
            The epoch just finished, from 0.
        logs : dict or None, default None
            ``{"loss": ..., "val_loss": ..., metric: ...}`` of this epoch.
        """

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each optimizer step with ``loss`` (and ``grad_norm`` with ``clip_norm``).

        Parameters
        ----------
        batch : int
            The batch's index within the epoch, from 0.
        logs : dict or None, default None
            ``{"loss": ...}`` of this batch.
        """


def _improved(mode: str, value: float, best: float, min_delta: float) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _resolve_mode(mode: str, monitor: str) -> str:
    if mode == "auto":
        higher = any(k in monitor for k in ("accuracy", "precision", "recall", "f1", "r2"))
        return "max" if higher else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    With ``restore_best_weights=True`` (the default) the network ends with the
    weights of its best epoch, not its last.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The logged number to watch (``"loss"``, ``"val_accuracy"``...).
    patience : int, default 5
        Training stops once more than ``patience`` epochs in a row have not
        improved on the best value.
    min_delta : float, default 0.0
        Least change that counts as an improvement (its sign is ignored).
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; "auto" picks "max" for names
        containing accuracy, precision, recall, f1 or r2, else "min".
    restore_best_weights : bool, default True
        Put back the weights (and BatchNorm statistics) of the best epoch
        when training ends.

    Attributes
    ----------
    best : float
        Best value seen.
    best_epoch : int
        Epoch (from 0) of the best value; -1 before any epoch.
    stopped_epoch : int or None
        Epoch (from 0) after which training was stopped; None if it was not.

    Raises
    ------
    ValueError
        If ``patience < 0`` or ``mode`` is unknown; during training, if
        ``monitor`` is not among the logged numbers (e.g. ``val_loss``
        without validation data).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = _resolve_mode(mode, monitor)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_state = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but this fit logs only "
                f"{sorted(logs)}; pass validation data or monitor 'loss'"
            )
        value = logs[self.monitor]
        if _improved(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = self.net.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.net.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_state is not None:
            self.net.set_weights(self._best_state)


class ModelCheckpoint(Callback):
    """Save the network to ``path`` after an epoch (only improvements by default).

    ``path`` may hold ``{epoch}`` to keep one file per epoch. Saving uses
    ``net.save``, which writes to a temporary name and renames it into place.

    Parameters
    ----------
    path : str or path
        File to write (a safetensors model file). Formatted with
        ``epoch`` (counted from 1) and the epoch's logged numbers, e.g.
        ``"model-{epoch:03d}-{val_loss:.3f}.safetensors"``.
    monitor : str, default "val_loss"
        The logged number that decides what is an improvement.
    save_best_only : bool, default True
        Save only when ``monitor`` improves on its best value; False saves
        after every epoch.
    mode : {"auto", "min", "max"}, default "auto"
        As in ``EarlyStopping``.

    Attributes
    ----------
    saved : list of str
        The paths written, in order.

    Raises
    ------
    ValueError
        If ``mode`` is unknown; during training with ``save_best_only``, if
        ``monitor`` is not among the logged numbers.
    """

    def __init__(
        self, path: str, monitor: str = "val_loss", save_best_only: bool = True, mode: str = "auto"
    ) -> None:
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor)

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"ModelCheckpoint monitors {self.monitor!r} but this fit logs only {sorted(logs)}"
                )
            if not _improved(self.mode, logs[self.monitor], self.best, 0.0):
                return
            self.best = logs[self.monitor]
        path = self.path.format(epoch=epoch + 1, **logs)
        self.net.save(path)
        self.saved.append(path)


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``.

    Parameters
    ----------
    **hooks : callable
        Any of ``on_train_begin``, ``on_train_end``, ``on_epoch_begin``,
        ``on_epoch_end`` and ``on_batch_end``, each with the signature of the
        ``Callback`` method of that name (without ``self``).

    Raises
    ------
    ValueError
        For a keyword that is not a hook name.
    """

    def __init__(self, **hooks) -> None:
        valid = {"on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_end"}
        unknown = set(hooks) - valid
        if unknown:
            raise ValueError(f"unknown callback hooks {sorted(unknown)}; valid: {sorted(valid)}")
        for name, fn in hooks.items():
            setattr(self, name, fn)

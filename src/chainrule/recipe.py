"""chainrule's default recipe for small tables: one home for the estimators and ``chainrule train``.

A network for a table of a few hundred to a few thousand rows is built and
trained the same way by ``chainrule.sklearn.MLPClassifier`` /
``MLPRegressor`` and by ``chainrule train``. The ingredients come from strong
published tabular MLP defaults (RealMLP-TD-S, Holzmüller et al. 2024;
Gorishniy et al. 2021) and each was kept only if it helped on the panel of
``benchmarks/tabular.py`` (see docs/tabular.md for the figures):

- **targets**: a regression target is standardised, ``y' = (y - mean) / sd``,
  and predictions mapped back, ``y = out * sd + mean``; label smoothing,
  ``t = (1 - eps) onehot + eps / K``, is available but off (mixed on the panel);
- **network**: ``build_mlp`` — ``Dense`` layers with the hidden activation and
  a last layer that starts at zero (every class equally likely, every value at
  the mean, at step 0);
- **optimiser**: Adam at 2e-3 (``beta2 = 0.95``, RealMLP's choice, was
  measured and not kept);
- **L2 penalty**: ``l2_for(task)``, scikit-learn's ``alpha``: each batch's
  loss gets ``alpha * sum ||W||^2 / (2 n_b)`` (``n_b`` its rows), a prior
  that weighs less as the recipe's batches grow with the table (16 to 256
  rows). A classifier gets ``alpha = 0.05``
  (cross-entropy otherwise keeps growing the weights on rows it already
  classifies right; iris +0.013 over 3 seeds), a regressor 1e-4 (the
  standardised target's squared error has a finite minimum; 0.1 cost grunfeld
  0.007);
- **schedule**: ``WarmupCosine`` — a linear warm-up over the first
  ``warmup`` fraction of steps, then a cosine decay to zero at the end of the
  budget: ``lr_t = lr * min(1, t / t_w) * (1 + cos(pi * p_t)) / 2``;
- **budget**: ``epoch_budget(n)`` epochs, scaled with the number of rows so
  that a small table gets enough steps (at least 600, 1200 under 200 rows)
  and a larger one no more than it needs;
- **best epoch**: with a validation set, ``RestoreBest`` keeps the weights of
  the epoch with the lowest validation loss and says which one it was.

Nothing here imports scikit-learn, pandas or the CLI; the engine's ``fit``
does the training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .callbacks import Callback
from .class_weights import class_weight_rows  # its home; kept importable from here

__all__ = [
    "DEFAULTS",
    "RestoreBest",
    "WarmupCosine",
    "batch_size_for",
    "build_mlp",
    "class_weight_rows",
    "epoch_budget",
    "l2_for",
    "rescale_output",
    "smooth_labels",
]

#: The recipe's defaults, shared by the estimators and ``chainrule train``.
DEFAULTS = {
    "hidden": (100,),
    "activation": "relu",
    "lr": 2e-3,
    "betas": (0.9, 0.999),
    "label_smoothing": 0.0,
    "warmup": 0.05,
    "zero_last_layer": True,
}

#: L2 penalty ``alpha`` on the weights by task, in scikit-learn's convention (see ``l2_for``).
L2 = {"classify": 0.05, "regress": 1e-4}


#: The fewest optimiser steps of the budget, and the more that a very small table gets.
MIN_STEPS = 600
SMALL_TABLE_ROWS = 200
SMALL_TABLE_MIN_STEPS = 1200


def epoch_budget(
    n_rows: int, batch_size: int, min_steps: int | None = None, max_epochs: int = 256
) -> int:
    """Epochs for a fixed budget of at least ``min_steps`` optimiser steps, at most ``max_epochs``.

    ``epochs = clip(ceil(min_steps / steps_per_epoch), 16, max_epochs)``
    with ``min_steps`` 600, or 1200 under 200 rows (iris gained 0.011 on the
    panel, wider tables lost with it): a 150-row table (10 steps an epoch at
    batch 16) gets 120 epochs, a 10,000-row table (40 steps at batch 256) 16.

    Parameters
    ----------
    n_rows : int
        Training rows.
    batch_size : int
        Rows per step.
    min_steps : int or None, default None
        The fewest optimiser steps to take; None: ``MIN_STEPS`` (600), or
        ``SMALL_TABLE_MIN_STEPS`` (1200) under ``SMALL_TABLE_ROWS`` (200) rows.
    max_epochs : int, default 256
        The most epochs to take.
    """
    if min_steps is None:
        min_steps = SMALL_TABLE_MIN_STEPS if n_rows < SMALL_TABLE_ROWS else MIN_STEPS
    steps = max(1, math.ceil(n_rows / max(1, batch_size)))
    return int(min(max_epochs, max(16, math.ceil(min_steps / steps))))


def l2_for(task: str) -> float:
    """The recipe's L2 penalty ``alpha`` for a task: 0.05 for "classify", 1e-4 for "regress".

    In scikit-learn's convention each batch's mean loss gets
    ``alpha * sum ||W||^2 / (2 n_b)``, ``n_b`` the batch's rows: against the
    data the penalty weighs ``alpha / n_b``, and the recipe's batches grow with
    the table (``batch_size_for``: 16 rows for iris, 0.05 / 16 = 3e-3; 256
    rows from about 1,800 rows on, 2e-4). Cross-entropy keeps pushing the
    logits of rows already classified right, so without a penalty the weights
    keep growing and a small table's boundary sharpens around a few rows; the
    squared error of a standardised target has a finite minimum and keeps
    scikit-learn's 1e-4. On the panel,
    3 seeds x 5 folds: classifiers with 0.05, iris 0.940 -> 0.953, no other
    table lower by more than 0.002; 0.1 on regressors too cost grunfeld 0.007.

    Parameters
    ----------
    task : str
        "classify" or "regress".
    """
    if task not in L2:
        raise ValueError(f"task must be 'classify' or 'regress', got {task!r}")
    return L2[task]


def batch_size_for(n_rows: int) -> int:
    """Rows per step: ``clip(n / 10, 16, 256)`` rounded to a power of two (about 10 steps an epoch).

    Parameters
    ----------
    n_rows : int
        Training rows.
    """
    target = min(256, max(16, n_rows / 10))
    return int(2 ** round(math.log2(target)))


def build_mlp(
    n_inputs: int,
    hidden: Sequence[int],
    activation: str,
    n_outputs: int,
    *,
    seed=None,
    dtype=np.float32,
    batch_norm: bool = False,
    dropout: float = 0.0,
    zero_last_layer: bool = False,
):
    """An MLP as a ``Sequential``: ``[Dense -> (BatchNorm) -> act -> (Dropout)] * len(hidden) -> Dense``.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Widths of the input and of the (linear) output layer.
    hidden : sequence of int
        Hidden widths; empty for a linear model.
    activation : str
        Hidden activation name ("logistic" is scikit-learn's name for "sigmoid").
    seed : int or None, default None
        As for ``Sequential``.
    dtype : numpy dtype, default np.float32
        As for ``Sequential``.
    batch_norm : bool
        A ``BatchNorm`` between each hidden ``Dense`` and its activation.
    dropout : float
        Dropout probability after each hidden activation (0: none).
    zero_last_layer : bool
        Start the output layer's weights and bias at 0: the first outputs are
        all 0 (uniform class probabilities; the mean of a standardised target),
        and the first step moves only the last layer.
    """
    from .activations import get_activation
    from .layers import BatchNorm, Dense, Dropout, default_weight_init
    from .network import Sequential

    act_name = "sigmoid" if activation == "logistic" else activation
    layers = []
    width = int(n_inputs)
    for h in hidden:
        if batch_norm:
            act = get_activation(act_name)
            layers += [Dense(width, h, weight_init=default_weight_init(act)), BatchNorm(h), act]
        else:
            layers.append(Dense(width, h, activation=act_name))
        if dropout > 0:
            layers.append(Dropout(dropout))
        width = int(h)
    last = (
        Dense(width, n_outputs, weight_init="zeros") if zero_last_layer else Dense(width, n_outputs)
    )
    layers.append(last)
    return Sequential(*layers, seed=seed, dtype=dtype)


def rescale_output(net, scale, shift) -> None:
    """Make the last ``Dense`` layer answer ``out * scale + shift`` instead of ``out``, in place.

    ``W' = W * scale`` and ``b' = b * scale + shift`` (per output column): how a
    network trained on a standardised target ``(y - mean) / sd`` comes to
    answer in ``y``'s units (``scale = sd``, ``shift = mean``); the inverse is
    ``rescale_output(net, 1 / sd, -mean / sd)``.

    Parameters
    ----------
    net : Network
        The network whose last ``Dense`` layer is changed.
    scale : float or array-like
        Multiplies each output column.
    shift : float or array-like
        Added to each output column after scaling.
    """
    from .layers import Dense

    last = [layer for layer in net.layers if isinstance(layer, Dense)][-1]
    dtype = last.weight.value.dtype
    last.weight.value[...] = last.weight.value * np.asarray(scale).astype(dtype)
    last.bias.value[...] = last.bias.value * np.asarray(scale) + np.asarray(shift)


def smooth_labels(idx: np.ndarray, n_classes: int, eps: float, dtype=np.float32) -> np.ndarray:
    """Label smoothing: ``(1 - eps) * onehot(idx) + eps / K`` as rows of shape (n, K).

    Parameters
    ----------
    idx : ndarray of int
        Class indices 0..K-1.
    n_classes : int
        K.
    eps : float
        The probability mass spread evenly over all classes.
    dtype : numpy dtype, default np.float32
        Dtype of the rows.
    """
    out = np.full((len(idx), n_classes), eps / n_classes, dtype=dtype)
    out[np.arange(len(idx)), np.asarray(idx, dtype=np.intp)] += 1.0 - eps
    return out


class WarmupCosine(Callback):
    """Per-step learning rate: linear warm-up, then cosine decay to 0 at the end of the budget.

    ``lr_t = lr * min(1, (t + 1) / t_w) * (1 + cos(pi * min(1, t / T))) / 2``
    with ``T`` the total number of steps and ``t_w = max(1, warmup * T)``.

    Parameters
    ----------
    lr : float
        Peak learning rate.
    total_steps : int
        Steps in the whole budget (epochs times batches per epoch).
    warmup : float
        Fraction of the budget spent warming up.
    """

    def __init__(self, lr: float, total_steps: int, warmup: float = 0.05) -> None:
        self.lr = float(lr)
        self.total = max(1, int(total_steps))
        self.warm = max(1, int(round(warmup * self.total)))
        self.t = 0

    def rate(self, t: int) -> float:
        """The learning rate of step ``t``.

        Parameters
        ----------
        t : int
            Steps taken so far, from 0.
        """
        ramp = min(1.0, (t + 1) / self.warm)
        return self.lr * ramp * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t / self.total)))

    def on_train_begin(self, logs=None):
        self.net.optimizer_.lr = self.rate(self.t)

    def on_batch_end(self, batch, logs=None):
        self.t += 1
        self.net.optimizer_.lr = self.rate(self.t)


class RestoreBest(Callback):
    """Keep the weights of the epoch with the best validation value; put them back at the end.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, ``"val_loss"`` by default (lower is better).
    score : callable or None
        Instead of ``monitor``: ``score(net) -> float``, higher is better
        (e.g. a validation accuracy), called after every epoch.

    Attributes
    ----------
    best_epoch : int or None
        1-based number of the epoch restored.
    best_value : float
        Its monitored value (with ``score``: minus the score, so lower is better).
    """

    def __init__(self, monitor: str = "val_loss", score=None) -> None:
        self.monitor = monitor
        self.score = score
        self.best_epoch = None
        self.best_value = math.inf
        self.best_state = None

    def on_epoch_end(self, epoch, logs=None):
        if self.score is not None:
            value = -float(self.score(self.net))
        else:
            value = float((logs or {}).get(self.monitor, math.nan))
        if math.isfinite(value) and value < self.best_value:
            self.best_value = value
            self.best_epoch = epoch + 1
            self.best_state = self.net.get_weights()

    def on_train_end(self, logs=None):
        if self.best_state is not None:
            self.net.set_weights(self.best_state)

"""Learning-rate schedules: they set ``optimizer.lr`` once per epoch.

Call ``schedule.step()`` at the end of each epoch (``ReduceLROnPlateau``:
``schedule.step(validation_loss)``):

```python
opt = cr.SGD(net.parameters(), lr=0.1, momentum=0.9)
sched = cr.StepLR(opt, step_size=30, gamma=0.1)
for epoch in range(100):
    train_one_epoch(net, opt)
    sched.step()
```

The epoch counting is PyTorch's: building a schedule counts as epoch 0 (the
learning rate stays the optimizer's own, ``base_lr``), and the ``n``-th call
to ``step()`` sets the rate for epoch ``n``. The epoch-based schedules use
their closed forms in ``base_lr`` and ``last_epoch``; they agree with
PyTorch's values to rounding. (PyTorch updates the rate recursively from its
current value instead, so if you change ``optimizer.lr`` by hand between two
steps PyTorch keeps your change in later epochs, while these schedules
overwrite it.)
"""

from __future__ import annotations

import math
from typing import Any

from .validation import check_int, check_number

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "ReduceLROnPlateau",
    "Schedule",
    "StepLR",
]


class Schedule:
    """Base class of the learning-rate schedules.

    Parameters
    ----------
    optimizer : Optimizer
        Any object with a float attribute ``lr``.

    Attributes
    ----------
    optimizer : Optimizer
    base_lr : float
        ``optimizer.lr`` when the schedule was built.
    last_epoch : int
        Number of ``step`` calls so far (0 right after construction).
    last_lr : float
        The rate set by the last step (``base_lr`` before any step).

    Raises
    ------
    TypeError
        If ``optimizer`` has no ``lr`` attribute.
    """

    def __init__(self, optimizer: Any) -> None:
        if not hasattr(optimizer, "lr"):
            raise TypeError(
                f"{type(self).__name__} needs an optimizer with an 'lr' attribute, got "
                f"{type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr: float = float(optimizer.lr)
        self.last_epoch: int = 0
        self.last_lr: float = self.base_lr

    def get_lr(self) -> float:
        """The learning rate for epoch ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set ``optimizer.lr``."""
        self.last_epoch += 1
        self.last_lr = float(self.get_lr())
        self.optimizer.lr = self.last_lr

    def state_dict(self) -> dict[str, float | int]:
        """The schedule's counters as plain numbers (the optimizer is not included)."""
        return {
            k: v
            for k, v in vars(self).items()
            if k != "optimizer" and isinstance(v, (int, float)) and not isinstance(v, bool)
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counters saved by ``state_dict``.

        Parameters
        ----------
        state_dict : dict
            As ``state_dict()`` returned it.

        Raises
        ------
        ValueError
            If ``state_dict`` has a key this schedule does not keep.
        """
        own = self.state_dict()
        unknown = sorted(set(state_dict) - set(own))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: unexpected keys {unknown}; "
                f"expected {sorted(own)}"
            )
        for key, value in state_dict.items():
            setattr(self, key, type(own[key])(value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self.last_lr!r})"


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Epochs between two decays.
    gamma : float, default 0.1
        Decay factor.

    Notes
    -----
    ``lr_e = base_lr · gamma^⌊e / step_size⌋`` at epoch ``e``.

    Raises
    ------
    ValueError
        If ``step_size`` is not a positive integer, or ``gamma`` is negative
        or not finite.
    TypeError
        If ``gamma`` is not a number, or ``optimizer`` has no ``lr``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> opt = cr.SGD([cr.Parameter(np.zeros(1))], lr=0.1)
    >>> sched = cr.StepLR(opt, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for epoch in range(5):
    ...     sched.step()
    ...     rates.append(opt.lr)
    >>> rates
    [0.1, 0.05, 0.05, 0.025, 0.025]
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = check_int("step_size", step_size, fix="e.g. step_size=30 (epochs)")
        self.gamma = check_number("gamma", gamma, fix="the rate is multiplied by gamma, e.g. 0.1")

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class ExponentialLR(Schedule):
    """Multiply the learning rate by ``gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Decay factor per epoch.

    Notes
    -----
    ``lr_e = base_lr · gamma^e`` at epoch ``e``.

    Raises
    ------
    ValueError
        If ``gamma`` is negative or not finite.
    TypeError
        If ``gamma`` is not a number, or ``optimizer`` has no ``lr``.
    """

    def __init__(self, optimizer: Any, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = check_number("gamma", gamma, fix="the rate is multiplied by gamma, e.g. 0.95")

    def get_lr(self) -> float:
        return self.base_lr * self.gamma**self.last_epoch


class CosineAnnealingLR(Schedule):
    """Anneal the learning rate from ``base_lr`` to ``eta_min`` along half a cosine.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs to reach ``eta_min``.
    eta_min : float, default 0
        Final learning rate.

    Notes
    -----
    ``lr_e = eta_min + (base_lr − eta_min) (1 + cos(π e / T_max)) / 2``.

    This is the closed form that PyTorch documents; PyTorch computes the same
    values by a recursion, which agrees to rounding (also after ``T_max``,
    where both rise again along the cosine, with period ``2 T_max``).

    Raises
    ------
    ValueError
        If ``T_max`` is not a positive integer, or ``eta_min`` is negative or
        not finite.
    TypeError
        If ``eta_min`` is not a number, or ``optimizer`` has no ``lr``.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        super().__init__(optimizer)
        self.T_max = check_int("T_max", T_max, fix="the number of epochs of the annealing")
        self.eta_min = check_number("eta_min", eta_min, fix="the final learning rate, e.g. 0")

    def get_lr(self) -> float:
        cosine = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class ReduceLROnPlateau(Schedule):
    """Reduce the learning rate when a metric has stopped improving.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}, default "min"
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float, default 0.1
        ``new_lr = max(lr · factor, min_lr)``; in ``[0, 1)``.
    patience : int, default 10
        Epochs without improvement tolerated before reducing.
    threshold : float, default 1e-4
        Least change that counts as an improvement.
    threshold_mode : {"rel", "abs"}, default "rel"
        Improvement means, for mode "min": ``metric < best (1 − threshold)``
        ("rel") or ``metric < best − threshold`` ("abs"); for mode "max":
        ``metric > best (1 + threshold)`` or ``metric > best + threshold``.
    cooldown : int, default 0
        Epochs to wait after a reduction before counting bad epochs again.
    min_lr : float, default 0
        Lower bound on the learning rate.
    eps : float, default 1e-8
        A reduction smaller than ``eps`` is skipped.

    Notes
    -----
    As in PyTorch, "rel" compares against ``best`` scaled by
    ``1 ∓ threshold``, which for a *negative* metric means a slightly lower
    bar in mode "min" (use "abs" for metrics that can be negative). A NaN
    metric counts as a bad epoch.

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``threshold_mode``, ``factor`` outside
        [0, 1), a negative or non-integer ``patience`` or ``cooldown``, or a
        negative ``threshold``, ``min_lr`` or ``eps``.
    TypeError
        If a float argument is not a number, or ``optimizer`` has no ``lr``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> opt = cr.SGD([cr.Parameter(np.zeros(1))], lr=0.1)
    >>> plateau = cr.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> for val_loss in [1.0, 0.9, 0.95, 0.95, 0.95]:
    ...     plateau.step(val_loss)
    >>> opt.lr
    0.05
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(
                f"mode must be 'min' or 'max', got {mode!r}; use 'min' for a loss, "
                "'max' for an accuracy"
            )
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        factor = check_number("factor", factor, fix="the rate is multiplied by factor, e.g. 0.1")
        if factor >= 1.0:
            raise ValueError(
                f"factor must be < 1, got {factor!r}; the learning rate is multiplied by it "
                "to reduce it, e.g. factor=0.1"
            )
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            check_int(name, value, low=0, fix="a number of epochs")
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.factor = factor
        self.patience = int(patience)
        self.threshold = check_number("threshold", threshold, fix="e.g. 1e-4")
        self.cooldown = int(cooldown)
        self.min_lr = check_number("min_lr", min_lr, fix="the rate is never reduced below min_lr")
        self.eps = check_number("eps", eps, fix="e.g. 1e-8")
        self.best: float = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs: int = 0
        self.cooldown_counter: int = 0

    def get_lr(self) -> float:
        """The current learning rate (this schedule has no formula in the epoch)."""
        return float(self.optimizer.lr)

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold.

        Parameters
        ----------
        metric : float
            This epoch's monitored value.
        best : float
            The best value so far.
        """
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    def step(self, metric: float) -> None:  # type: ignore[override]
        """End an epoch whose monitored value was ``metric``; maybe reduce the rate.

        Parameters
        ----------
        metric : float
            The monitored value of the epoch (``fit`` gives ``val_loss``, or ``loss``).
        """
        metric = float(metric)
        self.last_epoch += 1
        if self.is_better(metric, self.best):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # in cooldown: bad epochs do not count
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self.last_lr = float(self.optimizer.lr)

"""Gradient-descent optimizers: SGD, Adagrad, RMSprop, Adam and AdamW.

An optimizer sees only ``Parameter`` objects. Each
call to ``Optimizer.step`` reads every ``param.grad`` and updates
``param.value`` in place. The update rules, keyword names and defaults are
PyTorch's (``torch.optim``), so a chainrule run and a PyTorch run fed the same
gradients agree number for number.

Notation used in the docstrings (as in the PyTorch documentation):
``θ`` the parameter, ``g_t`` its gradient at step ``t`` (``t`` counts from 1),
``γ`` the learning rate ``lr``, ``λ`` the weight decay.

Implementation notes. Every update works in place on ``param.value`` and on
state arrays allocated once, at the first step, in the parameter's dtype
(float32 stays float32). Intermediate results go to two scratch buffers shared
by all parameters of the same dtype, so a step allocates no full-size
temporaries. ``param.grad`` is never modified.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral
from typing import Any

import numpy as np

from . import kernels
from .parameter import Parameter
from .validation import check_number as _check_number

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "get_optimizer",
]

StateDict = dict[str, Any]


# --------------------------------------------------------------------------- #
# Argument checks
# --------------------------------------------------------------------------- #


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _as_parameter_list(parameters: Iterable[Parameter], owner: str) -> list[Parameter]:
    """Materialise ``parameters`` (list, tuple, generator, ...) as a checked list."""
    if hasattr(parameters, "value") and hasattr(parameters, "grad"):
        raise TypeError(
            f"{owner} expects an iterable of Parameters, got a single Parameter; "
            f"wrap it in a list: {owner}([param], ...)"
        )
    if isinstance(parameters, (str, bytes, np.ndarray)):
        raise TypeError(
            f"{owner} expects an iterable of Parameters such as net.parameters(), "
            f"got {type(parameters).__name__}; wrap arrays as Parameter(array)"
        )
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(
            f"{owner} expects an iterable of Parameters such as net.parameters(), "
            f"got {type(parameters).__name__}"
        ) from None
    if not params:
        raise ValueError(
            f"{owner} got an empty parameter list; pass the parameters to optimise, "
            "e.g. net.parameters() (a generator can only be consumed once)"
        )
    seen: set[int] = set()
    for k, p in enumerate(params):
        if not (hasattr(p, "value") and hasattr(p, "grad")):
            raise TypeError(
                f"{owner}: item {k} of the parameters is a {type(p).__name__}, not a "
                "Parameter; wrap arrays as Parameter(array)"
            )
        if id(p) in seen:
            raise ValueError(
                f"{owner}: parameter {k} ({getattr(p, 'name', '') or 'unnamed'}) appears more "
                "than once and would be updated twice per step; pass each parameter once"
            )
        seen.add(id(p))
        if not np.issubdtype(np.asarray(p.value).dtype, np.floating):
            raise TypeError(
                f"{owner}: parameter {k} has dtype {np.asarray(p.value).dtype}; gradient "
                "descent needs floating-point values, e.g. Parameter(x.astype(np.float32))"
            )
    return params


def _in_dtype(cache: dict, dtype: np.dtype, values: tuple) -> tuple:
    """``values`` for a compiled loop: floats rounded to ``dtype`` as NumPy rounds a
    Python float operand, bools kept; converted once per step and dtype (``cache``)."""
    converted = cache.get(dtype)
    if converted is None:
        cast = dtype.type
        converted = cache[dtype] = tuple(v if isinstance(v, bool) else cast(v) for v in values)
    return converted


def _decayed_grad(param: Parameter, weight_decay: float, out: np.ndarray) -> np.ndarray:
    """Return ``g + λθ`` (written into ``out``), or ``g`` itself when ``λ = 0``."""
    if not weight_decay:
        return param.grad
    np.multiply(param.value, weight_decay, out=out)
    out += param.grad
    return out


# --------------------------------------------------------------------------- #
# Base class
# --------------------------------------------------------------------------- #


class Optimizer:
    """Base class: holds the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    parameters : iterable of Parameter
        The parameters to update (stored as a list; a generator is consumed).
    lr : float
        The learning rate (>= 0).

    Attributes
    ----------
    parameters : list of Parameter
    lr : float
        The learning rate used by the next ``step`` (schedules change it).
    step_count : int
        Number of ``step`` calls so far (``t`` in the formulas).
    state : list of dict
        Per-parameter state arrays (``state[i]["exp_avg"]`` ...), created at the
        first step in the parameter's dtype.

    Notes
    -----
    To write your own optimizer, subclass this, set ``name``, list the
    hyperparameter attributes in ``_hyperparameters`` and the state array
    names in ``_buffers`` (so ``state_dict`` saves them), and implement
    ``step``: increment ``step_count``, then update each ``p.value`` in
    place from ``p.grad``, using ``self._buffer(i, key)`` for state arrays.
    """

    #: Short registry name ("sgd", "adam", ...).
    name: str = "optimizer"
    #: Hyperparameters saved by ``state_dict`` (besides ``lr``).
    _hyperparameters: tuple[str, ...] = ()
    #: Names of the per-parameter state arrays this optimizer may keep.
    _buffers: tuple[str, ...] = ()

    @property
    def lr(self) -> float:
        """The learning rate of the next ``step``; setting it checks the value (a finite
        number >= 0), so ``opt.lr = float("nan")`` fails here, not as NaN weights later."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = _check_number("lr", value, fix="pass a non-negative learning rate such as 1e-3")
        for p in getattr(self, "parameters", ()):
            dtype = np.asarray(p.value).dtype
            if dtype.kind == "f" and value > float(np.finfo(dtype).max):
                raise ValueError(
                    f"lr={value!r} overflows {dtype}, the dtype of the parameters (largest "
                    f"{float(np.finfo(dtype).max):.3g}); pass a learning rate such as 1e-3"
                )
        self._lr = value

    def __setattr__(self, name: str, value: Any) -> None:
        # A hyperparameter changed after construction (opt.momentum = ...) goes
        # through the same checks as at construction, together with the others.
        state = vars(self)
        if name in self._hyperparameters and name in state and not state.get("_setting"):
            values = self.hyperparameters()
            values[name] = value
            self._set_checked(values)
            return
        object.__setattr__(self, name, value)

    def _set_checked(self, values: dict[str, Any]) -> None:
        """``_set_hyperparameters(**values)``, its own assignments not checked again."""
        state = vars(self)
        state["_setting"] = True
        try:
            self._set_hyperparameters(**values)
        finally:
            state["_setting"] = False

    def __init__(self, parameters: Iterable[Parameter], lr: float) -> None:
        self.parameters: list[Parameter] = _as_parameter_list(parameters, type(self).__name__)
        self.lr = _check_number("lr", lr, fix="pass a non-negative learning rate such as 1e-3")
        self.step_count: int = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.parameters]
        self._scratch_flat: dict[tuple[np.dtype, int], np.ndarray] = {}
        self._scratch_views: dict[tuple[int, int], np.ndarray] = {}

    # -- the interface ------------------------------------------------------ #

    def step(self) -> None:
        """Apply one update to every parameter from its current ``grad``."""
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero."""
        for p in self.parameters:
            p.grad[...] = 0

    def _set_hyperparameters(self, *, lr: float, **hyperparameters: Any) -> None:
        """Validate and store ``lr`` and the hyperparameters (used by __init__ and load).

        The built-in optimizers check every value; this default (for your own
        subclasses) checks ``lr`` and stores the rest as attributes.
        """
        self.lr = _check_number("lr", lr, fix="pass a non-negative learning rate such as 1e-3")
        for key, value in hyperparameters.items():
            setattr(self, key, value)

    def hyperparameters(self) -> dict[str, Any]:
        """``lr`` and the other hyperparameters as plain Python numbers and bools."""
        out: dict[str, Any] = {"lr": float(self.lr)}
        for key in self._hyperparameters:
            value = getattr(self, key)
            out[key] = value if isinstance(value, bool) else float(value)
        return out

    def state_dict(self) -> StateDict:
        """Everything needed to resume: a flat dict of numbers and numpy arrays.

        Keys are ``"step"`` (int), ``"lr"`` and each hyperparameter (floats or
        bools), and ``"state.<i>.<buffer>"`` for the state array ``buffer`` of
        parameter ``i`` (copies, so later steps do not change a saved dict).
        """
        d: StateDict = {"step": int(self.step_count)}
        d.update(self.hyperparameters())
        for i, state in enumerate(self.state):
            for key, array in state.items():
                d[f"state.{i}.{key}"] = array.copy()
        return d

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore the step count, hyperparameters and state from ``state_dict``.

        The optimizer must hold parameters of the same number and shapes, in
        the same order. Arrays are copied and cast to each parameter's dtype.

        Parameters
        ----------
        state_dict : dict
            As ``state_dict()`` returned it.
        """
        d = dict(state_dict)
        owner = type(self).__name__
        expected = ("step", "lr", *self._hyperparameters)
        missing = [k for k in expected if k not in d]
        if missing:
            raise ValueError(
                f"{owner}.load_state_dict: missing keys {missing}; pass a dict made by "
                f"{owner}.state_dict()"
            )
        step = d.pop("step")
        if isinstance(step, np.ndarray) and step.ndim == 0:
            step = step.item()
        if isinstance(step, bool) or not isinstance(step, Integral) or step < 0:
            raise ValueError(f"{owner}.load_state_dict: 'step' must be an int >= 0, got {step!r}")
        hyper = {k: _scalar(d.pop(k)) for k in expected[1:]}

        new_state: list[dict[str, np.ndarray]] = [{} for _ in self.parameters]
        for key, array in d.items():
            parts = key.split(".")
            if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit():
                raise ValueError(
                    f"{owner}.load_state_dict: unexpected key {key!r}; is this the state of "
                    f"another optimizer? {owner} saves {list(expected)} and state.<i>.<buffer>"
                )
            i, buffer = int(parts[1]), parts[2]
            if i >= len(self.parameters):
                raise ValueError(
                    f"{owner}.load_state_dict: the state has parameter index {i} but this "
                    f"optimizer holds {len(self.parameters)} parameters; build it with the "
                    "same parameters as the saved one"
                )
            if buffer not in self._buffers:
                raise ValueError(
                    f"{owner}.load_state_dict: unknown state buffer {buffer!r} (key {key!r}); "
                    f"{owner} keeps {list(self._buffers)}"
                )
            value = self.parameters[i].value
            array = np.asarray(array)
            if array.shape != value.shape:
                raise ValueError(
                    f"{owner}.load_state_dict: {key} has shape {array.shape} but parameter {i} "
                    f"has shape {value.shape}; build the optimizer with the same parameters"
                )
            new_state[i][buffer] = np.array(array, dtype=value.dtype, copy=True)

        self._set_checked(hyper)
        self.step_count = int(step)
        self.state = new_state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    # -- helpers ------------------------------------------------------------ #

    def _largest_size(self) -> int:
        """Elements in the largest parameter: a network worth fusing fuses all of them."""
        return max(p.value.size for p in self.parameters)

    def _buffer(self, i: int, key: str, fill: float = 0.0) -> np.ndarray:
        """State array ``key`` of parameter ``i``, created (filled with ``fill``) if absent."""
        state = self.state[i]
        array = state.get(key)
        if array is None:
            array = state[key] = np.full_like(self.parameters[i].value, fill)
        return array

    def _tmp(self, i: int, slot: int) -> np.ndarray:
        """Scratch array shaped like parameter ``i`` (slot 0 or 1); contents are garbage."""
        view = self._scratch_views.get((i, slot))
        value = self.parameters[i].value
        if view is None or view.shape != value.shape or view.dtype != value.dtype:
            view = self._make_scratch(i, slot)
        return view

    def _make_scratch(self, i: int, slot: int) -> np.ndarray:
        value = self.parameters[i].value
        dtype = value.dtype
        flat = self._scratch_flat.get((dtype, slot))
        if flat is None or flat.size < value.size:
            size = max(p.value.size for p in self.parameters if p.value.dtype == dtype)
            flat = self._scratch_flat[(dtype, slot)] = np.empty(max(size, value.size), dtype)
            # Views into a replaced buffer would keep it alive: drop them.
            for key in [k for k, v in self._scratch_views.items() if k[1] == slot]:
                if self._scratch_views[key].dtype == dtype:
                    del self._scratch_views[key]
        view = flat[: value.size].reshape(value.shape)
        self._scratch_views[(i, slot)] = view
        return view


def _scalar(value: Any) -> Any:
    """Turn a 0-d array or numpy scalar (as read back from a file) into a Python scalar."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        return value.item()
    return value


# --------------------------------------------------------------------------- #
# SGD
# --------------------------------------------------------------------------- #


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and Nesterov momentum.

    Parameters
    ----------
    parameters : iterable of Parameter
    lr : float, default 1e-3
        Learning rate ``γ``.
    momentum : float, default 0
        Momentum factor ``μ``.
    dampening : float, default 0
        Dampening ``τ`` of the momentum.
    weight_decay : float, default 0
        L2 penalty ``λ`` (added to the gradient).
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``).
    maximize : bool, default False
        Climb the objective instead of descending it.

    Notes
    -----
    For each parameter, at step ``t``:

        g ← -g_t if maximize else g_t
        g ← g + λ θ                       (if λ ≠ 0)
        if μ ≠ 0:
            b ← g                         (t = 1: no dampening on the first step)
            b ← μ b + (1 - τ) g           (t > 1)
            g ← g + μ b  if nesterov else  b
        θ ← θ - γ g
    """

    name = "sgd"
    _hyperparameters = ("momentum", "dampening", "weight_decay", "nesterov", "maximize")
    _buffers = ("momentum_buffer",)

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(parameters, lr)
        self._set_hyperparameters(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )

    def _set_hyperparameters(
        self,
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        maximize: bool,
    ) -> None:
        lr = _check_number("lr", lr, fix="pass a non-negative learning rate such as 0.01")
        momentum = _check_number(
            "momentum", momentum, fix="use 0 for plain SGD or a value such as 0.9"
        )
        dampening = _check_number(
            "dampening", dampening, high=1.0, fix="use 0 (the default) for no dampening"
        )
        weight_decay = _check_number(
            "weight_decay", weight_decay, fix="use 0 to turn weight decay off"
        )
        nesterov = _check_bool("nesterov", nesterov)
        maximize = _check_bool("maximize", maximize)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"nesterov=True needs momentum > 0 and dampening = 0, got momentum={momentum:g} "
                f"and dampening={dampening:g}; set momentum (e.g. 0.9) and dampening=0, "
                "or use nesterov=False"
            )
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize

    def step(self) -> None:
        """Apply one SGD update to every parameter."""
        self.step_count += 1
        lr, mu, tau, wd = float(self.lr), self.momentum, self.dampening, self.weight_decay
        loops = kernels.fused(self._largest_size())
        scalars = (lr, mu, bool(tau), 1.0 - tau, wd, self.maximize, self.nesterov)
        cache: dict = {}
        for i, p in enumerate(self.parameters):
            theta = p.value
            g = p.grad
            if loops is not None and self._fused_step(loops, i, theta, g, scalars, cache):
                continue
            if wd or self.maximize:  # g ← ±g_t + λθ
                d = self._tmp(i, 0)
                if wd:
                    np.multiply(theta, wd, out=d)
                    if self.maximize:
                        d -= g
                    else:
                        d += g
                else:
                    np.negative(g, out=d)
                g = d
            u = self._tmp(i, 1)
            if mu:
                b = self.state[i].get("momentum_buffer")
                if b is None:  # b_1 = g_1
                    b = self.state[i]["momentum_buffer"] = np.array(g, dtype=theta.dtype)
                else:  # b ← μ b + (1 − τ) g
                    b *= mu
                    if tau:
                        np.multiply(g, 1.0 - tau, out=u)
                        b += u
                    else:
                        b += g
                if self.nesterov:  # g ← g + μ b
                    np.multiply(b, mu, out=u)
                    u += g
                    g = u
                else:
                    g = b
            np.multiply(g, lr, out=u)  # θ ← θ − γ g
            theta -= u

    def _fused_step(
        self, loops, i: int, theta: np.ndarray, g: np.ndarray, scalars: tuple, cache: dict
    ) -> bool:
        """The update above as one compiled loop (``kernels``); False if it cannot run."""
        buf = self.state[i].get("momentum_buffer")
        if not kernels.fusable(theta, g, theta if buf is None else buf):
            return False
        first = bool(self.momentum) and buf is None
        if first:
            buf = self.state[i]["momentum_buffer"] = np.empty_like(theta)
        unused = theta if buf is None else buf  # no momentum: the loop never reads buf
        args = _in_dtype(cache, theta.dtype, scalars)
        loops.sgd_step(theta.reshape(-1), g.reshape(-1), unused.reshape(-1), *args, first)
        return True


# --------------------------------------------------------------------------- #
# Adagrad
# --------------------------------------------------------------------------- #


class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate step sizes shrinking with the sum of squared gradients.

    Parameters
    ----------
    parameters : iterable of Parameter
    lr : float, default 1e-2
        Learning rate ``γ``.
    lr_decay : float, default 0
        Learning-rate decay ``η``.
    weight_decay : float, default 0
        L2 penalty ``λ`` (added to the gradient).
    initial_accumulator_value : float, default 0
        Starting value ``s_0`` of the sum of squares.
    eps : float, default 1e-10
        ``ε`` added to the denominator.

    Notes
    -----
    For each parameter, at step ``t``:

        γ̃ = γ / (1 + (t - 1) η)
        g ← g_t + λ θ                     (if λ ≠ 0)
        s_t = s_{t-1} + g²
        θ ← θ - γ̃ g / (√s_t + ε)
    """

    name = "adagrad"
    _hyperparameters = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    _buffers = ("sum",)

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(parameters, lr)
        self._set_hyperparameters(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        for i in range(len(self.parameters)):  # s_0, as PyTorch creates it at construction
            self._buffer(i, "sum", self.initial_accumulator_value)

    def _set_hyperparameters(
        self,
        *,
        lr: float,
        lr_decay: float,
        weight_decay: float,
        initial_accumulator_value: float,
        eps: float,
    ) -> None:
        checked = dict(
            lr=_check_number("lr", lr, fix="pass a non-negative learning rate such as 0.01"),
            lr_decay=_check_number("lr_decay", lr_decay, fix="use 0 for no decay"),
            weight_decay=_check_number(
                "weight_decay", weight_decay, fix="use 0 to turn weight decay off"
            ),
            initial_accumulator_value=_check_number(
                "initial_accumulator_value",
                initial_accumulator_value,
                fix="the sum of squared gradients starts at a value >= 0 (default 0)",
            ),
            eps=_check_number("eps", eps, fix="use a small positive value such as 1e-10"),
        )
        self.lr = checked.pop("lr")  # only once every value has passed
        vars(self).update(checked)

    def step(self) -> None:
        """Apply one Adagrad update to every parameter."""
        self.step_count += 1
        t = self.step_count
        clr = self.lr / (1.0 + (t - 1) * self.lr_decay)  # γ̃
        for i, p in enumerate(self.parameters):
            g = _decayed_grad(p, self.weight_decay, self._tmp(i, 0))
            s = self._buffer(i, "sum", self.initial_accumulator_value)
            u = self._tmp(i, 1)
            np.multiply(g, g, out=u)  # s_t = s_{t−1} + g²
            s += u
            np.sqrt(s, out=u)  # √s_t + ε
            u += self.eps
            np.divide(g, u, out=u)  # θ ← θ − γ̃ g / (√s_t + ε)
            u *= clr
            p.value -= u


# --------------------------------------------------------------------------- #
# RMSprop
# --------------------------------------------------------------------------- #


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running root mean square of its history.

    Parameters
    ----------
    parameters : iterable of Parameter
    lr : float, default 1e-2
        Learning rate ``γ``.
    alpha : float, default 0.99
        Smoothing constant ``α`` of the running averages.
    eps : float, default 1e-8
        ``ε`` added to the denominator.
    weight_decay : float, default 0
        L2 penalty ``λ`` (added to the gradient).
    momentum : float, default 0
        Momentum factor ``μ``.
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its
        second moment.

    Notes
    -----
    For each parameter, at step ``t`` (``v_0 = ḡ_0 = b_0 = 0``):

        g ← g_t + λ θ                     (if λ ≠ 0)
        v_t = α v_{t-1} + (1 - α) g²
        ṽ = v_t - ḡ_t²  with  ḡ_t = α ḡ_{t-1} + (1 - α) g    (centered)
        ṽ = v_t                                                (otherwise)
        if μ > 0:   b_t = μ b_{t-1} + g / (√ṽ + ε);   θ ← θ - γ b_t
        else:       θ ← θ - γ g / (√ṽ + ε)
    """

    name = "rmsprop"
    _hyperparameters = ("alpha", "eps", "weight_decay", "momentum", "centered")
    _buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(parameters, lr)
        self._set_hyperparameters(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )

    def _set_hyperparameters(
        self,
        *,
        lr: float,
        alpha: float,
        eps: float,
        weight_decay: float,
        momentum: float,
        centered: bool,
    ) -> None:
        checked = dict(
            lr=_check_number("lr", lr, fix="pass a non-negative learning rate such as 0.01"),
            alpha=_check_number(
                "alpha", alpha, high=1.0, fix="it is a smoothing constant; the default is 0.99"
            ),
            eps=_check_number("eps", eps, fix="use a small positive value such as 1e-8"),
            weight_decay=_check_number(
                "weight_decay", weight_decay, fix="use 0 to turn weight decay off"
            ),
            momentum=_check_number(
                "momentum", momentum, fix="use 0 for no momentum or a value such as 0.9"
            ),
            centered=_check_bool("centered", centered),
        )
        self.lr = checked.pop("lr")  # only once every value has passed
        vars(self).update(checked)

    def step(self) -> None:
        """Apply one RMSprop update to every parameter."""
        self.step_count += 1
        alpha, eps, mu, lr = self.alpha, self.eps, self.momentum, self.lr
        for i, p in enumerate(self.parameters):
            g = _decayed_grad(p, self.weight_decay, self._tmp(i, 0))
            u = self._tmp(i, 1)
            v = self._buffer(i, "square_avg")
            v *= alpha  # v_t = α v_{t−1} + (1 − α) g²
            np.multiply(g, g, out=u)
            u *= 1.0 - alpha
            v += u
            if self.centered:
                g_avg = self._buffer(i, "grad_avg")
                np.subtract(g, g_avg, out=u)  # ḡ_t = α ḡ_{t−1} + (1 − α) g
                u *= 1.0 - alpha
                g_avg += u
                np.multiply(g_avg, g_avg, out=u)  # √(v_t − ḡ_t²)
                np.subtract(v, u, out=u)
                np.sqrt(u, out=u)
            else:
                np.sqrt(v, out=u)  # √v_t
            u += eps
            np.divide(g, u, out=u)  # g / (√ṽ + ε)
            if mu > 0:
                b = self._buffer(i, "momentum_buffer")
                b *= mu  # b_t = μ b_{t−1} + g / (√ṽ + ε)
                b += u
                np.multiply(b, lr, out=u)  # θ ← θ − γ b_t
            else:
                u *= lr  # θ ← θ − γ g / (√ṽ + ε)
            p.value -= u


# --------------------------------------------------------------------------- #
# Adam and AdamW
# --------------------------------------------------------------------------- #


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, scaled by a running RMS, with bias correction.

    Parameters
    ----------
    parameters : iterable of Parameter
    lr : float, default 1e-3
        Learning rate ``γ``.
    betas : (float, float), default (0.9, 0.999)
        Decay rates ``(β₁, β₂)`` of the first and second moment averages.
    eps : float, default 1e-8
        ``ε`` added to the denominator.
    weight_decay : float, default 0
        L2 penalty ``λ`` added to the gradient (see ``AdamW`` for the
        decoupled form).
    amsgrad : bool, default False
        Use the running maximum of ``v_t`` (AMSGrad).

    Notes
    -----
    For each parameter, at step ``t`` (``m_0 = v_0 = v̂max_0 = 0``):

        g ← g_t + λ θ                     (if λ ≠ 0)
        m_t = β₁ m_{t-1} + (1 - β₁) g
        v_t = β₂ v_{t-1} + (1 - β₂) g²
        v̂max_t = max(v̂max_{t-1}, v_t);  v ← v̂max_t if amsgrad else v_t
        θ ← θ - γ (m_t / (1 - β₁ᵗ)) / (√v / √(1 - β₂ᵗ) + ε)

    The last line is computed in the equivalent order of Kingma & Ba (2015,
    end of section 2), with ``c = √(1 - β₂ᵗ)``: ``θ ← θ - (γ c / (1 - β₁ᵗ)) m_t /
    (√v + ε c)``, one memory pass fewer than dividing ``√v`` by ``c``.
    """

    name = "adam"
    _hyperparameters = ("beta1", "beta2", "eps", "weight_decay", "amsgrad")
    _buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    #: AdamW sets this: decay θ directly instead of adding λθ to the gradient.
    _decoupled_weight_decay: bool = False

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(parameters, lr)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(
                f"betas must be a pair (beta1, beta2), got {betas!r}; the default is (0.9, 0.999)"
            )
        self._set_hyperparameters(
            lr=lr,
            beta1=betas[0],
            beta2=betas[1],
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
        )

    def _set_hyperparameters(
        self,
        *,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        amsgrad: bool,
    ) -> None:
        fix = "each beta must be in [0, 1); typical values are betas=(0.9, 0.999)"
        checked = dict(
            lr=_check_number("lr", lr, fix="pass a non-negative learning rate such as 1e-3"),
            beta1=_check_number("betas[0]", beta1, high=1.0, high_open=True, fix=fix),
            beta2=_check_number("betas[1]", beta2, high=1.0, high_open=True, fix=fix),
            eps=_check_number("eps", eps, fix="use a small positive value such as 1e-8"),
            weight_decay=_check_number(
                "weight_decay", weight_decay, fix="use 0 to turn weight decay off"
            ),
            amsgrad=_check_bool("amsgrad", amsgrad),
        )
        self.lr = checked.pop("lr")  # only once every value has passed
        vars(self).update(checked)

    @property
    def betas(self) -> tuple[float, float]:
        """``(β₁, β₂)``."""
        return (self.beta1, self.beta2)

    def step(self) -> None:
        """Apply one Adam (or AdamW) update to every parameter."""
        self.step_count += 1
        t = self.step_count
        lr, beta1, beta2, wd = float(self.lr), self.beta1, self.beta2, self.weight_decay
        bias_correction1 = 1.0 - beta1**t
        c = math.sqrt(1.0 - beta2**t)  # √(1 − β₂ᵗ)
        step_size = lr * c / bias_correction1
        eps_hat = self.eps * c
        decoupled = self._decoupled_weight_decay
        loops = kernels.fused(self._largest_size())
        scalars = (
            1.0 - beta1,
            beta2,
            1.0 - beta2,
            eps_hat,
            step_size,
            wd,
            1.0 - lr * wd,
            decoupled,
            self.amsgrad,
        )
        cache: dict = {}
        for i, p in enumerate(self.parameters):
            theta = p.value
            if loops is not None:
                m, v = self._buffer(i, "exp_avg"), self._buffer(i, "exp_avg_sq")
                v_max = self._buffer(i, "max_exp_avg_sq") if self.amsgrad else v
                arrays = (theta, p.grad, m, v, v_max)
                if kernels.fusable(*arrays):
                    args = _in_dtype(cache, theta.dtype, scalars)
                    loops.adam_step(*(a.reshape(-1) for a in arrays), *args)
                    continue
            if decoupled:
                if wd:
                    theta *= 1.0 - lr * wd  # θ ← θ (1 − γλ)
                g = p.grad
            else:
                g = _decayed_grad(p, wd, self._tmp(i, 0))  # g ← g_t + λθ
            u = self._tmp(i, 1)
            m = self._buffer(i, "exp_avg")
            np.subtract(g, m, out=u)  # m_t = β₁ m + (1 − β₁) g = m + (1 − β₁)(g − m)
            u *= 1.0 - beta1
            m += u
            v = self._buffer(i, "exp_avg_sq")
            v *= beta2  # v_t = β₂ v + (1 − β₂) g²
            np.multiply(g, g, out=u)
            u *= 1.0 - beta2
            v += u
            if self.amsgrad:
                v_max = self._buffer(i, "max_exp_avg_sq")
                np.maximum(v_max, v, out=v_max)  # v̂max_t = max(v̂max_{t−1}, v_t)
                v = v_max
            np.sqrt(v, out=u)  # θ ← θ − (γ c / (1 − β₁ᵗ)) m_t / (√v + ε c)
            u += eps_hat
            np.divide(m, u, out=u)
            u *= step_size
            theta -= u


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Parameters
    ----------
    parameters : iterable of Parameter
    lr : float, default 1e-3
        Learning rate ``γ``.
    betas : (float, float), default (0.9, 0.999)
        Decay rates ``(β₁, β₂)`` of the first and second moment averages.
    eps : float, default 1e-8
        ``ε`` added to the denominator.
    weight_decay : float, default 1e-2
        Decoupled weight decay ``λ``.
    amsgrad : bool, default False
        Use the running maximum of ``v_t`` (AMSGrad).

    Notes
    -----
    Identical to ``Adam`` except that the decay shrinks the parameter
    before the update instead of entering the gradient (so it is not rescaled
    by the adaptive denominator):

        θ ← θ (1 - γ λ)
        m_t = β₁ m_{t-1} + (1 - β₁) g_t
        v_t = β₂ v_{t-1} + (1 - β₂) g_t²
        v̂max_t = max(v̂max_{t-1}, v_t);  v ← v̂max_t if amsgrad else v_t
        θ ← θ - γ (m_t / (1 - β₁ᵗ)) / (√v / √(1 - β₂ᵗ) + ε)
    """

    name = "adamw"
    _decoupled_weight_decay = True

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            parameters, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #

#: Optimizer classes by registry name.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW)
}


def get_optimizer(
    name_or_obj: str | type[Optimizer] | Optimizer,
    parameters: Iterable[Parameter],
    **kwargs: Any,
) -> Optimizer:
    """Build an optimizer from a name (``"adam"``, case-insensitive) or a class.

    Parameters
    ----------
    name_or_obj : str, Optimizer subclass or Optimizer
        A registry name (see ``OPTIMIZERS``), an optimizer class, or an
        already-built optimizer, which is returned unchanged (it must hold the
        same ``parameters`` and takes no ``kwargs``).
    parameters : iterable of Parameter
    **kwargs
        Passed to the class (``lr=0.1, momentum=0.9``, ...).

    Returns
    -------
    Optimizer
    """
    if isinstance(name_or_obj, Optimizer):
        if kwargs:
            raise ValueError(
                f"got an already-built {type(name_or_obj).__name__} and keyword arguments "
                f"{sorted(kwargs)}; set them when building it, or pass the name "
                f"{name_or_obj.name!r} instead"
            )
        given = [id(p) for p in parameters]
        if given != [id(p) for p in name_or_obj.parameters]:
            raise ValueError(
                f"the {type(name_or_obj).__name__} given was built for other parameters than "
                "these; build it with these parameters or pass its name instead"
            )
        return name_or_obj
    if isinstance(name_or_obj, type) and issubclass(name_or_obj, Optimizer):
        return name_or_obj(parameters, **kwargs)
    if isinstance(name_or_obj, str):
        cls = OPTIMIZERS.get(name_or_obj.strip().lower())
        if cls is None:
            raise ValueError(
                f"unknown optimizer {name_or_obj!r}; valid names are {sorted(OPTIMIZERS)} "
                "(or pass an Optimizer class)"
            )
        return cls(parameters, **kwargs)
    raise TypeError(
        "optimizer must be a name such as 'adam', an Optimizer class or an Optimizer, "
        f"got {type(name_or_obj).__name__}"
    )

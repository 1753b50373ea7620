"""Gradient clipping, applied to ``param.grad`` in place before ``optimizer.step()``.

Same semantics as PyTorch's ``torch.nn.utils.clip_grad_norm_`` and
``clip_grad_value_``:

```python
net.backward(loss.backward())
cr.clip_grad_norm(net.parameters(), max_norm=1.0)
opt.step()
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .parameter import Parameter
from .validation import check_number

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _grads(parameters: Parameter | Iterable[Parameter], owner: str) -> list[np.ndarray]:
    if hasattr(parameters, "value") and hasattr(parameters, "grad"):
        parameters = [parameters]  # a single Parameter, as PyTorch accepts a single tensor
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(
            f"{owner} expects a Parameter or an iterable of Parameters such as "
            f"net.parameters(), got {type(parameters).__name__}"
        ) from None
    grads = []
    for k, p in enumerate(params):
        if not hasattr(p, "grad"):
            raise TypeError(f"{owner}: item {k} is a {type(p).__name__}, not a Parameter")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def clip_grad_norm(
    parameters: Parameter | Iterable[Parameter],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    r"""Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if they were concatenated into
    one vector:

        total = ‖(g_1, …, g_n)‖_p      (p = inf: the largest |g|)
        c = min(1, max_norm / (total + 1e-6))
        g_k ← c g_k    for every k

    Parameters
    ----------
    parameters : Parameter or iterable of Parameter
    max_norm : float
        Largest allowed norm (>= 0).
    norm_type : float or "inf", default 2.0
        ``p`` of the p-norm (> 0), or ``inf`` / ``"inf"`` for the max norm.
    error_if_nonfinite : bool, default False
        Raise instead of clipping when the total norm is NaN or infinite (in
        that case the gradients would become NaN or zero, as in PyTorch).

    Returns
    -------
    float
        The total norm of the gradients *before* clipping (0.0 when there
        are no gradients).

    Raises
    ------
    TypeError
        If ``parameters`` is not a Parameter or an iterable of them, or
        ``max_norm`` / ``norm_type`` is not a number.
    ValueError
        If ``max_norm`` is negative or ``norm_type`` is not > 0 (or "inf").
    RuntimeError
        With ``error_if_nonfinite=True``, if the total norm is NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> p = cr.Parameter(np.zeros(2))
    >>> p.grad[:] = [3.0, 4.0]
    >>> cr.clip_grad_norm([p], max_norm=1.0)
    5.0
    >>> p.grad.round(6).tolist()
    [0.6, 0.8]
    """
    max_norm = check_number(
        "max_norm", max_norm, allow_inf=True, fix="a norm is never negative; pass e.g. max_norm=1.0"
    )
    if isinstance(norm_type, str):
        if norm_type.strip().lower() not in ("inf", "infinity"):
            raise ValueError(f"norm_type must be a number > 0 or 'inf', got {norm_type!r}")
        p = math.inf
    else:
        p = check_number(
            "norm_type", norm_type, allow_inf=True, fix="use 2.0 (Euclidean) or 'inf' (max norm)"
        )
        if p == 0:
            raise ValueError("norm_type must be > 0 or inf, got 0; use 2.0 or 'inf'")
    grads = _grads(parameters, "clip_grad_norm")
    if not grads:
        return 0.0

    if p == math.inf:
        total = max((max(float(g.max()), -float(g.min())) for g in grads if g.size), default=0.0)
    elif p == 2.0:
        # ‖g‖² as a dot product of the flat array with itself: no temporary array.
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    elif p == 1.0:
        total = sum(float(np.abs(g).sum()) for g in grads)
    else:
        total = sum(float((np.abs(g, dtype=np.float64) ** p).sum()) for g in grads) ** (1.0 / p)

    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {p} of the gradients is {total}, so they cannot be "
            "clipped; the loss has probably diverged (lower the learning rate), or pass "
            "error_if_nonfinite=False"
        )
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # also when coef is NaN, which spreads to the gradients as in PyTorch
        with np.errstate(invalid="ignore"):  # inf * 0 gives NaN, silently as in PyTorch
            for g in grads:
                g *= coef
    return total


def clip_grad_value(parameters: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place.

    Parameters
    ----------
    parameters : Parameter or iterable of Parameter
    clip_value : float
        Largest allowed absolute value of a gradient entry (>= 0).

    Raises
    ------
    TypeError
        If ``parameters`` is not a Parameter or an iterable of them, or
        ``clip_value`` is not a number.
    ValueError
        If ``clip_value`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> p = cr.Parameter(np.zeros(3))
    >>> p.grad[:] = [3.0, -0.5, -7.0]
    >>> cr.clip_grad_value(p, 1.0)
    >>> p.grad.tolist()
    [1.0, -0.5, -1.0]
    """
    c = check_number(
        "clip_value",
        clip_value,
        allow_inf=True,
        fix="gradients are clamped to [-clip_value, clip_value]",
    )
    for g in _grads(parameters, "clip_grad_value"):
        np.clip(g, -c, c, out=g)

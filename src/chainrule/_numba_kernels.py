"""Numba-compiled loops that fuse a few NumPy passes into one (see ``kernels.py``).

Each loop performs the same float operations, in the same order and the same
dtype, as the NumPy code it replaces, so the two agree bit for bit: no
fast-math, so no reassociation and no fused multiply-add. ``error_model
="numpy"`` lets a division by zero give inf/nan as NumPy does (the default
Python error model raises instead, and its check stops the loop from being
vectorised). Every array is 1-D or 2-D and C-contiguous; scalars come in the
arrays' dtype, already rounded as NumPy rounds a Python float operand.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@_jit
def sgd_step(
    theta, grad, buf, lr, momentum, dampened, one_minus_tau, weight_decay, maximize, nesterov, first
):
    """SGD as ``optimizers.SGD.step`` writes it, for one flat parameter.

    d = ±g + λθ;  b = d (first step) or μ b + (1 − τ) d;  d = d + μ b
    (Nesterov) or b;  θ = θ − γ d. ``momentum == 0`` skips ``buf``.
    """
    for i in range(theta.size):
        d = grad[i]
        if weight_decay != 0:
            if maximize:
                d = theta[i] * weight_decay - d
            else:
                d = theta[i] * weight_decay + d
        elif maximize:
            d = -d
        if momentum != 0:
            if first:
                b = d
            elif dampened:
                b = buf[i] * momentum + d * one_minus_tau
            else:
                b = buf[i] * momentum + d
            buf[i] = b
            if nesterov:
                d = b * momentum + d
            else:
                d = b
        theta[i] = theta[i] - d * lr


@_jit
def adam_step(
    theta,
    grad,
    m,
    v,
    v_max,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    eps_hat,
    step_size,
    weight_decay,
    decay_factor,
    decoupled,
    amsgrad,
):
    """Adam and AdamW as ``optimizers.Adam.step`` writes them, for one flat parameter.

    θ = θ (1 − γλ) (AdamW) or g = g + λθ (Adam);  m = m + (1 − β₁)(g − m);
    v = β₂ v + (1 − β₂) g²;  v̂ = max(v̂, v) (AMSGrad);
    θ = θ − step_size · m / (√v + ε̂).
    """
    for i in range(theta.size):
        t = theta[i]
        g = grad[i]
        if decoupled:
            if weight_decay != 0:
                t = t * decay_factor
        elif weight_decay != 0:
            g = t * weight_decay + g
        mi = m[i] + (g - m[i]) * one_minus_beta1
        m[i] = mi
        vi = v[i] * beta2 + (g * g) * one_minus_beta2
        v[i] = vi
        if amsgrad:
            if vi > v_max[i] or vi != vi:  # np.maximum: the larger; nan if either is nan
                v_max[i] = vi
            vi = v_max[i]
        theta[i] = t - (mi / (np.sqrt(vi) + eps_hat)) * step_size


@_jit
def add_bias_relu(z, bias):
    """z = max(z + b, 0) in place, row by row (``z += b; np.maximum(z, 0, out=z)``)."""
    rows, cols = z.shape
    for r in range(rows):
        for j in range(cols):
            a = z[r, j] + bias[j]
            z[r, j] = a if a > 0 or a != a else 0


@_jit
def relu_backward_bias_grad(grad, a, bias_grad, zero):
    """dL/dz = dL/da · [a > 0] in place of grad; dL/db = its column sums.

    Rows are added one after another, as ``np.sum(g, axis=0)`` adds the rows
    of a C-ordered array. ``zero`` is 0 in the arrays' dtype (a bare 0 would
    promote float32 to float64).
    """
    rows, cols = grad.shape
    for j in range(cols):
        bias_grad[j] = 0
    for r in range(rows):
        for j in range(cols):
            g = grad[r, j]
            if not a[r, j] > 0:
                g = g * zero  # as NumPy's grad * False: 0, or nan for inf/nan
            grad[r, j] = g
            bias_grad[j] += g

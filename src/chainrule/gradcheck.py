"""Gradient checking: backpropagation compared with finite differences.

Backpropagation gives every partial derivative of the loss in one backward
pass. A finite difference gives one of them from two more forward passes:

    dL/dp  ~  (L(p + eps) - L(p - eps)) / (2 eps)

(the central difference, whose error shrinks like eps^2). It is far too slow
to train with, but it needs nothing except the forward pass, so it is the
referee for every ``backward`` and every hand-written derivative:

    cube = cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2)
    net = cr.Sequential(cr.Dense(3, 4, activation=cube), cr.Dense(4, 1), seed=0)
    print(cr.gradcheck(net, "mse", X, y))      # a table, one row per parameter

How the check is run
--------------------
* On a deep copy of the network cast to float64, so the user's network
  (weights, dtype, gradients, caches, BatchNorm statistics) is untouched and
  round-off stays far below the tolerance.
* In the network's current mode, except that Dropout layers are switched to
  inference mode (identity) in the copy: a new random mask on every forward
  pass would make ``L`` a different function on each evaluation.
  BatchNorm in training mode is checked as the function of the whole batch
  that it is (its running statistics change, but they do not enter the
  training-mode output).
* A network with a Step activation is refused with the Step's ``ValueError``:
  its derivative is zero wherever it exists, so there is nothing to check and
  nothing to train by gradient descent.

The error measure
-----------------
For a parameter tensor with analytic gradient ``a`` and numerical gradient
``n`` over the checked entries:

    error = max_i |a_i - n_i| / max(max_i |a_i| + max_i |n_i|, floor)
    floor = 1e-3 * max(1, |L|)

the largest disagreement relative to the size of that tensor's gradient. A
purely entry-wise ratio ``|a_i - n_i| / (|a_i| + |n_i|)`` is unreliable for
entries near zero: the difference of two nearby losses carries a round-off of
about ``1e-16 |L| / eps`` (1e-10 |L| for eps = 1e-6), which swamps an entry of
1e-6. The floor handles tensors whose whole gradient is that small (a dead
ReLU layer, say): they are judged on an absolute scale instead. A wrong
derivative shows in the largest entries, so it still gives an error of order
0.1 to 1. Kinks (ReLU at 0, |d| in MAE, the hinge) can fool the difference
if a pre-activation lies within ``eps`` of one; with random inputs this has a
probability of order ``eps``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .activations import Step
from .layers import Dropout
from .losses import Loss, get_loss
from .network import Sequential, check_features


@dataclass
class GradcheckResult:
    """What ``gradcheck`` found.

    Attributes
    ----------
    errors : dict of str to float
        Worst relative error of each checked tensor, by parameter name
        (``"0.dense.weight"``...) and ``"X"`` for dL/dX.
    shapes : dict of str to tuple
        Shape of each checked tensor.
    n_checked : dict of str to int
        Number of entries compared in each tensor.
    worst : dict of str to (tuple, float, float)
        For each tensor, the index of the largest disagreement with the
        analytic and the numerical derivative there.
    tol : float
        The tolerance: the check passes when ``max_error < tol``.
    eps : float
        The finite-difference step.
    loss : float
        The loss at the unperturbed point.
    """

    errors: dict[str, float]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    n_checked: dict[str, int] = field(default_factory=dict)
    worst: dict[str, tuple[tuple[int, ...], float, float]] = field(default_factory=dict)
    tol: float = 1e-6
    eps: float = 1e-6
    loss: float = float("nan")

    @property
    def max_error(self) -> float:
        """The largest error over all checked tensors (0.0 if none was checked)."""
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        """True when every tensor's error is below ``tol``."""
        return bool(self.max_error < self.tol)

    def __bool__(self) -> bool:
        return self.passed

    def failed(self) -> list[str]:
        """Names of the tensors whose error reaches ``tol``."""
        return [name for name, err in self.errors.items() if not err < self.tol]

    def __str__(self) -> str:
        head = ("tensor", "shape", "checked", "analytic", "numerical", "rel. error", "")
        rows = [head]
        for name, err in self.errors.items():
            _, a, n = self.worst.get(name, ((), float("nan"), float("nan")))
            rows.append(
                (
                    name,
                    str(self.shapes.get(name, "")),
                    str(self.n_checked.get(name, "")),
                    f"{a: .6e}",
                    f"{n: .6e}",
                    f"{err:.2e}",
                    "ok" if err < self.tol else "FAIL",
                )
            )
        widths = [max(len(r[c]) for r in rows) for c in range(len(head))]

        def fmt(r):
            left = f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}"
            right = "  ".join(f"{r[c]:>{widths[c]}}" for c in range(2, 6))
            return f"{left}  {right}  {r[6]}".rstrip()

        line = "-" * len(fmt(head))
        verdict = "PASSED" if self.passed else f"FAILED: {', '.join(self.failed())}"
        return "\n".join(
            [
                fmt(head),
                line,
                *(fmt(r) for r in rows[1:]),
                line,
                f"gradcheck {verdict}  (max error {self.max_error:.2e}, tol {self.tol:g}, "
                f"eps {self.eps:g}; analytic/numerical at the worst entry)",
            ]
        )

    def __repr__(self) -> str:
        return (
            f"GradcheckResult(passed={self.passed}, max_error={self.max_error:.3e}, "
            f"tol={self.tol:g})"
        )


def _refuse_step(net) -> None:
    """Raise the Step activation's own error if the network contains one."""
    for layer in net.layers:
        for act in (layer, getattr(layer, "activation", None)):
            if isinstance(act, Step):
                act.df(None, None)  # raises ValueError explaining why and what to use
                raise ValueError("the step activation cannot be checked or trained by gradients")


def _float64_copy(net):
    """A deep copy of ``net`` in float64, with Dropout layers in inference mode."""
    net64 = copy.deepcopy(net)
    for layer in net64.layers:
        layer.set_dtype(np.float64)
        if isinstance(layer, Dropout):
            layer.training = False
    net64.dtype = np.dtype(np.float64)
    return net64


def _entries(size: int, n_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    if n_samples is None or n_samples >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=n_samples, replace=False))


def _compare(
    analytic: np.ndarray, numeric: np.ndarray, floor: float, shape: tuple[int, ...], flat_idx
) -> tuple[float, tuple[tuple[int, ...], float, float]]:
    diff = np.abs(analytic - numeric)
    scale = max(float(np.max(np.abs(analytic)) + np.max(np.abs(numeric))), floor)
    k = int(np.argmax(diff))
    index = tuple(int(i) for i in np.unravel_index(int(flat_idx[k]), shape))
    return float(diff[k] / scale), (index, float(analytic[k]), float(numeric[k]))


def gradcheck(
    net,
    loss: str | Loss,
    X,
    y,
    eps: float = 1e-6,
    tol: float = 1e-6,
    n_samples: int | None = None,
    seed: int = 0,
    check_input: bool = True,
) -> GradcheckResult:
    r"""Compare backpropagated gradients with central finite differences.

    Parameters
    ----------
    net : Network
        The network to check (a ``Sequential`` or any graph ``Network``). It is
        not modified: the check runs on a float64 deep copy (Dropout switched
        off in the copy; see the module notes).
    loss : str or Loss
        The loss, by name (``"mse"``, ``"cross_entropy"``...) or as an object;
        for several outputs a list, one per output, and L is their sum.
    X : array-like of shape (n_samples, n_features)
        A small batch of inputs (a handful of rows is plenty); for several
        inputs a list in ``net.inputs`` order or a dict by input name.
    y : array-like
        Targets for ``X``, in any form the loss accepts (a list for several
        outputs).
    eps : float, default 1e-6
        Step of the central difference ``(L(p + eps) - L(p - eps)) / (2 eps)``.
    tol : float, default 1e-6
        The check passes when every tensor's relative error is below ``tol``.
    n_samples : int or None, default None
        Check at most this many randomly chosen entries of each tensor
        (``None`` checks them all; each entry costs two forward passes).
    seed : int, default 0
        Seed for choosing the entries when ``n_samples`` is set.
    check_input : bool, default True
        Also check dL/dX, the gradient that ``net.backward`` returns (for
        several inputs ``"X[<name>]"`` each; integer codes have none).

    Returns
    -------
    GradcheckResult
        Per-tensor errors, ``max_error``, ``passed`` (also its truth value)
        and a readable table as its ``str``.

    Raises
    ------
    ValueError
        If the network contains a Step activation (it has no useful gradient),
        or for invalid ``eps``, ``tol`` or ``n_samples``.

    Notes
    -----
    For each entry ``p`` of each parameter the numerical derivative is

        dL/dp  ~=  (L(p + eps) - L(p - eps)) / (2 eps)

    and a tensor's error is ``max|a - n| / max(max|a| + max|n|, floor)`` with
    ``floor = 1e-3 max(1, |L|)``, ``a`` the analytic and ``n`` the numerical
    gradient (see the module documentation for why).
    """
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a small positive number such as 1e-6, got {eps!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number such as 1e-6, got {tol!r}")
    if n_samples is not None and (
        isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1
    ):
        raise ValueError(
            f"n_samples must be a positive integer or None (check every entry), got {n_samples!r}"
        )
    _refuse_step(net)

    net64 = _float64_copy(net)
    if isinstance(net64, Sequential):
        losses = [copy.deepcopy(get_loss(loss))]
        # a private float64 copy of X that we may perturb, validated with the network's messages
        xs = [np.array(check_features(X, net64.n_features_in, np.float64), dtype=np.float64)]
        ys = [losses[0].prepare_target(y, net64.n_outputs, np.float64)]
        names = ["X"]
    else:
        several = not net64._single_output
        losses = [copy.deepcopy(get_loss(item)) for item in (loss if several else [loss])]
        targets = y if several else [y]
        if len(losses) != len(net64.outputs) or len(targets) != len(net64.outputs):
            raise ValueError(
                f"the network has {len(net64.outputs)} outputs: give a list of as many losses "
                "and targets"
            )
        xs = [np.array(a) for a in net64.input_arrays(X)]  # private copies we may perturb
        ys = [
            item.prepare_target(t, o.n_features, np.float64)
            for item, t, o in zip(losses, targets, net64.outputs)
        ]
        names = ["X"] if len(xs) == 1 else [f"X[{name}]" for name in net64.input_names]

    def outputs() -> list[np.ndarray]:
        if isinstance(net64, Sequential):
            return [net64.forward(xs[0])]
        values = net64.run(xs)
        return [values[k] for k in net64._output_pos]

    def L() -> float:
        return sum(item.forward(out, t) for item, out, t in zip(losses, outputs(), ys))

    # Analytic gradients: one forward and one backward pass.
    L0 = L()
    grads = [item.backward() for item in losses]
    dX = net64.backward(grads if len(grads) > 1 else grads[0])
    dX = dX if isinstance(dX, list) else [dX]
    params = net64.parameters()
    named: dict[str, object] = {}
    for k, p in enumerate(params):
        name = p.name or f"param_{k}"
        if name in named:
            name = f"{name}_{k}"
        named[name] = p
    analytic = {name: p.grad.copy() for name, p in named.items()}

    rng = np.random.default_rng(seed)
    floor = 1e-3 * max(1.0, abs(L0))
    result = GradcheckResult(errors={}, tol=float(tol), eps=float(eps), loss=L0)

    def check(name: str, value: np.ndarray, grad: np.ndarray) -> None:
        idx = _entries(value.size, n_samples, rng)
        numeric = np.empty(idx.size)
        flat = value.reshape(-1)  # a view: value is contiguous (we own it)
        for j, i in enumerate(idx):
            original = flat[i]
            flat[i] = original + eps
            plus = L()
            flat[i] = original - eps
            minus = L()
            flat[i] = original
            numeric[j] = (plus - minus) / (2 * eps)
        err, worst = _compare(grad.reshape(-1)[idx], numeric, floor, value.shape, idx)
        result.errors[name] = err
        result.shapes[name] = tuple(value.shape)
        result.n_checked[name] = int(idx.size)
        result.worst[name] = worst

    for name, p in named.items():
        if not p.value.flags.c_contiguous:
            p.value = np.ascontiguousarray(p.value)
        check(name, p.value, analytic[name])
    if check_input:
        for name, x, g in zip(names, xs, dX):
            if g is not None and x.dtype.kind == "f":
                check(name, x, np.asarray(g, dtype=np.float64))
    return result


__all__ = ["gradcheck", "GradcheckResult"]

"""Optimizers, gradient clipping and learning-rate schedules, checked against PyTorch.

The reference runs train the same small tanh MLP (16x5 -> 7 -> 3, MSE) twice,
once with chainrule's optimizer and once with torch.optim, each side taking
the exact gradient of the loss at its *own* current parameters (chainrule's
by hand-derived backprop in NumPy, torch's by autograd), and require the
parameters to agree to a relative 1e-8 after 20 steps.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from chainrule.clipping import clip_grad_norm, clip_grad_value
from chainrule.optimizers import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    get_optimizer,
)
from chainrule.parameter import Parameter
from chainrule.schedules import (
    CosineAnnealingLR,
    ExponentialLR,
    ReduceLROnPlateau,
    StepLR,
)

RTOL, ATOL = 1e-8, 1e-12
N_STEPS = 20

# (optimizer name, keyword arguments): every option of every optimizer.
CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.1, weight_decay=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.8, dampening=0.5, weight_decay=0.05)),
    ("sgd", dict(lr=0.05, maximize=True)),
    ("sgd", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("adagrad", dict(lr=0.1)),
    ("adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("adagrad", dict(lr=0.1, initial_accumulator_value=0.3)),
    ("adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1, weight_decay=0.05)),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, alpha=0.9)),
    ("rmsprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("rmsprop", dict(lr=0.01, weight_decay=0.1)),
    ("rmsprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.9, weight_decay=0.1)),
    ("adam", dict(lr=0.05)),
    ("adam", dict(lr=0.05, amsgrad=True)),
    ("adam", dict(lr=0.05, weight_decay=0.1)),
    ("adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("adamw", dict(lr=0.05)),
    ("adamw", dict(lr=0.05, amsgrad=True)),
    ("adamw", dict(lr=0.05, weight_decay=0.3)),
    ("adamw", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.2, amsgrad=True)),
]
CASE_IDS = [f"{n}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for n, kw in CASES]
TORCH_NAMES = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}
TORCH_NAMES["adamw"] = "AdamW"


# --------------------------------------------------------------------------- #
# The reference problem: a 2-layer tanh MLP with MSE, gradients by hand
# --------------------------------------------------------------------------- #


def make_problem(seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(16, 5)).astype(dtype)
    Y = rng.normal(size=(16, 3)).astype(dtype)
    values = [
        rng.normal(scale=0.6, size=(5, 7)),
        rng.normal(scale=0.1, size=(7,)),
        rng.normal(scale=0.6, size=(7, 3)),
        rng.normal(scale=0.1, size=(3,)),
    ]
    return X, Y, [v.astype(dtype) for v in values]


def mlp_loss_and_grads(values, X, Y):
    """MSE of tanh(X W1 + b1) W2 + b2 against Y, and its gradients (chain rule)."""
    W1, b1, W2, b2 = values
    h = np.tanh(X @ W1 + b1)
    diff = h @ W2 + b2 - Y
    loss = float(np.mean(diff**2))
    d_out = 2.0 * diff / diff.size
    d_z = (d_out @ W2.T) * (1.0 - h * h)
    return loss, [X.T @ d_z, d_z.sum(axis=0), h.T @ d_out, d_out.sum(axis=0)]


def cr_compute_grads(params, X, Y) -> float:
    loss, grads = mlp_loss_and_grads([p.value for p in params], X, Y)
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    return loss


def torch_compute_grads(torch, tparams, X, Y) -> float:
    W1, b1, W2, b2 = tparams
    for t in tparams:
        t.grad = None
    loss = ((torch.tanh(X @ W1 + b1) @ W2 + b2 - Y) ** 2).mean()
    loss.backward()
    return float(loss.detach())


def make_pair(torch, name, kwargs, seed=0):
    X, Y, values = make_problem(seed)
    params = [Parameter(v.copy(), f"p{k}") for k, v in enumerate(values)]
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    opt = OPTIMIZERS[name](params, **kwargs)
    topt = getattr(torch.optim, TORCH_NAMES[name])(tparams, **kwargs)
    return (X, Y, values), params, opt, tparams, topt


def rel_err(params, tparams) -> float:
    return max(
        float(np.max(np.abs(p.value - t.detach().numpy()) / (np.abs(t.detach().numpy()) + 1e-30)))
        for p, t in zip(params, tparams, strict=True)
    )


def assert_same_params(params, tparams):
    for p, t in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.value, t.detach().numpy(), rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- #
# Update rules against torch.optim
# --------------------------------------------------------------------------- #


def test_hand_gradients_match_autograd():
    torch = pytest.importorskip("torch")
    X, Y, values = make_problem()
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    tloss = torch_compute_grads(torch, tparams, torch.tensor(X), torch.tensor(Y))
    loss, grads = mlp_loss_and_grads(values, X, Y)
    assert loss == pytest.approx(tloss, rel=1e-13)
    for g, t in zip(grads, tparams, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_update_rule_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    (X, Y, values), params, opt, tparams, topt = make_pair(torch, name, kwargs)
    tX, tY = torch.tensor(X), torch.tensor(Y)
    losses = []
    for _ in range(N_STEPS):
        losses.append(cr_compute_grads(params, X, Y))
        tloss = torch_compute_grads(torch, tparams, tX, tY)
        assert losses[-1] == pytest.approx(tloss, rel=1e-8)
        opt.step()
        topt.step()
        opt.zero_grad()
    assert opt.step_count == N_STEPS
    assert_same_params(params, tparams)
    # The run must have gone somewhere, so that agreement means something.
    moved = max(float(np.max(np.abs(p.value - v))) for p, v in zip(params, values, strict=True))
    assert moved > 1e-2
    assert losses[-1] != pytest.approx(losses[0], rel=1e-2)
    if kwargs.get("amsgrad"):  # the running maximum was really used
        st = opt.state_dict()
        assert any(
            np.any(st[f"state.{i}.max_exp_avg_sq"] > st[f"state.{i}.exp_avg_sq"])
            for i in range(len(params))
        )


def test_each_option_changes_the_update():
    """An option silently ignored would still match torch only if it made no difference."""
    X, Y, values = make_problem()

    def run(name, **kwargs):
        params = [Parameter(v.copy()) for v in values]
        opt = OPTIMIZERS[name](params, **kwargs)
        for _ in range(5):
            cr_compute_grads(params, X, Y)
            opt.step()
        return np.concatenate([p.value.ravel() for p in params])

    for name, kwargs in CASES:
        base = {k: v for k, v in kwargs.items() if k == "lr"}
        if len(kwargs) > 1:
            assert not np.allclose(run(name, **kwargs), run(name, **base), rtol=1e-6), (
                name,
                kwargs,
            )


# --------------------------------------------------------------------------- #
# Schedules against torch.optim.lr_scheduler
# --------------------------------------------------------------------------- #

PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.9, 0.91, 0.85, 0.85, 0.85, 0.85, 0.849, 0.7, 0.7, 0.7, 0.7]


def _schedule_pair(torch, kind, opt, topt):
    sched_mod = torch.optim.lr_scheduler
    if kind == "step":
        return StepLR(opt, step_size=3, gamma=0.5), sched_mod.StepLR(topt, step_size=3, gamma=0.5)
    if kind == "exponential":
        return ExponentialLR(opt, gamma=0.8), sched_mod.ExponentialLR(topt, gamma=0.8)
    if kind == "cosine":
        return (
            CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
            sched_mod.CosineAnnealingLR(topt, T_max=5, eta_min=0.01),
        )
    kw = dict(factor=0.5, patience=1, cooldown=1, threshold=1e-3)
    return ReduceLROnPlateau(opt, **kw), sched_mod.ReduceLROnPlateau(topt, **kw)


@pytest.mark.parametrize("kind", ["step", "exponential", "cosine", "plateau"])
def test_schedules_match_torch_in_training(kind):
    torch = pytest.importorskip("torch")
    (X, Y, _), params, opt, tparams, topt = make_pair(torch, "sgd", dict(lr=0.1, momentum=0.9))
    tX, tY = torch.tensor(X), torch.tensor(Y)
    sched, tsched = _schedule_pair(torch, kind, opt, topt)
    lrs, tlrs = [opt.lr], [topt.param_groups[0]["lr"]]
    for epoch in range(len(PLATEAU_METRICS)):
        for _ in range(2):  # two batches per epoch
            cr_compute_grads(params, X, Y)
            torch_compute_grads(torch, tparams, tX, tY)
            opt.step()
            topt.step()
        if kind == "plateau":
            sched.step(PLATEAU_METRICS[epoch])
            tsched.step(PLATEAU_METRICS[epoch])
        else:
            sched.step()
            tsched.step()
        lrs.append(opt.lr)
        tlrs.append(topt.param_groups[0]["lr"])
        assert sched.last_epoch == epoch + 1
        assert sched.last_lr == opt.lr
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12, atol=0)
    assert len(set(lrs)) >= 3  # the schedule really changed the rate, more than once
    assert_same_params(params, tparams)


@pytest.mark.parametrize("T_max", [1, 4, 7])
def test_cosine_closed_form_matches_torch_recursion(T_max):
    torch = pytest.importorskip("torch")
    opt = SGD([Parameter(np.zeros(1))], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    sched = CosineAnnealingLR(opt, T_max=T_max, eta_min=0.02)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=T_max, eta_min=0.02)
    lrs, tlrs = [opt.lr], [topt.param_groups[0]["lr"]]
    for _ in range(3 * T_max + 2):  # past T_max too: both follow the cosine back up
        topt.step()  # (no gradients: only keeps torch's call-order check quiet)
        sched.step()
        tsched.step()
        lrs.append(opt.lr)
        tlrs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12)
    assert lrs[T_max] == pytest.approx(0.02, abs=1e-15)
    assert lrs[2 * T_max] == pytest.approx(0.3, rel=1e-14)


PLATEAU_VARIANTS = [
    dict(mode="min", threshold_mode="rel", threshold=0.05, patience=1),
    dict(mode="min", threshold_mode="abs", threshold=0.05, patience=0, cooldown=2),
    dict(mode="max", threshold_mode="rel", threshold=0.05, patience=1, factor=0.3),
    dict(mode="max", threshold_mode="abs", threshold=0.02, patience=2, min_lr=0.02),
    dict(mode="min", patience=0, factor=0.5, min_lr=0.24, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAU_VARIANTS, ids=[str(k) for k in PLATEAU_VARIANTS])
def test_reduce_on_plateau_variants_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    metrics = np.concatenate([np.cumsum(rng.normal(0, 0.05, 30)), [-0.5, -0.5, np.nan, 1.0]])
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    lrs, tlrs = [], []
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        lrs.append(opt.lr)
        tlrs.append(topt.param_groups[0]["lr"])
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        assert sched.cooldown_counter == tsched.cooldown_counter
    assert lrs == tlrs  # same decisions, same products: exactly equal
    assert lrs[-1] < 1.0


def test_schedule_state_dict_round_trip():
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = ReduceLROnPlateau(opt, patience=0)
    for m in [3.0, 2.0, 2.5]:
        sched.step(m)
    saved = json.loads(json.dumps(sched.state_dict()))
    opt2 = SGD([Parameter(np.zeros(1))], lr=opt.lr)
    sched2 = ReduceLROnPlateau(opt2, patience=0)
    sched2.load_state_dict(saved)
    for s in (sched, sched2):
        s.step(2.2)
        s.step(1.0)
        s.step(1.5)
    assert opt2.lr == opt.lr == pytest.approx(0.001)  # reduced at 2.5, 2.2 and 1.5
    assert sched2.best == sched.best == 1.0
    assert sched2.last_epoch == 6
    with pytest.raises(ValueError, match="unexpected keys"):
        sched2.load_state_dict({"nonsense": 1})


# --------------------------------------------------------------------------- #
# Gradient clipping against torch.nn.utils
# --------------------------------------------------------------------------- #


def _grad_params(seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 5, 2), ()]
    return [Parameter(np.zeros(s)) for s in shapes], [
        rng.normal(scale=scale, size=s) for s in shapes
    ]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    params, grads = _grad_params()
    tensors = []
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        tensors.append(t)
    total = clip_grad_norm(params, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    clipped = max_norm < total
    assert clipped == (not np.array_equal(params[0].grad, grads[0]))


def test_clip_grad_norm_float32_keeps_dtype_and_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 20)).astype(np.float32)
    p = Parameter(np.zeros_like(g))
    p.grad = g.copy()
    t = torch.zeros(g.shape, requires_grad=True)
    t.grad = torch.tensor(g)
    total = clip_grad_norm(p, 1.0)  # a single Parameter is accepted, as in torch
    ttotal = torch.nn.utils.clip_grad_norm_(t, 1.0)
    assert p.grad.dtype == np.float32
    assert total == pytest.approx(float(ttotal), rel=1e-6)
    np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5)
    assert float(np.linalg.norm(p.grad.astype(np.float64))) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_nonfinite_like_torch():
    torch = pytest.importorskip("torch")
    params, grads = _grad_params()
    grads[0][1, 1] = np.inf
    tensors = []
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        tensors.append(t)
    with pytest.raises(RuntimeError, match="diverged"):
        clip_grad_norm(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[0].grad, grads[0])  # untouched by the refusal
    total = clip_grad_norm(params, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    assert total == float(ttotal) == math.inf
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())  # NaN where inf, 0 elsewhere


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _grad_params(scale=2.0)
    tensors = []
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        tensors.append(t)
    clip_grad_value(params, 1.5)
    torch.nn.utils.clip_grad_value_(tensors, 1.5)
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert max(float(np.max(np.abs(g))) for g in grads) > 1.5
    assert max(float(np.max(np.abs(p.grad))) for p in params) == 1.5


def test_clipping_edge_cases_and_errors():
    assert clip_grad_norm([], 1.0) == 0.0
    p = Parameter(np.array([3.0, 4.0]))
    p.grad = np.array([3.0, 4.0])
    assert clip_grad_norm([p], 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])  # below max_norm: unchanged
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm([p], -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm([p], 1.0, norm_type="fro")
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm([p], 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value([p], -0.1)
    with pytest.raises(TypeError, match="not a Parameter"):
        clip_grad_value([np.zeros(3)], 1.0)


# --------------------------------------------------------------------------- #
# State dict: a rebuilt optimizer continues exactly like an uninterrupted one
# --------------------------------------------------------------------------- #

STATEFUL_CASES = [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1)),
    ("rmsprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("adam", dict(lr=0.05, amsgrad=True)),
    ("adamw", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
]


def _to_json_and_back(state: dict) -> dict:
    """Round trip through JSON, arrays as lists: proves the dict is plain data."""
    text = json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()})
    return {k: np.array(v) if isinstance(v, list) else v for k, v in json.loads(text).items()}


@pytest.mark.parametrize(("name", "kwargs"), STATEFUL_CASES, ids=[c[0] for c in STATEFUL_CASES])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    X, Y, values = make_problem()

    def train(params, opt, n):
        for _ in range(n):
            cr_compute_grads(params, X, Y)
            opt.step()

    ref_params = [Parameter(v.copy()) for v in values]
    ref = OPTIMIZERS[name](ref_params, **kwargs)
    train(ref_params, ref, 2 * 10)

    params = [Parameter(v.copy()) for v in values]
    opt = OPTIMIZERS[name](params, **kwargs)
    train(params, opt, 10)
    state = opt.state_dict()
    saved_values = [p.value.copy() for p in params]  # what a model file would hold
    assert state["step"] == 10 and state["lr"] == kwargs["lr"]
    assert all(isinstance(v, (np.ndarray, int, float, bool)) for v in state.values())
    snapshot = {k: v.copy() for k, v in state.items() if isinstance(v, np.ndarray)}
    assert snapshot  # there is state to carry over
    train(params, opt, 1)  # the saved arrays are copies, not views of the live state
    for k, v in snapshot.items():
        np.testing.assert_array_equal(state[k], v)

    params2 = [Parameter(v) for v in saved_values]
    opt2 = OPTIMIZERS[name](params2, lr=123.0)  # hyperparameters come from the state dict
    opt2.load_state_dict(_to_json_and_back(state))
    assert opt2.hyperparameters() == opt.hyperparameters()
    assert opt2.step_count == 10
    train(params2, opt2, 10)
    for p, r in zip(params2, ref_params, strict=True):
        np.testing.assert_array_equal(p.value, r.value)


def test_load_state_dict_rejects_mismatches():
    X, Y, values = make_problem()
    params = [Parameter(v.copy()) for v in values]
    adam = Adam(params, lr=0.01)
    cr_compute_grads(params, X, Y)
    adam.step()
    state = adam.state_dict()

    with pytest.raises(ValueError, match="missing keys"):
        SGD(params).load_state_dict(state)
    sgd_state = SGD(params).state_dict()
    with pytest.raises(ValueError, match="missing keys"):
        Adam(params).load_state_dict(sgd_state)
    with pytest.raises(ValueError, match="unknown state buffer 'exp_avg'"):
        RMSprop(params).load_state_dict(
            {**RMSprop(params).state_dict(), "state.0.exp_avg": state["state.0.exp_avg"]}
        )
    with pytest.raises(ValueError, match="holds 2 parameters"):
        Adam(params[:2]).load_state_dict(state)
    swapped = [Parameter(values[2].copy()), *[Parameter(v.copy()) for v in values[1:]]]
    with pytest.raises(ValueError, match=r"has shape \(5, 7\) but parameter 0 has shape \(7, 3\)"):
        Adam(swapped).load_state_dict(state)
    with pytest.raises(ValueError, match="betas\\[0\\] must be in \\[0, 1\\)"):
        Adam(params).load_state_dict({**state, "beta1": 1.5})
    with pytest.raises(ValueError, match="'step' must be an int >= 0"):
        Adam(params).load_state_dict({**state, "step": -1})
    # A failed load leaves the optimizer as it was.
    fresh = Adam(params, lr=0.5)
    with pytest.raises(ValueError):
        fresh.load_state_dict({**state, "beta1": 1.5})
    assert fresh.lr == 0.5 and fresh.step_count == 0 and fresh.state_dict()["step"] == 0


# --------------------------------------------------------------------------- #
# dtype, in-place updates, no per-step allocation
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_float32_stays_float32_in_place_and_matches_torch(name, kwargs):
    """Same fixed float32 gradient sequence fed to both: the update rule alone, in float32."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    shapes = [(6, 4), (4,)]
    values = [rng.normal(size=s).astype(np.float32) for s in shapes]
    params = [Parameter(v.copy()) for v in values]
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    opt = OPTIMIZERS[name](params, **kwargs)
    topt = getattr(torch.optim, TORCH_NAMES[name])(tparams, **kwargs)
    arrays = [p.value for p in params]
    for _ in range(5):
        for p, t in zip(params, tparams, strict=True):
            g = rng.normal(size=p.shape).astype(np.float32)
            p.grad = g.copy()
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, t in zip(params, tparams, strict=True):
            np.testing.assert_array_equal(p.grad, t.grad.numpy())  # grad is never modified
    for p, arr, t in zip(params, arrays, tparams, strict=True):
        assert p.value is arr  # updated in place
        assert p.value.dtype == np.float32
        np.testing.assert_allclose(p.value, t.detach().numpy(), rtol=2e-5, atol=2e-6)
    for key, v in opt.state_dict().items():
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float32, key


@pytest.mark.parametrize(("name", "kwargs"), STATEFUL_CASES, ids=[c[0] for c in STATEFUL_CASES])
def test_step_allocates_no_full_size_temporaries(name, kwargs):
    rng = np.random.default_rng(0)
    params = [Parameter(rng.normal(size=(200, 100))), Parameter(rng.normal(size=(100,)))]
    for p in params:
        p.grad = rng.normal(size=p.shape)
    opt = OPTIMIZERS[name](params, **kwargs)
    opt.step()  # the first step creates the state and the scratch buffers
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < params[0].value.nbytes // 10, peak  # 160 kB would be one temporary


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


def test_registry():
    params = [Parameter(np.zeros(3))]
    assert set(OPTIMIZERS) == {"sgd", "adagrad", "rmsprop", "adam", "adamw"}
    for key, cls in OPTIMIZERS.items():
        assert cls.name == key and issubclass(cls, Optimizer)
    opt = get_optimizer(" AdamW", params, lr=0.01)
    assert type(opt) is AdamW and opt.lr == 0.01 and opt.weight_decay == 0.01
    assert type(get_optimizer("RMSprop", params)) is RMSprop
    sgd = get_optimizer(SGD, params, lr=0.5, momentum=0.9)
    assert type(sgd) is SGD and sgd.momentum == 0.9
    assert get_optimizer(sgd, params) is sgd
    with pytest.raises(ValueError, match="keyword arguments"):
        get_optimizer(sgd, params, lr=0.1)
    with pytest.raises(ValueError, match="other parameters"):
        get_optimizer(sgd, [Parameter(np.zeros(3))])
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'") as err:
        get_optimizer("adamax", params)
    for key in OPTIMIZERS:
        assert repr(key) in str(err.value)
    with pytest.raises(TypeError, match="optimizer must be a name"):
        get_optimizer(3, params)
    assert repr(Adagrad(params)).startswith("Adagrad(lr=0.01, lr_decay=0.0")


def test_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    params = [Parameter(np.zeros(3))]
    tparam = [torch.zeros(3, requires_grad=True)]
    for key, cls in OPTIMIZERS.items():
        ours = cls(params).hyperparameters()
        theirs = getattr(torch.optim, TORCH_NAMES[key])(tparam).defaults
        if "betas" in theirs:
            theirs["beta1"], theirs["beta2"] = theirs["betas"]
        for k, v in ours.items():
            assert v == theirs[k], (key, k)


def test_zero_grad_and_generator_parameters():
    values = [np.ones((2, 2)), np.ones(2)]
    params = [Parameter(v.copy()) for v in values]
    opt = SGD(p for p in params)  # a generator is consumed into a list
    assert opt.parameters == params
    for p in params:
        p.grad[...] = 1.0
    opt.zero_grad()
    assert all(not p.grad.any() for p in params)


# --------------------------------------------------------------------------- #
# Bad arguments: clear errors that name the problem and the fix
# --------------------------------------------------------------------------- #

P = [Parameter(np.zeros(2))]
BAD_ARGUMENTS = [
    (lambda: SGD(P, lr=-0.1), ValueError, ["lr must be >= 0", "-0.1", "non-negative"]),
    (lambda: SGD(P, lr=float("nan")), ValueError, ["lr must be >= 0", "nan"]),
    (lambda: SGD(P, lr="0.1"), TypeError, ["lr must be a number"]),
    (lambda: SGD(P, momentum=-0.9), ValueError, ["momentum must be >= 0"]),
    (lambda: SGD(P, dampening=1.5), ValueError, ["dampening must be in [0, 1]"]),
    (lambda: SGD(P, weight_decay=-1), ValueError, ["weight_decay must be >= 0", "use 0"]),
    (lambda: SGD(P, nesterov=True), ValueError, ["nesterov=True needs momentum > 0", "0.9"]),
    (
        lambda: SGD(P, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        ["dampening = 0", "dampening=0.1", "nesterov=False"],
    ),
    (lambda: SGD(P, nesterov="yes"), TypeError, ["nesterov must be True or False"]),
    (lambda: Adagrad(P, lr_decay=-0.1), ValueError, ["lr_decay must be >= 0"]),
    (lambda: Adagrad(P, initial_accumulator_value=-1), ValueError, ["initial_accumulator_value"]),
    (lambda: Adagrad(P, eps=-1e-10), ValueError, ["eps must be >= 0"]),
    (lambda: RMSprop(P, alpha=1.2), ValueError, ["alpha must be in [0, 1]", "0.99"]),
    (lambda: RMSprop(P, momentum=-0.1), ValueError, ["momentum must be >= 0"]),
    (lambda: Adam(P, betas=(1.0, 0.999)), ValueError, ["betas[0] must be in [0, 1)", "1.0"]),
    (
        lambda: Adam(P, betas=(0.9, -0.1)),
        ValueError,
        ["betas[1] must be in [0, 1)", "(0.9, 0.999)"],
    ),
    (lambda: Adam(P, betas=0.9), ValueError, ["betas must be a pair"]),
    (lambda: AdamW(P, weight_decay=-0.01), ValueError, ["weight_decay must be >= 0"]),
    (lambda: Adam(P, amsgrad=1), TypeError, ["amsgrad must be True or False"]),
    (lambda: Adam([]), ValueError, ["empty parameter list", "net.parameters()"]),
    (lambda: Adam(P[0]), TypeError, ["single Parameter", "Adam([param]"]),
    (lambda: Adam([np.zeros(3)]), TypeError, ["not a Parameter", "Parameter(array)"]),
    (lambda: Adam(np.zeros(3)), TypeError, ["iterable of Parameters"]),
    (lambda: Adam(5), TypeError, ["iterable of Parameters", "int"]),
    (lambda: Adam([P[0], P[0]]), ValueError, ["more than once", "pass each parameter once"]),
    (lambda: Adam([Parameter(np.arange(3))]), TypeError, ["floating-point", "astype"]),
    (lambda: StepLR(SGD(P), step_size=0), ValueError, ["step_size must be a positive integer"]),
    (lambda: StepLR(SGD(P), step_size=2, gamma=-1), ValueError, ["gamma must be >= 0"]),
    (lambda: ExponentialLR(SGD(P), gamma=float("inf")), ValueError, ["gamma must be >= 0"]),
    (lambda: CosineAnnealingLR(SGD(P), T_max=2.5), ValueError, ["T_max must be a positive"]),
    (lambda: CosineAnnealingLR(SGD(P), T_max=3, eta_min=-1), ValueError, ["eta_min must be"]),
    (lambda: StepLR(object(), step_size=1), TypeError, ["an 'lr' attribute"]),
    (lambda: ReduceLROnPlateau(SGD(P), mode="up"), ValueError, ["mode must be 'min' or 'max'"]),
    (lambda: ReduceLROnPlateau(SGD(P), factor=1.0), ValueError, ["factor must be < 1"]),
    (
        lambda: ReduceLROnPlateau(SGD(P), patience=-1),
        ValueError,
        ["patience must be a non-negative integer, got -1"],
    ),
    (lambda: ReduceLROnPlateau(SGD(P), threshold_mode="x"), ValueError, ["threshold_mode"]),
    (lambda: ReduceLROnPlateau(SGD(P), min_lr=-1), ValueError, ["min_lr must be >= 0"]),
]


@pytest.mark.parametrize(("build", "error", "fragments"), BAD_ARGUMENTS)
def test_bad_arguments_raise_clear_errors(build, error, fragments):
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_custom_optimizer_subclass():
    class SignSGD(Optimizer):
        """θ ← θ − γ sign(g) · scale."""

        name = "signsgd"
        _hyperparameters = ("scale",)
        _buffers = ()

        def __init__(self, parameters, lr=0.1, scale=1.0):
            super().__init__(parameters, lr)
            self.scale = scale

        def step(self):
            self.step_count += 1
            for p in self.parameters:
                p.value -= self.lr * self.scale * np.sign(p.grad)

    params = [Parameter(np.array([1.0, -2.0, 0.5]))]
    params[0].grad = np.array([3.0, -0.1, 0.0])
    opt = get_optimizer(SignSGD, params, lr=0.25, scale=2.0)
    opt.step()
    np.testing.assert_array_equal(params[0].value, [0.5, -1.5, 0.5])
    state = opt.state_dict()
    assert state == {"step": 1, "lr": 0.25, "scale": 2.0}
    other = SignSGD([Parameter(np.zeros(3))], lr=1.0)
    other.load_state_dict(state)
    assert (other.lr, other.scale, other.step_count) == (0.25, 2.0, 1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        SignSGD(params, lr=-1)

"""The whole training loop against PyTorch: chainrule's own backward feeding its own
optimizers, 20 steps, every parameter compared (float64, relative 1e-8)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
nn = torch.nn

CASES = [
    ("sgd", {"lr": 0.1}, None),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}, None),
    (
        "sgd",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        ("step", {"step_size": 2, "gamma": 0.5}),
    ),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 1e-3}, None),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}, None),
    ("rmsprop", {"lr": 0.01, "weight_decay": 1e-2}, ("exponential", {"gamma": 0.9})),
    ("adam", {"lr": 0.01}, ("cosine", {"T_max": 5})),
    ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 1e-2}, None),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, None),
    ("adamw", {"lr": 0.01, "amsgrad": True}, ("plateau", {"patience": 0, "factor": 0.5})),
]

CR_OPT = {
    "sgd": cr.SGD,
    "adagrad": cr.Adagrad,
    "rmsprop": cr.RMSprop,
    "adam": cr.Adam,
    "adamw": cr.AdamW,
}
TORCH_OPT = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
CR_SCHED = {
    "step": cr.StepLR,
    "exponential": cr.ExponentialLR,
    "cosine": cr.CosineAnnealingLR,
    "plateau": cr.ReduceLROnPlateau,
}
TORCH_SCHED = {
    "step": torch.optim.lr_scheduler.StepLR,
    "exponential": torch.optim.lr_scheduler.ExponentialLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
    "plateau": torch.optim.lr_scheduler.ReduceLROnPlateau,
}


def _pair(seed: int):
    net = cr.Sequential(
        cr.Dense(6, 10, activation="tanh"),
        cr.BatchNorm(10),
        cr.Dense(10, 8, activation="gelu"),
        cr.Dense(8, 4),
        seed=seed,
        dtype=np.float64,
    )
    model = nn.Sequential(
        nn.Linear(6, 10),
        nn.Tanh(),
        nn.BatchNorm1d(10),
        nn.Linear(10, 8),
        nn.GELU(),
        nn.Linear(8, 4),
    ).double()
    with torch.no_grad():
        for ours, theirs in ((net[0], model[0]), (net[2], model[3]), (net[3], model[5])):
            theirs.weight.copy_(torch.from_numpy(ours.weight.value.T.copy()))
            theirs.bias.copy_(torch.from_numpy(ours.bias.value.copy()))
    return net, model


def _torch_params(model):
    # chainrule's order: weight (in, out) then bias, layer by layer
    out = []
    for m in model:
        if isinstance(m, nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        elif isinstance(m, nn.BatchNorm1d):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy()]
    return out


@pytest.mark.parametrize(("opt_name", "kwargs", "sched"), CASES)
def test_fit_matches_a_torch_training_loop(opt_name, kwargs, sched):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    y = rng.integers(0, 4, 40)
    net, model = _pair(seed=1)
    opt = CR_OPT[opt_name](net.parameters(), **kwargs)
    topt = TORCH_OPT[opt_name](model.parameters(), **kwargs)
    schedule = tsched = None
    if sched is not None:
        schedule = CR_SCHED[sched[0]](opt, **sched[1])
        tsched = TORCH_SCHED[sched[0]](topt, **sched[1])

    # 5 epochs of 4 batches of 10 rows = 20 steps, no shuffling so both see the same batches
    history = net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=5,
        batch_size=10,
        shuffle=False,
        schedule=schedule,
    )

    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    torch_losses = []
    for _ in range(5):
        total = 0.0
        for start in range(0, 40, 10):
            topt.zero_grad()
            loss = loss_fn(model(tX[start : start + 10]), ty[start : start + 10])
            loss.backward()
            topt.step()
            total += loss.item() * 10
        torch_losses.append(total / 40)
        if tsched is not None:
            tsched.step(torch_losses[-1]) if sched[0] == "plateau" else tsched.step()

    np.testing.assert_allclose(history["loss"], torch_losses, rtol=1e-10)
    assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    for ours, theirs in zip(net.parameters(), _torch_params(model)):
        np.testing.assert_allclose(ours.value, theirs, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(net[1].running_mean, model[2].running_mean.numpy(), rtol=1e-8)
    np.testing.assert_allclose(net[1].running_var, model[2].running_var.numpy(), rtol=1e-8)


def test_clipping_in_fit_matches_torch():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 6)) * 5, rng.integers(0, 4, 40)
    net, model = _pair(seed=2)
    opt = cr.SGD(net.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=5,
        batch_size=10,
        shuffle=False,
        clip_norm=0.5,
    )
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(5):
        for start in range(0, 40, 10):
            topt.zero_grad()
            nn.CrossEntropyLoss()(model(tX[start : start + 10]), ty[start : start + 10]).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            topt.step()
    for ours, theirs in zip(net.parameters(), _torch_params(model)):
        np.testing.assert_allclose(ours.value, theirs, rtol=1e-8, atol=1e-12)

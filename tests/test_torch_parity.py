"""Whole networks against PyTorch in float64: outputs, losses, every parameter
gradient and dL/dX, for random architectures, BatchNorm, Dropout and
stand-alone activation layers, plus the overwrite/accumulate gradient semantic."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

RTOL = 1e-10

# activations torch has, by a name local to these tests
ACTS = {
    "identity": lambda: cr.Identity(),
    "sigmoid": lambda: cr.Sigmoid(),
    "tanh": lambda: cr.Tanh(),
    "relu": lambda: cr.ReLU(),
    "leaky_relu": lambda: cr.LeakyReLU(0.1),
    "elu": lambda: cr.ELU(0.7),
    "selu": lambda: cr.SELU(),
    "softplus": lambda: cr.Softplus(beta=1.5),
    "gelu": lambda: cr.GELU(),
    "gelu_tanh": lambda: cr.GELU(approximate="tanh"),
    "silu": lambda: cr.SiLU(),
    "mish": lambda: cr.Mish(),
    "softmax": lambda: cr.Softmax(),
}


class _Softplus(nn.Module):  # torch's softplus has no threshold-free form
    def __init__(self, beta):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return torch.logaddexp(torch.zeros_like(x), self.beta * x) / self.beta


class _Mask(nn.Module):
    """Dropout with our mask: reads ``layer.mask`` of the chainrule Dropout at call time."""

    def __init__(self, layer: cr.Dropout):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        mask = self.layer.mask
        return x if mask is None else x * torch.from_numpy(mask)


def torch_activation(act: cr.Activation) -> nn.Module:
    if isinstance(act, cr.Identity):
        return nn.Identity()
    if isinstance(act, cr.Sigmoid):
        return nn.Sigmoid()
    if isinstance(act, cr.Tanh):
        return nn.Tanh()
    if isinstance(act, cr.ReLU):
        return nn.ReLU()
    if isinstance(act, cr.LeakyReLU):
        return nn.LeakyReLU(act.negative_slope)
    if isinstance(act, cr.ELU):
        return nn.ELU(act.alpha)
    if isinstance(act, cr.SELU):
        return nn.SELU()
    if isinstance(act, cr.Softplus):
        if act.threshold is None:
            return _Softplus(act.beta)
        return nn.Softplus(beta=act.beta, threshold=act.threshold)
    if isinstance(act, cr.GELU):
        return nn.GELU(approximate=act.approximate)
    if isinstance(act, cr.SiLU):
        return nn.SiLU()
    if isinstance(act, cr.Mish):
        return nn.Mish()
    if isinstance(act, cr.Softmax):
        return nn.Softmax(dim=-1)
    raise AssertionError(f"no torch equivalent for {act!r}")


def to_torch(net: cr.Sequential) -> nn.Sequential:
    """The same network in torch (float64), sharing values but not memory.

    ``model.pairs`` lists (chainrule layer, torch module) for the layers with
    parameters, to compare gradients.
    """
    modules, pairs = [], []
    for layer in net.layers:
        if isinstance(layer, cr.Dense):
            lin = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight.value.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.bias.value.copy()))
            modules.append(lin)
            pairs.append((layer, lin))
            if layer.activation is not None:
                modules.append(torch_activation(layer.activation))
        elif isinstance(layer, cr.BatchNorm):
            bn = nn.BatchNorm1d(
                layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=torch.float64
            )
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(layer.weight.value.copy()))
                bn.bias.copy_(torch.from_numpy(layer.bias.value.copy()))
                bn.running_mean.copy_(torch.from_numpy(layer.running_mean.copy()))
                bn.running_var.copy_(torch.from_numpy(layer.running_var.copy()))
            modules.append(bn)
            pairs.append((layer, bn))
        elif isinstance(layer, cr.Dropout):
            modules.append(_Mask(layer))
        elif isinstance(layer, cr.Activation):
            modules.append(torch_activation(layer))
        else:
            raise AssertionError(f"no torch equivalent for {layer!r}")
    model = nn.Sequential(*modules)
    model.pairs = pairs
    return model


def torch_grads(model) -> list[np.ndarray]:
    """Gradients in our layout (weights as (in, out)), in ``net.parameters()`` order."""
    out = []
    for _, module in model.pairs:
        w = module.weight.grad.numpy()
        out.append(w.T if isinstance(module, nn.Linear) else w)
        out.append(module.bias.grad.numpy())
    return out


ERRORS: dict[str, float] = {}  # worst normwise relative error seen, by quantity


def _np(a) -> np.ndarray:
    return np.asarray(a.detach().numpy() if hasattr(a, "detach") else a, dtype=np.float64)


def check(ours, ref, what: str, scale: float | None = None) -> None:
    """Elementwise rel 1e-10, with a floor of 1e-12 of ``scale`` (default: the largest
    entry of ``ref``) for entries that are sums cancelling to about zero."""
    ours, ref = _np(ours), _np(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    if scale is None:
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if scale:
        key = what.split("[")[0].split(" ")[0]
        ERRORS[key] = max(ERRORS.get(key, 0.0), float(np.max(np.abs(ours - ref))) / scale)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=1e-12 * scale + 1e-300, err_msg=what)


def check_grads(net, model, x_grad_ours, xt, upstream=None) -> None:
    """Every parameter gradient and dL/dX.

    Some entries are 0 in exact arithmetic (a Dense bias or a BatchNorm beta
    followed by a training-mode BatchNorm) and some are tiny because a tanh or
    sigmoid saturates (1 - a^2 is then known to an absolute, not relative,
    eps), so the floor is 1e-12 of the largest gradient entry in the whole
    network, the upstream gradient dL/d(output) included.
    """
    refs = torch_grads(model)
    arrays = [*refs, _np(xt.grad)] + ([] if upstream is None else [_np(upstream)])
    scale = max(float(np.max(np.abs(r))) for r in arrays)
    for p, g in zip(net.parameters(), refs):
        check(p.grad, g, f"grad {p.name}", scale)
    check(x_grad_ours, xt.grad, "dL/dX", scale)


# -- losses --------------------------------------------------------------------------------------


def _hinge_binary(out, y):
    return torch.clamp(1 - y * out, min=0).mean()


# name: (our loss, n_outputs ("any", 1 or "multi"), target maker, torch loss)
LOSSES = {
    "mse": (cr.MSE, "any", "regression", lambda o, y: F.mse_loss(o, y)),
    "mae": (cr.MAE, "any", "regression", lambda o, y: F.l1_loss(o, y)),
    "huber": (
        lambda: cr.Huber(0.7),
        "any",
        "regression",
        lambda o, y: F.huber_loss(o, y, delta=0.7),
    ),
    "binary_cross_entropy": (
        cr.BinaryCrossEntropy,
        1,
        "binary01",
        lambda o, y: F.binary_cross_entropy_with_logits(o, y),
    ),
    "hinge_binary": (cr.Hinge, 1, "binary_pm1", _hinge_binary),
    "cross_entropy": (cr.CrossEntropy, "multi", "labels", lambda o, y: F.cross_entropy(o, y)),
    "hinge_multiclass": (cr.Hinge, "multi", "labels", lambda o, y: F.multi_margin_loss(o, y)),
}


def make_target(kind: str, rng, n: int, k: int):
    """(our target, torch target)."""
    if kind == "regression":
        y = rng.normal(size=(n, k))
        return y, torch.from_numpy(y.copy())
    if kind == "binary01":
        y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
        return y, torch.from_numpy(y.copy())
    if kind == "binary_pm1":
        y = rng.choice([-1.0, 1.0], size=(n, 1))
        return y, torch.from_numpy(y.copy())
    labels = rng.integers(0, k, size=n)
    return labels, torch.from_numpy(labels.astype(np.int64))


# -- random networks -----------------------------------------------------------------------------


def random_net(rng, act_name: str, n_out: int, seed: int) -> cr.Sequential:
    """1-4 Dense layers of widths 1..12; one of them (at random) has ``act_name``,
    the others a random torch-equivalent activation or none."""
    depth = int(rng.integers(1, 5))
    widths = [int(w) for w in rng.integers(1, 13, size=depth)] + [n_out]
    where = int(rng.integers(depth))
    layers = []
    for i in range(depth):
        if i == where:
            act = ACTS[act_name]()
        else:
            choice = rng.choice([*ACTS, "none"])
            act = None if choice == "none" else ACTS[str(choice)]()
        layers.append(cr.Dense(widths[i], widths[i + 1], activation=act))
    return cr.Sequential(*layers, dtype=np.float64, seed=seed)


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def run_both(net, model, X, loss_name, rng):
    """Forward, loss and backward in both libraries; compare everything."""
    make_loss, _, kind, torch_loss = LOSSES[loss_name]
    out = net.forward(X)
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    out_t = model(xt)
    check(out, out_t, "output")
    y, yt = make_target(kind, rng, X.shape[0], out.shape[1])
    loss = make_loss()
    value = loss.forward(out, y)
    lt = torch_loss(out_t, yt)
    check(value, lt, f"loss[{loss_name}]")
    upstream = loss.backward()
    dX = net.backward(upstream)
    lt.backward()
    check_grads(net, model, dX, xt, upstream)


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("act_name", list(ACTS))
def test_random_dense_networks_match_torch(act_name, case):
    for loss_name, (_, n_out, _, _) in LOSSES.items():
        rng = _rng(act_name, case, loss_name)
        if n_out == "any":
            n_out = int(rng.integers(1, 13))
        elif n_out == "multi":
            n_out = int(rng.integers(2, 13))
        net = random_net(rng, act_name, n_out, seed=int(rng.integers(2**31)))
        assert all(p.value.dtype == np.float64 for p in net.parameters())
        model = to_torch(net)
        n_in = net.layers[0].in_features
        X = rng.normal(0, 1.5, size=(int(rng.integers(2, 17)), n_in))
        run_both(net, model, X, loss_name, rng)


def test_every_torch_activation_is_exercised():
    from chainrule.activations import ACTIVATIONS

    classes = {type(f()) for f in ACTS.values()}
    assert {cls for name, cls in ACTIVATIONS.items() if name != "step"} <= classes


@pytest.mark.parametrize("act_name", list(ACTS))
def test_standalone_activation_layers_match_torch(act_name):
    rng = _rng("standalone", act_name)
    net = cr.Sequential(
        cr.Dense(5, 7, activation=None),
        ACTS[act_name](),
        cr.Dense(7, 4),
        ACTS[act_name](),
        cr.Dense(4, 3),
        dtype=np.float64,
        seed=11,
    )
    model = to_torch(net)
    X = rng.normal(0, 2, size=(9, 5))
    for loss_name in ("mse", "cross_entropy"):
        run_both(net, model, X, loss_name, rng)
        model.zero_grad()


# -- BatchNorm ------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [False, True], ids=["after_dense", "first_layer"])
@pytest.mark.parametrize("act_name", ["tanh", "relu", "gelu"])
def test_batchnorm_train_and_eval_match_torch(act_name, first):
    rng = _rng("bn", act_name, first)
    layers = [cr.BatchNorm(6)] if first else []
    layers += [
        cr.Dense(6, 8),
        cr.BatchNorm(8, momentum=0.2, eps=1e-3),
        ACTS[act_name](),
        cr.Dense(8, 3),
    ]
    net = cr.Sequential(*layers, dtype=np.float64, seed=5)
    bns = [layer for layer in net.layers if isinstance(layer, cr.BatchNorm)]
    assert all(b.running_mean.dtype == np.float64 for b in bns)
    # give gamma and beta non-trivial values so their gradients are tested
    for b in bns:
        b.weight.value[...] = rng.uniform(0.5, 1.5, size=b.weight.shape)
        b.bias.value[...] = rng.normal(size=b.bias.shape)
    model = to_torch(net)
    net.train()
    model.train()
    for _ in range(4):
        X = rng.normal(3.0, 2.0, size=(10, 6))
        run_both(net, model, X, "cross_entropy", rng)
        model.zero_grad()
    torch_bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    for ours, theirs in zip(bns, torch_bns):
        check(ours.running_mean, theirs.running_mean, "running_mean")
        check(ours.running_var, theirs.running_var, "running_var")
    net.eval()
    model.eval()
    for _ in range(2):
        X = rng.normal(3.0, 2.0, size=(7, 6))
        run_both(net, model, X, "mse", rng)
        model.zero_grad()
    # eval mode leaves the running statistics alone (as in torch)
    for ours, theirs in zip(bns, torch_bns):
        check(ours.running_mean, theirs.running_mean, "running_mean")
        check(ours.running_var, theirs.running_var, "running_var")


# -- Dropout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_with_shared_mask_matches_torch(p):
    rng = _rng("dropout", p)
    drop = cr.Dropout(p)
    net = cr.Sequential(
        cr.Dense(6, 12, activation="relu"),
        drop,
        cr.Dense(12, 5, activation="tanh"),
        cr.Dropout(p),
        cr.Dense(5, 3),
        dtype=np.float64,
        seed=2,
    )
    model = to_torch(net)
    net.train()
    for _ in range(3):
        X = rng.normal(size=(16, 6))
        run_both(net, model, X, "cross_entropy", rng)
        model.zero_grad()
        if p > 0:
            assert drop.mask is not None and drop.mask.shape == (16, 12)
            assert drop.mask.dtype == np.float64
    net.eval()
    X = rng.normal(size=(16, 6))
    run_both(net, model, X, "mse", rng)
    assert drop.mask is None


# -- gradient semantics: overwrite by default, accumulate on request -----------------------------


def test_backward_overwrites_and_accumulate_adds_like_torch():
    rng = _rng("accumulate")
    net = cr.Sequential(
        cr.Dense(4, 6, activation="tanh"),
        cr.Dense(6, 3, activation="sigmoid"),
        dtype=np.float64,
        seed=9,
    )
    model = to_torch(net)
    X = rng.normal(size=(5, 4))
    g = rng.normal(size=(5, 3))
    g_copy = g.copy()
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    out_t = model(xt)
    out = net.forward(X)
    check(out, out_t, "output")

    # one torch backward = reference gradient
    out_t.backward(torch.from_numpy(g.copy()), retain_graph=True)
    once = [t.copy() for t in torch_grads(model)]

    dx1 = net.backward(g)
    first = [p.grad.copy() for p in net.parameters()]
    dx2 = net.backward(g)  # overwrite: the same gradient again, not twice it
    np.testing.assert_array_equal(g, g_copy, err_msg="backward must not modify its argument")
    for p, a, ref in zip(net.parameters(), first, once):
        np.testing.assert_array_equal(p.grad, a)
        check(p.grad, ref, f"grad {p.name}")
    np.testing.assert_array_equal(dx1, dx2)
    check(dx1, xt.grad, "dL/dX")

    # torch accumulates: a second backward gives twice the gradient
    out_t.backward(torch.from_numpy(g.copy()))
    twice = torch_grads(model)
    net.backward(g, accumulate=True)
    for p, ref, single in zip(net.parameters(), twice, once):
        check(p.grad, ref, f"accumulated {p.name}")
        check(p.grad, 2 * single, f"accumulated {p.name}")

    # zero_grad then accumulate == one gradient
    net.zero_grad()
    assert all(not p.grad.any() for p in net.parameters())
    net.backward(g, accumulate=True)
    for p, ref in zip(net.parameters(), once):
        check(p.grad, ref, f"after zero_grad {p.name}")


def test_forward_does_not_modify_input():
    X = np.random.default_rng(0).normal(size=(4, 3))
    X_copy = X.copy()
    for act in ACTS:
        net = cr.Sequential(cr.Dense(3, 3, activation=ACTS[act]()), ACTS[act](), dtype=np.float64)
        out = net.forward(X)
        net.backward(np.ones_like(out))
        np.testing.assert_array_equal(X, X_copy, err_msg=act)


def test_worst_errors_seen_are_small():
    """Runs last in this file: the worst normwise relative errors against torch."""
    if not ERRORS:
        pytest.skip("run with the rest of the file")
    worst = max(ERRORS.values())
    print("\nworst normwise relative error vs torch:", {k: f"{v:.1e}" for k, v in ERRORS.items()})
    assert worst < RTOL

"""Graph networks against PyTorch autograd in float64.

Random directed acyclic graphs (1-3 inputs, Dense with every activation, Add,
Multiply, Concatenate, Embedding, shared layers, 1-2 outputs, every loss) are
rebuilt here with plain torch operations, node by node from each node's parents,
and compared: outputs, the weighted loss, every parameter gradient and dL/dX to
relative 1e-10; 20 optimizer steps against torch.optim to 1e-8; and save/load.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional

N_GRAPHS = 48
RTOL = 1e-10
WORST: dict[str, float] = {}  # worst normwise relative error seen, by quantity

# every differentiable activation: (chainrule activation, the same function in torch)
ACTIVATIONS = {
    "identity": (lambda: cr.Identity(), lambda z: z),
    "sigmoid": (lambda: cr.Sigmoid(), torch.sigmoid),
    "tanh": (lambda: cr.Tanh(), torch.tanh),
    "relu": (lambda: cr.ReLU(), torch.relu),
    "leaky_relu": (lambda: cr.LeakyReLU(0.1), lambda z: F.leaky_relu(z, 0.1)),
    "elu": (lambda: cr.ELU(0.7), lambda z: F.elu(z, 0.7)),
    "selu": (lambda: cr.SELU(), F.selu),
    "softplus": (lambda: cr.Softplus(beta=1.5), lambda z: F.softplus(z, 1.5, 20.0)),
    "gelu": (lambda: cr.GELU(), F.gelu),
    "gelu_tanh": (lambda: cr.GELU(approximate="tanh"), lambda z: F.gelu(z, approximate="tanh")),
    "silu": (lambda: cr.SiLU(), F.silu),
    "mish": (lambda: cr.Mish(), F.mish),
    "softmax": (lambda: cr.Softmax(), lambda z: torch.softmax(z, dim=1)),
}
TORCH_ACT = {
    cr.Identity: "identity",
    cr.Sigmoid: "sigmoid",
    cr.Tanh: "tanh",
    cr.ReLU: "relu",
    cr.LeakyReLU: "leaky_relu",
    cr.ELU: "elu",
    cr.SELU: "selu",
    cr.Softplus: "softplus",
    cr.SiLU: "silu",
    cr.Mish: "mish",
    cr.Softmax: "softmax",
}


def torch_act(act):
    if isinstance(act, cr.GELU):
        return ACTIVATIONS["gelu_tanh" if act.approximate == "tanh" else "gelu"][1]
    return ACTIVATIONS[TORCH_ACT[type(act)]][1]


def _hinge_multi(o, y):
    return F.multi_margin_loss(o, y)


# every loss: (chainrule loss, output width rule, target kind, torch loss)
LOSSES = {
    "mse": (cr.MSE, "any", "values", F.mse_loss),
    "mae": (cr.MAE, "any", "values", F.l1_loss),
    "huber": (lambda: cr.Huber(0.7), "any", "values", lambda o, y: F.huber_loss(o, y, delta=0.7)),
    "binary_cross_entropy": (
        cr.BinaryCrossEntropy,
        1,
        "binary",
        F.binary_cross_entropy_with_logits,
    ),
    "hinge": (cr.Hinge, 1, "pm1", lambda o, y: torch.clamp(1 - y * o, min=0).mean()),
    "cross_entropy": (cr.CrossEntropy, "multi", "labels", F.cross_entropy),
    "hinge_multiclass": (cr.Hinge, "multi", "labels", _hinge_multi),
}


# -- random graphs ----------------------------------------------------------------------------
class Graph:
    """A random graph network with its data, targets and losses."""

    def __init__(self, case: int) -> None:
        rng = np.random.default_rng(1000 + case)
        self.case = case
        act_names = list(ACTIVATIONS)
        k_act = [case * 3]

        def act():
            name = act_names[k_act[0] % len(act_names)]
            k_act[0] += 1
            return ACTIVATIONS[name][0]() if rng.random() < 0.85 else None

        n = int(rng.integers(4, 9))
        self.inputs, self.data, pool = [], {}, []
        for i in range(1 + case % 3):
            if i > 0 and rng.random() < 0.5 or (case % 7 == 3 and i == 0):
                k = int(rng.integers(3, 8))
                x = cr.Input(1, name=f"codes{i}")
                codes = rng.integers(0, k, size=n)
                self.data[x.name] = codes if rng.random() < 0.5 else codes.reshape(-1, 1)
                pool.append(cr.Embedding(k, int(rng.integers(1, 5)))(x))
            else:
                x = cr.Input(int(rng.integers(1, 6)), name=f"x{i}")
                self.data[x.name] = rng.normal(size=(n, x.n_features))
                pool.append(x)
            self.inputs.append(x)
        used: set[int] = set()

        def pick():
            node = pool[int(rng.integers(len(pool)))]
            used.add(id(node))
            return node

        # each graph has a shared layer and a merge; the rest at random
        ops = ["shared", ["add", "multiply", "concatenate"][case % 3]]
        ops += [
            str(o)
            for o in rng.choice(
                ["dense", "add", "multiply", "concatenate", "shared", "activation"],
                size=int(rng.integers(1, 5)),
            )
        ]
        rng.shuffle(ops)
        for op in ops:
            if op == "dense":
                src = pick()
                pool.append(
                    cr.Dense(src.n_features, int(rng.integers(1, 7)), activation=act())(src)
                )
            elif op == "activation":
                src = pick()
                a = act() or cr.Tanh()
                pool.append(a(src))
            elif op in ("add", "multiply"):
                a, b = pick(), pick()
                b = cr.Dense(b.n_features, a.n_features, activation=act())(b)
                merge = cr.Add() if op == "add" else cr.Multiply()
                pool.append(merge(a, b) if rng.random() < 0.8 else merge(a, b, a))
            elif op == "concatenate":
                a, b = pick(), pick()
                pool.append(cr.Concatenate()(a, b))
            else:  # one layer, two uses: on a node and on its own output (or another node)
                src = pick()
                layer = cr.Dense(src.n_features, src.n_features, activation=act())
                h = layer(src)
                others = [p for p in pool if p.n_features == src.n_features and p is not src]
                if others and rng.random() < 0.5:
                    other = others[int(rng.integers(len(others)))]
                    used.add(id(other))
                    second = layer(other)
                else:
                    second = layer(h)
                if second.inputs[0] is not h:
                    pool.append(h)
                pool.append(second)
        leaves = [p for p in pool if id(p) not in used]
        top = leaves[0] if len(leaves) == 1 else cr.Concatenate()(*leaves)
        loss_names = list(LOSSES)
        self.loss_names = [loss_names[case % len(loss_names)]]
        heads = [top]
        if case % 2:
            self.loss_names.append(loss_names[(case * 5 + 2) % len(loss_names)])
            heads.append(pool[int(rng.integers(len(pool)))])
        outputs = []
        for head, name in zip(heads, self.loss_names):
            rule = LOSSES[name][1]
            width = (
                1
                if rule == 1
                else int(rng.integers(2, 5))
                if rule == "multi"
                else int(rng.integers(1, 4))
            )
            outputs.append(
                cr.Dense(head.n_features, width, activation=act() if rule == "any" else None)(head)
            )
        self.net = cr.Network(
            self.inputs if len(self.inputs) > 1 else self.inputs[0],
            outputs if len(outputs) > 1 else outputs[0],
            seed=case,
            dtype=np.float64,
        )
        self.weights = [float(w) for w in rng.uniform(0.3, 2.0, size=len(outputs))]
        self.targets = [
            self._target(rng, name, o.n_features, n) for name, o in zip(self.loss_names, outputs)
        ]

    @staticmethod
    def _target(rng, name, width, n):
        kind = LOSSES[name][2]
        if kind == "values":
            return rng.normal(size=(n, width))
        if kind == "binary":
            return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
        if kind == "pm1":
            return rng.choice([-1.0, 1.0], size=(n, 1))
        return rng.integers(0, width, size=n)

    def X(self):
        if len(self.inputs) == 1:
            return self.data[self.inputs[0].name]
        if self.case % 2:
            return dict(self.data)
        return [self.data[x.name] for x in self.inputs]

    def cr_losses(self):
        return [LOSSES[name][0]() for name in self.loss_names]

    # -- the same graph in torch, built from each node's parents --------------------------
    def torch_params(self):
        """One torch leaf tensor per chainrule parameter (a shared layer's: the same ones)."""
        return {
            id(p): torch.tensor(p.value.copy(), requires_grad=True) for p in self.net.parameters()
        }

    def torch_forward(self, params, inputs):
        memo = {}

        def value(node):
            if id(node) in memo:
                return memo[id(node)]
            layer = node.layer
            if layer is None:
                out = inputs[node.name]
            else:
                args = [value(p) for p in node.inputs]
                if isinstance(layer, cr.Dense):
                    out = args[0] @ params[id(layer.weight)] + params[id(layer.bias)]
                    if layer.activation is not None:
                        out = torch_act(layer.activation)(out)
                elif isinstance(layer, cr.Embedding):
                    out = params[id(layer.weight)][args[0].reshape(-1)]
                elif isinstance(layer, cr.Add):
                    out = args[0]
                    for a in args[1:]:
                        out = out + a
                elif isinstance(layer, cr.Multiply):
                    out = args[0]
                    for a in args[1:]:
                        out = out * a
                elif isinstance(layer, cr.Concatenate):
                    out = torch.cat(args, dim=1)
                elif isinstance(layer, cr.Activation):
                    out = torch_act(layer)(args[0])
                else:
                    raise AssertionError(f"no torch op for {layer!r}")
            memo[id(node)] = out
            return out

        return [value(o) for o in self.net.outputs]

    def torch_inputs(self):
        out = {}
        for name, a in self.data.items():
            if a.dtype.kind == "f":
                out[name] = torch.tensor(a.copy(), requires_grad=True)
            else:
                out[name] = torch.from_numpy(a.astype(np.int64))
        return out

    def torch_loss(self, outs):
        total = 0
        for w, name, o, t in zip(self.weights, self.loss_names, outs, self.targets):
            t = torch.from_numpy(t.astype(np.int64) if t.dtype.kind == "i" else t.copy())
            if LOSSES[name][2] == "labels":
                t = t.reshape(-1)
            total = total + w * LOSSES[name][3](o, t)
        return total


GRAPHS = {}


def graph(case: int) -> Graph:
    if case not in GRAPHS:
        GRAPHS[case] = Graph(case)
    return GRAPHS[case]


def record(what: str, ours, ref, rtol: float) -> None:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, what
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(ours - ref))) / scale if scale else float(np.max(np.abs(ours)))
    WORST[what] = max(WORST.get(what, 0.0), err)
    assert err < rtol, f"{what}: normwise relative error {err:.2e}"


def _np(t):
    return t.detach().numpy()


# -- the tests ----------------------------------------------------------------------------------
def test_the_random_graphs_cover_the_contract():
    kinds, acts, losses, shared, n_inputs, n_outputs = set(), set(), set(), 0, set(), set()
    for case in range(N_GRAPHS):
        g = graph(case)
        n_inputs.add(len(g.inputs))
        n_outputs.add(len(g.net.outputs))
        losses.update(g.loss_names)
        uses = {}
        for node in g.net.nodes:
            if node.layer is not None:
                kinds.add(type(node.layer).__name__)
                uses[id(node.layer)] = uses.get(id(node.layer), 0) + 1
                act = getattr(node.layer, "activation", node.layer)
                if isinstance(act, cr.Activation):
                    acts.add(type(act).__name__ + getattr(act, "approximate", ""))
        shared += any(u > 1 for u in uses.values())
    assert {"Dense", "Add", "Multiply", "Concatenate", "Embedding"} <= kinds
    assert len(acts) == len(ACTIVATIONS), acts  # every activation, both GELUs
    assert losses == set(LOSSES)
    assert shared == N_GRAPHS and n_inputs == {1, 2, 3} and n_outputs == {1, 2}


@pytest.mark.parametrize("case", range(N_GRAPHS))
def test_graph_matches_torch_autograd(case):
    g = graph(case)
    net = g.net
    outs = net(g.X())
    outs = outs if isinstance(outs, list) else [outs]
    params = g.torch_params()
    tin = g.torch_inputs()
    touts = g.torch_forward(params, tin)
    for o, t in zip(outs, touts):
        record("outputs", o, _np(t), RTOL)
    losses = g.cr_losses()
    value = sum(w * item.forward(o, t) for w, item, o, t in zip(g.weights, losses, outs, g.targets))
    grads = [w * item.backward() for w, item in zip(g.weights, losses)]
    dX = net.backward(grads if len(grads) > 1 else grads[0])
    dX = dX if isinstance(dX, list) else [dX]
    tl = g.torch_loss(touts)
    record("loss", value, float(tl.detach()), RTOL)
    tl.backward()
    # one floor for the whole graph: saturated units make some entries tiny in absolute terms
    scale = max(float(np.max(np.abs(_np(t.grad)))) for t in params.values())
    for p in net.parameters():
        ref = _np(params[id(p)].grad)
        err = float(np.max(np.abs(p.grad - ref))) / scale
        WORST["parameter gradients"] = max(WORST.get("parameter gradients", 0.0), err)
        assert err < RTOL, f"grad {p.name}: {err:.2e}"
    for x, d in zip(g.inputs, dX):
        if x.name.startswith("codes"):
            assert d is None  # integer codes: no gradient
        else:
            record("dL/dX", d, _np(tin[x.name].grad), RTOL)


OPTIMIZERS = [
    (
        lambda ps: cr.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    ),
    (lambda ps: cr.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    (
        lambda ps: cr.AdamW(ps, lr=0.01, amsgrad=True),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, amsgrad=True),
    ),
    (
        lambda ps: cr.RMSprop(ps, lr=0.005, centered=True),
        lambda ps: torch.optim.RMSprop(ps, lr=0.005, centered=True),
    ),
    (lambda ps: cr.Adagrad(ps, lr=0.05), lambda ps: torch.optim.Adagrad(ps, lr=0.05)),
]


@pytest.mark.parametrize("case", range(0, N_GRAPHS, 4))
def test_twenty_optimizer_steps_match_torch_optim(case):
    g = Graph(case)  # a fresh copy: this test changes the weights
    net = g.net
    make_ours, make_torch = OPTIMIZERS[(case // 4) % len(OPTIMIZERS)]
    params = g.torch_params()
    opt = make_ours(net.parameters())
    topt = make_torch(list(params.values()))
    tin = g.torch_inputs()
    for _ in range(20):
        outs = net(g.X())
        outs = outs if isinstance(outs, list) else [outs]
        losses = g.cr_losses()
        for item, o, t in zip(losses, outs, g.targets):
            item.forward(o, t)
        grads = [w * item.backward() for w, item in zip(g.weights, losses)]
        net.backward(grads if len(grads) > 1 else grads[0])
        opt.step()
        topt.zero_grad()
        g.torch_loss(g.torch_forward(params, tin)).backward()
        topt.step()
    for p in net.parameters():
        record("after 20 optimizer steps", p.value, _np(params[id(p)]), 1e-8)


@pytest.mark.parametrize("case", range(0, N_GRAPHS, 3))
def test_save_and_load_give_bit_identical_outputs(case, tmp_path):
    g = graph(case)
    g.net.save(tmp_path / "g.safetensors")
    loaded = cr.load(tmp_path / "g.safetensors")
    ours, theirs = g.net(g.X()), loaded(g.X())
    ours, theirs = (ours, theirs) if isinstance(ours, list) else ([ours], [theirs])
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert loaded.input_names == g.net.input_names
    assert loaded.output_names == g.net.output_names
    assert [n.name for n in loaded.nodes] == [n.name for n in g.net.nodes]
    assert len(loaded.parameters()) == len(g.net.parameters())


def test_worst_errors_seen_are_small():
    """Runs last in this file: the worst normwise relative errors against torch."""
    if not WORST:
        pytest.skip("run with the rest of the file")
    print("\nworst normwise relative error vs torch:", {k: f"{v:.1e}" for k, v in WORST.items()})
    assert WORST["outputs"] < RTOL and WORST["parameter gradients"] < RTOL

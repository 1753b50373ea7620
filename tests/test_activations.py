"""Activations against independent references.

* derivatives (the vjp with a random upstream gradient) against central finite
  differences of the forward function, over hypothesis inputs with edge values;
* forward values (and, as a second reference, autograd derivatives) against
  ``torch.nn.functional`` in float64;
* numerical robustness at |z| = 1000 and softmax at logits of 1e4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.activations import ACTIVATIONS

torch = pytest.importorskip("torch")
F = torch.nn.functional

EPS = float(np.finfo(np.float64).eps)
EDGES = (0.0, 1e-8, -1e-8, 1.0, -1.0, 30.0, -30.0, 1000.0, -1000.0)
EDGE_ROW = np.array([EDGES])
SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. (2017)
SELU_SCALE = 1.0507009873554804934193349852946

# Every registered activation (aliases included) plus non-default parameters.
CASES = {
    "identity": lambda: cr.get_activation("identity"),
    "linear": lambda: cr.get_activation("linear"),
    "sigmoid": lambda: cr.get_activation("sigmoid"),
    "tanh": lambda: cr.get_activation("tanh"),
    "relu": lambda: cr.get_activation("relu"),
    "leaky_relu": lambda: cr.get_activation("leaky_relu"),
    "leaky_relu(0.2)": lambda: cr.LeakyReLU(negative_slope=0.2),
    "elu": lambda: cr.get_activation("elu"),
    "elu(0.5)": lambda: cr.ELU(alpha=0.5),
    "selu": lambda: cr.get_activation("selu"),
    "softplus": lambda: cr.get_activation("softplus"),
    "softplus(beta=2)": lambda: cr.Softplus(beta=2.0),
    "softplus(beta=0.5,thr=10)": lambda: cr.Softplus(beta=0.5, threshold=10.0),
    "softplus(exact)": lambda: cr.Softplus(threshold=None),
    "gelu": lambda: cr.get_activation("gelu"),
    "gelu(tanh)": lambda: cr.GELU(approximate="tanh"),
    "silu": lambda: cr.get_activation("silu"),
    "swish": lambda: cr.get_activation("swish"),
    "mish": lambda: cr.get_activation("mish"),
    "softmax": lambda: cr.get_activation("softmax"),
}

elements = st.one_of(
    st.sampled_from(EDGES),
    st.floats(-40.0, 40.0, allow_nan=False, allow_infinity=False),
)
z_arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
    elements=elements,
)
seeds = st.integers(0, 2**32 - 1)

# Under/overflow policy: an exp that underflows to 0 gives the correctly
# rounded result (e^-1000 is below the smallest double) and NumPy ignores
# underflow by default; overflow, invalid operations and division by zero
# must never happen.
no_fp_trouble = dict(all="raise", under="ignore")


def torch_forward(act: cr.Activation, t):
    """The torch.nn.functional equivalent of ``act`` (configured from its attributes)."""
    if isinstance(act, cr.Identity):
        return t * 1
    if isinstance(act, cr.Sigmoid):
        return torch.sigmoid(t)
    if isinstance(act, cr.Tanh):
        return torch.tanh(t)
    if isinstance(act, cr.ReLU):
        return F.relu(t)
    if isinstance(act, cr.LeakyReLU):
        return F.leaky_relu(t, act.negative_slope)
    if isinstance(act, cr.ELU):
        return F.elu(t, act.alpha)
    if isinstance(act, cr.SELU):
        return F.selu(t)
    if isinstance(act, cr.Softplus):
        if act.threshold is None:  # torch's softplus always has a threshold
            return torch.logaddexp(torch.zeros_like(t), act.beta * t) / act.beta
        return F.softplus(t, beta=act.beta, threshold=act.threshold)
    if isinstance(act, cr.GELU):
        return F.gelu(t, approximate=act.approximate)
    if isinstance(act, cr.SiLU):
        return F.silu(t)
    if isinstance(act, cr.Mish):
        return F.mish(t)
    if isinstance(act, cr.Softmax):
        return F.softmax(t, dim=-1)
    raise AssertionError(f"no torch reference for {act!r}")


def torch_vjp(act, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    torch_forward(act, t).backward(torch.tensor(g, dtype=torch.float64))
    return t.grad.numpy()


def kinks(act) -> list[float]:
    """Points where the activation is not differentiable (finite differences skip them)."""
    if isinstance(act, (cr.ReLU, cr.LeakyReLU, cr.ELU, cr.SELU)):
        return [0.0]
    if isinstance(act, cr.Softplus) and act.threshold is not None:
        return [act.threshold / act.beta]
    return []


def near_kink(act, z: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    h = rel * np.maximum(1.0, np.abs(z))
    out = np.zeros(z.shape, dtype=bool)
    for k in kinks(act):
        out |= np.abs(z - k) <= 3 * h  # the stencil reaches z +- 2h
    return out


def test_every_registered_activation_is_covered():
    assert set(ACTIVATIONS) - {"step"} <= set(CASES)
    for name in set(ACTIVATIONS) - {"step"}:
        assert isinstance(cr.get_activation(name), ACTIVATIONS[name])


def test_aliases():
    assert isinstance(cr.get_activation("swish"), cr.SiLU)
    assert isinstance(cr.get_activation("linear"), cr.Identity)
    assert isinstance(cr.get_activation("Leaky-ReLU"), cr.LeakyReLU)
    assert cr.get_activation(None) is None
    relu = cr.ReLU()
    assert cr.get_activation(relu) is relu
    assert isinstance(cr.get_activation(cr.Tanh), cr.Tanh)


# -- derivatives against finite differences ----------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=50, deadline=None)
@given(z=z_arrays, seed=seeds)
@example(z=EDGE_ROW, seed=0)
@example(z=EDGE_ROW.reshape(-1, 1), seed=1)
def test_vjp_matches_central_differences(
    name, z, seed, elementwise_diff, scalar_diff, assert_close
):
    act = CASES[name]()
    g = np.random.default_rng(seed).normal(size=z.shape)
    with np.errstate(**no_fp_trouble):
        a = act.forward(z)
        got = act.backward(g)
        assert a.shape == z.shape and got.shape == z.shape
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(got))
        if isinstance(act, cr.Softmax):  # full Jacobian: perturb one logit at a time
            expected = np.empty_like(z)
            noise = np.empty_like(z)
            for i in range(z.shape[0]):
                expected[i], noise[i] = scalar_diff(
                    lambda r, i=i: np.sum(g[i] * act.f(r[None, :])[0]), z[i]
                )
            mask = None
        else:  # elementwise: all entries can be perturbed at once
            d, n = elementwise_diff(act.f, z)
            expected, noise = g * d, np.abs(g) * n
            mask = ~near_kink(act, z)
    assert_close(got, expected, rtol=1e-6, atol=noise, mask=mask, what=f"{name} vjp vs FD")


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=50, deadline=None)
@given(z=z_arrays, seed=seeds)
@example(z=EDGE_ROW, seed=0)
def test_vjp_matches_torch_autograd(name, z, seed, assert_close):
    """A second, exact reference that also covers the kinks (PyTorch's conventions)."""
    act = CASES[name]()
    g = np.random.default_rng(seed).normal(size=z.shape)
    with np.errstate(**no_fp_trouble):
        act.forward(z)
        got = act.backward(g)
    expected = torch_vjp(act, z, g)
    # floor: a few ulps of the terms the derivative is a sum of (|g| (1 + |z|))
    floor = 8 * EPS * np.abs(g) * (1.0 + np.abs(z))
    if isinstance(act, cr.Softmax):
        floor = 8 * EPS * np.abs(g).max(axis=-1, keepdims=True) * (1.0 + np.abs(z))
    assert_close(got, expected, rtol=1e-12, atol=floor, what=f"{name} vjp vs torch")


KINK_CONVENTIONS = {
    # activation, kink, derivative PyTorch's autograd gives exactly there
    "relu": (lambda: cr.ReLU(), 0.0, 0.0),
    "leaky_relu": (lambda: cr.LeakyReLU(0.2), 0.0, 0.2),
    "elu": (lambda: cr.ELU(0.5), 0.0, 0.5),
    "selu": (lambda: cr.SELU(), 0.0, SELU_SCALE * SELU_ALPHA),
    # beta z == threshold is still on the curved side: derivative sigmoid(threshold)
    "softplus": (lambda: cr.Softplus(beta=2.0, threshold=20.0), 10.0, 1 / (1 + math.exp(-20.0))),
}


@pytest.mark.parametrize("name", list(KINK_CONVENTIONS))
def test_derivative_at_kink_follows_pytorch(name):
    factory, z0, expected = KINK_CONVENTIONS[name]
    act = factory()
    z = np.array([[z0]])
    act.forward(z)
    got = act.backward(np.ones_like(z))[0, 0]
    assert got == pytest.approx(expected, rel=1e-15, abs=0)
    assert torch_vjp(act, z, np.ones_like(z))[0, 0] == pytest.approx(expected, rel=1e-15, abs=0)
    # one step either side the one-sided derivatives hold
    left, right = np.nextafter(z0, -np.inf), np.nextafter(z0, np.inf)
    zs = np.array([[left, right]])
    act.forward(zs)
    np.testing.assert_allclose(
        act.backward(np.ones_like(zs)), torch_vjp(act, zs, np.ones_like(zs)), rtol=1e-14
    )


# -- forward values against torch ----------------------------------------------------------


def _forward_grid() -> np.ndarray:
    rng = np.random.default_rng(1234)
    z = np.concatenate(
        [
            np.linspace(-40, 40, 4001),
            np.array(EDGES),
            rng.normal(0.0, 3.0, 1000),
            rng.uniform(-1e-6, 1e-6, 50),
            np.linspace(19.9, 20.1, 41),  # softplus threshold
        ]
    )
    z = z[: (z.size // 7) * 7]
    return z.reshape(-1, 7)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_torch(name, assert_close):
    act = CASES[name]()
    z = _forward_grid()
    with np.errstate(**no_fp_trouble):
        got = act.forward(z)
    expected = torch_forward(act, torch.tensor(z, dtype=torch.float64)).numpy()
    floor = 1e-300
    if isinstance(act, cr.GELU):
        # z * (1 + erf(.)) / 2 and z * (1 + tanh(.)) / 2 cancel for z << 0: both libraries
        # compute them to an absolute accuracy of a few ulps of |z|, not relatively.
        floor = 8 * EPS * np.abs(z)
    assert_close(got, expected, rtol=1e-12, atol=floor, what=f"{name} forward vs torch")
    assert got.dtype == np.float64


# -- robustness ---------------------------------------------------------------------------------


def test_sigmoid_and_softplus_exact_at_1000_without_overflow():
    z = np.array([[1000.0, -1000.0, 30.0, -30.0, 0.0]])
    with np.errstate(**no_fp_trouble):
        sig = cr.Sigmoid()
        s = sig.forward(z)
        ds = sig.backward(np.ones_like(z))
        sp = cr.Softplus(threshold=None)
        p = sp.forward(z)
        dp = sp.backward(np.ones_like(z))
        p_thr = cr.Softplus().forward(z)
    # exact values: e^-1000 ~ 5e-435 is below the smallest double, so these round exactly
    assert s[0, 0] == 1.0 and s[0, 1] == 0.0 and s[0, 4] == 0.5
    assert s[0, 2] == pytest.approx(1 / (1 + math.exp(-30.0)), rel=2 * EPS)
    assert s[0, 3] == pytest.approx(math.exp(-30.0) / (1 + math.exp(-30.0)), rel=4 * EPS)
    assert p[0, 0] == 1000.0 and p[0, 1] == 0.0 and p[0, 4] == pytest.approx(math.log(2), rel=EPS)
    assert p[0, 2] == pytest.approx(30.0 + math.log1p(math.exp(-30.0)), rel=EPS)
    assert p[0, 3] == pytest.approx(math.log1p(math.exp(-30.0)), rel=2 * EPS)
    assert p_thr[0, 0] == 1000.0 and p_thr[0, 1] == 0.0
    assert np.all(np.isfinite(ds)) and np.all(np.isfinite(dp))
    assert ds[0, 0] == 0.0 and ds[0, 1] == 0.0
    assert dp[0, 0] == 1.0 and dp[0, 1] == 0.0
    # float32 too
    z32 = z.astype(np.float32)
    with np.errstate(**no_fp_trouble):
        s32 = cr.Sigmoid().forward(z32)
        p32 = cr.Softplus().forward(z32)
    assert s32.dtype == np.float32 and p32.dtype == np.float32
    assert s32[0, 0] == 1.0 and s32[0, 1] == 0.0 and p32[0, 0] == 1000.0 and p32[0, 1] == 0.0


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_at_extremes(name, dtype):
    act = CASES[name]()
    z = np.array([[1e4, -1e4, 1000.0, -1000.0, 88.0, -88.0, 0.0]], dtype=dtype)
    with np.errstate(**no_fp_trouble):
        a = act.forward(z)
        d = act.backward(np.ones_like(z))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))


def test_softmax_shift_invariance():
    rng = np.random.default_rng(0)
    sm = cr.Softmax()
    # dyadic logits and integer shifts: z + c is exact, so the result is bit-identical
    z = rng.integers(-4096, 4096, size=(6, 5)) / 256.0
    c = rng.integers(-10_000, 10_000, size=(6, 1)).astype(np.float64)
    np.testing.assert_array_equal(sm.forward(z + c), sm.forward(z))
    # arbitrary shifts: equal up to the rounding of z + c
    z = rng.normal(size=(6, 5)) * 5
    c = rng.normal(size=(6, 1)) * 100
    p, q = sm.forward(z), sm.forward(z + c)
    np.testing.assert_allclose(q, p, rtol=1e-11, atol=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=4 * EPS)
    # and so is the vjp
    g = rng.normal(size=z.shape)
    sm.forward(z)
    g1 = sm.backward(g)
    sm.forward(z + c)
    np.testing.assert_allclose(sm.backward(g), g1, rtol=1e-10, atol=1e-14)


def test_softmax_exact_for_huge_logits():
    z = np.array(
        [
            [1e4, 1e4 - 1, 1e4 - 2],
            [1e4, -1e4, 0.0],
            [-1e4, -1e4, -1e4],
            [1e4, 1e4, -1e4],
        ]
    )
    with np.errstate(**no_fp_trouble):
        p = cr.Softmax().forward(z)
    total = 1 + math.exp(-1) + math.exp(-2)
    expected = np.array(
        [
            [1 / total, math.exp(-1) / total, math.exp(-2) / total],
            [1.0, 0.0, 0.0],
            [1 / 3, 1 / 3, 1 / 3],
            [0.5, 0.5, 0.0],
        ]
    )
    np.testing.assert_allclose(p, expected, rtol=4 * EPS, atol=0)
    with np.errstate(**no_fp_trouble):
        q = cr.Softmax().forward(z.astype(np.float32))
    assert q.dtype == np.float32
    np.testing.assert_allclose(q, expected, rtol=1e-6, atol=0)


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(TypeError, match="vjp"):
        cr.Softmax().df(None, np.ones((1, 2)))


# -- the step function -------------------------------------------------------------------------


def test_step_forward_is_heaviside():
    z = np.array([[-1000.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 1.0, 1000.0]])
    np.testing.assert_array_equal(cr.Step().forward(z), [[0, 0, 0, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(
        cr.get_activation("step").forward(z.astype(np.float32)), [[0, 0, 0, 1, 1, 1, 1, 1]]
    )


def test_step_backward_refuses_gradient_training():
    step = cr.Step()
    step.forward(np.array([[0.5, -0.5]]))
    with pytest.raises(ValueError) as info:
        step.backward(np.ones((1, 2)))
    msg = str(info.value).lower()
    assert "perceptron" in msg and "sigmoid" in msg
    # the same through a Dense layer
    net = cr.Sequential(cr.Dense(2, 1, activation="step"), seed=0)
    net.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="(?i)perceptron"):
        net.backward(np.ones((3, 1)))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError) as info:
        cr.get_activation("sigmoidd")
    msg = str(info.value)
    assert "sigmoidd" in msg
    for name in ACTIVATIONS:
        assert name in msg
    with pytest.raises(ValueError, match="valid names"):
        cr.Dense(2, 3, activation="nope")
    with pytest.raises(TypeError):
        cr.get_activation(3.0)


# -- user-defined activations ---------------------------------------------------------------


class Gaussian(cr.Activation):
    """f(z) = exp(-z^2); f'(z) = -2 z a."""

    name = "gaussian"

    def f(self, z):
        return np.exp(-z * z)

    def df(self, z, a):
        return -2 * z * a


class Softsign(cr.Activation):
    """f(z) = z / (1 + |z|); f'(z) = (1 - |a|)^2 (from the output only)."""

    name = "softsign"
    needs_input = False

    def f(self, z):
        return z / (1 + np.abs(z))

    def df(self, z, a):
        return (1 - np.abs(a)) ** 2


def make_cube():
    return cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2, name="cube")


CUSTOM = {"cube": make_cube, "gaussian": Gaussian, "softsign": Softsign}


@pytest.mark.parametrize("name", list(CUSTOM))
@settings(max_examples=50, deadline=None)
@given(z=z_arrays, seed=seeds)
@example(z=EDGE_ROW, seed=0)
def test_custom_activation_against_central_differences(
    name, z, seed, elementwise_diff, assert_close
):
    act = CUSTOM[name]()
    g = np.random.default_rng(seed).normal(size=z.shape)
    with np.errstate(**no_fp_trouble):
        a = act.forward(z)
        got = act.backward(g)
        d, noise = elementwise_diff(act.f, z)
    assert_close(got, g * d, rtol=1e-6, atol=np.abs(g) * noise, what=f"{name} vjp vs FD")
    # forward against closed forms / torch
    if name == "cube":
        np.testing.assert_array_equal(a, z**3)
        np.testing.assert_allclose(got, 3 * z**2 * g, rtol=1e-15)
    elif name == "softsign":
        ref = F.softsign(torch.tensor(z)).numpy()
        np.testing.assert_allclose(a, ref, rtol=1e-15, atol=0)
    else:
        np.testing.assert_allclose(a, np.exp(-(z**2)), rtol=1e-15)


@pytest.mark.parametrize("name", list(CUSTOM))
def test_custom_activation_inside_dense(name, scalar_diff, assert_close):
    """The chain rule through a Dense layer with a user activation: dL/dW and dL/dX vs FD."""
    rng = np.random.default_rng(7)
    act = CUSTOM[name]()
    net = cr.Sequential(cr.Dense(3, 4, activation=act), cr.Dense(4, 2), dtype=np.float64, seed=3)
    X = rng.normal(size=(5, 3))
    g = rng.normal(size=(5, 2))
    net.forward(X)
    dX = net.backward(g)
    W = net[0].weight
    dW = W.grad.copy()

    def phi_w(w):
        old = W.value
        W.value = w
        try:
            return np.sum(g * net.forward(X))
        finally:
            W.value = old

    expected, noise = scalar_diff(phi_w, W.value.copy())
    assert_close(dW, expected, rtol=1e-6, atol=noise, what="dL/dW")
    expected, noise = scalar_diff(lambda x: np.sum(g * net.forward(x)), X)
    assert_close(dX, expected, rtol=1e-6, atol=noise, what="dL/dX")


def test_custom_activation_repr_and_name():
    cube = make_cube()
    assert cube.name == "cube"
    assert "cube" in repr(cube)


# -- dtypes ----------------------------------------------------------------------------------------


ALL_FACTORIES = {**CASES, **CUSTOM, "step": lambda: cr.get_activation("step")}


@pytest.mark.parametrize("name", list(ALL_FACTORIES))
def test_float32_in_float32_out(name):
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 3, size=(3, 9)), EDGE_ROW]).astype(np.float32)
    act = ALL_FACTORIES[name]()
    with np.errstate(**no_fp_trouble):
        a = act.forward(z)
    assert a.dtype == np.float32, f"{name} forward gives {a.dtype}"
    if name == "step":
        return
    with np.errstate(**no_fp_trouble):
        d = act.backward(np.ones_like(z))
    assert d.dtype == np.float32, f"{name} backward gives {d.dtype}"
    # and a float32 network keeps float32 all the way through
    net = cr.Sequential(cr.Dense(9, 4, activation=ALL_FACTORIES[name]()), seed=0)
    out = net.forward(z)
    assert out.dtype == np.float32
    dx = net.backward(np.ones_like(out))
    assert dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in net.parameters())


@pytest.mark.parametrize("parent", [cr.ReLU, cr.Tanh, cr.Sigmoid])
def test_a_subclass_that_redefines_f_and_df_does_not_inherit_fast_paths(parent):
    """ReLU's in-place max, Tanh's in-place tanh, Sigmoid's in-place vjp, the fused loop:
    each computes the parent's function, so a subclass with its own f and df skips them."""

    class Cube(parent):
        name = "cube"

        def f(self, z):
            return z**3

        def df(self, z, a):
            return 3 * z**2

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8))
    g = rng.standard_normal((64, 128))
    with cr.kernels.use("auto"):  # 64 x 128 is large enough for the fused loop
        layer = cr.Dense(8, 128, activation=Cube(), seed=0, dtype=np.float64)
        z = x @ layer.weight.value + layer.bias.value
        np.testing.assert_allclose(layer.forward(x), z**3, rtol=1e-12)
        layer.backward(g.copy())
    dz = g * 3 * z**2
    np.testing.assert_allclose(layer.bias.grad, dz.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(layer.weight.grad, x.T @ dz, rtol=1e-10)

"""The Numba loops give the same numbers as the NumPy path, bit for bit.

Every test runs the same computation twice, once with ``kernels.use("numpy")``
and once with ``kernels.use("numba")``, and asserts ``np.array_equal`` on the
results (no tolerance): the fused loops must perform the same float operations
in the same order as the NumPy reference.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels

pytest.importorskip("numba")

DTYPES = [np.float32, np.float64]
SHAPES = [(7, 5), (5,), (3, 4), (4,)]


def _params(dtype, seed=0, transposed=False):
    rng = np.random.default_rng(seed)
    params = []
    for shape in SHAPES:
        value = rng.standard_normal(shape).astype(dtype)
        if transposed and value.ndim == 2:  # a non-contiguous view: the NumPy path must run
            value = np.ascontiguousarray(value.T).T
        params.append(cr.Parameter(value))
    return params


def _run(backend, make_optimizer, dtype, steps=6, transposed=False):
    params = _params(dtype, transposed=transposed)
    opt = make_optimizer(params)
    rng = np.random.default_rng(1)
    with kernels.use(backend):
        for _ in range(steps):
            for p in params:
                p.grad[...] = rng.standard_normal(p.shape) * 3
            opt.step()
    return [p.value.copy() for p in params], opt.state_dict()


def _assert_same(a, b):
    values_a, state_a = a
    values_b, state_b = b
    for x, y in zip(values_a, values_b, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y), np.max(np.abs(x - y))
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert np.array_equal(state_a[key], state_b[key]), key


SGD_OPTIONS = [
    dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
    for m, d, n, w, x in itertools.product(
        [0.0, 0.9], [0.0, 0.3, 1.0], [False, True], [0.0, 0.05], [False, True]
    )
    if not (n and (m == 0 or d != 0))  # Nesterov needs momentum and no dampening
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options", SGD_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())
)
def test_sgd_fused_equals_numpy(options, dtype):
    make = lambda ps: cr.SGD(ps, lr=0.07, **options)  # noqa: E731
    _assert_same(_run("numpy", make, dtype), _run("numba", make, dtype))


ADAM_OPTIONS = [
    (cls, dict(weight_decay=w, amsgrad=a, betas=b))
    for cls, w, a, b in itertools.product(
        [cr.Adam, cr.AdamW], [0.0, 0.1], [False, True], [(0.9, 0.999), (0.5, 0.9)]
    )
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cls,options", ADAM_OPTIONS, ids=lambda o: o.__name__ if isinstance(o, type) else str(o)
)
def test_adam_fused_equals_numpy(cls, options, dtype):
    make = lambda ps: cls(ps, lr=0.03, eps=1e-3, **options)  # noqa: E731
    _assert_same(_run("numpy", make, dtype), _run("numba", make, dtype))


@pytest.mark.parametrize("make", [lambda ps: cr.SGD(ps, lr=0.1, momentum=0.9), cr.Adam])
def test_non_contiguous_parameters_take_the_numpy_path(make):
    assert not _params(np.float32, transposed=True)[0].value.flags.c_contiguous
    _assert_same(
        _run("numpy", make, np.float32, transposed=True),
        _run("numba", make, np.float32, transposed=True),
    )


def test_optimizer_nan_and_inf_gradients_propagate_alike():
    def run(backend):
        p = cr.Parameter(np.ones(6, np.float32))
        opt = cr.Adam([p], lr=0.1, amsgrad=True)
        with kernels.use(backend), np.errstate(invalid="ignore"):
            p.grad[:] = [0.0, 1.0, np.nan, np.inf, -np.inf, 0.5]
            opt.step()
            p.grad[:] = 1.0
            opt.step()
        return p.value, opt.state[0]["max_exp_avg_sq"]

    (a, va), (b, vb) = run("numpy"), run("numba")
    assert np.array_equal(a, b, equal_nan=True) and np.array_equal(va, vb, equal_nan=True)
    assert np.isnan(a[2:5]).all() and np.isfinite(a[[0, 1, 5]]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_relu_forward_backward_fused_equals_numpy(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((33, 12)).astype(dtype)
    g = rng.standard_normal((33, 9)).astype(dtype)
    g[0, :3] = [np.nan, np.inf, -np.inf]  # propagate as NumPy does
    bias = rng.standard_normal(9).astype(dtype)  # some units negative at some rows
    results = {}
    for backend in ("numpy", "numba"):
        layer = cr.Dense(12, 9, activation="relu", seed=0, dtype=dtype)
        layer.bias.value[:] = bias
        with kernels.use(backend), np.errstate(invalid="ignore"):
            out = layer.forward(x.copy()).copy()
            dx = layer.backward(g.copy())
            inferred = layer.infer(x.copy())
        results[backend] = (out, dx, layer.weight.grad.copy(), layer.bias.grad.copy(), inferred)
    for a, b in zip(results["numpy"], results["numba"], strict=True):
        assert a.dtype == dtype
        assert np.array_equal(a, b, equal_nan=True)
    out = results["numba"][0]
    assert (out == 0).any() and (out > 0).any()  # both sides of the kink were exercised


def test_relu_forward_keeps_nan():
    z = np.array([[np.nan, -1.0, 2.0]], np.float32)
    with kernels.use("numba"):
        out = cr.ReLU().bias_f_(z, np.zeros(3, np.float32))
    assert np.isnan(out[0, 0]) and out[0, 1] == 0 and out[0, 2] == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_whole_fit_is_bit_identical(optimizer):
    X, y = cr.datasets.spirals(300, seed=0)
    weights = {}
    for backend in ("numpy", "numba"):
        net = cr.Sequential(
            cr.Dense(2, 32, activation="relu"),
            cr.Dense(32, 16, activation="relu"),
            cr.Dense(16, 3),
            seed=4,
        )
        opt = cr.SGD(net.parameters(), lr=0.05, momentum=0.9) if optimizer == "sgd" else "adam"
        with kernels.use(backend):
            history = net.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=5, batch_size=32)
        weights[backend] = (net.get_weights(), history.history["loss"])
    (wa, la), (wb, lb) = weights["numpy"], weights["numba"]
    assert la == lb
    for a, b in zip(wa, wb, strict=True):
        assert np.array_equal(a, b)


def test_backend_choice_and_errors():
    with kernels.use("numpy"):
        assert kernels.backend() == "numpy"
        with kernels.use("numba"):
            assert kernels.backend() == "numba"
        assert kernels.backend() == "numpy"
    with pytest.raises(
        ValueError, match=r"kernel backend must be one of \('auto', 'numba', 'numpy'\), got 'fast'"
    ):
        kernels.use("fast")


def _python(code: str, backend: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with CHAINRULE_KERNELS=backend."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, CHAINRULE_KERNELS=backend),
        capture_output=True,
        text=True,
    )


def test_environment_variable_sets_the_backend():
    show = "import chainrule as cr; print(cr.kernels.backend())"
    proc = _python(show, "NumPy")
    assert proc.returncode == 0 and proc.stdout.strip() == "numpy"
    proc = _python(show, "sse")
    assert proc.returncode != 0
    assert "CHAINRULE_KERNELS='sse' is not a kernel backend" in proc.stderr


WITHOUT_NUMBA = """
import sys
sys.modules["numba"] = None  # as if Numba were not installed
import numpy as np
import chainrule as cr
print(cr.kernels.backend())
net = cr.Sequential(cr.Dense(2, 4, activation="relu"), cr.Dense(4, 1), seed=0)
net.fit(np.ones((8, 2)), np.ones(8), loss="mse", epochs=1)
try:
    cr.kernels.use("numba")
except ImportError as exc:
    print(exc)
"""


def test_without_numba_the_numpy_path_runs():
    proc = _python(WITHOUT_NUMBA, "auto")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "numpy"
    assert lines[1].startswith(
        'the "numba" kernel backend needs Numba: pip install "chainrule[fast]"'
    )


SIZES = """
import sys
import numpy as np
import chainrule as cr
X = np.random.default_rng(0).standard_normal((256, 8)).astype(np.float32)
y = np.arange(256) % 2
small = cr.Sequential(cr.Dense(8, 16, activation="relu"), cr.Dense(16, 2), seed=0)
small.fit(X, y, loss="cross_entropy", epochs=1, batch_size=64)
print("numba" in sys.modules)
big = cr.Sequential(cr.Dense(8, 128, activation="relu"), cr.Dense(128, 64), seed=0)
big.fit(X, y, loss="cross_entropy", epochs=1, batch_size=64)
print("numba" in sys.modules)
"""


def test_auto_leaves_small_arrays_to_numpy_and_never_imports_numba_for_them():
    proc = _python(SIZES, "auto")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]
    assert kernels.MIN_SIZE == 4096

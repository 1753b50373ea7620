"""Exports reproduce the network: chainrule -> torch -> chainrule and chainrule -> ONNX.

Every exportable activation (fused into a Dense and as a layer of its own),
Dropout and BatchNorm (with running statistics from real training steps) in
random architectures, float32 and float64, compared with ``net(X)`` in eval
mode; BatchNorm's training mode in torch; the classifier outputs and the
prepended standardisation of the ONNX model; and the errors for what cannot
be exported.

"Relative error" is normwise, ``max|a - b| / max|b|`` over one output array
(the ``max_rel_err`` fixture of conftest.py). The bound is 1e-6 in float32 and
1e-13 in float64. For a random network whose own float32 rounding error (its
float32 output against the same weights run in float64) is larger than 1e-6,
no float32 engine can agree with another more closely than that noise: the
float32 bound is then four times the noise (measured: at most 3.5 times).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.export import from_torch, to_onnx, to_onnx_model, to_torch

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
nn = torch.nn

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-6, np.float64: 1e-13}

# every activation with a torch module and an ONNX form, with non-default parameters too
ACTS = {
    "identity": lambda: cr.Identity(),
    "sigmoid": lambda: cr.Sigmoid(),
    "tanh": lambda: cr.Tanh(),
    "relu": lambda: cr.ReLU(),
    "leaky_relu": lambda: cr.LeakyReLU(0.1),
    "elu": lambda: cr.ELU(0.7),
    "selu": lambda: cr.SELU(),
    "softplus": lambda: cr.Softplus(),
    "softplus_beta_threshold": lambda: cr.Softplus(beta=1.5, threshold=4.0),
    "softplus_exact": lambda: cr.Softplus(beta=0.5, threshold=None),
    "gelu": lambda: cr.GELU(),
    "gelu_tanh": lambda: cr.GELU(approximate="tanh"),
    "silu": lambda: cr.SiLU(),
    "mish": lambda: cr.Mish(),
    "softmax": lambda: cr.Softmax(),
}


def _rng(*keys) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def random_net(act_name: str, dtype, case: int) -> tuple[cr.Sequential, np.ndarray]:
    """A random architecture using ``act_name`` fused and alone, with BatchNorm and Dropout,
    trained a few steps (so the running statistics are not the initial 0 and 1), in eval mode."""
    rng = _rng(act_name, np.dtype(dtype).name, case)
    make = ACTS[act_name]
    n_in = int(rng.integers(2, 7))
    widths = [int(w) for w in rng.integers(3, 10, size=int(rng.integers(2, 4)))]
    others = list(ACTS)
    layers, width = [], n_in
    for j, w in enumerate(widths):
        fused = make() if j == 0 else ACTS[others[int(rng.integers(len(others)))]]()
        layers.append(cr.Dense(width, w, activation=fused))
        if j == 0 or rng.random() < 0.5:
            layers.append(cr.BatchNorm(w, momentum=float(rng.uniform(0.05, 0.5))))
        if j == 1:
            layers.append(make())  # the activation as a layer of its own
        if rng.random() < 0.6:
            layers.append(cr.Dropout(float(rng.uniform(0.05, 0.4))))
        width = w
    n_out = int(rng.integers(1, 5))
    layers.append(cr.Dense(width, n_out))
    net = cr.Sequential(*layers, seed=int(rng.integers(2**31)), dtype=dtype)
    X = rng.normal(size=(96, n_in)) * 2.0 + rng.normal(size=n_in)
    y = np.tanh(X @ rng.normal(size=(n_in, n_out))) + rng.normal(size=n_out)  # learnable targets
    net.fit(X, y, loss="mse", optimizer="adam", lr=0.01, epochs=2, batch_size=16, seed=case)
    net.eval()
    X_test = rng.normal(size=(64, n_in)) * 3.0 + rng.normal(size=n_in)
    return net, X_test


def tolerance(net: cr.Sequential, X: np.ndarray, max_rel_err) -> float:
    """1e-13 in float64; in float32 1e-6, or 4x the network's own float32 rounding error."""
    if net.dtype == np.float64:
        return RTOL[np.float64]
    exact = cr.Sequential(*copy.deepcopy(net.layers), dtype=np.float64)
    noise = max_rel_err(net(X), exact(X.astype(np.float64)))
    return max(RTOL[np.float32], 4 * noise)


def torch_forward(model, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def onnx_session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_run(path, X: np.ndarray) -> dict[str, np.ndarray]:
    sess = onnx_session(path)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": X})))


# -- round trips on random architectures -------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("act_name", list(ACTS))
def test_round_trips_random_architectures(act_name, dtype, tmp_path, max_rel_err):
    for case in range(2):
        net, X = random_net(act_name, dtype, case)
        X = X.astype(dtype)
        ref = net(X)
        assert np.isfinite(ref).all()
        tol = tolerance(net, X, max_rel_err)

        model = to_torch(net)
        assert not model.training and not any(m.training for m in model)
        out = torch_forward(model, X)
        assert out.dtype == dtype
        assert max_rel_err(out, ref) <= tol, (case, net)

        back = from_torch(model)
        assert [type(layer) for layer in back.layers] == [type(layer) for layer in net.layers]
        assert back.dtype == net.dtype and not back.training
        np.testing.assert_array_equal(back(X), ref)  # the same weights and the same code

        path = to_onnx(net, tmp_path / f"{case}.onnx")
        got = onnx_run(path, X)
        assert list(got) == ["output"]  # a regression net: no classifier outputs
        assert got["output"].dtype == dtype
        assert max_rel_err(got["output"], ref) <= tol, (case, net)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("act_name", [*ACTS, "step"])
def test_activation_alone_over_a_wide_range(act_name, dtype, tmp_path, max_rel_err, assert_close):
    """Each activation as the whole network, from -40 to 40 and near 0 (both erf branches,
    the softplus thresholds, the exp tails), against torch and ONNX at opsets 17 and 20."""
    act = cr.Step() if act_name == "step" else ACTS[act_name]()
    net = cr.Sequential(act, dtype=dtype)
    grid = np.concatenate([np.linspace(-40, 40, 1601), np.geomspace(1e-12, 1, 60)])
    X = np.stack([grid, -grid[::-1], grid * 0.1], axis=1).astype(dtype)
    ref = net(X)
    if act_name != "step":
        assert max_rel_err(torch_forward(to_torch(net), X), ref) <= RTOL[dtype]
    for opset in (17, 20):
        out = onnx_run(to_onnx(net, tmp_path / f"{opset}.onnx", opset=opset), X)["output"]
        assert max_rel_err(out, ref) <= RTOL[dtype], opset
        if dtype == np.float64:  # entry by entry too, up to a floor for cancellation near 0
            assert_close(out, ref, rtol=1e-14, atol=1e-15 * (1 + np.abs(X)), what=act_name)


def test_float64_erf_of_the_onnx_graph_matches_math_erf(tmp_path):
    """The float64 GELU's erf (Taylor series and Chebyshev expansion) is accurate to ~1 ulp."""
    import math

    net = cr.Sequential(cr.GELU(), dtype=np.float64)
    x = np.concatenate([np.linspace(-9, 9, 9001), [0.0, 1.0, -1.0, 6.0, -6.0, 1e-300]])
    out = onnx_run(to_onnx(net, tmp_path / "gelu.onnx"), x.reshape(-1, 1))["output"][:, 0]
    # invert gelu = 0.5 x (1 + erf(x / sqrt 2)) where x is large enough to read erf off it
    mask = np.abs(x) > 1e-3
    erf_graph = out[mask] / (0.5 * x[mask]) - 1
    erf_ref = np.array([math.erf(v / math.sqrt(2)) for v in x[mask]])
    assert np.abs(erf_graph - erf_ref).max() < 3e-15


# -- torch: modes, dtypes, training mode -------------------------------------------------------
def bn_net(dtype) -> cr.Sequential:
    return cr.Sequential(
        cr.Dense(4, 6, activation="relu"),
        cr.BatchNorm(6, momentum=0.3, eps=1e-3),
        cr.Dense(6, 5, activation="tanh"),
        cr.BatchNorm(5),
        cr.Dense(5, 2),
        seed=3,
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_to_torch_batchnorm_training_mode_matches(dtype, max_rel_err):
    """In training mode both normalise with batch statistics and update the running ones alike."""
    rng = _rng("bn-train", np.dtype(dtype).name)
    net = bn_net(dtype).train()
    model = to_torch(net)
    assert model.training and all(m.training for m in model)
    for step in range(3):
        X = (rng.normal(size=(32, 4)) * 2 + step).astype(dtype)
        out = model(torch.from_numpy(X)).detach().numpy()
        assert max_rel_err(out, net(X)) <= RTOL[dtype]
    for layer, module in ((net[1], model[2]), (net[3], model[5])):
        assert max_rel_err(module.running_mean.numpy(), layer.running_mean) <= RTOL[dtype]
        assert max_rel_err(module.running_var.numpy(), layer.running_var) <= RTOL[dtype]


def test_to_torch_dropout_training_mode_semantics():
    net = cr.Sequential(cr.Dense(3, 2000), cr.Dropout(0.25), seed=0)
    model = to_torch(net.train())
    drop = model[1]
    assert isinstance(drop, nn.Dropout) and drop.p == 0.25 and drop.training
    ones = torch.ones(50, 2000)
    kept = drop(ones).numpy()
    assert set(np.unique(kept)) <= {0.0, np.float32(1 / 0.75)}  # inverted dropout, as chainrule
    assert abs((kept == 0).mean() - 0.25) < 0.01
    assert not any(m.training for m in to_torch(net.eval()))


def test_to_torch_mixed_modes_copies_memory_and_keeps_the_global_rng(max_rel_err):
    net = bn_net(np.float64).eval()
    net[1].training = True  # one layer in training mode: its module follows it
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = to_torch(net)
    assert torch.equal(torch.rand(3), expected)  # no draw from torch's global generator
    assert [m.training for m in model] == [False, False, True, False, False, False, False]
    assert all(p.dtype == torch.float64 for p in model.parameters())
    with torch.no_grad():
        model[0].weight += 1  # a copy: changing torch's weights leaves the network alone
    assert not np.allclose(model[0].weight.detach().numpy().T, net[0].weight.value)


def test_softplus_threshold_none_maps_to_an_exact_threshold(max_rel_err):
    net = cr.Sequential(cr.Softplus(beta=2.0, threshold=None), dtype=np.float64)
    (module,) = to_torch(net)
    assert isinstance(module, nn.Softplus) and module.beta == 2.0 and module.threshold == 40.0
    X = np.linspace(-50, 50, 2001).reshape(-1, 1)
    np.testing.assert_allclose(torch_forward(module, X), net(X), rtol=4.5e-16, atol=0)  # 2 ulps


# -- from_torch --------------------------------------------------------------------------------
def test_from_torch_fusion_bias_free_linear_and_loss(max_rel_err):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 8, bias=False),
        nn.GELU(approximate="tanh"),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(8, 3),
        nn.Softmax(dim=1),
    ).eval()
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    ref = torch_forward(model, X)

    fused = from_torch(model, loss="ce")
    kinds = [type(layer).__name__ for layer in fused.layers]
    assert kinds == ["Dense", "BatchNorm", "ReLU", "Dropout", "Dense"]
    assert isinstance(fused[0].activation, cr.GELU) and isinstance(fused[4].activation, cr.Softmax)
    assert fused.loss_ == "cross_entropy" and not fused.training
    np.testing.assert_array_equal(fused[0].bias.value, np.zeros(8, np.float32))
    assert max_rel_err(fused(X), ref) <= 1e-6

    separate = from_torch(model, fuse_activations=False)
    assert len(separate.layers) == len(model)
    assert max_rel_err(separate(X), ref) <= 1e-6


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.ReLU6(), "ReLU6"),
        (nn.Conv1d(1, 1, 1), "supported modules are Linear, BatchNorm1d, Dropout"),
        (nn.Sequential(nn.ReLU()), "nested nn.Sequential"),
        (nn.Flatten(), "nothing to flatten"),
        (nn.BatchNorm1d(4, affine=False), "affine=True"),
        (nn.BatchNorm1d(4, track_running_stats=False), "track_running_stats=True"),
        (nn.BatchNorm1d(4, momentum=None), "momentum=None"),
        (nn.Softmax(dim=0), "dim=0"),
    ],
    ids=["relu6", "conv", "nested", "flatten", "bn_affine", "bn_stats", "bn_momentum", "softmax0"],
)
def test_from_torch_rejects_what_chainrule_lacks(module, message):
    model = nn.Sequential(nn.Linear(4, 4), module)
    with pytest.raises(ValueError, match="module 1") as info:
        from_torch(model)
    assert message in str(info.value)


def test_from_torch_rejects_non_sequential_and_other_dtypes():
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="float32 or float64"):
        from_torch(nn.Sequential(nn.Linear(2, 2)).half())
    with pytest.raises(ValueError, match="mixes parameter dtypes"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double()))


# -- what cannot be exported -------------------------------------------------------------------
def test_step_has_no_torch_module_but_exports_to_onnx(tmp_path):
    net = cr.Sequential(cr.Dense(2, 3), cr.Dense(3, 1, activation="step"), seed=0)
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\(3, 1, activation=Step\(\)\)\)") as info:
        to_torch(net)
    assert "step activation (Heaviside) has no torch module" in str(info.value)
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_array_equal(onnx_run(to_onnx(net, tmp_path / "s.onnx"), X)["output"], net(X))


def test_custom_activations_and_layers_fail_clearly(tmp_path):
    cube = cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2, name="cube")
    for net in (
        cr.Sequential(cr.Dense(2, 3), cube, cr.Dense(3, 1), seed=0),
        cr.Sequential(cr.Dense(2, 3), cr.Dense(3, 1, activation=cube), seed=0),
    ):
        with pytest.raises(ValueError, match="layer 1 .*custom activation with no torch"):
            to_torch(net)
        with pytest.raises(ValueError, match="layer 1 .*custom activation with no ONNX"):
            to_onnx(net, tmp_path / "c.onnx")
    assert not list(tmp_path.iterdir())  # nothing written

    class Scale(cr.Layer):
        def forward(self, x):
            return 2 * x

    net = cr.Sequential(cr.Dense(2, 2), Scale(), seed=0)
    with pytest.raises(ValueError, match="layer 1 .*no torch equivalent"):
        to_torch(net)
    with pytest.raises(ValueError, match="layer 1 .*no ONNX equivalent"):
        to_onnx(net, tmp_path / "c.onnx")


def test_export_imports_without_torch_or_onnx():
    """``chainrule.export`` imports without torch or onnx and says which extra is missing."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None
        sys.modules["onnx"] = None
        import chainrule as cr
        import chainrule.export as ex
        net = cr.Sequential(cr.Dense(2, 1), seed=0)
        for call, extra in ((lambda: ex.to_torch(net), "chainrule[torch]"),
                            (lambda: ex.to_onnx(net, "x.onnx"), "chainrule[onnx]")):
            try:
                call()
            except ImportError as exc:
                assert extra in str(exc), exc
            else:
                raise SystemExit("no ImportError")
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


# -- ONNX: classifiers, preprocessing, the file ------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_onnx_multiclass_outputs_probabilities_and_labels(dtype, tmp_path, max_rel_err):
    X, y = cr.datasets.blobs(n_samples=150, centers=4, n_features=3, seed=1)
    net = cr.Sequential(
        cr.Dense(3, 16, activation="relu"), cr.BatchNorm(16), cr.Dense(16, 4), seed=0, dtype=dtype
    )
    net.fit(X, y, loss="cross_entropy", epochs=5, batch_size=16, seed=0)
    X = X.astype(dtype)
    got = onnx_run(to_onnx(net, tmp_path / "clf.onnx"), X)
    assert list(got) == ["output", "probabilities", "label"]
    assert max_rel_err(got["output"], net.eval()(X)) <= RTOL[dtype]
    assert max_rel_err(got["probabilities"], net.predict_proba(X)) <= RTOL[dtype]
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], net.predict(X))

    plain = onnx_run(to_onnx(net, tmp_path / "plain.onnx", include_probabilities=False), X)
    assert list(plain) == ["output"]


@pytest.mark.parametrize("n_out", [1, 3])
def test_onnx_binary_outputs(n_out, tmp_path, max_rel_err):
    X, y = cr.datasets.moons(n_samples=120, seed=2)
    if n_out == 3:  # multi-label: three binary targets
        y = np.stack([y, 1 - y, (X[:, 0] > 0).astype(np.int64)], axis=1)
    net = cr.Sequential(cr.Dense(2, 12, activation="tanh"), cr.Dense(12, n_out), seed=0)
    net.fit(X, y, loss="binary_cross_entropy", epochs=5, batch_size=16, seed=0)
    X = X.astype(np.float32)
    got = onnx_run(to_onnx(net, tmp_path / "bin.onnx", include_probabilities=True), X)
    assert list(got) == ["output", "probabilities", "label"]
    assert got["probabilities"].shape == (len(X), n_out)
    assert max_rel_err(got["probabilities"], net.predict_proba(X)) <= 1e-6
    assert got["label"].shape == net.predict(X).shape
    np.testing.assert_array_equal(got["label"], net.predict(X))


def test_onnx_hinge_gets_labels_and_regression_refuses_probabilities(tmp_path):
    X, y = cr.datasets.blobs(n_samples=90, centers=3, seed=4)
    net = cr.Sequential(cr.Dense(2, 8, activation="relu"), cr.Dense(8, 3), seed=0)
    net.fit(X, y, loss="hinge", epochs=3, seed=0)
    X = X.astype(np.float32)
    got = onnx_run(to_onnx(net, tmp_path / "hinge.onnx"), X)
    assert list(got) == ["output", "label"]
    np.testing.assert_array_equal(got["label"], net.predict(X))

    net.loss_ = "mse"
    with pytest.raises(ValueError, match="include_probabilities=True needs a classifier"):
        to_onnx(net, tmp_path / "r.onnx", include_probabilities=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_onnx_prepends_standardisation(dtype, tmp_path, max_rel_err):
    rng = _rng("preprocessing", np.dtype(dtype).name)
    raw = rng.normal(size=(40, 5)) * [1, 10, 100, 0.1, 1] + [0, 5, -50, 2, 0]
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    net = cr.Sequential(cr.Dense(5, 7, activation="elu"), cr.Dense(7, 2), seed=0, dtype=dtype)
    net.preprocessing_ = {"mean": mean.tolist(), "scale": scale.tolist()}
    raw = raw.astype(dtype)
    expected = net((raw - mean.astype(dtype)) / scale.astype(dtype))
    got = onnx_run(to_onnx(net, tmp_path / "pre.onnx"), raw)["output"]
    assert max_rel_err(got, expected) <= RTOL[dtype]
    meta = {p.key: p.value for p in onnx.load(tmp_path / "pre.onnx").metadata_props}
    assert json.loads(meta["preprocessing"]) == net.preprocessing_

    # only some columns standardised (the others, e.g. one-hot columns, pass through)
    net.preprocessing_ = {"mean": mean[[1, 2]], "scale": scale[[1, 2]], "indices": [1, 2]}
    full_mean, full_scale = np.zeros(5), np.ones(5)
    full_mean[[1, 2]], full_scale[[1, 2]] = mean[[1, 2]], scale[[1, 2]]
    expected = net((raw - full_mean.astype(dtype)) / full_scale.astype(dtype))
    got = onnx_run(to_onnx(net, tmp_path / "some.onnx"), raw)["output"]
    assert max_rel_err(got, expected) <= RTOL[dtype]

    net.preprocessing_ = None
    assert (
        max_rel_err(onnx_run(to_onnx(net, tmp_path / "none.onnx"), raw)["output"], net(raw))
        <= RTOL[dtype]
    )


@pytest.mark.parametrize("n_out", [1, 2])
def test_onnx_regression_target_back_in_its_units(n_out, tmp_path, max_rel_err):
    """A target standardised in training (the command line's ``target_mean``/``target_scale``)
    comes back in its own units as the "value" output, after "output" = net(X)."""
    net = cr.Sequential(cr.Dense(3, 5, activation="tanh"), cr.Dense(5, n_out), seed=1)
    net.loss_ = "mse"
    net.preprocessing_ = {
        "feature_names": ["a", "b", "c=x"], "mean": [1.0, -2.0, 0.5], "scale": [2.0, 0.5, 0.5],
        "classes": None, "target_mean": 100.0, "target_scale": 15.0,
    }  # fmt: skip
    raw = np.random.default_rng(5).normal(size=(30, 3)).astype(np.float32)
    output = net((raw - np.float32([1, -2, 0.5])) / np.float32([2, 0.5, 0.5]))
    got = onnx_run(to_onnx(net, tmp_path / "reg.onnx"), raw)
    assert list(got) == ["output", "value"]
    assert max_rel_err(got["output"], output) <= 1e-6
    value = output * np.float32(15) + np.float32(100)
    assert max_rel_err(got["value"], value[:, 0] if n_out == 1 else value) <= 1e-6


def test_onnx_bad_preprocessing_fails_clearly(tmp_path):
    net = cr.Sequential(cr.Dense(3, 1), seed=0)
    for spec, message in (
        ({"mean": [0, 0], "scale": [1, 1, 1]}, "has 2 values but the network takes 3"),
        ({"mean": [0, 0, 0], "scale": [1, 0, 1]}, "contains 0"),
        ({"mean": [0, np.nan, 0], "scale": [1, 1, 1]}, "finite"),
        ({"mean": [1], "scale": [2], "indices": [3]}, "must lie in 0..2"),
        ([0, 0, 0], "must be a dict"),
        ({"mean": [0, 0, 0], "scale": [1, 1, 1], "target_mean": 0, "target_scale": 0}, "non-zero"),
    ):
        net.preprocessing_ = spec
        with pytest.raises(ValueError, match=message):
            to_onnx(net, tmp_path / "bad.onnx")


@pytest.mark.parametrize("opset", [17, 20])
def test_onnx_file_checks_and_records_the_opset(opset, tmp_path):
    net, X = random_net("gelu", np.float32, 0)
    net.loss_ = "cross_entropy" if net.n_outputs > 1 else "binary_cross_entropy"
    path = to_onnx(net, tmp_path / "model.onnx", opset=opset)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary file left behind
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    (default,) = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    assert default.version == opset >= 17
    assert model.producer_name == "chainrule"
    assert model.graph.input[0].name == "input"
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == net.n_features_in
    assert model.graph.output[0].name == "output"
    uses_gelu_op = any(n.op_type == "Gelu" for n in model.graph.node)
    assert uses_gelu_op == (opset >= 20)
    for n in (1, 7):  # the batch dimension is dynamic
        assert onnx_run(path, X[:n].astype(np.float32))["output"].shape == (n, net.n_outputs)
    assert to_onnx_model(net, opset=opset).graph.output[0].name == "output"


def test_onnx_bad_arguments_and_missing_folder(tmp_path):
    net = cr.Sequential(cr.Dense(2, 1), cr.Dropout(0.5), seed=0)  # ends in a no-op layer
    X = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(
        onnx_run(to_onnx(net, tmp_path / "d.onnx"), X)["output"], net.eval()(X)
    )
    with pytest.raises(ValueError, match="opset must be between 17"):
        to_onnx(net, tmp_path / "m.onnx", opset=16)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        to_onnx(net, tmp_path / "no" / "such" / "m.onnx")
    with pytest.raises(TypeError, match="chainrule Sequential"):
        to_onnx(nn.Linear(2, 2), tmp_path / "m.onnx")

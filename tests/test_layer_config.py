"""A layer's ``get_config()`` is its one description: it rebuilds the layer, model files
store exactly it, files written before this rule still load, and the playground describes
its network from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import ACTIVATIONS

DATA = Path(__file__).parent / "data"

# every activation, its parameters away from their defaults where it has any
ACTIVATION_OBJECTS = [
    cr.LeakyReLU(0.2) if cls is cr.LeakyReLU
    else cr.ELU(alpha=0.5) if cls is cr.ELU
    else cr.Softplus(beta=2.0, threshold=5.0) if cls is cr.Softplus
    else cr.GELU(approximate="tanh") if cls is cr.GELU
    else cls()
    for cls in dict.fromkeys(ACTIVATIONS.values())
]  # fmt: skip


def _builtin_layers():
    layers = [cr.Dense(4, 3), cr.Dropout(0.3), cr.BatchNorm(4, momentum=0.2, eps=1e-3)]
    layers += [cr.Dense(4, 3, activation=act) for act in ACTIVATION_OBJECTS]
    layers += ACTIVATION_OBJECTS
    layers += [cr.Embedding(7, 3), cr.Add(), cr.Multiply(), cr.Concatenate()]
    return layers


LAYERS = _builtin_layers()


def _outputs(layer, rng):
    """The layer's eval-mode outputs on inputs that reach every branch of its function."""
    layer.training = False
    if isinstance(layer, cr.Embedding):
        return layer(rng.integers(0, 7, 12))
    if isinstance(layer, (cr.Add, cr.Multiply, cr.Concatenate)):
        return layer(rng.normal(size=(5, 4)), rng.normal(size=(5, 4)))
    x = np.linspace(-30, 30, 48).reshape(12, 4)  # large |x|: Softplus's threshold matters
    if isinstance(layer, cr.BatchNorm):
        layer.running_mean = rng.normal(size=4)
        layer.running_var = rng.uniform(0.5, 2.0, 4)
    return layer(x)


def _copy_state(src, dst):
    for a, b in zip(src.parameters(), dst.parameters(), strict=True):
        b.value = a.value.copy()


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_get_config_rebuilds_an_equal_layer(layer):
    config = layer.get_config()
    json.dumps(config)  # plain data: what a file or a browser can hold
    again = type(layer)(**config)
    assert type(again) is type(layer) and again.get_config() == config
    _copy_state(layer, again)
    np.testing.assert_array_equal(
        _outputs(again, np.random.default_rng(2)), _outputs(layer, np.random.default_rng(2))
    )


def test_a_dense_layer_describes_its_activation_with_the_activation_s_parameters():
    dense = cr.Dense(2, 3, activation=cr.LeakyReLU(0.2))
    assert dense.get_config() == {
        "in_features": 2,
        "out_features": 3,
        "activation": {"name": "leaky_relu", "config": {"negative_slope": 0.2}},
    }
    assert cr.Dense(2, 3).get_config()["activation"] is None
    with pytest.raises(ValueError, match="an activation description is"):
        cr.Dense(2, 3, activation={"name": "relu", "slope": 1})


def _every_layer_network():
    x, c = cr.Input(4, name="x"), cr.Input(1, name="code")
    h = cr.Dense(4, 4, activation=cr.LeakyReLU(0.2))(x)
    h = cr.BatchNorm(4, momentum=0.2, eps=1e-3)(h)
    h = cr.Dropout(0.3)(h)
    for act in ACTIVATION_OBJECTS:
        if not isinstance(act, (cr.Step, cr.Softmax)):
            h = cr.Dense(4, 4, activation=act)(h)
        h = type(act)(**act.get_config())(h)
    e = cr.Embedding(7, 4)(c)
    s = cr.Multiply()(cr.Add()(h, e), e)
    out = cr.Dense(8, 2)(cr.Concatenate()(s, e))
    return cr.Network(inputs=[x, c], outputs=out, seed=5, dtype=np.float64)


def test_every_builtin_layer_survives_save_and_load(tmp_path):
    net = _every_layer_network()
    rng = np.random.default_rng(3)
    X, C = rng.normal(size=(20, 4)), rng.integers(0, 7, (20, 1))
    bn = next(layer for layer in net.layers if isinstance(layer, cr.BatchNorm))
    bn.running_mean, bn.running_var = rng.normal(size=4), rng.uniform(0.5, 2.0, 4)
    net.save(tmp_path / "all.safetensors")
    loaded = cr.load(tmp_path / "all.safetensors")
    assert [type(a) for a in loaded.layers] == [type(b) for b in net.layers]
    assert [a.get_config() for a in loaded.layers] == [b.get_config() for b in net.layers]
    np.testing.assert_array_equal(loaded.eval()([X, C]), net.eval()([X, C]))


def test_a_file_entry_is_the_layer_s_get_config():
    net = _every_layer_network()
    arch = cr.serialization.architecture(net)
    for entry, layer in zip(arch["layers"], net.layers, strict=True):
        if isinstance(layer, cr.Activation):
            assert entry == {
                "type": "activation",
                "config": {"name": layer.name, "config": layer.get_config()},
            }
        else:
            assert entry == {"type": layer.name, "config": layer.get_config()}


def test_a_subclass_of_a_builtin_layer_is_refused_by_name(tmp_path):
    class Wide(cr.Dense):
        pass

    net = cr.Sequential(Wide(2, 2), seed=0)
    with pytest.raises(ValueError, match=r"cannot save layer .*only chainrule's built-in layers"):
        net.save(tmp_path / "w.safetensors")
    custom = cr.Sequential(cr.Dense(2, 2, activation=type("Mine", (cr.ReLU,), {})()), seed=0)
    with pytest.raises(ValueError, match="cannot save the custom activation"):
        custom.save(tmp_path / "c.safetensors")


# -- files written by main at d80d84a, before layer entries came from get_config -----------------
def _fixtures():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fixtures", DATA / "make_format_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_stack_file_from_main_loads_and_answers_as_it_did():
    pytest.importorskip("safetensors")
    want = np.load(DATA / "stack_d80d84a_expected.npz")
    net = cr.load(DATA / "stack_d80d84a.safetensors")
    assert net.loss_ == "cross_entropy" and net.dtype == np.float64
    np.testing.assert_array_equal(net(want["X"]), want["out"])


def test_a_graph_file_from_main_loads_and_answers_as_it_did():
    pytest.importorskip("safetensors")
    want = np.load(DATA / "graph_d80d84a_expected.npz")
    net = cr.load(DATA / "graph_d80d84a.safetensors")
    out1, out2 = net([want["X"], want["C"]])
    np.testing.assert_array_equal(out1, want["out1"])
    np.testing.assert_array_equal(out2, want["out2"])


@pytest.mark.parametrize("kind", ["stack", "graph"])
def test_today_s_code_writes_the_same_architecture_as_main(kind):
    pytest.importorskip("safetensors")
    old = cr.serialization.read_metadata(DATA / f"{kind}_d80d84a.safetensors")["architecture"]
    net = getattr(_fixtures(), kind)()
    new = json.loads(json.dumps(cr.serialization.architecture(net)))
    assert new["layers"] == old["layers"]
    assert new.get("graph", {}).get("nodes") == old.get("graph", {}).get("nodes")


# -- the playground describes its layers by get_config ------------------------------------------
def test_the_playground_widths_are_the_layers_get_config():
    from chainrule.playground.session import Session, validate

    s = Session()
    s.configure(
        validate({"type": "config", "dataset": "blobs", "hidden": [5, 4], "activation": "relu"})
    )
    widths = s.frame()["widths"]
    assert widths == [len(s.features), 5, 4, 3]  # blobs: three classes
    configs = [layer.get_config() for layer in s.net.layers]
    assert widths == [configs[0]["in_features"], *(c["out_features"] for c in configs)]
    assert [c["activation"] for c in configs] == [
        {"name": "relu", "config": {}},
        {"name": "relu", "config": {}},
        None,
    ]

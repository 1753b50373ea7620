"""Model files: safetensors + JSON, bit-identical round trips, atomic writes, no pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr

safetensors = pytest.importorskip("safetensors")


def _net(dtype=np.float32):
    return cr.Sequential(
        cr.Dense(5, 8, activation=cr.LeakyReLU(0.2)),
        cr.BatchNorm(8),
        cr.Dropout(0.3),
        cr.Dense(8, 6, activation=cr.GELU(approximate="tanh")),
        cr.Softplus(beta=2.0),
        cr.Dense(6, 3),
        seed=3,
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_identical(tmp_path, dtype):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), rng.integers(0, 3, 40)
    net = _net(dtype)
    net.fit(X, y, loss="cross_entropy", epochs=2, batch_size=8, metrics=["accuracy"])
    path = tmp_path / "model.safetensors"
    net.save(path)
    loaded = cr.load(path)
    assert loaded.dtype == dtype and loaded.loss_ == "cross_entropy"
    assert [repr(a) for a in loaded.layers] == [repr(b) for b in net.layers]
    assert np.array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert np.array_equal(loaded.predict(X), net.predict(X))
    np.testing.assert_array_equal(loaded[1].running_var, net[1].running_var)
    # training continues from the loaded network
    h = loaded.fit(X, y, epochs=1, batch_size=8)
    assert np.isfinite(h["loss"][0])


def test_file_is_plain_safetensors_with_chainrule_metadata(tmp_path):
    from safetensors import safe_open

    net = _net()
    path = tmp_path / "m.safetensors"
    net.save(path)
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
        keys = set(f.keys())
        w0 = f.get_tensor("0.weight")
    assert meta["format"] == "chainrule" and meta["format_version"] == "1"
    arch = json.loads(meta["architecture"])
    assert [layer["type"] for layer in arch["layers"]] == [
        "dense",
        "batch_norm",
        "dropout",
        "dense",
        "activation",
        "dense",
    ]
    assert arch["layers"][0]["config"]["activation"] == {
        "name": "leaky_relu",
        "config": {"negative_slope": 0.2},
    }
    assert keys == {
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "3.weight",
        "3.bias",
        "5.weight",
        "5.bias",
    }
    np.testing.assert_array_equal(w0, net[0].weight.value)
    assert b"pickle" not in path.read_bytes()[:200]


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    _net().save(path)
    before = path.read_bytes()
    import safetensors.numpy as st

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(st, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        cr.Sequential(cr.Dense(5, 2), seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        cr.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        cr.load(bad)
    import safetensors.numpy as st

    other = tmp_path / "other.safetensors"
    st.save_file({"w": np.zeros(3)}, str(other))
    with pytest.raises(ValueError, match="not a chainrule model"):
        cr.load(other)


def test_custom_activation_cannot_be_saved(tmp_path):
    cube = cr.activation_from_functions(lambda z: z**3, lambda z, a: 3 * z**2, name="cube")
    net = cr.Sequential(cr.Dense(2, 2, activation=cube), seed=0)
    with pytest.raises(ValueError, match="a model file holds no code"):
        net.save(tmp_path / "m.safetensors")


def test_model_checkpoint_saves_the_best_epoch(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    Xv, yv = rng.normal(size=(20, 5)), rng.integers(0, 3, 20)
    net = _net()
    ckpt = cr.ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss")
    h = net.fit(X, y, loss="cross_entropy", epochs=8, validation_data=(Xv, yv), callbacks=[ckpt])
    best = min(h["val_loss"])
    saved = cr.load(tmp_path / "best.safetensors")
    assert saved.evaluate(Xv, yv)["loss"] == pytest.approx(best, rel=1e-6)

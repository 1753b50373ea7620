"""Model files: safetensors + JSON, bit-identical round trips, atomic writes, no pickle,
format versions, preprocessing and history metadata, and checkpoints that resume exactly."""

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
    assert meta["format"] == "chainrule" and meta["format_version"] == "2"
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
    import errno
    import os

    real_write = os.write

    def broken(fd, data):  # half of the bytes land, then the disk is full
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", broken)
    with pytest.raises(OSError, match=f"could not save {path}: disk full"):
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


# -- format versions, metadata, clear errors ----------------------------------------------------
def _rewrite(src, dst, **changes):
    """Copy a model file, changing (or with None removing) metadata entries."""
    import safetensors.numpy as st
    from safetensors import safe_open

    with safe_open(str(src), framework="np") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    st.save_file(tensors, str(dst), metadata=meta)


def test_format_1_files_still_load(tmp_path):
    net = _net()
    net.save(tmp_path / "new.safetensors")
    _rewrite(tmp_path / "new.safetensors", tmp_path / "v1.safetensors", format_version="1")
    loaded = cr.load(tmp_path / "v1.safetensors")
    X = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_array_equal(loaded.eval()(X), net.eval()(X))
    assert loaded.preprocessing_ is None and loaded.history_ is None


def test_newer_format_is_refused_with_upgrade_advice(tmp_path):
    _net().save(tmp_path / "m.safetensors")
    _rewrite(tmp_path / "m.safetensors", tmp_path / "future.safetensors", format_version="5")
    with pytest.raises(ValueError, match=r"newer chainrule \(model format 5\).*upgrade"):
        cr.load(tmp_path / "future.safetensors")
    _rewrite(tmp_path / "m.safetensors", tmp_path / "odd.safetensors", format_version="x")
    with pytest.raises(ValueError, match="unknown chainrule model format version 'x'"):
        cr.load(tmp_path / "odd.safetensors")


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -10])
def test_truncated_file_says_truncated(tmp_path, keep):
    path = tmp_path / "m.safetensors"
    _net().save(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(ValueError, match="not a readable safetensors file") as info:
        cr.load(cut)
    if keep > 8:
        assert "truncated" in str(info.value)


def test_text_file_is_not_a_model(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a chainrule model file"):
        cr.load(path)
    with pytest.raises(ValueError, match="is not a file"):
        cr.load(tmp_path)


def test_preprocessing_and_history_are_stored(tmp_path):
    from chainrule.serialization import read_metadata

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, 30)
    net = _net()
    h = net.fit(X, y, loss="cross_entropy", epochs=2, batch_size=10)
    net.preprocessing_ = {"mean": [0.5] * 5, "scale": [2.0] * 5, "classes": ["a", "b", "c"]}
    net.history_ = h.history
    net.save(tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors")
    assert loaded.preprocessing_ == net.preprocessing_
    assert loaded.history_ == h.history
    meta = read_metadata(tmp_path / "m.safetensors")
    assert meta["format_version"] == "2" and meta["optimizer"] is None
    assert meta["preprocessing"]["classes"] == ["a", "b", "c"]
    assert meta["tensors"]["0.weight"] == [5, 8]


def test_unserialisable_preprocessing_is_a_clear_error(tmp_path):
    net = _net()
    net.preprocessing_ = {"mean": np.zeros(5)}
    with pytest.raises(ValueError, match="not JSON data"):
        net.save(tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


def test_saved_file_gets_normal_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        path = tmp_path / "m.safetensors"
        _net().save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)  # an existing file keeps its mode
        _net().save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)


# -- checkpoints ------------------------------------------------------------------------------
def _resumable_net():
    return cr.Sequential(
        cr.Dense(5, 8, activation="tanh"),
        cr.BatchNorm(8),
        cr.Dense(8, 3),
        seed=4,
    )


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: cr.Adam(p, lr=1e-2, weight_decay=1e-3, amsgrad=True),
        lambda p: cr.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        lambda p: cr.RMSprop(p, lr=1e-3, centered=True, momentum=0.5),
    ],
    ids=["adam", "sgd", "rmsprop"],
)
def test_checkpoint_resumes_bit_for_bit(tmp_path, make_opt):
    from chainrule.serialization import load_checkpoint, save

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, 64)
    Xv, yv = rng.normal(size=(16, 5)), rng.integers(0, 3, 16)
    kw = dict(batch_size=16, shuffle=False, validation_data=(Xv, yv), metrics=["accuracy"])

    straight = _resumable_net()
    opt = make_opt(straight.parameters())
    h4 = straight.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=4, **kw)

    first = _resumable_net()
    opt1 = make_opt(first.parameters())
    h2 = first.fit(X, y, loss="cross_entropy", optimizer=opt1, epochs=2, **kw)
    save(first, tmp_path / "ckpt.safetensors", optimizer=opt1)
    del first, opt1

    resumed, opt2 = load_checkpoint(tmp_path / "ckpt.safetensors")
    assert type(opt2) is type(opt) and opt2.step_count == 2 * 4
    h2b = resumed.fit(X, y, optimizer=opt2, epochs=2, **kw)  # loss comes from the file

    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(straight[1].running_mean, resumed[1].running_mean)
    np.testing.assert_array_equal(straight[1].running_var, resumed[1].running_var)
    assert h2["loss"] + h2b["loss"] == h4["loss"]
    assert h2["val_loss"] + h2b["val_loss"] == h4["val_loss"]
    sa, sb = opt.state_dict(), opt2.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key])


def test_checkpoint_file_is_also_a_plain_model(tmp_path):
    from safetensors import safe_open

    from chainrule.serialization import load_checkpoint, save

    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(20, 5)), rng.integers(0, 3, 20)
    net = _resumable_net()
    opt = cr.Adam(net.parameters(), lr=1e-2)
    net.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=5)
    path = tmp_path / "ckpt.safetensors"
    save(net, path, optimizer=opt)
    with safe_open(str(path), framework="np") as f:
        keys = set(f.keys())
        meta = json.loads(f.metadata()["optimizer"])
    assert "optimizer.state.0.exp_avg" in keys and meta["name"] == "adam"
    assert meta["scalars"]["step"] == 4 and meta["scalars"]["lr"] == 1e-2
    plain = cr.load(path)  # optimizer tensors are ignored
    np.testing.assert_array_equal(plain.predict(X), net.predict(X))

    net.save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(tmp_path / "plain.safetensors")


def test_checkpoint_refuses_a_foreign_optimizer(tmp_path):
    from chainrule.serialization import save

    net, other = _resumable_net(), _resumable_net()
    with pytest.raises(ValueError, match="built for other parameters"):
        save(net, tmp_path / "c.safetensors", optimizer=cr.Adam(other.parameters()))

    class MyAdam(cr.Adam):
        pass

    with pytest.raises(ValueError, match="only chainrule's built-in optimizers"):
        save(net, tmp_path / "c.safetensors", optimizer=MyAdam(net.parameters()))
    assert not list(tmp_path.iterdir())


def test_load_gives_an_inference_ready_network_and_a_checkpoint_a_training_one(tmp_path):
    pytest.importorskip("safetensors")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    net = cr.Sequential(
        cr.Dense(5, 32, activation="relu"),
        cr.Dropout(0.5),
        cr.BatchNorm(32),
        cr.Dense(32, 2),
        seed=0,
    )
    opt = cr.SGD(net.parameters(), lr=0.1)
    net.fit(X, (X[:, 0] > 0).astype(int), loss="cross_entropy", optimizer=opt, epochs=2)
    assert net.training  # fit leaves the modes as they were
    net.save(tmp_path / "m.safetensors", optimizer=opt)

    loaded = cr.load(tmp_path / "m.safetensors")
    assert not any(layer.training for layer in loaded.layers)
    first, second = loaded(X), loaded(X)  # no dropout mask, running BatchNorm statistics
    np.testing.assert_array_equal(first, second)
    inferred = X
    for layer in loaded.layers:
        inferred = layer.infer(inferred)
    np.testing.assert_allclose(first, inferred, rtol=1e-5, atol=1e-6)  # as predict computes it

    resumed, _ = cr.load_checkpoint(tmp_path / "m.safetensors")
    assert all(layer.training for layer in resumed.layers)
    assert not np.array_equal(resumed(X), resumed(X))  # dropout draws a new mask each time


def test_a_relu_subclass_with_its_own_f_is_not_fused():
    class ReLU6(cr.ReLU):
        name = "relu6"

        def f(self, z):
            return np.minimum(np.maximum(z, 0), 6)

        def f_(self, z):
            return self.f(z)

    z = np.full((64, 128), 10.0, np.float32)  # large enough for the fused loop
    with cr.kernels.use("auto"):
        out = ReLU6().bias_f_(z.copy(), np.zeros(128, np.float32))
    assert out.max() == 6


@pytest.mark.parametrize("validation", [None, "split"])
def test_checkpoint_resumes_shuffling_and_dropout_bit_for_bit(tmp_path, validation):
    """Shuffled batches, Dropout masks and a validation split: the resumed run is the same."""
    pytest.importorskip("safetensors")
    X, y = cr.datasets.spirals(240, seed=2)
    extra = {"validation_split": 0.25} if validation else {}

    def make():
        net = cr.Sequential(
            cr.Dense(2, 32, activation="relu"), cr.Dropout(0.3), cr.Dense(32, 3), seed=11
        )
        return net, cr.Adam(net.parameters(), lr=0.01)

    straight, opt = make()
    full = straight.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=4, batch_size=32, **extra)

    first, opt = make()
    first.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=32, **extra)
    first.save(tmp_path / "ckpt.safetensors", optimizer=opt)
    assert cr.serialization.read_metadata(tmp_path / "ckpt.safetensors")["format_version"] == "3"
    resumed, opt = cr.load_checkpoint(tmp_path / "ckpt.safetensors")
    rest = resumed.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=32, **extra)

    assert rest.history["loss"] == full.history["loss"][2:]
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_plain_model_file_stays_format_2_and_bad_generator_states_are_refused(tmp_path):
    pytest.importorskip("safetensors")
    net = cr.Sequential(cr.Dense(2, 4), cr.Dropout(0.5), cr.Dense(4, 1), seed=0)
    opt = cr.SGD(net.parameters(), lr=0.1)
    net.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer=opt, epochs=1)
    net.save(tmp_path / "plain.safetensors")
    assert cr.serialization.read_metadata(tmp_path / "plain.safetensors")["format_version"] == "2"
    net.save(tmp_path / "ckpt.safetensors", optimizer=opt)
    meta = cr.serialization.read_metadata(tmp_path / "ckpt.safetensors")
    assert meta["random"]["shuffle"]["bit_generator"] == "PCG64"
    random = meta["random"]
    random["shuffle"]["bit_generator"] = "os.system"
    _rewrite(tmp_path / "ckpt.safetensors", tmp_path / "bad.safetensors", random=json.dumps(random))
    with pytest.raises(ValueError, match="names an unknown random generator 'os.system'"):
        cr.load_checkpoint(tmp_path / "bad.safetensors")
    cr.load(tmp_path / "bad.safetensors")  # a plain load never reads the training randomness

    import safetensors.numpy as st
    from safetensors import safe_open

    with safe_open(str(tmp_path / "ckpt.safetensors"), framework="np") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    tensors["random.shuffle_order"] = np.full(8, 99, np.int64)  # would be clipped silently
    st.save_file(tensors, str(tmp_path / "order.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="shuffle_order that is not a permutation of the rows"):
        cr.load_checkpoint(tmp_path / "order.safetensors")

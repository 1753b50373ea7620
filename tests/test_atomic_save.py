"""Saves leave nothing behind: one atomic writer, stale temporaries cleaned, disk full said plainly.

The kill -9 loop: a child process saves the same model file over and over;
the parent kills it with SIGKILL at random moments. After every kill the
target must load as a whole model, and after the next successful save no
temporary file of the target may remain.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.atomic import SaveError, stale_temp_files, write_atomic

pytest.importorskip("safetensors")


def _net(seed=0):
    return cr.Sequential(cr.Dense(20, 64, activation="relu"), cr.Dense(64, 3), seed=seed)


def _temporaries(folder, name="model.safetensors"):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def test_the_temporary_is_named_after_the_target_and_removed(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    _net().save(tmp_path / "model.safetensors")
    assert len(seen) == 1
    name = seen[0]
    assert name.startswith(f".model.safetensors.{os.getpid()}.") and name.endswith(".tmp")
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_disk_full_keeps_the_old_file_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    _net(0).save(path)
    before = path.read_bytes()
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data[:100]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(SaveError) as info:
        _net(1).save(path)
    assert str(info.value) == f"could not save {path}: disk full"
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]
    cr.load(path)


@pytest.mark.parametrize("kind", ["onnx", "predictions", "plot"])
def test_every_writer_goes_through_the_atomic_helper(tmp_path, monkeypatch, kind):
    """ONNX files, prediction CSVs and figures report a full disk the same way."""
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    if kind == "onnx":
        pytest.importorskip("onnx")
        path = tmp_path / "m.onnx"
        path.write_bytes(b"old")
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(SaveError, match="disk full"):
            cr.export.to_onnx(_net(), path)
    elif kind == "predictions":
        from chainrule.cli import _atomic_write_text

        path = tmp_path / "p.csv"
        path.write_bytes(b"old")
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(SaveError, match="disk full"):
            _atomic_write_text(path, "a,b\n" * 1000)
    else:
        pytest.importorskip("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure()
        path = tmp_path / "f.png"
        path.write_bytes(b"old")
        calls = []

        def fail_savefig(f, **kwargs):
            calls.append(kwargs)
            f.write(b"half a png")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(fig, "savefig", fail_savefig)
        from chainrule.plots import _finish

        with pytest.raises(SaveError, match="disk full"):
            _finish(fig, path)
        plt.close(fig)
        assert calls
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [path.name]


def test_stale_temporaries_of_dead_writers_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = tmp_path / f".model.safetensors.{pid}.0123456789ab.tmp"
    stale.write_bytes(b"x" * 1000)
    alive = tmp_path / f".model.safetensors.{os.getppid()}.0123456789ab.tmp"  # a live writer
    alive.write_bytes(b"y")
    other = tmp_path / f".other.safetensors.{pid}.0123456789ab.tmp"  # another target's
    other.write_bytes(b"z")
    legacy_old = tmp_path / ".model.safetensors.k3j_x9a2.tmp"  # an old chainrule's mkstemp
    legacy_old.write_bytes(b"old")
    os.utime(legacy_old, (time.time() - 7200, time.time() - 7200))
    legacy_new = tmp_path / ".model.safetensors.q8w7e6r5.tmp"  # maybe still being written
    legacy_new.write_bytes(b"new")
    assert sorted(stale_temp_files(tmp_path / "model.safetensors")) == sorted([legacy_old, stale])
    _net().save(tmp_path / "model.safetensors")
    assert not stale.exists() and not legacy_old.exists()
    assert alive.exists() and other.exists() and legacy_new.exists()


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        write_atomic(tmp_path / "nope" / "x.bin", b"1")


def _save_forever(path, ready: int) -> None:
    """The child: save the same file over and over, each save different (bias = its number);
    writes one byte to ``ready`` after its first save."""
    net = cr.Sequential(cr.Dense(200, 500, activation="relu"), cr.Dense(500, 3), seed=0)
    i = 0
    while True:
        net.layers[1].bias.value[:] = i
        net.save(path)
        if i == 0:
            os.write(ready, b".")
        i += 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL (POSIX)")
def test_kill_9_during_saves_never_leaves_a_broken_model_nor_piles_of_temporaries(tmp_path):
    path = tmp_path / "model.safetensors"
    _net().save(path)
    rng = np.random.default_rng(0)
    kills, seen_biases = 0, set()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        read, write = os.pipe()
        pid = os.fork()  # a forked child starts saving at once (no interpreter start-up)
        if pid == 0:
            try:
                os.close(read)
                _save_forever(path, write)
            finally:
                os._exit(1)
        os.close(write)
        assert os.read(read, 1) == b"."  # it has saved once: now kill it mid-loop
        os.close(read)
        time.sleep(rng.uniform(0.0, 0.1))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        kills += 1
        net = cr.load(path)  # whole: every check of the loader passes
        if net.n_parameters() == 200 * 500 + 500 + 500 * 3 + 3:
            bias = net.layers[1].bias.value
            assert np.all(bias == bias[0])  # one save's bytes, not a mix of two
            seen_biases.add(float(bias[0]))
        else:
            assert net.n_parameters() == 20 * 64 + 64 + 64 * 3 + 3  # the first file
        assert len(_temporaries(tmp_path)) <= 1  # at most the one the kill interrupted
    print(f"{kills} kills, {len(seen_biases)} different saves seen whole")
    assert kills >= 10
    assert len(seen_biases) >= 2  # the children did replace the file, many times
    _net().save(path)  # the next successful save removes what the killed writers left
    assert _temporaries(tmp_path) == []
    assert os.listdir(tmp_path) == ["model.safetensors"]

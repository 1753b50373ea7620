"""Atomic file writes: the one way chainrule puts a file on disk.

Every file chainrule writes (model files, predictions, plots, ONNX and
TorchScript exports) goes through ``write_atomic``:

1. the bytes go to a temporary file *next to* the target, named after it:
   ``.<name>.<pid>.<random>.tmp`` (same folder, so the rename below stays on
   one file system);
2. the temporary file is flushed to disk (``fsync``) and renamed over the
   target with ``os.replace``, which is atomic: a reader sees the old file or
   the new one, never half of one;
3. on any error the temporary file is removed and an existing target is left
   as it was. A full disk is reported as ``could not save <path>: disk full``.

A process killed in the middle (``kill -9``, a power cut) cannot clean up
after itself, so the next write of the same target removes the temporary
files of that target left by processes that no longer run (and those of
older chainrule versions, ``.<name>.<8 characters>.tmp``, once an hour old).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["SaveError", "write_atomic", "stale_temp_files"]


class SaveError(OSError):
    """A file could not be written; the message says why and the old file is untouched."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(r"\." + re.escape(name) + r"\.(\d+)\.[0-9a-f]{12}\.tmp")


def _legacy_pattern(name: str) -> re.Pattern:
    """Temporaries of chainrule versions before this writer (``tempfile.mkstemp`` names)."""
    return re.compile(r"\." + re.escape(name) + r"\.[A-Za-z0-9_]{8}\.tmp")


#: A legacy temporary (no writer pid in its name) this old is left by a dead writer.
LEGACY_AGE_S = 3600.0


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (someone else's): not ours to judge
    return True


def stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files of ``path`` left by writers that no longer run.

    A temporary of this writer (``.<name>.<pid>.<random>.tmp``) is stale when
    its process is gone; one of older chainrule versions when it is older
    than ``LEGACY_AGE_S`` seconds.

    Parameters
    ----------
    path : str or os.PathLike
        The target file whose directory is scanned for its temporaries.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    pattern, legacy = _temp_pattern(path.name), _legacy_pattern(path.name)
    stale = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and not _alive(int(match.group(1))):
            stale.append(directory / entry.name)
        elif legacy.fullmatch(entry.name):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_AGE_S:
                    stale.append(directory / entry.name)
            except OSError:
                pass
    return stale


def _file_mode(path: Path) -> int:
    """The mode ``path`` keeps if it exists, else what ``open(path, "w")`` would create."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_atomic(path: str | os.PathLike, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : str or path-like
        The target; its folder must exist.
    data : bytes, str or callable
        The content (``str`` is written as UTF-8), or a function that writes
        it to the binary file object it is given (e.g. ``fig.savefig``).

    Raises
    ------
    FileNotFoundError
        The folder of ``path`` does not exist.
    SaveError
        The disk is full (``could not save <path>: disk full``) or another
        operating-system error stopped the write; an existing ``path`` is kept.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {directory} does not exist")
    for stale in stale_temp_files(path):
        stale.unlink(missing_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if callable(data):
                with os.fdopen(os.dup(fd), "wb") as f:
                    data(f)
                    f.flush()
            else:
                _write_all(fd, data)
            if hasattr(os, "fchmod"):  # POSIX: the mode open(path, "w") would give
                os.fchmod(fd, _file_mode(path))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, SaveError):
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SaveError(errno.ENOSPC, f"could not save {path}: disk full") from exc
            if not isinstance(exc, FileNotFoundError):
                reason = exc.strerror or str(exc)
                raise SaveError(exc.errno, f"could not save {path}: {reason}") from exc
        raise
    return path

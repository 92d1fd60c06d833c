"""Processes and locks of a build: one build at a time per checkout, nothing left running after it.

* :func:`build_lock` is an ``fcntl`` lock on ``_build/build.lock``. The kernel releases it when the holder dies,
  however it dies, so there is never a stale lock to remove by hand.
* :func:`die_with_parent` asks Linux to kill a process when its parent ends (``PR_SET_PDEATHSIG``): the pool
  workers, the warm-kernel factory and its kernels use it, so a build killed with SIGKILL takes them along.
* :func:`end_recorded` ends a warm-kernel factory a killed build left behind (on systems without
  ``PR_SET_PDEATHSIG``), identified by PID *and* start time so that a reused PID is never hit, and removes its
  temporary folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Iterator, TextIO

from .warmkernel import die_with_parent  # noqa: F401  (one implementation; warmkernel.py runs as a script too)

LOCK_NAME = "build.lock"
_held: dict[tuple[int, str], int] = {}  # (pid, build folder) -> depth: the build functions nest (build -> execute)
_PID_WIDTH = 10  # the PID is written at a fixed width, so a reader never sees half of it


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, _PID_WIDTH + 1, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


@contextlib.contextmanager
def build_lock(build_dir: Path, *, wait: bool = True, err: TextIO | None = None) -> Iterator[None]:
    """Hold the checkout's build lock for the duration of the ``with`` block.

    When another process holds it: print "another build is running (PID …); waiting …" to ``err`` and wait, or,
    with ``wait=False``, raise :class:`~clusterkrise.build.BuildError` with that message.
    """
    from .build import BuildError

    key = (os.getpid(), os.path.abspath(build_dir))
    if key in _held:  # this process holds it already (build() calls execute() and render_step())
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    err = err or sys.stderr
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(build_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise BuildError(
            "build", f"cannot create the build lock in {build_dir}: {error.strerror}; make the folder writable"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"another build is running (PID {_holder(fd)}) in this checkout"
            if not wait:
                raise BuildError("build", f"{message}; wait until it has finished, or leave out --no-wait") from None
            print(f"{message}; waiting …", file=err, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, f"{os.getpid():>{_PID_WIDTH}}\n".encode("ascii"), 0)
        os.ftruncate(fd, _PID_WIDTH + 1)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock (forked workers that still share it end with the build)


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def record(path: Path, pid: int, folder: Path | None = None) -> None:
    """Note a long-running helper process (and its temporary folder) so that a later build can end it."""
    payload = {
        "pid": pid, "start": _start_time(pid), "folder": str(folder) if folder else None,
        "owner": os.getpid(), "owner_start": _start_time(os.getpid()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _running(pid: Any, start: Any) -> bool:
    return isinstance(pid, int) and start is not None and _start_time(pid) == start


def end_recorded(path: Path) -> bool:
    """End the process noted in ``path`` if the build that started it is gone but it still runs (same PID and
    start time), and remove its folder. Returns whether a process was ended. A missing or unreadable note is no
    error: there is nothing to do."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        pid, start, folder = int(payload["pid"]), payload.get("start"), payload.get("folder")
    except (OSError, ValueError, KeyError, TypeError):
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    if _running(payload.get("owner"), payload.get("owner_start")):
        return False  # its build still runs (one started without the lock, e.g. from Python): not stale
    ended = False
    if start is not None and _start_time(pid) == start:
        try:
            os.kill(pid, signal.SIGKILL)
            ended = True
        except OSError:
            pass
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    path.unlink(missing_ok=True)
    return ended

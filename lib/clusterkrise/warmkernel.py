"""Warm Python kernels for the build: fork each notebook's kernel from a process that has already imported the
scientific stack.

A fresh ipykernel spends seconds importing IPython, pandas, matplotlib and scipy before the notebook's first line
runs; with nine notebooks on two cores that dominates the build. Here one *factory* process imports those modules
once and forks a new, single-use kernel per notebook. Every notebook still gets its own process (nothing of one
notebook's state reaches another): the fork only shares what importing the libraries did.

The build's factory can also run *jobs*: a function forked off as soon as the modules it needs are imported, before
the factory's other imports, whose JSON result the build reads (the build's check of the survey file is one).

Jupyter does not need to know: the build writes a kernelspec named ``python3`` into a private JUPYTER_PATH folder
whose command is this file's ``client`` mode. The client asks the factory for a kernel, relays signals to it and
exits with its exit status, so papermill and jupyter_client see an ordinary kernel process. The project's papermill
engine (:mod:`clusterkrise.pmengine`, which the build uses) skips that process: its provisioner asks the factory
itself, through :func:`ask_for_kernel`.

Reviewers get the same outside the build through the kernelspec ``clusterkrise`` (``papermill -k clusterkrise``,
installed into the venv by the setup scripts): there the factory is per user, started by the first kernel, shared
by later papermill runs and ended after ten idle minutes (see "For reviewers" below).

This file runs as a script (``python -P warmkernel.py ...``) and imports nothing from the package (except to
install the kernelspec), so it works with any project's ``lib/`` on PYTHONPATH.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

TYPE_CHECKING = False  # (typing is not imported: a kernel client's start is part of every notebook's)
if TYPE_CHECKING:
    import subprocess

# Every kernel's start runs this file's client mode, which needs only the modules above; the factory, the
# reviewers' kernelspec and the build's Factory import what else they use where they use it (the module's
# imports: 90 -> 30 ms under `python -X importtime`, a part of every notebook's start).

# Always imported in the factory (every kernel needs them); the build adds the modules the notebooks import.
# (ipykernel.debugger pulls in debugpy: a third of a kernel's start-up time. The second line: what
# IPKernelApp.initialize imported in each forked kernel otherwise, ~30 ms.)
KERNEL_MODULES = (
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "sqlite3",
    "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect", "IPython.extensions.storemagic",
    "IPython.utils.wildcard", "pdb", "faulthandler", "resource", "psutil", "tornado.platform.asyncio",
)
KERNEL_NAME = "python3"
JOB_NICENESS = 10  # for the factory's jobs (see _start_job)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(signum: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Have Linux send ``signum`` to this process when its parent ends, however the parent ends (even by SIGKILL,
    which leaves no chance to clean up). A no-op where ``prctl`` is missing; the build then ends a stale factory
    at its next start. ``parent``: the PID expected as parent; if that one ended before the request took effect,
    end now (the signal would never come)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signum)


# ---------------------------------------------------------------------------------------------------------------
# Factory: preload, then fork kernels on request (single-threaded, so forking is safe).


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass


def _run_kernel(request: dict, fds: list[int], factory: int) -> None:
    """In the forked child: become the kernel the client asked for, on the client's stdin/stdout/stderr."""
    die_with_parent(signal.SIGKILL, factory)  # ipykernel's own parent check looks at the client, not at us
    os.setsid()
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.chdir(request["cwd"])
    gc.enable()  # (the factory's imports are frozen: collections here skip them, see serve)
    # ipykernel read JPY_PARENT_PID when the factory imported it; pass it explicitly so that interrupts work.
    parent = request["env"].get("JPY_PARENT_PID")
    extra = [f"--IPKernelApp.parent_handle={parent}"] if parent else []
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    sys.argv = [sys.executable, *request["argv"], *extra]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _kill(pid: int) -> None:
    """Kill a kernel and whatever it started (its own session, once it has called setsid)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


# Imported first, as in a kernel (below); modules that import them later get them as set up here.
_KERNEL_AWARE = ("pandas",)


class _KernelShell:
    kernel = True  # what pandas' console check looks for (pandas.io.formats.console.is_terminal)


class _as_if_in_a_kernel:  # noqa: N801 - used as `with _as_if_in_a_kernel():`, like a contextmanager function
    """Let the preloaded modules see what they would see when a notebook imports them in a kernel. Some decide
    defaults at import time by asking ``get_ipython()`` whether they run in a terminal: pandas, imported in a
    plain process, sets ``display.max_columns`` to 0 (fit the terminal) instead of a kernel's 20, and a forked
    kernel's DataFrame text would come out truncated, unlike a plain kernel's."""

    def __enter__(self) -> None:
        import builtins

        self.had = hasattr(builtins, "get_ipython")
        if not self.had:  # pandas calls it and checks only for a `kernel` attribute; nothing else sees this stand-in
            builtins.get_ipython = _KernelShell

    def __exit__(self, *exc: object) -> None:
        import builtins

        if not self.had:
            del builtins.get_ipython


def _start_job(job: dict, factory: int) -> int:
    """Fork a child that runs ``job`` and writes its JSON result to ``job["result"]``; return its pid.

    ``job``: ``{"call": "module:function", "args": [...], "needs": [modules], "result": path}``. The factory forks
    it as soon as the modules it needs are imported, before its other imports: the build's check of the survey
    file then runs beside them, with pandas already imported, instead of in a process that imports it again."""
    gc.freeze()  # as before a kernel's fork: the child's collections skip what is imported so far
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        die_with_parent(signal.SIGKILL, factory)
        # Below the factory, whose imports every kernel waits for: the job's result is wanted only once the
        # notebooks have run (at the same priority the check took the factory a third of its core).
        os.nice(JOB_NICENESS)
        gc.enable()
        module, _, function = job["call"].partition(":")
        try:
            result = {"value": getattr(__import__(module, fromlist=[function]), function)(*job.get("args", []))}
        except BaseException as error:  # noqa: BLE001 - reported to the build, which names the job
            import traceback

            result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
            code = 1
        _write_result(job["result"], result)
    finally:
        os._exit(code)


def _write_result(path: str, result: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(tmp, path)  # the build sees the whole result or none


def serve(socket_path: str, preload: list[str] | None, build_pid: int | None = None, idle: float | None = None,
          jobs: list[dict] | None = None) -> None:
    """``build_pid``: the build that owns this factory (it dies with it). ``idle``: without one (a reviewer's
    factory), end after that many seconds without a kernel or a request. ``preload`` None: read the list as one
    JSON line from stdin once the kernel's own modules are imported (the build works it out meanwhile).
    ``jobs``: run each in a child of its own as soon as what it needs is imported (:func:`_start_job`)."""
    import contextlib
    import selectors
    import threading
    import traceback

    if build_pid is not None:  # a build killed with SIGKILL takes its factory (and kernels) along
        die_with_parent(signal.SIGKILL, build_pid)
    # Listen first: clients that connect while the modules load wait in the backlog instead of failing.
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(64)
    print("listening", flush=True)
    os.dup2(2, 1)  # nobody reads the start-up pipe any more; a full pipe would block a kernel
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # One BLAS thread per kernel, unless the user chose otherwise (OpenBLAS reads this once, when numpy loads it).
    # The build runs a kernel per core, and OpenBLAS's own threads then wait for a core by spinning on it: the
    # bootstrap's matrix products in notebook 12 cost 2.4 s of CPU instead of 1.6-1.8 s, and even alone the
    # notebook is no faster with two threads (matrices of a few thousand rows).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Python's advice for a process that forks without exec: no collections while importing, and everything
    # imported frozen before the first fork. A kernel's collections then never walk the ~200,000 objects of
    # the libraries (a tenth to a quarter of a second per notebook), nor copy the pages they live on.
    gc.disable()

    def import_all(names: list[str] | tuple[str, ...]) -> None:
        for name in names:
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - the notebook will import it (and report the error) itself
                pass

    factory_pid = os.getpid()
    running_jobs: dict[int, str] = {}  # pid -> result file
    if jobs:  # (what a job's modules import of pandas is then set up as in a kernel, see _as_if_in_a_kernel)
        with _as_if_in_a_kernel():
            import_all(_KERNEL_AWARE)
    for job in jobs or ():
        import_all(job.get("needs", ()))
        running_jobs[_start_job(job, factory_pid)] = job["result"]
    import_all(KERNEL_MODULES)
    if preload is None:
        preload = json.loads(sys.stdin.readline() or "[]")
    if any(name.split(".")[0] in _KERNEL_AWARE for name in preload):
        with _as_if_in_a_kernel():
            import_all(_KERNEL_AWARE)
    import_all(preload)
    gc.freeze()
    if threading.active_count() > 1:  # forking copies only this thread; say so if an import started others
        print(f"warning: preloading started {threading.active_count() - 1} thread(s)", file=sys.stderr, flush=True)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C is for the build, which then stops the factory (SIGTERM); dying first would fail every notebook.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    kernels: dict[int, socket.socket] = {}  # kernel pid -> client connection
    buffers: dict[socket.socket, bytes] = {}
    received_fds: dict[socket.socket, list[int]] = {}
    last_active = time.monotonic()
    while not stopping:
        if idle is not None and not kernels and not buffers and time.monotonic() - last_active > idle:
            break
        for key, _ in selector.select(timeout=1.0):
            last_active = time.monotonic()
            if key.data == "accept":
                conn, _ = server.accept()
                buffers[conn] = b""
                selector.register(conn, selectors.EVENT_READ, "client")
            elif key.data == "signal":
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
            else:
                conn = key.fileobj
                if conn in received_fds:
                    chunk = conn.recv(65536)
                else:
                    chunk, fds, _, _ = socket.recv_fds(conn, 65536, 3)
                    received_fds[conn] = list(fds)
                if not chunk:  # client gone (killed by jupyter_client): its kernel goes too
                    selector.unregister(conn)
                    for pid, owner in list(kernels.items()):
                        if owner is conn:
                            _kill(pid)
                    buffers.pop(conn, None)
                    for fd in received_fds.pop(conn, []):
                        os.close(fd)
                    conn.close()
                    continue
                buffers[conn] += chunk
                if b"\n" in buffers[conn]:
                    request = json.loads(buffers[conn].split(b"\n", 1)[0])
                    buffers[conn] = b""
                    pid = os.fork()
                    if pid == 0:
                        code = 0
                        try:
                            server.close()
                            _run_kernel(request, received_fds[conn], factory_pid)
                        except SystemExit as exit_:
                            code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
                        except BaseException:
                            traceback.print_exc()
                            code = 1
                        finally:
                            os._exit(code)
                    for fd in received_fds[conn]:  # the kernel has them now
                        os.close(fd)
                    received_fds[conn] = []
                    kernels[pid] = conn
                    _send(conn, {"pid": pid})
        # Reap finished kernels and tell their clients the exit status; a job that died without a result gets one.
        while kernels or running_jobs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = kernels.pop(pid, None)
            if conn is not None:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            result = running_jobs.pop(pid, None)
            if result is not None and not os.path.exists(result):
                _write_result(result, {"error": f"the job ended with status {os.waitstatus_to_exitcode(status)} "
                                                f"and no result"})
    if idle is not None:
        # A reviewer's factory removes its socket under the lock that starting one takes: a client that comes
        # now starts a new factory, one already in the backlog reads end-of-file below and does the same.
        import fcntl

        with contextlib.suppress(OSError), open(socket_path.removesuffix(".sock") + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.unlink(socket_path)
    for pid in kernels:
        _kill(pid)
    server.close()
    # Skip the interpreter's clean-up of everything preloaded (a third of a second): the build waits for this exit.
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------------------------------------------------------
# Client: the process jupyter_client starts as "the kernel".


def ask_for_kernel(conn: socket.socket, argv: list[str], cwd: str, env: dict[str, str], fds: list[int]) -> int | None:
    """Ask the factory on ``conn`` for a kernel run with ``argv`` (ipykernel's arguments) in ``cwd`` with ``env``, on
    the standard streams ``fds``; its pid, or None when the factory closed the connection before it forked one (a
    reviewer's factory ending after its idle time). The factory then sends ``{"exit": status}`` on ``conn`` when the
    kernel has ended, and kills the kernel when ``conn`` closes first."""
    request = (json.dumps({"argv": argv, "cwd": cwd, "env": env}) + "\n").encode()
    try:
        socket.send_fds(conn, [request[:32768]], fds)
        if len(request) > 32768:
            conn.sendall(request[32768:])
        first = b""
        while not first.endswith(b"\n"):
            chunk = conn.recv(1)  # byte by byte: what follows the line (the exit status) stays in the socket
            if not chunk:
                return None
            first += chunk
    except OSError:
        return None
    return int(json.loads(first)["pid"])


def _relay(conn: socket.socket, argv: list[str]) -> int | None:
    """Ask the factory on ``conn`` for a kernel, relay signals to it and return its exit status; None when the
    factory closed the connection before it forked one."""
    # The kernel writes where jupyter_client pointed this process's standard streams.
    pid = ask_for_kernel(conn, argv, os.getcwd(), dict(os.environ), [0, 1, 2])
    if pid is None:
        return None
    reader = conn.makefile("r")

    def relay(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, relay)
    while True:
        line = reader.readline()
        if not line:  # factory gone
            return 1
        message = json.loads(line)
        if "exit" in message:
            return int(message["exit"])


def _parent_death() -> None:
    # jupyter_client names itself in JPY_PARENT_PID: when that (papermill's) process dies, so does this client,
    # and the factory then kills the kernel it forked for it.
    parent = os.environ.get("JPY_PARENT_PID", "")
    die_with_parent(signal.SIGKILL, int(parent) if parent.isdigit() else None)


def client(socket_path: str, argv: list[str]) -> int:
    _parent_death()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    status = _relay(conn, argv)
    return 1 if status is None else status


# ---------------------------------------------------------------------------------------------------------------
# For reviewers: the kernelspec USER_KERNEL, whose kernels come from a per-user factory that stays warm between
# papermill runs (like Quarto's Jupyter daemon). It preloads third-party modules only -- never the project's
# library, so an edit of lib/ is always seen -- and is keyed by everything that decides what those imports are
# (interpreter, installed distributions, preload list, this file, PYTHON* variables): a changed venv starts a
# new factory. It ends by itself after IDLE_SECONDS without a kernel.

USER_KERNEL = "clusterkrise"
IDLE_SECONDS = 600.0


def _user_folder(check: bool = True) -> Path:
    """A folder only this user can use (sockets there hand out kernels that run as this user)."""
    import tempfile

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    # (a socket's path has at most 107 bytes; the name takes 30 of them)
    if runtime and len(runtime) < 60 and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        folder = Path(runtime) / "clusterkrise-kernels"
    else:
        folder = Path(tempfile.gettempdir()) / f"clusterkrise-kernels-{os.getuid()}"
    if not check:
        return folder
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not os.path.isdir(folder) or folder.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(f"{folder} is not a private folder of this user")
    return folder


def user_factory_key(preload: list[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    environment = {k: v for k, v in sorted(os.environ.items()) if k.startswith("PYTHON") or k == "MPLBACKEND"}
    digest.update(json.dumps([sys.executable, os.path.realpath(sys.executable), sys.version, sys.prefix,
                              sorted(preload), environment, sys.path]).encode())
    digest.update(Path(__file__).read_bytes())
    for entry in sys.path:  # every installed distribution, by name (with version) and time of installation
        try:
            with os.scandir(entry or ".") as entries:
                for item in entries:
                    if item.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                        digest.update(f"{entry}/{item.name}:{item.stat().st_mtime_ns}\n".encode())
        except OSError:
            pass
    return digest.hexdigest()[:24]


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def _start_user_factory(folder: Path, key: str, preload: list[str]) -> socket.socket | None:
    import fcntl
    import subprocess

    path = folder / f"{key}.sock"
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two papermill runs at once: one starts it, the other then connects
        conn = _connect(path)
        if conn is not None:
            return conn
        path.unlink(missing_ok=True)  # left by a factory that was killed
        env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}
        with open(folder / f"{key}.log", "ab") as log:
            # Its own session, so that jupyter_client's kill of this client's process group misses it; no
            # standard stream of papermill's, so that nobody waits for it to close them.
            process = subprocess.Popen(
                [sys.executable, "-P", str(Path(__file__).resolve()), "serve", str(path), json.dumps(preload), "",
                 os.environ.get("CLUSTERKRISE_KERNEL_IDLE", str(IDLE_SECONDS))],
                env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True, close_fds=True,
            )
        assert process.stdout is not None
        line = process.stdout.readline()
        process.stdout.close()
        return _connect(path) if line.strip() == b"listening" else None


def user_factory_connections(preload: list[str]) -> Iterator[socket.socket]:
    """Connections to this user's warm factory for ``preload``, started on first use: a new one for each try, since
    a factory that ends for idleness just as we connect closes the connection before it forks a kernel. OSError when
    there cannot be one (no private runtime folder)."""
    folder = _user_folder()
    key = user_factory_key(preload)
    for _ in range(3):
        conn = _connect(folder / f"{key}.sock") or _start_user_factory(folder, key, preload)
        if conn is None:
            return
        yield conn


def user_kernel(preload: list[str], argv: list[str]) -> int:
    """The kernelspec's command: a kernel from this user's warm factory, started on first use; a plain ipykernel
    when there cannot be one."""
    _parent_death()
    try:
        for conn in user_factory_connections(preload):
            with conn:
                status = _relay(conn, argv)
            if status is not None:
                return status
    except OSError as error:
        print(f"clusterkrise kernel: no warm factory ({error}); starting a plain kernel", file=sys.stderr)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    return 1  # not reached


def stop_user_factories() -> list[int]:
    """End this user's warm factories (they end by themselves after their idle time); returns their PIDs."""
    import contextlib

    import psutil

    folder = str(_user_folder(check=False))
    ended = []
    for process in psutil.process_iter(["cmdline", "uids"]):
        cmdline = process.info["cmdline"] or []
        if (len(cmdline) > 4 and cmdline[2].endswith("warmkernel.py") and cmdline[3] == "serve"
                and os.path.dirname(cmdline[4]) == folder):
            with contextlib.suppress(psutil.Error):
                process.terminate()
                process.wait(10)
                ended.append(process.pid)
    return ended


def install_kernelspec(prefix: str | None = None, preload: list[str] | None = None) -> Path:
    """Write the kernelspec USER_KERNEL into ``prefix`` (default: this interpreter's environment, as
    ``jupyter kernelspec install --sys-prefix`` would). ``preload``: default, what the project's notebooks import
    (third-party modules only)."""
    if preload is None:
        from clusterkrise.build import Layout, discover_notebooks, find_project_root, preload_modules

        layout = Layout(find_project_root())
        preload = preload_modules(discover_notebooks(layout), layout.lib)
    folder = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / USER_KERNEL
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-P", str(Path(__file__).resolve()), "user", json.dumps(sorted(preload)),
                 "-f", "{connection_file}"],
        "display_name": "Python 3 (clusterkrise, warm)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    tmp = folder / f".kernel.json.{os.getpid()}"
    tmp.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "kernel.json")
    return folder


# ---------------------------------------------------------------------------------------------------------------
# Used by the build (imported as clusterkrise.warmkernel).


class Factory:
    """Start a factory and a kernelspec that routes ``python3`` kernels to it; ``env()`` gives the variables a
    papermill process needs to use it. Use as a context manager; leaving it stops the factory and its kernels."""

    def __init__(self, env: dict[str, str], log_path: Path, preload: list[str] | tuple[str, ...] | None = (),
                 jobs: list[dict] | tuple[dict, ...] = ()):
        """``preload`` None: the list comes later, through :meth:`preload` (the factory imports the kernel's own
        modules meanwhile). ``jobs``: ``{"call": "module:function", "args": [...], "needs": [modules]}`` each; the
        factory runs them in children of their own as soon as their modules are imported, before its own imports
        (``job_result(i)`` waits for the i-th one's)."""
        import tempfile

        self._env = env
        self._preload = None if preload is None else list(preload)
        self._log_path = log_path
        self._dir = Path(tempfile.mkdtemp(prefix="ck-kernels-"))  # short path: unix sockets allow ~100 bytes
        self.folder = self._dir
        self.socket_path = str(self._dir / "factory.sock")
        self.process: subprocess.Popen | None = None
        self._jobs = [{**job, "result": str(self._dir / f"job-{i}.json")} for i, job in enumerate(jobs)]

    def start(self) -> "Factory":
        """Start the factory process; :meth:`wait` (or ``with``) waits until it listens. Starting it before other
        slow work of the build (importing papermill) lets its imports run meanwhile."""
        import subprocess

        if self.process is not None:
            return self
        spec_dir = self._dir / "jupyter" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        script = str(Path(__file__).resolve())
        spec = {
            "argv": [sys.executable, "-P", script, "client", self.socket_path, "-f", "{connection_file}"],
            "display_name": "Python 3 (warm, clusterkrise build)",
            "language": "python",
            "interrupt_mode": "signal",
            "metadata": {"debugger": False},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        log = open(self._log_path, "ab")
        later = self._preload is None
        self.process = subprocess.Popen(
            [sys.executable, "-P", script, "serve", self.socket_path, "-" if later else json.dumps(self._preload),
             str(os.getpid()), "", json.dumps(self._jobs)],
            env={**os.environ, **self._env}, stdout=subprocess.PIPE, stderr=log,
            stdin=subprocess.PIPE if later else subprocess.DEVNULL,
        )
        log.close()
        return self

    def preload(self, modules: list[str] | tuple[str, ...]) -> None:
        """Send the list of modules to preload to a factory started without one."""
        assert self.process is not None and self.process.stdin is not None, "start() a factory made with preload=None"
        try:
            self.process.stdin.write((json.dumps(list(modules)) + "\n").encode())
            self.process.stdin.close()
        except OSError:  # it ended already: wait() reports that
            pass

    def wait(self) -> "Factory":
        """Wait until the factory listens (kernels asked for meanwhile wait in its backlog while it imports)."""
        if self.process is None:
            self.start()
        assert self.process is not None
        if self.process.stdout is None or self.process.stdout.closed:
            return self
        line = self.process.stdout.readline()
        self.process.stdout.close()
        if line.strip() != b"listening":
            self.__exit__(None, None, None)
            raise RuntimeError(f"the kernel factory did not start (see {self._log_path})")
        return self

    def job_result(self, index: int, poll: float = 0.01) -> object:
        """What the ``index``-th job returned (JSON round trip); RuntimeError with its traceback if it raised, died
        or the factory ended before it. Polls for the result file, which appears whole."""
        path = Path(self._jobs[index]["result"])
        while not path.is_file():
            if self.process is None or self.process.poll() is not None:
                if path.is_file():
                    break
                raise RuntimeError(f"the kernel factory ended before job {self._jobs[index]['call']} reported "
                                   f"(see {self._log_path})")
            time.sleep(poll)
        result = json.loads(path.read_text(encoding="utf-8"))
        if "error" in result:
            raise RuntimeError(f"{self._jobs[index]['call']}: {result['error']}\n{result.get('traceback', '')}")
        return result["value"]

    def __enter__(self) -> "Factory":
        try:
            return self.start().wait()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def env(self) -> dict[str, str]:
        jupyter_path = os.pathsep.join(p for p in (str(self._dir / "jupyter"), os.environ.get("JUPYTER_PATH", "")) if p)
        return {**self._env, "JUPYTER_PATH": jupyter_path}

    def stop(self) -> None:
        """Ask the factory to end (and its kernels with it) without waiting; ``__exit__`` waits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def __exit__(self, *exc: object) -> None:
        import contextlib
        import shutil
        import subprocess

        for stream in (self.process.stdout, self.process.stdin) if self.process is not None else ():
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


if __name__ == "__main__":
    mode, first, *rest = [*sys.argv[1:], ""][:max(2, len(sys.argv) - 1)]
    if mode == "serve":
        serve(first, None if rest[:1] == ["-"] else json.loads(rest[0]) if rest else [],
              int(rest[1]) if len(rest) > 1 and rest[1] else None,
              float(rest[2]) if len(rest) > 2 and rest[2] else None,
              json.loads(rest[3]) if len(rest) > 3 else None)
    elif mode == "user":
        sys.exit(user_kernel(json.loads(first), rest))
    elif mode == "install":  # python -m clusterkrise.warmkernel install [PREFIX]
        print(f"installed kernelspec {USER_KERNEL!r} in {install_kernelspec(first or None)}")
    elif mode == "stop":  # python -m clusterkrise.warmkernel stop
        print(f"ended {len(stop_user_factories())} warm kernel factory(ies)")
    else:
        sys.exit(client(first, rest))

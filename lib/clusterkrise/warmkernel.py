"""Warm Python kernels for the build: fork each notebook's kernel from a process that has already imported the
scientific stack.

A fresh ipykernel spends seconds importing IPython, pandas, matplotlib and scipy before the notebook's first line
runs; with nine notebooks on two cores that dominates the build. Here one *factory* process imports those modules
once and forks a new, single-use kernel per notebook. Every notebook still gets its own process (nothing of one
notebook's state reaches another): the fork only shares what importing the libraries did.

Jupyter does not need to know: the build writes a kernelspec named ``python3`` into a private JUPYTER_PATH folder
whose command is this file's ``client`` mode. The client asks the factory for a kernel, relays signals to it and
exits with its exit status, so papermill and jupyter_client see an ordinary kernel process.

This file runs as a script (``python -P warmkernel.py ...``) and imports nothing from the package, so it works
with any project's ``lib/`` on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

# Always imported in the factory (every kernel needs them); the build adds the modules the notebooks import.
# (ipykernel.debugger pulls in debugpy: a third of a kernel's start-up time. The second line: what
# IPKernelApp.initialize imported in each forked kernel otherwise, ~30 ms.)
KERNEL_MODULES = (
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "sqlite3",
    "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect", "IPython.extensions.storemagic",
    "IPython.utils.wildcard", "pdb", "faulthandler", "resource", "psutil", "tornado.platform.asyncio",
)
KERNEL_NAME = "python3"
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


def serve(socket_path: str, preload: list[str], build_pid: int | None = None) -> None:
    die_with_parent(signal.SIGKILL, build_pid)  # a build killed with SIGKILL takes its factory (and kernels) along
    # Listen first: clients that connect while the modules load wait in the backlog instead of failing.
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(64)
    print("listening", flush=True)
    os.dup2(2, 1)  # nobody reads the start-up pipe any more; a full pipe would block a kernel
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in (*KERNEL_MODULES, *preload):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - the notebook will import it (and report the error) itself
            pass
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
    factory_pid = os.getpid()
    buffers: dict[socket.socket, bytes] = {}
    received_fds: dict[socket.socket, list[int]] = {}
    while not stopping:
        for key, _ in selector.select(timeout=1.0):
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
        # Reap finished kernels and tell their clients the exit status.
        while kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = kernels.pop(pid, None)
            if conn is not None:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
    for pid in kernels:
        _kill(pid)
    server.close()
    # Skip the interpreter's clean-up of everything preloaded (a third of a second): the build waits for this exit.
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------------------------------------------------------
# Client: the process jupyter_client starts as "the kernel".


def client(socket_path: str, argv: list[str]) -> int:
    # jupyter_client names itself in JPY_PARENT_PID: when that (papermill's) process dies, so does this client,
    # and the factory then kills the kernel it forked for it.
    parent = os.environ.get("JPY_PARENT_PID", "")
    die_with_parent(signal.SIGKILL, int(parent) if parent.isdigit() else None)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    request = (json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}) + "\n").encode()
    # The kernel writes where jupyter_client pointed this process's standard streams.
    socket.send_fds(conn, [request[:32768]], [0, 1, 2])
    if len(request) > 32768:
        conn.sendall(request[32768:])
    reader = conn.makefile("r")
    pid = json.loads(reader.readline())["pid"]

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


# ---------------------------------------------------------------------------------------------------------------
# Used by the build (imported as clusterkrise.warmkernel).


class Factory:
    """Start a factory and a kernelspec that routes ``python3`` kernels to it; ``env()`` gives the variables a
    papermill process needs to use it. Use as a context manager; leaving it stops the factory and its kernels."""

    def __init__(self, env: dict[str, str], log_path: Path, preload: list[str] | tuple[str, ...] = ()):
        self._env = env
        self._preload = list(preload)
        self._log_path = log_path
        self._dir = Path(tempfile.mkdtemp(prefix="ck-kernels-"))  # short path: unix sockets allow ~100 bytes
        self.folder = self._dir
        self.socket_path = str(self._dir / "factory.sock")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Factory":
        """Start the factory process; :meth:`wait` (or ``with``) waits until it listens. Starting it before other
        slow work of the build (importing papermill) lets its imports run meanwhile."""
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
        self.process = subprocess.Popen(
            [sys.executable, "-P", script, "serve", self.socket_path, json.dumps(self._preload), str(os.getpid())],
            env={**os.environ, **self._env}, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )
        log.close()
        return self

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
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


if __name__ == "__main__":
    mode, socket_path, *rest = sys.argv[1:]
    if mode == "serve":
        serve(socket_path, json.loads(rest[0]) if rest else [], int(rest[1]) if len(rest) > 1 else None)
    else:
        sys.exit(client(socket_path, rest))

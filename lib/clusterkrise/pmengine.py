"""A papermill engine for this project's notebooks: papermill's own nbclient engine with changes that cost
nothing but time, used by the build and available to reviewers as ``papermill --engine clusterkrise``.

* **The executed notebook is written once**, when the run ends -- by papermill, which writes it after the engine
  returns (also when a cell failed), or by the engine when the run broke off (the kernel died), in the ``finally``
  papermill ends every run in -- instead of before and after every cell. Each of those writes
  re-validates and re-serialises a notebook that grows with every SVG output: about 0.8 s for notebook 07 alone,
  and nothing reads the intermediate files. (What is lost: watching the output file fill while it runs.)
* **The kernel is started without jupyter_client's fixed waits** (about 0.45 s of every notebook's start,
  measured with a one-cell notebook and warm kernels); the protocol and the kernel are unchanged:

  - the client connects before the kernel has bound its ports, and ZeroMQ retries a refused connection only
    every 100 ms: it retries every 5 ms here;
  - ``wait_for_ready`` sends a new kernel_info request whenever no IOPub message came within 0.2 s of the reply
    (ipykernel's IOPub welcome comes once the subscription is through, often later), and then waits until IOPub
    has been quiet for 0.2 s. Here it waits for the reply and for one IOPub message, which shows IOPub is
    connected, and does not flush: nbclient ignores IOPub messages that answer another request;
  - a graceful shutdown checks every 100 ms whether the kernel has exited: every 10 ms here.
* **The kernel is asked for directly**: a kernelspec whose command is the warm-kernel client
  (:mod:`clusterkrise.warmkernel`: the build's, and the ``clusterkrise`` one of reviewers) gets its kernel from the
  factory through this process's own connection, instead of a client process that connects and relays
  (about 35 ms per notebook: a Python start). The kernel, its arguments, environment, folder and standard streams
  are the ones the client would have asked for; signals go to the kernel's process group, as jupyter_client's own
  provisioner sends them; when this process dies, its connection closes and the factory ends the kernel.
* **The kernel is ended at once** when the last cell is done (nbclient's ``shutdown_kernel="immediate"``) instead
  of being asked to shut down and waited for: 40 ms per notebook with a one-cell notebook. By then every output
  has arrived (nbclient waits for each cell's reply and its idle status), and a cell's files are written by the
  cell itself; what is skipped is the kernel's own clean-up (its IPython history).

The cells, their order, the kernel and every output are papermill's: tests/test_warm_kernelspec.py checks that
the engine gives the same results files and cell outputs as papermill's default engine.

papermill finds the engine through the ``papermill.engine`` entry point of the installed project
(``lib/papermill_clusterkrise.py``), and imports it whenever papermill itself is imported: this module imports
nothing papermill has not imported already.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE_NAME = "clusterkrise"


class QuickKernelClient(AsyncKernelClient):
    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        self.context.setsockopt(zmq.RECONNECT_IVL, 5)
        super().start_channels(*args, **kwargs)

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        reply = None
        while reply is None:
            msg_id = self.kernel_info()
            while time.monotonic() < deadline:
                try:
                    msg = await self.shell_channel.get_msg(timeout=0.5)
                except Empty:
                    break  # the kernel may have missed it while binding: ask again
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "kernel_info_reply":
                    reply = msg
                    break
            if reply is None:
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:  # one IOPub message (the welcome, or the status of the request) shows IOPub is connected
            try:
                await self.iopub_channel.get_msg(timeout=0.5)
                break
            except Empty:
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before IOPub was connected") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel's IOPub did not connect in {timeout:.0f} seconds") from None
                self.kernel_info()  # a status message of a new request arrives on a connected channel
        self._handle_kernel_info_reply(reply)


def _factory_connections(cmd: list[str]):
    """Connections to the factory a warm-kernel client command would ask (one per try), and the arguments it would
    pass on; None for any other command."""
    from . import warmkernel

    if len(cmd) < 5 or cmd[1] != "-P" or Path(cmd[2]).name != "warmkernel.py":
        return None
    mode, target, argv = cmd[3], cmd[4], cmd[5:]
    if mode == "client":  # the build's factory, which runs already
        return _connect_once(target), argv
    if mode == "user":  # a reviewer's factory, started on first use
        return warmkernel.user_factory_connections(json.loads(target)), argv
    return None


def _connect_once(path: str):
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    yield conn


def _stream_fd(stream: Any, inherited: int) -> int | None:
    """The file descriptor a kernel's standard stream gets from jupyter_client's launch argument; None for a pipe
    or another ``subprocess`` constant, which only starting the command can give."""
    if stream is None:
        return inherited
    if isinstance(stream, int):
        return stream if stream >= 0 else None
    return stream.fileno()


class FactoryProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, except for the warm-kernel client command: that kernel is asked for here."""

    conn = None
    kernel_pid: int | None = None
    exit_status: int | None = None
    _unread = b""

    @property
    def has_process(self) -> bool:
        return self.kernel_pid is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        from . import warmkernel

        found = _factory_connections(cmd)
        streams = [_stream_fd(kwargs.get("stdout"), 1), _stream_fd(kwargs.get("stderr"), 2)]
        if found is not None and None not in streams:
            connections, argv = found
            env = dict(kwargs.get("env") or os.environ)
            env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                with open(os.devnull, "rb") as stdin:  # (the launcher gives a pipe it closes at once)
                    fds = [stdin.fileno(), *streams]
                    for conn in connections:
                        pid = warmkernel.ask_for_kernel(conn, argv, cwd, env, fds)
                        if pid is not None:
                            self.conn, self.kernel_pid, self.pid, self.pgid = conn, pid, pid, pid  # its own session
                            self.cwd = cwd
                            return self.connection_info
                        conn.close()
            except OSError:
                pass  # no factory to ask: the command itself starts a kernel (a plain one if it must)
        return await super().launch_kernel(cmd, **kwargs)

    async def poll(self) -> int | None:
        if self.kernel_pid is None:
            return await super().poll()
        if self.exit_status is None and self.conn is not None:
            self.conn.setblocking(False)
            try:
                while True:
                    chunk = self.conn.recv(4096)
                    if not chunk:  # the factory is gone, and with it the kernel
                        self.exit_status = 1
                        break
                    self._unread += chunk
            except BlockingIOError:
                pass
            *lines, self._unread = self._unread.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "exit" in message:
                    self.exit_status = int(message["exit"])
        return self.exit_status

    async def wait(self) -> int | None:
        if self.kernel_pid is None:
            return await super().wait()
        while await self.poll() is None:
            await asyncio.sleep(0.01)
        status = self.exit_status
        self._close()
        self.kernel_pid = None
        return status

    async def send_signal(self, signum: int) -> None:
        if self.kernel_pid is None:
            return await super().send_signal(signum)
        if await self.poll() is None:
            os.killpg(self.kernel_pid, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.kernel_pid is None:
            return await super().kill(restart)
        await self._end(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self.kernel_pid is None:
            return await super().terminate(restart)
        await self._end(signal.SIGTERM)

    async def _end(self, signum: int) -> None:
        try:
            await self.send_signal(signum)
        except ProcessLookupError:  # it ended meanwhile
            pass

    async def cleanup(self, restart: bool = False) -> None:
        self._close()
        await super().cleanup(restart)

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class QuickKernelManager(AsyncKernelManager):
    client_factory = QuickKernelClient

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        # Where jupyter_client would make its local provisioner (the kernelspec names no other one).
        if self.provisioner is None and not self.kernel_spec.metadata.get("kernel_provisioner"):
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = FactoryProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        await AsyncKernelManager._async_wait(self, min(pollinterval, 0.01))


class FinalSaveManager(NotebookExecutionManager):
    # Cleared when the engine returns normally: papermill then writes the notebook itself (with the failing
    # cell marked, if one failed), so a write here would be overwritten unread.
    save_at_end = True

    def save(self, **kwargs: Any) -> None:
        if self.end_time is not None and self.save_at_end:  # end_time: set by notebook_complete() (in a `finally`)
            super().save(**kwargs)


class ClusterkriseEngine(NBClientEngine):
    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        # papermill's Engine.execute_notebook, with the manager above
        nb_man = FinalSaveManager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                  autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            nb_man.save_at_end = False
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        kwargs.setdefault("kernel_manager_class", QuickKernelManager)
        kwargs.setdefault("shutdown_kernel", "immediate")
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


# The build imports this module without relying on the entry point (a checkout used through PYTHONPATH). Always
# (re)registered: when this import is what first imports papermill, papermill loads the entry point while this
# module is half done, and the entry point falls back to papermill's own engine (lib/papermill_clusterkrise.py).
papermill_engines.register(ENGINE_NAME, ClusterkriseEngine)

"""A papermill engine for this project's notebooks: papermill's own nbclient engine with two changes that cost
nothing but time, used by the build and available to reviewers as ``papermill --engine clusterkrise``.

* **The executed notebook is written once**, when the run ends -- also when a cell fails or the kernel dies,
  since papermill ends every run in a ``finally`` -- instead of before and after every cell. Each of those writes
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

import time
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
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


class QuickKernelManager(AsyncKernelManager):
    client_factory = QuickKernelClient

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        await AsyncKernelManager._async_wait(self, min(pollinterval, 0.01))


class FinalSaveManager(NotebookExecutionManager):
    def save(self, **kwargs: Any) -> None:
        if self.end_time is not None:  # set by notebook_complete(), which papermill runs in a `finally`
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

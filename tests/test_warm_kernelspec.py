"""The reviewers' warm kernel (kernelspec ``clusterkrise``, :mod:`clusterkrise.warmkernel` user mode).

``papermill -k clusterkrise`` gets each kernel forked from a per-user factory that keeps the third-party
libraries imported between runs. It must give the bytes the plain ``python3`` kernel gives, survive papermill's
kernel shutdown, never preload the project's own library, start once when two runs start together, and end by
itself when idle. Each test uses its own runtime folder (XDG_RUNTIME_DIR), so its factories are its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from clusterkrise import warmkernel

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = ["numpy", "pandas", "matplotlib.pyplot", "scipy.stats"]


def factories(runtime: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if len(cmdline) > 4 and cmdline[3] == "serve" and cmdline[4].startswith(str(runtime)):
            found.append(process)
    return found


@pytest.fixture
def kernelspec(tmp_path, monkeypatch):
    """The kernelspec installed into a private prefix, found through JUPYTER_PATH; a private runtime folder."""
    prefix = tmp_path / "prefix"
    runtime = Path(tempfile.mkdtemp(prefix="ck-run-"))  # short: a socket's path has at most 107 bytes
    warmkernel.install_kernelspec(str(prefix), PRELOAD)
    env = {"JUPYTER_PATH": str(prefix / "share" / "jupyter"), "XDG_RUNTIME_DIR": str(runtime),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CLUSTERKRISE_DATA_CACHE", raising=False)  # a reviewer's run: the project's data cache
    yield runtime
    warmkernel.stop_user_factories()
    for process in factories(runtime):  # never leave one behind, even when stopping failed
        process.kill()
    shutil.rmtree(runtime, ignore_errors=True)


def papermill(notebook: Path, out: Path, kernel: str, *options: str, **params) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "papermill", str(notebook), str(out), "-k", kernel, *options, "--no-progress-bar",
            "--cwd", str(ROOT)]
    for key, value in params.items():
        argv += ["-p", key, str(value)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def notebook(path: Path, *cells: str) -> Path:
    """A notebook of these code cells for the python3 kernelspec, written to ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def probe(tmp_path: Path) -> Path:
    """A notebook that reports its kernel's process, its parent and whether the project's library is loaded."""
    return notebook(
        tmp_path / "probe.ipynb",
        "import os, sys, json\n"
        "print(json.dumps({'pid': os.getpid(), 'parent': os.getppid(), 'cwd': os.getcwd(),\n"
        "                  'library': sorted(m for m in sys.modules if m.split('.')[0] == 'clusterkrise'),\n"
        "                  'pandas': 'pandas' in sys.modules}))",
    )


def probe_result(out: Path) -> dict:
    cell = json.loads(out.read_text(encoding="utf-8"))["cells"][0]
    return json.loads("".join(cell["outputs"][0]["text"]))


def cell_outputs(executed: Path) -> list:
    return [cell.get("outputs") for cell in json.loads(executed.read_text(encoding="utf-8"))["cells"]]


def test_the_readme_command_gives_the_bytes_of_plain_papermill(kernelspec, tmp_path, monkeypatch):
    """Plain papermill (python3 kernel, default engine, every figure drawn) against the README's command
    (warm kernel, the project's engine, the figure cache): cold factory and empty cache, then warm factory
    and every figure from the cache. Same results files, same cell outputs."""
    runs = [("plain", ["-k", "python3"], "0"),
            ("readme-cold", ["-k", "clusterkrise", "--engine", "clusterkrise"], str(tmp_path / "figures")),
            ("readme-warm", ["-k", "clusterkrise", "--engine", "clusterkrise"], str(tmp_path / "figures"))]
    results, outputs = {}, {}
    for label, (kernel_flag, kernel, *engine), cache in runs:
        monkeypatch.setenv("CLUSTERKRISE_FIGURE_CACHE", cache)
        out = tmp_path / f"{label}.ipynb"
        done = papermill(ROOT / "notebooks" / "06-stichprobe.ipynb", out, kernel, *engine,
                         output_dir=tmp_path / "results")  # one folder: values.json records it
        assert done.returncode == 0, done.stderr[-3000:]
        assert "no warm factory" not in done.stderr
        results[label] = {p.relative_to(tmp_path / "results").as_posix(): p.read_bytes()
                          for p in sorted((tmp_path / "results").rglob("*")) if p.is_file()}
        (tmp_path / "results").rename(tmp_path / f"results-{label}")
        outputs[label] = cell_outputs(out)
        if label == "readme-cold":
            stored = sorted((tmp_path / "figures").glob("*.entry"))
            assert stored, "the README's run stores the figures it drew"
            # a hit renews an entry's time; a figure drawn again would be a new file (written and renamed)
            stamps = {p: p.stat().st_ino for p in stored}
    assert any(name.endswith(".svg") for name in results["plain"]) and any(name.endswith("values.json") for name in results["plain"])
    assert {p: p.stat().st_ino for p in stamps} == stamps, "the warm run took its figures from the cache"
    assert results["plain"] == results["readme-cold"] == results["readme-warm"]
    assert outputs["plain"] == outputs["readme-cold"] == outputs["readme-warm"]
    assert len(factories(kernelspec)) == 1


def test_the_engine_writes_the_failing_cell_into_the_notebook(kernelspec, tmp_path):
    path = notebook(tmp_path / "failing.ipynb", "x = 1", "raise ValueError('kaputt')", "y = 2")
    out = tmp_path / "failing-out.ipynb"
    done = papermill(path, out, "clusterkrise", "--engine", "clusterkrise")
    assert done.returncode != 0 and "kaputt" in done.stderr
    cells = json.loads(out.read_text(encoding="utf-8"))["cells"]
    failed = [c for c in cells if c["cell_type"] == "code" and any(o.get("ename") == "ValueError" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "kaputt" in "".join(failed[0]["source"])


def test_kernels_are_fresh_forks_of_one_factory_that_outlives_papermill_and_holds_no_project_code(kernelspec, tmp_path):
    notebook = probe(tmp_path)
    seen = []
    for run in range(2):
        done = papermill(notebook, tmp_path / f"out{run}.ipynb", "clusterkrise")
        assert done.returncode == 0, done.stderr[-3000:]
        seen.append(probe_result(tmp_path / f"out{run}.ipynb"))
    (factory,) = factories(kernelspec)
    assert factory.is_running(), "papermill's kernel shutdown must not end the factory"
    assert seen[0]["parent"] == seen[1]["parent"] == factory.pid
    assert seen[0]["pid"] != seen[1]["pid"], "every kernel is a process of its own"
    assert seen[0]["pandas"], "the third-party libraries come preloaded"
    assert seen[0]["library"] == [] and seen[1]["library"] == [], "the project's library is never preloaded"
    assert seen[0]["cwd"] == str(ROOT)


def test_two_runs_at_once_start_one_factory(kernelspec, tmp_path):
    notebook = probe(tmp_path)
    argv = lambda n: [sys.executable, "-m", "papermill", str(notebook), str(tmp_path / f"out{n}.ipynb"),
                      "-k", "clusterkrise", "--no-progress-bar"]
    runs = [subprocess.Popen(argv(n), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for n in range(2)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()[-3000:] if run.stderr else ""
    parents = {probe_result(tmp_path / f"out{n}.ipynb")["parent"] for n in range(2)}
    assert len(factories(kernelspec)) == 1 and parents == {factories(kernelspec)[0].pid}


def test_an_idle_factory_ends_by_itself_and_the_next_run_starts_a_new_one(kernelspec, tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERKRISE_KERNEL_IDLE", "1")
    notebook = probe(tmp_path)
    assert papermill(notebook, tmp_path / "first.ipynb", "clusterkrise").returncode == 0
    first = probe_result(tmp_path / "first.ipynb")["parent"]
    deadline = time.monotonic() + 30
    while psutil.pid_exists(first) and psutil.Process(first).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the factory did not end after its idle time"
        time.sleep(0.2)
    assert not list(kernelspec.rglob("*.sock")), "an ended factory removes its socket"
    assert papermill(notebook, tmp_path / "second.ipynb", "clusterkrise").returncode == 0
    assert probe_result(tmp_path / "second.ipynb")["parent"] not in (first, os.getpid())


def test_a_changed_environment_gets_another_factory(monkeypatch):
    key = warmkernel.user_factory_key(PRELOAD)
    assert warmkernel.user_factory_key(PRELOAD) == key
    assert warmkernel.user_factory_key([*PRELOAD, "yaml"]) != key
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    assert warmkernel.user_factory_key(PRELOAD) != key


@pytest.mark.parametrize("engine", [[], ["--engine", "clusterkrise"]], ids=["papermill's engine", "the project's engine"])
def test_without_a_private_runtime_folder_the_kernel_is_a_plain_one(kernelspec, tmp_path, engine):
    shared = kernelspec / "clusterkrise-kernels"
    shared.mkdir()
    shared.chmod(0o777)  # others could hand out kernels here: not used
    done = papermill(probe(tmp_path), tmp_path / "out.ipynb", "clusterkrise", *engine)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no warm factory" in done.stderr
    assert factories(kernelspec) == []
    assert probe_result(tmp_path / "out.ipynb")["pandas"] is False


def test_papermill_still_imports_when_another_clusterkrise_shadows_the_installed_one(tmp_path):
    """papermill loads every engine's entry point when it is imported: a checkout or test project whose own
    ``clusterkrise`` package comes first on PYTHONPATH must not break papermill (its engine is then papermill's)."""
    stand_in = tmp_path / "lib" / "clusterkrise"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("", encoding="utf-8")
    code = "import papermill.engines as e; print(e.papermill_engines.get_engine('clusterkrise').__name__)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "lib")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "NBClientEngine"
    env["PYTHONPATH"] = str(ROOT / "lib")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ClusterkriseEngine"


@pytest.mark.parametrize("engine, client_processes", [("clusterkrise", 0), ("nbclient", 1)])
def test_the_projects_engine_asks_the_factory_for_the_kernel_itself(kernelspec, tmp_path, monkeypatch, engine,
                                                                      client_processes):
    """The project's engine gets the kernel from the factory through its own connection; papermill's engine
    starts the kernelspec's command, a client process that asks the factory and relays (a Python start more)."""
    import papermill as pm
    from jupyter_client.provisioning import local_provisioner

    from clusterkrise import pmengine  # noqa: F401  (registers the engine)

    started = []
    real = local_provisioner.launch_kernel
    monkeypatch.setattr(local_provisioner, "launch_kernel", lambda cmd, **kw: started.append(cmd) or real(cmd, **kw))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(probe(tmp_path)), str(out), kernel_name="clusterkrise", engine_name=engine,
                        progress_bar=False, cwd=str(ROOT))
    (factory,) = factories(kernelspec)
    assert probe_result(out)["parent"] == factory.pid and probe_result(out)["cwd"] == str(ROOT)
    assert len(started) == client_processes


def test_a_kernel_asked_for_directly_can_be_interrupted_and_is_ended_with_its_manager(kernelspec):
    """Interrupts and the immediate shutdown papermill's engine uses reach the kernel the provisioner got from
    the factory; its exit status comes from the factory."""
    import asyncio

    from clusterkrise.pmengine import FactoryProvisioner, QuickKernelManager

    async def scenario():
        manager = QuickKernelManager(kernel_name="clusterkrise")
        await manager.start_kernel()
        assert isinstance(manager.provisioner, FactoryProvisioner)
        kernel = psutil.Process(manager.provisioner.kernel_pid)
        assert kernel.ppid() == factories(kernelspec)[0].pid
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        msg_id = client.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        while True:  # interrupt once the cell runs
            message = await client.get_iopub_msg(timeout=30)
            if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "stream":
                break
        await manager.interrupt_kernel()
        while True:
            reply = await client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert await manager.is_alive(), "an interrupt stops the cell, not the kernel"
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
        assert not manager.has_kernel
        return kernel

    kernel = asyncio.run(scenario())
    assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE


def test_the_projects_engine_writes_the_executed_notebook_once_and_keeps_it_when_the_kernel_dies(kernelspec, tmp_path,
                                                                                                  monkeypatch):
    """A run that ends normally is written by papermill after the engine returns (a write by the engine before it
    would be overwritten unread); a run that breaks off because the kernel died is written by the engine, so the
    build can name the cell the kernel died in."""
    import papermill as pm
    import papermill.engines
    import papermill.execute

    from clusterkrise import pmengine  # noqa: F401  (registers the engine)

    writes = []
    for module in (papermill.engines, papermill.execute):
        real = module.write_ipynb
        monkeypatch.setattr(module, "write_ipynb", lambda nb, path, real=real: writes.append(path) or real(nb, path))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(probe(tmp_path)), str(out), kernel_name="clusterkrise", engine_name="clusterkrise",
                        progress_bar=False)
    assert writes == [str(out)] and probe_result(out)["pandas"]

    path = notebook(tmp_path / "dies.ipynb", "x = 1", "import os\nos._exit(1)", "y = 2")
    died = tmp_path / "died.ipynb"
    writes.clear()
    with pytest.raises(Exception):
        pm.execute_notebook(str(path), str(died), kernel_name="clusterkrise", engine_name="clusterkrise",
                            progress_bar=False)
    assert writes == [str(died)]
    started = [bool(c["metadata"]["papermill"].get("start_time")) for c in nbformat.read(died, 4).cells]
    assert started == [True, True, False], "the notebook shows how far the run came"

"""A build that survives faults (issue 12), on the small fixture project of test_build.py.

Builds that must run as separate processes (two builds at once, a build killed with SIGKILL) run a small driver
that calls ``clusterkrise.cli.main`` with a fake renderer and no data check; a *gate* notebook blocks until the
test opens the gate, so the tests wait for events, never for a length of time.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

from clusterkrise import build as b
from clusterkrise import procs
from clusterkrise.cli import cmd_preview, main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "build"

DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from clusterkrise.cli import main

    def render(project_dir, out_dir, formats=("html", "pdf"), variables=None, executed_dir=None):
        out = Path(out_dir)
        (out / "index.html").write_text("book", encoding="utf-8")
        (out / "book.pdf").write_bytes(b"%PDF-fake")
        return {"html": out / "index.html", "pdf": out / "book.pdf"}

    sys.exit(main(sys.argv[1:], render=render, loader=lambda path: None))
    """
)


def wait_for(condition, what: str, seconds: float = 120.0, poll: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"gave up waiting for {what}")


class FakeRender:
    def __init__(self, error: Exception | None = None):
        self.error = error
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, project_dir, out_dir, formats=("html", "pdf"), variables=None, executed_dir=None):
        out_dir = Path(out_dir)
        self.calls.append(tuple(formats))
        prose = "".join(p.read_text(encoding="utf-8") for p in sorted((Path(project_dir) / "chapters").glob("*.qmd")))
        (out_dir / "index.html").write_text(json.dumps(variables, sort_keys=True) + prose, encoding="utf-8")
        if self.error is not None:
            raise self.error
        (out_dir / "figures").mkdir()
        (out_dir / "figures" / "abb.svg").write_text("<svg/>", encoding="utf-8")
        produced = {"html": out_dir / "index.html"}
        if "pdf" in formats:
            (out_dir / "book.pdf").write_bytes(b"%PDF-fake " + prose.encode())
            produced["pdf"] = out_dir / "book.pdf"
        return produced


def run_cli(root: Path, *argv: str, render=None):
    out, err = io.StringIO(), io.StringIO()
    status = main(["-C", str(root), *argv], render=render or FakeRender(), loader=lambda path: None, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def one_line_without_traceback(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "project"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("broken", "__pycache__"))
    status, _, err = run_cli(root, "build", "--fresh-kernels")
    assert status == 0, err
    return root


@pytest.fixture
def project(built, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built, root, symlinks=True)
    return root


def edit_prose(root: Path) -> None:  # a change that makes the next build render
    chapter = root / "chapters" / "01-einleitung.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nNoch ein Satz.\n", encoding="utf-8")


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- separate build processes ------------------------------------------------------------------------------------


def add_gate_notebook(root: Path, gate: Path) -> None:
    """A notebook that says it started, then waits until the test opens the gate."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        Path({str(gate / 'started')!r}).write_text("")
        deadline = time.monotonic() + 300
        while not Path({str(gate / 'open')!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        """
    )
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, root / "notebooks" / "03-gate.ipynb")
    gate.mkdir(exist_ok=True)


def start_build(root: Path, logs: Path, name: str, *argv: str) -> tuple[subprocess.Popen, Path, Path]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, "-C", str(root), *argv], cwd=root, env=env, stdout=out, stderr=err,
            stdin=subprocess.DEVNULL,
        )
    return process, stdout, stderr


def project_processes(root: Path) -> list[psutil.Process]:
    """Processes other than this test's that belong to the project: running in it or naming it."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        if process.pid == os.getpid():
            continue
        cwd = process.info.get("cwd") or ""
        cmdline = " ".join(process.info.get("cmdline") or [])
        if cwd == str(root) or cwd.startswith(str(root) + os.sep) or str(root) in cmdline:
            found.append(process)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("no_wait", [False, True], ids=["waits", "no-wait"])
def test_a_second_build_in_the_same_checkout_waits_or_refuses(project, tmp_path, no_wait):
    gate = tmp_path / "gate"
    add_gate_notebook(project, gate)
    first, first_out, first_err = start_build(project, tmp_path, "first", "build", "--jobs", "1")
    try:
        wait_for(lambda: (gate / "started").exists() or first.poll() is not None, "the first build's gate notebook")
        assert first.poll() is None, first_err.read_text()
        second_argv = ["build", "--no-wait"] if no_wait else ["build"]
        second, second_out, second_err = start_build(project, tmp_path, "second", *second_argv)
        message = f"another build is running (PID {first.pid})"
        if no_wait:
            assert second.wait(timeout=120) == 1
            assert message in one_line_without_traceback(second_err.read_text())
        else:
            wait_for(lambda: message in second_err.read_text() or second.poll() is not None, "the waiting message")
            assert "waiting" in second_err.read_text() and second.poll() is None
        (gate / "open").write_text("")
        assert first.wait(timeout=300) == 0, first_err.read_text()
        if not no_wait:
            assert second.wait(timeout=300) == 0, second_err.read_text()
            assert "03-gate … cached" in second_out.read_text()  # the second build reused the first one's work
    finally:
        (gate / "open").write_text("")
        for process in (first, locals().get("second")):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert (project / "_book" / "index.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["warm", "fresh"])
def test_sigkill_of_a_build_leaves_no_process_behind_and_the_next_build_cleans_up(project, tmp_path, kernels):
    gate = tmp_path / "gate"
    add_gate_notebook(project, gate)
    # Three notebooks on one worker use warm kernels (a factory forks them); --fresh-kernels starts plain ones.
    argv = ["build", "--no-cache", "--jobs", "1"] + (["--fresh-kernels"] if kernels == "fresh" else [])
    build, _, err = start_build(project, tmp_path, "killed", *argv)
    try:
        wait_for(lambda: (gate / "started").exists() or build.poll() is not None, "the gate notebook")
        assert build.poll() is None, err.read_text()
        record = project / "_build" / "kernels.json"
        factory_folder = json.loads(record.read_text())["folder"] if kernels == "warm" else None
        assert len(project_processes(project)) >= 3  # build, worker, kernel (and the warm path's factory, client)
        build.kill()
        build.wait()
        leftovers = lambda: [p for p in project_processes(project) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        try:
            wait_for(lambda: not leftovers(), "the build's processes to end", seconds=15)
        except AssertionError:
            raise AssertionError(f"still running 15 s after SIGKILL: {[p.cmdline() for p in leftovers()]}") from None
    finally:
        (gate / "open").write_text("")
        for process in project_processes(project):  # never leave processes behind, even when the test fails
            try:
                process.kill()
            except psutil.Error:
                pass
    status, out, err_text = run_cli(project, "build", "--jobs", "1")
    assert status == 0, err_text
    if factory_folder is not None:
        assert not Path(factory_folder).exists(), "the killed build's temporary folder is removed"
    assert not (project / "_build" / "kernels.json").exists()
    assert not (project / "_build" / ".staging").exists()


def test_a_stale_factory_is_ended_at_the_next_start_but_not_one_of_a_running_build(tmp_path):
    record = tmp_path / "_build" / "kernels.json"
    folder = tmp_path / "ck-kernels-x"
    folder.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        # Noted by this (running) process: its build still runs, so the factory is not stale.
        procs.record(record, sleeper.pid, folder)
        assert procs.end_recorded(record) is False and sleeper.poll() is None
        # Noted by a process that has ended since (a build killed with SIGKILL): ended, folder removed.
        code = "import sys; from pathlib import Path; from clusterkrise import procs; procs.record(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))"
        subprocess.run([sys.executable, "-c", code, str(record), str(sleeper.pid), str(folder)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
        assert procs.end_recorded(record) is True
        assert sleeper.wait(timeout=30) == -signal.SIGKILL
        assert not folder.exists() and not record.exists()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_a_reused_pid_is_not_killed(tmp_path):
    record = tmp_path / "kernels.json"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        record.write_text(json.dumps({"pid": sleeper.pid, "start": 1.0, "folder": None, "owner": 0, "owner_start": None}))
        assert procs.end_recorded(record) is False and sleeper.poll() is None
    finally:
        sleeper.kill()


def test_preview_takes_the_build_lock(project, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from clusterkrise import procs\n"
         "with procs.build_lock(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()",
         str(project / "_build")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")},
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        status, _, err = run_cli(project, "preview", "--port", "0", "--no-wait")
        assert status == 1
        assert f"another build is running (PID {holder.pid})" in one_line_without_traceback(err)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_the_build_functions_take_the_lock_too(project, capsys):
    """`scripts/test` (which builds through Python) and a build at the command line do not run over each other."""
    import threading

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from clusterkrise import procs\n"
         "with procs.build_lock(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()",
         str(project / "_build")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")},
    )
    render = FakeRender()
    try:
        assert holder.stdout.readline().strip() == b"held"
        worker = threading.Thread(
            target=b.render_step, args=(b.Layout(project),), kwargs={"render": render, "force": True, "out": io.StringIO()}
        )
        worker.start()
        seen = []
        wait_for(lambda: seen.append(capsys.readouterr().err) or "another build is running" in "".join(seen), "the message")
        assert worker.is_alive() and render.calls == []
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    worker.join(timeout=60)
    assert render.calls == [("html", "pdf")]


# --- preview keeps what it did not make -------------------------------------------------------------------------


def test_preview_after_a_full_build_keeps_the_pdf(project):
    assert (project / "_book" / "book.pdf").is_file()
    pdf = (project / "_book" / "book.pdf").read_bytes()
    edit_prose(project)
    out = io.StringIO()

    def rebuild():  # what `clusterkrise preview` runs: an HTML-only build
        b.build(project, formats=("html",), render=FakeRender(), validate=False, out=out)

    status = cmd_preview(b.Layout(project), 0, rebuild, io.StringIO(), io.StringIO(), polls=0)
    assert status == 0
    assert "Noch ein Satz" not in pdf.decode() and "Noch ein Satz" in (project / "_book" / "index.html").read_text()
    assert (project / "_book" / "book.pdf").read_bytes() == pdf
    assert "_book/book.pdf is kept from an earlier build" in out.getvalue()
    # The next full build renders the PDF again.
    status, _, err = run_cli(project, "build")
    assert status == 0, err
    assert "Noch ein Satz" in (project / "_book" / "book.pdf").read_text()


# --- the cache checks what it reuses -----------------------------------------------------------------------------


def test_an_edited_cached_value_is_not_printed(project):
    values = project / "_build" / "results" / "ch01" / "values.json"
    payload = json.loads(values.read_text())
    payload["total"] = 999
    values.write_text(json.dumps(payload))
    render = FakeRender()
    status, out, err = run_cli(project, "build", render=render)
    assert status == 0, err
    assert "note: 01-alpha: _build/results/ch01/values.json was changed after the notebook wrote it" in out
    assert "[1/2] 01-alpha … cached" not in out
    assert json.loads(values.read_text())["total"] != 999
    assert "999" not in (project / "_build" / "variables.yml").read_text()
    assert "999" not in (project / "_book" / "index.html").read_text()


def test_render_alone_refuses_an_edited_cached_value(project):
    values = project / "_build" / "results" / "ch01" / "values.json"
    values.write_text(values.read_text().replace("}", ', "extra": 999}'))
    render = FakeRender()
    status, _, err = run_cli(project, "render", render=render)
    assert status == 1 and render.calls == []
    line = one_line_without_traceback(err)
    assert "values.json was changed" in line and "clusterkrise build" in line


@pytest.mark.parametrize(
    "target, damage, note",
    [
        ("cache.json", "{\"version\": 2, \"notebooks\": {\"01-alpha\": ", None),
        ("cache.json", json.dumps({"version": b.CACHE_VERSION, "notebooks": [1, 2], "imports": 3}), None),
        ("results/ch01/values.json", "{\"alpha\": 0.1, \"tot", "_build/results/ch01/values.json was changed"),
        ("notebooks/01-alpha.ipynb", "", "_build/notebooks/01-alpha.ipynb was changed"),
        ("results/ch01/tab-01.csv", None, "_build/results/ch01/tab-01.csv is missing"),
    ],
    ids=["truncated-manifest", "malformed-manifest", "truncated-values", "emptied-notebook", "missing-table"],
)
def test_corrupted_cache_files_heal_with_at_most_a_note(project, target, damage, note):
    path = project / "_build" / target
    if damage is None:
        path.unlink()
    else:
        path.write_text(damage)
    status, out, err = run_cli(project, "build")
    assert status == 0, err
    assert err == "" and "Traceback" not in out
    if note is not None:
        assert sum(line.startswith("note: ") for line in out.splitlines()) == 1 and note in out
    assert json.loads((project / "_build" / "results" / "ch01" / "values.json").read_text())["total"] > 0
    # Healed: the next build reuses everything without a note.
    status, out, err = run_cli(project, "build")
    assert status == 0 and "note:" not in out and "01-alpha … cached" in out, out + err


# --- one line for every fault a user can cause --------------------------------------------------------------------


@pytest.mark.parametrize("inside_data", [False, True], ids=["data-path-param", "file-under-data"])
def test_a_symlink_loop_as_data_path_gives_one_line(project, inside_data):
    loop = project / ("data" if inside_data else ".") / "loop.csv"
    loop.symlink_to(loop.name)
    argv = [] if inside_data else ["--param", "data_path=loop.csv"]
    status, _, err = run_cli(project, "build", *argv)
    assert status == 1
    line = one_line_without_traceback(err)
    assert "loop.csv" in line


def test_a_book_that_cannot_be_replaced_gives_one_line_and_stays(project, monkeypatch):
    edit_prose(project)
    before = tree_bytes(project / "_book")
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):  # as when _book/ belongs to another user (we run as root here)
        if Path(src) == project / "_book":
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    status, _, err = run_cli(project, "build")
    monkeypatch.undo()
    assert status == 1
    line = one_line_without_traceback(err)
    assert "cannot replace _book/" in line and "Permission denied" in line and "permissions" in line
    assert tree_bytes(project / "_book") == before
    assert not list(project.glob("_book.*")), "no _book.new-* or _book.old is left behind"


def test_a_full_disk_while_writing_the_book_gives_one_line(project):
    edit_prose(project)
    before = tree_bytes(project / "_book")
    render = FakeRender(error=OSError(errno.ENOSPC, "No space left on device"))
    status, _, err = run_cli(project, "build", render=render)
    assert status == 1
    assert "free disk space" in one_line_without_traceback(err)
    assert tree_bytes(project / "_book") == before and not list(project.glob("_book.*"))


def test_a_busy_preview_port_gives_one_line_before_any_build(project):
    edit_prose(project)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        render = FakeRender()
        status, _, err = run_cli(project, "preview", "--port", str(port), render=render)
    assert status == 1
    line = one_line_without_traceback(err)
    assert f"port {port}" in line and "--port" in line
    assert render.calls == [], "the port is checked before building"


def test_malformed_preview_requests_get_an_answer_not_a_traceback(project, capfd):
    def poke(port):
        for raw in (b"GET /index.html%00 HTTP/1.0\r\n\r\n", b"\xff\xfe garbage\r\n\r\n", b"GET /%00/ HTTP/1.0\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(raw)
                assert conn.recv(100), raw  # every request gets an answer (an error page), none a dropped connection
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200  # and the preview keeps serving

    status = cmd_preview(b.Layout(project), 0, lambda: None, io.StringIO(), io.StringIO(), polls=0, on_ready=poke)
    assert status == 0
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


# --- logs and modes ------------------------------------------------------------------------------------------------


def test_a_successful_build_replaces_older_logs(project):
    logs = project / "_build" / "logs"
    (logs / "render-09-kooperation.log").write_text("Traceback: an old failure")
    (logs / "execute-03-gone.ipynb").write_text("{}")
    status, _, err = run_cli(project, "build")
    assert status == 0, err
    assert not (logs / "render-09-kooperation.log").exists() and not (logs / "execute-03-gone.ipynb").exists()


def test_a_failed_build_keeps_its_log(project):
    (project / "chapters" / "01-einleitung.qmd").write_text("anders\n")
    status, _, _ = run_cli(project, "build", render=FakeRender(error=ValueError("bad shortcode")))
    assert status == 1
    assert "bad shortcode" in (project / "_build" / "logs" / "render-book.log").read_text()


def test_the_book_is_readable_by_other_users(project):
    edit_prose(project)
    umask = os.umask(0o022)
    try:
        status, _, err = run_cli(project, "build")
    finally:
        os.umask(umask)
    assert status == 0, err
    book = project / "_book"
    modes = {p.relative_to(project).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [book, *book.rglob("*")]}
    assert modes == {
        "_book": 0o755, "_book/figures": 0o755, "_book/figures/abb.svg": 0o644,
        "_book/index.html": 0o644, "_book/book.pdf": 0o644,
    }


# --- set-up ------------------------------------------------------------------------------------------------------


def fake_apt(tmp_path: Path, failures: int) -> dict[str, str]:
    """An apt-get that fails with apt's lock message ``failures`` times, then succeeds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "count"
    count.write_text("0")
    script = bin_dir / "apt-get"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        n=$(cat {count}); echo $((n + 1)) > {count}
        if [ "$n" -lt {failures} ]; then
          echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)" >&2
          exit 100
        fi
        echo "installed $*"
        """))
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": "active",
            "APT_LOCK_POLL": "0"}


def run_apt_get(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"source {ROOT / 'scripts' / 'setup.sh'}; apt_get install -y chromium"],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_setup_waits_for_apts_lock(tmp_path):
    result = run_apt_get({**fake_apt(tmp_path, failures=3), "APT_LOCK_TIMEOUT": "600"})
    assert result.returncode == 0, result.stderr
    assert "installed" in result.stdout and "-o DPkg::Lock::Timeout=0 install -y chromium" in result.stdout
    assert result.stderr.count("waiting up to 600 s") == 1  # one message, however long it waits


def test_setup_gives_up_on_apts_lock_after_the_time_limit(tmp_path):
    result = run_apt_get({**fake_apt(tmp_path, failures=10**9), "APT_LOCK_TIMEOUT": "0"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "still holds the package lock" in lines[0] and "run this script again" in lines[0]

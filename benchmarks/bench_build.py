"""Time the build tool against a naive build, on a scratch copy of the project.

    python benchmarks/bench_build.py [--project DIR] [--fixture] [--jobs N] [--formats html,pdf]

(a) naive: every notebook through the papermill command line, one after another, then one full render;
(b) clean build with the tool (cache emptied); (c) no-op rebuild; (d) prose-only rebuild (one chapter edited):
the whole book, HTML and PDF, in a fresh process -- (b) to (d) with the README's command line,
``python -m clusterkrise -C DIR build``; (e) the same kind of edit with ``clusterkrise preview``
running: seconds from saving the chapter until its new HTML page is in ``_book/`` (what the browser reloads),
and until the rebuild with the PDF has finished; (f) ``papermill -k clusterkrise`` on the largest chapter
notebook, as the README tells reviewers (no build tool): cold (the warm-kernel factory starts with this run),
warm (the second run), warm with every figure drawn, and plain papermill (``python3`` kernel, default engine).
Each step except (e) runs in a fresh interpreter, so start-up time counts as it does for a user. The project
itself is not touched: everything happens in a temporary copy. ``--fixture`` uses the tiny test project
(tests/fixtures/build). When ``clusterkrise.render`` is not importable, a stand-in renderer that only writes
index.html is used and the output says so.

Targets: clean <= 10 s and >= 4x faster than naive; no-op <= 0.5 s; prose edit: changed page <= 1 s, whole book
<= 3 s; papermill on the largest chapter notebook <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "_book", "_book.*", "__pycache__", "*.egg-info", ".pytest_cache")
TARGETS = {"clean": 10.0, "noop": 0.5, "prose": 3.0, "page": 1.0, "papermill": 3.0}
MIN_SPEEDUP = 4.0


def stand_in_render(project_dir, out_dir, formats=("html", "pdf"), variables=None, executed_dir=None):
    out = Path(out_dir) / "index.html"
    out.write_text("<p>stand-in render</p>", encoding="utf-8")
    return {"html": out}


def real_render_available() -> bool:
    try:
        from clusterkrise.render import render_book  # noqa: F401
    except ImportError:
        return False
    return True


def _renderer(stand_in: bool):
    if stand_in:
        return stand_in_render
    from clusterkrise.render import render_book

    return render_book


def child(argv: list[str]) -> int:
    """Entry for the timed subprocesses: `--child build ROOT STAND_IN JOBS FORMATS VALIDATE` or `--child render ...`."""
    step, root, stand_in, jobs, formats, validate = argv
    render = _renderer(stand_in == "1")
    from clusterkrise.cli import main

    if step == "build":
        # The fixture's data file is no survey: its validation is skipped there (the real project validates).
        loader = None if validate == "1" else (lambda path: None)
        return main(["-C", root, "build", "--jobs", jobs, "--formats", formats], render=render, loader=loader)
    root_path = Path(root)
    out = root_path / "_book"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    from clusterkrise import build as b

    layout = b.Layout(root_path)
    variables = b.collect_variables(layout)
    b.write_variables(layout, variables)
    render(root_path, out, formats=tuple(formats.split(",")), variables=variables, executed_dir=layout.executed)
    return 0


def children_cpu() -> float:
    """User + system seconds of every ended child process (and theirs) so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return seconds


def naive_build(root: Path, stand_in: bool, formats: str) -> float:
    """The baseline: papermill's command line per notebook, sequentially, then one render."""
    from clusterkrise import build as b

    layout = b.Layout(root)
    env = {**os.environ, **b._kernel_env(layout)}
    env.pop("CLUSTERKRISE_DATA_CACHE", None)  # plain papermill: the project's data cache, as for any papermill run
    layout.executed.mkdir(parents=True)
    start = time.perf_counter()
    for nb in b.discover_notebooks(layout):
        cmd = [sys.executable, "-m", "papermill", str(nb.path), str(layout.executed / nb.path.name), "--no-progress-bar"]
        if "output_dir" in nb.parameters:
            cmd += ["-p", "output_dir", str(layout.results)]
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"naive: papermill failed on {nb.name}:\n{done.stderr[-3000:]}")
    render = [sys.executable, __file__, "--child", "render", str(root), "1" if stand_in else "0", "1", formats, "1"]
    done = subprocess.run(render, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"naive render failed:\n{done.stdout}\n{done.stderr}")
    seconds = time.perf_counter() - start
    for path in (layout.build, layout.book):
        shutil.rmtree(path, ignore_errors=True)
    layout.variables_file.unlink(missing_ok=True)
    return seconds


def edit_prose(root: Path, marker: str = "Bench-Edit") -> Path:
    """Append a sentence to the largest chapter (the slowest page to make)."""
    chapters = sorted((root / "chapters").glob("*.qmd"), key=lambda p: (-p.stat().st_size, p.name))
    if not chapters:
        raise SystemExit("no chapters/*.qmd to edit for the prose-only rebuild")
    chapter = chapters[0]
    chapter.write_text(chapter.read_text(encoding="utf-8") + f"\n{marker}.\n", encoding="utf-8")
    return chapter


def preview_edit(root: Path, stand_in: bool) -> tuple[float, float] | None:
    """(e): start `clusterkrise preview`, edit a chapter, time until its page shows the edit and until the full
    rebuild (with the PDF) is done. None with the stand-in renderer (it makes no chapter pages)."""
    if stand_in:
        return None
    import re
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "clusterkrise", "-C", str(root), "preview", "--port", "0"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []

    # a reader thread: select() on the pipe misses lines that arrived together and wait in the reader's buffer
    import queue
    import threading

    incoming: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [incoming.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(pattern: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                line = incoming.get(timeout=0.01)
            except queue.Empty:
                continue
            lines.append(line)
            if re.search(pattern, line):
                return time.perf_counter()
        raise SystemExit("preview: timed out waiting for " + pattern + "\n" + "".join(lines))

    try:
        wait_for(r"preview on http://\S+ \(Ctrl-C", 300)
        time.sleep(1.0)  # let the first poll record the tree
        marker = f"Bench-Preview-{os.getpid()}"
        chapter = edit_prose(root, marker)
        page = root / "_book" / f"{chapter.stem}.html"
        start = time.perf_counter()
        while marker not in (page.read_text(encoding="utf-8") if page.is_file() else ""):
            if time.perf_counter() - start > 60:
                raise SystemExit("preview: the page never showed the edit\n" + "".join(lines))
            time.sleep(0.005)
        shown = time.perf_counter() - start
        done = wait_for(r"is up to date", 120) - start
        return shown, done
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def papermill_largest(root: Path) -> tuple[str, dict[str, float]]:
    """(f): papermill's command line on the chapter notebook with the most code, as the README tells reviewers
    (``-k clusterkrise --engine clusterkrise``), in a reviewer's environment (nothing of the build's set but the
    checkout's lib/ on PYTHONPATH): once cold (the kernel factory starts with this run), once warm (the second
    run), once warm with every figure drawn (``CLUSTERKRISE_FIGURE_CACHE=0``; the runs before find the figures
    the clean build drew), and plain papermill (``python3`` kernel, default engine, no figure cache) for
    comparison. The kernelspec is installed as the setup scripts install it, into a private prefix; a private
    runtime folder makes the first run really cold."""
    from clusterkrise import build as b

    layout = b.Layout(root)
    notebooks = b.discover_notebooks(layout)
    largest = max(notebooks, key=lambda nb: sum(len(c) for c in nb.code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERKRISE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root / "lib"), os.environ.get("PYTHONPATH", "")) if p)
    runtime = tempfile.mkdtemp(prefix="bench-rt-")  # short: it holds the factory's socket
    env.update(JUPYTER_PATH=str(root / ".bench-jupyter" / "share" / "jupyter"), XDG_RUNTIME_DIR=runtime)
    subprocess.run([sys.executable, "-m", "clusterkrise.warmkernel", "install", str(root / ".bench-jupyter")],
                   cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    warm = ["-k", "clusterkrise", "--engine", "clusterkrise"]
    no_cache = {"CLUSTERKRISE_FIGURE_CACHE": "0"}
    seconds = {}
    try:
        for label, options, extra in (("cold", warm, {}), ("warm", warm, {}), ("warm-drawn", warm, no_cache),
                                      ("plain", ["-k", "python3"], no_cache)):
            with tempfile.TemporaryDirectory(prefix="bench-papermill-") as out:
                cmd = [sys.executable, "-m", "papermill", str(largest.path), str(Path(out) / "out.ipynb"),
                       *options, "--no-progress-bar"]
                if "output_dir" in largest.parameters:
                    cmd += ["-p", "output_dir", out]
                seconds[label] = timed(cmd, root, {**env, **extra})
    finally:
        subprocess.run([sys.executable, "-m", "clusterkrise.warmkernel", "stop"], cwd=root, env=env,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(runtime, ignore_errors=True)
    return largest.name, seconds


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--fixture", action="store_true", help="run on tests/fixtures/build instead")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--formats", default="html,pdf")
    parser.add_argument("--stand-in-render", action="store_true", help="time execution only (no real render)")
    args = parser.parse_args()
    source = REPO / "tests" / "fixtures" / "build" if args.fixture else args.project.resolve()
    stand_in = not real_render_available() or args.fixture or args.stand_in_render
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        root = Path(scratch) / "project"
        shutil.copytree(source, root, ignore=COPY_IGNORE)
        if args.fixture:
            shutil.rmtree(root / "broken", ignore_errors=True)
        n = len(list((root / "notebooks").glob("[0-9][0-9]-*.ipynb")))
        print(f"project: {source} ({n} notebooks, jobs {args.jobs}, formats {args.formats})")
        print("render: " + ("stand-in (writes index.html only)" if stand_in else "clusterkrise.render.render_book"))
        if stand_in or args.fixture:  # a stand-in renderer or the fixture's loader: through this file's child
            build = [sys.executable, __file__, "--child", "build", str(root), "1" if stand_in else "0", str(args.jobs),
                     args.formats, "0" if args.fixture else "1"]
        else:  # the real book: the command line the README gives, nothing of this file in the timed process
            build = [sys.executable, "-m", "clusterkrise", "-C", str(root), "build", "--jobs", str(args.jobs),
                     "--formats", args.formats]
        cpu = {}
        mark = children_cpu()
        times = {"naive": naive_build(root, stand_in, args.formats)}
        cpu["naive"], mark = children_cpu() - mark, children_cpu()
        times["clean"] = timed(build, root)
        cpu["clean"] = children_cpu() - mark
        times["noop"] = timed(build, root)
        edit_prose(root)
        times["prose"] = timed(build, root)
        preview = preview_edit(root, stand_in)
        nan = float("nan")
        largest, papermill = papermill_largest(root) if not args.fixture else ("-", {"cold": nan, "warm": nan, "warm-drawn": nan, "plain": nan})
        times["papermill"] = papermill["warm"]

    speedup = times["naive"] / times["clean"] if times["clean"] else float("inf")
    print(f"\n{'step':<40}{'seconds':>9}  target")
    rows = [
        ("(a) naive papermill + render", times["naive"], ""),
        ("(b) clean build", times["clean"], f"<= {TARGETS['clean']:.0f} s"),
        ("(c) no-op rebuild", times["noop"], f"<= {TARGETS['noop']:.1f} s"),
        ("(d) prose edit, whole book", times["prose"], f"<= {TARGETS['prose']:.0f} s"),
    ]
    if preview is not None:
        times["page"] = preview[0]
        rows += [("(e) prose edit, page (preview)", preview[0], f"<= {TARGETS['page']:.0f} s"),
                 ("    ... and its PDF rebuild", preview[1], "")]
    rows += [(f"(f) papermill {largest[:2]} (README), cold", papermill["cold"], ""),
             ("    ... warm (second run)", papermill["warm"], f"<= {TARGETS['papermill']:.0f} s"),
             ("    ... warm, every figure drawn", papermill["warm-drawn"], ""),
             ("    ... plain papermill (python3)", papermill["plain"], "")]
    for label, seconds, target in rows:
        print(f"{label:<40}{seconds:>9.2f}  {target}")
    print(f"\nnaive / clean = {speedup:.2f}x (target >= {MIN_SPEEDUP}x)")
    print(f"clean / no-op = {times['clean'] / times['noop']:.1f}x, clean / prose-only = {times['clean'] / times['prose']:.1f}x")
    print(f"CPU (user + system, all processes): naive {cpu['naive']:.1f} s, clean build {cpu['clean']:.1f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")
    verdicts = {
        "clean": times["clean"] <= TARGETS["clean"],
        "speedup": speedup >= MIN_SPEEDUP,
        "noop": times["noop"] <= TARGETS["noop"],
        "prose": times["prose"] <= TARGETS["prose"],
        "papermill": times["papermill"] <= TARGETS["papermill"],
    }
    if "page" in times:
        verdicts["page"] = times["page"] <= TARGETS["page"]
    print("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in verdicts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

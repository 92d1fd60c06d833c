"""Where a clean build spends its time: per notebook, per figure, per render step.

    python benchmarks/profile_build.py [--jobs 1] [--json profile.json]

Builds a scratch copy of the project with ``CLUSTERKRISE_TIMINGS`` set (see ``clusterkrise.timing``) and
prints three tables:

* notebooks: wall time per notebook as the build measured it, split into kernel start-up + papermill
  (the rest), the import cell, the figure cells and the other cells (papermill's per-cell durations);
* figures: per figure its cell, and within it what saving took (label fitting, SVG, PNG if written);
* render: the renderer's steps (shortcodes, pandoc parse, the book filter, HTML pages, pandoc → Typst,
  Typst compile).

``--jobs 1`` (default) runs the notebooks one after another, so one notebook's time is not inflated by
another's; the clean build itself runs with two.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "_book", "_book.*", "__pycache__", "*.egg-info", ".pytest_cache")


def cell_times(executed: Path) -> list[tuple[str, float]]:
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    out = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0
        out.append((source, float(duration)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-build-") as scratch:
        root = Path(scratch) / "project"
        shutil.copytree(args.project.resolve(), root, ignore=COPY_IGNORE)
        timings = Path(scratch) / "timings.jsonl"
        env = {**os.environ, "CLUSTERKRISE_TIMINGS": str(timings), "PYTHONPATH": str(root / "lib")}
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "clusterkrise", "-C", str(root), "build", "--jobs", str(args.jobs)],
                              cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode:
            raise SystemExit(done.stdout + done.stderr)
        manifest = json.loads((root / "_build" / "cache.json").read_text(encoding="utf-8"))
        records = [json.loads(line) for line in timings.read_text(encoding="utf-8").splitlines()] if timings.is_file() else []
        notebooks = {}
        figure_cells = {}
        for name, entry in sorted(manifest["notebooks"].items()):
            cells = cell_times(root / "_build" / "notebooks" / f"{name}.ipynb")
            imports = next((d for s, d in cells if "import " in s), 0.0)
            figs = 0.0
            for source, duration in cells:
                label = next((line.split(":", 1)[1].strip() for line in source.splitlines() if line.startswith("#| label: fig-")), None)
                if label:
                    figs += duration
                    figure_cells[label.removeprefix("fig-")] = (name, duration)
            total_cells = sum(d for _, d in cells)
            notebooks[name] = {
                "wall": entry["seconds"], "startup": entry["seconds"] - total_cells, "imports": imports,
                "figures": figs, "other": total_cells - imports - figs,
                "n_figures": sum(1 for s, _ in cells if "#| label: fig-" in s),
            }
        saving = defaultdict(dict)
        render = defaultdict(float)
        for record in records:
            if record["kind"] == "figure":
                saving[record["name"]][record["step"]] = saving[record["name"]].get(record["step"], 0.0) + record["seconds"]
            elif record["kind"] == "render":
                render[record["name"]] += record["seconds"]
    print(f"clean build, --jobs {args.jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU (all processes); "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'notebook':<28}{'wall':>7}{'start':>7}{'import':>8}{'figs':>7}{'n':>4}{'other':>7}")
    for name, n in notebooks.items():
        print(f"{name:<28}{n['wall']:>7.2f}{n['startup']:>7.2f}{n['imports']:>8.2f}{n['figures']:>7.2f}{n['n_figures']:>4}{n['other']:>7.2f}")
    total = {k: sum(n[k] for n in notebooks.values()) for k in ("wall", "startup", "imports", "figures", "other")}
    print(f"{'sum':<28}{total['wall']:>7.2f}{total['startup']:>7.2f}{total['imports']:>8.2f}{total['figures']:>7.2f}"
          f"{sum(n['n_figures'] for n in notebooks.values()):>4}{total['other']:>7.2f}")
    steps = sorted({step for s in saving.values() for step in s})
    print(f"\n{'figure':<14}{'notebook':<28}{'cell':>7}" + "".join(f"{s:>11}" for s in steps))
    for label, (name, duration) in sorted(figure_cells.items(), key=lambda kv: -kv[1][1]):
        s = saving.get(label, {})
        print(f"{label:<14}{name:<28}{duration:>7.2f}" + "".join(f"{s.get(step, 0.0):>11.2f}" for step in steps))
    print(f"{'sum':<42}{sum(d for _, d in figure_cells.values()):>7.2f}"
          + "".join(f"{sum(s.get(step, 0.0) for s in saving.values()):>11.2f}" for step in steps))
    print("\nrender step        seconds")
    for name, seconds in render.items():
        print(f"{name:<18}{seconds:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"wall": wall, "cpu": cpu, "notebooks": notebooks, "figure_cells": figure_cells,
                                         "saving": saving, "render": render}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

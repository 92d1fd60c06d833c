"""The chapter notebooks as a whole: their common shape, and what they produce when papermill runs them.

Every ``notebooks/*.ipynb`` is picked up automatically. The slow part executes each notebook twice
(default parameters, and ``ALT_PARAMS``: a stricter alpha plus a different office-size threshold)
and three runs with bad parameters, all in one pool of two worker processes; the session fixture
``runs`` shares the outcomes so no notebook runs more often than that.

The structure tests read the stored notebooks only and are fast.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from clusterkrise.codebook import load_codebook
from clusterkrise.params import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"

#: The second run: stricter alpha and a threshold that moves respondents between comparison groups.
ALT_PARAMS = {"alpha": 0.05, "office_size_max_small": 6}
#: Figures whose tidy CSV carries U-test rows the alpha run must change (study's group comparisons).
UTEST_FIGURES = ("abb-20", "abb-23", "abb-26", "abb-27", "abb-28")
#: Numbered items of the study that some notebook must produce, exactly once.
STUDY_FIGURES = range(1, 40)
STUDY_TABLES = range(1, 7)

#: Bad parameters -> (words the German error message must contain).
BAD_PARAMS = {
    "alpha": ({"alpha": 1.5}, ["Ungültige Parameter", "alpha"]),
    "empty_group": ({"office_size_max_small": 1000}, ["leeren eine Vergleichsgruppe", "Große Clustermanagements"]),
    "data_path": ({"data_path": "missing.csv"}, ["Datendatei nicht gefunden", "missing.csv"]),
}

OPTION = re.compile(r"^#\|\s*([\w-]+):\s*(.*)$")
#: What the setup cell must do (in this order), so that bad parameters stop there with a German message.
SETUP_STEPS = ("Params.from_namespace(globals())", "Survey.load(params)", 'ChapterResults("{nn}", params)')
FINISH = "results.finish()"


# --------------------------------------------------------------------------------------------------
# reading notebooks


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _chapter(path: Path) -> str:
    return path.name.split("-", 1)[0]


def _options(source: str) -> dict[str, str]:
    opts = {}
    for line in source.splitlines():
        m = OPTION.match(line)
        if not m:
            break
        opts[m.group(1)] = m.group(2).strip().strip('"')
    return opts


def _output_cells(nb) -> list:
    """The figure/table cells: everything between the setup cell and the closing ``ctx.finish()``."""
    return nb.cells[3:-1]


def _labels(nb) -> list[str]:
    """Labels of the figure/table cells in order (cells that only compute values have none)."""
    return [label for c in _output_cells(nb) if (label := _options(c.source).get("label"))]


# --------------------------------------------------------------------------------------------------
# structure of the stored notebooks (fast)


def test_notebooks_found():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    nb = _read(path)
    nbformat.validate(nb)
    nn = _chapter(path)
    problems = []
    if nb.metadata.get("kernelspec", {}).get("name") != KERNEL:
        problems.append(f"kernelspec is {nb.metadata.get('kernelspec')}, not {KERNEL}")
    if len(nb.cells) < 5:
        problems.append(f"only {len(nb.cells)} cells; expected intro, parameters, setup, outputs, finish")
    else:
        if nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.lstrip().startswith("#"):
            problems.append("cell 1 must be a markdown cell with the chapter title")
        params = nb.cells[1]
        if params.cell_type != "code" or "parameters" not in params.metadata.get("tags", []):
            problems.append("cell 2 must be a code cell tagged 'parameters'")
        setup = nb.cells[2].source
        # chapters on qualitative material (3, 4) read no survey answers: no Survey.load there
        uses_survey = any("survey." in c.source for c in nb.cells[3:] if c.cell_type == "code")
        steps = [s for s in SETUP_STEPS if uses_survey or not s.startswith("Survey.")]
        positions = [setup.find(step.format(nn=nn)) for step in steps]
        if -1 in positions or positions != sorted(positions):
            problems.append(f"cell 3 must be the setup cell doing {[s.format(nn=nn) for s in steps]} in order")
        if nb.cells[-1].source.strip() != FINISH:
            problems.append(f"the last cell must be {FINISH!r}")
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {i} is stored with outputs or an execution count")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_matches_defaults(path):
    cell = _read(path).cells[1]
    tree = ast.parse(cell.source)
    assigned = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{path.name}: parameters cell may only assign"
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    assert assigned == DEFAULTS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_labelled_cells_have_captions_and_show_one_output(path):
    nb = _read(path)
    problems = []
    for i, cell in enumerate(_output_cells(nb), start=4):
        opts = _options(cell.source)
        label = opts.get("label")
        if label is None:
            if opts:
                problems.append(f"cell {i}: cell options {sorted(opts)} without a label")
            continue
        kind = label.split("-", 1)[0]
        if kind not in {"fig", "tbl"}:
            problems.append(f"cell {i}: label {label!r} must start with fig- or tbl-")
        elif not opts.get(f"{kind}-cap"):
            problems.append(f"cell {i} ({label}): no '#| {kind}-cap:'")
        stem = label.split("-", 1)[1]
        call = "results.figure" if kind == "fig" else "results.table"
        if not re.search(rf'{re.escape(call)}\(\s*"{re.escape(stem)}"', cell.source):
            problems.append(f"cell {i} ({label}): must save it with {call}(\"{stem}\", ...)")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def _bare_call(source: str) -> bool:
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Call)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shows_its_analysis(path):
    """A reviewer sees the steps: most cells are not one bare call, no chapter module hides the work,
    and every comparison shows its grouping call and its compare_groups call."""
    nb = _read(path)
    cells = _output_cells(nb)
    code = [c.source for c in cells if c.cell_type == "code"]
    bare = sum(_bare_call(src) for src in code)
    assert bare <= len(code) / 2, f"{path.name}: {bare} of {len(code)} code cells are one bare call"
    source = "\n".join(code)
    assert "clusterkrise.report" not in source and "from clusterkrise import report" not in source
    if "compare_groups(" in source:
        assert re.search(r"groups\.\w+\(", source), f"{path.name}: compares groups without showing the grouping call"


def test_labels_unique_across_notebooks():
    seen = Counter(label for path in NOTEBOOKS for label in _labels(_read(path)))
    assert not [label for label, k in seen.items() if k > 1]


def test_no_code_cell_repeated_between_notebooks():
    """Apart from the fixed frame (parameters, setup, ``ctx.finish()``) every code cell is unique."""
    where = defaultdict(set)
    for path in NOTEBOOKS:
        nb = _read(path)
        for cell in _output_cells(nb):
            if cell.cell_type == "code" and cell.source.strip():
                where[cell.source.strip()].add(path.name)
    repeated = {src: sorted(names) for src, names in where.items() if len(names) > 1}
    assert not repeated, f"code cells repeated between notebooks: {repeated}"


# --------------------------------------------------------------------------------------------------
# papermill runs (slow, shared)


def _execute(job: dict) -> dict:
    """Run one notebook in a pool worker; exceptions are returned as plain data (they may not pickle)."""
    import time

    import papermill
    from papermill.exceptions import PapermillExecutionError

    os.environ.update(job["env"])
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            job["input"], job["output"], parameters=job["parameters"], kernel_name=KERNEL, cwd=job["cwd"],
            progress_bar=False, log_output=False,
        )
    except PapermillExecutionError as error:
        return {"ok": False, "exception": type(error).__name__, "ename": error.ename, "evalue": error.evalue,
                "source": error.source, "message": str(error), "seconds": time.perf_counter() - start}
    except Exception as error:  # noqa: BLE001 - reported to the test verbatim
        return {"ok": False, "exception": type(error).__name__, "ename": "", "evalue": "", "source": "",
                "message": repr(error), "seconds": time.perf_counter() - start}
    return {"ok": True, "seconds": time.perf_counter() - start}


@dataclass
class Run:
    results: Path  # output_dir of the run: one folder per chapter
    executed: Path  # the executed notebooks
    outcomes: dict[str, dict]  # notebook stem -> result of _execute


@pytest.fixture(scope="session")
def kernel():
    """Make sure Jupyter finds a kernel named python3 (installs this interpreter's ipykernel if not)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL], check=True)
    assert KERNEL in KernelSpecManager().find_kernel_specs()
    return KERNEL


@pytest.fixture(scope="session")
def kernel_env(kernel, tmp_path_factory):
    """Environment of the papermill workers.

    As in the build, the kernel named python3 is by default forked from a factory that has already
    imported the scientific stack (:mod:`clusterkrise.warmkernel`); each notebook still gets a fresh
    process. ``CLUSTERKRISE_WARM_KERNELS=0`` runs the installed python3 kernel instead.
    """
    if os.environ.get("CLUSTERKRISE_WARM_KERNELS", "1") == "0":
        yield {}
        return
    from clusterkrise.build import preload_modules, read_notebook
    from clusterkrise.warmkernel import Factory

    preload = preload_modules([read_notebook(p) for p in NOTEBOOKS], ROOT / "lib" / "clusterkrise")
    log = tmp_path_factory.mktemp("kernels") / "kernels.log"
    with Factory({"PYTHONHASHSEED": "0"}, log, preload) as factory:
        yield factory.env()


@pytest.fixture(scope="session")
def runs(kernel_env, tmp_path_factory) -> dict[str, Run]:
    """Default run, alternative run and bad-parameter runs of the notebooks, executed once per session."""
    base = tmp_path_factory.mktemp("notebook-runs")
    configs = {"default": {}, "alt": ALT_PARAMS}
    jobs = {}
    for name, params in configs.items():
        for path in NOTEBOOKS:
            jobs[(name, path.stem)] = {"parameters": {**params, "output_dir": str(base / name / "results")},
                                       "output": str(base / name / "executed" / path.name)}
    # Each bad parameter on a different notebook: they all share the setup cell (test_notebook_shape).
    for k, (case, (params, _)) in enumerate(BAD_PARAMS.items()):
        path = NOTEBOOKS[k * (len(NOTEBOOKS) - 1) // max(1, len(BAD_PARAMS) - 1)]
        jobs[(f"bad-{case}", path.stem)] = {"parameters": {**params, "output_dir": str(base / case / "results")},
                                            "output": str(base / case / "executed" / path.name)}
    for (name, stem), job in jobs.items():
        Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
        job.update(input=str(ROOT / "notebooks" / f"{stem}.ipynb"), cwd=str(ROOT), env=kernel_env)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {key: pool.submit(_execute, job) for key, job in jobs.items()}
        outcomes = {key: future.result() for key, future in futures.items()}
    # Visible with `pytest -rA` or on failure: where the time of the slow tests goes.
    print("notebook run times:", {f"{n}/{stem}": round(o["seconds"], 1) for (n, stem), o in outcomes.items()})
    result = {}
    for name in {key[0] for key in jobs}:
        folder = name.removeprefix("bad-")
        result[name] = Run(results=base / folder / "results", executed=base / folder / "executed",
                           outcomes={stem: out for (n, stem), out in outcomes.items() if n == name})
    return result


def _values(run: Run) -> dict[str, dict]:
    """chapter -> values.json payload of one run."""
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in run.results.glob("*/values.json")}


def _find(run: Run, stem: str, suffix: str) -> list[Path]:
    return sorted(run.results.glob(f"*/{stem}{suffix}"))


def _utest_rows(run: Run, stem: str) -> pd.DataFrame:
    found = _find(run, stem, ".csv")
    assert len(found) == 1, f"{stem}.csv: expected in exactly one chapter folder, found {found}"
    frame = pd.read_csv(found[0])
    assert "section" in frame.columns, f"{stem}.csv has no U-test rows (no 'section' column)"
    rows = frame.loc[frame["section"] == "utest"].copy()
    assert len(rows), f"{stem}.csv has no U-test rows"
    rows["significant"] = rows["significant"].astype(str).str.lower().map({"true": True, "false": False})
    rows["p"] = pd.to_numeric(rows["p"], errors="coerce")
    return rows.set_index(["item", "grouping"])


@pytest.mark.slow
@pytest.mark.parametrize("config", ["default", "alt"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(runs, config, path):
    outcome = runs[config].outcomes[path.stem]
    assert outcome["ok"], f"{path.name} ({config}) failed: {outcome['message']}"


@pytest.mark.slow
def test_every_study_figure_and_table_exactly_once(runs):
    run = runs["default"]
    problems = []
    for stem, suffixes in [(f"abb-{n:02d}", (".svg", ".csv")) for n in STUDY_FIGURES] + \
                          [(f"tab-{n:02d}", (".csv",)) for n in STUDY_TABLES]:
        for suffix in suffixes:
            found = _find(run, stem, suffix)
            if len(found) != 1:
                problems.append(f"{stem}{suffix}: {len(found)} times {[p.parent.name for p in found]}")
    assert not problems, "study figures/tables not produced exactly once:\n  " + "\n  ".join(problems)


@pytest.mark.slow
def test_survey_items_report_their_n(runs):
    """Every figure/table the codebook ties to a question has an N > 0 in its chapter's values.json."""
    values = _values(runs["default"])
    survey = sorted({ref for q in load_codebook() for ref in q.figures})
    assert survey, "the codebook ties no figure to a question"
    problems = []
    for ref in survey:
        kind, number = ref.split()
        stem = f"{'abb' if kind == 'Abb.' else 'tab'}-{int(number):02d}"
        key = stem.replace("-", "") + "_n"
        owners = [ch for ch, payload in values.items() if stem in payload["produced"]]
        if len(owners) != 1:
            problems.append(f"{ref}: produced by chapters {owners}")
            continue
        n = values[owners[0]]["raw"].get(key)
        if not (isinstance(n, int) and not isinstance(n, bool) and n > 0):
            problems.append(f"{ref}: values.json of chapter {owners[0]} has {key} = {n!r}")
    assert not problems, "\n  ".join(["survey figures without a valid N:", *problems])


DISPLAYS = {"fig": {"image/svg+xml", "image/png", "image/jpeg"}, "tbl": {"text/markdown", "text/html"}}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_displays_come_from_labelled_cells(runs, path):
    """In the executed notebook, every cell that shows a figure or table is labelled and captioned, and
    every labelled cell shows what its label promises (what the book's embed shortcode needs)."""
    executed = _read(runs["default"].executed / path.name)
    problems = []
    for cell in executed.cells:
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
            continue
        shown = {mime for out in cell.get("outputs", []) if out.get("output_type") in {"display_data", "execute_result"}
                 for mime in out.get("data", {})}
        label = _options(cell.source).get("label")
        kind = label.split("-", 1)[0] if label else None
        if kind in DISPLAYS:
            if not shown & DISPLAYS[kind]:
                problems.append(f"{label}: no {' or '.join(sorted(DISPLAYS[kind]))} output")
            # Quarto's embed shows every output of the cell (the embedded renderer only the first), so a
            # stray return value (a DataFrame as execute_result) would appear in Quarto's book only
            displays = [out for out in cell.get("outputs", []) if out.get("output_type") in {"display_data", "execute_result"}]
            if len(displays) != 1:
                problems.append(f"{label}: {len(displays)} displayed outputs (needs exactly one; end the line with ';')")
        elif shown & (DISPLAYS["fig"] | {"text/markdown"}):
            # Intermediate tables (DataFrames as text/html) are the analysis a reviewer reads; figures and
            # the book's Markdown tables belong to labelled cells, which the book embeds.
            problems.append(f"unlabelled cell shows {sorted(shown)}: {cell.source[:80]!r}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.slow
def test_figure_cells_show_the_svg_file_they_wrote(runs):
    """A figure cell displays the SVG that is in the results folder, from its <svg> element on: the file's own
    text, not a re-serialised copy (the book embeds the display, so both must be the same drawing)."""
    run = runs["default"]
    checked = []
    for path in NOTEBOOKS:
        for cell in _read(run.executed / path.name).cells:
            label = _options(cell.source).get("label", "") if cell.cell_type == "code" else ""
            if not label.startswith("fig-"):
                continue
            shown = [out["data"]["image/svg+xml"] for out in cell.get("outputs", []) if "image/svg+xml" in out.get("data", {})]
            (file,) = run.results.glob(f"*/{label.removeprefix('fig-')}.svg")
            text = file.read_text(encoding="utf-8")
            assert shown == [text[text.index("<svg"):]], f"{path.name} {label}"
            checked.append(label)
    assert len(checked) >= 40, checked


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_produced_matches_labels(runs, path):
    """What a notebook records as produced is what its cells are labelled, and the files are there."""
    payload = _values(runs["default"]).get(_chapter(path))
    assert payload is not None, f"{path.name} wrote no values.json"
    expected = [label.split("-", 1)[1] for label in _labels(_read(path))]
    assert payload["produced"] == expected
    folder = runs["default"].results / _chapter(path)
    missing = [stem for stem in expected if not list(folder.glob(f"{stem}.*"))]
    assert not missing, f"no files for {missing} in {folder}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", UTEST_FIGURES)
def test_alpha_sets_significance(runs, stem):
    default, alt = _utest_rows(runs["default"], stem), _utest_rows(runs["alt"], stem)
    for rows, alpha in ((default, DEFAULTS["alpha"]), (alt, ALT_PARAMS["alpha"])):
        tested = rows.loc[rows["p"].notna()]
        wrong = tested.index[tested["significant"] != (tested["p"] <= alpha)].tolist()
        assert not wrong, f"{stem}: 'significant' contradicts p <= {alpha} for {wrong}"
    # Rows whose p did not move with the threshold change must lose significance between the two alphas.
    common = default.index.intersection(alt.index)
    same_p = default.loc[common, "p"].eq(alt.loc[common, "p"])
    in_band = default.loc[common, "p"].between(ALT_PARAMS["alpha"], DEFAULTS["alpha"], inclusive="right")
    between = common[(same_p & in_band).to_numpy()]
    not_flipped = [key for key in between if not (default.loc[key, "significant"] and not alt.loc[key, "significant"])]
    assert not not_flipped, f"{stem}: rows with {ALT_PARAMS['alpha']} < p <= {DEFAULTS['alpha']} did not flip: {not_flipped}"


@pytest.mark.slow
def test_alpha_changes_at_least_one_result(runs):
    """Counted only where p itself did not move, so the change is the alpha's, not the threshold's."""
    changed = 0
    for stem in UTEST_FIGURES:
        default, alt = _utest_rows(runs["default"], stem), _utest_rows(runs["alt"], stem)
        common = default.index.intersection(alt.index)
        same_p = default.loc[common, "p"].eq(alt.loc[common, "p"])
        flipped = default.loc[common, "significant"] != alt.loc[common, "significant"]
        changed += int((same_p & flipped).sum())
    assert changed > 0, f"alpha {ALT_PARAMS['alpha']} changed no significance marker in {UTEST_FIGURES}"


@pytest.mark.slow
def test_threshold_moves_office_size_groups(runs):
    """office_size_max_small reaches the notebooks: the group sizes of the office-size tests change."""
    sizes = {}
    for config in ("default", "alt"):
        frames = [pd.read_csv(p) for p in sorted(runs[config].results.glob("*/*.csv"))]
        rows = [f.loc[f["grouping"] == "office_size", ["item", "n_1", "n_2"]] for f in frames
                if "grouping" in f.columns and "section" in f.columns]
        assert rows, f"{config}: no CSV has office-size U-test rows"
        sizes[config] = pd.concat(rows, ignore_index=True)
    assert not sizes["default"]["n_1"].equals(sizes["alt"]["n_1"])


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_PARAMS)
def test_bad_parameters_stop_in_setup_cell(runs, case):
    params, words = BAD_PARAMS[case]
    ((stem, outcome),) = runs[f"bad-{case}"].outcomes.items()
    assert not outcome["ok"], f"{stem} ran with {params}"
    assert outcome["exception"] == "PapermillExecutionError", outcome["message"]
    assert outcome["ename"] == "ParameterError", outcome["message"]
    for word in words:
        assert word in outcome["evalue"], f"{word!r} not in the message: {outcome['evalue']}"
    setup = _read(ROOT / "notebooks" / f"{stem}.ipynb").cells[2].source
    assert outcome["source"].strip() == setup.strip(), f"failed in another cell:\n{outcome['source']}"

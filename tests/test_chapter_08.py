"""Chapter 8 notebook (survey block B, Tab. 5-6, Abb. 27-34), executed with papermill as a reviewer would.

Two runs: the defaults, and ``alpha=0.05, office_size_max_small=6``. Every registry fact of sections
8.x must be recorded under its id and agree with the registry (default run) and with the independent
recomputation in ``tests/oracle.py`` under the run's own parameters (both runs); the chapter prose may
only use keys the notebook wrote.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import clusterkrise
from clusterkrise import formatting as fmt
from clusterkrise import groups, registry
from clusterkrise.params import Params
from clusterkrise.survey import Survey

from conftest import run_chapter
import oracle

ROOT = clusterkrise.PROJECT_ROOT
ALTERNATIVE = {"alpha": 0.05, "office_size_max_small": 6}
FACTS = [f for f in registry.load_facts() if str(f.place.get("section", "")).startswith("8.") and f.kind != "external"]
FIGURES = ["abb-27", "abb-28", "abb-29", "abb-30", "abb-31", "abb-32", "abb-33", "abb-34"]
TABLES = ["tab-05", "tab-06"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, params in (("default", {}), ("alternative", ALTERNATIVE)):
        folder = tmp_path_factory.mktemp(f"ch08_{name}")
        out[name] = (run_chapter("08", folder, **params), folder, params)
    return out


def _oracle(params: dict) -> oracle.Survey:
    p = Params.of(**params)
    survey = Survey.load(p)
    return oracle.Survey(survey.started, group_params=p.grouping, alpha=p.alpha, min_group_size=p.min_group_size)


def _same(value, expected) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return value is None  # results store NaN as None
    if isinstance(expected, float) and isinstance(value, (int, float)):
        return math.isclose(value, expected, abs_tol=1e-9)
    if isinstance(expected, list):
        return sorted(map(str, value)) == sorted(map(str, expected))
    return value == expected


def test_registry_facts_of_chapter_8_are_recorded_and_match(runs):
    raw = runs["default"][0]["raw"]
    assert len(FACTS) > 80  # Tab. 5/6 alone register 73 statements; a lost section would show here
    missing = [f.id for f in FACTS if f.id not in raw]
    assert not missing, f"not recorded by the notebook: {missing}"
    wrong = {f.id: (raw[f.id], f.target) for f in FACTS if not registry.matches(f, raw[f.id])}
    assert not wrong, wrong


@pytest.mark.parametrize("run", ["default", "alternative"])
def test_values_equal_the_independent_recomputation(runs, run):
    values, _, params = runs[run]
    survey = _oracle(params)
    differ = {}
    for fact in FACTS:
        expected = oracle.recompute(fact, survey)
        if not _same(values["raw"][fact.id], expected):
            differ[fact.id] = (values["raw"][fact.id], expected)
    assert not differ, differ


@pytest.mark.parametrize("run", ["default", "alternative"])
def test_every_key_the_chapter_prints_exists(runs, run):
    values = runs[run][0]["values"]
    ids = {f.id for f in registry.load_facts()}
    used = set()
    for path in (ROOT / "chapters/08-aufgaben.qmd", ROOT / "chapters/management-summary.qmd"):
        used |= {(ns, key) for ns, key in re.findall(r"\{\{< var (\w+)\.(\w+) >\}\}", path.read_text(encoding="utf-8"))}
    own = {key for ns, key in used if ns == "ch08"}
    assert own, "the chapter prints no value of its notebook"
    assert not own - set(values), f"keys printed but not written: {sorted(own - set(values))}"
    chapter = (ROOT / "chapters/08-aufgaben.qmd").read_text(encoding="utf-8")
    assert "facts." not in chapter and "facts_published." not in chapter
    for key in re.findall(r"\{\{< var study\.(\w+) >\}\}", chapter):
        assert key in ids


def test_parameters_reach_the_values(runs):
    default, alternative = runs["default"][0], runs["alternative"][0]
    assert default["values"]["level"] == "10-%-Niveau"
    assert alternative["values"]["level"] == fmt.level(ALTERNATIVE["alpha"]) == "5-%-Niveau"
    assert alternative["values"]["office_size_max_small"] == "6"
    # the group sizes quoted next to the threshold are those of the threshold
    for run in ("default", "alternative"):
        values, _, params = runs[run]
        survey = Survey.load(Params.of(**params))
        office = groups.office_size(survey.data, office_size_max_small=survey.params.office_size_max_small)
        sizes = office.loc[survey.answered("B1").index].value_counts()
        assert values["raw"]["abb28_n_small"] == sizes["Kleine Clustermanagements"]
        assert values["raw"]["abb28_n_large"] == sizes["Große Clustermanagements"]
    assert default["raw"]["abb28_n_small"] != alternative["raw"]["abb28_n_small"]
    # a stricter alpha cannot find more significant differences on the same data and grouping
    assert alternative["raw"]["abb27_sig_count"] <= default["raw"]["abb27_sig_count"]
    # count texts read well for every count, e.g. never "18 der 18"
    for values in (default, alternative):
        for key in ("abb27_sig_count_text", "abb28_sig_count_text"):
            assert not re.match(r"(\d+) der \1 ", values["values"][key])


@pytest.mark.parametrize("run", ["default", "alternative"])
def test_u_test_rows_follow_the_runs_alpha(runs, run):
    values, folder, params = runs[run]
    alpha = params.get("alpha", 0.10)
    for label, key in (("abb-27", "abb27_sig_count"), ("abb-28", "abb28_sig_count")):
        table = pd.read_csv(folder / "08" / f"{label}.csv")
        ut = table[table["section"] == "utest"]
        assert len(ut) == 18
        tested = ut[ut["p"].notna()]
        assert (tested["significant"].astype(bool) == (tested["p"] <= alpha)).all()
        assert values["raw"][key] == int(ut["significant"].astype(bool).sum())


def test_outputs_are_written_with_their_n(runs):
    values, folder, _ = runs["default"]
    out = folder / "08"
    assert values["produced"] == TABLES[:1] + FIGURES[:2] + TABLES[1:] + FIGURES[2:]
    for label in FIGURES:
        for suffix in (".svg", ".csv"):
            assert (out / f"{label}{suffix}").stat().st_size > 0, f"{label}{suffix}"
        assert label.replace("-", "") + "_n" in values["raw"]
    for label in TABLES:
        assert (out / f"{label}.csv").stat().st_size > 0
    # Tab. 5 lists the topics from most to least often relevant, as the study does
    tab05 = pd.read_csv(out / "tab-05.csv")
    assert list(tab05["share"]) == sorted(tab05["share"], reverse=True)
    order = [f.args["item"] for f in registry.load_facts() if f.id.startswith("tab05_B1_")]
    assert list(tab05["item"]) == order
    # Abb. 34 shows the base of B5 as its N and counts the written answers separately
    assert values["raw"]["abb34_n"] == values["raw"]["abb33_n"]
    # ... and counts the coded themes of those answers, answers without content apart
    themes = pd.read_csv(out / "abb-34.csv")
    raw = values["raw"]
    main = themes.loc[~themes["apart"]]
    assert list(main["n"]) == sorted(main["n"], reverse=True) and (main["n"] >= 1).all()
    assert main["n"].max() == raw["abb34_top_theme_n"] <= raw["abb34_n_answers"]
    assert themes.loc[themes["apart"], "n"].sum() == raw["abb34_no_content_n"]
    assert main["n"].sum() + raw["abb34_no_content_n"] >= raw["abb34_n_answers"]


def test_executed_notebook_shows_groupings_and_u_test_tables(runs):
    _, folder, _ = runs["default"]
    nb = nbformat.read(folder / "08.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for call in ("groups.financing_institutional(survey.data, institutional_threshold=params.institutional_threshold)",
                 "groups.office_size(survey.data, office_size_max_small=params.office_size_max_small)"):
        (cell,) = [c for c in code if call in c.source]
        assert cell.outputs, f"the grouping cell shows no group sizes: {call}"
    tests = [c for c in code if "utests.compare_groups(" in c.source]
    assert len(tests) == 2
    for cell in tests:
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        assert "p_bh" in shown and "significant" in shown, "the U-test table is not displayed"
    # a labelled cell shows only its own figure or table
    for cell in code:
        if cell.source.startswith("#| label:"):
            assert "compare_groups" not in cell.source


def test_notebook_is_stored_without_outputs_and_calls_no_chapter_module():
    nb = nbformat.read(ROOT / "notebooks/08-aufgaben.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    source = "\n".join(c.source for c in code)
    assert "clusterkrise.report" not in source and "from clusterkrise import report" not in source
    assert code[-1].source.strip() == "results.finish()"
    assert not (ROOT / "lib/clusterkrise/report/ch08.py").exists()
    # every figure/table the chapter embeds has its labelled cell, in the same order
    chapter = (ROOT / "chapters/08-aufgaben.qmd").read_text(encoding="utf-8")
    embedded = re.findall(r"08-aufgaben\.ipynb#([\w-]+)", chapter)
    labels = [m.group(1) for c in code if (m := re.match(r"#\| label: ([\w-]+)", c.source))]
    assert embedded == labels and len(labels) == 10

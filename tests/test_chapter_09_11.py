"""Chapters 9 (Die Krise als Chance), 10 (Implikationen) and 11 (Fazit): the notebooks as a reader runs them.

Each notebook is executed with papermill on the shipped data with the default parameters and once with
``alpha=0.05, office_size_max_small=6``. Expected numbers come from the registry of published facts
(compared with ``registry.matches``) or are recomputed here from the data with plain pandas and the
independent oracle (tests/oracle.py), never copied from the notebooks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import clusterkrise
from clusterkrise import registry
from clusterkrise.codebook import load_codebook
from clusterkrise.io import load_survey
from clusterkrise.params import Params
from clusterkrise.survey import Survey

from conftest import run_chapter
import oracle

ROOT = clusterkrise.PROJECT_ROOT
CHAPTERS = ("09", "10", "11")
ALT = {"alpha": 0.05, "office_size_max_small": 6}
SECTIONS = {"09": "9", "10": "10", "11": "11"}


def _run_all(folder: Path, **params) -> dict[str, dict]:
    return {ch: run_chapter(ch, folder, **params) | {"folder": folder / ch} for ch in CHAPTERS}


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return _run_all(tmp_path_factory.mktemp("ch09_11_default"))


@pytest.fixture(scope="module")
def alt(tmp_path_factory):
    return _run_all(tmp_path_factory.mktemp("ch09_11_alt"), **ALT)


def _oracle(**params) -> oracle.Survey:
    p = Params.of(**params)
    return oracle.Survey(load_survey(p.data_file), group_params=p.grouping, alpha=p.alpha, min_group_size=p.min_group_size)


def _facts_of(chapter: str) -> list[registry.Fact]:
    section = SECTIONS[chapter]
    return [f for f in registry.load_facts()
            if str(f.place.get("section", "")).split(".")[0] == section and f.kind != "external"]


# ----------------------------------------------------------------------------------------- registry


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_registry_facts_of_the_chapter_are_recorded_and_match(default, chapter):
    raw = default[chapter]["raw"]
    facts = _facts_of(chapter)
    if chapter == "11":
        assert facts == []  # the Fazit restates numbers of earlier chapters; it owns no statement
    wrong = {f.id: raw.get(f.id, "<missing>") for f in facts if f.id not in raw or not registry.matches(f, raw[f.id])}
    assert not wrong, wrong


@pytest.mark.slow
def test_notebook_values_equal_the_oracle_on_the_shipped_data(default):
    survey = _oracle()
    for chapter in ("09", "10"):
        for fact in _facts_of(chapter):
            expected = oracle.recompute(fact, survey)
            got = default[chapter]["raw"][fact.id]
            if isinstance(expected, list):
                assert sorted(got) == sorted(expected), fact.id
            elif isinstance(expected, float):
                assert got == pytest.approx(expected), fact.id
            else:
                assert got == expected, fact.id


# --------------------------------------------------------------------------------------------- prose


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_value_the_chapter_prints_exists(default, alt, chapter):
    (qmd,) = (ROOT / "chapters").glob(f"{chapter}-*.qmd")
    text = qmd.read_text(encoding="utf-8")
    assert "facts." not in text and "facts_published." not in text
    used = set(re.findall(rf"\{{\{{< var ch{chapter}\.([a-z0-9_]+) >\}}\}}", text))
    assert used, f"{qmd.name} prints no value of its notebook"
    for run in (default, alt):
        missing = used - set(run[chapter]["values"])
        assert not missing, f"{qmd.name}: {sorted(missing)}"


@pytest.mark.slow
def test_values_other_chapters_use_exist(default):
    # chapter 7 prints "{{< var ch10.alpha_pct >}}-%-Niveau"; "level" is the whole phrase
    used = set()
    for qmd in (ROOT / "chapters").glob("*.qmd"):
        used |= set(re.findall(r"\{\{< var ch10\.([a-z0-9_]+) >\}\}", qmd.read_text(encoding="utf-8")))
    assert used <= set(default["10"]["values"]), sorted(used - set(default["10"]["values"]))
    assert default["10"]["values"]["alpha_pct"] == "10"
    assert default["10"]["values"]["level"] == "10-%-Niveau"


def test_questionnaires_are_not_called_interviews():
    for chapter in ("09", "10", "11"):
        (qmd,) = (ROOT / "chapters").glob(f"{chapter}-*.qmd")
        for line in qmd.read_text(encoding="utf-8").splitlines():
            if "Interview" in line:
                assert "Experteninterview" in line, f"{qmd.name}: {line}"


# ------------------------------------------------------------------------------------------- outputs


@pytest.mark.slow
def test_figures_tables_and_their_data_are_written(default):
    expected = {"09": ["abb-35", "abb-36", "abb-37", "abb-38", "abb-39"], "10": ["ch10-1", "ch10-2"],
                "11": ["ch11-1"]}
    for chapter, labels in expected.items():
        run = default[chapter]
        assert run["produced"] == labels
        for label in labels:
            assert (run["folder"] / f"{label}.csv").stat().st_size > 0
            if not label.startswith("ch11"):
                assert (run["folder"] / f"{label}.svg").stat().st_size > 0


@pytest.mark.slow
def test_utest_rows_are_saved_with_the_figures(default, alt):
    n_b1 = len(load_codebook().items_of("B1"))
    for run, alpha in ((default, 0.10), (alt, 0.05)):
        frame = pd.read_csv(run["09"]["folder"] / "abb-38.csv")
        ut = frame[frame["section"] == "utest"]
        assert len(ut) == 1 and ut["grouping"].iloc[0] == "office_size" and ut["item"].iloc[0] == "C3"
        # the table records no alpha column (yet); its verdict must be the one at this run's alpha
        assert bool(ut["significant"].iloc[0]) == bool(ut["p"].iloc[0] <= alpha)
        values = frame[frame["section"] == "values"]
        assert ((values.groupby("item")["share"].sum() - 1).abs() < 1e-5).all()
        # the summary of who leads on how many support items keeps both comparisons' tests
        frame = pd.read_csv(run["10"]["folder"] / "ch10-1.csv")
        ut = frame[frame["section"] == "utest"]
        assert ut["grouping"].value_counts().to_dict() == {"financing": n_b1, "office_size": n_b1}
        leads = frame[frame["section"] == "values"]
        for grouping, comparison in (("financing", "nach Finanzierung"), ("office_size", "nach Größe")):
            rows = leads[leads["comparison"].str.startswith(comparison)]
            tests = ut[ut["grouping"] == grouping]
            # each significant test is one significant lead of one of the two groups
            assert rows["n_sig"].sum() == tests["significant"].astype(bool).sum()
            assert (rows["n_sig"] + rows["n_not_sig"]).sum() <= n_b1


@pytest.mark.slow
def test_figure_n_is_the_number_who_answered(default):
    data = Survey.load(Params.of()).data
    answered = {q: int(data[load_codebook().items_of(q)].notna().any(axis=1).sum()) for q in ("C1", "C2", "C3", "B1")}
    raw9, raw10 = default["09"]["raw"], default["10"]["raw"]
    assert raw9["abb35_n"] == answered["C1"] and raw9["abb36_n"] == answered["C2"]
    assert raw9["abb37_n"] == raw9["abb38_n"] == raw9["abb39_n"] == answered["C3"]
    assert raw10["ch101_n"] == answered["B1"]


def test_n_answered_counts_the_rows_answered_returns():
    survey = Survey.load(Params.of())
    questions = [q.id for q in survey.codebook]
    assert {q: survey.n_answered(q) for q in questions} == {q: len(survey.answered(q)) for q in questions}
    assert len({survey.n_answered(q) for q in questions}) > 1, "the questions should differ in who answered"


# -------------------------------------------------------------------------------------------- params


@pytest.mark.slow
def test_parameters_reach_the_values(default, alt):
    for chapter in ("09", "10", "11"):
        assert default[chapter]["values"]["level"] == "10-%-Niveau"
        assert alt[chapter]["values"]["level"] == "5-%-Niveau"
    assert alt["10"]["values"]["alpha_pct"] == "5"
    assert default["09"]["values"]["office_size_max_small"] == "5"
    assert alt["09"]["values"]["office_size_max_small"] == "6"
    assert alt["10"]["values"]["office_size_max_small"] == "6"

    # group sizes of Abb. 38 follow the threshold, recomputed from the data
    data = Survey.load(Params.of()).data
    c3 = data.loc[data["C3"].notna()]
    staff = pd.to_numeric(c3["D5_staff"], errors="coerce")
    for run, cut in ((default, 5), (alt, 6)):
        raw = run["09"]["raw"]
        assert raw["c3_small_n"] == int((staff <= cut).sum())
        assert raw["c3_large_n"] == int((staff > cut).sum())
        large = c3.loc[staff > cut, "C3"]
        assert raw["c3_large_stronger_pct"] == pytest.approx(100 * large.isin([4, 5]).mean())

    # the U-test counts follow alpha and the office-size threshold (oracle with the same parameters)
    for run, params in ((default, {}), (alt, ALT)):
        survey = _oracle(**params)
        for grouping, prefix in (("financing", "financing"), ("office_size", "size")):
            ut = survey.utest("B1", grouping)
            assert run["10"]["raw"][f"{prefix}_n_sig"] == int(ut["significant"].sum())
        assert run["11"]["raw"]["n_sig_financing_favour"] == run["10"]["raw"]["financing_n_sig_favour"]
    assert alt["10"]["raw"]["financing_n_sig"] <= default["10"]["raw"]["financing_n_sig"]


@pytest.mark.slow
def test_count_phrases_read_well(default, alt):
    for run in (default, alt):
        v, raw = run["10"]["values"], run["10"]["raw"]
        for prefix in ("financing", "size"):
            k, n = raw[f"{prefix}_n_favour"], raw[f"{prefix}_n_items"]
            assert v[f"{prefix}_favour_at"] == ("allen" if k == n else "keinem" if k == 0 else "einem" if k == 1 else str(k))
        text = run["11"]["values"]["sig_financing_favour_text"]
        k, n = run["11"]["raw"]["n_sig_financing_favour"], run["11"]["raw"]["b1_n_items"]
        assert text.startswith("bei ") and f"{n} Unterstützungsleistungen" in text
        assert f" {k} der " in text or k in (0, 1, n)
        assert f"{n} der {n}" not in text


@pytest.mark.slow
def test_chapter_11_headlines_recomputed(default):
    survey = Survey.load(Params.of())
    raw = default["11"]["raw"]
    assert raw["n_started"] == len(survey.started)
    assert raw["n_analysed"] == len(survey.data)
    assert raw["n_completed"] == int((pd.to_numeric(survey.started["completed"], errors="coerce") == 1).sum())
    c1_01 = survey.data["C1_01"].dropna()
    assert raw["innovation_communication_pct"] == pytest.approx(100 * (c1_01 == 1).mean())
    b4 = survey.data["B4"].dropna()
    assert raw["coop_clusters_more_pct"] == pytest.approx(100 * b4.isin([6, 7, 8, 9]).mean())
    assert raw["coop_clusters_more_pct"] == default["10"]["raw"]["coop_clusters_more_pct"]


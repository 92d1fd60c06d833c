"""Chapters 3-5: the notebooks run, record every registry fact of sections 2.x and 5.x, and give the
chapter prose every value it prints.

Chapters 3 and 4 draw from ``data/qualitative/``; chapter 5 builds Tab. 2 from the codebook and the
response figures from the survey data. Expected survey values come from the registry
(``registry.matches``) or from the independent recomputation in ``tests/oracle.py``; nothing is typed here.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import clusterkrise
from clusterkrise import formatting as fmt
from clusterkrise import qualitative, registry
from clusterkrise.codebook import load_codebook
from clusterkrise.io import load_survey
from conftest import run_chapter
import oracle

pytestmark = pytest.mark.slow

ROOT = clusterkrise.PROJECT_ROOT
CHAPTERS = ("03", "04", "05")
FACTS = registry.load_facts()
#: Registry facts the chapter-5 notebook answers: the study's sections 2.x and 5.x.
CH05_FACTS = [f for f in FACTS if str(f.place.get("section", "")).split(".")[0] in {"2", "5"}]
ALT_PARAMS = {"alpha": 0.05, "office_size_max_small": 6}
VAR = re.compile(r"\{\{<\s*var\s+(ch\d\d|study|facts|facts_published)\.([\w]+)\s*>\}\}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    out = {}
    for chapter in CHAPTERS:
        folder = tmp_path_factory.mktemp(f"ch{chapter}")
        out[chapter] = (run_chapter(chapter, folder), folder)
    return out


@pytest.fixture(scope="module")
def alt05(tmp_path_factory) -> dict:
    return run_chapter("05", tmp_path_factory.mktemp("ch05_alt"), **ALT_PARAMS)


@pytest.fixture(scope="module")
def resampled(tmp_path_factory) -> tuple[dict, pd.DataFrame]:
    """Notebook 05 on a resample of the shipped data (rows drawn with replacement, ids renumbered)."""
    source = ROOT / "data" / "survey" / "responses.csv"
    frame = pd.read_csv(source, comment="#", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(7)
    sample = frame.iloc[rng.integers(0, len(frame), len(frame))].reset_index(drop=True)
    sample["respondent_id"] = [str(i) for i in range(1, len(sample) + 1)]
    folder = tmp_path_factory.mktemp("ch05_resample")
    path = folder / "resample.csv"
    sample.to_csv(path, index=False)
    values = run_chapter("05", folder / "out", data_path=str(path))
    return values, load_survey(path)


def _csv(folder: Path, chapter: str, stem: str) -> pd.DataFrame:
    return pd.read_csv(folder / chapter / f"{stem}.csv", keep_default_na=False, na_values=[""])


def _prose_vars() -> list[tuple[str, str, str]]:
    """(file, namespace, key) of every ``{{< var >}}`` in the book's chapter files."""
    found = []
    for path in sorted((ROOT / "chapters").glob("*.qmd")):
        for ns, key in VAR.findall(path.read_text(encoding="utf-8")):
            found.append((path.name, ns, key))
    return found


# ------------------------------------------------------------------------------------------ registry


def test_every_fact_of_sections_2_and_5_is_recorded_and_matches(runs):
    assert CH05_FACTS, "the registry lists no fact of sections 2.x and 5.x"
    raw = runs["05"][0]["raw"]
    problems = []
    for fact in CH05_FACTS:
        if fact.kind == "external":
            assert fact.id not in raw, f"{fact.id} is external and must not look like a result of the data"
            continue
        if fact.id not in raw:
            problems.append(f"{fact.id}: not recorded")
        elif not registry.matches(fact, raw[fact.id]):
            problems.append(f"{fact.id}: recorded {raw[fact.id]!r}, registry expects {fact.target!r}")
    assert not problems, "\n".join(problems)


def test_values_follow_a_resampled_data_set(resampled):
    values, data = resampled
    truth = oracle.Survey(data)
    raw = values["raw"]
    for fact in CH05_FACTS:
        if fact.kind == "external":
            continue
        expected = oracle.recompute(fact, truth)
        assert raw[fact.id] == pytest.approx(expected), fact.id
    # the derived wordings come from the same numbers
    assert raw["n_cleaned"] == len(truth.cleaned)
    assert raw["n_cleaned_out"] == len(truth.started) - len(truth.cleaned)
    total = int(fmt.round_half_up(raw["median_duration"], 0))
    assert raw["median_duration_minutes"] * 60 + raw["median_duration_rest_seconds"] == total
    assert values["values"]["median_duration_rest_seconds"] == str(total % 60)


# ------------------------------------------------------------------------------------------ prose


def test_every_chapter_value_the_prose_prints_exists(runs):
    missing = [f"{file}: {ns}.{key}" for file, ns, key in _prose_vars()
               if ns[2:] in CHAPTERS and ns.startswith("ch") and key not in runs[ns[2:]][0]["values"]]
    assert not missing, "values the prose prints but the notebooks do not record:\n" + "\n".join(missing)


def test_chapters_2_to_5_use_no_second_path_and_quote_the_study_as_such():
    published = registry.published_text()
    for name in ("02-studiendesign.qmd", "03-situation-und-berichte.qmd", "04-interviews.qmd", "05-online-befragung.qmd"):
        text = (ROOT / "chapters" / name).read_text(encoding="utf-8")
        used = VAR.findall(text)
        assert not [k for ns, k in used if ns in {"facts", "facts_published"}], name
        for ns, key in used:
            if ns == "study":
                assert key in published, f"{name}: study.{key} is not a registry fact with a printed value"
                # the sentence must say that the study is quoting it
                sentence = next(s for s in re.split(r"(?<=[.;])\s", text) if f"study.{key}" in s)
                assert "Studie" in sentence, f"{name}: the sentence with study.{key} does not name the study"


# ------------------------------------------------------------------------------------------ chapter 3


def test_ch03_diagrams_follow_the_qualitative_data(runs):
    payload, folder = runs["03"]
    assert payload["produced"] == ["abb-01", "abb-02", "abb-03"]
    for label in payload["produced"]:
        for suffix in ("svg", "csv"):
            path = folder / "03" / f"{label}.{suffix}"
            assert path.is_file() and path.stat().st_size > 0, path
    ketels = qualitative.load_ketels()
    assert _csv(folder, "03", "abb-01")["label"].tolist() == ketels["label"].tolist()
    timeline = qualitative.load_timeline()
    assert len(_csv(folder, "03", "abb-02")) == len(timeline)
    field = timeline.loc[timeline["step_key"] == "feldzeit"].iloc[0]
    values = payload["values"]
    assert values["fieldwork_start"] == field["step_start"].strftime("%d.%m.%Y")
    assert values["fieldwork_end_text"].endswith(str(field["step_end"].year))
    assert values["n_phases"] == str(timeline["phase"].nunique())
    levels = qualitative.load_actor_levels()
    assert values["n_actor_levels"] == str(levels["level"].nunique())
    bitkom = qualitative.load_desk_research().findings.set_index("key").loc["bitkom_digitalinvestitionen"]
    assert payload["raw"]["bitkom_digital_pct"] == bitkom["value"]


# ------------------------------------------------------------------------------------------ chapter 4


def _displayed_markdown(executed: Path, label: str) -> str:
    nb = nbformat.read(executed, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and f"#| label: {label}" in c.source)
    return "".join(o.get("data", {}).get("text/markdown", "") for o in cell.outputs)


def test_ch04_interview_figures_and_tab01(runs):
    payload, folder = runs["04"]
    values, raw = payload["values"], payload["raw"]
    interviews = qualitative.load_interviews()
    # computed from the per-interview table, they must give what the study published
    assert raw["n_interviews"] == interviews.published["n_interviews"].value
    assert raw["mean_duration_minutes"] == pytest.approx(interviews.published["mean_duration_minutes"].value, abs=0.05)
    assert values["first_interview"] == interviews.table["date"].min().strftime("%d.%m.%Y")
    categories = qualitative.load_categories()
    abb04 = _csv(folder, "04", "abb-04")
    assert abb04["number"].tolist() == categories["number"].tolist()
    assert abb04["label"].tolist() == categories["label"].tolist()
    requirements = qualitative.load_requirements()
    assert len(_csv(folder, "04", "tab-01")) == len(requirements)
    markdown = _displayed_markdown(folder / "04.ipynb", "tbl-tab-01")
    lines = markdown.splitlines()
    for column in ("Bereich", "Anforderungen", "Implikationen für Clustermanagements", "Implikationen für Clusterförderung"):
        assert column in lines[0]
    assert len(lines) == 2 + requirements["area"].nunique()
    for text in requirements["text"]:
        assert text in markdown
    assert raw["n_requirements"] + raw["n_implications"] == len(requirements)


# ------------------------------------------------------------------------------------------ chapter 5


def test_ch05_tab02_is_built_from_the_codebook(runs):
    payload, folder = runs["05"]
    tab = _csv(folder, "05", "tab-02")
    codebook = load_codebook()
    listed = [q for q in codebook if q.in_questionnaire_table]
    assert tab["question"].tolist() == [q.id for q in listed]
    unlisted = [q.id for q in codebook if not q.in_questionnaire_table]
    assert not set(unlisted) & set(tab["question"])
    for q in listed:
        row = tab.loc[tab["question"] == q.id].iloc[0]
        if q.is_open:
            assert row["scale"] == "offene Frage"
        if q.multiple:
            assert "Mehrfachauswahl" in row["scale"]
        for label in list(q.scale.labels.values()) + list(q.scale.special.values()):
            assert str(label) in row["scale"], (q.id, label)
    assert (tab.groupby("block")["nr"].min() == 1).all()
    assert payload["raw"]["n_questions"] == len(listed)


def test_ch05_alpha_reaches_the_text_and_nothing_else_moves(runs, alt05):
    default = runs["05"][0]
    assert default["values"]["level"] == fmt.level(default["params"]["alpha"])
    assert alt05["values"]["level"] == fmt.level(ALT_PARAMS["alpha"])
    assert alt05["values"]["level"] != default["values"]["level"]
    assert alt05["raw"]["alpha_pct"] == pytest.approx(100 * ALT_PARAMS["alpha"])
    # the study's level does not follow the parameter
    assert alt05["values"]["study_level"] == default["values"]["study_level"]
    for key in ("started", "completed", "dropout_pct", "n_min_closed", "n_max_closed", "n_cleaned"):
        assert alt05["raw"][key] == default["raw"][key], key

"""The registry of the study's statements: the default build's notebook values reproduce every one of
them, the check can fail, and the shipped data are what the generator makes.

Two independent computations meet here: the chapter notebooks (the book's only source of numbers,
checked through ``clusterkrise.registry.check_values``) and ``tests/oracle.py`` (each statement
recomputed from its ``kind``/``args`` with plain pandas).
"""

from __future__ import annotations

import pandas as pd
import pytest

from clusterkrise import DATA_DIR
from clusterkrise.build import collect_raw_values
from clusterkrise.descriptives import trend_arrow
from clusterkrise.io import apply_cleaning, load_survey
from clusterkrise.registry import check_values, conflicts, load_facts, load_readings, matches, published_text
from clusterkrise.synth.generate import count_for_pct, generate, write_outputs

import oracle

FACTS = load_facts()
SURVEY_FACTS = [f for f in FACTS if f.kind != "external"]
RESPONSES = DATA_DIR / "survey" / "responses.csv"


@pytest.fixture(scope="module")
def survey_data() -> pd.DataFrame:
    return load_survey(RESPONSES)


@pytest.fixture(scope="module")
def survey(survey_data) -> oracle.Survey:
    return oracle.Survey(survey_data)


@pytest.fixture(scope="module")
def check_table(executed_project) -> pd.DataFrame:
    return check_values(collect_raw_values(executed_project)).set_index("id")


@pytest.mark.slow
@pytest.mark.parametrize("fact", SURVEY_FACTS, ids=lambda f: f.id)
def test_default_build_reproduces_published_fact(fact, check_table):
    row = check_table.loc[fact.id]
    assert not row["error"], f"{fact.where}: '{fact.printed}': {row['error']}"
    assert row["match"], f"{fact.where}: '{fact.printed}' expects {fact.target!r}, chapter {row['chapter']} computed {row['recomputed']!r}"


@pytest.mark.parametrize("fact", SURVEY_FACTS, ids=lambda f: f.id)
def test_oracle_reproduces_published_fact(fact, survey):
    """The shipped data themselves give every statement (independently of the notebooks)."""
    value = oracle.recompute(fact, survey)
    assert matches(fact, value), f"{fact.where}: '{fact.printed}' expects {fact.target!r}, data give {value!r}"


def test_check_fails_when_a_value_disagrees():
    facts = [f for f in FACTS if f.id in {"started", "completed"}]
    raw = {"05": {"started": 160, "completed": 99}}
    table = check_values(raw, facts).set_index("id")
    assert bool(table.loc["started", "match"]) and not bool(table.loc["completed", "match"])


def test_check_names_a_fact_no_notebook_recorded_and_one_recorded_twice():
    facts = [f for f in FACTS if f.id in {"started", "completed"}]
    table = check_values({"05": {"started": 160}, "06": {"started": 160}}, facts).set_index("id")
    assert "no chapter notebook" in table.loc["completed", "error"]
    assert "several chapters" in table.loc["started", "error"]
    assert not table["match"].any()


def test_published_text_is_the_printed_value_in_german_notation():
    text = published_text(FACTS)
    assert text["dropout_pct"] == "37,5"
    assert text["started"] == "160"
    assert "abb16_size_sig" not in text  # lists and flags are not printable numbers


def test_registry_is_large_and_unique():
    ids = [f.id for f in FACTS]
    assert len(ids) == len(set(ids))
    refs = {f.place.get("ref") for f in FACTS}
    for ref in ("Tab. 3", "Tab. 5", "Tab. 6", "Abb. 7", "Abb. 9", "Abb. 11", "Abb. 16", "Abb. 20", "Abb. 23", "Abb. 27", "Abb. 28", "Abb. 32", "Abb. 35", "Abb. 36", "Abb. 37"):
        assert ref in refs, ref


def test_every_conflict_names_the_reading_the_data_follow():
    found = conflicts(FACTS)
    assert found, "the study contradicts itself in several places; the registry must say where"
    for fact in found:
        assert fact.conflict and len(fact.conflict) > 40


def test_oracle_fails_when_the_data_disagree(survey_data):
    broken = survey_data.copy()
    first_completed = broken.index[broken["completed"] == 1][0]
    broken.loc[first_completed, "completed"] = 0
    s = oracle.Survey(broken)
    status = {f.id: matches(f, oracle.recompute(f, s)) for f in FACTS if f.id in {"completed", "dropout_pct", "started"}}
    assert status == {"started": True, "completed": False, "dropout_pct": False}


def test_significance_fact_fails_when_a_difference_vanishes(survey_data):
    fact = next(f for f in FACTS if f.id == "abb16_size_sig")
    flattened = survey_data.copy()
    rated = flattened["A1_05"].notna() & (flattened["A1_05"] != 99)
    flattened.loc[rated, "A1_05"] = 1
    assert not matches(fact, oracle.recompute(fact, oracle.Survey(flattened)))


def test_cleaning_rule_removes_short_interviews(survey_data, survey):
    short = pd.to_numeric(survey_data["duration_seconds"]) < survey.codebook.min_duration_seconds
    assert short.any(), "the synthetic export must contain interviews the cleaning rule removes"
    assert len(apply_cleaning(survey_data)) == len(survey_data) - short.sum() == len(survey.cleaned)


def test_generator_reproduces_the_shipped_files(tmp_path):
    responses, open_answers = generate()
    paths = write_outputs(responses, open_answers, tmp_path)
    for path in paths:
        assert path.read_bytes() == (DATA_DIR / "survey" / path.name).read_bytes(), f"{path.name} differs: rerun python -m clusterkrise.synth"


@pytest.mark.parametrize("pct,n,decimals,expected", [(44, 103, None, 45), (30.2, 106, 1, 32), (10.8, 65, 1, 7), (93, 127, None, 118)])
def test_count_for_pct(pct, n, decimals, expected):
    assert count_for_pct(pct, n, decimals) == expected


def test_count_for_pct_rejects_unprintable_share():
    with pytest.raises(ValueError):
        count_for_pct(50.5, 3, 1)


@pytest.mark.parametrize("mean,arrow", [(1.4, "↑"), (0.5, "↗"), (0.0, "→"), (-0.6, "↘"), (-1.5, "↓")])
def test_trend_arrow(mean, arrow):
    assert trend_arrow(mean) == arrow


# ---------------------------------------------------------------- the study's words for quantities

READINGS = load_readings()


def test_every_statement_in_words_carries_a_reading_from_the_table():
    """A registered statement that uses one of the table's phrases is checked with that phrase's reading."""
    # the same words inside the names of comparison groups (Tab. 4) are names, not quantities
    group_names = ("größtenteils projekt", "größtenteils institutionell", "größtenteils durch mitglieder", "überwiegend institutionell")

    def words(text: str) -> str:
        text = text.lower()
        for name in group_names:
            text = text.replace(name, "")
        return text

    missing = [f.id for f in FACTS if f.reading is None and any(p.lower() in words(f.printed) for p in READINGS)]
    assert missing == []
    used = {f.reading for f in FACTS if f.reading}
    assert used <= set(READINGS)
    assert len([f for f in FACTS if f.reading]) >= 15


@pytest.mark.parametrize("phrase,inside,outside", [
    ("knapp die Hälfte", [40.0, 49.9], [39.9, 50.0]),
    ("etwa ein Viertel", [20.0, 30.0], [19.9, 30.1]),
    ("mehr als die Hälfte", [50.1, 100.0], [50.0]),
    ("nahezu alle", [90.0], [89.9]),
    ("paritätisch", [0.8, 1.0], [0.79]),
])
def test_a_reading_accepts_its_interval_and_nothing_else(phrase, inside, outside):
    fact = next(f for f in FACTS if f.reading == phrase)
    assert all(matches(fact, v) for v in inside)
    assert not any(matches(fact, v) for v in outside)


def test_scale_readings_become_values_of_the_question_scale():
    mid = next(f for f in FACTS if f.reading == "kreisen um den mittleren Bereich")
    assert (mid.interval.lo, mid.interval.hi) == (4.0, 7.0)  # middle third of the 1-10 slider
    assert matches(mid, [4.2, 6.6]) and not matches(mid, [3.9, 6.6])
    high = next(f for f in FACTS if f.reading == "hohe Intensität")
    assert not matches(high, 5.5) and matches(high, 5.6)


def test_unknown_reading_and_reading_with_its_own_tolerance_are_rejected(tmp_path):
    bad = tmp_path / "facts.yaml"
    bad.write_text("facts:\n  - {id: x, printed: y, kind: pct_values, args: {column: A2_01, values: [2]}, reading: ungefähr manchmal}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x: reading 'ungefähr manchmal' is not in verbal_quantities\.yaml"):
        load_facts(bad)
    bad.write_text("facts:\n  - {id: x, printed: y, kind: pct_values, args: {column: A2_01, values: [2]}, reading: drei Viertel, published: 60}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x: published 60 lies outside its reading 'drei Viertel'"):
        load_facts(bad)

"""The shipped synthetic data reproduce every registered fact of the study, and the check can fail."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterkrise import DATA_DIR
from clusterkrise.facts import Survey, check_facts, conflicts, load_facts, matches, recompute, trend_arrow
from clusterkrise.io import load_survey
from clusterkrise.synth.generate import count_for_pct, generate, write_outputs

FACTS = load_facts()
RESPONSES = DATA_DIR / "survey" / "responses.csv"


@pytest.fixture(scope="module")
def survey_data() -> pd.DataFrame:
    return load_survey(RESPONSES)


@pytest.fixture(scope="module")
def survey(survey_data) -> Survey:
    return Survey(survey_data)


@pytest.mark.parametrize("fact", [f for f in FACTS if f.kind != "external"], ids=lambda f: f.id)
def test_published_fact_is_reproduced(fact, survey):
    value = recompute(fact, survey)
    assert matches(fact, value), f"{fact.where}: '{fact.printed}' expects {fact.target!r}, data give {value!r}"


def test_registry_is_large_and_unique():
    ids = [f.id for f in FACTS]
    assert len(ids) == len(set(ids))
    # every figure and table of the study whose numbers the text prints has at least one fact
    refs = {f.place.get("ref") for f in FACTS}
    for ref in ("Tab. 3", "Tab. 5", "Tab. 6", "Abb. 7", "Abb. 9", "Abb. 11", "Abb. 16", "Abb. 20", "Abb. 23", "Abb. 27", "Abb. 28", "Abb. 32", "Abb. 35", "Abb. 36", "Abb. 37"):
        assert ref in refs, ref


def test_every_conflict_names_the_reading_the_data_follow():
    found = conflicts(FACTS)
    assert found, "the study contradicts itself in several places; the registry must say where"
    for fact in found:
        assert fact.conflict and len(fact.conflict) > 40


def test_check_fails_when_the_data_disagree(survey_data):
    broken = survey_data.copy()
    first_completed = broken.index[broken["completed"] == 1][0]
    broken.loc[first_completed, "completed"] = 0
    table = check_facts(broken, facts=[f for f in FACTS if f.id in {"completed", "dropout_pct", "started"}])
    status = dict(zip(table["id"], table["match"]))
    assert status == {"started": True, "completed": False, "dropout_pct": False}


def test_significance_fact_fails_when_a_difference_vanishes(survey_data):
    fact = next(f for f in FACTS if f.id == "abb16_size_sig")
    shuffled = survey_data.copy()
    # Give every respondent the same answer on the one item with a published size difference.
    rated = shuffled["A1_05"].notna() & (shuffled["A1_05"] != 99)
    shuffled.loc[rated, "A1_05"] = 1
    assert not matches(fact, recompute(fact, Survey(shuffled)))


def test_cleaning_rule_removes_short_interviews(survey_data, survey):
    short = pd.to_numeric(survey_data["duration_seconds"]) < survey.codebook.min_duration_seconds
    assert short.any(), "the synthetic export must contain interviews the cleaning rule removes"
    assert len(survey.cleaned) == len(survey_data) - short.sum()


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

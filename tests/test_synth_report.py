"""The shipped synthetic answers behave like a survey's (issue 14), and the realism report can fail."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clusterkrise import DATA_DIR
from clusterkrise.codebook import load_codebook
from clusterkrise.filterlogic import FilterLogicWarning, breakoff_pattern, filter_violations, warn_filter_violations
from clusterkrise.io import load_survey
from clusterkrise.synth.report import LIMITS, build_report

RESPONSES = DATA_DIR / "survey" / "responses.csv"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FilterLogicWarning)  # the shipped data must not need one
        return load_survey(RESPONSES)


@pytest.fixture(scope="module")
def report(data):
    return build_report(data)


def test_shipped_data_pass_the_realism_bar(report):
    assert report.ok, report.text()


def test_construct_batteries_hang_together(report):
    constructs = report.batteries[report.batteries["construct"]]
    assert len(constructs) >= 4
    assert (constructs["median_spearman"] >= LIMITS["battery_spearman_min"]).all(), constructs


def test_registered_differences_have_plausible_size(report):
    sig = report.differences[report.differences["significant"]]
    assert len(sig) >= 40
    assert (sig["p"] <= 0.10).all()
    assert (sig["p"] < 0.001).mean() <= 0.5
    assert 0.2 <= sig["r_rb"].abs().median() <= 0.4


def test_filter_logic_and_breakoff(data, report):
    assert len(report.violations) == 0
    assert report.breakoff["after_gap_share"] <= LIMITS["breakoff_answers_after_gap_max"]
    # duration grows with progress among those who broke off
    assert report.breakoff["duration_progress_spearman"] > 0.5


def test_report_flags_broken_data(data):
    broken = data.copy()
    # a respondent without cooperation who ticks cooperation topics; a non-completer who skips A2 and answers A4
    none = broken.index[broken["B4"] == 0][0]
    broken.loc[none, "B5_01"] = 1
    drop = broken.index[(broken["completed"] == 0) & broken["A4_01"].notna()][0]
    broken.loc[drop, load_codebook().items_of("A2")] = np.nan
    # every woman finds planning uncertainty a big challenge
    broken.loc[broken["D8_gender"] == 1, "A2_01"] = 2
    rep = build_report(broken)
    assert not rep.ok
    assert "B5" in set(rep.violations["rule"])
    assert rep.breakoff["after_gap"] >= 1
    assert ((rep.unanimous_groups["item"] == "A2_01") & (rep.unanimous_groups["group"] == "weiblich")).any()


def test_validation_warns_but_keeps_a_table_that_breaks_the_filter(data):
    broken = data.copy()
    idx = broken.index[broken["B4"] == 0][0]
    broken.loc[idx, "B5_02"] = 1
    with pytest.warns(FilterLogicWarning, match="B5"):
        found = warn_filter_violations(broken)
    assert list(found["rule"]) == ["B5"]
    assert filter_violations(data).empty


def test_breakoff_pattern_reads_pages_in_order():
    cb = load_codebook()
    frame = pd.DataFrame({c: [1.0, 1.0] for c in cb.items_of("A1")} | {c: [np.nan, 1.0] for c in cb.items_of("A2")} | {c: [1.0, np.nan] for c in cb.items_of("A3")})
    pat = breakoff_pattern(frame, cb)
    assert list(pat["answers_after_gap"]) == [True, False]

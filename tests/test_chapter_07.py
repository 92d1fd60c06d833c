"""Chapter 7 (Abb. 16-26) as the notebook computes it: registry facts, prose keys, outputs, parameters.

The notebook runs twice with papermill: with the defaults and with ``alpha=0.05,
office_size_max_small=6``. The facts of sections 7.x must be recorded and match the registry in the
default run; every ``{{< var ch07.* >}}`` of the chapter must exist; parameter-dependent values must
follow the parameters.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from clusterkrise import PROJECT_ROOT
from clusterkrise import formatting as fmt
from clusterkrise.registry import load_facts, matches

from conftest import run_chapter

pytestmark = pytest.mark.slow

FIGURES = [f"abb-{n}" for n in range(16, 27)]
GROUP_FIGURES = ["abb-16", "abb-17", "abb-18", "abb-19", "abb-20", "abb-23", "abb-26"]
FACTS = [f for f in load_facts() if str(f.place.get("section", "")).startswith("7") and f.kind != "external"]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ch07")
    return out, run_chapter("07", out)


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ch07_alt")
    return out, run_chapter("07", out, alpha=0.05, office_size_max_small=6)


def _utest_rows(out, label: str) -> pd.DataFrame:
    frame = pd.read_csv(out / "07" / f"{label}.csv")
    return frame[frame["section"] == "utest"] if "section" in frame else frame.iloc[0:0]


def test_chapter_has_facts():
    assert len(FACTS) >= 50


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.id)
def test_registry_fact_recorded_and_matching(fact, default_run):
    _, values = default_run
    assert fact.id in values["raw"], f"notebook does not record {fact.id}"
    value = values["raw"][fact.id]
    assert matches(fact, value), f"{fact.where}: '{fact.printed}' expects {fact.target!r}, notebook gives {value!r}"


def test_every_prose_key_exists(default_run, other_run):
    text = (PROJECT_ROOT / "chapters" / "07-neue-situation.qmd").read_text(encoding="utf-8")
    keys = set(re.findall(r"\{\{< var ch07\.([a-z0-9_]+) >\}\}", text))
    assert len(keys) > 40
    assert "facts." not in text and "ch10.alpha_pct" not in text and "ch06." not in text
    for _, values in (default_run, other_run):
        missing = sorted(keys - set(values["values"]))
        assert not missing, missing


def test_figures_written_with_n(default_run):
    out, values = default_run
    assert values["produced"] == FIGURES
    for label in FIGURES:
        for ext in ("svg", "csv"):
            path = out / "07" / f"{label}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
        assert values["raw"][f"{label.replace('-', '')}_n"] > 0


def test_comparison_figures_carry_their_utest_rows(default_run):
    out, _ = default_run
    for label in GROUP_FIGURES:
        rows = _utest_rows(out, label)
        assert len(rows) and rows["p"].notna().any(), label
    a2 = _utest_rows(out, "abb-18")
    assert a2["grouping"].nunique() == 8 and len(a2) == 8 * 9


@pytest.mark.parametrize("label", GROUP_FIGURES)
def test_significance_follows_alpha(label, default_run, other_run):
    for (out, _), alpha in ((default_run, 0.10), (other_run, 0.05)):
        rows = _utest_rows(out, label)
        tested = rows[rows["p"].notna()]
        assert (tested["significant"].astype(bool) == (tested["p"] <= alpha)).all(), (label, alpha)


def test_parameters_reach_the_text(default_run, other_run):
    _, d = default_run
    _, o = other_run
    assert d["values"]["level"] == "10-%-Niveau" and o["values"]["level"] == "5-%-Niveau"
    assert d["values"]["office_size_max_small"] == "5" and o["values"]["office_size_max_small"] == "6"
    # the A2 size comparison is recomputed with the threshold: other group sizes, other tests
    d_rows = _utest_rows(default_run[0], "abb-18").query("grouping == 'office_size'")
    o_rows = _utest_rows(other_run[0], "abb-18").query("grouping == 'office_size'")
    assert not d_rows["n_1"].reset_index(drop=True).equals(o_rows["n_1"].reset_index(drop=True))
    # a stricter level can only drop significant A2 tests, and the count the prose prints follows it
    assert o["raw"]["a2_n_sig"] <= d["raw"]["a2_n_sig"]
    assert o["raw"]["a2_n_sig"] == int(_utest_rows(other_run[0], "abb-18")["significant"].astype(bool).sum())


def test_counts_read_well(default_run, other_run):
    for _, values in (default_run, other_run):
        for key in ("abb16_size_sig_count", "abb20_sig_count", "a4_high_higher_count", "a6_low_higher_count",
                    "a7_low_higher_count", "a6_full_range_count"):
            text = values["values"][key]
            numbers = [int(x) for x in re.findall(r"\d+", text)]
            # never "12 der 12": all items read "alle 12 Items"
            assert not (len(numbers) == 2 and numbers[0] == numbers[1]), (key, text)
        for key in ("abb20_not_significant", "a7_opposite_items", "abb18_age_none", "abb18_size_none"):
            assert values["values"][key].strip(), key


def test_not_significant_list_matches_the_tests(default_run):
    out, values = default_run
    rows = _utest_rows(out, "abb-20")
    not_sig = rows.loc[~rows["significant"].astype(bool), "item"]
    assert values["raw"]["abb20_not_significant"] == sorted(not_sig)
    labels = list(rows.loc[~rows["significant"].astype(bool), "item_label"])
    assert values["values"]["abb20_not_significant"] == fmt.german_list(labels, empty="kein Item")

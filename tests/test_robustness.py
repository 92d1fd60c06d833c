"""The robustness appendix: every registered significance statement, checked under test variants,
stricter criteria and the study's alternative readings of its comparison groups."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterkrise.registry import load_facts

from conftest import run_chapter

pytestmark = pytest.mark.slow

STATEMENTS = [f for f in load_facts() if f.kind in ("sig_set", "sig_count")]


@pytest.fixture(scope="module")
def appendix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch12")
    values = run_chapter("12", folder)
    table = pd.read_csv(folder / "12" / "tab-08.csv")
    return values, table


def test_every_registered_significance_statement_is_listed(appendix):
    _, table = appendix
    assert set(table["statement"]) == {f.id for f in STATEMENTS}


def test_the_two_findings_near_the_line_depend_on_the_test(appendix):
    values, table = appendix
    assert values["raw"]["a2_05_financing_depends_on_test"] is True
    assert values["raw"]["a7_06_affectedness_depends_on_test"] is True
    row = table.set_index(["item", "grouping"]).loc[("A2_05", "financing")]
    assert row["p"] <= 0.10 < row["p_exact"], "A2_05 by financing: significant asymptotically, not exactly"


def test_flags_follow_the_p_values(appendix):
    _, table = appendix
    for _, row in table.iterrows():
        flipped = {
            "exakter Test": row["significant_exact"] != row["significant"],
            "5-%-Niveau": (row["p"] <= 0.05) != row["significant"],
        }
        for name, did in flipped.items():
            assert (name in str(row["depends_on"])) == did, (row["statement"], row["item"], name)
    fest = table["depends_on"].isna() | (table["depends_on"] == "")
    assert (table.loc[fest, "status"] == "fest").all()


def test_alpha_moves_the_level_and_the_counts(tmp_path):
    values = run_chapter("12", tmp_path, alpha=0.05)
    assert values["values"]["level"] == "5-%-Niveau"
    assert values["raw"]["n_sig"] == values["raw"]["n_sig_5"]

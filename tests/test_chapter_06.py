"""Chapter 6 (Stichprobenbeschreibung): the notebook run as a reviewer runs it, on the shipped data
with the default parameters and once with other thresholds and alpha.

The values the notebook records are compared with the registry of the study's statements and with
an independent recomputation in plain pandas (tests/oracle.py cleans the data by the library's one rule).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

import clusterkrise
from clusterkrise import registry
from clusterkrise.io import load_survey

from conftest import run_chapter
from oracle import Survey as OracleSurvey

pytestmark = pytest.mark.slow

ALT = {"alpha": 0.05, "office_size_max_small": 6, "affectedness_high_min": 70, "age_cut": 50}
FIGURES = [f"abb-{n:02d}" for n in range(5, 16)]
ROOT = clusterkrise.PROJECT_ROOT


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ch06")
    return out, run_chapter("06", out)


@pytest.fixture(scope="module")
def alt_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ch06_alt")
    return out, run_chapter("06", out, **ALT)


@pytest.fixture(scope="module")
def cleaned() -> pd.DataFrame:
    return OracleSurvey(load_survey(ROOT / "data/survey/responses.csv")).cleaned


def chapter_keys(chapter_files) -> set[str]:
    keys = set()
    for path in chapter_files:
        keys |= set(re.findall(r"\{\{< var ch06\.([a-z0-9_]+) >\}\}", path.read_text(encoding="utf-8")))
    return keys


def test_every_fact_of_chapter_6_is_recorded_and_matches_the_registry(default_run):
    _, values = default_run
    facts = [f for f in registry.load_facts() if str(f.place.get("section", "")).startswith("6")]
    assert len(facts) > 60
    missing = [f.id for f in facts if f.id not in values["raw"]]
    assert not missing
    wrong = {f.id: values["raw"][f.id] for f in facts if not registry.matches(f, values["raw"][f.id])}
    assert not wrong


@pytest.mark.parametrize("run", ["default_run", "alt_run"])
def test_every_ch06_key_the_book_prints_exists(run, request):
    _, values = request.getfixturevalue(run)
    used = chapter_keys((ROOT / "chapters").glob("*.qmd"))
    assert {"office_size_max_small", "affectedness_high_n", "level", "abb15_n"} <= used
    assert not used - set(values["values"])
    assert "facts." not in (ROOT / "chapters/06-stichprobe.qmd").read_text(encoding="utf-8")


@pytest.mark.parametrize("run", ["default_run", "alt_run"])
def test_figures_and_tables_are_written_with_their_n(run, request):
    out, values = request.getfixturevalue(run)
    folder = out / "06"
    for label in FIGURES:
        for ext in ("svg", "csv"):
            assert (folder / f"{label}.{ext}").stat().st_size > 0, f"{label}.{ext}"
        assert int(values["raw"][label.replace("-", "") + "_n"]) > 0
    assert (folder / "tab-03.csv").is_file() and (folder / "tab-04.csv").is_file()
    assert values["produced"] == FIGURES[:2] + ["tab-03"] + FIGURES[2:] + ["tab-04"]


def test_thresholds_reach_the_values_and_the_sentences(default_run, alt_run, cleaned):
    _, base = default_run
    _, alt = alt_run
    staff = pd.to_numeric(cleaned["D5_staff"], errors="coerce").dropna()
    a3 = pd.to_numeric(cleaned["A3_companies"], errors="coerce").dropna()
    for values, params in ((base, {"office_size_max_small": 5, "affectedness_high_min": 80, "alpha": 0.10}),
                           (alt, ALT)):
        v, raw = values["values"], values["raw"]
        limit = params["office_size_max_small"]
        assert v["office_size_max_small"] == str(limit)
        assert raw["office_small_pct"] == pytest.approx(100 * (staff <= limit).mean())
        assert v["affectedness_high_min"] == str(params["affectedness_high_min"])
        assert raw["affectedness_high_n"] == int((a3 >= params["affectedness_high_min"]).sum())
        assert raw["affectedness_low_n"] + raw["affectedness_middle_n"] + raw["affectedness_high_n"] == len(a3)
    assert base["values"]["level"] == "10-%-Niveau" and alt["values"]["level"] == "5-%-Niveau"
    # With the study's text reading (70 % and more) the strongly affected group has its published size.
    facts = {f.id: f for f in registry.load_facts()}
    assert alt["raw"]["affectedness_high_n"] == facts["abb11_high"].published
    assert base["raw"]["affectedness_at_70"] == int(a3.eq(70).sum()) > 0
    assert alt["raw"]["affectedness_at_70"] == 0
    assert base["values"]["affectedness_at_70_sentence"] != alt["values"]["affectedness_at_70_sentence"]
    assert (base["values"]["age_young_label"], alt["values"]["age_young_label"]) == ("U40", "U50")
    assert alt["raw"]["age_young_pct"] > base["raw"]["age_young_pct"]
    # Values that do not depend on the thresholds stay put.
    for key in ("tab03_n", "abb09_below_100_pct", "abb15_one_task", "states_multi"):
        assert base["raw"][key] == alt["raw"][key]


def test_figures_shade_and_bin_by_the_thresholds(default_run, alt_run):
    base_dir, alt_dir = default_run[0] / "06", alt_run[0] / "06"
    a3 = {d: pd.read_csv(d / "abb-11.csv").set_index("value") for d in (base_dir, alt_dir)}
    assert a3[base_dir].loc[70, "group"] == "nicht zugeordnet"
    assert a3[alt_dir].loc[70, "group"] == "Durch Krise stark betroffen"
    staff = pd.read_csv(alt_dir / "abb-08.csv")
    assert staff["label"].astype(str).iloc[:6].tolist() == [str(i) for i in range(1, 7)]
    assert set(staff.loc[staff["n"] > 0, "group"]) == {"Kleine Clustermanagements", "Große Clustermanagements"}
    age = pd.read_csv(alt_dir / "abb-13.csv")
    assert set(age["group"]) <= {"U50", "Ü50", "nicht zugeordnet"} and "U50" in set(age["group"])


def test_tab04_lists_each_group_with_its_size_and_threshold(alt_run, cleaned):
    out, _ = alt_run
    tab = pd.read_csv(out / "06" / "tab-04.csv").set_index("Einteilung")
    staff = pd.to_numeric(cleaned["D5_staff"], errors="coerce")
    assert tab.loc["Kleine Clustermanagements", "n"] == int((staff <= 6).sum())
    assert tab.loc["Große Clustermanagements", "n"] == int((staff > 6).sum())
    assert "70" in tab.loc["Durch Krise stark betroffen", "Ausprägung"]
    assert "U50" in tab.index and "U40" not in tab.index


def test_tab03_cells_are_the_recorded_counts(default_run):
    out, values = default_run
    cells = pd.read_csv(out / "06" / "tab-03.csv")
    lookup = {(r.row, r.column): int(r.n) for r in cells.itertuples()}
    assert lookup[("D3_silber", "Insgesamt")] == values["raw"]["tab03_silber"]
    assert lookup[("D3_silber", "D3_gocluster")] == values["raw"]["tab03_silber_go"]
    assert lookup[("D3_gold", "D3_spitzencluster+D3_gocluster")] == values["raw"]["tab03_gold_spitzen_go"]


def test_on_a_resampled_data_set_every_fact_equals_the_independent_recomputation(tmp_path_factory):
    import math

    import oracle
    from clusterkrise.params import Params

    lines = (ROOT / "data/survey/responses.csv").read_text(encoding="utf-8").splitlines()
    # Leading comment lines only: pandas' comment= would also cut open answers that contain "#".
    header_at = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    shipped = pd.read_csv(ROOT / "data/survey/responses.csv", dtype=str, keep_default_na=False, skiprows=header_at)
    resample = shipped.sample(len(shipped), replace=True, random_state=11).reset_index(drop=True)
    resample["respondent_id"] = [str(i + 1) for i in range(len(resample))]
    out = tmp_path_factory.mktemp("ch06_resample")
    path = out / "resample.csv"
    resample.to_csv(path, index=False)
    raw = run_chapter("06", out, data_path=str(path))["raw"]

    survey = oracle.Survey(load_survey(path), group_params=Params().grouping)
    facts = [f for f in registry.load_facts() if str(f.place.get("section", "")).startswith("6")]
    differing = {}
    for fact in facts:
        expected, got = oracle.recompute(fact, survey), raw[fact.id]
        if isinstance(expected, list):
            same = sorted(map(str, expected)) == sorted(map(str, got))
        elif isinstance(expected, bool) or expected is None or got is None:
            same = expected == got
        else:
            same = math.isclose(float(expected), float(got), abs_tol=1e-9)
        if not same:
            differing[fact.id] = (expected, got)
    assert not differing
    # The resample is a different data set: some recorded shares must differ from the shipped data's.
    shipped_raw = OracleSurvey(load_survey(ROOT / "data/survey/responses.csv"), group_params=Params().grouping)
    assert any(oracle.recompute(f, shipped_raw) != raw[f.id] for f in facts if f.id.endswith("_pct"))

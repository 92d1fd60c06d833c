"""Chapter 6: the sample figures (chapters 3-5 are tested in tests/test_chapter_03_05.py).

Expected survey values are read from data/published_facts.yaml (``facts.load_facts``) and compared
with ``facts.matches``, which applies each fact's precision and comparison; nothing is typed here.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clusterkrise import facts, report  # noqa: E402
from clusterkrise import groups as grp  # noqa: E402
from clusterkrise.report import ch06  # noqa: E402
from clusterkrise.report.context import Context, Params  # noqa: E402

FACTS = {f.id: f for f in facts.load_facts()}


def expect(fact_id: str, value) -> None:
    fact = FACTS[fact_id]
    assert facts.matches(fact, value), f"{fact_id}: computed {value!r}, registry expects {fact.target!r} ({fact.compare})"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Context:
    return report.setup("06", output_dir=str(tmp_path_factory.mktemp("results")))


def derive(base: Context, chapter: str, out, **params) -> Context:
    """A fresh context on the already loaded data (reading the CSV again would cost seconds per chapter)."""
    p = Params(**{**vars(base.params), **params})
    p.check()
    folder = out / chapter
    folder.mkdir(parents=True, exist_ok=True)
    return Context(chapter=chapter, params=p, started=base.started, data=base.data, codebook=base.codebook,
                   groups=grp.make_groupings(base.data, **p.group_params), out=folder)


def csv(ctx: Context, stem: str) -> pd.DataFrame:
    return pd.read_csv(ctx.out / f"{stem}.csv", keep_default_na=False, na_values=[""])


def finished(ctx: Context) -> dict:
    return json.loads(ctx.finish().read_text(encoding="utf-8"))


def assert_figure_files(ctx: Context, number: int) -> None:
    for suffix in ("svg", "png", "csv"):
        path = ctx.out / f"abb-{number:02d}.{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path


# ---------------------------------------------------------------------------------------- chapter 6


@pytest.fixture(scope="module")
def ch06_ctx(base, tmp_path_factory) -> Context:
    ctx = derive(base, "06", tmp_path_factory.mktemp("ch06"))
    for name in ("abb05", "abb06", "tab03", "abb07", "abb08", "abb09", "abb10", "abb11", "abb12", "abb13",
                 "abb14", "abb15", "tab04"):
        getattr(ch06, name)(ctx)
    ctx.finish()
    return ctx


def test_ch06_writes_every_output(ch06_ctx):
    payload = json.loads((ch06_ctx.out / "values.json").read_text(encoding="utf-8"))
    assert len(payload["produced"]) == 13
    for number in range(5, 16):
        assert_figure_files(ch06_ctx, number)
        assert isinstance(payload["values"][f"abb{number:02d}_n"], int)
    assert (ch06_ctx.out / "tab-03.csv").is_file() and (ch06_ctx.out / "tab-04.csv").is_file()


def test_abb05_abb06_abb15_multiple_choice(ch06_ctx):
    v = ch06_ctx.values
    expect("states_all_present", int(csv(ch06_ctx, "abb-05")["n_yes"].min()))
    expect("states_multi", v["states_multi_n"])
    split = csv(ch06_ctx, "abb-06").query("part == 'anzahl_auswahlen'").set_index("item")["n"]
    expect("tech_none", split["0"])
    expect("tech_one", split["1"])
    expect("tech_more", split[">1"])
    assert v["abb06_n"] == split.sum()
    tasks = csv(ch06_ctx, "abb-15")
    split = tasks.query("part == 'anzahl_auswahlen'").set_index("item")["n"]
    expect("abb15_one_task", split["1"])
    expect("abb15_more_tasks", split[">1"])
    expect("abb15_n", v["abb15_n"])
    expect("abb15_top_task", [tasks.query("part == 'option'")["item"].iloc[0]])
    expect("abb15_many_tasks_small", v["tasks_many_max_staff"])
    expect("abb15_tasks_fall_with_size", int(np.sign(v["tasks_staff_spearman"])))


def test_tab03_cells_match_the_registry(ch06_ctx):
    cells = csv(ch06_ctx, "tab-03")
    lookup = {(r.row, r.column): r.n for r in cells.itertuples()}
    checked = 0
    for fid, fact in FACTS.items():
        if not fid.startswith("tab03_") or fact.kind != "n_all":
            continue
        columns = fact.args["columns"]
        if len(columns) == 1:
            key = (columns[0], "Insgesamt")
        elif len(columns) == 2:
            key = (columns[0], columns[1])
        else:
            key = (columns[0], "+".join(columns[1:]))
        expect(fid, lookup[key])
        checked += 1
    assert checked >= 15
    expect("tab03_n", ch06_ctx.values["tab03_n"])
    for fid, key in (("excellence_label_pct", "excellence_label_pct"), ("gocluster_pct", "gocluster_pct"),
                     ("gocluster_with_label_pct", "gocluster_with_label_pct"),
                     ("excellence_none_pct", "excellence_none_pct")):
        expect(fid, ch06_ctx.values[key])


def test_abb07_to_abb10_shares_match_the_registry(ch06_ctx):
    v = ch06_ctx.values
    fin = csv(ch06_ctx, "abb-07").set_index("label")["share"] * 100
    for fid in ("abb07_project_pct", "abb07_institutional_pct", "abb07_members_pct", "abb07_mixed_pct"):
        expect(fid, float(fin[FACTS[fid].args["group"]]))
    expect("abb07_n", v["abb07_n"])
    expect("financing_only_project", v["financing_only_projekt_n"])
    expect("financing_only_members", v["financing_only_mitglieder_n"])
    expect("financing_only_institutional", v["financing_only_institutionell_n"])
    expect("abb08_small_majority", v["office_small_pct"])
    expect("abb08_max_staff", v["staff_max"])
    expect("abb08_min_staff", v["staff_min"])
    staff = csv(ch06_ctx, "abb-08")
    assert staff["n"].sum() == v["abb08_n"]
    assert set(staff.loc[staff["n"] > 0, "group"]) == set(ch06_ctx.grouping("office_size").cat.categories)
    members = csv(ch06_ctx, "abb-09").set_index("label")["share"] * 100
    for fid, band in (("abb09_below_100_pct", "unter 100"), ("abb09_150_400_pct", "150–400"),
                      ("abb09_above_550_pct", "über 550")):
        expect(fid, float(members[band]))
    expect("abb09_n", v["abb09_n"])
    expect("abb09_min_members", v["members_min"])
    expect("abb09_max_members", v["members_max"])
    legal = csv(ch06_ctx, "abb-10").set_index("value")["share"] * 100
    for fid in ("abb10_verein_pct", "abb10_gmbh_pct", "abb10_both_pct", "abb10_other_pct"):
        expect(fid, float(legal[FACTS[fid].args["values"][0]]))


def _n_between(table: pd.DataFrame, lo: float, hi: float) -> int:
    return int(table.loc[(table["value"] >= lo) & (table["value"] <= hi), "n"].sum())


def test_abb11_to_abb14_match_the_registry(ch06_ctx):
    v = ch06_ctx.values
    aff = csv(ch06_ctx, "abb-11")
    for fid in ("abb11_low", "abb11_high", "abb11_middle"):
        expect(fid, _n_between(aff, *FACTS[fid].args["where_range"]["A3_companies"]))
    expect("affectedness_high_group", v["affectedness_high_n"])
    low = ch06_ctx.params.affectedness_low_max
    assert set(aff.loc[aff["value"] <= low, "group"]) <= {"Durch Krise gering betroffen", ch06.OUTSIDE}
    expect("abb12_gender_balanced", v["gender_ratio"])
    expect("abb13_u40_pct", v["age_young_pct"])
    expect("abb13_o40_pct", v["age_old_pct"])
    age = csv(ch06_ctx, "abb-13")
    expect("abb13_largest_bands", age.nlargest(2, "n")["value"].tolist())
    expect("abb13_youngest", int(age.loc[age["n"] > 0, "value"].min()))
    expect("abb13_oldest", int(age.loc[age["n"] > 0, "value"].max()))
    exp = csv(ch06_ctx, "abb-14").set_index("value")
    expect("abb14_n", int(exp["n"].sum()))
    expect("abb14_most_experienced_largest", [int(exp["n"].idxmax())])
    expect("abb14_most_experienced_pct", float(exp.loc[5, "share"] * 100))


def test_tab04_lists_every_group_with_its_size(ch06_ctx):
    tab = csv(ch06_ctx, "tab-04")
    expected = grp.groupings_table(**ch06_ctx.params.group_params)
    assert tab["Einteilung"].tolist() == expected["Einteilung"].tolist()
    for row in tab.itertuples():
        assert row.n == int((ch06_ctx.groups[row.key] == row.Einteilung).sum())


def test_thresholds_change_groups_and_shading(base, ch06_ctx, tmp_path):
    ctx = derive(base, "06", tmp_path, affectedness_high_min=70, office_size_max_small=8, age_cut=50)
    for name in ("abb08", "abb11", "abb13", "tab04"):
        getattr(ch06, name)(ctx)
    tab, default = csv(ctx, "tab-04").set_index("Einteilung"), csv(ch06_ctx, "tab-04").set_index("Einteilung")
    # the study's text reading (70 % and more) gives its published count of strongly affected clusters
    expect("abb11_high", int(tab.loc["Durch Krise stark betroffen", "n"]))
    assert tab.loc["Durch Krise stark betroffen", "n"] != default.loc["Durch Krise stark betroffen", "n"]
    assert "U50" in tab.index and "U40" not in tab.index
    assert "Mindestens 70 %" in tab.loc["Durch Krise stark betroffen", "Ausprägung"]
    aff = csv(ctx, "abb-11").set_index("value")
    assert aff.loc[70, "group"] == "Durch Krise stark betroffen"
    assert csv(ch06_ctx, "abb-11").set_index("value").loc[70, "group"] == ch06.OUTSIDE
    staff = csv(ctx, "abb-08")
    assert [str(x) for x in staff["label"].iloc[:8]] == [str(i) for i in range(1, 9)]
    assert ctx.values["office_small_pct"] > ch06_ctx.values["office_small_pct"]
    assert ctx.values["age_young_label"] == "U50"


def test_bands_must_cover_every_value():
    with pytest.raises(ValueError, match="fall in none of the bands"):
        ch06._bin_counts(pd.Series([5.0, 50.0]), [(0, 10, "klein")])

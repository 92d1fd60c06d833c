"""Chapter 7 (Abb. 16-26): output files, prose values, the registry's facts read back from the figures'
tidy CSVs, and that the significance level really drives the group comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from clusterkrise import DATA_DIR, PROJECT_ROOT, plots
from clusterkrise.facts import load_facts, matches
from clusterkrise.io import load_survey
from clusterkrise.report import DEFAULTS, ch07, setup

FIGURES = range(16, 27)
# Figures that compare groups, run a second time at another alpha.
GROUP_FIGURES = (16, 17, 18, 19, 20, 23, 26)
# Where the tidy values of a question live: item statistics ...
STAT_CSV = {
    ("A1", "mean"): 16, ("A1", "relevance"): 16,
    ("A2", "share_value"): 18,
    ("A4", "mean"): 20,
    ("A6", "mean"): 23, ("A6", "relevance"): 22,
    ("A7", "mean"): 25,
}
# ... and the U-test rows of a question.
UTEST_CSV = {"A1": 16, "A2": 18, "A4": 20, "A6": 23, "A7": 26}


def _run(out: Path, figures, **params) -> Path:
    ctx = setup("07", output_dir=str(out), **params)
    for number in figures:
        getattr(ch07, f"abb{number}")(ctx)
    ctx.finish()
    return ctx.out


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("ch07"), FIGURES)


def _svg_stub(fig, stem, *, alt_text):
    # The second run only needs the tables and values; drawing files is covered by the first run.
    stem = Path(stem)
    svg, png = stem.with_suffix(".svg"), stem.with_suffix(".png")
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    png.write_bytes(b"")
    return svg, png


@pytest.fixture(scope="module")
def out_strict(tmp_path_factory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "save_figure", _svg_stub)
        return _run(tmp_path_factory.mktemp("ch07_strict"), GROUP_FIGURES, alpha=0.01)


def _values(folder: Path) -> dict:
    return json.loads((folder / "values.json").read_text(encoding="utf-8"))


def _csv(folder: Path, number: int) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"abb-{number:02d}.csv")
    if "section" not in frame:
        frame["section"] = "values"
    return frame


def _part(folder: Path, number: int, section: str) -> pd.DataFrame:
    frame = _csv(folder, number)
    return frame[frame["section"] == section].reset_index(drop=True)


# ------------------------------------------------------------------------------------------ outputs


def test_every_figure_writes_svg_png_csv_and_its_n(out):
    payload = _values(out)
    assert payload["produced"] == [f"abb-{n}" for n in FIGURES]
    for n in FIGURES:
        for ext in ("svg", "png", "csv"):
            path = out / f"abb-{n}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
        n_value = payload["values"][f"abb{n}_n"]
        assert isinstance(n_value, int) and n_value > 0


def test_prose_values_are_present_and_printable(out):
    values = _values(out)["values"]
    for key in (
        "childcare_relevance_pct", "social_relevance_pct", "commute_relevance_pct",
        "selforg_relevance_pct", "homeoffice_relevance_pct", "childcare_relevance_young_pct",
        "childcare_relevance_old_pct", "planning_big_pct", "flurfunk_big_pct", "member_exits_big_pct",
        "financing_big_institutional_pct", "financing_big_other_pct", "n_sig_gender_a2",
        "n_sig_east_west_a2", "n_sig_financing_a2", "n_sig_role_pr_kommunikation_a2",
        "n_sig_role_projektmanagement_a2", "n_sig_role_administration_finanzen_a2",
        "sig_items_gender_a2", "n_sig_office_size_a1", "a4_top_items", "a4_bottom_items",
        "n_sig_affectedness_a4", "a6_top_relevance_items", "a6_top_items", "a6_bottom_item",
        "n_sig_affectedness_a6", "a7_top_item", "a7_bottom_item", "n_sig_affectedness_a7",
        "a5_n_answers", "affectedness_low_n", "affectedness_high_n",
    ):
        assert key in values, key
    for key, value in values.items():
        # the book prints scalars only ({{< var >}}), so no lists, booleans or missing values
        assert isinstance(value, (int, float, str)) and not isinstance(value, bool), (key, value)


def test_values_agree_with_the_figure_tables(out):
    values = _values(out)["values"]
    a1 = _part(out, 16, "values").drop_duplicates("item").set_index("item")
    assert values["childcare_relevance_pct"] == round(a1.loc["A1_06", "relevance_share"] * 100)
    assert values["social_mean"] == pytest.approx(a1.loc["A1_01", "mean"], abs=0.05)
    a2 = _part(out, 18, "values")
    big = a2[a2["value"] == a2["value"].max()].set_index("item")["share"]
    assert values["flurfunk_big_pct"] == round(big["A2_02"] * 100)
    ut = _part(out, 18, "utest")
    for grouping, rows in ut.groupby("grouping"):
        key = "n_sig_" + grouping.replace(":", "_") + "_a2"
        assert values[key] == int(rows["significant"].astype(bool).sum()), key
    answers = load_survey(DATA_DIR / "survey" / "responses.csv", clean=True)["A5"].dropna()
    assert values["a5_n_answers"] == values["abb21_n"] == int(answers.str.strip().ne("").sum())


def test_item_order_follows_the_data(out):
    a1 = _part(out, 16, "values").drop_duplicates("item")
    assert a1["relevance_share"].is_monotonic_decreasing
    a2 = _part(out, 18, "values")
    big = a2[a2["value"] == a2["value"].max()]
    assert big["share"].is_monotonic_decreasing
    for n in (20, 23):
        assert _part(out, n, "values")["mean"].is_monotonic_decreasing


def test_diverging_table_keeps_the_special_answer(out):
    a1 = _part(out, 16, "values")
    special = a1[a1["label"] == "nicht betroffen"]
    assert len(special) == a1["item"].nunique()
    # relevance is everything that is not "nicht betroffen"
    for item, rows in a1.groupby("item"):
        shares = rows.set_index("label")["share"]
        assert shares.sum() == pytest.approx(1, abs=1e-4)
        assert rows["relevance_share"].iloc[0] == pytest.approx(1 - shares["nicht betroffen"], abs=1e-4)


# ------------------------------------------------------------------------------------------ registry


def _item_stats(out: Path, question: str, stat: str, value=None) -> pd.Series:
    table = _part(out, STAT_CSV[(question, stat)], "values")
    if stat == "share_value":
        rows = table[table["value"] == value]
        return rows.set_index("item")["share"] * 100
    column = {"mean": "mean", "relevance": "relevance_share" if "relevance_share" in table else "share"}[stat]
    per_item = table.drop_duplicates("item").set_index("item")[column]
    return per_item * 100 if stat == "relevance" else per_item


def _higher_ok(row, higher: str) -> bool:
    if higher == row["group_1"]:
        return row["mean_1"] > row["mean_2"]
    assert higher == row["group_2"], (higher, row["group_1"], row["group_2"])
    return row["mean_2"] > row["mean_1"]


def _utest_rows(out: Path, question: str, grouping: str) -> pd.DataFrame:
    ut = _part(out, UTEST_CSV[question], "utest")
    rows = ut[ut["grouping"] == grouping]
    assert len(rows), (question, grouping)
    return rows


def _from_figures(fact, out: Path, values: dict):
    a = fact.args
    kind = fact.kind
    if kind == "n_answered":
        return values[f"abb{fact.place['ref'].split()[-1]}_n"]
    if kind == "relevance_pct":
        return _item_stats(out, a["item"].split("_")[0], "relevance")[a["item"]]
    if kind == "pct_values":
        return _item_stats(out, a["column"].split("_")[0], "share_value", a["values"][0])[a["column"]]
    if kind == "item_stat":
        return _item_stats(out, a["item"].split("_")[0], a["stat"])[a["item"]]
    if kind in ("top_items", "top_items_ordered"):
        stats = _item_stats(out, a["question"], a["stat"], a.get("value"))
        ordered = stats.sort_values(ascending=a.get("order") == "lowest", kind="mergesort")
        return list(ordered.index[: a["k"]])
    if kind == "item_stat_min":
        return float(_item_stats(out, a["question"], a["stat"]).min())
    if kind == "item_stat_range":
        stats = _item_stats(out, a["question"], a["stat"])
        return [float(stats.min()), float(stats.max())]
    if kind == "full_range":
        dist = _part(out, 24, "values")
        used = dist[dist["n"] > 0].groupby("item")["value"].agg(["min", "max"])
        return bool(((used["min"] == 1) & (used["max"] == 10)).all())
    if kind == "sig_set":
        rows = _utest_rows(out, a["question"], a["grouping"])
        sig = rows[rows["significant"].astype(bool)]
        wrong = [f"<reversed:{r['item']}>" for _, r in sig.iterrows() if not _higher_ok(r, a["higher"])]
        return sorted(sig["item"]) + wrong
    if kind == "all_means_higher":
        rows = _utest_rows(out, a["question"], a["grouping"])
        return all(_higher_ok(r, a["higher"]) for _, r in rows.iterrows())
    if kind == "opposite_signs":
        rows = _utest_rows(out, a["item"].split("_")[0], a["grouping"]).set_index("item")
        row = rows.loc[a["item"]]
        pos, neg = ("mean_1", "mean_2") if row["group_1"] == a["positive"] else ("mean_2", "mean_1")
        return bool(row[pos] > 0 > row[neg])
    if kind == "group_pct_values":
        table = _part(out, 19, "values").set_index("group")
        return table.loc[a["group"], "share"] * 100
    if kind == "relevance_compare":
        table = _part(out, 17, "values").set_index("group")["relevance_share"]
        return table.idxmax() == a["higher"] and table.nunique() > 1
    if kind == "group_size_ratio":
        sizes = [values[f"{a['grouping']}_low_n"], values[f"{a['grouping']}_high_n"]]
        return min(sizes) / max(sizes)
    raise AssertionError(f"fact {fact.id}: kind {kind!r} has no reading from the chapter 7 figures")


CH07_FACTS = [
    f for f in load_facts()
    if f.place.get("ref", "").startswith("Abb. ") and f.place["ref"].split()[-1].isdigit()
    and 16 <= int(f.place["ref"].split()[-1]) <= 26
]


def test_registry_covers_the_chapter():
    assert len(CH07_FACTS) >= 40
    assert {f.place["ref"] for f in CH07_FACTS} >= {f"Abb. {n}" for n in (16, 17, 18, 19, 20, 22, 23, 24, 25, 26)}


@pytest.mark.parametrize("fact", CH07_FACTS, ids=lambda f: f.id)
def test_figure_tables_reproduce_the_registry(fact, out):
    value = _from_figures(fact, out, _values(out)["values"])
    assert matches(fact, value), f"{fact.where}: '{fact.printed}' expects {fact.target!r}, figures give {value!r}"


# ------------------------------------------------------------------------------------------ alpha


def _significant_counts(folder: Path) -> dict[int, int]:
    return {n: int(_part(folder, n, "utest")["significant"].astype(bool).sum()) for n in GROUP_FIGURES}


@pytest.mark.parametrize("folder, alpha", [("out", DEFAULTS["alpha"]), ("out_strict", 0.01)])
def test_significance_follows_alpha(folder, alpha, request):
    folder = request.getfixturevalue(folder)
    for n in GROUP_FIGURES:
        ut = _part(folder, n, "utest")
        tested = ut[ut["p"].notna()]
        assert len(tested), n
        assert (tested["significant"].astype(bool) == (tested["p"] <= alpha)).all(), n


def test_stricter_alpha_drops_the_borderline_items(out, out_strict):
    loose, strict = _significant_counts(out), _significant_counts(out_strict)
    changed = 0
    for n in GROUP_FIGURES:
        p = _part(out, n, "utest")["p"]
        borderline = int(((p > 0.01) & (p <= DEFAULTS["alpha"])).sum())
        assert loose[n] - strict[n] == borderline, n
        changed += borderline > 0
    assert changed >= 3, "the data should hold borderline differences in several figures"
    v_loose, v_strict = _values(out)["values"], _values(out_strict)["values"]
    assert v_strict["n_sig_affectedness_a7"] < v_loose["n_sig_affectedness_a7"]
    assert v_strict["n_sig_affectedness_a4"] < v_loose["n_sig_affectedness_a4"]


# ------------------------------------------------------------------------------------------ notebook


def test_notebook_follows_the_convention():
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "07-neue-situation.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = code[0]
    assert params.metadata.get("tags") == ["parameters"]
    namespace: dict = {}
    exec(params.source, namespace)
    assert {k: namespace[k] for k in DEFAULTS} == DEFAULTS
    assert 'report.setup_from(globals(), "07")' in code[1].source
    figure_cells = code[2:-1]
    assert [c.source.splitlines()[0] for c in figure_cells] == [f"#| label: fig-abb-{n}" for n in FIGURES]
    for n, cell in zip(FIGURES, figure_cells):
        lines = cell.source.splitlines()
        assert lines[1].startswith('#| fig-cap: "') and lines[2].startswith('#| fig-alt: "')
        assert lines[-1] == f"ch07.abb{n}(ctx)"
    assert "(Darstellung rekonstruiert)" in figure_cells[1].source
    assert code[-1].source.strip() == "ctx.finish()"

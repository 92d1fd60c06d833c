"""Chapter 8: outputs, values and agreement with the registry of published facts.

Each chapter is computed once per module on the shipped data (``report.setup``, no papermill); the
expected numbers come from ``data/published_facts.yaml`` and are compared with ``facts.matches``, so
the registry's precision and comparison rules (``>``, ``between``, ``expect``) apply.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from clusterkrise import report
from clusterkrise.codebook import load_codebook
from clusterkrise.facts import load_facts, matches
from clusterkrise.report import ch08
from clusterkrise.report.context import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
CH08 = ("tab05", "abb27", "abb28", "tab06", "abb29", "abb30", "abb31", "abb32", "abb33", "abb34")
FACTS = {f.id: f for f in load_facts()}


def _facts(ref: str, kind: str | None = None):
    found = [f for f in FACTS.values() if f.place.get("ref") == ref and (kind is None or f.kind == kind)]
    assert found, f"registry has no facts for {ref} ({kind})"
    return found


def _run(chapter: str, module, names, out: Path) -> tuple[report.Context, Path]:
    ctx = report.setup(chapter, output_dir=str(out))
    for name in names:
        getattr(module, name)(ctx)
    ctx.finish()
    return ctx, out / chapter


@pytest.fixture(scope="module")
def ch08_run(tmp_path_factory):
    return _run("08", ch08, CH08, tmp_path_factory.mktemp("res08"))


def _csv(folder: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{stem}.csv")


def _values_part(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["section"] == "values"] if "section" in frame else frame


def _utest_part(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["section"] == "utest"]


def _with_alpha(ctx: report.Context, alpha: float, out: Path) -> report.Context:
    """The same loaded data under another alpha (what setup(..., alpha=alpha) would give, without reloading)."""
    out.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(ctx, params=dataclasses.replace(ctx.params, alpha=alpha), out=out,
                               values={}, produced=[], groups=dict(ctx.groups))


def _assert_fact(fact_id: str, value) -> None:
    fact = FACTS[fact_id]
    assert matches(fact, value), f"{fact_id} ({fact.where}): got {value!r}, registry expects {fact.target!r} ({fact.compare})"


def _yes_facts_hold(folder: Path, stem: str, ref: str) -> int:
    table = _csv(folder, stem).set_index("item")
    checked = 0
    for fact in _facts(ref):
        if fact.kind == "yes_pct":
            _assert_fact(fact.id, 100 * table.loc[fact.args["item"], "share"])
        elif fact.kind == "top_items":
            ordered = table["share"].sort_values(ascending=fact.args.get("order") == "lowest", kind="stable")
            _assert_fact(fact.id, sorted(ordered.index[: fact.args["k"]]))
        elif fact.kind == "n_rows":
            ((column, (code,)),) = fact.args["where"].items()
            assert code == 1, "only yes-counts are expected here"
            _assert_fact(fact.id, int(table.loc[column, "n_yes"]))
        else:
            continue
        checked += 1
    return checked


def _band_share(table: pd.DataFrame, codes: list[int]) -> float:
    """Share of the answers with the given codes, from the band rows of a band_shares CSV."""
    bands = table[table["value"] != "upper_third"]
    sets = {row.value: {int(float(c)) for c in str(row.codes).split()} for row in table.itertuples()}
    wanted = set(codes)
    exact = [k for k, s in sets.items() if s == wanted]
    if exact:
        return float(table.set_index("value").loc[exact[0], "share"])
    parts = [k for k in bands["value"] if sets[k] <= wanted]
    assert set().union(*(sets[k] for k in parts)) == wanted, f"codes {codes} are not a union of bands {sets}"
    return float(bands.set_index("value").loc[parts, "share"].sum())


def _pct_values_hold(folder: Path, stem: str, ref: str) -> int:
    table = _values_part(_csv(folder, stem))
    if "item" in table and table["item"].notna().any():
        pytest.fail(f"{stem}: expected a single-question band table")
    checked = 0
    for fact in _facts(ref, "pct_values"):
        _assert_fact(fact.id, 100 * _band_share(table, fact.args["values"]))
        checked += 1
    return checked


# ----------------------------------------------------------------------------------------- files


def test_every_output_and_values_file_is_written(ch08_run):
    for (ctx, folder), names in ((ch08_run, CH08),):
        payload = json.loads((folder / "values.json").read_text(encoding="utf-8"))
        assert payload["produced"] == [re.sub(r"(\D+)(\d+)", r"\1-\2", n) for n in names]
        for stem in payload["produced"]:
            assert (folder / f"{stem}.csv").stat().st_size > 0
            if stem.startswith("abb"):
                assert (folder / f"{stem}.svg").stat().st_size > 0
                assert (folder / f"{stem}.png").stat().st_size > 0
        for key in payload["values"]:
            assert re.fullmatch(r"[a-z0-9_]+", key), f"value key {key!r} is not flat snake_case"


def test_values_hold_the_quoted_numbers(ch08_run):
    v8 = json.loads((ch08_run[1] / "values.json").read_text(encoding="utf-8"))["values"]
    for key in ("tab05_n", "abb27_n", "n_sig_financing", "sig_items_financing", "n_sig_office_size", "tab06_n",
                "b2_01_arrow", "abb32_n", "b4_upper_third_pct", "b4_no_cooperation_n", "b4_cooperation_pct",
                "b5_01_yes_pct", "b6_n_answers", "b6_n_base"):
        assert key in v8, key
    _assert_fact("abb34_n_answers", v8["b6_n_answers"])
    # Abb. 34 prints the base of the closed question B6 follows (B5), registered for Abb. 33
    _assert_fact("abb33_n", v8["b6_n_base"])
    _assert_fact("abb33_n", v8["abb34_n"])
    _assert_fact("abb32_upper_third_pct", v8["b4_upper_third_pct"])
    _assert_fact("abb32_no_coop", v8["b4_no_cooperation_n"])
    _assert_fact("abb32_coop_pct", v8["b4_cooperation_pct"])


# ----------------------------------------------------------------------------------- chapter 8


def test_tab05_reproduces_relevance_order_and_n(ch08_run):
    _, folder = ch08_run
    table = _csv(folder, "tab-05")
    facts = [f for f in _facts("Tab. 5", "relevance_pct") if f.id.startswith("tab05_B1_")]
    assert list(table["item"]) == [f.args["item"] for f in facts], "rows not in the study's order"
    shares = table.set_index("item")["share"]
    for fact in _facts("Tab. 5", "relevance_pct"):
        _assert_fact(fact.id, 100 * shares[fact.args["item"]])
    _assert_fact("tab05_n", int(table["n"].iloc[0]))
    _assert_fact("tab05_all_offered", 100 * shares.min())
    _assert_fact("tab05_n_items", len(table))


def test_abb27_abb28_significance_follows_registry(ch08_run):
    ctx, folder = ch08_run
    ut27 = _utest_part(_csv(folder, "abb-27"))
    _assert_fact("abb27_sig_count", int(ut27["significant"].astype(bool).sum()))
    assert ctx.values["n_sig_financing"] == int(ut27["significant"].astype(bool).sum())
    sig = ut27[ut27["significant"].astype(bool)]
    higher = FACTS["abb27_institutional_higher"].args["higher"]
    assert (sig["group_1"] == higher).all()
    _assert_fact("abb27_institutional_higher", bool((sig["mean_1"] > sig["mean_2"]).all()))
    ut28 = _utest_part(_csv(folder, "abb-28"))
    sig28 = ut28[ut28["significant"].astype(bool)]
    _assert_fact("abb28_sig", sorted(sig28["item"]))
    for ref in ("abb27_n", "abb28_n"):
        _assert_fact(ref, ctx.values[ref])
    summary = _values_part(_csv(folder, "abb-27"))
    assert list(summary["item"]) == load_codebook().items_of("B1")


def test_alpha_changes_significant_items(ch08_run, tmp_path):
    ctx, folder = ch08_run
    strict = _with_alpha(ctx, 0.01, tmp_path)
    ch08.abb27(strict)
    for c, path in ((ctx, folder / "abb-27.csv"), (strict, tmp_path / "abb-27.csv")):
        ut = _utest_part(pd.read_csv(path))
        assert ((ut["p"] <= c.alpha) == ut["significant"].astype(bool)).all()
        assert c.values["n_sig_financing"] == int(ut["significant"].astype(bool).sum())
    assert strict.values["n_sig_financing"] < ctx.values["n_sig_financing"]


def test_tab06_relevance_and_arrows(ch08_run):
    _, folder = ch08_run
    table = _csv(folder, "tab-06").set_index("item")
    checked = 0
    for fact in _facts("Tab. 6"):
        if fact.kind == "relevance_pct":
            _assert_fact(fact.id, 100 * table.loc[fact.args["item"], "share"])
        elif fact.kind == "trend_arrow":
            _assert_fact(fact.id, table.loc[fact.args["item"], "arrow"])
        elif fact.kind == "n_answered":
            _assert_fact(fact.id, int(table["n"].max()))
        else:
            continue
        checked += 1
    assert checked == 35


def test_abb29_distribution_sums_to_one_per_instrument(ch08_run):
    ctx, folder = ch08_run
    dist = _csv(folder, "abb-29")
    totals = dist.groupby("item")["share"].sum()
    assert ((totals - 1).abs() < 1e-5).all()
    _assert_fact("abb29_n", ctx.values["abb29_n"])
    # the instrument named most often as more used has the largest share of +1/+2
    stronger = dist[dist["value"] > 0].groupby("item")["share"].sum()
    assert ctx.values["b2_most_stronger_item"] == load_codebook().item(stronger.idxmax()).label


def test_abb30_abb31_formats(ch08_run):
    ctx, folder = ch08_run
    shares = _csv(folder, "abb-30").set_index("item")["share"]
    for fact in _facts("Abb. 30"):
        if fact.kind == "relevance_pct":
            _assert_fact(fact.id, 100 * shares[fact.args["item"]])
        elif fact.kind == "item_stat_min":
            _assert_fact(fact.id, 100 * shares.drop(fact.args["exclude"]).min())
        elif fact.kind == "n_answered":
            _assert_fact(fact.id, ctx.values["abb30_n"])
    dist = _csv(folder, "abb-31")
    wide = dist.pivot(index="item", columns="value", values="share")
    for fact in _facts("Abb. 31", "modal_value"):
        modes = {int(wide.loc[i].idxmax()) for i in fact.args["items"]}
        assert len(modes) == 1
        _assert_fact(fact.id, modes.pop())
        for item in fact.args["items"]:
            preferred = ctx.values[f"{item.lower()}_preferred_format"]
            assert preferred == load_codebook().question("B3").scale.values[fact.target]
    _assert_fact("abb31_n", ctx.values["abb31_n"])


def test_abb32_bands_follow_registry(ch08_run):
    ctx, folder = ch08_run
    assert _pct_values_hold(folder, "abb-32", "Abb. 32") == 5
    table = _csv(folder, "abb-32").set_index("value")
    assert abs(table.drop("upper_third")["share"].sum() - 1) < 1e-5
    _assert_fact("abb32_n", ctx.values["abb32_n"])


def test_abb33_yes_shares(ch08_run):
    _, folder = ch08_run
    assert _yes_facts_hold(folder, "abb-33", "Abb. 33") == 9


def test_abb34_word_cloud_data(ch08_run):
    _, folder = ch08_run
    answers = _csv(folder, "abb-34")
    _assert_fact("abb34_n_answers", len(answers))
    assert answers["text"].str.strip().str.len().gt(0).all()


# ------------------------------------------------------------------------------------- helpers


def test_scale_bands_read_the_codebook():
    cb = load_codebook()
    bands = ch08.scale_bands(cb.question("B4").scale, names={"stronger": "intensiver"})
    assert [b.key for b in bands] == ["weaker", "unchanged", "stronger", "special_0"]
    assert [b.label for b in bands[:3]] == ["weniger intensiv (1–4)", "unverändert (5)", "intensiver (6–9)"]
    with pytest.raises(ValueError, match="no labelled middle"):
        ch08.scale_bands(cb.question("B1").scale)


def test_band_shares_refuses_values_outside_the_bands():
    bands = ch08.scale_bands(load_codebook().question("C3").scale)
    with pytest.raises(ValueError, match=r"C3: value\(s\) \[7"):
        ch08.band_shares(pd.Series([1, 3, 7], name="C3"), bands)


def test_pct_rounds_half_up():
    assert ch08.pct(0.385) == 39
    assert ch08.pct(0.125) == 13
    assert ch08.pct(float("nan")) is None


# ----------------------------------------------------------------------------------- notebooks


@pytest.mark.parametrize("path,module", [("notebooks/08-aufgaben.ipynb", ch08)])
def test_notebook_shape(path, module):
    nb = nbformat.read(ROOT / path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown"
    assert code[0].metadata.get("tags") == ["parameters"]
    assigned = re.findall(r"^(\w+) = ", code[0].source, flags=re.M)
    assert assigned == list(DEFAULTS)
    assert all(not c.outputs and c.execution_count is None for c in code)
    calls = []
    for cell in code[2:-1]:
        lines = cell.source.splitlines()
        assert re.match(r"#\| label: (fig-abb|tbl-tab)-\d\d$", lines[0])
        assert any(l.startswith(("#| fig-cap:", "#| tbl-cap:")) for l in lines)
        (call,) = [l for l in lines if not l.startswith("#|")]
        name = re.fullmatch(rf"{module.__name__.rsplit('.', 1)[1]}\.(\w+)\(ctx\)", call).group(1)
        assert name == lines[0].split(": ")[1].split("-", 1)[1].replace("-", ""), "label and call differ"
        calls.append(name)
    assert calls == [n for n in module.__all__ if re.fullmatch(r"(abb|tab)\d\d", n)]
    assert code[-1].source.strip() == "ctx.finish()"

"""Chapter 9 (chapter 8 moved to tests/test_chapter_08.py): outputs, values and agreement with the registry of published facts.

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
from clusterkrise.report import ch09
from clusterkrise.report.context import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
CH09 = ("abb35", "abb36", "abb37", "abb38", "abb39")
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
def ch09_run(tmp_path_factory):
    return _run("09", ch09, CH09, tmp_path_factory.mktemp("res09"))


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


def test_every_output_and_values_file_is_written(ch09_run):
    for (ctx, folder), names in ((ch09_run, CH09),):
        payload = json.loads((folder / "values.json").read_text(encoding="utf-8"))
        assert payload["produced"] == [re.sub(r"(\D+)(\d+)", r"\1-\2", n) for n in names]
        for stem in payload["produced"]:
            assert (folder / f"{stem}.csv").stat().st_size > 0
            if stem.startswith("abb"):
                assert (folder / f"{stem}.svg").stat().st_size > 0
                assert (folder / f"{stem}.png").stat().st_size > 0
        for key in payload["values"]:
            assert re.fullmatch(r"[a-z0-9_]+", key), f"value key {key!r} is not flat snake_case"


def test_values_hold_the_quoted_numbers(ch09_run):
    v9 = json.loads((ch09_run[1] / "values.json").read_text(encoding="utf-8"))["values"]
    for key in ("c1_01_yes_n", "c3_stronger_pct", "c3_weaker_pct", "c3_unchanged_pct", "c3_size_p",
                "c3_stronger_with_linked_c1_pct", "c4_n_answers", "c4_n_base"):
        assert key in v9, key
    _assert_fact("abb39_n_answers", v9["c4_n_answers"])
    _assert_fact("abb37_implies_c1", v9["c3_stronger_with_linked_c1_pct"])


# ----------------------------------------------------------------------------------- chapter 9


def test_abb35_abb36_yes_shares(ch09_run):
    ctx, folder = ch09_run
    assert _yes_facts_hold(folder, "abb-35", "Abb. 35") == 5
    assert _yes_facts_hold(folder, "abb-36", "Abb. 36") == 10
    _assert_fact("abb35_n", ctx.values["abb35_n"])
    _assert_fact("abb36_n", ctx.values["abb36_n"])


def test_abb37_bands_and_link_to_c1(ch09_run):
    ctx, folder = ch09_run
    assert _pct_values_hold(folder, "abb-37", "Abb. 37") == 3
    _assert_fact("abb37_n", ctx.values["abb37_n"])
    # the linked share is recomputed here from the data, not taken from the module
    data = ctx.data
    strong = data[data["C3"].isin([int(c) for c in _csv(folder, "abb-37").set_index("value").loc["stronger", "codes"].split()])]
    both = (strong["C1_01"] == 1) & (strong["C1_03"] == 1)
    assert ctx.values["c3_stronger_with_linked_c1_n"] == int(both.sum())


def test_abb38_groups_and_test_row(ch09_run, tmp_path):
    ctx, folder = ch09_run
    frame = _csv(folder, "abb-38")
    ut = _utest_part(frame)
    assert len(ut) == 1 and ut["grouping"].iloc[0] == "office_size"
    row = ut.iloc[0]
    higher = FACTS["abb38_size"].args["higher"]
    mean_higher, mean_other = (row["mean_1"], row["mean_2"]) if row["group_1"] == higher else (row["mean_2"], row["mean_1"])
    _assert_fact("abb38_size", bool(mean_higher > mean_other))
    _assert_fact("abb38_n", ctx.values["abb38_n"])
    values = _values_part(frame)
    assert ((values.groupby("item")["share"].sum() - 1).abs() < 1e-5).all()
    # an alpha below the test's p turns the comparison grey and says so
    strict = float(row["p"]) / 2
    c = _with_alpha(ctx, strict, tmp_path / "strict")
    ch09.abb38(c)
    assert c.values["c3_size_significant"] == "nicht signifikant"
    assert not _utest_part(pd.read_csv(tmp_path / "strict" / "abb-38.csv"))["significant"].astype(bool).any()
    assert ctx.values["c3_size_significant"] == "signifikant"


def test_abb39_word_cloud_data(ch09_run):
    ctx, folder = ch09_run
    _assert_fact("abb39_n_answers", len(_csv(folder, "abb-39")))
    assert ctx.values["c4_n_base"] == ctx.n("C3")


# ----------------------------------------------------------------------------------- notebooks


@pytest.mark.parametrize("path,module", [("notebooks/09-krise-als-chance.ipynb", ch09)])
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

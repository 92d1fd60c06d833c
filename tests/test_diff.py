"""`clusterkrise diff`: changed printed values and flipped significances between two builds."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from clusterkrise import cli, diff

from conftest import run_chapter


def _build(folder: Path, values: dict, raw: dict, tests: list[dict], alpha: float) -> Path:
    chapter = folder / "07"
    chapter.mkdir(parents=True)
    payload = {"chapter": "07", "params": {"alpha": alpha, "output_dir": str(folder)}, "produced": ["abb-18"],
               "values": values, "raw": raw, "kinds": {k: "pct" for k in values}}
    (chapter / "values.json").write_text(json.dumps(payload), encoding="utf-8")
    frame = pd.DataFrame([{"label": "x", "share": 0.5, "section": "values"}, *[{**t, "section": "utest"} for t in tests]])
    frame.to_csv(chapter / "abb-18.csv", index=False)
    return folder


def _test(item, p, significant):
    return {"item": item, "item_label": f"Label {item}", "grouping": "gender", "group_1": "weiblich",
            "group_2": "männlich", "p": p, "significant": significant}


@pytest.fixture
def two_builds(tmp_path):
    old = _build(tmp_path / "old", {"share": "41", "level": "10-%-Niveau"}, {}, [_test("A2_01", 0.07, True), _test("A2_02", 0.5, False)], 0.10)
    new = _build(tmp_path / "new", {"share": "41", "level": "5-%-Niveau"}, {}, [_test("A2_01", 0.07, False), _test("A2_02", 0.5, False)], 0.05)
    return old, new


def test_compare_lists_changed_values_and_flips(two_builds):
    cmp = diff.compare(*two_builds)
    assert list(cmp.values["key"]) == ["level"]
    assert list(cmp.flips["item"]) == ["A2_01"]
    row = cmp.flips.iloc[0]
    assert row["significant_old"] and not row["significant_new"] and row["figure"] == "Abb. 18"


def test_cli_diff_prints_and_writes_html(two_builds, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    page = tmp_path / "diff.html"
    status = cli.main(["diff", str(two_builds[0]), str(two_builds[1]), "--html", str(page)], out=out, err=err)
    assert status == 0, err.getvalue()
    text = out.getvalue()
    assert "alpha 0.1 -> 0.05" in text
    assert "1 significance(s) flipped, 1 printed value(s) changed" in text
    assert "Abb. 18: Label A2_01 nach gender: signifikant -> nicht signifikant (p 0.0700 -> 0.0700)" in text
    assert "ch07.level: '10-%-Niveau' -> '5-%-Niveau'" in text
    assert "Label A2_01" in page.read_text(encoding="utf-8")


def test_cli_diff_names_a_missing_folder(tmp_path):
    err = io.StringIO()
    assert cli.main(["diff", str(tmp_path / "nope"), str(tmp_path)], out=io.StringIO(), err=err) == 1
    assert "no results folder" in err.getvalue() and "Traceback" not in err.getvalue()


@pytest.mark.slow
def test_default_against_alpha_005_lists_the_flips(tmp_path):
    """On the shipped data, every U-test of chapter 7 with 0.05 < p <= 0.10 flips, and only those."""
    run_chapter("07", tmp_path / "default")
    run_chapter("07", tmp_path / "alpha", alpha=0.05)
    cmp = diff.compare(tmp_path / "default", tmp_path / "alpha")
    _, tests = diff.load_build(tmp_path / "default")
    keys = ["item", "grouping", "group_1", "group_2"]
    expected = sum(len(f.loc[(f["p"] > 0.05) & (f["p"] <= 0.10)].drop_duplicates(keys)) for f in tests.values())
    assert expected > 0
    assert len(cmp.flips) == expected
    assert (cmp.flips["significant_old"] & ~cmp.flips["significant_new"]).all()

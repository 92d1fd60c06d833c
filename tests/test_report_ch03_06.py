"""Chapters 3-6: diagrams from the qualitative data, Tab. 2 from the codebook, the sample figures.

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

from clusterkrise import facts, qualitative, report  # noqa: E402
from clusterkrise import groups as grp  # noqa: E402
from clusterkrise.report import ch03, ch04, ch05  # noqa: E402
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


# ---------------------------------------------------------------------------------------- chapter 3


def test_ch03_diagrams_follow_the_qualitative_data(base, tmp_path):
    ctx = derive(base, "03", tmp_path)
    ch03.abb01(ctx)
    ch03.abb02(ctx)
    ch03.abb03(ctx)
    payload = finished(ctx)
    assert payload["produced"] == ["abb-01", "abb-02", "abb-03"]
    for number in (1, 2, 3):
        assert_figure_files(ctx, number)
    ketels = qualitative.load_ketels()
    assert csv(ctx, "abb-01")["label"].tolist() == ketels["label"].tolist()
    timeline = qualitative.load_timeline()
    assert len(csv(ctx, "abb-02")) == len(timeline)
    field = timeline.loc[timeline["step_key"] == "feldzeit"].iloc[0]
    values = payload["values"]
    assert values["fieldwork_start"] == field["step_start"].strftime("%d.%m.%Y")
    assert values["study_start"] == timeline["phase_start"].min().strftime("%m/%Y")
    levels = qualitative.load_actor_levels()
    assert values["n_actor_levels"] == levels["level"].nunique()
    for level, count in levels.groupby("level").size().items():
        assert values[f"n_observations_{level}"] == count


def test_ring_diagram_rejects_bad_input():
    with pytest.raises(ValueError, match="no labels"):
        ch03.ring_diagram("Mitte", [])
    with pytest.raises(ValueError, match="2 numbers for 3 labels"):
        ch03.ring_diagram("Mitte", ["a", "b", "c"], numbers=[1, 2])


# ---------------------------------------------------------------------------------------- chapter 4


def test_ch04_interviews_and_tab01(base, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, *a, **k: shown.append(obj))
    ctx = derive(base, "04", tmp_path)
    ch04.interview_figures(ctx)
    ch04.abb04(ctx)
    ch04.tab01(ctx)
    payload = finished(ctx)
    values = payload["values"]
    published = qualitative.load_interviews().published
    assert values["n_interviews"] == published["n_interviews"].value
    assert values["mean_duration_minutes"] == published["mean_duration_minutes"].value
    cats = qualitative.load_categories()
    abb04 = csv(ctx, "abb-04")
    assert abb04["number"].tolist() == cats["number"].tolist()
    assert abb04["label"].tolist() == cats["label"].tolist()
    assert_figure_files(ctx, 4)
    req = qualitative.load_requirements()
    assert len(csv(ctx, "tab-01")) == len(req)
    markdown = shown[-1].data
    header = markdown.splitlines()[0]
    assert all(col in header for col in ch04.TAB01_COLUMNS)
    assert len(markdown.splitlines()) == 2 + req["area"].nunique()
    for text in req["text"]:
        assert text in markdown


# ---------------------------------------------------------------------------------------- chapter 5


def test_ch05_tab02_is_built_from_the_codebook(base, tmp_path):
    ctx = derive(base, "05", tmp_path)
    ch05.tab02(ctx)
    tab = csv(ctx, "tab-02")
    listed = [q for q in ctx.codebook if q.in_questionnaire_table]
    assert tab["question"].tolist() == [q.id for q in listed]
    assert "D6b" not in set(tab["question"])
    for q in listed:
        row = tab.loc[tab["question"] == q.id].iloc[0]
        if q.is_open:
            assert row["scale"] == "offene Frage"
        if q.multiple:
            assert "Mehrfachauswahl" in row["scale"]
        for label in list(q.scale.labels.values()) + list(q.scale.special.values()):
            assert label in row["scale"], (q.id, label)
    # numbering restarts in every block
    assert (tab.groupby("block")["nr"].min() == 1).all()


def test_scale_description_names_an_unknown_scale():
    from clusterkrise.codebook import Question, Scale

    q = Question(id="X1", block="A", text="?", scale=Scale(name="odd", type="hologram"), items=())
    with pytest.raises(ValueError, match="X1.*hologram"):
        ch05.scale_description(q)


def test_ch05_response_figures_match_the_registry(base, tmp_path):
    ctx = derive(base, "05", tmp_path)
    ch05.response(ctx)
    v = ctx.values
    expect("started", v["n_started"])
    expect("completed", v["n_completed"])
    expect("dropout_pct", v["dropout_pct"])
    expect("median_duration", v["median_duration_seconds"])
    assert v["median_duration_min"] * 60 + v["median_duration_sec"] == round(v["median_duration_seconds"])
    expect("n_min_closed", v["n_min_closed"])
    expect("n_max_closed", v["n_max_closed"])

"""The schematic diagrams (clusterkrise.diagrams) and the questionnaire table (clusterkrise.questionnaire)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clusterkrise import diagrams, qualitative, questionnaire  # noqa: E402
from clusterkrise.codebook import Question, Scale, load_codebook  # noqa: E402


def test_ring_diagram_rejects_bad_input():
    with pytest.raises(ValueError, match="no labels"):
        diagrams.ring_diagram("Mitte", [])
    with pytest.raises(ValueError, match="2 numbers for 3 labels"):
        diagrams.ring_diagram("Mitte", ["a", "b", "c"], numbers=[1, 2])
    with pytest.raises(ValueError, match="1 detail lists for 2 labels"):
        diagrams.ring_diagram("Mitte", ["a", "b"], details=[["x"]])


def test_ring_diagram_draws_one_box_per_label():
    fig = diagrams.ring_diagram("Mitte", ["eins", "zwei", "drei"], numbers=[1, 2, 3])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"eins", "zwei", "drei", "1", "2", "3"} <= set(texts)


def test_timeline_chart_names_a_step_without_phase():
    timeline = qualitative.load_timeline()
    with pytest.raises(ValueError, match="no phase"):
        diagrams.timeline_chart(timeline, [("gibt_es_nicht", "X")])
    with pytest.raises(ValueError, match="phase_start"):
        diagrams.timeline_chart(timeline.drop(columns=["phase_start"]), [])


def test_timeline_chart_has_one_bar_row_per_phase():
    timeline = qualitative.load_timeline()
    fig = diagrams.timeline_chart(timeline, [(timeline["phase"].iloc[0], "Schritt")])
    gantt = fig.axes[1]
    assert len(gantt.get_yticklabels()) == timeline["phase"].nunique()


def test_nested_boxes_labels_and_empty_input():
    fig = diagrams.nested_boxes(["innen", "mitte", "außen"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["außen", "mitte", "innen"]
    with pytest.raises(ValueError, match="no labels"):
        diagrams.nested_boxes([])


@pytest.mark.parametrize(("start", "end", "text"), [
    ("2020-06-01", "2020-07-31", "Juni–Juli 2020"),
    ("2020-09-01", "2020-09-30", "September 2020"),
    ("2020-11-01", "2021-01-31", "November 2020–Januar 2021"),
])
def test_month_span(start, end, text):
    assert diagrams.month_span(pd.Timestamp(start), pd.Timestamp(end)) == text


def test_german_date():
    assert diagrams.german_date(pd.Timestamp("2020-10-01")) == "1. Oktober 2020"


def test_scale_description_names_an_unknown_scale():
    q = Question(id="X1", block="A", text="?", scale=Scale(name="odd", type="hologram"), items=())
    with pytest.raises(ValueError, match="X1.*hologram"):
        questionnaire.scale_description(q)


def test_questionnaire_table_lists_the_questionnaire_in_block_order():
    codebook = load_codebook()
    table = questionnaire.questionnaire_table(codebook)
    assert table["question"].tolist() == [q.id for q in codebook if q.in_questionnaire_table]
    assert (table.groupby("block")["nr"].min() == 1).all()
    closed = questionnaire.closed_questions(codebook)
    assert closed and not [q for q in closed if q.is_open or not q.in_questionnaire_table]


@pytest.mark.parametrize(("start", "end", "text"), [
    ("2020-06-01", "2020-07-31", "06/2020–07/2020"),
    ("2020-09-01", "2020-09-30", "09/2020"),
])
def test_month_range_prints_a_single_month_once(start, end, text):
    assert diagrams.month_range(pd.Timestamp(start), pd.Timestamp(end)) == text


def test_timeline_step_texts_stay_inside_their_boxes():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import FancyBboxPatch

    timeline = qualitative.load_timeline()
    phases = list(dict.fromkeys(timeline.sort_values("phase_order")["phase"]))[:3]
    long_words = ["Desk Research", "Expert:inneninterviews", "Onlineumfrageauswertungsphase"]
    fig = diagrams.timeline_chart(timeline, list(zip(phases, long_words)))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    top = fig.axes[0]
    boxes = [p.get_window_extent(renderer) for p in top.patches if isinstance(p, FancyBboxPatch)]
    texts = [t.get_window_extent(renderer) for t in top.texts]
    assert len(boxes) == len(texts) == 3
    for box, text in zip(boxes, texts):
        assert box.x0 <= text.x0 and text.x1 <= box.x1 and box.y0 <= text.y0 and text.y1 <= box.y1
    single = timeline.assign(phase_start=pd.Timestamp("2020-09-01"), phase_end=pd.Timestamp("2020-09-30"))
    labels = [t.get_text() for t in diagrams.timeline_chart(single, []).axes[1].get_yticklabels()]
    assert all(label.endswith("(09/2020)") for label in labels)

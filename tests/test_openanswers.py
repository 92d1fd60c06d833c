"""Open answers counted as the analyst's coded themes (Abb. 21, 34, 39)."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterkrise import DATA_DIR, openanswers, plots
from clusterkrise.io import load_survey

RESPONSES = DATA_DIR / "survey" / "responses.csv"


def _answers(question: str) -> pd.DataFrame:
    data = load_survey(RESPONSES)
    written = data[question].dropna().astype(str).str.strip()
    return pd.DataFrame({"respondent_id": data.loc[written.index, "respondent_id"], "text": written})


def test_shipped_coding_covers_every_written_answer():
    coding = openanswers.load_coding(RESPONSES)
    for question in ("A5", "B6", "C4"):
        coded = openanswers.coded_answers(_answers(question), coding, question)
        assert not coded["codes"].map(lambda c: openanswers.NOT_CODED in c).any(), question
        labels, _ = openanswers.code_list(question)
        assert set(coded["codes"].explode()) <= set(labels), question


def test_themes_counted_per_answer_and_no_content_apart():
    answers = pd.DataFrame({"respondent_id": [1, 2, 3, 4, 5], "text": ["Messen fehlen", "-", "Hygiene und Recht", "Recht ist unklar", "neu"]})
    coding = pd.DataFrame({"respondent_id": [1, 2, 3, 4], "question": "A5", "text": "", "codes": ["m", "keine", "h;r", "r"]})
    table = openanswers.theme_counts(openanswers.coded_answers(answers, coding, "A5"), {"m": "Messen", "h": "Hygiene", "r": "Recht"}, "keine")
    assert list(table["theme"]) == ["Recht", "Hygiene", "Messen", "keine", openanswers.NOT_CODED_LABEL]
    assert list(table["n"]) == [2, 1, 1, 1, 1]
    assert list(table["apart"]) == [False, False, False, True, True]
    assert table.loc[0, "examples"] == "Recht ist unklar | Hygiene und Recht"  # one-theme answers first
    assert openanswers.top_themes(table) == (["Recht"], 2)
    assert openanswers.no_content_count(table, "keine") == 1


def test_a_tie_at_the_top_names_every_theme():
    answers = pd.DataFrame({"respondent_id": [1, 2], "text": ["a", "b"]})
    coding = pd.DataFrame({"respondent_id": [1, 2], "question": "C4", "text": "", "codes": ["x", "y"]})
    table = openanswers.theme_counts(openanswers.coded_answers(answers, coding, "C4"), {"x": "X", "y": "Y"}, "keine")
    assert openanswers.top_themes(table) == (["X", "Y"], 1)


def test_missing_coding_file_gives_no_codes_and_a_broken_one_a_clear_error(tmp_path):
    data = tmp_path / "responses.csv"
    assert openanswers.load_coding(data).empty
    (tmp_path / "open_answers.csv").write_text("respondent_id,question,text\n1,A5,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"open_answers\.csv: .*missing: codes"):
        openanswers.load_coding(data)


def test_theme_bars_ranks_themes_and_quotes_examples():
    table = pd.DataFrame({"code": ["a", "b", "keine"], "theme": ["Alpha", "Beta", "keine inhaltliche Angabe"],
                          "n": [2, 5, 1], "share": [0.25, 0.625, 0.125], "apart": [False, False, True],
                          "examples": ["erstes | zweites", "drittes", ""]})
    fig = plots.theme_bars(table, colour="ch09")
    bars_ax = fig.axes[0]
    assert [t.get_text() for t in bars_ax.get_yticklabels()] == ["Beta", "Alpha", "keine inhaltliche Angabe"]
    quoted = [t.get_text() for t in fig.axes[1].texts]
    assert quoted[0] == "Beta (5)" and "\u201edrittes\u201c" in quoted and "\u201eerstes\u201c" in quoted


def test_theme_bars_without_answers_shows_no_data():
    fig = plots.theme_bars(pd.DataFrame(columns=["theme", "n", "apart"]))
    assert any(plots.NO_DATA_TEXT in t.get_text() for ax in fig.axes for t in ax.texts) or any(
        plots.NO_DATA_TEXT in t.get_text() for t in fig.texts)

"""Qualitative inputs (chapters 1, 3, 4, foreword) and the synthetic open-answer source."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from clusterkrise import DATA_DIR
from clusterkrise import qualitative as q

QUAL = DATA_DIR / "qualitative"
OPEN = DATA_DIR / "survey" / "open_answers_source.yaml"
FORBIDDEN_QUOTES = ["\u201e", "\u201c", "\u201d", '"']


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, data: dict) -> Path:
    out = tmp_path / name
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


# ---------------------------------------------------------------- files load with the expected shape

def test_ketels_six_added_values_with_reference():
    df = q.load_ketels()
    assert df["label"].tolist()[0] == "Vertrauen"
    assert len(df) == 6 and df["key"].is_unique
    assert df.attrs["reference"] == "ketels2020"


def test_desk_research_sources_and_bitkom_finding():
    desk = q.load_desk_research()
    assert {"cm_berichte", "cls_protokolle", "recherchen"} <= set(desk.sources["key"])
    bitkom = desk.findings.set_index("key").loc["bitkom_digitalinvestitionen"]
    assert bitkom["value"] == 75 and bitkom["reference"] and bitkom["url"].startswith("https://")


def test_timeline_phases_in_order_and_field_time_inside_its_phase():
    tl = q.load_timeline()
    phases = tl.drop_duplicates("phase").sort_values("phase_order")
    assert phases["phase"].tolist() == [
        "desk_research", "qualitative_forschung", "quantitative_forschung", "aktivierungskommunikation", "auswertung",
    ]
    assert (phases["phase_end"] >= phases["phase_start"]).all()
    field = tl[tl["step_key"] == "feldzeit"].iloc[0]
    assert field["phase"] == "quantitative_forschung"
    assert field["phase_start"] <= field["step_start"] <= field["step_end"] <= field["phase_end"]
    # every dated step lies within its phase
    dated = tl.dropna(subset=["step_start"])
    assert ((dated["step_start"] >= dated["phase_start"]) & (dated["step_end"] <= dated["phase_end"])).all()


def test_three_actor_levels_each_with_observations():
    al = q.load_actor_levels()
    assert al["level"].unique().tolist() == ["akteure_im_cluster", "clustermanagements", "cross_cluster"]
    assert (al.groupby("level").size() >= 3).all()


def test_interview_guide_has_all_sections():
    guide = q.load_interview_guide()
    assert guide["section"].nunique() == 5
    assert guide["sub_items"].map(len).sum() == 3


# ---------------------------------------------------------------- interviews and categories

def test_five_interviews_reproduce_published_count_and_mean_duration():
    iv = q.load_interviews()
    assert len(iv.table) == iv.published["n_interviews"].value
    assert iv.table["id"].tolist() == [f"I{i}" for i in range(1, len(iv.table) + 1)]
    mean = iv.table["duration_minutes"].mean()
    assert mean == pytest.approx(iv.published["mean_duration_minutes"].value)
    assert iv.published["mean_duration_minutes"].place == "4.1"
    # reconstructed values must say so, and the published window must be honoured
    assert iv.table["date_reconstructed"].all() and iv.table["duration_reconstructed"].all()
    inside = iv.table["date"].between(iv.window_start, iv.window_end) | iv.table["date"].isin(iv.extra_dates)
    assert inside.all()
    assert iv.table["recorded"].all() and iv.table["transcribed"].all()


def test_six_categories_numbered_as_in_abb4_with_sub_points():
    cats = q.load_categories()
    assert cats["number"].tolist() == [1, 2, 3, 4, 5, 6]
    subs = {row.key: [s["key"] for s in row.sub_points] for row in cats.itertuples()}
    assert subs["neues_clustermanagement"] == ["tools_arbeitsweise", "information_betreuung", "interne_ablaeufe"]
    assert subs["innovationen"] == ["im_clustermanagement", "bei_akteuren"]
    assert (cats["findings"].map(len) > 0).all()


def test_statements_refer_to_categories_and_are_reported_speech():
    st = q.load_statements()
    cats = set(q.load_categories()["key"])
    assert len(st) > 0 and set(st["category"]) <= cats
    # indirect speech: no first person plural of a direct quotation at the start
    assert not st["reported_speech"].str.match(r"^(Wir|Ich|Unsere?)\b").any()


def test_three_tab1_areas_with_both_implication_audiences():
    req = q.load_requirements()
    assert req["area"].unique().tolist() == ["auswirkungen", "leistungsspektrum", "chancen"]
    impl = req[req["kind"] == "Implikation"]
    per_area = impl.groupby("area")["audience"].unique().map(set)
    assert all(a == {"clustermanagements", "clusterfoerderung"} for a in per_area)
    assert (req[req["kind"] == "Anforderung"].groupby("area").size() > 0).all()


def test_foreword_author_and_points():
    fw = q.load_foreword()
    assert fw.name == "Rüdiger Hintze"
    assert 5 <= len(fw.points) <= 8


# ---------------------------------------------------------------- open answers

def test_open_answers_match_published_counts():
    src = q.load_open_answer_source()
    counts = src.answers.groupby("question").size()
    for qid in ("B6", "C4"):
        question = src.questions[qid]
        assert question.published_count is not None
        assert counts[qid] == question.published_count
    a5 = src.questions["A5"]
    assert a5.published_count is None and a5.count_reconstructed
    assert counts["A5"] == a5.reconstructed_count


def test_open_answers_read_like_written_answers():
    """Varied length, some without content, several themes now and then, slips and lower case."""
    src = q.load_open_answer_source()
    assert src.synthetic
    answers = src.answers
    for qid, group in answers.groupby("question"):
        codes = group["codes"].str.split(";")
        themed = codes[~codes.map(lambda c: c == [src.no_content_code])]
        assert themed.explode().value_counts().max() >= 2, qid  # a theme is named more than once
        assert (codes.map(lambda c: c == [src.no_content_code])).any(), f"{qid}: no answer without content"
        assert (codes.map(len) > 1).any(), f"{qid}: no answer with several themes"
    words = answers["text"].str.split().map(len)
    assert words.between(q.OPEN_ANSWER_MIN_WORDS, q.OPEN_ANSWER_MAX_WORDS).all()
    assert words.min() == 1 and words.max() >= 10
    assert answers["text"].str[0].str.islower().any(), "nobody starts in lower case"
    assert answers["text"].str.contains(r"[.!?]$").any() and (~answers["text"].str.contains(r"[.!?]$")).any()


def test_every_code_of_an_answer_is_in_its_question_code_list(tmp_path):
    data = _raw(OPEN)
    data["questions"]["A5"]["answers"][0]["codes"] = ["keine", "hygiene"]
    with pytest.raises(ValueError, match=r"questions\.A5\.answers\[0\]: the no-content code 'keine' stands alone"):
        q.load_open_answer_source(_write(tmp_path, "open.yaml", data))
    data = _raw(OPEN)
    data["questions"]["A5"]["answers"][0]["text"] = "Eins. Zwei. Drei."
    with pytest.raises(ValueError, match=r"at most 2 sentences"):
        q.load_open_answer_source(_write(tmp_path, "open2.yaml", data))


# ---------------------------------------------------------------- no quotation in paraphrased fields

def _paraphrased_texts() -> list[tuple[str, str]]:
    out = [(f"statement {r.id}", r.reported_speech) for r in q.load_statements().itertuples()]
    out += [(f"foreword point {i}", p) for i, p in enumerate(q.load_foreword().points)]
    for row in q.load_categories().itertuples():
        out += [(f"category {row.key}", f) for f in row.findings]
        out += [(f"category {row.key}/{s['key']}", f) for s in row.sub_points for f in s["findings"]]
    out += [("actor level", o) for o in q.load_actor_levels()["observation"]]
    out += [("desk finding", s) for s in q.load_desk_research().findings["statement"]]
    return out


def test_no_quotation_marks_in_reported_speech_or_findings():
    offenders = [(where, text) for where, text in _paraphrased_texts() if any(c in text for c in FORBIDDEN_QUOTES)]
    assert offenders == []


# ---------------------------------------------------------------- broken input gives a clear error

def test_missing_key_names_file_and_entry(tmp_path):
    data = _raw(QUAL / "interviews.yaml")
    del data["interviews"][2]["duration_minutes"]
    path = _write(tmp_path, "interviews.yaml", data)
    with pytest.raises(ValueError, match=r"interviews\.yaml: interviews\[2\]: missing key\(s\) 'duration_minutes'"):
        q.load_interviews(path)


def test_date_outside_published_window_is_rejected(tmp_path):
    data = _raw(QUAL / "interviews.yaml")
    data["interviews"][0]["date"] = "2020-08-20"
    path = _write(tmp_path, "interviews.yaml", data)
    with pytest.raises(ValueError, match=r"interviews\[0\] \(I1\)\.date 2020-08-20 lies outside"):
        q.load_interviews(path)


def test_quotation_in_reported_speech_is_rejected(tmp_path):
    data = _raw(QUAL / "interviews.yaml")
    data["statements"][0]["reported_speech"] = "Eine Person sagte: \u201eDas war schwer.\u201c"
    path = _write(tmp_path, "interviews.yaml", data)
    with pytest.raises(ValueError, match=r"statements\[0\] \(S01\)\.reported_speech: .*quotation marks"):
        q.load_statements(path)


def test_answer_count_differing_from_published_count_is_rejected(tmp_path):
    data = _raw(OPEN)
    data["questions"]["B6"]["answers"].pop()
    path = _write(tmp_path, "open_answers_source.yaml", data)
    with pytest.raises(ValueError, match=r"questions\.B6: 11 answers, but the study reports 12"):
        q.load_open_answer_source(path)


def test_unknown_theme_and_bad_yaml_are_rejected(tmp_path):
    data = _raw(OPEN)
    data["questions"]["C4"]["answers"][3]["codes"] = ["gibt_es_nicht"]
    with pytest.raises(ValueError, match=r"questions\.C4\.answers\[3\]: unknown code 'gibt_es_nicht'"):
        q.load_open_answer_source(_write(tmp_path, "open.yaml", data))
    broken = tmp_path / "broken.yaml"
    broken.write_text("areas: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yaml: not valid YAML"):
        q.load_requirements(broken)


def test_tab1_area_without_audience_is_rejected(tmp_path):
    data = _raw(QUAL / "requirements.yaml")
    del data["areas"][1]["implications"]["clusterfoerderung"]
    with pytest.raises(ValueError, match=r"areas\[1\] \(leistungsspektrum\)\.implications: missing key\(s\) 'clusterfoerderung'"):
        q.load_requirements(_write(tmp_path, "requirements.yaml", data))


def test_timeline_end_before_start_is_rejected(tmp_path):
    data = _raw(QUAL / "desk_research.yaml")
    data["timeline"]["phases"][4]["end"] = "2020-09"
    with pytest.raises(ValueError, match=r"timeline\.phases\[4\] \(auswertung\): end 2020-09 lies before start"):
        q.load_timeline(_write(tmp_path, "desk_research.yaml", data))


def test_cited_references_exist_in_bibliography():
    import re

    from clusterkrise import PROJECT_ROOT

    # The book configuration names the bibliography file; the test follows it rather than a fixed path.
    config = yaml.safe_load((PROJECT_ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    bib = (PROJECT_ROOT / config["bibliography"]).read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.MULTILINE))
    cited = {q.load_ketels().attrs["reference"], *q.load_desk_research().findings["reference"]}
    assert cited <= keys, cited - keys

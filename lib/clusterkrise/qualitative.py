"""Loaders for the qualitative inputs of the study (chapters 1, 3, 4, foreword) and the open-answer source.

The YAML files under ``data/qualitative/`` and ``data/survey/open_answers_source.yaml`` are written by hand,
so every loader checks the structure it relies on and raises ``ValueError`` naming the file and the entry
(e.g. ``interviews[2] (I3)``) instead of failing later with a ``KeyError`` deep inside a notebook.

List-like content comes back as tidy ``pandas.DataFrame`` objects (one row per item); content with
metadata that the book quotes (published values and where the study prints them) comes back as
dataclasses.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from clusterkrise import DATA_DIR, PROJECT_ROOT
from clusterkrise.yamlload import load_yaml

QUALITATIVE_DIR = DATA_DIR / "qualitative"
OPEN_ANSWER_SOURCE = DATA_DIR / "survey" / "open_answers_source.yaml"

# Reported speech and paraphrased findings must never look like a citation of a real person.
QUOTE_CHARS = "\u201e\u201c\u201d\"\u00ab\u00bb"
# Open answers as people write them: from a single word ("Hygiene", "-") to two sentences.
OPEN_ANSWER_MIN_WORDS = 1
OPEN_ANSWER_MAX_WORDS = 30
OPEN_ANSWER_MAX_SENTENCES = 2
_SENTENCE_END = re.compile(r"[.!?](?=\s+\S)")

_ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------

def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _read_yaml(path: str | Path | None, default: Path) -> tuple[Any, str]:
    path = Path(path) if path is not None else default
    name = _display(path)
    if not path.is_file():
        raise ValueError(f"{name}: file not found")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{name}: top level must be a mapping, got {type(data).__name__}")
    return data, name


def _require(mapping: Any, keys: list[str], file: str, entry: str) -> None:
    if not isinstance(mapping, dict):
        raise ValueError(f"{file}: {entry} must be a mapping, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping or mapping[k] is None or mapping[k] == ""]
    if missing:
        raise ValueError(f"{file}: {entry}: missing key(s) {', '.join(repr(k) for k in missing)}")


def _list(value: Any, file: str, entry: str, allow_empty: bool = False) -> list:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ValueError(f"{file}: {entry} must be a non-empty list")
    return value


def _text(value: Any, file: str, entry: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{file}: {entry} must be a non-empty string")
    return value.strip()


def _no_quotes(text: str, file: str, entry: str) -> str:
    found = sorted({c for c in text if c in QUOTE_CHARS})
    if found:
        raise ValueError(
            f"{file}: {entry}: paraphrased text must not contain quotation marks, found {' '.join(found)}"
        )
    return text


def _unique(values: list, file: str, what: str) -> None:
    dups = sorted(str(v) for v, n in Counter(values).items() if n > 1)
    if dups:
        raise ValueError(f"{file}: duplicate {what}: {', '.join(dups)}")


def _date(value: Any, file: str, entry: str, end: bool = False) -> tuple[pd.Timestamp, str]:
    """Parse an ISO month or day; a month end is its last day, so phase ends are inclusive."""
    text = str(value) if value is not None else ""
    if _ISO_DAY.match(text):
        precision = "day"
    elif _ISO_MONTH.match(text):
        precision = "month"
    else:
        raise ValueError(f"{file}: {entry}: {value!r} is neither an ISO month (YYYY-MM) nor date (YYYY-MM-DD)")
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise ValueError(f"{file}: {entry}: {value!r} is not a valid date") from exc
    if precision == "month" and end:
        ts = ts + pd.offsets.MonthEnd(0)
    return ts, precision


@dataclass(frozen=True)
class PublishedValue:
    """A value as the study prints it, with its place (section), so the book can cite it."""

    value: Any
    place: str
    note: str = ""


def _published(raw: Any, file: str, entry: str) -> PublishedValue:
    _require(raw, ["value", "place"], file, entry)
    return PublishedValue(raw["value"], str(raw["place"]), str(raw.get("statistic", raw.get("note", ""))))


# --------------------------------------------------------------------------------------------------
# chapter 1: Abb. 1
# --------------------------------------------------------------------------------------------------

def load_ketels(path: str | Path | None = None) -> pd.DataFrame:
    """Added values of clusters after Ketels (2020), Abb. 1: columns ``order, key, label``.

    ``attrs`` holds ``reference`` (bibliography key), ``figure`` and ``section``.
    """
    data, name = _read_yaml(path, QUALITATIVE_DIR / "ketels_added_values.yaml")
    _require(data, ["source", "added_values"], name, "top level")
    _require(data["source"], ["figure", "section", "reference"], name, "source")
    rows = []
    for i, item in enumerate(_list(data["added_values"], name, "added_values")):
        _require(item, ["key", "label"], name, f"added_values[{i}]")
        rows.append({"order": i + 1, "key": item["key"], "label": _text(item["label"], name, f"added_values[{i}].label")})
    df = pd.DataFrame(rows)
    _unique(df["key"].tolist(), name, "added value keys")
    df.attrs = {k: str(data["source"][k]) for k in ("reference", "figure", "section")}
    return df


# --------------------------------------------------------------------------------------------------
# chapter 3: desk research, Abb. 2, Abb. 3
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeskResearch:
    sources: pd.DataFrame
    findings: pd.DataFrame


def _desk(path: str | Path | None) -> tuple[dict, str]:
    return _read_yaml(path, QUALITATIVE_DIR / "desk_research.yaml")


def load_desk_research(path: str | Path | None = None) -> DeskResearch:
    """Sources of the desk research (``key, label, detail``) and its quantified findings.

    Findings: ``key, section, value, unit, population, statement, reference, publisher, date, url``.
    """
    data, name = _desk(path)
    _require(data, ["sources", "findings"], name, "top level")
    _require(data["sources"], ["items"], name, "sources")
    sources = []
    for i, item in enumerate(_list(data["sources"]["items"], name, "sources.items")):
        _require(item, ["key", "label"], name, f"sources.items[{i}]")
        sources.append({"key": item["key"], "label": item["label"], "detail": item.get("detail", "")})
    findings = []
    for i, item in enumerate(_list(data["findings"], name, "findings")):
        entry = f"findings[{i}]"
        _require(item, ["key", "section", "value", "unit", "statement", "source"], name, entry)
        _require(item["source"], ["reference"], name, f"{entry}.source")
        findings.append({
            "key": item["key"],
            "section": str(item["section"]),
            "value": item["value"],
            "unit": item["unit"],
            "population": item.get("population", ""),
            "statement": _no_quotes(_text(item["statement"], name, f"{entry}.statement"), name, f"{entry}.statement"),
            "reference": item["source"]["reference"],
            "publisher": item["source"].get("publisher", ""),
            "date": item["source"].get("date", ""),
            "url": item["source"].get("url", ""),
        })
    return DeskResearch(pd.DataFrame(sources), pd.DataFrame(findings))


def load_timeline(path: str | Path | None = None) -> pd.DataFrame:
    """Study time line of Abb. 2, one row per step.

    Columns: ``phase_order, phase, phase_label, phase_start, phase_end, step_order, step, step_key,
    step_start, step_end``. Month-precision ends are the last day of the month; undated steps have NaT.
    """
    data, name = _desk(path)
    _require(data, ["timeline"], name, "top level")
    _require(data["timeline"], ["phases"], name, "timeline")
    rows = []
    keys = []
    for p, phase in enumerate(_list(data["timeline"]["phases"], name, "timeline.phases")):
        entry = f"timeline.phases[{p}]"
        _require(phase, ["key", "label", "start", "end", "steps"], name, entry)
        entry = f"{entry} ({phase['key']})"
        keys.append(phase["key"])
        start, _ = _date(phase["start"], name, f"{entry}.start")
        end, _ = _date(phase["end"], name, f"{entry}.end", end=True)
        if end < start:
            raise ValueError(f"{name}: {entry}: end {phase['end']} lies before start {phase['start']}")
        for s, step in enumerate(_list(phase["steps"], name, f"{entry}.steps")):
            sentry = f"{entry}.steps[{s}]"
            _require(step, ["label"], name, sentry)
            s_start = s_end = pd.NaT
            if "start" in step:
                s_start, _ = _date(step["start"], name, f"{sentry}.start")
                s_end, _ = _date(step.get("end", step["start"]), name, f"{sentry}.end", end=True)
                if s_end < s_start:
                    raise ValueError(f"{name}: {sentry}: end lies before start")
            rows.append({
                "phase_order": p + 1, "phase": phase["key"], "phase_label": phase["label"],
                "phase_start": start, "phase_end": end,
                "step_order": s + 1, "step": step["label"], "step_key": step.get("key", ""),
                "step_start": s_start, "step_end": s_end,
            })
    _unique(keys, name, "timeline phase keys")
    df = pd.DataFrame(rows)
    df.attrs = {"figure": str(data["timeline"].get("figure", "")), "section": str(data["timeline"].get("section", ""))}
    return df


def load_actor_levels(path: str | Path | None = None) -> pd.DataFrame:
    """The three actor levels of Abb. 3 with our keyword summary of what chapter 3 reports for each.

    One row per observation: ``level_order, level, level_label, section, observation``.
    """
    data, name = _desk(path)
    _require(data, ["actor_levels"], name, "top level")
    _require(data["actor_levels"], ["levels"], name, "actor_levels")
    rows = []
    keys = []
    for i, level in enumerate(_list(data["actor_levels"]["levels"], name, "actor_levels.levels")):
        entry = f"actor_levels.levels[{i}]"
        _require(level, ["key", "label", "section", "observations"], name, entry)
        keys.append(level["key"])
        for j, obs in enumerate(_list(level["observations"], name, f"{entry}.observations")):
            oentry = f"{entry} ({level['key']}).observations[{j}]"
            rows.append({
                "level_order": i + 1, "level": level["key"], "level_label": level["label"],
                "section": str(level["section"]),
                "observation": _no_quotes(_text(obs, name, oentry), name, oentry),
            })
    _unique(keys, name, "actor level keys")
    df = pd.DataFrame(rows)
    df.attrs = {"figure": str(data["actor_levels"].get("figure", ""))}
    return df


# --------------------------------------------------------------------------------------------------
# chapter 4: interviews, categories (Abb. 4), statements, guide, Tab. 1
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interviews:
    """The five expert interviews. ``table`` has one row per interview; ``published`` the study's values."""

    table: pd.DataFrame
    published: dict[str, PublishedValue]
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    extra_dates: tuple[pd.Timestamp, ...]
    mode: str
    recorded: bool
    transcribed: bool


def _interviews_yaml(path: str | Path | None) -> tuple[dict, str]:
    return _read_yaml(path, QUALITATIVE_DIR / "interviews.yaml")


def load_interviews(path: str | Path | None = None) -> Interviews:
    """Interviews I1..I5 with (reconstructed) dates and durations and the published count and mean.

    Dates must lie in the published window or on one of its extra dates; the published figures are
    returned as they stand in the file, so a test can compare them with values computed from the table.
    """
    data, name = _interviews_yaml(path)
    _require(data, ["published", "interviews"], name, "top level")
    pub = data["published"]
    _require(pub, ["n_interviews", "mean_duration_minutes", "period", "mode", "recorded", "transcribed"], name, "published")
    _require(pub["period"], ["window_start", "window_end"], name, "published.period")
    published = {
        "n_interviews": _published(pub["n_interviews"], name, "published.n_interviews"),
        "mean_duration_minutes": _published(pub["mean_duration_minutes"], name, "published.mean_duration_minutes"),
    }
    w_start, _ = _date(pub["period"]["window_start"], name, "published.period.window_start")
    w_end, _ = _date(pub["period"]["window_end"], name, "published.period.window_end")
    extra = tuple(_date(d, name, "published.period.extra_dates")[0] for d in pub["period"].get("extra_dates", []) or [])

    required = ["id", "role", "cluster", "date", "date_reconstructed", "duration_minutes",
                "duration_reconstructed", "mode", "recorded", "transcribed"]
    rows = []
    for i, item in enumerate(_list(data["interviews"], name, "interviews")):
        entry = f"interviews[{i}]"
        _require(item, required, name, entry)
        entry = f"{entry} ({item['id']})"
        day, precision = _date(item["date"], name, f"{entry}.date")
        if precision != "day":
            raise ValueError(f"{name}: {entry}.date must be a full date YYYY-MM-DD")
        if not (w_start <= day <= w_end or day in extra):
            raise ValueError(f"{name}: {entry}.date {item['date']} lies outside the published interview period")
        minutes = item["duration_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
            raise ValueError(f"{name}: {entry}.duration_minutes must be a positive number, got {minutes!r}")
        for flag in ("date_reconstructed", "duration_reconstructed", "recorded", "transcribed"):
            if not isinstance(item[flag], bool):
                raise ValueError(f"{name}: {entry}.{flag} must be true or false")
        rows.append({k: item[k] for k in required} | {"date": day})
    table = pd.DataFrame(rows)
    _unique(table["id"].tolist(), name, "interview ids")
    return Interviews(
        table=table, published=published, window_start=w_start, window_end=w_end, extra_dates=extra,
        mode=str(pub["mode"]), recorded=bool(pub["recorded"]), transcribed=bool(pub["transcribed"]),
    )


def load_categories(path: str | Path | None = None) -> pd.DataFrame:
    """The six result categories of Abb. 4, one row per category.

    Columns: ``number`` (as printed in Abb. 4), ``key, label, section``, ``findings`` (list of our
    summaries) and ``sub_points`` (list of dicts ``key, label, findings``; empty when Abb. 4 shows none).
    """
    data, name = _interviews_yaml(path)
    _require(data, ["categories"], name, "top level")
    rows = []
    for i, cat in enumerate(_list(data["categories"], name, "categories")):
        entry = f"categories[{i}]"
        _require(cat, ["number", "key", "label", "section", "findings"], name, entry)
        entry = f"{entry} ({cat['key']})"
        findings = [
            _no_quotes(_text(f, name, f"{entry}.findings[{j}]"), name, f"{entry}.findings[{j}]")
            for j, f in enumerate(_list(cat["findings"], name, f"{entry}.findings"))
        ]
        subs = []
        for j, sub in enumerate(_list(cat.get("sub_points", []) or [], name, f"{entry}.sub_points", allow_empty=True)):
            sentry = f"{entry}.sub_points[{j}]"
            _require(sub, ["key", "label", "findings"], name, sentry)
            subs.append({
                "key": sub["key"], "label": sub["label"],
                "findings": [
                    _no_quotes(_text(f, name, f"{sentry}.findings[{k}]"), name, f"{sentry}.findings[{k}]")
                    for k, f in enumerate(_list(sub["findings"], name, f"{sentry}.findings"))
                ],
            })
        rows.append({"number": int(cat["number"]), "key": cat["key"], "label": cat["label"],
                     "section": str(cat["section"]), "findings": findings, "sub_points": subs})
    df = pd.DataFrame(rows)
    _unique(df["number"].tolist(), name, "category numbers")
    _unique(df["key"].tolist(), name, "category keys")
    return df.sort_values("number", ignore_index=True)


def load_statements(path: str | Path | None = None) -> pd.DataFrame:
    """Interview statements as reported speech: ``id, category, sub_point, section, reported_speech``.

    Each statement must point to an existing category (and sub-point, if given) and contain no
    quotation marks, because the study's quotations may only be retold, never cited.
    """
    data, name = _interviews_yaml(path)
    _require(data, ["statements"], name, "top level")
    cats = load_categories(path)
    subs = {c["key"]: {s["key"] for s in c["sub_points"]} for _, c in cats.iterrows()}
    rows = []
    for i, item in enumerate(_list(data["statements"], name, "statements")):
        entry = f"statements[{i}]"
        _require(item, ["id", "category", "section", "reported_speech"], name, entry)
        entry = f"{entry} ({item['id']})"
        if item["category"] not in subs:
            raise ValueError(f"{name}: {entry}: unknown category {item['category']!r}")
        sub = item.get("sub_point") or ""
        if sub and sub not in subs[item["category"]]:
            raise ValueError(f"{name}: {entry}: unknown sub_point {sub!r} for category {item['category']!r}")
        speech = " ".join(_text(item["reported_speech"], name, f"{entry}.reported_speech").split())
        rows.append({"id": item["id"], "category": item["category"], "sub_point": sub,
                     "section": str(item["section"]),
                     "reported_speech": _no_quotes(speech, name, f"{entry}.reported_speech")})
    df = pd.DataFrame(rows)
    _unique(df["id"].tolist(), name, "statement ids")
    return df


def load_interview_guide(path: str | Path | None = None) -> pd.DataFrame:
    """The Interviewleitfaden, one row per question: ``section_order, section, section_title,
    question_order, question, sub_items`` (list of strings, verbatim as printed)."""
    data, name = _read_yaml(path, QUALITATIVE_DIR / "interview_guide.yaml")
    _require(data, ["sections"], name, "top level")
    rows = []
    for i, sec in enumerate(_list(data["sections"], name, "sections")):
        entry = f"sections[{i}]"
        _require(sec, ["key", "title", "questions"], name, entry)
        for j, q in enumerate(_list(sec["questions"], name, f"{entry}.questions")):
            qentry = f"{entry} ({sec['key']}).questions[{j}]"
            _require(q, ["text"], name, qentry)
            rows.append({"section_order": i + 1, "section": sec["key"], "section_title": sec["title"],
                         "question_order": j + 1, "question": _text(q["text"], name, f"{qentry}.text"),
                         "sub_items": list(q.get("sub_items", []) or [])})
    return pd.DataFrame(rows)


def load_requirements(path: str | Path | None = None) -> pd.DataFrame:
    """Tab. 1 in long form, one row per cell entry.

    Columns: ``area_order, area, area_label, kind`` (``Anforderung`` or ``Implikation``), ``audience``
    (empty for requirements, else the audience key), ``audience_label, order, text``.
    """
    data, name = _read_yaml(path, QUALITATIVE_DIR / "requirements.yaml")
    _require(data, ["audiences", "areas"], name, "top level")
    audiences = data["audiences"]
    _require(audiences, ["clustermanagements", "clusterfoerderung"], name, "audiences")
    rows = []
    keys = []
    for i, area in enumerate(_list(data["areas"], name, "areas")):
        entry = f"areas[{i}]"
        _require(area, ["key", "label", "requirements", "implications"], name, entry)
        entry = f"{entry} ({area['key']})"
        keys.append(area["key"])
        base = {"area_order": i + 1, "area": area["key"], "area_label": area["label"]}
        for j, text in enumerate(_list(area["requirements"], name, f"{entry}.requirements")):
            rows.append(base | {"kind": "Anforderung", "audience": "", "audience_label": "", "order": j + 1,
                                "text": _text(text, name, f"{entry}.requirements[{j}]")})
        _require(area["implications"], list(audiences), name, f"{entry}.implications")
        unknown = set(area["implications"]) - set(audiences)
        if unknown:
            raise ValueError(f"{name}: {entry}.implications: unknown audience(s) {', '.join(sorted(unknown))}")
        for aud, label in audiences.items():
            for j, text in enumerate(_list(area["implications"][aud], name, f"{entry}.implications.{aud}")):
                rows.append(base | {"kind": "Implikation", "audience": aud, "audience_label": label,
                                    "order": j + 1, "text": _text(text, name, f"{entry}.implications.{aud}[{j}]")})
    _unique(keys, name, "area keys")
    df = pd.DataFrame(rows)
    src = data.get("source") or {}
    df.attrs = {"table": str(src.get("table", "")), "section": str(src.get("section", ""))}
    return df


# --------------------------------------------------------------------------------------------------
# foreword
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Foreword:
    name: str
    function: str
    institution: str
    points: list[str] = field(default_factory=list)


def load_foreword(path: str | Path | None = None) -> Foreword:
    """Author of the Geleitwort as printed and its main points as reported speech (5 to 8 points)."""
    data, name = _read_yaml(path, QUALITATIVE_DIR / "foreword.yaml")
    _require(data, ["author", "points"], name, "top level")
    _require(data["author"], ["name", "function", "institution"], name, "author")
    points = [
        _no_quotes(" ".join(_text(p, name, f"points[{i}]").split()), name, f"points[{i}]")
        for i, p in enumerate(_list(data["points"], name, "points"))
    ]
    if not 5 <= len(points) <= 8:
        raise ValueError(f"{name}: points: expected 5 to 8 points, got {len(points)}")
    a = data["author"]
    return Foreword(a["name"], a["function"], a["institution"], points)


# --------------------------------------------------------------------------------------------------
# open answers (A5, B6, C4)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenQuestion:
    id: str
    wording: str
    figure: str
    section: str
    published_count: int | None
    published_count_place: str | None
    count_reconstructed: bool
    reconstructed_count: int | None
    codes: dict[str, str]

    @property
    def themes(self) -> dict[str, str]:
        """The code list (key -> theme label); kept under its older name for readers of the source."""
        return self.codes


@dataclass(frozen=True)
class OpenAnswerSource:
    """Synthetic open answers and the analyst's code lists.

    ``answers``: ``question, answer_no, codes`` (the codes joined with ``;``), ``text``. An answer
    without content carries ``no_content_code`` alone.
    """

    questions: dict[str, OpenQuestion]
    answers: pd.DataFrame
    synthetic: bool
    no_content_code: str
    no_content_label: str

    def code_labels(self, question: str) -> dict[str, str]:
        """Code -> label of one question, the no-content code included (last)."""
        return {**self.questions[question].codes, self.no_content_code: self.no_content_label}


def load_open_answer_source(path: str | Path | None = None) -> OpenAnswerSource:
    """Read the synthetic open answers with their coding and check them against the published counts.

    When the study reports how many people answered, the number of answers must equal it; a question
    without a published count must say ``count_reconstructed: true``. Every answer carries at least one
    code of its question's code list, or the no-content code alone.
    """
    data, name = _read_yaml(path, OPEN_ANSWER_SOURCE)
    _require(data, ["synthetic", "questions", "no_content_code", "no_content_label"], name, "top level")
    if data["synthetic"] is not True:
        raise ValueError(f"{name}: synthetic must be true: these answers are invented, not survey data")
    if not isinstance(data["questions"], dict) or not data["questions"]:
        raise ValueError(f"{name}: questions must be a non-empty mapping")
    none_code = _text(data["no_content_code"], name, "no_content_code")
    questions: dict[str, OpenQuestion] = {}
    rows = []
    for qid, q in data["questions"].items():
        entry = f"questions.{qid}"
        _require(q, ["wording", "figure", "section", "codes", "answers"], name, entry)
        if "published_count" not in q or "count_reconstructed" not in q:
            raise ValueError(f"{name}: {entry}: needs published_count (may be null) and count_reconstructed")
        count = q["published_count"]
        if count is None:
            if q["count_reconstructed"] is not True or not isinstance(q.get("reconstructed_count"), int):
                raise ValueError(
                    f"{name}: {entry}: no published count, so count_reconstructed must be true and "
                    "reconstructed_count must give the number of answers we chose"
                )
        elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name}: {entry}.published_count must be a non-negative integer or null")
        elif not q.get("published_count_place"):
            raise ValueError(f"{name}: {entry}: published_count needs published_count_place")
        codes = q["codes"]
        if not isinstance(codes, dict) or not codes:
            raise ValueError(f"{name}: {entry}.codes must be a non-empty mapping code -> theme label")
        if none_code in codes:
            raise ValueError(f"{name}: {entry}.codes: {none_code!r} is the no-content code, not a theme")
        answers = _list(q["answers"], name, f"{entry}.answers")
        for i, a in enumerate(answers):
            aentry = f"{entry}.answers[{i}]"
            _require(a, ["codes", "text"], name, aentry)
            given = a["codes"]
            if not isinstance(given, list) or not given or len(set(given)) != len(given):
                raise ValueError(f"{name}: {aentry}.codes must be a non-empty list without repeats")
            unknown = [c for c in given if c not in codes and c != none_code]
            if unknown:
                raise ValueError(f"{name}: {aentry}: unknown code {unknown[0]!r} (code list of {qid}: {', '.join(codes)})")
            if none_code in given and len(given) > 1:
                raise ValueError(f"{name}: {aentry}: the no-content code {none_code!r} stands alone")
            text = _text(str(a["text"]), name, f"{aentry}.text")
            n_words = len(text.split())
            n_sentences = len(_SENTENCE_END.findall(text)) + 1
            if not OPEN_ANSWER_MIN_WORDS <= n_words <= OPEN_ANSWER_MAX_WORDS or n_sentences > OPEN_ANSWER_MAX_SENTENCES:
                raise ValueError(
                    f"{name}: {aentry}: answer has {n_words} words in {n_sentences} sentences, expected "
                    f"{OPEN_ANSWER_MIN_WORDS} to {OPEN_ANSWER_MAX_WORDS} words in at most "
                    f"{OPEN_ANSWER_MAX_SENTENCES} sentences"
                )
            rows.append({"question": qid, "answer_no": i + 1, "codes": ";".join(given), "text": text})
        if count is not None and len(answers) != count:
            raise ValueError(
                f"{name}: {entry}: {len(answers)} answers, but the study reports {count} "
                f"(section {q['published_count_place']})"
            )
        if count is None and len(answers) != q["reconstructed_count"]:
            raise ValueError(f"{name}: {entry}: {len(answers)} answers, but reconstructed_count is {q['reconstructed_count']}")
        questions[qid] = OpenQuestion(
            id=qid, wording=q["wording"], figure=str(q["figure"]), section=str(q["section"]),
            published_count=count, published_count_place=(str(q["published_count_place"]) if count is not None else None),
            count_reconstructed=bool(q["count_reconstructed"]),
            reconstructed_count=q.get("reconstructed_count") if count is None else None, codes=dict(codes),
        )
    return OpenAnswerSource(questions=questions, answers=pd.DataFrame(rows), synthetic=True,
                            no_content_code=none_code, no_content_label=_text(data["no_content_label"], name, "no_content_label"))


__all__ = [
    "DeskResearch", "Foreword", "Interviews", "OpenAnswerSource", "OpenQuestion", "PublishedValue",
    "QUOTE_CHARS", "load_actor_levels", "load_categories", "load_desk_research", "load_foreword",
    "load_interview_guide", "load_interviews", "load_ketels", "load_open_answer_source",
    "load_requirements", "load_statements", "load_timeline",
]

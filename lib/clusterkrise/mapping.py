"""Mapping files: how a survey tool's export becomes the codebook's columns and codes.

A mapping is a YAML file (documented in ``docs/mapping.md``) with

- ``meta``: which export columns hold the respondent id, the completion flag and the duration;
- ``missing``: codes and answer texts that mean "no answer" anywhere in the export (``-9``,
  ``"keine Angabe"``, ...); they become empty cells and are counted;
- ``questions``: per codebook question the export column(s) (one to one, or one pattern for an
  item battery) and ``codes`` (export code or answer text -> codebook code);
- ``ignore``: export columns that are deliberately not used (the tool's system variables).

:func:`load_mapping` reads and checks a mapping against the codebook; :func:`template` writes the
starting point for SoSci Survey, LimeSurvey or Unipark/EFS from the codebook.
"""

from __future__ import annotations

import fnmatch
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .codebook import Codebook, Question, Scale, load_codebook
from .yamlload import load_yaml

__all__ = ["MISSING_WORDS", "Mapping", "MappingError", "QuestionMap", "TOOLS", "load_mapping", "looks_missing", "template", "value_key"]

TOOLS = ("sosci", "limesurvey", "unipark", "codebook")

# Answer texts that mean "no answer" rather than a point of the scale. A value label that reads like
# one of these on a code the mapping does not declare is an error, never an answer.
MISSING_WORDS = (
    "weiß nicht", "weiss nicht", "keine angabe", "k. a.", "k.a.", "nicht beantwortet", "keine antwort",
    "kann ich nicht beurteilen", "nicht gesehen", "fehlend", "n/a", "no answer", "don't know", "do not know",
    "not answered", "prefer not to say", "missing",
)


class MappingError(ValueError):
    """A mapping file is malformed or does not fit the codebook."""


def _norm_text(text: str) -> str:
    t = unicodedata.normalize("NFC", text).casefold()
    t = re.sub(r"[\u2010-\u2015\u2212]", "-", t)
    return re.sub(r"\s+", " ", t).strip()


def looks_missing(label: Any) -> bool:
    """True when an answer text reads as "no answer" (weiß nicht, keine Angabe, ...)."""
    if not isinstance(label, str):
        return False
    t = _norm_text(label)
    return any(t == w or re.search(rf"(^|\W){re.escape(w)}($|\W)", t) for w in MISSING_WORDS)


_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


def value_key(value: Any) -> tuple[str, Any] | None:
    """A cell or mapping key in comparable form: ("n", float) for numbers, ("t", text) for answer texts.

    Numbers written as text ("-9", "3,0") compare equal to numbers; None for an empty cell.
    """
    if value is None or value is False or value is True:
        return None if value is None else ("t", str(value).casefold())
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        f = float(value)
        return None if math.isnan(f) else ("n", f)
    text = str(value).strip()
    if not text:
        return None
    t = text.replace("\u2212", "-")
    if _NUMBER.match(t):
        return ("n", float(t.replace(",", ".")))
    return ("t", _norm_text(text))


def show_key(key: tuple[str, Any]) -> str:
    kind, v = key
    if kind == "n":
        return str(int(v)) if float(v).is_integer() else str(v)
    return repr(v)


@dataclass
class QuestionMap:
    question: str
    columns: dict[str, str]  # codebook column -> export column
    codes: dict[tuple[str, Any], int | float] = field(default_factory=dict)
    missing: dict[tuple[str, Any], str] = field(default_factory=dict)


@dataclass
class Mapping:
    path: str
    tool: str | None
    read: dict[str, Any]
    respondent_id: str
    completed: dict[str, Any]
    duration: dict[str, Any] | None
    missing: dict[tuple[str, Any], str]
    questions: dict[str, QuestionMap]
    ignore: list[str]

    @property
    def columns(self) -> dict[str, str]:
        """Every codebook answer column -> its export column."""
        return {c: e for qm in self.questions.values() for c, e in qm.columns.items()}

    def meta_columns(self) -> list[str]:
        cols = [self.respondent_id, self.completed["column"]]
        if self.duration:
            cols += [self.duration[k] for k in ("column", "start", "end") if k in self.duration]
        return cols

    def ignored(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name.casefold(), pat.casefold()) for pat in self.ignore)


# ------------------------------------------------------------------------------------------- reading
def _codes(raw: Any, where: str) -> dict[tuple[str, Any], Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a map of export code or answer text -> value, got {type(raw).__name__}")
    out: dict[tuple[str, Any], Any] = {}
    for k, v in raw.items():
        if isinstance(k, bool):
            raise MappingError(f"{where}: key {k!r} was read as a yes/no value by YAML; put it in quotes")
        key = value_key(k)
        if key is None:
            raise MappingError(f"{where}: empty key; an empty cell is always missing")
        if key in out and out[key] != v:
            raise MappingError(f"{where}: {show_key(key)} is given twice with different meanings ({out[key]!r}, {v!r})")
        out[key] = v
    return out


def _expand_columns(q: Question, spec: Any, where: str) -> dict[str, str]:
    cols = q.columns
    if isinstance(spec, str):
        if "{" not in spec:
            if len(cols) != 1:
                raise MappingError(f"{where}: one export column {spec!r} for {len(cols)} items; use a pattern with {{n}} or a map")
            return {cols[0]: spec}
        out = {}
        for pos, col in enumerate(cols, start=1):
            item = col[len(q.id) + 1:] if col.startswith(q.id + "_") else col
            try:
                out[col] = spec.format(n=pos, item=item, q=q.id)
            except (KeyError, IndexError, ValueError) as err:
                raise MappingError(f"{where}: pattern {spec!r} cannot be filled ({err}); placeholders are {{n}}, {{item}}, {{q}}") from None
        if len(set(out.values())) != len(out):
            raise MappingError(f"{where}: pattern {spec!r} gives the same export column for several items")
        return out
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(cols))
        if unknown:
            raise MappingError(f"{where}: {', '.join(map(str, unknown))} are not items of {q.id} ({', '.join(cols)})")
        return {str(k): str(v) for k, v in spec.items()}
    raise MappingError(f"{where}: columns must be an export column name, a pattern or a map, got {type(spec).__name__}")


def parse_mapping(raw: Any, codebook: Codebook | None = None, source: str = "<mapping>") -> Mapping:
    cb = codebook or load_codebook()
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: a mapping file is a YAML map (see docs/mapping.md)")
    known = {"tool", "description", "read", "meta", "missing", "questions", "ignore"}
    extra = sorted(set(raw) - known)
    if extra:
        raise MappingError(f"{source}: unknown key(s) {', '.join(map(str, extra))}; allowed: {', '.join(sorted(known))}")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict) or "respondent_id" not in meta or "completed" not in meta:
        raise MappingError(f"{source}: meta needs respondent_id and completed (the export's id and completion columns)")
    completed = meta["completed"]
    if isinstance(completed, str):
        completed = {"column": completed, "complete": [1]}
    if not isinstance(completed, dict) or "column" not in completed or not ({"complete", "not_empty"} & set(completed)):
        raise MappingError(f"{source}: meta.completed needs column and either complete: [codes] or not_empty: true")
    duration = meta.get("duration_seconds")
    if isinstance(duration, str):
        duration = {"column": duration}
    if duration is not None and not (isinstance(duration, dict) and ("column" in duration or {"start", "end"} <= set(duration))):
        raise MappingError(f"{source}: meta.duration_seconds needs column (seconds) or start and end (timestamps)")
    questions: dict[str, QuestionMap] = {}
    raw_q = raw.get("questions") or {}
    if not isinstance(raw_q, dict):
        raise MappingError(f"{source}: questions must be a map of codebook question id -> columns and codes")
    qids = {q.id for q in cb}
    for qid, spec in raw_q.items():
        qid = str(qid)
        if qid not in qids:
            raise MappingError(f"{source}: questions.{qid} is not a codebook question ({', '.join(q.id for q in cb)})")
        if isinstance(spec, str):
            spec = {"columns": spec}
        if not isinstance(spec, dict) or "columns" not in spec:
            raise MappingError(f"{source}: questions.{qid} needs columns")
        q = cb.question(qid)
        where = f"{source}: questions.{qid}"
        codes = _codes(spec.get("codes"), where + ".codes")
        for key, target in codes.items():
            if not isinstance(target, (int, float)) or isinstance(target, bool):
                raise MappingError(f"{where}.codes: {show_key(key)} -> {target!r} is not a codebook code")
        questions[qid] = QuestionMap(qid, _expand_columns(q, spec["columns"], where + ".columns"), codes, _codes(spec.get("missing"), where + ".missing"))
    ignore = raw.get("ignore") or []
    if not isinstance(ignore, list):
        raise MappingError(f"{source}: ignore must be a list of export column names or patterns")
    read = raw.get("read") or {}
    mapping = Mapping(
        path=source,
        tool=raw.get("tool"),
        read=dict(read),
        respondent_id=str(meta["respondent_id"]),
        completed=completed,
        duration=duration,
        missing=_codes(raw.get("missing"), f"{source}: missing"),
        questions=questions,
        ignore=[str(p) for p in ignore],
    )
    targets: dict[str, str] = {}
    for col, exp in mapping.columns.items():
        if exp.casefold() in targets:
            raise MappingError(f"{source}: export column {exp} is mapped to both {targets[exp.casefold()]} and {col}")
        targets[exp.casefold()] = col
    return mapping


def load_mapping(path: str | Path, codebook: Codebook | None = None) -> Mapping:
    """Read and check a mapping file; :class:`MappingError` names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise MappingError(f"mapping file not found: {p}; write one with `clusterkrise mapping-template --tool sosci|limesurvey|unipark -o {p.name}`")
    try:
        raw = load_yaml(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise MappingError(f"{p.name}: not readable as UTF-8 YAML: {err}") from None
    return parse_mapping(raw, codebook, source=p.name)


# ------------------------------------------------------------------------------------------ templates
def _ordered_codes(scale: Scale, q: Question, column: str | None = None) -> tuple[list[int], list[int]]:
    """The scale's answer codes in ascending order, and its special codes."""
    if scale.type == "slider":
        values = list(range(int(scale.min), int(scale.max) + 1))
    else:
        values = sorted(scale.values)
    return values, sorted(scale.special)


def _is_checkbox(scale: Scale) -> bool:
    return scale.type == "choice" and set(scale.values) == {0, 1} and not scale.special


def _label(scale: Scale, code: int) -> str | None:
    return scale.label_of(code)


def _dump(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...").strip()


_TOOL_META = {
    "sosci": {
        "respondent_id": "CASE",
        "completed": {"column": "FINISHED", "complete": [1], "incomplete": [0]},
        "duration_seconds": {"column": "TIME_SUM"},
    },
    "limesurvey": {
        "respondent_id": "id",
        "completed": {"column": "submitdate", "not_empty": True},
        "duration_seconds": {"column": "interviewtime"},
    },
    "codebook": {
        "respondent_id": "respondent_id",
        "completed": {"column": "completed", "complete": [1], "incomplete": [0]},
        "duration_seconds": {"column": "duration_seconds"},
    },
    "unipark": {
        "respondent_id": "lfdn",
        "completed": {"column": "dispcode", "complete": [31, 32]},
        "duration_seconds": {"column": "duration"},
    },
}

_TOOL_MISSING = {
    "sosci": {-9: "nicht beantwortet", -1: "weiß nicht (Ausweichoption), wo die Skala keine Sonderantwort hat"},
    "limesurvey": {"Keine Antwort": "Option 'keine Antwort'", "N/A": "nicht beantwortet"},
    "unipark": {-77: "nicht gesehen", -99: "keine Angabe / Textfeld leer", -66: "ausgeblendet"},
    "codebook": {-9: "nicht beantwortet", -99: "keine Angabe", -77: "nicht gesehen"},
}

_TOOL_IGNORE = {
    "sosci": ["SERIAL", "REF", "QUESTNNR", "MODE", "LANGUAGE", "STARTED", "LASTDATA", "MAILSENT", "Q_VIEWER",
              "LASTPAGE", "MAXPAGE", "MISSING", "MISSREL", "TIME_RSI", "DEG_TIME", "TIME0*"],
    "limesurvey": ["lastpage", "startlanguage", "seed", "startdate", "datestamp", "ipaddr", "refurl", "token",
                   "*Time", "groupTime*"],
    "unipark": ["tester", "lastpage", "quality", "datetime", "date_of_last_access", "date_of_first_mail",
                "external_lfdn", "browser", "referer", "device_type", "c_*", "p_*"],
    "codebook": [],
}

_TOOL_HEAD = {
    "sosci": """\
# SoSci Survey: variables <question id>_<item> (A101_01), scale points stored 1..n, the residual
# option ("weiß nicht", or the codebook's special answer) stored as -1, "not answered" as -9,
# multiple choice as 1 (not chosen) / 2 (chosen). CASE, FINISHED and TIME_SUM are system variables.
# Question ids below are numbered in codebook order (A101, A102, ...): replace them with yours.""",
    "limesurvey": """\
# LimeSurvey: columns with question codes as heading ("code" heading type), items of an array as
# Q[SQ001]; answers as answer codes (A1, A2, ...) or as full answer texts: both are mapped below.
# Yes/no items are assumed to be "Array (Yes/No)" questions (Y/N, Ja/Nein); an empty cell is missing.
# completed: submitdate is filled when the respondent submitted; duration: interviewtime (timings).""",
    "unipark": """\
# Unipark / EFS Survey: variables v_1, v_2, ... (numbered below in codebook order: replace them with
# the numbers of your project), lfdn = respondent, dispcode 31/32 = completed (after a break),
# duration in seconds. Scale points 1..n, residual (special) answer 99, 0 = seen but not answered,
# -77 = not seen, -99 = not answered (text fields), -66 = hidden. Checkboxes: 1 chosen, 0 not chosen.""",
    "codebook": """\
# A file that already has the codebook's column names and codes but keeps a tool's "no answer"
# codes (-9, -99, -77): they become empty cells. Add codes such as -1 only where they are not an
# answer: on a -2..+2 scale -1 is a scale point.""",
}


def _question_spec(tool: str, q: Question, counter: list[int]) -> tuple[Any, dict[Any, Any], dict[Any, Any]]:
    """(columns, codes, missing) of one question for a tool."""
    sc = q.scale
    cols = q.columns
    single = len(cols) == 1
    block_no = counter[0]
    codes: dict[Any, Any] = {}
    missing: dict[Any, Any] = {}
    if tool == "sosci":
        sid = f"{q.block}1{block_no:02d}"
        if single and sc.type in ("slider", "choice"):
            columns: Any = sid
        else:
            columns = f"{sid}_{{n:02d}}" if not single else f"{sid}_01"
        if sc.type in ("slider", "choice"):
            values, special = _ordered_codes(sc, q)
            codes = {k: v for k, v in enumerate(values, start=1)}
            if len(special) == 1:
                codes[-1] = special[0]
    elif tool == "limesurvey":
        columns = q.id if single else f"{q.id}[SQ{{n:03d}}]"
        if _is_checkbox(sc):
            codes = {"Y": 1, "N": 0, _label(sc, 1) or "ja": 1, _label(sc, 0) or "nein": 0}
        elif sc.type in ("slider", "choice"):
            values, special = _ordered_codes(sc, q)
            for k, v in enumerate(values + special, start=1):
                codes[f"A{k}"] = v
            for v in values + special:
                label = _label(sc, v)
                codes[label if label else str(v)] = v
    elif tool == "codebook":
        columns = cols[0] if single else "{q}_{item}"
    else:  # unipark
        if single:
            columns = f"v_{counter[1]}"
        else:
            columns = {c: f"v_{counter[1] + i}" for i, c in enumerate(cols)}
        counter[1] += len(cols)
        if _is_checkbox(sc):
            codes = {0: 0, 1: 1}
        elif sc.type in ("slider", "choice"):
            values, special = _ordered_codes(sc, q)
            codes = {k: v for k, v in enumerate(values, start=1)}
            if len(special) == 1:
                codes[99] = special[0]
            missing = {0: "gesehen, nicht beantwortet"}
    return columns, codes, missing


def template(tool: str, codebook: Codebook | None = None) -> str:
    """The mapping template for a tool, generated from the codebook (YAML text with comments)."""
    if tool not in TOOLS:
        raise MappingError(f"unknown tool {tool!r}; choose one of {', '.join(TOOLS)}")
    cb = codebook or load_codebook()
    lines = [
        f"# Mapping template for {tool}, generated from data/codebook.yaml by `clusterkrise mapping-template`.",
        "# Format: docs/mapping.md. Check every column name and code against your export before importing.",
        _TOOL_HEAD[tool],
        f"tool: {tool}",
        "meta:",
    ]
    for key, value in _TOOL_META[tool].items():
        lines.append(f"  {key}: {_dump(value)}")
    lines.append("# Codes and answer texts that mean 'no answer' everywhere (a question's codes take precedence).")
    lines.append("missing:")
    for code, meaning in _TOOL_MISSING[tool].items():
        lines.append(f"  {_dump(code)}: {_dump(meaning)}")
    lines.append("questions:")
    block, counter = None, [0, 1]
    for q in cb:
        if q.block != block:
            block, counter[0] = q.block, 0
        counter[0] += 1
        columns, codes, missing = _question_spec(tool, q, counter)
        lines.append(f"  {q.id}:  # {q.scale.type}: {', '.join(q.columns[:3])}{' ...' if len(q.columns) > 3 else ''}")
        lines.append(f"    columns: {_dump(columns)}")
        if codes:
            lines.append(f"    codes: {_dump(codes)}")
        if missing:
            lines.append(f"    missing: {_dump(missing)}")
    lines.append("# Export columns that are not answers (system variables); they are not reported as unmapped.")
    lines.append(f"ignore: {_dump(_TOOL_IGNORE[tool])}")
    text = "\n".join(lines) + "\n"
    parse_mapping(yaml.safe_load(text), cb, source=f"template {tool}")  # a template must load as it is
    return text

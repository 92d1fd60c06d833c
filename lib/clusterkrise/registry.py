"""The registry of the study's published statements, used to check a build -- never as a source.

``data/published_facts.yaml`` holds every quantitative statement of the study with its place, the
wording it is printed with and the value it prints (``published``). Where the study contradicts itself,
``conflict`` says what clashes and ``expect`` the reading our data follow. ``kind`` and ``args``
describe how the statement is computed from respondent data; the synthetic-data generator and the
test suite's independent recomputation (``tests/oracle.py``) read them.

The book's numbers come from the chapter notebooks only. :func:`check_values` compares the raw
values a build's notebooks recorded (``_build/results/NN/values.json``, key = fact id) with the
registry; :func:`published_text` gives the numbers the study printed, for sentences that quote them
as such (``{{< var study.<id> >}}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas as pd

from . import DATA_DIR
from . import formatting as fmt
from .yamlload import load_yaml

FACTS_PATH = DATA_DIR / "published_facts.yaml"
READINGS_PATH = DATA_DIR / "verbal_quantities.yaml"


@dataclass(frozen=True)
class Interval:
    """A range of accepted values; ``lo_closed``/``hi_closed`` say whether a bound itself belongs to it."""

    lo: float
    hi: float
    lo_closed: bool = True
    hi_closed: bool = True

    def __contains__(self, value: float) -> bool:
        above = value >= self.lo if self.lo_closed else value > self.lo
        below = value <= self.hi if self.hi_closed else value < self.hi
        return bool(above and below)

    def __str__(self) -> str:
        return f"{'[' if self.lo_closed else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_closed else ')'}"


@dataclass(frozen=True)
class Reading:
    """How the project reads one of the study's words for a quantity (data/verbal_quantities.yaml)."""

    phrase: str
    unit: str  # percent | ratio | scale
    interval: Interval
    meaning: str = ""


def _bound(text: str, phrase: str) -> float:
    text = text.strip()
    try:
        if "/" in text:
            num, den = text.split("/")
            return float(num) / float(den)
        return float(text)
    except ValueError:
        raise ValueError(f"verbal_quantities.yaml: {phrase!r}: {text!r} is not a number or a fraction") from None


def parse_interval(text: str, phrase: str = "") -> Interval:
    """'[40, 50)' -> Interval(40, 50, True, False); fractions such as '1/3' are allowed."""
    text = str(text).strip()
    if len(text) < 5 or text[0] not in "[(" or text[-1] not in "])" or "," not in text:
        raise ValueError(f"verbal_quantities.yaml: {phrase!r}: interval {text!r} must look like '[40, 50)'")
    lo, hi = text[1:-1].split(",")
    interval = Interval(_bound(lo, phrase), _bound(hi, phrase), text[0] == "[", text[-1] == "]")
    if interval.lo > interval.hi:
        raise ValueError(f"verbal_quantities.yaml: {phrase!r}: interval {text!r} is empty")
    return interval


def load_readings(path: Path | str | None = None) -> dict[str, Reading]:
    with open(path or READINGS_PATH, encoding="utf-8") as fh:
        raw = load_yaml(fh.read())
    out = {}
    for phrase, entry in (raw.get("readings") or {}).items():
        unit = entry.get("unit")
        if unit not in ("percent", "ratio", "scale"):
            raise ValueError(f"verbal_quantities.yaml: {phrase!r}: unit must be percent, ratio or scale, not {unit!r}")
        out[phrase] = Reading(phrase, unit, parse_interval(entry.get("interval", ""), phrase), entry.get("meaning", ""))
    return out


def _resolve_reading(entry: Mapping[str, Any], readings: Mapping[str, Reading]) -> Interval:
    """The interval a statement's reading accepts, in the units of the value the statement computes."""
    phrase = entry["reading"]
    if phrase not in readings:
        raise ValueError(
            f"published_facts.yaml: {entry['id']}: reading {phrase!r} is not in verbal_quantities.yaml "
            f"(known: {', '.join(sorted(readings))})"
        )
    reading = readings[phrase]
    iv = reading.interval
    if reading.unit != "scale":
        return iv
    from .codebook import load_codebook

    question = (entry.get("args") or {}).get("question")
    if not question:
        raise ValueError(f"published_facts.yaml: {entry['id']}: reading {phrase!r} is a scale position, so args.question must name the question")
    scale = load_codebook().question(question).scale
    span = scale.max - scale.min
    return Interval(scale.min + iv.lo * span, scale.min + iv.hi * span, iv.lo_closed, iv.hi_closed)

@dataclass(frozen=True)
class Fact:
    id: str
    place: dict[str, str]
    printed: str
    kind: str
    args: dict[str, Any]
    published: Any
    expect: Any = None
    compare: str = "=="
    decimals: int | None = None
    conflict: str | None = None
    note: str | None = None
    unit: str | None = None
    reading: str | None = None
    interval: Interval | None = None  # what the reading accepts, in the statement's own units

    @property
    def target(self) -> Any:
        """The value the data are built to give: `expect` where the study contradicts itself."""
        return self.published if self.expect is None else self.expect

    @property
    def where(self) -> str:
        parts = [f"Kap. {self.place.get('section')}" if self.place.get("section") else None, self.place.get("ref")]
        return ", ".join(p for p in parts if p)


def load_facts(path: Path | str | None = None) -> list[Fact]:
    with open(path or FACTS_PATH, encoding="utf-8") as fh:
        raw = load_yaml(fh.read())
    facts = []
    seen = set()
    readings: dict[str, Reading] | None = None
    for entry in raw["facts"]:
        if entry["id"] in seen:
            raise ValueError(f"published_facts.yaml: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        interval = None
        if entry.get("reading"):
            readings = readings if readings is not None else load_readings()
            interval = _resolve_reading(entry, readings)
            if "compare" in entry:
                raise ValueError(f"published_facts.yaml: {entry['id']}: a statement with a reading takes its tolerance from verbal_quantities.yaml, not from compare")
            entry = dict(entry)
            # A number the words name exactly ("drei Viertel" = 75) is what the generator aims at; it must
            # lie inside the reading. Without one, the interval's bounds stand for the published value.
            if entry.get("published") is None:
                entry["published"] = [interval.lo, interval.hi]
            elif not isinstance(entry["published"], (int, float)) or entry["published"] not in interval:
                raise ValueError(f"published_facts.yaml: {entry['id']}: published {entry['published']!r} lies outside its reading {entry['reading']!r} {interval}")
            entry["compare"] = "reading"
        facts.append(
            Fact(
                id=entry["id"],
                place=entry.get("place") or {},
                printed=entry.get("printed", ""),
                kind=entry["kind"],
                args=entry.get("args") or {},
                published=entry.get("published"),
                expect=entry.get("expect"),
                compare=entry.get("compare", "between" if isinstance(entry.get("published"), list) and entry.get("kind") not in LIST_KINDS else "=="),
                decimals=entry.get("decimals"),
                conflict=entry.get("conflict"),
                note=entry.get("note"),
                unit=entry.get("unit"),
                reading=entry.get("reading"),
                interval=interval,
            )
        )
    return facts


# Kinds whose published value is a list of item ids or values, compared as a set.
LIST_KINDS = {"sig_set", "top_items", "top_items_ordered", "top_values"}


# --------------------------------------------------------------------------- comparison
def _round(value: Any, decimals: int | None) -> Any:
    """Round as the book prints (half up, :func:`clusterkrise.formatting.round_half_up`)."""
    if isinstance(value, float):
        rounded = fmt.round_half_up(value, decimals or 0)
        return int(rounded) if not decimals else rounded
    return value


def matches(fact: Fact, value: Any) -> bool:
    target = fact.target
    if value is None:
        return fact.kind == "external"
    if fact.kind in LIST_KINDS:
        if fact.kind == "top_items_ordered":
            return list(value) == list(target)
        return sorted(map(str, value)) == sorted(map(str, target))
    # Where the data deliberately follow another reading, they must give exactly that reading.
    op = "==" if fact.expect is not None else fact.compare
    if isinstance(value, float) and math.isnan(value):
        return False
    if op == "reading":
        values = value if isinstance(value, (list, tuple)) else [value]
        return bool(values) and all(v is not None and not (isinstance(v, float) and math.isnan(v)) and float(v) in fact.interval for v in values)
    if op == "between":
        lo, hi = target
        if isinstance(value, list):
            return lo <= value[0] and value[1] <= hi
        return lo <= value <= hi
    if op == ">":
        return value > target
    if op == ">=":
        return value >= target
    if op == "<":
        return value < target
    if op == "<=":
        return value <= target
    if isinstance(target, bool) or isinstance(value, bool):
        return bool(value) == bool(target)
    if isinstance(target, str):
        return value == target
    if fact.decimals is None and isinstance(value, float) and isinstance(target, (int, float)):
        return _round(value, 0) == target
    return _round(value, fact.decimals) == target


def _display(value: Any, decimals: int | None) -> Any:
    if isinstance(value, float):
        return round(value, 1 if decimals is None else decimals)
    if isinstance(value, list):
        return [_display(v, decimals) for v in value]
    return value


def conflicts(facts: list[Fact] | None = None) -> list[Fact]:
    return [f for f in (facts or load_facts()) if f.conflict]


def _printed_decimals(value: int | float) -> int:
    """The decimals the study printed: the registry keeps ``published`` as printed ("65 Prozent" is 65,
    "30,2 Prozent" is 30.2), while ``decimals`` is the precision of the check and may be finer."""
    if isinstance(value, int) or float(value).is_integer():
        return 0
    return len(repr(float(value)).split(".")[1])


def published_text(facts: list[Fact] | None = None) -> dict[str, str]:
    """The study's printed numbers as German text, by fact id (``{{< var study.<id> >}}``)."""
    out: dict[str, str] = {}
    for fact in facts or load_facts():
        value = fact.published
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            continue
        if isinstance(value, (int, float)):
            out[fact.id] = fmt.number(value, _printed_decimals(value))
        else:
            out[fact.id] = str(value)
    return out


def check_values(raw_by_chapter: Mapping[str, Mapping[str, Any]], facts: list[Fact] | None = None) -> "pd.DataFrame":
    """Published vs this build's notebook value for every registered fact; one row per fact.

    ``raw_by_chapter`` maps a chapter ("07") to the raw values its notebook recorded. A fact is found
    by its id; it must be recorded by exactly one chapter (``external`` facts are not survey data and
    are reported without a value).
    """
    import pandas as pd

    rows = []
    for fact in facts or load_facts():
        owners = [ch for ch, values in raw_by_chapter.items() if fact.id in values]
        error, value, chapter = "", None, ""
        if fact.kind == "external":
            pass
        elif not owners:
            error = "no chapter notebook recorded this value"
        elif len(owners) > 1:
            error = f"recorded by several chapters: {', '.join(owners)}"
        else:
            chapter = owners[0]
            value = raw_by_chapter[chapter][fact.id]
        ok = (not error) and matches(fact, value)
        rows.append({
            "id": fact.id,
            "chapter": chapter,
            "place": fact.where,
            "statement": fact.printed,
            "published": fact.published,
            "expected": fact.target,
            "recomputed": _display(value, fact.decimals),
            "match": ok,
            "conflict": fact.conflict or "",
            "error": error,
        })
    return pd.DataFrame(rows)

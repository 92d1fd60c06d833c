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

import yaml

from . import DATA_DIR
from . import formatting as fmt

FACTS_PATH = DATA_DIR / "published_facts.yaml"

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
        raw = yaml.safe_load(fh)
    facts = []
    seen = set()
    for entry in raw["facts"]:
        if entry["id"] in seen:
            raise ValueError(f"published_facts.yaml: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
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

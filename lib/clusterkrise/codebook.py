"""The questionnaire as data: reads ``data/codebook.yaml`` into small typed objects.

Everything that knows about questions, scales, labels and data columns asks this module, so that the
codebook stays the one source of truth (Tab. 2, labels, validation, the generator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from . import DATA_DIR
from .yamlload import load_yaml

CODEBOOK_PATH = DATA_DIR / "codebook.yaml"

# Columns every respondent row has besides the answers.
META_COLUMNS = ("respondent_id", "completed", "duration_seconds")


class CodebookError(ValueError):
    """The codebook file itself is inconsistent."""


@dataclass(frozen=True)
class Scale:
    name: str
    type: str  # slider | choice | percent | percent_split | number | text
    min: float | None = None
    max: float | None = None
    step: float | None = None
    labels: dict[int, str] = field(default_factory=dict)
    values: dict[int, str] = field(default_factory=dict)
    special: dict[int, str] = field(default_factory=dict)
    upper_bounds: dict[int, int] = field(default_factory=dict)
    reconstructed: str | None = None

    @property
    def allowed_codes(self) -> set[int] | None:
        """Codes a choice accepts (None for ranges and free numbers)."""
        if self.values:
            return set(self.values) | set(self.special)
        return None

    def label_of(self, code: Any) -> str | None:
        """German label of a stored code (choice value, slider end label or special answer)."""
        for mapping in (self.special, self.values, self.labels):
            if code in mapping:
                return mapping[code]
        return None


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    question_id: str
    source: str = "named"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    id: str
    block: str
    text: str
    scale: Scale
    items: tuple[Item, ...]
    figures: tuple[str, ...] = ()
    multiple: bool = False
    note: str | None = None
    sum_to: float | None = None
    max: float | None = None
    # False for reconstructed follow-up questions that Tab. 2 of the study does not list.
    in_questionnaire_table: bool = True
    # Filter logic of the questionnaire: the question is shown only when the condition holds
    # ({column, not_in: [codes]} or {column, answered: true}); see clusterkrise.filterlogic.
    asked_if: dict[str, Any] | None = None
    # Questions sharing a page number were on one screen; default: one question per page, codebook order.
    page: int | None = None
    # True when the items of the battery measure one construct (they should correlate).
    construct: bool = False

    @property
    def columns(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def is_open(self) -> bool:
        return self.scale.type == "text"


@dataclass(frozen=True)
class Codebook:
    meta: dict[str, Any]
    blocks: dict[str, dict[str, Any]]
    questions: tuple[Question, ...]

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"codebook has no question {question_id!r}")

    def item(self, column: str) -> Item:
        for q in self.questions:
            for it in q.items:
                if it.id == column:
                    return it
        raise KeyError(f"codebook has no column {column!r}")

    def question_of(self, column: str) -> Question:
        return self.question(self.item(column).question_id)

    def labels(self, question_id: str | None = None) -> dict[str, str]:
        """Column -> German item label, for one question or all."""
        qs = [self.question(question_id)] if question_id else self.questions
        return {it.id: it.label for q in qs for it in q.items}

    def items_of(self, question_id: str) -> list[str]:
        return self.question(question_id).columns

    @property
    def answer_columns(self) -> list[str]:
        return [c for q in self.questions for c in q.columns]

    @property
    def columns(self) -> list[str]:
        return list(META_COLUMNS) + self.answer_columns

    def special_codes(self, question_id: str) -> dict[int, str]:
        return dict(self.question(question_id).scale.special)

    @property
    def min_duration_seconds(self) -> float:
        return float(self.meta.get("cleaning_min_duration_seconds", 0))


def _int_keys(mapping: dict | None) -> dict[int, Any]:
    return {int(k): v for k, v in (mapping or {}).items()}


def _scale(name: str, raw: dict[str, Any]) -> Scale:
    if "type" not in raw:
        raise CodebookError(f"scale {name!r} has no type")
    return Scale(
        name=name,
        type=raw["type"],
        min=raw.get("min"),
        max=raw.get("max"),
        step=raw.get("step"),
        labels=_int_keys(raw.get("labels")),
        values=_int_keys(raw.get("values")),
        special=_int_keys(raw.get("special")),
        upper_bounds=_int_keys(raw.get("upper_bounds")),
        reconstructed=raw.get("reconstructed"),
    )


def parse_codebook(raw: dict[str, Any]) -> Codebook:
    scales = {name: _scale(name, spec) for name, spec in (raw.get("scales") or {}).items()}
    questions = []
    seen: set[str] = set(META_COLUMNS)
    for q in raw.get("questions") or []:
        qid = q.get("id")
        if not qid:
            raise CodebookError(f"question without id: {q!r}")
        spec = q.get("scale")
        if isinstance(spec, str):
            if spec not in scales:
                raise CodebookError(f"question {qid}: unknown scale {spec!r}")
            scale = scales[spec]
        elif isinstance(spec, dict):
            scale = _scale(f"{qid}_scale", spec)
        else:
            raise CodebookError(f"question {qid}: scale missing")
        if "items" in q:
            items = tuple(
                Item(
                    id=it["id"],
                    label=it["label"],
                    question_id=qid,
                    source=it.get("source", "named"),
                    extra={k: v for k, v in it.items() if k not in {"id", "label", "source"}},
                )
                for it in q["items"]
            )
        else:
            column = q.get("column", qid)
            items = (Item(id=column, label=q["text"], question_id=qid, source="named"),)
        for it in items:
            if it.id in seen:
                raise CodebookError(f"column {it.id!r} is defined twice")
            seen.add(it.id)
        questions.append(
            Question(
                id=qid,
                block=q["block"],
                text=q["text"],
                scale=scale,
                items=items,
                figures=tuple(q.get("figures") or ()),
                multiple=bool(q.get("multiple", False)),
                note=q.get("note"),
                sum_to=q.get("sum_to"),
                max=q.get("max"),
                in_questionnaire_table=bool(q.get("in_questionnaire_table", True)),
                asked_if=q.get("asked_if"),
                page=q.get("page"),
                construct=bool(q.get("construct", False)),
            )
        )
    return Codebook(meta=raw.get("meta") or {}, blocks=raw.get("blocks") or {}, questions=tuple(questions))


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> Codebook:
    with open(path, encoding="utf-8") as fh:
        return parse_codebook(load_yaml(fh.read()))


def load_codebook(path: Path | str | None = None) -> Codebook:
    """Read the codebook (cached per file version)."""
    p = Path(path) if path else CODEBOOK_PATH
    return _load_cached(str(p), p.stat().st_mtime_ns)

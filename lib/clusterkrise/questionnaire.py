"""The questionnaire as a table, described only from the codebook (block, number, wording, answer format).

:func:`questionnaire_table` lists every question the codebook marks ``in_questionnaire_table`` with
a German description of its answer format (:func:`scale_description`); :func:`closed_questions`
names the questions whose answer counts make up the range of N a report quotes (all listed
questions except open text).
"""

from __future__ import annotations

import pandas as pd

from .codebook import Codebook, Question
from .formatting import number

__all__ = ["closed_questions", "question_text", "questionnaire_table", "scale_description"]

_YES_NO = {0: "nein", 1: "ja"}


def _num(x: float) -> str:
    return number(float(x), 0 if float(x).is_integer() else 1)


def _listing(mapping: dict[int, str]) -> str:
    return "; ".join(str(mapping[k]) for k in sorted(mapping))


def scale_description(question: Question) -> str:
    """German description of a question's answer format, built only from its codebook scale."""
    scale = question.scale
    kind = scale.type
    if kind == "text":
        return "offene Frage"
    if kind == "slider":
        ends = "; ".join(f"{_num(v)} = {label}" for v, label in sorted(scale.labels.items()))
        text = f"Schieberegler {_num(scale.min)} bis {_num(scale.max)}" + (f" ({ends})" if ends else "")
    elif kind == "choice":
        values = {k: str(v).lower() for k, v in scale.values.items()}
        if values == _YES_NO:
            text = "Auswahlliste" if question.multiple or len(question.items) == 1 else "Zuordnung ja/nein je Item"
        elif any("options" in item.extra for item in question.items):
            text = f"Paarvergleich: {_listing(scale.values)}"
        else:
            prefix = "Matrixauswahl" if len(question.items) > 1 else "Auswahlliste"
            text = f"{prefix}: {_listing(scale.values)}"
    elif kind == "percent":
        text = f"Prozentangabe {_num(scale.min)}–{_num(scale.max)} %"
        if scale.step:
            text += f" in Schritten von {_num(scale.step)}"
    elif kind == "percent_split":
        text = "Prozentuale Verteilung" + (f" (Summe {_num(question.sum_to)} %)" if question.sum_to else "")
    elif kind == "number":
        text = "Freitext (Zahl)"
    else:
        raise ValueError(f"Fragenkatalog: Frage {question.id} hat den Skalentyp {kind!r}, für den es keine "
                         "Beschreibung gibt; bitte den Typ im Codebuch prüfen (data/codebook.yaml).")
    if scale.special:
        text += "; zusätzlich: " + _listing(scale.special)
    if question.multiple:
        text += " (Mehrfachauswahl)"
    return text


def question_text(question: Question) -> str:
    """The wording; percent estimates list their sub-questions (a, b, …) as the questionnaire does."""
    if question.scale.type == "percent" and len(question.items) > 1:
        subs = " ".join(f"{chr(ord('a') + i)}. {item.label}" for i, item in enumerate(question.items))
        return f"{question.text} {subs}"
    return question.text


def questionnaire_table(codebook: Codebook) -> pd.DataFrame:
    """One row per listed question: ``block, block_title, nr`` (restarting per block), ``question,
    text, scale, n_items``."""
    rows = []
    for block, meta in codebook.blocks.items():
        listed = [q for q in codebook if q.block == block and q.in_questionnaire_table]
        for nr, q in enumerate(listed, start=1):
            rows.append({
                "block": block, "block_title": meta.get("title", ""), "nr": nr, "question": q.id,
                "text": question_text(q), "scale": scale_description(q), "n_items": len(q.items),
            })
    return pd.DataFrame(rows, columns=["block", "block_title", "nr", "question", "text", "scale", "n_items"])


def closed_questions(codebook: Codebook) -> list[Question]:
    """Questions of the questionnaire table that are not open text."""
    return [q for q in codebook if q.in_questionnaire_table and not q.is_open]

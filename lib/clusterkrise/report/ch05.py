"""Chapter 5: the online survey — the questionnaire (Tab. 2, generated from the codebook) and the
response figures (started, completed, drop-out, median duration, range of N over the closed questions).
"""

from __future__ import annotations

import pandas as pd

from ..codebook import Question
from ..facts import load_facts
from ..plots import format_number
from .context import Context

__all__ = ["TAB02_COLUMNS", "closed_questions", "response", "scale_description", "tab02"]

TAB02_COLUMNS = ("Block", "Nr.", "Frage", "Skala/Fragentyp")
_YES_NO = {0: "nein", 1: "ja"}


def _num(x: float) -> str:
    return format_number(float(x), 0 if float(x).is_integer() else 1)


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(float(x), 1)


def _listing(mapping: dict[int, str]) -> str:
    return "; ".join(mapping[k] for k in sorted(mapping))


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
        raise ValueError(f"Tab. 2: question {question.id} has a scale type {kind!r} without description")
    if scale.special:
        text += "; zusätzlich: " + _listing(scale.special)
    if question.multiple:
        text += " (Mehrfachauswahl)"
    return text


def _question_text(question: Question) -> str:
    """The wording; percent estimates list their sub-questions (a, b, …) as the questionnaire does."""
    if question.scale.type == "percent" and len(question.items) > 1:
        subs = " ".join(f"{chr(ord('a') + i)}. {item.label}" for i, item in enumerate(question.items))
        return f"{question.text} {subs}"
    return question.text


def tab02(ctx: Context) -> None:
    """Tab. 2: block, number, wording and scale of every question the questionnaire table lists."""
    rows = []
    for block, meta in ctx.codebook.blocks.items():
        listed = [q for q in ctx.codebook if q.block == block and q.in_questionnaire_table]
        for nr, q in enumerate(listed, start=1):
            rows.append({
                "block": block, "block_title": meta.get("title", ""), "nr": nr, "question": q.id,
                "text": _question_text(q), "scale": scale_description(q), "n_items": len(q.items),
            })
    tidy = pd.DataFrame(rows)
    first = ~tidy["block"].duplicated()
    shown = pd.DataFrame({
        TAB02_COLUMNS[0]: (tidy["block"] + " – " + tidy["block_title"]).where(first, ""),
        TAB02_COLUMNS[1]: tidy["nr"].astype(str),
        TAB02_COLUMNS[2]: tidy["text"],
        TAB02_COLUMNS[3]: tidy["scale"],
    })
    ctx.value("n_questions", len(tidy))
    ctx.value("n_open_questions", int((tidy["scale"] == "offene Frage").sum()))
    for block, count in tidy.groupby("block").size().items():
        ctx.value(f"n_questions_block_{block.lower()}", int(count))
    ctx.table(2, shown, data=tidy)


def closed_questions(ctx: Context) -> list[Question]:
    """Questions of the questionnaire table that are not open text (their N spans the reported range)."""
    return [q for q in ctx.codebook if q.in_questionnaire_table and not q.is_open]


def response(ctx: Context) -> None:
    """Response figures of section 5.3 as values: started, completed, drop-out, duration, N range."""
    started = ctx.started
    done = pd.to_numeric(started["completed"]) == 1
    seconds = float(pd.to_numeric(started.loc[done, "duration_seconds"]).median())
    n_per_question = pd.Series({q.id: ctx.n(q.id) for q in closed_questions(ctx)})
    population = {f.id: f.published for f in load_facts() if f.kind == "external"}
    out = {
        "n_started": len(started),
        "n_completed": int(done.sum()),
        "n_dropout": int((~done).sum()),
        "dropout_pct": round(100.0 * float((~done).mean()), 1),
        "median_duration_seconds": seconds,
        "median_duration_min": int(seconds // 60),
        "median_duration_sec": int(round(seconds % 60)),
        "n_cleaned": len(ctx.data),
        "n_removed_short": len(started) - len(ctx.data),
        "min_duration_minutes": _whole(ctx.codebook.min_duration_seconds / 60),
        "n_min_closed": int(n_per_question.min()),
        "n_max_closed": int(n_per_question.max()),
        "question_n_min": str(n_per_question.idxmin()),
        "question_n_max": str(n_per_question.idxmax()),
    }
    if "population_clusterplattform" in population:
        out["n_clusterplattform"] = population["population_clusterplattform"]
    for key, value in out.items():
        ctx.value(key, value)

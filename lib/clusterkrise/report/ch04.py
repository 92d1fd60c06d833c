"""Chapter 4: the expert interviews — key figures, the result categories (Abb. 4) and Tab. 1.

All content comes from ``data/qualitative/interviews.yaml`` and ``requirements.yaml``; the numbers the
prose quotes (count and mean length of the interviews) are computed from the per-interview table.
"""

from __future__ import annotations

import pandas as pd

from .. import qualitative
from .ch03 import ring_diagram
from .context import Context

__all__ = ["TAB01_COLUMNS", "abb04", "interview_figures", "tab01"]

TAB01_COLUMNS = ("Bereich", "Anforderungen", "Implikationen für Clustermanagements",
                 "Implikationen für Clusterförderung")
# Audience keys of requirements.yaml in the order of the last two columns.
TAB01_AUDIENCES = ("clustermanagements", "clusterfoerderung")


def _minutes(value: float) -> int | float:
    """Whole minutes print without a decimal comma; anything else keeps one decimal."""
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded


def interview_figures(ctx: Context) -> None:
    """Count, mean length and time span of the interviews as values for the prose."""
    iv = qualitative.load_interviews()
    table = iv.table
    minutes = pd.to_numeric(table["duration_minutes"])
    ctx.value("n_interviews", len(table))
    for key, value in (("mean", minutes.mean()), ("min", minutes.min()), ("max", minutes.max())):
        ctx.value(f"{key}_duration_minutes", _minutes(value))
    ctx.value("first_interview", table["date"].min().strftime("%d.%m.%Y"))
    ctx.value("last_interview", table["date"].max().strftime("%d.%m.%Y"))
    ctx.value("interview_mode", iv.mode)


def abb04(ctx: Context) -> None:
    """Abb. 4: the six result categories, numbered as in the data, sub-points under their label."""
    cats = qualitative.load_categories()
    details = [[sub["label"] for sub in subs] for subs in cats["sub_points"]]
    fig = ring_diagram("Ergebnisse der Expert:innen-interviews", cats["label"].tolist(),
                       numbers=cats["number"].tolist(), details=details, colour="grey")
    ctx.value("n_categories", len(cats))
    tidy = pd.DataFrame({
        "number": cats["number"], "key": cats["key"], "label": cats["label"], "section": cats["section"],
        "sub_points": ["; ".join(d) for d in details], "n_findings": cats["findings"].map(len),
    })
    ctx.figure(4, fig, tidy,
               alt="Sechs nummerierte Kästen im Kreis um die Interviewergebnisse: "
                   + "; ".join(f"{n} {l}" for n, l in zip(cats["number"], cats["label"])) + ".")


def _cell(entries: pd.Series) -> str:
    """Several entries of one table cell, numbered so they stay apart on a single Markdown line."""
    texts = list(entries)
    if len(texts) == 1:
        return texts[0]
    return " ".join(f"({i}) {t}" for i, t in enumerate(texts, start=1))


def tab01(ctx: Context) -> None:
    """Tab. 1: requirements and implications per area (Markdown table from the long form)."""
    req = qualitative.load_requirements()
    audiences = list(TAB01_AUDIENCES)
    found = set(req.loc[req["kind"] == "Implikation", "audience"])
    if found != set(audiences):
        raise ValueError(f"Tab. 1 expects implications for the audiences {audiences}, found {sorted(found)}")
    rows = []
    for (_, label), part in req.sort_values(["area_order", "order"]).groupby(["area_order", "area_label"], sort=True):
        cells = [_cell(part.loc[part["kind"] == "Anforderung", "text"])]
        cells += [_cell(part.loc[(part["kind"] == "Implikation") & (part["audience"] == a), "text"]) for a in audiences]
        rows.append([label, *cells])
    table = pd.DataFrame(rows, columns=list(TAB01_COLUMNS))
    ctx.value("n_areas", len(table))
    ctx.value("n_requirements", int((req["kind"] == "Anforderung").sum()))
    ctx.value("n_implications", int((req["kind"] == "Implikation").sum()))
    ctx.table(1, table, data=req)

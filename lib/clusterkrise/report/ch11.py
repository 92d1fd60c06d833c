"""Chapter 11 (Fazit): the headline numbers of the whole study in one computed table (``tbl-ch11-1``).

The study closes without a table; this one is our own summary. Every row is computed from the
respondent data with the same definitions chapter 10 uses (:mod:`.ch10`), so the two chapters
cannot drift apart.
"""

from __future__ import annotations

import pandas as pd

from .. import descriptives
from ..plots import format_number, format_percent
from . import ch10
from .context import Context

#: "Almost everyone offers it": a support topic counts when more than this share of the
#: respondents who rated every B1 item did not answer "nicht relevant". A definition of ours.
OFFERED_BY_MOST = 0.9


def _alpha_text(alpha: float) -> str:
    """Significance level as usually written: at least two decimals ("0,10"), more when needed."""
    decimals = next(d for d in range(2, 10) if abs(alpha - round(alpha, d)) < 1e-12)
    return format_number(alpha, decimals)


def offered_topics(ctx: Context) -> pd.DataFrame:
    """Relevance share of each B1 topic among respondents who rated all topics (as Tab. 5)."""
    items = ctx.codebook.items_of("B1")
    complete = ctx.data.loc[ctx.data[items].notna().all(axis=1)]
    return descriptives.relevance_shares(complete, items, special_codes=ctx.special("B1"), item_labels=ctx.labels("B1"))


def headline_numbers(ctx: Context) -> pd.DataFrame:
    """Tidy rows: key, label, value, unit ("n" or "share"), base (N the value refers to)."""
    started = ctx.started
    completed = int((pd.to_numeric(started["completed"], errors="coerce") == 1).sum())
    topics = offered_topics(ctx)
    financing = ch10.comparison_counts(ch10.b1_comparison(ctx, "financing"))
    communication = descriptives.yes_shares(ctx.data, ["C1_01"], item_labels=ctx.labels("C1")).iloc[0]
    b4 = ch10.more_cooperation(ctx, "B4")
    c3 = ch10.more_cooperation(ctx, "C3")
    rows = [
        ("n_started", "Begonnene Interviews", len(started), "n", len(started)),
        ("n_completed", "Vollständig abgeschlossene Interviews", completed, "n", len(started)),
        ("n_analysed", "Ausgewertete Interviews nach Bereinigung", len(ctx.data), "n", len(started)),
        ("coop_clusters_more", "Intensivere Zusammenarbeit mit anderen Clustermanagements", b4[2], "share", b4[0]),
        ("coop_cluster_stronger", "Stärkere Zusammenarbeit im Cluster", c3[2], "share", c3[0]),
        ("innovation_communication", f"Innovationen: {communication['item_label']}", communication["share"], "share",
         int(communication["n"])),
        ("n_topics_offered_by_most",
         f"Unterstützungsthemen, die mehr als {format_percent(OFFERED_BY_MOST)} der Clustermanagements leisten (von {len(topics)})",
         int((topics["share"] > OFFERED_BY_MOST).sum()), "n", int(topics["n"].min()) if len(topics) else 0),
        ("n_sig_financing_favour",
         f"Leistungen, bei denen überwiegend institutionell Finanzierte signifikant vorn liegen "
         f"(p ≤ {_alpha_text(ctx.alpha)}; von {financing['n_items']})",
         financing["n_sig_favour"], "n", ctx.n("B1")),
    ]
    return pd.DataFrame(rows, columns=["key", "label", "value", "unit", "base"])


def tab1_headlines(ctx: Context) -> pd.DataFrame:
    """tbl-ch11-1: the headline numbers, shown with German formatting; values go to values.json."""
    table = headline_numbers(ctx)
    for row in table.itertuples():
        ctx.value(f"{row.key}_pct" if row.unit == "share" else row.key, ch10.pct(row.value) if row.unit == "share" else int(row.value))
        ctx.value(f"{row.key}_base", int(row.base))
    ctx.value("alpha_pct", ch10.pct(ctx.alpha))
    shown = pd.DataFrame({
        "Kennzahl": table["label"],
        "Wert": [format_percent(v) if u == "share" else format_number(v) for v, u in zip(table["value"], table["unit"])],
        "Basis (N)": [format_number(b) for b in table["base"]],
    })
    ch10.own_table(ctx, "ch11-1", shown, data=table)
    return table

"""Chapter 9 (Die Krise als Chance): survey block C, Abb. 35-39.

Shares the helpers of :mod:`clusterkrise.report.ch08` (scale bands, yes-share bars, word clouds).
Readings that are ours: the "stronger" band of C3 is every point above the scale's labelled middle
(4 and 5 on 1..5); Abb. 39 gives as N the respondents who answered C3, the closed question the open
question C4 follows (the study prints no N for it); a respondent with stronger cooperation who left a
C1 item empty counts as not having said yes to it.
"""

from __future__ import annotations

import pandas as pd

from .. import plots
from .ch08 import band_shares, open_answer_cloud, pct, scale_bands, slug, yes_share_figure
from .context import Context

COLOUR = "ch09"

__all__ = ["abb35", "abb36", "abb37", "abb38", "abb39"]

# The two C1 items the study links to stronger cooperation in the cluster (9.3).
LINKED_C1_ITEMS = ("C1_03", "C1_01")


def abb35(ctx: Context) -> None:
    """Abb. 35: fields in which innovations arose in the crisis (TinSort yes-shares)."""
    yes_share_figure(ctx, 35, "C1", colour=COLOUR, what="Innovationsbereiche")


def abb36(ctx: Context) -> None:
    """Abb. 36: further effects supported by the cluster (TinSort yes-shares)."""
    yes_share_figure(ctx, 36, "C2", colour=COLOUR, what="weitere Effekte")


def abb37(ctx: Context) -> None:
    """Abb. 37: change of cooperation within the cluster, weaker / unchanged / stronger.

    Also stores how many of those reporting stronger cooperation said yes to both linked C1 items.
    """
    q = ctx.codebook.question("C3")
    (column,) = q.columns
    answered = ctx.answered("C3")
    bands = scale_bands(q.scale)
    table = band_shares(answered[column], bands)
    for row in table.itertuples():
        ctx.value(f"c3_{row.value}_n", int(row.n))
        ctx.value(f"c3_{row.value}_pct", pct(row.share))
    stronger = next(b for b in bands if b.key == "stronger")
    strong = answered.loc[answered[column].isin(stronger.values)]
    said_yes = pd.Series(True, index=strong.index)
    for item in LINKED_C1_ITEMS:
        said_yes &= strong[item].eq(1).fillna(False).astype(bool)
    ctx.value("c3_stronger_with_linked_c1_n", int(said_yes.sum()))
    ctx.value("c3_stronger_with_linked_c1_pct", pct(said_yes.mean()) if len(strong) else None)
    ctx.value("c3_linked_c1_items", " und ".join(f"„{ctx.codebook.item(i).label}“" for i in LINKED_C1_ITEMS))
    fig = plots.share_bars(table, colour=COLOUR, xlabel="Anteil der Befragten")
    shares = table.set_index("value")["share"]
    alt = (f"Balkendiagramm: {plots.format_percent(shares['stronger'])} der Befragten sehen eine stärkere "
           f"Zusammenarbeit im Cluster, {plots.format_percent(shares['unchanged'])} keine Veränderung und "
           f"{plots.format_percent(shares['weaker'])} eine schwächere.")
    ctx.figure(37, fig, table, alt=alt, n=len(answered))


def abb38(ctx: Context) -> None:
    """Abb. 38: C3 bands per office-size group as 100 % bars; grey when the U-test is not significant."""
    q = ctx.codebook.question("C3")
    (column,) = q.columns
    answered = ctx.answered("C3")
    bands = scale_bands(q.scale)
    groups = ctx.grouping("office_size").loc[answered.index]
    ut = ctx.utest("C3", "office_size")
    test = ut.iloc[0]
    significant = bool(pd.notna(test["p"]) and test["significant"])
    frames = []
    for label in groups.cat.categories:
        members = answered.loc[groups == label, column]
        shares = band_shares(members, bands)
        key = slug(label)
        for row in shares.itertuples():
            ctx.value(f"c3_{key}_{row.value}_pct", pct(row.share))
        ctx.value(f"c3_{key}_n", len(members))
        ctx.value(f"c3_{key}_mean", round(float(members.mean()), 2) if len(members) else None)
        frames.append(shares.assign(item=label, item_label=f"{label} (n = {len(members)})"))
    table = pd.concat(frames, ignore_index=True)[["item", "item_label", "value", "label", "codes", "n", "share"]]
    ctx.value("c3_size_p", None if pd.isna(test["p"]) else round(float(test["p"]), 4))
    ctx.value("c3_size_significant", "signifikant" if significant else "nicht signifikant")
    block = COLOUR if significant else "grey"
    light, dark = plots.block_shades(block)
    fig = plots.stacked_share_bars(table, categories={b.key: b.label for b in bands}, colours=[light, "#EEEEEE", dark])
    fig.axes[0].set_title(_test_note(test, ctx.alpha), fontsize=8, loc="left", color="#333333")
    alt = (f"Gestapelte Balken der Veränderung der Zusammenarbeit für kleine und große Clustermanagements; "
           f"der Unterschied ist {'signifikant' if significant else 'nicht signifikant und grau dargestellt'}.")
    ctx.figure(38, fig, table, alt=alt, n=len(answered), utest=ut)


def abb39(ctx: Context) -> None:
    """Abb. 39: word cloud of the examples of changed cooperation (open question C4)."""
    open_answer_cloud(ctx, 39, "C4", base_question="C3", colour=COLOUR)


def _test_note(test: pd.Series, alpha: float) -> str:
    # as many decimals as alpha needs, at least two ("0,10", "0,05", "0,0001")
    level = plots.format_number(alpha, max(2, len(f"{alpha:.10f}".rstrip("0").split(".")[1])))
    if pd.isna(test["p"]):
        return f"Mann-Whitney-U-Test nicht berechnet: {test['reason']}"
    verdict = "signifikant" if test["significant"] else "nicht signifikant"
    p = float(test["p"])
    shown = "p < 0,001" if p < 0.001 else f"p = {plots.format_number(p, 3)}"
    return f"Mann-Whitney-U-Test: {shown}, {verdict} bei α = {level}"

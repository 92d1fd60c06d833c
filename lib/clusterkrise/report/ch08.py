"""Chapter 8 (Aufgaben der Clustermanagements in der Krise): survey block B, Tab. 5-6 and Abb. 27-34.

One public function per table/figure, each taking the notebook's :class:`~clusterkrise.report.Context`.
The helpers below the chapter functions (``scale_bands``, ``band_shares``, ``yes_share_figure``,
``open_answer_cloud``, ``pct``, ``slug``) are shared with :mod:`clusterkrise.report.ch09`.

Readings of the study that are ours, not printed there:

* Tab. 5 uses the respondents who rated every B1 item (98), Abb. 27/28 everyone who rated at least one
  (101) -- the only reading under which both printed N fit the same question.
* The development arrows of Tab. 6 come from :func:`clusterkrise.facts.trend_arrow` applied to the mean
  change on the -2..+2 usage scale. The study prints five arrow glyphs without a legend; which mean
  range maps to which glyph is our reading of them, kept in one place in ``facts.TREND_ARROWS``.
* Scale bands ("weniger intensiv", "unverändert", "intensiver") are read off the codebook: points
  below the labelled neutral middle, the middle, points above it; special answers form their own band.
* Abb. 34 shows the N of the question block the open question follows (B5), because the study prints
  that base and not the number of people who wrote something; both are stored as values.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import descriptives, plots
from ..facts import german_list, trend_arrow
from .context import Context

COLOUR = "ch08"
# 8.1.1 groups the topics that "more than 90 %" of respondents named; the cut belongs to that sentence.
NEARLY_ALL_SHARE = 0.90

__all__ = [
    "tab05", "abb27", "abb28", "tab06", "abb29", "abb30", "abb31", "abb32", "abb33", "abb34",
    "Band", "scale_bands", "band_shares", "yes_share_figure", "open_answer_cloud", "group_means_figure",
    "pct", "slug",
]


# ------------------------------------------------------------------------------------------------
# 8.1 Unterstützungsangebote
# ------------------------------------------------------------------------------------------------


def tab05(ctx: Context) -> None:
    """Tab. 5: share of respondents for whom each support topic applied (not "nicht relevant")."""
    items = ctx.codebook.items_of("B1")
    complete = ctx.data.loc[ctx.data[items].notna().all(axis=1)]
    shares = _relevance(ctx, "B1", complete).sort_values("share", ascending=False, kind="stable")
    for row in shares.itertuples():
        ctx.value(f"{row.item.lower()}_relevance_pct", pct(row.share))
    ctx.value("b1_n_items", len(items))
    lowest = shares.iloc[-1]
    ctx.value("b1_lowest_relevance_item", lowest["item_label"])
    ctx.value("b1_lowest_relevance_pct", pct(lowest["share"]))
    ctx.value("b1_n_items_above_90_pct", int((shares["share"] > NEARLY_ALL_SHARE).sum()))
    shown = pd.DataFrame({"Thema": shares["item_label"], "Anteil": [plots.format_percent(s) for s in shares["share"]]})
    ctx.table(5, shown, n=len(complete), data=shares)


def abb27(ctx: Context) -> None:
    """Abb. 27: mean frequency per B1 item, with the two financing groups as markers."""
    group_means_figure(ctx, 27, "B1", "financing", key="financing", colour=COLOUR,
                              what="Unterstützungsthemen", between="überwiegend institutionell und anders finanzierten Clustermanagements")


def abb28(ctx: Context) -> None:
    """Abb. 28: the same as Abb. 27 by office size (small vs large cluster managements)."""
    group_means_figure(ctx, 28, "B1", "office_size", key="office_size", colour=COLOUR,
                              what="Unterstützungsthemen", between="kleinen und großen Clustermanagements")


# ------------------------------------------------------------------------------------------------
# 8.2 Instrumente
# ------------------------------------------------------------------------------------------------


def tab06(ctx: Context) -> None:
    """Tab. 6: relevance per instrument and the arrow read from the mean change of its use."""
    answered = ctx.answered("B2")
    shares = _relevance(ctx, "B2", answered)
    change = descriptives.describe_items(answered, ctx.codebook.items_of("B2"), special_codes=ctx.special("B2"))
    table = shares.merge(change[["item", "mean", "median"]].rename(columns={"mean": "mean_change", "median": "median_change"}), on="item")
    table["arrow"] = [trend_arrow(m) for m in table["mean_change"]]
    table = table.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)
    for row in table.itertuples():
        key = row.item.lower()
        ctx.value(f"{key}_relevance_pct", pct(row.share))
        ctx.value(f"{key}_arrow", row.arrow)
        ctx.value(f"{key}_mean_change", _round(row.mean_change, 2))
    ctx.value("b2_n_items", len(table))
    ctx.value("b2_n_fully_relevant", int((table["n_relevant"] == table["n"]).sum()))
    shown = pd.DataFrame({
        "Instrument": table["item_label"],
        "Relevanz": [plots.format_percent(s) for s in table["share"]],
        "Entwicklung": table["arrow"],
    })
    ctx.table(6, shown, n=len(answered), data=table)


def abb29(ctx: Context) -> None:
    """Abb. 29: distribution of weaker / unchanged / stronger use per instrument (diverging bars)."""
    scale = ctx.codebook.question("B2").scale
    answered = ctx.answered("B2")
    dist = descriptives.distribution(answered, ctx.codebook.items_of("B2"), scale_min=scale.min, scale_max=scale.max,
                                     special_codes=ctx.special("B2"), item_labels=ctx.labels("B2"))
    labels = _point_labels(scale, {-1: "etwas schwächer", 1: "etwas stärker"})
    dist["label"] = dist["value"].map(labels)
    fig = plots.diverging_bars(dist, scale=labels, colour=COLOUR)
    bands = {b.key: b for b in scale_bands(scale, include_special=False)}
    summary = dist.assign(band=dist["value"].map({v: b.key for b in bands.values() for v in b.values}))
    per_band = summary.pivot_table(index="item", columns="band", values="share", aggfunc="sum")
    for item, row in per_band.iterrows():
        for band in ("weaker", "stronger"):
            ctx.value(f"{item.lower()}_{band}_pct", pct(row[band]))
    stronger = per_band["stronger"].reindex(ctx.codebook.items_of("B2"))
    top = stronger.idxmax()
    ctx.value("b2_most_stronger_item", ctx.labels("B2")[top])
    alt = (f"Gestapelte Balken nach links (schwächer genutzt) und rechts (stärker genutzt) für "
           f"{len(stronger)} Instrumente; am häufigsten stärker genutzt: {ctx.labels('B2')[top]} "
           f"({plots.format_percent(stronger[top])}).")
    ctx.figure(29, fig, dist, alt=alt, n=len(answered))


def abb30(ctx: Context) -> None:
    """Abb. 30: relevance of each format in future (share not "nicht relevant")."""
    answered = ctx.answered("B3")
    shares = _relevance(ctx, "B3", answered).sort_values("share", ascending=False, kind="stable")
    for row in shares.itertuples():
        ctx.value(f"{row.item.lower()}_relevance_pct", pct(row.share))
    fig = plots.share_bars(shares.rename(columns={"item_label": "label"}), colour=COLOUR, xlabel="Anteil „relevant“")
    low = shares.iloc[-1]
    alt = (f"Balkendiagramm: Anteil der Befragten, für die {len(shares)} Formate künftig relevant sind, "
           f"von {plots.format_percent(shares['share'].iloc[0])} bis {plots.format_percent(low['share'])} ({low['item_label']}).")
    ctx.figure(30, fig, shares, alt=alt, n=len(answered))


def abb31(ctx: Context) -> None:
    """Abb. 31: online / hybrid / offline shares per format among those for whom it is relevant."""
    scale = ctx.codebook.question("B3").scale
    answered = ctx.answered("B3")
    codes = sorted(scale.values)
    dist = descriptives.distribution(answered, ctx.codebook.items_of("B3"), scale_min=codes[0], scale_max=codes[-1],
                                     special_codes=ctx.special("B3"), item_labels=ctx.labels("B3"))
    dist["label"] = dist["value"].map(scale.values)
    fig = plots.stacked_share_bars(dist, categories={c: scale.values[c] for c in codes}, colour=COLOUR)
    wide = dist.pivot(index="item", columns="value", values="share")
    modal = {}
    for item, row in wide.iterrows():
        for code in codes:
            ctx.value(f"{item.lower()}_{slug(scale.values[code])}_pct", pct(row[code]))
        # a tie has no single preferred format; say so rather than pick one
        best = row[row == row.max()].index
        modal[item] = scale.values[best[0]] if len(best) == 1 else "unentschieden"
        ctx.value(f"{item.lower()}_preferred_format", modal[item])
    counts = {scale.values[c]: sum(m == scale.values[c] for m in modal.values()) for c in codes}
    for name, count in counts.items():
        ctx.value(f"b3_n_mostly_{slug(name)}", count)
    alt = ("Gestapelte Balken je Format mit den Anteilen online, hybrid und offline; überwiegend "
           + ", ".join(f"{k.lower()}: {v} Formate" for k, v in counts.items()) + ".")
    ctx.figure(31, fig, dist, alt=alt, n=len(answered))


# ------------------------------------------------------------------------------------------------
# 8.3 Cross-Cluster-Kooperationen
# ------------------------------------------------------------------------------------------------


def abb32(ctx: Context) -> None:
    """Abb. 32: cross-cluster cooperation less / unchanged / more intense / none, plus the upper third."""
    q = ctx.codebook.question("B4")
    answered = ctx.answered("B4")
    bands = scale_bands(q.scale, names={"stronger": "intensiver"})
    table = band_shares(answered[q.columns[0]], bands)
    upper = _upper_third(q.scale)
    in_upper = descriptives.frequencies(answered, q.columns[0])
    n_upper = int(in_upper.loc[in_upper["value"].isin(upper), "n"].sum())
    upper_row = pd.DataFrame([{
        "value": "upper_third", "label": f"darunter oberes Drittel ({_span(upper)})",
        "codes": " ".join(f"{v:g}" for v in upper), "n": n_upper, "share": n_upper / len(answered),
    }])
    table = pd.concat([table, upper_row], ignore_index=True)
    for row in table.itertuples():
        ctx.value(f"b4_{row.value}_n", int(row.n))
        ctx.value(f"b4_{row.value}_pct", pct(row.share))
    special = table.loc[table["value"].str.startswith("special")]
    ctx.value("b4_no_cooperation_n", int(special["n"].sum()))
    ctx.value("b4_cooperation_pct", pct(1 - special["n"].sum() / len(answered)))
    fig = plots.share_bars(table, colour=COLOUR, xlabel="Anteil der Befragten")
    more = table.set_index("value").loc["stronger"]
    alt = (f"Balkendiagramm zur Intensität der Zusammenarbeit mit anderen Clustermanagements: "
           f"{plots.format_percent(more['share'])} arbeiten intensiver zusammen, "
           f"{plots.format_percent(upper_row['share'].iloc[0])} im oberen Drittel der Skala.")
    ctx.figure(32, fig, table, alt=alt, n=len(answered))


def abb33(ctx: Context) -> None:
    """Abb. 33: topics of cooperation between cluster managements (TinSort yes-shares)."""
    yes_share_figure(ctx, 33, "B5", colour=COLOUR, what="Kooperationsthemen")


def abb34(ctx: Context) -> None:
    """Abb. 34: word cloud of the further cooperation topics (open question B6)."""
    open_answer_cloud(ctx, 34, "B6", base_question="B5", colour=COLOUR)


# ------------------------------------------------------------------------------------------------
# helpers shared with chapter 9
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A contiguous part of a rating scale (or one special answer) shown as one category."""

    key: str
    label: str
    values: tuple[float, ...]


def scale_bands(scale, *, names: Mapping[str, str] | None = None, include_special: bool = True) -> list[Band]:
    """Split a bipolar scale at its labelled neutral middle: weaker / unchanged / stronger (+ specials).

    Band names default to the codebook's labels of the lowest point, the middle and the highest
    point; ``names`` overrides them by key. The ranges always come from the scale.
    """
    if scale.min is None or scale.max is None:
        raise ValueError(f"scale {scale.name!r} has no numeric range to split into bands")
    middle = (scale.min + scale.max) / 2
    if middle != int(middle) or middle not in scale.labels:
        raise ValueError(
            f"scale {scale.name!r} ({scale.min}..{scale.max}) has no labelled middle point to split at; "
            f"labelled points are {sorted(scale.labels)}"
        )
    middle = int(middle)
    names = {"weaker": scale.labels.get(scale.min), "unchanged": scale.labels[middle],
             "stronger": scale.labels.get(scale.max), **(names or {})}
    missing = [k for k, v in names.items() if not v]
    if missing:
        raise ValueError(f"scale {scale.name!r}: no label for band(s) {missing}; pass names=")
    ranges = {
        "weaker": tuple(range(int(scale.min), middle)),
        "unchanged": (middle,),
        "stronger": tuple(range(middle + 1, int(scale.max) + 1)),
    }
    bands = [Band(key, f"{names[key]} ({_span(values)})", values) for key, values in ranges.items()]
    if include_special:
        bands += [Band(f"special_{code}", f"{label} ({code})", (code,)) for code, label in scale.special.items()]
    return bands


def band_shares(values: pd.Series, bands: Sequence[Band]) -> pd.DataFrame:
    """Counts and shares (of all non-empty answers) per band: value (band key), label, codes, n, share.

    ``codes`` lists the band's answer codes separated by spaces, so the CSV says what each band holds.
    """
    freq = descriptives.frequencies(values.to_frame(), values.name)
    known = {v for b in bands for v in b.values}
    stray = sorted(set(freq.loc[freq["n"] > 0, "value"]) - known)
    if stray:
        raise ValueError(f"{values.name}: value(s) {stray} belong to none of the bands "
                         f"{[b.key for b in bands]}; the codebook scale does not match the data")
    total = int(freq["n"].sum())
    rows = []
    for band in bands:
        n = int(freq.loc[freq["value"].isin(band.values), "n"].sum())
        rows.append({"value": band.key, "label": band.label, "codes": " ".join(f"{v:g}" for v in band.values),
                     "n": n, "share": n / total if total else np.nan})
    return pd.DataFrame(rows)


def yes_share_figure(ctx: Context, number: int, question: str, *, colour: str, what: str) -> pd.DataFrame:
    """Bars of the yes-share per TinSort item; values ``<item>_yes_pct`` and ``<item>_yes_n``."""
    answered = ctx.answered(question)
    shares = descriptives.yes_shares(answered, ctx.codebook.items_of(question), item_labels=ctx.labels(question))
    for row in shares.itertuples():
        ctx.value(f"{row.item.lower()}_yes_pct", pct(row.share))
        ctx.value(f"{row.item.lower()}_yes_n", int(row.n_yes))
    ordered = shares.sort_values("share", ascending=False, kind="stable")
    top, low = ordered.iloc[0], ordered.iloc[-1]
    ctx.value(f"{question.lower()}_top_item", top["item_label"])
    ctx.value(f"{question.lower()}_lowest_item", low["item_label"])
    fig = plots.yes_no_bars(shares, colour=colour)
    alt = (f"Balkendiagramm der Ja-Anteile für {len(shares)} {what}, am höchsten {top['item_label']} "
           f"({plots.format_percent(top['share'])}), am niedrigsten {low['item_label']} "
           f"({plots.format_percent(low['share'])}).")
    ctx.figure(number, fig, shares, alt=alt, n=len(answered))
    return shares


def open_answer_cloud(ctx: Context, number: int, question: str, *, base_question: str, colour: str) -> pd.DataFrame:
    """Word cloud of an open question; the figure's N is the base of the closed question it follows."""
    (column,) = ctx.codebook.question(question).columns
    texts = ctx.data[column].dropna().astype(str).str.strip()
    texts = texts[texts != ""]
    n_base = ctx.n(base_question)
    fig = plots.word_cloud(texts.tolist(), colour=colour)
    fig.text(0.01, 0.005, f"{len(texts)} Antworten", ha="left", va="bottom", fontsize=8, color="#555555")
    key = question.lower()
    ctx.value(f"{key}_n_answers", len(texts))
    ctx.value(f"{key}_n_base", n_base)
    data = pd.DataFrame({"respondent_id": ctx.data.loc[texts.index, "respondent_id"].to_numpy(), "text": texts.to_numpy()})
    alt = (f"Wortwolke aus {len(texts)} frei formulierten Antworten; häufiger genannte Wörter "
           "erscheinen größer.")
    ctx.figure(number, fig, data, alt=alt, n=n_base)
    return data


def group_means_figure(ctx: Context, number: int, question: str, grouping: str, *, key: str, colour: str,
                       what: str, between: str) -> pd.DataFrame:
    """Mean per item (dots and line) with both groups' means as markers, grey where not significant."""
    scale = ctx.codebook.question(question).scale
    answered = ctx.answered(question)
    items = ctx.codebook.items_of(question)
    summary = descriptives.describe_items(answered, items, special_codes=ctx.special(question), item_labels=ctx.labels(question))
    ut = ctx.utest(question, grouping)
    sig = ut.loc[ut["significant"].astype("boolean").fillna(False).astype(bool)]
    ctx.value(f"n_sig_{key}", len(sig))
    ctx.value(f"{question.lower()}_n_items", len(items))
    ctx.value(f"sig_items_{key}", german_list(list(sig["item_label"])) if len(sig) else "keine")
    groups = ctx.grouping(grouping).loc[answered.index].value_counts()
    for label, size in groups.items():
        ctx.value(f"{key}_n_{slug(label)}", int(size))
    higher_2 = int((sig["mean_2"] > sig["mean_1"]).sum())
    ctx.value(f"n_sig_{key}_{slug(ut['group_2'].iloc[0])}_higher", higher_2)
    ctx.value(f"n_sig_{key}_{slug(ut['group_1'].iloc[0])}_higher", len(sig) - higher_2)
    low, high = scale.labels.get(scale.min, ""), scale.labels.get(scale.max, "")
    fig = plots.dot_plot_means(summary, utest=ut, colour=colour, alpha=ctx.alpha,
                               xlim=(scale.min - 0.5, scale.max + 0.5),
                               xlabel=f"Mittelwert ({format_scale_end(scale.min, low)} … {format_scale_end(scale.max, high)})")
    alt = (f"Punktdiagramm der mittleren Häufigkeit für {len(items)} {what} mit den Mittelwerten der "
           f"Gruppen; bei {len(sig)} Themen unterscheiden sich die Gruppen zwischen {between} signifikant, "
           "die übrigen sind grau.")
    ctx.figure(number, fig, summary, alt=alt, n=len(answered), utest=ut)
    return ut


def format_scale_end(value: float, label: str) -> str:
    return f"{plots.format_number(value)} = {label}" if label else plots.format_number(value)


def pct(share: Any) -> int | None:
    """A fraction as a whole percent, rounded half up the way percentages are printed."""
    if share is None or (isinstance(share, (float, np.floating)) and math.isnan(share)):
        return None
    return int(math.floor(float(share) * 100 + 0.5 + 1e-9))


def slug(text: str) -> str:
    """snake_case key part from a German label ("Größtenteils institutionell" -> "groesstenteils_institutionell")."""
    text = str(text).lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _relevance(ctx: Context, question: str, frame: pd.DataFrame) -> pd.DataFrame:
    return descriptives.relevance_shares(frame, ctx.codebook.items_of(question), special_codes=ctx.special(question),
                                         item_labels=ctx.labels(question))


def _point_labels(scale, fallback: Mapping[int, str]) -> dict[int, str]:
    """Label per scale point: the codebook's where it has one, else ours."""
    points = range(int(scale.min), int(scale.max) + 1)
    labels = {p: scale.labels.get(p) or fallback.get(p) for p in points}
    missing = [p for p, v in labels.items() if not v]
    if missing:
        raise ValueError(f"scale {scale.name!r}: no label for point(s) {missing}")
    return labels


def _upper_third(scale) -> list[int]:
    points = list(range(int(scale.min), int(scale.max) + 1))
    if len(points) % 3:
        raise ValueError(f"scale {scale.name!r} has {len(points)} points, which do not split into thirds")
    return points[-len(points) // 3:]


def _span(values: Sequence[float]) -> str:
    values = sorted(values)
    first, last = plots.format_number(values[0]), plots.format_number(values[-1])
    return first if first == last else f"{first}–{last}"


def _round(value: float, decimals: int) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), decimals)

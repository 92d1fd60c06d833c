"""Chapter 7 "Neue Situation in den Clustern": survey block A (questions A1, A2, A4-A7), Abb. 16-26.

One public function per figure, each taking the notebook's :class:`~clusterkrise.report.Context`.
Every function computes its numbers with :mod:`clusterkrise.descriptives` and ``ctx.utest``, draws with
:mod:`clusterkrise.plots` in the chapter colour, writes the figure with ``ctx.figure`` and records the
numbers the chapter prose may quote with ``ctx.value``.

Value keys follow one pattern so the prose can address any item: ``<item id lower case>_<stat>``
(``a1_06_relevance_pct``, ``a4_03_mean``), plus a few readable aliases for the items the study
discusses by name (``childcare_relevance_pct``) and per-grouping summaries (``n_sig_<grouping>_<q>``,
``sig_items_<grouping>_<q>``). Shares are stored as whole percent, means with one decimal, lists of
items as German text, so every value prints directly in the book.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import descriptives as desc
from .. import plots
from ..facts import german_list
from ..utests import compare_groups
from .context import Context

__all__ = [
    "A2_GROUPINGS",
    "abb16",
    "abb17",
    "abb18",
    "abb19",
    "abb20",
    "abb21",
    "abb22",
    "abb23",
    "abb24",
    "abb25",
    "abb26",
]

COLOUR = "ch07"

#: Groupings whose A2 differences section 7.1.2 reports (gender, region, three roles, financing), plus the other comparison groups.
A2_GROUPINGS: tuple[str, ...] = (
    "gender",
    "east_west",
    "role:pr_kommunikation",
    "role:projektmanagement",
    "role:administration_finanzen",
    "financing",
    # Tab. 4's other comparison groups: 7.1.2 names no difference for them, the table shows it.
    "office_size",
    "age",
)

#: Readable value-key prefixes for the items the chapter text names; everything else uses the item id.
ALIASES: dict[str, str] = {
    "A1_01": "social",
    "A1_02": "commute",
    "A1_03": "selforg",
    "A1_04": "homeoffice",
    "A1_05": "homeoffice_setup",
    "A1_06": "childcare",
    "A2_01": "planning",
    "A2_02": "flurfunk",
    "A2_03": "digital_channels",
    "A2_04": "member_exits",
    "A2_05": "financing",
    "A2_06": "team",
    "A2_07": "member_contact",
    "A2_08": "digital_work",
    "A2_09": "meetings",
    "A7_01": "competitiveness",
    "A7_02": "contact",
    "A7_03": "flexibility",
}

#: Key words for the two groups of a grouping (category order of clusterkrise.groups).
GROUP_KEYS: dict[str, tuple[str, str]] = {
    "affectedness": ("low", "high"),
    "age": ("young", "old"),
    "financing": ("institutional", "other"),
    "office_size": ("small", "large"),
    "gender": ("female", "male"),
    "east_west": ("east", "west"),
}


# --------------------------------------------------------------------------------------------------
# small helpers shared by the figures


def _pct(share: float | None) -> int | None:
    """Whole percent, rounded exactly as the figure labels (plots.format_percent) round them."""
    if share is None or not np.isfinite(share):
        return None
    return int(round(float(share) * 100))


def _one_decimal(x: float | None) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _labels_text(labels: Iterable[str]) -> str:
    words = list(labels)
    return german_list(words) if words else "keine"


def _item_values(ctx: Context, table: pd.DataFrame, column: str, stat: str, convert) -> None:
    """``<item>_<stat>`` for every row, and the alias key where the study names the item."""
    for item, value in zip(table["item"], table[column]):
        converted = convert(value)
        ctx.value(f"{_key(item)}_{stat}", converted)
        if item in ALIASES:
            ctx.value(f"{ALIASES[item]}_{stat}", converted)


def _ranked_labels(table: pd.DataFrame, column: str, k: int, *, lowest: bool = False) -> list[str]:
    ordered = table.sort_values(column, ascending=lowest, kind="mergesort")
    return list(ordered["item_label"].head(k))


def _scale(ctx: Context, question: str):
    return ctx.codebook.question(question).scale


def _question_frame(ctx: Context, question: str) -> tuple[pd.DataFrame, list[str], dict[str, str], dict]:
    return ctx.answered(question), ctx.codebook.items_of(question), ctx.labels(question), ctx.special(question)


def _describe(ctx: Context, question: str) -> pd.DataFrame:
    data, items, labels, special = _question_frame(ctx, question)
    return desc.describe_items(data, items, special_codes=special, item_labels=labels)


def _scale_labels(ctx: Context, question: str) -> dict[int, str]:
    """Every point of a bipolar slider with a label: the codebook's end labels, else the signed number."""
    scale = _scale(ctx, question)
    points = range(int(scale.min), int(scale.max) + 1)
    return {
        v: scale.labels.get(v) or (("+" if v > 0 else "") + plots.format_number(v))
        for v in points
    }


def _bipolar_distribution(ctx: Context, question: str) -> pd.DataFrame:
    """Long table (item x answer) of a −2..+2 question, shares over all answers incl. special codes.

    Items are ordered by relevance (share of answers that are not a special code), ties by mean.
    Item-level columns ``n_item``, ``relevance_share`` and ``mean`` are repeated on every row.
    """
    data, items, labels, special = _question_frame(ctx, question)
    scale = _scale(ctx, question)
    point_labels = {**_scale_labels(ctx, question), **scale.special}
    frames = []
    for item in items:
        freq = desc.frequencies(data, item, labels=point_labels)
        frames.append(freq.assign(item=item, item_label=labels[item]))
    dist = pd.concat(frames, ignore_index=True)
    stats = _describe(ctx, question).set_index("item")
    if scale.special:
        rel = desc.relevance_shares(data, items, special_codes=special, item_labels=labels).set_index("item")
        relevance = rel["share"]
    else:
        relevance = pd.Series(1.0, index=items)
    dist["n_item"] = dist["item"].map(dist.groupby("item")["n"].sum())
    dist["relevance_share"] = dist["item"].map(relevance)
    dist["mean"] = dist["item"].map(stats["mean"])
    order = (
        pd.DataFrame({"relevance": relevance, "mean": stats["mean"]})
        .sort_values(["relevance", "mean"], ascending=False, kind="mergesort")
        .index
    )
    dist["item"] = pd.Categorical(dist["item"], categories=list(order), ordered=True)
    dist = dist.sort_values(["item", "value"], kind="mergesort").reset_index(drop=True)
    dist["item"] = dist["item"].astype(str)
    return dist[["item", "item_label", "value", "label", "n", "share", "n_item", "relevance_share", "mean"]]


def _item_summary(dist: pd.DataFrame) -> pd.DataFrame:
    """One row per item from a long distribution table (in its item order)."""
    return dist.drop_duplicates("item")[["item", "item_label", "n_item", "relevance_share", "mean"]]


def _sig_values(ctx: Context, ut: pd.DataFrame, suffix: str) -> None:
    """Per grouping: number and labels of the significant items."""
    for grouping, rows in ut.groupby("grouping", sort=False):
        key = f"{_key(grouping)}_{suffix}"
        sig = rows[rows["significant"].astype(bool)]
        ctx.value(f"n_sig_{key}", int(len(sig)))
        ctx.value(f"sig_items_{key}", _labels_text(sig["item_label"]))


def _group_mean_values(ctx: Context, ut: pd.DataFrame, grouping: str, suffix: str = "mean") -> None:
    """``<item>_<stat>_<group key>`` for both groups of one grouping."""
    first, second = GROUP_KEYS.get(grouping, ("g1", "g2"))
    rows = ut[ut["grouping"] == grouping]
    for col, word in (("mean_1", first), ("mean_2", second)):
        _item_values(ctx, rows, col, f"{suffix}_{word}", _one_decimal)


def _indicator_test(ctx: Context, indicator: pd.Series, name: str, label: str, grouping: str) -> pd.DataFrame:
    """U-test of a 0/1 indicator between the groups of a grouping; the group means are shares.

    A rank test of a binary answer is the natural test of a difference in shares here, and it keeps the
    chapter on the study's one method. ``share_1``/``share_2`` are added for the bar charts.
    """
    frame = pd.DataFrame({name: indicator.astype(float)}, index=ctx.data.index)
    ut = compare_groups(
        frame,
        [name],
        {grouping: ctx.grouping(grouping)},
        alpha=ctx.alpha,
        min_group_size=ctx.params.min_group_size,
        item_labels={name: label},
    )
    return ut.assign(share_1=ut["mean_1"], share_2=ut["mean_2"])


def _two_groups(row: pd.Series, item: str, label: str, share: str) -> pd.DataFrame:
    """Tidy rows (one per group) of a one-item indicator test: group, n and the share."""
    return pd.DataFrame(
        {
            "item": item,
            "item_label": label,
            "group": [row["group_1"], row["group_2"]],
            "n": [int(row["n_1"]), int(row["n_2"])],
            share: [row["share_1"], row["share_2"]],
        }
    )


def _group_share_values(ctx: Context, row: pd.Series, prefix: str, grouping: str) -> None:
    first, second = GROUP_KEYS[grouping]
    ctx.value(f"{prefix}_{first}_pct", _pct(row["share_1"]))
    ctx.value(f"{prefix}_{second}_pct", _pct(row["share_2"]))


def _short_group_labels(ut: pd.DataFrame) -> list[str]:
    """Group names without the shared "Durch Krise" so the four legend entries fit one text width."""
    return [str(ut[col].iloc[0]).removeprefix("Durch Krise ") for col in ("group_1", "group_2")]


def _means_figure(ctx: Context, number: int, question: str, grouping: str | None, *, alt: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Dot plot of item means (highest first), with the two groups of ``grouping`` where given."""
    summary = _describe(ctx, question).sort_values("mean", ascending=False, kind="mergesort").reset_index(drop=True)
    ut = None
    if grouping is not None:
        ut = ctx.utest(list(summary["item"]), grouping)
    scale = _scale(ctx, question)
    fig = plots.dot_plot_means(
        summary,
        utest=ut,
        colour=COLOUR,
        xlim=(scale.min - 0.5, scale.max + 0.5),
        alpha=ctx.alpha,
        group_labels=None if ut is None else _short_group_labels(ut),
    )
    ctx.figure(number, fig, summary, alt=alt, n=ctx.n(question), utest=ut)
    return summary, ut


def _mean_values(ctx: Context, summary: pd.DataFrame, prefix: str, k: int) -> None:
    """Item means plus the k highest and k lowest items and the range of the means."""
    _item_values(ctx, summary, "mean", "mean", _one_decimal)
    ctx.value(f"{prefix}_top_items", _labels_text(_ranked_labels(summary, "mean", k)))
    ctx.value(f"{prefix}_bottom_items", _labels_text(_ranked_labels(summary, "mean", k, lowest=True)))
    ctx.value(f"{prefix}_top_item", _ranked_labels(summary, "mean", 1)[0])
    ctx.value(f"{prefix}_bottom_item", _ranked_labels(summary, "mean", 1, lowest=True)[0])
    ctx.value(f"{prefix}_mean_min", _one_decimal(summary["mean"].min()))
    ctx.value(f"{prefix}_mean_max", _one_decimal(summary["mean"].max()))
    ctx.value(f"{prefix}_n_items", int(len(summary)))


def _group_sizes(ctx: Context, grouping: str) -> None:
    """Sizes of both groups among the cleaned respondents (single items may have fewer answers)."""
    first, second = GROUP_KEYS.get(grouping, ("g1", "g2"))
    sizes = ctx.grouping(grouping).value_counts(sort=False)
    ctx.value(f"{grouping}_{first}_n", int(sizes.iloc[0]))
    ctx.value(f"{grouping}_{second}_n", int(sizes.iloc[1]))


# --------------------------------------------------------------------------------------------------
# 7.1 Veränderungen für Clustermanager:innen


def abb16(ctx: Context) -> None:
    """A1: rating −2..+2 of the personal changes with the share "nicht betroffen"; office-size U-test."""
    q = "A1"
    dist = _bipolar_distribution(ctx, q)
    summary = _item_summary(dist)
    ut = ctx.utest(list(summary["item"]), "office_size")
    fig = plots.diverging_bars(dist, scale=_scale_labels(ctx, q), colour=COLOUR)
    top = summary.iloc[0]
    alt = (
        "Gestapelte Balken je Veränderung von sehr negativ bis sehr positiv, rechts daneben der Anteil "
        f"„nicht betroffen“; am häufigsten betroffen sind die Befragten von „{top['item_label']}“ "
        f"({_pct(top['relevance_share'])} %)."
    )
    ctx.figure(16, fig, dist, alt=alt, n=ctx.n(q), utest=ut)

    _item_values(ctx, summary, "relevance_share", "relevance_pct", _pct)
    _item_values(ctx, summary, "mean", "mean", _one_decimal)
    ctx.value("a1_top_relevance_items", _labels_text(_ranked_labels(summary, "relevance_share", 2)))
    ctx.value("a1_relevance_min_pct", _pct(summary["relevance_share"].min()))
    ctx.value("a1_relevance_max_pct", _pct(summary["relevance_share"].max()))
    ctx.value("a1_most_negative_item", _ranked_labels(summary, "mean", 1, lowest=True)[0])
    ctx.value("a1_most_positive_item", _ranked_labels(summary, "mean", 1)[0])
    ctx.value("a1_n_positive", int((summary["mean"] > 0).sum()))
    ctx.value("a1_n_negative", int((summary["mean"] < 0).sum()))
    _sig_values(ctx, ut, "a1")
    _group_mean_values(ctx, ut, "office_size")


def abb17(ctx: Context) -> None:
    """A1_06 childcare/homeschooling: share concerned and mean rating, younger vs older respondents."""
    item, grouping = "A1_06", "age"
    data = ctx.data
    answered = data[item].notna()
    special = ctx.special("A1")[item]
    concerned = (~data[item].isin(special)).where(answered)
    label = f"{ctx.labels('A1')[item]}: betroffen"
    rel = _indicator_test(ctx, concerned, f"{item}_betroffen", label, grouping)
    rating = ctx.utest([item], grouping)
    row = rel.iloc[0]
    r = rating.iloc[0]
    shown = rel.assign(
        item_label=(
            f"{label}\n(Ø Bewertung {row['group_1']}: {plots.format_number(r['mean_1'], 1)}, "
            f"{row['group_2']}: {plots.format_number(r['mean_2'], 1)})"
        )
    )
    fig = plots.grouped_bars(shown, value="share", colour=COLOUR, alpha=ctx.alpha,
                             xlabel="Anteil betroffen")
    values = _two_groups(row, item, ctx.labels("A1")[item], "relevance_share").assign(
        n_rated=[int(r["n_1"]), int(r["n_2"])], mean=[r["mean_1"], r["mean_2"]]
    )
    alt = (
        f"Zwei Balken: Anteil der Befragten, die Kinderbetreuung oder Homeschooling betrifft, "
        f"{row['group_1']} {_pct(row['share_1'])} % gegenüber {row['group_2']} {_pct(row['share_2'])} %."
    )
    ut = pd.concat([rel, rating], ignore_index=True)
    ctx.figure(17, fig, values, alt=alt, n=int(row["n_1"] + row["n_2"]), utest=ut)

    _group_share_values(ctx, row, "childcare_relevance", grouping)
    first, second = GROUP_KEYS[grouping]
    ctx.value(f"childcare_mean_{first}", _one_decimal(r["mean_1"]))
    ctx.value(f"childcare_mean_{second}", _one_decimal(r["mean_2"]))
    ctx.value(f"childcare_age_{first}_label", str(row["group_1"]))
    ctx.value(f"childcare_age_{second}_label", str(row["group_2"]))
    ctx.value("n_sig_childcare_relevance_age", int(bool(row["significant"])))
    ctx.value("n_sig_childcare_rating_age", int(bool(r["significant"])))


def _big_code(ctx: Context, question: str) -> int:
    # The two-point challenge scale is ordered: its highest code is "große Herausforderung".
    return max(_scale(ctx, question).values)


def abb18(ctx: Context) -> None:
    """A2: share of "große Herausforderung" per item (stacked), U-tests of the groupings of 7.1.2."""
    q = "A2"
    data, items, labels, _ = _question_frame(ctx, q)
    scale = _scale(ctx, q)
    big = _big_code(ctx, q)
    freqs = pd.concat(
        [desc.frequencies(data, i, labels=scale.values).assign(item=i, item_label=labels[i]) for i in items],
        ignore_index=True,
    )
    big_share = freqs.loc[freqs["value"] == big].set_index("item")["share"]
    order = big_share.sort_values(ascending=False, kind="mergesort").index
    freqs["item"] = pd.Categorical(freqs["item"], categories=list(order), ordered=True)
    freqs = freqs.sort_values(["item", "value"], ascending=[True, False], kind="mergesort").reset_index(drop=True)
    freqs["item"] = freqs["item"].astype(str)
    freqs = freqs[["item", "item_label", "value", "label", "n", "share"]]
    categories = {v: scale.values[v] for v in sorted(scale.values, reverse=True)}
    fig = plots.stacked_share_bars(freqs, categories=categories, colour=COLOUR)
    ut = ctx.utest(items, list(A2_GROUPINGS))
    top = labels[order[0]]
    alt = (
        "Gestapelte Balken je Herausforderung mit den Anteilen große und geringe Herausforderung; "
        f"am häufigsten als groß eingestuft: „{top}“ ({_pct(big_share[order[0]])} %)."
    )
    ctx.figure(18, fig, freqs, alt=alt, n=ctx.n(q), utest=ut)

    shares = big_share.reindex(order).rename("share").reset_index()
    _item_values(ctx, shares, "share", "big_pct", _pct)
    ctx.value("a2_top_item", top)
    ctx.value("a2_big_min_pct", _pct(big_share.min()))
    ctx.value("a2_big_max_pct", _pct(big_share.max()))
    _sig_values(ctx, ut, "a2")
    ctx.value("n_sig_a2", int(ut["significant"].astype(bool).sum()))
    ctx.value("n_groupings_a2", len(A2_GROUPINGS))


def abb19(ctx: Context) -> None:
    """A2_05 (financing of the office) as big challenge: institutional vs other financing."""
    item, grouping = "A2_05", "financing"
    big = _big_code(ctx, "A2")
    label = ctx.labels("A2")[item]
    indicator = (ctx.data[item] == big).where(ctx.data[item].notna())
    ut = _indicator_test(ctx, indicator, item, label, grouping)
    fig = plots.grouped_bars(ut, value="share", colour=COLOUR, alpha=ctx.alpha,
                             xlabel="Anteil „große Herausforderung“")
    row = ut.iloc[0]
    values = _two_groups(row, item, label, "share")
    alt = (
        "Zwei Balken: Anteil, für den die Finanzierung der Geschäftsstelle eine große Herausforderung "
        f"ist, {row['group_1']} {_pct(row['share_1'])} %, {row['group_2']} {_pct(row['share_2'])} %."
    )
    ctx.figure(19, fig, values, alt=alt, n=int(row["n_1"] + row["n_2"]), utest=ut)
    _group_share_values(ctx, row, "financing_big", grouping)
    first, second = GROUP_KEYS[grouping]
    ctx.value(f"financing_{first}_n", int(row["n_1"]))
    ctx.value(f"financing_{second}_n", int(row["n_2"]))
    ctx.value("n_sig_financing_a2_05", int(ut["significant"].astype(bool).sum()))


# --------------------------------------------------------------------------------------------------
# 7.2 Betroffenheit der Clusterakteure


def abb20(ctx: Context) -> None:
    """A4 (1-10): challenges of the members, means overall and by affectedness (low/high)."""
    summary, ut = _means_figure(
        ctx, 20, "A4", "affectedness",
        alt="Punktdiagramm der mittleren Herausforderung je Aspekt auf der Skala 1 bis 10, dazu die "
            "Mittelwerte der gering und der stark betroffenen Cluster; graue Marker ohne signifikanten Unterschied.",
    )
    _mean_values(ctx, summary, "a4", 3)
    _group_mean_values(ctx, ut, "affectedness")
    _sig_values(ctx, ut, "a4")
    ctx.value("a4_nonsig_items", _labels_text(ut.loc[~ut["significant"].astype(bool), "item_label"]))
    ctx.value("a4_n_high_rates_higher", int((ut["mean_2"] > ut["mean_1"]).sum()))
    _group_sizes(ctx, "affectedness")


def _word_counts(texts: Sequence[str]) -> pd.Series:
    """Word frequencies with the word cloud's own tokenizer and the house stop words."""
    from wordcloud import WordCloud

    counter = WordCloud(stopwords=plots.GERMAN_STOPWORDS, collocations=False,
                        normalize_plurals=False, min_word_length=3)
    counts = counter.process_text(" ".join(texts)) if texts else {}
    return pd.Series(counts, dtype=float).sort_values(ascending=False, kind="mergesort")


def abb21(ctx: Context) -> None:
    """A5 open answers on further challenges of the members as a word cloud."""
    raw = ctx.data["A5"].dropna().astype(str).str.strip()
    texts = list(raw[raw != ""])
    counts = _word_counts(texts)
    fig = plots.word_cloud(counts, colour=COLOUR)
    table = pd.DataFrame({"word": counts.index, "count": counts.to_numpy(dtype=int)})
    top = list(table["word"].head(5))
    alt = (
        "Wortwolke der offenen Antworten zu weiteren Herausforderungen der Mitglieder; "
        f"häufigste Begriffe: {', '.join(top) if top else 'keine'}."
    )
    ctx.figure(21, fig, table, alt=alt, n=len(texts))
    ctx.value("a5_n_answers", len(texts))
    ctx.value("a5_top_words", _labels_text(top))


def abb22(ctx: Context) -> None:
    """A6: share of respondents for whom each preparedness aspect is relevant."""
    q = "A6"
    data, items, labels, special = _question_frame(ctx, q)
    rel = desc.relevance_shares(data, items, special_codes=special, item_labels=labels)
    rel = rel.sort_values("share", ascending=False, kind="mergesort").reset_index(drop=True)
    fig = plots.share_bars(rel.assign(label=rel["item_label"]), colour=COLOUR, xlabel="Anteil „relevant“")
    alt = (
        "Balken je Aspekt der Krisenvorbereitung mit dem Anteil der Befragten, die ihn als relevant "
        f"einstufen; am höchsten „{rel['item_label'].iloc[0]}“ ({_pct(rel['share'].iloc[0])} %)."
    )
    ctx.figure(22, fig, rel, alt=alt, n=ctx.n(q))
    _item_values(ctx, rel, "share", "relevance_pct", _pct)
    ctx.value("a6_top_relevance_items", _labels_text(list(rel["item_label"].head(2))))
    ctx.value("a6_relevance_min_pct", _pct(rel["share"].min()))
    ctx.value("a6_relevance_max_pct", _pct(rel["share"].max()))


def abb23(ctx: Context) -> None:
    """A6 (1-10): preparedness of the members, means overall and by affectedness (low/high)."""
    summary, ut = _means_figure(
        ctx, 23, "A6", "affectedness",
        alt="Punktdiagramm der mittleren Vorbereitung je Aspekt von schlecht (1) bis ausgezeichnet (10), "
            "dazu gering und stark betroffene Cluster; graue Marker ohne signifikanten Unterschied.",
    )
    _mean_values(ctx, summary, "a6", 2)
    _group_mean_values(ctx, ut, "affectedness")
    _sig_values(ctx, ut, "a6")
    ctx.value("a6_n_low_rates_higher", int((ut["mean_1"] > ut["mean_2"]).sum()))


def abb24(ctx: Context) -> None:
    """A6: the full 1-10 distribution of every preparedness aspect (special answers left out)."""
    q = "A6"
    data, items, labels, special = _question_frame(ctx, q)
    scale = _scale(ctx, q)
    dist = desc.distribution(data, items, scale_min=scale.min, scale_max=scale.max,
                             special_codes=special, item_labels=labels)
    fig = plots.distribution_grid(dist, scale_min=int(scale.min), scale_max=int(scale.max), colour=COLOUR)
    used = dist[dist["n"] > 0].groupby("item", sort=False)["value"].agg(["min", "max"])
    full = used[(used["min"] == scale.min) & (used["max"] == scale.max)]
    alt = (
        "Kleine Säulendiagramme je Aspekt der Krisenvorbereitung mit der Verteilung der Antworten "
        f"von 1 bis 10; {len(full)} von {len(used)} Aspekten nutzen die ganze Skala."
    )
    ctx.figure(24, fig, dist, alt=alt, n=ctx.n(q))
    ctx.value("a6_n_items_full_range", int(len(full)))
    ctx.value("a6_n_items_rated", int(len(used)))


def abb25(ctx: Context) -> None:
    """A7 (−2..+2): distribution of the changes in the cluster, items ordered by mean."""
    q = "A7"
    dist = _bipolar_distribution(ctx, q)
    summary = _item_summary(dist)
    fig = plots.diverging_bars(dist, scale=_scale_labels(ctx, q), colour=COLOUR)
    alt = (
        "Gestapelte Balken je Veränderung im Cluster von drastisch verschlechtert bis deutlich verbessert; "
        f"am besten bewertet „{_ranked_labels(summary, 'mean', 1)[0]}“, "
        f"am schlechtesten „{_ranked_labels(summary, 'mean', 1, lowest=True)[0]}“."
    )
    ctx.figure(25, fig, dist, alt=alt, n=ctx.n(q))
    _mean_values(ctx, summary, "a7", 2)
    ctx.value("a7_n_positive", int((summary["mean"] > 0).sum()))
    ctx.value("a7_n_negative", int((summary["mean"] < 0).sum()))
    ctx.value("a7_negative_items", _labels_text(summary.loc[summary["mean"] < 0, "item_label"]))


def abb26(ctx: Context) -> None:
    """A7: means of the changes overall and for low vs highly affected clusters."""
    summary, ut = _means_figure(
        ctx, 26, "A7", "affectedness",
        alt="Punktdiagramm der mittleren Veränderung je Aspekt von −2 bis +2 insgesamt und für gering "
            "sowie stark betroffene Cluster; graue Marker ohne signifikanten Unterschied.",
    )
    _group_mean_values(ctx, ut, "affectedness")
    _sig_values(ctx, ut, "a7")
    ctx.value("a7_n_low_rates_higher", int((ut["mean_1"] > ut["mean_2"]).sum()))
    opposite = ut[(ut["mean_1"] > 0) & (ut["mean_2"] < 0)]
    ctx.value("a7_opposite_items", _labels_text(opposite["item_label"]))
    ctx.value("a7_n_opposite", int(len(opposite)))

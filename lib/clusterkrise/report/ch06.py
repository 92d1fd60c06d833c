"""Chapter 6: the sample — cluster characteristics (Abb. 5–11, Tab. 3), respondents (Abb. 12–15) and
the comparison groups (Tab. 4).

Everything is drawn in the yellow of the comparison groups. Where a figure shows the variable a
comparison group is built from (staff size, affectedness, age, gender), each bar takes the shade of
the group its respondents belong to — light for the first group, dark for the second, grey for
respondents outside both — so a changed threshold parameter is visible in the picture.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .. import descriptives, groups, plots
from .context import Context

__all__ = [
    "MEMBER_BANDS", "abb05", "abb06", "abb07", "abb08", "abb09", "abb10", "abb11", "abb12", "abb13",
    "abb14", "abb15", "tab03", "tab04",
]

COLOUR = "groups"
OUTSIDE = "nicht zugeordnet"
# Member-count bands of Abb. 9 as half-open intervals [low, high) with their printed labels.
MEMBER_BANDS: tuple[tuple[float, float, str], ...] = (
    (-np.inf, 100, "unter 100"),
    (100, 150, "100–149"),
    (150, 401, "150–400"),
    (401, 551, "401–550"),
    (551, np.inf, "über 550"),
)
# Staff counts above the single-count bars of Abb. 8 are pooled from these lower edges on.
STAFF_RANGE_STARTS = (11, 21)


# --------------------------------------------------------------------------------------------------
# helpers


def _slug(text: str) -> str:
    """snake_case key from a German label (umlauts spelled out)."""
    text = text.lower().replace("–", " ").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _pct(share: float, decimals: int = 0) -> float:
    value = round(100.0 * float(share), decimals)
    return int(value) if decimals == 0 else value


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _count_table(keys: Sequence, labels: Sequence[str], counts: Sequence[int]) -> pd.DataFrame:
    n = np.asarray(counts, dtype=int)
    total = n.sum()
    return pd.DataFrame({"value": list(keys), "label": list(labels), "n": n,
                         "share": n / total if total else np.full(len(n), np.nan)})


def _bin_counts(values: pd.Series, bands: Sequence[tuple[float, float, str]]) -> pd.DataFrame:
    """Counts of ``values`` in half-open bands [low, high); every value must fall in one band."""
    v = values.dropna()
    hits = [((v >= lo) & (v < hi)) for lo, hi, _ in bands]
    outside = ~np.logical_or.reduce(hits) if hits else np.ones(len(v), bool)
    if outside.any():
        raise ValueError(f"values {sorted(v[outside].unique())[:5]} fall in none of the bands {[b[2] for b in bands]}")
    return _count_table([b[2] for b in bands], [b[2] for b in bands], [int(h.sum()) for h in hits])


def _staff_bands(staff: pd.Series, max_small: float) -> list[tuple[float, float, str]]:
    """Single counts up to the small/large limit, then pooled ranges up to the largest office."""
    lowest, highest = int(staff.min()), int(staff.max())
    singles_to = max(int(np.floor(max_small)), lowest)
    edges = list(range(lowest, singles_to + 2))
    edges += [e for e in STAFF_RANGE_STARTS if edges[-1] < e <= highest]
    if edges[-1] <= highest:
        edges.append(highest + 1)
    return [(a, b, str(a) if b - a == 1 else f"{a}–{b - 1}") for a, b in zip(edges[:-1], edges[1:])]


def _group_per_band(values: pd.Series, grouping: pd.Series, bands: Sequence[tuple[float, float, str]]) -> list[str]:
    """The comparison group of the respondents in each band ("nicht zugeordnet" if none or mixed)."""
    out = []
    for lo, hi, _ in bands:
        members = grouping[(values >= lo) & (values < hi)].dropna().unique()
        out.append(str(members[0]) if len(members) == 1 else OUTSIDE)
    return out


def _group_per_code(values: pd.Series, grouping: pd.Series, codes: Sequence) -> list[str]:
    return _group_per_band(values, grouping, [(c, c + 1e-9, "") for c in codes])


def _group_colours(grouping: pd.Series) -> dict[str, str]:
    """Light, dark (and further ramp) shades of the group colour per category; grey outside."""
    cats = [str(c) for c in grouping.cat.categories]
    light, dark = plots.block_shades(COLOUR)
    shades = [light, dark] if len(cats) == 2 else [plots.BLOCK_COLOURS[COLOUR]] * len(cats)
    colours = dict(zip(cats, shades))
    colours[OUTSIDE] = plots.BLOCK_SHADES["grey"][0]
    return colours


def _draw_bars(ax, labels: Sequence[str], shares: np.ndarray, colours: Sequence[str], *,
               horizontal: bool) -> None:
    """Bars with percentage labels in the house style (shares as fractions)."""
    pos = np.arange(len(labels))
    shares = np.asarray(shares, dtype=float)
    top = float(np.nanmax(shares)) if len(shares) and np.isfinite(shares).any() else 1.0
    limit = min(1.0, top * 1.2 + 0.02) if top < 0.85 else 1.12
    if horizontal:
        bars = ax.barh(pos, np.nan_to_num(shares), height=0.65, color=colours)
        for bar, v in zip(bars, shares):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + plots.format_percent(v),
                    ha="left", va="center", fontsize=7.5)
        ax.set_yticks(pos, [plots._wrap(str(l)) for l in labels])
        ax.set_ylim(len(pos) - 0.5, -0.5)
        ax.set_xlim(0, limit)
        ax.xaxis.set_major_formatter(plots.GermanFormatter(percent=True))
        ax.xaxis.set_major_locator(ticker.MultipleLocator(0.2 if top > 0.4 else 0.1))
        ax.tick_params(axis="y", length=0)
    else:
        bars = ax.bar(pos, np.nan_to_num(shares), width=0.7, color=colours)
        for bar, v in zip(bars, shares):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), plots.format_percent(v),
                    ha="center", va="bottom", fontsize=7.5)
        ax.set_xticks(pos, [plots._wrap(str(l), 14) for l in labels])
        ax.set_ylim(0, limit)
        ax.yaxis.set_major_formatter(plots.GermanFormatter(percent=True))
        ax.tick_params(axis="x", length=0)
        ax.set_ylabel("Anteil")


def _bar_figure(table: pd.DataFrame, *, horizontal: bool, xlabel: str | None = None,
                legend: dict[str, str] | None = None) -> Figure:
    """One bar per row of ``table`` (label, share, colour); ``legend`` maps text -> colour."""
    with plots.use_house_style():
        height = max(2.0, 0.8 + 0.3 * len(table)) if horizontal else 2.9
        fig = Figure(figsize=(plots.FIG_WIDTH_IN, height), layout="constrained")
        ax = fig.add_subplot()
        _draw_bars(ax, table["label"].tolist(), table["share"].to_numpy(float), table["colour"].tolist(),
                   horizontal=horizontal)
        if horizontal or xlabel:
            ax.set_xlabel(xlabel or "Anteil")
        if legend:
            # Above the plot: the N note of Context.figure takes the bottom right corner.
            chars = sum(len(t) for t in legend)
            ncol = len(legend) if chars <= 75 else (2 if max(len(t) for t in legend) <= 45 else 1)
            fig.legend(handles=[Patch(color=c, label=t) for t, c in legend.items()],
                       loc="outside upper center", ncol=ncol)
        return fig


def _single_colour(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(colour=plots.BLOCK_COLOURS[COLOUR])


def _grouped(table: pd.DataFrame, group_labels: Sequence[str], grouping: pd.Series,
             describe: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows coloured by their comparison group, plus the legend (only groups that occur)."""
    colours = _group_colours(grouping)
    table = table.assign(group=list(group_labels), colour=[colours[g] for g in group_labels])
    legend = {}
    for name in [*(str(c) for c in grouping.cat.categories), OUTSIDE]:
        if name in set(group_labels):
            legend[(describe or {}).get(name, name)] = colours[name]
    return table, legend


def _selection_split(frame: pd.DataFrame, columns: Sequence[str], one: str, more: str, none: str) -> pd.DataFrame:
    """How many respondents ticked no, exactly one, or more than one option of a multiple choice."""
    ticked = frame[list(columns)].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    counts = [int((ticked == 0).sum()), int((ticked == 1).sum()), int((ticked > 1).sum())]
    return _count_table(["0", "1", ">1"], [none, one, more], counts)


def _multiple_choice(ctx: Context, question: str, number: int, *, nouns: tuple[str, str, str], alt: str) -> dict:
    """Yes-share per option (largest first) above the split none / one / more than one (Abb. 6, 15)."""
    frame = ctx.answered(question)
    cols = ctx.codebook.items_of(question)
    shares = descriptives.yes_shares(frame, cols, item_labels=ctx.labels(question))
    shares = shares.sort_values("share", ascending=False, kind="mergesort").reset_index(drop=True)
    split = _selection_split(frame, cols, *nouns)
    main = plots.BLOCK_COLOURS[COLOUR]
    light, dark = plots.block_shades(COLOUR)
    with plots.use_house_style():
        fig = Figure(figsize=(plots.FIG_WIDTH_IN, 1.4 + 0.27 * (len(shares) + len(split))), layout="constrained")
        top, bottom = fig.subplots(2, 1, height_ratios=[len(shares), len(split) + 0.6])
        _draw_bars(top, shares["item_label"].tolist(), shares["share"].to_numpy(float), [main] * len(shares),
                   horizontal=True)
        _draw_bars(bottom, split["label"].tolist(), split["share"].to_numpy(float),
                   [plots.BLOCK_SHADES["grey"][0], light, dark], horizontal=True)
        bottom.set_xlabel("Anteil der Befragten")
    n = len(frame)
    tidy = pd.concat([
        shares.rename(columns={"item_label": "label"}).assign(part="option"),
        split.rename(columns={"value": "item"}).assign(part="anzahl_auswahlen"),
    ], ignore_index=True)[["part", "item", "label", "n", "share"]]
    ctx.figure(number, fig, tidy, alt=alt, n=n)
    return {"shares": shares, "split": split, "n": n}


def _frequency(ctx: Context, question: str) -> tuple[pd.DataFrame, pd.Series, list]:
    """Counts per answer code of a single-column question, with the codebook's labels and order."""
    q = ctx.codebook.question(question)
    column = q.columns[0]
    labels = dict(q.scale.values)
    freq = descriptives.frequencies(ctx.data, column, labels=labels)
    return freq, _numeric(ctx.data, column), list(freq["value"])


def _store_shares(ctx: Context, prefix: str, table: pd.DataFrame) -> None:
    for row in table.itertuples():
        ctx.value(f"{prefix}_{_slug(str(row.label))}_pct", _pct(row.share))


# --------------------------------------------------------------------------------------------------
# 6.1 cluster characteristics


def abb05(ctx: Context) -> None:
    """Abb. 5: share of respondents per federal state (multiple choice)."""
    frame = ctx.answered("D1")
    cols = ctx.codebook.items_of("D1")
    shares = descriptives.yes_shares(frame, cols, item_labels=ctx.labels("D1"))
    table = _single_colour(shares.rename(columns={"item_label": "label"}))
    fig = _bar_figure(table, horizontal=True)
    ticked = frame[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    ctx.value("states_multi_n", int((ticked > 1).sum()))
    ctx.value("states_present_n", int((shares["n_yes"] > 0).sum()))
    ctx.value("states_total", len(cols))
    ctx.value("states_min_n", int(shares["n_yes"].min()))
    ctx.value("states_top", str(shares.loc[shares["n_yes"].idxmax(), "item_label"]))
    ctx.figure(5, fig, shares, n=len(frame),
               alt=f"Balkendiagramm: Anteil der Befragten je Bundesland, {len(cols)} Bundesländer; am häufigsten "
                   f"{ctx.values['states_top']}; Mehrfachnennung möglich.")


def abb06(ctx: Context) -> None:
    """Abb. 6: technology fields (multiple choice) and how many fields respondents named."""
    out = _multiple_choice(ctx, "D2", 6, nouns=("ein Technologiefeld", "mehr als ein Technologiefeld",
                                                "kein Technologiefeld"),
                           alt="Balkendiagramm der Technologiefelder nach Anteil der Befragten, darunter die Anteile "
                               "mit keinem, einem und mehr als einem Technologiefeld.")
    split = out["split"].set_index("value")["n"]
    ctx.value("tech_none_n", int(split["0"]))
    ctx.value("tech_one_n", int(split["1"]))
    ctx.value("tech_more_n", int(split[">1"]))
    ctx.value("tech_top", str(out["shares"]["item_label"].iloc[0]))


def _excellence(ctx: Context) -> tuple[pd.DataFrame, list[str]]:
    frame = ctx.answered("D3")
    cols = [c for c in ctx.codebook.items_of("D3") if c != "D3_keine"]
    return frame[ctx.codebook.items_of("D3")].apply(pd.to_numeric, errors="coerce").fillna(0).eq(1), cols


def tab03(ctx: Context) -> None:
    """Tab. 3: how often each excellence label occurs alone (Insgesamt) and together with the others.

    Upper triangle only; the last column counts clusters holding the row's label together with both
    Spitzencluster and go-cluster status.
    """
    ticks, cols = _excellence(ctx)
    labels = ctx.labels("D3")
    short = {c: labels[c].replace(" nach ECEI", "") for c in cols}
    pair_cols = cols[-2:]  # Spitzencluster, go-cluster
    both = "Spitzen- und go-cluster"
    n = len(ticks)
    shown, tidy = [], []
    for i, row in enumerate(cols):
        cells = {f"Auszeichnung (N = {n})": labels[row], "Insgesamt": int(ticks[row].sum())}
        tidy.append({"row": row, "column": "Insgesamt", "n": cells["Insgesamt"]})
        for j, col in enumerate(cols):
            if j > i:
                count = int((ticks[row] & ticks[col]).sum())
                tidy.append({"row": row, "column": col, "n": count})
                cells[short[col]] = count
            else:
                cells[short[col]] = ""
        if row in pair_cols:
            cells[both] = "–"
        else:
            count = int((ticks[row] & ticks[pair_cols].all(axis=1)).sum())
            tidy.append({"row": row, "column": "+".join(pair_cols), "n": count})
            cells[both] = count
        shown.append(cells)
    table = pd.DataFrame(shown)
    label_cols = [c for c in cols if c not in pair_cols]
    any_label = ticks[label_cols + [pair_cols[0]]].any(axis=1)
    go = ticks[pair_cols[1]]
    ctx.value("excellence_label_pct", _pct(any_label.mean(), 1))
    ctx.value("gocluster_pct", _pct(go.mean(), 1))
    ctx.value("gocluster_with_label_pct", _pct(any_label[go].mean(), 1) if go.any() else None)
    ctx.value("excellence_none_pct", _pct(ticks["D3_keine"].mean(), 1))
    ctx.table(3, table, n=n, data=pd.DataFrame(tidy))


def abb07(ctx: Context) -> None:
    """Abb. 7: the four financing groups (share of respondents who gave their financing mix)."""
    grouping = ctx.grouping("financing_four")
    counts = grouping.value_counts(sort=False)
    table = _single_colour(_count_table([str(c) for c in counts.index], [str(c) for c in counts.index],
                                        counts.tolist()))
    fig = _bar_figure(table, horizontal=True)
    by_label = {label: col for col, label in groups.FINANCING_FOUR_LABELS.items()}
    for row in table.itertuples():
        key = by_label[row.label].removeprefix("D4_") if row.label in by_label else "gemischt"
        ctx.value(f"financing_{key}_pct", _pct(row.share))
    for col in ctx.codebook.items_of("D4"):
        ctx.value(f"financing_only_{col.removeprefix('D4_')}_n", int((_numeric(ctx.data, col) == 100).sum()))
    ctx.value("financing_threshold", ctx.params.institutional_threshold)
    ctx.figure(7, fig, table.drop(columns="colour"), n=int(counts.sum()),
               alt="Balkendiagramm der vier Finanzierungsgruppen: " + "; ".join(
                   f"{r.label} {plots.format_percent(r.share)}" for r in table.itertuples()) + ".")


def abb08(ctx: Context) -> None:
    """Abb. 8: staff of the cluster management office, shaded by small/large office group."""
    staff = _numeric(ctx.data, "D5_staff").dropna()
    bands = _staff_bands(staff, ctx.params.office_size_max_small)
    grouping = ctx.grouping("office_size")
    table, legend = _grouped(_bin_counts(staff, bands), _group_per_band(staff, grouping.loc[staff.index], bands),
                             grouping)
    fig = _bar_figure(table, horizontal=False, xlabel="Mitarbeiter:innen im Clustermanagement", legend=legend)
    sizes = grouping.value_counts(normalize=True, sort=False)
    ctx.value("office_small_pct", _pct(sizes.iloc[0]))
    ctx.value("office_large_pct", _pct(sizes.iloc[1]))
    ctx.value("office_size_max_small", ctx.params.office_size_max_small)
    ctx.value("staff_min", int(staff.min()))
    ctx.value("staff_max", int(staff.max()))
    ctx.value("staff_median", float(staff.median()))
    ctx.figure(8, fig, table.drop(columns="colour"), n=len(staff),
               alt=f"Säulendiagramm der Zahl der Mitarbeiter:innen von {int(staff.min())} bis {int(staff.max())}; "
                   "Farbton nach kleinen und großen Clustermanagements.")


def abb09(ctx: Context) -> None:
    """Abb. 9: member organisations of clusters with formal, fee-paying membership."""
    formal = ctx.data.loc[_numeric(ctx.data, "D6b_formal_membership") == 1]
    members = _numeric(formal, "D6_members").dropna()
    table = _single_colour(_bin_counts(members, MEMBER_BANDS))
    fig = _bar_figure(table, horizontal=False, xlabel="Mitgliedsorganisationen")
    for row in table.itertuples():
        ctx.value(f"members_{_slug(row.label)}_pct", _pct(row.share, 1))
    ctx.value("members_min", int(members.min()))
    ctx.value("members_max", int(members.max()))
    ctx.figure(9, fig, table.drop(columns="colour"), n=len(members),
               alt="Säulendiagramm der Clustergröße in Mitgliedsorganisationen, fünf Größenklassen von "
                   f"{MEMBER_BANDS[0][2]} bis {MEMBER_BANDS[-1][2]}.")


def abb10(ctx: Context) -> None:
    """Abb. 10: legal form of the cluster (management)."""
    freq, _, _ = _frequency(ctx, "D7")
    table = _single_colour(freq)
    fig = _bar_figure(table, horizontal=True)
    _store_shares(ctx, "legal_form", freq)
    ctx.figure(10, fig, freq, n=int(freq["n"].sum()),
               alt="Balkendiagramm der Rechtsformen: " + "; ".join(
                   f"{r.label} {plots.format_percent(r.share)}" for r in freq.itertuples()) + ".")


def abb11(ctx: Context) -> None:
    """Abb. 11: estimated share of member companies hit by the crisis, with the group bands marked."""
    q = ctx.codebook.question("A3")
    column = "A3_companies"
    values = _numeric(ctx.data, column)
    dist = descriptives.distribution(ctx.data, [column], scale_min=q.scale.min, scale_max=q.scale.max,
                                     step=q.scale.step)
    points = dist["value"].tolist()
    grouping = ctx.grouping("affectedness")
    low, high = ctx.params.affectedness_low_max, ctx.params.affectedness_high_min
    names = [str(c) for c in grouping.cat.categories]
    describe = {names[0]: f"{names[0]} (bis {plots.format_number(low)} %)",
                names[1]: f"{names[1]} (ab {plots.format_number(high)} %)",
                OUTSIDE: "dazwischen (nicht verglichen)"}
    base = dist.assign(label=[f"{plots.format_number(v)} %" for v in points])[["value", "label", "n", "share"]]
    table, legend = _grouped(base, _group_per_code(values, grouping, points), grouping, describe)
    fig = _bar_figure(table, horizontal=False, xlabel="Anteil negativ betroffener Unternehmen im Cluster",
                      legend=legend)
    ctx.value("affectedness_low_max", low)
    ctx.value("affectedness_high_min", high)
    ctx.value("affectedness_low_n", int((values <= low).sum()))
    ctx.value("affectedness_high_n", int((values >= high).sum()))
    ctx.value("affectedness_middle_n", int(((values > low) & (values < high)).sum()))
    ctx.figure(11, fig, table.drop(columns="colour"), n=int(values.notna().sum()),
               alt="Säulendiagramm der geschätzten Anteile betroffener Unternehmen von 0 bis 100 % in "
                   "Zehnerschritten; gering und stark betroffene Cluster in zwei Gelbtönen, die Mitte grau.")


# --------------------------------------------------------------------------------------------------
# 6.2 respondents


def _coded_figure(ctx: Context, question: str, number: int, grouping: str | None, *, horizontal: bool,
                  xlabel: str | None, alt: str, labels: dict | None = None) -> pd.DataFrame:
    """Share per answer code of a one-column question, shaded by comparison group when given."""
    freq, values, codes = _frequency(ctx, question)
    if labels:
        freq = freq.assign(label=[labels.get(c, str(c)) for c in codes])
    if grouping is None:
        table, legend = _single_colour(freq), None
    else:
        g = ctx.grouping(grouping)
        table, legend = _grouped(freq, _group_per_code(values, g, codes), g)
    fig = _bar_figure(table, horizontal=horizontal, xlabel=xlabel, legend=legend)
    ctx.figure(number, fig, table.drop(columns="colour"), n=int(freq["n"].sum()), alt=alt)
    return table


def abb12(ctx: Context) -> None:
    """Abb. 12: gender of the respondents."""
    table = _coded_figure(ctx, "D8", 12, "gender", horizontal=False, xlabel=None,
                          alt="Säulendiagramm der Geschlechterverteilung der Befragten.")
    _store_shares(ctx, "gender", table)
    sizes = ctx.grouping("gender").value_counts()
    ctx.value("gender_ratio", round(float(sizes.min() / sizes.max()), 2))


def abb13(ctx: Context) -> None:
    """Abb. 13: age bands, shaded by the younger/older comparison groups (cut = ``age_cut``)."""
    table = _coded_figure(ctx, "D9", 13, "age", horizontal=False, xlabel="Alter",
                          alt=f"Säulendiagramm der Altersgruppen, bis und über {ctx.params.age_cut} Jahre "
                              "in zwei Gelbtönen.")
    shares = ctx.grouping("age").value_counts(normalize=True, sort=False)
    ctx.value("age_cut", ctx.params.age_cut)
    ctx.value("age_young_label", str(shares.index[0]))
    ctx.value("age_old_label", str(shares.index[1]))
    ctx.value("age_young_pct", _pct(shares.iloc[0]))
    ctx.value("age_old_pct", _pct(shares.iloc[1]))
    present = table.loc[table["n"] > 0]
    ctx.value("age_youngest_band", str(present["label"].iloc[0]))
    ctx.value("age_oldest_band", str(present["label"].iloc[-1]))
    top = table.sort_values("n", ascending=False, kind="mergesort")["label"].iloc[:2]
    ctx.value("age_largest_bands", " und ".join(top))


def abb14(ctx: Context) -> None:
    """Abb. 14: years of experience in cluster management (slider 1..5, end labels from the codebook)."""
    q = ctx.codebook.question("D10")
    column = q.columns[0]
    dist = descriptives.distribution(ctx.data, [column], scale_min=q.scale.min, scale_max=q.scale.max)
    freq = dist.assign(label=[q.scale.labels.get(int(v), plots.format_number(v)) for v in dist["value"]])
    table = _single_colour(freq[["value", "label", "n", "share"]])
    fig = _bar_figure(table, horizontal=False, xlabel="Erfahrung im Clustermanagement")
    top = table.loc[table["n"].idxmax()]
    ctx.value("experience_top_label", str(top["label"]))
    ctx.value("experience_top_pct", _pct(top["share"]))
    ctx.value("experience_max_pct", _pct(table["share"].iloc[-1]))
    ctx.figure(14, fig, table.drop(columns="colour"), n=int(table["n"].sum()),
               alt="Säulendiagramm der Erfahrung im Clustermanagement von "
                   f"{table['label'].iloc[0]} bis {table['label'].iloc[-1]}.")


def abb15(ctx: Context) -> None:
    """Abb. 15: tasks of the respondents (multiple choice) and how many tasks each named."""
    out = _multiple_choice(ctx, "D11", 15, nouns=("eine Aufgabe", "mehr als eine Aufgabe", "keine Aufgabe"),
                           alt="Balkendiagramm der Aufgaben im Clustermanagement nach Anteil der Befragten, darunter "
                               "die Anteile mit einer und mit mehreren Aufgaben.")
    split = out["split"].set_index("value")["n"]
    ctx.value("tasks_one_n", int(split["1"]))
    ctx.value("tasks_more_n", int(split[">1"]))
    ctx.value("tasks_top", str(out["shares"]["item_label"].iloc[0]))
    frame = ctx.answered("D11")
    n_tasks = frame[ctx.codebook.items_of("D11")].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    staff = _numeric(frame, "D5_staff")
    many = n_tasks > 5
    ctx.value("tasks_many_max_staff", int(staff[many].max()) if staff[many].notna().any() else None)
    ok = staff.notna()
    ctx.value("tasks_staff_spearman", round(float(n_tasks[ok].corr(staff[ok], method="spearman")), 2))


# --------------------------------------------------------------------------------------------------
# 6.3 comparison groups


def tab04(ctx: Context) -> None:
    """Tab. 4: the comparison groups with the thresholds in force and the resulting group sizes."""
    desc = groups.groupings_table(**ctx.params.group_params)
    sizes, left = [], []
    for key, part in desc.groupby("key", sort=False):
        series = ctx.groups[key]
        counts = series.value_counts(sort=False)
        for pos, label in enumerate(part["Einteilung"], start=1):
            if label not in counts.index:
                raise ValueError(f"Tab. 4: group {label!r} of {key} is missing from the grouping in use")
            sizes.append(int(counts[label]))
            ctx.value(f"n_{key}_{pos}", int(counts[label]))
        left.append(int(series.isna().sum()))
    desc = desc.assign(n=sizes)
    not_placed = dict(zip(desc["key"].drop_duplicates(), left))
    # The question id in brackets keeps the table narrow; Tab. 2 gives each question's wording.
    shown = pd.DataFrame({
        "Merkmal (Frage)": (desc["Merkmal"] + " (" + desc["Grundlage"] + ")").where(~desc["key"].duplicated(), ""),
        "Einteilung": desc["Einteilung"],
        "Ausprägung": desc["Ausprägung"],
        "n": desc["n"].astype(str),
        "nicht zugeordnet": desc["key"].map(not_placed).astype(str).where(~desc["key"].duplicated(), ""),
    })
    ctx.table(4, shown, n=len(ctx.data), data=desc.assign(not_placed=desc["key"].map(not_placed)))

"""Chapter 10 (Implikationen): the survey results the implications lean on, condensed into key figures.

The study's chapters 10 and 11 have no numbered figures; the figures here are our own summaries
(labels ``fig-ch10-N``, files ``ch10-N.*``). They answer three questions the implications raise:

* Do mostly institutionally financed cluster managements help more often? (B1, every support
  item, Mann-Whitney U at ``ctx.alpha``)
* Do larger offices help more often? (B1 by office size)
* How many respondents report innovations (C1) and more cooperation, between cluster managements
  (B4) and inside the cluster (C3)?

Which group counts as "institutional" or "larger" is read from the data (the group with the higher
institutional share or staff mean), and "more cooperation" means a scale point above the one the
codebook labels "unverändert", so no group name or scale point is typed here.
"""

from __future__ import annotations

import pandas as pd

from .. import descriptives, plots
from .context import Context

NEUTRAL_LABEL = "unverändert"

# grouping -> column whose higher group mean marks the group the implications speak for
_FAVOURED_BY = {"financing": "D4_institutionell", "office_size": "D5_staff"}


# --------------------------------------------------------------------------------------------------
# output helpers (also used by ch11): our own figures/tables are not numbered like the study's


def own_figure(ctx: Context, key: str, fig, data: pd.DataFrame, *, alt: str, n: int | None = None,
               utest: pd.DataFrame | None = None) -> None:
    """Save an added figure as ``<key>.svg|png|csv`` (e.g. ``ch10-1``) and display it for embedding."""
    from IPython.display import SVG, display

    stem = ctx.out / key
    if n is not None:
        fig.text(0.99, 0.005, f"N = {n}", ha="right", va="bottom", fontsize=8, color="#555555")
        ctx.value(f"{key.replace('-', '_')}_n", n)
    svg, _png = plots.save_figure(fig, stem, alt_text=alt)
    ctx._write_csv(stem.with_suffix(".csv"), data, utest)
    ctx.produced.append(key)
    display(SVG(filename=str(svg)))


def own_table(ctx: Context, key: str, shown: pd.DataFrame, *, data: pd.DataFrame) -> None:
    """Save an added table as ``<key>.csv`` (tidy values) and display it as Markdown."""
    from IPython.display import Markdown, display

    from .context import markdown_table

    ctx._write_csv((ctx.out / key).with_suffix(".csv"), data, None)
    ctx.produced.append(key)
    display(Markdown(markdown_table(shown)))


def pct(share: float) -> int | None:
    """A share as whole percent for the prose (the study prints whole percentages)."""
    return None if pd.isna(share) else int(round(100 * share))


# --------------------------------------------------------------------------------------------------
# computations


def favoured_group(ctx: Context, grouping: str) -> str:
    """The group of ``grouping`` with the higher mean of its defining column (e.g. more staff)."""
    groups = ctx.grouping(grouping)
    values = pd.to_numeric(ctx.data[_FAVOURED_BY[grouping]], errors="coerce")
    means = values.groupby(groups, observed=True).mean()
    return str(means.idxmax())


def b1_comparison(ctx: Context, grouping: str) -> pd.DataFrame:
    """U-test rows of all B1 items for one grouping, with which group has the higher mean."""
    ut = ctx.utest("B1", grouping).reset_index(drop=True)
    favoured = favoured_group(ctx, grouping)
    higher = ut["group_1"].where(ut["mean_1"] > ut["mean_2"], ut["group_2"])
    higher = higher.where(ut["mean_1"] != ut["mean_2"]).where(ut[["mean_1", "mean_2"]].notna().all(axis=1))
    ut["higher_group"] = higher
    ut["favours"] = (higher == favoured)
    ut["favoured_group"] = favoured
    ut["alpha"] = ctx.alpha
    return ut


def comparison_counts(ut: pd.DataFrame) -> dict[str, int]:
    """How many items lean towards the favoured group, are significant, and both."""
    sig = ut["significant"].astype("boolean").fillna(False).astype(bool)
    against = ut["higher_group"].notna() & ~ut["favours"]
    return {
        "n_items": int(len(ut)),
        "n_favour": int(ut["favours"].sum()),
        "n_sig": int(sig.sum()),
        "n_sig_favour": int((sig & ut["favours"]).sum()),
        "n_sig_against": int((sig & against).sum()),
    }


def _scale_above_neutral(ctx: Context, question: str) -> list[int]:
    scale = ctx.codebook.question(question).scale
    neutral = [code for code, label in scale.labels.items() if label == NEUTRAL_LABEL]
    if len(neutral) != 1:
        raise ValueError(f"scale of {question} has no single point labelled {NEUTRAL_LABEL!r}: {scale.labels}")
    return list(range(neutral[0] + 1, int(scale.max) + 1))


def _share_of(values: pd.Series, hits: list[int]) -> tuple[int, int, float]:
    answered = pd.to_numeric(values, errors="coerce").dropna()
    n = int(len(answered))
    n_hit = int(answered.isin(hits).sum())
    return n, n_hit, (n_hit / n if n else float("nan"))


def more_cooperation(ctx: Context, question: str) -> tuple[int, int, float]:
    """(N, n above "unverändert", share) for a single-column cooperation question (B4, C3).

    Special answers such as "keine Kooperation" stay in the base: they are answers, and the study
    reports its shares on everyone who answered.
    """
    (column,) = ctx.codebook.question(question).columns
    return _share_of(ctx.data[column], _scale_above_neutral(ctx, question))


def any_innovation(ctx: Context) -> tuple[int, int, float]:
    """(N, n naming at least one C1 area, share) among those who answered C1."""
    answered = ctx.answered("C1")
    items = ctx.codebook.items_of("C1")
    n = int(len(answered))
    n_hit = int((answered[items] == 1).any(axis=1).sum())
    return n, n_hit, (n_hit / n if n else float("nan"))


def activity_shares(ctx: Context) -> pd.DataFrame:
    """The three shares of fig-ch10-3 as a tidy table: key, question, label, n, n_yes, share."""
    rows = []
    for key, question, label, (n, n_yes, share) in (
        ("innovation_any", "C1", "Innovationen in mindestens einem Bereich", any_innovation(ctx)),
        ("coop_clusters_more", "B4", "Intensivere Zusammenarbeit mit anderen Clustermanagements", more_cooperation(ctx, "B4")),
        ("coop_cluster_stronger", "C3", "Stärkere Zusammenarbeit im Cluster", more_cooperation(ctx, "C3")),
    ):
        rows.append({"key": key, "question": question, "label": f"{label} (N\u00a0=\u00a0{n})", "n": n,
                     "n_yes": n_yes, "share": share})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# figures


def _b1_dumbbell(ctx: Context, grouping: str, key: str, prefix: str, alt: str) -> dict[str, int]:
    ut = b1_comparison(ctx, grouping)
    counts = comparison_counts(ut)
    for name, value in counts.items():
        ctx.value(f"{prefix}_{name}", value)
    summary = descriptives.describe_items(
        ctx.data, list(ut["item"]), special_codes=ctx.special("B1"), item_labels=ctx.labels("B1")
    )
    # Ranked by the overall mean (most frequent help on top) so the line of overall means is monotone.
    summary = summary.sort_values("mean", ascending=False, kind="mergesort").reset_index(drop=True)
    scale = ctx.codebook.question("B1").scale
    fig = plots.dot_plot_means(
        summary, utest=ut, colour="groups", alpha=ctx.alpha,
        xlim=(scale.min - 0.5, scale.max + 0.5), xlabel=f"Mittelwert ({scale.labels[scale.min]} … {scale.labels[scale.max]})",
    )
    own_figure(ctx, key, fig, summary, alt=alt.format(**counts), n=ctx.n("B1"), utest=ut)
    return counts


def fig1_financing(ctx: Context) -> dict[str, int]:
    """fig-ch10-1: B1 group means, mostly institutional vs other financing; grey where not significant."""
    return _b1_dumbbell(
        ctx, "financing", "ch10-1", "financing",
        alt="Punktdiagramm: für jede der {n_items} Unterstützungsleistungen der Mittelwert der überwiegend "
            "institutionell finanzierten und der sonstig finanzierten Clustermanagements; "
            "nicht signifikante Unterschiede grau.",
    )


def fig2_size(ctx: Context) -> dict[str, int]:
    """fig-ch10-2: B1 group means, small vs large offices; grey where not significant."""
    return _b1_dumbbell(
        ctx, "office_size", "ch10-2", "size",
        alt="Punktdiagramm: für jede der {n_items} Unterstützungsleistungen der Mittelwert kleiner und großer "
            "Clustermanagements; nicht signifikante Unterschiede grau.",
    )


def fig3_innovation_cooperation(ctx: Context) -> pd.DataFrame:
    """fig-ch10-3: shares reporting innovations (C1), more cross-cluster (B4) and in-cluster (C3) cooperation."""
    shares = activity_shares(ctx)
    for row in shares.itertuples():
        ctx.value(f"{row.key}_pct", pct(row.share))
        ctx.value(f"{row.key}_n", row.n)
    ctx.value("alpha_pct", pct(ctx.alpha))
    fig = plots.share_bars(shares, colour="ch09", xlabel="Anteil der Antwortenden")
    own_figure(
        ctx, "ch10-3", fig, shares,
        alt="Balkendiagramm: Anteil der Befragten, die Innovationen aus der Krise nennen, die enger mit "
            "anderen Clustermanagements zusammenarbeiten und deren Zusammenarbeit im Cluster stärker wurde.",
    )
    return shares

"""House style and chart functions for the figures of the book.

Every chart function takes a tidy pandas table (as built by ``clusterkrise.descriptives`` or
``clusterkrise.utests.compare_groups``) and returns a :class:`matplotlib.figure.Figure`. Figures are
created with ``Figure()`` directly rather than through ``pyplot`` so notebooks do not accumulate open
figures and the result does not depend on the active backend.

Conventions
-----------
* Colours follow the blocks of the study: comparison groups yellow, chapter 7 red, chapter 8 blue,
  chapter 9 violet; group differences that are not significant are drawn in neutral grey.
* Shares are fractions in ``[0, 1]``; tick and bar labels show them as German percentages ("41 %").
* Labels are German, numbers use a decimal comma and a real minus sign.
* Text is rendered with DejaVu Sans from matplotlib's own ``mpl-data`` folder, never a system font.

Output format decision (``svg.fonttype = "none"``): text stays text in the SVG, naming DejaVu Sans.
Typst draws it with the DejaVu Sans it is given (the font of matplotlib's wheel, see
``clusterkrise.render.book.font_dirs``) and the HTML edition ships the same font file with an
``@font-face`` rule, so the figure looks the same in both and its labels can be searched, selected
and read out in the browser. The same data give the same bytes. The alternative text passed to
:func:`save_figure` is stored in the SVG metadata and belongs next to the figure in the book.
"""

from __future__ import annotations


import contextlib
import math
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.colors as mcolors
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd

from matplotlib import font_manager, ticker
from matplotlib.backends.backend_svg import FigureCanvasSVG  # every saved figure is laid out and drawn with it
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import formatting as fmt
from .timing import timed

__all__ = [
    "BLOCK_COLOURS",
    "BLOCK_SHADES",
    "FIG_WIDTH_IN",
    "GermanFormatter",
    "HOUSE_RC",
    "NO_DATA_TEXT",
    "NOT_SIGNIFICANT_TEXT",
    "OUTSIDE_KEY",
    "block_shades",
    "distribution_grid",
    "diverging_bars",
    "dot_plot_means",
    "format_number",
    "format_percent",
    "grouped_bars",
    "lead_counts",
    "house_font_path",
    "save_figure",
    "share_bars",
    "stacked_share_bars",
    "theme_bars",
    "use_house_style",
    "yes_no_bars",
]

# --------------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------------

#: Main colour per block of the study; "grey" marks non-significant differences and special answers.
BLOCK_COLOURS: dict[str, str] = {
    "groups": "#E3A21A",  # Vergleichsgruppen (ch. 6.3), yellow
    "ch07": "#C0392B",  # chapter 7, red
    "ch08": "#2463A8",  # chapter 8, blue
    "ch09": "#7D3C98",  # chapter 9, violet
    "grey": "#9A9A9A",
}

#: (light, dark) shade per block, used for the two groups of a comparison (group_1 light, group_2 dark).
BLOCK_SHADES: dict[str, tuple[str, str]] = {
    "groups": ("#F5D27F", "#B07A00"),
    "ch07": ("#EDA197", "#922B21"),
    "ch08": ("#9CC0E8", "#17457A"),
    "ch09": ("#CDA8DE", "#552170"),
    "grey": ("#D0D0D0", "#7A7A7A"),
}

NO_DATA_TEXT = "keine Daten"
NOT_SIGNIFICANT_TEXT = "nicht signifikant"
# The key of grey bars in a chart of categories shaded by comparison group. It names what the grey
# means for the comparison, so it never reads as a property of the category ("divers" is not
# "nicht zugeordnet"; it is too rare to be compared).
OUTSIDE_KEY = "in keiner Vergleichsgruppe"

#: One A4 text column is about 16 cm wide.
FIG_WIDTH_IN = 16 / 2.54
_WRAP = 42  # characters per line of an item label at the house font size


def _resolve_colour(colour: str) -> tuple[str, str, str]:
    """Return (main, light, dark) for a block key or any matplotlib colour."""
    if colour in BLOCK_COLOURS:
        light, dark = BLOCK_SHADES[colour]
        return BLOCK_COLOURS[colour], light, dark
    if isinstance(colour, str) and mcolors.is_color_like(colour):
        main = mcolors.to_hex(colour)
        return main, _blend(main, 0.55), _blend(main, -0.35)
    raise ValueError(
        f"unknown colour {colour!r}: use one of {sorted(BLOCK_COLOURS)} or a matplotlib colour"
    )


def block_shades(colour: str) -> tuple[str, str]:
    """(light, dark) shade of a block key or colour, for two-group comparisons."""
    _, light, dark = _resolve_colour(colour)
    return light, dark


def _blend(colour: str, amount: float) -> str:
    """Mix towards white (amount > 0) or black (amount < 0)."""
    rgb = np.array(mcolors.to_rgb(colour))
    target = np.ones(3) if amount > 0 else np.zeros(3)
    return mcolors.to_hex(rgb + (target - rgb) * abs(amount))


def _ramp(colour: str, k: int) -> list[str]:
    """k shades of one colour from dark to light, for ordered categories."""
    _, light, dark = _resolve_colour(colour)
    if k == 1:
        return [_resolve_colour(colour)[0]]
    cmap = mcolors.LinearSegmentedColormap.from_list("ramp", [dark, _blend(light, 0.35)])
    return [mcolors.to_hex(cmap(i / (k - 1))) for i in range(k)]


def _text_colour_on(face: str) -> str:
    r, g, b = mcolors.to_rgb(face)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.55 else "white"


# --------------------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------------------


def house_font_path() -> Path:
    """DejaVu Sans as shipped inside matplotlib (independent of the fonts of the machine)."""
    return Path(mpl.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


HOUSE_RC: dict[str, object] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.6,
    "axes.grid": False,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.5,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.unicode_minus": True,
    "axes.formatter.use_locale": False,  # the decimal comma comes from GermanFormatter, not the OS
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.facecolor": "white",
    "svg.fonttype": "none",  # real text (see the module docstring); DejaVu Sans is shipped with the book
    "svg.hashsalt": "clusterkrise",  # fixed ids in the SVG instead of random ones
    "svg.image_inline": True,
    "path.simplify": True,
    "image.interpolation": "antialiased",
}


@contextlib.contextmanager
def use_house_style() -> Iterator[None]:
    """Apply the house rc parameters inside a ``with`` block (all chart functions use it)."""
    with mpl.rc_context(HOUSE_RC):
        yield


def _new_figure(height_in: float, **kwargs) -> Figure:
    return Figure(figsize=(FIG_WIDTH_IN, height_in), layout="constrained", **kwargs)


def _height_for(n_rows: int, per_row: float = 0.30, extra: float = 0.9) -> float:
    return max(1.8, extra + per_row * n_rows)


# --------------------------------------------------------------------------------------------------
# German number formatting
# --------------------------------------------------------------------------------------------------


def format_number(x: float, decimals: int = 0) -> str:
    """German notation with the book's one rounding rule (:func:`clusterkrise.formatting.number`)."""
    return fmt.number(x, decimals)


def format_percent(share: float, decimals: int = 0) -> str:
    """A fraction as German percentage, e.g. ``0.41 -> "41 %"`` (same rounding as the prose)."""
    return f"{fmt.percent(share, decimals)} %"


class GermanFormatter(ticker.Formatter):
    """Tick labels with decimal comma; ``percent=True`` shows fractions as "40 %".

    The number of decimals is the smallest that tells the visible ticks apart, so an axis with
    ticks 1, 2, 3 has no decimals and one with 0.5 steps gets one.
    """

    def __init__(self, percent: bool = False, decimals: int | None = None, absolute: bool = False):
        self.percent = percent
        self.decimals = decimals
        self.absolute = absolute  # diverging bars show shares left of zero as positive percentages

    def set_locs(self, locs):
        # kept under our own name: Formatter.locs is deprecated since matplotlib 3.11
        self._tick_values = list(locs)
        self._decimals_for_locs = None  # worked out once per set of ticks, not once per label
        super().set_locs(locs)

    def _needed_decimals(self) -> int:
        if getattr(self, "_decimals_for_locs", None) is not None:
            return self._decimals_for_locs
        factor = 100 if self.percent else 1
        locs = [v * factor for v in getattr(self, "_tick_values", [])]
        needed = next((d for d in range(4) if all(abs(v - round(v, d)) < 1e-9 for v in locs)), 3)
        self._decimals_for_locs = needed
        return needed

    def __call__(self, x, pos=None):
        if self.absolute:
            x = abs(x)
        d = self.decimals if self.decimals is not None else self._needed_decimals()
        return format_percent(x, d) if self.percent else format_number(x, d)


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def _is_empty(table) -> bool:
    return table is None or len(table) == 0


def _require_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {missing}; present are {list(table.columns)}"
        )


def _check_shares(values: pd.Series, what: str) -> None:
    bad = values[(values < -1e-9) | (values > 1 + 1e-9)]
    if len(bad):
        raise ValueError(
            f"{what}: shares must be fractions between 0 and 1, got {bad.tolist()[:5]} "
            f"(rows {list(bad.index)[:5]})"
        )


def _labels(table: pd.DataFrame) -> list[str]:
    """Item labels (falling back to the item id), wrapped to fit next to the plot."""
    if "item_label" in table.columns:
        raw = table["item_label"].where(table["item_label"].notna(), table.get("item"))
    else:
        raw = table["item"]
    return [_wrap(str(v)) for v in raw]


_LINE_IN = 8 * 1.2 / 72  # height of one line of a tick label (8 pt) in inches


def _row_span(label: str, per_row: float) -> float:
    """Height (inches) a row needs: ``per_row``, or more when its wrapped label has more lines."""
    return max(per_row, (label.count("\n") + 1) * _LINE_IN + 0.1)


def _row_positions(labels: Sequence[str], *, per_row: float) -> tuple[np.ndarray, float]:
    """Row centres in inches from the top edge, each row as tall as its label needs, and the total height.

    Rows of one-line labels keep the regular spacing; a label wrapped to three lines gets the room it
    takes, so it never runs into the label above or below.
    """
    spans = np.array([_row_span(label, per_row) for label in labels], dtype=float)
    return np.cumsum(spans) - spans / 2, float(spans.sum())


def _wrap(text: str, width: int = _WRAP) -> str:
    return textwrap.fill(text, width=width, break_long_words=False, break_on_hyphens=True)


def _significance(utest: pd.DataFrame) -> pd.Series:
    """Boolean per row; a test that did not run (NaN p) counts as not significant."""
    _require_columns(utest, ["significant"], "U-test table")
    sig = utest["significant"]
    return sig.astype("boolean").fillna(False).astype(bool)


def _alpha_of(utest: pd.DataFrame, alpha: float | None) -> float | None:
    if alpha is not None:
        return float(alpha)
    if "alpha" in utest.columns:
        values = pd.unique(utest["alpha"].dropna())
        if len(values) > 1:
            raise ValueError(f"U-test table mixes several alpha levels: {sorted(values)}")
        if len(values) == 1:
            return float(values[0])
    if "alpha" in utest.attrs:
        return float(utest.attrs["alpha"])
    return None


def _checked_alpha(utest: pd.DataFrame, alpha: float | None) -> float | None:
    """The alpha for the legend, refused when the table's ``significant`` column contradicts it."""
    alpha = _alpha_of(utest, alpha)
    if alpha is None or "p" not in utest.columns:
        return alpha
    p = pd.to_numeric(utest["p"], errors="coerce")
    sig = _significance(utest)
    wrong = utest.loc[p.notna() & (sig != (p <= alpha)), "item"] if "item" in utest else []
    if len(wrong):
        raise ValueError(
            f"alpha {alpha} does not match the column 'significant' for item(s) {list(wrong)[:5]}"
        )
    return alpha


def _not_significant_label(alpha: float | None) -> str:
    if alpha is None:
        return NOT_SIGNIFICANT_TEXT
    # at least two decimals, the way significance levels are usually written ("0,10", "0,05")
    return f"{NOT_SIGNIFICANT_TEXT} (p > {format_number(alpha, max(2, _decimals_of(alpha)))})"


def _decimals_of(x: float) -> int:
    for d in range(6):
        if abs(x - round(x, d)) < 1e-12:
            return d
    return 6


def _single_grouping(utest: pd.DataFrame) -> pd.DataFrame:
    if "grouping" in utest.columns and utest["grouping"].nunique(dropna=True) > 1:
        raise ValueError(
            "U-test table holds several groupings "
            f"{sorted(utest['grouping'].dropna().unique())}; pass the rows of one grouping"
        )
    if "item" in utest.columns and utest["item"].duplicated().any():
        dup = utest.loc[utest["item"].duplicated(), "item"].tolist()
        raise ValueError(f"U-test table has more than one row for item(s) {dup}")
    return utest


def _group_names(utest: pd.DataFrame, group_labels: Sequence[str] | None) -> tuple[str, str]:
    if group_labels is not None:
        if len(group_labels) != 2:
            raise ValueError(f"group_labels needs two entries, got {list(group_labels)}")
        return str(group_labels[0]), str(group_labels[1])
    _require_columns(utest, ["group_1", "group_2"], "U-test table")
    names = []
    for col in ("group_1", "group_2"):
        values = pd.unique(utest[col].dropna())
        if len(values) != 1:
            raise ValueError(
                f"U-test table: column {col} should name one group, found {list(values)}; "
                "pass group_labels"
            )
        names.append(str(values[0]))
    return names[0], names[1]


# --------------------------------------------------------------------------------------------------
# Common pieces
# --------------------------------------------------------------------------------------------------


def _no_data_figure(note: str = NO_DATA_TEXT) -> Figure:
    fig = _new_figure(1.6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=10, color="#555555",
            transform=ax.transAxes)
    return fig


def _bar_labels(ax, bars, values, *, min_share: float = 0.0, inside: bool = False,
                decimals: int = 0, colours: Sequence[str] | None = None) -> None:
    """Percent labels at the end of (or inside) horizontal bars."""
    for i, (bar, v) in enumerate(zip(bars, values)):
        if v is None or not np.isfinite(v) or v < min_share:
            continue
        if inside:
            x = bar.get_x() + bar.get_width() / 2
            colour = _text_colour_on(colours[i]) if colours else "black"
            text = ax.text(x, bar.get_y() + bar.get_height() / 2, format_percent(v, decimals),
                           ha="center", va="center", fontsize=7, color=colour)
            # Whether the label fits its segment is known only once the figure is laid out;
            # save_figure drops the ones that would spill into the neighbouring segment. A label that stays
            # lies inside its bar, so it needs no room of its own: the layout leaves it out (and need not be
            # run again when a label goes).
            text.set_in_layout(False)
            ax.__dict__.setdefault("_inside_labels", []).append((text, bar))
        else:
            ax.text(bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    " " + format_percent(v, decimals), ha="left", va="center", fontsize=7.5)


# --------------------------------------------------------------------------------------------------
# Chart functions
# --------------------------------------------------------------------------------------------------


def dot_plot_means(
    summary: pd.DataFrame,
    *,
    utest: pd.DataFrame | None = None,
    colour: str = "ch07",
    xlim: tuple[float, float] | None = None,
    group_labels: Sequence[str] | None = None,
    alpha: float | None = None,
    xlabel: str = "Mittelwert",
) -> Figure:
    """Mean per item as dots joined by a line, items top to bottom in table order.

    With ``utest`` (rows of one grouping from ``compare_groups``) each item also gets the two group
    means ``mean_1``/``mean_2``; where the difference is not significant those markers are grey.
    The legend states the alpha of the table (column ``alpha`` or ``utest.attrs["alpha"]``) unless
    ``alpha`` is given.
    """
    with use_house_style():
        if _is_empty(summary):
            return _no_data_figure()
        _require_columns(summary, ["item", "mean"], "summary table")
        means = pd.to_numeric(summary["mean"], errors="raise").to_numpy(dtype=float)
        if np.isnan(means).all():
            return _no_data_figure()
        main, light, dark = _resolve_colour(colour)
        grey_light, grey_dark = BLOCK_SHADES["grey"]
        labels = _labels(summary)
        y, span = _row_positions(labels, per_row=0.34)

        fig = _new_figure(max(1.8, 0.9 + span))
        ax = fig.add_subplot()
        ax.grid(axis="x")
        ax.set_axisbelow(True)

        handles = []
        plotted = [means]
        if utest is not None and not _is_empty(utest):
            _require_columns(utest, ["item", "mean_1", "mean_2", "significant"], "U-test table")
            ut = _single_grouping(utest).set_index("item")
            unknown = sorted(set(ut.index) - set(summary["item"]))
            if unknown:
                raise ValueError(f"U-test table has items not in the summary table: {unknown}")
            ut = ut.reindex(summary["item"])
            sig = _significance(ut.reset_index()).to_numpy()
            m1 = ut["mean_1"].to_numpy(dtype=float)
            m2 = ut["mean_2"].to_numpy(dtype=float)
            plotted += [m1, m2]
            name_1, name_2 = _group_names(utest, group_labels)
            # per row: a line between the two group means, a triangle (group 1) and a square (group 2), in the
            # block's shades where the difference is significant, else grey; one collection each, in row order
            # (an artist per row and marker made these charts slow to build and to draw)
            lights = [light if s else grey_light for s in sig]
            darks = [dark if s else grey_dark for s in sig]
            ax.hlines(y, m1, m2, colors=darks, lw=1.2, alpha=0.6, zorder=2, capstyle="butt")
            ax.scatter(m1, y, marker="v", s=34, facecolors=lights, edgecolors=darks, linewidth=0.6, zorder=3,
                       gid="group1")
            ax.scatter(m2, y, marker="s", s=26, facecolors=darks, edgecolors=darks, zorder=3, gid="group2")
            handles += [
                Line2D([], [], ls="", marker="v", ms=6, color=light, mec=dark, label=name_1),
                Line2D([], [], ls="", marker="s", ms=5, color=dark, label=name_2),
            ]
            # the grey key only where a grey marker is drawn
            if not all(sig):
                handles.append(Line2D([], [], ls="", marker="s", ms=5, color=grey_dark,
                                      label=_not_significant_label(_checked_alpha(utest, alpha))))

        ax.plot(means, y, color=main, lw=1.4, zorder=4)
        ax.scatter(means, y, s=30, color=main, edgecolor="white", linewidth=0.6, zorder=5)
        handles.insert(0, Line2D([], [], color=main, marker="o", ms=5, mec="white",
                                 label="Mittelwert gesamt"))

        ax.set_yticks(y, labels)
        ax.set_ylim(span, 0)
        if xlim is None:
            finite = np.concatenate([a[np.isfinite(a)] for a in plotted])
            xlim = (math.floor(finite.min()) - 0.5, math.ceil(finite.max()) + 0.5)
        ax.set_xlim(*xlim)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=10, integer=True))
        ax.xaxis.set_major_formatter(GermanFormatter())
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
        return fig


def lead_counts(
    table: pd.DataFrame,
    *,
    colour: str = "groups",
    alpha: float | None = None,
    xlabel: str = "Anzahl der Items, bei denen die Gruppe den höheren Mittelwert hat",
) -> Figure:
    """How many items each group of a comparison leads on, significant leads dark, the rest light.

    ``table`` has one row per group: ``comparison`` (the heading of its panel, rows of one
    comparison together), ``group``, ``n_sig`` and ``n_not_sig`` (items where this group has the
    higher mean, with and without a significant U-test) and ``n_items`` (items compared). It sums up
    what a dot plot of many items shows item by item: which group is ahead how often.
    """
    _require_columns(table, ["comparison", "group", "n_sig", "n_not_sig", "n_items"], "lead_counts")
    with use_house_style():
        if _is_empty(table):
            return _no_data_figure()
        _, light, dark = _resolve_colour(colour)
        comparisons = list(dict.fromkeys(table["comparison"]))
        rows = [table.loc[table["comparison"] == c].reset_index(drop=True) for c in comparisons]
        fig = _new_figure(0.9 + sum(0.34 * len(r) + 0.3 for r in rows))
        axes = fig.subplots(len(rows), 1, sharex=True, height_ratios=[len(r) for r in rows], squeeze=False)[:, 0]
        top = int(table["n_items"].max())
        for ax, (comparison, part) in zip(axes, zip(comparisons, rows)):
            y = np.arange(len(part))
            sig = part["n_sig"].to_numpy(dtype=float)
            rest = part["n_not_sig"].to_numpy(dtype=float)
            ax.barh(y, sig, height=0.6, color=dark, gid="significant")
            ax.barh(y, rest, left=sig, height=0.6, color=light, gid="not-significant")
            for yi, r in zip(y, part.itertuples()):
                ax.annotate(_lead_text(int(r.n_sig), int(r.n_sig + r.n_not_sig)), (r.n_sig + r.n_not_sig, yi),
                            xytext=(4, 0), textcoords="offset points", ha="left", va="center", fontsize=7.5,
                            zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
            # how many items were compared: a dashed line at that count (key in the legend)
            ax.axvline(int(part["n_items"].max()), color="#777777", lw=0.8, ls=(0, (3, 2)), zorder=1)
            ax.set_yticks(y, [_wrap(str(g), 30) for g in part["group"]])
            ax.set_ylim(len(y) - 0.5, -0.5)
            ax.tick_params(axis="y", length=0)
            ax.set_title(str(comparison), loc="left", fontsize=8.5, fontweight="bold")
            ax.grid(axis="x")
            ax.set_axisbelow(True)
        axes[-1].set_xlim(0, top * 1.45)
        # ticks up to the number of items only: beyond it a count cannot go
        ticks = [t for t in ticker.MaxNLocator(integer=True, nbins=6).tick_values(0, top) if 0 <= t <= top]
        axes[-1].set_xticks(sorted(set(ticks) | {top}))
        axes[-1].xaxis.set_major_formatter(GermanFormatter())
        axes[-1].set_xlabel(xlabel)
        level = _not_significant_label(alpha).replace(NOT_SIGNIFICANT_TEXT, "").replace(">", "≤").strip()
        handles = [Patch(color=dark, label=f"Vorsprung signifikant {level}".strip()),
                   Patch(color=light, label="Vorsprung nicht signifikant"),
                   Line2D([], [], color="#777777", lw=0.8, ls=(0, (3, 2)), label="alle verglichenen Items")]
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
        return fig


def _lead_text(n_sig: int, n_ahead: int) -> str:
    """The count at a bar's end of :func:`lead_counts`: "18, davon 11 signifikant", "7, alle signifikant", "1"."""
    if n_sig == 0:
        return format_number(n_ahead)
    if n_sig == n_ahead:
        return f"{format_number(n_ahead)}, alle signifikant"
    return f"{format_number(n_ahead)}, davon {format_number(n_sig)} signifikant"


def grouped_bars(
    utest: pd.DataFrame,
    *,
    value: str = "mean",
    colour: str = "groups",
    group_labels: Sequence[str] | None = None,
    alpha: float | None = None,
    xlim: tuple[float, float] | None = None,
    xlabel: str | None = None,
) -> Figure:
    """Two bars per item (group_1 light, group_2 dark); grey where the test is not significant.

    ``value="mean"`` draws ``mean_1``/``mean_2``, ``value="share"`` draws ``share_1``/``share_2``
    (fractions, labelled in percent).
    """
    if value not in {"mean", "share"}:
        raise ValueError(f'value must be "mean" or "share", got {value!r}')
    with use_house_style():
        if _is_empty(utest):
            return _no_data_figure()
        cols = [f"{value}_1", f"{value}_2"]
        _require_columns(utest, ["item", *cols, "significant"], "U-test table")
        utest = _single_grouping(utest).reset_index(drop=True)
        v1 = pd.to_numeric(utest[cols[0]], errors="raise").to_numpy(dtype=float)
        v2 = pd.to_numeric(utest[cols[1]], errors="raise").to_numpy(dtype=float)
        if np.isnan(v1).all() and np.isnan(v2).all():
            return _no_data_figure()
        if value == "share":
            _check_shares(pd.Series(np.concatenate([v1, v2])).dropna(), "U-test table shares")
        _, light, dark = _resolve_colour(colour)
        grey_light, grey_dark = BLOCK_SHADES["grey"]
        sig = _significance(utest).to_numpy()
        name_1, name_2 = _group_names(utest, group_labels)

        fig = _new_figure(_height_for(len(utest), per_row=0.42))
        ax = fig.add_subplot()
        y = np.arange(len(utest))
        h = 0.38
        c1 = [light if s else grey_light for s in sig]
        c2 = [dark if s else grey_dark for s in sig]
        bars_1 = ax.barh(y - h / 2, np.nan_to_num(v1), height=h, color=c1, gid="group_1")
        bars_2 = ax.barh(y + h / 2, np.nan_to_num(v2), height=h, color=c2, gid="group_2")
        if value == "share":
            _bar_labels(ax, bars_1, v1)
            _bar_labels(ax, bars_2, v2)
            ax.xaxis.set_major_formatter(GermanFormatter(percent=True))
            ax.set_xlim(*(xlim or (0, 1.08)))
        else:
            for bars, vals in ((bars_1, v1), (bars_2, v2)):
                for bar, v in zip(bars, vals):
                    if np.isfinite(v):
                        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                                " " + format_number(v, 1), va="center", fontsize=7)
            ax.xaxis.set_major_formatter(GermanFormatter())
            if xlim is not None:
                ax.set_xlim(*xlim)
            else:
                ax.set_xlim(0, np.nanmax(np.concatenate([v1, v2])) * 1.1)
        ax.set_yticks(y, _labels(utest))
        ax.set_ylim(len(y) - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_xlabel(xlabel if xlabel is not None else ("Anteil" if value == "share" else "Mittelwert"))
        handles = [
            Patch(color=light, label=name_1),
            Patch(color=dark, label=name_2),
        ]
        if not all(sig):  # the grey key only where a grey bar is drawn
            handles.append(Patch(color=grey_dark, label=_not_significant_label(_checked_alpha(utest, alpha))))
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
        return fig


def _pivot_shares(table: pd.DataFrame, what: str) -> tuple[pd.DataFrame, list[str]]:
    """items x values matrix of shares in the order items first appear; plus item labels."""
    _require_columns(table, ["item", "value", "share"], what)
    shares = pd.to_numeric(table["share"], errors="raise")
    _check_shares(shares.dropna(), what)
    table = table.assign(share=shares)
    if table.duplicated(["item", "value"]).any():
        dup = table.loc[table.duplicated(["item", "value"]), ["item", "value"]].values.tolist()
        raise ValueError(f"{what}: more than one row per (item, value): {dup[:5]}")
    order = list(pd.unique(table["item"]))
    wide = table.pivot(index="item", columns="value", values="share").reindex(order)
    firsts = table.drop_duplicates("item").set_index("item").reindex(order).reset_index()
    return wide, _labels(firsts)


def _category_labels(table: pd.DataFrame, values: Sequence) -> dict:
    if "label" not in table.columns:
        return {v: format_number(v) if isinstance(v, (int, float, np.number)) else str(v)
                for v in values}
    found = table.drop_duplicates("value").set_index("value")["label"]
    return {v: str(found.get(v, v)) for v in values}


def diverging_bars(
    distribution: pd.DataFrame,
    *,
    scale: Mapping[float, str] | None = None,
    colour: str = "ch07",
    special_title: str | None = None,
    min_label_share: float = 0.09,
) -> Figure:
    """Diverging stacked bars for a bipolar slider (−2 … +2).

    ``scale`` maps the scale values, from negative to positive, to their labels (default: the values
    −2 … 2 with the labels of the table's ``label`` column). Negative shares extend left of zero,
    positive ones right; the middle value is split half/half around zero. Rows whose value is not in
    ``scale`` are special answers (e.g. "nicht betroffen") and are shown in a separate column on the
    right with their share.
    """
    with use_house_style():
        if _is_empty(distribution):
            return _no_data_figure()
        wide, labels = _pivot_shares(distribution, "distribution table")
        if wide.isna().all().all():
            return _no_data_figure()
        if scale is None:
            values = [-2, -1, 0, 1, 2]
            scale = _category_labels(distribution, values)
        scale_values = list(scale)
        numeric = np.asarray(scale_values, dtype=float)
        if np.any(np.diff(numeric) <= 0):
            raise ValueError(f"scale values must increase from negative to positive: {scale_values}")
        special_values = [v for v in wide.columns if v not in scale_values]
        special_labels = _category_labels(distribution, special_values)
        mat = wide.reindex(columns=scale_values).fillna(0.0).to_numpy(dtype=float)

        neg = [i for i, v in enumerate(numeric) if v < 0]
        mid = [i for i, v in enumerate(numeric) if v == 0]
        pos = [i for i, v in enumerate(numeric) if v > 0]
        _, light, dark = _resolve_colour(colour)
        grey_light, grey_dark = BLOCK_SHADES["grey"]
        neg_cols = _interp(grey_dark, grey_light, len(neg))  # strongest negative darkest
        pos_cols = _interp(light, dark, len(pos))
        colours = {i: c for i, c in zip(neg, neg_cols)}
        colours.update({i: c for i, c in zip(pos, pos_cols)})
        colours.update({i: "#F0F0F0" for i in mid})

        n = len(wide)
        with_special = bool(special_values)
        fig = _new_figure(_height_for(n, per_row=0.36, extra=1.2))
        if with_special:
            gs = fig.add_gridspec(1, 2, width_ratios=[5, 1])
            ax = fig.add_subplot(gs[0, 0])
            ax_sp = fig.add_subplot(gs[0, 1], sharey=ax)
        else:
            ax = fig.add_subplot()
            ax_sp = None
        y = np.arange(n)
        half_mid = mat[:, mid].sum(axis=1) / 2 if mid else np.zeros(n)

        # Left side: start at −(half of the middle) and walk outwards, weakest category first.
        left_edge = -half_mid.copy()
        for i in reversed(neg):
            left_edge -= mat[:, i]
            bars = ax.barh(y, mat[:, i], left=left_edge, height=0.65, color=colours[i],
                           label=scale[scale_values[i]])
            _bar_labels(ax, bars, mat[:, i], min_share=min_label_share, inside=True,
                        colours=[colours[i]] * n)
        for i in mid:
            bars = ax.barh(y, mat[:, i], left=-half_mid, height=0.65, color=colours[i],
                           label=scale[scale_values[i]])
            _bar_labels(ax, bars, mat[:, i], min_share=min_label_share, inside=True,
                        colours=[colours[i]] * n)
        right_edge = half_mid.copy()
        for i in pos:
            bars = ax.barh(y, mat[:, i], left=right_edge, height=0.65, color=colours[i],
                           label=scale[scale_values[i]])
            _bar_labels(ax, bars, mat[:, i], min_share=min_label_share, inside=True,
                        colours=[colours[i]] * n)
            right_edge = right_edge + mat[:, i]

        reach = max(np.max(-left_edge), np.max(right_edge), 0.1)
        reach = math.ceil(reach * 10) / 10
        ax.set_xlim(-reach, reach)
        ax.axvline(0, color="#333333", lw=0.8)
        ax.xaxis.set_major_locator(ticker.MultipleLocator(0.2 if reach > 0.5 else 0.1))
        ax.xaxis.set_major_formatter(GermanFormatter(percent=True, absolute=True))
        ax.set_yticks(y, labels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        handles = [Patch(color=colours[i], label=scale[scale_values[i]])
                   for i in range(len(scale_values))]

        if ax_sp is not None:
            sp = wide.reindex(columns=special_values).fillna(0.0).sum(axis=1).to_numpy(dtype=float)
            bars = ax_sp.barh(y, sp, height=0.65, color=grey_light)
            _bar_labels(ax_sp, bars, sp)
            ax_sp.set_xlim(0, max(0.5, float(sp.max()) * 1.6))
            ax_sp.xaxis.set_major_locator(ticker.MaxNLocator(nbins=2))
            ax_sp.xaxis.set_major_formatter(GermanFormatter(percent=True))
            ax_sp.tick_params(axis="y", length=0, labelleft=False)
            ax_sp.spines["left"].set_visible(False)
            title = special_title or " / ".join(special_labels[v] for v in special_values)
            ax_sp.set_title(_wrap(title, 14), fontsize=8)
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
        return fig


def _legend_columns(handles) -> int:
    """As many legend columns as fit the text width (roughly 95 characters at legend size)."""
    widest = max(len(h.get_label()) for h in handles) + 5
    return max(1, min(len(handles), 95 // widest))


def _interp(a: str, b: str, k: int) -> list[str]:
    if k == 0:
        return []
    if k == 1:
        return [b]
    cmap = mcolors.LinearSegmentedColormap.from_list("interp", [a, b])
    return [mcolors.to_hex(cmap(i / (k - 1))) for i in range(k)]


def stacked_share_bars(
    freqs: pd.DataFrame,
    *,
    categories: Mapping | Sequence | None = None,
    colours: Sequence[str] | None = None,
    colour: str = "ch09",
    min_label_share: float = 0.06,
) -> Figure:
    """100 % stacked bars, one per item, segments in the order of ``categories``.

    ``categories`` is a mapping value -> label (or a sequence of values, labels then come from the
    table); default: the values in order of first appearance. ``colours`` gives one colour per
    category; default a ramp of ``colour``. Segments wider than ``min_label_share`` are labelled.
    """
    with use_house_style():
        if _is_empty(freqs):
            return _no_data_figure()
        wide, labels = _pivot_shares(freqs, "frequency table")
        if wide.isna().all().all():
            return _no_data_figure()
        if categories is None:
            categories = list(pd.unique(freqs["value"]))
        if not isinstance(categories, Mapping):
            categories = _category_labels(freqs, list(categories))
        values = list(categories)
        unknown = [v for v in wide.columns if v not in values]
        if unknown:
            raise ValueError(f"frequency table has values {unknown} not listed in categories {values}")
        totals = wide.fillna(0).sum(axis=1)
        over = totals[totals > 1 + 1e-6]
        if len(over):
            raise ValueError(f"shares of item(s) {list(over.index)} add up to more than 1: "
                             f"{over.round(4).tolist()}")
        if colours is None:
            colours = _ramp(colour, len(values))
        if len(colours) != len(values):
            raise ValueError(f"need {len(values)} colours for categories {values}, got {len(colours)}")
        mat = wide.reindex(columns=values).fillna(0.0).to_numpy(dtype=float)

        n = len(wide)
        fig = _new_figure(_height_for(n, per_row=0.36, extra=1.1))
        ax = fig.add_subplot()
        y = np.arange(n)
        left = np.zeros(n)
        for j, v in enumerate(values):
            bars = ax.barh(y, mat[:, j], left=left, height=0.65, color=colours[j],
                           label=categories[v])
            _bar_labels(ax, bars, mat[:, j], min_share=min_label_share, inside=True,
                        colours=[colours[j]] * n)
            left += mat[:, j]
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_locator(ticker.MultipleLocator(0.2))
        ax.xaxis.set_major_formatter(GermanFormatter(percent=True))
        ax.set_yticks(y, labels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        handles = [Patch(color=colours[j], label=categories[v]) for j, v in enumerate(values)]
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
        return fig


def yes_no_bars(shares: pd.DataFrame, *, colour: str = "ch08", sort: bool = True) -> Figure:
    """Horizontal bars of the yes-share per item (column ``share``), largest on top."""
    with use_house_style():
        if _is_empty(shares):
            return _no_data_figure()
        _require_columns(shares, ["item", "share"], "yes-share table")
        table = shares.assign(share=pd.to_numeric(shares["share"], errors="raise"))
        if table["share"].isna().all():
            return _no_data_figure()
        _check_shares(table["share"].dropna(), "yes-share table")
        if sort:
            table = table.sort_values("share", ascending=False, kind="mergesort", na_position="last")
        return _hbars(table, _labels(table), colour, xlabel="Anteil „ja“")


def share_bars(
    freqs: pd.DataFrame,
    *,
    colour: str = "groups",
    horizontal: bool = True,
    xlabel: str = "Anteil",
) -> Figure:
    """One bar per category (column ``label``, else ``value``) in table order, percent labels.

    A row whose column ``part_of`` names the ``value`` of another row is a subset of that category
    (e.g. "darunter oberes Drittel" of "intensiver"): it is drawn hatched inside its category's bar
    with its own percent label and a legend entry, not as a bar among the exclusive categories.
    """
    with use_house_style():
        if _is_empty(freqs):
            return _no_data_figure()
        _require_columns(freqs, ["share"], "frequency table")
        label_col = "label" if "label" in freqs.columns else "value"
        _require_columns(freqs, [label_col], "frequency table")
        table = freqs.assign(share=pd.to_numeric(freqs["share"], errors="raise"))
        if table["share"].isna().all():
            return _no_data_figure()
        _check_shares(table["share"].dropna(), "frequency table")
        parts = table.iloc[0:0]
        if "part_of" in table.columns and table["part_of"].notna().any():
            if not horizontal:
                raise ValueError("share_bars: subsets (column part_of) are drawn only in horizontal bars")
            _require_columns(table, ["value"], "frequency table with part_of")
            is_part = table["part_of"].notna()
            parts, table = table.loc[is_part], table.loc[~is_part].reset_index(drop=True)
            unknown = sorted(set(parts["part_of"].astype(str)) - set(table["value"].astype(str)))
            if unknown:
                raise ValueError(f"share_bars: part_of names no category of the table: {unknown}")
        labels = [_wrap(str(v)) for v in table[label_col]]
        if horizontal:
            return _hbars(table, labels, colour, xlabel=xlabel, parts=parts, label_col=label_col)
        main, _, _ = _resolve_colour(colour)
        fig = _new_figure(2.8)
        ax = fig.add_subplot()
        x = np.arange(len(table))
        vals = table["share"].to_numpy(dtype=float)
        bars = ax.bar(x, np.nan_to_num(vals), color=main, width=0.65)
        for bar, v in zip(bars, vals):
            if np.isfinite(v):
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                        format_percent(v), ha="center", va="bottom", fontsize=7.5)
        ax.set_xticks(x, [_wrap(str(v), 14) for v in table[label_col]])
        ax.set_ylim(0, min(1.0, np.nanmax(vals) * 1.18) if np.nanmax(vals) > 0 else 1)
        ax.yaxis.set_major_formatter(GermanFormatter(percent=True))
        ax.set_ylabel(xlabel)
        ax.tick_params(axis="x", length=0)
        return fig


def _hbars(table: pd.DataFrame, labels: list[str], colour: str, *, xlabel: str,
           parts: pd.DataFrame | None = None, label_col: str = "label") -> Figure:
    main, _, dark = _resolve_colour(colour)
    vals = table["share"].to_numpy(dtype=float)
    n = len(table)
    has_parts = parts is not None and not parts.empty
    fig = _new_figure(_height_for(n, per_row=0.30, extra=0.7 + (0.3 if has_parts else 0)))
    ax = fig.add_subplot()
    y = np.arange(n)
    bars = ax.barh(y, np.nan_to_num(vals), height=0.65, color=main)
    _bar_labels(ax, bars, vals)
    if has_parts:
        handles = []
        row_of = {str(v): i for i, v in enumerate(table["value"])}
        for part in parts.itertuples():
            share = float(part.share)
            row = row_of[str(part.part_of)]
            # at the bar's end: the subset is the upper part of its category ("darunter oberes Drittel")
            sub = ax.barh(row, share, left=max(0.0, vals[row] - share), height=0.65, facecolor=dark,
                          edgecolor="white", hatch="//", linewidth=0, gid=f"part-{part.value}")
            _bar_labels(ax, sub, [share], inside=True, colours=[dark])
            ax.texts[-1].set_bbox({"facecolor": dark, "edgecolor": "none", "pad": 1.2})
            handles.append(Patch(facecolor=dark, edgecolor="white", hatch="//",
                                 label=str(getattr(part, label_col))))
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles))
    top = float(np.nanmax(vals))
    ax.set_xlim(0, min(1.0, top + 0.12) if top < 0.88 else 1.1)
    ax.xaxis.set_major_locator(ticker.MultipleLocator(0.2 if top > 0.4 else 0.1))
    ax.xaxis.set_major_formatter(GermanFormatter(percent=True))
    ax.set_yticks(y, labels)
    ax.set_ylim(n - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(xlabel)
    return fig


def distribution_grid(
    distributions: pd.DataFrame,
    *,
    scale_min: int = 1,
    scale_max: int = 10,
    colour: str = "ch07",
    ncols: int = 3,
) -> Figure:
    """Small multiples: the full scale_min..scale_max distribution of every item (shares)."""
    if scale_max <= scale_min:
        raise ValueError(f"scale_max ({scale_max}) must be above scale_min ({scale_min})")
    with use_house_style():
        if _is_empty(distributions):
            return _no_data_figure()
        wide, labels = _pivot_shares(distributions, "distribution table")
        if wide.isna().all().all():
            return _no_data_figure()
        values = list(range(scale_min, scale_max + 1))
        mat = wide.reindex(columns=values).fillna(0.0).to_numpy(dtype=float)
        main, _, _ = _resolve_colour(colour)
        n = len(wide)
        ncols = max(1, min(ncols, n))
        nrows = math.ceil(n / ncols)
        fig = _new_figure(0.4 + 1.45 * nrows)
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        top = max(float(mat.max()), 0.05)
        # The panels share both axes: limits, ticks and formatters set once reach every panel (set per panel,
        # each call would rebuild the ticks of all nine).
        first = axes.flat[0]
        first.set_ylim(0, top * 1.1)
        first.set_xticks(values)
        first.xaxis.set_major_formatter(GermanFormatter())
        first.yaxis.set_major_locator(ticker.MaxNLocator(nbins=3))
        first.yaxis.set_major_formatter(GermanFormatter(percent=True))
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_axis_off()
                continue
            ax.bar(values, mat[k], color=main, width=0.75)
            ax.set_title(_wrap(labels[k].replace("\n", " "), 32), fontsize=7.5, loc="left")
            ax.tick_params(labelsize=6.5)
            if k + ncols >= n:
                # the panel below is empty, so this one carries the scale values
                ax.tick_params(labelbottom=True)
        return fig


# --------------------------------------------------------------------------------------------------
# Word cloud
# --------------------------------------------------------------------------------------------------





def theme_bars(
    themes: pd.DataFrame,
    *,
    colour: str = "ch07",
    top: int = 3,
    examples: int = 2,
    xlabel: str = "Antworten",
) -> Figure:
    """Coded themes of open answers as ranked horizontal bars, with example answers under the chart.

    ``themes`` is :func:`clusterkrise.openanswers.theme_counts`: one row per theme (``theme``, ``n``,
    ``apart``, ``examples`` joined with " | "). Themes are drawn most frequent first; rows marked
    ``apart`` (answers without content, answers not coded) follow in grey below a gap, since they
    are no theme. Under the chart the ``top`` most frequent themes are quoted with up to
    ``examples`` answers each, as written (slips included).
    """
    with use_house_style():
        if _is_empty(themes):
            return _no_data_figure()
        _require_columns(themes, ["theme", "n", "apart"], "theme table")
        table = themes.assign(n=pd.to_numeric(themes["n"], errors="raise"))
        if (table["n"] < 0).any():
            raise ValueError("theme table: negative counts")
        main_rows = table.loc[~table["apart"].astype(bool)].sort_values("n", ascending=False, kind="mergesort")
        apart_rows = table.loc[table["apart"].astype(bool)]
        labels = [_wrap(str(t)) for t in main_rows["theme"]] + [_wrap(str(t)) for t in apart_rows["theme"]]
        gap = 0.6 if len(apart_rows) and len(main_rows) else 0.0
        y = np.r_[np.arange(len(main_rows)), len(main_rows) + gap + np.arange(len(apart_rows))]
        values = np.r_[main_rows["n"].to_numpy(float), apart_rows["n"].to_numpy(float)]
        main, _, _ = _resolve_colour(colour)
        colours = [main] * len(main_rows) + [BLOCK_COLOURS["grey"]] * len(apart_rows)

        quoted: list[tuple[str, list[str]]] = []
        if "examples" in main_rows.columns:
            for row in main_rows.head(top).itertuples():
                texts = [t.strip() for t in str(row.examples or "").split(" | ") if t.strip()][:examples]
                if texts:
                    quoted.append((f"{row.theme} ({int(row.n)})", [textwrap.fill(f"\u201e{t}\u201c", 95) for t in texts]))
        n_lines = sum(1 + sum(t.count("\n") + 1 for t in texts) for _, texts in quoted)
        bars_h = _height_for(len(y), per_row=0.30, extra=0.8)
        text_h = 0.25 + 0.19 * n_lines if quoted else 0.0
        fig = _new_figure(bars_h + text_h)
        if quoted:
            ax, tx = fig.subplots(2, 1, height_ratios=[bars_h, text_h])
        else:
            ax, tx = fig.add_subplot(), None
        bars = ax.barh(y, values, height=0.65, color=colours)
        for bar, v in zip(bars, values):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {format_number(v)}",
                    ha="left", va="center", fontsize=7.5)
        top_n = float(values.max()) if len(values) else 1.0
        ax.set_xlim(0, max(1.0, top_n) * 1.12)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(GermanFormatter())
        ax.set_yticks(y, labels)
        ax.set_ylim(y.max() + 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel(xlabel)
        if tx is not None:
            tx.set_axis_off()
            # quotes run across the whole figure width, not only under the bars
            across = mtransforms.blended_transform_factory(fig.transFigure, tx.transAxes)
            line = 0
            step = 1.0 / max(n_lines, 1)
            for head, texts in quoted:
                tx.text(0.01, 1 - line * step, head, transform=across, ha="left", va="top",
                        fontsize=7.5, fontweight="bold")
                line += 1
                for t in texts:
                    tx.text(0.03, 1 - line * step, t, transform=across, ha="left", va="top",
                            fontsize=7.5, fontstyle="italic", linespacing=1.25)
                    line += t.count("\n") + 1
        return fig



# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


# Labels inside bar segments need this much room on top of their own width (2 px at the figure's 100 dpi,
# where the rule was tuned, in the points the SVG is measured in).
_INSIDE_LABEL_MARGIN_PT = 2 * 72 / 100


def _fit_inside_labels(fig: Figure, renderer) -> None:
    """Remove labels inside bar segments that are wider than their segment ("15 %9 %")."""
    labelled = [pair for ax in fig.axes for pair in ax.__dict__.pop("_inside_labels", [])]
    for text, bar in labelled:
        if text.get_window_extent(renderer).width + _INSIDE_LABEL_MARGIN_PT > bar.get_window_extent(renderer).width:
            text.remove()


def _lay_out(fig: Figure) -> None:
    """Lay ``fig`` out once, measured as the SVG will be drawn, and fit the labels inside bars to it.

    ``savefig`` would lay the figure out in a draw that paints nothing and then draw it again; laying it out
    here, with the renderer and resolution the SVG backend uses (text in points), gives the same positions
    for about half the work: the saving draw then runs without a layout engine.
    """
    engine = fig.get_layout_engine()
    canvas, dpi = fig.canvas, fig.dpi
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.label.get_text():
                # An empty axis label is never drawn and takes no room, but matplotlib would still place it
                # from the tick labels' boxes, measured again for that in each layout pass and in the draw
                # (a sixth of the time of laying out and drawing the book's figures). Fixed coordinates
                # skip that; nothing drawn moves.
                axis.set_label_coords(0, 0)
    FigureCanvasSVG(fig)  # the figure's renderer is now the SVG backend's, as inside savefig
    fig.dpi = FigureCanvasSVG.fixed_dpi
    try:
        if engine is not None and fig.axes:
            with contextlib.suppress(ValueError):  # as Figure.draw does
                engine.execute(fig)
        if any(ax.__dict__.get("_inside_labels") for ax in fig.axes):
            _fit_inside_labels(fig, fig._get_renderer())
    finally:
        fig.dpi = dpi
        fig.set_canvas(canvas)


def save_figure(fig: Figure, path_stem: str | Path, *, alt_text: str, cache: str | Path | None = None) -> Path:
    """Write ``<stem>.svg`` and return its path: the one file both editions read (the HTML inlines it,
    Typst places it in the PDF), so the figure is drawn once and no raster copy is made that nothing reads.

    Equal figures give byte-identical files: fixed SVG hash salt, no creation date, no software
    tag; text as text in DejaVu Sans (``svg.fonttype: none``). The alternative text goes into the
    file's metadata ("Description").

    ``cache``: a folder of figures drawn before (:mod:`clusterkrise.figcache`); a figure whose state, alt
    text, style, fonts and drawing code equal those of a stored one is copied from there instead of drawn.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"save_figure: expected a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(alt_text, str) or not alt_text.strip():
        raise ValueError("save_figure: alt_text must be a non-empty description of the figure")
    stem = Path(path_stem)
    if stem.suffix.lower() == ".svg":
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    svg = stem.with_name(stem.name + ".svg")
    with use_house_style():
        if cache is not None:
            from . import figcache

            with timed("figure", stem.name, step="cache-key"):
                store = figcache.FigureCache(cache)
                key = store.key(fig, alt_text)
            if key is not None and store.copy_to(key, svg):
                return svg
        with timed("figure", stem.name, step="layout"):
            _lay_out(fig)
        with timed("figure", stem.name, step="svg"):
            engine = fig.get_layout_engine()
            fig.set_layout_engine(None)  # laid out above; savefig would otherwise do it again
            try:
                fig.savefig(svg, format="svg",
                            metadata={"Date": None, "Creator": None, "Description": alt_text})
            finally:
                if engine is not None:
                    fig.set_layout_engine(engine)
        if cache is not None and key is not None:
            store.put(key, svg)
    return svg


def _font_in_use() -> Path:
    """The file the house style resolves to (tests check it is matplotlib's own)."""
    with use_house_style():
        return Path(font_manager.findfont(font_manager.FontProperties(family=["sans-serif"])))


def effect_intervals(
    table: pd.DataFrame,
    *,
    colours: Mapping[str, str] | None = None,
    xlabel: str = "Rangbiseriale Korrelation r (mit 95-%-Bootstrap-Intervall)",
) -> Figure:
    """Effect sizes with intervals, one row per test, rows grouped by ``group`` (e.g. the chapter).

    ``table`` has columns ``label``, ``group``, ``r``, ``low``, ``high`` and ``robust`` (bool): a
    robust finding is drawn in the group's colour (``colours[group]``, a block colour name),
    a finding that depends on a choice in grey with an open marker. Zero is marked.
    """
    with use_house_style():
        if _is_empty(table):
            return _no_data_figure()
        _require_columns(table, ["label", "group", "r", "low", "high", "robust"], "effect table")
        rows = table.reset_index(drop=True)
        # Many rows: one line per label where it fits and a tight row pitch keep the chart within about
        # two thirds of a page, so it can share a page with the text around it.
        labels = [_wrap(str(label), 70) for label in rows["label"]]
        # Each row is as tall as its label: a two-line label gets two line pitches, so nothing overlaps.
        heights = np.array([label.count("\n") + 1 for label in labels], dtype=float)
        y = np.cumsum(heights) - heights / 2
        fig = _new_figure(_height_for(int(heights.sum()), per_row=0.125, extra=1.0))
        ax = fig.add_subplot()
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.axvline(0, color="#444444", lw=0.8)
        grey = BLOCK_SHADES["grey"][1]
        robust = rows["robust"].astype(bool).to_numpy()
        mains = [_resolve_colour((colours or {}).get(group, "groups"))[0] for group in rows["group"]]
        line_colours = [main if keep else grey for main, keep in zip(mains, robust)]
        # one collection for all intervals and one for all points (an artist per row made the chart the
        # slowest of the book to build and to draw); zorder 2 keeps the intervals above the zero line
        ax.hlines(y, rows["low"], rows["high"], colors=line_colours, lw=1.4, capstyle="butt", zorder=2)
        ax.scatter(rows["r"], y, s=18, zorder=3, linewidth=1.0, edgecolors=line_colours,
                   facecolors=[c if keep else "white" for c, keep in zip(line_colours, robust)])
        ax.set_yticks(y, labels, fontsize=6.5)
        ax.set_ylim(heights.sum(), 0)
        ax.set_xlim(-1.05, 1.05)
        ax.xaxis.set_major_formatter(GermanFormatter())
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        handles = [
            Line2D([], [], ls="", marker="o", ms=5, color=_resolve_colour((colours or {}).get(g, "groups"))[0],
                   label=f"{g}: fest")
            for g in dict.fromkeys(rows["group"])
        ]
        handles.append(Line2D([], [], ls="", marker="o", ms=5, mfc="white", mec=grey, label="hängt von einer Wahl ab"))
        fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)))
        return fig


# --- generic helpers (from chapter 07)




# --- generic helpers (from chapter 06)


def group_colours(grouping: pd.Series, *, colour: str = "groups", outside: str = "nicht zugeordnet") -> dict[str, str]:
    """Light and dark shade of ``colour`` for the two groups of a comparison (one tone for more), grey outside."""
    cats = [str(c) for c in grouping.cat.categories]
    light, dark = block_shades(colour)
    shades = [light, dark] if len(cats) == 2 else [BLOCK_COLOURS[colour]] * len(cats)
    colours = dict(zip(cats, shades))
    colours[outside] = BLOCK_SHADES["grey"][0]
    return colours


def shade_by_group(table: pd.DataFrame, group_labels: Sequence[str], grouping: pd.Series, *,
                   describe: Mapping[str, str] | None = None, colour: str = "groups",
                   outside: str = "nicht zugeordnet") -> tuple[pd.DataFrame, dict[str, str]]:
    """``table`` with columns group and colour (each row shaded by its group) and the legend text -> colour.

    The legend lists only the groups that occur, in the grouping's order, then the rows ``outside``
    every group under :data:`OUTSIDE_KEY`; ``describe`` replaces a group's name in the legend (e.g. by
    its threshold, or ``outside`` by why those rows are not compared).
    """
    colours = group_colours(grouping, colour=colour, outside=outside)
    labels = [str(g) for g in group_labels]
    shaded = table.assign(group=labels, colour=[colours[g] for g in labels])
    legend = {}
    for name in [*(str(c) for c in grouping.cat.categories), outside]:
        if name in set(labels):
            default = OUTSIDE_KEY if name == outside else name
            legend[(describe or {}).get(name, default)] = colours[name]
    return shaded, legend


def _share_bars_on(ax, labels: Sequence[str], shares: np.ndarray, colours: Sequence[str], *, horizontal: bool) -> None:
    """Bars of shares (fractions) with their percentage printed at the bar's end."""
    pos = np.arange(len(labels))
    shares = np.asarray(shares, dtype=float)
    top = float(np.nanmax(shares)) if len(shares) and np.isfinite(shares).any() else 1.0
    limit = min(1.0, top * 1.2 + 0.02) if top < 0.85 else 1.12
    if horizontal:
        bars = ax.barh(pos, np.nan_to_num(shares), height=0.65, color=list(colours))
        for bar, v in zip(bars, shares):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + format_percent(v),
                    ha="left", va="center", fontsize=7.5)
        ax.set_yticks(pos, [_wrap(str(l)) for l in labels])
        ax.set_ylim(len(pos) - 0.5, -0.5)
        ax.set_xlim(0, limit)
        ax.xaxis.set_major_formatter(GermanFormatter(percent=True))
        ax.xaxis.set_major_locator(ticker.MultipleLocator(0.2 if top > 0.4 else 0.1))
        ax.tick_params(axis="y", length=0)
    else:
        bars = ax.bar(pos, np.nan_to_num(shares), width=0.7, color=list(colours))
        for bar, v in zip(bars, shares):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), format_percent(v),
                    ha="center", va="bottom", fontsize=7.5)
        ax.set_xticks(pos, [_wrap(str(l), 14) for l in labels])
        ax.set_ylim(0, limit)
        ax.yaxis.set_major_formatter(GermanFormatter(percent=True))
        ax.tick_params(axis="x", length=0)
        ax.set_ylabel("Anteil")


def category_bars(table: pd.DataFrame, *, horizontal: bool, xlabel: str | None = None,
                  legend: Mapping[str, str] | None = None, colour: str = "groups",
                  drop_empty: bool = False) -> Figure:
    """One bar per row of ``table`` (columns label, share and optionally colour), shares as fractions.

    ``legend`` maps text -> colour (from :func:`shade_by_group`); it sits above the plot so the
    N note in the bottom right corner stays free. ``drop_empty`` leaves out categories nobody chose
    (a row of 0 % bars says little) and names them in a note under the chart instead.
    """
    _require_columns(table, ["label", "share"], "category_bars")
    empty: list[str] = []
    if drop_empty:
        is_empty = pd.to_numeric(table["share"], errors="coerce").fillna(0).eq(0)
        empty = [str(label) for label in table.loc[is_empty, "label"]]
        table = table.loc[~is_empty].reset_index(drop=True)
    colours = table["colour"].tolist() if "colour" in table else [BLOCK_COLOURS[colour]] * len(table)
    with use_house_style():
        height = max(2.0, 0.8 + 0.3 * len(table)) if horizontal else 2.9
        fig = Figure(figsize=(FIG_WIDTH_IN, height), layout="constrained")
        ax = fig.add_subplot()
        _share_bars_on(ax, table["label"].tolist(), table["share"].to_numpy(float), colours, horizontal=horizontal)
        if horizontal or xlabel:
            ax.set_xlabel(xlabel or "Anteil")
        if legend:
            chars = sum(len(t) for t in legend)
            ncol = len(legend) if chars <= 75 else (2 if max(len(t) for t in legend) <= 45 else 1)
            fig.legend(handles=[Patch(color=c, label=t) for t, c in legend.items()],
                       loc="outside upper center", ncol=ncol)
        if empty:
            fig.supxlabel(f"Ohne Nennung und nicht dargestellt: {fmt.german_list(empty)}",
                          fontsize=7.5, color="#555555")
        return fig


def options_with_split(shares: pd.DataFrame, split: pd.DataFrame, *, colour: str = "groups") -> Figure:
    """A multiple-choice question: yes-share per option (``shares``: item_label, share) above how many
    respondents ticked none, one or more options (``split`` from :func:`descriptives.selection_split`)."""
    _require_columns(shares, ["item_label", "share"], "options_with_split")
    _require_columns(split, ["label", "share"], "options_with_split")
    light, dark = block_shades(colour)
    with use_house_style():
        fig = Figure(figsize=(FIG_WIDTH_IN, 1.4 + 0.27 * (len(shares) + len(split))), layout="constrained")
        top, bottom = fig.subplots(2, 1, height_ratios=[len(shares), len(split) + 0.6])
        _share_bars_on(top, shares["item_label"].tolist(), shares["share"].to_numpy(float),
                       [BLOCK_COLOURS[colour]] * len(shares), horizontal=True)
        _share_bars_on(bottom, split["label"].tolist(), split["share"].to_numpy(float),
                       ([BLOCK_SHADES["grey"][0], light, dark] * len(split))[: len(split)], horizontal=True)
        bottom.set_xlabel("Anteil der Befragten")
        return fig

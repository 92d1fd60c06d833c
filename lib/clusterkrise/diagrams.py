"""Schematic diagrams in the house style, drawn from qualitative data (no survey numbers).

The study's own pictures for these figures are lost; only their words survive in
``data/qualitative/``. The layouts here are ours and generic: boxes on a ring around a centre
(:func:`ring_diagram`), phases and dated steps on a month axis (:func:`timeline_chart`) and
nested frames (:func:`nested_boxes`).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.textpath import TextToPath

from . import plots

__all__ = ["german_date", "month_label", "month_range", "month_span", "nested_boxes", "ring_diagram", "timeline_chart"]

_INK = "#333333"
_TEXT_TO_PATH = TextToPath()
_LINE = "#7A7A7A"


def _mix(colour: str, other: str, t: float) -> str:
    """``colour`` moved the fraction ``t`` towards ``other``."""
    a, b = np.array(mcolors.to_rgb(colour)), np.array(mcolors.to_rgb(other))
    return mcolors.to_hex(a + (b - a) * t)


def _figure(height_in: float) -> Figure:
    return Figure(figsize=(plots.FIG_WIDTH_IN, height_in), layout="constrained")


def _wrapped(text: str, width: int) -> str:
    # Bullet lines keep a hanging indent so wrapped continuation lines stay under their text.
    return "\n".join(textwrap.fill(part, width=width, break_long_words=False,
                                   subsequent_indent="  " if part.startswith("• ") else "")
                     for part in text.split("\n"))


def _box(ax, x: float, y: float, w: float, h: float, text: str, *, face: str, edge: str = _LINE,
         size: float = 8.0, weight: str = "normal", wrap: int = 22) -> None:
    """A rounded box centred on (x, y) with wrapped text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.012,rounding_size=0.03",
                                facecolor=face, edgecolor=edge, linewidth=0.8))
    ax.text(x, y, _wrapped(text, wrap), ha="center", va="center",
            multialignment="left" if "• " in text else "center",
            fontsize=size, fontweight=weight, color=_INK)


def _text_width_pt(text: str, size: float, weight: str) -> float:
    prop = FontProperties(family=plots.HOUSE_RC["font.sans-serif"], size=size, weight=weight)
    return max(_TEXT_TO_PATH.get_text_width_height_descent(line, prop, ismath=False)[0]
               for line in text.split("\n"))


def _fitted(text: str, width_in: float, *, size: float, weight: str = "normal",
            smallest: float = 5.5) -> tuple[str, float]:
    """``text`` wrapped at word boundaries to ``width_in`` and the largest font size (down to
    ``smallest``) at which no word has to stick out of that width."""
    width_pt = 72 * width_in
    current = size
    while True:
        lines: list[str] = []
        for word in text.split():
            if lines and _text_width_pt(f"{lines[-1]} {word}", current, weight) <= width_pt:
                lines[-1] += f" {word}"
            else:
                lines.append(word)
        wrapped = "\n".join(lines)
        if _text_width_pt(wrapped, current, weight) <= width_pt or current <= smallest:
            return wrapped, current
        current = round(current - 0.2, 1)


def month_label(ts: pd.Timestamp) -> str:
    """A month as the diagrams print it: ``06/2020``."""
    return f"{ts.month:02d}/{ts.year}"


def month_range(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """A period of months as the diagrams print it: ``06/2020–07/2020``, a single month once (``09/2020``)."""
    first, last = month_label(start), month_label(end)
    return first if first == last else f"{first}–{last}"


_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember")


def german_date(ts: pd.Timestamp) -> str:
    """A day as running text prints it: ``15. September 2020``."""
    return f"{ts.day}. {_MONTHS[ts.month - 1]} {ts.year}"


def month_span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """Months from ``start`` to ``end`` as running text: ``Juni–Juli 2020``, ``September 2020``,
    ``November 2020–Januar 2021``."""
    first, last = _MONTHS[start.month - 1], _MONTHS[end.month - 1]
    if (start.year, start.month) == (end.year, end.month):
        return f"{first} {start.year}"
    if start.year == end.year:
        return f"{first}–{last} {end.year}"
    return f"{first} {start.year}–{last} {end.year}"


def ring_diagram(centre: str, labels: Sequence[str], *, numbers: Sequence[int] | None = None,
                 details: Sequence[Sequence[str]] | None = None, colour: str = "grey",
                 height_in: float = 4.2) -> Figure:
    """Boxes evenly spaced on an ellipse around a central circle, clockwise from the top right.

    ``numbers`` adds a numbered badge per box; ``details`` adds bullet lines under a box's label.
    """
    if not labels:
        raise ValueError("ring_diagram: no labels to draw")
    k = len(labels)
    if numbers is not None and len(numbers) != k:
        raise ValueError(f"ring_diagram: {len(numbers)} numbers for {k} labels")
    if details is not None and len(details) != k:
        raise ValueError(f"ring_diagram: {len(details)} detail lists for {k} labels")
    light, dark = plots.block_shades(colour)
    wrap, box_w, line_h = 24, 0.8, 0.075
    with plots.use_house_style():
        fig = _figure(height_in)
        ax = fig.add_subplot()
        ax.set_axis_off()
        aspect = plots.FIG_WIDTH_IN / height_in
        ax.set_xlim(-aspect, aspect)
        ax.set_ylim(-1.05, 1.05)
        ax.set_aspect("equal")
        radius = 0.3
        ax.add_patch(Circle((0, 0), radius, facecolor=light, edgecolor=dark, linewidth=1.0))
        ax.text(0, 0, textwrap.fill(centre, 14), ha="center", va="center", fontsize=8.5,
                fontweight="bold", color=_INK)
        rx, ry = aspect - box_w / 2 - 0.05, 0.74
        for i, label in enumerate(labels):
            # Half a step past the top, so that no box sits straight above or below the centre.
            angle = math.pi / 2 - math.pi / k - 2 * math.pi * i / k
            x, y = rx * math.cos(angle), ry * math.sin(angle)
            extra = list(details[i]) if details is not None else []
            text = label + "".join("\n• " + d for d in extra)
            h = 0.08 + line_h * _wrapped(text, wrap).count("\n") + line_h
            edge_x = x - math.copysign(box_w / 2, x) if abs(x) > box_w / 2 else x
            edge_y = y if abs(x) > box_w / 2 else y - math.copysign(h / 2, y)
            ax.plot([radius * math.cos(angle), edge_x], [radius * math.sin(angle), edge_y],
                    color=_LINE, lw=0.8, zorder=0)
            _box(ax, x, y, box_w, h, text, face="white", edge=dark, size=7.5, wrap=wrap)
            if numbers is not None:
                bx, by = x - box_w / 2, y + h / 2
                ax.add_patch(Circle((bx, by), 0.06, facecolor=dark, edgecolor="white", zorder=5))
                ax.text(bx, by, str(numbers[i]), ha="center", va="center", fontsize=7.5,
                        fontweight="bold", color="white", zorder=6)
        return fig


_TIMELINE_COLUMNS = ("phase", "phase_label", "phase_order", "phase_start", "phase_end", "step_start", "step_end")


def timeline_chart(timeline: pd.DataFrame, steps: Sequence[tuple[str, str]], *, colour: str = "grey",
                   height_in: float = 3.9) -> Figure:
    """Numbered steps across the top and, below, the phases as bars on a month axis (a Gantt chart).

    ``timeline`` has one row per step (the shape of :func:`clusterkrise.qualitative.load_timeline`);
    each phase becomes one bar from its first to its last month, steps with their own dates become
    dark segments inside their phase's row. ``steps`` are ``(phase key, label)`` pairs for the top row.
    """
    missing = [c for c in _TIMELINE_COLUMNS if c not in timeline.columns]
    if missing:
        raise ValueError(f"timeline_chart: the time line lacks the column(s) {missing}")
    phases = timeline.drop_duplicates("phase").sort_values("phase_order").reset_index(drop=True)
    unknown = [key for key, _ in steps if key not in set(phases["phase"])]
    if unknown:
        raise ValueError(f"timeline_chart: step(s) {unknown} have no phase in the time line")
    dated = timeline.dropna(subset=["step_start"])
    light, dark = plots.block_shades(colour)
    with plots.use_house_style():
        fig = _figure(height_in)
        # The steps get the full width of the figure (their own subfigure), not only the width of the
        # chart below, which the phase labels narrow; their text is fitted into the box it labels.
        upper, lower = fig.subfigures(2, 1, height_ratios=[0.9, 3.2])
        top, ax = upper.add_subplot(), lower.add_subplot()
        top.set_axis_off()
        n_steps = max(1, len(steps))
        top.set_xlim(0, n_steps)
        top.set_ylim(0, 1)
        box_w = 0.76
        text_width_in = 0.85 * box_w * (plots.FIG_WIDTH_IN - 0.1) / n_steps
        for i, (_, label) in enumerate(steps):
            text, size = _fitted(f"{i + 1}. {label}", text_width_in, size=7.5, weight="bold")
            _box(top, i + 0.5, 0.5, box_w, 0.7, text, face=light, edge=dark, size=size,
                 weight="bold", wrap=10_000)
            if i < len(steps) - 1:
                top.add_patch(FancyArrowPatch((i + 0.89, 0.5), (i + 1.11, 0.5), arrowstyle="-|>",
                                              mutation_scale=10, color=dark))
        y = np.arange(len(phases))
        start = mdates.date2num(phases["phase_start"])
        end = mdates.date2num(phases["phase_end"] + pd.Timedelta(days=1))
        ax.barh(y, end - start, left=start, height=0.55, color=light, edgecolor=dark, linewidth=0.6)
        order = dict(zip(phases["phase"], y))
        for _, step in dated.iterrows():
            s = mdates.date2num(step["step_start"])
            e = mdates.date2num(step["step_end"] + pd.Timedelta(days=1))
            ax.barh(order[step["phase"]], e - s, left=s, height=0.3, color=dark)
        ax.set_yticks(y, [f"{r.phase_label}\n({month_range(r.phase_start, r.phase_end)})"
                          for r in phases.itertuples()])
        ax.set_ylim(len(y) - 0.5, -0.5)
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonthday=15))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m/%Y"))
        ax.xaxis.set_minor_locator(mdates.MonthLocator())
        ax.grid(axis="x", which="minor")
        ax.set_axisbelow(True)
        ax.tick_params(axis="x", which="major", length=0)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        lower.legend(handles=[Patch(facecolor=light, edgecolor=dark, label="Phase"),
                              Patch(color=dark, label="datierter Einzelschritt (Interviews, Einladungen, Feldzeit)")],
                     loc="outside lower center", ncol=2)
        return fig


def nested_boxes(labels: Sequence[str], *, colour: str = "grey", height_in: float = 3.4) -> Figure:
    """Frames inside each other, ``labels[0]`` the innermost; inner frames are drawn darker."""
    if not labels:
        raise ValueError("nested_boxes: no labels to draw")
    light, dark = plots.block_shades(colour)
    k = len(labels)
    with plots.use_house_style():
        fig = _figure(height_in)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        # Outermost first, so inner boxes are drawn on top.
        for depth in range(k - 1, -1, -1):
            inset = 0.03 + 0.14 * (k - 1 - depth) * 3 / max(3, k)
            w, h = 1 - 2 * inset, 1 - 2 * inset * 0.95
            tone = _mix(light, "white", 0.25 + 0.6 * (k - 1 - depth) / max(1, k - 1))
            ax.add_patch(FancyBboxPatch((inset, inset * 0.95), w, h,
                                        boxstyle="round,pad=0,rounding_size=0.03",
                                        facecolor=tone, edgecolor=dark, linewidth=0.9))
            label_y = 0.5 if depth == 0 else inset * 0.95 + h - 0.06
            ax.text(0.5, label_y, labels[depth], ha="center", va="center",
                    fontsize=9 if depth == 0 else 8.5, fontweight="bold", color=_INK)
        return fig

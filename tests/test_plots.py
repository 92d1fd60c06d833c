"""Tests of the house style and chart functions in clusterkrise.plots."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from clusterkrise import plots  # noqa: E402

ITEMS = ["C1_01", "C1_02", "C1_03", "C1_04"]
LABELS = [
    "Liquidität / Rücklagen",
    "Quarantänemaßnahmen",
    "Ein Katastrophenschutzplan für den Ernstfall, der im Unternehmen abgestimmt ist",
    "Digitale Kommunikation",
]


@pytest.fixture
def summary() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "item": ITEMS, "item_label": LABELS, "n": [90, 88, 91, 87],
        "mean": rng.uniform(3, 8, 4), "median": [5, 6, 4, 7], "sd": rng.uniform(1, 3, 4),
    })


@pytest.fixture
def utest(summary) -> pd.DataFrame:
    table = pd.DataFrame({
        "item": ITEMS, "item_label": LABELS, "grouping": "betroffenheit",
        "group_1": "gering betroffen", "group_2": "stark getroffen",
        "mean_1": summary["mean"] + 0.6, "mean_2": summary["mean"] - 0.5,
        "share_1": [0.7, 0.4, 0.55, 0.9], "share_2": [0.3, 0.35, 0.2, 0.85],
        "p": [0.02, 0.40, 0.07, np.nan],
        "reason": ["", "", "", "group too small"],
    })
    table["significant"] = table["p"] <= 0.10
    table.attrs["alpha"] = 0.10
    return table


def _distribution(values, items=ITEMS[:3], seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for item, label in zip(items, LABELS):
        for value, share in zip(values, rng.dirichlet(np.ones(len(values)))):
            rows.append({"item": item, "item_label": label, "value": value,
                         "label": f"Stufe {value}", "n": 100, "share": share})
    return pd.DataFrame(rows)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _hex(colour) -> str:
    return mcolors.to_hex(colour)


# --- German number formatting ------------------------------------------------------------------


@pytest.mark.parametrize(("share", "decimals", "expected"), [
    (0.41, 0, "41 %"),
    (0.415, 1, "41,5 %"),
    (1.0, 0, "100 %"),
    (0.0, 0, "0 %"),
])
def test_format_percent_is_german(share, decimals, expected):
    assert plots.format_percent(share, decimals) == expected


def test_format_number_uses_decimal_comma_thousands_dot_and_minus():
    assert plots.format_number(4.25, 2) == "4,25"
    assert plots.format_number(12345.5, 1) == "12.345,5"
    assert plots.format_number(-1.5, 1) == "\u22121,5"
    assert plots.format_number(-0.001, 1) == "0,0"


def test_tick_labels_of_share_chart_are_german_percent(utest):
    fig = plots.grouped_bars(utest, value="share", colour="groups")
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "40 %" in ticks
    assert all(t.endswith(" %") and "." not in t for t in ticks)
    # bar labels of the shares in percent: share_1 of the first item is 0.7
    assert " 70 %" in _texts(fig)


def test_german_formatter_picks_decimals_from_the_ticks():
    assert plots.GermanFormatter().format_ticks([0, 0.5, 1.0]) == ["0,0", "0,5", "1,0"]
    assert plots.GermanFormatter().format_ticks([-2, 0, 2]) == ["\u22122", "0", "2"]
    assert plots.GermanFormatter(percent=True).format_ticks([0, 0.25, 0.5]) == ["0 %", "25 %", "50 %"]
    assert plots.GermanFormatter(percent=True, absolute=True).format_ticks([-0.2, 0, 0.2]) == [
        "20 %", "0 %", "20 %"]


def test_mean_bar_labels_use_decimal_comma(utest):
    fig = plots.grouped_bars(utest, value="mean", colour="ch07")
    expected = " " + f"{utest['mean_1'].iloc[0]:.1f}".replace(".", ",")
    assert expected in _texts(fig)


# --- significance colouring ---------------------------------------------------------------------


def test_grouped_bars_grey_out_non_significant_rows(utest):
    fig = plots.grouped_bars(utest, value="mean", colour="ch08")
    ax = fig.axes[0]
    light, dark = plots.BLOCK_SHADES["ch08"]
    grey_light, grey_dark = plots.BLOCK_SHADES["grey"]
    group_1 = [p for p in ax.patches if p.get_gid() == "group_1"]
    group_2 = [p for p in ax.patches if p.get_gid() == "group_2"]
    expected = utest["significant"].tolist()
    assert len(group_1) == len(group_2) == len(utest)
    assert expected == [True, False, True, False]  # NaN p of the last row counts as not significant
    for bar1, bar2, sig in zip(group_1, group_2, expected):
        assert _hex(bar1.get_facecolor()) == _hex(light if sig else grey_light)
        assert _hex(bar2.get_facecolor()) == _hex(dark if sig else grey_dark)


def test_dot_plot_group_markers_grey_when_not_significant(summary, utest):
    fig = plots.dot_plot_means(summary, utest=utest, colour="ch07", xlim=(1, 10))
    ax = fig.axes[0]
    dark = plots.BLOCK_SHADES["ch07"][1]
    grey_dark = plots.BLOCK_SHADES["grey"][1]
    (markers,) = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_gid() == "group2"]
    for i, sig in enumerate(utest["significant"]):
        assert _hex(markers.get_facecolor()[i]) == _hex(dark if sig else grey_dark)


def test_legend_states_alpha_of_table(summary, utest):
    fig = plots.dot_plot_means(summary, utest=utest, colour="ch07")
    assert "nicht signifikant (p > 0,10)" in _texts(fig)
    other = utest.assign(significant=utest["p"] <= 0.05)
    other.attrs["alpha"] = 0.05
    assert "nicht signifikant (p > 0,05)" in _texts(plots.grouped_bars(other))


def test_several_groupings_are_refused(utest):
    two = pd.concat([utest, utest.assign(grouping="geschlecht")], ignore_index=True)
    with pytest.raises(ValueError, match="several groupings"):
        plots.grouped_bars(two)


def test_missing_columns_are_named(utest):
    with pytest.raises(ValueError, match="share_1"):
        plots.grouped_bars(utest.drop(columns=["share_1"]), value="share")


def test_shares_given_in_percent_are_refused():
    bad = pd.DataFrame({"item": ["a", "b"], "share": [41.0, 12.0]})
    with pytest.raises(ValueError, match="fractions between 0 and 1"):
        plots.yes_no_bars(bad)


def test_unknown_colour_is_refused(summary):
    with pytest.raises(ValueError, match="unknown colour"):
        plots.dot_plot_means(summary, colour="ch99")


# --- chart content ------------------------------------------------------------------------------


def test_yes_no_bars_sorted_descending_with_percent_labels():
    table = pd.DataFrame({"item": ITEMS, "item_label": LABELS, "share": [0.2, 0.9, 0.55, 0.41]})
    fig = plots.yes_no_bars(table, colour="ch08")
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths, reverse=True)
    assert " 41 %" in _texts(fig)
    assert ax.get_yticklabels()[0].get_text() == LABELS[1]


def test_long_labels_are_wrapped(summary):
    fig = plots.dot_plot_means(summary, colour="ch09")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "\n" in labels[2]
    assert all(len(line) <= 42 for label in labels for line in label.split("\n"))


def test_diverging_bars_place_negative_left_and_special_separately():
    values = [-2, -1, 0, 1, 2, 99]
    table = _distribution(values)
    fig = plots.diverging_bars(table, scale={-2: "a", -1: "b", 0: "c", 1: "d", 2: "e"},
                               colour="ch07")
    main, special = fig.axes
    first = table[table["item"] == ITEMS[0]].set_index("value")["share"]
    row0 = [p for p in main.patches if abs(p.get_y() + p.get_height() / 2) < 1e-9]
    by_colour = {_hex(p.get_facecolor()): p for p in row0}
    grey_dark = plots.BLOCK_SHADES["grey"][1]
    strong_negative = by_colour[_hex(grey_dark)]
    assert strong_negative.get_x() + strong_negative.get_width() <= 1e-9  # left of zero
    assert strong_negative.get_width() == pytest.approx(first[-2])
    right = [p for p in row0 if p.get_x() >= -1e-9]
    assert sum(p.get_width() for p in right) == pytest.approx(first[1] + first[2])
    middle = [p for p in row0 if p.get_x() < 0 < p.get_x() + p.get_width()]
    assert len(middle) == 1 and middle[0].get_x() == pytest.approx(-first[0] / 2)
    assert max(p.get_x() + p.get_width() for p in row0) == pytest.approx(
        first[0] / 2 + first[1] + first[2])
    assert special.patches[0].get_width() == pytest.approx(first[99])
    assert special.get_title() == "Stufe 99"


def test_stacked_bars_fill_to_the_item_total_and_reject_over_one():
    table = _distribution([1, 2, 3])
    fig = plots.stacked_share_bars(table, categories={1: "online", 2: "hybrid", 3: "offline"},
                                   colour="ch09")
    row0 = [p for p in fig.axes[0].patches if abs(p.get_y() + p.get_height() / 2) < 1e-9]
    assert max(p.get_x() + p.get_width() for p in row0) == pytest.approx(1.0)
    assert {"online", "hybrid", "offline"} <= set(_texts(fig))
    doubled = pd.concat([table, table.assign(value=table["value"] + 10)])
    with pytest.raises(ValueError, match="add up to more than 1"):
        plots.stacked_share_bars(doubled, categories=[1, 2, 3, 11, 12, 13])


def test_distribution_grid_has_one_panel_per_item():
    table = _distribution(list(range(1, 11)), items=ITEMS)
    fig = plots.distribution_grid(table, scale_min=1, scale_max=10, colour="ch07", ncols=3)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == len(ITEMS)
    assert all(len(ax.patches) == 10 for ax in visible)


# --- empty input --------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda e: plots.dot_plot_means(e, colour="ch07"),
    lambda e: plots.grouped_bars(e),
    lambda e: plots.diverging_bars(e),
    lambda e: plots.stacked_share_bars(e),
    lambda e: plots.yes_no_bars(e),
    lambda e: plots.share_bars(e),
    lambda e: plots.distribution_grid(e),
])
def test_empty_input_gives_keine_daten(call):
    fig = call(pd.DataFrame())
    assert isinstance(fig, Figure)
    assert plots.NO_DATA_TEXT in _texts(fig)


def test_all_nan_means_give_keine_daten(summary):
    fig = plots.dot_plot_means(summary.assign(mean=np.nan), colour="ch07")
    assert plots.NO_DATA_TEXT in _texts(fig)


# --- files and determinism ----------------------------------------------------------------------


def test_house_font_is_matplotlibs_own():
    assert plots._font_in_use() == plots.house_font_path()
    assert plots.house_font_path().is_file()


def test_save_figure_is_byte_identical(tmp_path, summary, utest):
    outputs = []
    for run in ("a", "b"):
        fig = plots.dot_plot_means(summary, utest=utest, colour="ch07", xlim=(1, 10))
        outputs.append(plots.save_figure(fig, tmp_path / run / "abb-20",
                                         alt_text="Mittelwerte je Item"))
    svg_a, svg_b = outputs
    assert svg_a.suffix == ".svg"
    assert svg_a.read_bytes() == svg_b.read_bytes()
    # the one drawing both editions read: no raster copy beside it
    assert sorted(p.name for p in svg_a.parent.iterdir()) == ["abb-20.svg"]
    svg_text = svg_a.read_text(encoding="utf-8")
    assert "<dc:date>" not in svg_text
    assert "Mittelwerte je Item" in svg_text
    # different data must give a different file, or the identity check above proves nothing
    fig = plots.dot_plot_means(summary.assign(mean=summary["mean"] + 0.5), colour="ch07")
    svg_c = plots.save_figure(fig, tmp_path / "c" / "abb-20", alt_text="Mittelwerte je Item")
    assert svg_c.read_bytes() != svg_a.read_bytes()


def test_svg_size_fits_a4_column(tmp_path, summary):
    svg = plots.save_figure(plots.dot_plot_means(summary, colour="ch08"), tmp_path / "x", alt_text="Test")
    width_pt = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg.read_text(encoding="utf-8")).group(1))
    assert width_pt / 72 * 2.54 == pytest.approx(16, abs=0.1)


def test_save_figure_requires_alt_text(tmp_path, summary):
    with pytest.raises(ValueError, match="alt_text"):
        plots.save_figure(plots.dot_plot_means(summary, colour="ch07"), tmp_path / "x", alt_text=" ")


def test_alpha_given_must_match_the_table(utest):
    plain = utest.copy()
    plain.attrs = {}
    assert "nicht signifikant" in _texts(plots.grouped_bars(plain))
    with pytest.raises(ValueError, match="does not match the column 'significant'"):
        plots.grouped_bars(plain, alpha=0.05)  # item C1_03 has p = 0.07


# --- the tables of the sibling modules ----------------------------------------------------------


def test_charts_accept_tables_of_descriptives_and_utests(tmp_path):
    from clusterkrise import descriptives, utests

    rng = np.random.default_rng(11)
    n = 60
    data = pd.DataFrame({item: rng.integers(1, 11, n).astype(float) for item in ITEMS})
    data["C1_01"] += np.where(np.arange(n) < n // 2, 3, 0)  # a real difference for one item
    data["C1_01"] = data["C1_01"].clip(upper=10)
    data["D_yes"] = rng.integers(0, 2, n).astype(float)
    group = pd.Series(pd.Categorical(np.where(np.arange(n) < n // 2, "gering", "stark"),
                                     categories=["gering", "stark"], ordered=True))
    labels = dict(zip(ITEMS, LABELS))
    summary = descriptives.describe_items(data, ITEMS, item_labels=labels)
    table = utests.compare_groups(data, ITEMS, {"betroffenheit": group}, alpha=0.10,
                                  item_labels=labels)
    fig = plots.dot_plot_means(summary, utest=table, colour="ch07", xlim=(1, 10), alpha=0.10)
    (markers,) = [c for c in fig.axes[0].collections if c.get_gid() == "group2"]
    assert bool(table.loc[0, "significant"])
    assert _hex(markers.get_facecolor()[0]) == _hex(plots.BLOCK_SHADES["ch07"][1])
    dist = descriptives.distribution(data, ITEMS, scale_min=1, scale_max=10, item_labels=labels)
    grid = plots.distribution_grid(dist, scale_min=1, scale_max=10, colour="ch07")
    assert sum(len(ax.patches) for ax in grid.axes) == 10 * len(ITEMS)
    yes = descriptives.yes_shares(data, ["D_yes"])
    assert plots.NO_DATA_TEXT not in _texts(plots.yes_no_bars(yes, colour="ch08"))
    svg = plots.save_figure(fig, tmp_path / "abb", alt_text="Test")
    assert svg.stat().st_size > 0 and not svg.with_suffix(".png").exists()


# --- generic helpers (from chapter 07)


# --- generic helpers (from chapter 06)


def test_shade_by_group_colours_rows_and_lists_only_groups_that_occur():
    grouping = pd.Series(pd.Categorical(["klein", "groß"], categories=["klein", "groß"]))
    table = pd.DataFrame({"label": ["1", "2", "3"], "share": [0.2, 0.3, 0.5]})
    shaded, legend = plots.shade_by_group(table, ["klein", "nicht zugeordnet", "klein"], grouping,
                                          describe={"klein": "klein (bis 5)"})
    light, _dark = plots.block_shades("groups")
    assert shaded["colour"].tolist() == [light, plots.BLOCK_SHADES["grey"][0], light]
    assert list(legend) == ["klein (bis 5)", plots.OUTSIDE_KEY]


def test_category_bars_draws_one_bar_per_row_with_its_percentage():
    table = pd.DataFrame({"label": ["Verein", "GmbH", "Andere"], "share": [0.48, 0.31, 0.21]})
    fig = plots.category_bars(table, horizontal=True)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.48, 0.31, 0.21])
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts == [plots.format_percent(s) for s in table["share"]]
    with pytest.raises(ValueError, match="missing column"):
        plots.category_bars(table.drop(columns="share"), horizontal=False)


def test_options_with_split_draws_options_above_the_split():
    shares = pd.DataFrame({"item_label": ["A", "B"], "share": [0.6, 0.4]})
    split = pd.DataFrame({"label": ["keins", "eins", "mehr"], "share": [0.1, 0.5, 0.4]})
    fig = plots.options_with_split(shares, split)
    top, bottom = fig.axes
    assert len(top.patches) == 2 and len(bottom.patches) == 3


def _extents(fig, artists):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return [a.get_window_extent(canvas.get_renderer()) for a in artists]


def test_dot_plot_gives_a_long_label_the_room_it_needs():
    labels = ["Kurz", "Besondere Fachfragen eines Themenfelds (etwa Zulassungen, Prüfungen, Normen und Ähnliches)",
              "Ein zweites Label, das auf zwei Zeilen umbricht", "Kurz auch", "Noch ein langes Label mit "
              "einer Klammer (erstens, zweitens, drittens)"]
    table = pd.DataFrame({"item": [f"B1_{i:02d}" for i in range(5)], "item_label": labels,
                          "mean": [7.0, 6.0, 5.8, 5.5, 5.0]})
    fig = plots.dot_plot_means(table, colour="ch08")
    boxes = _extents(fig, fig.axes[0].get_yticklabels())
    assert max(len(t.get_text().splitlines()) for t in fig.axes[0].get_yticklabels()) >= 3
    half_line = fig.dpi * 4 / 72  # 4 pt, half a line of 8-pt labels: less reads as one run-on label
    for upper, lower in zip(boxes, boxes[1:]):
        assert upper.y0 - lower.y1 >= half_line, "tick labels of neighbouring rows run into each other"


def test_share_bars_draw_a_subset_inside_its_category():
    table = pd.DataFrame({"value": ["weaker", "stronger", "top"], "label": ["weniger", "intensiver", "darunter oben"],
                          "share": [0.3, 0.7, 0.4], "part_of": [None, None, "stronger"]})
    fig = plots.share_bars(table, colour="ch08")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["weniger", "intensiver"]
    (part,) = [p for p in ax.patches if p.get_gid() == "part-top"]
    parent = ax.patches[1]
    assert part.get_y() == parent.get_y() and part.get_width() == pytest.approx(0.4) and part.get_hatch()
    assert part.get_x() + part.get_width() == pytest.approx(parent.get_width())  # the upper end of its bar
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["darunter oben"]
    with pytest.raises(ValueError, match="part_of names no category"):
        plots.share_bars(table.assign(part_of=[None, None, "nowhere"]))


def test_category_bars_can_leave_out_empty_categories_and_name_them():
    table = pd.DataFrame({"label": ["unter 100", "100–149", "150–400", "401–550"], "share": [0.5, 0.0, 0.5, 0.0]})
    fig = plots.category_bars(table, horizontal=False, drop_empty=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["unter 100", "150–400"]
    assert "100–149 und 401–550" in fig.get_supxlabel()
    assert len(plots.category_bars(table, horizontal=False).axes[0].patches) == 4


def test_lead_counts_stacks_significant_and_other_leads_per_group():
    table = pd.DataFrame({"comparison": ["nach A", "nach A", "nach B", "nach B"],
                          "group": ["a1", "a2", "b1", "b2"], "n_sig": [5, 0, 2, 1],
                          "n_not_sig": [10, 3, 7, 8], "n_items": 18})
    fig = plots.lead_counts(table, alpha=0.10)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["nach A", "nach B"]
    first = fig.axes[0]
    sig = [p for p in first.patches if p.get_gid() == "significant"]
    rest = [p for p in first.patches if p.get_gid() == "not-significant"]
    assert [p.get_width() for p in sig] == [5, 0] and [p.get_width() for p in rest] == [10, 3]
    assert [p.get_x() for p in rest] == [5, 0]
    assert [t.get_text().strip() for t in first.texts] == ["15, davon 5 signifikant", "3"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Vorsprung signifikant (p ≤ 0,10)",
                                                                  "Vorsprung nicht signifikant", "alle verglichenen Items"]
    assert plots.lead_counts(table.assign(n_not_sig=0)).axes[1].texts[0].get_text().strip() == "2, alle signifikant"


# --- one layout per figure, and the figure cache ------------------------------------------------


def _plain_savefig(fig: Figure, path) -> bytes:
    """What matplotlib's own savefig writes (it lays the figure out in a draw of its own first)."""
    with plots.use_house_style():
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None, "Description": "alt"})
    return path.read_bytes()


@pytest.mark.parametrize("make", [
    lambda s, u: plots.dot_plot_means(s, utest=u, colour="ch07", xlim=(1, 10)),
    lambda s, u: plots.grouped_bars(u, value="share", colour="groups"),
    lambda s, u: plots.distribution_grid(_distribution([1, 2, 3, 4, 5]), scale_min=1, scale_max=5),
], ids=["dots", "bars", "grid"])
def test_save_figure_lays_out_once_and_writes_what_savefig_writes(tmp_path, summary, utest, make):
    plain = _plain_savefig(make(summary, utest), tmp_path / "plain.svg")
    fig = make(summary, utest)
    engine = fig.get_layout_engine()
    ours = plots.save_figure(fig, tmp_path / "ours", alt_text="alt").read_bytes()
    assert ours == plain
    assert fig.get_layout_engine() is engine  # handed back as it came


def _stacked(shares) -> pd.DataFrame:
    return pd.DataFrame({"item": "C1_01", "item_label": "Liquidität", "value": [1, 2, 3],
                         "label": ["a", "b", "c"], "n": 100, "share": shares})


def test_labels_too_wide_for_their_segment_are_left_out(tmp_path):
    fig = plots.stacked_share_bars(_stacked([0.90, 0.09, 0.01]), categories=[1, 2, 3], min_label_share=0.0)
    assert {"90 %", "9 %", "1 %"} <= set(_texts(fig))
    svg = plots.save_figure(fig, tmp_path / "x", alt_text="alt").read_text(encoding="utf-8")
    assert "90 %" in svg and "9 %" in svg  # room enough
    assert ">1 %<" not in svg and " 1 %" not in svg  # a 1 % segment is narrower than its label


def _draw_in_a_fresh_process(tmp_path, name, *, cache, forbid_drawing=False, shift=0.0, alt="Mittelwerte"):
    """Save the test's dot plot in a new Python process; with ``forbid_drawing`` any layout or draw fails."""
    import subprocess
    import sys
    import textwrap as tw

    script = tw.dedent(f"""
        import numpy as np, pandas as pd
        from clusterkrise import plots
        if {forbid_drawing!r}:
            def refuse(*args, **kwargs):
                raise SystemExit("drawn although cached")
            plots._lay_out = refuse
        rng = np.random.default_rng(7)
        summary = pd.DataFrame({{"item": {ITEMS!r}, "item_label": {LABELS!r}, "n": [90, 88, 91, 87],
                                "mean": rng.uniform(3, 8, 4) + {shift!r}, "median": [5, 6, 4, 7],
                                "sd": rng.uniform(1, 3, 4)}})
        fig = plots.dot_plot_means(summary, colour="ch07", xlim=(1, 10))
        plots.save_figure(fig, {str(tmp_path / name)!r}, alt_text={alt!r}, cache={cache and str(cache)!r})
    """)
    env = {**__import__("os").environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": str(len(name))}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return (tmp_path / f"{name}.svg").read_bytes()


def test_a_cached_figure_is_the_fresh_drawing_and_a_changed_one_is_drawn(tmp_path):
    cache = tmp_path / "cache"
    fresh = _draw_in_a_fresh_process(tmp_path, "fresh", cache=None)
    first = _draw_in_a_fresh_process(tmp_path, "first", cache=cache)
    assert len(list(cache.iterdir())) == 1
    # another process, another hash seed: the same figure comes from the cache, not from a draw
    hit = _draw_in_a_fresh_process(tmp_path, "second-run", cache=cache, forbid_drawing=True)
    assert fresh == first == hit
    # other data or another alt text is another figure: drawn and stored beside the first
    with pytest.raises(AssertionError, match="drawn although cached"):
        _draw_in_a_fresh_process(tmp_path, "moved", cache=cache, forbid_drawing=True, shift=0.5)
    moved = _draw_in_a_fresh_process(tmp_path, "moved", cache=cache, shift=0.5)
    alt = _draw_in_a_fresh_process(tmp_path, "alt", cache=cache, alt="Andere Beschreibung")
    assert moved != fresh and alt != fresh and b"Andere Beschreibung" in alt
    assert len(list(cache.iterdir())) == 3


def test_the_key_follows_style_and_figure_and_not_the_process(summary):
    from clusterkrise.figcache import FigureCache

    store = FigureCache("unused")
    fig = plots.dot_plot_means(summary, colour="ch07", xlim=(1, 10))
    with plots.use_house_style():
        key = store.key(fig, "alt")
        assert store.key(fig, "alt") == key  # keying changes nothing it keys
        assert store.key(plots.dot_plot_means(summary, colour="ch07", xlim=(1, 10)), "alt") == key
        assert store.key(plots.dot_plot_means(summary, colour="ch08", xlim=(1, 10)), "alt") != key
        with matplotlib.rc_context({"svg.hashsalt": "other"}):
            assert store.key(fig, "alt") != key
    fig.axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, pos: str(x)))
    with plots.use_house_style():
        assert store.key(fig, "alt") is None  # a lambda does not pickle: no key, the figure is drawn


@pytest.mark.parametrize("damage", ["truncated", "altered", "empty"])
def test_a_damaged_cache_entry_is_drawn_again_and_replaced(tmp_path, summary, damage):
    cache = tmp_path / "cache"
    fresh = plots.save_figure(plots.dot_plot_means(summary, colour="ch07"), tmp_path / "fresh", alt_text="alt",
                              cache=cache).read_bytes()
    (entry,) = cache.iterdir()
    raw = entry.read_bytes()
    damaged = {"truncated": raw[: len(raw) // 2], "altered": raw.replace(b"#c0392b", b"#000000"), "empty": b""}[damage]
    assert damaged != raw
    entry.write_bytes(damaged)
    again = plots.save_figure(plots.dot_plot_means(summary, colour="ch07"), tmp_path / "again", alt_text="alt",
                              cache=cache).read_bytes()
    assert again == fresh
    assert entry.read_bytes() == raw  # the entry was written again, whole
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temporary file left behind


def test_figure_cache_folder_is_the_projects_and_can_be_switched_off(monkeypatch):
    from clusterkrise import PROJECT_ROOT
    from clusterkrise.figcache import ENV, figure_cache

    monkeypatch.delenv(ENV, raising=False)
    assert figure_cache() == PROJECT_ROOT / "_build" / "cache" / "figures"
    monkeypatch.setenv(ENV, "0")
    assert figure_cache() is None
    monkeypatch.setenv(ENV, "/somewhere/else")
    assert figure_cache() == Path("/somewhere/else")


def test_labels_inside_segments_take_no_room_so_one_left_out_needs_no_second_layout(tmp_path):
    """They lie inside their bars: the layout leaves them out, and the axes sit where they sit without them."""
    def save(min_label_share):
        fig = plots.stacked_share_bars(_stacked([0.90, 0.09, 0.01]), categories=[1, 2, 3],
                                       min_label_share=min_label_share)
        engine, runs = fig.get_layout_engine(), []
        real = engine.execute
        engine.execute = lambda figure: runs.append(1) or real(figure)
        svg = plots.save_figure(fig, tmp_path / f"x{min_label_share}", alt_text="alt").read_text(encoding="utf-8")
        return [tuple(ax.get_position().bounds) for ax in fig.axes], len(runs), svg

    with_labels, runs, svg = save(0.0)
    assert ">1 %<" not in svg and " 1 %" not in svg  # one label was left out ...
    assert runs == 1  # ... and the figure was laid out once
    assert with_labels == save(1.01)[0]


@pytest.mark.parametrize("make", [
    lambda s, u: plots.grouped_bars(u, value="share", colour="groups"),
    lambda s, u: plots.dot_plot_means(s, utest=u, colour="ch07", xlim=(1, 10)),
], ids=["bars", "dots"])
def test_an_empty_axis_label_is_not_placed_from_the_tick_labels_and_nothing_drawn_moves(tmp_path, summary, utest, make):
    """Its place is never drawn: save_figure fixes it instead of measuring the tick labels again for it."""
    import matplotlib.axis

    fig = make(summary, utest)
    empty = [axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) if not axis.label.get_text()]
    assert empty, "the chart should have an axis without a label"
    measured = []
    real = matplotlib.axis.Axis._get_tick_boxes_siblings
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.axis.Axis, "_get_tick_boxes_siblings",
                      lambda self, renderer: measured.append(self) or real(self, renderer))
        ours = plots.save_figure(fig, tmp_path / "ours", alt_text="alt").read_bytes()
    assert not [axis for axis in measured if any(axis is e for e in empty)]
    assert measured, "an axis with a label is still placed from its tick labels"
    assert ours == _plain_savefig(make(summary, utest), tmp_path / "plain.svg")

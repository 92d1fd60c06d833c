"""Descriptive statistics as tidy tables (one row per item, or per item and scale point).

Shares are fractions 0..1; rounding and percent formatting belong to the caller. Special answers
("nicht relevant", "nicht betroffen", "keine Kooperation") are stored as codes in the data (see
docs/architecture.md); wherever a function takes ``special_codes`` those codes are set aside before
location and spread are computed, and counted in ``n_special``.

``special_codes`` is accepted in three forms: one code (``0``), an iterable of codes (``[0, 99]``)
applying to every item, or a mapping ``{item: codes, None: default codes}``.
"""

from __future__ import annotations

import math

import warnings
from collections import Counter
from dataclasses import dataclass
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "describe_items",
    "frequencies",
    "relevance_shares",
    "yes_shares",
    "top_box_shares",
    "distribution",
    "scale_point_labels",
    "answer_distribution",
    "Band",
    "scale_bands",
    "band_shares",
]


# --------------------------------------------------------------------------------------------------
# shared input handling (also used by clusterkrise.utests)


def as_item_list(data: pd.DataFrame, items: str | Iterable[str], *, caller: str) -> list[str]:
    """Items as a list of existing columns; unknown names are an error that lists them."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{caller}: expected a pandas DataFrame, got {type(data).__name__}")
    item_list = [items] if isinstance(items, str) else list(items)
    missing = [i for i in item_list if i not in data.columns]
    if missing:
        raise ValueError(f"{caller}: item column(s) not in the data: {', '.join(map(str, missing))}")
    duplicated = sorted(str(i) for i, k in Counter(item_list).items() if k > 1)
    if duplicated:
        raise ValueError(f"{caller}: item(s) listed more than once: {', '.join(map(str, duplicated))}")
    return item_list


def _codes(value: Any) -> frozenset[float]:
    if value is None:
        return frozenset()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    out = set()
    for code in value:
        try:
            out.add(float(code))
        except (TypeError, ValueError):
            raise ValueError(f"special code {code!r} is not a number") from None
    return frozenset(out)


def special_codes_for(special_codes: Any, items: Sequence[Hashable]) -> dict[Hashable, frozenset[float]]:
    """Normalise ``special_codes`` to ``{item: frozenset of codes}`` for every item."""
    if special_codes is None:
        return {item: frozenset() for item in items}
    if isinstance(special_codes, Mapping):
        default = _codes(special_codes.get(None))
        unknown = [k for k in special_codes if k is not None and k not in items]
        if unknown:
            raise ValueError(f"special_codes names item(s) that are not analysed: {', '.join(map(str, unknown))}")
        return {item: _codes(special_codes[item]) if item in special_codes else default for item in items}
    codes = _codes(special_codes)
    return {item: codes for item in items}


def numeric_block(data: pd.DataFrame, items: Sequence[str], *, caller: str) -> tuple[np.ndarray, dict[str, str]]:
    """Items as a float matrix (rows x items) and, per item, why it has no usable value.

    Text that is not a number becomes NaN with a warning naming the item; an item whose answers are
    all non-numeric text is reported in the second return value instead of turning into zeros.
    """
    out = np.full((len(data), len(items)), np.nan)
    problems: dict[str, str] = {}
    dtypes = data.dtypes
    numeric = [
        j
        for j, item in enumerate(items)
        if pd.api.types.is_numeric_dtype(dtypes[item]) and not pd.api.types.is_bool_dtype(dtypes[item])
    ]
    if numeric:  # the common case, converted in one go
        out[:, numeric] = data[[items[j] for j in numeric]].to_numpy(dtype=float, na_value=np.nan)
    done = set(numeric)
    for j, item in enumerate(items):
        if j in done:
            continue
        raw = data[item]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype(float)
        values = pd.to_numeric(raw, errors="coerce")
        lost = int((raw.notna() & values.isna()).sum())
        if lost:
            if values.notna().any():
                warnings.warn(f"{caller}: {lost} non-numeric value(s) in item {item} treated as missing", stacklevel=3)
            else:
                problems[item] = "keine numerischen Werte / no numeric values"
        out[:, j] = values.to_numpy(dtype=float, na_value=np.nan)
    return out, problems


def _mask_special(block: np.ndarray, items: Sequence[str], codes: Mapping[Hashable, frozenset[float]]) -> np.ndarray:
    special = np.zeros(block.shape, dtype=bool)
    for j, item in enumerate(items):
        if codes[item]:
            special[:, j] = np.isin(block[:, j], list(codes[item]))
    return special


def _labels(items: Sequence[str], item_labels: Mapping[str, str] | None) -> list[str]:
    item_labels = item_labels or {}
    return [str(item_labels.get(item, item)) for item in items]


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    part = np.asarray(part, dtype=float)
    whole = np.asarray(whole, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.where(whole > 0, whole, 1), np.nan)


# --------------------------------------------------------------------------------------------------
# tables


def describe_items(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    special_codes: Any = None,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """n, n_special, n_missing, median, mean, sd (n-1), min, max per item.

    ``n`` counts the substantive answers the statistics are computed from; special codes are
    counted in ``n_special``, empty cells in ``n_missing``. Items without two answers get sd NaN.
    """
    item_list = as_item_list(data, items, caller="describe_items")
    block, _ = numeric_block(data, item_list, caller="describe_items")
    codes = special_codes_for(special_codes, item_list)
    special = _mask_special(block, item_list, codes)
    missing = np.isnan(block)
    valid = np.where(special, np.nan, block)
    n = (~np.isnan(valid)).sum(axis=0)
    with warnings.catch_warnings():
        # all-NaN columns legitimately give NaN statistics; numpy's RuntimeWarning adds nothing.
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(valid, axis=0) if len(valid) else np.full(len(item_list), np.nan)
        mean = np.nanmean(valid, axis=0) if len(valid) else np.full(len(item_list), np.nan)
        sd = np.nanstd(valid, axis=0, ddof=1) if len(valid) else np.full(len(item_list), np.nan)
        vmin = np.nanmin(valid, axis=0) if len(valid) else np.full(len(item_list), np.nan)
        vmax = np.nanmax(valid, axis=0) if len(valid) else np.full(len(item_list), np.nan)
    sd = np.where(n >= 2, sd, np.nan)
    return pd.DataFrame(
        {
            "item": item_list,
            "item_label": _labels(item_list, item_labels),
            "n": n.astype(int),
            "n_special": special.sum(axis=0).astype(int),
            "n_missing": missing.sum(axis=0).astype(int),
            "median": median,
            "mean": mean,
            "sd": sd,
            "min": vmin,
            "max": vmax,
        }
    )


def frequencies(data: pd.DataFrame, item: str, *, labels: Mapping[Any, str] | None = None) -> pd.DataFrame:
    """Counts per answer value of one item: value, label, n, share of all answering respondents.

    Every value named in ``labels`` gets a row, also when nobody chose it; values seen in the data
    without a label keep an empty label. Empty cells are not answers and are not counted.
    """
    (item,) = as_item_list(data, [item], caller="frequencies")
    values = data[item].dropna()
    counts = values.value_counts(sort=False)
    labels = dict(labels or {})
    keys = list(counts.index) + [k for k in labels if k not in counts.index]
    try:
        keys = sorted(keys)
    except TypeError:  # mixed types (numbers and text) keep first-seen order
        pass
    n = np.array([int(counts.get(k, 0)) for k in keys], dtype=int)
    return pd.DataFrame(
        {
            "value": keys,
            "label": [str(labels.get(k, "")) for k in keys],
            "n": n,
            "share": _share(n, np.full(len(keys), n.sum())),
        }
    )


def relevance_shares(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    special_codes: Any,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Share of answering respondents who did not choose the special code ("nicht relevant" etc.).

    Columns: item, item_label, n (answered at all), n_relevant, share (n_relevant / n).
    """
    item_list = as_item_list(data, items, caller="relevance_shares")
    codes = special_codes_for(special_codes, item_list)
    empty = [i for i in item_list if not codes[i]]
    if empty:
        raise ValueError(f"relevance_shares: no special code given for item(s) {', '.join(empty)}")
    block, _ = numeric_block(data, item_list, caller="relevance_shares")
    special = _mask_special(block, item_list, codes)
    n = (~np.isnan(block)).sum(axis=0)
    n_relevant = n - special.sum(axis=0)
    return pd.DataFrame(
        {
            "item": item_list,
            "item_label": _labels(item_list, item_labels),
            "n": n.astype(int),
            "n_relevant": n_relevant.astype(int),
            "share": _share(n_relevant, n),
        }
    )


def yes_shares(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Share of 1 among the answered 0/1 items (TinSort, multiple choice): item, item_label, n, n_yes, share."""
    item_list = as_item_list(data, items, caller="yes_shares")
    block, problems = numeric_block(data, item_list, caller="yes_shares")
    if problems:
        raise ValueError(f"yes_shares: item(s) without numeric values: {', '.join(problems)}")
    bad = ~np.isnan(block) & ~np.isin(block, [0.0, 1.0])
    if bad.any():
        names = [item_list[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(f"yes_shares: item(s) {', '.join(names)} hold values other than 0 and 1")
    n = (~np.isnan(block)).sum(axis=0)
    n_yes = (block == 1).sum(axis=0)
    return pd.DataFrame(
        {
            "item": item_list,
            "item_label": _labels(item_list, item_labels),
            "n": n.astype(int),
            "n_yes": n_yes.astype(int),
            "share": _share(n_yes, n),
        }
    )


def top_box_shares(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    cut: float,
    special_codes: Any = None,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Share of substantive answers at or above ``cut``: item, item_label, n, n_top, share.

    Special codes are excluded from the base, as in the study's shares of "große Herausforderung".
    """
    if isinstance(cut, bool) or not isinstance(cut, (int, float, np.integer, np.floating)) or np.isnan(cut):
        raise ValueError(f"top_box_shares: cut must be a number, got {cut!r}")
    item_list = as_item_list(data, items, caller="top_box_shares")
    block, _ = numeric_block(data, item_list, caller="top_box_shares")
    special = _mask_special(block, item_list, special_codes_for(special_codes, item_list))
    valid = np.where(special, np.nan, block)
    n = (~np.isnan(valid)).sum(axis=0)
    n_top = (valid >= cut).sum(axis=0)
    return pd.DataFrame(
        {
            "item": item_list,
            "item_label": _labels(item_list, item_labels),
            "n": n.astype(int),
            "n_top": n_top.astype(int),
            "share": _share(n_top, n),
        }
    )


def distribution(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    scale_min: float,
    scale_max: float,
    step: float = 1,
    special_codes: Any = None,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Counts on every scale point (zeros included) per item: item, item_label, value, n, share.

    ``share`` is relative to the item's substantive answers. A value that is neither a scale point
    nor a special code is an error naming the item and the value, since it means the scale given
    here does not match the data.
    """
    for name, value in (("scale_min", scale_min), ("scale_max", scale_max), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or np.isnan(value):
            raise ValueError(f"distribution: {name} must be a number, got {value!r}")
    if step <= 0:
        raise ValueError(f"distribution: step must be positive, got {step!r}")
    if scale_max < scale_min:
        raise ValueError(f"distribution: scale_max ({scale_max}) is below scale_min ({scale_min})")
    n_points = (scale_max - scale_min) / step
    if not np.isclose(n_points, round(n_points)):
        raise ValueError(f"distribution: {scale_min}..{scale_max} is not a whole number of steps of {step}")
    points = scale_min + step * np.arange(int(round(n_points)) + 1)

    item_list = as_item_list(data, items, caller="distribution")
    block, _ = numeric_block(data, item_list, caller="distribution")
    special = _mask_special(block, item_list, special_codes_for(special_codes, item_list))
    valid = np.where(special, np.nan, block)
    index = np.rint((valid - scale_min) / step)
    on_grid = np.isclose(scale_min + index * step, valid) & (index >= 0) & (index < len(points))
    off = ~np.isnan(valid) & ~on_grid
    if off.any():
        j = int(np.flatnonzero(off.any(axis=0))[0])
        bad = sorted(set(valid[off[:, j], j].tolist()))[:5]
        raise ValueError(
            f"distribution: item {item_list[j]} holds value(s) {bad} that are not points of the scale "
            f"{scale_min:g}..{scale_max:g} (step {step:g}) and not special codes"
        )
    labels = _labels(item_list, item_labels)
    frames = []
    for j, item in enumerate(item_list):
        idx = index[~np.isnan(valid[:, j]), j].astype(int)
        counts = np.bincount(idx, minlength=len(points))
        frames.append(
            pd.DataFrame(
                {
                    "item": item,
                    "item_label": labels[j],
                    "value": points,
                    "n": counts.astype(int),
                    "share": _share(counts, np.full(len(points), counts.sum())),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["item", "item_label", "value", "n", "share"])
    return pd.concat(frames, ignore_index=True)


# Development arrows of Tab. 6, read from the mean change on the -2..+2 usage scale. The study prints
# five arrow glyphs without a legend; this mapping is our reading and lives in one place.
TREND_ARROWS = ((1.0, "↑"), (0.3, "↗"), (-0.3, "→"), (-1.0, "↘"))
TREND_ARROW_BOTTOM = "↓"


def trend_arrow_key() -> str:
    """The key to the Tab. 6 arrows, read from ``TREND_ARROWS`` (so key and table cannot disagree)."""
    from .formatting import signed

    parts = []
    upper = None
    for lower, arrow in TREND_ARROWS:
        if upper is None:
            parts.append(f"{arrow} ab {signed(lower)}")
        else:
            parts.append(f"{arrow} {signed(lower)} bis unter {signed(upper)}")
        upper = lower
    parts.append(f"{TREND_ARROW_BOTTOM} unter {signed(upper)}")
    return "Pfeile (mittlere Veränderung der Nutzung): " + "; ".join(parts) + "."


def trend_arrow(mean_change: float) -> str:
    """The Tab. 6 arrow for a mean change of use (see ``TREND_ARROWS``); "?" without a mean."""
    if mean_change is None or (isinstance(mean_change, float) and math.isnan(mean_change)):
        return "?"
    for lower, arrow in TREND_ARROWS:
        if mean_change >= lower:
            return arrow
    return TREND_ARROW_BOTTOM



# --- generic helpers (from chapter 07)


def scale_point_labels(scale_min: int, scale_max: int, end_labels: Mapping[int, str] | None = None) -> dict[int, str]:
    """A label for every point of a rating scale: the codebook's label where it has one, else the number.

    Bipolar scales (``scale_min < 0``) print positive points with their sign ("+1"), so a legend reads
    as the slider did; numbers use the book's German notation.
    """
    from .formatting import number

    labels = dict(end_labels or {})
    bipolar = scale_min < 0
    out: dict[int, str] = {}
    for v in range(int(scale_min), int(scale_max) + 1):
        out[v] = labels.get(v) or (("+" if bipolar and v > 0 else "") + number(v))
    return out


def answer_distribution(
    data: pd.DataFrame,
    items: str | Iterable[str],
    *,
    point_labels: Mapping[Any, str],
    special_codes: Any = None,
    item_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Long table (item x answer) of a rating question, shares over all answers incl. special codes.

    Columns: item, item_label, value, label, n, share, n_item (answers to the item), relevance_share
    (share of answers that are no special code; 1 without special codes) and mean (special codes set
    aside). Items are ordered by relevance, ties by mean, both descending, so a stacked chart shows
    the most widely relevant and then the most positive item first.
    """
    item_list = as_item_list(data, items, caller="answer_distribution")
    labels = dict(zip(item_list, _labels(item_list, item_labels)))
    codes = special_codes_for(special_codes, item_list)
    frames = [
        frequencies(data, item, labels=point_labels).assign(item=item, item_label=labels[item]) for item in item_list
    ]
    if not frames:
        return pd.DataFrame(columns=["item", "item_label", "value", "label", "n", "share", "n_item", "relevance_share", "mean"])
    dist = pd.concat(frames, ignore_index=True)
    stats = describe_items(data, item_list, special_codes=special_codes).set_index("item")
    if any(codes[i] for i in item_list):
        relevance = relevance_shares(data, item_list, special_codes=special_codes).set_index("item")["share"]
    else:
        relevance = pd.Series(1.0, index=item_list)
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
# --- generic helpers (scale bands)


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
    freq = frequencies(values.to_frame(), values.name)
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


def _span(values: Sequence[float]) -> str:
    """"1–4" for a range of scale points, "5" for a single one (German number notation)."""
    from .formatting import number

    values = sorted(values)
    first, last = number(values[0]), number(values[-1])
    return first if first == last else f"{first}–{last}"


# --- generic helpers (from chapter 06)

#: Label of respondents who belong to none of the groups of a comparison (or of a band holding several).
OUTSIDE_GROUPS = "nicht zugeordnet"


def count_table(keys: Sequence, labels: Sequence[str], counts: Sequence[int]) -> pd.DataFrame:
    """Counts with their shares of the total: columns value, label, n, share (NaN shares when all are 0)."""
    n = np.asarray(counts, dtype=int)
    total = n.sum()
    return pd.DataFrame({"value": list(keys), "label": [str(l) for l in labels], "n": n,
                         "share": n / total if total else np.full(len(n), np.nan)})


def band_counts(values: pd.Series, bands: Sequence[tuple[float, float, str]]) -> pd.DataFrame:
    """Counts of ``values`` in half-open bands ``[low, high)`` given as ``(low, high, label)``.

    Every non-missing value must fall in one band; a value outside all bands is an error (it would
    silently vanish from the shares otherwise).
    """
    v = pd.to_numeric(values, errors="coerce").dropna()
    hits = [((v >= lo) & (v < hi)) for lo, hi, _ in bands]
    outside = ~np.logical_or.reduce(hits) if hits else np.ones(len(v), bool)
    if outside.any():
        raise ValueError(f"values {sorted(v[outside].unique())[:5]} fall in none of the bands {[b[2] for b in bands]}")
    return count_table([b[2] for b in bands], [b[2] for b in bands], [int(h.sum()) for h in hits])


def selection_counts(data: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """How many options of a multiple-choice question each respondent ticked (code 1)."""
    return data[list(columns)].apply(pd.to_numeric, errors="coerce").eq(1).sum(axis=1)


def rank_correlation(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rho of the pairs where both are present: Pearson's r of their midranks, as
    ``scipy.stats.spearmanr`` defines it (the tests compare the two). pandas' ``corr(method="spearman")``
    would import scipy.stats into the kernel, half a second for one number."""
    both = x.notna() & y.notna()
    return float(x[both].rank(method="average").corr(y[both].rank(method="average")))


def selection_split(data: pd.DataFrame, columns: Sequence[str], *, none: str, one: str, more: str) -> pd.DataFrame:
    """Respondents who ticked no, exactly one or more than one option (values "0", "1", ">1")."""
    ticked = selection_counts(data, columns)
    counts = [int((ticked == 0).sum()), int((ticked == 1).sum()), int((ticked > 1).sum())]
    return count_table(["0", "1", ">1"], [none, one, more], counts)


def group_of_bands(values: pd.Series, grouping: pd.Series, bands: Sequence[tuple[float, float, str]],
                   *, outside: str = OUTSIDE_GROUPS) -> list[str]:
    """The comparison group of the respondents in each band ``[low, high)``.

    ``outside`` where the band's respondents belong to no group or to several (a band that a
    threshold cuts through), so a figure can shade each bar by the group its respondents form.
    """
    values = pd.to_numeric(values, errors="coerce")
    grouping = grouping.reindex(values.index)
    out = []
    for lo, hi, _ in bands:
        members = grouping[(values >= lo) & (values < hi)].dropna().unique()
        out.append(str(members[0]) if len(members) == 1 else outside)
    return out


def group_of_codes(values: pd.Series, grouping: pd.Series, codes: Sequence[float], *,
                   outside: str = OUTSIDE_GROUPS) -> list[str]:
    """:func:`group_of_bands` for single answer codes."""
    return group_of_bands(values, grouping, [(c, c + 1e-9, "") for c in codes], outside=outside)

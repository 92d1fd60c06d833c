"""Two-sided Mann-Whitney U tests for many items x many comparison groupings.

``compare_groups`` returns the tidy table fixed in docs/architecture.md, one row per
(item, grouping, pair of groups): ``item, item_label, grouping, group_1, group_2, n_1, n_2,
median_1, median_2, mean_1, mean_2, U, z, p, p_bh, r_rb, significant, method, reason, alpha,
continuity, bh_family, note``.

Conventions
-----------
* ``U`` is the statistic of group_1 as ``scipy.stats.mannwhitneyu`` returns it (pairs where
  group_1 is larger count 1, ties 1/2); ``r_rb = 2U/(n_1 n_2) - 1`` is the rank-biserial
  correlation, positive when group_1 tends to higher values; ``z`` has the same sign.
* Ties are always corrected for in the variance. ``method`` picks the p-value:

  - ``"asymptotic"`` (default): the normal approximation with tie correction and, with
    ``continuity=False`` (default), no continuity correction -- the "Asymp. Sig. (2-tailed)" SPSS
    prints, which is what a study of this kind quotes;
  - ``"auto"``: R's ``wilcox.test`` rule -- exact when there are no ties and both groups have fewer
    than 50 values, else asymptotic (with ``continuity=True`` this is R's default ``correct=TRUE``);
  - ``"exact"``: the exact permutation distribution of the rank sum *with ties* (midranks), as
    ``coin::wilcox_test(distribution = "exact")`` computes it. Where that distribution is too large
    to compute here (see ``EXACT_MAX_CELLS``) the row falls back to the asymptotic p and says why in
    ``note``; ``method`` names what was computed.
* ``z`` is the normal-approximation z of ``U`` (as SPSS reports it), continuity-corrected when
  ``continuity=True``; on rows whose p is exact it is reported beside the exact p.
* ``significant`` is ``p <= alpha``; ``alpha`` and ``continuity`` are columns of the table.
  ``p_bh`` is the Benjamini-Hochberg adjustment over the family the caller declares
  (``bh_family``, default: the rows of this call), each distinct test counted once;
  :func:`adjust_bh` declares a family over several tables (a chapter, a research question).
* A test that cannot run gives a row with NaN statistics, ``significant=False`` and a short
  German/English ``reason``; nothing is silently set to 0.

How it is fast
--------------
Each item is sorted once over all respondents, and equal values are numbered as tie blocks
(consecutive per item). A group's answers are then fully described by how many of its members
fall in every tie block. These counts come for all groups at once from one sparse product
(respondents x blocks incidence) when items have few distinct values, as answer scales do, or by
summing each group's membership in sorted order block by block when most values are distinct.
From the counts a_g and b_g of two groups in the blocks of an item, in ascending order of value,

    U_1  = sum_g a_g * (b_<g + b_g / 2)          (b_<g: members of group 2 in lower blocks)
    ties = sum_g (t_g^3 - t_g),  t_g = a_g + b_g  (tie correction of the variance)

and the group medians and means follow from the same counts. Ranks of a subset never have to be
recomputed per item and grouping, Python loops run over groupings (never over item x grouping
tests), and memory stays linear in respondents x items. Timings: benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, special

# Nothing here imports scipy.stats (statsmodels imports it too): half a second of every build's start, spent
# before the first notebook can run, for two small steps -- the midranks (pandas ranks the same) and the
# Benjamini-Hochberg step-up (:func:`_bh_step_up`, tested equal to statsmodels' to the last bit).

from clusterkrise.descriptives import as_item_list, numeric_block, special_codes_for

__all__ = ["RESULT_COLUMNS", "MWUResult", "adjust_bh", "compare_groups", "exact_p_tied", "mann_whitney_u"]

RESULT_COLUMNS = [
    "item",
    "item_label",
    "grouping",
    "group_1",
    "group_2",
    "n_1",
    "n_2",
    "median_1",
    "median_2",
    "mean_1",
    "mean_2",
    "U",
    "z",
    "p",
    "p_bh",
    "r_rb",
    "significant",
    "method",
    "reason",
    "alpha",
    "continuity",
    "bh_family",
    "note",
]

#: Size of the exact rank-sum distribution (group-1 size x possible sums) computed at most per test;
#: about 160 MB of floats. Larger samples get the asymptotic p with a note.
EXACT_MAX_CELLS = 20_000_000

# R's wilcox.test computes the exact distribution below this size in both groups.
EXACT_MAX_N = 50
# Below two values a rank test has nothing to compare, whatever min_group_size says.
HARD_MIN_N = 2

REASON_NO_GROUPS = "weniger als zwei Gruppen (fewer than two groups)"
REASON_NO_VALUES = "keine gültigen Werte (no valid values)"
REASON_EMPTY = "Gruppe leer (empty group)"
REASON_SINGLE = "Gruppe mit weniger als 2 Werten (group with fewer than 2 values)"
REASON_SMALL = "Gruppe kleiner als {m} (group smaller than {m})"
REASON_CONSTANT = "keine Streuung, alle Werte gleich (no variation, all values tied)"


@dataclass(frozen=True)
class MWUResult:
    """Result of one two-sided Mann-Whitney U test (x is group 1)."""

    U: float
    z: float
    p: float
    method: str
    n_x: int
    n_y: int
    r_rb: float
    reason: str


class _TieBlocks:
    """Every item sorted once; equal values numbered as consecutive tie blocks per item."""

    def __init__(self, block: np.ndarray) -> None:
        n, m = block.shape
        by_item = np.ascontiguousarray(block.T)
        ordered = np.sort(by_item, axis=1)  # NaN sort last
        valid = ~np.isnan(ordered)
        starts = valid.copy()
        starts[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
        per_item = starts.sum(axis=1)
        self.n_blocks = int(per_item.sum())
        self.values = ordered[starts]
        self.first_block = np.concatenate([[0], np.cumsum(per_item)[:-1]]).astype(np.int64)
        self.n_items = m
        self.n_respondents = n
        self.nonempty = per_item > 0
        self.nonempty_first = self.first_block[self.nonempty]
        # Index of the first block per item, safe for items without blocks (their counts are 0).
        self.first_safe = np.minimum(self.first_block, max(self.n_blocks - 1, 0))
        n_answers = int(valid.sum())
        # Two ways to count a group's members per tie block, chosen by the data. Few large blocks
        # (answer scales): one sparse product respondents x blocks for all groups at once. Many
        # small blocks (continuous values): gather each group's 0/1 membership in sorted order
        # and add it up block by block, which reads a small array instead of scattering into a
        # large one.
        self.by_gather = self.n_blocks * 4 > n_answers
        if self.by_gather:
            order = np.argsort(by_item, axis=1, kind="stable")
            self.sorted_respondent = order[valid]
            self.block_start = np.flatnonzero(starts[valid])
            return
        # float32 counts are exact below 2**24 respondents and halve the memory traffic.
        self.count_dtype = np.float32 if n < 2**24 else np.float64
        small = self.n_blocks < np.iinfo(np.int32).max and n * m < np.iinfo(np.int32).max
        id_dtype = np.int32 if small else np.int64
        ids = np.empty((m, n), dtype=id_dtype)
        for j in range(m):  # one cheap searchsorted per item, not per test
            unique = self.values[self.first_block[j] : self.first_block[j] + per_item[j]]
            np.add(np.searchsorted(unique, by_item[j]), self.first_block[j], out=ids[j], casting="unsafe")
        # Missing answers point to one extra block that every count drops.
        ids[np.isnan(by_item)] = self.n_blocks
        self.incidence = sparse.csr_matrix(
            (np.ones(n * m, dtype=self.count_dtype), np.ascontiguousarray(ids.T).ravel(), np.arange(0, n * m + 1, m, dtype=id_dtype)),
            shape=(n, self.n_blocks + 1),
        )

    @property
    def max_groups_per_product(self) -> int:
        """Groups whose block counts fit in ~64 MB at once."""
        return max(1, int(2**26 // (8 * (self.n_blocks + 1))))

    def counts(self, members: np.ndarray) -> np.ndarray:
        """Members of each group per tie block: groups x blocks, from a 0/1 respondents x groups matrix."""
        k = members.shape[1]
        if k == 0 or self.n_blocks == 0:
            return np.zeros((k, self.n_blocks))
        if self.by_gather:
            out = np.empty((k, self.n_blocks))
            for c in range(k):
                gathered = members[:, c].astype(float)[self.sorted_respondent]
                out[c] = np.add.reduceat(gathered, self.block_start)
            return out
        product = self.incidence.T @ members.astype(self.count_dtype)
        return np.ascontiguousarray(product[: self.n_blocks].T, dtype=float)

    def per_item(self, weights: np.ndarray) -> np.ndarray:
        """Sum of a per-block quantity over the blocks of each item (blocks of an item are contiguous)."""
        out = np.zeros(self.n_items)
        if self.n_blocks:
            out[self.nonempty] = np.add.reduceat(weights, self.nonempty_first)
        return out

    def summary(self, counts: np.ndarray) -> _GroupSummary:
        """Everything about one group that does not depend on the group it is compared with."""
        n = self.per_item(counts)
        inclusive = np.cumsum(counts)
        exclusive = inclusive - counts
        # Members of the group in earlier items; subtracted per item so block sums stay within items.
        at_item_start = exclusive[self.first_safe] if self.n_blocks else np.zeros(self.n_items)
        if self.n_blocks:
            lo = np.searchsorted(inclusive, at_item_start + (n - 1) // 2, side="right")
            hi = np.searchsorted(inclusive, at_item_start + n // 2, side="right")
            lo = np.minimum(lo, self.n_blocks - 1)
            hi = np.minimum(hi, self.n_blocks - 1)
            median = np.where(n > 0, (self.values[lo] + self.values[hi]) / 2, np.nan)
        else:
            median = np.full(self.n_items, np.nan)
        return _GroupSummary(
            counts=counts,
            n=n,
            below_plus_half=exclusive + counts / 2,
            at_item_start=at_item_start,
            median=median,
            total=self.per_item(counts * self.values),
        )

    def pair(self, g1: _GroupSummary, g2: _GroupSummary) -> tuple[np.ndarray, np.ndarray]:
        """U of group 1 and the tie term sum(t^3 - t) per item."""
        # sum_g a_g * (b below g within the item + b_g / 2); "below" is counted from the start of the
        # whole block list, and the part from earlier items is removed once per item.
        U = self.per_item(g1.counts * g2.below_plus_half) - g1.n * g2.at_item_start
        t = g1.counts + g2.counts
        return U, self.per_item(t * t * t - t)


@dataclass
class _GroupSummary:
    counts: np.ndarray
    n: np.ndarray
    below_plus_half: np.ndarray
    at_item_start: np.ndarray
    median: np.ndarray
    total: np.ndarray


def exact_p_tied(x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    """Two-sided p of the exact permutation distribution of the rank sum of ``x``, ties included.

    The answers are ranked together (midranks for ties); under the null hypothesis every split of
    the N scores into n_x and n_y is equally likely. The distribution of the doubled rank sum of
    ``x`` is counted block by block of tied scores (choosing j of a block's t members: C(t, j)
    ways), and p = P(|W - E W| >= |w - E W|), as coin computes it. Returns ``(p, "")`` or
    ``(nan, reason)`` when the distribution is too large or its counts overflow.
    """
    import math

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n1, n2 = len(x), len(y)
    N = n1 + n2
    if n1 == 0 or n2 == 0:
        return float("nan"), REASON_EMPTY
    midranks = pd.Series(np.concatenate([x, y])).rank(method="average").to_numpy()  # as scipy.stats.rankdata
    scores = np.rint(2 * midranks).astype(np.int64)
    observed = int(scores[:n1].sum())
    top = int(np.sort(scores)[-n1:].sum())
    cells = (n1 + 1) * (top + 1)
    if cells > EXACT_MAX_CELLS:
        return float("nan"), f"exakte Verteilung zu groß (N = {N}; exact distribution not feasible)"
    if math.lgamma(N + 1) - math.lgamma(n1 + 1) - math.lgamma(n2 + 1) > 690:
        return float("nan"), f"exakte Verteilung läuft über (N = {N}; counts overflow)"
    values, sizes = np.unique(scores, return_counts=True)
    ascending = np.concatenate([[0], np.cumsum(np.sort(scores))])  # sums of the smallest k scores
    counts = np.zeros((n1 + 1, top + 1))
    counts[0, 0] = 1.0
    seen, left = 0, N
    for score, size in zip(values.tolist(), sizes.tolist()):
        seen, left = seen + size, left - size
        # Only rows that hold counts (at most `seen` members chosen) and can still reach n1 (the blocks
        # left add at most `left`) are updated, and only up to the largest sum a row can hold so far (the
        # min(seen, n1) largest scores seen): the rest of the table is zero or never reaches counts[n1]. Each
        # cell still gets its terms in the same order (the cell, then j = 1, 2, ... members of this block,
        # read from the table as it was before the block), so p is the same to the last bit.
        low, high = max(0, n1 - left), min(n1, seen)
        reach = min(top, int(ascending[seen] - ascending[seen - min(seen, n1)]))
        takes = min(size, n1)
        base = max(0, low - takes)
        before = counts[base:high + 1, : reach + 1].copy()  # the rows and sums this block reads
        for j in range(1, takes + 1):
            shift = j * score
            if shift > reach:
                break
            first = max(low, j)
            if first > high:
                continue
            counts[first:high + 1, shift:reach + 1] += (
                math.comb(size, j) * before[first - j - base:high + 1 - j - base, : reach + 1 - shift])
    dist = counts[n1]
    expected = n1 * (N + 1)  # doubled expectation of the rank sum
    deviation = np.abs(np.arange(top + 1) - expected)
    extreme = deviation >= abs(observed - expected) - 1e-7
    total = dist.sum()
    if not np.isfinite(total) or total <= 0:
        return float("nan"), f"exakte Verteilung läuft über (N = {N}; counts overflow)"
    return float(min(1.0, dist[extreme].sum() / total)), ""


def adjust_bh(tables: pd.DataFrame | Iterable[pd.DataFrame], family: str) -> pd.DataFrame:
    """Benjamini-Hochberg over a declared family of tests: ``p_bh`` recomputed over all rows of
    ``tables`` (one result table or several), each distinct test (item, grouping, group pair) counted
    once, and ``bh_family`` set to ``family``."""
    frame = tables.copy() if isinstance(tables, pd.DataFrame) else pd.concat(list(tables), ignore_index=True)
    frame["p_bh"] = _bh(frame)
    frame["bh_family"] = family
    return frame


def _bh(frame: pd.DataFrame) -> np.ndarray:
    out = np.full(len(frame), np.nan)
    p = frame["p"].to_numpy(float)
    rows = np.flatnonzero(~np.isnan(p))
    if not len(rows):
        return out
    # A test is (item, grouping, group pair), compared as text; it counts once, at its first row.
    columns = [frame[c].to_numpy(object)[rows] for c in ("item", "grouping", "group_1", "group_2")]
    keys = [tuple(map(str, key)) for key in zip(*columns)]
    first: dict[tuple[str, ...], int] = {}
    for row, key in zip(rows, keys):
        first.setdefault(key, row)
    adjusted = dict(zip(first, _bh_step_up(p[list(first.values())])))
    out[rows] = [adjusted[key] for key in keys]
    return out


def _bh_step_up(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p, in the operations and order of statsmodels' ``multipletests(p,
    method="fdr_bh")`` (which the tests compare it with): p / (rank / m), the running minimum from the largest
    p down, capped at 1."""
    order = np.argsort(p)
    m = len(p)
    raw = np.take(p, order) / (np.arange(1, m + 1) / float(m))
    stepped = np.minimum.accumulate(raw[::-1])[::-1]
    stepped[stepped > 1] = 1
    adjusted = np.empty_like(stepped)
    adjusted[order] = stepped
    return adjusted


def _grouping_codes(name: Hashable, series: Any, index: pd.Index) -> tuple[np.ndarray, list[Any]]:
    """Category code per respondent (-1 = not in the grouping) and the categories in order."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"grouping {name!r} must be a pandas Series, got {type(series).__name__}")
    if not series.index.equals(index):
        if series.index.has_duplicates:
            raise ValueError(f"grouping {name!r} has duplicate index labels and cannot be aligned to the data")
        if len(series) and not series.index.isin(index).any():
            raise ValueError(f"grouping {name!r} shares no index labels with the data")
        series = series.reindex(index)
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        codes = series.cat.codes.to_numpy()
    else:
        present = series.dropna()
        try:
            categories = sorted(present.unique())
        except TypeError:
            categories = list(present.unique())
        codes = pd.Categorical(series, categories=categories).codes
    return np.asarray(codes, dtype=np.int64), categories


def _empty_result() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})


def compare_groups(
    data: pd.DataFrame,
    items: str | Iterable[str],
    groupings: Mapping[Hashable, pd.Series] | pd.Series,
    *,
    alpha: float = 0.10,
    continuity: bool = False,
    method: str = "asymptotic",
    min_group_size: int = 5,
    item_labels: Mapping[str, str] | None = None,
    special_codes: Any = None,
    bh_family: str | None = None,
) -> pd.DataFrame:
    """Mann-Whitney U test of every item between the groups of every grouping.

    ``groupings`` maps a name to a Series aligned to ``data`` (as made by ``clusterkrise.groups``)
    or is one Series (named by its ``name``). A grouping with more than two categories yields one
    row per pair of categories. ``special_codes`` (one code, codes, or ``{item or None: codes}``)
    are treated as missing before testing. ``method`` is "asymptotic" (default, SPSS), "auto"
    (R's rule) or "exact" (tie-aware exact, coin); see the module docstring. Groups smaller than
    ``min_group_size`` are not tested (row with a reason). ``bh_family`` names the family of the
    Benjamini-Hochberg adjustment (default "call": the rows of this call).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, (int, np.integer)) or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}")
    item_list = as_item_list(data, items, caller="compare_groups")
    if isinstance(groupings, pd.Series):
        groupings = {groupings.name if groupings.name is not None else "grouping": groupings}
    if not isinstance(groupings, Mapping):
        raise TypeError(f"groupings must be a Mapping of name -> Series or a Series, got {type(groupings).__name__}")
    if not item_list or not groupings:
        return _empty_result()
    family = "call" if bh_family is None else str(bh_family)

    block, problems = numeric_block(data, item_list, caller="compare_groups")
    codes = special_codes_for(special_codes, item_list)
    for j, item in enumerate(item_list):
        if codes[item]:
            block[np.isin(block[:, j], list(codes[item])), j] = np.nan
    ties = _TieBlocks(block)
    m = len(item_list)
    labels = [str((item_labels or {}).get(item, item)) for item in item_list]

    # Plan the groups each grouping needs, then count their members in the tie blocks with one sparse
    # product per batch of groupings (batches only matter when items have very many tie blocks).
    plans = []
    for g_order, (g_name, series) in enumerate(groupings.items()):
        group_codes, categories = _grouping_codes(g_name, series, data.index)
        pairs = [(i, j) for i in range(len(categories)) for j in range(i + 1, len(categories))]
        used = sorted({c for pair in pairs for c in pair})
        plans.append((g_order, g_name, group_codes, categories, pairs, used))
    group_codes_of = {plan[1]: plan[2] for plan in plans}
    batches: list[list[tuple]] = [[]]
    width = 0
    for plan in plans:
        if batches[-1] and width + len(plan[5]) > ties.max_groups_per_product:
            batches.append([])
            width = 0
        batches[-1].append(plan)
        width += len(plan[5])

    parts: list[dict[str, Any]] = []
    for batch in batches:
        columns = [group_codes == c for (_, _, group_codes, _, _, used) in batch for c in used]
        members = np.column_stack(columns) if columns else np.zeros((len(data), 0), dtype=bool)
        counts = ties.counts(members)
        summaries = [ties.summary(counts[k]) for k in range(counts.shape[0])]
        offset = 0
        for g_order, g_name, _, categories, pairs, used in batch:
            col_of = {c: offset + k for k, c in enumerate(used)}
            offset += len(used)
            if not pairs:
                parts.append(
                    {
                        "g_order": g_order,
                        "pair_order": 0,
                        "grouping": g_name,
                        "group_1": categories[0] if categories else None,
                        "group_2": None,
                        "n_1": np.zeros(m),
                        "n_2": np.zeros(m),
                        "reason": np.full(m, REASON_NO_GROUPS, dtype=object),
                    }
                )
                continue
            for p_order, (c1, c2) in enumerate(pairs):
                s1, s2 = summaries[col_of[c1]], summaries[col_of[c2]]
                U, tie_sum = ties.pair(s1, s2)
                parts.append(
                    {
                        "g_order": g_order,
                        "pair_order": p_order,
                        "grouping": g_name,
                        "group_1": categories[c1],
                        "group_2": categories[c2],
                        "n_1": s1.n,
                        "n_2": s2.n,
                        "median_1": s1.median,
                        "median_2": s2.median,
                        "sum_1": s1.total,
                        "sum_2": s2.total,
                        "U": U,
                        "tie_sum": tie_sum,
                        "members": (group_codes_of[g_name] == c1, group_codes_of[g_name] == c2),
                    }
                )

    def samples(row: int, part: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        column = block[:, row]
        first, second = part["members"]
        x, y = column[first], column[second]
        return x[~np.isnan(x)], y[~np.isnan(y)]

    out = _assemble(parts, item_list, labels, problems, alpha, continuity, method, min_group_size, samples)
    out["bh_family"] = family
    return out[RESULT_COLUMNS]


def _assemble(
    parts: list[dict[str, Any]],
    item_list: list[str],
    labels: list[str],
    problems: Mapping[str, str],
    alpha: float,
    continuity: bool,
    method: str,
    min_group_size: int,
    samples: Any,
) -> pd.DataFrame:
    m = len(item_list)
    nan = np.full(m, np.nan)

    def stack(key: str, default: Any = nan) -> np.ndarray:
        return np.concatenate([np.asarray(p.get(key, default)) for p in parts])

    k = len(parts)
    n1, n2 = stack("n_1"), stack("n_2")
    U, tie_sum = stack("U"), stack("tie_sum")
    reason = np.concatenate([p.get("reason", np.full(m, "", dtype=object)) for p in parts]).astype(object)
    item_idx = np.tile(np.arange(m), k)

    # Reasons in order of precedence: the first one that applies is reported.
    checks = [
        (np.array([item in problems for item in item_list])[item_idx], None),
        ((n1 == 0) & (n2 == 0), REASON_NO_VALUES),
        ((n1 == 0) | (n2 == 0), REASON_EMPTY),
        ((n1 < HARD_MIN_N) | (n2 < HARD_MIN_N), REASON_SINGLE),
        ((n1 < min_group_size) | (n2 < min_group_size), REASON_SMALL.format(m=min_group_size)),
    ]
    for mask, text in checks:
        fill = mask & (reason == "")
        if text is None:
            reason[fill] = [problems[item_list[i]] for i in item_idx[fill]]
        else:
            reason[fill] = text

    N = n1 + n2
    with np.errstate(invalid="ignore", divide="ignore"):
        var = n1 * n2 / 12 * ((N + 1) - tie_sum / (N * (N - 1)))
        sigma = np.sqrt(np.where(var > 0, var, np.nan))
    constant = (reason == "") & ~(var > 1e-12)
    reason[constant] = REASON_CONSTANT
    run = reason == ""

    d = U - n1 * n2 / 2
    if continuity:
        d = d - 0.5 * np.sign(d)
    z = np.where(run, d / sigma, np.nan)
    # special.ndtr(-|z|) is what scipy.stats.norm.sf(|z|) computes, without importing scipy.stats
    p = np.where(run, np.minimum(1.0, 2 * special.ndtr(-np.abs(z))), np.nan)
    untied = run & (tie_sum == 0)
    if method == "auto":
        wanted = untied & (n1 < EXACT_MAX_N) & (n2 < EXACT_MAX_N)
    elif method == "exact":
        wanted = run.copy()
    else:
        wanted = np.zeros_like(run)
    exact = np.zeros_like(run)
    note = np.full(len(p), "", dtype=object)
    for row in np.flatnonzero(wanted):
        part = parts[row // m]
        exact_p, why = exact_p_tied(*samples(row % m, part))
        if np.isnan(exact_p):
            note[row] = why  # keeps the asymptotic p
        else:
            p[row], exact[row] = exact_p, True
    method_col = np.where(exact, "exact", np.where(run, "asymptotic", "")).astype(object)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean_1 = stack("sum_1") / n1
        mean_2 = stack("sum_2") / n2
        r_rb = np.where(run, 2 * U / (n1 * n2) - 1, np.nan)

    out = pd.DataFrame(
        {
            "item": np.asarray(item_list, dtype=object)[item_idx],
            "item_label": np.asarray(labels, dtype=object)[item_idx],
            "grouping": np.repeat(np.array([p["grouping"] for p in parts], dtype=object), m),
            "group_1": np.repeat(np.array([p["group_1"] for p in parts], dtype=object), m),
            "group_2": np.repeat(np.array([p["group_2"] for p in parts], dtype=object), m),
            "n_1": n1.astype(np.int64),
            "n_2": n2.astype(np.int64),
            "median_1": stack("median_1"),
            "median_2": stack("median_2"),
            "mean_1": np.where(n1 > 0, mean_1, np.nan),
            "mean_2": np.where(n2 > 0, mean_2, np.nan),
            "U": np.where(run, U, np.nan),
            "z": z,
            "p": p,
            "p_bh": np.nan,
            "r_rb": r_rb,
            "significant": run & (p <= alpha),
            "method": method_col,
            "reason": reason,
            "alpha": float(alpha),
            "continuity": bool(continuity),
            "note": note,
        }
    )
    out["p_bh"] = _bh(out)
    sort_keys = (
        np.repeat([p["pair_order"] for p in parts], m),
        np.repeat([p["g_order"] for p in parts], m),
        item_idx,
    )
    return out.iloc[np.lexsort(sort_keys)].reset_index(drop=True)


def mann_whitney_u(x: Iterable[Any], y: Iterable[Any], *, continuity: bool = False, method: str = "asymptotic") -> MWUResult:
    """Two-sided Mann-Whitney U test of one pair of samples, with the conventions of ``compare_groups``.

    Missing and non-numeric values are dropped; ``U`` is the statistic of ``x``.
    """
    xs = pd.to_numeric(pd.Series(list(x), dtype=object), errors="coerce").astype(float)
    ys = pd.to_numeric(pd.Series(list(y), dtype=object), errors="coerce").astype(float)
    values = pd.DataFrame({"value": pd.concat([xs, ys], ignore_index=True)})
    group = pd.Series(pd.Categorical(["x"] * len(xs) + ["y"] * len(ys), categories=["x", "y"]), index=values.index)
    row = compare_groups(
        values, ["value"], {"pair": group}, continuity=continuity, method=method, min_group_size=HARD_MIN_N
    ).iloc[0]
    return MWUResult(
        U=float(row["U"]),
        z=float(row["z"]),
        p=float(row["p"]),
        method=str(row["method"]),
        n_x=int(row["n_1"]),
        n_y=int(row["n_2"]),
        r_rb=float(row["r_rb"]),
        reason=str(row["reason"]),
    )


def _draw_counts(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """How often each of ``n`` values is drawn in each of ``samples`` draws of ``n`` with replacement: the
    ``multinomial(n, [1/n] * n)`` counts, from n uniform indices per sample (a tenth of the time numpy's
    multinomial takes, which draws a binomial per value and sample)."""
    picks = rng.integers(0, n, size=(samples, n)) + n * np.arange(samples)[:, None]
    return np.bincount(picks.ravel(), minlength=samples * n).reshape(samples, n)


def bootstrap_r_rb(x: Iterable[Any], y: Iterable[Any], *, samples: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the rank-biserial correlation of ``x`` vs ``y``.

    Each sample redraws both groups with replacement at their own size (the groups are fixed by the
    grouping, so they are resampled separately); ``r_rb = P(X > Y) - P(X < Y)`` of a sample is the
    same quantity ``compare_groups`` reports. Missing values are dropped. Deterministic for a seed.
    """
    xs = pd.to_numeric(pd.Series(list(x), dtype=object), errors="coerce").dropna().to_numpy(float)
    ys = pd.to_numeric(pd.Series(list(y), dtype=object), errors="coerce").dropna().to_numpy(float)
    if len(xs) < HARD_MIN_N or len(ys) < HARD_MIN_N:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    # Every sample is a multiset of the observed values: with the sign matrix of all observed pairs,
    # r_rb of a sample is a weighted mean of its entries (weights = how often each value was drawn).
    sign = np.sign(xs[:, None] - ys[None, :])
    wx = _draw_counts(rng, len(xs), samples)
    wy = _draw_counts(rng, len(ys), samples)
    # (wx @ sign) * wy summed per sample: BLAS instead of einsum's loop; the sums are whole numbers,
    # exact in float64 either way, so the intervals do not change
    r = ((wx.astype(float) @ sign) * wy).sum(axis=1) / (len(xs) * len(ys))
    tail = (1 - level) / 2
    low, high = np.quantile(r, [tail, 1 - tail])
    return float(low), float(high)

"""An independent recomputation of the registry's statements, for the tests only.

The book's numbers come from the chapter notebooks. This module recomputes each statement of
``data/published_facts.yaml`` from its ``kind`` and ``args`` with plain pandas (plus the project's
groupings and U-test engine, which have tests of their own), so the tests can show that the notebooks
print what the data say -- on the shipped data and on any other data set.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from clusterkrise.codebook import Codebook, load_codebook
from clusterkrise.descriptives import trend_arrow
from clusterkrise.registry import Fact


class Survey:
    """Respondent data plus everything derived from it that several facts share (computed once)."""

    def __init__(self, data: pd.DataFrame, codebook: Codebook | None = None, *, group_params: Mapping[str, Any] | None = None, alpha: float = 0.10, min_group_size: int = 5):
        self.codebook = codebook or load_codebook()
        # Plain float columns: nullable dtypes would let NA propagate through comparisons and .all().
        text_cols = [c for q in self.codebook if q.is_open for c in q.columns]
        numeric = data.drop(columns=[c for c in text_cols if c in data.columns])
        data = numeric.apply(pd.to_numeric, errors="coerce").astype("float64").join(data[[c for c in text_cols if c in data.columns]])
        self.started = data
        from clusterkrise.io import apply_cleaning

        # the one cleaning rule of the library (interviews shorter than the minimum duration removed)
        self.cleaned = data.loc[apply_cleaning(data, self.codebook).index]
        self.group_params = dict(group_params or {})
        self.alpha = alpha
        self.min_group_size = min_group_size
        self._groupings: dict[str, pd.Series] = {}
        self._utests: dict[tuple[str, str], pd.DataFrame] = {}

    # -- groupings ---------------------------------------------------------------------------
    def grouping(self, name: str) -> pd.Series:
        """A comparison grouping of the cleaned respondents, built once per name."""
        from clusterkrise import groups

        if name not in self._groupings:
            self._groupings[name] = groups.grouping(self.cleaned, name, **self.group_params)
        return self._groupings[name]

    # -- U-tests -------------------------------------------------------------------------------
    def utest(self, question: str, grouping: str) -> pd.DataFrame:
        from clusterkrise.utests import compare_groups

        key = (question, grouping)
        cache = self._utests
        if key not in cache:
            q = self.codebook.question(question)
            cache[key] = compare_groups(
                self.cleaned,
                q.columns,
                {grouping: self.grouping(grouping)},
                alpha=self.alpha,
                min_group_size=self.min_group_size,
                special_codes={c: list(q.scale.special) for c in q.columns},
                item_labels=self.codebook.labels(question),
            )
        return cache[key]

    # -- small helpers ---------------------------------------------------------------------------
    def values(self, column: str, frame: pd.DataFrame | None = None) -> pd.Series:
        frame = self.cleaned if frame is None else frame
        return pd.to_numeric(frame[column], errors="coerce")

    def rated(self, column: str, frame: pd.DataFrame | None = None) -> pd.Series:
        """Answers on the rating scale: missing and special codes removed."""
        v = self.values(column, frame).dropna()
        special = self.codebook.question_of(column).scale.special
        return v[~v.isin(list(special))]

    def answered_mask(self, question: str, frame: pd.DataFrame | None = None) -> pd.Series:
        frame = self.cleaned if frame is None else frame
        cols = self.codebook.question(question).columns
        return frame[cols].notna().any(axis=1)

    def complete_mask(self, question: str) -> pd.Series:
        cols = self.codebook.question(question).columns
        return self.cleaned[cols].notna().all(axis=1)

    def frame(self, args: Mapping[str, Any]) -> pd.DataFrame:
        df = self.started if args.get("subset") == "started" else self.cleaned
        for col, allowed in (args.get("where") or {}).items():
            df = df.loc[pd.to_numeric(df[col], errors="coerce").isin(allowed)]
        for col, (lo, hi) in (args.get("where_range") or {}).items():
            v = pd.to_numeric(df[col], errors="coerce")
            df = df.loc[(v >= lo) & (v <= hi)]
        for col, allowed in (args.get("within") or {}).items():
            df = df.loc[pd.to_numeric(df[col], errors="coerce").isin(allowed)]
        for col in args.get("notna") or []:
            df = df.loc[df[col].notna()]
        return df

    def item_stat(self, column: str, stat: str, *, frame: pd.DataFrame | None = None, value: Any = None) -> float:
        frame = self.cleaned if frame is None else frame
        if stat == "mean":
            return float(self.rated(column, frame).mean())
        if stat == "relevance":
            v = self.values(column, frame).dropna()
            special = self.codebook.question_of(column).scale.special
            return 100.0 * float((~v.isin(list(special))).mean()) if len(v) else float("nan")
        if stat in ("yes_share", "share_value"):
            target = 1 if stat == "yes_share" else value
            v = self.values(column, frame).dropna()
            return 100.0 * float((v == target).mean()) if len(v) else float("nan")
        raise ValueError(f"unknown item statistic {stat!r}")

    def question_frame(self, question: str, args: Mapping[str, Any]) -> pd.DataFrame:
        if args.get("complete_cases"):
            return self.cleaned.loc[self.complete_mask(args["complete_cases"])]
        return self.cleaned.loc[self.answered_mask(question)]

    def n_selected(self, question: str) -> pd.Series:
        cols = self.codebook.question(question).columns
        answered = self.answered_mask(question)
        return self.cleaned.loc[answered, cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)


# --------------------------------------------------------------------------- kinds
KINDS: dict[str, Callable[[Survey, dict[str, Any]], Any]] = {}


def kind(name: str):
    def register(fn):
        KINDS[name] = fn
        return fn

    return register


@kind("external")
def _external(s: Survey, a: dict) -> Any:
    return None  # not survey data; reported, never recomputed


@kind("n_rows")
def _n_rows(s: Survey, a: dict) -> int:
    return int(len(s.frame(a)))


@kind("pct_rows")
def _pct_rows(s: Survey, a: dict) -> float:
    base = s.started if a.get("subset") == "started" else s.cleaned
    return 100.0 * len(s.frame(a)) / len(base)


@kind("median")
def _median(s: Survey, a: dict) -> float:
    return float(pd.to_numeric(s.frame(a)[a["column"]], errors="coerce").median())


@kind("n_answered")
def _n_answered(s: Survey, a: dict) -> int:
    return int(s.answered_mask(a["question"]).sum())


@kind("n_complete")
def _n_complete(s: Survey, a: dict) -> int:
    return int(s.complete_mask(a["question"]).sum())


@kind("n_answered_extreme")
def _n_answered_extreme(s: Survey, a: dict) -> int:
    exclude = set(a.get("exclude") or [])
    counts = [int(s.answered_mask(q.id).sum()) for q in s.codebook if q.id not in exclude]
    return min(counts) if a["which"] == "min" else max(counts)


@kind("n_items")
def _n_items(s: Survey, a: dict) -> int:
    return len(s.codebook.question(a["question"]).columns)


@kind("n_all")
def _n_all(s: Survey, a: dict) -> int:
    cols = a["columns"]
    v = s.cleaned[cols].apply(pd.to_numeric, errors="coerce")
    return int((v == 1).all(axis=1).sum())


@kind("pct_any")
def _pct_any(s: Survey, a: dict) -> float:
    df = s.cleaned.loc[s.answered_mask(a["base"])]
    df = s.frame({"within": a.get("within")}) if a.get("within") else df
    df = df.loc[s.answered_mask(a["base"], df)]
    v = df[a["columns"]].apply(pd.to_numeric, errors="coerce")
    return 100.0 * float((v == 1).any(axis=1).mean())


@kind("n_selected")
def _n_selected(s: Survey, a: dict) -> int:
    n = s.n_selected(a["question"])
    sel = a["selected"]
    if isinstance(sel, str) and sel.startswith(">"):
        return int((n > int(sel[1:])).sum())
    return int((n == int(sel)).sum())


@kind("min_selected_per_item")
def _min_selected_per_item(s: Survey, a: dict) -> int:
    cols = s.codebook.question(a["question"]).columns
    return int(s.cleaned[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum().min())


@kind("group_n")
def _group_n(s: Survey, a: dict) -> int:
    return int((s.grouping(a["grouping"]) == a["group"]).sum())


@kind("group_pct")
def _group_pct(s: Survey, a: dict) -> float:
    g = s.grouping(a["grouping"]).dropna()
    return 100.0 * float((g == a["group"]).mean())


@kind("group_size_ratio")
def _group_size_ratio(s: Survey, a: dict) -> float:
    counts = s.grouping(a["grouping"]).value_counts()
    return float(counts.min() / counts.max()) if len(counts) and counts.max() else float("nan")


@kind("group_share_in")
def _group_share_in(s: Survey, a: dict) -> float:
    g = s.grouping(a["grouping"])
    other = s.grouping(a["of"])
    sub = other[(g == a["group"]) & other.notna()]
    return 100.0 * float(sub.isin(a["values"]).mean())


@kind("group_share_compare")
def _group_share_compare(s: Survey, a: dict) -> bool:
    g = s.grouping(a["grouping"])
    other = s.grouping(a["of"])
    ok = g.notna() & other.notna()
    shares = (other[ok] == a["value"]).groupby(g[ok], observed=True).mean()
    return bool(shares.idxmax() == a["higher"]) and shares.nunique() > 1


@kind("group_mean_compare")
def _group_mean_compare(s: Survey, a: dict) -> bool:
    g = s.grouping(a["grouping"])
    v = s.values(a["column"])
    ok = g.notna() & v.notna()
    means = v[ok].groupby(g[ok], observed=True).mean()
    return bool(means.idxmax() == a["higher"]) and means.nunique() > 1


@kind("pct_values")
def _pct_values(s: Survey, a: dict) -> float:
    v = s.values(a["column"]).dropna()
    return 100.0 * float(v.isin(a["values"]).mean())


@kind("group_pct_values")
def _group_pct_values(s: Survey, a: dict) -> float:
    g = s.grouping(a["grouping"])
    v = s.values(a["column"])
    sub = v[(g == a["group"]) & v.notna()]
    return 100.0 * float(sub.isin(a["values"]).mean())


@kind("pct_range")
def _pct_range(s: Survey, a: dict) -> float:
    df = s.frame({"within": a.get("within")})
    v = s.values(a["column"], df).dropna()
    if "below" in a:
        hit = v < a["below"]
    elif "above" in a:
        hit = v > a["above"]
    else:
        hit = (v >= a["from"]) & (v <= a["to"])
    return 100.0 * float(hit.mean())


@kind("column_min")
def _column_min(s: Survey, a: dict) -> float:
    return float(s.values(a["column"], s.frame({"within": a.get("within")})).min())


@kind("column_max")
def _column_max(s: Survey, a: dict) -> float:
    return float(s.values(a["column"], s.frame({"within": a.get("within")})).max())


@kind("top_values")
def _top_values(s: Survey, a: dict) -> list:
    counts = s.values(a["column"]).value_counts()
    return sorted(int(x) for x in counts.nlargest(a["k"]).index)


@kind("relevance_pct")
def _relevance_pct(s: Survey, a: dict) -> float:
    frame = s.cleaned.loc[s.complete_mask(a["complete_cases"])] if a.get("complete_cases") else None
    return s.item_stat(a["item"], "relevance", frame=frame)


@kind("yes_pct")
def _yes_pct(s: Survey, a: dict) -> float:
    return s.item_stat(a["item"], "yes_share")


@kind("item_stat")
def _item_stat(s: Survey, a: dict) -> float:
    return s.item_stat(a["item"], a["stat"])


def _stats_of_question(s: Survey, a: dict) -> pd.Series:
    q = s.codebook.question(a["question"])
    frame = s.cleaned.loc[s.complete_mask(a["complete_cases"])] if a.get("complete_cases") else None
    cols = [c for c in q.columns if c not in set(a.get("exclude") or [])]
    return pd.Series({c: s.item_stat(c, a["stat"], frame=frame, value=a.get("value")) for c in cols})


@kind("top_items")
def _top_items(s: Survey, a: dict) -> list[str]:
    stats = _stats_of_question(s, a)
    picked = stats.nsmallest(a["k"]) if a.get("order") == "lowest" else stats.nlargest(a["k"])
    # A tie at the cut would make "the k highest" ambiguous: report it rather than pick silently.
    rest = stats.drop(picked.index)
    edge = picked.iloc[-1]
    if len(rest) and (rest == edge).any():
        return sorted(picked.index) + ["<tie>"]
    return sorted(picked.index)


@kind("top_items_ordered")
def _top_items_ordered(s: Survey, a: dict) -> list[str]:
    stats = _stats_of_question(s, a)
    ordered = stats.sort_values(ascending=False, kind="stable")
    if ordered.iloc[: a["k"] + 1].duplicated().any():
        return list(ordered.index[: a["k"]]) + ["<tie>"]
    return list(ordered.index[: a["k"]])


@kind("item_stat_min")
def _item_stat_min(s: Survey, a: dict) -> float:
    return float(_stats_of_question(s, a).min())


@kind("item_stat_range")
def _item_stat_range(s: Survey, a: dict) -> list[float]:
    stats = _stats_of_question(s, a)
    return [float(stats.min()), float(stats.max())]


@kind("full_range")
def _full_range(s: Survey, a: dict) -> bool:
    q = s.codebook.question(a["question"])
    return all(
        s.rated(c).min() == q.scale.min and s.rated(c).max() == q.scale.max for c in q.columns
    )


@kind("relevance_compare")
def _relevance_compare(s: Survey, a: dict) -> bool:
    g = s.grouping(a["grouping"])
    shares = {}
    for label in g.cat.categories:
        frame = s.cleaned.loc[g == label]
        shares[label] = s.item_stat(a["item"], "relevance", frame=frame)
    return max(shares, key=shares.get) == a["higher"] and len(set(shares.values())) > 1


def _higher_group_ok(row: pd.Series, higher: str) -> bool:
    if higher == row["group_1"]:
        return row["mean_1"] > row["mean_2"]
    if higher == row["group_2"]:
        return row["mean_2"] > row["mean_1"]
    raise ValueError(f"group {higher!r} is neither {row['group_1']!r} nor {row['group_2']!r}")


@kind("sig_set")
def _sig_set(s: Survey, a: dict) -> list[str]:
    table = s.utest(a["question"], a["grouping"])
    sig = table[table["significant"]]
    wrong_way = [r["item"] for _, r in sig.iterrows() if not _higher_group_ok(r, a["higher"])]
    return sorted(sig["item"]) + [f"<reversed:{i}>" for i in wrong_way]


@kind("sig_count")
def _sig_count(s: Survey, a: dict) -> int:
    return int(s.utest(a["question"], a["grouping"])["significant"].sum())


@kind("sig_direction")
def _sig_direction(s: Survey, a: dict) -> bool:
    table = s.utest(a["question"], a["grouping"])
    sig = table[table["significant"]]
    return bool(len(sig)) and all(_higher_group_ok(r, a["higher"]) for _, r in sig.iterrows())


@kind("all_means_higher")
def _all_means_higher(s: Survey, a: dict) -> bool:
    table = s.utest(a["question"], a["grouping"])
    return bool(len(table)) and all(_higher_group_ok(r, a["higher"]) for _, r in table.iterrows())


@kind("opposite_signs")
def _opposite_signs(s: Survey, a: dict) -> bool:
    table = s.utest(s.codebook.item(a["item"]).question_id, a["grouping"])
    row = table.set_index("item").loc[a["item"]]
    pos, neg = ("mean_1", "mean_2") if row["group_1"] == a["positive"] else ("mean_2", "mean_1")
    return bool(row[pos] > 0 > row[neg])


@kind("trend_arrow")
def _trend_arrow(s: Survey, a: dict) -> str:
    return trend_arrow(float(s.rated(a["item"]).mean()))


@kind("modal_value")
def _modal_value(s: Survey, a: dict) -> Any:
    modes = {int(s.rated(c).mode().iloc[0]) if len(s.rated(c).mode()) == 1 else None for c in a["items"]}
    return modes.pop() if len(modes) == 1 else sorted(modes, key=str)


@kind("conditional_all")
def _conditional_all(s: Survey, a: dict) -> float:
    df = s.frame({"where": a["if"]})
    ok = pd.Series(True, index=df.index)
    for col, allowed in a["then"].items():
        ok &= pd.to_numeric(df[col], errors="coerce").isin(allowed)
    return 100.0 * float(ok.mean()) if len(df) else float("nan")


@kind("conditional_max")
def _conditional_max(s: Survey, a: dict) -> float:
    n = s.n_selected(a["question"])
    sel = a["selected"]
    threshold = int(sel[1:])
    ids = n[n > threshold].index
    return float(s.values(a["column"]).loc[ids].max())


@kind("spearman_sign")
def _spearman_sign(s: Survey, a: dict) -> int:
    n = s.n_selected(a["question"])
    staff = s.values(a["column"]).loc[n.index]
    ok = staff.notna()
    rho = n[ok].corr(staff[ok], method="spearman")
    return int(np.sign(rho))


@kind("selection_split_ratio")
def _selection_split_ratio(s: Survey, a: dict) -> float:
    """Among respondents who ticked anything in a multiple choice: with `column` against without it, smaller / larger."""
    n = s.n_selected(a["question"])
    ticked = s.values(a["column"]).loc[n[n > 0].index]
    with_, without = int((ticked == 1).sum()), int((ticked != 1).sum())
    return min(with_, without) / max(with_, without) if max(with_, without) else float("nan")


@kind("n_selected_ratio")
def _n_selected_ratio(s: Survey, a: dict) -> float:
    counts = [_n_selected(s, {"question": a["question"], "selected": a[k]}) for k in ("a", "b")]
    return min(counts) / max(counts) if max(counts) else float("nan")


@kind("mean_of_item_means")
def _mean_of_item_means(s: Survey, a: dict) -> float:
    return float(_stats_of_question(s, {"question": a["question"], "stat": "mean"}).mean())


def recompute(fact: Fact, survey: Survey) -> Any:
    try:
        fn = KINDS[fact.kind]
    except KeyError:
        raise ValueError(f"fact {fact.id}: unknown kind {fact.kind!r}") from None
    return fn(survey, fact.args)

"""Data realism report: do the respondent data behave like answers people gave?

Measures what a survey methodologist would look at first -- batteries that hang together, group
differences of plausible size, the questionnaire's filter logic, how people break off -- and compares
each figure with the project's bar for synthetic data (``LIMITS``). Works on any respondent table
(``python -m clusterkrise.synth --report [--data PATH]``); ``tests/test_synth_report.py`` holds the
shipped data to the bar.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import groups
from ..codebook import Codebook, load_codebook
from ..filterlogic import breakoff_pattern, filter_violations
from ..io import apply_cleaning
from ..registry import Fact, load_facts
from ..utests import compare_groups

LIMITS = {
    "battery_spearman_min": 0.2,  # median within-battery Spearman, batteries marked `construct`
    "sig_share_p_below_001_max": 0.5,  # of the registered significant differences
    "sig_median_abs_r_range": (0.2, 0.4),
    "sig_p_max": 0.10,
    "one_answer_share_max": 0.95,  # no comparison group where this share gives one answer
    "filter_violations_max": 0,
    "breakoff_answers_after_gap_max": 0.10,  # share of non-completers
}
SIG_KINDS = ("sig_set", "sig_count", "sig_direction")
OPEN_TEXT_COLUMNS = ("A5", "B6", "C4")


@dataclass
class RealismReport:
    batteries: pd.DataFrame
    differences: pd.DataFrame
    unanimous_groups: pd.DataFrame
    violations: pd.DataFrame
    breakoff: dict[str, Any]
    plausibility: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        sig = self.differences[self.differences["significant"]]
        lines = ["Data realism report", "", "Battery correlations (median pairwise Spearman, rated answers):"]
        for _, r in self.batteries.iterrows():
            mark = "construct" if r["construct"] else "         "
            lines.append(f"  {r['question']:4} {mark}  {r['median_spearman']:+.2f}  (mean {r['mean_spearman']:+.2f}, {r['pairs']} pairs)")
        lines += [
            "",
            f"Registered significant differences: {len(sig)}",
            f"  p < 0.001: {int((sig['p'] < 0.001).sum())} ({(sig['p'] < 0.001).mean():.0%}), median p {sig['p'].median():.4f}, max p {sig['p'].max():.4f}",
            f"  median |r_rb| {sig['r_rb'].abs().median():.2f} (IQR {sig['r_rb'].abs().quantile(0.25):.2f}-{sig['r_rb'].abs().quantile(0.75):.2f})",
            f"Comparison groups where >= {LIMITS['one_answer_share_max']:.0%} give one answer: {len(self.unanimous_groups)}",
        ]
        for _, r in self.unanimous_groups.head(10).iterrows():
            lines.append(f"  {r['item']} x {r['grouping']} / {r['group']}: {r['share']:.0%} answer {r['value']:g} (n={r['n']})")
        lines += ["", f"Filter-logic violations: {len(self.violations)}"]
        if len(self.violations):
            for rule, n in self.violations.groupby("rule").size().items():
                lines.append(f"  {rule}: {n}")
        b = self.breakoff
        lines += [
            "",
            "Break-off:",
            f"  non-completers {b['non_completers']}, with answers after their first unanswered page {b['after_gap']} ({b['after_gap_share']:.0%})",
            f"  completers with an unanswered page {b['completers_with_gap']}; median duration by pages answered (non-completers): {b['duration_by_progress']}",
            "",
            "Plausibility:",
        ]
        lines += [f"  {k}: {v}" for k, v in self.plausibility.items()]
        lines += ["", "Verdict: " + ("all within the bar" if self.ok else "; ".join(self.problems))]
        return "\n".join(lines)


def _rated(frame: pd.DataFrame, cb: Codebook, question: str) -> pd.DataFrame:
    q = cb.question(question)
    data = frame[q.columns].apply(pd.to_numeric, errors="coerce")
    return data.mask(data.isin(list(q.scale.special)))


def battery_correlations(frame: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    rows = []
    for q in cb:
        if len(q.items) < 3 or q.is_open or q.scale.type not in ("slider", "choice", "tinsort"):
            continue
        data = _rated(frame, cb, q.id).dropna(how="all")
        corr = data.corr(method="spearman", min_periods=20)
        vals = [corr.iloc[i, j] for i, j in itertools.combinations(range(len(q.columns)), 2) if pd.notna(corr.iloc[i, j])]
        if not vals:
            continue
        rows.append({"question": q.id, "construct": q.construct, "median_spearman": float(np.median(vals)), "mean_spearman": float(np.mean(vals)), "pairs": len(vals)})
    return pd.DataFrame(rows)


def registered_differences(frame: pd.DataFrame, cb: Codebook, facts: list[Fact]) -> pd.DataFrame:
    """U-tests (project defaults) of every (question, grouping) a significance statement of the registry covers."""
    pairs = sorted({(f.args["question"], f.args["grouping"]) for f in facts if f.kind in SIG_KINDS})
    tables = []
    for question, grouping in pairs:
        q = cb.question(question)
        g = groups.grouping(frame, grouping)
        t = compare_groups(frame, q.columns, {grouping: g}, special_codes={c: list(q.scale.special) for c in q.columns})
        tables.append(t)
    return pd.concat(tables, ignore_index=True)


def unanimous_groups(frame: pd.DataFrame, cb: Codebook, differences: pd.DataFrame) -> pd.DataFrame:
    rows = []
    limit = LIMITS["one_answer_share_max"]
    for (item, grouping), _ in differences.groupby(["item", "grouping"]):
        g = groups.grouping(frame, grouping)
        q = cb.question_of(item)
        v = pd.to_numeric(frame[item], errors="coerce")
        v = v[~v.isin(list(q.scale.special))]
        for label in g.cat.categories:
            x = v[(g == label).reindex(v.index, fill_value=False)].dropna()
            if len(x) < 5:
                continue
            counts = x.value_counts()
            share = counts.iloc[0] / len(x)
            if share >= limit:
                rows.append({"item": item, "grouping": grouping, "group": label, "value": float(counts.index[0]), "share": float(share), "n": int(len(x))})
    return pd.DataFrame(rows, columns=["item", "grouping", "group", "value", "share", "n"])


def _plausibility(frame: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    young = frame["D9_age"] == 1
    if young.any():
        out["aged 21-30 with 5+ years in cluster management"] = f"{int((young & (frame['D10_experience'] == 5)).sum())} of {int((young & frame['D10_experience'].notna()).sum())}"
    a8 = frame[["A8_bund_land", "A8_bund_cm", "A8_land_cm"]].dropna()
    strict = a8[(a8 != 0).all(axis=1)]
    # bund > land > cm > bund or the reverse cycle
    cyc = ((strict["A8_bund_land"] == 1) & (strict["A8_land_cm"] == 2) & (strict["A8_bund_cm"] == 3)) | (
        (strict["A8_bund_land"] == 2) & (strict["A8_land_cm"] == 3) & (strict["A8_bund_cm"] == 1)
    )
    out["intransitive A8 triads"] = f"{int(cyc.sum())} of {len(a8)}"
    return out


def build_report(data: pd.DataFrame, codebook: Codebook | None = None, facts: list[Fact] | None = None) -> RealismReport:
    cb = codebook or load_codebook()
    facts = list(facts or load_facts())
    started = data
    cleaned = apply_cleaning(data, cb)
    batteries = battery_correlations(cleaned, cb)
    diffs = registered_differences(cleaned, cb, facts)
    sig = diffs[diffs["significant"]]
    unanimous = unanimous_groups(cleaned, cb, diffs)
    violations = filter_violations(started, cb)
    pattern = breakoff_pattern(started, cb)
    non = started["completed"] == 0
    prog = pattern.loc[non, "pages_answered"]
    dur = started.loc[non, "duration_seconds"]
    bins = pd.cut(prog, [-1, 2, 8, 16, 40], labels=["0-2", "3-8", "9-16", "17+"])
    breakoff = {
        "non_completers": int(non.sum()),
        "after_gap": int(pattern.loc[non, "answers_after_gap"].sum()),
        "after_gap_share": float(pattern.loc[non, "answers_after_gap"].mean()) if non.any() else 0.0,
        "completers_with_gap": int(pattern.loc[~non, "first_gap"].notna().sum()),
        "duration_by_progress": {str(k): int(v) for k, v in dur.groupby(bins, observed=True).median().items()},
        "duration_progress_spearman": float(pd.concat([prog, dur], axis=1).corr(method="spearman").iloc[0, 1]) if non.sum() > 2 else float("nan"),
    }
    problems = []
    for _, r in batteries[batteries["construct"]].iterrows():
        if r["median_spearman"] < LIMITS["battery_spearman_min"]:
            problems.append(f"battery {r['question']}: median Spearman {r['median_spearman']:.2f} < {LIMITS['battery_spearman_min']}")
    if len(sig):
        if (sig["p"] < 0.001).mean() > LIMITS["sig_share_p_below_001_max"]:
            problems.append(f"{(sig['p'] < 0.001).mean():.0%} of the significant differences have p < 0.001")
        lo, hi = LIMITS["sig_median_abs_r_range"]
        med = sig["r_rb"].abs().median()
        if not lo <= med <= hi:
            problems.append(f"median |r_rb| of the significant differences {med:.2f} outside [{lo}, {hi}]")
    if len(unanimous):
        problems.append(f"{len(unanimous)} comparison group(s) where >= 95 % give one answer")
    if len(violations) > LIMITS["filter_violations_max"]:
        problems.append(f"{len(violations)} filter-logic violations")
    if breakoff["after_gap_share"] > LIMITS["breakoff_answers_after_gap_max"]:
        problems.append(f"{breakoff['after_gap_share']:.0%} of non-completers answer after an unanswered page")
    return RealismReport(batteries, diffs, unanimous, violations, breakoff, _plausibility(cleaned), problems)

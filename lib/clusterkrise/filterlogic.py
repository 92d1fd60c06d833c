"""The questionnaire's filter logic and page order, checked on respondent data.

The codebook says when a question or item was shown (``asked_if``) and in which order the pages came
(``page``, default: one page per question in codebook order). Answers that the logic rules out and
interviews that go on after an unanswered page are not errors of a data file -- real survey tools let
some through -- so validation only warns about them (:func:`warn_filter_violations`); the synthetic
generator must produce none (``clusterkrise.synth.report``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from .codebook import Codebook, load_codebook


class FilterLogicWarning(UserWarning):
    """A respondent table breaks the questionnaire's filter logic (answers the filter should have hidden)."""


def _rules(cb: Codebook) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(what, columns it covers, condition) for every question and item with an ``asked_if``."""
    rules = []
    for q in cb:
        if q.asked_if:
            rules.append((q.id, q.columns, q.asked_if))
        for it in q.items:
            if "asked_if" in it.extra:
                rules.append((it.id, [it.id], it.extra["asked_if"]))
    return rules


def _not_asked(frame: pd.DataFrame, cond: dict[str, Any]) -> pd.Series:
    """True where the condition hides the question: a filter column answered with an excluded code,
    or (``answered: true``) the filter question left empty."""
    col = cond["column"]
    if col not in frame:
        return pd.Series(False, index=frame.index)
    value = pd.to_numeric(frame[col], errors="coerce")
    if cond.get("answered"):
        return value.isna()
    return value.isin(list(cond.get("not_in", [])))


def filter_violations(frame: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """One row per (rule, respondent) with an answer the filter should have hidden."""
    cb = codebook or load_codebook()
    rows = []
    for what, cols, cond in _rules(cb):
        present = [c for c in cols if c in frame]
        if not present:
            continue
        answered = frame[present].notna().any(axis=1)
        bad = frame.index[_not_asked(frame, cond) & answered]
        ids = frame["respondent_id"] if "respondent_id" in frame else pd.Series(frame.index, index=frame.index)
        for idx in bad:
            rows.append({"rule": what, "condition": _describe(cond), "respondent_id": ids.loc[idx]})
    return pd.DataFrame(rows, columns=["rule", "condition", "respondent_id"])


def _describe(cond: dict[str, Any]) -> str:
    if cond.get("answered"):
        return f"only after an answer to {cond['column']}"
    return f"not when {cond['column']} in {list(cond.get('not_in', []))}"


def pages(codebook: Codebook | None = None, *, closed_only: bool = True) -> list[list[str]]:
    """Columns per page in questionnaire order. Open questions (voluntary text boxes) and filtered
    questions are left out with ``closed_only``: an empty one says nothing about breaking off."""
    cb = codebook or load_codebook()
    order: dict[Any, list[str]] = {}
    for i, q in enumerate(cb):
        if closed_only and (q.is_open or q.asked_if):
            continue
        key = q.page if q.page is not None else f"q{i:03d}"
        cols = [it.id for it in q.items if not (closed_only and "asked_if" in it.extra)]
        order.setdefault(key, []).extend(cols)
    return [cols for cols in order.values() if cols]


def breakoff_pattern(frame: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """Per respondent: pages answered, first unanswered page, and whether answers follow that page."""
    page_cols = pages(codebook)
    answered = pd.DataFrame(
        {i: frame[[c for c in cols if c in frame]].notna().any(axis=1) for i, cols in enumerate(page_cols)},
        index=frame.index,
    )
    first_gap = (~answered).idxmax(axis=1).where(~answered.all(axis=1))
    last = answered.apply(lambda r: r[r].index.max() if r.any() else -1, axis=1)
    later = pd.Series([bool(pd.notna(g) and lst > g) for g, lst in zip(first_gap, last)], index=frame.index)
    return pd.DataFrame({"pages_answered": answered.sum(axis=1), "first_gap": first_gap, "last_answered": last, "answers_after_gap": later})


def warn_filter_violations(frame: pd.DataFrame, codebook: Codebook | None = None, source: str = "<data>") -> pd.DataFrame:
    """Warn (not fail) when a table breaks the filter logic; returns the violations."""
    found = filter_violations(frame, codebook)
    if len(found):
        counts = found.groupby("rule").size()
        parts = [f"{rule} ({n}x, {found[found['rule'] == rule]['condition'].iloc[0]})" for rule, n in counts.items()]
        warnings.warn(
            f"{source}: {len(found)} answer(s) the questionnaire's filter should have hidden: " + "; ".join(parts)
            + ". The analysis keeps them; check the export if this is unexpected.",
            FilterLogicWarning,
            stacklevel=2,
        )
    return found

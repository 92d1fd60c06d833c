"""Open answers (A5, B6, C4) and the analyst's coding of them.

The respondent table holds what people wrote. Which themes an answer touches is the analyst's
reading, kept apart in a coding file next to the data (``open_answers.csv``: ``respondent_id,
question, text, codes``, codes joined with ``;``). The code list of each question (code -> theme
label, and the code for answers without content such as "keine" or "-") is documented in
``data/survey/open_answers_source.yaml``. A real export without a coding file yet gives an empty
coding: the figures then count the written answers as not coded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

CODING_FILE = "open_answers.csv"
CODING_COLUMNS = ["respondent_id", "question", "text", "codes"]
NOT_CODED = "nicht_kodiert"
NOT_CODED_LABEL = "noch nicht kodiert"


def coding_path(data_path: str | Path) -> Path:
    """The coding file that belongs to a respondent file: ``open_answers.csv`` in the same folder."""
    return Path(data_path).with_name(CODING_FILE)


def load_coding(data_path: str | Path) -> pd.DataFrame:
    """The analyst's coding of the open answers that belong to ``data_path`` (empty when there is none)."""
    path = coding_path(data_path)
    if not path.exists():
        return pd.DataFrame(columns=CODING_COLUMNS)
    coding = pd.read_csv(path, comment="#", dtype={"question": str, "text": str, "codes": str}, keep_default_na=False)
    missing = [c for c in CODING_COLUMNS if c not in coding.columns]
    if missing:
        raise ValueError(
            f"{path}: the coding of the open answers needs the columns {', '.join(CODING_COLUMNS)}; "
            f"missing: {', '.join(missing)}. Add them or remove the file."
        )
    coding["respondent_id"] = pd.to_numeric(coding["respondent_id"], errors="raise").astype(int)
    return coding[CODING_COLUMNS]


def code_list(question: str) -> tuple[dict[str, str], str]:
    """The documented code list of a question (code -> theme label, the no-content code last) and
    the no-content code."""
    from .qualitative import load_open_answer_source

    source = load_open_answer_source()
    return source.code_labels(question), source.no_content_code


def coded_answers(answers: pd.DataFrame, coding: pd.DataFrame, question: str) -> pd.DataFrame:
    """One row per written answer (``respondent_id``, ``text``) with its list of codes.

    ``answers`` are the written answers of the question (``respondent_id`` and ``text``); an answer the
    coding does not cover gets the code ``nicht_kodiert``.
    """
    of_question = coding.loc[coding["question"] == question].drop_duplicates("respondent_id").set_index("respondent_id")
    out = answers[["respondent_id", "text"]].copy()
    codes = out["respondent_id"].map(of_question["codes"]) if len(of_question) else pd.Series(index=out.index, dtype=object)
    out["codes"] = [[c for c in str(v).split(";") if c] if isinstance(v, str) and v.strip() else [NOT_CODED] for v in codes]
    return out.reset_index(drop=True)


def theme_counts(coded: pd.DataFrame, labels: Mapping[str, str], no_content: str, *, examples: int = 3) -> pd.DataFrame:
    """Answers per theme, most frequent first; answers without content (and not coded ones) apart, last.

    An answer coded with several themes counts once for each. Columns: ``code, theme, n, share`` (of
    the written answers), ``apart`` (True for the no-content and not-coded rows), ``examples`` (up to
    ``examples`` answer texts, the ones with only this theme and more words first, then in respondent
    order).
    """
    n_answers = len(coded)
    rows = []
    exploded = coded.explode("codes")
    for code, group in exploded.groupby("codes", sort=False):
        apart = code in (no_content, NOT_CODED)
        chosen = []
        if not apart:
            pool = coded.loc[group.index]
            order = pool.assign(
                _multi=pool["codes"].map(len), _short=pool["text"].str.split().map(len).lt(3)
            ).sort_values(["_short", "_multi", "respondent_id"], kind="mergesort")
            chosen = list(order["text"].head(examples))
        rows.append({
            "code": code,
            "theme": NOT_CODED_LABEL if code == NOT_CODED else labels.get(code, code),
            "n": len(group),
            "share": len(group) / n_answers if n_answers else float("nan"),
            "apart": apart,
            "examples": " | ".join(chosen),
        })
    table = pd.DataFrame(rows, columns=["code", "theme", "n", "share", "apart", "examples"])
    if table.empty:
        return table
    return table.sort_values(["apart", "n", "theme"], ascending=[True, False, True], kind="mergesort").reset_index(drop=True)


def top_themes(themes: pd.DataFrame) -> tuple[list[str], int]:
    """The most frequent theme(s) (all of them when several share the top count) and that count."""
    main = themes.loc[~themes["apart"].astype(bool)] if len(themes) else themes
    if main.empty:
        return [], 0
    n = int(main["n"].max())
    return list(main.loc[main["n"] == n, "theme"]), n


def no_content_count(themes: pd.DataFrame, no_content: str) -> int:
    """Answers without content ("keine", "-"), counted apart from the themes."""
    return int(themes.loc[themes["code"] == no_content, "n"].sum()) if len(themes) else 0


__all__ = ["CODING_FILE", "NOT_CODED", "code_list", "coded_answers", "coding_path", "load_coding", "no_content_count", "theme_counts", "top_themes"]

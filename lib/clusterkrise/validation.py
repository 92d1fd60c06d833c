"""Validation of respondent data against the codebook.

The pandera schema is derived from ``data/codebook.yaml``: one column per codebook column, its dtype
from the scale type, and the allowed values from the scale (choice codes, slider ranges, special
codes, percent steps, count limits). Cross-column rules (shares that must add up, unique ids) sit at
frame level. All problems are collected lazily and raised as one :class:`DataValidationError` whose
message names every offending row and column, so a broken export can be fixed in one pass.

``python -m clusterkrise.validation PATH`` loads a file with :func:`clusterkrise.io.load_survey` and
prints either a short summary or the list of problems (exit status 1).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .codebook import Codebook, Question, load_codebook

if TYPE_CHECKING:
    import pandera.pandas as pa

# pandera is imported where a schema is built or checked: a notebook that gets the survey from the data cache
# (clusterkrise.datacache) never validates, and its kernel then skips pandera's import (a sixth of a second).

__all__ = [
    "DataValidationError",
    "MAX_DURATION_SECONDS",
    "MAX_MESSAGE_LINES",
    "SUM_TOLERANCE",
    "build_schema",
    "coerce_frame",
    "column_dtypes",
    "example_frame",
    "main",
    "optional_columns",
    "validate_survey",
    "write_problem_report",
]

# A questionnaire session open for a whole day is not an interview but an abandoned browser tab.
MAX_DURATION_SECONDS = 24 * 60 * 60
# Shares typed with one decimal (33.3 + 33.3 + 33.4) must pass, a forgotten item (sum 90) must not.
SUM_TOLERANCE = 0.5
MAX_MESSAGE_LINES = 200

_INT_SCALES = {"slider", "choice", "number"}
_FLOAT_SCALES = {"percent", "percent_split"}
_META_DTYPES = {"respondent_id": "Int64", "completed": "Int64", "duration_seconds": "Float64"}
_GERMAN_NUMBER = re.compile(r"^[+-]?\d+(,\d+)?$")


# --------------------------------------------------------------------------------------------- errors
class DataValidationError(ValueError):
    """Respondent data break the codebook's rules.

    ``problems`` is a list of dicts with keys ``row`` (1-based position of the data row, header not
    counted; None for column-level problems), ``respondent_id``, ``column``, ``value`` and ``check``
    (the rule in words).
    """

    def __init__(self, source: str, problems: Sequence[dict[str, Any]], max_lines: int = MAX_MESSAGE_LINES):
        self.source = source
        self.problems = list(problems)
        self.max_lines = max_lines
        super().__init__(self._message())

    def _message(self) -> str:
        return self.render(self.max_lines)

    def render(self, max_lines: int | None = None) -> str:
        """The message with at most ``max_lines`` problem lines (None: every problem)."""
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''} (rows counted from 1 below the header)"
        lines = [format_problem(p) for p in _sorted_problems(self.problems)]
        if max_lines is not None and len(lines) > max_lines:
            rest = len(lines) - max_lines
            lines = lines[:max_lines] + [
                f"... and {rest} more problems; `clusterkrise validate PATH` prints all of them and "
                "`--report problems.csv` writes them to a table"
            ]
        return "\n".join([head] + ["  " + line for line in lines] + _hints(self.problems))

    def write_report(self, path: str | Path) -> Path:
        """Every problem as one CSV row: row, respondent_id, column, value, rule (UTF-8)."""
        return write_problem_report(self.problems, path)


def write_problem_report(problems: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write problems to a CSV table (row, respondent_id, column, value, rule) and return its path."""
    import csv

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["row", "respondent_id", "column", "value", "rule"])
        for p in _sorted_problems(problems):
            value = "" if _missing(p["value"]) else p["value"]
            writer.writerow(["" if p["row"] is None else p["row"], "" if p["respondent_id"] is None else p["respondent_id"], p["column"] or "", value, p["check"]])
    return out


# Codes survey tools write for "no answer" (SoSci Survey -9, Unipark/EFS -77/-99/-66).
_TOOL_MISSING_CODES = {-9: "SoSci Survey's 'nicht beantwortet'", -77: "EFS's 'nicht gesehen'", -99: "EFS's 'keine Angabe'", -66: "EFS's 'ausgeblendet'"}


def _hints(problems: Sequence[dict[str, Any]]) -> list[str]:
    """What a pattern of problems most likely means, with the way out."""
    hints = []
    values = [p["value"] for p in problems if p["row"] is not None]
    for code, meaning in _TOOL_MISSING_CODES.items():
        n = sum(isinstance(v, (int, float)) and not isinstance(v, bool) and v == code for v in values)
        if n:
            hints.append(
                f"hint: {code} occurs in {n} problem cells; it is {meaning} code for an unanswered question. Declare it "
                "missing in a mapping file and import the export: clusterkrise mapping-template --tool ... -o mapping.yaml; "
                "clusterkrise import EXPORT --mapping mapping.yaml -o responses.csv (docs/mapping.md)"
            )
    texts = sum(isinstance(v, str) and str(p["check"]).startswith("is not a number") for p, v in zip([p for p in problems if p["row"] is not None], values))
    if texts >= 10:
        hints.append(
            f"hint: {texts} cells hold text where the codebook expects codes; if they are answer texts (an export with "
            "full answers, e.g. LimeSurvey), export the answer codes or import through a mapping (docs/mapping.md)"
        )
    unknown = sum(str(p["check"]).startswith("is unknown (not a codebook column)") for p in problems)
    if unknown >= 10:
        hints.append(
            f"hint: {unknown} columns are not codebook columns; a survey tool's export is read through a mapping file: "
            "clusterkrise mapping-template --tool sosci|limesurvey|unipark, then clusterkrise import (docs/mapping.md)"
        )
    return hints


def _sorted_problems(problems: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # Column-level problems first, then row by row, so that one row's problems stay together.
    return sorted(problems, key=lambda p: (p["row"] is not None, p["row"] or 0, str(p["column"])))


def _show(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "(empty)"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    return str(value)


def format_problem(p: dict[str, Any]) -> str:
    if p["row"] is None:
        where = f"column {p['column']}" if p["column"] else "table"
        return f"{where}: {p['check']}"
    rid = "?" if p["respondent_id"] is None else p["respondent_id"]
    return f"row {p['row']} (respondent_id {rid}), column {p['column']}: value {_show(p['value'])} {p['check']}"


# --------------------------------------------------------------------------------------------- dtypes
def _dtype_of(question: Question) -> str:
    kind = question.scale.type
    if kind in _INT_SCALES:
        return "Int64"
    if kind in _FLOAT_SCALES:
        return "Float64"
    if kind == "text":
        return "string"
    raise ValueError(f"question {question.id}: scale type {kind!r} has no column dtype")


def column_dtypes(codebook: Codebook | None = None) -> dict[str, str]:
    """Column -> pandas dtype name, in the codebook's column order."""
    cb = codebook or load_codebook()
    out = dict(_META_DTYPES)
    for q in cb:
        for col in q.columns:
            out[col] = _dtype_of(q)
    return out


def optional_columns(codebook: Codebook | None = None) -> list[str]:
    """Columns a respondent file may leave out: the open answers, which the project ships separately."""
    cb = codebook or load_codebook()
    return [c for q in cb if q.is_open for c in q.columns]


def _problem(row: int | None, rid: Any, column: str | None, value: Any, check: str) -> dict[str, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    return {"row": row, "respondent_id": rid, "column": column, "value": value, "check": check}


def _ids(frame: pd.DataFrame) -> list[Any]:
    """Respondent id per row position, as plain ints where readable (for messages)."""
    if "respondent_id" not in frame:
        return [None] * len(frame)
    ids = pd.to_numeric(frame["respondent_id"], errors="coerce")
    return [None if pd.isna(v) else (int(v) if float(v).is_integer() else v) for v in ids]


def coerce_frame(
    df: pd.DataFrame, codebook: Codebook | None = None, *, decimal: str = "."
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Convert the codebook's columns to their dtypes; cells that do not convert become problems.

    Text cells in numeric columns are parsed as numbers with the given decimal mark. With
    ``decimal=","`` (German Excel) a dot is refused rather than read as a decimal point, because
    German spreadsheets use it for thousands. Unconvertible cells are set to missing in the returned
    frame and listed in the returned problems, so nothing is dropped without a record.
    """
    cb = codebook or load_codebook()
    dtypes = column_dtypes(cb)
    converted: dict[str, pd.Series] = {}
    problems: list[dict[str, Any]] = []
    ids: list[Any] | None = None
    # respondent_id first so that the other columns' problems can name it.
    order = sorted((c for c in df.columns if c in dtypes), key=lambda c: c != "respondent_id")
    numeric = [c for c in order if str(df[c].dtype) != dtypes[c] and dtypes[c] != "string"]
    parsed = _parse_text_columns(df, numeric, decimal, whole=[dtypes[c] == "Int64" for c in numeric])
    for col in order:
        want = dtypes[col]
        s = df[col]
        if str(s.dtype) == want:
            continue
        if want == "string":
            converted[col] = s.astype("string")
            continue
        if col in parsed:  # every cell a number of the column's kind (or empty): nothing to report
            converted[col] = pd.Series(parsed[col], index=s.index, name=col).astype(want)
            continue
        if ids is None:
            ids = _ids(df)
        converted[col] = _coerce_column(s, want, decimal, ids, problems)
    # One new frame instead of column-wise assignment (which fragments a 200-column frame).
    out = pd.DataFrame({c: converted.get(c, df[c]) for c in df.columns}, index=df.index)
    out.attrs = dict(df.attrs)
    return out, problems


def _parse_text_columns(df: pd.DataFrame, columns: list[str], decimal: str, whole: list[bool]) -> dict[str, np.ndarray]:
    """Float values of the columns whose cells are all text numbers or empty, and valid for their dtype.

    A file read as text holds a handful of distinct strings (the answer codes), so each distinct
    string is parsed once by the same rule as :func:`_coerce_column`; a column with any other kind of
    cell (numbers from a spreadsheet, a bad text) is left out and goes through the per-cell path,
    which names every problem.
    """
    if not columns:
        return {}
    block = df[columns].to_numpy(dtype=object)
    codes, uniques = pd.factorize(block.ravel(order="F"))
    codes = codes.reshape(block.shape, order="F")
    value = np.full(len(uniques) + 1, np.nan)  # the last slot is code -1: an empty cell
    usable = np.ones(len(uniques) + 1, dtype=bool)
    integral = np.ones(len(uniques) + 1, dtype=bool)
    for k, u in enumerate(uniques):
        number = _parse_text_number(u, decimal) if type(u) is str else _BAD
        if number is None:
            continue
        if number is _BAD or not math.isfinite(number):
            usable[k] = False
        else:
            value[k] = number
            integral[k] = float(number).is_integer()
    # factorize also files None, pd.NA and NaT under "empty"; the per-cell path tells them apart.
    empty = codes == -1
    if empty.any():
        odd = {type(v) for v in block[empty]} - {float, np.float64, type(None), type(pd.NA)}
        if odd:
            usable[-1] = False
    ok = usable[codes].all(axis=0) & (~np.asarray(whole) | integral[codes].all(axis=0))
    values = value[codes]
    return {col: values[:, j] for j, col in enumerate(columns) if ok[j]}


def _coerce_column(s: pd.Series, want: str, decimal: str, ids: list[Any], problems: list[dict[str, Any]]) -> pd.Series:
    """One column cell by cell; every cell that does not convert is appended to ``problems``."""
    col = s.name
    # Plain lists: Series.map would let pandas re-infer a str dtype and turn None back into NaN.
    cells = [None if _missing(v) else v for v in s.astype(object)]
    cells = [_parse_text_number(v, decimal) if isinstance(v, str) else v for v in cells]
    present = pd.Series([v is not None for v in cells], index=s.index)
    numbers = [np.nan if v is None or v is _BAD else v for v in cells]
    num = pd.to_numeric(pd.Series(numbers, index=s.index, dtype=object), errors="coerce").astype(float)
    bad_number = present & num.isna()
    not_finite = num.notna() & ~np.isfinite(num)
    not_whole = pd.Series(False, index=s.index)
    if want == "Int64":
        not_whole = num.notna() & ~not_finite & (num % 1 != 0)
    for pos in np.flatnonzero((bad_number | not_finite | not_whole).to_numpy()):
        if bad_number.iloc[pos]:
            rule = "is not a number" + (" (German dialect: decimal comma, no dots)" if decimal == "," else "")
        elif not_finite.iloc[pos]:
            rule = "is not a finite number"
        else:
            rule = "is not a whole number"
        problems.append(_problem(int(pos) + 1, ids[pos], col, s.iloc[pos], rule))
    num = num.where(~(bad_number | not_finite | not_whole))
    return num.astype(want)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))


class _Bad:
    def __repr__(self) -> str:
        return "<bad>"


_BAD = _Bad()


def _parse_text_number(text: str, decimal: str) -> Any:
    t = text.strip()
    if t == "":
        return None
    if decimal == ",":
        return float(t.replace(",", ".")) if _GERMAN_NUMBER.match(t) else _BAD
    try:
        return float(t)
    except ValueError:
        return _BAD


# --------------------------------------------------------------------------------------------- schema
def _fmt(x: Any) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _codes(codes: Iterable[int]) -> str:
    return ", ".join(str(c) for c in sorted(codes))


def _cell_check(test, name: str, error: str) -> pa.Check:
    """A pandera check of every answered cell: ``test`` gets the column as a float array.

    Empty cells pass here (``nullable`` rules them); deciding that inside the check instead of letting
    pandera drop them first, and testing a plain array instead of a nullable Series, keeps the ~200
    column checks of a respondent file cheap.
    """
    import pandera.pandas as pa

    def check(s: pd.Series) -> pd.Series:
        values = s.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return pd.Series(np.isnan(values) | test(values), index=s.index)

    return pa.Check(check, name=name, error=error, ignore_na=False)


def _column_checks(q: Question, column: str) -> list[pa.Check]:
    import pandera.pandas as pa

    sc = q.scale
    special = sorted(sc.special)
    checks: list[pa.Check] = []
    if sc.type == "slider":
        lo, hi = sc.min, sc.max
        rule = f"outside {_fmt(lo)}..{_fmt(hi)}"
        if special:
            rule += f" and not a special code ({_codes(special)})"
        checks.append(_cell_check(lambda v, lo=lo, hi=hi, sp=special: ((v >= lo) & (v <= hi)) | np.isin(v, sp), "range", rule))
    elif sc.type == "choice":
        options = q.items[[it.id for it in q.items].index(column)].extra.get("options")
        allowed = sorted(options) if options else sorted(sc.allowed_codes or ())
        rule = f"is not an allowed code ({_codes(allowed)})"
        checks.append(_cell_check(lambda v, a=allowed: np.isin(v, a), "codes", rule))
    elif sc.type in _FLOAT_SCALES:
        lo, hi = sc.min, sc.max
        checks.append(_cell_check(lambda v, lo=lo, hi=hi: (v >= lo) & (v <= hi), "range", f"outside {_fmt(lo)}..{_fmt(hi)}"))
        if sc.step:
            step = sc.step
            # Values outside the range already fail above; one message per cell is enough.
            checks.append(
                _cell_check(
                    lambda v, lo=lo, hi=hi, st=step: ~((v >= lo) & (v <= hi)) | (np.abs(np.mod(v - lo, st)) < 1e-9),
                    "step",
                    f"is not in steps of {_fmt(step)} ({_fmt(lo)}, {_fmt(lo + step)}, ..., {_fmt(hi)})",
                )
            )
    elif sc.type == "number":
        lo = sc.min if sc.min is not None else 0
        checks.append(_cell_check(lambda v, lo=lo: v >= lo, "min", f"is below {_fmt(lo)}"))
        hi = q.max if q.max is not None else sc.max
        if hi is not None:
            checks.append(_cell_check(lambda v, hi=hi: v <= hi, "max", f"is above the maximum {_fmt(hi)}"))
    return checks


def _sum_check(q: Question) -> pa.Check:
    import pandera.pandas as pa

    cols, target = q.columns, float(q.sum_to)

    def rows_ok(df: pd.DataFrame) -> pd.Series:
        if not all(c in df for c in cols):
            return pd.Series(True, index=df.index)  # a missing column is reported on its own
        part = df[cols].astype("Float64")
        given = part.notna().any(axis=1)
        total = part.sum(axis=1, skipna=True)
        return (~given | ((total - target).abs() <= SUM_TOLERANCE)).fillna(True).astype(bool)

    return pa.Check(rows_ok, name=f"sum_to:{q.id}", error=f"shares of {q.id} must sum to {_fmt(target)}")


_SCHEMAS: dict[int, tuple[Codebook, pa.DataFrameSchema]] = {}


def build_schema(codebook: Codebook | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a respondent table, derived from the codebook (built once per codebook)."""
    cb = codebook or load_codebook()
    cached = _SCHEMAS.get(id(cb))
    if cached is not None and cached[0] is cb:
        return cached[1]
    schema = _build_schema(cb)
    _SCHEMAS[id(cb)] = (cb, schema)  # holding cb keeps its id from being reused
    return schema


def _build_schema(cb: Codebook) -> pa.DataFrameSchema:
    import pandera.pandas as pa

    dtypes = column_dtypes(cb)
    optional = set(optional_columns(cb))
    columns: dict[str, pa.Column] = {
        "respondent_id": pa.Column("Int64", nullable=False, unique=True),
        "completed": pa.Column("Int64", pa.Check.isin([0, 1], error="is not 0 or 1"), nullable=False),
        "duration_seconds": pa.Column(
            "Float64",
            [
                pa.Check.ge(0, error="is negative"),
                pa.Check.lt(MAX_DURATION_SECONDS, error=f"is not plausible (a day or more, >= {MAX_DURATION_SECONDS} s)"),
            ],
            nullable=True,
        ),
    }
    frame_checks = []
    for q in cb:
        for col in q.columns:
            columns[col] = pa.Column(dtypes[col], _column_checks(q, col), nullable=True, required=col not in optional)
        if q.sum_to is not None:
            frame_checks.append(_sum_check(q))
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=True, ordered=False, name="respondents")


# ----------------------------------------------------------------------------------------- validation
_BUILTIN_RULES = {
    "field_uniqueness": "is a duplicate respondent_id",
    "not_nullable": "is missing (the column must not have empty cells)",
}


def _translate(fc: pd.DataFrame, frame: pd.DataFrame, cb: Codebook, ids: list[Any]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    seen_frame_rows: set[tuple[str, int]] = set()
    for rec in fc.to_dict("records"):
        check, col, idx = str(rec["check"]), rec["column"], rec["index"]
        if check == "column_in_schema":
            name = rec["failure_case"]
            known = {c.casefold(): c for c in cb.columns}
            hint = f" (did you mean {known[str(name).casefold()]}?)" if str(name).casefold() in known else ""
            problems.append(_problem(None, None, name, None, f"is unknown (not a codebook column){hint}"))
            continue
        if check == "column_in_dataframe":
            problems.append(_problem(None, None, rec["failure_case"], None, "is missing (the codebook requires it)"))
            continue
        if idx is None or (isinstance(idx, float) and math.isnan(idx)):
            problems.append(_problem(None, None, col, rec["failure_case"], check))
            continue
        pos = int(idx)
        if check.startswith("shares of "):
            qid = check.split()[2]
            if (qid, pos) in seen_frame_rows:
                continue
            seen_frame_rows.add((qid, pos))
            cols = cb.items_of(qid)
            total = frame.loc[pos, cols].astype("Float64").sum(skipna=True)
            problems.append(_problem(pos + 1, ids[pos], f"{qid}_* ({', '.join(cols)})", float(total), f"is their sum, but {check}"))
            continue
        problems.append(_problem(pos + 1, ids[pos], col, rec["failure_case"], _BUILTIN_RULES.get(check, check)))
    return problems


def validate_survey(
    df: pd.DataFrame,
    codebook: Codebook | None = None,
    source: str = "<data>",
    *,
    decimal: str = ".",
    extra_problems: Sequence[dict[str, Any]] = (),
) -> pd.DataFrame:
    """Check a respondent table against the codebook and return it with the codebook's dtypes.

    Accepts text cells in numeric columns (they are parsed with ``decimal``). Raises one
    :class:`DataValidationError` listing every problem; ``extra_problems`` (e.g. from the loader) are
    added to that list.
    """
    cb = codebook or load_codebook()
    dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dupes:
        # Column-wise checks are meaningless when a name stands for two columns.
        raise DataValidationError(source, [_problem(None, None, c, None, "appears more than once") for c in dupes])
    original_index = df.index
    work = df.reset_index(drop=True)
    coerced, problems = coerce_frame(work, cb, decimal=decimal)
    problems = list(extra_problems) + problems
    ids = _ids(coerced)
    from pandera.errors import SchemaErrors

    try:
        build_schema(cb).validate(coerced, lazy=True)
    except SchemaErrors as err:
        # A cell that did not convert is already reported; its emptiness is no second problem.
        reported = {(p["row"], p["column"]) for p in problems}
        for p in _translate(err.failure_cases, coerced, cb, ids):
            if (p["row"], p["column"]) not in reported or p["row"] is None:
                problems.append(p)
    if problems:
        raise DataValidationError(source, problems)
    ordered = [c for c in cb.columns if c in coerced]
    coerced = coerced[ordered]
    coerced.index = original_index
    coerced.attrs = dict(df.attrs)
    # Filter-logic breaks are a warning, not an error: real survey tools sometimes let them through.
    from .filterlogic import warn_filter_violations

    warn_filter_violations(coerced, cb, source)
    return coerced


# ------------------------------------------------------------------------------------ example data
_OPEN_SNIPPETS = (
    "Größere Unsicherheit bei Förderanträgen",
    "Mehr digitale Veranstaltungen; weniger Präsenz",
    'Austausch über "Best Practice", auch mit anderen Clustern',
    "Lieferengpässe, Kurzarbeit und Homeoffice",
    "Zusammenarbeit mit Hochschulen\n# zweite Zeile beginnt mit Raute",
    "Öffentlichkeitsarbeit für Mitglieder",
)


def example_frame(n: int = 20, seed: int = 0, codebook: Codebook | None = None) -> pd.DataFrame:
    """``n`` random respondent rows that satisfy every rule of the codebook (deterministic per seed).

    Meant for tests: every scale type, special codes, missing answers and awkward open answers
    (umlauts, quotes, separators, a line break followed by ``#``) occur once ``n`` is about 20.
    """
    if n < 1:
        raise ValueError(f"example_frame needs n >= 1, got {n}")
    cb = codebook or load_codebook()
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {
        "respondent_id": np.arange(1, n + 1),
        "completed": rng.integers(0, 2, n),
        "duration_seconds": np.round(rng.uniform(30, 3600, n), 1),
    }
    for q in cb:
        sc = q.scale
        if q.sum_to is not None:
            k = len(q.columns)
            shares = rng.multinomial(int(q.sum_to), np.ones(k) / k, size=n).astype(float)
            shares[rng.random(n) < 0.2] = np.nan  # whole block unanswered
            for j, col in enumerate(q.columns):
                cols[col] = shares[:, j]
            continue
        for col in q.columns:
            if sc.type == "slider":
                pool = list(range(int(sc.min), int(sc.max) + 1)) + sorted(sc.special)
                values = rng.choice(pool, n).astype(float)
            elif sc.type == "choice":
                opts = q.items[q.columns.index(col)].extra.get("options")
                values = rng.choice(sorted(opts or sc.allowed_codes), n).astype(float)
            elif sc.type == "percent":
                values = rng.choice(np.arange(sc.min, sc.max + sc.step / 2, sc.step), n).astype(float)
            elif sc.type == "number":
                hi = q.max if q.max is not None else 1000
                values = rng.integers(int(sc.min or 0), int(min(hi, 200)) + 1, n).astype(float)
            elif sc.type == "text":
                texts = [_OPEN_SNIPPETS[i % len(_OPEN_SNIPPETS)] for i in rng.permutation(n)]
                cols[col] = pd.array([t if rng.random() > 0.3 else None for t in texts], dtype="string")
                continue
            else:  # pragma: no cover - the codebook has no other types
                raise ValueError(f"example_frame: scale type {sc.type!r} of {q.id}")
            values[rng.random(n) < 0.1] = np.nan
            cols[col] = values
    frame = pd.DataFrame(cols)
    dtypes = column_dtypes(cb)
    return frame.astype({c: dtypes[c] for c in frame.columns})[cb.columns]


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m clusterkrise.validation PATH``: load and validate a respondent file."""
    from .io import SurveyReadError, load_survey

    parser = argparse.ArgumentParser(prog="python -m clusterkrise.validation", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="respondent file (.csv, .xlsx, .sav)")
    parser.add_argument("--sheet", help="worksheet of an .xlsx file (default: the first)")
    parser.add_argument("--clean", action="store_true", help="also apply the cleaning rule (minimum duration)")
    args = parser.parse_args(argv)
    try:
        df = load_survey(args.path, sheet=args.sheet, clean=args.clean)
    except DataValidationError as err:
        print(err.render(None), file=sys.stderr)  # every problem: a command-line user cannot reach .problems
        return 1
    except (SurveyReadError, FileNotFoundError) as err:
        print(err, file=sys.stderr)
        return 1
    completed = int((df["completed"] == 1).sum())
    line = f"OK {args.path}: {len(df)} rows ({completed} completed), {df.shape[1]} columns"
    if "cleaning" in df.attrs:
        line += f"; cleaning dropped {df.attrs['cleaning']['dropped']} short interviews"
    print(line)
    return 0


if __name__ == "__main__":
    # Run the imported module's main: under ``-m`` this file is also loaded as ``__main__``, and the
    # loader raises the package module's DataValidationError, not this copy's.
    from clusterkrise.validation import main as _package_main

    sys.exit(_package_main())

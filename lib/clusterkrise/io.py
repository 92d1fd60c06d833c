"""One loader for respondent data: CSV (UTF-8 or German Excel), XLSX and SPSS .sav.

:func:`load_survey` returns the codebook's columns in codebook order with nullable dtypes (``Int64``
for codes and counts, ``Float64`` for percentages and durations, ``string`` for open answers) and, by
default, validates them (:mod:`clusterkrise.validation`). Whatever the loader had to decide about a
file (encoding, separator, decimal mark, skipped comment lines, renamed or recoded columns) is kept in
``df.attrs["source"]``; when it cannot decide, it raises :class:`SurveyReadError` instead of guessing.
"""

from __future__ import annotations

import csv
import io as _io
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from .codebook import META_COLUMNS, Codebook, load_codebook
from .validation import DataValidationError, coerce_frame, column_dtypes, validate_survey

__all__ = ["SurveyReadError", "apply_cleaning", "load_survey", "read_raw"]

CSV_SEPARATORS = (",", ";", "\t")
_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_COMMA_DECIMAL = re.compile(r"^\s*[+-]?\d+,\d+\s*$")
_POINT_DECIMAL = re.compile(r"^\s*[+-]?\d+\.\d+\s*$")


class SurveyReadError(ValueError):
    """A respondent file cannot be read unambiguously."""


# ----------------------------------------------------------------------------------------------- API
def load_survey(
    path: str | Path,
    *,
    codebook: Codebook | None = None,
    validate: bool = True,
    clean: bool = False,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a respondent file (.csv, .xlsx/.xlsm, .sav/.zsav) into the codebook's columns and dtypes.

    ``validate`` checks every codebook rule and raises one :class:`DataValidationError` listing all
    problems; with ``validate=False`` only cells that cannot be stored in their column's dtype raise,
    and columns the codebook does not know are kept after the codebook's columns. ``clean`` drops
    interviews shorter than the codebook's minimum duration (see :func:`apply_cleaning`). ``sheet``
    selects the worksheet of an Excel file (name or 0-based position; default the first).
    """
    cb = codebook or load_codebook()
    p = Path(path)
    raw, info = read_raw(p, codebook=cb, sheet=sheet)
    raw, renamed = _match_column_names(raw, cb, p.name)
    if renamed:
        info["renamed_columns"] = renamed
    decimal = info.get("decimal", ".")
    if validate:
        df = validate_survey(raw, cb, source=p.name, decimal=decimal)
    else:
        df, problems = coerce_frame(raw, cb, decimal=decimal)
        if problems:
            raise DataValidationError(p.name, problems)
        known = [c for c in cb.columns if c in df]
        df = df[known + [c for c in df.columns if c not in set(cb.columns)]]
    df.attrs["source"] = info
    if clean:
        df = apply_cleaning(df, cb)
    return df


def apply_cleaning(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """Drop interviews shorter than ``codebook.min_duration_seconds`` (the study's cleaning rule).

    Rows without a duration are kept (the rule cannot judge them) and counted. The counts are stored
    in ``df.attrs["cleaning"]``; the index of the kept rows is left unchanged so that they can be
    traced back to the file.
    """
    cb = codebook or load_codebook()
    if "duration_seconds" not in df:
        raise SurveyReadError("cleaning needs the column duration_seconds, which the data do not have")
    limit = cb.min_duration_seconds
    dur = df["duration_seconds"]
    short = (dur < limit).fillna(False).astype(bool)
    out = df.loc[~short].copy()
    out.attrs = dict(df.attrs)
    out.attrs["cleaning"] = {
        "rule": f"interviews with duration_seconds < {limit:g} removed",
        "min_duration_seconds": limit,
        "rows_before": len(df),
        "dropped": int(short.sum()),
        "rows_after": len(out),
        "kept_without_duration": int(dur.isna().sum()),
    }
    return out


def read_raw(path: str | Path, *, codebook: Codebook | None = None, sheet: str | int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The file's cells before dtype conversion, and what was decided to read them."""
    cb = codebook or load_codebook()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"respondent file not found: {p}")
    ext = p.suffix.lower()
    if ext == ".csv":
        return _read_csv(p, cb)
    if ext in (".xlsx", ".xlsm"):
        return _read_xlsx(p, sheet)
    if ext in (".sav", ".zsav"):
        return _read_sav(p, cb)
    raise SurveyReadError(f"{p.name}: unsupported file type {p.suffix!r}; use .csv, .xlsx or .sav")


# ----------------------------------------------------------------------------------------------- CSV
def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as cp_err:
            raise SurveyReadError(
                f"{name}: text encoding not recognised: not UTF-8 ({utf8_err.reason} at byte {utf8_err.start}) "
                f"and not Windows-1252 ({cp_err.reason} at byte {cp_err.start})"
            ) from None


def _strip_leading_comments(text: str) -> tuple[str, int]:
    # Only lines before the header: a '#' inside a quoted open answer is data, so pandas' own
    # ``comment=`` option (which acts anywhere) must not be used.
    lines = text.splitlines(keepends=True)
    k = 0
    while k < len(lines) and (lines[k].startswith("#") or not lines[k].strip()):
        k += 1
    return "".join(lines[k:]), k


def _choose_separator(header: str, cb: Codebook, name: str) -> str:
    known = {c.casefold() for c in cb.columns}
    fields = {sep: next(csv.reader([header], delimiter=sep)) for sep in CSV_SEPARATORS}
    score = {sep: sum(f.strip().casefold() in known for f in fs) for sep, fs in fields.items()}
    best = max(score.values())
    # In a well-formed header only the true separator yields codebook names; a second one that also
    # does means the line mixes separators.
    if best >= 2 and sum(v > 0 for v in score.values()) == 1:
        return max(score, key=score.get)
    widths = {sep: len(fs) for sep, fs in fields.items() if len(fs) > 1}
    counts = ", ".join(f"{_SEP_NAMES[s]}: {len(fields[s])} fields, {score[s]} codebook names" for s in CSV_SEPARATORS)
    if best < 2 and len(widths) == 1:
        sep = next(iter(widths))
        raise SurveyReadError(
            f"{name}: the header line splits only at the {_SEP_NAMES[sep]} but hardly any field is a codebook "
            f"column ({counts}); is this a respondent file? First line: {header[:120]!r}"
        )
    raise SurveyReadError(f"{name}: cannot tell the column separator from the header line ({counts}). First line: {header[:120]!r}")


def _choose_decimal(raw: pd.DataFrame, cb: Codebook, sep: str, name: str) -> str:
    if sep == ",":
        return "."  # a decimal comma would split the field
    dtypes = column_dtypes(cb)
    by_fold = _casefold_map(cb)
    numeric = [c for c in raw.columns if dtypes.get(by_fold.get(str(c).strip().casefold(), "")) in ("Int64", "Float64")]
    comma = point = None
    for col in numeric:
        values = raw[col].dropna().astype(str)
        if comma is None and (hit := values[values.str.match(_COMMA_DECIMAL)]).size:
            comma = (col, hit.iloc[0], int(hit.index[0]) + 1)
        if point is None and (hit := values[values.str.match(_POINT_DECIMAL)]).size:
            point = (col, hit.iloc[0], int(hit.index[0]) + 1)
    if comma and point:
        raise SurveyReadError(
            f"{name}: numbers with a decimal comma (row {comma[2]}, column {comma[0]}: {comma[1]!r}) and with a "
            f"decimal point (row {point[2]}, column {point[0]}: {point[1]!r}) in the same file; export it again "
            "with one decimal mark"
        )
    if point:
        return "."
    # German Excel writes ';' with a decimal comma; without any decimals both readings agree.
    return ","


def _read_csv(p: Path, cb: Codebook) -> tuple[pd.DataFrame, dict[str, Any]]:
    text, encoding = _decode(p.read_bytes(), p.name)
    body, skipped = _strip_leading_comments(text)
    if not body.strip():
        raise SurveyReadError(f"{p.name}: no header line (the file is empty or holds only comment lines)")
    header = body.splitlines()[0]
    sep = _choose_separator(header, cb, p.name)
    names = [f.strip() for f in next(csv.reader([header], delimiter=sep))]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SurveyReadError(f"{p.name}: column name(s) appear more than once in the header: {', '.join(dupes)}")
    try:
        raw = pd.read_csv(
            _io.StringIO(body),
            sep=sep,
            dtype=object,
            keep_default_na=False,  # "NA" or "null" typed as an open answer is an answer
            na_values=[""],
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as err:
        raise SurveyReadError(
            f"{p.name}: cannot parse as {_SEP_NAMES[sep]}-separated text ({err}); line numbers count from the "
            f"header, after {skipped} leading comment line(s)"
        ) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    decimal = _choose_decimal(raw, cb, sep, p.name)
    info = {"path": str(p), "format": "csv", "encoding": encoding, "separator": sep, "decimal": decimal, "comment_lines": skipped}
    return raw, info


# ---------------------------------------------------------------------------------------------- XLSX
def _read_xlsx(p: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(p, read_only=True)
    names = wb.sheetnames
    wb.close()
    if sheet is None:
        chosen = names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise SurveyReadError(f"{p.name}: no worksheet number {sheet}; the file has {len(names)}: {', '.join(names)}")
        chosen = names[sheet]
    elif sheet in names:
        chosen = sheet
    else:
        raise SurveyReadError(f"{p.name}: no worksheet named {sheet!r}; the file has: {', '.join(names)}")
    raw = pd.read_excel(p, sheet_name=chosen, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[""])
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw, {"path": str(p), "format": "xlsx", "sheet": chosen, "decimal": "."}


# ---------------------------------------------------------------------------------------------- SPSS
def _norm_label(label: Any) -> str:
    text = unicodedata.normalize("NFC", str(label)).casefold()
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def _codebook_label_codes(scale) -> dict[str, int]:
    """Normalised label -> code over a scale's values, special answers and slider end labels."""
    out: dict[str, int] = {}
    clash: set[str] = set()
    for mapping in (scale.values, scale.special, scale.labels):
        for code, label in mapping.items():
            key = _norm_label(label)
            if key in out and out[key] != code:
                clash.add(key)
            out[key] = code
    return {k: v for k, v in out.items() if k not in clash}


def _read_sav(p: Path, cb: Codebook) -> tuple[pd.DataFrame, dict[str, Any]]:
    import pyreadstat

    try:
        raw, meta = pyreadstat.read_sav(str(p), apply_value_formats=False)
    except Exception as err:  # pyreadstat raises its own ReadstatError and friends
        raise SurveyReadError(f"{p.name}: cannot read as SPSS file: {err}") from None
    by_fold = _casefold_map(cb)
    file_labels = {by_fold.get(k.casefold(), k): v for k, v in (meta.variable_value_labels or {}).items()}
    dtypes = column_dtypes(cb)
    recoded: dict[str, dict[float, int]] = {}
    from_labels: dict[str, int] = {}
    unmatched: dict[str, list[str]] = {}
    # Columns keep the file's names here (load_survey renames them and records that); lookups use
    # the codebook name.
    for fcol in raw.columns:
        col = by_fold.get(fcol.casefold(), fcol)
        want = dtypes.get(col)
        s = raw[fcol]
        is_text = s.dtype == object or pd.api.types.is_string_dtype(s)
        if is_text:
            # pyreadstat gives '' for an empty string cell; it is a missing answer.
            s = pd.Series([None if isinstance(v, str) and not v.strip() else v for v in s], index=s.index, dtype=object)
        if want != "Int64" or col in META_COLUMNS:
            raw[fcol] = s  # no value labels to map
            continue
        scale = cb.question_of(col).scale
        lookup = _codebook_label_codes(scale)
        if is_text:
            mapped = [lookup.get(_norm_label(v), v) if isinstance(v, str) else v for v in s]
            n = sum(isinstance(a, str) and not isinstance(b, str) for a, b in zip(s, mapped))
            if n:
                from_labels[col] = n
            raw[fcol] = pd.Series(mapped, index=s.index, dtype=object)
            continue
        labels = file_labels.get(col) or {}
        mapping: dict[float, int] = {}
        for fcode, flabel in labels.items():
            target = lookup.get(_norm_label(flabel))
            if target is None:
                unmatched.setdefault(col, []).append(f"{fcode:g}={flabel!r}")
            elif float(target) != float(fcode):
                mapping[float(fcode)] = target
        if not mapping:
            continue
        present = set(s.dropna().astype(float))
        untouched = present - set(mapping)
        collide = untouched & {float(t) for t in mapping.values()}
        if collide:
            raise SurveyReadError(
                f"{p.name}: column {col}: recoding the file's value labels to the codebook's codes would merge "
                f"unlabelled code(s) {', '.join(f'{c:g}' for c in sorted(collide))} with relabelled answers; "
                f"file labels: {labels}"
            )
        raw[fcol] = pd.Series([mapping.get(float(v), v) if pd.notna(v) else v for v in s], index=s.index, dtype=object)
        recoded[col] = mapping
    info: dict[str, Any] = {"path": str(p), "format": "sav", "decimal": "."}
    if recoded:
        info["recoded_codes"] = recoded
    if from_labels:
        info["labels_to_codes"] = from_labels
    if unmatched:
        # Kept as stored; out-of-scale codes are then reported by the validation.
        info["labels_not_in_codebook"] = unmatched
    return raw, info


# ------------------------------------------------------------------------------------------- columns
def _casefold_map(cb: Codebook) -> dict[str, str]:
    return {c.casefold(): c for c in cb.columns}


def _match_column_names(raw: pd.DataFrame, cb: Codebook, name: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename columns that equal a codebook column up to case and surrounding blanks."""
    by_fold = _casefold_map(cb)
    renamed: dict[str, str] = {}
    new = []
    for c in raw.columns:
        target = by_fold.get(str(c).strip().casefold(), c)
        if target != c:
            renamed[str(c)] = target
        new.append(target)
    dupes = sorted({c for c in new if new.count(c) > 1})
    if dupes:
        raise SurveyReadError(f"{name}: after matching names case-insensitively, these columns occur twice: {', '.join(map(str, dupes))}")
    out = raw.copy()
    out.columns = new
    return out, renamed

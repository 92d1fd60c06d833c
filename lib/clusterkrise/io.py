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
from .mapping import looks_missing
from .validation import DataValidationError, _problem, coerce_frame, column_dtypes, validate_survey

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
    header_row: int | None = None,
    mapping: str | Path | None = None,
) -> pd.DataFrame:
    """Read a respondent file (.csv, .xlsx/.xlsm, .sav/.zsav) into the codebook's columns and dtypes.

    ``validate`` checks every codebook rule and raises one :class:`DataValidationError` listing all
    problems; with ``validate=False`` only cells that cannot be stored in their column's dtype raise,
    and columns the codebook does not know are kept after the codebook's columns. ``clean`` drops
    interviews shorter than the codebook's minimum duration (see :func:`apply_cleaning`). ``sheet``
    selects the worksheet of an Excel file (name or 0-based position; default the first) and
    ``header_row`` the line of an Excel sheet that holds the column names (1-based; default 1).

    ``mapping``: a survey tool's export (SoSci Survey, LimeSurvey, Unipark/EFS, ...) is read through
    a mapping file (``docs/mapping.md``, :mod:`clusterkrise.importer`) into the codebook's format and
    then validated like any respondent file; the import report is in ``df.attrs["import"]``.
    """
    cb = codebook or load_codebook()
    p = Path(path)
    if mapping is not None:
        from .importer import import_export

        df, report = import_export(p, mapping, codebook=cb, sheet=sheet, header_row=header_row)
        df.attrs["import"] = report.as_dict()
        return apply_cleaning(df, cb) if clean else df
    raw, info = read_raw(p, codebook=cb, sheet=sheet, header_row=header_row)
    raw, renamed = _match_column_names(raw, cb, p.name)
    if renamed:
        info["renamed_columns"] = renamed
    if info.get("format") == "xlsx":
        _hint_better_sheet(p, raw, info, {c.casefold() for c in cb.columns})
    if len(raw) == 0:
        raise SurveyReadError(no_rows_message(p.name, info))
    decimal = info.get("decimal", ".")
    label_problems = info.pop("missing_label_problems", [])
    if validate:
        df = validate_survey(raw, cb, source=p.name, decimal=decimal, extra_problems=label_problems)
    else:
        df, problems = coerce_frame(raw, cb, decimal=decimal)
        if problems or label_problems:
            raise DataValidationError(p.name, label_problems + problems)
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


def no_rows_message(name: str, info: dict[str, Any]) -> str:
    where = f" (worksheet {info['sheet']!r})" if info.get("sheet") else ""
    return (
        f"{name}{where}: the header line is there but no respondent rows follow; the export is empty "
        "or was cut off before the first row. Export the data again"
    )


def read_raw(
    path: str | Path, *, codebook: Codebook | None = None, sheet: str | int | None = None, header_row: int | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The file's cells before dtype conversion, and what was decided to read them."""
    cb = codebook or load_codebook()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"respondent file not found: {p}")
    ext = p.suffix.lower()
    if ext == ".csv":
        return _read_csv(p, cb)
    if ext in (".xlsx", ".xlsm"):
        return _read_xlsx(p, sheet, header_row)
    if ext in (".sav", ".zsav"):
        return _read_sav(p, cb)
    raise SurveyReadError(f"{p.name}: unsupported file type {p.suffix!r}; use .csv, .xlsx or .sav")


# ----------------------------------------------------------------------------------------------- CSV
_WIDE = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")


def _decode_wide(data: bytes) -> tuple[str, str] | None:
    """UTF-16/32 without a byte order mark. Text of a survey export is mostly Latin letters, whose
    wide forms have NUL bytes at fixed places; where the NULs sit tells the encoding."""
    sample = data[:4096]
    n = len(sample) - len(sample) % 4
    if n < 8 or b"\x00" not in sample:
        return None
    z = [sum(1 for i in range(k, n, 4) if sample[i] == 0) / (n // 4) for k in range(4)]
    if z[1] > 0.5 and z[2] > 0.9 and z[3] > 0.9 and z[0] < 0.5:
        enc = "utf-32-le"
    elif z[0] > 0.9 and z[1] > 0.9 and z[2] > 0.5 and z[3] < 0.5:
        enc = "utf-32-be"
    elif z[1] > 0.5 and z[3] > 0.5 and z[0] < 0.5 and z[2] < 0.5:
        enc = "utf-16-le"
    elif z[0] > 0.5 and z[2] > 0.5 and z[1] < 0.5 and z[3] < 0.5:
        enc = "utf-16-be"
    else:
        return None
    try:
        return data.decode(enc), enc
    except UnicodeDecodeError:
        return None


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    # The UTF-32 marks first: the little-endian one begins with the UTF-16 one.
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return data.decode("utf-32"), "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    wide = _decode_wide(data)
    if wide is not None:
        return wide
    if b"\x00" in data[:4096]:
        raise SurveyReadError(
            f"{name}: the file holds NUL bytes, as UTF-16 or UTF-32 text does, but decodes as none of "
            f"{', '.join(_WIDE)}; save it again as UTF-8 (in Excel: CSV UTF-8)"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as cp_err:
            raise SurveyReadError(
                f"{name}: text encoding not recognised: not UTF-8 ({utf8_err.reason} at byte {utf8_err.start}), "
                f"not Windows-1252 ({cp_err.reason} at byte {cp_err.start}) and not UTF-16/32; save it again as UTF-8"
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
            f"column ({counts}); is this a respondent file? A survey tool's export (SoSci Survey, LimeSurvey, "
            "Unipark/EFS) is read through a mapping: clusterkrise mapping-template --tool ... -o mapping.yaml, then "
            f"clusterkrise import EXPORT --mapping mapping.yaml -o responses.csv (docs/mapping.md). First line: {header[:120]!r}"
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
    check_record_widths(body, sep, p.name, skipped)
    raw.columns = [str(c).strip() for c in raw.columns]
    decimal = _choose_decimal(raw, cb, sep, p.name)
    info = {"path": str(p), "format": "csv", "encoding": encoding, "separator": sep, "decimal": decimal, "comment_lines": skipped}
    return raw, info


def check_record_widths(body: str, sep: str, name: str, skipped: int = 0) -> None:
    """Refuse rows with fewer fields than the header: pandas would fill them with empty cells, so a
    file cut off in the middle of a row would pass as complete."""
    reader = csv.reader(_io.StringIO(body), delimiter=sep)
    width = len(next(reader, []))
    short: list[tuple[int, int]] = []
    last = 0
    for record in reader:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line, which pandas skips as well
        last = reader.line_num
        if len(record) < width:
            short.append((reader.line_num + skipped, len(record)))
    if not short:
        return
    line, n = short[-1]
    if len(short) == 1 and line == last + skipped:
        raise SurveyReadError(
            f"{name}: the last row (line {line}) has {n} of {width} fields: the file looks cut off in the middle "
            "of a row. Export it again (or delete the broken last line if that respondent is to be left out)"
        )
    where = ", ".join(f"line {ln} ({k} of {width})" for ln, k in short[:20]) + (" ..." if len(short) > 20 else "")
    raise SurveyReadError(f"{name}: {len(short)} row(s) have fewer fields than the header: {where}; export the file again")


# ---------------------------------------------------------------------------------------------- XLSX
def _hint_better_sheet(p: Path, raw: pd.DataFrame, info: dict[str, Any], known: set[str]) -> None:
    """When few columns of the chosen sheet are known names, look for the sheet and header row that
    hold them (a cover sheet first, a two-row header) and say which one to choose."""
    have = sum(str(c).strip().casefold() in known for c in raw.columns)
    if have >= max(2, len(known) // 2):
        return
    best = best_header_position(p, known)
    if best is None:
        return
    sheet, row, count = best
    chosen_row = info.get("header_row", 1)
    if count <= have or (sheet == info.get("sheet") and row == chosen_row):
        return
    use = []
    if sheet != info.get("sheet"):
        use.append(f"--sheet {sheet!r}" if " " in sheet else f"--sheet {sheet}")
    if row != 1:
        use.append(f"--header-row {row}")
    raise SurveyReadError(
        f"{p.name}: worksheet {info.get('sheet')!r}, row {chosen_row} holds only {have} of the expected column names, "
        f"but worksheet {sheet!r}, row {row} holds {count}: choose it with {' '.join(use)} "
        "(load_survey(..., sheet=..., header_row=...))"
    )


def best_header_position(p: Path, known: set[str], max_rows: int = 20) -> tuple[str, int, int] | None:
    """(sheet, 1-based row, count) of the row with the most known column names in an Excel file."""
    from openpyxl import load_workbook

    wb = load_workbook(p, read_only=True)
    best: tuple[str, int, int] | None = None
    try:
        for ws in wb.worksheets:
            for i, row in enumerate(ws.iter_rows(max_row=max_rows, values_only=True), start=1):
                count = sum(isinstance(v, str) and v.strip().casefold() in known for v in row)
                if count and (best is None or count > best[2]):
                    best = (ws.title, i, count)
    finally:
        wb.close()
    return best


def _read_xlsx(p: Path, sheet: str | int | None, header_row: int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(p, read_only=True)
    names = wb.sheetnames
    wb.close()
    if isinstance(sheet, str) and sheet.strip().isdigit() and sheet not in names:
        sheet = int(sheet)  # a position given on the command line
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
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        raise SurveyReadError(f"{p.name}: header row must be a line number from 1, got {header_row!r}")
    row = header_row or 1
    raw = pd.read_excel(p, sheet_name=chosen, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[""], header=row - 1)
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw, {"path": str(p), "format": "xlsx", "sheet": chosen, "header_row": row, "decimal": "."}


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
    missing_labels: list[dict[str, Any]] = []
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
        counts = s.value_counts(dropna=True)
        for fcode, flabel in labels.items():
            target = lookup.get(_norm_label(flabel))
            if target is None and looks_missing(flabel) and counts.get(fcode, 0):
                # A "no answer" code would otherwise count as an answer (or only as "out of range").
                missing_labels.append(_problem(
                    None, None, col, fcode,
                    f"code {fcode:g} is labelled {flabel!r} in the file and occurs in {int(counts[fcode])} row(s): a 'no answer' code, "
                    "not an answer; import the file with a mapping that lists it under missing (docs/mapping.md)",
                ))
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
    if missing_labels:
        info["missing_label_problems"] = missing_labels
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

"""Import a survey tool's export through a mapping file into the codebook's format.

``import_export(path, mapping)`` reads the export (CSV in any of the loader's dialects, XLSX, SPSS
``.sav`` with its value labels), renames the columns, turns codes and answer texts into codebook
codes and the mapping's missing codes into empty cells, takes the completion flag and duration from
the tool's own fields, and validates the result like any respondent file. Nothing is guessed: a code
or answer text that neither the mapping nor the codebook knows is an error, and so is a value label
that reads as "no answer" (weiß nicht, keine Angabe, ...) on a code the mapping does not declare.

:func:`write_codebook_csv` writes the result as a file ``load_survey`` reads without a mapping;
:class:`ImportReport` says what was mapped, what was left unmapped and which codes became missing.
"""

from __future__ import annotations

import io as _io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .codebook import META_COLUMNS, Codebook, load_codebook
from .io import (
    CSV_SEPARATORS,
    SurveyReadError,
    _codebook_label_codes,
    _decode,
    _norm_label,
    _read_xlsx,
    _SEP_NAMES,
    _strip_leading_comments,
    best_header_position,
    check_record_widths,
    no_rows_message,
)
from .mapping import Mapping, MappingError, load_mapping, looks_missing, show_key, value_key
from .validation import DataValidationError, _problem, optional_columns, validate_survey

__all__ = ["ImportReport", "format_report", "import_export", "read_export", "write_codebook_csv"]


@dataclass
class ImportReport:
    source: str
    mapping: str
    rows: int = 0
    mapped: dict[str, str] = field(default_factory=dict)  # codebook column -> export column
    absent_optional: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # export columns neither mapped nor ignored
    ignored: list[str] = field(default_factory=list)
    # (export code as shown, meaning) -> {codebook column: cells}
    to_missing: dict[tuple[str, str], Counter] = field(default_factory=dict)
    recoded_cells: int = 0
    read: dict[str, Any] = field(default_factory=dict)

    def count_missing(self, key: tuple[str, Any], meaning: str, column: str, cell: Any) -> None:
        shown = show_key(key) if key[0] == "n" else repr(str(cell).strip())  # the export's own spelling
        self.to_missing.setdefault((shown, meaning), Counter())[column] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mapping": self.mapping,
            "rows": self.rows,
            "mapped": dict(self.mapped),
            "absent_optional": list(self.absent_optional),
            "unmapped": list(self.unmapped),
            "ignored": list(self.ignored),
            "to_missing": {f"{code} ({meaning})": dict(cols) for (code, meaning), cols in self.to_missing.items()},
            "recoded_cells": self.recoded_cells,
            "read": dict(self.read),
        }


# --------------------------------------------------------------------------------------------- reading
def _choose_separator(header: str, known: set[str], name: str) -> str:
    import csv

    fields = {sep: next(csv.reader([header], delimiter=sep)) for sep in CSV_SEPARATORS}
    score = {sep: sum(f.strip().casefold() in known for f in fs) for sep, fs in fields.items()}
    best = max(score.values())
    if best >= 2 and sum(v == best for v in score.values()) == 1:
        return max(score, key=score.get)
    counts = ", ".join(f"{_SEP_NAMES[s]}: {len(fields[s])} fields, {score[s]} mapped names" for s in CSV_SEPARATORS)
    raise SurveyReadError(
        f"{name}: cannot tell the column separator: the header line holds hardly any export column the mapping "
        f"names ({counts}); is this the export the mapping is for? First line: {header[:120]!r}"
    )


def read_export(
    path: str | Path, mapping: Mapping, *, sheet: str | int | None = None, header_row: int | None = None
) -> tuple[pd.DataFrame, dict[str, dict[float, str]], dict[str, Any]]:
    """The export's cells (text or numbers, original column names), its value labels, and how it was read."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"export file not found: {p}")
    known = {c.casefold() for c in list(mapping.columns.values()) + mapping.meta_columns()}
    ext = p.suffix.lower()
    labels: dict[str, dict[float, str]] = {}
    if ext in (".csv", ".tsv", ".txt"):
        text, encoding = _decode(p.read_bytes(), p.name)
        body, skipped = _strip_leading_comments(text)
        if not body.strip():
            raise SurveyReadError(f"{p.name}: no header line (the file is empty or holds only comment lines)")
        header = body.splitlines()[0]
        sep = mapping.read.get("separator") or _choose_separator(header, known, p.name)
        try:
            raw = pd.read_csv(_io.StringIO(body), sep=sep, dtype=object, keep_default_na=False, na_values=[""], skip_blank_lines=True)
        except (pd.errors.ParserError, ValueError) as err:
            raise SurveyReadError(f"{p.name}: cannot parse as {_SEP_NAMES.get(sep, repr(sep))}-separated text ({err})") from None
        check_record_widths(body, sep, p.name, skipped)
        info = {"format": "csv", "encoding": encoding, "separator": sep, "comment_lines": skipped}
    elif ext in (".xlsx", ".xlsm"):
        raw, info = _read_xlsx(p, sheet if sheet is not None else mapping.read.get("sheet"), header_row or mapping.read.get("header_row"))
        have = sum(str(c).casefold() in known for c in raw.columns)
        if have < max(2, len(known) // 2):
            best = best_header_position(p, known)
            if best and best[2] > have and (best[0], best[1]) != (info["sheet"], info["header_row"]):
                raise SurveyReadError(
                    f"{p.name}: worksheet {info['sheet']!r}, row {info['header_row']} holds {have} of the mapped export "
                    f"columns, worksheet {best[0]!r}, row {best[1]} holds {best[2]}: choose it with --sheet {best[0]!r} "
                    f"--header-row {best[1]}"
                )
    elif ext in (".sav", ".zsav"):
        import pyreadstat

        try:
            raw, meta = pyreadstat.read_sav(str(p), apply_value_formats=False)
        except Exception as err:  # pyreadstat raises its own ReadstatError and friends
            raise SurveyReadError(f"{p.name}: cannot read as SPSS file: {err}") from None
        labels = {k: {float(c): str(v) for c, v in d.items()} for k, d in (meta.variable_value_labels or {}).items()}
        info = {"format": "sav"}
    else:
        raise SurveyReadError(f"{p.name}: unsupported file type {p.suffix!r}; use .csv, .xlsx or .sav")
    raw.columns = [str(c).strip() for c in raw.columns]
    folded = [c.casefold() for c in raw.columns]
    dupes = sorted({c for c in raw.columns if folded.count(c.casefold()) > 1})
    if dupes:
        raise SurveyReadError(f"{p.name}: column name(s) appear more than once in the header: {', '.join(dupes)}")
    if len(raw) == 0:
        raise SurveyReadError(no_rows_message(p.name, info))
    return raw, labels, info


# -------------------------------------------------------------------------------------------- mapping
def _cell(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number(key: tuple[str, Any] | None) -> float | None:
    return key[1] if key is not None and key[0] == "n" else None


def _id_of(value: Any) -> Any:
    number = _number(value_key(_cell(value)))
    if number is None:
        return _cell(value)
    return int(number) if float(number).is_integer() else number


def apply_mapping(
    raw: pd.DataFrame, labels: dict[str, dict[float, str]], mapping: Mapping, cb: Codebook, report: ImportReport
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The export's cells in the codebook's columns and codes (not yet validated), and the problems found."""
    by_fold = {c.casefold(): c for c in raw.columns}
    problems: list[dict[str, Any]] = []
    n = len(raw)
    ids: list[Any] = [None] * n

    def column(name: str) -> pd.Series | None:
        actual = by_fold.get(name.casefold())
        return None if actual is None else raw[actual]

    used: set[str] = set()
    out: dict[str, Any] = {}
    # --- meta ---------------------------------------------------------------------------------------
    rid = column(mapping.respondent_id)
    if rid is None:
        problems.append(_problem(None, None, "respondent_id", None, f"needs the export column {mapping.respondent_id}, which the export does not have"))
    else:
        used.add(mapping.respondent_id.casefold())
        out["respondent_id"] = list(rid.astype(object))
        ids = [_id_of(v) for v in rid]
    comp = mapping.completed
    cser = column(comp["column"])
    if cser is None:
        problems.append(_problem(None, None, "completed", None, f"needs the export column {comp['column']}, which the export does not have"))
    else:
        used.add(comp["column"].casefold())
        if comp.get("not_empty"):
            out["completed"] = [0 if _cell(v) is None else 1 for v in cser]
        else:
            done = {value_key(v) for v in comp["complete"]}
            out["completed"] = [1 if value_key(_cell(v)) in done else 0 for v in cser]
            if "incomplete" in comp:
                # With both lists given, a value in neither is an error instead of a silent "not completed".
                known = done | {value_key(v) for v in comp["incomplete"]}
                odd = Counter(value_key(_cell(v)) for v in cser if value_key(_cell(v)) not in known)
                for key, k in odd.items():
                    pos = next(i for i, v in enumerate(cser) if value_key(_cell(v)) == key)
                    shown = "(empty)" if key is None else show_key(key)
                    problems.append(_problem(pos + 1, ids[pos], "completed", None if key is None else key[1],
                                             f"from {comp['column']}: {shown} in {k} row(s) is neither in complete {comp['complete']} "
                                             f"nor in incomplete {comp['incomplete']} of the mapping"))
    dur = mapping.duration
    if dur:
        if "column" in dur:
            dser = column(dur["column"])
            if dser is None:
                problems.append(_problem(None, None, "duration_seconds", None, f"needs the export column {dur['column']}, which the export does not have"))
            else:
                used.add(dur["column"].casefold())
                out["duration_seconds"] = [_cell(v) if _number(value_key(_cell(v))) is None else _number(value_key(_cell(v))) for v in dser]
        else:
            start, end = column(dur["start"]), column(dur["end"])
            if start is None or end is None:
                problems.append(_problem(None, None, "duration_seconds", None, f"needs the export columns {dur['start']} and {dur['end']}"))
            else:
                used.update({dur["start"].casefold(), dur["end"].casefold()})
                seconds = (pd.to_datetime(end, errors="coerce") - pd.to_datetime(start, errors="coerce")).dt.total_seconds()
                out["duration_seconds"] = list(seconds.astype(object).where(seconds.notna(), None))
    # --- answers ------------------------------------------------------------------------------------
    optional = set(optional_columns(cb))
    for q in cb:
        qm = mapping.questions.get(q.id)
        if qm is None:
            for col in q.columns:
                if col not in optional:
                    problems.append(_problem(None, None, col, None, f"is not in the mapping (questions.{q.id} is missing)"))
                else:
                    report.absent_optional.append(col)
            continue
        coded = q.scale.type in ("slider", "choice")
        own_labels = _codebook_label_codes(q.scale)
        for col in q.columns:
            exp = qm.columns[col]
            ser = column(exp)
            if ser is None:
                if col in optional:
                    report.absent_optional.append(col)
                else:
                    problems.append(_problem(None, None, col, None, f"needs the export column {exp}, which the export does not have"))
                    out[col] = [None] * n  # present but empty, so that the schema does not report it a second time
                continue
            used.add(exp.casefold())
            report.mapped[col] = by_fold[exp.casefold()]
            file_labels = labels.get(by_fold[exp.casefold()], {})
            unknown: dict[tuple[str, Any], list[int]] = {}
            values: list[Any] = []
            for pos, v in enumerate(ser):
                v = _cell(v)
                key = value_key(v)
                if key is None:
                    values.append(None)
                    continue
                if key in qm.codes:
                    values.append(qm.codes[key])
                    report.recoded_cells += 1
                    continue
                meaning = qm.missing.get(key, mapping.missing.get(key))
                if meaning is not None:
                    values.append(None)
                    report.count_missing(key, meaning, col, v)
                    continue
                label = file_labels.get(key[1]) if key[0] == "n" else None
                if label is not None and looks_missing(label):
                    unknown.setdefault(key, []).append(pos)
                    values.append(None)
                    continue
                if q.scale.type == "text":
                    values.append(str(v))
                elif coded and qm.codes:
                    unknown.setdefault(key, []).append(pos)
                    values.append(None)
                elif key[0] == "t" and coded:
                    code = own_labels.get(_norm_label(v))
                    if code is None:
                        unknown.setdefault(key, []).append(pos)
                    values.append(code)
                elif key[0] == "n":
                    values.append(key[1])
                else:
                    values.append(v)  # text in a number column: the validation names it
            for key, rows in unknown.items():
                label = file_labels.get(key[1]) if key[0] == "n" else None
                said = f" (value label {label!r})" if label else ""
                if label is not None and looks_missing(label):
                    rule = (f"is labelled {label!r} in {len(rows)} row(s): a 'no answer' code the mapping does not declare; "
                            f"add it under missing (or under questions.{q.id}.codes if it is an answer)")
                else:
                    rule = (f"{said} occurs in {len(rows)} row(s) and is neither in questions.{q.id}.codes nor under missing; "
                            "say in the mapping what it is").lstrip()
                problems.append(_problem(rows[0] + 1, ids[rows[0]], col, show_key(key) if key[0] == "t" else key[1], rule))
            out[col] = values
    report.ignored = [c for c in raw.columns if c.casefold() not in used and mapping.ignored(c)]
    report.unmapped = [c for c in raw.columns if c.casefold() not in used and not mapping.ignored(c)]
    frame = pd.DataFrame({c: out[c] for c in cb.columns if c in out}, index=raw.index, dtype=object)
    return frame, problems


def import_export(
    path: str | Path,
    mapping: str | Path | Mapping,
    *,
    codebook: Codebook | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
) -> tuple[pd.DataFrame, ImportReport]:
    """Read an export through a mapping: the validated respondent frame (codebook columns and dtypes) and
    the report. Raises :class:`DataValidationError` listing every problem (unknown codes, missing export
    columns, and every rule of the codebook), :class:`MappingError` or :class:`SurveyReadError`."""
    cb = codebook or load_codebook()
    p = Path(path)
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping, cb)
    report = ImportReport(source=p.name, mapping=m.path)
    raw, labels, info = read_export(p, m, sheet=sheet, header_row=header_row)
    report.read = info
    report.rows = len(raw)
    frame, problems = apply_mapping(raw, labels, m, cb, report)
    df = validate_survey(frame, cb, source=f"{p.name} (through {m.path})", extra_problems=problems)
    df.attrs["source"] = {"path": str(p), **info, "mapping": m.path}
    return df, report


# --------------------------------------------------------------------------------------------- output
def write_codebook_csv(df: pd.DataFrame, path: str | Path, comment: str | None = None) -> Path:
    """Write a respondent frame as UTF-8 CSV in the codebook's columns (what ``load_survey`` reads)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = "".join(f"# {line}\n" for line in (comment or "").splitlines() if line.strip())
    out.write_text(head + df.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return out


def format_report(report: ImportReport, *, columns: bool = False) -> str:
    """What was mapped, what was left unmapped, and every code that was turned into missing."""
    lines = [f"{report.source}: {report.rows} rows read through {report.mapping}"]
    lines.append(f"mapped: {len(report.mapped)} answer columns, {report.recoded_cells} cells recoded to codebook codes")
    if columns:
        lines += [f"  {exp} -> {col}" for col, exp in report.mapped.items()]
    if report.absent_optional:
        lines.append(f"not in the export (optional open answers, left empty): {', '.join(report.absent_optional)}")
    lines.append(f"ignored (system variables named in the mapping): {len(report.ignored)}" + (f" ({', '.join(report.ignored)})" if report.ignored else ""))
    if report.unmapped:
        lines.append(f"left unmapped ({len(report.unmapped)} export columns, not imported): {', '.join(report.unmapped)}")
    else:
        lines.append("left unmapped: none")
    if report.to_missing:
        lines.append("turned into missing (empty cells):")
        for (code, meaning), cols in sorted(report.to_missing.items()):
            total = sum(cols.values())
            per_q: Counter = Counter()
            for col, k in cols.items():
                per_q[col.split("_")[0]] += k
            detail = ", ".join(f"{q} {k}" for q, k in per_q.items())
            lines.append(f"  {code} ({meaning}): {total} cells in {len(cols)} columns ({detail})")
    else:
        lines.append("turned into missing: nothing")
    return "\n".join(lines)

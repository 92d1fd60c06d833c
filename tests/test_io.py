"""Round trips of the respondent loader through every supported file format, and unreadable files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterkrise import DATA_DIR
from clusterkrise.codebook import load_codebook
from clusterkrise.io import SurveyReadError, load_survey
from clusterkrise.validation import DataValidationError, example_frame, optional_columns

CB = load_codebook()
HEADER_COMMENT = "# synthetic respondent data for tests, not real answers\n"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return example_frame(24, seed=7)


def write_utf8(df: pd.DataFrame, path, comment: str = HEADER_COMMENT, bom: bool = False) -> None:
    text = comment + df.to_csv(index=False)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def write_german(df: pd.DataFrame, path) -> None:
    text = HEADER_COMMENT + df.to_csv(index=False, sep=";", decimal=",")
    path.write_bytes(text.encode("cp1252"))


def sav_frame(df: pd.DataFrame) -> pd.DataFrame:
    """pyreadstat writes plain float and object columns."""
    cols = {}
    for col in df.columns:
        s = df[col]
        if str(s.dtype) == "string":
            cols[col] = pd.Series(["" if pd.isna(v) else v for v in s], index=df.index, dtype=object)
        else:
            cols[col] = s.astype("float64")
    return pd.DataFrame(cols)


def codebook_value_labels(columns) -> dict[str, dict[int, str]]:
    labels = {}
    for col in columns:
        if col in CB.answer_columns:
            sc = CB.question_of(col).scale
            mapping = {**sc.labels, **sc.values, **sc.special}
            if mapping:
                labels[col] = mapping
    return labels


def assert_same(read: pd.DataFrame, original: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(read.reset_index(drop=True), original.reset_index(drop=True), check_exact=True)


# --------------------------------------------------------------------------------------- round trips
def test_example_frame_has_the_awkward_cells_the_round_trips_need(frame):
    open_text = frame[optional_columns(CB)].stack().astype(str)
    assert open_text.str.contains("\n#").any()
    assert open_text.str.contains(";").any() and open_text.str.contains(",").any()
    assert open_text.str.contains("[äöüÖß]").any()
    assert frame["duration_seconds"].astype(float).mod(1).ne(0).any()  # decimals must survive
    assert frame.isna().any().any()


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_csv_round_trip(frame, tmp_path, bom):
    path = tmp_path / "responses.csv"
    write_utf8(frame, path, bom=bom)
    read = load_survey(path)
    assert_same(read, frame)
    src = read.attrs["source"]
    assert (src["separator"], src["decimal"], src["comment_lines"]) == (",", ".", 1)
    assert src["encoding"] == ("utf-8-sig" if bom else "utf-8")


def test_german_excel_csv_round_trip(frame, tmp_path):
    path = tmp_path / "export.csv"
    write_german(frame, path)
    raw = path.read_bytes()
    assert "ä".encode("cp1252") in raw and ";" in raw.decode("cp1252").splitlines()[1]
    read = load_survey(path)
    assert_same(read, frame)
    src = read.attrs["source"]
    assert (src["encoding"], src["separator"], src["decimal"]) == ("cp1252", ";", ",")


def test_hash_inside_an_open_answer_is_data_not_a_comment(frame, tmp_path):
    path = tmp_path / "responses.csv"
    write_utf8(frame, path)
    read = load_survey(path)
    multiline = frame["A5"].dropna()
    multiline = multiline[multiline.str.contains("\n#")]
    assert len(multiline) > 0
    assert (read.loc[multiline.index, "A5"] == multiline).all()


def test_xlsx_round_trip_first_and_named_sheet(frame, tmp_path):
    path = tmp_path / "responses.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        frame.to_excel(xw, sheet_name="Antworten", index=False)
        frame.head(3).assign(respondent_id=0).to_excel(xw, sheet_name="Notizen", index=False)
    assert_same(load_survey(path), frame)
    assert_same(load_survey(path, sheet="Antworten"), frame)
    with pytest.raises(SurveyReadError, match=r"no worksheet named 'Daten'.*Antworten, Notizen"):
        load_survey(path, sheet="Daten")


def test_sav_round_trip_with_value_labels_and_other_name_case(frame, tmp_path):
    import pyreadstat

    path = tmp_path / "responses.sav"
    out = sav_frame(frame)
    labels = codebook_value_labels(out.columns)
    upper = {c: c.swapcase() for c in out.columns if c.startswith(("A1_", "D8"))}
    pyreadstat.write_sav(out.rename(columns=upper), str(path), variable_value_labels={upper.get(c, c): v for c, v in labels.items()})
    read = load_survey(path)
    assert_same(read, frame)
    assert read.attrs["source"]["renamed_columns"] == {v: k for k, v in upper.items()}
    assert "recoded_codes" not in read.attrs["source"]


def test_sav_with_other_codes_is_recoded_through_the_labels(frame, tmp_path):
    import pyreadstat

    col = "D8_gender"
    values = CB.question_of(col).scale.values
    shifted = {code: code * 10 for code in values}  # e.g. weiblich stored as 10
    out = sav_frame(frame)
    out[col] = out[col].map(lambda v: shifted.get(int(v), v) if pd.notna(v) else v)
    labels = codebook_value_labels(out.columns)
    labels[col] = {shifted[c]: values[c] for c in values}
    path = tmp_path / "recoded.sav"
    pyreadstat.write_sav(out, str(path), variable_value_labels=labels)
    read = load_survey(path)
    assert_same(read, frame)
    assert read.attrs["source"]["recoded_codes"][col] == {float(shifted[c]): c for c in values}


def test_sav_with_label_strings_instead_of_codes(frame, tmp_path):
    import pyreadstat

    col = "D7_legal_form"
    values = CB.question_of(col).scale.values
    out = sav_frame(frame)
    out[col] = frame[col].map(lambda v: values[int(v)].upper() if pd.notna(v) else "").astype(object)
    path = tmp_path / "strings.sav"
    pyreadstat.write_sav(out, str(path))
    read = load_survey(path)
    assert_same(read, frame)
    assert read.attrs["source"]["labels_to_codes"][col] == int(frame[col].notna().sum())


def test_sav_recoding_that_would_merge_codes_is_refused(frame, tmp_path):
    import pyreadstat

    col = "D8_gender"
    values = CB.question_of(col).scale.values
    first, second = sorted(values)[:2]
    out = sav_frame(frame)
    out.loc[0, col], out.loc[1, col] = 7, second  # 7 is labelled like `second`; `second` stays unlabelled
    path = tmp_path / "clash.sav"
    pyreadstat.write_sav(out, str(path), variable_value_labels={col: {7: values[second]}})
    with pytest.raises(SurveyReadError, match=rf"column {col}: recoding .* merge"):
        load_survey(path)


# ----------------------------------------------------------------------------------------- cleaning
def test_clean_drops_short_interviews_and_counts_them(frame, tmp_path):
    path = tmp_path / "responses.csv"
    write_utf8(frame, path)
    limit = CB.min_duration_seconds
    short = frame["duration_seconds"] < limit
    assert short.any() and (~short).any(), "example data must contain both cases"
    cleaned = load_survey(path, clean=True)
    assert list(cleaned["respondent_id"]) == list(frame.loc[~short, "respondent_id"])
    info = cleaned.attrs["cleaning"]
    assert (info["rows_before"], info["dropped"], info["rows_after"]) == (len(frame), int(short.sum()), int((~short).sum()))
    assert info["min_duration_seconds"] == limit


# ------------------------------------------------------------------------------------ column names
def test_open_answer_columns_may_be_absent(frame, tmp_path):
    path = tmp_path / "no_open.csv"
    write_utf8(frame.drop(columns=optional_columns(CB)), path)
    read = load_survey(path)
    assert list(read.columns) == [c for c in CB.columns if c not in optional_columns(CB)]


def test_without_validation_unknown_columns_are_kept_at_the_end(frame, tmp_path):
    path = tmp_path / "extra.csv"
    write_utf8(frame.assign(Bemerkung="x"), path)
    read = load_survey(path, validate=False)
    assert list(read.columns) == CB.columns + ["Bemerkung"]
    with pytest.raises(DataValidationError, match="column Bemerkung: is unknown"):
        load_survey(path)


def test_without_validation_an_unconvertible_cell_still_raises(frame, tmp_path):
    path = tmp_path / "text.csv"
    write_utf8(frame.astype({"A4_02": object}).assign(A4_02=lambda d: d["A4_02"].where(d.index != 4, "zehn")), path)
    with pytest.raises(DataValidationError, match=r"row 5 \(respondent_id 5\), column A4_02: value 'zehn' is not a number"):
        load_survey(path, validate=False)


def test_names_that_differ_only_in_case_twice_are_refused(frame, tmp_path):
    path = tmp_path / "twice.csv"
    write_utf8(frame.assign(a1_01=frame["A1_01"]), path)
    with pytest.raises(SurveyReadError, match="occur twice: A1_01"):
        load_survey(path)


# ------------------------------------------------------------------------------- undecidable files
def test_undecidable_separator_raises(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("respondent_id,completed;duration_seconds;A1_01,A1_02\n1,1;300;2,1\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="cannot tell the column separator"):
        load_survey(path)


def test_file_that_is_not_a_respondent_table_is_named_as_such(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("Name;Ort;Datum\nA;B;C\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="hardly any field is a codebook column"):
        load_survey(path)


def test_mixed_decimal_marks_in_a_semicolon_file_raise(frame, tmp_path):
    path = tmp_path / "mixed.csv"
    df = frame.astype({"duration_seconds": object})
    df["duration_seconds"] = [f"{v:.1f}".replace(".", ",") for v in frame["duration_seconds"]]
    df.loc[3, "duration_seconds"] = "250.5"
    path.write_text(df.to_csv(index=False, sep=";"), encoding="utf-8")
    with pytest.raises(SurveyReadError, match=r"decimal comma \(row 1, column duration_seconds.*decimal point \(row 4"):
        load_survey(path)


def test_dot_in_a_german_decimal_comma_file_is_not_read_as_a_number(frame, tmp_path):
    path = tmp_path / "thousands.csv"
    df = frame.copy().astype({"D6_members": object})
    df.loc[2, "D6_members"] = "1.234"  # thousands separator, or a decimal point? refuse to guess
    text = df.to_csv(index=False, sep=";", decimal=",")
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(SurveyReadError, match="decimal comma .* decimal point"):
        load_survey(path)


def test_undecodable_bytes_raise(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"respondent_id,completed\n1,\x81\x8d\n")
    with pytest.raises(SurveyReadError, match="not UTF-8 .*not Windows-1252 .*not UTF-16/32; save it again as UTF-8"):
        load_survey(path)


def test_only_comments_raise(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("# nothing here\n# still nothing\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="no header line"):
        load_survey(path)


def test_unsupported_extension_and_missing_file(tmp_path):
    path = tmp_path / "responses.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="unsupported file type '.json'"):
        load_survey(path)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_survey(tmp_path / "nope.csv")


# ------------------------------------------------------------------------------ the shipped data
SHIPPED = DATA_DIR / "survey" / "responses.csv"


@pytest.mark.skipif(not SHIPPED.exists(), reason="data/survey/responses.csv is not generated yet")
def test_shipped_responses_load_and_validate():
    df = load_survey(SHIPPED)
    assert df["respondent_id"].is_unique
    assert list(df.columns) == [c for c in CB.columns if c in df.columns]
    assert np.isin(df["completed"].dropna().astype(int), [0, 1]).all()


def test_repeated_header_name_raises(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("respondent_id,completed,A1_01,A1_01\n1,1,2,2\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="more than once in the header: A1_01"):
        load_survey(path)


# ------------------------------------------------------------------ cut-off, empty and wide files
def run_validate(path, *extra):
    import io as _io

    from clusterkrise.cli import main

    out, err = _io.StringIO(), _io.StringIO()
    status = main(["validate", str(path), *map(str, extra)], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_csv_cut_off_in_the_middle_of_the_last_row_is_an_error(frame, tmp_path):
    path = tmp_path / "cut.csv"
    text = HEADER_COMMENT + frame.to_csv(index=False)
    last_row_start = text.rstrip("\n").rfind("\n") + 1
    path.write_text(text[: last_row_start + 40], encoding="utf-8")  # a few fields of the last row survive
    lines = path.read_text(encoding="utf-8").splitlines()
    with pytest.raises(SurveyReadError, match=rf"the last row \(line {len(lines)}\) has \d+ of {frame.shape[1]} fields: the file looks cut off"):
        load_survey(path)
    status, out, err = run_validate(path)
    assert status == 1 and out == "" and "looks cut off" in err and "Traceback" not in err


def test_short_row_in_the_middle_is_named_by_line(frame, tmp_path):
    path = tmp_path / "short.csv"
    closed = frame.drop(columns=optional_columns(CB)).head(5)  # no line breaks inside fields
    lines = closed.to_csv(index=False).splitlines()
    lines[2] = ",".join(lines[2].split(",")[:10])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match=rf"1 row\(s\) have fewer fields than the header: line 3 \(10 of {closed.shape[1]}\)"):
        load_survey(path)


def test_header_without_respondents_is_an_error(frame, tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text(HEADER_COMMENT + ",".join(frame.columns) + "\n", encoding="utf-8")
    with pytest.raises(SurveyReadError, match="the header line is there but no respondent rows follow"):
        load_survey(path)
    status, out, err = run_validate(path)
    assert status == 1 and out == "" and "no respondent rows" in err
    xlsx = tmp_path / "header_only.xlsx"
    frame.head(0).to_excel(xlsx, index=False)
    with pytest.raises(SurveyReadError, match=r"header_only.xlsx \(worksheet 'Sheet1'\): the header line is there but no respondent rows"):
        load_survey(xlsx)


def test_excel_with_a_cover_sheet_names_the_data_sheet(frame, tmp_path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame({"Befragung": ["Clustermanagements 2020", "Export vom 02.10.2020"]}).to_excel(xw, sheet_name="Deckblatt", index=False)
        frame.to_excel(xw, sheet_name="Daten", index=False)
    with pytest.raises(SurveyReadError, match=rf"worksheet 'Deckblatt', row 1 holds only 0 .* worksheet 'Daten', row 1 holds {frame.shape[1]}: choose it with --sheet Daten"):
        load_survey(path)
    status, out, err = run_validate(path)
    assert status == 1 and out == "" and "--sheet Daten" in err and "is missing" not in err
    assert_same(load_survey(path, sheet="Daten"), frame)
    status, out, _ = run_validate(path, "--sheet", "Daten")
    assert status == 0 and f"{len(frame)} rows" in out
    status, out, _ = run_validate(path, "--sheet", "1")  # a position works as well
    assert status == 0


def test_excel_with_a_two_row_header_names_the_header_row(frame, tmp_path):
    path = tmp_path / "two_rows.xlsx"
    texts = pd.DataFrame([[CB.item(c).label if c in CB.answer_columns else c for c in frame.columns]], columns=frame.columns)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        texts.to_excel(xw, sheet_name="Daten", index=False, header=False)
        frame.to_excel(xw, sheet_name="Daten", index=False, startrow=1)
    with pytest.raises(SurveyReadError, match=r"row 1 holds only \d+ .* row 2 holds \d+: choose it with --header-row 2"):
        load_survey(path)
    assert_same(load_survey(path, header_row=2), frame)
    status, _, _ = run_validate(path, "--header-row", "2")
    assert status == 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_byte_order_mark_are_recognised(frame, tmp_path, encoding):
    path = tmp_path / "wide.csv"
    path.write_bytes((HEADER_COMMENT + frame.to_csv(index=False, sep=";", decimal=",")).encode(encoding))
    read = load_survey(path)
    assert_same(read, frame)
    assert read.attrs["source"]["encoding"] == encoding


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark(frame, tmp_path, encoding):
    path = tmp_path / "bom.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))  # Python writes the mark
    assert_same(load_survey(path), frame)
    assert load_survey(path).attrs["source"]["encoding"] == encoding


def test_nul_bytes_that_decode_as_no_wide_encoding_name_the_encodings(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"respondent_id,completed\n1,\x00\xd8\x00\n")
    with pytest.raises(SurveyReadError, match="UTF-16 or UTF-32 .* save it again as UTF-8"):
        load_survey(path)


def test_validate_report_lists_every_problem_and_prints_them_all(frame, tmp_path):
    bad = frame.copy()
    bad["A1_01"] = -7  # outside -2..2 in every row: more problems than the message cap
    big = pd.concat([bad] * 10, ignore_index=True).assign(respondent_id=lambda d: range(1, len(d) + 1))
    path = tmp_path / "bad.csv"
    big.to_csv(path, index=False)
    report = tmp_path / "problems.csv"
    status, out, err = run_validate(path, "--report", report)
    assert status == 1 and out == ""
    table = pd.read_csv(report)
    assert len(table) == len(big) > 200
    assert list(table.columns) == ["row", "respondent_id", "column", "value", "rule"]
    assert (table["column"] == "A1_01").all() and list(table["row"]) == list(range(1, len(big) + 1))
    assert sum("column A1_01: value -7 outside -2..2" in line for line in err.splitlines()) == len(big)
    assert "more problems" not in err

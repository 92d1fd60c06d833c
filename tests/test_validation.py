"""The codebook-derived schema: every rule has a bad-input case whose message names row and column."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pandera.engines.pandas_engine import Engine

from clusterkrise.codebook import load_codebook
from clusterkrise.validation import (
    MAX_DURATION_SECONDS,
    MAX_MESSAGE_LINES,
    DataValidationError,
    build_schema,
    column_dtypes,
    example_frame,
    main,
    validate_survey,
)

CB = load_codebook()


@pytest.fixture
def frame() -> pd.DataFrame:
    return example_frame(15, seed=3)


def first_column(predicate) -> str:
    """First codebook column whose question satisfies ``predicate`` (so tests follow the codebook)."""
    for q in CB:
        if predicate(q):
            return q.columns[0]
    raise LookupError("the codebook has no such question")


def problems_of(df: pd.DataFrame) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate_survey(df, source="responses.csv")
    return info.value


def line_for(err: DataValidationError, pos: int, df: pd.DataFrame, column: str) -> str:
    """The message line of the cell at 0-based position ``pos`` (reported as row pos+1)."""
    rid = df["respondent_id"].iloc[pos]
    prefix = f"row {pos + 1} (respondent_id {rid}), column {column}: "
    hits = [ln.strip() for ln in str(err).splitlines() if ln.strip().startswith(prefix)]
    assert len(hits) == 1, f"expected one line starting {prefix!r} in:\n{err}"
    return hits[0]


def set_cell(df: pd.DataFrame, pos: int, column: str, value) -> pd.DataFrame:
    # object column: the cell may be anything a file could hold; validate_survey converts it.
    out = df.copy()
    out[column] = out[column].astype(object)
    out.iloc[pos, out.columns.get_loc(column)] = value
    return out


# ------------------------------------------------------------------------------------------ basics
def test_example_frame_is_valid_and_deterministic(frame):
    again = example_frame(15, seed=3)
    pd.testing.assert_frame_equal(frame, again)
    assert not frame.equals(example_frame(15, seed=4))
    pd.testing.assert_frame_equal(validate_survey(frame), frame)


def test_schema_covers_every_codebook_column_with_its_dtype():
    schema = build_schema(CB)
    assert list(schema.columns) == CB.columns
    dtypes = column_dtypes(CB)
    assert {c: col.dtype for c, col in schema.columns.items()} == {c: Engine.dtype(d) for c, d in dtypes.items()}
    # Every column of a question with a closed scale carries at least one value rule.
    for q in CB:
        if q.scale.type != "text":
            for c in q.columns:
                assert schema.columns[c].checks, c


def test_text_cells_are_converted_with_the_decimal_mark(frame):
    raw = frame.astype(object)
    raw["duration_seconds"] = [f"{v:.1f}".replace(".", ",") for v in frame["duration_seconds"]]
    out = validate_survey(raw, decimal=",")
    pd.testing.assert_frame_equal(out, frame)


def test_dot_is_refused_under_the_decimal_comma(frame):
    raw = frame.astype(object)
    raw.loc[2, "duration_seconds"] = "1.234"  # thousands separator in German spreadsheets
    err = problems_of_raw(raw, decimal=",")
    assert "value '1.234' is not a number (German dialect: decimal comma, no dots)" in line_for(err, 2, raw, "duration_seconds")


def problems_of_raw(df: pd.DataFrame, decimal: str) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate_survey(df, decimal=decimal)
    return info.value


# ----------------------------------------------------------------------------------- column rules
def test_unknown_and_missing_columns_are_both_listed(frame):
    df = frame.drop(columns=["A2_03"]).assign(Kommentar="x", a4_01=1)
    err = problems_of(df)
    msg = str(err)
    assert "column A2_03: is missing" in msg
    assert "column Kommentar: is unknown" in msg
    assert "column a4_01: is unknown (not a codebook column) (did you mean A4_01?)" in msg
    assert {(p["column"], p["row"]) for p in err.problems} == {("A2_03", None), ("Kommentar", None), ("a4_01", None)}


def test_value_above_a_one_to_ten_slider(frame):
    col = first_column(lambda q: q.scale.type == "slider" and (q.scale.min, q.scale.max) == (1, 10) and not q.scale.special)
    df = set_cell(frame, 11, col, 11)
    err = problems_of(df)
    assert line_for(err, 11, df, col).endswith("value 11 outside 1..10")
    assert len(err.problems) == 1
    assert err.problems[0] == {"row": 12, "respondent_id": int(df["respondent_id"].iloc[11]), "column": col, "value": 11, "check": "outside 1..10"}


def test_value_below_a_minus_two_to_plus_two_slider(frame):
    col = first_column(lambda q: q.scale.type == "slider" and (q.scale.min, q.scale.max) == (-2, 2))
    df = set_cell(frame, 0, col, -3)
    err = problems_of(df)
    assert "value -3 outside -2..2" in line_for(err, 0, df, col)


def test_special_code_only_where_the_scale_has_it(frame):
    with_99 = first_column(lambda q: q.scale.type == "slider" and 99 in q.scale.special)
    without = first_column(lambda q: q.scale.type == "slider" and (q.scale.min, q.scale.max) == (-2, 2) and not q.scale.special)
    validate_survey(set_cell(frame, 2, with_99, 99))  # allowed there
    df = set_cell(frame, 2, without, 99)
    err = problems_of(df)
    assert "value 99 outside -2..2" in line_for(err, 2, df, without)


def test_choice_codes_and_pairwise_options(frame):
    gender = "D8_gender"
    bad_code = max(CB.question_of(gender).scale.values) + 1
    pair = first_column(lambda q: any("options" in it.extra for it in q.items))
    options = CB.item(pair).extra["options"]
    not_offered = next(c for c in CB.question_of(pair).scale.values if c not in options)
    df = set_cell(set_cell(frame, 4, gender, bad_code), 5, pair, not_offered)
    err = problems_of(df)
    assert f"value {bad_code} is not an allowed code" in line_for(err, 4, df, gender)
    assert f"value {not_offered} is not an allowed code ({', '.join(map(str, sorted(options)))})" in line_for(err, 5, df, pair)


def test_text_in_a_numeric_column(frame):
    col = first_column(lambda q: q.scale.type == "choice")
    df = set_cell(frame, 7, col, "ja")
    err = problems_of(df)
    assert line_for(err, 7, df, col).endswith("value 'ja' is not a number")
    assert len(err.problems) == 1  # the emptied cell is not reported a second time


def test_fraction_in_a_code_column(frame):
    col = first_column(lambda q: q.scale.type == "slider")
    df = set_cell(frame, 1, col, 1.5)
    err = problems_of(df)
    assert "value 1.5 is not a whole number" in line_for(err, 1, df, col)


def test_duplicate_respondent_ids_name_both_rows(frame):
    df = frame.copy()
    df.loc[9, "respondent_id"] = df.loc[3, "respondent_id"]
    err = problems_of(df)
    for pos in (3, 9):
        assert "is a duplicate respondent_id" in line_for(err, pos, df, "respondent_id")


def test_negative_and_absurd_durations(frame):
    df = set_cell(set_cell(frame, 0, "duration_seconds", -5.0), 6, "duration_seconds", float(2 * MAX_DURATION_SECONDS))
    err = problems_of(df)
    assert "value -5 is negative" in line_for(err, 0, df, "duration_seconds")
    assert "is not plausible" in line_for(err, 6, df, "duration_seconds")


def test_completed_must_be_zero_or_one(frame):
    df = set_cell(frame, 8, "completed", 2)
    assert "value 2 is not 0 or 1" in line_for(problems_of(df), 8, df, "completed")


def test_financing_shares_summing_to_90(frame):
    q = next(q for q in CB if q.sum_to is not None)
    answered = frame[q.columns].notna().all(axis=1)
    pos = int(answered.to_numpy().nonzero()[0][0])
    df = frame.copy()
    shares = [q.sum_to - 10] + [0] * (len(q.columns) - 1)
    for col, v in zip(q.columns, shares):
        df.iloc[pos, df.columns.get_loc(col)] = v
    err = problems_of(df)
    (p,) = err.problems
    assert (p["row"], p["value"]) == (pos + 1, q.sum_to - 10)
    assert all(c in p["column"] for c in q.columns)
    assert f"must sum to {int(q.sum_to)}" in str(err) and f"row {pos + 1} " in str(err)


def test_financing_unanswered_rows_pass(frame):
    q = next(q for q in CB if q.sum_to is not None)
    df = frame.copy()
    df.loc[:, q.columns] = pd.NA
    validate_survey(df)


def test_percent_not_in_steps_of_ten(frame):
    col = first_column(lambda q: q.scale.type == "percent")
    step = CB.question_of(col).scale.step
    value = 3 * step + step / 2  # e.g. 35
    df = set_cell(frame, 10, col, value)
    line = line_for(problems_of(df), 10, df, col)
    assert re.search(rf"value {value:g} is not in steps of {step:g}", line)


def test_count_above_the_questions_maximum(frame):
    q = next(q for q in CB if q.scale.type == "number" and q.max is not None)
    col = q.columns[0]
    df = set_cell(set_cell(frame, 3, col, int(q.max) + 1), 4, col, -1)
    err = problems_of(df)
    assert f"is above the maximum {int(q.max)}" in line_for(err, 3, df, col)
    assert "is below 0" in line_for(err, 4, df, col)


# ------------------------------------------------------------------------------------ the message
def test_several_problems_are_all_listed_in_row_order(frame):
    slider = first_column(lambda q: q.scale.type == "slider" and (q.scale.min, q.scale.max) == (1, 10))
    df = frame.drop(columns=["B4"])
    df = set_cell(df, 12, slider, 11)
    df = set_cell(df, 2, "duration_seconds", -1.0)
    df = set_cell(df, 2, "completed", 5)
    err = problems_of(df)
    assert len(err.problems) == 4
    lines = str(err).splitlines()
    assert lines[0].startswith("responses.csv: 4 problems")
    assert "column B4: is missing" in lines[1]
    assert [ln.split(",")[0].strip() for ln in lines[2:]] == ["row 3 (respondent_id 3)", "row 3 (respondent_id 3)", "row 13 (respondent_id 13)"]


def test_long_message_is_capped_with_a_count_of_the_rest(tmp_path):
    big = example_frame(60, seed=1)
    cols = [c for c in CB.columns if column_dtypes(CB)[c] == "Int64" and c not in ("respondent_id", "completed")][:5]
    for c in cols:
        big[c] = -7  # outside every scale of the codebook
    err = problems_of(big)
    assert len(err.problems) == 5 * len(big)
    lines = str(err).splitlines()
    assert len(lines) == 1 + MAX_MESSAGE_LINES + 1
    assert lines[-1].strip().startswith(f"... and {len(err.problems) - MAX_MESSAGE_LINES} more problems;")
    assert "--report problems.csv" in lines[-1]
    # Uncapped for the command line, and every problem in the report table.
    assert len(err.render(None).splitlines()) == 1 + len(err.problems)
    report = pd.read_csv(err.write_report(tmp_path / "problems.csv"))
    assert list(report.columns) == ["row", "respondent_id", "column", "value", "rule"]
    assert len(report) == len(err.problems)
    assert set(report["column"]) == set(cols) and (report["value"] == -7).all()


def test_index_labels_do_not_change_row_numbers(frame):
    df = set_cell(frame, 4, "completed", 3)
    df.index = df.index + 1000
    err = problems_of(df)
    assert err.problems[0]["row"] == 5
    ok = validate_survey(frame.set_axis(frame.index + 1000))
    assert list(ok.index) == list(frame.index + 1000)


# ---------------------------------------------------------------------------------------------- CLI
def test_main_reports_ok_for_a_valid_file(frame, tmp_path, capsys):
    path = tmp_path / "ok.csv"
    frame.to_csv(path, index=False)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and f"{len(frame)} rows" in out and f"{int((frame['completed'] == 1).sum())} completed" in out


def test_main_exits_1_and_lists_problems_on_stderr(frame, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    set_cell(frame, 0, "completed", 7).to_csv(path, index=False)
    assert main([str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bad.csv: 1 problem" in captured.err and "row 1 (respondent_id 1), column completed: value 7" in captured.err


def test_main_exits_1_on_an_unreadable_file(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    assert main([str(path)]) == 1
    assert "x.csv" in capsys.readouterr().err


def test_module_entry_point_exits_1(frame, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "bad.csv"
    set_cell(frame, 3, "completed", 4).to_csv(path, index=False)
    run = subprocess.run([sys.executable, "-m", "clusterkrise.validation", str(path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "row 4 (respondent_id 4), column completed: value 4 is not 0 or 1" in run.stderr

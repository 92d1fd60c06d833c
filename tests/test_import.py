"""Real survey-tool exports in: the shipped data written in the shape of SoSci Survey, LimeSurvey and
Unipark/EFS exports, imported with the generated templates, must give the shipped data cell by cell.

The exports are built here by each tool's documented conventions, independently of the importer:
SoSci stores scale points 1..n, the residual option as -1, "not answered" as -9 and multiple choice as
1/2; LimeSurvey writes Q[SQ001] columns with answer codes or full answer texts and fills submitdate
when an interview was submitted; EFS numbers variables v_1.., stores -77 (not seen), -99 (text not
answered), 0 (seen, not answered) and marks completed interviews with dispcode 31/32.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from clusterkrise import DATA_DIR
from clusterkrise.cli import main
from clusterkrise.codebook import load_codebook
from clusterkrise.importer import format_report, import_export, write_codebook_csv
from clusterkrise.io import load_survey
from clusterkrise.mapping import MappingError, load_mapping, parse_mapping, template
from clusterkrise.validation import DataValidationError

CB = load_codebook()
SHIPPED_PATH = DATA_DIR / "survey" / "responses.csv"


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return load_survey(SHIPPED_PATH)


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def scale_points(q):
    sc = q.scale
    values = list(range(int(sc.min), int(sc.max) + 1)) if sc.type == "slider" else sorted(sc.values)
    return values, sorted(sc.special)


def is_checkbox(q):
    return q.scale.type == "choice" and set(q.scale.values) == {0, 1} and not q.scale.special


def present(v) -> bool:
    return not pd.isna(v)


def write_template(tool, tmp_path):
    path = tmp_path / f"{tool}.yaml"
    path.write_text(template(tool), encoding="utf-8")
    return path


def sav_ready(frame: pd.DataFrame) -> pd.DataFrame:
    cols = {}
    for c in frame.columns:
        s = frame[c]
        if s.map(lambda v: isinstance(v, str)).any():
            cols[c] = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).astype(object)
        else:
            cols[c] = pd.to_numeric(s).astype("float64")
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------------------------- SoSci
def sosci_export(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[float, str]]]:
    cols: dict[str, list] = {
        "CASE": list(df["respondent_id"].astype(int)),
        "SERIAL": [""] * len(df),
        "QUESTNNR": ["base"] * len(df),
        "MODE": ["interview"] * len(df),
        "STARTED": ["2020-09-15 10:00:00"] * len(df),
    }
    labels: dict[str, dict[float, str]] = {}
    block, number = None, 0
    for q in CB:
        if q.block != block:
            block, number = q.block, 0
        number += 1
        sid = f"{q.block}1{number:02d}"
        coded = q.scale.type in ("slider", "choice")
        for pos, col in enumerate(q.columns, start=1):
            name = sid if len(q.columns) == 1 and coded else f"{sid}_{pos:02d}"
            s = df[col]
            if q.scale.type == "text":
                cols[name] = ["" if not present(v) else v for v in s]
                continue
            if coded:
                values, special = scale_points(q)
                code = {v: k for k, v in enumerate(values, start=1)}
                code.update({sp: -1 for sp in special})
                cols[name] = [code[int(v)] if present(v) else -9 for v in s]
                lab = {float(code[v]): q.scale.label_of(v) for v in values + special if q.scale.label_of(v)}
                labels[name] = {**lab, -9.0: "nicht beantwortet"}
            else:
                cols[name] = [float(v) if present(v) else -9 for v in s]
    cols["TIME001"] = [1.0] * len(df)
    cols["TIME_SUM"] = list(df["duration_seconds"].astype(float))
    cols["FINISHED"] = list(df["completed"].astype(int))
    cols["LASTPAGE"] = [12 if c == 1 else 3 for c in df["completed"]]
    cols["MAXPAGE"] = cols["LASTPAGE"]
    return pd.DataFrame(cols), labels


def test_sosci_csv_and_sav_import_to_the_shipped_data(shipped, tmp_path):
    export, labels = sosci_export(shipped)
    mapping = write_template("sosci", tmp_path)
    csv_path = tmp_path / "sosci.csv"
    # SoSci's CSV download: tab-separated, UTF-8 with a byte order mark.
    csv_path.write_bytes(b"\xef\xbb\xbf" + export.to_csv(index=False, sep="\t").encode("utf-8"))
    sav_path = tmp_path / "sosci.sav"
    pyreadstat.write_sav(sav_ready(export), str(sav_path), variable_value_labels=labels)
    for path in (csv_path, sav_path):
        df, report = import_export(path, mapping)
        pd.testing.assert_frame_equal(df, shipped, check_exact=True)
        assert report.unmapped == [] and "TIME001" in report.ignored
        n_missing = int(sum(shipped[c].isna().sum() for c in CB.answer_columns if CB.question_of(c).scale.type != "text"))
        assert sum(report.to_missing[("-9", "nicht beantwortet")].values()) == n_missing
    # The written file is the codebook's format and reads back without a mapping.
    out = write_codebook_csv(df, tmp_path / "imported.csv", comment="imported from a SoSci Survey export")
    pd.testing.assert_frame_equal(load_survey(out), shipped, check_exact=True)


# ------------------------------------------------------------------------------------------ LimeSurvey
def limesurvey_export(df: pd.DataFrame, full_answers: bool) -> pd.DataFrame:
    done = df["completed"] == 1
    cols: dict[str, list] = {
        "id": list(df["respondent_id"].astype(int)),
        "submitdate": ["2020-09-20 12:00:00" if d else "" for d in done],
        "lastpage": [9 if d else 2 for d in done],
        "startlanguage": ["de"] * len(df),
        "seed": ["12345"] * len(df),
    }
    for q in CB:
        coded = q.scale.type in ("slider", "choice")
        for pos, col in enumerate(q.columns, start=1):
            name = q.id if len(q.columns) == 1 else f"{q.id}[SQ{pos:03d}]"
            s = df[col]
            if is_checkbox(q):
                yes, no = ("Ja", "Nein") if full_answers else ("Y", "N")
                cols[name] = [("" if not present(v) else yes if v == 1 else no) for v in s]
            elif coded:
                values, special = scale_points(q)
                order = values + special
                if full_answers:
                    text = {v: q.scale.label_of(v) or str(v) for v in order}
                else:
                    text = {v: f"A{k}" for k, v in enumerate(order, start=1)}
                # "Keine Antwort" where a submitted interview skipped the question, empty where it was not reached.
                cols[name] = [text[int(v)] if present(v) else ("Keine Antwort" if full_answers and d else "") for v, d in zip(s, done)]
            elif q.scale.type == "text":
                cols[name] = ["" if not present(v) else v for v in s]
            else:
                cols[name] = ["" if not present(v) else f"{float(v):g}" for v in s]
    cols["interviewtime"] = [f"{float(v):.2f}" for v in df["duration_seconds"]]
    return pd.DataFrame(cols)


@pytest.mark.parametrize("full_answers", [True, False], ids=["full-answers", "answer-codes"])
def test_limesurvey_csv_imports_to_the_shipped_data(shipped, tmp_path, full_answers):
    path = tmp_path / "results-survey123456.csv"
    limesurvey_export(shipped, full_answers).to_csv(path, index=False, sep=";")
    df, report = import_export(path, write_template("limesurvey", tmp_path))
    pd.testing.assert_frame_equal(df, shipped, check_exact=True)
    assert report.unmapped == []
    assert (("'Keine Antwort'", "Option 'keine Antwort'") in report.to_missing) is full_answers


# ---------------------------------------------------------------------------------------------- Unipark
def unipark_export(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[float, str]]]:
    done = df["completed"] == 1
    cols: dict[str, list] = {
        "lfdn": list(df["respondent_id"].astype(int)),
        "tester": [0] * len(df),
        "dispcode": [(31 if i % 2 else 32) if d else 22 for i, d in enumerate(done)],
        "lastpage": [1234 if d else 1200 for d in done],
        "quality": [100] * len(df),
        "duration": list(df["duration_seconds"].astype(float)),
    }
    labels: dict[str, dict[float, str]] = {}
    k = 0
    for q in CB:
        coded = q.scale.type in ("slider", "choice")
        for col in q.columns:
            k += 1
            name = f"v_{k}"
            s = df[col]
            if q.scale.type == "text":
                cols[name] = [v if present(v) else "-99" for v in s]
            elif is_checkbox(q):
                cols[name] = [float(v) if present(v) else -77 for v in s]
                labels[name] = {0.0: "nicht gewählt", 1.0: "gewählt", -77.0: "nicht gesehen"}
            elif coded:
                values, special = scale_points(q)
                code = {v: i for i, v in enumerate(values, start=1)}
                code.update({sp: 99 for sp in special})
                # seen but not answered (0) in finished interviews, not seen (-77) in broken-off ones
                cols[name] = [code[int(v)] if present(v) else (0 if d else -77) for v, d in zip(s, done)]
                lab = {float(code[v]): q.scale.label_of(v) for v in values + special if q.scale.label_of(v)}
                labels[name] = {**lab, 0.0: "nicht beantwortet", -77.0: "nicht gesehen"}
            else:
                cols[name] = [float(v) if present(v) else -99 for v in s]
                labels[name] = {-99.0: "keine Angabe", -77.0: "nicht gesehen"}
    return pd.DataFrame(cols), labels


def test_unipark_sav_with_minus_99_and_minus_77_imports_to_the_shipped_data(shipped, tmp_path):
    export, labels = unipark_export(shipped)
    assert (export == -77).any().any() and (export == -99).any().any()
    path = tmp_path / "unipark.sav"
    pyreadstat.write_sav(sav_ready(export), str(path), variable_value_labels=labels)
    df, report = import_export(path, write_template("unipark", tmp_path))
    pd.testing.assert_frame_equal(df, shipped, check_exact=True)
    assert report.unmapped == [] and {"tester", "lastpage", "quality"} <= set(report.ignored)
    assert ("-77", "nicht gesehen") in report.to_missing and ("0", "gesehen, nicht beantwortet") in report.to_missing


# ------------------------------------------------------------------------------------- "weiß nicht"
def test_minus_one_labelled_weiss_nicht_on_a_scale_point_is_an_error_without_a_mapping(shipped, tmp_path):
    """A .sav in the codebook's names whose -2..+2 slider stores "weiß nicht" as -1."""
    frame = shipped.copy()
    unanswered = frame["A7_01"].isna()
    frame.loc[unanswered, "A7_01"] = -1
    path = tmp_path / "codebook_names.sav"
    labels = {"A7_01": {-2.0: "drastisch verschlechtert", 0.0: "unverändert", 2.0: "deutlich verbessert", -1.0: "weiß nicht"}}
    pyreadstat.write_sav(sav_ready(frame.astype(object).where(frame.notna(), None)), str(path), variable_value_labels=labels)
    with pytest.raises(DataValidationError) as caught:
        load_survey(path)
    message = str(caught.value)
    count = int((frame["A7_01"] == -1).sum())  # the unanswered cells and the true answers -1 share the code
    assert count > int(unanswered.sum())
    assert f"column A7_01: code -1 is labelled 'weiß nicht' in the file and occurs in {count} row(s)" in message
    status, _, err = run_cli("validate", path)
    assert status == 1 and "A7_01" in err and f"{count} row(s)" in err and "Traceback" not in err


def test_weiss_nicht_declared_missing_in_the_mapping_is_counted_and_printed(shipped, tmp_path):
    export, labels = sosci_export(shipped)
    # SoSci's residual option on a scale without a special answer: -1 = "weiß nicht".
    name = "A107_01"
    unanswered = export[name] == -9
    export.loc[unanswered, name] = -1
    labels[name][-1.0] = "weiß nicht"
    path = tmp_path / "sosci.sav"
    pyreadstat.write_sav(sav_ready(export), str(path), variable_value_labels=labels)
    out = tmp_path / "imported.csv"
    status, text, err = run_cli("import", path, "--mapping", write_template("sosci", tmp_path), "-o", out)
    assert status == 0, err
    assert f"-1 (weiß nicht (Ausweichoption), wo die Skala keine Sonderantwort hat): {int(unanswered.sum())} cells in 1 columns (A7 {int(unanswered.sum())})" in text
    pd.testing.assert_frame_equal(load_survey(out), shipped, check_exact=True)
    # The same file with a mapping that does not declare -1: an error naming column, label and count.
    m = yaml.safe_load(template("sosci"))
    del m["missing"][-1]
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    status, _, err = run_cli("import", path, "--mapping", strict, "-o", tmp_path / "x.csv")
    assert status == 1 and not (tmp_path / "x.csv").exists()
    assert f"column A7_01: value -1 is labelled 'weiß nicht' in {int(unanswered.sum())} row(s)" in err


def test_unknown_code_is_an_error_not_an_answer(shipped, tmp_path):
    export, _ = sosci_export(shipped)
    export.loc[[0, 5], "A101_01"] = 7  # a six-point scale would store 6 for its last point; 7 is nobody's
    path = tmp_path / "sosci.csv"
    export.to_csv(path, index=False, sep="\t")
    with pytest.raises(DataValidationError) as caught:
        import_export(path, write_template("sosci", tmp_path))
    assert "row 1 (respondent_id 1), column A1_01: value 7 occurs in 2 row(s) and is neither in questions.A1.codes nor under missing" in str(caught.value)


# ------------------------------------------------------------------------------------------- mapping
def test_templates_cover_every_codebook_column_and_load():
    for tool in ("sosci", "limesurvey", "unipark", "codebook"):
        m = parse_mapping(yaml.safe_load(template(tool)), CB)
        assert set(m.columns) == set(CB.answer_columns), tool
        assert len(set(m.columns.values())) == len(CB.answer_columns), tool


def test_mapping_errors_name_the_key(tmp_path):
    base = yaml.safe_load(template("sosci"))
    with pytest.raises(MappingError, match="questions.Z9 is not a codebook question"):
        parse_mapping({**base, "questions": {"Z9": "X"}}, CB)
    with pytest.raises(MappingError, match="one export column 'A101' for 11 items"):
        parse_mapping({**base, "questions": {**base["questions"], "A1": {"columns": "A101"}}}, CB)
    with pytest.raises(MappingError, match="mapping-template"):
        load_mapping(tmp_path / "absent.yaml", CB)


def test_mapping_template_command_writes_a_loadable_file(tmp_path):
    out = tmp_path / "m.yaml"
    status, _, err = run_cli("mapping-template", "--tool", "unipark", "-o", out)
    assert status == 0, err
    assert load_mapping(out, CB).respondent_id == "lfdn"
    status, text, _ = run_cli("mapping-template", "--tool", "limesurvey")
    assert status == 0 and "A1[SQ{n:03d}]" in text


def test_load_survey_with_a_mapping_reads_an_export(shipped, tmp_path):
    path = tmp_path / "lime.csv"
    limesurvey_export(shipped, True).to_csv(path, index=False, sep=";")
    df = load_survey(path, mapping=write_template("limesurvey", tmp_path))
    pd.testing.assert_frame_equal(df, shipped, check_exact=True)
    assert df.attrs["import"]["unmapped"] == []
    status, out, err = run_cli("validate", path, "--mapping", write_template("limesurvey", tmp_path))
    assert status == 0 and f"{len(shipped)} rows" in out, err
    assert f"mapped: {len(CB.answer_columns)} answer columns" in format_report(import_export(path, write_template("limesurvey", tmp_path))[1])


def test_codebook_names_with_minus_9_left_in(shipped, tmp_path):
    frame = shipped.astype(object)
    answers = [c for c in CB.answer_columns if CB.question_of(c).scale.type != "text"]
    for c in answers:
        frame[c] = frame[c].where(frame[c].notna(), -9)
    path = tmp_path / "minus9.csv"
    frame.to_csv(path, index=False)
    n = int(sum((frame[c] == -9).sum() for c in answers))
    # Without a mapping: every cell is named, and the message says what -9 is and what to do.
    status, _, err = run_cli("validate", path)
    assert status == 1
    assert f"hint: -9 occurs in {n} problem cells; it is SoSci Survey's 'nicht beantwortet' code" in err
    # With the codebook template the file is the shipped data again.
    df, report = import_export(path, write_template("codebook", tmp_path))
    pd.testing.assert_frame_equal(df, shipped, check_exact=True)
    assert sum(report.to_missing[("-9", "nicht beantwortet")].values()) == n
    # A completion code the mapping does not know is an error, not a silent "not completed".
    frame.loc[3, "completed"] = 7
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=r"row 4 \(respondent_id 4\), column completed: value 7 from completed: 7 in 1 row\(s\) is neither"):
        import_export(path, write_template("codebook", tmp_path))


def test_export_column_the_mapping_names_but_the_export_lacks(shipped, tmp_path):
    export, _ = sosci_export(shipped)
    path = tmp_path / "sosci.csv"
    export.drop(columns=["A101_03"]).assign(EXTRA=1).to_csv(path, index=False, sep="\t")
    with pytest.raises(DataValidationError) as caught:
        import_export(path, write_template("sosci", tmp_path))
    lines = str(caught.value).splitlines()
    assert lines[0].endswith("1 problem (rows counted from 1 below the header)")
    assert lines[1].strip() == "column A1_03: needs the export column A101_03, which the export does not have"

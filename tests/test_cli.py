"""The `clusterkrise` command line: help, validate, check, parameter errors, preview."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from clusterkrise import build as b
from clusterkrise.cli import build_parser, cmd_preview, main, watch_digest

FIXTURES = Path(__file__).parent / "fixtures" / "build"
SUBCOMMANDS = ("build", "execute", "render", "check", "validate", "import", "mapping-template", "preview")


def run_cli(*argv, **inject):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, **inject)
    return status, out.getvalue(), err.getvalue()


def test_help_lists_every_subcommand():
    text = build_parser().format_help()
    for name in SUBCOMMANDS:
        assert f"\n    {name} " in text or f"\n  {name} " in text, name


def test_console_help_and_version_run_as_a_module():
    out = subprocess.run([sys.executable, "-m", "clusterkrise", "--help"], capture_output=True, text=True, check=True)
    assert all(name in out.stdout for name in SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as caught:
        main([name, "--help"])
    assert caught.value.code == 0
    assert f"usage: clusterkrise {name}" in capsys.readouterr().out


def test_bad_formats_and_jobs_are_usage_errors(capsys):
    for argv in (["build", "--formats", "html,docx"], ["build", "--jobs", "0"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    assert "docx" in capsys.readouterr().err


# --- validate ---------------------------------------------------------------------------------------------------


def test_validate_ok_prints_counts(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6\n")
    status, out, _ = run_cli("validate", str(path), loader=pd.read_csv)
    assert status == 0 and "OK" in out and "3 rows, 2 columns" in out


def test_validate_error_exits_nonzero_with_the_loaders_message(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a\n1\n")

    def reject(p):
        raise ValueError("row 1, column a: value 1 is not allowed")

    status, out, err = run_cli("validate", str(path), loader=reject)
    assert status == 1 and out == ""
    assert "validate failed" in err and "row 1, column a" in err


def test_validate_missing_file(tmp_path):
    status, _, err = run_cli("validate", str(tmp_path / "nope.csv"), loader=pd.read_csv)
    assert status == 1 and "no such file" in err


def _codebook_csv(path: Path, rows: list[list[str]]) -> Path:
    from clusterkrise.codebook import load_codebook

    columns = load_codebook().columns
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row + [""] * (len(columns) - len(row)))
    return path


def test_validate_with_the_real_loader(tmp_path):
    pytest.importorskip("clusterkrise.io", reason="io.py not written yet")
    from clusterkrise.codebook import load_codebook

    good = _codebook_csv(tmp_path / "good.csv", [["1", "0", "120"], ["2", "1", "300"]])
    status, out, _ = run_cli("validate", str(good))
    assert status == 0 and f"2 rows, {len(load_codebook().columns)} columns" in out
    bad = _codebook_csv(tmp_path / "bad.csv", [["abc", "0", "120"], ["2", "7", "300"]])
    status, _, err = run_cli("validate", str(bad))
    assert status == 1
    assert "respondent_id" in err and "completed" in err  # every offending cell is named


# --- check ------------------------------------------------------------------------------------------------------


def facts_table(match_second: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["n_started", "n_completed"],
            "place": ["Kap. 2", "Kap. 2"],
            "statement": ["gestartet", "abgeschlossen"],
            "published": [160, 100],
            "recomputed": [160, 100 if match_second else 99],
            "match": [True, match_second],
        }
    )


@pytest.fixture
def fixture_project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("broken", "__pycache__"))
    return root


@pytest.mark.slow
def test_check_prints_the_table_and_passes_when_all_match(fixture_project):
    seen = []

    def check(raw):
        seen.append(raw)
        return facts_table(True)

    status, out, _ = run_cli("-C", str(fixture_project), "check", check_facts=check, loader=lambda p: None)
    assert status == 0
    assert "place" in out and "Kap. 2" in out and "2 of 2" in out
    assert isinstance(seen[0], dict)  # the raw values of the notebooks the check just executed


@pytest.mark.slow
def test_check_explains_the_reading_where_the_study_contradicts_itself(fixture_project):
    table = facts_table(True).assign(expected=[160, 99], conflict=["", "Tab. X sagt 99, der Text 100."])
    status, out, _ = run_cli("-C", str(fixture_project), "check", check_facts=lambda raw: table, loader=lambda p: None)
    assert status == 0
    assert "1 places where the study contradicts itself" in out and "n_completed (Kap. 2): Tab. X sagt 99" in out


@pytest.mark.slow
def test_check_on_the_shipped_data_lists_the_conflicts_of_the_registry(executed_project):
    from clusterkrise.registry import conflicts

    status, out, _ = run_cli("-C", str(executed_project.root), "check")
    assert status == 0
    assert "254 of 254" in out or " of " in out
    for fact in conflicts():
        assert f"- {fact.id} (" in out


@pytest.mark.slow
def test_check_fails_on_a_mismatch(fixture_project):
    status, out, err = run_cli("-C", str(fixture_project), "check", check_facts=lambda raw: facts_table(False), loader=lambda p: None)
    assert status == 1 and "99" in out and "1 mismatch" in err


# --- build parameters via the command line -------------------------------------------------------------------------




def test_unknown_param_is_an_error_before_anything_runs(fixture_project):
    status, _, err = run_cli("-C", str(fixture_project), "build", "--param", "alpah=0.05")
    assert status == 1 and "alpah" in err and "declared are" in err
    assert not (fixture_project / "_build" / "notebooks").exists()


def test_malformed_param(fixture_project):
    status, _, err = run_cli("-C", str(fixture_project), "execute", "--param", "alpha")
    assert status == 1 and "key=value" in err


@pytest.mark.slow
def test_execute_one_notebook_with_a_param(fixture_project):
    status, out, err = run_cli("-C", str(fixture_project), "execute", "02", "--param", "age_cut=7", loader=lambda p: None)
    assert status == 0, err
    assert "[1/1] 02-beta" in out
    assert "age_cut: 7" in (fixture_project / "_build" / "variables.yml").read_text()
    assert not (fixture_project / "_build" / "results" / "ch01").exists()


def test_render_uses_the_injected_renderer(fixture_project):
    calls = []

    def render(project_dir, out_dir, formats, variables, executed_dir):
        calls.append(formats)
        (Path(out_dir) / "index.html").write_text("ok")
        return {"html": Path(out_dir) / "index.html"}

    status, out, err = run_cli("-C", str(fixture_project), "render", "--formats", "html", render=render)
    assert status == 0, err
    assert calls == [("html",)] and (fixture_project / "_book" / "index.html").read_text() == "ok"


# --- preview ----------------------------------------------------------------------------------------------------


def test_preview_serves_the_book_and_rebuilds_on_a_content_change(fixture_project):
    layout = b.Layout(fixture_project)
    builds = []

    def rebuild():
        builds.append(1)
        layout.book.mkdir(exist_ok=True)
        (layout.book / "index.html").write_text(f"build {len(builds)}")

    fetched = []

    def on_ready(port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as response:
            fetched.append(response.read().decode())
        chapter = fixture_project / "chapters" / "01-einleitung.qmd"
        chapter.write_text(chapter.read_text() + "mehr\n")

    status = cmd_preview(layout, 0, rebuild, io.StringIO(), io.StringIO(), polls=2, interval=0.01, on_ready=on_ready)
    assert status == 0
    assert fetched == ["build 1"]
    assert len(builds) == 2  # the first build, then exactly one for the edit


def test_watch_digest_ignores_timestamps_but_sees_content(fixture_project):
    before = watch_digest(fixture_project)
    chapter = fixture_project / "chapters" / "01-einleitung.qmd"
    os.utime(chapter, (1, 1))
    assert watch_digest(fixture_project) == before
    chapter.write_text("anders\n")
    assert watch_digest(fixture_project) != before


def test_for_quarto_writes_the_root_variables_file_only_on_request(fixture_project):
    root_file = fixture_project / "_variables.yml"
    status, _, err = run_cli("-C", str(fixture_project), "execute", "02", loader=lambda p: None)
    assert status == 0, err
    assert not root_file.exists()
    status, _, err = run_cli("-C", str(fixture_project), "execute", "02", "--for-quarto", loader=lambda p: None)
    assert status == 0, err
    assert root_file.read_text() == (fixture_project / "_build" / "variables.yml").read_text()

"""The build's shortcuts change no byte of what it makes.

A clean build takes shortcuts a reviewer's run does not (warm kernels, one load of the survey file per build,
the executed notebook written once), and a render reuses the chapter parses and HTML pages of the last one
(``_build/render-cache``); the preview writes a changed chapter's page before the book. Each must give what
the plain path gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clusterkrise.render.book import _data_table_html, data_table_html, prime, render_book, render_pages
from clusterkrise.render.shortcodes import read_indexed
from conftest import executed_copy, run_chapter

FIXTURE = Path(__file__).parent / "fixtures" / "mini_book"


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def mini_book(tmp_path: Path, with_build: bool) -> Path:
    project = tmp_path / ("project-cached" if with_build else "project-plain")
    shutil.copytree(FIXTURE, project)
    executed_copy(project / "executed", project / "executed")
    if with_build:
        (project / "_build").mkdir()
    return project


def edit(project: Path) -> Path:
    chapter = project / "chapters" / "02-ergebnisse.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nEin neuer Satz für die Vorschau.\n", encoding="utf-8")
    return chapter


def test_a_render_from_the_cache_equals_a_render_without_it(tmp_path):
    cached, plain = mini_book(tmp_path, True), mini_book(tmp_path, False)
    render_book(cached, tmp_path / "first", formats=("html",), executed_dir=cached / "executed")
    assert list((cached / "_build" / "render-cache").glob("html/*.json")), "the first render fills the cache"
    edit(cached), edit(plain)
    render_book(cached, tmp_path / "again", formats=("html",), executed_dir=cached / "executed")
    render_book(plain, tmp_path / "plain", formats=("html",), executed_dir=plain / "executed")
    assert tree(tmp_path / "again") == tree(tmp_path / "plain")
    assert tree(tmp_path / "again") != tree(tmp_path / "first"), "the edit must show, or the comparison proves nothing"


def test_a_book_from_the_cache_equals_a_fresh_process(tmp_path, monkeypatch):
    """HTML and PDF after an edit, rendered in a process that rendered before (Typst memoises) with the cached
    filtered chapters (the edited one parsed and filtered alone) and pages, equal a render in a fresh process
    without a cache (every chapter parsed and filtered, one process per core)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the PDF's date and ID, in both processes
    cached, plain = mini_book(tmp_path, True), mini_book(tmp_path, False)
    render_book(cached, tmp_path / "first", executed_dir=cached / "executed")
    folder = cached / "_build" / "render-cache"
    assert list(folder.glob("chapter/*.json"))
    edit(cached), edit(plain)
    render_book(cached, tmp_path / "again", executed_dir=cached / "executed")
    script = ("import sys; from pathlib import Path; from clusterkrise.render.book import render_book; "
              "render_book(Path(sys.argv[1]), Path(sys.argv[2]), executed_dir=Path(sys.argv[1]) / 'executed')")
    subprocess.run([sys.executable, "-c", script, str(plain), str(tmp_path / "plain")], check=True, env=dict(os.environ))
    again, fresh = tree(tmp_path / "again"), tree(tmp_path / "plain")
    assert any(name.endswith(".pdf") for name in fresh)
    assert again == fresh
    assert again != tree(tmp_path / "first"), "the edit must show, or the comparison proves nothing"


def test_the_quick_page_is_the_page_of_the_full_render(tmp_path):
    project = mini_book(tmp_path, True)
    book = tmp_path / "book"
    render_book(project, book, formats=("html",), executed_dir=project / "executed")
    prime(project, project / "executed")  # what the preview does while it waits for the first edit
    chapter = edit(project)
    written = render_pages(project, book, [chapter], executed_dir=project / "executed")
    assert [p.name for p in written] == ["02-ergebnisse.html"]
    assert "Ein neuer Satz für die Vorschau." in written[0].read_text(encoding="utf-8")
    render_book(project, tmp_path / "full", formats=("html",), executed_dir=project / "executed")
    assert written[0].read_bytes() == (tmp_path / "full" / "02-ergebnisse.html").read_bytes()


def test_reused_citations_equal_a_fresh_citeproc_run(tmp_path):
    """The book filter reuses the last render's citeproc results (the bibliography when the book cites the same
    works in the same order, each reading list): the quick page and the book then equal a render without a
    cache, and a changed citation or grouping is formatted afresh."""
    project, plain = mini_book(tmp_path, True), mini_book(tmp_path, False)
    book = tmp_path / "book"
    render_book(project, book, formats=("html",), executed_dir=project / "executed")
    memos = project / "_build" / "render-cache" / "citeproc"
    assert len(list(memos.glob("*.citeproc"))) == 1, "the first render stores its citeproc result"
    for folder in (project, plain):
        edit(folder)
    written = render_pages(project, book, [project / "chapters" / "02-ergebnisse.qmd"], executed_dir=project / "executed")
    render_book(project, tmp_path / "again", formats=("html",), executed_dir=project / "executed")
    assert len(list(memos.glob("*.citeproc"))) == 1, "same citations: the stored result was reused"
    render_book(plain, tmp_path / "plain", formats=("html",), executed_dir=plain / "executed")
    assert tree(tmp_path / "again") == tree(tmp_path / "plain")
    assert written[0].read_bytes() == (tmp_path / "plain" / "02-ergebnisse.html").read_bytes()
    for folder in (project, plain):  # now cite the second work too: the bibliography changes
        chapter = folder / "chapters" / "02-ergebnisse.qmd"
        chapter.write_text(chapter.read_text(encoding="utf-8") + "\nSiehe auch @beta2021.\n", encoding="utf-8")
    render_book(project, tmp_path / "cited", formats=("html",), executed_dir=project / "executed")
    render_book(plain, tmp_path / "cited-plain", formats=("html",), executed_dir=plain / "executed")
    assert len(list(memos.glob("*.citeproc"))) == 2
    assert tree(tmp_path / "cited") == tree(tmp_path / "cited-plain")
    assert tree(tmp_path / "cited")["references.html"] != tree(tmp_path / "again")["references.html"]
    # the reading lists are kept too (chapter 02 has one); new grouping data is seen
    assert list(memos.glob("*.list"))
    for folder in (project, plain):
        lists = folder / "data" / "reading_lists.yaml"
        lists.write_text(lists.read_text(encoding="utf-8").replace("Zum Testen:", "Neu gruppiert:"), encoding="utf-8")
    render_book(project, tmp_path / "grouped", formats=("html",), executed_dir=project / "executed")
    render_book(plain, tmp_path / "grouped-plain", formats=("html",), executed_dir=plain / "executed")
    assert tree(tmp_path / "grouped") == tree(tmp_path / "grouped-plain")
    assert "Neu gruppiert:" in tree(tmp_path / "grouped")["02-ergebnisse.html"].decode("utf-8")


def test_a_process_that_renders_again_sees_every_change(tmp_path):
    """The memos a rendering process keeps (executed notebooks, figure data tables) never return an old version."""
    project = mini_book(tmp_path, True)
    notebook = next((project / "executed").glob("*.ipynb"))
    first = read_indexed(notebook)
    assert read_indexed(notebook) is first, "unchanged: kept"
    text = notebook.read_text(encoding="utf-8")
    label = first.labels[0]
    changed = text.replace(f"label: {label}", f"label: {label}-neu", 1)
    assert changed != text
    notebook.write_text(changed, encoding="utf-8")
    assert f"{label}-neu" in read_indexed(notebook).labels
    csv = tmp_path / "abb-01.csv"
    csv.write_text("item,share\nA,0.25\n", encoding="utf-8")
    assert data_table_html(csv) == _data_table_html(csv.read_bytes())
    csv.write_text("item,share\nA,0.5\n", encoding="utf-8")
    assert "0,5" in data_table_html(csv) and "0,25" not in data_table_html(csv)


def test_the_quick_page_leaves_files_outside_the_book_alone(tmp_path):
    project = mini_book(tmp_path, True)
    book = tmp_path / "book"
    render_book(project, book, formats=("html",), executed_dir=project / "executed")
    assert render_pages(project, book, [project / "README.md"], executed_dir=project / "executed") == []


@pytest.mark.slow
def test_a_reviewers_papermill_run_writes_the_builds_files(executed_project, tmp_path, monkeypatch):
    """Chapter 12 (exact tests, bootstrap intervals, a figure) run alone in a fresh kernel, with no data cache."""
    monkeypatch.setenv("CLUSTERKRISE_DATA_CACHE", "0")
    run_chapter("12", tmp_path)
    built, alone = tree(executed_project.results / "12"), tree(tmp_path / "12")
    assert built.keys() == alone.keys()
    for name in built:
        if name == "values.json":  # the output folder is a parameter of its own
            a, b = (json.loads(files[name]) for files in (built, alone))
            for payload in (a, b):
                payload["params"].pop("output_dir")
            assert a == b
        else:
            assert built[name] == alone[name], name

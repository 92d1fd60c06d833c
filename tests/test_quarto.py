"""The book under both engines: Quarto (`quarto render`) and the embedded renderer (pandoc + typst).

The first group checks, without Quarto, the layout and conventions both engines rely on. The tests
marked `quarto` render the real book with both engines and compare what a reader sees; they need the
quarto command on PATH and are skipped (with that reason) where it is missing, as in CI.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import clusterkrise
from clusterkrise.render import FILTER, load_config
from clusterkrise.render.book import pandoc_path

ROOT = clusterkrise.PROJECT_ROOT
CONFIG = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
CHAPTERS = CONFIG["book"]["chapters"]
EMBED = re.compile(r"\{\{<\s*embed\s+(\S+?)#((?:fig|tbl)-[\w-]+)")
LABEL = re.compile(r"#((?:fig|tbl)-[\w-]+)")  # the rule book.lua applies under Quarto


# ---------------------------------------------------------------------------------------------
# Contract of the layout (no Quarto needed)


def test_home_page_and_bibliography_sit_at_the_root_where_quarto_looks():
    assert CHAPTERS[0] == "index.qmd" and (ROOT / "index.qmd").is_file()
    assert not (ROOT / "chapters" / "index.qmd").exists()
    assert CONFIG["bibliography"] == "references.bib" and (ROOT / "references.bib").is_file()
    assert load_config(ROOT).bibliography == [ROOT / "references.bib"]


def test_embeds_point_at_executed_notebooks_that_exist_as_sources():
    """Quarto embeds the outputs stored in the notebook it is given; the sources are stored without
    outputs, so the chapters name the executed copy under /_build/notebooks (project-absolute)."""
    found = 0
    for rel in CHAPTERS:
        for ref, label in EMBED.findall((ROOT / rel).read_text(encoding="utf-8")):
            found += 1
            assert ref.startswith("/_build/notebooks/"), f"{rel}: embed {ref}#{label} does not name the executed notebook"
            assert (ROOT / "notebooks" / Path(ref).name).is_file(), f"{rel}: no notebook {Path(ref).name}"
    assert found > 0


def test_pre_render_step_is_the_projects_cached_execution():
    script = CONFIG["project"]["pre-render"]
    text = (ROOT / script).read_text(encoding="utf-8")
    assert '"execute", "--for-quarto"' in text
    assert "_variables.yml" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_labels_number_figures_in_book_order_without_gaps():
    """Under Quarto each chapter continues the count of the ones before it (book.lua starts Quarto's
    counters there), so the numbers the labels carry must be the running count, as the embedded
    filter prints them."""
    count = {"fig": 0, "tbl": 0}
    wrong = []
    for rel in CHAPTERS:
        text = re.sub(r"\n```.*?\n```", "\n", (ROOT / rel).read_text(encoding="utf-8"), flags=re.S)
        for label in LABEL.findall(text):
            kind = label[:3]
            count[kind] += 1
            explicit = re.fullmatch(rf"{kind}-[a-z]+-(\d+)", label)
            if explicit and int(explicit.group(1)) != count[kind]:
                wrong.append(f"{rel}: {label} is number {count[kind]} in book order")
    assert count["fig"] > 0 and count["tbl"] > 0
    assert not wrong, "\n".join(wrong)


def test_filter_warns_about_an_unknown_label_with_file_and_label_and_does_not_crash(tmp_path):
    doc = tmp_path / "kapitel.md"
    doc.write_text("# Kapitel\n\nSiehe @fig-abb-99 und @sec-nirgends.\n", encoding="utf-8")
    proc = subprocess.run([pandoc_path(), str(doc), "-t", "html5", "--lua-filter", str(FILTER)],
                          capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    assert "unresolved cross-reference @fig-abb-99" in proc.stderr
    assert "unresolved cross-reference @sec-nirgends" in proc.stderr
    assert str(doc) in proc.stderr  # the file to fix
    assert "?@fig-abb-99" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Both engines on the real book (Quarto needed)

needs_quarto = pytest.mark.skipif(shutil.which("quarto") is None, reason="quarto is not on PATH (see README: Running with Quarto)")


def _pdf_captions(pdf: Path) -> dict[str, str]:
    import pypdf

    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    text = re.sub("\u00ad\\s*\n", "", text).replace("\u00ad", "-").replace("\u00a0", " ")
    captions: dict[str, str] = {}
    # the first three words (not the dot leaders and page number of a list of figures)
    for kind, number, rest in re.findall(r"^(Abb|Tab)\. ?(\d+): +([^\s.]\S*(?: [^\s.]\S*){0,2})", text, re.M):
        captions.setdefault(f"{kind}. {number}", rest)  # the embedded PDF also lists them up front
    return captions


def _pdf_text(pdf: Path) -> str:
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)


def _pages(site: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in site.rglob("*.html") if "site_libs" not in p.parts}


def _title(page: str) -> str:
    title = html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))
    return re.sub(r"^\d+\s+", "", title.replace("\u00a0", " ")).strip()


@pytest.fixture(scope="module")
def both(tmp_path_factory, executed_project):
    from clusterkrise.render import load_variables, render_book

    out = {}
    for engine in ("embedded", "quarto"):
        target = tmp_path_factory.mktemp(engine)
        out[engine] = (target, render_book(ROOT, target, variables=load_variables(ROOT), engine=engine))
    return out


@pytest.mark.quarto
@pytest.mark.slow
@needs_quarto
def test_both_engines_print_the_same_captions(both):
    embedded, quarto = (_pdf_captions(both[e][1]["pdf"]) for e in ("embedded", "quarto"))
    assert embedded and quarto == embedded


@pytest.mark.quarto
@pytest.mark.slow
@needs_quarto
def test_both_engines_print_no_unresolved_references(both):
    for engine in ("embedded", "quarto"):
        text = _pdf_text(both[engine][1]["pdf"])
        for bad in ("??", "?@", "@fig-", "@tbl-", "@sec-", "{{<"):
            assert bad not in text, f"{engine}: '{bad}' in the PDF"


@pytest.mark.quarto
@pytest.mark.slow
@needs_quarto
def test_both_engines_have_the_same_notes_pages_and_reading_lists(both):
    result = {}
    for engine in ("embedded", "quarto"):
        pages = _pages(both[engine][0])
        result[engine] = (
            {stem: page.count('class="notes-page"') for stem, page in pages.items() if 'class="notes-page"' in page},
            {stem: re.findall(r'class="reading-list" data-chapter="(\d+)"', page) for stem, page in pages.items()
             if 'class="reading-list"' in page},
            _pdf_text(both[engine][1]["pdf"]).count("Notizen:"),
        )
    assert result["quarto"] == result["embedded"]
    assert result["embedded"][2] == len(yaml.safe_load((ROOT / "data" / "notes_prompts.yaml").read_text(encoding="utf-8")))


@pytest.mark.quarto
@pytest.mark.slow
@needs_quarto
def test_both_engines_write_one_page_per_chapter_with_the_same_titles(both):
    titles = {}
    for engine in ("embedded", "quarto"):
        pages = _pages(both[engine][0])
        titles[engine] = {Path(rel).stem: _title(pages[Path(rel).stem]) for rel in CHAPTERS if Path(rel).stem != "index"}
    assert titles["quarto"] == titles["embedded"]

"""The PDF's running text has no templated sentences (issue 13): read back with pypdf from the default
build and from a build at the 5 % level, where counts and item lists change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pypdf
import pytest

import clusterkrise
from clusterkrise import formatting as fmt
from clusterkrise.codebook import load_codebook
from clusterkrise.render import load_config, render_book

pytestmark = pytest.mark.slow

ROOT = clusterkrise.PROJECT_ROOT


def normalise(text: str) -> str:
    # Typst marks hyphenation breaks with a soft hyphen; join them and collapse whitespace.
    text = re.sub("\u00ad\\s*\n", "", text).replace("\u00ad", "-")
    return re.sub(r"\s+", " ", text).strip()


def pdf_pages(path: Path) -> list[str]:
    return [normalise(p.extract_text()) for p in pypdf.PdfReader(path).pages]


def chapter_titles() -> list[str]:
    titles = []
    for path in load_config(ROOT).chapters:  # appendices included
        m = re.search(r"^# (.+?)(?:\s*\{[^}]*\})?\s*$", path.read_text(encoding="utf-8"), re.M)
        titles.append(m.group(1))
    return titles


def pages_by_chapter(pages: list[str]) -> dict[str, str]:
    """The text of each chapter: a chapter starts on the page whose first line carries its title."""
    titles = chapter_titles()
    chapters: dict[str, str] = {"": ""}
    current = ""
    for page in pages:
        head = page[:160]
        for title in titles:
            if re.match(rf"(\d+ |[A-Z] )?{re.escape(title)}", head):
                current = title
                break
        chapters[current] = chapters.get(current, "") + " " + page
    return chapters


def lower_in_text_labels() -> list[str]:
    """Item labels that start with an adjective: inside a list they must be written small."""
    labels = {item.label for q in load_codebook().questions for item in (q.items or [])}
    return sorted(label for label in labels if fmt.in_sentence(label) != label)


def templated_findings(pages: list[str]) -> list[str]:
    text = " ".join(pages)
    body_start = text.find("Vorwort zur Neuauflage", text.find("Vorwort zur Neuauflage") + 1)
    body = text[max(body_start, 0):]
    found = []
    for m in re.finditer(r"\b(\d+) (?:der|von) \1\b", body):
        found.append(f"count of all as 'N der N': {body[m.start() - 40:m.end() + 20]!r}")
    for m in re.finditer(r"\b(\d+) und \1 Befragte", body):
        found.append(f"two equal counts: {body[m.start() - 40:m.end() + 20]!r}")
    for m in re.finditer(r"ein Punkt:", body):
        found.append(f"'ein Punkt:': {body[m.start() - 40:m.end() + 40]!r}")
    for m in re.finditer(r"bejahen 100", body):
        found.append(f"'bejahen 100 %': {body[m.start() - 40:m.end() + 40]!r}")
    for label in lower_in_text_labels():
        for m in re.finditer(rf"(?:, |; | und | sowie ){re.escape(label)}", body):
            found.append(f"capital inside a list: {body[m.start() - 40:m.end() + 10]!r}")
    # "Interview" is the expert interviews' word; next to the questionnaire's life cycle it is the wrong one.
    for sentence in re.split(r"(?<=[.!?]) ", body):
        if "Interview" in sentence and re.search(r"begonnen|Bereinigung|Bearbeitungszeit|abgebrochen|beendet", sentence):
            found.append(f"'Interviews' for questionnaires: {sentence[:160]!r}")
    for title, chapter in pages_by_chapter(pages).items():
        n = len(re.findall(r"\(zweiseitiger Mann-Whitney-U-Test", chapter))
        if n > 1:
            found.append(f"test parenthesis {n} times in chapter {title!r}")
    return found


def test_the_scan_finds_what_it_looks_for():
    label = lower_in_text_labels()[0]
    pages = [
        "Vorwort zur Neuauflage", "Vorwort zur Neuauflage Es sind 12 der 12 Items und 41 und 41 Befragte; "
        f"genannt wurde ein Punkt: X. Wir nennen A und {label}. Von 160 begonnenen Interviews blieben viele. "
        "(zweiseitiger Mann-Whitney-U-Test, 10-%-Niveau) und (zweiseitiger Mann-Whitney-U-Test, 10-%-Niveau)",
    ]
    kinds = {f.split(":")[0] for f in templated_findings(pages)}
    assert {"count of all as 'N der N'", "two equal counts", "'ein Punkt", "capital inside a list",
            "'Interviews' for questionnaires"} <= kinds
    assert any(f.startswith("test parenthesis 2 times") for f in templated_findings(pages))


def test_default_pdf_has_no_templated_sentences(tmp_path, executed_project):
    pdf = render_book(ROOT, tmp_path, formats=("pdf",))["pdf"]
    assert templated_findings(pdf_pages(pdf)) == []


def test_pdf_at_five_percent_has_no_templated_sentences(tmp_path):
    from clusterkrise.build import build

    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", "_build", "_book", ".venv", "__pycache__"))
    build(project, params={"alpha": 0.05}, formats=("pdf",))
    pdfs = sorted((project / "_book").glob("*.pdf"))
    assert len(pdfs) == 1
    assert templated_findings(pdf_pages(pdfs[0])) == []

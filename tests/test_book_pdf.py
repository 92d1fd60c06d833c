"""The PDF edition of the real book, read back with pypdf."""

from __future__ import annotations

import re
import subprocess
import json
from pathlib import Path

import pypdf
import pytest
import yaml

import clusterkrise
from conftest import executed_copy
from clusterkrise.render import load_config, render_book
from clusterkrise.render.book import pandoc_path

pytestmark = pytest.mark.slow

ROOT = clusterkrise.PROJECT_ROOT


def normalise(text: str) -> str:
    # Typst marks hyphenation breaks with a soft hyphen and maps the hyphen glyph of DejaVu to U+00AD
    # as well; join the breaks, restore the hyphens, collapse whitespace.
    text = re.sub("\u00ad\\s*\n", "", text).replace("\u00ad", "-")
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, executed_project):
    # the first beside the HTML pages (which point links at other pages), the second alone: the same bytes
    first = render_book(ROOT, tmp_path_factory.mktemp("pdf1"), formats=("html", "pdf"))["pdf"]
    second = render_book(ROOT, tmp_path_factory.mktemp("pdf2"), formats=("pdf",))["pdf"]
    return first, second


@pytest.fixture(scope="module")
def reader(pdfs):
    return pypdf.PdfReader(pdfs[0])


@pytest.fixture(scope="module")
def pages(reader):
    return [normalise(p.extract_text()) for p in reader.pages]


def chapter_titles() -> list[str]:
    titles = []
    for path in load_config(ROOT).chapters:
        m = re.search(r"^# (.+?)(?:\s*\{[^}]*\})?\s*$", path.read_text(encoding="utf-8"), re.M)
        assert m, f"{path} has no level-1 heading"
        titles.append(m.group(1))
    return titles


def test_two_renders_are_byte_identical(pdfs):
    assert pdfs[0].read_bytes() == pdfs[1].read_bytes()


def test_links_inside_the_book_go_to_its_own_labels(reader):
    """A cross-reference to another chapter is an internal link of the PDF, never an HTML file name."""
    internal, outside = 0, []
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot["/A"].get_object() if "/A" in annot else {}
            if "/URI" in action:
                outside.append(str(action["/URI"]))
            elif "/Dest" in annot or action.get("/S") == "/GoTo":
                internal += 1
    assert not [uri for uri in outside if re.search(r"\.html?(#|$)", uri)]
    assert all(re.match(r"^(https?|mailto):", uri) for uri in outside), outside
    assert internal > 100  # cross-references (Abb., Tab., Kap.), citations, the contents


def test_page_count_is_plausible(reader):
    n_chapters = len(load_config(ROOT).chapters)
    n_notes = len(yaml.safe_load((ROOT / "data" / "notes_prompts.yaml").read_text(encoding="utf-8")))
    # title, imprint, contents, two lists, one page per chapter except the imprint, the notes pages
    assert len(reader.pages) >= 5 + (n_chapters - 1) + n_notes
    assert len(reader.pages) < 600


def test_title_in_metadata_and_on_the_first_page(reader, pages):
    title = load_config(ROOT).title
    assert reader.metadata.title == title
    assert title in pages[0]


def test_imprint_page_says_the_data_are_synthetic(pages):
    assert "synthetisch" in pages[1].lower()


def test_contents_and_lists_of_figures_and_tables(pages):
    front = " ".join(pages[2:8])
    for heading in ("Inhalt", "Abbildungsverzeichnis", "Tabellenverzeichnis"):
        assert heading in front
    for title in chapter_titles():
        if title != "Impressum":
            assert title in front, f"chapter '{title}' missing from the table of contents"


def test_each_notes_page_stands_alone(pages):
    prompts = yaml.safe_load((ROOT / "data" / "notes_prompts.yaml").read_text(encoding="utf-8"))
    for chapter, question in prompts.items():
        question = normalise(question)
        hits = [i for i, text in enumerate(pages) if question in text]
        assert len(hits) == 1, f"notes question of chapter {chapter} found on pages {hits}"
        rest = pages[hits[0]].replace(question, "").replace("Notizen:", "")
        assert re.fullmatch(r"\s*\d*\s*", rest), f"notes page of chapter {chapter} shares its page: {rest!r}"


def bibliography() -> dict[str, dict]:
    bib = ROOT / load_config(ROOT).raw["bibliography"]
    out = subprocess.run([pandoc_path(), str(bib), "-f", "biblatex", "-t", "csljson"], capture_output=True,
                         text=True, check=True).stdout
    return {entry["id"]: entry for entry in json.loads(out)}


def test_reading_lists_follow_the_grouping_data(pages):
    text = " ".join(pages)
    lists = yaml.safe_load((ROOT / "data" / "reading_lists.yaml").read_text(encoding="utf-8"))
    entries = bibliography()
    assert text.count("Weiterführende Literatur") >= len(lists)
    for chapter, topics in lists.items():
        for topic in topics:
            at = text.find(normalise(topic["topic"]))
            assert at >= 0, f"topic '{topic['topic']}' (chapter {chapter}) not in the PDF"
            for key in topic["keys"]:
                author = entries[key].get("author", [{}])[0]
                name = author.get("family") or author.get("literal") or entries[key]["title"]
                assert text.find(normalise(name), at) >= 0, f"{key} not listed after '{topic['topic']}'"


def test_no_unresolved_references_or_shortcodes(pages):
    text = " ".join(pages)
    for pattern in (r"\?\?", r"@(fig|tbl|sec)-", r"\{\{<", r"\(\w+\d{4}\?\)"):
        assert not re.search(pattern, text), f"found {pattern} in the PDF text"


def test_all_fonts_are_embedded(reader):
    seen = {}
    for page in reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            desc_font = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = desc_font.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            seen[str(font.get("/BaseFont"))] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert seen, "no fonts found"
    assert all(seen.values()), f"fonts not embedded: {[n for n, ok in seen.items() if not ok]}"
    assert any("DejaVu" in name for name in seen), f"house font missing: {sorted(seen)}"


def test_fixture_book_numbers_figures_and_tables_as_labelled(tmp_path):
    mini = Path(__file__).parent / "fixtures" / "mini_book"
    executed = executed_copy(mini / "executed", tmp_path / "executed")
    pdf = render_book(mini, tmp_path / "out", formats=("pdf",), executed_dir=executed)["pdf"]
    pages = [normalise(p.extract_text()) for p in pypdf.PdfReader(pdf).pages]
    lists = " ".join(p for p in pages if "verzeichnis" in p)
    assert "Abb. 3: Testabbildung mit drei Balken" in lists
    assert "Abb. 4: Zweite Testabbildung" in lists
    assert "Tab. 2: Testtabelle" in lists
    body = " ".join(pages)
    assert "siehe Abb. 3 und Tab. 2 sowie Kap. 1" in body
    assert "Randnotiz zum Start" in body and "37,5 Prozent" in body


# --- page make-up ----------------------------------------------------------------------------

CM = 72 / 2.54
# the body area of book.typ's page (top and bottom margins); the running head and the page number
# lie outside it
BODY_TOP, BODY_BOTTOM = 2.4 * CM, 2.6 * CM


def page_fill(pdf_path: Path) -> list[dict]:
    """Per page: how far down the body area text and graphics reach (0..1), whether a chapter opens
    on it (its 18 pt heading), whether it is a notes page, and its printed page label."""
    import pdfplumber

    labels = pypdf.PdfReader(pdf_path).page_labels
    out = []
    with pdfplumber.open(pdf_path) as pdf:
        for i, page in enumerate(pdf.pages):
            top, bottom = BODY_TOP, page.height - BODY_BOTTOM
            marks = [o for o in (*page.chars, *page.rects, *page.curves, *page.lines, *page.images)
                     if o["top"] >= top - 2 and o["bottom"] <= bottom + 2]
            low = max((o["bottom"] for o in marks), default=top)
            out.append({
                "page": i + 1, "label": labels[i], "fill": (low - top) / (bottom - top),
                "chapter_start": any(c["size"] >= 17 for c in page.chars),
                "notes": "Notizen:" in (page.extract_text() or ""),
            })
    return out


def test_no_body_page_is_more_than_half_empty(pdfs):
    pages = page_fill(pdfs[0])
    body = [p for p in pages if p["label"].isdigit()]
    assert len(body) > 50, "body pages (arabic numbers) not found"
    loose = []
    for p, nxt in zip(body, [*body[1:], None]):
        if nxt is None or nxt["chapter_start"] or nxt["notes"] or p["notes"]:
            continue  # before a chapter start or a notes page, and a notes page itself
        if p["fill"] < 0.5:
            loose.append((p["label"], round(p["fill"], 2)))
    assert loose == [], f"body pages more than half empty (page label, filled share): {loose}"


def test_page_fill_measure_sees_an_empty_page(tmp_path):
    # the measure itself: a page with two lines is nearly empty, a page of text is full
    import typst

    src = tmp_path / "t.typ"
    src.write_text('#set page(paper: "a4", margin: (top: 2.4cm, bottom: 2.6cm), numbering: "1")\n'
                   "Zwei Zeilen.\n\nNoch eine.\n#pagebreak()\n" + "Text. " * 900 + "\n", encoding="utf-8")
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(typst.compile(str(src)))
    fill = [p["fill"] for p in page_fill(pdf)]
    assert fill[0] < 0.1 and fill[1] > 0.9


def test_tables_have_unhyphenated_headers_and_a_caption_above(pages):
    text = " ".join(pages)
    for header in ("Insgesamt", "Anforderungen", "Spitzencluster"):
        assert header in text
    for broken in ("Ins- ge", "Ins-ge", "zu-geord", "An-forde"):
        assert broken not in text, f"hyphenated table header: {broken}"


def test_tab_6_has_a_key_to_its_arrows(pages):
    from clusterkrise import descriptives

    text = " ".join(pages)
    at = text.find("Tab. 6:")
    assert at >= 0
    assert normalise(descriptives.trend_arrow_key()) in text


def test_bibliography_entries_carry_a_language(pages):
    bib = (ROOT / load_config(ROOT).raw["bibliography"]).read_text(encoding="utf-8")
    entries = re.findall(r"@\w+\{([^,]+),(.*?)\n\}", bib, flags=re.S)
    assert entries and [k for k, body in entries if "langid" not in body] == []
    text = " ".join(pages)
    assert "Vortrag Auf Der" not in text and "(BMWI), und" not in text

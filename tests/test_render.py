"""Unit tests of the renderer: shortcodes, embedding, the Lua filter, error reporting."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import executed_copy

from clusterkrise.render import (
    FILTER,
    NotebookEmbedder,
    RenderError,
    cell_options,
    load_variables,
    render_book,
    resolve_shortcodes,
    run_pandoc,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mini_book"
EXECUTED = executed_copy(FIXTURE / "executed", Path(tempfile.mkdtemp(prefix="executed-")))


# ---------------------------------------------------------------- shortcodes


def test_var_shortcode_takes_dotted_keys_and_writes_floats_with_decimal_comma():
    text = "n = {{< var ch07.n >}}, Anteil {{< var ch07.share >}} %, Name {{<var meta.name>}}"
    out = resolve_shortcodes(text, source=Path("x.qmd"), variables={"ch07": {"n": 98, "share": 41.5}, "meta": {"name": "A"}})
    assert out == "n = 98, Anteil 41,5 %, Name A"


def test_escaped_shortcode_stays_literal():
    out = resolve_shortcodes("so: {{{< var a >}}}", source=Path("x.qmd"), variables={})
    assert out == "so: {{< var a >}}"


def test_unknown_variable_names_file_line_and_key():
    with pytest.raises(RenderError) as err:
        resolve_shortcodes("a\nb {{< var ch07.missing >}}", source=Path("chapters/07.qmd"), variables={"ch07": {}})
    assert err.value.step == "shortcodes"
    assert err.value.file == "chapters/07.qmd:2"
    assert "ch07.missing" in str(err.value)


def test_unknown_shortcode_is_an_error():
    with pytest.raises(RenderError, match="unknown shortcode 'video'"):
        resolve_shortcodes("{{< video x.mp4 >}}", source=Path("x.qmd"), variables={})


def test_variables_file_is_merged_with_overrides(tmp_path):
    (tmp_path / "_variables.yml").write_text("ch07:\n  a: 1\n  b: 2\n", encoding="utf-8")
    merged = load_variables(tmp_path, {"ch07": {"b": 3}, "ch08": {"c": 4}})
    assert merged == {"ch07": {"a": 1, "b": 3}, "ch08": {"c": 4}}


def test_cell_options_are_read_as_yaml():
    opts = cell_options('#| label: fig-abb-16\n#| fig-cap: "Relevanz: hoch"\nimport x\n#| not: an option')
    assert opts == {"label": "fig-abb-16", "fig-cap": "Relevanz: hoch"}


# ---------------------------------------------------------------- embed


def test_embed_figure_writes_the_cell_image_and_keeps_label_caption_alt(tmp_path):
    embed = NotebookEmbedder(EXECUTED, tmp_path)
    md = embed("notebooks/fixture.ipynb", "fig-abb-3", Path("chapters/02.qmd"))
    image = tmp_path / "fig-abb-3.png"
    assert image.read_bytes().startswith(b"\x89PNG")
    assert f"(<{image.as_posix()}>)" in md
    assert "{#fig-abb-3 " in md and "![Testabbildung mit drei Balken]" in md
    assert 'fig-alt="Balkendiagramm mit drei Balken unterschiedlicher Höhe"' in md


def test_embed_table_uses_the_markdown_output(tmp_path):
    md = NotebookEmbedder(EXECUTED, tmp_path)("fixture.ipynb", "tbl-tab-2", Path("c.qmd"))
    assert md.strip().startswith("::: {#tbl-tab-2}")
    assert "| A | 5 |" in md and ": Testtabelle" in md


def test_embed_unknown_label_lists_the_labels_found(tmp_path):
    with pytest.raises(RenderError) as err:
        NotebookEmbedder(EXECUTED, tmp_path)("fixture.ipynb", "fig-abb-99", Path("c.qmd"))
    assert err.value.step == "embed"
    assert err.value.file.endswith("fixture.ipynb")
    assert "fig-abb-3" in str(err.value) and "tbl-tab-2" in str(err.value)


def test_embed_finds_notebooks_below_the_build_root(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(EXECUTED / "fixture.ipynb", tmp_path / "notebooks" / "fixture.ipynb")
    md = NotebookEmbedder(tmp_path, tmp_path / "media")("notebooks/fixture.ipynb", "fig-abb-3", Path("c.qmd"))
    assert "{#fig-abb-3 " in md


def test_embed_without_executed_notebook_says_so(tmp_path):
    with pytest.raises(RenderError, match="execute the notebooks first"):
        NotebookEmbedder(tmp_path, tmp_path)("07-neu.ipynb", "fig-abb-16", Path("c.qmd"))


def test_embed_needs_a_caption(tmp_path):
    nb = json.loads((EXECUTED / "fixture.ipynb").read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = [line for line in nb["cells"][0]["source"] if "fig-cap" not in line]
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "fixture.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(RenderError, match="fig-cap"):
        NotebookEmbedder(tmp_path / "nb", tmp_path)("fixture.ipynb", "fig-abb-3", Path("c.qmd"))


# ---------------------------------------------------------------- Lua filter


def run_filter(markdown: str, to: str, tmp_path: Path, **meta: str) -> str:
    args = ["-f", "markdown", "-t", to, "--wrap=none", "--lua-filter", str(FILTER)]
    for key, value in meta.items():
        args += ["-M", f"{key.replace('_', '-')}={value}"]
    return run_pandoc(args, step="test", file="snippet", stdin=markdown, cwd=tmp_path)


@pytest.mark.parametrize("where", ["chapter", "nested", "none"])
def test_bibliography_entries_get_the_language_of_their_work_wherever_the_refs_div_is(tmp_path, where):
    """Citeproc writes the entries into #refs: the bibliography chapter's block (looked up first), a div deeper
    down (the whole book is walked then), or, without one, a div of its own after the chapters."""
    (tmp_path / "refs.bib").write_text(
        "@book{en2020, author = {Smith, Ann}, title = {Clusters}, year = {2020}, langid = {english}}\n"
        "@book{de2019, author = {Meier, Jan}, title = {Cluster}, year = {2019}, langid = {ngerman}}\n", encoding="utf-8")
    refs = {"chapter": "::: {#refs}\n:::\n", "nested": ":::: {.box}\n::: {#refs}\n:::\n::::\n", "none": ""}[where]
    # (the book lists every entry: `nocite: @*`, as _quarto.yml does)
    md = (f"---\nnocite: |\n  @*\n---\n\n::::: {{.book-chapter source=a.qmd}}\n# A\n\nSiehe @en2020 und @de2019.\n:::::\n\n"
          f"::::: {{.book-chapter source=refs.qmd}}\n# Literatur\n\n{refs}:::::\n")
    html = run_filter(md, "html5", tmp_path, bibliography="refs.bib", book_pass="book")
    assert re.search(r'id="ref-en2020"[^>]*lang="en"', html) and re.search(r'id="ref-de2019"[^>]*lang="de"', html)


def test_notes_page_is_its_own_page_in_typst_and_a_box_in_html(tmp_path):
    md = "Text.\n\n::: {.notes-page}\nWas nehmen Sie mit?\n:::\n"
    typ = run_filter(md, "typst", tmp_path)
    html = run_filter(md, "html5", tmp_path)
    assert "#notes-page[" in typ and "Was nehmen Sie mit?" in typ
    assert '<div class="notes-page">' in html and "<strong>Notizen:</strong>" in html
    assert "#notes-page" not in html


def test_notes_page_takes_the_question_from_the_data_file(tmp_path):
    (tmp_path / "prompts.yaml").write_text('"07": "Welche Frage steht hier?"\n', encoding="utf-8")
    html = run_filter('::: {.notes-page chapter="07"}\n:::\n', "html5", tmp_path, notes_prompts="prompts.yaml")
    assert "Welche Frage steht hier?" in html
    with pytest.raises(RenderError, match="no notes question for chapter 08"):
        run_filter('::: {.notes-page chapter="08"}\n:::\n', "html5", tmp_path, notes_prompts="prompts.yaml")


def test_reading_list_is_built_from_grouping_data_and_bibliography(tmp_path):
    shutil.copy(FIXTURE / "data" / "refs.bib", tmp_path / "refs.bib")
    shutil.copy(FIXTURE / "data" / "reading_lists.yaml", tmp_path / "lists.yaml")
    html = run_filter('::: {.reading-list chapter="02"}\n:::\n', "html5", tmp_path,
                      reading_lists="lists.yaml", bibliography="refs.bib", lang="de")
    assert "Weiterführende Literatur" in html and "Zum Testen:" in html
    # order of the grouping data, not alphabetical: Beta before Alpha
    assert html.index("Beta, Bernd") < html.index("Alpha, Anna")
    assert 'href="https://example.org/beta"' in html
    assert 'id="ref-' not in html  # no ids that would clash with the bibliography chapter


def test_reading_list_with_unknown_key_fails(tmp_path):
    shutil.copy(FIXTURE / "data" / "refs.bib", tmp_path / "refs.bib")
    (tmp_path / "lists.yaml").write_text('"05":\n  - topic: "Zu X:"\n    keys: [gamma1999]\n', encoding="utf-8")
    with pytest.raises(RenderError, match="gamma1999"):
        run_filter('::: {.reading-list chapter="05"}\n:::\n', "html5", tmp_path,
                   reading_lists="lists.yaml", bibliography="refs.bib")


def test_figures_take_the_number_from_the_label_and_count_on(tmp_path):
    md = (
        "![Erste](a.png){#fig-abb-16 fig-alt=\"x\"}\n\n![Zweite](b.png){#fig-zwei}\n\n"
        "Siehe @fig-abb-16 und @fig-zwei.\n"
    )
    html = run_filter(md, "html5", tmp_path)
    assert "<figcaption>Abb.\u00a016: Erste</figcaption>" in html
    assert "<figcaption>Abb.\u00a017: Zweite</figcaption>" in html
    assert '<a href="#fig-abb-16" class="xref">Abb.\u00a016</a>' in html
    assert '<a href="#fig-zwei" class="xref">Abb.\u00a017</a>' in html


def test_duplicate_figure_number_fails(tmp_path):
    md = "![A](a.png){#fig-abb-5}\n\n![B](b.png){#fig-x-5}\n"
    with pytest.raises(RenderError, match="numbered twice"):
        run_filter(md, "html5", tmp_path)


def test_unresolved_cross_reference_fails_instead_of_printing_question_marks(tmp_path):
    with pytest.raises(RenderError, match="unresolved cross-reference @fig-abb-40"):
        run_filter("Siehe @fig-abb-40.\n", "typst", tmp_path)


def test_image_without_alt_text_fails(tmp_path):
    with pytest.raises(RenderError, match="no alt text"):
        run_filter("Text ![](a.png) mehr\n", "html5", tmp_path)


def test_aside_becomes_aside_element_and_typst_margin_note(tmp_path):
    md = "Ein Satz [am Rand]{.aside} geht weiter.\n"
    html = run_filter(md, "html5", tmp_path)
    typ = run_filter(md, "typst", tmp_path)
    assert '<aside class="margin-note">' in html and "am Rand" in html
    assert html.index("<aside") < html.index("<p>Ein Satz geht weiter.</p>")
    assert "#margin-note[" in typ


def test_block_colour_sets_class_and_typst_accent(tmp_path):
    md = '# Kapitel {block="rot"}\n\n## Abschnitt\n'
    meta = tmp_path / "meta.yaml"
    meta.write_text('block-colours:\n  rot: "#c0392b"\n', encoding="utf-8")
    args = ["-f", "markdown", "--metadata-file", str(meta), "--lua-filter", str(FILTER)]
    html = run_pandoc([*args, "-t", "html5"], step="test", file="snippet", stdin=md, cwd=tmp_path)
    typ = run_pandoc([*args, "-t", "typst"], step="test", file="snippet", stdin=md, cwd=tmp_path)
    assert 'class="block-rot"' in html and "--accent: #c0392b" in html
    # the section under a red chapter is red as well
    assert typ.count('#accent.update(rgb("#c0392b"))') == 2


def test_unknown_block_colour_fails(tmp_path):
    with pytest.raises(RenderError, match="unknown block colour 'gruen'"):
        run_filter('# K {block="gruen"}\n', "html5", tmp_path)


# ---------------------------------------------------------------- failing steps in render_book


def copy_fixture(tmp_path: Path) -> Path:
    project = tmp_path / "book"
    shutil.copytree(FIXTURE, project)
    executed_copy(project / "executed", project / "executed")
    return project


def test_pandoc_failure_names_the_chapter(tmp_path):
    project = copy_fixture(tmp_path)
    (project / "chapters" / "02-ergebnisse.qmd").write_text("---\ntitle: [unclosed\n---\n\n# X\n", encoding="utf-8")
    with pytest.raises(RenderError) as err:
        render_book(project, tmp_path / "out", formats=("html",), executed_dir=project / "executed")
    assert err.value.step == "pandoc-parse"
    assert err.value.file.endswith("chapters/02-ergebnisse.qmd")


def test_filter_failure_names_the_chapter(tmp_path):
    project = copy_fixture(tmp_path)
    chapter = project / "chapters" / "02-ergebnisse.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nSiehe @tbl-tab-77.\n", encoding="utf-8")
    with pytest.raises(RenderError) as err:
        render_book(project, tmp_path / "out", formats=("html",), executed_dir=project / "executed")
    assert err.value.step == "pandoc-filter"
    assert err.value.file == "chapters/02-ergebnisse.qmd"
    assert "@tbl-tab-77" in str(err.value)


def test_typst_failure_names_the_generated_typst_file(tmp_path):
    project = copy_fixture(tmp_path)
    chapter = project / "chapters" / "02-ergebnisse.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n```{=typst}\n#this-function-does-not-exist()\n```\n",
                       encoding="utf-8")
    with pytest.raises(RenderError) as err:
        render_book(project, tmp_path / "out", formats=("pdf",), executed_dir=project / "executed")
    assert err.value.step == "typst"
    kept = Path(err.value.file)
    assert kept.suffix == ".typ" and kept.is_file()
    assert "this-function-does-not-exist" in kept.read_text(encoding="utf-8")
    assert "unknown variable" in str(err.value)


def test_a_batch_of_conversions_writes_what_the_command_line_writes(tmp_path):
    """A render writes its pages in a few `pandoc lua` processes (filters/batch.lua) instead of a process each:
    each page must be the command line's, to the byte."""
    from clusterkrise.render.book import HTML_TEMPLATE, run_pandoc_batch

    text = "# Titel {#sec-a}\n\nText mit *Betonung*[^1] und „Zitat“.\n\n[^1]: Fußnote.\n"
    doc = json.loads(run_pandoc(["-f", "markdown", "-t", "json"], step="test", file="x", stdin=text))
    doc["blocks"] += [{"t": "Header", "c": [2, [f"sec-{i}", [], []], [{"t": "Str", "c": f"H{i}"}]]} for i in range(2)]
    page = json.dumps(doc)
    variables = {"pagetitle": "T &amp; U", "lang": "de", "book-nav": "<ol><li>x</li></ol>", "title-block": "true"}
    written = run_pandoc_batch([{"write": page, "template": str(HTML_TEMPLATE), "variables": variables, "toc_depth": depth}
                                for depth in (None, 3)], ["a.qmd", "b.qmd"], step="test")
    args = ["-f", "json", "-t", "html5", "--template", str(HTML_TEMPLATE), *[f"-V{k}={v}" for k, v in variables.items()]]
    assert written == [run_pandoc(args, step="test", file="x", stdin=page),
                       run_pandoc([*args, "--toc", "--toc-depth=3"], step="test", file="x", stdin=page)]
    assert "page-toc" in written[1] and "page-toc" not in written[0]


def test_a_batch_parses_and_filters_chapters_as_the_command_line_does(tmp_path):
    """The chapter pass runs in the batch process right after the parse, over all its chapters at once: each
    chapter comes out as the command line's parse, wrapped in its chapter div and run through the filter."""
    from clusterkrise.render.book import run_pandoc_batch

    meta = tmp_path / "metadata.yaml"
    meta.write_text("lang: de\ntitle: Buch\n", encoding="utf-8")
    texts = {"a.qmd": "# Eins\n\nText mit Randnotiz [Am Rand.]{.aside} und [English]{lang=en-GB}.\n",
             "b.qmd": "---\ntitle: Zwei\n---\n\n::: {.callout-note}\n## Hinweis\nInhalt.\n:::\n"}
    jobs = [{"chapter": text, "source": name, "filter": str(FILTER), "metadata_file": str(meta),
             "metadata": {"book-pass": "chapter"}} for name, text in texts.items()]
    batch = run_pandoc_batch(jobs, list(texts), step="test")
    for (name, text), out in zip(texts.items(), batch):
        parsed = json.loads(run_pandoc(["-f", "markdown", "-t", "json"], step="test", file=name, stdin=text))
        blocks = parsed["blocks"]
        if "title" in parsed["meta"] and not (blocks and blocks[0]["t"] == "Header" and blocks[0]["c"][0] == 1):
            blocks.insert(0, {"t": "Header", "c": [1, ["", [], []], parsed["meta"]["title"]["c"]]})
        wrapped = {**parsed, "meta": {}, "blocks": [{"t": "Div", "c": [["", ["book-chapter"], [["source", name]]], blocks]}]}
        filtered = json.loads(run_pandoc(["-f", "json", "-t", "json", "--metadata-file", str(meta), "-M", "book-pass=chapter",
                                          "--lua-filter", str(FILTER)], step="test", file=name, stdin=json.dumps(wrapped)))
        assert json.loads(out)["blocks"] == filtered["blocks"][0]["c"][1]
    assert "margin-note" in batch[0] and "Zwei" in batch[1]


def test_a_chapter_that_does_not_parse_is_named_with_the_parse_as_its_step():
    from clusterkrise.render.book import run_pandoc_batch

    jobs = [{"chapter": text, "source": name, "filter": str(FILTER), "metadata": {"book-pass": "chapter"}}
            for name, text in (("ok.qmd", "# Gut\n"), ("bad.qmd", "---\ntitle: [unclosed\n---\n\n# X\n"))]
    with pytest.raises(RenderError) as err:
        run_pandoc_batch(jobs, ["chapters/ok.qmd", "chapters/bad.qmd"], step="pandoc-filter")
    assert err.value.step == "pandoc-parse" and err.value.file == "chapters/bad.qmd"


def test_a_failing_conversion_in_a_batch_names_its_file():
    from clusterkrise.render.book import HTML_TEMPLATE, run_pandoc_batch

    page = run_pandoc(["-f", "markdown", "-t", "json"], step="test", file="x", stdin="Text.\n")
    with pytest.raises(RenderError) as err:
        run_pandoc_batch([{"write": page, "template": str(HTML_TEMPLATE), "variables": {}, "toc_depth": None},
                          {"write": "{not json", "template": str(HTML_TEMPLATE), "variables": {}, "toc_depth": None}],
                         ["one.qmd", "two.qmd"], step="pandoc-html")
    assert err.value.step == "pandoc-html" and err.value.file == "two.qmd"


def test_a_clean_render_starts_pandoc_a_few_times_not_once_per_chapter_and_page(tmp_path, monkeypatch):
    import clusterkrise.render.book as book

    project = copy_fixture(tmp_path)
    started = []
    real = book.run_pandoc
    monkeypatch.setattr(book, "run_pandoc", lambda args, **kw: started.append(args[:2]) or real(args, **kw))
    render_book(project, tmp_path / "out", formats=("html",), executed_dir=project / "executed")
    pages = len(list((tmp_path / "out").glob("*.html")))
    assert pages >= 4
    # the chapters (parsed and through the chapter pass) and the pages: a process per core each; the book pass: one
    assert len(started) <= 2 * book.PANDOC_WORKERS + 1, started


def test_missing_chapter_file_is_reported(tmp_path):
    project = copy_fixture(tmp_path)
    (project / "chapters" / "imprint.qmd").unlink()
    with pytest.raises(RenderError, match="imprint.qmd"):
        render_book(project, tmp_path / "out", formats=("html",))


# ---------------------------------------------------------------- project data used by the filter


def markers(kind: str) -> list[str]:
    import clusterkrise

    found = []
    for path in sorted((clusterkrise.PROJECT_ROOT / "chapters").glob("*.qmd")):
        found += re.findall(r"\{\." + kind + r'\s+chapter="(\d+)"\}', path.read_text(encoding="utf-8"))
    return found


def project_yaml(name: str) -> dict:
    import clusterkrise
    import yaml

    return yaml.safe_load((clusterkrise.PROJECT_ROOT / "data" / name).read_text(encoding="utf-8"))


def test_every_notes_prompt_is_placed_exactly_once():
    placed = markers("notes-page")
    assert sorted(placed) == sorted(project_yaml("notes_prompts.yaml"))


def test_every_reading_list_is_placed_exactly_once_and_its_keys_exist():
    import clusterkrise

    lists = project_yaml("reading_lists.yaml")
    assert sorted(markers("reading-list")) == sorted(lists)
    bib = (clusterkrise.PROJECT_ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    listed = {key for topics in lists.values() for topic in topics for key in topic["keys"]}
    assert listed - keys == set()


def test_callout_keeps_its_title_in_both_formats(tmp_path):
    text = '::: {.callout-note title="Hinweis zur Datenlage"}\nDie Tabelle ergibt einen anderen Wert.\n:::\n'
    html = run_filter(text, "html5", tmp_path)
    assert "<strong>Hinweis zur Datenlage</strong>" in html and 'class="callout callout-note"' in html
    typst = run_filter(text, "typst", tmp_path)
    # a short box is kept on one page, a long one may break
    assert "#callout-box(breakable: false)[" in typst and "Hinweis zur Datenlage" in typst
    long = run_filter(text.replace("Die Tabelle ergibt einen anderen Wert.", "Ein langer Hinweis. " * 80), "typst", tmp_path)
    assert "#callout-box(breakable: true)[" in long


def test_margin_note_sits_in_its_paragraph_for_typst(tmp_path):
    text = "[Randnotiz]{.aside} Der Absatz dazu.\n"
    typst = run_filter(text, "typst", tmp_path)
    assert "#margin-note[Randnotiz]Der Absatz dazu." in typst.replace("\n", "")
    html = run_filter(text, "html5", tmp_path)
    assert html.index('<aside class="margin-note">Randnotiz</aside>') < html.index("<p>Der Absatz dazu.")


def test_numbered_items_in_a_table_cell_go_one_per_line(tmp_path):
    text = "| A | B |\n|---|---|\n| x | (1) eins (2) zwei (3) drei |\n"
    html = run_filter(text, "html5", tmp_path)
    assert "(1) eins<br />\n(2) zwei<br />\n(3) drei" in html


def test_english_span_hyphenates_as_english_in_typst(tmp_path):
    typst = run_filter("Das Motto [Beyond Remote]{lang=en} gilt.\n", "typst", tmp_path)
    assert '#text(lang: "en")[' in typst


def test_embedded_table_keeps_its_caption_when_a_note_follows_the_table(tmp_path):
    """A cell that shows a note under its table (Tab. 6's key) still gets its caption: pandoc reads a
    caption only directly below the table, so the note goes after it."""
    import pypandoc

    md = NotebookEmbedder(EXECUTED, tmp_path)._table(Path("x.ipynb"), "tbl-tab-6", "Mit Legende",
                                                    [{"data": {"text/markdown": "| a | b |\n|--|--|\n| 1 | 2 |\n\n↑ = mehr"}}])
    native = pypandoc.convert_text(md, "native", format="markdown")
    assert 'Str "Legende"' in native.split("TableHead")[0]  # the caption belongs to the table
    assert "mehr" in native


@pytest.mark.parametrize("cell,shown", [("0.0314961", "0,0315"), ("0.5", "0,5"), ("12", "12"), ("-0.25", "−0,25"),
                                        ("1.31826e-06", "0"), ("True", "ja"), ("False", "nein"), ("A2_05", "A2_05"),
                                        ("", "")])
def test_figure_data_tables_print_numbers_in_german_notation(cell, shown):
    from clusterkrise.render.book import german_cell

    assert german_cell(cell) == shown


def _pandas_data_table_html(raw: bytes) -> str:
    """What the figure data tables were before: pandas' read_csv and to_html (the reference for the markup)."""
    import io

    import pandas as pd

    from clusterkrise.render.book import german_cell

    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False).map(german_cell)
    parts = [("", frame)]
    if "section" in frame.columns:
        parts = [(name, part.drop(columns="section")) for name, part in frame.groupby("section", sort=False)]
    out = []
    for name, part in parts:
        table = part.loc[:, (part != "").any(axis=0)].to_html(index=False, border=0, classes="figure-data-table", escape=True)
        caption = {"values": "Werte", "utest": "U-Tests"}.get(name, "")
        out.append('<div class="table-scroll">'
                   + (table.replace(">", f"><caption>{caption}</caption>", 1) if caption else table) + "</div>")
    return "\n".join(out)


DATA_TABLE_CASES = {
    "plain": "item,label,share\nA1_01,Umsatz <50 %,0.25\nA1_02,\"Kosten, fix\",12\n",
    "sections": "item,n,p,section\nA1,160,,values\nA2,158,,values\nA1,,0.0314961,utest\n",
    "empty column in one part": "item,value,note,section\nx,1.5,,values\nx,,a & b,utest\ny,,\"\"\"zitiert\"\"\",utest\n",
    "flags and text": "grouping,significant,robust\nOst/West,True,False\n",
}


@pytest.mark.parametrize("text", DATA_TABLE_CASES.values(), ids=DATA_TABLE_CASES.keys())
def test_figure_data_tables_have_the_markup_pandas_to_html_wrote(text):
    from clusterkrise.render.book import _data_table_html

    assert _data_table_html(text.encode("utf-8")) == _pandas_data_table_html(text.encode("utf-8"))


@pytest.mark.slow
def test_every_figure_data_table_of_the_book_has_the_markup_pandas_to_html_wrote(executed_project):
    from clusterkrise.render.book import _data_table_html

    files = sorted(executed_project.results.glob("*/*.csv"))
    assert len(files) >= 40, "every chapter's results are there"
    for csv_file in files:
        raw = csv_file.read_bytes()
        assert _data_table_html(raw) == _pandas_data_table_html(raw), csv_file.name


def test_an_inlined_svg_gets_page_unique_ids_and_its_references_follow():
    """Two figures on one page both have matplotlib's ids (p1, p12, ...): each id and each reference to it gets
    the figure's prefix; an id that begins another (p1, p12) is not mistaken for it; other anchors stay."""
    from clusterkrise.render.book import inline_svg

    svg = ('<?xml version="1.0"?>\n<svg width="10pt" height="5pt" viewBox="0 0 10 5"><defs><clipPath id="p1"><rect/></clipPath>'
           '<clipPath id="p12"><rect/></clipPath></defs><g id="axes_1" clip-path="url(#p12)"><use xlink:href="#p1"/>'
           '<a href="#fig-other">x</a><text style="font: 10px sans">y</text></g></svg>')
    out = inline_svg.__wrapped__(svg, "fig-abb-01", "Alt")
    assert out.startswith('<svg class="chart" role="img" aria-label="Alt"')
    assert 'id="fig-abb-01-p1"' in out and 'id="fig-abb-01-p12"' in out and 'id="fig-abb-01-axes_1"' in out
    assert 'url(#fig-abb-01-p12)' in out and 'xlink:href="#fig-abb-01-p1"' in out
    assert 'href="#fig-other"' in out, "a reference to an id the SVG does not hold stays"
    assert 'width="10pt"' not in out and "<?xml" not in out

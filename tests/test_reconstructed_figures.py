"""The appendix's list of reconstructed figures is built from the captions that carry the mark ᴿ,
never typed: the list in the built book names exactly the figures whose captions carry the mark."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import clusterkrise
from clusterkrise.build import RECONSTRUCTED_MARK, Layout, collect_variables, reconstructed_figures

ROOT = clusterkrise.PROJECT_ROOT


def notebook(cells: list[str]) -> dict:
    return {"cells": [{"cell_type": "code", "source": src, "metadata": {}, "outputs": []} for src in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_the_list_holds_the_marked_figures_in_book_order(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "04-b.ipynb").write_text(json.dumps(notebook([
        f'#| label: fig-abb-09\n#| fig-cap: "Neun{RECONSTRUCTED_MARK}"\nx = 1',
        '#| label: tbl-tab-01\n#| tbl-cap: "Tabelle\u1d3f"\nx = 1',  # a table is not a figure
    ])), encoding="utf-8")
    (folder / "03-a.ipynb").write_text(json.dumps(notebook([
        '#| label: fig-abb-01\n#| fig-cap: "Eins"\nx = 1',
        f'#| label: fig-abb-02\n#| fig-cap: "Zwei {RECONSTRUCTED_MARK}"\nx = 1',
        "print('no options')",
    ])), encoding="utf-8")
    layout = Layout(tmp_path)
    assert reconstructed_figures(layout) == ["fig-abb-02", "fig-abb-09"]
    assert collect_variables(layout)["edition"]["reconstructed_figures"] == "@fig-abb-02 und @fig-abb-09"


def test_the_appendix_prints_the_generated_list_not_a_typed_one():
    text = (ROOT / "chapters" / "13-ausgabe.qmd").read_text(encoding="utf-8")
    section = text.split("{#sec-ausgabe-abbildungen}", 1)[1].split("\n## ", 1)[0]
    assert "{{< var edition.reconstructed_figures >}}" in section
    assert not re.search(r"@fig-", section)


@pytest.mark.slow
def test_the_built_list_equals_the_marked_captions(tmp_path, executed_project):
    from clusterkrise.render import render_book

    html = Path(render_book(ROOT, tmp_path, formats=("html",))["html"])
    folder = html if html.is_dir() else html.parent
    marked = []
    for page in sorted(folder.glob("*.html")):
        for fig_id, caption in re.findall(r'<figure id="(fig-[^"]+)">.*?<figcaption>(.*?)</figcaption>',
                                          page.read_text(encoding="utf-8"), re.S):
            if re.sub(r"<[^>]+>", "", caption).rstrip().endswith(RECONSTRUCTED_MARK):
                marked.append(fig_id)
    appendix = (folder / "13-ausgabe.html").read_text(encoding="utf-8")
    section = appendix.split('id="sec-ausgabe-abbildungen"', 1)[1].split("<h2", 1)[0]
    listed = re.findall(r'href="[^"#]*#(fig-[^"]+)"', section)
    assert marked, "no caption carries the mark"
    assert sorted(listed) == sorted(marked)

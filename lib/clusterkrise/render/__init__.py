"""Renderer of the book: reads ``_quarto.yml`` and writes HTML (one page per chapter) and a PDF
(Typst) with pandoc from the pypandoc-binary wheel and the ``typst`` package. Quarto is not needed.

Public API::

    render_book(project_dir, out_dir, formats=("html", "pdf"), variables=None,
                *, executed_dir=None, engine="pandoc") -> dict[str, Path]
    RenderError(step, file, message)
    resolve_shortcodes(text, *, source, variables, embed=None) -> str
    NotebookEmbedder(executed_dir, media_dir)   # the embed convention is documented in .shortcodes
    load_config(project_dir) -> BookConfig;  load_variables(project_dir, overrides) -> dict
"""

from .book import FILTER, BookConfig, font_dirs, load_config, load_variables, render_book, run_pandoc
from .errors import RenderError
from .shortcodes import NotebookEmbedder, cell_options, resolve_shortcodes

__all__ = [
    "FILTER",
    "BookConfig",
    "NotebookEmbedder",
    "RenderError",
    "cell_options",
    "font_dirs",
    "load_config",
    "load_variables",
    "render_book",
    "resolve_shortcodes",
    "run_pandoc",
]

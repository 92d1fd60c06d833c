"""Quarto shortcodes the book uses, resolved before pandoc sees the text.

``{{< var a.b >}}`` inserts a value from the build's variables (``_build/variables.yml`` or Quarto's ``_variables.yml``, merged with the caller's overrides);
``{{< embed notebooks/x.ipynb#fig-abb-16 >}}`` inserts the figure or table a cell of the *executed*
notebook produced. ``{{{< ... >}}}`` stands for the literal text ``{{< ... >}}``.

Embed convention (what a notebook must do so its output can be embedded):

* the executed copy of ``notebooks/x.ipynb`` lies in ``executed_dir/x.ipynb`` or
  ``executed_dir/notebooks/x.ipynb`` (papermill output; the build keeps it in ``_build/notebooks/``);
* the cell starts with Quarto cell options: ``#| label: fig-abb-16`` (``fig-`` for figures,
  ``tbl-`` for tables; a number in the label is the number printed in the book),
  ``#| fig-cap: "..."`` or ``#| tbl-cap: "..."`` (required), optionally ``#| fig-alt: "..."``
  (alt text; defaults to the caption);
* a figure cell has an image output (``image/svg+xml`` preferred, else ``image/png`` or
  ``image/jpeg``), e.g. ``plt.show()`` or ``display(fig)``;
* a table cell has a ``text/markdown`` output (e.g. ``display(Markdown(df.to_markdown()))``) or,
  failing that, a ``text/html`` one (a displayed DataFrame).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..yamlload import load_yaml
from .errors import RenderError

SHORTCODE = re.compile(r"(?P<esc>\{)?\{\{<\s*(?P<name>[\w-]+)(?P<args>.*?)>\}\}(?(esc)\})", re.S)

_IMAGE_TYPES = (("image/svg+xml", "svg"), ("image/png", "png"), ("image/jpeg", "jpg"))


def format_value(value: Any) -> str:
    """Text for a variable value: German decimal comma for floats, everything else as written."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise TypeError(f"not a printable scalar: {value!r}")
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    return str(value)


def lookup(variables: Mapping[str, Any], dotted: str) -> Any:
    node: Any = variables
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def resolve_shortcodes(
    text: str,
    *,
    source: Path,
    variables: Mapping[str, Any],
    embed: Callable[[str, str, Path], str] | None = None,
) -> str:
    """Replace every shortcode in ``text`` (read from ``source``, named in errors)."""

    def replace(m: re.Match[str]) -> str:
        if m.group("esc"):
            return m.group(0)[1:-1]
        name, args = m.group("name"), m.group("args").strip()
        line = text.count("\n", 0, m.start()) + 1
        where = f"{source}:{line}"
        if name == "var":
            if not args:
                raise RenderError("shortcodes", where, "{{< var >}} needs a key")
            try:
                value = lookup(variables, args)
            except KeyError:
                raise RenderError("shortcodes", where, f"unknown variable '{args}' (not in the book variables or the overrides; run `clusterkrise execute`)") from None
            try:
                return format_value(value)
            except TypeError as exc:
                raise RenderError("shortcodes", where, f"variable '{args}': {exc}") from None
        if name == "embed":
            if embed is None:
                raise RenderError("shortcodes", where, "embed shortcode found but no executed notebooks were given")
            ref, sep, label = args.partition("#")
            if not sep or not label:
                raise RenderError("shortcodes", where, f"embed needs 'notebook.ipynb#label', got '{args}'")
            try:
                return embed(ref.strip(), label.strip(), source)
            except RenderError:
                raise
            except Exception as exc:  # a broken notebook file, unreadable output
                raise RenderError("embed", where, f"{type(exc).__name__}: {exc}") from exc
        raise RenderError("shortcodes", where, f"unknown shortcode '{name}'")

    return SHORTCODE.sub(replace, text)


def cell_options(source: str) -> dict[str, Any]:
    """Quarto cell options: the leading ``#|`` lines of a code cell, read as YAML."""
    lines = []
    for line in source.splitlines():
        if line.startswith("#|"):
            lines.append(line[2:].removeprefix(" "))
        elif line.strip():
            break
    options = load_yaml("\n".join(lines)) if lines else None  # a book has a few hundred cell-option blocks
    return options if isinstance(options, dict) else {}


class _Indexed:
    """An executed notebook's labelled code cells with their options (the first cell of each label)."""

    def __init__(self, nb: Any):
        self.cells: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.labels: list[str] = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            opts = cell_options(cell.source)
            if "label" in opts:
                self.labels.append(str(opts["label"]))
                self.cells.setdefault(opts["label"], (cell, opts))


# path -> (mtime_ns, size, indexed notebook): a process that renders again (preview) reads a notebook only
# when it changed; the cells are only read, never changed
_READ: dict[str, tuple[int, int, _Indexed]] = {}


def read_indexed(path: Path) -> _Indexed:
    """The executed notebook at ``path``, read with nbformat and indexed by label (kept while unchanged)."""
    info = path.stat()
    kept = _READ.get(str(path))
    if kept is not None and kept[:2] == (info.st_mtime_ns, info.st_size):
        return kept[2]
    text = path.read_text(encoding="utf-8")
    import nbformat  # here, not at the top: a build with nothing to render never needs it

    if json.loads(text).get("nbformat") == 4:
        # papermill wrote and validated it: nbformat's v4 reader without a second validation
        nb = nbformat.v4.reads(text)
    else:
        nb = nbformat.reads(text, as_version=4)
    indexed = _Indexed(nb)
    _READ[str(path)] = (info.st_mtime_ns, info.st_size, indexed)
    return indexed


class NotebookEmbedder:
    """Resolves ``{{< embed nb.ipynb#label >}}`` from executed notebooks (see module docstring)."""

    def __init__(self, executed_dir: Path, media_dir: Path):
        self.executed_dir = Path(executed_dir)
        self.media_dir = Path(media_dir)
        self._cache: dict[Path, Any] = {}

    def _notebook(self, ref: str, source: Path) -> tuple[Path, "_Indexed"]:
        # `executed_dir` may be the folder of the executed notebooks or the build root above it
        # (clusterkrise.build keeps them in _build/notebooks/)
        name = Path(ref).name
        candidates = [self.executed_dir / name, self.executed_dir / "notebooks" / name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise RenderError("embed", str(source), f"executed notebook {candidates[0]} not found (execute the notebooks first)")
        if path not in self._cache:
            self._cache[path] = read_indexed(path)
        return path, self._cache[path]

    def __call__(self, ref: str, label: str, source: Path) -> str:
        path, nb = self._notebook(ref, source)
        if label in nb.cells:
            cell, opts = nb.cells[label]
            return self._render_cell(path, cell, opts, label)
        raise RenderError("embed", str(path), f"no cell with '#| label: {label}' (labels found: {', '.join(nb.labels) or 'none'})")

    def _render_cell(self, path: Path, cell: Any, opts: dict[str, Any], label: str) -> str:
        kind = label.split("-", 1)[0]
        if kind not in ("fig", "tbl"):
            raise RenderError("embed", str(path), f"label '{label}' must start with fig- or tbl-")
        caption = opts.get(f"{kind}-cap")
        if not caption:
            raise RenderError("embed", str(path), f"cell '{label}' has no '#| {kind}-cap:' option")
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        if kind == "fig":
            return self._figure(path, label, str(caption), str(opts.get("fig-alt") or caption), outputs)
        return self._table(path, label, str(caption), outputs)

    def _figure(self, path: Path, label: str, caption: str, alt: str, outputs: list) -> str:
        found = _first_output(outputs, [mime for mime, _ in _IMAGE_TYPES])
        if found is None:
            raise RenderError("embed", str(path), f"cell '{label}' has no image output (svg, png or jpeg)")
        mime, data = found
        raw = data.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(data)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        target = self.media_dir / f"{label}.{dict(_IMAGE_TYPES)[mime]}"
        target.write_bytes(raw)
        alt_attr = alt.replace("\\", "\\\\").replace('"', '\\"')
        return f'\n\n![{caption}](<{target.as_posix()}>){{#{label} fig-alt="{alt_attr}"}}\n\n'

    def _table(self, path: Path, label: str, caption: str, outputs: list) -> str:
        found = _first_output(outputs, ["text/markdown", "text/html"])
        if found is None:
            raise RenderError("embed", str(path), f"cell '{label}' has no text/markdown or text/html output")
        mime, data = found
        if mime == "text/html":
            import pypandoc

            data = pypandoc.convert_text(data, "markdown-raw_html-native_divs-native_spans", format="html")
        # Pandoc takes a caption only directly below its table: a note the cell shows after the table
        # (e.g. the key to Tab. 6's arrows) follows the caption.
        lines = data.strip().splitlines()
        end = next((i for i, line in enumerate(lines) if lines[0].startswith("|") and not line.startswith("|")), len(lines))
        table, note = "\n".join(lines[:end]), "\n".join(lines[end:]).strip()
        note = f"\n\n{note}" if note else ""
        return f"\n\n::: {{#{label}}}\n\n{table}\n\n: {caption}{note}\n\n:::\n\n"


def _first_output(outputs: list, mimes: list[str]) -> tuple[str, str] | None:
    """The first output in order of preference of ``mimes`` (a cell may display several types)."""
    for mime in mimes:
        for out in outputs:
            data = out.get("data", {}).get(mime)
            if data is not None:
                return mime, "".join(data) if isinstance(data, list) else data
    return None

"""Render the book described by ``_quarto.yml`` with pandoc (pypandoc-binary) and typst.

Pipeline (one filtered document feeds both formats, so numbering and citations agree):

1. read ``_quarto.yml``, ``_variables.yml`` + overrides; resolve shortcodes in every chapter;
2. parse each chapter and run the part of ``filters/book.lua`` that depends on it alone (cached per chapter;
   ``filters/batch.lua``, one pandoc process per core), copy its images into a staging folder, wrap it in a
   ``book-chapter`` div and join all chapters into one document;
3. run ``filters/book.lua``'s book pass once over the whole book: numbering, cross-references, citeproc;
4. HTML: split the result at the chapter divs, point cross-page links at the right page and write
   one page per chapter with the book template; PDF: write one Typst document (links to its own
   labels) and compile it.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import functools
import hashlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..timing import timed
from ..yamlload import load_yaml
from .errors import RenderError
from .shortcodes import NotebookEmbedder, resolve_shortcodes

PACKAGE_DIR = Path(__file__).resolve().parent
FILTER = PACKAGE_DIR / "filters" / "book.lua"
HTML_TEMPLATE = PACKAGE_DIR / "templates" / "book.html"
TYPST_TEMPLATE = PACKAGE_DIR / "templates" / "book.typ"
CSS = PACKAGE_DIR / "assets" / "book.css"
# pandoc runs are subprocesses: one per core keeps both cores busy without oversubscribing.
PANDOC_WORKERS = max(1, os.cpu_count() or 1)

# Keys of _quarto.yml handed to pandoc (and so to the filter) as document metadata.
PASSED_META = ("lang", "nocite", "crossref", "reading-lists", "notes-prompts", "block-colours", "csl", "link-citations")
# Metadata entries that are paths relative to the project root.
PATH_META = ("reading-lists", "notes-prompts", "csl")


# --------------------------------------------------------------------------------------------
# configuration


@dataclass
class BookConfig:
    project_dir: Path
    title: str
    subtitle: str | None
    authors: list[str]
    date: str | None
    lang: str
    chapters: list[Path]
    bibliography: list[Path]
    raw: dict[str, Any] = field(repr=False)


def _chapter_list(entries: list[Any]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, Mapping) and "chapters" in entry:  # a `part:` with chapters
            if entry.get("part"):
                yield str(entry["part"])
            yield from _chapter_list(entry["chapters"])
        else:
            raise RenderError("config", "_quarto.yml", f"cannot read chapter entry {entry!r}")


def load_config(project_dir: Path) -> BookConfig:
    path = Path(project_dir) / "_quarto.yml"
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise RenderError("config", str(path), "no _quarto.yml in the project directory") from None
    except yaml.YAMLError as exc:
        raise RenderError("config", str(path), f"invalid YAML: {exc}") from None
    book = raw.get("book") or {}
    if not book.get("title") or not book.get("chapters"):
        raise RenderError("config", str(path), "book.title and book.chapters are required")
    # Quarto's `appendices:` follow the chapters (Quarto letters them; this renderer keeps the order).
    entries = [*_chapter_list(book["chapters"]), *_chapter_list(book.get("appendices") or [])]
    chapters = [Path(project_dir) / c for c in entries]
    missing = [str(c) for c in chapters if not c.is_file()]
    if missing:
        raise RenderError("config", str(path), "chapter files missing: " + ", ".join(missing))
    author = book.get("author", raw.get("author", []))
    authors = [author] if isinstance(author, str) else [a if isinstance(a, str) else a.get("name", "") for a in author]
    bib = raw.get("bibliography", [])
    bibs = [Path(project_dir) / b for b in ([bib] if isinstance(bib, str) else bib)]
    for b in bibs:
        if not b.is_file():
            raise RenderError("config", str(path), f"bibliography {b} not found")
    date = book.get("date", raw.get("date"))
    return BookConfig(
        project_dir=Path(project_dir),
        title=str(book["title"]),
        subtitle=book.get("subtitle"),
        authors=authors,
        date=str(date) if date is not None else None,
        lang=str(raw.get("lang", "de")),
        chapters=chapters,
        bibliography=bibs,
        raw=raw,
    )


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_variables(project_dir: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The build's ``_build/variables.yml`` (else Quarto's ``_variables.yml``), if present, with
    ``overrides`` merged on top, key by key."""
    built = Path(project_dir) / "_build" / "variables.yml"
    path = built if built.is_file() else Path(project_dir) / "_variables.yml"
    base: dict[str, Any] = {}
    if path.is_file():
        try:
            base = load_yaml(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RenderError("config", str(path), f"invalid YAML: {exc}") from None
        if not isinstance(base, dict):
            raise RenderError("config", str(path), "must hold a mapping")
    return _deep_merge(base, overrides or {})


# --------------------------------------------------------------------------------------------
# pandoc


def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


# --------------------------------------------------------------------------------------------
# cache of earlier renders


class RenderCache:
    """What earlier renders of this project computed, by content hash: each chapter parsed and through the
    filter's chapter pass, and each HTML page. A prose edit changes one chapter's text, so only that chapter
    is parsed and filtered again and only its page (and pages whose content moved with it, e.g. numbers) is
    written again by pandoc; the filter's book pass and the PDF still see the whole book. A hit returns exactly the text pandoc wrote for the
    same input, so a book rendered from the cache is byte-identical to one rendered without it (the key
    holds the pandoc binary, the templates and this module's source as well as the input).
    Lives in ``_build/render-cache/``; entries no render used are removed at the end of a render."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.used: set[Path] = set()
        self.hits = self.misses = 0
        self._salt = ""
        if folder is not None:
            binary = Path(pandoc_path())
            info = binary.stat()
            parts = [str(binary), str(info.st_size), str(info.st_mtime_ns)]
            for path in (Path(__file__), HTML_TEMPLATE, FILTER):
                parts.append(hashlib.sha256(path.read_bytes()).hexdigest())
            self._salt = hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def key(self, *parts: str) -> str:
        digest = hashlib.sha256(self._salt.encode())
        for part in parts:
            digest.update(b"\0" + part.encode("utf-8"))
        return digest.hexdigest()

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / kind / f"{key}.json"  # type: ignore[operator]

    def get(self, kind: str, key: str) -> Any:
        if self.folder is None:
            return None
        path = self._path(kind, key)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.used.add(path)
        self.hits += 1
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        if self.folder is None:
            return
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        self.used.add(path)

    def prune(self) -> None:
        """Forget what this render did not use (an edited chapter's old parse, pages that changed)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.glob("*/*.json"):
            if path not in self.used:
                path.unlink(missing_ok=True)
        # the book filter's citeproc results (it names them itself): the last few citation sets
        memos = sorted(self.folder.glob("citeproc/*.citeproc"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for path in memos[CITEPROC_MEMOS_KEPT:]:
            path.unlink(missing_ok=True)
        lists = sorted(self.folder.glob("citeproc/*.list"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for path in lists[READING_LIST_MEMOS_KEPT:]:
            path.unlink(missing_ok=True)


# the quick page's skeletons and the book may differ in citations; a citation edit adds one more
CITEPROC_MEMOS_KEPT = 4
READING_LIST_MEMOS_KEPT = 64  # the book has one reading list per chapter


def render_cache_for(project_dir: Path) -> RenderCache:
    """The project's cache when it has a ``_build/`` folder (a build made it), else a cache that keeps nothing."""
    build = Path(project_dir) / "_build"
    return RenderCache(build / "render-cache" if build.is_dir() else None)


def _chapter_named(message: str, default: str) -> str:
    """The chapter the book filter names in ``message`` ("... (in chapters/07-x.qmd)"), else ``default``."""
    where = re.search(r"\(in ([^()]+\.qmd)\)", message)
    return where.group(1) if where else default


def run_pandoc(args: list[str], *, step: str, file: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [pandoc_path(), *args], input=stdin, capture_output=True, text=True, encoding="utf-8", cwd=cwd
    )
    if proc.returncode != 0:
        raise RenderError(step, _chapter_named(proc.stderr, file), proc.stderr or f"pandoc exited with {proc.returncode}")
    # Citeproc only warns about unknown keys and prints "(key?)"; a book must not ship that.
    unknown = re.findall(r"Citeproc: citation (\S+) not found", proc.stderr)
    if unknown:
        raise RenderError(step, file, "unknown citation keys: " + ", ".join(sorted(set(unknown))))
    # The book filter only warns about an unknown cross-reference (under Quarto a chapter cannot see
    # the others); the embedded renderer sees the whole book, so a "?@fig-x" in it is an error.
    warnings = re.findall(r"book\.lua: warning: (.+)", proc.stderr)
    if warnings:
        raise RenderError(step, _chapter_named(warnings[0], file), "; ".join(dict.fromkeys(warnings)))
    return proc.stdout


BATCH = PACKAGE_DIR / "filters" / "batch.lua"


def _runs(sizes: list[int], n: int) -> list[list[int]]:
    """The indices of ``sizes`` in order, cut into at most ``n`` runs of about equal total size."""
    share = sum(sizes) / max(1, min(n, len(sizes)))
    runs: list[list[int]] = [[]]
    filled = 0.0
    for i, size in enumerate(sizes):
        if runs[-1] and filled + size / 2 > share * len(runs) and len(runs) < n:
            runs.append([])
        runs[-1].append(i)
        filled += size
    return runs if sizes else []


_BATCH_STEPS = {"parse": "pandoc-parse", "filter": "pandoc-filter"}


def run_pandoc_batch(jobs: list[dict[str, Any]], files: list[str], *, step: str) -> list[str]:
    """The conversions ``jobs`` (see ``filters/batch.lua``; ``files[i]`` names the i-th one's source) in ``pandoc
    lua`` processes side by side, one per core, each taking a run of them in order; their outputs in order. One
    process per conversion would start the pandoc binary about forty times a render. A job that fails raises
    :class:`RenderError` naming its file."""
    sizes = [len(job.get("chapter") or job.get("write") or "") for job in jobs]
    outputs: list[str] = [""] * len(jobs)

    def run(indices: list[int]) -> None:
        named = files[indices[0]] if len(indices) == 1 else f"{files[indices[0]]} ... {files[indices[-1]]}"
        answers = json.loads(run_pandoc(["lua", str(BATCH)], step=step, file=named,
                                        stdin=json.dumps([jobs[i] for i in indices])))
        for i, answer in zip(indices, answers):
            if "error" in answer:
                raise RenderError(_BATCH_STEPS.get(answer.get("step"), step), _chapter_named(answer["error"], files[i]),
                                  answer["error"])
            outputs[i] = answer["ok"]

    runs = _runs(sizes, PANDOC_WORKERS)
    if len(runs) == 1:
        run(runs[0])
    elif runs:
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            list(pool.map(run, runs))
    return outputs


# --------------------------------------------------------------------------------------------
# pandoc JSON helpers

# element type -> position of its Attr in "c"
_ATTR_AT = {"Div": 0, "Span": 0, "Figure": 0, "Table": 0, "CodeBlock": 0, "Code": 0, "Image": 0, "Link": 0, "Header": 1}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every element (a dict with "t") under ``node``, in document order, parents first. A stack rather
    than nested generators: a book has about a million nodes, and the preview's quick page walks it."""
    stack = [node]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        if type(item) is dict:
            if "t" in item:
                yield item
            push([v for v in reversed(item.values()) if type(v) in (dict, list)])
        elif type(item) is list:
            push([v for v in reversed(item) if type(v) in (dict, list)])


def attr_of(el: dict[str, Any]) -> list[Any] | None:
    pos = _ATTR_AT.get(el["t"])
    if pos is None:
        return None
    return el["c"][pos] if pos == 0 else el["c"][1]


def plain_text(inlines: Any) -> str:
    parts = []
    for el in walk(inlines):
        if el["t"] == "Str":
            parts.append(el["c"])
        elif el["t"] in ("Space", "SoftBreak", "LineBreak"):
            parts.append(" ")
    return "".join(parts)


def _div(blocks: list[Any], classes: list[str], attrs: list[list[str]]) -> dict[str, Any]:
    return {"t": "Div", "c": [["", classes, attrs], blocks]}


def _meta_string(value: str) -> dict[str, Any]:
    return {"t": "MetaString", "c": value}


# --------------------------------------------------------------------------------------------
# building the combined document


@dataclass
class Chapter:
    source: Path
    rel: str
    blocks: list[Any]
    page: str = ""
    title: str = ""
    number: str | None = None
    classes: list[str] = field(default_factory=list)
    style: str = ""


def _copy_images(blocks: list[Any], chapter: Path, staging: Path) -> None:
    figures = staging / "figures"
    for el in walk(blocks):
        if el["t"] != "Image":
            continue
        target = el["c"][2]
        src = target[0]
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
            raise RenderError("images", str(chapter), f"image '{src}' is remote; the book must work offline")
        path = Path(src) if Path(src).is_absolute() else chapter.parent / src
        if not path.is_file():
            raise RenderError("images", str(chapter), f"image '{src}' not found ({path})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        name = f"{path.stem}-{digest}{path.suffix.lower()}"
        figures.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, figures / name)
        target[0] = f"figures/{name}"


_STAGING = "\u0000staging\u0000"  # stands for the render's temporary folder in cached parses


def _filtered_chapters(items: list[tuple[Path, str, str]], staging: Path, meta_file: Path, memo: str | None,
                       cache: RenderCache | None = None, inputs: str = "") -> list[dict[str, Any]]:
    """Each chapter ``(path, rel, text)`` parsed and put through the part of the book filter that depends on it
    alone (``book-pass=chapter``), then its images copied into ``staging``: the documents. Kept per chapter in the
    cache, so after a prose edit only the edited chapter is parsed and filtered again; the others in
    :func:`run_pandoc_batch` (one process per core, each parsing its chapters and filtering them in one run).
    ``inputs``: the digest of what else the filter reads (:func:`_filter_inputs_digest`), part of the key."""
    # The text names this render's temporary folder (embedded figures); the cache key must not.
    here = str(staging)
    in_json = json.dumps(here)[1:-1]
    keys = [cache.key("chapter", inputs, rel, text.replace(here, _STAGING)) if cache else "" for _, rel, text in items]
    texts: list[str | None] = [cache.get("chapter", key) if cache else None for key in keys]
    missing = [i for i, text in enumerate(texts) if text is None]
    metadata = {"book-pass": "chapter", **({"citeproc-memo": memo} if memo else {})}
    jobs = [{"chapter": items[i][2], "source": items[i][1], "filter": str(FILTER), "metadata_file": str(meta_file),
             "metadata": metadata} for i in missing]
    for i, text in zip(missing, run_pandoc_batch(jobs, [items[i][1] for i in missing], step="pandoc-filter")):
        texts[i] = text.replace(in_json, _STAGING)
        if cache:
            cache.put("chapter", keys[i], texts[i])
    docs = []
    for (path, _, _), text in zip(items, texts):
        doc = json.loads(text.replace(_STAGING, in_json))  # type: ignore[union-attr]
        _copy_images(doc["blocks"], path, staging)
        docs.append(doc)
    return docs


def _dedupe_header_ids(chapters: list[Chapter]) -> None:
    # pandoc makes header ids unique per file only; the joined book needs them unique overall
    seen: dict[str, int] = {}
    for ch in chapters:
        for el in walk(ch.blocks):
            if el["t"] != "Header":
                continue
            attr = el["c"][1]
            ident = attr[0]
            if not ident:
                continue
            if ident in seen:
                seen[ident] += 1
                attr[0] = f"{ident}-{seen[ident]}"
            else:
                seen[ident] = 1


def _metadata_file(cfg: BookConfig, staging: Path) -> Path:
    meta: dict[str, Any] = {k: cfg.raw[k] for k in PASSED_META if k in cfg.raw}
    meta["bibliography"] = [str(b) for b in cfg.bibliography]
    for key in PATH_META:
        if key in meta:
            meta[key] = str(cfg.project_dir / meta[key])
    meta.setdefault("link-citations", True)
    meta["lang"] = cfg.lang
    meta["title"] = cfg.title
    if cfg.subtitle:
        meta["subtitle"] = cfg.subtitle
    meta["author"] = cfg.authors
    if cfg.date:
        meta["date"] = display_date(cfg.date)
    path = staging / "metadata.yaml"
    path.write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return path


# Generated blocks that only their own page shows (a reading list has the bibliography formatted by citeproc).
_PAGE_ONLY_DIVS = {"reading-list", "notes-page"}


def _skeleton(blocks: list[Any]) -> list[Any]:
    """What the book filter needs of a chapter that is not being shown: headings, figures, tables and
    every block holding an anchor or a citation (numbering, cross-references, the bibliography), without
    the plain prose around them."""
    kept = []
    for block in blocks:
        kind = block.get("t")
        if kind == "Div":
            if _PAGE_ONLY_DIVS & set(block["c"][0][1]):
                continue
            kept.append({"t": "Div", "c": [block["c"][0], _skeleton(block["c"][1])]})
        elif kind in ("Header", "Figure", "Table") or (attr_of(block) or [""])[0]:
            kept.append(block)
        else:  # of a paragraph or list only its citations (@fig-x is one too) and its anchors
            marks = []
            for el in walk(block):
                if el["t"] == "Cite":
                    marks.append(el)
                elif el["t"] in ("Span", "Link", "Code", "Image") and (attr_of(el) or [""])[0]:
                    marks.append({"t": "Span", "c": [attr_of(el), []]})
            if marks:
                kept.append({"t": "Para", "c": marks})
    return kept


def _filter_inputs_digest(cfg: BookConfig, meta_file: Path) -> str:
    """The metadata the book filter reads and the content of every file it names (bibliography, style,
    reading lists, notes prompts): part of the key of a chapter's filtered blocks."""
    meta = load_yaml(meta_file.read_text(encoding="utf-8")) or {}
    paths = [*meta.get("bibliography", []), *(meta[k] for k in PATH_META if k in meta)]
    digest = hashlib.sha256(meta_file.read_bytes())
    for path in paths:
        file = Path(path)
        digest.update(b"\0" + str(path).encode() + b"\0" + (hashlib.sha256(file.read_bytes()).digest() if file.is_file() else b"-"))
    return digest.hexdigest()


def _citeproc_memo(cache: RenderCache | None, inputs: str) -> str | None:
    """Where the filter keeps the last citeproc results (bibliography, reading lists) for the same citations."""
    if not cache or cache.folder is None:
        return None
    (cache.folder / "citeproc").mkdir(parents=True, exist_ok=True)
    return str(cache.folder / "citeproc" / cache.key("citeproc", inputs))


def build_document(cfg: BookConfig, variables: Mapping[str, Any], staging: Path, executed_dir: Path | None,
                   cache: RenderCache | None = None, *, whole: set[str] | None = None,
                   on_book_input: Callable[[str, list[str]], Any] | None = None):
    """Parse and filter the book. ``whole``: render only these chapters (paths as in _quarto.yml) in full
    and the others as a skeleton (:func:`_skeleton`) -- the preview's quick page, never the book.
    ``on_book_input(json, args)``: called with the book pass's input and pandoc arguments as soon as they are
    known, before the book pass runs (the PDF runs its own book pass from them, see :func:`render_pdf`)."""
    embedder = NotebookEmbedder(executed_dir, staging / "media") if executed_dir is not None else None
    # Shortcodes one after another (the embedder writes media files and caches notebooks), then the chapters
    # parsed and filtered in pandoc processes side by side.
    resolved = []
    with timed("render", "shortcodes"):
        for path in cfg.chapters:
            rel = path.relative_to(cfg.project_dir).as_posix()
            text = resolve_shortcodes(path.read_text(encoding="utf-8"), source=Path(rel), variables=variables, embed=embedder)
            resolved.append((path, rel, text))
    meta_file = _metadata_file(cfg, staging)
    inputs = _filter_inputs_digest(cfg, meta_file) if cache else ""
    memo = _citeproc_memo(cache, inputs)
    with timed("render", "pandoc-chapters"):
        docs = _filtered_chapters(resolved, staging, meta_file, memo, cache, inputs)
    chapters: list[Chapter] = [Chapter(source=path, rel=rel, blocks=doc["blocks"]) for (path, rel, _), doc in zip(resolved, docs)]
    _dedupe_header_ids(chapters)
    # the JSON the filter reads must name the binary's API version: a parse names it (a cached one too: the
    # cache's key names the binary), and load_config makes sure there is a chapter
    version = docs[0]["pandoc-api-version"]
    if whole is not None:
        for ch in chapters:
            if ch.rel not in whole:
                ch.blocks = _skeleton(ch.blocks)
    with_blocks = {
        "pandoc-api-version": version,
        "meta": {},
        "blocks": [_div(ch.blocks, ["book-chapter"], [["source", ch.rel]]) for ch in chapters],
    }
    # the filter runs citeproc itself, as its last step (it then marks each entry's language)
    book_args = ["-f", "json", "--metadata-file", str(meta_file), "-M", "book-pass=book",
                 *(["-M", f"citeproc-memo={memo}"] if memo else []), "--lua-filter", str(FILTER)]
    book_input = json.dumps(with_blocks)
    if on_book_input is not None:
        on_book_input(book_input, book_args)
    with timed("render", "pandoc-filter"):
        filtered = run_pandoc([*book_args, "-t", "json"], step="pandoc-filter", file="book (all chapters)",
                              stdin=book_input, cwd=cfg.project_dir)
    doc = json.loads(filtered)
    out: list[Chapter] = []
    for block in doc["blocks"]:
        if block["t"] == "Div" and "book-chapter" in block["c"][0][1]:
            source = dict(block["c"][0][2])["source"]
            ch = next(c for c in chapters if c.rel == source)
            ch.blocks = block["c"][1]
            out.append(ch)
        elif out:  # anything citeproc appended lands in the last chapter
            out[-1].blocks.append(block)
    for ch in out:
        stem = Path(ch.rel).stem
        ch.page = "index.html" if stem == "index" else f"{stem}.html"
        head = next((el for el in walk(ch.blocks) if el["t"] == "Header" and el["c"][0] == 1), None)
        if head is None:
            raise RenderError("structure", ch.rel, "chapter has no level-1 heading (# Titel)")
        attrs = dict(head["c"][1][2])
        ch.number = attrs.get("number")
        inlines = head["c"][2]
        if ch.number and inlines and inlines[0]["t"] == "Span":
            inlines = inlines[1:]  # title without the number span the filter put in front
        ch.title = plain_text(inlines).strip()
        ch.classes = [c for c in head["c"][1][1] if c.startswith("block-")]
        ch.style = attrs.get("style", "")
    return doc, out


# --------------------------------------------------------------------------------------------
# HTML


def _nav_html(chapters: list[Chapter], current: Chapter) -> str:
    items = []
    for ch in chapters:
        number = f'<span class="chapter-number">{html.escape(ch.number)}</span>' if ch.number else ""
        cur = ' aria-current="page"' if ch is current else ""
        items.append(f'<li><a href="{ch.page}"{cur}>{number}{html.escape(ch.title)}</a></li>')
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def _pager_html(prev: Chapter | None, nxt: Chapter | None) -> str:
    parts = []
    if prev:
        parts.append(f'<a class="prev" rel="prev" href="{prev.page}">← {html.escape(prev.title)}</a>')
    else:
        parts.append("<span></span>")
    if nxt:
        parts.append(f'<a class="next" rel="next" href="{nxt.page}">{html.escape(nxt.title)} →</a>')
    return "\n".join(parts)



# --------------------------------------------------------------------------------------------
# HTML: figures as inline SVG with real text, their data, scrollable tables, the list of figures

# Smallest size of chart text on a screen (CSS px); a figure is never shown narrower than this allows
# and scrolls sideways inside its column instead.
MIN_CHART_TEXT_PX = 11
LISTS_PAGE = "verzeichnisse.html"
LISTS_TITLE = "Abbildungen und Tabellen"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE_DEJAVU")

_FIGURE_IMG = re.compile(
    r'<figure id="(?P<id>fig-[^"]+)">\s*<img src="(?P<src>figures/[^"]+\.svg)"\s*alt="(?P<alt>[^"]*)"\s*/>',
    re.S)
_FONT_SIZE = re.compile(r"font(?:-size)?:\s*(?:[a-z]+\s+)*(?P<size>\d+(?:\.\d+)?)px")


def svg_min_width(svg: str) -> float | None:
    """CSS px below which the SVG's smallest text would be under MIN_CHART_TEXT_PX, or None when
    the SVG has no text. Sizes are in the viewBox's units, as matplotlib writes them."""
    sizes = [float(m.group("size")) for m in _FONT_SIZE.finditer(svg)]
    box = re.search(r'viewBox="[\d.\-]+ [\d.\-]+ (?P<w>[\d.]+) [\d.]+"', svg)
    if not sizes or not box:
        return None
    return MIN_CHART_TEXT_PX * float(box.group("w")) / min(sizes)


_SVG_ID_OR_REF = re.compile(r'(\bid="|#)([^"()#]+)([")])')


@functools.lru_cache(maxsize=256)  # a process that renders again (the preview) rewrites each figure once
def inline_svg(svg: str, prefix: str, label: str) -> str:
    """An SVG file as an element of the page: no XML prolog, ids unique on the page, scaled by CSS,
    announced as one image with ``label``."""
    svg = re.sub(r"^.*?(?=<svg\b)", "", svg, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    # every id and every reference to one (url(#x), href="#x"), in one pass over the file
    svg = _SVG_ID_OR_REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}{m[3]}" if m[2] in ids else m[0], svg)
    min_width = svg_min_width(svg)
    style = f' style="min-width: {min_width:.0f}px"' if min_width else ""
    svg = re.sub(r'<svg\b([^>]*?)\swidth="[^"]*"', r"<svg\1", svg, count=1)
    svg = re.sub(r'<svg\b([^>]*?)\sheight="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{label}"{style}', 1)


_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")


def german_cell(text: str) -> str:
    """A CSV cell as the book prints numbers: decimal comma, at most four decimals, ja/nein for flags.
    Whole numbers and text stay as they are; the CSV link keeps the exact values."""
    if text in ("True", "False"):
        return "ja" if text == "True" else "nein"
    if _INTEGER.match(text) or not _DECIMAL.match(text):
        return text
    from .. import formatting as fmt

    value = float(text)
    shown = fmt.number(value, 4)
    if "," in shown:
        shown = shown.rstrip("0").rstrip(",")
    return shown


# CSV content -> its tables: a process that renders again (preview) formats a figure's data only when it changed
_DATA_TABLES: dict[bytes, str] = {}


def data_table_html(csv_path: Path) -> str:
    """The figure's tidy values as HTML tables: the plotted values, then the U-tests where present;
    columns that are empty in a part are left out; numbers in German notation (:func:`german_cell`)."""
    raw = csv_path.read_bytes()
    key = hashlib.sha256(raw).digest()
    tables = _DATA_TABLES.get(key)
    if tables is None:  # pages are written in threads: no look-up after a store another thread may clear
        if len(_DATA_TABLES) > 1000:
            _DATA_TABLES.clear()
        tables = _DATA_TABLES[key] = _data_table_html(raw)
    return tables


def _data_table_html(raw: bytes) -> str:
    # The csv module and the markup of pandas' DataFrame.to_html(index=False) (tests/test_render.py compares
    # the two on every figure's data): the render never needs pandas, whose import and to_html took half a
    # second of every clean render.
    import csv
    import io

    columns, *rows = [row for row in csv.reader(io.StringIO(raw.decode("utf-8"))) if row]
    rows = [[german_cell(cell) for cell in row] + [""] * (len(columns) - len(row)) for row in rows]
    parts: dict[str, list[list[str]]] = {"": rows}
    if "section" in columns:  # the plotted values, then the U-tests, in the order of the file
        at = columns.index("section")
        columns = columns[:at] + columns[at + 1:]
        parts = {}
        for row in rows:
            parts.setdefault(row[at], []).append(row[:at] + row[at + 1:])
    out = []
    for name, part in parts.items():
        keep = [i for i in range(len(columns)) if any(row[i] for row in part)]  # no column empty in this part
        caption = {"values": "Werte", "utest": "U-Tests"}.get(name, "")
        out.append('<div class="table-scroll">' + _html_table([columns[i] for i in keep],
                                                                [[row[i] for i in keep] for row in part], caption) + "</div>")
    return "\n".join(out)


def _html_table(columns: list[str], rows: list[list[str]], caption: str = "") -> str:
    def cell(tag: str, text: str) -> str:
        return f"      <{tag}>{html.escape(text, quote=False)}</{tag}>"

    lines = ['<table class="dataframe figure-data-table">' + (f"<caption>{caption}</caption>" if caption else ""),
             "  <thead>", '    <tr style="text-align: right;">', *(cell("th", c) for c in columns), "    </tr>",
             "  </thead>", "  <tbody>"]
    for row in rows:
        lines += ["    <tr>", *(cell("td", v) for v in row), "    </tr>"]
    lines += ["  </tbody>", "</table>"]
    return "\n".join(lines)


def wrap_tables(body: str) -> str:
    """Every table in a horizontally scrolling box, so a wide table never widens the page."""
    out, pos = [], 0
    for m in re.finditer(r"<table\b.*?</table>", body, flags=re.S):
        before = body[max(0, m.start() - 40):m.start()]
        out.append(body[pos:m.start()])
        out.append(m.group(0) if 'class="table-scroll">' in before else f'<div class="table-scroll">{m.group(0)}</div>')
        pos = m.end()
    out.append(body[pos:])
    return "".join(out)


def figures_html(body: str, out_dir: Path, results_dir: Path | None, data_dir: Path) -> str:
    """Inline every SVG figure and put its data behind it (a collapsible table and the CSV)."""

    def replace(m: re.Match) -> str:
        ident, src, alt = m.group("id"), m.group("src"), m.group("alt")
        svg = (out_dir / src).read_text(encoding="utf-8")
        label = ident.removeprefix("fig-")
        csv = next(iter(sorted(results_dir.glob(f"*/{label}.csv"))), None) if results_dir else None
        note = " Die Werte stehen in der Tabelle unter der Abbildung." if csv else ""
        head = f'<figure id="{ident}">\n<div class="figure-scroll">{inline_svg(svg, ident, alt + html.escape(note))}</div>'
        if csv is None:
            return head
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(csv, data_dir / csv.name)
        caption_end = body.find("</figcaption>", m.end())
        return head, csv, caption_end

    out, pos = [], 0
    for m in _FIGURE_IMG.finditer(body):
        result = replace(m)
        out.append(body[pos:m.start()])
        if isinstance(result, str):
            out.append(result)
            pos = m.end()
            continue
        head, csv, caption_end = result
        out.append(head)
        end = caption_end + len("</figcaption>")
        caption = body[m.end():end]
        number = re.search(r"(Abb\.(?:&nbsp;|\s|\u00a0)*\d+)", caption)
        title = f"Daten zu {number.group(1)}" if number else "Daten zur Abbildung"
        out.append(caption)
        out.append(f'\n<details class="figure-data"><summary>{title} (Tabelle; <a href="data/{csv.name}">CSV</a>)</summary>\n'
                   + data_table_html(csv) + "\n</details>")
        pos = end
    out.append(body[pos:])
    return "".join(out)


def lists_chapter(chapters: list[Chapter]) -> Chapter:
    """The HTML page listing every figure and table with a link to it, in book order."""
    entries: dict[str, list[Any]] = {"fig": [], "tbl": []}
    for ch in chapters:
        for el in walk(ch.blocks):
            attr = attr_of(el)
            ident = attr[0] if attr else ""
            kind = ident[:3]
            if kind not in entries or el["t"] not in ("Figure", "Div", "Table"):
                continue
            caption = next((c for c in walk(el) if c["t"] in ("Figure", "Table")), None)
            if caption is None:
                continue
            text = plain_text(caption["c"][1][1]).strip()
            if text:
                link = {"t": "Link", "c": [["", [], []], [{"t": "Str", "c": text}], [f"{ch.page}#{ident}", ""]]}
                entries[kind].append([{"t": "Plain", "c": [link]}])
    blocks: list[Any] = [{"t": "Header", "c": [1, ["verzeichnisse", [], []], [{"t": "Str", "c": LISTS_TITLE}]]}]
    for kind, heading in (("fig", "Abbildungen"), ("tbl", "Tabellen")):
        if entries[kind]:
            blocks.append({"t": "Header", "c": [2, [f"liste-{kind}", [], []], [{"t": "Str", "c": heading}]]})
            blocks.append({"t": "BulletList", "c": entries[kind]})
    return Chapter(source=Path(LISTS_PAGE), rel=LISTS_PAGE, blocks=blocks, page=LISTS_PAGE, title=LISTS_TITLE)


def _results_digest(results_dir: Path | None) -> str:
    """The figures' data tables (CSV) a page shows, as one digest: part of every cached page's key."""
    digest = hashlib.sha256()
    for path in sorted(results_dir.glob("*/*.csv")) if results_dir else []:
        digest.update(f"{path.relative_to(results_dir).as_posix()}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


_DATA_LINK = re.compile(r'<a href="data/([^"/]+\.csv)">')


def render_html(cfg: BookConfig, doc: dict[str, Any], chapters: list[Chapter], staging: Path, out_dir: Path,
                cache: RenderCache | None = None, *, only: set[str] | None = None,
                on_html: Callable[[Path], Any] | None = None) -> Path:
    """Write the HTML pages (``only``: of these chapters) and return ``out_dir/index.html``; ``on_html`` is called
    as soon as they are written. The links between pages are set here, in ``chapters``' blocks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if (staging / "figures").is_dir():
        shutil.copytree(staging / "figures", out_dir / "figures", dirs_exist_ok=True)
    results_dir = cfg.project_dir / "_build" / "results"
    # the list of figures and tables comes right after the home page
    chapters = [*chapters[:1], lists_chapter(chapters), *chapters[1:]]
    # One walk over the book (it has about a million nodes): which page holds each anchor, and of the pages
    # written (the quick page: one of them) their links to anchors and their listed second-level headings.
    page_of: dict[str, str] = {}
    links: dict[str, list[dict[str, Any]]] = {}
    listed_h2: dict[str, int] = {}
    for ch in chapters:
        shown = only is None or ch.rel in only
        own_links = links.setdefault(ch.rel, [])
        h2 = 0
        for el in walk(ch.blocks):
            attr = attr_of(el)
            if attr and attr[0]:
                page_of.setdefault(attr[0], ch.page)
            if shown:
                kind = el["t"]
                if kind == "Link":
                    own_links.append(el)
                elif kind == "Header" and el["c"][0] == 2 and "unlisted" not in el["c"][1][1]:
                    h2 += 1
        listed_h2[ch.rel] = h2
    for ch in chapters:  # pointed at other pages once every anchor's page is known
        for el in links[ch.rel]:
            url = el["c"][2][0]
            if url.startswith("#") and page_of.get(url[1:], ch.page) != ch.page:
                el["c"][2][0] = page_of[url[1:]] + url
    jobs = []
    for i, ch in enumerate(chapters):
        if only is not None and ch.rel not in only:
            continue
        page = {"pandoc-api-version": doc["pandoc-api-version"], "meta": {}, "blocks": ch.blocks}
        variables = {
            "pagetitle": html.escape(ch.title), "lang": cfg.lang, "book-title": html.escape(cfg.title),
            "book-nav": _nav_html(chapters, ch),
            "pager": _pager_html(chapters[i - 1] if i else None, chapters[i + 1] if i + 1 < len(chapters) else None),
            "body-class": " ".join(ch.classes),
        }
        if ch.page == "index.html":
            variables.update({"title-block": "true", "book-author": html.escape(", ".join(cfg.authors))})
            if cfg.subtitle:
                variables["book-subtitle"] = html.escape(cfg.subtitle)
            if cfg.date:
                variables["book-date"] = html.escape(display_date(cfg.date))
        # pandoc's HTML writer with the book's template, as `pandoc -f json -t html5 --template ... -V name=value
        # [--toc --toc-depth=3]` (see filters/batch.lua)
        job = {"template": str(HTML_TEMPLATE), "variables": variables, "toc_depth": 3 if listed_h2[ch.rel] >= 2 else None}
        jobs.append((ch, job, json.dumps(page)))

    results = results_dir if results_dir.is_dir() else None
    data_key = _results_digest(results) if cache else ""
    keys = [cache.key("html", json.dumps(job, sort_keys=True), stdin, data_key) if cache else "" for _, job, stdin in jobs]
    bodies = [cache.get("html", key) if cache else None for key in keys]
    missing = [i for i, body in enumerate(bodies) if body is None]
    written = run_pandoc_batch([{**jobs[i][1], "write": jobs[i][2]} for i in missing], [jobs[i][0].rel for i in missing],
                               step="pandoc-html")
    for i, body in zip(missing, written):
        bodies[i] = figures_html(wrap_tables(body), out_dir, results, out_dir / "data")
        if cache:
            cache.put("html", keys[i], bodies[i])
    fresh = set(missing)
    for i, ((ch, _, _), body) in enumerate(zip(jobs, bodies)):
        if i not in fresh:  # the data tables figures_html would have copied beside the page
            (out_dir / "data").mkdir(exist_ok=True)
            for name in _DATA_LINK.findall(body):
                shutil.copyfile(sorted(results.glob(f"*/{name}"))[0], out_dir / "data" / name)
        if ch.style:
            body = body.replace('<body class="', f'<body style="{html.escape(ch.style)}" class="', 1)
        (out_dir / ch.page).write_text(body, encoding="utf-8")
    (out_dir / "assets").mkdir(exist_ok=True)
    shutil.copyfile(CSS, out_dir / "assets" / "book.css")
    # the charts' text is set in DejaVu Sans: the browser gets the same font file as Typst
    for name in FONT_FILES:
        shutil.copyfile(Path(font_dirs()[0]) / name, out_dir / "assets" / name)
    if on_html is not None:
        on_html(out_dir / "index.html")
    return out_dir / "index.html"


# --------------------------------------------------------------------------------------------
# PDF


def font_dirs() -> list[str]:
    """Fonts shipped in a pip wheel (matplotlib's DejaVu), so the PDF never depends on the system."""
    import importlib.util

    # found without importing matplotlib (a fifth of a second a render does not need)
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RenderError("fonts", "matplotlib", "matplotlib (whose DejaVu fonts the book uses) is not installed")
    return [str(Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf")]


def creation_timestamp(cfg: BookConfig) -> int:
    """SOURCE_DATE_EPOCH when set (reproducible-builds convention), else the book's date."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    if cfg.date:
        try:
            day = dt.date.fromisoformat(cfg.date)
        except ValueError:
            raise RenderError("config", "_quarto.yml", f"book.date '{cfg.date}' is not an ISO date") from None
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    return 0


_MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
              "Oktober", "November", "Dezember")


def display_date(value: str | None) -> str | None:
    """'2026-11-26' -> '26. November 2026'; anything that is not an ISO date stays as written."""
    if not value:
        return value
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day.day}. {_MONTHS_DE[day.month - 1]} {day.year}"


def _typst_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_pdf(cfg: BookConfig, book_input: str, book_args: list[str], staging: Path, out_dir: Path) -> Path:
    """Write the PDF: the book pass of :func:`build_document` (its input and arguments) in a pandoc run of its
    own, beside the one for the HTML pages, with the filter's ``book-output=pdf`` (the chapters one after
    another, the imprint as metadata, links inside the PDF) and pandoc's Typst writer; then Typst."""
    import typst

    slug = re.sub(r"[^a-z0-9]+", "-", cfg.title.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")).strip("-")
    typ_path = staging / "book.typ"
    with timed("render", "pandoc-book-typst"):
        run_pandoc(
            [
                *book_args, "-M", "book-output=pdf",
                "-t", "typst-citations", "--template", str(TYPST_TEMPLATE), "-o", str(typ_path),
                "-V", f"pdf-title={_typst_string(cfg.title)}",
                "-V", f"pdf-author={_typst_string(', '.join(cfg.authors))}",
            ],
            step="pandoc-typst",
            file="book (all chapters)",
            stdin=book_input,
            cwd=cfg.project_dir,
        )
    try:
        with timed("render", "typst-compile"):
            pdf = typst.compile(
                str(typ_path),
                root=str(staging),
                font_paths=font_dirs(),
                ignore_system_fonts=True,
                timestamp=creation_timestamp(cfg),
            )
    except Exception as exc:  # typst.TypstError carries the diagnostic text
        # keep the generated source: the staging folder disappears, the error must point at a file
        out_dir.mkdir(parents=True, exist_ok=True)
        kept = out_dir / f"{slug}.typ"
        shutil.copyfile(typ_path, kept)
        detail = "\n".join(filter(None, [getattr(exc, "message", ""), getattr(exc, "diagnostic", ""), str(exc)]))
        raise RenderError("typst", str(kept), detail) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf_path = out_dir / f"{slug}.pdf"
    pdf_path.write_bytes(pdf)
    return pdf_path


# --------------------------------------------------------------------------------------------


def render_pages(project_dir: Path, book_dir: Path, changed: list[Path], variables: Mapping[str, Any] | None = None,
                 *, executed_dir: Path | None = None) -> list[Path]:
    """The preview's quick step: write the HTML pages of the ``changed`` chapters into the existing ``book_dir``
    at once, the other chapters filtered as skeletons (their headings, figures, anchors and citations, so
    numbers and cross-references come out as in the book). The full render that follows makes the book.
    Returns the pages written; nothing is written when a chapter is not part of the book."""
    project_dir, book_dir = Path(project_dir).resolve(), Path(book_dir).resolve()
    cfg = load_config(project_dir)
    rels = {Path(p).resolve().relative_to(project_dir).as_posix() for p in changed}
    if not rels or not rels <= {c.relative_to(project_dir).as_posix() for c in cfg.chapters} or not book_dir.is_dir():
        return []
    merged = load_variables(project_dir, variables)
    if executed_dir is None and (project_dir / "_build" / "notebooks").is_dir():
        executed_dir = project_dir / "_build" / "notebooks"
    cache = render_cache_for(project_dir)
    with tempfile.TemporaryDirectory(prefix="clusterkrise-page-") as tmp:
        staging, out = Path(tmp) / "staging", Path(tmp) / "out"
        staging.mkdir()
        doc, chapters = build_document(cfg, merged, staging, executed_dir, cache, whole=rels)
        render_html(cfg, doc, chapters, staging, out, only=rels)
        for sub in ("figures", "data"):  # a new figure of the page; its data table
            for path in sorted((out / sub).glob("*")) if (out / sub).is_dir() else []:
                target = book_dir / sub / path.name
                if sub == "data" or not target.exists():
                    target.parent.mkdir(exist_ok=True)
                    shutil.copyfile(path, target)
        written = []
        for ch in chapters:
            if ch.rel in rels:
                os.replace(out / ch.page, book_dir / ch.page)  # whole files: a reader never sees half a page
                written.append(book_dir / ch.page)
    return written


def prime(project_dir: Path, executed_dir: Path | None = None) -> None:
    """Fill this process's memos as a render would: the executed notebooks, read and indexed, and the figures'
    data tables. The preview calls it while it waits for the first edit, so that edit's page is quick too.
    Changes no output: a memo returns what it would compute."""
    from .shortcodes import read_indexed

    project_dir = Path(project_dir)
    executed_dir = Path(executed_dir) if executed_dir else project_dir / "_build" / "notebooks"
    for path in sorted(executed_dir.glob("*.ipynb")) if executed_dir.is_dir() else []:
        read_indexed(path)
    for csv in sorted((project_dir / "_build" / "results").glob("*/*.csv")):
        data_table_html(csv)


QUARTO_FORMATS = {"html": "html", "pdf": "typst"}
# Set for Quarto's pre-render step when the caller has executed the notebooks already (with its own
# parameters): scripts/quarto-pre-render.py then leaves _build/ and _variables.yml alone.
PRERENDER_DONE_ENV = "CLUSTERKRISE_PRERENDER_DONE"


def quarto_path() -> str | None:
    return shutil.which("quarto")


def _render_with_quarto(project_dir: Path, out_dir: Path, formats: tuple[str, ...],
                        variables: Mapping[str, Any] | None) -> dict[str, Path]:
    quarto = quarto_path()
    if not quarto:
        raise RenderError("quarto", str(project_dir), "engine 'quarto' needs the quarto command on PATH (or use the embedded engine)")
    if variables is not None:
        # Quarto reads {{< var >}} values from _variables.yml at the root (git-ignored)
        (project_dir / "_variables.yml").write_text(
            "# Generated by clusterkrise for `quarto render`. Do not edit.\n"
            + yaml.safe_dump(dict(variables), allow_unicode=True, sort_keys=True), encoding="utf-8")
    args = [quarto, "render", "--output-dir", str(out_dir)]
    if set(formats) != set(QUARTO_FORMATS):
        args += ["--to", QUARTO_FORMATS[formats[0]]]
    env = dict(os.environ, **{PRERENDER_DONE_ENV: "1"})
    proc = subprocess.run(args, cwd=project_dir, capture_output=True, text=True, encoding="utf-8", env=env)
    if proc.returncode != 0:
        raise RenderError("quarto", str(project_dir), (proc.stderr or proc.stdout)[-4000:])
    results: dict[str, Path] = {}
    for fmt in formats:
        found = sorted(out_dir.glob("*.pdf" if fmt == "pdf" else "index.html"))
        if not found:
            raise RenderError("quarto", str(project_dir), f"quarto render wrote no {fmt} into {out_dir}")
        results[fmt] = found[0]
    return results


def render_book(
    project_dir: Path,
    out_dir: Path,
    formats: tuple[str, ...] | list[str] = ("html", "pdf"),
    variables: Mapping[str, Any] | None = None,
    *,
    executed_dir: Path | None = None,
    engine: str = "embedded",
    on_html: Callable[[Path], Any] | None = None,
) -> dict[str, Path]:
    """Render the book of ``project_dir`` into ``out_dir``.

    Returns ``{"html": out_dir/"index.html", "pdf": out_dir/"<title>.pdf"}`` for the formats asked.
    ``variables`` override ``_variables.yml`` for ``{{< var >}}``; ``executed_dir`` holds the
    executed notebooks for ``{{< embed >}}`` (default ``project_dir/_build/notebooks`` when present).
    ``engine``: "embedded" (pandoc + typst from the wheels) or "quarto" (``quarto render``, which
    reads ``_variables.yml`` and the executed notebooks under ``_build/notebooks``).
    ``on_html(index_html)`` is called once the HTML pages are written, before the PDF is made (the preview
    shows them at once). Chapter parses and HTML pages of earlier renders are reused from
    ``_build/render-cache/`` when their input is unchanged (:class:`RenderCache`).
    Raises :class:`RenderError` naming the step and file that failed.
    """
    project_dir, out_dir = Path(project_dir).resolve(), Path(out_dir).resolve()
    formats = tuple(formats)
    unknown = set(formats) - {"html", "pdf"}
    if unknown:
        raise RenderError("config", "render_book", f"unknown formats {sorted(unknown)} (html, pdf)")
    if engine == "quarto":
        return _render_with_quarto(project_dir, out_dir, formats, variables)
    if engine != "embedded":
        raise RenderError("config", "render_book", f"unknown engine '{engine}' (embedded, quarto)")
    cfg = load_config(project_dir)
    merged = load_variables(project_dir, variables)
    if executed_dir is None and (project_dir / "_build" / "notebooks").is_dir():
        executed_dir = project_dir / "_build" / "notebooks"
    cache = render_cache_for(project_dir)
    with tempfile.TemporaryDirectory(prefix="clusterkrise-render-") as tmp, ThreadPoolExecutor(max_workers=1) as side:
        staging = Path(tmp)
        pdf = []  # the PDF starts with its own book pass, beside the book pass of the HTML pages: two cores

        def start_pdf(book_input: str, book_args: list[str]) -> None:
            pdf.append(side.submit(render_pdf, cfg, book_input, book_args, staging, out_dir))

        doc, chapters = build_document(cfg, merged, staging, Path(executed_dir) if executed_dir else None, cache,
                                       on_book_input=start_pdf if "pdf" in formats else None)
        results: dict[str, Path] = {}
        if "html" in formats:
            with timed("render", "html"):
                results["html"] = render_html(cfg, doc, chapters, staging, out_dir, cache, on_html=on_html)
        if pdf:
            with timed("render", "pdf-wait"):
                results["pdf"] = pdf[0].result()
    if "html" in formats:  # an HTML-only render keeps nothing of a PDF, so only a full one may prune
        cache.prune()
    return results

"""Build pipeline: execute the analysis notebooks (with a content-hash cache), merge their values, render the book.

Layout under the project root (see docs/architecture.md):

``_build/notebooks/<name>.ipynb``  executed notebooks
``_build/results/<chapter>/``      files the notebooks write into ``output_dir`` (figures, tables, values.json)
``_build/logs/<step>-<name>.log``  full traceback of the last failure of a step (a successful build removes older ones)
``_build/build.lock``              held by the running build (:mod:`.procs`): one build at a time per checkout
``_build/cache.json``              the cache manifest (content hashes, parsed imports)
``_build/cache/figures/``          figures drawn before, by content (:mod:`.figcache`), the most recently used
                                   up to FIGURE_CACHE_BYTES
``_build/variables.yml``           every ``values.json`` (printed texts, under ``chNN``) merged, plus
                                   ``study``: the numbers the original study printed (registry)
                                   (copied to ``_variables.yml`` for Quarto with ``--for-quarto``)
``_book/``                         the rendered book, replaced only after a successful render

The module imports nothing heavy at import time: a no-op rebuild has to finish in well under a second, and
papermill alone takes about that long to import.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import functools
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TextIO

CACHE_VERSION = 2  # 2: entries carry the sha256 of every cached output ("files")
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
# Used for SOURCE_DATE_EPOCH when the project is not a git checkout: 2020-01-01T00:00:00Z, the study's year.
FALLBACK_SOURCE_DATE_EPOCH = 1577836800
# Parameters the build sets itself; a user value would send results where the build does not look.
BUILD_OWNED_PARAMETERS = ("output_dir",)
DEFAULT_FORMATS = ("html", "pdf")
KNOWN_FORMATS = ("html", "pdf")
# Top-level folders that never feed the rendered book (or that the build writes itself).
_RENDER_SKIP_DIRS = {"notebooks", "tests", "benchmarks", "node_modules", "__pycache__"}

RenderFn = Callable[..., Mapping[str, Path]]
ValidateFn = Callable[[Path], Any]


class BuildError(Exception):
    """A build step failed. ``str(error)`` is the complete message for the user."""

    def __init__(self, step: str, message: str, *, chapter: str | None = None, log: Path | None = None):
        self.step = step
        self.chapter = chapter
        self.log = log
        self.detail = message
        self.also: list[BuildError] = []  # further failures of the same run (notebooks run in parallel)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" in {self.chapter}" if self.chapter else ""
        text = f"{self.step} failed{where}: {self.detail}"
        if self.log is not None:
            text += f"\n  full traceback: {self.log}"
        return "\n".join([text, *(str(other) for other in self.also)])


@dataclass(frozen=True)
class Layout:
    """Where the build reads and writes, relative to one project root."""

    root: Path

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def build(self) -> Path:
        return self.root / "_build"

    @property
    def executed(self) -> Path:
        return self.build / "notebooks"

    @property
    def results(self) -> Path:
        return self.build / "results"

    @property
    def staging(self) -> Path:
        return self.build / ".staging"

    @property
    def logs(self) -> Path:
        return self.build / "logs"

    @property
    def manifest(self) -> Path:
        return self.build / "cache.json"

    @property
    def kernels_record(self) -> Path:
        """The running warm-kernel factory (PID, start time, temporary folder), for ending a stale one."""
        return self.build / "kernels.json"

    @property
    def book(self) -> Path:
        return self.root / "_book"

    @property
    def variables_file(self) -> Path:
        # Generated, so it lives with the other build products; Quarto reads the copy below.
        return self.build / "variables.yml"

    @property
    def quarto_variables_file(self) -> Path:
        """Where Quarto looks for ``{{< var >}}`` values; written only on request (``--for-quarto``)."""
        return self.root / "_variables.yml"

    @property
    def lib(self) -> Path:
        return self.root / "lib" / "clusterkrise"

    @property
    def data(self) -> Path:
        return self.root / "data"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder (from ``start`` upwards) holding ``_quarto.yml`` or ``notebooks/``; else the package's."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "_quarto.yml").is_file() or (candidate / "notebooks").is_dir():
            return candidate
    from . import PROJECT_ROOT

    return PROJECT_ROOT


def _locked(function: Callable[..., Any]) -> Callable[..., Any]:
    """Hold the checkout's build lock (:func:`.procs.build_lock`, which nests) while ``function`` runs: one build
    at a time per checkout, whether it comes from the command line, a test or a script."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from . import procs

        where = args[0] if args else kwargs.get("layout", kwargs.get("root"))
        layout = where if isinstance(where, Layout) else Layout(Path(where).resolve() if where else find_project_root())
        with procs.build_lock(layout.build):
            return function(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------------------------------------------
# Notebooks and parameters


@dataclass
class Notebook:
    path: Path
    parameters: dict[str, Any]  # name -> default value (the literal, or its source text when not a literal)
    parameters_cell: int | None  # index of the cell tagged "parameters"
    code: list[str]  # sources of the code cells, for the import scan

    @property
    def name(self) -> str:
        return self.path.stem


def _cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _python_only(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so ast can read the rest of the cell.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def read_notebook(path: Path) -> Notebook:
    """Read a notebook's parameters cell and code without importing papermill (that import costs ~1 s)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        cells = document["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise BuildError("execute", f"cannot read notebook {path}: {error}", chapter=path.stem) from error
    parameters: dict[str, Any] = {}
    parameters_cell = None
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            parameters_cell = index
            try:
                tree = ast.parse(_python_only(_cell_source(cell)))
            except SyntaxError as error:
                raise BuildError(
                    "execute", f"the parameters cell (cell {index + 1}) is not valid Python: {error}", chapter=path.stem
                ) from error
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
                value = getattr(node, "value", None)
                for target in targets:
                    if isinstance(target, ast.Name):
                        try:
                            parameters[target.id] = ast.literal_eval(value) if value is not None else None
                        except ValueError:
                            parameters[target.id] = ast.unparse(value)
            break
    code = [_cell_source(cell) for cell in cells if cell.get("cell_type") == "code"]
    return Notebook(path=path, parameters=parameters, parameters_cell=parameters_cell, code=code)


def discover_notebooks(layout: Layout) -> list[Notebook]:
    return [read_notebook(path) for path in sorted(layout.notebooks.glob(NOTEBOOK_GLOB))]


def select_notebooks(notebooks: Sequence[Notebook], wanted: Sequence[str]) -> list[Notebook]:
    """Pick notebooks by name (``07-neue-situation``), file name, path or number prefix (``07``)."""
    if not wanted:
        return list(notebooks)
    chosen: list[Notebook] = []
    for query in wanted:
        key = Path(query).name.removesuffix(".ipynb")
        matches = [nb for nb in notebooks if nb.name == key or nb.name.split("-", 1)[0] == key]
        if not matches:
            available = ", ".join(nb.name for nb in notebooks) or "none"
            raise BuildError("execute", f"no notebook matches {query!r}; available: {available}")
        chosen.extend(nb for nb in matches if nb not in chosen)
    return sorted(chosen, key=lambda nb: nb.name)


def parse_param(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value); the value is a Python literal when it reads as one (0.05, 3, True), else text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise BuildError("parameters", f"--param {text!r}: expected key=value with a Python name as key")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def route_params(notebooks: Sequence[Notebook], params: Mapping[str, Any], root: Path) -> dict[str, dict[str, Any]]:
    """Give every notebook the user's parameters that its parameters cell declares.

    A key no notebook declares is an error (most likely a typo that would otherwise change nothing). Relative
    paths in ``*_path``/``*_dir`` parameters are made absolute from the project root, where the kernels run.
    """
    for key in params:
        if key in BUILD_OWNED_PARAMETERS:
            raise BuildError("parameters", f"--param {key}: set by the build itself (results go to _build/results)")
    declared = {name for nb in notebooks for name in nb.parameters}
    unknown = sorted(set(params) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise BuildError(
            "parameters", f"no notebook declares the parameter(s) {', '.join(unknown)}; declared are: {known}"
        )
    resolved = {}
    for key, value in params.items():
        if isinstance(value, str) and key.endswith(("_path", "_dir")) and not Path(value).is_absolute():
            value = str(resolve_or_explain(root / value, f"--param {key}"))
        resolved[key] = value
    return {nb.name: {k: v for k, v in resolved.items() if k in nb.parameters} for nb in notebooks}


def resolve_or_explain(path: Path, what: str) -> Path:
    """``path.resolve()``, with one clear BuildError instead of a traceback for a symlink loop (and the like)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # Python < 3.13 raises RuntimeError for a symlink loop
        reason = getattr(error, "strerror", None) or ("symlink loop" if "loop" in str(error).lower() else str(error))
        raise BuildError(
            "parameters", f"{what}: {path} cannot be resolved ({reason}); point it at a real file"
        ) from None


# ---------------------------------------------------------------------------------------------------------------
# Content hashes


class Hasher:
    """sha256 of files, memoised for one build run (data/ is shared by every notebook's key)."""

    def __init__(self, imports: "ImportIndex | None" = None) -> None:
        self._files: dict[Path, str] = {}
        self.imports = imports or ImportIndex()

    def file(self, path: Path) -> str:
        if path not in self._files:
            try:
                self._files[path] = file_digest(path)
            except OSError as error:  # a symlink loop, a file without read permission, ...
                raise BuildError(
                    "inputs", f"cannot read {path}: {error.strerror or error}; fix or remove that file"
                ) from None
        return self._files[path]

    def tree(self, folder: Path, *, skip_dirs: Iterable[str] = (), base: Path | None = None) -> dict[str, str]:
        skip = set(skip_dirs) | {"__pycache__"}
        base = base or folder
        digests: dict[str, str] = {}
        if folder.is_file():
            return {folder.relative_to(base).as_posix(): self.file(folder)}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith(".") and not d.endswith(".egg-info"))
            for filename in sorted(filenames):
                if filename.endswith((".pyc", ".pyo")):
                    continue
                path = Path(dirpath) / filename
                digests[path.relative_to(base).as_posix()] = self.file(path)
        return digests


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (OSError when it cannot be read)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _module_file(lib: Path, parts: Sequence[str]) -> Path | None:
    target = lib.joinpath(*parts)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# (relative level, module, imported names, 1 if it runs only later -- inside a function body or under
# `if TYPE_CHECKING:` -- else 0) of one import statement
ImportRef = tuple[int, str, list[str], int]


class ImportIndex:
    """The import statements of a source text, parsed once per distinct text. Parsing the library for every
    notebook costs seconds; the index is kept in the cache manifest, so a no-op build parses nothing."""

    def __init__(self, stored: Mapping[str, Any] | None = None):
        self._stored: dict[str, list[ImportRef] | None] = dict(stored or {})
        self.used: dict[str, list[ImportRef] | None] = {}
        self.added = False

    def refs(self, source: str) -> list[ImportRef] | None:
        """None when the text is not Python."""
        key = "2:" + hashlib.sha256(source.encode("utf-8")).hexdigest()  # "2:" refs with the runs-later flag
        if key not in self._stored:
            self._stored[key] = self._parse(source)
            self.added = True
        self.used[key] = self._stored[key]
        return self._stored[key]

    @staticmethod
    def _parse(source: str) -> list[ImportRef] | None:
        try:
            tree = ast.parse(_python_only(source))
        except SyntaxError:
            return None
        refs: list[ImportRef] = []
        # Imports inside functions count too (the library imports lazily), marked: they run only when called.
        # An import is a statement, so only statements are walked, not the expressions in them (nine tenths of
        # the nodes, and of the time the walk took).
        todo: list[tuple[ast.AST, int]] = [(tree, 0)]
        while todo:
            node, in_function = todo.pop()
            if isinstance(node, ast.Import):
                refs.extend((0, alias.name, [], in_function) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                refs.append((node.level, node.module or "", [alias.name for alias in node.names], in_function))
            if isinstance(node, ast.If) and _is_type_checking(node.test):  # for type checkers only: never runs
                todo.extend((child, 1) for child in reversed(node.body))
                todo.extend((child, in_function) for child in reversed(node.orelse))
                continue
            inner = int(in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
            todo.extend((child, inner) for child in reversed(list(_statements_in(node))))
        return refs


def _statements_in(node: ast.AST) -> Iterator[ast.AST]:
    """The statements directly inside ``node`` (its bodies, branches, handlers and match cases), in source order."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for child in value:
                if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                    yield child


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def lib_closure(sources: Iterable[str], lib: Path, index: ImportIndex | None = None) -> set[Path] | None:
    """The library files the code imports, transitively (package ``__init__`` files included).

    Returns None when some source cannot be parsed: the caller then hashes the whole library, which is safe.
    """
    index = index or ImportIndex()
    package = lib.name
    found: set[Path] = set()
    pending: list[tuple[str, list[str]]] = [(src, []) for src in sources]  # (source, package parts of its module)

    def add(parts: Sequence[str]) -> None:
        for depth in range(0, len(parts) + 1):
            file = _module_file(lib, parts[:depth])
            if file is not None and file not in found:
                found.add(file)
                package_parts = list(parts[:depth]) if file.name == "__init__.py" else list(parts[: depth - 1])
                pending.append((file.read_text(encoding="utf-8"), package_parts))

    while pending:
        source, here = pending.pop()
        refs = index.refs(source)
        if refs is None:
            return None
        for level, module_name, names, _ in refs:
            if level:
                base = here[: len(here) - (level - 1)] if level > 1 else list(here)
                module = base + (module_name.split(".") if module_name else [])
            elif module_name.split(".")[0] == package:
                module = module_name.split(".")[1:]
            else:
                continue
            add(module)
            for name in names:  # `from clusterkrise import groups` imports a submodule
                if _module_file(lib, [*module, name]) is not None:
                    add([*module, name])
    return found


def third_party_imports(sources: Iterable[str], package: str, index: ImportIndex | None = None, *,
                        lazy: bool = True) -> set[str]:
    """Absolute imports other than the project's package, e.g. {"pandas", "scipy.stats"} (for warm kernels).
    ``from scipy import stats`` gives "scipy" and "scipy.stats": the name may be a submodule (the factory skips
    the names that are not). ``lazy=False``: without the imports inside functions."""
    index = index or ImportIndex()
    names: set[str] = set()
    for source in sources:
        for level, module, imported, in_function in index.refs(source) or []:
            if not level and module and (lazy or not in_function):
                names.add(module)
                names.update(f"{module}.{name}" for name in imported if name.isidentifier())
    return {name for name in names if name.split(".")[0] not in (package, "__future__")}


def preload_modules(notebooks: Iterable[Notebook], lib: Path, index: ImportIndex | None = None, *,
                    library: bool = False) -> list[str]:
    """What the notebooks import, directly or through the library files they import: the third-party modules,
    then (``library=True``: a build's own factory, which lives as long as the build) the library's modules.

    A third-party module the library imports only inside a function (or for type checkers) is left out: the
    library defers it because most runs never call that function (the readers of XLSX and SPSS exports, the
    validation that a data-cache hit skips), and the one kernel that does imports it then -- instead of every
    build's factory importing it before the first notebook can start."""
    sources: list[str] = []
    files: set[Path] = set()
    for nb in notebooks:
        sources.extend(nb.code)
        closure = lib_closure(nb.code, lib, index) if lib.is_dir() else set()
        files.update(closure or ())
    library_sources = [path.read_text(encoding="utf-8") for path in sorted(files)]
    modules = sorted(third_party_imports(sources, lib.name, index)
                     | third_party_imports(library_sources, lib.name, index, lazy=False))
    if library:
        for path in sorted(files):
            parts = path.relative_to(lib.parent).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def resolve_param_path(value: str, layout: Layout) -> Path:
    """A path parameter as the notebooks read it: relative to the project root (the kernels' working folder)."""
    path = Path(value)
    return path if path.is_absolute() else layout.root / path


def notebook_key(nb: Notebook, params: Mapping[str, Any], layout: Layout, hasher: Hasher) -> str:
    """What a notebook's results depend on: its own text, the library code it imports (plus the library's
    non-Python files), every file under data/, files named by its parameters, and the parameters."""
    lib = layout.lib
    closure = lib_closure(nb.code, lib, hasher.imports) if lib.is_dir() else set()
    if closure is None:
        lib_digests = hasher.tree(lib, base=layout.root) if lib.is_dir() else {}
    else:
        lib_digests = {p.relative_to(layout.root).as_posix(): hasher.file(p) for p in sorted(closure)}
        if lib.is_dir():
            lib_digests.update(
                {k: v for k, v in hasher.tree(lib, base=layout.root).items() if not k.endswith(".py")}
            )
    referenced = {}
    for key, value in {**nb.parameters, **params}.items():
        if isinstance(value, str) and key not in BUILD_OWNED_PARAMETERS and value:
            path = resolve_param_path(value, layout)
            if path.is_file() and layout.data not in path.resolve().parents:
                referenced[key] = hasher.file(path)
    return _digest(
        {
            "notebook": hasher.file(nb.path),
            "lib": lib_digests,
            "data": hasher.tree(layout.data, base=layout.root) if layout.data.is_dir() else {},
            "referenced": referenced,
            "params": params,
            "python": sys.version_info[:2],
        }
    )


def render_engine(render: RenderFn | None) -> str:
    """What renders the book, for the render key: "embedded" or "quarto" for the project's renderer (a
    ``functools.partial`` of ``render_book`` with ``engine=``), else the function's qualified name and the
    keywords bound to it."""
    func, keywords = render, {}
    if isinstance(render, functools.partial):
        func, keywords = render.func, dict(render.keywords)
    if func is None:
        return "embedded"
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', type(func).__qualname__)}"
    if name == "clusterkrise.render.book.render_book":
        return str(keywords.get("engine", "embedded"))
    return name + "".join(f" {key}={value!r}" for key, value in sorted(keywords.items()))


def render_key(layout: Layout, formats: Sequence[str], hasher: Hasher, engine: str = "embedded") -> str:
    """Everything the book may read: the project tree without notebooks/tests/tooling, plus the build's
    results and executed notebooks, and the engine that renders it. Generous on purpose: a needless
    re-render costs seconds, a stale book is wrong."""
    root = layout.root
    digests: dict[str, str] = {}
    for entry in sorted(root.iterdir()):
        name = entry.name
        if name.startswith((".", "_book", "_build")) or name in _RENDER_SKIP_DIRS or name.endswith(".egg-info"):
            continue
        digests.update(hasher.tree(entry, base=root))
    for sub in (layout.results, layout.executed):
        if sub.is_dir():
            digests.update(hasher.tree(sub, base=root))
    return _digest({"files": digests, "formats": sorted(formats), "engine": engine})


# ---------------------------------------------------------------------------------------------------------------
# Cache manifest


def load_manifest(layout: Layout) -> dict[str, Any]:
    """The cache manifest; an unreadable, corrupted or foreign one counts as empty (everything is rebuilt)."""
    empty = {"version": CACHE_VERSION, "notebooks": {}, "render": None}
    try:
        manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty
    if not isinstance(manifest, dict) or manifest.get("version") != CACHE_VERSION:
        return empty
    notebooks = manifest.setdefault("notebooks", {})
    if not isinstance(notebooks, dict) or not all(isinstance(e, dict) for e in notebooks.values()):
        return empty
    if not isinstance(manifest.get("imports", {}), dict):
        manifest.pop("imports")
    manifest.setdefault("render", None)
    return manifest


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_manifest(layout: Layout, manifest: Mapping[str, Any]) -> None:
    _write_atomic(layout.manifest, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _output_paths(layout: Layout, name: str, outputs: Iterable[str]) -> list[Path]:
    paths = [layout.executed / f"{name}.ipynb"]
    for output in outputs:
        target = layout.results / output
        paths.extend(sorted(p for p in target.rglob("*") if not p.is_dir()) if target.is_dir() else [target])
    return paths


def output_digests(layout: Layout, name: str, outputs: Iterable[str]) -> dict[str, str]:
    """sha256 of every cached output of a notebook (its executed notebook, the files of its results folders and
    ``values.json``), keyed by the path under ``_build/``. Raises OSError when one cannot be read."""
    return {path.relative_to(layout.build).as_posix(): file_digest(path) for path in _output_paths(layout, name, outputs)}


def cache_problem(entry: Mapping[str, Any], layout: Layout, name: str) -> str | None:
    """Why a notebook's cached outputs may not be reused (None when every one is there, readable and unchanged)."""
    stored = entry.get("files")
    outputs = entry.get("outputs", [])
    if not isinstance(stored, dict) or not isinstance(outputs, list):
        return "its cache entry is incomplete"
    for relative in sorted(stored):
        path = layout.build / relative
        if not path.is_file():
            return f"_build/{relative} is missing"
        try:
            digest = file_digest(path)
        except OSError as error:
            return f"_build/{relative} is unreadable ({error.strerror or error})"
        if digest != stored[relative]:
            return f"_build/{relative} was changed after the notebook wrote it"
    current = {path.relative_to(layout.build).as_posix() for path in _output_paths(layout, name, outputs)}
    extra = sorted(current - set(stored))
    if extra:
        return f"_build/{extra[0]} was added after the notebook ran"
    return None


def check_cached_outputs(layout: Layout) -> None:
    """For rendering from the last results alone (``clusterkrise render``): refuse outputs that are missing or were
    changed after their notebook wrote them, since nothing here would execute the notebook again."""
    for name, entry in sorted(load_manifest(layout)["notebooks"].items()):
        problem = cache_problem(entry, layout, name)
        if problem is not None:
            raise BuildError("render", f"{problem} ({name}); run `clusterkrise build` to execute it again")


def _cache_hit(entry: Mapping[str, Any] | None, key: str, nb: Notebook, layout: Layout, out: TextIO) -> bool:
    if entry is None or entry.get("key") != key:
        return False
    problem = cache_problem(entry, layout, nb.name)
    if problem is not None:  # never print (or embed) what the notebook did not write
        print(f"note: {nb.name}: {problem}; executing it again", file=out, flush=True)
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Execution


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def source_date_epoch(root: Path) -> int:
    """SOURCE_DATE_EPOCH: the caller's value, else the last commit's date, else a fixed constant."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return FALLBACK_SOURCE_DATE_EPOCH


def _kernel_env(layout: Layout) -> dict[str, str]:
    # The project's lib/ comes first so a kernel imports this checkout's library, whatever is installed.
    pythonpath = os.pathsep.join(p for p in (str(layout.root / "lib"), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PYTHONPATH": pythonpath,
        "PYTHONHASHSEED": "0",
        "SOURCE_DATE_EPOCH": str(source_date_epoch(layout.root)),
        # the survey file is loaded and validated once, not once per notebook (clusterkrise.datacache; the project's
        # own folder, which a notebook run alone uses too)
        "CLUSTERKRISE_DATA_CACHE": str(layout.build / "data-cache"),
        # figures drawn before, by content (clusterkrise.figcache): this project's folder, which may not be the
        # library's own project (`clusterkrise -C OTHER build`); a setting of the caller wins
        "CLUSTERKRISE_FIGURE_CACHE": os.environ.get("CLUSTERKRISE_FIGURE_CACHE") or str(layout.build / "cache" / "figures"),
    }


def _cell_marked_failed(executed: str) -> tuple[int | None, str]:
    """The cell papermill marked as failed or still running in a partly executed notebook (e.g. the kernel died)."""
    try:
        cells = json.loads(Path(executed).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None, ""
    last_started = None
    for index, cell in enumerate(cells):
        state = cell.get("metadata", {}).get("papermill", {})
        if state.get("exception"):
            return index, _cell_source(cell)
        if state.get("start_time"):  # papermill marks unreached cells "completed" too, but without a start time
            last_started = index
    # A dead kernel leaves no exception mark; the last cell that started is the one it died in.
    return (last_started, _cell_source(cells[last_started])) if last_started is not None else (None, "")


def _execute_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Worker: run one notebook with papermill. Returns a plain dict (it crosses a process boundary)."""
    import papermill

    from . import pmengine  # registers the engine (an installed project registers it through its entry point)

    os.environ.update(job["env"])
    # Kernels inherit this worker's stderr; their start-up chatter belongs in a log, not in the progress lines.
    with open(job["stderr_log"], "ab") as log:
        os.dup2(log.fileno(), 2)
    start = time.perf_counter()
    result: dict[str, Any] = {"name": job["name"], "ok": True}
    try:
        papermill.execute_notebook(
            job["input"],
            job["output"],
            parameters=job["parameters"],
            cwd=job["cwd"],
            progress_bar=False,
            log_output=False,
            engine_name=pmengine.ENGINE_NAME,
        )
    except papermill.PapermillExecutionError as error:
        result.update(
            ok=False,
            cell_index=error.cell_index,
            ename=error.ename,
            evalue=error.evalue,
            source=error.source,
            traceback=_ANSI.sub("", "\n".join(error.traceback or [])),
        )
    except Exception as error:  # kernel died, notebook unreadable, ...: still one explained failure
        index, source = _cell_marked_failed(job["output"])
        result.update(
            ok=False, cell_index=index, ename=type(error).__name__, evalue=str(error), source=source,
            traceback=traceback.format_exc(),
        )
    result["seconds"] = time.perf_counter() - start
    return result


def _stored_cell_number(nb: Notebook, executed_index: int, injected: bool) -> int | None:
    """1-based number of the failing cell in the stored notebook (papermill counts its injected cell too)."""
    if not injected:
        return executed_index + 1
    injected_at = nb.parameters_cell + 1 if nb.parameters_cell is not None else 0
    if executed_index == injected_at:
        return None
    return executed_index + (0 if executed_index < injected_at else -1) + 1


def _write_log(layout: Layout, step: str, name: str, text: str) -> Path:
    layout.logs.mkdir(parents=True, exist_ok=True)
    path = layout.logs / f"{step}-{name}.log"
    path.write_text(text, encoding="utf-8")
    return path


def _rel(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def _execution_failure(layout: Layout, nb: Notebook, result: Mapping[str, Any], injected: bool) -> BuildError:
    if result.get("cell_index") is not None:
        number = _stored_cell_number(nb, result["cell_index"], injected)
        cell = f"cell {number}" if number is not None else "the injected parameters cell"
    else:
        cell = "outside a cell (kernel or papermill failure)"
    first_line = next((line for line in result.get("source", "").splitlines() if line.strip()), "")
    error = f"{result['ename']}: {result['evalue']}".rstrip(": ")
    log_text = (
        f"step: execute\nnotebook: {_rel(nb.path, layout.root)}\nfailing: {cell}\n\n"
        f"--- cell source ---\n{result.get('source', '')}\n\n--- traceback ---\n{result.get('traceback', '')}\n"
    )
    log = _write_log(layout, "execute", nb.name, log_text)
    where = f"{cell} ({first_line.strip()[:60]})" if first_line else cell
    return BuildError("execute", f"{where}: {error}", chapter=nb.name, log=_rel(log, layout.root))


def _default_validator() -> ValidateFn | None:
    try:
        from .io import load_survey
    except ImportError:  # io.py not written yet: the notebooks will report bad data themselves
        return None
    return load_survey


def _data_paths(notebooks: Sequence[Notebook], routed: Mapping[str, Mapping[str, Any]], layout: Layout) -> list[Path]:
    paths = []
    for nb in notebooks:
        if routed[nb.name].get("mapping", nb.parameters.get("mapping")):
            # A survey tool's export is read through its mapping in the notebook's setup cell
            # (Survey.load), which reports the import's problems with chapter and cell.
            continue
        value = routed[nb.name].get("data_path", nb.parameters.get("data_path"))
        if isinstance(value, str) and value:
            path = resolve_or_explain(resolve_param_path(value, layout), f"data_path of {nb.name}")
            if path not in paths:
                paths.append(path)
    return paths


def _validate_job(paths: Sequence[str], cache: str | None = None) -> dict[str, str] | None:
    """The project's loader on every data file; None when all are valid (or there is no loader yet). Runs as a job
    of the kernel factory (:func:`_factory_validation`), else in a pool worker; the result crosses a process
    boundary as JSON. ``cache``: the build's data cache, where the notebooks then find the validated file."""
    validator = _default_validator()
    if validator is None:
        return None
    for path in paths:
        try:
            if cache:
                from .codebook import CODEBOOK_PATH
                from .datacache import cached_load

                cached_load(lambda: validator(Path(path)), [Path(path), Path(CODEBOOK_PATH)], cache)
            else:
                validator(Path(path))
        except Exception as error:
            return {"path": path, "error": f"{error}", "traceback": traceback.format_exc()}
    return None


# What _validate_job imports: the factory forks it once these are (clusterkrise.io brings pandas; the job then
# imports pandera itself, beside the factory's imports: the kernels, which read the validated data cache, never do).
_VALIDATE_NEEDS = ("clusterkrise.build", "clusterkrise.io", "clusterkrise.codebook", "clusterkrise.datacache")


def _factory_validation(factory: Any, paths: Sequence[str], cache: str | None) -> dict[str, str] | None:
    """The result of the factory's :func:`_validate_job` (job 0); if the factory could not give one (it died), the
    check runs here instead, so that bad data is still reported as such."""
    try:
        return factory.job_result(0)
    except RuntimeError:
        return _validate_job(paths, cache)


def _validate_data(paths: Sequence[Path], validate: ValidateFn, layout: Layout) -> None:
    for path in paths:
        try:
            validate(path)
        except Exception as error:
            log = _write_log(layout, "validate", path.stem, traceback.format_exc())
            raise BuildError(
                "validate", f"{_rel(path, layout.root)}: {error}", chapter=None, log=_rel(log, layout.root)
            ) from error
        (layout.logs / f"validate-{path.stem}.log").unlink(missing_ok=True)


def _commit_outputs(layout: Layout, nb: Notebook, stage: Path, previous: Sequence[str], claimed: dict[str, str]) -> list[str]:
    """Move a successful run's executed notebook and output files from its staging folder into place."""
    out_dir = stage / "output"
    produced = sorted(entry.name for entry in out_dir.iterdir()) if out_dir.is_dir() else []
    for name in produced:
        owner = claimed.get(name)
        if owner is not None and owner != nb.name:
            raise BuildError(
                "execute", f"writes _build/results/{name}, which {owner} writes too", chapter=nb.name
            )
    layout.results.mkdir(parents=True, exist_ok=True)
    layout.executed.mkdir(parents=True, exist_ok=True)
    for name in {*previous, *produced}:
        target = layout.results / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for name in produced:
        os.replace(out_dir / name, layout.results / name)
        claimed[name] = nb.name
    os.replace(stage / "notebook.ipynb", layout.executed / f"{nb.name}.ipynb")
    shutil.rmtree(stage, ignore_errors=True)
    (layout.logs / f"execute-{nb.name}.log").unlink(missing_ok=True)
    return produced


@dataclass
class ExecuteReport:
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _pool_context():
    # fork shares the already imported papermill with the workers; spawn would import it again per worker.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


@_locked
def execute(
    layout: Layout,
    *,
    select: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    validate: ValidateFn | None | bool = True,
    warm_kernels: bool | None = None,
    out: TextIO | None = None,
) -> ExecuteReport:
    """Execute the notebooks whose inputs changed; arguments as for :func:`execute_notebooks`."""
    return execute_notebooks(
        layout, select=select, params=params, jobs=jobs, use_cache=use_cache, validate=validate,
        warm_kernels=warm_kernels, out=out,
    )


# About 80 builds' worth of changed figures (42 figures take 0.8 MB).
FIGURE_CACHE_BYTES = 64 * 2**20


def prune_figure_cache(folder: Path, max_bytes: int = FIGURE_CACHE_BYTES) -> list[Path]:
    """Remove the least recently used entries of the figure cache beyond ``max_bytes`` (a hit renews an entry's
    time, see :mod:`.figcache`), and temporary files left by a writer that was killed; returns what went.
    Needs no matplotlib: the build's own process never draws."""
    entries, removed = [], []
    now = time.time()
    for path in folder.glob("*") if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            info = path.stat()
            if path.name.endswith(".svg.entry"):
                entries.append((info.st_mtime, info.st_size, path))
            elif path.name.startswith(".") and path.name.endswith(".tmp") and now - info.st_mtime > 3600:
                path.unlink()
                removed.append(path)
    kept = 0
    for _, size, path in sorted(entries, key=lambda entry: (-entry[0], entry[2].name)):  # newest first
        kept += size
        if kept > max_bytes:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def execute_notebooks(
    layout: Layout,
    *,
    select: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    validate: ValidateFn | None | bool = True,
    warm_kernels: bool | None = None,
    out: TextIO | None = None,
    hasher: Hasher | None = None,
) -> ExecuteReport:
    """Execute the notebooks whose inputs changed (all of them with ``use_cache=False``).

    ``validate``: True -> the project's ``load_survey`` (when io.py exists) checks every ``data_path`` beside the
    notebooks, and a failure there is the one reported; a callable checks them before any notebook runs;
    False/None skips the check.
    ``warm_kernels``: fork kernels from a process with the notebooks' imports done (:mod:`.warmkernel`). None
    (default) uses them when there are more notebooks to run than workers (with fewer, fresh kernels start in
    parallel just as fast) unless the environment sets CLUSTERKRISE_WARM_KERNELS=0.
    """
    out = out or sys.stdout
    from . import procs

    # The factory of a build that was killed before it could stop it (and its temporary folder).
    procs.end_recorded(layout.kernels_record)
    all_notebooks = discover_notebooks(layout)
    notebooks = select_notebooks(all_notebooks, select)
    routed = route_params(notebooks, dict(params or {}), layout.root)
    manifest = load_manifest(layout)
    entries: dict[str, Any] = manifest["notebooks"]
    if not select:  # forget notebooks that were deleted, and their results
        for name in sorted(set(entries) - {nb.name for nb in all_notebooks}):
            for output in entries.pop(name).get("outputs", []):
                target = layout.results / output
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
            (layout.executed / f"{name}.ipynb").unlink(missing_ok=True)

    hasher = hasher or Hasher(ImportIndex(manifest.get("imports")))
    stack = contextlib.ExitStack()
    factory = None
    factory_tried = False
    if warm_kernels is None:
        warm_kernels = os.environ.get("CLUSTERKRISE_WARM_KERNELS", "1") != "0"
        decide_warm = True  # below: only when there are more notebooks to run than workers
    else:
        decide_warm = False

    def start_factory(todo: Sequence[Notebook]) -> None:
        # Started as early as the notebooks to run are known: its imports (a second of CPU) run while this
        # process hashes inputs and imports papermill, and the first kernel waits for them.
        nonlocal factory, factory_tried
        from .warmkernel import Factory

        factory_tried = True

        layout.logs.mkdir(parents=True, exist_ok=True)
        (layout.logs / "kernels.log").write_bytes(b"")
        checks = [str(p) for p in _data_paths(todo, routed, layout)] if validate is True else []
        # The check of the survey file runs in a child of the factory, forked once pandas and the loader are
        # imported: beside the factory's other imports, and without importing pandas a second time.
        check_job = [{"call": "clusterkrise.build:_validate_job", "args": [checks, kernel_env().get("CLUSTERKRISE_DATA_CACHE")],
                      "needs": list(_VALIDATE_NEEDS)}] if checks else []
        try:
            # The list of modules follows once the sources are parsed; the kernel's own imports start meanwhile.
            factory = Factory(kernel_env(), layout.logs / "kernels.log", preload=None, jobs=check_job)
            factory_checks[:] = checks
            stack.push(factory.__exit__)
            factory.start()
            procs.record(layout.kernels_record, factory.process.pid, factory.folder)
            stack.callback(layout.kernels_record.unlink, missing_ok=True)
            factory.preload(preload_modules(todo, layout.lib, hasher.imports, library=True))
        except OSError as error:
            stack.close()
            factory = None
            print(f"note: warm kernels unavailable ({error}); starting a fresh kernel per notebook", file=out)
        except BaseException:  # the factory runs already: a failure while listing its modules must end it
            stack.close()
            factory = None
            raise

    env_once: list[dict[str, str]] = []
    factory_checks: list[str] = []  # the data files the factory's job checks

    def kernel_env() -> dict[str, str]:  # (asks git for the commit time: not on the no-op path)
        if not env_once:
            env_once.append(_kernel_env(layout))
        return env_once[0]

    def workers_for(count: int) -> int:
        return max(1, min(jobs or os.cpu_count() or 1, count))

    # Without a cache to consult (a clean build, --no-cache) every notebook runs: no need to hash first.
    if warm_kernels and (not use_cache or not entries) and (not decide_warm or len(notebooks) > workers_for(len(notebooks))):
        start_factory(notebooks)
    try:
        keys = {nb.name: notebook_key(nb, routed[nb.name], layout, hasher) for nb in notebooks}
        # Keep the parsed imports of what exists now (all of it after a partial run, which saw only some files).
        manifest["imports"] = hasher.imports.used if not select else {**manifest.get("imports", {}), **hasher.imports.used}
        todo = [nb for nb in notebooks
                if not (use_cache and _cache_hit(entries.get(nb.name), keys[nb.name], nb, layout, out))]
    except BaseException:
        stack.close()
        raise
    report = ExecuteReport()
    total = len(notebooks)
    done = 0
    for nb in notebooks:
        if nb not in todo:
            done += 1
            report.cached.append(nb.name)
            print(f"[{done}/{total}] {nb.name} … cached", file=out, flush=True)
    if not todo:
        stack.close()
        if hasher.imports.added or set(manifest["imports"]) != set(load_manifest(layout).get("imports", {})):
            save_manifest(layout, manifest)
        return report

    env = kernel_env()
    workers = workers_for(len(todo))
    try:
        layout.logs.mkdir(parents=True, exist_ok=True)
        if not factory_tried:
            if warm_kernels and (not decide_warm or len(todo) > workers):
                start_factory(todo)
            else:
                (layout.logs / "kernels.log").write_bytes(b"")
        data_paths = _data_paths(todo, routed, layout)
        if callable(validate):
            _validate_data(data_paths, validate, layout)

        import papermill  # noqa: F401  (imported before forking so every worker shares it)

        shutil.rmtree(layout.staging, ignore_errors=True)
        if factory is not None:
            try:
                env = factory.wait().env()
            except (OSError, RuntimeError) as error:  # fresh kernels are slower but need nothing special
                stack.close()
                factory = None
                print(f"note: warm kernels unavailable ({error}); starting a fresh kernel per notebook", file=out)
    except BaseException:
        stack.close()
        raise
    todo_names = {nb.name for nb in todo}
    claimed = {  # results folders owned by notebooks that keep their cached results
        output: name for name, entry in entries.items() if name not in todo_names for output in entry.get("outputs", [])
    }
    jobs_by_name = {}
    for nb in todo:
        stage = layout.staging / nb.name
        (stage / "output").mkdir(parents=True)
        parameters = dict(routed[nb.name])
        if "output_dir" in nb.parameters:
            parameters["output_dir"] = str(stage / "output")
        jobs_by_name[nb.name] = {
            "name": nb.name,
            "input": str(nb.path),
            "output": str(stage / "notebook.ipynb"),
            "parameters": parameters,
            "cwd": str(layout.root),
            "env": env,
            "stderr_log": str(layout.logs / "kernels.log"),
        }

    failures: list[BuildError] = []
    invalid: BuildError | None = None
    by_name = {nb.name: nb for nb in todo}
    try:
        # Workers die with the build, even when it is killed with SIGKILL (their kernels notice and follow).
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=_pool_context(),
            initializer=procs.die_with_parent, initargs=(signal.SIGKILL, os.getpid()),
        )
        with stack, pool:
            # The project's own check of the data runs beside the notebooks: in the factory's job when it has
            # one for these files, else in a worker (it needs the same slow imports).
            wanted = [str(p) for p in data_paths] if validate is True else []
            by_factory = factory is not None and wanted and wanted == factory_checks
            checking = (pool.submit(_validate_job, wanted, env.get("CLUSTERKRISE_DATA_CACHE"))
                        if wanted and not by_factory else None)
            # Longest first, so that two workers finish together instead of one waiting for the last long notebook:
            # by the time of the last run where known, else by the length of the code.
            def expected(nb: Notebook) -> tuple[float, int]:
                seconds = (entries.get(nb.name) or {}).get("seconds")
                return (float(seconds) if isinstance(seconds, (int, float)) else 0.0, sum(len(c) for c in nb.code))

            futures = [pool.submit(_execute_one, jobs_by_name[nb.name]) for nb in sorted(todo, key=expected, reverse=True)]
            if by_factory:  # (a thread only now: the pool has forked its workers at the first submit)
                checking = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(
                    _factory_validation, factory, wanted, env.get("CLUSTERKRISE_DATA_CACHE"))
            for future in as_completed([*futures, *([checking] if checking else [])]):
                if future.cancelled():
                    continue
                result = future.result()
                if future is checking:
                    if result is None:
                        for path in data_paths:
                            (layout.logs / f"validate-{path.stem}.log").unlink(missing_ok=True)
                    else:
                        log = _write_log(layout, "validate", Path(result["path"]).stem, result["traceback"])
                        invalid = BuildError(
                            "validate", f"{_rel(Path(result['path']), layout.root)}: {result['error']}",
                            log=_rel(log, layout.root),
                        )
                        for pending in futures:
                            pending.cancel()
                    continue
                nb = by_name[result["name"]]
                stage = layout.staging / nb.name
                done += 1
                if result["ok"]:
                    try:
                        outputs = _commit_outputs(layout, nb, stage, entries.get(nb.name, {}).get("outputs", []), claimed)
                    except BuildError as error:
                        failures.append(error)
                        entries.pop(nb.name, None)
                        continue
                    entries[nb.name] = {
                        "key": keys[nb.name], "outputs": outputs, "seconds": round(result["seconds"], 3),
                        "files": output_digests(layout, nb.name, outputs),
                    }
                    report.executed.append(nb.name)
                    report.seconds[nb.name] = result["seconds"]
                    print(f"[{done}/{total}] {nb.name} … {result['seconds']:.1f} s", file=out, flush=True)
                else:
                    entries.pop(nb.name, None)
                    failure = _execution_failure(layout, nb, result, injected=bool(jobs_by_name[nb.name]["parameters"]))
                    failed_nb = stage / "notebook.ipynb"
                    if failed_nb.is_file():  # keep the half-executed notebook next to its log for inspection
                        os.replace(failed_nb, layout.logs / f"execute-{nb.name}.ipynb")
                    failures.append(failure)
                    print(f"[{done}/{total}] {nb.name} … FAILED", file=out, flush=True)
                    for pending in futures:  # stop early; notebooks already running finish and are kept
                        pending.cancel()
            if factory is not None:
                factory.stop()  # it ends while the pool's workers do; leaving `stack` waits for it
    finally:
        stack.close()  # (already closed when the pool was left; this covers a failure before it was entered)
        save_manifest(layout, manifest)
        shutil.rmtree(layout.staging, ignore_errors=True)
        from . import cache_folder

        figures = cache_folder(env.get("CLUSTERKRISE_FIGURE_CACHE"), layout.build / "cache" / "figures")
        if figures is not None:
            prune_figure_cache(figures)
    if invalid is not None:  # notebooks that failed on bad data would only repeat this
        raise invalid
    if failures:
        failures[0].also = failures[1:]
        raise failures[0]
    return report


# ---------------------------------------------------------------------------------------------------------------
# Variables and rendering


def _chapter_key(folder: str) -> str:
    # _variables.yml keys notebook values as chNN (docs/architecture.md); report.Context names its folder "07".
    return f"ch{folder}" if folder.isdigit() else folder


def _chapter_values(payload: Any) -> Any:
    # results.ChapterResults.finish() writes {"chapter", "values" (printed texts), "raw", ...}; a flat
    # object is taken as it is.
    if isinstance(payload, dict) and "chapter" in payload and isinstance(payload.get("values"), dict):
        return payload["values"]
    return payload


# Marks a caption whose title or chart form this edition chose itself (the appendix "Zu dieser
# Ausgabe" explains it and lists these figures from the captions, see reconstructed_figures).
RECONSTRUCTED_MARK = "ᴿ"


def reconstructed_figures(layout: Layout) -> list[str]:
    """Labels of the figures whose caption (cell option ``fig-cap``) ends with the mark, in book order.

    Read from the notebooks' cell options, the one place captions are written, so the appendix's list
    cannot drift from the captions.
    """
    from .render.shortcodes import cell_options

    labels = []
    for path in sorted(layout.notebooks.glob(NOTEBOOK_GLOB)):
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            options = cell_options(source if isinstance(source, str) else "".join(source))
            label, caption = str(options.get("label", "")), str(options.get("fig-cap", "")).rstrip()
            if label.startswith("fig-") and caption.endswith(RECONSTRUCTED_MARK):
                labels.append(label)
    return labels


def _edition_values(layout: Layout) -> dict[str, str]:
    """``edition.reconstructed_figures``: cross-references to the figures marked as reconstructed."""
    from . import formatting as fmt

    labels = reconstructed_figures(layout) if layout.notebooks.is_dir() else []
    return {"reconstructed_figures": fmt.german_list((f"@{label}" for label in labels), empty="keine")}


def _registry_values(layout: Layout) -> dict[str, dict[str, str]]:
    """``study.<id>``: what the original study printed, for sentences that quote it as such; and
    ``edition.n_facts``: how many of its statements this edition registers and checks."""
    registry = layout.data / "published_facts.yaml"
    if not registry.is_file():
        return {}
    from .registry import load_facts, published_text

    facts = load_facts(registry)
    return {"study": published_text(facts), "edition": {"n_facts": str(len(facts))}}


def collect_variables(layout: Layout) -> dict[str, Any]:
    """The book's variables: every ``_build/results/<NN>/values.json`` under ``chNN`` -- the only source
    of numbers computed from the data -- plus ``study`` (the study's printed numbers) and ``edition``
    (the size of the registry, read from the registry, and the list of reconstructed figures, read from
    the notebooks' captions)."""
    variables: dict[str, Any] = dict(_registry_values(layout))
    variables.setdefault("edition", {}).update(_edition_values(layout))
    if not layout.results.is_dir():
        return variables
    for path in sorted(layout.results.glob("*/values.json")):
        try:
            values = _chapter_values(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as error:
            raise BuildError("execute", f"{_rel(path, layout.root)} is not valid JSON: {error}", chapter=path.parent.name) from error
        if not isinstance(values, dict):
            raise BuildError("execute", f"{_rel(path, layout.root)} must hold a JSON object", chapter=path.parent.name)
        variables[_chapter_key(path.parent.name)] = values
    return variables


def collect_raw_values(layout: Layout) -> dict[str, dict[str, Any]]:
    """The raw values (numbers, lists, flags) each chapter notebook recorded, by chapter ("07")."""
    raw: dict[str, dict[str, Any]] = {}
    for path in sorted(layout.results.glob("*/values.json")) if layout.results.is_dir() else []:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise BuildError("check", f"{_rel(path, layout.root)} is not valid JSON: {error}", chapter=path.parent.name) from error
        if isinstance(payload, dict) and isinstance(payload.get("raw"), dict):
            raw[path.parent.name] = payload["raw"]
    return raw


def write_variables(layout: Layout, variables: Mapping[str, Any]) -> bool:
    """Write ``_variables.yml`` when its content changes; returns whether it did."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C dumper is ten times faster on ~1,000 values
    text = (
        "# Generated by `clusterkrise build` (_build/results/*/values.json and the registry's printed values). Do not edit.\n"
        + yaml.dump(dict(variables), Dumper=dumper, allow_unicode=True, sort_keys=True, default_flow_style=False)
    )
    path = layout.variables_file
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    _write_atomic(path, text)
    return True


def _default_render() -> RenderFn:
    from .render import render_book

    return render_book


def swap_in(new: Path, book: Path) -> None:
    """Replace ``book`` by ``new``; the previous book survives as ``<book>.old`` until the swap has succeeded."""
    old = book.with_name(book.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    _usual_modes(new)
    if book.exists():
        os.replace(book, old)
    try:
        os.replace(new, book)
    except BaseException:
        if old.exists() and not book.exists():
            os.replace(old, book)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _usual_modes(folder: Path) -> None:
    """Give a rendered tree the modes ``mkdir``/``open`` would (0755/0644 under the usual umask): it was made as a
    private temporary folder (0700), and a web server's user has to read a copy of it."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o777 & ~umask)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, (0o777 if os.access(path, os.X_OK) else 0o666) & ~umask)


def _book_fault(error: OSError, layout: Layout, verb: str) -> BuildError:
    """One line for a fault of the file system while writing ``_book/`` (the user can fix it; no traceback)."""
    book = f"{_rel(layout.book, layout.root)}/"
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = f"no space left on the device to {verb} {book} ({book} is unchanged); free disk space and build again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EBUSY):
        advice = (
            f"cannot {verb} {book}: {reason}; check the owner and permissions of {book} and of the project folder "
            f"(`ls -ld {book} .`), fix them or remove {book}, then build again"
        )
    else:
        advice = f"cannot {verb} {book}: {reason}; fix that and build again"
    return BuildError("render", advice)


def _keep_other_formats(layout: Layout, tmp: Path, formats: Sequence[str], manifest: Mapping[str, Any]) -> list[str]:
    """Copy into the new book the files of the formats not rendered now (the PDF while previewing HTML): a build
    never deletes output it did not make. Returns the kept paths, relative to the book."""
    kept: list[str] = []
    recorded = manifest.get("book_files") if isinstance(manifest.get("book_files"), dict) else {}
    for fmt in KNOWN_FORMATS:
        if fmt in formats or not layout.book.is_dir():
            continue
        names = [recorded[fmt]] if isinstance(recorded.get(fmt), str) else sorted(
            p.name for p in layout.book.glob(f"*.{fmt}")
        )
        for name in names:
            source, target = layout.book / name, tmp / name
            if source.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                kept.append(name)
    return kept


@_locked
def render_step(
    layout: Layout,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    variables: Mapping[str, Any] | None = None,
    render: RenderFn | None = None,
    force: bool = False,
    out: TextIO | None = None,
) -> dict[str, Path] | None:
    """Render the book into a temporary sibling of ``_book`` and swap it in. Returns None when up to date."""
    out = out or sys.stdout
    unknown = sorted(set(formats) - set(KNOWN_FORMATS))
    if unknown or not formats:
        raise BuildError("render", f"unknown format(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(KNOWN_FORMATS)}")
    variables = collect_variables(layout) if variables is None else variables
    manifest = load_manifest(layout)
    key = render_key(layout, formats, Hasher(), render_engine(render))
    if not force and manifest.get("render") == key and layout.book.is_dir():
        print("render … up to date", file=out, flush=True)
        return None
    render = render or _default_render()
    for stale in layout.root.glob("_book.new-*"):  # left behind by a build that was killed mid-render
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix="_book.new-", dir=layout.root))
    except OSError as error:
        raise _book_fault(error, layout, "write") from None
    epoch = str(source_date_epoch(layout.root))
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = epoch  # pandoc/typst subprocesses inherit it
    start = time.perf_counter()
    try:
        produced = render(layout.root, tmp, formats=tuple(formats), variables=dict(variables), executed_dir=layout.executed)
    except OSError as error:
        writing_book = error.filename is None or str(error.filename).startswith(str(tmp))
        if error.errno not in (errno.ENOSPC, errno.EDQUOT) and not (
            writing_book and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        ):  # e.g. a chapter that cannot be read: the renderer's own failure, with its log
            raise _render_failure(layout, tmp, error) from error
        shutil.rmtree(tmp, ignore_errors=True)
        raise _book_fault(error, layout, "write") from None
    except Exception as error:
        raise _render_failure(layout, tmp, error) from error
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
    manifest = load_manifest(layout)
    try:
        kept = _keep_other_formats(layout, tmp, formats, manifest)
        swap_in(tmp, layout.book)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _book_fault(error, layout, "replace") from None
    for name in kept:
        print(f"note: {_rel(layout.book, layout.root)}/{name} is kept from an earlier build", file=out, flush=True)
    manifest["render"] = key
    files = dict(manifest.get("book_files") or {}) if isinstance(manifest.get("book_files"), dict) else {}
    for fmt, path in dict(produced or {}).items():
        with contextlib.suppress(ValueError):
            files[fmt] = Path(path).relative_to(tmp).as_posix()
    manifest["book_files"] = files
    save_manifest(layout, manifest)
    for stale_log in layout.logs.glob("render-*.log"):
        stale_log.unlink()
    print(f"render … {time.perf_counter() - start:.1f} s", file=out, flush=True)
    result = {}
    for fmt, path in dict(produced or {}).items():
        path = Path(path)
        try:
            result[fmt] = layout.book / path.relative_to(tmp)
        except ValueError:
            result[fmt] = path
    return result


def _render_failure(layout: Layout, tmp: Path, error: BaseException) -> BuildError:
    shutil.rmtree(tmp, ignore_errors=True)
    chapter = getattr(error, "chapter", None) or getattr(error, "file", None) or "book"
    log = _write_log(layout, "render", Path(str(chapter)).stem, traceback.format_exc())
    return BuildError("render", f"{type(error).__name__}: {error}", chapter=str(chapter), log=_rel(log, layout.root))


@dataclass
class BuildReport:
    execute: ExecuteReport
    rendered: dict[str, Path] | None
    seconds: float


def _log_snapshot(layout: Layout) -> dict[str, tuple[int, int, int]]:
    """The log files there are now, by name, with what tells whether a file was written again since."""
    snapshot = {}
    if layout.logs.is_dir():
        for path in layout.logs.iterdir():
            with contextlib.suppress(OSError):
                info = path.stat()
                if stat.S_ISREG(info.st_mode):
                    snapshot[path.name] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return snapshot


def remove_older_logs(layout: Layout, before: Mapping[str, tuple[int, int, int]]) -> None:
    """After a successful build, its logs replace older ones: a log the build did not write again describes a
    failure that no longer applies. ``before``: :func:`_log_snapshot` from the build's start."""
    for name, (ino, size, mtime) in _log_snapshot(layout).items():
        if before.get(name) == (ino, size, mtime):
            with contextlib.suppress(OSError):
                (layout.logs / name).unlink()


@_locked
def build(
    root: Path | str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    use_cache: bool = True,
    render: RenderFn | None = None,
    validate: ValidateFn | None | bool = True,
    warm_kernels: bool | None = None,
    out: TextIO | None = None,
) -> BuildReport:
    """Execute what changed, merge values into ``_variables.yml``, render what changed into ``_book/``.

    Raises BuildError (with step, chapter and log path) on the first failing step; ``_book/`` is then untouched.
    """
    start = time.perf_counter()
    layout = Layout(Path(root).resolve() if root else find_project_root())
    older_logs = _log_snapshot(layout)
    report = execute(
        layout, params=params, jobs=jobs, use_cache=use_cache, validate=validate, warm_kernels=warm_kernels, out=out
    )
    variables = collect_variables(layout)
    write_variables(layout, variables)
    rendered = render_step(layout, formats=formats, variables=variables, render=render, force=not use_cache, out=out)
    remove_older_logs(layout, older_logs)
    return BuildReport(execute=report, rendered=rendered, seconds=time.perf_counter() - start)

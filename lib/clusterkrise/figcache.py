"""Figures drawn before, by content: a figure equal to one already drawn is copied, not drawn again.

Drawing a figure (layout, tick labels, text measurement, SVG) costs a tenth to half a second; keying it costs a
pickle of the figure and a hash, a few milliseconds. A reviewer who runs a notebook again with another
parameter, or a rebuild after a library change that leaves most figures as they were, gets the unchanged figures
from here.

The key is the sha256 of everything the SVG is made from:

* the figure's state as pickled (matplotlib figures pickle; transforms hold the ``id()`` of their dependants,
  which changes from process to process and says nothing about the drawing, so those are left out),
* the source of every module outside matplotlib and numpy that the pickle refers to by name (the tick
  formatters of :mod:`clusterkrise.plots` run at draw time) and of the saving code itself (``plots.py``),
* the alternative text, the rcParams in force while saving (the house style included), the versions of
  matplotlib, numpy and FreeType, and the bytes of the font files the house style resolves to.

A figure that cannot be pickled gets no key and is drawn. The cache lives in the project's ``_build/cache/figures/``
(the build names its own project's folder to its kernels), so a clean build (``_build`` removed) starts without it. An entry
is one file ``<key>.svg.entry``: the sha256 of the SVG, a newline, the SVG; it is written to a temporary file
and renamed, and read only when the hash matches, so a partial or damaged entry is drawn again and replaced.
``CLUSTERKRISE_FIGURE_CACHE=0`` switches it off (every figure drawn), a path puts it elsewhere.

A hit renews the entry's modification time; after executing notebooks the build keeps the most recently used
entries up to :data:`clusterkrise.build.FIGURE_CACHE_BYTES` and removes the rest (every changed figure adds an
entry, and a reviewer trying parameters adds many).
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import io
import os
import pickle
import types
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import matplotlib as mpl
import matplotlib.transforms as mtransforms
from matplotlib import cbook

from . import PROJECT_ROOT, cache_folder

ENV = "CLUSTERKRISE_FIGURE_CACHE"
_PROJECT = __name__.split(".", 1)[0]
# rcParams that do not reach an SVG file (the backend the kernel displays with, GUI keys).
_RC_IGNORED = ("backend", "backend_fallback", "interactive", "toolbar", "savefig.directory", "figure.raise_window",
               "keymap.", "webagg.", "tk.", "macosx.", "pdf.", "ps.", "pgf.")


def figure_cache() -> Path | None:
    """The cache folder (``None`` when switched off): ``$CLUSTERKRISE_FIGURE_CACHE``, else the project's
    ``_build/cache/figures`` -- the same for the build and for a reviewer's papermill run, wherever its
    ``output_dir`` points, so a notebook run after a build finds the figures the build drew."""
    return cache_folder(os.environ.get(ENV), PROJECT_ROOT / "_build" / "cache" / "figures")


class _KeyPickler(pickle.Pickler):
    """A pickle for keying only: a transform's ``_parents`` (``id()`` -> dependant), a callback registry's id
    counter and the clock time a date rule was made at are left out, and the modules
    whose classes and functions the pickle names are collected (their code runs when the figure is drawn)."""

    def __init__(self, file):
        super().__init__(file, protocol=5)
        self.modules: set[str] = set()

    def reducer_override(self, obj):
        named = obj if isinstance(obj, type) or callable(obj) else type(obj)
        module = getattr(named, "__module__", None)
        if isinstance(module, str):
            self.modules.add(module)
        if isinstance(obj, cbook.CallbackRegistry):
            # as CallbackRegistry.__getstate__, which also draws the next callback id (so a second pickle of the
            # same figure would differ); the id counter says nothing about the drawing
            state = {**vars(obj), "_func_cid_map": None, "_cid_gen": None,
                     "callbacks": {signal: {cid: proxy() for cid, proxy in callbacks.items() if cid in obj._pickled_cids}
                                   for signal, callbacks in obj.callbacks.items()}}
            return (copyreg.__newobj__, (type(obj),), state)
        if type(obj).__name__ == "rrulewrapper" and type(obj).__module__ == "matplotlib.dates":
            # a date locator's rule: made from its keywords (kept), and without a start date from the time it was
            # made (left out); the locator builds it again from the axis limits before it places a tick
            reduced = obj.__reduce_ex__(5)
            state = dict(reduced[2])
            if "dtstart" not in state.get("_construct", {}):
                state["_rrule"] = None
            return (reduced[0], reduced[1], state, *reduced[3:])
        if isinstance(obj, mtransforms.TransformNode):
            reduced = obj.__reduce_ex__(5)
            state = dict(reduced[2])
            state["_parents"] = {}
            return (reduced[0], reduced[1], state, *reduced[3:])
        return NotImplemented


def figure_state(fig) -> tuple[bytes, set[str]]:
    """The figure pickled for keying, and the modules it names."""
    buffer = io.BytesIO()
    pickler = _KeyPickler(buffer)
    pickler.dump(fig)
    return buffer.getvalue(), pickler.modules


def _own_closure(module: str) -> set[str]:
    """``module`` and the modules of its own package it uses at module level, transitively (the code of
    ``clusterkrise.plots`` that a tick formatter calls lives partly in ``clusterkrise.formatting``)."""
    top = module.split(".", 1)[0]
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name not in sys.modules:
            continue
        seen.add(name)
        for value in vars(sys.modules[name]).values():
            used = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(used, str) and used.split(".", 1)[0] == top and used not in seen:
                todo.append(used)
    return seen


@lru_cache(maxsize=None)
def _code_digest(module: str) -> bytes | None:
    """What decides the behaviour of ``module``'s code: for this project's modules their bytes and those of the
    project modules they use, for others the version of their package (or, without one, the module's bytes);
    ``None`` when neither is known (a class defined in a notebook cell)."""
    top = module.split(".", 1)[0]
    if top in sys.stdlib_module_names:
        return f"{module}=Python {sys.version}".encode()
    version = getattr(sys.modules.get(top), "__version__", None)
    if top != _PROJECT and isinstance(version, str):
        return f"{module}={version}".encode()
    digest = hashlib.sha256(module.encode())
    for name in sorted(_own_closure(module) if top == _PROJECT else {module} & set(sys.modules)):
        path = getattr(sys.modules[name], "__file__", None)
        if not path or not Path(path).is_file():
            return None
        digest.update(b"\0" + name.encode() + b"=" + hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.digest() if module in sys.modules else None


@lru_cache(maxsize=None)
def _environment_digest(rc: str) -> bytes:
    from matplotlib import font_manager, ft2font

    import numpy as np

    digest = hashlib.sha256()
    for part in (sys.version.split()[0], mpl.__version__, np.__version__, ft2font.__freetype_version__, rc):
        digest.update(part.encode() + b"\0")
    for weight in ("normal", "bold"):
        for style in ("normal", "italic"):
            font = font_manager.findfont(font_manager.FontProperties(weight=weight, style=style))
            digest.update(hashlib.sha256(Path(font).read_bytes()).digest())
    for own in ("plots", "figcache"):  # the saving code, and how the key is made
        digest.update(_code_digest(f"{_PROJECT}.{own}") or b"-")
    return digest.digest()


def _rc_text() -> str:
    return repr(sorted((k, repr(v)) for k, v in mpl.rcParams.items() if not k.startswith(_RC_IGNORED)))


class FigureCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def key(self, fig, alt_text: str) -> str | None:
        """The key of ``fig`` saved with ``alt_text`` under the rcParams in force, ``None`` if it cannot be made."""
        try:
            state, modules = figure_state(fig)
        except Exception:  # a figure holding something unpicklable (a lambda formatter) is simply drawn
            return None
        digest = hashlib.sha256(_environment_digest(_rc_text()))
        for module in sorted(modules):
            code = _code_digest(module)
            if code is None:  # code the key cannot follow: draw
                return None
            digest.update(code)
        digest.update(alt_text.encode("utf-8") + b"\0")
        digest.update(state)
        return digest.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.folder / f"{key}.svg.entry"

    def get(self, key: str) -> bytes | None:
        """The stored SVG of ``key``, or ``None`` when there is none or it does not match its hash."""
        try:
            raw = self._entry(key).read_bytes()
        except OSError:
            return None
        head, sep, svg = raw.partition(b"\n")
        if not sep or hashlib.sha256(svg).hexdigest().encode() != head:
            return None
        with contextlib.suppress(OSError):  # used now: the last to go when the build prunes the cache
            os.utime(self._entry(key))
        return svg

    def copy_to(self, key: str, target: Path) -> bool:
        svg = self.get(key)
        if svg is None:
            return False
        _write_atomically(target, svg)
        return True

    def put(self, key: str, svg_file: Path) -> None:
        """Store the drawn ``svg_file`` under ``key``; a cache that cannot be written is left alone."""
        try:
            svg = svg_file.read_bytes()
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(self._entry(key), hashlib.sha256(svg).hexdigest().encode() + b"\n" + svg)
        except OSError:
            pass


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it into place, so no reader sees a partial file."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

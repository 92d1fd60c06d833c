"""The project's cache of the loaded, validated survey file, shared by the notebooks of a build and by later runs.

Every chapter notebook starts with ``Survey.load``: reading the file and checking every cell against the codebook
takes about half a second, the same half second in each of ten notebooks (and the build's own check of the
data). The first load stores the validated frame -- with the warnings validation gave -- under a key made of the
bytes of everything it was made from: the data file, the mapping, the codebook and the library modules that read
and check them, and the pandas version; a later load of the same gets the same frame (a pickle round trip is
exact) and the same warnings. The folder is ``$CLUSTERKRISE_DATA_CACHE`` (the build sets its own), else the
project's ``_build/data-cache`` -- so a reviewer's papermill run after a build finds the build's load, as it finds
its figures (:mod:`.figcache`); ``0`` switches it off. The newest :data:`KEEP` entries are kept.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable

ENV = "CLUSTERKRISE_DATA_CACHE"
KEEP = 8  # loads of other data files (a reviewer's data_path) beyond these are removed, oldest first
# The modules whose code decides what a loaded frame holds.
_SOURCES = ("io.py", "validation.py", "filterlogic.py", "codebook.py", "mapping.py", "importer.py", "datacache.py")


def data_cache() -> str | None:
    """``$CLUSTERKRISE_DATA_CACHE``, else the project's ``_build/data-cache`` (where the build keeps it); None: off."""
    from . import PROJECT_ROOT, cache_folder

    folder = cache_folder(os.environ.get(ENV), PROJECT_ROOT / "_build" / "data-cache")
    return None if folder is None else str(folder)


def _key(files: list[Path]) -> str:
    import pandas as pd

    digest = hashlib.sha256(pd.__version__.encode())
    here = Path(__file__).resolve().parent
    for path in [*files, *(here / name for name in _SOURCES)]:
        # by content, not by name: the build's check and the notebooks name the same file differently
        digest.update(b"\0" + (hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"(none)"))
    return digest.hexdigest()


def cached_load(load: Callable[[], Any], files: list[Path], folder: str | None = None) -> Any:
    """``load()``, or what it returned before for the same ``files`` (and code). ``folder``: the cache (default:
    :func:`data_cache`)."""
    folder = folder or data_cache()
    if not folder:
        return load()
    try:
        target: Path | None = Path(folder) / f"{_key(files)}.pickle"
    except OSError:  # an input that cannot be read: load() reports it
        target = None
    if target is not None and target.is_file():
        try:
            with open(target, "rb") as handle:
                frame, caught = pickle.load(handle)
        except (OSError, pickle.PickleError, EOFError, ValueError, AttributeError):
            pass  # a damaged entry is made again below
        else:
            for message, category in caught:
                warnings.warn(message, category, stacklevel=3)
            return frame
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        frame = load()  # a file that fails validation raises here and is never stored
    caught = [(str(r.message), r.category) for r in records]
    for message, category in caught:
        warnings.warn(message, category, stacklevel=3)
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            with open(tmp, "wb") as handle:
                pickle.dump((frame, caught), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
            entries = sorted(target.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in entries[KEEP:]:
                old.unlink(missing_ok=True)
        except OSError:  # a cache that cannot be written only costs time
            pass
    return frame

"""An opt-in timing hook for the build profile (``benchmarks/profile_build.py``).

With ``CLUSTERKRISE_TIMINGS=<file>`` in the environment, every :func:`timed` step appends one JSON line
``{"kind", "name", "seconds", "pid", ...}`` to that file; without it :func:`timed` costs one dictionary look-up.
The notebooks' kernels inherit the variable from the build, so figure saving is timed where it happens.
Nothing here changes what a step produces.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator

ENV = "CLUSTERKRISE_TIMINGS"


@contextlib.contextmanager
def timed(kind: str, name: str, **extra: object) -> Iterator[None]:
    path = os.environ.get(ENV)
    if not path:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        record = {"kind": kind, "name": name, "seconds": round(time.perf_counter() - start, 4), "pid": os.getpid(),
                  "end": round(time.time(), 4), **extra}
        # one short write per line with O_APPEND: lines from parallel kernels do not interleave
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

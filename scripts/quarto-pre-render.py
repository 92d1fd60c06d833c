#!/usr/bin/env python3
"""`pre-render` step of _quarto.yml: execute the notebooks (cached) and write _variables.yml.

Quarto runs this from the project root with the Python first on PATH (the project's venv when it is
active). The project's own lib/ goes first on the import path so that a fresh clone uses its own
library, not whichever copy of the package the venv has installed. When nothing changed, the cache
makes this a no-op of about a second.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

try:
    from clusterkrise.cli import main
except ImportError as error:  # the venv is not active: say so instead of a traceback
    print(
        f"quarto pre-render: cannot import the project's library ({error}).\n"
        "  Activate the project's venv first (bash scripts/build sets it up), then run `quarto render`.",
        file=sys.stderr,
    )
    sys.exit(1)

if __name__ == "__main__":
    from clusterkrise.render.book import PRERENDER_DONE_ENV

    if os.environ.get(PRERENDER_DONE_ENV):  # `clusterkrise build --engine quarto` executed already
        sys.exit(0)
    sys.exit(main(["-C", str(ROOT), "execute", "--for-quarto"]))

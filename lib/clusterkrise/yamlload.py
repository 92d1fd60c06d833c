"""Reading YAML: libyaml's parser where it is installed, PyYAML's own for the error message.

The codebook, the registry, the book's variables and the qualitative inputs are read on many paths (the
registry and the codebook even on a build with nothing to do); libyaml parses them about ten times faster and
builds the same values (the constructor is PyYAML's safe one either way). Its error messages lack the offending
line, though, and these files are written by hand: a file that does not parse is parsed once more with
PyYAML's loader, whose error is the one raised.
"""

from __future__ import annotations

from typing import Any

import yaml

_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, faster."""
    try:
        return yaml.load(text, Loader=_FAST)
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
    return yaml.safe_load(text)  # raises the error with the line it is about

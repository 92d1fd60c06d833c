"""Analysis library of the re-created study "Clustermanagements in der Covid-19-Krise".

The modules are small on purpose: notebooks call them, tests pin them down.
"""

from pathlib import Path

__version__ = "0.1.0"

# The project root holds data/, notebooks/ and chapters/; the library lives in lib/clusterkrise.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"


def cache_folder(setting: str | None, default: Path) -> Path | None:
    """A cache's folder from its environment variable's value: unset or empty -> ``default``, "0"/"off"/"no"/
    "false" -> None (no cache), anything else -> that path. (The figure and data caches, and the build's pruning.)"""
    setting = (setting or "").strip()
    if setting.lower() in ("0", "off", "no", "false"):
        return None
    return Path(setting) if setting else default

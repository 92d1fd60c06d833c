"""Analysis library of the re-created study "Clustermanagements in der Covid-19-Krise".

The modules are small on purpose: notebooks call them, tests pin them down.
"""

from pathlib import Path

__version__ = "0.1.0"

# The project root holds data/, notebooks/ and chapters/; the library lives in lib/clusterkrise.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"

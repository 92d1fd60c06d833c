"""The parameters of a build: defaults written once, checked once, named as the groupings name them.

A chapter notebook's ``parameters`` cell lists these names (papermill injects overrides after it);
``Params.from_namespace(globals())`` collects and checks them. The comparison-group functions in
:mod:`clusterkrise.groups` take the same keyword names (``office_size_max_small=...``), so a
parameter goes from the notebook straight into the grouping call that uses it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from . import PROJECT_ROOT

__all__ = ["Params", "ParameterError", "DEFAULTS", "GROUPING_PARAMS", "resolve_path"]

#: The parameters the comparison groupings use, by the keyword names of :mod:`clusterkrise.groups`.
GROUPING_PARAMS = (
    "institutional_threshold",
    "affectedness_low_max",
    "affectedness_high_min",
    "office_size_max_small",
    "age_cut",
)


class ParameterError(ValueError):
    """A parameter is out of range, of the wrong type or points nowhere (message in German)."""


@dataclass(frozen=True)
class Params:
    data_path: str = "data/survey/responses.csv"
    # A survey tool's export needs a mapping file (docs/mapping.md); None for a file in the codebook's format.
    mapping: str | None = None
    alpha: float = 0.10
    office_size_max_small: float = 5
    affectedness_low_max: float = 30
    affectedness_high_min: float = 80
    age_cut: int = 40
    institutional_threshold: float = 50
    min_group_size: int = 5
    output_dir: str = "_build/results"

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> "Params":
        """The parameters a notebook's globals define (its ``parameters`` cell plus papermill's injection)."""
        params = cls(**{name: namespace[name] for name in DEFAULTS if name in namespace})
        params.check()
        return params

    @classmethod
    def of(cls, **values: Any) -> "Params":
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise ParameterError(f"Unbekannte Parameter: {', '.join(unknown)} (bekannt: {', '.join(DEFAULTS)})")
        params = cls(**values)
        params.check()
        return params

    def check(self) -> None:
        """Raise one :class:`ParameterError` listing every bad parameter."""
        problems: list[str] = []

        def number(name: str) -> float | None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                problems.append(f"{name} muss eine Zahl sein, nicht {v!r} ({type(v).__name__})")
                return None
            return float(v)

        alpha = number("alpha")
        if alpha is not None and not 0 < alpha < 1:
            problems.append(f"alpha muss zwischen 0 und 1 liegen (z. B. 0.10), nicht {self.alpha!r}")
        for name in ("affectedness_low_max", "affectedness_high_min", "institutional_threshold"):
            v = number(name)
            if v is not None and not 0 <= v <= 100:
                problems.append(f"{name} ist ein Prozentwert und muss in 0..100 liegen, nicht {v:g}")
        low, high = getattr(self, "affectedness_low_max"), getattr(self, "affectedness_high_min")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) and low >= high:
            problems.append(f"affectedness_low_max ({low:g}) muss kleiner sein als affectedness_high_min ({high:g})")
        size = number("office_size_max_small")
        if size is not None and size < 0:
            problems.append(f"office_size_max_small ist eine Zahl von Mitarbeiter:innen und darf nicht negativ sein, nicht {size:g}")
        for name, low_limit in (("age_cut", 0), ("min_group_size", 2)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low_limit:
                problems.append(f"{name} muss eine ganze Zahl ab {low_limit} sein, nicht {v!r}")
        if self.mapping is not None and (not isinstance(self.mapping, (str, Path)) or not str(self.mapping).strip()):
            problems.append(f"mapping muss ein Pfad (Text) oder None sein, nicht {self.mapping!r} ({type(self.mapping).__name__})")
        for name in ("data_path", "output_dir"):
            v = getattr(self, name)
            if not isinstance(v, (str, Path)) or not str(v).strip():
                problems.append(f"{name} muss ein Pfad (Text) sein, nicht {v!r} ({type(v).__name__})")
        if problems:
            raise ParameterError("Ungültige Parameter:\n  " + "\n  ".join(problems))

    @property
    def grouping(self) -> dict[str, Any]:
        """The grouping thresholds as keyword arguments for :mod:`clusterkrise.groups`."""
        return {name: getattr(self, name) for name in GROUPING_PARAMS}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def data_file(self) -> Path:
        return resolve_path(self.data_path)

    @property
    def mapping_file(self) -> Path | None:
        return None if self.mapping is None else resolve_path(self.mapping)

    @property
    def output_folder(self) -> Path:
        return resolve_path(self.output_dir)


DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Params)}


def resolve_path(path: str | Path) -> Path:
    """Relative paths are relative to the project root (where notebooks and the build run from)."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p

"""What every chapter notebook shares: checked parameters, the loaded data, groupings and output writing.

A notebook does::

    ctx = report.setup("07", data_path=data_path, alpha=alpha, ...)   # stops on bad parameters
    ch07.abb16(ctx)                                                    # one call per figure/table
    ctx.finish()                                                       # writes values.json

``setup`` validates everything a reviewer may change with ``papermill -p``; the chapter functions
(`clusterkrise.report.chNN`) compute, plot and call :meth:`Context.figure` / :meth:`Context.table`, which
write ``abb-NN.svg|png|csv`` / ``tab-NN.csv`` into the output folder and display the result so that
Quarto's ``{{< embed >}}`` (and our renderer) can pick it up from the executed notebook.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import PROJECT_ROOT
from ..codebook import Codebook, load_codebook

DEFAULTS: dict[str, Any] = {
    "data_path": "data/survey/responses.csv",
    "alpha": 0.10,
    "office_size_max_small": 5,
    "affectedness_low_max": 30,
    "affectedness_high_min": 80,
    "age_cut": 40,
    "institutional_threshold": 50,
    "min_group_size": 5,
    "output_dir": "_build/results",
}


class ParameterError(ValueError):
    """A notebook parameter is out of range or points nowhere; raised in the notebook's first cell."""


@dataclass
class Params:
    data_path: str = DEFAULTS["data_path"]
    alpha: float = DEFAULTS["alpha"]
    office_size_max_small: float = DEFAULTS["office_size_max_small"]
    affectedness_low_max: float = DEFAULTS["affectedness_low_max"]
    affectedness_high_min: float = DEFAULTS["affectedness_high_min"]
    age_cut: int = DEFAULTS["age_cut"]
    institutional_threshold: float = DEFAULTS["institutional_threshold"]
    min_group_size: int = DEFAULTS["min_group_size"]
    output_dir: str = DEFAULTS["output_dir"]

    def type_problems(self) -> list[str]:
        """One German line per parameter of the wrong type (papermill -p and --param pass any literal)."""
        problems = []
        for name, default in DEFAULTS.items():
            value = getattr(self, name)
            if isinstance(default, str):
                ok = isinstance(value, (str, PathLike)) and bool(str(value).strip())
                want = f"ein Pfad als Text, z. B. {default!r}"
            elif name in ("age_cut", "min_group_size"):
                ok = isinstance(value, int) and not isinstance(value, bool)
                want = "eine ganze Zahl"
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                want = "eine Zahl"
            if not ok:
                problems.append(f"{name} muss {want} sein, erhalten: {value!r} ({type(value).__name__})")
        return problems

    def check(self) -> None:
        wrong_type = self.type_problems()
        if wrong_type:
            # Range checks on a value of the wrong type would only add confusing follow-up errors.
            raise ParameterError("Ungültige Parameter:\n  " + "\n  ".join(wrong_type))
        problems = []
        if not isinstance(self.alpha, (int, float)) or not 0 < float(self.alpha) < 1:
            problems.append(f"alpha must lie strictly between 0 and 1, got {self.alpha!r}")
        for name in ("affectedness_low_max", "affectedness_high_min", "institutional_threshold"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 100:
                problems.append(f"{name} is a percentage and must lie in 0..100, got {v!r}")
        if isinstance(self.affectedness_low_max, (int, float)) and isinstance(self.affectedness_high_min, (int, float)) and self.affectedness_low_max >= self.affectedness_high_min:
            problems.append(f"affectedness_low_max ({self.affectedness_low_max}) must be below affectedness_high_min ({self.affectedness_high_min})")
        if not isinstance(self.office_size_max_small, (int, float)) or self.office_size_max_small < 0:
            problems.append(f"office_size_max_small must be a non-negative staff count, got {self.office_size_max_small!r}")
        if not isinstance(self.min_group_size, int) or self.min_group_size < 2:
            problems.append(f"min_group_size must be an integer of at least 2, got {self.min_group_size!r}")
        if problems:
            raise ParameterError("Ungültige Parameter:\n  " + "\n  ".join(problems))

    @property
    def group_params(self) -> dict[str, Any]:
        return {
            "threshold": self.institutional_threshold,
            "low_max": self.affectedness_low_max,
            "high_min": self.affectedness_high_min,
            "max_small": self.office_size_max_small,
            "cut": self.age_cut,
        }


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


@dataclass
class Context:
    chapter: str
    params: Params
    started: pd.DataFrame
    data: pd.DataFrame
    codebook: Codebook
    groups: dict[str, pd.Series]
    out: Path
    values: dict[str, Any] = field(default_factory=dict)
    produced: list[str] = field(default_factory=list)

    # -- analysis shortcuts ----------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return float(self.params.alpha)

    def labels(self, question: str) -> dict[str, str]:
        return self.codebook.labels(question)

    def special(self, question: str) -> dict[str, list[int]]:
        q = self.codebook.question(question)
        return {c: list(q.scale.special) for c in q.columns}

    def answered(self, question: str) -> pd.DataFrame:
        """Cleaned respondents who answered at least one item of the question."""
        cols = self.codebook.items_of(question)
        return self.data.loc[self.data[cols].notna().any(axis=1)]

    def n(self, question: str) -> int:
        return int(len(self.answered(question)))

    def grouping(self, name: str) -> pd.Series:
        if name not in self.groups:
            from .. import groups as g

            self.groups[name] = g.grouping(self.data, name, **self.params.group_params)
        return self.groups[name]

    def utest(self, question: str | Sequence[str], grouping: str | Sequence[str]) -> pd.DataFrame:
        """U-tests of a question's items (or given columns) between the groups of one or more groupings."""
        from ..utests import compare_groups

        if isinstance(question, str):
            items = self.codebook.items_of(question)
        else:
            items = list(question)
        names = [grouping] if isinstance(grouping, str) else list(grouping)
        special = {c: list(self.codebook.question_of(c).scale.special) for c in items}
        labels = {c: self.codebook.item(c).label for c in items}
        return compare_groups(
            self.data,
            items,
            {name: self.grouping(name) for name in names},
            alpha=self.alpha,
            min_group_size=self.params.min_group_size,
            item_labels=labels,
            special_codes=special,
        )

    # -- outputs ---------------------------------------------------------------------------------
    def value(self, key: str, value: Any) -> Any:
        """Remember a value the chapter prose quotes ({{< var chNN.key >}})."""
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (np.floating, float)):
            value = None if math.isnan(value) else float(value)
        self.values[key] = value
        return value

    def figure(self, number: int, fig, data: pd.DataFrame, *, alt: str, n: int | None = None, utest: pd.DataFrame | None = None):
        """Save figure `Abb. number` (SVG + PNG), its tidy values (CSV) and display it for embedding."""
        from IPython.display import SVG, display

        from ..plots import save_figure

        stem = self.out / f"abb-{number:02d}"
        if n is not None:
            # As a suptitle the note gets its own strip in the constrained layout, above legends and
            # column titles, instead of being drawn over them.
            fig.suptitle(f"N = {n}", x=0.995, ha="right", fontsize=8, color="#555555")
            self.value(f"abb{number:02d}_n", n)
        svg, _png = save_figure(fig, stem, alt_text=alt)
        self._write_csv(stem.with_suffix(".csv"), data, utest)
        self.produced.append(f"abb-{number:02d}")
        import matplotlib.pyplot as plt

        plt.close(fig)
        display(SVG(filename=str(svg)))

    def table(self, number: int, df: pd.DataFrame, *, n: int | None = None, data: pd.DataFrame | None = None, utest: pd.DataFrame | None = None):
        """Save table `Tab. number` (CSV of the shown table, plus tidy values) and display it as Markdown."""
        from IPython.display import Markdown, display

        stem = self.out / f"tab-{number:02d}"
        if n is not None:
            self.value(f"tab{number:02d}_n", n)
        self._write_csv(stem.with_suffix(".csv"), data if data is not None else df, utest)
        self.produced.append(f"tab-{number:02d}")
        display(Markdown(markdown_table(df)))

    def _write_csv(self, path: Path, data: pd.DataFrame, utest: pd.DataFrame | None) -> None:
        frame = data.copy()
        if utest is not None and len(utest):
            frame = pd.concat([frame.assign(section="values"), utest.assign(section="utest")], ignore_index=True, sort=False)
        frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")

    def finish(self) -> Path:
        path = self.out / "values.json"
        payload = {"chapter": self.chapter, "produced": self.produced, "values": self.values}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        return path


_NUMBER_CELL = re.compile(r"[−\-]?[\d.,]+(\s?%)?|[↑↗→↘↓?]")


def markdown_table(df: pd.DataFrame) -> str:
    """A pipe table without extra dependencies (German decimal comma for floats)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return f"{v:.1f}".replace(".", ",") if v % 1 else f"{int(v)}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = [str(c) for c in df.columns]
    body = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    # Pandoc reads relative column widths from the dashes of a pipe table's separator line once a row
    # is wider than the page, so the dashes follow the longest text of each column (header words count
    # less: they wrap, and a long header should not steal the width of a column of short numbers).
    # A floor keeps short number columns wide enough for "100 %" and a header word.
    longest = [max([len(w) for w in c.split()] + [len(r[i]) for r in body] + [12]) for i, c in enumerate(cols)]
    numeric = [bool(body) and all(_NUMBER_CELL.fullmatch(r[i]) for r in body if r[i]) for i in range(len(cols))]
    rules = [("-" * (min(n, 60) - 1) + ":") if num else (":" + "-" * (min(n, 60) - 1)) for n, num in zip(longest, numeric)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(rules) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def setup_from(namespace: Mapping[str, Any], chapter: str) -> Context:
    """`setup` with the parameters a notebook's ``parameters`` cell defined (its globals)."""
    return setup(chapter, **{k: namespace[k] for k in DEFAULTS if k in namespace})


def setup(chapter: str, **params: Any) -> Context:
    """Check the parameters, load and clean the data, build the comparison groups, prepare the output folder."""
    from .. import groups as g
    from ..io import apply_cleaning, load_survey

    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ParameterError(f"Unbekannte Parameter: {', '.join(sorted(unknown))} (bekannt: {', '.join(DEFAULTS)})")
    p = Params(**{**DEFAULTS, **params})
    p.check()
    data_path = _resolve(p.data_path)
    if not data_path.is_file():
        raise ParameterError(f"Datendatei nicht gefunden: {data_path} (Parameter data_path={p.data_path!r})")
    codebook = load_codebook()
    started = load_survey(data_path, codebook=codebook)
    data = apply_cleaning(started, codebook)
    groups = g.make_groupings(data, **p.group_params)
    empty = [
        f"{name}: Gruppe '{label}' ist leer"
        for name, series in groups.items()
        for label, size in (series.attrs.get("group_sizes") or series.value_counts().to_dict()).items()
        if size == 0
    ]
    if empty:
        raise ParameterError("Die Schwellenwerte leeren eine Vergleichsgruppe:\n  " + "\n  ".join(empty))
    out = _resolve(p.output_dir) / chapter
    out.mkdir(parents=True, exist_ok=True)
    return Context(chapter=chapter, params=p, started=started, data=data, codebook=codebook, groups=groups, out=out)

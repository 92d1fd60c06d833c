"""What a chapter notebook hands to the book: figures, tables and named values.

A notebook creates one :class:`ChapterResults` and, step by step,

* ``results.figure("abb-16", fig, data, alt=..., n=..., utest=...)`` writes ``abb-16.svg|csv``
  and displays the figure (Quarto's ``{{< embed >}}`` and our renderer pick it up from the executed
  notebook);
* ``results.table("tab-05", shown, n=..., data=...)`` writes ``tab-05.csv`` and displays the table;
* ``results.pct("abb16_childcare_relevance", share)`` (and ``count``, ``mean``, ``text``, ``items``,
  ``flag``) records a value the chapter prose prints as ``{{< var ch07.abb16_childcare_relevance >}}``;
* ``results.finish()`` writes ``values.json``.

Every value is stored twice: ``raw`` (the number, list or flag, for ``clusterkrise check`` and the
tests) and ``text`` (German notation from :mod:`clusterkrise.formatting`, what the book prints).
Where a value answers a statement of the study, its key is the statement's id in
``data/published_facts.yaml``; ``clusterkrise check`` finds it by that key.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import formatting as fmt
from .params import Params

__all__ = ["ChapterResults", "markdown_table"]

# Registry ids keep the item ids' capitals ("tab05_B1_01"), so keys may hold them too.
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _plain(value: Any) -> Any:
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    return value


@dataclass
class ChapterResults:
    chapter: str
    params: Params
    raw: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    produced: list[str] = field(default_factory=list)

    @property
    def out(self) -> Path:
        folder = self.params.output_folder / self.chapter
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- values the prose prints -----------------------------------------------------------------
    def value(self, key: str, raw: Any, text: str | None, kind: str = "value") -> Any:
        """Record ``raw`` (checked) and ``text`` (printed, ``None`` for values the prose never prints).

        ``kind`` (pct, count, mean, number, text, items, flag) tells readers of values.json -- the tests,
        ``clusterkrise diff`` -- what sort of number a key holds."""
        if not _KEY.match(key):
            raise ValueError(f"value key {key!r}: use letters, digits and underscores")
        if key in self.raw:
            raise ValueError(f"value {key!r} recorded twice in chapter {self.chapter}")
        self.raw[key] = _plain(raw) if not isinstance(raw, (list, tuple)) else [_plain(v) for v in raw]
        if text is not None:
            self.text[key] = str(text)
        self.kinds[key] = kind
        return raw

    def pct(self, key: str, share: float, decimals: int = 0) -> float:
        """A share (0..1), stored in percent and printed as German number without the sign."""
        share = _plain(share)
        raw = None if share is None else 100.0 * share
        self.value(key, raw, fmt.percent(share, decimals), "pct")
        return share

    def count(self, key: str, n: int) -> int:
        self.value(key, int(n), fmt.number(int(n)), "count")
        return int(n)

    def number(self, key: str, x: float, decimals: int = 1) -> float:
        self.value(key, x, fmt.number(x, decimals), "number")
        return x

    def mean(self, key: str, x: float, decimals: int = 1) -> float:
        """A mean on a rating scale, printed with ``decimals`` places (bipolar scales with their sign)."""
        self.value(key, x, fmt.number(x, decimals), "mean")
        return x

    def text_value(self, key: str, text: str) -> str:
        self.value(key, text, text, "text")
        return text

    def items(self, key: str, items: Iterable[str], labels: Mapping[str, str], *, empty: str = "keine") -> list[str]:
        """A set of items: raw the sorted item ids, printed their labels as a list inside a sentence
        (:func:`clusterkrise.formatting.item_list`)."""
        items = list(items)
        self.value(key, sorted(items), fmt.item_list([labels[i] for i in items], empty=empty), "items")
        return items

    def ranked(self, key: str, stats: "pd.Series", k: int, labels: Mapping[str, str], *, lowest: bool = False,
               ordered: bool = False) -> list[str]:
        """The ``k`` items with the highest (``lowest``: lowest) statistic, as a statement such as "the
        three greatest challenges" names them.

        Printed: their labels, best first. Raw: their ids (sorted, or in rank order with ``ordered``),
        plus ``"<tie>"`` when the ranking is ambiguous -- another item ties with the last one picked
        (``ordered``: any tie among the first k + 1) -- so the check names data where the statement
        cannot be made as printed instead of passing on an arbitrary pick.
        """
        if ordered:
            ranking = stats.sort_values(ascending=lowest, kind="stable")
            picked = list(ranking.index[:k])
            tie = bool(ranking.iloc[: k + 1].duplicated().any())
            raw = list(picked)
        else:
            chosen = stats.nsmallest(k) if lowest else stats.nlargest(k)
            picked = list(chosen.index)
            rest = stats.drop(chosen.index)
            tie = bool(len(rest) and len(chosen) and (rest == chosen.iloc[-1]).any())
            raw = sorted(picked)
        self.value(key, raw + (["<tie>"] if tie else []), fmt.item_list([labels[i] for i in picked]), "items")
        return picked

    def flag(self, key: str, value: bool) -> bool:
        """A yes/no finding (checked, never printed as such)."""
        self.value(key, bool(value), None, "flag")
        return bool(value)

    # -- figures and tables ----------------------------------------------------------------------
    def figure(self, label: str, fig, data: pd.DataFrame, *, alt: str, n: int | None = None,
               utest: pd.DataFrame | None = None) -> None:
        """Save figure ``label`` ("abb-16") as SVG with its tidy values (CSV) and display it."""
        from IPython.display import display

        from .figcache import figure_cache
        from .plots import save_figure

        stem = self.out / label
        if n is not None:
            # As a suptitle the note gets its own strip in the constrained layout, above legends.
            fig.suptitle(f"N = {n}", x=0.995, ha="right", fontsize=8, color="#555555")
            self.count(f"{label.replace('-', '')}_n", n)
        # The figure was made with Figure(), never registered with pyplot: nothing to close, and no pyplot
        # import (a second of every kernel's start) is needed.
        svg = save_figure(fig, stem, alt_text=alt, cache=figure_cache())
        self._write_csv(stem.with_suffix(".csv"), data, utest)
        self.produced.append(label)
        # The file's own text from its <svg> element on. IPython's SVG object would parse the file written just
        # now and re-serialise it with minidom (a fifth of a second per ten figures; same drawing, attributes in
        # another order).
        text = svg.read_text(encoding="utf-8")
        display({"image/svg+xml": text[text.index("<svg"):]}, raw=True)

    def table(self, label: str, shown: pd.DataFrame, *, n: int | None = None, data: pd.DataFrame | None = None,
              utest: pd.DataFrame | None = None, note: str | None = None) -> None:
        """Save table ``label`` ("tab-05") as CSV (tidy values) and display ``shown`` as Markdown;
        ``note`` (e.g. the key to its symbols) is shown under the table, in the same output."""
        from IPython.display import Markdown, display

        if n is not None:
            self.count(f"{label.replace('-', '')}_n", n)
        self._write_csv((self.out / label).with_suffix(".csv"), data if data is not None else shown, utest)
        self.produced.append(label)
        display(Markdown(markdown_table(shown) + (f"\n\n{note}\n" if note else "")))

    def _write_csv(self, path: Path, data: pd.DataFrame, utest: pd.DataFrame | None) -> None:
        frame = data.copy()
        if utest is not None and len(utest):
            frame = pd.concat([frame.assign(section="values"), utest.assign(section="utest")], ignore_index=True, sort=False)
        frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")

    def finish(self) -> Path:
        """Write ``values.json``: the printed texts, the raw values and the parameters they came from."""
        path = self.out / "values.json"
        payload = {
            "chapter": self.chapter,
            "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in self.params.as_dict().items()},
            "produced": self.produced,
            "values": self.text,
            "raw": self.raw,
            "kinds": self.kinds,
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        return path


_NUMBER_CELL = re.compile(r"[−\-+]?[\d.,]+(\s?\u202f?%)?|[↑↗→↘↓?–]")


def markdown_table(df: pd.DataFrame) -> str:
    """A pipe table; number columns right-aligned, column widths from the longest cell."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return fmt.number(v, 1) if v % 1 else fmt.number(v)
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = [str(c) for c in df.columns]
    body = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    # Pandoc reads relative column widths from the dashes of the separator line once a row is wider
    # than the page; header words count less (they wrap), and a floor keeps "100 %" on one line.
    longest = [max([len(w) for w in c.split()] + [len(r[i]) for r in body] + [12]) for i, c in enumerate(cols)]
    numeric = [bool(body) and all(_NUMBER_CELL.fullmatch(r[i]) for r in body if r[i]) for i in range(len(cols))]
    rules = [("-" * (min(n, 60) - 1) + ":") if num else (":" + "-" * (min(n, 60) - 1)) for n, num in zip(longest, numeric)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(rules) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)

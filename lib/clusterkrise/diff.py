"""Compare two builds: every printed value that changed and every significance that flipped.

A build's results folder (``_build/results``) holds, per chapter, ``values.json`` (printed texts and raw
values) and the tidy CSV of every figure and table, whose ``section == "utest"`` rows are the U-tests.
:func:`compare` lines two such folders up; :func:`render_text` and :func:`render_html` show the result
for the terminal and as a page. ``clusterkrise diff OLD NEW`` and ``clusterkrise build --compare`` use it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

__all__ = ["Comparison", "compare", "load_build", "render_html", "render_text", "run_notebooks"]

_TEST_KEYS = ["item", "grouping", "group_1", "group_2"]


@dataclass
class Comparison:
    params_old: dict[str, dict[str, Any]]
    params_new: dict[str, dict[str, Any]]
    values: pd.DataFrame  # chapter, key, kind, old, new
    flips: pd.DataFrame  # chapter, figure, item, item_label, grouping, group_1, group_2, p_old, p_new, significant_old, significant_new

    @property
    def empty(self) -> bool:
        return self.values.empty and self.flips.empty


def load_build(results: Path) -> tuple[dict[str, dict], dict[str, pd.DataFrame]]:
    """``(values.json payload by chapter, U-test rows by "NN/abb-16")`` of one results folder."""
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no results folder (build first, or name a folder with NN/values.json)")
    payloads: dict[str, dict] = {}
    tests: dict[str, pd.DataFrame] = {}
    for path in sorted(results.glob("*/values.json")):
        payloads[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        for csv in sorted(path.parent.glob("*.csv")):
            frame = pd.read_csv(csv)
            if "section" in frame.columns and (frame["section"] == "utest").any():
                tests[f"{path.parent.name}/{csv.stem}"] = frame.loc[frame["section"] == "utest"]
    if not payloads:
        raise FileNotFoundError(f"{results}: holds no NN/values.json")
    return payloads, tests


def compare(old: Path, new: Path) -> Comparison:
    old_values, old_tests = load_build(old)
    new_values, new_tests = load_build(new)
    rows = []
    for chapter in sorted(set(old_values) | set(new_values)):
        a = old_values.get(chapter, {}).get("values", {})
        b = new_values.get(chapter, {}).get("values", {})
        kinds = {**old_values.get(chapter, {}).get("kinds", {}), **new_values.get(chapter, {}).get("kinds", {})}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                rows.append({"chapter": chapter, "key": key, "kind": kinds.get(key, ""), "old": a.get(key), "new": b.get(key)})
    flips = []
    for figure in sorted(set(old_tests) & set(new_tests)):
        a = old_tests[figure].set_index(_TEST_KEYS)
        b = new_tests[figure].set_index(_TEST_KEYS)
        common = a.index.intersection(b.index)
        for key in common:
            sa, sb = _flag(a.loc[key, "significant"]), _flag(b.loc[key, "significant"])
            if sa != sb:
                chapter, stem = figure.split("/")
                flips.append({
                    "chapter": chapter, "figure": _figure_name(stem), **dict(zip(_TEST_KEYS, key)),
                    "item_label": _first(a.loc[key, "item_label"]) if "item_label" in a.columns else "",
                    "p_old": float(_first(a.loc[key, "p"])), "p_new": float(_first(b.loc[key, "p"])),
                    "significant_old": sa, "significant_new": sb,
                })
    return Comparison(
        params_old={ch: p.get("params", {}) for ch, p in old_values.items()},
        params_new={ch: p.get("params", {}) for ch, p in new_values.items()},
        values=pd.DataFrame(rows, columns=["chapter", "key", "kind", "old", "new"]),
        flips=pd.DataFrame(flips, columns=["chapter", "figure", *_TEST_KEYS, "item_label", "p_old", "p_new", "significant_old", "significant_new"]),
    )


def _first(value: Any) -> Any:
    return value.iloc[0] if isinstance(value, pd.Series) else value


def _flag(value: Any) -> bool:
    value = _first(value)
    return str(value).strip().lower() in {"true", "1", "1.0"}


def _figure_name(stem: str) -> str:
    kind, number = stem.split("-", 1)
    return f"{'Abb.' if kind == 'abb' else 'Tab.'} {int(number)}"


def _param_changes(cmp: Comparison) -> dict[str, tuple[Any, Any]]:
    old = next(iter(cmp.params_old.values()), {})
    new = next(iter(cmp.params_new.values()), {})
    skip = {"output_dir"}
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if k not in skip and old.get(k) != new.get(k)}


def render_text(cmp: Comparison) -> str:
    lines = []
    changes = _param_changes(cmp)
    if changes:
        lines.append("parameters: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items()))
    lines.append(f"{len(cmp.flips)} significance(s) flipped, {len(cmp.values)} printed value(s) changed")
    for chapter in sorted(set(cmp.flips["chapter"]) | set(cmp.values["chapter"])):
        lines.append(f"\nKapitel {int(chapter)}")
        for row in cmp.flips[cmp.flips["chapter"] == chapter].itertuples():
            arrow = "signifikant -> nicht signifikant" if row.significant_old else "nicht signifikant -> signifikant"
            lines.append(f"  {row.figure}: {row.item_label or row.item} nach {row.grouping}: {arrow} "
                         f"(p {row.p_old:.4f} -> {row.p_new:.4f})")
        for row in cmp.values[cmp.values["chapter"] == chapter].itertuples():
            lines.append(f"  ch{chapter}.{row.key}: {row.old!r} -> {row.new!r}")
    return "\n".join(lines) + "\n"


def render_html(cmp: Comparison, title: str = "Vergleich zweier Builds") -> str:
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
             f"content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title><style>"
             "body{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.2rem .4rem;text-align:left}"
             ".wrap{overflow-x:auto}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    changes = _param_changes(cmp)
    if changes:
        parts.append("<p>Parameter: " + ", ".join(f"<code>{esc(k)}</code> {esc(repr(a))} → {esc(repr(b))}" for k, (a, b) in changes.items()) + "</p>")
    parts.append(f"<p>{len(cmp.flips)} Signifikanzen gekippt, {len(cmp.values)} gedruckte Werte geändert.</p>")
    for chapter in sorted(set(cmp.flips["chapter"]) | set(cmp.values["chapter"])):
        parts.append(f"<h2>Kapitel {int(chapter)}</h2>")
        flips = cmp.flips[cmp.flips["chapter"] == chapter]
        if len(flips):
            parts.append("<div class=\"wrap\"><table><tr><th>Abbildung</th><th>Item</th><th>Gruppen</th><th>p vorher</th><th>p nachher</th><th>signifikant</th></tr>")
            for row in flips.itertuples():
                parts.append(f"<tr><td>{esc(row.figure)}</td><td>{esc(str(row.item_label or row.item))}</td><td>{esc(str(row.grouping))}</td>"
                             f"<td>{row.p_old:.4f}</td><td>{row.p_new:.4f}</td><td>{'ja → nein' if row.significant_old else 'nein → ja'}</td></tr>")
            parts.append("</table></div>")
        values = cmp.values[cmp.values["chapter"] == chapter]
        if len(values):
            parts.append("<div class=\"wrap\"><table><tr><th>Wert</th><th>vorher</th><th>nachher</th></tr>")
            for row in values.itertuples():
                parts.append(f"<tr><td><code>ch{esc(chapter)}.{esc(row.key)}</code></td><td>{esc(str(row.old))}</td><td>{esc(str(row.new))}</td></tr>")
            parts.append("</table></div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def run_notebooks(root: Path, results: Path, params: Mapping[str, Any]) -> Path:
    """Execute every chapter notebook with ``params`` into ``results`` (papermill, one after another),
    without touching the build's own results or cache; returns ``results``."""
    import papermill

    results.mkdir(parents=True, exist_ok=True)
    executed = results.parent / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    for notebook in sorted((root / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        papermill.execute_notebook(
            str(notebook), str(executed / notebook.name), parameters={**params, "output_dir": str(results)},
            cwd=str(root), kernel_name="python3", progress_bar=False,
        )
    return results

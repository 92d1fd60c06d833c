"""One path from data and parameters to every printed number.

The chapters print only values the chapter notebooks computed (``{{< var chNN.* >}}``) or numbers the
original study printed (``{{< var study.* >}}``). Built on another data set (a resample of the shipped
answers), every registered statement the notebooks record equals an independent recomputation from
*that* data set (``tests/oracle.py``), and most printed percentages change. Built with other
parameters, the values that depend on them change together.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterkrise
from clusterkrise import DATA_DIR
from clusterkrise import formatting as fmt
from clusterkrise.io import load_survey
from clusterkrise.registry import load_facts

import oracle
from conftest import run_chapter

ROOT = clusterkrise.PROJECT_ROOT
CHAPTER_FILES = sorted((ROOT / "chapters").glob("*.qmd")) + sorted(ROOT.glob("*.qmd"))
CHAPTERS = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
VAR = re.compile(r"\{\{<\s*var\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*>\}\}")
RESAMPLE_SEED = 20261130


def used_variables() -> set[tuple[str, str]]:
    return {m.groups() for path in CHAPTER_FILES for m in VAR.finditer(path.read_text(encoding="utf-8"))}


def test_chapters_print_only_notebook_values_or_the_studys_printed_numbers():
    namespaces = {ns for ns, _ in used_variables()}
    allowed = {f"ch{nn}" for nn in CHAPTERS} | {"study", "edition"}
    assert namespaces <= allowed, f"variables outside the one path: {sorted(namespaces - allowed)}"


def test_every_printed_variable_exists_in_the_default_build(executed_project):
    from clusterkrise.build import collect_variables

    variables = collect_variables(executed_project)
    missing = sorted(f"{ns}.{key}" for ns, key in used_variables() if key not in variables.get(ns, {}))
    assert missing == [], f"chapters print variables no notebook (or the registry) provides: {missing}"


def test_study_values_are_quoted_as_the_studys():
    """A sentence that prints a number of the original study says that it is the study's."""
    for path in CHAPTER_FILES:
        for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if "var study." in paragraph:
                assert re.search(r"Studie|Original|gedruckt|nennt|gibt .* an|verzeichnet", paragraph), (
                    f"{path.name}: a paragraph quotes a number of the original study without saying so:\n{paragraph[:300]}"
                )


# --------------------------------------------------------------------------------------------------
# a second data set


def resample(path: Path, out: Path, seed: int) -> Path:
    """The shipped answers, rows drawn with replacement (same columns, new respondent ids)."""
    frame = load_survey(path, validate=False)
    rng = np.random.default_rng(seed)
    drawn = frame.iloc[rng.integers(0, len(frame), len(frame))].reset_index(drop=True)
    drawn["respondent_id"] = np.arange(1, len(drawn) + 1)
    drawn.to_csv(out, index=False)
    return out


@pytest.fixture(scope="module")
def resampled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resampled")
    data = resample(DATA_DIR / "survey" / "responses.csv", folder / "resampled.csv", RESAMPLE_SEED)
    values = {nn: run_chapter(nn, folder / "results", data_path=str(data)) for nn in CHAPTERS}
    return data, values


@pytest.fixture(scope="module")
def default_values(tmp_path_factory):
    folder = tmp_path_factory.mktemp("default")
    return {nn: run_chapter(nn, folder / "results") for nn in CHAPTERS}


def _significant_sets(values) -> tuple[set, set]:
    """(every significant item, the markers) of a sig_set value: the oracle lists a difference against
    the study's direction both as item and as "<reversed:item>", a notebook only as the marker."""
    markers = {str(v) for v in values if str(v).startswith("<")}
    items = {str(v) for v in values if not str(v).startswith("<")}
    reversed_items = {m[len("<reversed:"):-1] for m in markers if m.startswith("<reversed:")}
    return items | reversed_items, markers


def _same(fact, notebook, independent) -> bool:
    if isinstance(independent, list):
        return _significant_sets(notebook or []) == _significant_sets(independent)
    if isinstance(independent, bool) or isinstance(notebook, bool):
        return bool(notebook) == bool(independent)
    if isinstance(independent, float) and isinstance(notebook, (int, float)):
        if np.isnan(independent):
            return notebook is None or np.isnan(notebook)
        return fmt.round_half_up(notebook, fact.decimals or 1) == fmt.round_half_up(independent, fact.decimals or 1)
    return notebook == independent


@pytest.mark.slow
def test_notebook_values_equal_an_independent_recomputation_on_another_data_set(resampled):
    data, values = resampled
    survey = oracle.Survey(load_survey(data))
    raw = {key: value for payload in values.values() for key, value in payload["raw"].items()}
    wrong = []
    for fact in load_facts():
        if fact.kind == "external":
            continue
        expected = oracle.recompute(fact, survey)
        if fact.id not in raw:
            wrong.append(f"{fact.id}: not recorded")
        elif not _same(fact, raw[fact.id], expected):
            wrong.append(f"{fact.id}: notebook {raw[fact.id]!r}, recomputed {expected!r}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.slow
def test_most_printed_percentages_change_on_another_data_set(resampled, default_values):
    _, values = resampled
    printed = {(f"ch{nn}", key) for nn in CHAPTERS for key in default_values[nn]["values"]} & used_variables()
    percentages = [
        (ns, key) for ns, key in printed
        if default_values[ns[2:]].get("kinds", {}).get(key) == "pct"
    ]
    assert len(percentages) > 50, "the chapters print far fewer percentages than expected"
    changed = [k for k in percentages if values[k[0][2:]]["values"].get(k[1]) != default_values[k[0][2:]]["values"][k[1]]]
    share = len(changed) / len(percentages)
    assert share >= 0.75, f"only {share:.0%} of {len(percentages)} printed percentages changed with the data"


@pytest.mark.slow
def test_parameters_reach_the_values_that_depend_on_them(tmp_path_factory, default_values):
    folder = tmp_path_factory.mktemp("params")
    alt = {nn: run_chapter(nn, folder / "results", alpha=0.025, office_size_max_small=6) for nn in CHAPTERS}
    texts = {nn: payload["values"] for nn, payload in alt.items()}
    levels = {f"ch{nn}.{k}": v for nn, t in texts.items() for k, v in t.items() if k == "level"}
    assert levels and set(levels.values()) == {"2,5-%-Niveau"}, levels
    for nn, payload in alt.items():
        assert payload["params"]["alpha"] == 0.025 and payload["params"]["office_size_max_small"] == 6
    # no printed text keeps the default level or a template that reads badly for edge counts
    for nn, t in texts.items():
        for key, text in t.items():
            if key.startswith("study_"):
                continue  # what the original study used, quoted as such
            assert "10-%-Niveau" not in text, f"ch{nn}.{key} still prints the default level: {text}"
            assert not re.search(r"\b(\d+) der \1\b", text), f"ch{nn}.{key}: {text}"

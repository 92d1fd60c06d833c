"""Shared fixtures."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import clusterkrise


@pytest.fixture(scope="session")
def executed_project():
    """The real project with its notebooks executed and `_build/variables.yml` written (what `clusterkrise
    execute` does), so that the book tests render the book a reader gets. Uses the build cache: a
    second test session on an unchanged tree executes nothing."""
    from clusterkrise.build import Layout, collect_variables, execute, write_variables

    layout = Layout(clusterkrise.PROJECT_ROOT)
    execute(layout, out=io.StringIO())
    write_variables(layout, collect_variables(layout))
    return layout


def executed_copy(folder: Path, into: Path) -> Path:
    """A usable copy of a fixture folder of executed notebooks.

    Executed notebooks carry outputs, and the repository stores notebooks without them; so executed
    fixtures are kept as ``*.ipynb.executed`` and get their real name only in the copy.
    """
    if folder.resolve() != into.resolve():
        shutil.copytree(folder, into, dirs_exist_ok=True)
    for path in into.rglob("*.ipynb.executed"):
        path.rename(path.with_suffix(""))
    return into


def run_chapter(chapter: str, output_dir: Path, **params) -> dict:
    """Execute one chapter notebook with papermill (as a reviewer would) and return its values.json.

    ``chapter`` is the two-digit prefix ("07"); ``params`` override the notebook's parameters cell.
    The executed notebook is written next to the results (``output_dir/NN.ipynb``).
    """
    import json

    import papermill

    root = clusterkrise.PROJECT_ROOT
    notebook = next((root / "notebooks").glob(f"{chapter}-*.ipynb"))
    output_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(notebook), str(output_dir / f"{chapter}.ipynb"),
        parameters={"output_dir": str(output_dir), **params}, cwd=str(root), kernel_name="python3",
        progress_bar=False,
    )
    return json.loads((output_dir / chapter / "values.json").read_text(encoding="utf-8"))

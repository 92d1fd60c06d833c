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

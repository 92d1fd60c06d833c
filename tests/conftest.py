"""Shared fixtures."""

from __future__ import annotations

import io

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

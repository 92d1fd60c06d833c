"""clusterkrise.datacache: one validated load per data file and code, shared by the build and later runs."""

import os
import warnings

import pandas as pd
import pytest

import clusterkrise
from clusterkrise import datacache


def test_the_folder_is_the_variable_else_the_projects_and_0_switches_it_off(monkeypatch, tmp_path):
    monkeypatch.delenv(datacache.ENV, raising=False)
    assert datacache.data_cache() == str(clusterkrise.PROJECT_ROOT / "_build" / "data-cache")
    monkeypatch.setenv(datacache.ENV, str(tmp_path))
    assert datacache.data_cache() == str(tmp_path)
    monkeypatch.setenv(datacache.ENV, "0")
    assert datacache.data_cache() is None


def test_a_second_load_of_the_same_file_comes_from_the_cache_with_its_warnings(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    calls = []

    def load():
        calls.append(1)
        warnings.warn("Zeile 2: Hinweis", UserWarning)
        return pd.read_csv(data)

    with pytest.warns(UserWarning, match="Zeile 2"):
        first = datacache.cached_load(load, [data], str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match="Zeile 2"):
        second = datacache.cached_load(load, [data], str(tmp_path / "cache"))
    assert len(calls) == 1 and first.equals(second)
    data.write_text("a\n2\n")  # other bytes: another key
    with pytest.warns(UserWarning):
        third = datacache.cached_load(load, [data], str(tmp_path / "cache"))
    assert len(calls) == 2 and third["a"].tolist() == [2]


def test_the_cache_keeps_the_newest_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(datacache, "KEEP", 2)
    cache, calls = tmp_path / "cache", []
    files = []
    for n in range(4):
        files.append(tmp_path / f"data{n}.csv")
        files[-1].write_text(f"a\n{n}\n")

    def load_file(path):
        def load():
            calls.append(path.name)
            return pd.read_csv(path)
        return datacache.cached_load(load, [path], str(cache))

    for path in files:
        load_file(path)
        for entry in cache.glob("*.pickle"):  # older than the next one, whatever the clock's resolution
            os.utime(entry, ns=(entry.stat().st_mtime_ns - 10**9,) * 2)
    assert len(list(cache.glob("*.pickle"))) == 2
    calls.clear()
    load_file(files[3])
    assert calls == [], "the newest load is kept"
    load_file(files[0])
    assert calls == ["data0.csv"], "the oldest went"

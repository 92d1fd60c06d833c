"""The build tool on a tiny fixture project (tests/fixtures/build): cache, parameters, failures, atomic _book/.

The fixture project has its own stand-in ``clusterkrise`` library (kernels get the project's lib/ first on
PYTHONPATH), two notebooks (01 imports ``clusterkrise.helper`` and reads data/values.csv; 02 imports nothing from
the library) and a broken notebook that a test adds. Rendering is a fake injected into ``build(render=...)``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from clusterkrise import build as b
from clusterkrise.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "build"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


class FakeRenderError(Exception):
    def __init__(self, message: str, chapter: str):
        super().__init__(message)
        self.chapter = chapter


class FakeRender:
    """Stands in for clusterkrise.render.render_book: records calls, writes a small book."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.calls: list[dict] = []

    def __call__(self, project_dir, out_dir, formats=("html", "pdf"), variables=None, executed_dir=None):
        out_dir = Path(out_dir)
        self.calls.append(
            {"formats": formats, "variables": variables, "epoch": os.environ.get("SOURCE_DATE_EPOCH"), "out": out_dir}
        )
        (out_dir / "index.html").write_text("partial", encoding="utf-8")  # a real renderer may die halfway
        if self.fail:
            raise FakeRenderError("unknown variable ch09.missing", chapter="chapters/09-kooperation.qmd")
        chapters = sorted(p.name for p in (Path(project_dir) / "chapters").glob("*.qmd"))
        prose = "".join((Path(project_dir) / "chapters" / name).read_text(encoding="utf-8") for name in chapters)
        (out_dir / "index.html").write_text(json.dumps(variables, sort_keys=True) + prose, encoding="utf-8")
        (out_dir / "book.pdf").write_bytes(b"%PDF-fake")
        return {"html": out_dir / "index.html", "pdf": out_dir / "book.pdf"}


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(path.relative_to(folder).as_posix().encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run(root: Path, **kwargs):
    render = kwargs.pop("render", None) or FakeRender()
    report = b.build(root, render=render, validate=kwargs.pop("validate", False), out=io.StringIO(), **kwargs)
    return report, render


def expected_total(root: Path) -> int:
    with open(root / "data" / "values.csv", encoding="utf-8") as handle:
        return 2 * sum(int(row["x"]) for row in csv.DictReader(handle))  # helper.scale doubles


def data_rows(root: Path) -> int:
    with open(root / "data" / "values.csv", encoding="utf-8") as handle:
        return len(list(csv.DictReader(handle)))


def variables(root: Path) -> dict:
    return yaml.safe_load((root / "_build" / "variables.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One clean build of the fixture project; tests work on copies of it."""
    root = tmp_path_factory.mktemp("built") / "project"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("broken", "__pycache__"))
    report, render = run(root, warm_kernels=True)  # two notebooks would get fresh kernels; cover the warm path
    return root, report, render


@pytest.fixture
def project(built, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built[0], root, symlinks=True)
    return root


def test_clean_build_executes_every_notebook_and_merges_values(built):
    root, report, render = built
    assert sorted(report.execute.executed) == ["01-alpha", "02-beta"]
    assert report.execute.cached == []
    assert variables(root) == {
        "ch01": {"alpha": 0.1, "total": expected_total(root)},
        "ch02": {"age_cut": 3},
        # what the build says about this edition: no figure of the fixture is marked as reconstructed
        "edition": {"reconstructed_figures": "keine"},
    }
    assert len(render.calls) == 1 and render.calls[0]["variables"] == variables(root)
    assert (root / "_book" / "index.html").is_file()
    assert (root / "_build" / "notebooks" / "01-alpha.ipynb").is_file()
    assert (root / "_build" / "results" / "ch01" / "tab-01.csv").is_file()
    manifest = json.loads((root / "_build" / "cache.json").read_text())
    assert set(manifest["notebooks"]) == {"01-alpha", "02-beta"} and manifest["render"]
    assert not list(root.glob("_book.*")), "no temporary or old book folder may remain"


def test_noop_rebuild_executes_and_renders_nothing(project):
    report, render = run(project)
    assert report.execute.executed == [] and sorted(report.execute.cached) == ["01-alpha", "02-beta"]
    assert render.calls == [] and report.rendered is None


def test_notebook_change_reexecutes_only_that_notebook(project):
    path = project / "notebooks" / "02-beta.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("extra = 1"))
    nbformat.write(nb, path)
    report, render = run(project)
    assert report.execute.executed == ["02-beta"] and report.execute.cached == ["01-alpha"]
    assert len(render.calls) == 1  # a re-executed notebook means new results, so the book is rendered again


def test_change_of_an_imported_library_module_reexecutes_its_importers_only(project):
    helper = project / "lib" / "clusterkrise" / "helper.py"
    helper.write_text("def scale(value):\n    return value * 3\n")
    report, _ = run(project)
    assert report.execute.executed == ["01-alpha"] and report.execute.cached == ["02-beta"]
    assert variables(project)["ch01"]["total"] == expected_total(project) // 2 * 3


def test_change_of_an_unimported_library_module_executes_nothing(project):
    (project / "lib" / "clusterkrise" / "unrelated.py").write_text("def unused():\n    return 1\n")
    report, _ = run(project)
    assert report.execute.executed == []


def test_data_change_reexecutes_the_notebooks_that_read_it(project):
    with open(project / "data" / "values.csv", "a", encoding="utf-8") as handle:
        handle.write("10\n")
    report, _ = run(project)
    assert "01-alpha" in report.execute.executed
    assert variables(project)["ch01"]["total"] == expected_total(project)


def test_variables_hold_only_notebook_values_and_the_registry(project):
    """One path for numbers: nothing but the notebooks' values.json (and, where the project has a
    registry, the study's printed numbers) reaches the book's variables."""
    assert set(variables(project)) == {"ch01", "ch02", "edition"}
    registry = project / "data" / "published_facts.yaml"
    registry.write_text(
        "facts:\n  - {id: n_rows, place: {section: '1'}, printed: '3 rows', kind: n_rows, published: 3}\n",
        encoding="utf-8",
    )
    b.write_variables(b.Layout(project), b.collect_variables(b.Layout(project)))
    assert variables(project)["study"] == {"n_rows": "3"}
    assert variables(project)["edition"] == {"n_facts": "1", "reconstructed_figures": "keine"}


def test_report_style_values_json_is_merged_under_its_chapter_key(project):
    folder = project / "_build" / "results" / "07"
    folder.mkdir()
    (folder / "values.json").write_text(json.dumps({"chapter": "07", "produced": ["abb-16"], "values": {"n": 5}}))
    assert b.collect_variables(b.Layout(project))["ch07"] == {"n": 5}


def test_parameter_change_reexecutes_the_notebooks_that_declare_it(project):
    report, _ = run(project, params={"age_cut": 4})
    assert report.execute.executed == ["02-beta"] and report.execute.cached == ["01-alpha"]
    assert variables(project)["ch02"] == {"age_cut": 4}
    again, render = run(project, params={"age_cut": 4})
    assert again.execute.executed == [] and render.calls == []


def test_timestamp_only_change_is_no_change(project):
    path = project / "notebooks" / "01-alpha.ipynb"
    os.utime(path, (1, 1))
    report, render = run(project)
    assert report.execute.executed == [] and render.calls == []


def test_prose_only_edit_renders_without_executing(project):
    chapter = project / "chapters" / "01-einleitung.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nNeuer Absatz.\n", encoding="utf-8")
    report, render = run(project)
    assert report.execute.executed == []
    assert len(render.calls) == 1
    assert "Neuer Absatz." in (project / "_book" / "index.html").read_text(encoding="utf-8")


def test_deleted_notebook_loses_its_results(project):
    (project / "notebooks" / "02-beta.ipynb").unlink()
    run(project)
    assert not (project / "_build" / "results" / "ch02").exists()
    assert "ch02" not in variables(project)


def test_failing_cell_names_chapter_and_cell_writes_log_and_keeps_book(project):
    shutil.copy(FIXTURES / "broken" / "03-broken.ipynb", project / "notebooks")
    book_before = tree_hash(project / "_book")
    variables_before = (project / "_build" / "variables.yml").read_bytes()
    out, err = io.StringIO(), io.StringIO()
    render = FakeRender()
    status = main(["-C", str(project), "build"], render=render, loader=lambda path: None, out=out, err=err)
    message = err.getvalue()
    assert status != 0
    assert "execute failed in 03-broken" in message
    assert "cell 4 " in message  # 1 markdown, 2 parameters, 3 ratio = 1, 4 the division by zero
    assert "ZeroDivisionError" in message
    log = project / "_build" / "logs" / "execute-03-broken.log"
    assert str(log.relative_to(project)) in message
    assert "Traceback" in log.read_text() or "ZeroDivisionError" in log.read_text()
    assert "min_group_size / 0" in log.read_text()
    assert render.calls == []
    assert tree_hash(project / "_book") == book_before
    assert (project / "_build" / "variables.yml").read_bytes() == variables_before
    assert "03-broken" not in json.loads((project / "_build" / "cache.json").read_text())["notebooks"]


def test_render_error_names_chapter_writes_log_and_keeps_book(project):
    (project / "chapters" / "01-einleitung.qmd").write_text("Geändert.\n", encoding="utf-8")
    book_before = tree_hash(project / "_book")
    err = io.StringIO()
    status = main(["-C", str(project), "build"], render=FakeRender(fail=True), out=io.StringIO(), err=err)
    assert status != 0
    message = err.getvalue()
    assert "render failed in chapters/09-kooperation.qmd" in message and "unknown variable ch09.missing" in message
    log = project / "_build" / "logs" / "render-09-kooperation.log"
    assert log.is_file() and "FakeRenderError" in log.read_text()
    assert str(log.relative_to(project)) in message
    assert tree_hash(project / "_book") == book_before
    assert not list(project.glob("_book.*"))
    # The failed render is not recorded as done: the next build renders again.
    _, render = run(project)
    assert len(render.calls) == 1


def test_the_projects_loader_checks_the_data_beside_the_notebooks(project):
    # The fixture's data file is no survey, so the real load_survey rejects it (run in a pool worker).
    pytest.importorskip("clusterkrise.io", reason="io.py not written yet")
    (project / "data" / "values.csv").write_text("x\n1\n2\n")
    book_before = tree_hash(project / "_book")
    with pytest.raises(b.BuildError) as caught:
        run(project, validate=True)
    assert caught.value.step == "validate" and "data/values.csv" in str(caught.value)
    assert (project / caught.value.log).is_file()
    assert tree_hash(project / "_book") == book_before


def test_bad_data_stops_before_any_notebook_runs(project):
    def reject(path):
        raise ValueError(f"row 3, column x: 'abc' is not a number ({path.name})")

    (project / "data" / "values.csv").write_text("x\n1\nabc\n")
    book_before = tree_hash(project / "_book")
    with pytest.raises(b.BuildError) as caught:
        run(project, validate=reject)
    assert caught.value.step == "validate"
    assert "row 3, column x" in str(caught.value) and "data/values.csv" in str(caught.value)
    assert (project / "_build" / "logs" / "validate-values.log").is_file()
    assert tree_hash(project / "_book") == book_before


def test_render_gets_source_date_epoch(project, monkeypatch):
    layout = b.Layout(project)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    render = FakeRender()
    b.render_step(layout, render=render, force=True, out=io.StringIO())
    # The tmp project is no git checkout, so the fixed fallback applies; afterwards the variable is gone again.
    assert render.calls[0]["epoch"] == str(b.FALLBACK_SOURCE_DATE_EPOCH)
    assert "SOURCE_DATE_EPOCH" not in os.environ
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    b.render_step(layout, render=render, force=True, out=io.StringIO())
    assert render.calls[1]["epoch"] == "1600000000"


def test_no_cache_with_fresh_kernels_executes_everything_with_the_same_results(built, project):
    report, render = run(project, use_cache=False, warm_kernels=False)
    assert sorted(report.execute.executed) == ["01-alpha", "02-beta"] and len(render.calls) == 1
    # The module's build used warm (forked) kernels: results may not depend on how a kernel was started.
    assert tree_hash(project / "_build" / "results") == tree_hash(built[0] / "_build" / "results")


# --- units without kernels ------------------------------------------------------------------------------------


def fixture_notebooks():
    return [b.read_notebook(p) for p in sorted((FIXTURES / "notebooks").glob("*.ipynb"))]


def test_parameters_go_only_to_notebooks_that_declare_them(tmp_path):
    routed = b.route_params(fixture_notebooks(), {"alpha": 0.05, "age_cut": 4}, tmp_path)
    assert routed == {"01-alpha": {"alpha": 0.05}, "02-beta": {"age_cut": 4}}


def test_relative_path_parameters_are_taken_from_the_project_root(tmp_path):
    routed = b.route_params(fixture_notebooks(), {"data_path": "data/other.csv"}, tmp_path)
    assert routed["01-alpha"] == {"data_path": str((tmp_path / "data" / "other.csv").resolve())}


def test_unknown_parameter_is_an_error_that_lists_the_known_ones(tmp_path):
    with pytest.raises(b.BuildError) as caught:
        b.route_params(fixture_notebooks(), {"alpah": 0.05}, tmp_path)
    assert "alpah" in str(caught.value) and "alpha" in str(caught.value).split("declared are:")[1]


def test_output_dir_belongs_to_the_build(tmp_path):
    with pytest.raises(b.BuildError, match="output_dir"):
        b.route_params(fixture_notebooks(), {"output_dir": "x"}, tmp_path)


@pytest.mark.parametrize(
    "text, expected",
    [("alpha=0.05", ("alpha", 0.05)), ("age_cut=3", ("age_cut", 3)), ("data_path=data/x.csv", ("data_path", "data/x.csv")),
     ("flag=True", ("flag", True)), ("label='a=b'", ("label", "a=b"))],
)
def test_parse_param(text, expected):
    assert b.parse_param(text) == expected


@pytest.mark.parametrize("text", ["alpha", "=3", "1x=2"])
def test_parse_param_rejects_malformed(text):
    with pytest.raises(b.BuildError, match="key=value"):
        b.parse_param(text)


def test_parameters_cell_is_read_without_papermill():
    nb = b.read_notebook(FIXTURES / "notebooks" / "01-alpha.ipynb")
    assert nb.parameters == {"alpha": 0.1, "data_path": "data/values.csv", "output_dir": "out"}
    assert nb.parameters_cell == 1


def test_lib_closure_follows_relative_and_absolute_imports(tmp_path):
    lib = tmp_path / "clusterkrise"
    (lib / "sub").mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "a.py").write_text("from .b import thing\n")
    (lib / "b.py").write_text("def thing():\n    from .sub import deep\n")
    (lib / "sub" / "__init__.py").write_text("")
    (lib / "sub" / "deep.py").write_text("from ..c import x\n")
    (lib / "c.py").write_text("x = 1\n")
    (lib / "never.py").write_text("")
    found = b.lib_closure(["%matplotlib inline\nfrom clusterkrise import a"], lib)
    names = {p.relative_to(lib).as_posix() for p in found}
    assert names == {"__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/deep.py", "c.py"}
    assert b.lib_closure(["this is not python ("], lib) is None


def test_select_notebooks_by_number_name_or_file(tmp_path):
    notebooks = fixture_notebooks()
    assert [nb.name for nb in b.select_notebooks(notebooks, ["02"])] == ["02-beta"]
    assert [nb.name for nb in b.select_notebooks(notebooks, ["notebooks/01-alpha.ipynb"])] == ["01-alpha"]
    with pytest.raises(b.BuildError, match="no notebook matches"):
        b.select_notebooks(notebooks, ["99"])


def test_cell_numbers_skip_the_injected_parameters_cell():
    nb = b.read_notebook(FIXTURES / "broken" / "03-broken.ipynb")  # parameters cell at index 1
    assert b._stored_cell_number(nb, 4, injected=True) == 4
    assert b._stored_cell_number(nb, 0, injected=True) == 1
    assert b._stored_cell_number(nb, 2, injected=True) is None
    assert b._stored_cell_number(nb, 3, injected=False) == 4


def test_swap_in_replaces_the_book_and_leaves_no_old_copy(tmp_path):
    book, new = tmp_path / "_book", tmp_path / "_book.new-x"
    book.mkdir(); (book / "old.html").write_text("old")
    new.mkdir(); (new / "index.html").write_text("new")
    b.swap_in(new, book)
    assert [p.name for p in book.iterdir()] == ["index.html"]
    assert not new.exists() and not (tmp_path / "_book.old").exists()


def test_warm_kernels_are_forked_from_the_factory_with_preloaded_modules(tmp_path, monkeypatch):
    import nbclient

    from clusterkrise.warmkernel import Factory

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "py"}})
    nb.cells = [nbformat.v4.new_code_cell("import os, sys\nprint(os.getppid(), 'colorsys' in sys.modules, os.getcwd())")]
    layout = b.Layout(tmp_path)
    with Factory(b._kernel_env(layout), tmp_path / "kernels.log", preload=["colorsys"]) as factory:
        for key, value in factory.env().items():
            monkeypatch.setenv(key, value)
        nbclient.NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
        parent, preloaded, cwd = nb.cells[0].outputs[0]["text"].split()
        assert int(parent) == factory.process.pid
        assert preloaded == "True" and Path(cwd) == tmp_path
    assert factory.process.poll() is not None, "leaving the context stops the factory"


def test_a_factory_started_without_a_list_imports_the_list_it_is_sent_and_freezes_it(tmp_path, monkeypatch):
    """The build starts its factory before it has parsed the sources and sends the list of modules later; the
    kernels it forks collect garbage (gc enabled) but never walk what the factory imported (frozen)."""
    import nbclient

    from clusterkrise.warmkernel import Factory

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "py"}})
    nb.cells = [nbformat.v4.new_code_cell("import gc, sys\nprint('colorsys' in sys.modules, gc.isenabled(), gc.get_freeze_count() > 1000)")]
    with Factory(b._kernel_env(b.Layout(tmp_path)), tmp_path / "kernels.log", preload=None) as factory:
        factory.preload(["colorsys"])
        for key, value in factory.env().items():
            monkeypatch.setenv(key, value)
        nbclient.NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0]["text"].split() == ["True", "True", "True"]


def test_a_factorys_jobs_run_in_children_of_it_and_report_their_result_or_error(tmp_path):
    """The build checks the survey file in a job of its kernel factory (forked once pandas is imported there):
    the value comes back through JSON, an exception or a child that dies comes back as an error."""
    from clusterkrise.warmkernel import Factory

    jobs = [{"call": "os:getppid", "needs": ["colorsys"]}, {"call": "json:loads", "args": ["[1, 2]"]},
            {"call": "json:loads", "args": ["{"]}, {"call": "os:_exit", "args": [3]}]
    with Factory(b._kernel_env(b.Layout(tmp_path)), tmp_path / "kernels.log", preload=["colorsys"], jobs=jobs) as factory:
        assert factory.job_result(0) == factory.process.pid
        assert factory.job_result(1) == [1, 2]
        with pytest.raises(RuntimeError, match="json:loads: JSONDecodeError"):
            factory.job_result(2)
        with pytest.raises(RuntimeError, match="os:_exit: the job ended with status 3 and no result"):
            factory.job_result(3)


def test_a_factorys_jobs_run_below_the_factorys_priority(tmp_path):
    """The kernels wait for the factory's imports, not for the job's result: the job yields the core to them."""
    from clusterkrise.warmkernel import JOB_NICENESS, Factory

    jobs = [{"call": "os:nice", "args": [0]}]
    with Factory(b._kernel_env(b.Layout(tmp_path)), tmp_path / "kernels.log", preload=[], jobs=jobs) as factory:
        assert factory.job_result(0) == min(19, os.nice(0) + JOB_NICENESS)  # (19: the lowest priority there is)


def test_with_warm_kernels_the_factory_checks_the_data_and_bad_data_is_still_reported(project, monkeypatch):
    pytest.importorskip("clusterkrise.io", reason="io.py not written yet")
    asked = []
    real = b._factory_validation
    monkeypatch.setattr(b, "_factory_validation", lambda *args: asked.append(args[1]) or real(*args))
    (project / "data" / "values.csv").write_text("x\n1\n2\n")  # no survey: the project's loader rejects it
    with pytest.raises(b.BuildError) as caught:
        run(project, validate=True, warm_kernels=True)
    assert caught.value.step == "validate" and "data/values.csv" in str(caught.value)
    assert asked == [[str(project / "data" / "values.csv")]], "checked by the factory's job, not in a worker"


def test_the_builds_factory_also_preloads_the_library_modules_the_notebooks_use():
    """Only the build's own factory (it lives as long as the build): a reviewer's never holds lib/."""
    layout = b.Layout(ROOT)
    notebooks = b.discover_notebooks(layout)
    third_party = b.preload_modules(notebooks, layout.lib)
    with_library = b.preload_modules(notebooks, layout.lib, library=True)
    assert not [m for m in third_party if m.split(".")[0] == "clusterkrise"]
    assert with_library[:len(third_party)] == third_party, "third-party first"
    library = with_library[len(third_party):]
    assert {"clusterkrise", "clusterkrise.results", "clusterkrise.plots", "clusterkrise.survey"} <= set(library)
    assert "clusterkrise.build" not in library and "clusterkrise.render" not in library, "only what notebooks import"


def test_the_factory_leaves_out_what_the_library_imports_only_inside_a_function(tmp_path):
    """A reader for a rare export format imports its package when called: no kernel of an ordinary build needs
    it, so the factory does not import it before the first notebook can start."""
    lib = tmp_path / "lib" / "pkg"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "reader.py").write_text(
        "from typing import TYPE_CHECKING\nimport colorsys\n\nif TYPE_CHECKING:\n    import tomllib\n\n\n"
        "def read_rare(path):\n    import wave\n    return wave.open(path)\n\n\n"
        "class Shape:\n    import json  # a class body runs at import: preloaded\n")
    nb = b.Notebook(path=tmp_path / "01-x.ipynb", parameters={}, parameters_cell=None,
                    code=["from pkg import reader\nimport csv"])
    third_party = b.preload_modules([nb], lib)
    assert {"colorsys", "json", "csv"} <= set(third_party)
    assert "wave" not in third_party and "tomllib" not in third_party
    with_library = b.preload_modules([nb], lib, library=True)
    assert {"pkg", "pkg.reader"} <= set(with_library)
    # the library's closure still follows the import inside the function (a cache key must)
    refs = b.ImportIndex().refs((lib / "reader.py").read_text())
    assert [(module, later) for _, module, _, later in refs] == [
        ("typing", 0), ("colorsys", 0), ("tomllib", 1), ("wave", 1), ("json", 0)]


def test_noop_build_parses_no_source_again(project):
    # The import analysis is kept in the manifest: a no-op build only hashes files.
    manifest = b.load_manifest(b.Layout(project))
    assert manifest["imports"], "the first build stored the parsed imports"
    hasher = b.Hasher(b.ImportIndex(manifest["imports"]))
    report = b.execute_notebooks(b.Layout(project), validate=False, out=io.StringIO(), hasher=hasher)
    assert report.executed == [] and hasher.imports.added is False


def test_the_engine_is_part_of_the_render_key(project):
    """Switching the engine on an unchanged tree renders again instead of keeping the other engine's book."""
    import functools

    from clusterkrise.render import book as rb

    class FakeRender(globals()["FakeRender"]):  # takes the engine keyword as render_book does
        def __call__(self, *args, engine="embedded", **kwargs):
            return super().__call__(*args, **kwargs)

    first = FakeRender()
    run(project, render=functools.partial(first, engine="quarto"))
    assert len(first.calls) == 1
    again = FakeRender()
    run(project, render=functools.partial(again, engine="quarto"))
    assert again.calls == [], "same engine, same tree: up to date"
    other = FakeRender()
    run(project, render=functools.partial(other, engine="embedded"))
    assert len(other.calls) == 1
    # the project's renderer: the engine keyword decides, the default is the embedded one
    embedded = {b.render_engine(None), b.render_engine(rb.render_book),
                b.render_engine(functools.partial(rb.render_book, engine="embedded"))}
    assert embedded == {"embedded"}
    assert b.render_engine(functools.partial(rb.render_book, engine="quarto")) == "quarto"


def test_the_figure_cache_keeps_the_most_recently_used_entries_up_to_its_size(tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    now = 1_700_000_000
    for age, name in enumerate(["newest", "middle", "oldest"]):
        entry = folder / f"{name}.svg.entry"
        entry.write_bytes(b"x" * 1000)
        os.utime(entry, (now - age * 60, now - age * 60))
    stale_tmp = folder / ".newest.svg.entry.abc.tmp"
    stale_tmp.write_bytes(b"partial")
    os.utime(stale_tmp, (now, now))  # a writer killed long ago
    removed = b.prune_figure_cache(folder, max_bytes=2500)
    assert sorted(p.name for p in removed) == [".newest.svg.entry.abc.tmp", "oldest.svg.entry"]
    assert sorted(p.name for p in folder.iterdir()) == ["middle.svg.entry", "newest.svg.entry"]


def test_a_figure_cache_hit_renews_the_entry_so_pruning_keeps_it(tmp_path):
    import hashlib

    from clusterkrise.figcache import FigureCache

    cache = FigureCache(tmp_path)
    for age, key in enumerate(["used-long-ago", "unused"]):
        svg = f"<svg>{key}</svg>".encode()
        entry = tmp_path / f"{key}.svg.entry"
        entry.write_bytes(hashlib.sha256(svg).hexdigest().encode() + b"\n" + svg)
        os.utime(entry, (1_600_000_000 - age, 1_600_000_000 - age))
    assert cache.get("used-long-ago") == b"<svg>used-long-ago</svg>"
    size = (tmp_path / "unused.svg.entry").stat().st_size
    b.prune_figure_cache(tmp_path, max_bytes=size + 10)
    assert [p.name for p in tmp_path.iterdir()] == ["used-long-ago.svg.entry"]


def test_a_failure_while_listing_the_modules_ends_the_factory_already_started(project, monkeypatch):
    """The factory starts before the module list is known; an error in between must not leave it running."""
    import psutil

    def broken(*args, **kwargs):
        raise RuntimeError("cannot list the modules")

    started = []
    from clusterkrise import warmkernel

    original_start = warmkernel.Factory.start

    def start(self):
        result = original_start(self)
        started.append(self.process)
        return result

    monkeypatch.setattr(warmkernel.Factory, "start", start)
    monkeypatch.setattr(b, "preload_modules", broken)
    with pytest.raises(RuntimeError, match="cannot list the modules"):
        b.execute_notebooks(b.Layout(project), use_cache=False, validate=False, warm_kernels=True, out=io.StringIO())
    assert started, "the factory was started before the list was worked out"
    assert started[0].poll() is not None or not psutil.pid_exists(started[0].pid)
    assert not b.Layout(project).kernels_record.exists()


@pytest.mark.parametrize("chosen, expected", [(None, 1), ("2", 2)])
def test_warm_kernels_run_one_blas_thread_unless_the_user_chose_otherwise(tmp_path, monkeypatch, chosen, expected):
    """A build runs a kernel per core: BLAS threads on top of that spin for a core (notebook 12's bootstrap took a
    third more CPU with them). OpenBLAS fixes its thread count when numpy loads it, in the factory."""
    pytest.importorskip("threadpoolctl")
    import nbclient

    from clusterkrise.warmkernel import Factory

    if chosen is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", chosen)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "py"}})
    nb.cells = [nbformat.v4.new_code_cell(
        "import numpy, threadpoolctl\n"
        "print(*sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas'}))")]
    with Factory(b._kernel_env(b.Layout(tmp_path)), tmp_path / "kernels.log", preload=["numpy"]) as factory:
        for key, value in factory.env().items():
            monkeypatch.setenv(key, value)
        nbclient.NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0]["text"].split() == [str(expected)]

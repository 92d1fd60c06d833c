"""Command line of the project: `clusterkrise <subcommand>`.

build     execute changed notebooks, merge their values, render HTML and PDF into _book/
execute   execute notebooks only (all, or the ones named)
render    render only, from the last executed results
check     compare every published figure of the study with the value the notebooks compute
validate  check a survey data file against the codebook
import    turn a survey tool's export into the codebook's format through a mapping file
mapping-template  write a mapping template for SoSci Survey, LimeSurvey or Unipark/EFS
preview   serve _book/ locally and rebuild when sources change
diff      compare two builds: changed printed values and flipped significances
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import shutil
import functools
import hashlib
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from . import __version__
from . import build as b
from . import procs

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
# What `preview` watches for changes (relative to the project root).
WATCHED = ("chapters", "index.qmd", "notebooks", "lib", "data", "_quarto.yml", "references.bib")
# What a page served by `preview` gets before </body>: it asks for the book's version every 300 ms and reloads
# the page when a rebuild changed it. Added when serving, never written into _book/.
LIVE_RELOAD = (
    "<script>/* clusterkrise preview: reload on rebuild */(function(){var v=null;setInterval(function(){"
    "fetch('/__version',{cache:'no-store'}).then(function(r){return r.text()}).then(function(t){"
    "if(v===null){v=t}else if(t!==v){location.reload()}}).catch(function(){})},300)})();</script>"
)
VERSION_PATH = "/__version"


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(formats) - set(b.KNOWN_FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(b.KNOWN_FORMATS)}"
        )
    return formats


def _positive_int(option: str, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from 1, else a usage error naming the option."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{option} needs {what}, got {text!r}")
        return value

    return parse


_jobs = _positive_int("--jobs", "a whole number >= 1")
_header_row = _positive_int("--header-row", "a line number from 1")


def _add_lock_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait", action="store_true",
        help="when another build runs in this checkout, stop at once (exit 1) instead of waiting for it",
    )


def _add_execution_options(parser: argparse.ArgumentParser) -> None:
    _add_lock_option(parser)
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="notebook parameter (repeatable); each notebook gets the keys its parameters cell declares",
    )
    parser.add_argument("--jobs", type=_jobs, default=None, metavar="N", help="notebooks run in parallel (default: cores)")
    parser.add_argument("--no-cache", action="store_true", help="execute every notebook even if nothing changed")
    parser.add_argument(
        "--fresh-kernels", action="store_true",
        help="start every kernel from scratch instead of forking it from a warm process (slower)",
    )
    parser.add_argument(
        "--for-quarto", action="store_true",
        help="also write _variables.yml at the project root, where `quarto render` reads it",
    )


def _copy_for_quarto(args: argparse.Namespace, layout: "b.Layout") -> None:
    if getattr(args, "for_quarto", False) and layout.variables_file.is_file():
        shutil.copyfile(layout.variables_file, layout.quarto_variables_file)


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheet", default=None, metavar="NAME", help="worksheet of an Excel file (name or 0-based number; default the first)")
    parser.add_argument("--header-row", type=_header_row, default=None, metavar="N", help="line of the Excel sheet with the column names (default 1)")


def _add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", choices=("auto", "quarto", "embedded"), default="auto",
        help="renderer: quarto (`quarto render`), embedded (pandoc + typst from the Python wheels); "
        "auto (default) takes quarto when it is on PATH",
    )


def _engine_render(args: argparse.Namespace, render: "b.RenderFn | None", out: TextIO) -> "b.RenderFn | None":
    """The render function for the chosen engine; says which engine renders. An injected renderer wins."""
    if render is not None or not hasattr(args, "engine"):
        return render
    from .render import book as rb

    engine = args.engine
    if engine == "auto":
        engine = "quarto" if rb.quarto_path() else "embedded"
    elif engine == "quarto" and not rb.quarto_path():
        raise b.BuildError("render", "--engine quarto: the quarto command is not on PATH (install Quarto, or use --engine embedded)")
    where = f" ({rb.quarto_path()})" if engine == "quarto" else " (pandoc + typst from the Python wheels)"
    print(f"render engine: {engine}{where}", file=out, flush=True)
    return functools.partial(rb.render_book, engine=engine)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clusterkrise", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-C", "--project", type=Path, default=None, metavar="DIR",
        help="project root (default: the nearest folder with _quarto.yml or notebooks/)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("build", help="execute changed notebooks and render the book into _book/")
    _add_execution_options(p)
    p.add_argument("--formats", type=_formats, default=b.DEFAULT_FORMATS, metavar="html,pdf")
    _add_engine_option(p)
    p.add_argument("--compare", action="store_true",
                   help="after the build, run the notebooks with the default parameters and list what differs")

    p = sub.add_parser("diff", help="compare two builds' results folders (changed values, flipped significances)")
    p.add_argument("old", type=Path, metavar="OLD", help="results folder, e.g. _build/results of one build")
    p.add_argument("new", type=Path, metavar="NEW", help="results folder of the other build")
    p.add_argument("--html", type=Path, default=None, metavar="PATH", help="also write the comparison as an HTML page")

    p = sub.add_parser("execute", help="execute notebooks only (default: all)")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="name, file or number prefix, e.g. 07")
    _add_execution_options(p)

    p = sub.add_parser("render", help="render the book from the last executed results")
    p.add_argument("--formats", type=_formats, default=b.DEFAULT_FORMATS, metavar="html,pdf")
    _add_engine_option(p)
    _add_lock_option(p)

    p = sub.add_parser("check", help="the study's published figures vs. the values the notebooks compute; exit 1 on a mismatch")
    p.add_argument("--data", type=Path, default=None, metavar="PATH", help="survey file (default: the shipped data)")
    _add_execution_options(p)

    p = sub.add_parser("validate", help="validate a survey data file (CSV, XLSX, SAV)")
    p.add_argument("path", type=Path, metavar="PATH")
    _add_reading_options(p)
    p.add_argument("--mapping", type=Path, default=None, metavar="FILE", help="read PATH as a tool export through this mapping")
    p.add_argument("--report", type=Path, default=None, metavar="CSV", help="write every problem (row, respondent, column, value, rule) to this table")

    p = sub.add_parser("import", help="turn a survey tool's export into the codebook's format (docs/mapping.md)")
    p.add_argument("export", type=Path, metavar="EXPORT", help="the tool's export (.csv, .xlsx, .sav)")
    p.add_argument("--mapping", type=Path, required=True, metavar="FILE", help="mapping file (clusterkrise mapping-template)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="respondent file to write (.csv)")
    _add_reading_options(p)
    p.add_argument("--report", type=Path, default=None, metavar="CSV", help="write every problem to this table")
    p.add_argument("--columns", action="store_true", help="also list every mapped column")

    p = sub.add_parser("mapping-template", help="write a mapping template generated from the codebook")
    p.add_argument("--tool", required=True, choices=("sosci", "limesurvey", "unipark", "codebook"),
                   help="the survey tool; 'codebook' for a file in the codebook's names that keeps -9/-99/-77")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="file to write (default: print)")

    p = sub.add_parser("preview", help="serve _book/ on 127.0.0.1 and rebuild on changes (Ctrl-C stops)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--formats", type=_formats, default=b.DEFAULT_FORMATS, metavar="html,pdf",
                   help="what each rebuild makes (default both: the changed page first, then the PDF)")
    _add_execution_options(p)
    _add_engine_option(p)
    return parser


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    return dict(b.parse_param(pair) for pair in pairs)


def _load_survey_default() -> Callable[[Path], Any]:
    from .io import load_survey

    return load_survey


def _check_facts_default() -> Callable[..., Any]:
    from .registry import check_values

    return check_values


def _report_problems(command: str, path: Path, error: Exception, report: Path | None, err: TextIO) -> None:
    from .validation import DataValidationError

    if isinstance(error, DataValidationError):
        # Every problem, not the capped message: a command-line user cannot reach ``.problems``.
        print(f"{command} failed: {error.render(None)}", file=err)
        if report is not None:
            print(f"every problem is listed in {error.write_report(report)}", file=err)
    else:
        print(f"{command} failed: {path}: {type(error).__name__}: {error}", file=err)
        if report is not None:
            from .validation import write_problem_report

            write_problem_report([{"row": None, "respondent_id": None, "column": None, "value": None, "check": str(error)}], report)


def cmd_validate(
    path: Path, loader: Callable[..., Any], out: TextIO, err: TextIO, *, report: Path | None = None, **options: Any
) -> int:
    if not path.exists():
        print(f"validate failed: {path}: no such file", file=err)
        return EXIT_FAILED
    options = {k: v for k, v in options.items() if v is not None}
    try:
        frame = loader(path, **options)
    except Exception as error:  # DataValidationError lists every bad row/column; other errors name the file
        _report_problems("validate", path, error, report, err)
        return EXIT_FAILED
    if report is not None:
        from .validation import write_problem_report

        write_problem_report([], report)  # an empty table says "checked, nothing found"
    rows, columns = getattr(frame, "shape", (len(frame), 0))
    print(f"OK {path}: {rows} rows, {columns} columns", file=out)
    return EXIT_OK


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .importer import format_report, import_export, write_codebook_csv
    from .mapping import MappingError

    if not args.export.exists():
        print(f"import failed: {args.export}: no such file", file=err)
        return EXIT_FAILED
    try:
        frame, report = import_export(args.export, args.mapping, sheet=args.sheet, header_row=args.header_row)
    except MappingError as error:
        print(f"import failed: mapping {args.mapping}: {error}", file=err)
        return EXIT_FAILED
    except Exception as error:
        _report_problems("import", args.export, error, args.report, err)
        return EXIT_FAILED
    print(format_report(report, columns=args.columns), file=out)
    written = write_codebook_csv(
        frame, args.output, comment=f"imported from {args.export.name} through {args.mapping.name} by `clusterkrise import`"
    )
    completed = int((frame["completed"] == 1).sum())
    print(f"OK {written}: {len(frame)} rows ({completed} completed), {frame.shape[1]} columns in the codebook's format", file=out)
    return EXIT_OK


def cmd_mapping_template(tool: str, output: Path | None, out: TextIO) -> int:
    from .mapping import template

    text = template(tool)
    if output is None:
        out.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}: edit the export column names and codes to match your survey, then `clusterkrise import`", file=out)
    return EXIT_OK


def cmd_check(layout: "b.Layout", check_facts: Callable[..., Any], out: TextIO, err: TextIO) -> int:
    """Compare the values this build's notebooks recorded (key = fact id) with the registry."""
    try:
        table = check_facts(b.collect_raw_values(layout))
    except Exception as error:
        print(f"check failed: {type(error).__name__}: {error}", file=err)
        return EXIT_FAILED
    columns = [c for c in ("id", "chapter", "place", "published", "expected", "recomputed", "match", "error") if c in table.columns]
    print(table[columns].to_string(index=False, max_colwidth=40), file=out)
    matches = table["match"].fillna(False).astype(bool)
    print(f"\n{int(matches.sum())} of {len(table)} published figures match the values this build's notebooks computed", file=out)
    if "conflict" in table.columns:
        # Where the study contradicts itself, `expected` is the reading the data follow: say why.
        conflicted = table[table["conflict"].fillna("").astype(str) != ""]
        if len(conflicted):
            print(f"\n{len(conflicted)} places where the study contradicts itself (expected = the reading the data follow):", file=out)
            for _, row in conflicted.iterrows():
                print(f"- {row['id']} ({row['place']}): {row['conflict']}", file=out)
    if not matches.all():
        print(f"check failed: {int((~matches).sum())} mismatch(es)", file=err)
        return EXIT_FAILED
    return EXIT_OK


def cmd_diff(old: Path, new: Path, html_path: Path | None, out: TextIO, err: TextIO) -> int:
    from . import diff

    try:
        comparison = diff.compare(old, new)
    except (FileNotFoundError, ValueError) as error:
        print(f"diff failed: {error}", file=err)
        return EXIT_FAILED
    out.write(diff.render_text(comparison))
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(diff.render_html(comparison), encoding="utf-8")
        print(f"comparison page: {html_path}", file=out)
    return EXIT_OK


def cmd_compare_with_default(layout: "b.Layout", out: TextIO, err: TextIO) -> int:
    """The just-built results against a run of the notebooks with the default parameters."""
    from . import diff

    default = layout.build / "compare" / "default" / "results"
    print("running the notebooks with the default parameters for the comparison …", file=out, flush=True)
    try:
        diff.run_notebooks(layout.root, default, {})
    except Exception as error:  # noqa: BLE001 - one line; the build itself succeeded
        print(f"compare failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", file=err)
        return EXIT_FAILED
    return cmd_diff(default, layout.results, layout.build / "compare" / "diff.html", out, err)


class _StatHasher(b.Hasher):
    """Hashes a file again only when its size or modification time changed since the last poll, so polling
    several times a second costs a few stat calls."""

    seen: dict[Path, tuple[tuple[int, int], str]] = {}

    def file(self, path: Path) -> str:
        try:
            info = path.stat()
        except OSError:
            return super().file(path)  # reports the problem
        stamp = (info.st_mtime_ns, info.st_size)
        known = self.seen.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = super().file(path)
        self.seen[path] = (stamp, digest)
        return digest


def watch_digests(root: Path) -> dict[str, str]:
    """Content hash of every file preview watches, by path (content, not timestamps: saving unchanged files is no
    change)."""
    hasher = _StatHasher()
    digests: dict[str, str] = {}
    try:
        for name in WATCHED:
            path = root / name
            if path.exists():
                digests.update(hasher.tree(path, base=root))
    except b.BuildError as error:  # an unreadable file: the rebuild reports it; preview keeps serving
        digests["?"] = str(error)
    return digests


def watch_digest(root: Path) -> str:
    """One hash of everything preview watches."""
    return hashlib.sha256(repr(sorted(watch_digests(root).items())).encode()).hexdigest()


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _log_traceback(layout: "b.Layout", name: str, *, append: bool = False) -> Path | None:
    """Write the current exception's traceback to ``_build/logs/<name>.log``; None when even that fails."""
    try:
        layout.logs.mkdir(parents=True, exist_ok=True)
        path = layout.logs / f"{name}.log"
        with open(path, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        return path
    except OSError:
        return None


def _bind_preview(layout: "b.Layout", port: int) -> Any:
    """The preview's HTTP server on 127.0.0.1:port, quiet: a malformed request gets its error response, and its
    traceback goes to _build/logs/preview-requests.log instead of the terminal."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if path == VERSION_PATH:
                self._send(str(getattr(self.server, "version", 0)).encode(), "text/plain")
                return
            try:
                target = Path(self.translate_path(path))
                if target.is_dir():
                    target = target / "index.html"
                page = target.read_text(encoding="utf-8") if target.suffix == ".html" and target.is_file() else None
            except (OSError, ValueError, UnicodeDecodeError):
                page = None
            if page is None or "</body>" not in page:
                super().do_GET()
                return
            head, _, tail = page.rpartition("</body>")
            self._send((head + LIVE_RELOAD + "</body>" + tail).encode("utf-8"), "text/html; charset=utf-8")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_head(self) -> Any:
            try:
                return super().send_head()
            except ValueError:  # e.g. "%00" in the path: an answer, not a traceback
                self.send_error(400, "Bad request path")
                return None

    class QuietServer(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            _log_traceback(layout, "preview-requests", append=True)

    # A directory *path* (not an open handle) so requests follow _book/ after each swap.
    handler = functools.partial(QuietHandler, directory=str(layout.book))
    try:
        return QuietServer(("127.0.0.1", port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise b.BuildError(
                "preview", f"port {port} on 127.0.0.1 is in use (another preview?); stop that program or choose "
                f"another port with --port N"
            ) from None
        raise b.BuildError("preview", f"cannot listen on 127.0.0.1:{port}: {error.strerror}; choose another port with --port N") from None


def cmd_preview(
    layout: b.Layout,
    port: int,
    rebuild: Callable[[], None],
    out: TextIO,
    err: TextIO,
    *,
    polls: int | None = None,
    interval: float = 1.0,
    on_ready: Callable[[int], None] | None = None,
    quick: Callable[[list[Path]], list[Path]] | None = None,
    warm: Callable[[], None] | None = None,
) -> int:
    """Serve the book and rebuild on changes. ``polls`` bounds the loop (tests); None runs until Ctrl-C.

    The port is taken before the first build: a busy port is reported at once, not after a long build.
    ``quick(changed_chapters)``, when given, runs first when only chapter texts changed: it writes their pages
    into ``_book/`` at once (the browser reloads them), and the full rebuild (HTML and PDF) follows. Pages
    served get a small script that reloads them when ``/__version`` changes, i.e. after every rebuild.
    ``warm()``, when given, runs once in a background thread while the preview waits for the first edit."""

    def attempt() -> None:
        try:
            rebuild()
        except b.BuildError as error:  # keep serving the last good book
            print(str(error), file=err, flush=True)

    server = _bind_preview(layout, port)
    server.version = 0
    last = watch_digests(layout.root)  # taken before building, so that edits made during the build count
    try:
        attempt()
    except BaseException:
        server.server_close()
        raise
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"preview on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", file=out, flush=True)
    if on_ready is not None:
        on_ready(server.server_address[1])
    if warm is not None:
        threading.Thread(target=warm, name="preview-warm", daemon=True).start()
    count = 0
    try:
        while polls is None or count < polls:
            time.sleep(interval)
            count += 1
            now = watch_digests(layout.root)
            if now != last:
                changed = changed_files(last, now)
                last = now
                if quick is not None and all(name.endswith(".qmd") for name in changed):
                    start = time.perf_counter()
                    try:
                        pages = quick([layout.root / name for name in changed])
                    except Exception as error:  # noqa: BLE001 - the full rebuild below reports it properly
                        pages = []
                        print(f"quick page skipped ({type(error).__name__}); rebuilding", file=out, flush=True)
                    if pages:
                        server.version += 1
                        names = ", ".join(page.name for page in pages)
                        print(f"page {names} … {time.perf_counter() - start:.1f} s", file=out, flush=True)
                print("change detected, rebuilding", file=out, flush=True)
                attempt()
                server.version += 1
                print(f"preview on http://127.0.0.1:{server.server_address[1]}/ is up to date", file=out, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    render: b.RenderFn | None = None,
    loader: Callable[[Path], Any] | None = None,
    check_facts: Callable[..., Any] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one subcommand; returns the exit status. The keyword arguments replace the real renderer, survey
    loader and fact checker (tests use them; the console script passes none)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return EXIT_OK
    root = args.project.resolve() if args.project else b.find_project_root()
    layout = b.Layout(root)
    # When io.py exists, the build validates data before executing; an injected loader replaces it.
    validate: Any = loader if loader is not None else True
    # One build at a time per checkout; preview takes the lock for each rebuild, not while it only serves.
    def locked() -> contextlib.AbstractContextManager[None]:
        return procs.build_lock(layout.build, wait=not args.no_wait, err=err)

    try:
        if args.command == "validate":
            return cmd_validate(
                args.path, loader or _load_survey_default(), out, err, report=args.report,
                sheet=args.sheet, header_row=args.header_row, mapping=args.mapping,
            )
        if args.command == "import":
            return cmd_import(args, out, err)
        if args.command == "mapping-template":
            return cmd_mapping_template(args.tool, args.output, out)
        if args.command == "check":
            params = _params(args.param)
            if args.data is not None:
                params["data_path"] = str(args.data.resolve())
            # The values come from the notebooks (cached: nothing runs when nothing changed).
            b.execute(
                layout, params=params, jobs=args.jobs, use_cache=not args.no_cache, validate=validate, out=out,
                warm_kernels=False if args.fresh_kernels else None,
            )
            return cmd_check(layout, check_facts or _check_facts_default(), out, err)
        if args.command in ("build", "render", "preview"):
            render = _engine_render(args, render, out)
        if args.command == "build":
            with locked():
                report = b.build(
                    root, params=_params(args.param), jobs=args.jobs, formats=args.formats,
                    use_cache=not args.no_cache, render=render, validate=validate, out=out,
                    warm_kernels=False if args.fresh_kernels else None,
                )
                _copy_for_quarto(args, layout)
            print(f"done in {report.seconds:.1f} s -> {b._rel(layout.book, root)}/", file=out)
            if args.compare:
                return cmd_compare_with_default(layout, out, err)
            return EXIT_OK
        if args.command == "diff":
            return cmd_diff(args.old, args.new, args.html, out, err)
        if args.command == "execute":
            with locked():
                b.execute(
                    layout, select=args.notebooks, params=_params(args.param), jobs=args.jobs,
                    use_cache=not args.no_cache, validate=validate, out=out,
                    warm_kernels=False if args.fresh_kernels else None,
                )
                b.write_variables(layout, b.collect_variables(layout))
                _copy_for_quarto(args, layout)
            return EXIT_OK
        if args.command == "render":
            with locked():
                b.check_cached_outputs(layout)
                b.render_step(layout, formats=args.formats, render=render, force=True, out=out)
            return EXIT_OK
        if args.command == "preview":
            params = _params(args.param)

            def rebuild() -> None:
                with procs.build_lock(layout.build, wait=True, err=err):  # --no-wait applies to the first one
                    b.build(
                        root, params=params, jobs=args.jobs, formats=args.formats, use_cache=not args.no_cache,
                        render=render, validate=validate, out=out, warm_kernels=False if args.fresh_kernels else None,
                    )

            def quick(changed: list[Path]) -> list[Path]:
                if render is not None and getattr(render, "keywords", {}).get("engine") != "embedded":
                    return []  # Quarto or a stand-in renders the book: no quick page
                from .render.book import render_pages

                with procs.build_lock(layout.build, wait=True, err=err):
                    return render_pages(layout.root, layout.book, changed, executed_dir=layout.executed)

            def warm() -> None:
                # what the first quick page would otherwise do after the edit: import the renderer and its
                # libraries, read the executed notebooks, format the figures' data tables (memos only)
                if render is not None and getattr(render, "keywords", {}).get("engine") != "embedded":
                    return
                with contextlib.suppress(Exception):
                    from .render import book

                    book.prime(layout.root, layout.executed)

            if args.no_wait:
                with locked():  # fail now rather than queue behind the running build
                    pass

            return cmd_preview(layout, args.port, rebuild, out, err, quick=quick, warm=warm, interval=0.1)
    except b.BuildError as error:
        print(str(error), file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{args.command} interrupted; _book/ is unchanged", file=err)
        return EXIT_INTERRUPTED
    except ImportError as error:  # a part of the project that is not written yet
        print(f"{args.command} failed: {error}", file=err)
        return EXIT_FAILED
    except OSError as error:  # the file system or the network said no: one line, the traceback in the log
        log = _log_traceback(layout, f"{args.command}-error")
        where = f" ({error.filename})" if error.filename else ""
        hint = f"; full traceback: {b._rel(log, root)}" if log else ""
        print(f"{args.command} failed: {error.strerror or error}{where}{hint}", file=err)
        return EXIT_FAILED
    except Exception as error:  # a bug of ours: still one line; the details are in the log
        log = _log_traceback(layout, f"{args.command}-error")
        hint = f"; full traceback: {b._rel(log, root)}" if log else ""
        print(f"{args.command} failed: {type(error).__name__}: {error}{hint}", file=err)
        return EXIT_FAILED
    parser.error(f"unknown command {args.command}")
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

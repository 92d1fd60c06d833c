"""Command line of the project: `clusterkrise <subcommand>`.

build     execute changed notebooks, merge their values, render HTML and PDF into _book/
execute   execute notebooks only (all, or the ones named)
render    render only, from the last executed results
check     compare every published figure of the study with its recomputation
validate  check a survey data file against the codebook
preview   serve _book/ locally and rebuild when sources change
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
WATCHED = ("chapters", "notebooks", "lib", "data", "_quarto.yml")


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(formats) - set(b.KNOWN_FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(b.KNOWN_FORMATS)}"
        )
    return formats


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--jobs needs a whole number >= 1, got {text!r}")
    return value


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

    p = sub.add_parser("execute", help="execute notebooks only (default: all)")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="name, file or number prefix, e.g. 07")
    _add_execution_options(p)

    p = sub.add_parser("render", help="render the book from the last executed results")
    p.add_argument("--formats", type=_formats, default=b.DEFAULT_FORMATS, metavar="html,pdf")
    _add_lock_option(p)

    p = sub.add_parser("check", help="published vs. recomputed figures; exit 1 on a mismatch")
    p.add_argument("--data", type=Path, default=None, metavar="PATH", help="survey file (default: the shipped data)")

    p = sub.add_parser("validate", help="validate a survey data file (CSV, XLSX, SAV)")
    p.add_argument("path", type=Path, metavar="PATH")

    p = sub.add_parser("preview", help="serve _book/ on 127.0.0.1 and rebuild on changes (Ctrl-C stops)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--formats", type=_formats, default=("html",), metavar="html,pdf")
    _add_execution_options(p)
    return parser


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    return dict(b.parse_param(pair) for pair in pairs)


def _load_survey_default() -> Callable[[Path], Any]:
    from .io import load_survey

    return load_survey


def _check_facts_default() -> Callable[..., Any]:
    from .facts import check_facts

    return check_facts


def cmd_validate(path: Path, loader: Callable[[Path], Any], out: TextIO, err: TextIO) -> int:
    if not path.exists():
        print(f"validate failed: {path}: no such file", file=err)
        return EXIT_FAILED
    try:
        frame = loader(path)
    except Exception as error:  # DataValidationError lists every bad row/column; other errors name the file
        print(f"validate failed: {path}: {type(error).__name__}: {error}", file=err)
        return EXIT_FAILED
    rows, columns = getattr(frame, "shape", (len(frame), 0))
    print(f"OK {path}: {rows} rows, {columns} columns", file=out)
    return EXIT_OK


def cmd_check(data: Path | None, check_facts: Callable[..., Any], loader: Callable[[Path], Any] | None, out: TextIO, err: TextIO) -> int:
    try:
        table = check_facts(loader(data)) if data is not None and loader is not None else check_facts()
    except Exception as error:
        print(f"check failed: {type(error).__name__}: {error}", file=err)
        return EXIT_FAILED
    columns = [c for c in ("id", "place", "published", "expected", "recomputed", "match") if c in table.columns]
    print(table[columns].to_string(index=False, max_colwidth=40), file=out)
    matches = table["match"].fillna(False).astype(bool)
    print(f"\n{int(matches.sum())} of {len(table)} published figures match their recomputation", file=out)
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


def watch_digest(root: Path) -> str:
    """Content hash of everything preview watches (content, not timestamps: saving unchanged files is no change)."""
    hasher = b.Hasher()
    digests: dict[str, str] = {}
    try:
        for name in WATCHED:
            path = root / name
            if path.exists():
                digests.update(hasher.tree(path, base=root))
    except b.BuildError as error:  # an unreadable file: the rebuild reports it; preview keeps serving
        digests["?"] = str(error)
    return hashlib.sha256(repr(sorted(digests.items())).encode()).hexdigest()


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
) -> int:
    """Serve the book and rebuild on changes. ``polls`` bounds the loop (tests); None runs until Ctrl-C.

    The port is taken before the first build: a busy port is reported at once, not after a long build."""

    def attempt() -> None:
        try:
            rebuild()
        except b.BuildError as error:  # keep serving the last good book
            print(str(error), file=err, flush=True)

    server = _bind_preview(layout, port)
    last = watch_digest(layout.root)  # taken before building, so that edits made during the build count
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
    count = 0
    try:
        while polls is None or count < polls:
            time.sleep(interval)
            count += 1
            now = watch_digest(layout.root)
            if now != last:
                last = now
                print("change detected, rebuilding", file=out, flush=True)
                attempt()
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
            return cmd_validate(args.path, loader or _load_survey_default(), out, err)
        if args.command == "check":
            needs_loader = args.data is not None
            return cmd_check(
                args.data, check_facts or _check_facts_default(),
                (loader or _load_survey_default()) if needs_loader else None, out, err,
            )
        if args.command == "build":
            with locked():
                report = b.build(
                    root, params=_params(args.param), jobs=args.jobs, formats=args.formats,
                    use_cache=not args.no_cache, render=render, validate=validate, out=out,
                    warm_kernels=False if args.fresh_kernels else None,
                )
                _copy_for_quarto(args, layout)
            print(f"done in {report.seconds:.1f} s -> {b._rel(layout.book, root)}/", file=out)
            return EXIT_OK
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

            if args.no_wait:
                with locked():  # fail now rather than queue behind the running build
                    pass

            return cmd_preview(layout, args.port, rebuild, out, err)
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

"""The typer application object and the error handling every command shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from scrappy_cli import render
from scrappy_cli.client import ApiError, DaemonUnavailable

app = typer.Typer(
    name="scrappy",
    help="Scrappy: an open-source AI outbound sales caller (CLI + local daemon).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_ERROR = 1
EXIT_INVALID = 2


@contextlib.contextmanager
def api_errors(problems_only: bool = False) -> Iterator[None]:
    """Turn client errors into one clear stderr message and a sane exit code.

    With `problems_only`, invalid input prints just its `field.path: problem` lines (ingest's
    contract: one line per problem), without the summary line above them.
    """
    try:
        yield
    except DaemonUnavailable as exc:
        render.error(str(exc), "start it with `scrappy daemon` (or set SCRAPPY_URL)")
        raise typer.Exit(EXIT_ERROR) from None
    except ApiError as exc:
        if exc.problems:
            if not problems_only:
                render.error(exc.message)
            render.problems(exc.problems)
            raise typer.Exit(EXIT_INVALID) from None
        hint = None
        if exc.status == 401:
            hint = "set SCRAPPY_TOKEN, or run on the daemon's machine so its admin token is found"
        elif exc.status == 403:
            hint = "this needs an admin token"
        render.error(f"{exc.message} (HTTP {exc.status})", hint)
        raise typer.Exit(EXIT_INVALID if exc.status in (400, 413, 422) else EXIT_ERROR) from None


def check_xlsx_name(path: Path | None) -> None:
    """Workbooks only go to files named .xlsx (an Excel file called a.csv fools everyone)."""
    if path is not None and path.suffix.lower() != ".xlsx":
        render.error(f"{path}: the export is an Excel workbook; name it .xlsx")
        raise typer.Exit(EXIT_INVALID)


def write_download(target: Path, content: bytes) -> None:
    """Save what the daemon sent; a file we cannot write is a clear error, exit 1."""
    try:
        target.write_bytes(content)
    except OSError as exc:
        render.error(f"cannot write {target}: {exc.strerror}")
        raise typer.Exit(EXIT_ERROR) from None


def _show_version(value: bool) -> None:
    if value:
        from daemon import __version__

        render.info(f"scrappy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                 help="Print the version and exit."),
) -> None:
    """Scrappy: an open-source AI outbound sales caller (CLI + local daemon)."""


"""All terminal rendering lives here (rich is imported in this one place)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def error(message: str, hint: str | None = None) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {hint}", soft_wrap=True)


def problems(lines: list[str]) -> None:
    for line in lines:
        err_console.print(line, markup=False, soft_wrap=True)


def info(message: str) -> None:
    console.print(message, soft_wrap=True)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    console.print(t)


def key_values(pairs: list[tuple[str, Any]]) -> None:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for key, value in pairs:
        t.add_row(key, "" if value is None else str(value))
    console.print(t)


def short_time(iso: str | None) -> str:
    if not iso:
        return ""
    return iso.replace("T", " ")[:19]


def latency_cell(latency: dict[str, Any] | None) -> str:
    if not latency or latency.get("total") is None:
        return ""
    return f"{latency['total']:.0f} ms"


def campaign_progress(fetch: Callable[[], dict[str, Any]], finished: set[str], *,
                      poll_s: float, sleep: Callable[[float], None]) -> dict[str, Any]:
    """Redraw a campaign's progress bar and counts until its status is in `finished`."""
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[counts]}"), console=console)
    data = fetch()
    task = bar.add_task(data["status"], total=data["progress"]["leads"], counts="")
    started = time.monotonic()
    with Live(bar, console=console, refresh_per_second=4, transient=False):
        while True:
            p = data["progress"]
            done = p["finished"]
            rate = done / max(time.monotonic() - started, 1e-6)
            eta = f", eta {int(p['remaining'] / rate)}s" if rate > 0 and p["remaining"] else ""
            counts = (f"dialled {p['dialled']} · calling {p['calling']} · waiting {p['waiting']}"
                      f" · skipped {p['skipped']} · "
                      + " · ".join(f"{k} {v}" for k, v in p["outcomes"].items()) + eta)
            bar.update(task, completed=done, description=data["status"], counts=counts)
            if data["status"] in finished:
                return data
            sleep(poll_s)
            data = fetch()

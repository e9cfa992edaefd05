"""`ExportsList`: the Excel workbooks the daemon wrote, newest first (admin only)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from scrappy_cli.ops import fmt


class ExportsList(VerticalScroll):
    def __init__(self, tz: tzinfo | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tz = tz
        self.exports: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="exports-body")

    def on_mount(self) -> None:
        self.border_title = "Exports"
        self.border_subtitle = "x: export now"
        self.show([], admin=True)

    def show(self, exports: list[dict[str, Any]], *, admin: bool) -> None:
        body = self.query_one("#exports-body", Static)
        if not admin:
            self.exports = []
            body.update(Text("Exports need an admin token.", style="dim italic"))
            return
        self.exports = sorted(exports, key=lambda e: str(e.get("modified") or ""), reverse=True)
        if not self.exports:
            body.update(Text("No workbooks yet. Press x to export now.", style="dim italic"))
            return
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(no_wrap=True, justify="right")
        for item in self.exports:
            kind = "call" if item.get("kind") == "calls" else "export"
            grid.add_row(fmt.clock_time(item.get("modified"), self._tz), str(item.get("name") or "?"),
                         kind, fmt.size(item.get("size")))
        body.update(grid)

"""`CampaignsPanel`: the newest campaigns with their progress and live calls; `p` pauses or
resumes the newest open one."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

OPEN = ("scheduled", "running", "paused")
STATUS_STYLE = {"running": "green", "paused": "yellow", "scheduled": "cyan",
                "completed": "dim", "cancelled": "dim red"}
BAR_WIDTH = 10


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> Text:
    filled = round(width * done / total) if total else 0
    return Text.assemble(("█" * filled, "green"), ("░" * (width - filled), "dim"),
                         f" {done}/{total}")


class CampaignsPanel(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.campaigns: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="campaigns-body")

    def on_mount(self) -> None:
        self.border_title = "Campaigns"
        self.show([])

    @property
    def target(self) -> dict[str, Any] | None:
        """The campaign `p` acts on: the newest one still open."""
        return next((c for c in self.campaigns if c.get("status") in OPEN), None)

    def show(self, campaigns: list[dict[str, Any]]) -> None:
        self.campaigns = campaigns
        body = self.query_one("#campaigns-body", Static)
        target = self.target
        self.border_subtitle = (f"p: {'resume' if target['status'] == 'paused' else 'pause'} "
                                f"{target['name']}" if target else "")
        if not campaigns:
            body.update(Text("No campaigns. `scrappy campaign create LEADS.csv` starts one.",
                             style="dim italic"))
            return
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, justify="right")
        for campaign in campaigns:
            p = campaign.get("progress") or {}
            status = str(campaign.get("status") or "?")
            calling = int(p.get("calling") or 0)
            booked = int((p.get("outcomes") or {}).get("demo_booked") or 0)
            grid.add_row(
                Text(str(campaign.get("name") or campaign.get("id")),
                     style="bold" if campaign is target else ""),
                Text(status, style=STATUS_STYLE.get(status, "")),
                progress_bar(int(p.get("finished") or 0), int(p.get("leads") or 0)),
                Text(f"{calling} live · {booked} booked", style="" if calling else "dim"))
        body.update(grid)

"""`UsagePanel`: today's calls, minutes and tokens, and the budget as a bar when one is set."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from scrappy_cli.ops import fmt


class UsagePanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(Text("Loading usage…", style="dim italic"), id="usage-today")
        with Horizontal(id="usage-budget"):
            yield Static(id="budget-label")
            yield ProgressBar(id="budget-bar", show_eta=False)

    def on_mount(self) -> None:
        self.border_title = "Usage today"
        self.query_one("#budget-bar").display = False

    def show(self, usage: dict[str, Any]) -> None:
        today = usage.get("today") or {}
        calls = int(today.get("calls") or 0)
        line = Text.assemble(
            (f"{calls}", "bold"), f" call{'s' if calls != 1 else ''} · ",
            (fmt.minutes(today.get("minutes") or 0.0), "bold"), " min · ",
            (f"{int(today.get('tokens') or 0):,}", "bold"), " tokens")
        self.query_one("#usage-today", Static).update(line)
        user = usage.get("user") or {}
        used = float(user.get("usage_minutes") or 0.0)
        limit = user.get("credit_limit")
        label = self.query_one("#budget-label", Static)
        bar = self.query_one("#budget-bar", ProgressBar)
        if limit:
            over = used > float(limit)
            label.update(Text.assemble(
                ("budget ", "dim"), (f"{fmt.minutes(used)}/{fmt.minutes(float(limit))} min ",
                                     "bold red" if over else "")))
            bar.update(total=float(limit), progress=min(used, float(limit)))
            bar.display = True
        else:
            label.update(Text(f"budget: no limit for {user.get('name') or 'this token'} "
                              f"({fmt.minutes(used)} min used)", style="dim"))
            bar.display = False

"""`FeedbackTimeline`: feedback, train-loop, fallback and summary events, newest first."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from scrappy_cli.ops import fmt

KIND_STYLE = {"feedback": "bold green", "train_loop": "bold blue", "fallback_triggered": "bold yellow",
              "summary": "bold"}
KIND_LABEL = {"feedback": "feedback", "train_loop": "train", "fallback_triggered": "fallback",
              "summary": "summary"}


class FeedbackTimeline(VerticalScroll):
    """A scrolling list; the daemon already sorts newest first, we sort again to be sure."""

    def __init__(self, tz: tzinfo | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tz = tz
        self.events: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-body")

    def on_mount(self) -> None:
        self.border_title = "Feedback timeline"
        self.show([])

    def show(self, events: list[dict[str, Any]]) -> None:
        def when(event: dict[str, Any]) -> float:
            parsed = fmt.parse_time(event.get("created_at"))
            return parsed.timestamp() if parsed else 0.0

        self.events = sorted(events, key=when, reverse=True)
        body = self.query_one("#timeline-body", Static)
        if not self.events:
            body.update(Text("No feedback yet. Select a call and press f to add some.", style="dim italic"))
            return
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(ratio=1, overflow="fold")
        for event in self.events:
            kind = str(event.get("event_type") or "?")
            text = Text(fmt.event_text(event))
            if kind == "feedback" and event.get("importance"):
                text.append(f"  ★{event['importance']}", style="yellow")
            call = fmt.short_id(str(event["call_id"])) if event.get("call_id") else fmt.DASH
            grid.add_row(fmt.clock_time(event.get("created_at"), self._tz),
                         Text(KIND_LABEL.get(kind, kind), style=KIND_STYLE.get(kind, "")), call, text)
        body.update(grid)

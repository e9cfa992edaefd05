"""`TranscriptPane`: the selected call's turns, agent and lead, as they complete."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from scrappy_cli.ops import fmt

ROLE_STYLE = {"agent": "bold cyan", "lead": "bold magenta"}
EMPTY_HINT = "No call selected: move to a call and press Enter to see its transcript."


class TranscriptPane(RichLog):
    """A log that follows the newest turn (auto-scroll) and can be rebuilt at any width.

    It keeps the turns it shows, because a RichLog's lines are rendered for the width they
    were written at: on resize we write them again rather than keep stale wrapping.
    """

    def __init__(self, tz: tzinfo | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, auto_scroll=True, min_width=20)
        self._tz = tz
        self.call_id: str | None = None
        self.source = ""  # "live" while following a call, "stored" once loaded from the store
        self._turns: list[dict[str, Any]] = []
        self._call_started: str | None = None
        self._width = 0

    def on_mount(self) -> None:
        self.border_title = "Transcript"
        self._redraw()

    def show(self, call_id: str, turns: list[dict[str, Any]], *, call_started: str | None,
             source: str, note: str = "") -> None:
        """Replace the whole transcript (a new selection, or the stored version arrived)."""
        self.call_id = call_id
        self.source = source
        self._call_started = call_started
        self._turns = list(turns)
        label = f"Transcript · {call_id} · {source}"
        self.border_title = f"{label} · {note}" if note else label
        self._redraw()

    def append(self, turn: dict[str, Any]) -> None:
        """A turn of the followed call completed (late duplicates replace their index)."""
        if any(t.get("index") == turn.get("index") for t in self._turns):
            self._turns = [turn if t.get("index") == turn.get("index") else t for t in self._turns]
            self._redraw()
            return
        self._turns.append(turn)
        if len(self._turns) == 1:
            self.clear()
        self.write(self._render_turn(turn), expand=True)

    @property
    def texts(self) -> list[str]:
        return [str(t.get("text") or "") for t in self._turns]

    def _redraw(self) -> None:
        self.clear()
        if self.call_id is None:
            self.write(Text(EMPTY_HINT, style="dim italic"), expand=True)
            return
        if not self._turns:
            self.write(Text("Waiting for the first turn…", style="dim italic"), expand=True)
        for turn in self._turns:
            self.write(self._render_turn(turn), expand=True)

    def _render_turn(self, turn: dict[str, Any]) -> RenderableType:
        role = str(turn.get("role") or "?")
        text = Text()
        if turn.get("interrupted"):  # first, so wrapping can never split it from its turn
            text.append("✂ interrupted: ", style="bold yellow")
        text.append(str(turn.get("text") or ""))
        total = (turn.get("latency_ms") or {}).get("total")
        if total is not None:
            text.append(f"  {fmt.latency(float(total))}", style="dim")
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(width=5, style="dim", justify="right")
        grid.add_column(width=5)
        grid.add_column(ratio=1, overflow="fold")
        grid.add_row(fmt.offset(turn.get("started_at"), self._call_started),
                     Text(role, style=ROLE_STYLE.get(role, "")), text)
        return grid

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self._redraw()

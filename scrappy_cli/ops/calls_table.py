"""`CallsTable`: live calls first, then recent ones; Enter selects the call to watch."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from scrappy_cli.ops import fmt
from scrappy_cli.ops.messages import CallSelected
from scrappy_cli.ops.state import CallRow

COLUMNS = (("call", "call"), ("lead", "lead"), ("strategy", "strategy"), ("dir", "dir"),
           ("stage", "stage"), ("speaker", "speaking"), ("dur", "duration"), ("latency", "latency"))
# Text widths (id, lead, strategy, stage), narrowest first; the widest that fits is used. The
# first fits an 80-column terminal. Fixed parts: marker and dot, dir, speaker, duration, latency
# and one cell of padding either side of each of the eight columns.
WIDTH_TIERS = ((8, 12, 9, 9), (12, 14, 14, 10), (12, 20, 24, 12))
FIXED_WIDTH = 2 + 3 + 7 + 4 + 7 + 16
SPEAKER_STYLE = {"agent": "bold cyan", "lead": "bold magenta"}


class CallsTable(DataTable[Text]):
    """One row per call. Moving the cursor is cheap; Enter (or a click) selects a call.

    `show` keeps rows in place and updates changed cells when the set of calls is unchanged
    (most live events only change who is speaking), and rebuilds otherwise, keeping the
    cursor on the call it was on.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Select call", show=True)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._order: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._widths = WIDTH_TIERS[0]
        self._last: tuple[list[CallRow], float, str | None] = ([], 0.0, None)

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    @property
    def cursor_call(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def show(self, rows: list[CallRow], now: float, selected: str | None, *, rebuild: bool = False) -> None:
        self._last = (rows, now, selected)
        order = [r.call_id for r in rows]
        cells = {r.call_id: self._cells_for(r, now, r.call_id == selected) for r in rows}
        if order == self._order and not rebuild:
            for call_id in order:
                if cells[call_id] != self._cells[call_id]:
                    for (_, key), value in zip(COLUMNS, cells[call_id], strict=True):
                        self.update_cell(call_id, key, value)
        else:
            keep = self.cursor_call or selected
            self.clear(columns=rebuild)  # columns only ever widen, so a new width needs new ones
            if rebuild:
                self._add_columns()
            for call_id in order:
                self.add_row(*cells[call_id], key=call_id)
            self._order = order
            if keep in order:
                self.move_cursor(row=order.index(keep), animate=False)
        self._cells = cells

    def point_at(self, call_id: str) -> None:
        """Move the cursor to a call (the app selected it for the operator)."""
        if call_id in self._order:
            self.move_cursor(row=self._order.index(call_id), animate=False)

    def on_resize(self) -> None:
        room = self.size.width - 1  # leave the vertical scrollbar its column
        widths = WIDTH_TIERS[0]
        for tier in WIDTH_TIERS:
            if FIXED_WIDTH + sum(tier) <= room:
                widths = tier
        if widths != self._widths:
            self._widths = widths
            self.show(*self._last, rebuild=True)

    def _cells_for(self, row: CallRow, now: float, selected: bool) -> tuple[Text, ...]:
        id_width, lead_width, strategy_width, stage_width = self._widths
        marker = Text("▸", style="bold") if selected else Text(" ")
        dot = Text("●", style="green") if row.live else Text("·", style="dim")
        ident = Text.assemble(marker, dot, fmt.short_id(row.call_id, id_width))
        if row.live:
            speaking = Text(row.speaking if row.speaking != "none" else "·",
                            style=SPEAKER_STYLE.get(row.speaking, "dim"))
        else:
            speaking = Text("ended" if row.status == "completed" else fmt.clip(row.status, 7), style="dim")
        body = "" if row.live else "dim"
        return (
            ident,
            Text(fmt.clip(row.lead, lead_width), style=body),
            Text(fmt.clip(row.strategy, strategy_width), style=body),
            Text("in" if row.direction == "inbound" else "out", style=body),
            Text(fmt.clip(row.stage or fmt.DASH, stage_width), style=body),
            speaking,
            Text(fmt.duration(row.duration(now)), style=body, justify="right"),
            Text(fmt.latency(row.last_latency_ms), style=body, justify="right"),
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(CallSelected(str(event.row_key.value)))

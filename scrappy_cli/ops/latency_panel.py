"""`LatencyPanel`: per-turn total latency of the selected call, and today's p50/p95."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from scrappy_cli.ops import fmt


class LatencyPanel(Vertical):
    """The sparkline is the shape of one call; the numbers beside it are the day's."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: list[float] = []
        self._p50: float | None = None
        self._p95: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="latency-stats")
        yield Sparkline([], id="latency-spark", summary_function=max)

    def on_mount(self) -> None:
        self.border_title = "Latency"
        self._render_stats()

    def show_call(self, values: list[float]) -> None:
        self.values = list(values)
        self.query_one("#latency-spark", Sparkline).data = self.values
        self._render_stats()

    def show_today(self, p50: float | None, p95: float | None) -> None:
        self._p50, self._p95 = p50, p95
        self._render_stats()

    def _render_stats(self) -> None:
        if self.values:
            call = Text.assemble(("call ", "dim"), ("last ", "dim"), (fmt.latency(self.values[-1]), "bold"),
                                 (" max ", "dim"), fmt.latency(max(self.values)),
                                 (f" ({len(self.values)} turn{'s' if len(self.values) != 1 else ''})", "dim"))
        else:
            call = Text("call: no measured turns yet", style="dim")
        today = Text.assemble(("   today ", "dim"), ("p50 ", "dim"), (fmt.latency(self._p50), "bold"),
                              (" p95 ", "dim"), (fmt.latency(self._p95), "bold"))
        self.query_one("#latency-stats", Static).update(Text.assemble(call, today))

"""`ConnectionBanner`: the top line, saying where the daemon is and whether we reach it."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static


class ConnectionBanner(Static):
    """Shows `connecting`, `connected` (url, role, live calls) or `down` with a countdown.

    The countdown is computed from the retry time and the console's clock on each `tick`, so
    the operator sees "retrying in 3s, 2s, 1s" without the link having to post every second.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = "connecting"
        self._url = ""
        self._reason = ""
        self._retry_at = 0.0
        self._role = ""
        self._live = 0

    def connecting(self, url: str) -> None:
        if self.state == "down":  # keep saying "unreachable" while a retry is in flight
            self._render_down("retrying now…")
            return
        self._set("connecting", url=url)
        self.update(Text.assemble(("◌ ", "bold"), f"connecting to {url}…"))

    def connected(self, url: str, admin: bool) -> None:
        self._set("connected", url=url)
        self._role = "admin" if admin else "user (admin actions disabled)"
        self._render_connected()

    def live_calls(self, count: int) -> None:
        self._live = count
        if self.state == "connected":
            self._render_connected()

    def down(self, reason: str, retry_at: float, now: float) -> None:
        self._set("down")
        self._reason, self._retry_at = reason, retry_at
        self.tick(now)

    def tick(self, now: float) -> None:
        if self.state == "down":
            seconds = max(0, math.ceil(self._retry_at - now))
            self._render_down(f"retrying in {seconds}s" if seconds else "retrying now…")

    def _set(self, state: str, url: str | None = None) -> None:
        self.state = state
        if url is not None:
            self._url = url
        self.set_class(state == "connected", "-connected")
        self.set_class(state == "down", "-down")
        self.set_class(state == "connecting", "-connecting")

    def _render_connected(self) -> None:
        live = f"{self._live} live call{'s' if self._live != 1 else ''}"
        self.update(Text.assemble(("● ", "bold"), ("scrappy ops", "bold"), f" · {self._url} · {self._role}"
                                  f" · {live}"))

    def _render_down(self, retry: str) -> None:
        self.update(Text.assemble(("✖ ", "bold"), ("daemon unreachable", "bold"), f" — {retry}",
                                  f" ({self._reason}) · {self._url}"))

"""`DaemonLink`: keeps the console connected, turns what the daemon says into messages.

Theory of operation: one loop, forever. Ask the daemon who we are (admin or user), open the
live stream, and post each event as a typed message to the app. When the daemon cannot be
reached, or the stream ends (the daemon restarts and says `daemon_stopping`), post
`Disconnected` with the time of the next try and wait: 1 s, 2 s, 4 s … up to 30 s, back to
1 s after any good connection. REST reads and operator actions go through `load` and `act`,
which turn errors into `RequestFailed` instead of exceptions, so a failed click never kills
the console.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.message import Message

from scrappy_cli.ops import messages as m
from scrappy_cli.ops.feed import Feed, FeedError, FeedUnavailable
from scrappy_cli.ops.state import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


class DaemonLink:
    def __init__(self, feed: Feed, post: Callable[[Message], Any], *, clock: Clock = time.monotonic,
                 sleep: Sleep | None = None, backoff: Backoff | None = None) -> None:
        self.feed = feed
        self._post = post
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self.backoff = backoff or Backoff()
        self.pending = 0  # REST reads and actions in flight (tests wait for zero)

    async def run(self) -> None:
        """Stay connected until cancelled (the app cancels this worker on exit)."""
        delays = self.backoff.delays()
        while True:
            self._post(m.Connecting(self.feed.url))
            reason = "the live stream ended"
            try:
                admin = await self.feed.is_admin()
                opened = False
                async for event in self.feed.events():
                    if not opened:
                        opened = True
                        delays = self.backoff.delays()
                        self._post(m.Connected(self.feed.url, admin))
                    if event.get("type") == "daemon_stopping":
                        reason = "the daemon is restarting"
                        break
                    self._dispatch(event)
            except FeedUnavailable as exc:
                reason = exc.reason
            except FeedError as exc:
                reason = str(exc)
            delay = next(delays)
            self._post(m.Disconnected(reason, self._clock() + delay, delay))
            await self._sleep(delay)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        call_id = str(event.get("call_id") or "")
        if kind == "snapshot":
            self._post(m.LiveSnapshot(list(event.get("calls") or [])))
        elif kind in ("call_started", "call_updated") and isinstance(event.get("call"), dict):
            self._post(m.LiveCallChanged(event["call"], started=kind == "call_started"))
        elif kind == "turn" and isinstance(event.get("turn"), dict):
            self._post(m.TurnReceived(call_id, event["turn"]))
        elif kind == "call_ended":
            self._post(m.LiveCallEnded({"call_id": call_id, **(event.get("call") or {})}))
        elif kind == "memory":
            self._post(m.DaemonNews("memory", dict(event.get("event") or {})))
        elif kind == "budget_alert":
            self._post(m.DaemonNews("usage", event))
        elif kind == "workbook":
            self._post(m.DaemonNews("exports", event))
        elif kind == "call_status":
            self._post(m.DaemonNews("calls", event))
        else:
            log.debug("ignoring live event %r", kind)

    async def load(self, what: str, *args: Any) -> None:
        """Read one REST view and post it as `Loaded(what, data)`."""
        fetchers: dict[str, Callable[..., Awaitable[Any]]] = {
            "recent": self.feed.recent_calls, "call": self.feed.call, "timeline": self.feed.timeline,
            "usage": self.feed.usage, "exports": self.feed.exports,
            "campaigns": self.feed.campaigns}
        fetch = fetchers[what]
        data = await self.act(what, fetch(*args), quiet_when_down=True)
        if data is not None:
            self._post(m.Loaded(what, data))

    async def act(self, what: str, call: Awaitable[T], quiet_when_down: bool = False) -> T | None:
        """Await one request; on failure post `RequestFailed` and return None."""
        self.pending += 1
        try:
            return await call
        except FeedUnavailable as exc:
            if not quiet_when_down:  # a read while down is retried on reconnect anyway
                self._post(m.RequestFailed(what, f"daemon unreachable ({exc.reason})"))
        except FeedError as exc:
            self._post(m.RequestFailed(what, str(exc)))
        finally:
            self.pending -= 1
        return None

"""In-process implementations of the agent's protocols.

They are real implementations, not test doubles: a daemon with no database configured for a
concern can use them, and tests use them to drive the agent without mocking any of our own
code. State lives in lists and dicts and disappears with the process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agentcore.memory import MemoryEvent
from agentcore.strategy import Strategy


class InMemoryMemorySink:
    """Keeps memory events in a list, newest last (queries return newest first)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.events: list[MemoryEvent] = []
        self._ids: set[str] = set()
        self._limit = limit

    async def log_event(self, event: MemoryEvent) -> None:
        if event.event_id in self._ids:
            return
        self._ids.add(event.event_id)
        self.events.append(event)
        if len(self.events) > self._limit:
            dropped = self.events.pop(0)
            self._ids.discard(dropped.event_id)

    async def recent_events(
        self,
        types: Sequence[str] | None = None,
        *,
        since: datetime | None = None,
        limit: int = 500,
        call_id: str | None = None,
    ) -> list[MemoryEvent]:
        out: list[MemoryEvent] = []
        for event in reversed(self.events):
            if types and event.event_type not in types:
                continue
            if since is not None and event.created_at <= since:
                continue
            if call_id is not None and event.call_id != call_id:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out

    def of_type(self, event_type: str) -> list[MemoryEvent]:
        """Events of one type, oldest first (a convenience for inspection)."""
        return [e for e in self.events if e.event_type == event_type]


@dataclass(frozen=True)
class StrategyVersion:
    id: str
    version: int
    strategy: Strategy
    based_on: str | None
    reason: str
    created_at: datetime


def _family(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48] or "strategy"


class InMemoryStrategyStore:
    """Versioned strategies in a list; ids look like the daemon's: `<title-slug>-v<n>`."""

    def __init__(self) -> None:
        self.versions: list[StrategyVersion] = []
        self._active: str | None = None

    async def save_new_version(
        self, strategy: Strategy, *, based_on: str | None, reason: str
    ) -> str:
        family = _family(strategy.title)
        number = 1 + sum(1 for v in self.versions if v.id.startswith(f"{family}-v"))
        version = StrategyVersion(
            id=f"{family}-v{number}",
            version=number,
            strategy=strategy,
            based_on=based_on,
            reason=reason,
            created_at=datetime.now(UTC),
        )
        self.versions.append(version)
        self._active = version.id
        return version.id

    async def active(self) -> tuple[str, Strategy] | None:
        for version in self.versions:
            if version.id == self._active:
                return version.id, version.strategy
        return None

    def get(self, strategy_id: str) -> StrategyVersion | None:
        return next((v for v in self.versions if v.id == strategy_id), None)


@dataclass(frozen=True)
class SentMessage:
    to: str
    text: str


class OutboxMessenger:
    """Keeps text messages instead of sending them (no SMS provider configured)."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []

    async def send_sms(self, to: str, text: str) -> str | None:
        self.sent.append(SentMessage(to, text))
        return f"outbox-{len(self.sent)}"


class RecordingCallControl:
    """Records hang-up requests (chat and webhook conversations have no line to hang up)."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    async def end_call(self, reason: str) -> None:
        self.ended.append(reason)

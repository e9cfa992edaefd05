"""Memory events: the agent's audit trail, as plain data.

Everything the agent learns from later (turns, operator feedback, fallbacks, summaries, train
runs) is one `MemoryEvent`. The agent never writes storage itself; it hands events to a
`MemorySink` (see `agentcore.protocols`), which the daemon backs with the `memory_logs`
collection. The field names match that collection's documents, so the adapter is a one-liner.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

EventType = Literal[
    "turn",
    "feedback",
    "webhook",
    "fallback_triggered",
    "delegation",
    "summary",
    "train_loop",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MemoryEvent:
    """One audit-trail entry. `payload` is JSON-ready; `importance` 1 (routine) to 5 (urgent)."""

    event_type: EventType
    payload: dict[str, Any]
    call_id: str | None = None
    strategy_id: str | None = None
    source: str = "agent"
    importance: int = 1
    created_at: datetime = field(default_factory=utcnow)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown memory event type {self.event_type!r}")
        if self.created_at.tzinfo is None:
            # Naive datetimes read back from some stores are UTC by convention.
            object.__setattr__(self, "created_at", self.created_at.replace(tzinfo=UTC))

    def to_document(self) -> dict[str, Any]:
        """The shape stored in `memory_logs`."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "call_id": self.call_id,
            "strategy_id": self.strategy_id,
            "source": self.source,
            "importance": self.importance,
            "payload": self.payload,
            "created_at": self.created_at,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> MemoryEvent:
        """Rebuild an event from a stored document (unknown keys are ignored)."""
        return cls(
            event_type=doc["event_type"],
            payload=dict(doc.get("payload") or {}),
            call_id=doc.get("call_id"),
            strategy_id=doc.get("strategy_id"),
            source=doc.get("source") or "agent",
            importance=int(doc.get("importance") or 1),
            created_at=doc.get("created_at") or utcnow(),
            event_id=doc.get("event_id") or uuid.uuid4().hex,
        )

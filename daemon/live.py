"""The in-process live-call registry and event bus.

SecantusDB has no change streams (single node), and live views must not poll the store anyway:
call sessions publish small events here and `tail`, the ops TUI and `--follow` subscribe through
`GET /api/v1/calls/live`. Each subscriber gets a bounded queue; a subscriber too slow to keep up
loses its oldest events rather than slowing down a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class LiveCall:
    call_id: str
    lead_phone: str
    lead_name: str | None
    strategy_id: str | None
    direction: str
    simulated: bool
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stage: str = "greeting"
    speaking: str = "none"  # "agent", "lead" or "none"
    status: str = "connecting"
    last_latency_ms: float | None = None
    turns: int = 0

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["duration_seconds"] = round((datetime.now(UTC) - self.started_at).total_seconds(), 1)
        return data


class LiveBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._calls: dict[str, LiveCall] = {}
        self._subscribers: set[tuple[asyncio.Queue[dict[str, Any]], str | None]] = set()
        self._queue_size = queue_size
        self.closed = False

    # --- registry ---------------------------------------------------------------------------
    def register(self, call: LiveCall) -> None:
        self._calls[call.call_id] = call
        self.publish("call_started", call.call_id, call=call.snapshot())

    def get(self, call_id: str) -> LiveCall | None:
        return self._calls.get(call_id)

    def calls(self) -> list[LiveCall]:
        return list(self._calls.values())

    def update(self, call_id: str, **fields: Any) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        for key, value in fields.items():
            setattr(call, key, value)
        self.publish("call_updated", call_id, call=call.snapshot())

    def unregister(self, call_id: str, **summary: Any) -> None:
        call = self._calls.pop(call_id, None)
        snap = call.snapshot() if call else {"call_id": call_id}
        self.publish("call_ended", call_id, call={**snap, **summary})

    # --- pub/sub ----------------------------------------------------------------------------
    def publish(self, event_type: str, call_id: str | None, **data: Any) -> None:
        event = {"type": event_type, "call_id": call_id, "at": time.time(), **data}
        for queue, only in list(self._subscribers):
            if only is not None and call_id is not None and call_id != only:
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, call_id: str | None = None) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        entry = (queue, call_id)
        self._subscribers.add(entry)
        try:
            yield queue
        finally:
            self._subscribers.discard(entry)

    def close(self) -> None:
        """Wake every subscriber with a final event so streaming responses end."""
        self.closed = True
        self.publish("daemon_stopping", None)

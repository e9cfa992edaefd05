"""`memory_logs`: the agent's audit trail (turns, feedback, fallbacks, summaries, train runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class MemoryRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._c = db["memory_logs"]

    async def add(self, event_type: str, payload: dict[str, Any], *, call_id: str | None = None,
                  strategy_id: str | None = None, source: str | None = None,
                  importance: int = 1, created_at: datetime | None = None,
                  event_id: str | None = None) -> dict[str, Any]:
        doc = {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": event_type,
            "call_id": call_id,
            "strategy_id": strategy_id,
            "source": source,
            "importance": importance,
            "payload": payload,
            "created_at": created_at or datetime.now(UTC),
        }
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:  # a retried write of the same event
            pass
        return doc

    async def recent(self, types: list[str] | None = None, since: datetime | None = None,
                     limit: int = 100, call_id: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if types:
            query["event_type"] = {"$in": types}
        if since:
            query["created_at"] = {"$gt": since}
        if call_id:
            query["call_id"] = call_id
        cursor = self._c.find(query, {"_id": 0}).sort("created_at", DESCENDING).limit(limit)
        return [d async for d in cursor]

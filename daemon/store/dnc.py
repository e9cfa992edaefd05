"""The do-not-call list: E.164 numbers that must never be dialled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


class DncRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._c = db["dnc"]

    async def add(self, phone: str, reason: str, source: str) -> bool:
        result = await self._c.update_one(
            {"_id": phone},
            {"$setOnInsert": {"reason": reason, "source": source, "added_at": datetime.now(UTC)}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def remove(self, phone: str) -> bool:
        return (await self._c.delete_one({"_id": phone})).deleted_count == 1

    async def contains(self, phone: str) -> bool:
        return await self._c.find_one({"_id": phone}, {"_id": 1}) is not None

    async def list(self) -> list[dict[str, Any]]:
        return [d async for d in self._c.find({}).sort("added_at", 1)]

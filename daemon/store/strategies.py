"""Strategy versions. Every ingest is a new version; one version is active at a time.

Versions are grouped in a family (the slug of the title), numbered 1, 2, 3... and identified as
`<family>-v<version>`, so ids are readable in logs and the CLI. Older versions stay readable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from agentcore.strategy import Strategy, validate_strategy


def family_of(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:48] or "strategy"


class StrategyRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._c = db["strategies"]

    async def add_version(self, strategy: Strategy, *, activate: bool = True,
                          based_on: str | None = None, reason: str = "ingest",
                          created_by: str | None = None) -> dict[str, Any]:
        family = family_of(strategy.title)
        for _ in range(20):  # two concurrent ingests of one family race for the next number
            latest = await self._c.find_one({"family": family}, sort=[("version", DESCENDING)])
            version = (latest["version"] + 1) if latest else 1
            doc_id = f"{family}-v{version}"
            doc: dict[str, Any] = {
                "_id": doc_id,
                "family": family,
                "version": version,
                "title": strategy.title,
                "payload": strategy.to_document(),
                "active": False,
                "based_on": based_on,
                "reason": reason,
                "created_by": created_by,
                "created_at": datetime.now(UTC),
            }
            try:
                await self._c.insert_one(doc)
                break
            except DuplicateKeyError:
                continue
        else:  # pragma: no cover - needs 20 simultaneous writers
            raise RuntimeError(f"could not allocate a version for {family}")
        if activate:
            await self.activate(doc_id)
            doc["active"] = True
        return doc

    async def activate(self, strategy_id: str) -> bool:
        if not await self._c.find_one({"_id": strategy_id}, {"_id": 1}):
            return False
        await self._c.update_many({"active": True, "_id": {"$ne": strategy_id}},
                                  {"$set": {"active": False}})
        await self._c.update_one({"_id": strategy_id}, {"$set": {"active": True}})
        return True

    async def get(self, strategy_id: str) -> dict[str, Any] | None:
        return await self._c.find_one({"_id": strategy_id})

    async def active(self) -> dict[str, Any] | None:
        doc = await self._c.find_one({"active": True})
        if doc is None:  # nothing marked: fall back to the newest
            doc = await self._c.find_one({}, sort=[("created_at", DESCENDING)])
        return doc

    async def list(self, limit: int = 200) -> list[dict[str, Any]]:
        cursor = self._c.find({}, {"payload": 0}).sort("created_at", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    @staticmethod
    def model(doc: dict[str, Any]) -> Strategy:
        return validate_strategy(doc["payload"])

"""Usage: daily minutes, tokens and calls, and the top strategies, aggregated from `calls`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


class UsageRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._calls = db["calls"]

    async def summary(self, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        match = {"$match": {"started_at": {"$gte": since}}}
        daily_pipeline: list[dict[str, Any]] = [
            match,
            {"$group": {
                "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$started_at"}},
                "calls": {"$sum": 1},
                "seconds": {"$sum": {"$ifNull": ["$duration_seconds", 0]}},
                "tokens": {"$sum": {"$ifNull": ["$tokens_used", 0]}},
                "tts_chars": {"$sum": {"$ifNull": ["$tts_chars", 0]}},
                "asr_seconds": {"$sum": {"$ifNull": ["$asr_seconds", 0]}},
            }},
            {"$sort": {"_id": 1}},
        ]
        top_pipeline: list[dict[str, Any]] = [
            match,
            {"$group": {"_id": "$strategy_id", "calls": {"$sum": 1},
                        "seconds": {"$sum": {"$ifNull": ["$duration_seconds", 0]}}}},
            {"$sort": {"calls": -1}},
            {"$limit": 5},
        ]
        daily = [d async for d in await self._calls.aggregate(daily_pipeline)]
        top = [d async for d in await self._calls.aggregate(top_pipeline)]
        days_out = [{
            "date": d["_id"],
            "calls": d["calls"],
            "minutes": round(d["seconds"] / 60, 2),
            "tokens": d["tokens"],
            "tts_chars": d["tts_chars"],
            "asr_seconds": round(d["asr_seconds"], 2),
        } for d in daily]
        today = now.strftime("%Y-%m-%d")
        today_row = next((d for d in days_out if d["date"] == today),
                         {"date": today, "calls": 0, "minutes": 0.0, "tokens": 0,
                          "tts_chars": 0, "asr_seconds": 0.0})
        return {
            "since": since.date().isoformat(),
            "days": days_out,
            "today": today_row,
            "totals": {
                "calls": sum(d["calls"] for d in days_out),
                "minutes": round(sum(d["minutes"] for d in days_out), 2),
                "tokens": sum(d["tokens"] for d in days_out),
            },
            "top_strategies": [{"strategy_id": t["_id"], "calls": t["calls"],
                                "minutes": round(t["seconds"] / 60, 2)} for t in top],
        }

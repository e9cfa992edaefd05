"""Calls and their turns.

A call is one document in `calls`; each turn is one document in `turns`, keyed by
(call_id, index) with a unique index, so writing a turn is an idempotent upsert: a retry after a
timeout, or a replay from the spool, can never duplicate or reorder a transcript. `to_api()`
builds the contract's JSON shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
LATENCY_KEYS = ("endpoint", "asr", "llm_first_token", "tts_first_audio", "total")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class CallRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._calls = db["calls"]
        # a turn once heard survives a crash: acknowledged only when it is in the journal
        self._turns = db.get_collection("turns", write_concern=WriteConcern(j=True))
        self._status_events = db["status_events"]

    async def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {
            "direction": "outbound",
            "status": "queued",
            "lead_name": None,
            "call_sid": None,
            "started_at": datetime.now(UTC),
            "ended_at": None,
            "duration_seconds": None,
            "tokens_used": 0,
            "tts_chars": 0,
            "asr_seconds": 0.0,
            "outcome": None,
            "outcome_detail": None,
            "stage": "greeting",
            "status_history": [],
        }
        base.update(doc)
        await self._calls.insert_one(base)
        return base

    async def get(self, call_id: str) -> dict[str, Any] | None:
        return await self._calls.find_one({"_id": call_id})

    async def by_sid(self, call_sid: str) -> dict[str, Any] | None:
        return await self._calls.find_one({"call_sid": call_sid})

    async def by_stream_token(self, token_hash: str) -> dict[str, Any] | None:
        return await self._calls.find_one({"stream_token_hash": token_hash})

    async def claim_stream_token(self, call_id: str, token_hash: str) -> bool:
        """Atomically mark a stream token used; False if unknown, already used, expired, or
        the call is over."""
        result = await self._calls.update_one(
            {"_id": call_id, "stream_token_hash": token_hash, "stream_token_used": {"$ne": True},
             "stream_token_expires_at": {"$gt": datetime.now(UTC)},
             "status": {"$nin": sorted(FINAL_STATUSES)}, "ended_at": None},
            {"$set": {"stream_token_used": True}},
        )
        return result.modified_count == 1

    async def update(self, call_id: str, fields: dict[str, Any]) -> None:
        await self._calls.update_one({"_id": call_id}, {"$set": fields})

    async def increment(self, call_id: str, fields: dict[str, float]) -> None:
        await self._calls.update_one({"_id": call_id}, {"$inc": fields})

    async def record_status_once(self, key: str, call_id: str, status: str) -> bool:
        """Remember a status callback; False when the same one was already seen (a retry)."""
        from pymongo.errors import DuplicateKeyError

        try:
            await self._status_events.insert_one(
                {"key": key, "call_id": call_id, "status": status, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    async def upsert_turn(self, call_id: str, turn: dict[str, Any]) -> None:
        await self._turns.update_one(
            {"call_id": call_id, "index": turn["index"]},
            {"$set": {**turn, "call_id": call_id}},
            upsert=True,
        )

    async def turns(self, call_id: str) -> list[dict[str, Any]]:
        cursor = self._turns.find({"call_id": call_id}, {"_id": 0}).sort("index", ASCENDING)
        return [t async for t in cursor]

    async def turns_of(self, call_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Turns of several calls in one query, by call id (for listings)."""
        out: dict[str, list[dict[str, Any]]] = {call_id: [] for call_id in call_ids}
        cursor = self._turns.find({"call_id": {"$in": call_ids}}, {"_id": 0}).sort(
            [("call_id", ASCENDING), ("index", ASCENDING)])
        async for turn in cursor:
            out[turn["call_id"]].append(turn)
        return out

    async def latencies_since(self, since: datetime) -> list[float]:
        """Total latency of every agent turn since `since` (one query, for usage percentiles)."""
        cursor = self._turns.find({"started_at": {"$gte": since}, "latency_ms.total": {"$ne": None}},
                                  {"latency_ms.total": 1, "_id": 0})
        return [float(t["latency_ms"]["total"]) async for t in cursor]

    async def unfinished(self) -> list[dict[str, Any]]:
        """Calls neither final nor ended: live ones, or ones a stopped daemon left behind."""
        cursor = self._calls.find({"status": {"$nin": sorted(FINAL_STATUSES)}, "ended_at": None})
        return [c async for c in cursor]

    async def close_if_open(self, call_id: str, fields: dict[str, Any]) -> bool:
        """Set `fields` on a call that is neither final nor ended; False if something else (a
        Twilio callback, its session) closed it first."""
        result = await self._calls.update_one(
            {"_id": call_id, "status": {"$nin": sorted(FINAL_STATUSES)}, "ended_at": None},
            {"$set": fields})
        return result.modified_count == 1

    async def last_turn_at(self, call_id: str) -> datetime | None:
        turn = await self._turns.find_one({"call_id": call_id}, sort=[("index", DESCENDING)])
        return turn.get("started_at") if turn else None

    async def recent(self, limit: int = 50, since: datetime | None = None,
                     until: datetime | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if since or until:
            query["started_at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v}
        cursor = self._calls.find(query).sort("started_at", DESCENDING).limit(limit)
        return [c async for c in cursor]

    @staticmethod
    def to_api(call: dict[str, Any], turns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The contract JSON shape (plus a few extra, clearly named fields)."""
        out: dict[str, Any] = {
            "id": call["_id"],
            "direction": call.get("direction"),
            "status": call.get("status"),
            "lead_phone": call.get("lead_phone"),
            "lead_name": call.get("lead_name"),
            "strategy_id": call.get("strategy_id"),
            "call_sid": call.get("call_sid"),
            "started_at": _iso(call.get("started_at")),
            "ended_at": _iso(call.get("ended_at")),
            "duration_seconds": call.get("duration_seconds"),
            "tokens_used": call.get("tokens_used", 0),
            "outcome": call.get("outcome"),
            "outcome_detail": call.get("outcome_detail"),
            "stage": call.get("stage"),
            "simulated": bool(call.get("simulated")),
            "scenario": call.get("scenario"),
            "answered_by": call.get("answered_by"),
            "tts_chars": call.get("tts_chars", 0),
            "asr_seconds": call.get("asr_seconds", 0.0),
            "workbook": call.get("workbook"),
            "campaign_id": call.get("campaign_id"),
            "daemon": call.get("owner"),  # the instance id of the daemon that ran it
        }
        if turns is not None:  # the detailed view
            out["turns"] = [turn_to_api(t) for t in turns]
            out["simulation"] = call.get("simulation")
        return out


def turn_to_api(turn: dict[str, Any]) -> dict[str, Any]:
    latency = turn.get("latency_ms")
    return {
        "index": turn["index"],
        "role": turn["role"],
        "text": turn.get("text", ""),
        "started_at": _iso(turn.get("started_at")),
        "interrupted": bool(turn.get("interrupted", False)),
        "confidence": turn.get("confidence"),
        "latency_ms": {k: latency.get(k) for k in LATENCY_KEYS} if latency else None,
        "stage": turn.get("stage"),
    }

"""A media stream token opens one session, soon, for a call that is not over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pymongo import AsyncMongoClient
from secantus import SecantusDBServer

from daemon.store.calls import CallRepository


async def _claims(tmp_path: Path) -> None:
    server = SecantusDBServer(storage_path=str(tmp_path / "db"), port=0)
    server.start()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri, tz_aware=True)
    calls = CallRepository(client["t"])
    soon = datetime.now(UTC) + timedelta(seconds=30)
    gone = datetime.now(UTC) - timedelta(seconds=1)
    try:
        for call_id, fields in {
            "live": {"status": "initiated"},
            "stale": {"status": "initiated", "stream_token_expires_at": gone},
            "done": {"status": "completed"},
            "ended": {"status": "in-progress", "ended_at": datetime.now(UTC)},
        }.items():
            await calls.create({"_id": call_id, "stream_token_hash": "h", "stream_token_used": False,
                                "stream_token_expires_at": soon, **fields})
        assert await calls.claim_stream_token("live", "wrong") is False
        assert await calls.claim_stream_token("live", "h") is True
        assert await calls.claim_stream_token("live", "h") is False  # one session per token
        for call_id in ("stale", "done", "ended"):
            assert await calls.claim_stream_token(call_id, "h") is False, call_id
        # closing an orphan is conditional: a call something else closed stays as it was
        unfinished = {c["_id"] for c in await calls.unfinished()}
        assert unfinished == {"live", "stale"}
        assert await calls.close_if_open("done", {"status": "failed"}) is False
        assert await calls.close_if_open("stale", {"status": "failed", "ended_at": gone}) is True
        assert await calls.close_if_open("stale", {"status": "failed"}) is False
        assert (await calls.get("done") or {})["status"] == "completed"
    finally:
        await client.close()
        server.stop()


def test_stream_tokens_are_single_use_short_lived_and_need_a_live_call(tmp_path: Path) -> None:
    """And an orphaned call is closed once, by whoever gets there first."""
    asyncio.run(_claims(tmp_path))

"""A turn once heard is persisted even if the store blinks: spool to disk, replay, no duplicates."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path

from pymongo import AsyncMongoClient
from secantus import SecantusDBServer

from daemon.store.calls import CallRepository
from daemon.store.spool import TurnWriter


def _turn(index: int) -> dict[str, object]:
    return {"index": index, "role": "lead", "text": f"line {index}", "interrupted": False,
            "started_at": datetime.now(UTC), "confidence": 0.9, "latency_ms": None}


def _run_then_collect_pymongo_sockets(scenario: Coroutine[object, object, None]) -> None:
    """Run a scenario in its own event loop, then collect what pymongo's monitors left behind.

    `AsyncMongoClient.close()` cancels the client's server monitor; one cancelled in the middle
    of connecting (likely while the store is down and it keeps retrying) drops its new socket
    unclosed. The garbage collector would later report that ResourceWarning in whichever test
    happens to run then; here we know whose socket it is.
    """
    asyncio.run(scenario)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_turns_written_during_an_outage_reach_the_store_later(tmp_path: Path) -> None:
    _run_then_collect_pymongo_sockets(_outage_then_recovery(tmp_path))


def test_a_restarted_daemon_replays_what_the_last_one_spooled(tmp_path: Path) -> None:
    _run_then_collect_pymongo_sockets(_spooled_by_a_crashed_daemon(tmp_path))


async def _outage_then_recovery(tmp_path: Path) -> None:
    server = SecantusDBServer(storage_path=str(tmp_path / "db"), port=0)
    server.start()
    port = server.address[1]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        server.uri, tz_aware=True, serverSelectionTimeoutMS=500)
    calls = CallRepository(client["t"])
    writer = TurnWriter(calls, tmp_path / "spool", timeout=1.0, replay_every=0.2)
    try:
        assert await writer.write("call_1", _turn(0)) is True
        server.stop()  # the blink
        assert await writer.write("call_1", _turn(1)) is False
        assert await writer.write("call_1", _turn(2)) is False
        spooled = (tmp_path / "spool" / "turns.jsonl").read_text("utf-8").splitlines()
        assert [json.loads(line)["turn"]["index"] for line in spooled] == [1, 2]
        server = SecantusDBServer(storage_path=str(tmp_path / "db"), port=port)
        server.start()
        for _ in range(100):  # the writer's replay task drains the spool by itself
            if writer.pending() == 0:
                break
            await asyncio.sleep(0.1)
        assert writer.pending() == 0
        assert await writer.replay() == 0  # replaying again is harmless
        turns = await calls.turns("call_1")
        assert [t["index"] for t in turns] == [0, 1, 2]
        assert isinstance(turns[1]["started_at"], datetime)
    finally:
        await writer.close()
        await client.close()
        server.stop()


async def _spooled_by_a_crashed_daemon(tmp_path: Path) -> None:
    dead: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        "mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=200)
    crashed = TurnWriter(CallRepository(dead["t"]), tmp_path / "spool", timeout=0.5)
    assert await crashed.write("call_2", _turn(0)) is False
    await crashed.close()  # the process stops with the store still down: the turn stays spooled
    await dead.close()
    server = SecantusDBServer(storage_path=str(tmp_path / "db"), port=0)
    server.start()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri, tz_aware=True)
    try:
        fresh = TurnWriter(CallRepository(client["t"]), tmp_path / "spool")
        assert await fresh.replay() == 0
        assert [t["text"] for t in await CallRepository(client["t"]).turns("call_2")] == ["line 0"]
    finally:
        await client.close()
        server.stop()

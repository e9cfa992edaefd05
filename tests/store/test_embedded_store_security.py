"""The embedded SecantusDB is the daemon's alone: a password in a 0600 file, no test commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from daemon.store.database import DB_SECRET_FILE, DB_USER, Database


async def _probe(data_dir: Path) -> None:
    database = await Database.open(None, "scrappy", data_dir)
    host, port = database._server.address
    stranger: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        host, port, serverSelectionTimeoutMS=2000)
    wrong: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        host, port, username=DB_USER, password="guess", authSource="scrappy",
        serverSelectionTimeoutMS=2000)
    try:
        await database.db["tokens"].insert_one({"hash": "h", "role": "admin"})
        # another local process without the password reads nothing and writes nothing
        with pytest.raises(OperationFailure):
            await stranger["scrappy"]["tokens"].find_one({})
        with pytest.raises(OperationFailure):
            await stranger["scrappy"]["tokens"].insert_one({"hash": "mine", "role": "admin"})
        with pytest.raises(OperationFailure):
            await wrong["scrappy"]["tokens"].find_one({})
        # the daemon's own login: its database only, and no fail points
        assert await database.db["tokens"].count_documents({}) == 1
        with pytest.raises(OperationFailure):
            await database.client["admin"].command(
                {"configureFailPoint": "failCommand", "mode": "alwaysOn"})
        with pytest.raises(OperationFailure):
            await database.client["other"]["x"].find_one({})
    finally:
        await stranger.close()
        await wrong.close()
        await database.close()


def test_the_embedded_store_needs_the_daemons_password(tmp_path: Path) -> None:
    asyncio.run(_probe(tmp_path))
    secret = tmp_path / DB_SECRET_FILE
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "db").stat().st_mode & 0o777 == 0o700
    # a restart reads the same secret and the same data
    asyncio.run(_reopen(tmp_path, secret.read_text("utf-8")))


async def _reopen(data_dir: Path, secret: str) -> None:
    database = await Database.open(None, "scrappy", data_dir)
    try:
        assert await database.db["tokens"].count_documents({}) == 1
        assert (data_dir / DB_SECRET_FILE).read_text("utf-8") == secret
    finally:
        await database.close()

"""Where the daemon's data lives: an embedded SecantusDB by default, or MongoDB.

With no `MONGODB_URL`, `Database.open()` starts SecantusDB (a MongoDB wire-protocol server) on a
free loopback port with its files in `DATA_DIR/db`, so data survives restarts. Either way the
daemon talks to it with PyMongo's async client, so the repositories run unchanged on both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

log = logging.getLogger(__name__)

INDEXES: dict[str, list[IndexModel]] = {
    "strategies": [
        IndexModel([("family", ASCENDING), ("version", DESCENDING)], unique=True),
        IndexModel([("created_at", DESCENDING)]),
    ],
    "calls": [
        IndexModel([("started_at", DESCENDING)]),
        IndexModel([("call_sid", ASCENDING)]),
        IndexModel([("stream_token_hash", ASCENDING)]),
    ],
    "turns": [IndexModel([("call_id", ASCENDING), ("index", ASCENDING)], unique=True)],
    "memory_logs": [
        IndexModel([("event_type", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("event_id", ASCENDING)], unique=True),
    ],
    "tokens": [IndexModel([("hash", ASCENDING)], unique=True)],
    "status_events": [IndexModel([("key", ASCENDING)], unique=True)],
}


class Database:
    """Owns the Mongo client and, for the embedded default, the SecantusDB server."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], name: str, server: Any = None,
                 description: str = "") -> None:
        self.client = client
        self.db: AsyncDatabase[dict[str, Any]] = client[name]
        self._server = server
        self.description = description

    @classmethod
    async def open(cls, url: str | None, name: str, data_dir: Path) -> Database:
        server = None
        if url is None:
            from secantus import SecantusDBServer  # embedded default; heavy import kept lazy

            db_dir = data_dir / "db"
            db_dir.mkdir(parents=True, exist_ok=True)
            server = SecantusDBServer(storage_path=str(db_dir), port=0)
            server.start()
            url = server.uri
            description = f"secantusdb (embedded, {db_dir})"
        else:
            description = "mongodb (" + url.split("@")[-1].split("/")[0] + ")"
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000
        )
        try:
            await client.admin.command("ping")
        except Exception:
            await client.close()
            if server is not None:
                server.stop()
            raise
        self = cls(client, name, server, description)
        log.info("store: %s", description)
        return self

    async def ensure_indexes(self) -> None:
        for collection, models in INDEXES.items():
            await self.db[collection].create_indexes(models)

    async def close(self) -> None:
        await self.client.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

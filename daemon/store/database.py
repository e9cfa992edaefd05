"""Where the daemon's data lives: an embedded SecantusDB by default, or MongoDB.

With no `MONGODB_URL`, `Database.open()` starts SecantusDB (a MongoDB wire-protocol server) on a
free loopback port with its files in `DATA_DIR/db`, so data survives restarts. Either way the
daemon talks to it with PyMongo's async client, so the repositories run unchanged on both.

The embedded server is not open to every local process: it requires SCRAM-SHA-256 login as a
user that may only read and write the daemon's database, with the password in
`DATA_DIR/db.secret` (mode 0600, created on first start), and its test commands
(`configureFailPoint` and friends) are off. SecantusDB cannot listen on a Unix socket, so the
port stays on loopback and the password is the gate. The user is written into the store before
the port opens, so there is no moment without authentication.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
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
    "campaigns": [IndexModel([("created_at", DESCENDING)]), IndexModel([("status", ASCENDING)])],
    "campaign_leads": [IndexModel([("campaign_id", ASCENDING), ("index", ASCENDING)])],
}


DB_SECRET_FILE = "db.secret"
DB_USER = "scrappy"


def read_or_create_secret(path: Path, new: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """The value kept in `path` (mode 0600): read it, or create it with `new()` on first use."""
    try:
        secret = path.read_text("utf-8").strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return secret
    secret = new()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def _add_user(server: Any, database: str, password: str) -> None:
    """(Re)write the daemon's login into the store before it listens: SCRAM-SHA-256 keys derived
    from `password` (never the password itself), allowed to read and write `database` only.
    The secret file is the source of truth on every start, so a lost or rotated file just works."""
    from secantus.auth import SCRAM_SHA_256, derive_credentials

    credentials = derive_credentials(password, mechanism=SCRAM_SHA_256, username=DB_USER).to_doc()
    server.storage.add_user(database, DB_USER, {
        "_id": f"{database}.{DB_USER}", "user": DB_USER, "db": database,
        "credentials": credentials, "roles": [{"role": "readWrite", "db": database}],
        "mechanisms": [SCRAM_SHA_256],
    }, replace=True)


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
            db_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            db_dir.chmod(0o700)
            password = read_or_create_secret(data_dir / DB_SECRET_FILE)
            server = SecantusDBServer(storage_path=str(db_dir), port=0, host="127.0.0.1",
                                      require_auth=True, enable_test_commands=False)
            _add_user(server, name, password)
            server.start()
            url = server.uri
            login: dict[str, Any] = {"username": DB_USER, "password": password, "authSource": name,
                                     "authMechanism": "SCRAM-SHA-256"}
            description = f"secantusdb (embedded, {db_dir})"
        else:
            login = {}
            description = "mongodb (" + url.split("@")[-1].split("/")[0] + ")"
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, **login
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

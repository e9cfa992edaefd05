"""API tokens. Only a SHA-256 of each token is stored; the secret is shown once, at creation.

A token looks like `scr_<id>_<secret>`: the id is public (listing, revoking), the secret is 32
random bytes. Roles are `admin` and `user`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._c = db["tokens"]
        self._users = db["users"]

    async def create(self, role: Role, name: str,
                     credit_limit: float | None = None) -> tuple[str, dict[str, Any]]:
        token_id = secrets.token_hex(4)
        token = f"scr_{token_id}_{secrets.token_urlsafe(32)}"
        doc = {
            "_id": token_id,
            "name": name,
            "role": role,
            "hash": hash_token(token),
            "created_at": datetime.now(UTC),
            "revoked_at": None,
            "last_used_at": None,
        }
        await self._c.insert_one(doc)
        if credit_limit is not None:
            await self.set_credit_limit(name, credit_limit)
        return token, doc

    async def verify(self, token: str) -> dict[str, Any] | None:
        doc = await self._c.find_one({"hash": hash_token(token), "revoked_at": None})
        return doc

    async def list(self) -> list[dict[str, Any]]:
        return [doc async for doc in self._c.find({}, {"hash": 0}).sort("created_at", 1)]

    async def revoke(self, token_id: str) -> bool:
        result = await self._c.update_one({"_id": token_id, "revoked_at": None},
                                          {"$set": {"revoked_at": datetime.now(UTC)}})
        return result.modified_count == 1

    async def count_active_admins(self) -> int:
        return await self._c.count_documents({"role": "admin", "revoked_at": None})

    async def set_credit_limit(self, user: str, limit: float | None) -> None:
        await self._users.update_one({"_id": user}, {"$set": {"credit_limit": limit}}, upsert=True)

    async def user(self, name: str) -> dict[str, Any]:
        return await self._users.find_one({"_id": name}) or {"_id": name, "credit_limit": None,
                                                            "usage_total": 0.0}

    async def add_usage(self, name: str, amount: float) -> dict[str, Any]:
        from pymongo import ReturnDocument

        doc = await self._users.find_one_and_update(
            {"_id": name}, {"$inc": {"usage_total": amount}}, upsert=True,
            return_document=ReturnDocument.AFTER)
        return doc or {}

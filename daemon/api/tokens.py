"""Token management (admin only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from daemon.api.common import JSON, read_json_object, services
from daemon.auth import error, requires
from daemon.store.tokens import ROLES


@requires("admin")
async def create_token(request: Request) -> Response:
    body = await read_json_object(request)
    role = body.get("role", "user")
    if role not in ROLES:
        return error(422, f"role must be one of {', '.join(ROLES)}")
    name = str(body.get("name") or f"{role}-token")
    limit = body.get("credit_limit")
    if limit is not None and not isinstance(limit, int | float):
        return error(422, "credit_limit must be a number of call minutes")
    token, doc = await services(request).tokens.create(role, name, limit)
    return JSON({"id": doc["_id"], "name": name, "role": role, "token": token,
                 "credit_limit": limit}, status_code=201)


@requires("admin")
async def list_tokens(request: Request) -> Response:
    docs = await services(request).tokens.list()
    return JSON({"tokens": [{"id": d["_id"], "name": d["name"], "role": d["role"],
                             "created_at": d["created_at"], "revoked": d["revoked_at"] is not None}
                            for d in docs]})


@requires("admin")
async def revoke_token(request: Request) -> Response:
    token_id = request.path_params["token_id"]
    svc = services(request)
    docs = {d["_id"]: d for d in await svc.tokens.list()}
    target = docs.get(token_id)
    if target is None or target["revoked_at"] is not None:
        return error(404, f"no active token {token_id!r}")
    if target["role"] == "admin" and await svc.tokens.count_active_admins() <= 1:
        return error(409, "refusing to revoke the last admin token")
    await svc.tokens.revoke(token_id)
    return JSON({"id": token_id, "revoked": True})

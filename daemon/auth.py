"""Bearer-token auth with two roles, as a decorator on route functions.

`@requires("user")` accepts user and admin tokens; `@requires("admin")` only admin ones.
Missing or unknown token -> 401; a user token on an admin route -> 403.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from daemon.store.tokens import Role, TokenRepository

Endpoint = Callable[[Request], Awaitable[Response]]
ADMIN_TOKEN_FILE = "admin.token"


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principal_of(request: Request) -> dict[str, Any] | None:
    """The verified token's principal, or None (no, invalid or revoked token)."""
    token = bearer_token(request)
    if token is None:
        return None
    tokens: TokenRepository = request.app.state.services.tokens
    return await tokens.verify(token)


def requires(role: Role) -> Callable[[Endpoint], Endpoint]:
    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            if bearer_token(request) is None:
                return error(401, "missing bearer token (Authorization: Bearer <token>)")
            principal = await principal_of(request)
            if principal is None:
                return error(401, "invalid or revoked token")
            if role == "admin" and principal["role"] != "admin":
                return error(403, "this action needs an admin token")
            request.state.principal = principal
            return await endpoint(request)

        return wrapper

    return decorate


async def ensure_admin_token(tokens: TokenRepository, data_dir: Path) -> Path:
    """On first start, create an admin token and write it to DATA_DIR/admin.token (mode 0600).

    The CLI reads that file by itself, so a local operator never copies a token by hand.
    """
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        existing = path.read_text("utf-8").strip()
        if existing and await tokens.verify(existing):
            return path
    token, _ = await tokens.create("admin", name="local-admin")
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    tmp.replace(path)
    return path

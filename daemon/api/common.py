"""Small helpers shared by the route modules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from agentcore.safejson import loads_untrusted

if TYPE_CHECKING:
    from daemon.services import Services

MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    pass


class BadRequest(Exception):
    def __init__(self, message: str, problems: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.status = status


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter, clamped to [lo, hi]; anything else is a 400."""
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        return min(max(int(raw), lo), hi)
    except ValueError:
        raise BadRequest(f"query parameter {name!r} must be a whole number",
                         [f"{name}: not a whole number: {raw[:40]!r}"]) from None


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read the body, refusing (413) anything over `limit` without buffering all of it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        data = loads_untrusted(raw.decode("utf-8-sig"))  # a leading BOM is fine, as json.loads allows
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, UntrustedJSONError
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


async def read_form(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, str]:
    """A form-encoded body (Twilio's webhooks) as a plain dict; the last value of a repeated key wins."""
    raw = await read_body(request, limit)
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadRequest("form body is not UTF-8") from None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class JSON(JSONResponse):
    """JSONResponse that also writes datetimes (as ISO-8601)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False).encode("utf-8")

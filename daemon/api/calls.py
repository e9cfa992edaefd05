"""Calls: place, list, show, and follow live (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from daemon.api.common import JSON, int_param, read_json_object, services
from daemon.auth import error, requires
from daemon.calls.manager import CallRefused
from daemon.store.calls import CallRepository

KEEPALIVE_S = 15.0


@requires("user")
async def create_call(request: Request) -> Response:
    svc = services(request)
    body = await read_json_object(request)
    phone = body.get("phone")
    if not isinstance(phone, str) or not phone.strip():
        return error(422, "invalid call request",
                     problems=["phone: field required (E.164, e.g. +15551234567)"])
    problems = [f"{key}: must be a string" for key in ("name", "strategy_id", "scenario")
                if body.get(key) is not None and not isinstance(body.get(key), str)]
    if problems:  # {"$ne": null} as an id would match whatever the store finds first
        return error(422, "invalid call request", problems=problems)
    scenario = body.get("scenario")
    try:
        call = await svc.manager.create(
            phone=phone.strip(), name=body.get("name"), strategy_id=body.get("strategy_id"),
            simulate=bool(body.get("simulate")), scenario=scenario,
            force=bool(body.get("force")), principal=request.state.principal,
            external_lead=bool(body.get("external_lead")))
    except CallRefused as exc:
        return error(exc.status, "call refused", problems=exc.problems)
    out = {**CallRepository.to_api(call), "warnings": call.get("warnings", [])}
    if "stream_token" in call:
        out["stream_token"] = call["stream_token"]
    return JSON(out, status_code=201)


@requires("user")
async def list_calls(request: Request) -> Response:
    svc = services(request)
    calls = await svc.calls.recent(limit=int_param(request, "limit", 50, 1, 500))
    turns = await svc.calls.turns_of([c["_id"] for c in calls])
    return JSON({"calls": [CallRepository.to_api(c, turns.get(c["_id"], [])) for c in calls]})


@requires("user")
async def get_call(request: Request) -> Response:
    svc = services(request)
    call = await svc.calls.get(request.path_params["call_id"])
    if call is None:
        return error(404, f"no call {request.path_params['call_id']!r}")
    return JSON(CallRepository.to_api(call, await svc.calls.turns(call["_id"])))


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, default=str)}\n\n"


@requires("user")
async def live_events(request: Request) -> Response:
    """Live events for all calls, or one (`?call_id=`). A finished call replays and ends."""
    svc = services(request)
    call_id = request.query_params.get("call_id") or None

    async def stream() -> AsyncIterator[str]:
        async with svc.live.subscribe(call_id) as queue:
            snapshot = [c.snapshot() for c in svc.live.calls()
                        if call_id is None or c.call_id == call_id]
            yield _sse({"type": "snapshot", "calls": snapshot})
            if call_id is not None and svc.live.get(call_id) is None:
                call = await svc.calls.get(call_id)
                if call is None:
                    yield _sse({"type": "error", "error": f"no call {call_id!r}"})
                    return
                if call.get("status") in ("completed", "failed", "busy", "no-answer", "canceled"):
                    for turn in (CallRepository.to_api(call, await svc.calls.turns(call_id)))["turns"]:
                        yield _sse({"type": "turn", "call_id": call_id, "turn": turn})
                    yield _sse({"type": "call_ended", "call_id": call_id,
                                "call": CallRepository.to_api(call)})
                    return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                yield _sse(event)
                if event["type"] == "daemon_stopping":
                    return
                if call_id is not None and event["type"] == "call_ended":
                    return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

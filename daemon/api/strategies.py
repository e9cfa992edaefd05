"""Strategy ingest and listing."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentcore.strategy import StrategyError, parse_strategy
from daemon.api.common import JSON, read_body, services
from daemon.auth import error, requires


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "title": doc["title"],
        "family": doc["family"],
        "version": doc["version"],
        "active": doc.get("active", False),
        "based_on": doc.get("based_on"),
        "reason": doc.get("reason"),
        "created_at": doc.get("created_at"),
    }


@requires("user")
async def create_strategy(request: Request) -> Response:
    svc = services(request)
    raw = await read_body(request)
    try:  # up to 1 MB of JSON and a few hundred entries: validated off the event loop
        strategy = await asyncio.to_thread(parse_strategy, raw)
    except StrategyError as exc:
        return error(422, "invalid strategy", problems=exc.problems)
    activate = request.query_params.get("activate", "true").lower() not in ("0", "false", "no")
    doc = await svc.strategies.add_version(
        strategy, activate=activate, created_by=request.state.principal.get("name"))
    await svc.on_strategy_ingested(doc["_id"], strategy)
    return JSON(_summary(doc), status_code=201)


@requires("user")
async def list_strategies(request: Request) -> Response:
    docs = await services(request).strategies.list()
    return JSON({"strategies": [_summary(d) for d in docs]})


@requires("user")
async def get_strategy(request: Request) -> Response:
    doc = await services(request).strategies.get(request.path_params["strategy_id"])
    if doc is None:
        return error(404, f"no strategy {request.path_params['strategy_id']!r}")
    return JSON({**_summary(doc), "payload": doc["payload"]})


@requires("user")
async def activate_strategy(request: Request) -> Response:
    strategy_id = request.path_params["strategy_id"]
    if not await services(request).strategies.activate(strategy_id):
        return error(404, f"no strategy {strategy_id!r}")
    return JSON({"id": strategy_id, "active": True})

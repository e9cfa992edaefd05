"""Feedback, train loop, memory timeline, usage, exports, do-not-call list, webhook hooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from daemon.api.common import JSON, BadRequest, int_param, read_form, read_json_object, services
from daemon.auth import error, requires
from daemon.calls.dialing import InvalidPhoneNumber, normalise_phone
from daemon.store.calls import CallRepository

TIMELINE_TYPES = ["feedback", "train_loop", "fallback_triggered", "summary", "budget_alert",
                  "dial_forced", "delegation", "webhook"]


@requires("user")
async def feedback(request: Request) -> Response:
    svc = services(request)
    body = await read_json_object(request)
    text = body.get("text") or body.get("feedback")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("invalid feedback", ["text: field required"], 422)
    call_id = body.get("call_id")
    if call_id is not None and await svc.calls.get(str(call_id)) is None:
        return error(404, f"no call {call_id!r}")
    importance = body.get("importance", 1)
    if not isinstance(importance, int) or not 1 <= importance <= 5:
        raise BadRequest("invalid feedback", ["importance: must be an integer 1-5"], 422)
    # the same payload shape as SalesAgent.log_feedback, which the train loop reads
    doc = await svc.memory.add("feedback", {"text": text.strip()}, call_id=call_id,
                               source=str(body.get("source") or request.state.principal["name"]),
                               importance=importance)
    svc.live.publish("memory", call_id, event={k: v for k, v in doc.items() if k != "_id"})
    return JSON({"event_id": doc["event_id"], "stored": True}, status_code=201)


@requires("admin")
async def train(request: Request) -> Response:
    svc = services(request)
    result = await svc.train_now()
    svc.live.publish("memory", None, event={"event_type": "train_loop", "payload": result})
    return JSON(result)


@requires("user")
async def memory_timeline(request: Request) -> Response:
    svc = services(request)
    types = [t for t in request.query_params.get("types", "").split(",") if t] or TIMELINE_TYPES
    limit = int_param(request, "limit", 100, 1, 500)
    events = await svc.memory.recent(types, limit=limit, call_id=request.query_params.get("call_id"))
    return JSON({"events": events})


@requires("user")
async def usage_summary(request: Request) -> Response:
    svc = services(request)
    days = int_param(request, "days", 30, 1, 366)
    summary = await svc.usage.summary(days=days)
    user = await svc.tokens.user(request.state.principal["name"])
    summary["user"] = {"name": user["_id"], "credit_limit": user.get("credit_limit"),
                       "usage_minutes": round(float(user.get("usage_total") or 0), 2)}
    today = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    latencies = await svc.calls.latencies_since(today)
    summary["today"]["latency_p50_ms"] = _pct(latencies, 50)
    summary["today"]["latency_p95_ms"] = _pct(latencies, 95)
    return JSON(summary)


def _pct(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))], 1)


# --- exports ----------------------------------------------------------------------------------
def _exports_dir(svc: Any) -> Path:
    return Path(svc.settings.data_dir) / "logs"


@requires("admin")
async def list_exports(request: Request) -> Response:
    from daemon.exports.excel import list_exports as scan

    root = _exports_dir(services(request))
    infos = [*await asyncio.to_thread(scan, root / "exports"),
             *await asyncio.to_thread(scan, root / "calls")]
    infos.sort(key=lambda i: i.modified, reverse=True)
    return JSON({"exports": [{"name": i.name, "kind": i.path.parent.name, "size": i.size,
                              "modified": i.modified} for i in infos]})


@requires("admin")
async def create_export(request: Request) -> Response:
    from daemon.exports.excel import write_export

    svc = services(request)
    body = await read_json_object(request)
    try:
        since = date.fromisoformat(body["since"]) if body.get("since") else None
        until = date.fromisoformat(body["until"]) if body.get("until") else None
    except ValueError as exc:
        raise BadRequest("invalid export request", [f"since/until: {exc}"], 422) from None
    lo = datetime.combine(since, time(), tzinfo=UTC) if since else None
    hi = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC) if until else None
    calls = [CallRepository.to_api(c, await svc.calls.turns(c["_id"]))
             for c in await svc.calls.recent(limit=100_000, since=lo, until=hi)]
    leads = await svc.campaign_store.leads_created(since=lo, until=hi)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = _exports_dir(svc) / "exports" / f"scrappy-export-{stamp}.xlsx"
    path = await asyncio.to_thread(write_export, calls, out, since, until, leads)
    return JSON({"name": path.name, "kind": "exports", "calls": len(calls),
                 "size": path.stat().st_size}, status_code=201)


@requires("admin")
async def download_export(request: Request) -> Response:
    name = request.path_params["name"]
    kind = request.query_params.get("kind", "exports")
    if kind not in ("exports", "calls") or "/" in name or name.startswith(".") or not name.endswith(".xlsx"):
        return error(404, "no such export")
    path = _exports_dir(services(request)) / kind / name
    if not path.is_file():
        return error(404, f"no export {name!r}")
    return FileResponse(path, filename=name,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- do-not-call --------------------------------------------------------------------------
@requires("user")
async def dnc_list(request: Request) -> Response:
    docs = await services(request).dnc.list()
    return JSON({"numbers": [{"phone": d["_id"], "reason": d.get("reason"), "source": d.get("source"),
                              "added_at": d.get("added_at")} for d in docs]})


@requires("user")
async def dnc_add(request: Request) -> Response:
    svc = services(request)
    body = await read_json_object(request)
    phones = body.get("phones") or ([body["phone"]] if body.get("phone") else [])
    if not isinstance(phones, list) or not phones:
        raise BadRequest("invalid request", ["phone: field required"], 422)
    valid, problems = [], []
    for i, raw in enumerate(phones):
        try:
            valid.append(normalise_phone(str(raw), body.get("default_region")))
        except InvalidPhoneNumber as exc:
            problems.append(f"phones.{i}: {exc}")
    if problems and not body.get("skip_invalid"):  # all or nothing, unless asked otherwise
        return error(422, "invalid numbers; nothing was added (skip_invalid adds the rest)",
                     problems=problems)
    added = []
    for e164 in valid:
        if await svc.dnc.add(e164, str(body.get("reason") or "added by operator"),
                             source=request.state.principal["name"]):
            added.append(e164)
    return JSON({"added": added, "problems": problems})


@requires("admin")
async def dnc_remove(request: Request) -> Response:
    svc = services(request)
    try:
        e164 = normalise_phone(request.path_params["phone"])
    except InvalidPhoneNumber as exc:
        return error(422, str(exc))
    if not await svc.dnc.remove(e164):
        return error(404, f"{e164} is not on the do-not-call list")
    return JSON({"removed": e164})


# --- webhook adapters -----------------------------------------------------------------------
@requires("user")
async def hook(request: Request) -> Response:
    svc = services(request)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body: dict[str, Any] = await read_form(request)  # Twilio posts SpeechResult as a form
        for flag in ("auto_reply", "stream"):  # form values are strings: "false" must be False
            if flag in body:
                body[flag] = body[flag].strip().lower() in ("1", "true", "yes", "on")
    else:
        body = await read_json_object(request)
    result = await svc.ingest_hook(request.path_params["adapter"], body)
    status = 422 if result.get("status") == "error" or result.get("error") else 200
    return JSON(result, status_code=status)

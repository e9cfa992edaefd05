"""Twilio-facing webhooks: `POST /twilio/voice` and `POST /twilio/status`.

No bearer token here: each request must carry a valid `X-Twilio-Signature`, checked against the
public URL rebuilt from TWILIO_PUBLIC_BASE_URL (never from proxy headers, which a caller could
forge). Bad signatures get 403 and change nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from daemon.api.common import BadRequest, read_form, services
from daemon.auth import error
from daemon.calls.manager import new_call_id
from daemon.store.calls import FINAL_STATUSES
from daemon.telephony import webhooks

log = logging.getLogger(__name__)

TWIML = "application/xml"


async def _verified_form(request: Request) -> dict[str, str] | Response:
    svc = services(request)
    s = svc.settings
    if not s.twilio_auth_token:
        return error(503, "Twilio is not configured on this daemon")
    try:
        form = await read_form(request)
    except BadRequest as exc:
        return error(400, exc.message)
    try:
        url = webhooks.public_url(s, request.url.path, request.url.query)
    except webhooks.PublicUrlError as exc:
        return error(503, str(exc))
    signature = request.headers.get("x-twilio-signature")
    if not webhooks.verify_signature(s.twilio_auth_token, url, form, signature):
        log.warning("refused %s: bad or missing X-Twilio-Signature", request.url.path)
        return error(403, "invalid Twilio signature")
    return form


async def voice(request: Request) -> Response:
    """Answer a call we placed, or an inbound one, with a media stream (or voicemail)."""
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    svc = services(request)
    s = svc.settings
    call_sid = form.get("CallSid", "")
    call = await svc.calls.by_sid(call_sid) if call_sid else None
    if call is None:
        call = await _inbound(svc, form)
        if call is None:
            return Response(webhooks.voicemail_twiml(
                "Sorry, nobody can take your call right now. Goodbye."), media_type=TWIML)
    if call.get("status") in FINAL_STATUSES or call.get("ended_at") is not None:
        # a replay (or a late retry) of a finished call's webhook must not reopen it
        log.warning("voice webhook for finished call %s (%s): hanging up", call["_id"], call_sid)
        return Response(webhooks.hangup_twiml(), media_type=TWIML)
    answered_by = form.get("AnsweredBy")
    if webhooks.is_machine(answered_by):
        return Response(await _voicemail(svc, call, answered_by), media_type=TWIML)
    token = await svc.manager.issue_stream_token(call["_id"])
    base = webhooks.public_base_url(s)
    assert base is not None  # _verified_form already rebuilt the URL from it
    twiml = webhooks.stream_twiml(webhooks.media_ws_url(base),
                                  {"call_id": call["_id"], "stream_token": token})
    await svc.calls.update(call["_id"], {"status": "in-progress", "answered_by": answered_by})
    return Response(twiml, media_type=TWIML)


async def _inbound(svc: Any, form: dict[str, str]) -> dict[str, Any] | None:
    strategy = await svc.strategies.active()
    if strategy is None:
        log.warning("inbound call %s but no strategy is ingested", form.get("CallSid"))
        return None
    call: dict[str, Any] = await svc.calls.create({
        "_id": new_call_id(),
        "direction": "inbound",
        "status": "ringing",
        "lead_phone": form.get("From", ""),
        "lead_name": form.get("CallerName") or None,
        "strategy_id": strategy["_id"],
        "call_sid": form.get("CallSid"),
        "simulated": False,
        "owner": svc.instance_id,
    })
    log.info("inbound call %s from %s -> %s", call["_id"], call["lead_phone"], strategy["_id"])
    return call


async def _voicemail(svc: Any, call: dict[str, Any], answered_by: str | None) -> str:
    s = svc.settings
    strategy = await svc.strategies.get(call["strategy_id"])
    line = ((strategy or {}).get("payload", {}).get("scripts", {}).get("voicemail") or "").strip()
    leave = s.voicemail_action == "leave_message" and bool(line)
    await svc.calls.update(call["_id"], {"answered_by": answered_by, "outcome": "voicemail",
                                         "outcome_detail": "message left" if leave else "hung up"})
    return webhooks.voicemail_twiml(line) if leave else webhooks.hangup_twiml()


async def status(request: Request) -> Response:
    """Record a status callback once; a final status finalises the call."""
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    svc = services(request)
    try:
        update = webhooks.StatusUpdate.from_form(form)
    except ValueError as exc:
        return error(400, str(exc))
    call = await svc.calls.by_sid(update.call_sid)
    if call is None:
        return error(404, f"no call with CallSid {update.call_sid}")
    key = request.headers.get("i-twilio-idempotency-token") or update.dedupe_key
    fresh = await svc.calls.record_status_once(key, call["_id"], update.call_status)
    if fresh and update.dedupe_key != key:  # a new delivery token may still repeat a status
        fresh = await svc.calls.record_status_once(update.dedupe_key, call["_id"], update.call_status)
    if not fresh:
        return Response(status_code=204)
    now = datetime.now(UTC)
    already_final = call.get("status") in FINAL_STATUSES
    fields: dict[str, Any] = {f"status_times.{update.call_status}": now}
    if not already_final:  # a late "ringing" after "completed" must not reopen the call
        fields["status"] = update.call_status
    if update.answered_by:
        fields["answered_by"] = update.answered_by
    if update.final and update.duration_seconds is not None:
        # Twilio's billed duration wins over our own stream clock
        fields["duration_seconds"] = update.duration_seconds
        fields["twilio_duration_seconds"] = update.duration_seconds
    if update.final and not already_final:
        fields["ended_at"] = now
        if not call.get("outcome") and update.call_status != "completed":
            fields["outcome"] = update.call_status  # busy, no-answer, failed, canceled
    await svc.calls.update(call["_id"], fields)
    svc.live.publish("call_status", call["_id"], status=update.call_status)
    if update.final and not already_final:
        active = svc.manager.active.get(call["_id"])
        if active is not None:  # Twilio says the line is down: end the session, store its turns
            await active.session.end(f"Twilio reported {update.call_status}")
        else:  # never streamed (busy, no answer, voicemail): finish it here
            await svc.manager.finish_without_stream(call["_id"], update.call_status)
    return Response(status_code=204)

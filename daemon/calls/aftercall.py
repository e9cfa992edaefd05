"""What happens after a call has ended, off the call's critical path.

Usage and budget (call minutes per user, an alert event at 80% of a credit limit), the follow-up
SMS after a silence-timeout hang-up, the per-call Excel summary, and the brain's call-completed
record (which writes a memory summary after every fifth call). Each step is independent: one
failing is logged and does not stop the others. Calls that never had a media stream (busy, no
answer, voicemail) go through the same steps, without a brain.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.store.calls import CallRepository

if TYPE_CHECKING:
    from daemon.calls.brain import CallBrain
    from daemon.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndedCall:
    """What the after-call steps need to know about a call that has just ended."""

    call: dict[str, Any]
    duration: float  # seconds the line was open (what usage bills)
    agent: CallBrain | None = None  # None when no media stream ever attached
    silence_timed_out: bool = False

    @property
    def call_id(self) -> str:
        return str(self.call["_id"])


async def after_call(svc: Services, ended: EndedCall) -> None:
    for step in (_usage, _followup_sms, _workbook, _complete):
        try:
            await step(svc, ended)
        except Exception:
            log.exception("call %s: after-call step %s failed", ended.call_id, step.__name__)


async def _complete(svc: Services, ended: EndedCall) -> None:
    if ended.agent is None:
        return
    summary = await ended.agent.summarize_memory()
    if summary:
        svc.live.publish("memory", ended.call_id, event={"event_type": "summary", "payload": summary})


async def _usage(svc: Services, ended: EndedCall) -> None:
    user = ended.call.get("created_by")
    if not user:
        return
    before = await svc.tokens.user(user)
    after = await svc.tokens.add_usage(user, round(ended.duration / 60, 3))
    limit = after.get("credit_limit")
    if not limit:
        return
    was, now = float(before.get("usage_total") or 0) / limit, float(after["usage_total"]) / limit
    if was < 0.8 <= now:
        payload = {"user": user, "used_minutes": round(after["usage_total"], 2),
                   "credit_limit": limit, "percent": round(100 * now)}
        await svc.memory.add("budget_alert", payload, call_id=ended.call_id, source="usage",
                             importance=3)
        svc.live.publish("budget_alert", ended.call_id, **payload)


async def _followup_sms(svc: Services, ended: EndedCall) -> None:
    if not (ended.silence_timed_out and ended.agent is not None and svc.telephony is not None
            and not ended.call.get("simulated")):
        return
    text = ended.agent.followup_sms_text()
    sid = await svc.telephony.send_sms(ended.call["lead_phone"], text)
    await svc.memory.add("followup_sms", {"to": ended.call["lead_phone"], "sid": sid, "text": text},
                         call_id=ended.call_id, source="silence_timeout")


async def _workbook(svc: Services, ended: EndedCall) -> None:
    from daemon.exports.excel import write_call_summary

    call = await svc.calls.get(ended.call_id)
    if call is None:
        return
    data = CallRepository.to_api(call, await svc.calls.turns(ended.call_id))
    directory = svc.settings.data_dir / "logs" / "calls"
    path = await asyncio.to_thread(write_call_summary, data, directory)
    await svc.calls.update(ended.call_id, {"workbook": str(path)})
    svc.live.publish("workbook", ended.call_id, path=str(path))

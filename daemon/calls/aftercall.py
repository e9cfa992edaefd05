"""What happens after a call has ended, off the call's critical path.

Usage and budget (call minutes per user, an alert event at 80% of a credit limit), the follow-up
SMS after a silence-timeout hang-up, the per-call Excel summary, and the brain's call-completed
record (which writes a memory summary after every fifth call). Each step is independent: one
failing is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from daemon.store.calls import CallRepository

if TYPE_CHECKING:
    from daemon.calls.runtime import CallContext
    from daemon.services import Services

log = logging.getLogger(__name__)


async def after_call(svc: Services, ctx: CallContext, duration: float) -> None:
    for step in (_usage, _followup_sms, _workbook, _complete):
        try:
            await step(svc, ctx, duration)
        except Exception:
            log.exception("call %s: after-call step %s failed", ctx.call_id, step.__name__)


async def _complete(svc: Services, ctx: CallContext, duration: float) -> None:
    summary = await ctx.agent.summarize_memory()
    if summary:
        svc.live.publish("memory", ctx.call_id, event={"event_type": "summary", "payload": summary})


async def _usage(svc: Services, ctx: CallContext, duration: float) -> None:
    user = ctx.call.get("created_by")
    if not user:
        return
    before = await svc.tokens.user(user)
    after = await svc.tokens.add_usage(user, round(duration / 60, 3))
    limit = after.get("credit_limit")
    if not limit:
        return
    was, now = float(before.get("usage_total") or 0) / limit, float(after["usage_total"]) / limit
    if was < 0.8 <= now:
        payload = {"user": user, "used_minutes": round(after["usage_total"], 2),
                   "credit_limit": limit, "percent": round(100 * now)}
        await svc.memory.add("budget_alert", payload, call_id=ctx.call_id, source="usage",
                             importance=3)
        svc.live.publish("budget_alert", ctx.call_id, **payload)


async def _followup_sms(svc: Services, ctx: CallContext, duration: float) -> None:
    if not (ctx.silence_timed_out and svc.telephony is not None and not ctx.call.get("simulated")):
        return
    text = ctx.agent.followup_sms_text()
    sid = await svc.telephony.send_sms(ctx.call["lead_phone"], text)
    await svc.memory.add("followup_sms", {"to": ctx.call["lead_phone"], "sid": sid, "text": text},
                         call_id=ctx.call_id, source="silence_timeout")


async def _workbook(svc: Services, ctx: CallContext, duration: float) -> None:
    from daemon.exports.excel import write_call_summary

    call = await svc.calls.get(ctx.call_id)
    if call is None:
        return
    data = CallRepository.to_api(call, await svc.calls.turns(ctx.call_id))
    directory = svc.settings.data_dir / "logs" / "calls"
    path = await asyncio.to_thread(write_call_summary, data, directory)
    await svc.calls.update(ctx.call_id, {"workbook": str(path)})
    svc.live.publish("workbook", ctx.call_id, path=str(path))

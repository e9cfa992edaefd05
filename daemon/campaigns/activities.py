"""The campaign workflow's effects, run by this daemon's workers.

`plan` applies `pacing.plan_attempt` to the store as it is now (a number put on the do-not-call
list a minute ago is skipped) and records the decision on the lead. `dial` places the call
through the daemon's `CallManager` (the same checks, budget and brain as `scrappy call`),
heartbeats while it lasts and records its outcome and what comes next. A dial is idempotent: its
call id is derived from (campaign, lead, attempt), so a dial retried after a crash finds the call
it placed (the store refuses a second insert of that id) and never rings the lead twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError
from temporalio import activity

from daemon.calls.manager import SHUTDOWN_REASON, CallRefused
from daemon.campaigns.pacing import lead_zones, next_step, plan_attempt, rules_from_document
from daemon.campaigns.workflow import DIAL, PLAN, RECORD_STATUS, DialResult, PlanResult
from daemon.store.calls import FINAL_STATUSES

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)
POLL_S = 1.0
UNDECIDED = frozenset({"no_decision", "no_response"})


def attempt_call_id(campaign_id: str, index: int, attempt: int) -> str:
    digest = hashlib.sha256(f"{campaign_id}:{index}:{attempt}".encode()).hexdigest()
    return "call_" + digest[:12]


class CampaignActivities:
    def __init__(self, services: Services) -> None:
        self.svc = services

    @property
    def _repo(self) -> Any:
        return self.svc.campaign_store

    @activity.defn(name=PLAN)
    async def plan(self, campaign_id: str, index: int, attempts_made: int) -> PlanResult:
        campaign = await self._repo.get(campaign_id)
        lead = await self._repo.lead(campaign_id, index)
        if campaign is None or lead is None:
            return PlanResult("skip")
        now = datetime.now(UTC)
        rules = rules_from_document(campaign["rules"])
        tried = [a["at"] for a in lead.get("attempts") or [] if a.get("at")]  # tz-aware store
        plan = plan_attempt(lead, rules, now, self.svc.settings,
                            on_dnc=await self.svc.dnc.contains(lead["phone"]), attempts=tried)
        decision = {"action": plan.action, "reason": plan.reason, "at": now}
        if plan.action == "skip":
            await self._repo.update_lead(campaign_id, index, {
                "state": "skipped", "skip_reason": plan.reason, "skip_kind": plan.kind,
                "next_at": None, "last_decision": decision})
            log.info("campaign %s lead %d skipped: %s", campaign_id, index, plan.reason)
            return PlanResult("skip")
        if plan.action == "wait":
            assert plan.at is not None
            await self._repo.update_lead(campaign_id, index, {
                "state": "waiting", "next_at": plan.at, "last_decision": decision})
            return PlanResult("wait", max(1.0, (plan.at - now).total_seconds()))
        await self._repo.update_lead(campaign_id, index, {
            "state": "queued", "next_at": None, "last_decision": decision,
            "would_call_at": plan.at})
        return PlanResult("dial")

    @activity.defn(name=DIAL)
    async def dial(self, campaign_id: str, index: int, attempt: int) -> DialResult:
        campaign = await self._repo.get(campaign_id)
        lead = await self._repo.lead(campaign_id, index)
        if campaign is None or lead is None:
            return DialResult(True)
        rules = rules_from_document(campaign["rules"])
        call_id = attempt_call_id(campaign_id, index, attempt)
        await self._repo.update_lead(campaign_id, index, {"state": "calling"})
        call = await self.svc.calls.get(call_id)
        if call is None:
            call, refusal = await self._place(campaign, lead, call_id, attempt)
            if refusal == "policy":  # e.g. put on the do-not-call list since it was planned
                return DialResult(True)
            if call is None:
                return await self._after(campaign_id, lead, attempt, rules, "failed", None)
        elif activity.info().attempt > 1 and call.get("status") not in FINAL_STATUSES \
                and call_id not in self.svc.manager.active:
            # Temporal gave this dial to us because the daemon running it stopped heartbeating:
            # that daemon is gone, and so is the call's session (a restarted daemon on the
            # same data has closed it already)
            await self.svc.manager.close_orphan(call, "daemon_lost",
                                                "the daemon running the call stopped")
            call = await self.svc.calls.get(call_id)
        while call is not None and call.get("status") not in FINAL_STATUSES:
            activity.heartbeat(call_id)
            await asyncio.sleep(POLL_S)
            call = await self.svc.calls.get(call_id)
        outcome = (call or {}).get("outcome") or (call or {}).get("status") or "failed"
        if (call or {}).get("end_reason") == SHUTDOWN_REASON and outcome in UNDECIDED:
            outcome = "interrupted"  # our stop cut the call, not the lead: try them again
        return await self._after(campaign_id, lead, attempt, rules, outcome,
                                 (call or {}).get("outcome_detail"))

    async def _place(self, campaign: dict[str, Any], lead: dict[str, Any], call_id: str,
                     attempt: int) -> tuple[dict[str, Any] | None, str | None]:
        """The placed call, or None and why not: "policy" (the dialing policy refused the
        number: the lead is skipped) or "refused" (budget, strategy, telephony: retried)."""
        campaign_id, index = campaign["_id"], lead["index"]
        reason = (lead.get("last_decision") or {}).get("reason", "")
        record = {"n": attempt, "at": datetime.now(UTC), "call_id": call_id, "reason": reason,
                  "would_call_at": lead.get("would_call_at"), "outcome": None}
        await self._repo.record_attempt(campaign_id, index, record)
        try:
            call = await self.svc.manager.create(
                phone=lead["phone"], name=lead.get("name"), strategy_id=campaign["strategy_id"],
                simulate=bool(campaign["rules"].get("simulate")), scenario=campaign.get("scenario"),
                force=False, principal={"name": campaign.get("created_by"), "role": "user"},
                call_id=call_id,
                extra={"campaign_id": campaign_id, "campaign_lead": index,
                       "campaign_attempt": attempt, "lead_context": lead.get("context") or {}})
            return call, None
        except DuplicateKeyError:  # placed by an earlier run of this very dial
            return await self.svc.calls.get(call_id), None
        except CallRefused as exc:
            why = "; ".join(exc.problems)
            await self._repo.record_attempt(campaign_id, index, {
                "n": attempt, "call_id": None, "outcome": "refused", "detail": why})
            log.warning("campaign %s lead %d: call refused: %s", campaign_id, index, why)
            if exc.status == 422:
                await self._repo.update_lead(campaign_id, index, {
                    "state": "skipped", "skip_reason": why, "skip_kind": "refused",
                    "next_at": None})
                return None, "policy"
            return None, "refused"

    async def _after(self, campaign_id: str, lead: dict[str, Any], attempt: int, rules: Any,
                     outcome: str, detail: Any) -> DialResult:
        now = datetime.now(UTC)
        zones = lead_zones(lead["phone"], lead.get("timezone"))
        step = next_step(outcome, detail, rules, attempt, now, zones[0] if zones else None)
        again_at = now + timedelta(seconds=step.after_s)
        reason = step.reason
        if not step.done and rules.simulate:  # a rehearsal records the wait, never waits
            reason += f"; a real campaign would call again at {again_at:%Y-%m-%d %H:%M} UTC"
        await self._repo.record_attempt(campaign_id, lead["index"], {
            "n": attempt, "outcome": outcome, "detail": detail, "next": reason, "ended_at": now})
        fields: dict[str, Any] = {"outcome": outcome}
        if step.done:
            fields.update(state="done", next_at=None)
        else:
            fields.update(state="waiting", next_at=now if rules.simulate else again_at)
        await self._repo.update_lead(campaign_id, lead["index"], fields)
        return DialResult(step.done, 0.0 if rules.simulate else step.after_s)

    @activity.defn(name=RECORD_STATUS)
    async def record_status(self, campaign_id: str, status: str) -> None:
        await self._repo.set_status(campaign_id, status)
        log.info("campaign %s %s", campaign_id, status)

"""The campaign workflow: one Temporal workflow per campaign, a small scheduler over its leads.

Theory of operation. The workflow holds one `LeadState` per lead: how many calls were placed,
when the lead may next be tried (`next_at`, epoch seconds of workflow time) and whether it is
done. Its loop starts an attempt for each ready lead (up to `LOOKAHEAD` beyond the dial slots)
unless the campaign is paused or cancelled, then sleeps until a signal, an attempt finishing or
the earliest `next_at` (a durable timer). An attempt runs `plan` (the compliance check against
the store as it is *now*: do-not-call, allowed numbers, attempt caps, the lead's calling window),
which needs no slot, so a skipped lead never waits behind calls; a lead to be dialled then waits
for one of `concurrency` dial slots (planned again if that took over a minute) and runs `dial`
(place the call on a daemon with a free call slot, heartbeat while it lasts, record the outcome
and say when to try again). Everything decided is recorded by activities in the store, so the
store always shows the truth and the workflow holds only what it needs to schedule.

Nothing here touches I/O or the wall clock (Temporal replays workflow code); activities are
called by name so this module imports nothing of the daemon, as the workflow sandbox requires.
A long campaign continues as new (with its lead states) when Temporal suggests it, between
attempts, so the history stays small for any number of leads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

TASK_QUEUE = "scrappy-campaigns"  # workflows and their short activities, on any daemon
DIAL_QUEUE = "scrappy-dial"  # dials: each daemon takes as many as it has call slots
PLAN = "campaign_plan"
DIAL = "campaign_dial"
RECORD_STATUS = "campaign_record_status"
DIAL_HEARTBEAT = timedelta(seconds=15)  # a daemon that died mid-call is noticed this late
MAX_CALL = timedelta(hours=2)
LOOKAHEAD = 10  # leads planned ahead of the dial slots (a skip needs no slot)
REPLAN_AFTER_S = 60.0  # a plan older than this is checked again before dialling


@dataclass
class LeadState:
    attempts: int = 0
    next_at: float = 0.0  # epoch seconds; 0 = ready now
    done: bool = False


@dataclass
class CampaignInput:
    campaign_id: str
    concurrency: int
    leads: list[LeadState] = field(default_factory=list)
    start_at: float = 0.0  # epoch seconds; 0 = at once
    paused: bool = False  # carried over a continue-as-new


@dataclass
class PlanResult:
    action: str  # "dial" | "wait" | "skip"
    wait_s: float = 0.0


@dataclass
class DialResult:
    done: bool
    after_s: float = 0.0


@dataclass
class Progress:
    status: str
    dialling: int
    done: int
    total: int


@workflow.defn(name="Campaign")
class CampaignWorkflow:
    def __init__(self) -> None:
        self._paused = False
        self._cancelled = False
        self._in_flight = 0  # attempts under way: planning, waiting for a slot, dialling
        self._dialling = 0
        self._status = "scheduled"
        self._leads: list[LeadState] = []

    @workflow.run
    async def run(self, spec: CampaignInput) -> str:
        self._leads = spec.leads
        self._paused = self._paused or spec.paused  # a signal may come before run() starts
        wait = spec.start_at - workflow.now().timestamp()
        if wait > 0:
            await self._sleep(wait)
        attempts: set[asyncio.Task[None]] = set()
        recorded: bool | None = None  # the paused flag as the store last heard it
        while not self._cancelled and not all(lead.done for lead in self._leads):
            if recorded is not self._paused:
                recorded = self._paused
                await self._set_status(spec.campaign_id, "paused" if recorded else "running")
            if workflow.info().is_continue_as_new_suggested():
                if attempts:
                    await asyncio.wait(attempts)
                workflow.continue_as_new(CampaignInput(
                    spec.campaign_id, spec.concurrency, self._leads, 0.0, self._paused))
            now = workflow.now().timestamp()
            ready = [i for i, lead in enumerate(self._leads)
                     if not lead.done and lead.next_at <= now and lead.next_at >= 0]
            while ready and not self._paused and \
                    self._in_flight < spec.concurrency + LOOKAHEAD:
                index = ready.pop(0)
                self._leads[index].next_at = -1  # in flight
                self._in_flight += 1
                task = asyncio.create_task(self._attempt(spec.campaign_id, index, spec.concurrency))
                attempts.add(task)
                task.add_done_callback(attempts.discard)
            await self._wait_for_change(now, recorded)
        if attempts:  # cancelled: calls already ringing finish and are recorded
            await asyncio.wait(attempts)
        final = "cancelled" if self._cancelled else "completed"
        await self._set_status(spec.campaign_id, final)
        return final

    async def _attempt(self, campaign_id: str, index: int, concurrency: int) -> None:
        """Plan, wait for a free dial slot, plan again if that took a while, dial."""
        lead = self._leads[index]
        try:
            if not await self._planned_dial(campaign_id, index):
                return
            planned = workflow.now().timestamp()
            while True:  # every waiter wakes when a slot frees: the first to look takes it
                await workflow.wait_condition(
                    lambda: self._cancelled or (not self._paused and self._dialling < concurrency))
                if self._cancelled:
                    return
                if not self._paused and self._dialling < concurrency:
                    break
            self._dialling += 1  # taken before any await, so no other waiter takes it too
            try:
                if workflow.now().timestamp() - planned > REPLAN_AFTER_S and \
                        not await self._planned_dial(campaign_id, index):
                    return
                lead.attempts += 1
                result = await workflow.execute_activity(
                    DIAL, args=[campaign_id, index, lead.attempts], result_type=DialResult,
                    task_queue=DIAL_QUEUE, start_to_close_timeout=MAX_CALL,
                    heartbeat_timeout=DIAL_HEARTBEAT,
                    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5),
                                             maximum_interval=timedelta(minutes=2),
                                             maximum_attempts=10))
            finally:
                self._dialling -= 1
            lead.done = result.done
            lead.next_at = workflow.now().timestamp() + result.after_s
        except ActivityError as exc:  # retries ran out (store down for long): later, not never
            workflow.logger.warning("campaign %s lead %d: %s", campaign_id, index, exc)
        finally:
            if lead.next_at < 0:  # not decided (cancelled, or an activity failed for good)
                lead.next_at = workflow.now().timestamp() + (0 if self._cancelled else 600)
            self._in_flight -= 1

    async def _planned_dial(self, campaign_id: str, index: int) -> bool:
        """Run the compliance plan; True when the lead is to be dialled now."""
        lead = self._leads[index]
        plan = await workflow.execute_activity(
            PLAN, args=[campaign_id, index, lead.attempts], result_type=PlanResult,
            start_to_close_timeout=timedelta(seconds=60))
        if plan.action == "skip":
            lead.done = True
        elif plan.action == "wait":
            lead.next_at = workflow.now().timestamp() + plan.wait_s
        return plan.action == "dial"

    async def _wait_for_change(self, now: float, paused: bool) -> None:
        """Until a signal, a finished attempt, or the next lead's time comes (`paused`: the
        state the store was last told, so a pause that came meanwhile is seen at once)."""
        in_flight = self._in_flight
        pending = [lead.next_at for lead in self._leads if not lead.done and lead.next_at > now]
        timeout = max(1.0, min(pending) - now) if pending else None
        try:
            await workflow.wait_condition(
                lambda: self._cancelled or self._paused != paused or self._in_flight != in_flight,
                timeout=timeout)
        except TimeoutError:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await workflow.wait_condition(lambda: self._cancelled, timeout=seconds)
        except TimeoutError:
            pass

    async def _set_status(self, campaign_id: str, status: str) -> None:
        self._status = status
        await workflow.execute_activity(RECORD_STATUS, args=[campaign_id, status],
                                        start_to_close_timeout=timedelta(seconds=60))

    @workflow.signal
    def pause(self) -> None:
        self._paused = True

    @workflow.signal
    def resume(self) -> None:
        self._paused = False

    @workflow.signal
    def cancel(self) -> None:
        self._cancelled = True

    @workflow.query
    def progress(self) -> Progress:
        status = "cancelled" if self._cancelled and self._status != "completed" else self._status
        return Progress(status, self._dialling, sum(1 for lead in self._leads if lead.done),
                        len(self._leads))

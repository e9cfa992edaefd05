"""Placing calls, attaching their media streams, and finalising them.

A call's life: `create()` runs the dialing policy and the budget check, stores the call and
either asks Twilio to dial or starts a simulated lead. When the media stream presents the call's
one-time token, `attach_stream()` builds the per-call brain and session. `finalise()` runs once
per call however it ended: status, duration, outcome, usage, Excel summary, live-bus goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.calls.aftercall import EndedCall
from daemon.calls.brain import CallBrain
from daemon.calls.dialing import InvalidPhoneNumber, check_number, normalise_phone
from daemon.calls.runtime import CallContext
from daemon.calls.session import CallSession
from daemon.live import LiveCall
from daemon.store.strategies import StrategyRepository
from daemon.telephony import codec

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)

DEFAULT_SCENARIO = "pricing_then_demo"
STREAM_TOKEN_TTL_S = 30.0  # Twilio opens the stream within seconds of our TwiML
Finalize = Callable[[str, int], Awaitable[None]]


class CallRefused(Exception):
    """The call may not be placed; `problems` says exactly why, one reason per line."""

    def __init__(self, problems: list[str], status: int = 422) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.status = status


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SHUTDOWN_REASON = "daemon shutting down"  # a call's end_reason when the daemon stopped it


def new_call_id() -> str:
    return "call_" + secrets.token_hex(6)


@dataclass
class _Active:
    session: CallSession
    ctx: CallContext


class CallManager:
    def __init__(self, services: Services) -> None:
        self.svc = services
        self.active: dict[str, _Active] = {}
        self._leads: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()  # set whenever no call is active
        self._idle.set()
        self._stopping = False

    # --- placing calls ------------------------------------------------------------------------
    async def create(self, *, phone: str, name: str | None, strategy_id: str | None,
                     simulate: bool, scenario: str | None, force: bool,
                     principal: dict[str, Any], external_lead: bool = False,
                     call_id: str | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check the number and place (or rehearse) the call. `call_id` makes placing it
        idempotent (a campaign's dial retried after a crash finds its call, never rings twice:
        the store refuses a second insert); `extra` fields are stored on the call."""
        s = self.svc.settings
        if force and principal.get("role") != "admin":
            raise CallRefused(["--force needs an admin token"], status=403)
        if external_lead and (not simulate or principal.get("role") != "admin"):
            raise CallRefused(["external_lead needs simulate and an admin token"], status=403)
        strategy_doc = (await self.svc.strategies.get(strategy_id) if strategy_id
                        else await self.svc.strategies.active())
        if strategy_doc is None:
            raise CallRefused([f"no strategy {strategy_id!r}" if strategy_id else
                               "no strategy ingested yet; run `scrappy ingest FILE` first"], 409)
        try:
            e164 = normalise_phone(phone)
            on_dnc = await self.svc.dnc.contains(e164)
        except InvalidPhoneNumber:
            e164, on_dnc = phone, False
        decision = check_number(phone, s, datetime.now(UTC), dnc=frozenset([e164] if on_dnc else []),
                                force=force, simulate=simulate)
        if not decision.allowed:
            raise CallRefused(decision.problems)
        await self._check_budget(principal)
        if simulate:
            await self.check_scenario(scenario or DEFAULT_SCENARIO)
        if not simulate and not s.twilio_enabled:
            raise CallRefused(["no telephony configured (set TWILIO_ACCOUNT_SID and "
                               "TWILIO_AUTH_TOKEN), or add --simulate to rehearse"], 409)
        call = await self.svc.calls.create({
            **(extra or {}),
            "_id": call_id or new_call_id(),
            "direction": "outbound",
            "status": "initiated" if simulate else "queued",
            "lead_phone": decision.e164 or phone,
            "lead_name": name,
            "strategy_id": strategy_doc["_id"],
            "simulated": simulate,
            "scenario": (scenario or DEFAULT_SCENARIO) if simulate else None,
            "created_by": principal.get("name"),
            "owner": self.svc.instance_id,
            "dial_warnings": decision.warnings,
        })
        if decision.forced:
            await self.svc.memory.add("dial_forced", {"phone": call["lead_phone"],
                                                      "by": principal.get("name")},
                                      call_id=call["_id"], source="dialing_policy", importance=3)
        if simulate:
            token = await self.issue_stream_token(call["_id"])
            if external_lead:  # benchmarks run the lead in their own process
                return {**call, "warnings": decision.warnings, "stream_token": token}
            self._start_lead(call, token)
        else:
            await self._dial(call)
        return {**call, "warnings": decision.warnings}

    async def _check_budget(self, principal: dict[str, Any]) -> None:
        user = await self.svc.tokens.user(str(principal.get("name")))
        limit = user.get("credit_limit")
        used = float(user.get("usage_total") or 0.0)
        if limit is not None and used >= float(limit):
            raise CallRefused([f"credit limit reached: {used:.1f} of {float(limit):.1f} call "
                               "minutes used; ask an admin to raise it"], 402)

    @staticmethod
    async def check_scenario(name: str) -> None:
        """Only a bare name from the scenarios folder, read off the event loop."""
        from daemon.simulate.scenario import ScenarioError, load_named_scenario

        try:
            await asyncio.to_thread(load_named_scenario, name)
        except ScenarioError as exc:
            raise CallRefused([f"scenario: {exc}".splitlines()[0]]) from None

    async def _dial(self, call: dict[str, Any]) -> None:
        from daemon.telephony.twilio_client import (
            TelephonyError,
            status_callback_url_for,
            webhook_url_for,
        )

        s = self.svc.settings
        try:
            url = webhook_url_for(s)
            status_url = status_callback_url_for(s)
            telephony = self.svc.telephony
            sid = await telephony.place_call(
                call["lead_phone"], url, status_url,
                None if s.twilio_machine_detection == "off" else s.twilio_machine_detection)
        except TelephonyError as exc:
            await self.svc.calls.update(call["_id"], {"status": "failed", "outcome": "dial_failed",
                                                      "outcome_detail": str(exc),
                                                      "ended_at": datetime.now(UTC)})
            raise CallRefused([str(exc)], 502) from None
        call["call_sid"] = sid
        await self.svc.calls.update(call["_id"], {"call_sid": sid})

    async def issue_stream_token(self, call_id: str) -> str:
        """A fresh one-time token; the media stream must present it in `start` within
        `STREAM_TOKEN_TTL_S`, while the call is not over."""
        token = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=STREAM_TOKEN_TTL_S)
        await self.svc.calls.update(call_id, {"stream_token_hash": hash_token(token),
                                              "stream_token_used": False,
                                              "stream_token_expires_at": expires})
        return token

    def _start_lead(self, call: dict[str, Any], token: str) -> None:
        from daemon.simulate.runner import run_simulated_lead

        task = asyncio.create_task(run_simulated_lead(self.svc, call, token),
                                   name=f"lead-{call['_id']}")
        self._leads.add(task)
        task.add_done_callback(self._leads.discard)

    # --- media streams ------------------------------------------------------------------------
    async def attach_stream(self, start: codec.Start,
                            send: Callable[[str], Awaitable[None]]) -> tuple[CallSession, Finalize] | str:
        params = start.custom_parameters
        call_id, token = params.get("call_id"), params.get("stream_token")
        if not call_id or not token:
            return "start.customParameters lacks call_id or stream_token"
        call = await self.svc.calls.get(call_id)
        if call is None:
            return f"unknown call {call_id!r}"
        if call_id in self.active:
            return f"call {call_id} already has a media stream"
        if not await self.svc.calls.claim_stream_token(call_id, hash_token(token)):
            return f"stream token for {call_id} is unknown, used, expired, or its call is over"
        strategy_doc = await self.svc.strategies.get(call["strategy_id"])
        if strategy_doc is None:
            return f"strategy {call['strategy_id']!r} of call {call_id} is gone"
        strategy = StrategyRepository.model(strategy_doc)
        brain = CallBrain.create(self.svc, call, strategy_doc["_id"], strategy)
        speech = self.svc.speech
        # open the provider connection (ElevenLabs WebSocket) while the greeting plays
        persona = strategy.persona
        self.svc.spawn(speech.tts.warm_connection(persona.voice_id, persona.locale),
                       name=f"warm-{call_id}", essential=False)

        async def hang_up(reason: str) -> None:
            if not call.get("simulated") and call.get("call_sid") and self.svc.telephony:
                try:
                    await self.svc.telephony.hang_up(call["call_sid"])
                except Exception as exc:
                    log.warning("call %s: hang-up failed: %s", call_id, exc)

        ctx = CallContext(
            services=self.svc, settings=self.svc.settings, call=call,
            stream_sid=start.stream_sid, send=send, agent=brain, asr=speech.asr,
            speak=speech.speaker_for(strategy), hang_up_hook=hang_up,
            locale=strategy.persona.locale)
        session = CallSession(ctx)
        self.active[call_id] = _Active(session, ctx)
        self._idle.clear()
        connected_at = datetime.now(UTC)
        await self.svc.calls.update(call_id, {"status": "in-progress", "owner": self.svc.instance_id,
                                              "stream_sid": start.stream_sid,
                                              "call_sid": call.get("call_sid") or start.call_sid,
                                              "connected_at": connected_at})
        self.svc.live.register(LiveCall(
            call_id=call_id, lead_phone=call["lead_phone"], lead_name=call.get("lead_name"),
            strategy_id=call["strategy_id"], direction=call.get("direction", "outbound"),
            simulated=bool(call.get("simulated")), status="in-progress"))
        started = time.monotonic()
        done = asyncio.Event()

        async def finalise(reason: str, protocol_errors: int) -> None:
            if done.is_set():
                return
            done.set()
            await self._finalise(ctx, session, reason, protocol_errors, time.monotonic() - started)

        return session, finalise

    async def _finalise(self, ctx: CallContext, session: CallSession, reason: str,
                        protocol_errors: int, duration: float) -> None:
        call_id = ctx.call_id
        try:
            await session.finish()
        except Exception:
            log.exception("call %s: error while stopping the session", call_id)
        self.active.pop(call_id, None)
        if not self.active:
            self._idle.set()
        outcome, detail = ctx.agent.outcome()
        if outcome is None:
            outcome = "no_response" if ctx.silence_timed_out else "no_decision"
        fields: dict[str, Any] = {
            "status": "completed",
            "ended_at": datetime.now(UTC),
            "outcome": outcome,
            "outcome_detail": detail,
            "stage": ctx.agent.stage_name(),
            "end_reason": SHUTDOWN_REASON if self._stopping else reason,
            "protocol_errors": protocol_errors,
            "tokens_used": ctx.tokens_used,
            "tts_chars": session.player.tts_chars,
            "asr_seconds": round(session.asr_seconds, 2),
        }
        try:
            stored = await self.svc.calls.get(call_id) or {}
            if stored.get("twilio_duration_seconds") is None:  # Twilio's billed figure wins
                fields["duration_seconds"] = round(duration, 1)
            await self.svc.calls.update(call_id, fields)
        except Exception:
            log.exception("call %s: could not store the final state", call_id)
        self.svc.live.unregister(call_id, outcome=outcome, status="completed")
        log.info("call %s finished: %s, outcome %s, %.0f s", call_id, reason, outcome, duration)
        self._after_call(EndedCall(ctx.call, duration, ctx.agent, ctx.silence_timed_out))

    async def finish_without_stream(self, call_id: str, status: str) -> None:
        """A call that ended before (or without) a media stream: busy, no answer, voicemail,
        a failed dial or a simulated lead that never connected. Tell live followers and run the
        after-call steps (usage, Excel) as for any other call."""
        call = await self.svc.calls.get(call_id)
        if call is None or call.get("connected_at") is not None:
            return  # a call that had a media session is finalised by that session, once
        duration = float(call.get("duration_seconds") or 0.0)
        self.svc.live.unregister(call_id, outcome=call.get("outcome"), status=status)
        log.info("call %s finished without a media stream: %s, outcome %s", call_id, status,
                 call.get("outcome"))
        self._after_call(EndedCall(call, duration))

    async def reconcile(self, *, restarted: bool) -> int:
        """Close calls that no session owns and no Twilio callback will close; returns how many.

        At start-up (`restarted`) that is every unfinished call: the daemon that ran it is gone.
        A real call still up at Twilio is hung up (nobody would talk to the lead). Later, on a
        timer, it is a call whose stream token expired unused: its media socket never came.
        Each is marked `failed` with the reason, billed up to its last turn, and gets its
        workbook and `call_ended` event like any call.
        """
        now = datetime.now(UTC)
        closed = 0
        # several daemons may share one MongoDB: only ours, and calls from before owners were
        # recorded only where no other daemon can see them (the embedded store)
        unowned_ours = restarted and self.svc.settings.mongodb_url is None
        for call in await self.svc.calls.unfinished():
            call_id = call["_id"]
            owner = call.get("owner")
            if call_id in self.active or not (owner == self.svc.instance_id
                                              or (owner is None and unowned_ours)):
                continue
            if restarted:
                reason, detail = "daemon_restart", "the daemon stopped during the call"
            else:
                expires = call.get("stream_token_expires_at")
                if call.get("stream_token_used") is not False or expires is None \
                        or expires > now - timedelta(seconds=STREAM_TOKEN_TTL_S):
                    continue
                reason, detail = "stream_never_connected", "the call's media stream never connected"
            closed += await self.close_orphan(call, reason, detail)
        return closed

    async def close_orphan(self, call: dict[str, Any], reason: str, detail: str) -> bool:
        """Hang up (a real call) and close as `failed`/`interrupted` a call no session runs:
        billed up to its last turn, with its workbook and `call_ended` event like any call.
        False when something else closed it first (a Twilio callback, the lead runner)."""
        call_id = call["_id"]
        await self._hang_up_orphan(call)
        connected = call.get("connected_at")
        last = await self.svc.calls.last_turn_at(call_id) or connected
        duration = max(0.0, (last - connected).total_seconds()) if connected and last else 0.0
        fields: dict[str, Any] = {"status": "failed", "ended_at": last or datetime.now(UTC),
                                  "end_reason": reason, "outcome": call.get("outcome") or "interrupted",
                                  "outcome_detail": call.get("outcome_detail") or detail}
        if call.get("duration_seconds") is None:
            fields["duration_seconds"] = round(duration, 1)
        if not await self.svc.calls.close_if_open(call_id, fields):
            return False
        log.warning("call %s (%s) closed as failed: %s", call_id, call.get("status"), detail)
        self.svc.live.unregister(call_id, outcome=fields["outcome"], status="failed")
        self._after_call(EndedCall({**call, **fields}, duration))
        return True

    async def _hang_up_orphan(self, call: dict[str, Any]) -> None:
        sid, telephony = call.get("call_sid"), self.svc.telephony
        if call.get("simulated") or not sid or telephony is None:
            return
        try:
            status = await telephony.call_status(sid)
            if status in ("queued", "ringing", "in-progress", "initiated"):
                await telephony.hang_up(sid)
                log.warning("call %s: hung up at Twilio (%s, no session owned it)", call["_id"], status)
        except Exception as exc:  # Twilio unreachable: the call is still closed here
            log.warning("call %s: could not check it at Twilio: %s", call["_id"], exc)

    def _after_call(self, ended: EndedCall) -> None:
        """Slow follow-ups that must not delay the socket: usage, SMS, Excel, summaries."""
        from daemon.calls.aftercall import after_call

        self.svc.spawn(after_call(self.svc, ended), name=f"after-{ended.call_id}")

    async def shutdown(self) -> None:
        """Daemon stopping: end every live call so its turns are stored and its socket closed
        (recorded with `end_reason` SHUTDOWN_REASON: a campaign tries such a lead again)."""
        self._stopping = True
        for active in list(self.active.values()):
            await active.session.end(SHUTDOWN_REASON)
        for task in list(self._leads):
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=5)

"""The daemon's side of the brain: agentcore's protocols over our store and telephony.

`BrainService` lives once per daemon (shared LLM client, memory sink, strategy store, the
webhook agent, the train loop). `CallBrain` wraps one call's `SalesAgent` with the few extra
lines a voice call needs (silence prompts, keypad opt-out) and a hang-up that waits for the
goodbye to finish playing.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentcore.crm import LocalCRM
from agentcore.lines import company_name
from agentcore.llm import LLMClient, LLMConfig
from agentcore.memory import MemoryEvent
from agentcore.sales_agent import SalesAgent
from agentcore.state import Outcome, Reply, Stage
from agentcore.strategy import Strategy
from daemon.store.memory import MemoryRepository
from daemon.store.strategies import StrategyRepository

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)

MAX_HOOK_CONVERSATIONS = 256
MEMORY_RETRY_S = 120.0  # how long a memory event waits out a store outage before it is dropped
# `/api/v1/hooks/twilio` is the path the operator guide wires Twilio to
HOOK_ALIASES = {"twilio": "twilio_stream"}


class StoreMemorySink:
    """`MemorySink` over the `memory_logs` collection.

    Writes happen behind the caller, never in front of a reply: `log_event` hands the event to
    a background task and returns. The task retries for `MEMORY_RETRY_S` (a store that blinks
    for a minute loses nothing) and the event's id makes a retried write count once. With a
    `spawn` of None (tests, tools) the write is awaited in place.
    """

    def __init__(self, repo: MemoryRepository,
                 spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[Any]] | None = None,
                 ) -> None:
        self._repo = repo
        self._spawn = spawn
        self._pending: set[asyncio.Task[Any]] = set()

    async def log_event(self, event: MemoryEvent) -> None:
        if self._spawn is None:
            await self._write(event)
            return
        task = self._spawn(self._write_with_retries(event), f"memory-{event.event_type}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, event: MemoryEvent) -> None:
        doc = event.to_document()
        await self._repo.add(doc["event_type"], doc["payload"], call_id=doc["call_id"],
                             strategy_id=doc["strategy_id"], source=doc["source"],
                             importance=doc["importance"], created_at=doc["created_at"],
                             event_id=doc["event_id"])

    async def _write_with_retries(self, event: MemoryEvent) -> None:
        deadline = time.monotonic() + MEMORY_RETRY_S
        delay = 0.5
        while True:
            try:
                await self._write(event)
                return
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    log.warning("memory event %s (%s) dropped after %.0f s of store errors: %s",
                                event.event_id, event.event_type, MEMORY_RETRY_S, exc)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def recent_events(self, types: Sequence[str] | None = None, *,
                            since: datetime | None = None, limit: int = 500,
                            call_id: str | None = None) -> list[MemoryEvent]:
        if self._pending:  # read what was logged so far (e.g. the call that just completed)
            await asyncio.wait(set(self._pending), timeout=5)
        docs = await self._repo.recent(list(types) if types else None, since=since, limit=limit,
                                       call_id=call_id)
        events = []
        for doc in docs:
            try:
                events.append(MemoryEvent.from_document(doc))
            except (KeyError, ValueError):
                continue  # daemon-only event types (budget_alert, ...) are not agent memory
        return events


class StoreStrategyStore:
    """`StrategyStore` over the strategies repository (a new version never overwrites)."""

    def __init__(self, repo: StrategyRepository) -> None:
        self._repo = repo

    async def save_new_version(self, strategy: Strategy, *, based_on: str | None, reason: str) -> str:
        doc = await self._repo.add_version(strategy, activate=True, based_on=based_on, reason=reason,
                                           created_by="train_loop")
        return str(doc["_id"])

    async def active(self) -> tuple[str, Strategy] | None:
        doc = await self._repo.active()
        return (doc["_id"], StrategyRepository.model(doc)) if doc else None


class TwilioMessenger:
    def __init__(self, telephony: Any) -> None:
        self._telephony = telephony

    async def send_sms(self, to: str, text: str) -> str | None:
        sid: str = await self._telephony.send_sms(to, text)
        return sid


class _DeferredHangup:
    """The brain's `end_call` only marks the call to end; the session hangs up after the
    goodbye has played (CallControl's contract)."""

    def __init__(self) -> None:
        self.requested: str | None = None

    async def end_call(self, reason: str) -> None:
        self.requested = reason


class BrainService:
    def __init__(self, services: Services) -> None:
        self.svc = services
        s = services.settings
        self.llm = LLMClient(LLMConfig(
            api_key=s.openai_api_key, base_url=s.openai_base_url,
            model_critical=s.openai_model_critical, model_cheap=s.openai_model_cheap,
            cache_ttl_seconds=s.llm_cache_ttl_seconds,
            first_token_deadline_ms=s.llm_first_token_deadline_ms))
        self.memory = StoreMemorySink(
            services.memory, lambda coro, name: services.spawn(coro, name=name))
        self.strategy_store = StoreStrategyStore(services.strategies)
        self.crm = LocalCRM(s.crm_file)
        self._hook_agents: dict[tuple[str, str], SalesAgent] = {}

    def describe(self) -> str:
        s = self.svc.settings
        if self.llm.enabled:
            return f"openai-compatible {s.openai_model_critical} (playbook fallback)"
        return "strategy playbook"

    def messenger(self) -> TwilioMessenger | None:
        return TwilioMessenger(self.svc.telephony) if self.svc.telephony is not None else None

    def first_lines(self, strategy: Strategy) -> list[str]:
        """What every call says first: the greeting, with and without the AI disclosure."""
        agent = SalesAgent(strategy)
        return list(dict.fromkeys([agent.greeting_text(True), agent.greeting_text(False)]))

    def all_lines(self, strategy: Strategy) -> list[str]:
        agent = SalesAgent(strategy)
        return [*agent.all_lines(), *CallBrain.session_lines(strategy)]

    async def on_tts_fallback(self, reason: str) -> None:
        await self.memory.log_event(MemoryEvent("fallback_triggered", {"stage": "tts", "reason": reason},
                                                source="speech", importance=2))

    def new_agent(self, strategy: Strategy, strategy_id: str, **per_call: Any) -> SalesAgent:
        """A `SalesAgent` wired to the daemon's LLM, memory, strategy store, SMS and CRM."""
        return SalesAgent(strategy, strategy_id=strategy_id, llm=self.llm, memory=self.memory,
                          strategy_store=self.strategy_store, messenger=self.messenger(),
                          crm=self.crm,
                          reply_deadline_seconds=self.svc.settings.llm_reply_deadline_seconds,
                          **per_call)

    def _agent_for(self, doc: dict[str, Any]) -> SalesAgent:
        return self.new_agent(StrategyRepository.model(doc), doc["_id"])

    async def _hook_agent(self, conversation: str) -> SalesAgent | None:
        """The agent for one webhook conversation on the active strategy.

        Each conversation (`conversation_id`, else Twilio's `CallSid`, else `From`) has its own
        history and stage, so one sender's goodbye does not end everyone else's chat; a finished
        conversation starts afresh on its next message. The least recently used are forgotten.
        """
        doc = await self.svc.strategies.active()
        if doc is None:
            return None
        key = (str(doc["_id"]), conversation)
        agent = self._hook_agents.pop(key, None)
        if agent is None or agent.stage is Stage.ENDED:
            agent = self._agent_for(doc)
        self._hook_agents[key] = agent  # re-inserted: newest last
        while len(self._hook_agents) > MAX_HOOK_CONVERSATIONS:
            del self._hook_agents[next(iter(self._hook_agents))]
        return agent

    async def train_loop(self) -> dict[str, Any]:
        doc = await self.svc.strategies.active()
        if doc is None:
            result: dict[str, Any] = {"status": "error", "reason": "no strategy ingested yet"}
            await self.memory.log_event(MemoryEvent("train_loop", result, source="train_loop"))
            return result
        result = await self._agent_for(doc).train_loop()
        self._hook_agents.clear()  # a new version may be active now
        return result

    async def ingest_hook(self, adapter: str, body: dict[str, Any]) -> dict[str, Any]:
        conversation = str(body.get("conversation_id") or body.get("CallSid") or body.get("From")
                           or "default")
        agent = await self._hook_agent(conversation)
        if agent is None:
            return {"error": "no strategy ingested yet; run `scrappy ingest FILE` first"}
        live = self.svc.live
        agent.stream_callback = lambda token: live.publish(
            "hook_token", None, adapter=adapter, conversation=conversation, token=token)
        payload = {**body, "adapter_key": HOOK_ALIASES.get(adapter, adapter)}
        return await agent.ingest_webhook_payload(payload)


class CallBrain:
    """One call's `SalesAgent`, plus the voice-call lines the playbook does not cover."""

    def __init__(self, agent: SalesAgent, strategy: Strategy, hangup: _DeferredHangup) -> None:
        self.agent = agent
        self.strategy = strategy
        self._hangup = hangup
        self._dnc = False

    @classmethod
    def create(cls, svc: Services, call: dict[str, Any], strategy_id: str,
               strategy: Strategy) -> CallBrain:
        brain: BrainService = svc.brain
        hangup = _DeferredHangup()
        agent = brain.new_agent(
            strategy, strategy_id, call_id=call["_id"], lead_phone=call["lead_phone"],
            lead_name=call.get("lead_name"), lead_context=call.get("lead_context"),
            call_control=hangup,
            ai_disclosure=svc.settings.ai_disclosure)
        return cls(agent, strategy, hangup)

    # --- the turn -----------------------------------------------------------------------------
    def greeting_text(self, ai_disclosure: bool) -> str:
        return self.agent.greeting_text(ai_disclosure)

    async def generate_response(self, text: str, *, stream: bool, on_token: Any,
                                confidence: float) -> Reply:
        return await self.agent.generate_response(text, stream=stream, on_token=on_token,
                                                  confidence=confidence)

    def cancel_active_stream(self) -> None:
        self.agent.cancel_active_stream()

    def checkpoint(self) -> tuple[Any, ...]:
        """What a reply may change: the playbook's state and the heard history.

        Taken before each reply so that a reply the lead talked over at once (their turn was not
        over) can be taken back with `restore` and the whole turn answered instead.
        """
        book = self.agent.playbook
        return (self.agent.conversation.snapshot(),
                copy.deepcopy(book.state) if book is not None else None)

    def restore(self, checkpoint: tuple[Any, ...]) -> None:
        """Forget every reply and lead line since `checkpoint` (see `checkpoint`)."""
        history, state = checkpoint
        self.agent.conversation.restore(history)
        if state is not None and self.agent.playbook is not None:
            self.agent.playbook.state = state

    def record_heard(self, text_played: str) -> None:
        self.agent.record_heard(text_played)

    @property
    def end_requested(self) -> str | None:
        return self._hangup.requested

    def stage_name(self) -> str:
        return "ended" if self._dnc else str(self.agent.stage)

    # --- lines for silence and keypad opt-out -------------------------------------------------
    @staticmethod
    def session_lines(strategy: Strategy) -> list[str]:
        company = company_name(strategy)
        return [
            "Are you still there?",
            f"It seems I've lost you. Thanks for your time, and someone from {company} may "
            "follow up. Goodbye!",
            "Understood. I've removed your number from our call list, and you won't hear from "
            "us again. Goodbye!",
        ]

    def _say(self, text: str) -> str:
        self.agent.conversation.agent(text)
        return text

    def still_there_text(self) -> str:
        return self._say(self.session_lines(self.strategy)[0])

    def silence_goodbye_text(self) -> str:
        return self._say(self.session_lines(self.strategy)[1])

    def opt_out_text(self) -> str:
        return self._say(self.session_lines(self.strategy)[2])

    def followup_sms_text(self) -> str:
        persona = self.strategy.persona
        return (f"Hi, this is {persona.name} from {company_name(self.strategy)}. Sorry we got cut "
                "off. Reply here or call back whenever suits you.")

    def mark_do_not_call(self) -> None:
        self._dnc = True

    # --- after the call -----------------------------------------------------------------------
    def outcome(self) -> tuple[str | None, dict[str, Any] | None]:
        if self._dnc:
            return Outcome.DO_NOT_CALL.value, {"source": "opt-out"}
        outcome = self.agent.outcome
        return (outcome.value if outcome else None), (self.agent.outcome_detail or None)

    async def summarize_memory(self) -> dict[str, Any] | None:
        return await self.agent.complete_call()

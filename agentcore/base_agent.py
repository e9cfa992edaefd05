"""BaseAgent: persona, strategy, memory, webhooks, subagents and the learning loop.

The parts of "the brain" that do not depend on selling: it holds the trained strategy, logs
memory events through a `MemorySink`, accepts live webhook payloads, delegates to subagents,
speaks through a `Speaker`, and runs the summary and train loops. `SalesAgent` adds the
conversation itself. Construction does no I/O, so the call session can build one per call.

Storage failures never end a conversation: a memory event that cannot be written is logged
to the Python logger and dropped.
"""

from __future__ import annotations

import inspect
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentcore import train as training
from agentcore import webhooks
from agentcore.inmemory import InMemoryMemorySink
from agentcore.llm import LLMClient, TokenCallback
from agentcore.memory import EventType, MemoryEvent
from agentcore.protocols import MemorySink, Speaker, StrategyStore
from agentcore.state import Reply
from agentcore.strategy import Persona, Strategy
from agentcore.subagents import SubagentError, SubagentManager
from agentcore.tone import VoiceSettings, voice_settings_for
from agentcore.tools import ToolRegistry

log = logging.getLogger(__name__)

AdapterResult = dict[str, Any] | None
WebhookAdapter = Callable[[dict[str, Any]], Awaitable[AdapterResult] | AdapterResult]


class NotTrainedError(RuntimeError):
    """The agent was asked to talk before `train(strategy)`."""


class BaseAgent(ABC):
    """See the module docstring. Subclasses implement `generate_response`."""

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        strategy_id: str | None = None,
        call_id: str | None = None,
        agent_id: str = "scrappy",
        llm: LLMClient | None = None,
        memory: MemorySink | None = None,
        strategy_store: StrategyStore | None = None,
        speaker: Speaker | None = None,
        subagent_ttl_seconds: float | None = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent_id = agent_id
        self.call_id = call_id
        self.strategy_id = strategy_id
        self.llm = llm if llm is not None and llm.enabled else None
        self.memory: MemorySink = memory if memory is not None else InMemoryMemorySink()
        self.strategy_store = strategy_store
        self.speaker = speaker
        self.subagents = SubagentManager(subagent_ttl_seconds, clock=clock)
        self.tool_registry = ToolRegistry()
        self.tokens_used = 0
        self.stream_callback: TokenCallback | None = None  # where webhook `stream` tokens go
        # the two adapters the product documents; register_webhook_adapter may replace them
        self._adapters: dict[str, WebhookAdapter] = dict(webhooks.BUILTIN_ADAPTERS)
        self._strategy_subagents: list[str] = []
        self._strategy: Strategy | None = None
        if strategy is not None:
            self.train(strategy, strategy_id=strategy_id)

    # --- strategy -----------------------------------------------------------------------------
    @property
    def strategy(self) -> Strategy:
        if self._strategy is None:
            raise NotTrainedError("call train(strategy) first")
        return self._strategy

    @property
    def trained(self) -> bool:
        return self._strategy is not None

    @property
    def persona(self) -> Persona:
        return self.strategy.persona

    @property
    def goals(self) -> list[str]:
        return list(self.strategy.goals)

    def train(self, strategy: Strategy, strategy_id: str | None = None) -> dict[str, Any]:
        """Adopt a strategy: persona, goals, scripts, and its subagents (by registered kind).

        A subagent that cannot be built is reported in `errors`, not raised: one broken helper
        must not stop the agent from calling.
        """
        self._strategy = strategy
        if strategy_id is not None:
            self.strategy_id = strategy_id
        for name in self._strategy_subagents:
            self.subagents.unregister(name)
        self._strategy_subagents = []
        errors = []
        for spec in strategy.subagents:
            try:
                self._strategy_subagents.append(self.subagents.register_spec(spec))
            except SubagentError as exc:
                errors.append(str(exc))
        self._on_trained()
        return {
            "strategy_id": self.strategy_id,
            "title": strategy.title,
            "goals": list(strategy.goals),
            "subagents": list(self._strategy_subagents),
            "errors": errors,
        }

    def _on_trained(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Hook for subclasses to rebuild what depends on the strategy."""

    def voice_settings(self) -> VoiceSettings:
        """The TTS settings for the current persona tone (override first)."""
        return voice_settings_for(self.persona.tone, self.persona.tone_override)

    # --- talking ------------------------------------------------------------------------------
    @abstractmethod
    async def generate_response(
        self,
        text: str,
        stream: bool = False,
        on_token: TokenCallback | None = None,
        *,
        confidence: float | None = None,
    ) -> Reply:
        """Answer one lead utterance."""

    def cancel_active_stream(self) -> bool:
        """Stop a reply being generated (barge-in). True when something was stopped."""
        return False

    async def speak_response(self, text: str) -> bytes | None:
        """Synthesise `text` in the persona's voice; None (and a `fallback_triggered` event)
        when no speaker is configured or synthesis fails, so the call goes on as text."""
        if self.speaker is None:
            return None
        p = self.persona
        try:
            chunks = [c async for c in self.speaker.stream(text, self.voice_settings(),
                                                           p.voice_id, p.locale)]
        except Exception as exc:
            await self.log_event("fallback_triggered", {"reason": "tts_failed",
                                                        "error": str(exc)[:300]}, importance=3)
            return None
        return b"".join(chunks)

    # --- memory -------------------------------------------------------------------------------
    async def log_event(self, event_type: EventType, payload: dict[str, Any], *,
                        importance: int = 1, source: str = "agent") -> MemoryEvent:
        event = MemoryEvent(event_type, payload, call_id=self.call_id,
                            strategy_id=self.strategy_id, source=source, importance=importance)
        try:
            await self.memory.log_event(event)
        except Exception:
            log.exception("memory sink failed; dropping %s event", event_type)
        return event

    async def log_turn(self, role: str, text: str, **details: Any) -> MemoryEvent:
        """One spoken turn (`role` lead or agent) with whatever the caller measured."""
        clean = {k: (v.value if hasattr(v, "value") else v) for k, v in details.items()}
        return await self.log_event("turn", {"role": role, "text": text, **clean})

    async def log_feedback(self, feedback: str, source: str = "operator",
                           importance: int = 1) -> MemoryEvent:
        """Feedback for the train loop ("lead preferred SMS follow-up")."""
        return await self.log_event("feedback", {"text": feedback}, source=source,
                                    importance=max(1, min(5, int(importance))))

    # --- webhooks and subagents ---------------------------------------------------------------
    def register_webhook_adapter(self, key: str, fn: WebhookAdapter) -> None:
        """`fn(payload)` runs for payloads with `adapter_key == key`; it may return fields
        (`transcript`, `text`, `intent`, ...) that replace the payload's, plus anything to
        report back."""
        if not callable(fn):
            raise TypeError("a webhook adapter must be callable")
        self._adapters[key] = fn

    def webhook_adapters(self) -> list[str]:
        return sorted(self._adapters)

    async def run_adapter(self, key: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        adapter = self._adapters.get(key)
        if adapter is None:
            raise KeyError(key)
        result = adapter(payload)
        if inspect.isawaitable(result):
            result = await result
        return dict(result) if isinstance(result, Mapping) else None

    async def ingest_webhook_payload(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a live payload (persona, goals, strategy, adapter, transcript, intent,
        spawn_subagent, auto_reply, stream); returns what changed. Never raises."""
        return await webhooks.ingest(self, payload)

    def spawn_subagent(self, spec: Mapping[str, Any]) -> str:
        """Register a subagent from a strategy-style spec, with the default lease."""
        return self.subagents.register_spec(spec, spawned=True)

    async def delegate(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Hand `payload` to subagent `name`; errors come back as `{"status": "error"}`."""
        try:
            result = await self.subagents.delegate(name, payload)
        except SubagentError as exc:
            return {"status": "error", "subagent": name, "error": str(exc)}
        except Exception as exc:
            failed: dict[str, Any] = {"status": "error", "subagent": name,
                                      "error": f"subagent failed: {exc}"}
            await self.log_event("delegation", failed, importance=3)
            return failed
        outcome: dict[str, Any] = {"status": "ok", "subagent": name, "result": result}
        await self.log_event("delegation", {"subagent": name, "payload": dict(payload),
                                            "result": result})
        return outcome

    # --- learning -----------------------------------------------------------------------------
    async def summarize_memory(self) -> dict[str, Any]:
        """Objection trends and outcomes since the last summary; logs a `summary` event."""
        return await training.summarize_memory(self)

    async def train_loop(self) -> dict[str, Any]:
        """Learn from feedback and outcomes since the last run (see `agentcore.train`)."""
        return await training.train_loop(self)

"""Memory events, the in-memory implementations, speaking, and the agent's cheap construction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from agentcore.base_agent import NotTrainedError
from agentcore.crm import InMemoryCRM, LocalCRM
from agentcore.inmemory import (
    InMemoryMemorySink,
    InMemoryStrategyStore,
    OutboxMessenger,
    RecordingCallControl,
)
from agentcore.memory import MemoryEvent
from agentcore.protocols import (
    CallControl,
    CRMAdapter,
    MemorySink,
    Messenger,
    Speaker,
    StrategyStore,
)
from agentcore.sales_agent import SalesAgent
from agentcore.strategy import Strategy
from agentcore.tone import VoiceSettings


class RecordingSpeaker:
    """A Speaker that returns the text as bytes and remembers the voice it was asked for."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, VoiceSettings, str | None, str]] = []

    async def stream(self, text: str, voice: VoiceSettings, voice_id: str | None = None,
                     locale: str = "en-US") -> AsyncIterator[bytes]:
        self.calls.append((text, voice, voice_id, locale))
        if self.fail:
            raise RuntimeError("401 from the TTS provider")
        for word in text.split():
            yield word.encode() + b"|"


class BrokenSink:
    async def log_event(self, event: MemoryEvent) -> None:
        raise ConnectionError("database down")

    async def recent_events(self, types: Sequence[str] | None = None, *,
                            since: datetime | None = None, limit: int = 500,
                            call_id: str | None = None) -> list[MemoryEvent]:
        return []


def test_memory_event_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="unknown memory event type"):
        MemoryEvent("gossip", {})  # type: ignore[arg-type]
    naive = MemoryEvent("feedback", {"text": "x"}, created_at=datetime(2025, 1, 1, 12))
    assert naive.created_at.tzinfo is UTC
    doc = naive.to_document()
    assert set(doc) == {"event_id", "event_type", "call_id", "strategy_id", "source",
                        "importance", "payload", "created_at"}
    assert MemoryEvent.from_document(doc) == naive


async def test_in_memory_sink_queries_newest_first() -> None:
    sink = InMemoryMemorySink()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = [MemoryEvent("turn", {"n": i}, call_id=f"c{i % 2}",
                          created_at=start + timedelta(minutes=i)) for i in range(5)]
    for event in events:
        await sink.log_event(event)
    await sink.log_event(events[0])  # the same event twice is stored once
    assert [e.payload["n"] for e in await sink.recent_events()] == [4, 3, 2, 1, 0]
    assert [e.payload["n"] for e in await sink.recent_events(limit=2)] == [4, 3]
    since = await sink.recent_events(["turn"], since=events[2].created_at)
    assert [e.payload["n"] for e in since] == [4, 3]
    assert [e.payload["n"] for e in await sink.recent_events(call_id="c1")] == [3, 1]
    assert await sink.recent_events(["summary"]) == []


def test_in_memory_implementations_satisfy_the_protocols(tmp_path: object) -> None:
    assert isinstance(InMemoryMemorySink(), MemorySink)
    assert isinstance(InMemoryStrategyStore(), StrategyStore)
    assert isinstance(OutboxMessenger(), Messenger)
    assert isinstance(RecordingCallControl(), CallControl)
    assert isinstance(InMemoryCRM([]), CRMAdapter)
    assert isinstance(LocalCRM("leads.json"), CRMAdapter)
    assert isinstance(RecordingSpeaker(), Speaker)


async def test_strategy_store_versions(seed: Strategy) -> None:
    store = InMemoryStrategyStore()
    assert await store.active() is None
    first = await store.save_new_version(seed, based_on=None, reason="ingest")
    changed = seed.model_copy(update={"goals": ["capture_feedback"]})
    second = await store.save_new_version(changed, based_on=first, reason="edit")
    assert (first, second) == ("enterprise-saas-sales-v1", "enterprise-saas-sales-v2")
    assert await store.active() == (second, changed)
    assert store.get(first).strategy == seed  # type: ignore[union-attr]


async def test_speak_response_uses_the_persona_voice(seed: Strategy) -> None:
    speaker = RecordingSpeaker()
    agent = SalesAgent(seed, speaker=speaker)
    audio = await agent.speak_response("Namaste from Scriza")
    assert audio == b"Namaste|from|Scriza|"
    _, voice, voice_id, locale = speaker.calls[0]
    assert (voice_id, locale) == ("0YniYnwPKdgbGysKiJSN", "en-IN")
    assert voice == agent.voice_settings() and voice.style > 0  # "assertive" override


async def test_speak_response_failure_is_logged_not_raised(seed: Strategy) -> None:
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, speaker=RecordingSpeaker(fail=True), memory=sink)
    assert await agent.speak_response("hello") is None
    [event] = sink.of_type("fallback_triggered")
    assert event.payload["reason"] == "tts_failed" and "401" in event.payload["error"]
    assert await SalesAgent(seed).speak_response("hello") is None


async def test_a_broken_memory_sink_never_breaks_the_conversation(seed: Strategy) -> None:
    agent = SalesAgent(seed, memory=BrokenSink())
    reply = await agent.generate_response("How much does it cost?")
    assert seed.scripts.faqs["pricing"] in reply.text
    event = await agent.log_feedback("great call", importance=9)
    assert event.importance == 5


async def test_untrained_agent_says_so(seed: Strategy) -> None:
    agent = SalesAgent()
    assert not agent.trained
    with pytest.raises(NotTrainedError):
        await agent.generate_response("hi")
    report = agent.train(seed, strategy_id="seed-v1")
    assert report == {"strategy_id": "seed-v1", "title": seed.title, "goals": seed.goals,
                      "subagents": ["followup_bot"], "errors": []}
    assert agent.stage.value == "greeting"


def test_constructing_an_agent_does_no_io(seed: Strategy) -> None:
    from agentcore.llm import LLMClient, LLMConfig

    llm = LLMClient(LLMConfig(base_url="http://127.0.0.1:9/v1", api_key="k"))
    agent = SalesAgent(seed, llm=llm, lead_phone="+14155550134")
    assert agent.llm is llm and llm._sdk is None  # the HTTP client is created on first use
    assert SalesAgent(seed, llm=LLMClient(LLMConfig())).llm is None  # disabled: playbook only


async def test_feedback_and_turns_carry_call_and_strategy_ids(seed: Strategy) -> None:
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, memory=sink, call_id="c9", strategy_id="s3")
    await agent.log_feedback("Lead preferred SMS follow-up", source="sales_call", importance=2)
    await agent.log_turn("agent", "hello", interrupted=True, latency_ms=120)
    feedback, turn = sink.events
    assert (feedback.call_id, feedback.strategy_id, feedback.source) == ("c9", "s3", "sales_call")
    assert feedback.payload == {"text": "Lead preferred SMS follow-up"}
    assert turn.payload == {"role": "agent", "text": "hello", "interrupted": True,
                            "latency_ms": 120}

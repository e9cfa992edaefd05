"""SalesAgent with the LLM brain, over the real openai SDK and a loopback server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from agentcore.inmemory import InMemoryMemorySink, OutboxMessenger, RecordingCallControl
from agentcore.llm import LLMClient
from agentcore.sales_agent import SalesAgent
from agentcore.state import Outcome, Stage
from agentcore.strategy import Strategy
from tests.agentcore.fake_openai import (
    ErrorReply,
    FakeOpenAI,
    JSONReply,
    StreamReply,
    ToolCallSpec,
    Usage,
)

LEAD = "+14155550134"


def make_agent(seed: Strategy, llm: LLMClient, **kwargs: object) -> SalesAgent:
    agent = SalesAgent(seed, llm=llm, call_id="call-1", strategy_id="seed-v1",
                       lead_phone=LEAD, **kwargs)  # type: ignore[arg-type]
    agent.greeting_text()
    return agent


async def test_streamed_reply_reaches_on_token_and_counts_tokens(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["We start", " at $499/mo.", " Want a demo?"], usage=Usage(120, 9)))
    agent = make_agent(seed, make_llm())
    tokens: list[str] = []
    reply = await agent.generate_response("How much is it?", stream=True, on_token=tokens.append)
    assert tokens == ["We start", " at $499/mo.", " Want a demo?"]
    assert reply.text == "We start at $499/mo. Want a demo?" and reply.source == "llm"
    assert reply.tokens_used == 129 and agent.tokens_used == 129
    assert reply.llm_first_token_ms is not None and reply.stage is Stage.PITCH
    messages = server.requests[0]["messages"]
    system = messages[0]["content"]
    for fact in ("Scrappy Singh", "assertive", "book_demo", "We start at $499/mo",
                 "SOC2 compliant", "Let’s lock in a quick demo", "compliance officer"):
        assert fact in system
    # the history is what the lead heard: our greeting, then their question
    assert messages[1] == {"role": "assistant", "content": agent.conversation.lines[0].text}
    assert messages[2] == {"role": "user", "content": "How much is it?"}
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} == {
        "end_call", "book_demo", "schedule_callback", "send_followup_sms", "search_docs",
        "fetch_crm_data"}


async def test_book_demo_tool_sets_the_outcome_and_the_model_confirms(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(
        StreamReply([], tool_calls=[ToolCallSpec("book_demo", {"slot": "Friday at 10am"})],
                    usage=Usage(100, 10)),
        StreamReply(["Done, you're booked", " for Friday at 10am."], usage=Usage(130, 8)),
    )
    agent = make_agent(seed, make_llm())
    tokens: list[str] = []
    reply = await agent.generate_response("Friday at 10am works", stream=True,
                                          on_token=tokens.append)
    assert reply.outcome is Outcome.DEMO_BOOKED and reply.stage is Stage.WRAP_UP
    assert reply.outcome_detail == {"slot": "Friday at 10am", "booking": "demo"}
    assert [a.name for a in reply.actions] == ["book_demo"]
    assert "".join(tokens) == reply.text == "Done, you're booked for Friday at 10am."
    assert reply.tokens_used == 248
    follow_up = server.requests[1]["messages"]
    assert follow_up[-2]["tool_calls"][0]["function"]["name"] == "book_demo"
    assert follow_up[-1]["role"] == "tool"
    assert json.loads(follow_up[-1]["content"]) == {"ok": True, "booked": True,
                                                    "slot": "Friday at 10am"}


async def test_end_call_with_text_needs_no_second_round(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply("Thanks for your time, goodbye!",
                             tool_calls=[ToolCallSpec("end_call", {"reason": "goodbye"})]))
    control = RecordingCallControl()
    agent = make_agent(seed, make_llm(), call_control=control)
    reply = await agent.generate_response("OK bye")
    assert reply.text == "Thanks for your time, goodbye!" and reply.ends_call
    assert reply.stage is Stage.ENDED and control.ended == ["goodbye"]
    assert len(server.requests) == 1


async def test_search_docs_result_goes_back_to_the_model(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(
        JSONReply(None, tool_calls=[ToolCallSpec("search_docs", {"query": "pricing cost"})]),
        JSONReply("It starts at $499 a month."),
    )
    agent = make_agent(seed, make_llm())
    reply = await agent.generate_response("What's the price again?")
    assert reply.text == "It starts at $499 a month."
    tool_message = json.loads(server.requests[1]["messages"][-1]["content"])
    assert tool_message["results"][0] == {"source": "faqs.pricing",
                                          "text": seed.scripts.faqs["pricing"]}


async def test_sms_goes_only_to_the_lead(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    messenger = OutboxMessenger()
    server.enqueue(
        JSONReply(None, tool_calls=[ToolCallSpec("send_followup_sms", {
            "text": "Recap: $499/mo", "to": "+19005550100"})]),
        JSONReply(None, tool_calls=[ToolCallSpec("send_followup_sms", {"text": "Recap: $499/mo"},
                                                 id="call_2")]),
        JSONReply("I've texted you the recap."),
    )
    agent = make_agent(seed, make_llm(), messenger=messenger)
    reply = await agent.generate_response("Can you text me the pricing?")
    refused = json.loads(server.requests[1]["messages"][-1]["content"])
    assert refused == {"ok": False, "error": "unexpected argument 'to'"}
    assert [(m.to, m.text) for m in messenger.sent] == [(LEAD, "Recap: $499/mo")]
    assert reply.text == "I've texted you the recap."
    assert [a.name for a in reply.actions] == ["send_followup_sms"]


async def test_stalled_stream_falls_back_to_the_playbook_without_dead_air(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(stall_before_headers=True))
    sink = InMemoryMemorySink()
    agent = make_agent(seed, make_llm(first_token_deadline_ms=150), memory=sink)
    tokens: list[str] = []
    reply = await agent.generate_response("How much does it cost?", stream=True,
                                          on_token=tokens.append)
    assert reply.source == "playbook" and reply.fallback_reason == "deadline"
    assert reply.text.startswith(seed.scripts.faqs["pricing"])
    assert tokens == [reply.text]
    [event] = sink.of_type("fallback_triggered")
    assert event.payload["reason"] == "deadline" and event.call_id == "call-1"
    assert event.strategy_id == "seed-v1"


async def test_http_errors_fall_back_to_the_playbook(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(ErrorReply(500), ErrorReply(429, headers={"retry-after": "0"}))
    sink = InMemoryMemorySink()
    agent = make_agent(seed, make_llm(), memory=sink)
    first = await agent.generate_response("Is it secure?")
    second = await agent.generate_response("I'm busy")
    assert seed.scripts.faqs["security"] in first.text and first.fallback_reason == "http_500"
    assert seed.scripts.objections["busy"] in second.text
    assert second.fallback_reason == "rate_limited" and second.stage is Stage.OBJECTION
    reasons = [e.payload["reason"] for e in sink.of_type("fallback_triggered")]
    assert reasons == ["http_500", "rate_limited"]


async def test_barge_in_cancels_the_stream_and_history_keeps_only_what_was_heard(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["Our pricing", " starts at", " $499", " a month."], stall_after=2),
                   StreamReply(["Sure."]))
    agent = make_agent(seed, make_llm())
    tokens: list[str] = []

    def on_token(token: str) -> None:
        tokens.append(token)
        if len(tokens) == 2:
            assert agent.cancel_active_stream()

    reply = await agent.generate_response("What's the price?", stream=True, on_token=on_token)
    assert reply.interrupted and reply.text == "Our pricing starts at"
    await asyncio.wait_for(server.disconnected.wait(), 5)
    assert not agent.cancel_active_stream()
    # the session played only the first words before the lead spoke
    agent.record_heard("Our pricing")
    await agent.generate_response("Sorry, go on", stream=True)
    history = server.requests[1]["messages"][1:]
    assert history[-2:] == [{"role": "assistant", "content": "Our pricing\u2014"},
                            {"role": "user", "content": "Sorry, go on"}]
    assert all("$499" not in m["content"] for m in history)


async def test_finished_reply_cut_short_by_barge_in_is_corrected(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply("We start at $499/mo with volume discounts."), JSONReply("Sure."))
    agent = make_agent(seed, make_llm())
    await agent.generate_response("Price?")
    agent.record_heard("We start at $499/mo")
    await agent.generate_response("And security?")
    assistant = [m for m in server.requests[1]["messages"] if m["role"] == "assistant"]
    assert assistant[-1]["content"] == "We start at $499/mo\u2014"


async def test_do_not_call_and_ai_questions_never_reach_the_model(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    agent = make_agent(seed, make_llm())
    honest = await agent.generate_response("Am I talking to a robot?")
    assert "I'm an AI assistant" in honest.text and honest.source == "playbook"
    stop = await agent.generate_response("Don't call me ever again")
    assert stop.outcome is Outcome.DO_NOT_CALL and stop.ends_call
    assert server.requests == []


async def test_low_asr_confidence_asks_to_repeat_without_calling_the_model(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    sink = InMemoryMemorySink()
    agent = make_agent(seed, make_llm(), memory=sink)
    reply = await agent.generate_response("mumble pricing", confidence=0.3)
    assert "say it again" in reply.text and reply.intent == "low_confidence"
    assert server.requests == []
    [event] = sink.of_type("fallback_triggered")
    assert event.payload | {"text": None} == {
        "reason": "low_confidence", "confidence": 0.3, "threshold": 0.45,
        "action": "prompt_for_clarification", "text": None}
    # at the threshold the turn is answered normally
    server.enqueue(JSONReply("We start at $499/mo."))
    assert (await agent.generate_response("pricing?", confidence=0.45)).source == "llm"


async def test_a_new_utterance_cancels_the_reply_still_streaming(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["Let me explain", " our pricing"], stall_after=1),
                   StreamReply(["Sure, go ahead."]))
    agent = make_agent(seed, make_llm())
    first_token = asyncio.Event()

    def on_token(token: str) -> None:
        first_token.set()

    talking = asyncio.create_task(
        agent.generate_response("Tell me about pricing", stream=True, on_token=on_token))
    await asyncio.wait_for(first_token.wait(), 5)
    second = await agent.generate_response("Actually, one question", stream=True)
    first = await asyncio.wait_for(talking, 5)
    assert first.interrupted and first.text == "Let me explain"
    assert second.text == "Sure, go ahead." and not second.interrupted
    # the cut-off reply is not in the history until the session says what was heard
    assert "Let me explain" not in str(server.requests[1]["messages"])


async def test_non_streamed_turn_that_takes_too_long_falls_back(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(stall_before_headers=True))
    sink = InMemoryMemorySink()
    agent = make_agent(seed, make_llm(), memory=sink, reply_deadline_seconds=0.15)
    reply = await agent.generate_response("Is it secure?")
    assert reply.source == "playbook" and reply.fallback_reason == "deadline"
    assert seed.scripts.faqs["security"] in reply.text
    assert sink.of_type("fallback_triggered")[0].payload["reason"] == "deadline"


async def test_model_ending_a_declined_call_records_not_interested(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["No problem, thanks for your time."], tool_calls=[
        ToolCallSpec("end_call", {"reason": "not_interested"})]))
    agent = make_agent(seed, make_llm())
    reply = await agent.generate_response("We're all set, thanks", stream=True)
    assert reply.outcome is Outcome.NOT_INTERESTED and reply.ends_call
    assert len(server.requests) == 1


async def test_stream_that_dies_midway_keeps_what_the_lead_already_heard(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["We start at $499/mo", " and then"], stall_after=1))
    sink = InMemoryMemorySink()
    agent = make_agent(seed, make_llm(stall_timeout_seconds=0.2), memory=sink)
    tokens: list[str] = []
    reply = await agent.generate_response("Price?", stream=True, on_token=tokens.append)
    # no second answer from the playbook on top of the half-spoken one
    assert tokens == ["We start at $499/mo"] and reply.text == "We start at $499/mo"
    assert reply.source == "llm" and not reply.interrupted
    [event] = sink.of_type("fallback_triggered")
    assert event.payload["reason"] == "stalled" and event.payload["answered_by"] == "llm_partial"


async def test_strategy_policies_choose_the_fallback_for_llm_errors_and_unknown_questions(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    from agentcore.strategy import merge_strategy

    strategy = merge_strategy(seed, {"fallback_policies": [
        {"trigger": "llm_error", "action": "use_fallback_scenario"},
        {"trigger": "unknown_question", "action": "handoff_to_subagent", "subagent": "desk"},
    ]})
    server.enqueue(ErrorReply(503))
    agent = SalesAgent(strategy, llm=make_llm())
    agent.greeting_text()
    reply = await agent.generate_response("Tell me more")
    assert reply.text.startswith(seed.fallback_scenarios["compliance"])
    assert reply.fallback_reason == "http_503"
    offline = SalesAgent(strategy)
    offline.spawn_subagent({"name": "desk", "class": "fallback",
                            "init": {"default": "Our solutions desk will email you the answer."}})
    offline.greeting_text()
    handed = await offline.generate_response("Do you support SAP Ariba?")
    assert handed.source == "subagent"
    assert handed.text.startswith("Our solutions desk will email you the answer.")
    assert handed.actions[0].args == {"subagent": "desk"}


async def test_a_voice_hook_gets_the_first_token_deadline_even_unstreamed(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    """`twilio_stream` with `stream: false` and a model that never answers: the caller on the
    line hears the playbook after the first-token deadline, not after the whole-reply one."""
    server.enqueue(StreamReply(stall_before_headers=True))
    agent = SalesAgent(seed, llm=make_llm(first_token_deadline_ms=200), call_id="call-1",
                       strategy_id="seed-v1", lead_phone=LEAD, reply_deadline_seconds=30.0)
    published: list[str] = []
    agent.stream_callback = published.append
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await agent.ingest_webhook_payload({
        "adapter_key": "twilio_stream", "SpeechResult": "How much does it cost?",
        "auto_reply": True, "stream": False})
    assert loop.time() - started < 10  # the 30 s whole-reply deadline never came into play
    assert result["reply_detail"]["fallback_reason"] == "deadline"
    assert result["reply"].startswith(seed.scripts.faqs["pricing"])
    assert published == []  # `stream: false`: nothing went out on the live stream

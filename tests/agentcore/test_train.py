"""Memory summaries and the train loop: no_change, updated (with version history), error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agentcore.inmemory import InMemoryMemorySink, InMemoryStrategyStore
from agentcore.llm import LLMClient
from agentcore.sales_agent import SalesAgent
from agentcore.strategy import Strategy
from tests.agentcore.fake_openai import ErrorReply, FakeOpenAI, JSONReply, Usage


async def run_call(seed: Strategy, sink: InMemoryMemorySink, call_id: str, *lines: str,
                   llm: LLMClient | None = None) -> dict[str, Any] | None:
    agent = SalesAgent(seed, memory=sink, call_id=call_id, llm=llm)
    agent.greeting_text()
    for line in lines:
        await agent.generate_response(line)
    return await agent.complete_call()


async def some_calls(seed: Strategy, sink: InMemoryMemorySink) -> None:
    await run_call(seed, sink, "a", "We already use Gong for that", "It's too expensive",
                   "Do you support SAP?", "tomorrow at 3pm then", "bye")
    await run_call(seed, sink, "b", "I'm busy", "no thanks, bye")


async def test_without_llm_train_loop_reports_concrete_suggestions(seed: Strategy) -> None:
    sink = InMemoryMemorySink()
    await some_calls(seed, sink)
    agent = SalesAgent(seed, memory=sink)
    await agent.log_feedback("Lead preferred SMS follow-up", source="qa_team", importance=2)
    result = await agent.train_loop()
    assert result["status"] == "no_change"
    suggestions = "\n".join(result["suggestions"])
    assert "Add an objection answer for 'competitor'" in suggestions
    assert "We already use Gong" in suggestions
    assert "Do you support SAP?" in suggestions
    assert "Lead preferred SMS follow-up" in suggestions
    report = result["report"]
    assert report["calls"] == 2
    assert dict(report["top_objections"]) == {"budget": 1, "busy": 1}
    assert report["outcomes"] == {"demo_booked": 1, "not_interested": 1}
    [event] = sink.of_type("train_loop")
    assert event.payload["status"] == "no_change" and event.payload["feedback"] == 1
    # the next run only looks at what happened since
    again = await agent.train_loop()
    assert again["report"]["calls"] == 0 and again["since"] is not None
    assert again["suggestions"] == ["No new calls or feedback since the last run."]


async def test_with_llm_an_improvement_becomes_a_new_strategy_version(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    sink = InMemoryMemorySink()
    await some_calls(seed, sink)
    store = InMemoryStrategyStore()
    first_id = await store.save_new_version(seed, based_on=None, reason="ingest")
    improvement = {
        "summary": "Leads mention incumbent tools; add a competitor answer and a softer close.",
        "persona": {"tone_override": "warm, confident"},
        "scripts": {"objections": {
            "competitor": "Many teams keep their current tool and add Scriza for research."}},
        "closing_techniques": ["Would a 15-minute look this week be worth it?"],
    }
    server.enqueue(JSONReply(json.dumps(improvement), usage=Usage(900, 120)))
    llm = make_llm()
    agent = SalesAgent(seed, memory=sink, llm=llm, strategy_store=store, strategy_id=first_id)
    result = await agent.train_loop()
    assert result["status"] == "updated", result
    assert result["improvement"]["summary"].startswith("Leads mention incumbent tools")
    assert result["based_on"] == first_id and result["strategy_id"] == "enterprise-saas-sales-v2"
    # version history: the old version is untouched, the new one is active
    old, new = store.versions
    assert old.strategy == seed and "competitor" not in old.strategy.scripts.objections
    assert new.based_on == first_id and new.reason.startswith("train_loop: Leads mention")
    assert (await store.active()) == (new.id, new.strategy)
    assert new.strategy.persona.tone_override == "warm, confident"
    assert new.strategy.closing_techniques == [*seed.closing_techniques,
                                               "Would a 15-minute look this week be worth it?"]
    assert new.strategy.scripts.faqs == seed.scripts.faqs
    # the agent itself now runs the new version
    assert agent.strategy_id == new.id
    reply = await SalesAgent(new.strategy).generate_response("We already use Gong")
    assert "add Scriza for research" in reply.text
    request = server.requests[0]
    assert request["model"] == "cheap-model"
    assert request["response_format"] == {"type": "json_object"}
    assert "We already use Gong" in request["messages"][1]["content"]
    assert sink.of_type("train_loop")[0].payload["strategy_id"] == new.id
    assert agent.tokens_used == 1020


async def test_without_a_store_the_baseline_is_kept_too(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply(json.dumps({"summary": "Shorter pitch.", "scripts": {
        "pitch": "AI copilots that help your SDRs close more revenue."}})))
    agent = SalesAgent(seed, llm=make_llm())
    result = await agent.train_loop()
    assert result["status"] == "updated"
    store = agent.strategy_store
    assert isinstance(store, InMemoryStrategyStore)
    assert [v.reason for v in store.versions] == ["baseline", "train_loop: Shorter pitch."]
    assert store.versions[0].strategy.scripts.pitch == seed.scripts.pitch


async def test_llm_with_nothing_to_change_is_no_change(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply('```json\n{"summary": "All good, keep going."}\n```'))
    store = InMemoryStrategyStore()
    agent = SalesAgent(seed, llm=make_llm(), strategy_store=store)
    result = await agent.train_loop()
    assert result["status"] == "no_change" and store.versions == []


async def test_train_loop_errors_are_reported_and_logged(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    sink = InMemoryMemorySink()
    store = InMemoryStrategyStore()
    agent = SalesAgent(seed, memory=sink, llm=make_llm(), strategy_store=store)
    server.enqueue(
        ErrorReply(500),
        JSONReply('{"summary": "x", "subagents": [{"name": "evil", "class": "os.system"}]}'),
        JSONReply("this is not json"),
        JSONReply(json.dumps({"summary": "dupe", "scripts": {"faqs": {"Pricing": "Free!"}}})),
    )
    results = [await agent.train_loop() for _ in range(4)]
    assert [r["status"] for r in results] == ["error"] * 4
    assert "http_500" in results[0]["reason"]
    assert "did not match the schema" in results[1]["reason"]
    assert "did not match the schema" in results[2]["reason"]
    assert "duplicate FAQ key 'pricing'" in results[3]["reason"]
    assert store.versions == [] and agent.strategy == seed
    assert [e.payload["status"] for e in sink.of_type("train_loop")] == ["error"] * 4


async def test_summary_after_every_fifth_completed_call(seed: Strategy) -> None:
    sink = InMemoryMemorySink()
    summaries = []
    for n in range(6):
        summaries.append(await run_call(seed, sink, f"call-{n}", "It's too expensive",
                                        "I'm busy", "bye"))
    assert summaries[:4] == [None] * 4 and summaries[5] is None
    summary = summaries[4]
    assert summary is not None and summary["source"] == "computed"
    assert summary["calls"] == 5 and summary["average_turns"] == 3.0
    assert dict(summary["top_objections"]) == {"budget": 5, "busy": 5}
    assert "Top objections: budget (5), busy (5)" in str(summary["text"])
    [event] = sink.of_type("summary")
    assert event.payload == summary


async def test_summary_text_from_the_cheap_model(
    seed: Strategy, server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    sink = InMemoryMemorySink()
    await run_call(seed, sink, "x", "It's too expensive", "bye")
    server.enqueue(JSONReply("Budget came up on every call this week."))
    agent = SalesAgent(seed, memory=sink, llm=make_llm())
    summary = await agent.summarize_memory()
    assert summary["source"] == "llm"
    assert summary["text"] == "Budget came up on every call this week."
    assert server.requests[0]["model"] == "cheap-model"
    server.enqueue(ErrorReply(500))
    await run_call(seed, sink, "y", "bye")
    fallback = await agent.summarize_memory()
    assert fallback["source"] == "computed" and fallback["llm_error"] == "http_500"
    assert fallback["calls"] == 1

"""Tool registry, guardrails, the local CRM and the subagent manager."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentcore.crm import CRMError, InMemoryCRM, LocalCRM
from agentcore.inmemory import InMemoryMemorySink, OutboxMessenger
from agentcore.sales_agent import SalesAgent
from agentcore.strategy import Strategy, merge_strategy
from agentcore.subagents import FallbackAgent, SubagentError, SubagentManager
from agentcore.tools import Tool, ToolContext, ToolRegistry, sales_tools, search_strategy

LEAD = "+14155550134"
ALICE = {"phone": "+1 (415) 555-0134", "name": "Alice", "company": "Acme"}


def tools_for(strategy: Strategy, **kwargs: Any) -> ToolRegistry:
    return sales_tools(ToolContext(strategy=lambda: strategy, region="US", **kwargs))


def test_openai_schemas_describe_every_tool(seed: Strategy) -> None:
    schemas = tools_for(seed).openai_schemas()
    by_name = {s["function"]["name"]: s for s in schemas}
    assert set(by_name) == {"end_call", "book_demo", "schedule_callback", "send_followup_sms",
                            "search_docs", "fetch_crm_data"}
    assert all(s["type"] == "function" for s in schemas)
    assert by_name["book_demo"]["function"]["parameters"]["required"] == ["slot"]
    assert "to" not in by_name["send_followup_sms"]["function"]["parameters"]["properties"]


async def test_registry_turns_bad_calls_into_error_results() -> None:
    async def boom(args: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("provider down")

    registry = ToolRegistry([Tool("boom", "", {"type": "object", "properties": {}}, boom)])
    assert str((await registry.call("boom", "{not json")).error).startswith("arguments are not")
    assert (await registry.call("boom", "[1]")).error == "arguments must be a JSON object"
    assert (await registry.call("nope", {})).error == "unknown tool 'nope'"
    failed = await registry.call("boom", "")
    assert not failed.ok and failed.error == "RuntimeError: provider down"
    assert json.loads(failed.content()) == {"ok": False, "error": "RuntimeError: provider down"}


async def test_argument_checks(seed: Strategy) -> None:
    tools = tools_for(seed)
    assert (await tools.call("book_demo", {})).error == "missing required argument 'slot'"
    assert (await tools.call("book_demo", {"slot": 3})).error == "argument 'slot' must be a string"
    booked = await tools.call("book_demo", '{"slot": " Friday 10am "}')
    assert booked.ok and booked.data == {"booked": True, "slot": "Friday 10am"}


async def test_sms_only_to_the_lead_and_only_when_configured(seed: Strategy) -> None:
    outbox = OutboxMessenger()
    tools = tools_for(seed, lead_phone="(415) 555-0134", messenger=outbox)
    sent = await tools.call("send_followup_sms", {"text": "Recap " * 200})
    assert sent.ok and outbox.sent[0].to == LEAD and len(outbox.sent[0].text) == 480
    other = await tools.call("send_followup_sms", {"text": "hi", "to": "+12125550100"})
    assert not other.ok and len(outbox.sent) == 1
    assert not (await tools_for(seed, lead_phone=LEAD).call("send_followup_sms",
                                                            {"text": "x"})).ok
    no_lead = await tools_for(seed, messenger=outbox).call("send_followup_sms", {"text": "x"})
    assert no_lead.error == "this conversation has no lead phone number"


async def test_crm_lookups_are_limited_to_numbers_the_call_or_strategy_gave(
    seed: Strategy,
) -> None:
    partner = {"phone": "+1 212 555 0100", "name": "Partner desk"}
    stranger = {"phone": "+1 646 555 0199", "name": "Stranger"}
    crm = InMemoryCRM([ALICE, partner, stranger])
    with_number = merge_strategy(seed, {"fallback_scenarios": {
        "partner": "Our partner desk at +1 (212) 555-0100 can help with that."}})
    tools = tools_for(with_number, lead_phone="4155550134", crm=crm)
    lead = await tools.call("fetch_crm_data", {})
    assert lead.ok and lead.data["record"]["name"] == "Alice"
    assert (await tools.call("fetch_crm_data", {"phone": "212-555-0100"})).data["found"]
    refused = await tools.call("fetch_crm_data", {"phone": "+16465550199"})
    assert not refused.ok and str(refused.error).startswith("guardrail:")
    assert (await tools_for(seed, lead_phone=LEAD).call("fetch_crm_data", {})).error == \
        "no CRM is configured"


async def test_local_crm_reads_json_and_csv_and_sees_edits(tmp_path: Path) -> None:
    as_json = tmp_path / "leads.json"
    as_json.write_text(json.dumps([ALICE, {"name": "no phone"}]))
    crm = LocalCRM(as_json)
    assert (await crm.fetch("415-555-0134"))["company"] == "Acme"  # type: ignore[index]
    assert await crm.fetch("+442079460000") is None
    assert await crm.fetch("not a number") is None
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"+919876543210": {"name": "Arjun"}}))
    assert (await LocalCRM(keyed, region="IN").fetch("098765 43210"))["name"] == "Arjun"  # type: ignore[index]
    as_csv = tmp_path / "leads.csv"
    as_csv.write_text("Name,Mobile,Stage\nBea,+1 415 555 0177,trial\n", encoding="utf-8")
    crm_csv = LocalCRM(as_csv)
    assert (await crm_csv.fetch("+14155550177"))["Stage"] == "trial"  # type: ignore[index]
    as_csv.write_text("Name,Mobile,Stage\nBea,+1 415 555 0177,customer\n", encoding="utf-8")
    import os

    os.utime(as_csv, (1, 1))  # a different mtime, as an edit would give
    assert (await crm_csv.fetch("+14155550177"))["Stage"] == "customer"  # type: ignore[index]
    assert await LocalCRM(tmp_path / "missing.json").fetch(LEAD) is None
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    with pytest.raises(CRMError):
        await LocalCRM(broken).fetch(LEAD)


def test_search_docs_ranks_scripts_and_faqs(seed: Strategy) -> None:
    results = search_strategy(seed, "is the data secure and soc2")
    assert results[0] == {"source": "faqs.security", "text": seed.scripts.faqs["security"]}
    assert search_strategy(seed, "zebra") == []
    assert search_strategy(seed, "demo tomorrow", limit=1)[0]["source"].startswith("closing")


async def test_fallback_agent_answers_by_topic_or_words() -> None:
    agent = FallbackAgent(name="Follow-up", fallback_map={"email": "I'll email you.",
                                                          "Case Study": "Case study coming."})
    assert (await agent.handle({"topic": "email"}))["reply"] == "I'll email you."
    by_words = await agent.handle({"text": "Could you send a case study?"})
    assert by_words == {"handled": True, "topic": "case study", "reply": "Case study coming.",
                        "agent": "Follow-up"}
    assert (await agent.handle({"text": "what's the weather"}))["handled"] is False


async def test_manager_leases_expire_and_renew_on_use() -> None:
    now = [0.0]
    manager = SubagentManager(default_ttl_seconds=60, clock=lambda: now[0])
    spec = {"name": "promo", "class": "fallback", "init": {"fallback_map": {"price": "Deal!"}}}
    manager.register_spec(spec, spawned=True)
    manager.register_spec({"name": "standing", "class": "FallbackAgent", "init": {}})
    manager.register_spec({"name": "short", "class": "fallback", "ttl_seconds": 5, "init": {}})
    now[0] = 50
    assert (await manager.delegate("promo", {"topic": "price"}))["reply"] == "Deal!"
    assert manager.names() == ["promo", "standing"]  # `short` ran out at 5 s
    now[0] = 100  # 50 s after its last use: still leased
    assert manager.get("promo") is not None
    now[0] = 111
    assert manager.names() == ["standing"]
    with pytest.raises(SubagentError, match="unknown subagent 'promo'; registered: standing"):
        await manager.delegate("promo", {})


def test_manager_refuses_unknown_kinds_and_bad_specs() -> None:
    manager = SubagentManager()
    with pytest.raises(SubagentError, match=r"unknown subagent class 'os\.system'"):
        manager.register_spec({"name": "x", "class": "os.system"})
    with pytest.raises(SubagentError, match="bad init"):
        manager.register_spec({"name": "x", "class": "fallback", "init": {"nope": 1}})
    with pytest.raises(SubagentError, match="invalid subagent spec"):
        manager.register_spec({"class": "fallback"})
    with pytest.raises(SubagentError, match="no handle"):
        manager.register("x", object())
    assert manager.names() == []


async def test_strategy_subagents_are_registered_on_train_and_errors_reported(
    seed: Strategy,
) -> None:
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, memory=sink)
    assert agent.subagents.names() == ["followup_bot"]
    broken = seed.model_copy(update={"subagents": [
        seed.subagents[0].model_copy(update={"init": {"fallback_map": {}, "colour": 1}})]})
    report = agent.train(broken)
    assert report["subagents"] == [] and "bad init" in report["errors"][0]
    assert agent.subagents.names() == []
    result = await agent.delegate("followup_bot", {"topic": "email"})
    assert result["status"] == "error"
    agent.train(seed)
    ok = await agent.delegate("followup_bot", {"topic": "email"})
    assert ok["status"] == "ok" and ok["result"]["agent"] == "Scrappy Follow-up"
    assert sink.of_type("delegation")[0].payload["result"]["topic"] == "email"

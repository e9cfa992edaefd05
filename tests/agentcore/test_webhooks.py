"""`ingest_webhook_payload`, one field at a time."""

from __future__ import annotations

from typing import Any

from agentcore.inmemory import InMemoryMemorySink
from agentcore.sales_agent import SalesAgent
from agentcore.strategy import Strategy


def agent_for(seed: Strategy) -> tuple[SalesAgent, InMemoryMemorySink]:
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, memory=sink, call_id="hook-call")
    return agent, sink


async def test_persona_patch_changes_tone_and_voice(seed: Strategy) -> None:
    agent, sink = agent_for(seed)
    before = agent.voice_settings()
    result = await agent.ingest_webhook_payload({"persona": {"tone_override": "calm, soft"}})
    assert result["status"] == "ok" and result["changed"] == ["persona"]
    assert agent.persona.tone_override == "calm, soft" and agent.persona.name == "Scrappy Singh"
    assert agent.voice_settings().stability > before.stability
    assert result["strategy"]["persona"]["tone_override"] == "calm, soft"
    [event] = sink.of_type("webhook")
    assert event.payload["changed"] == ["persona"] and event.payload["errors"] == []


async def test_invalid_persona_patch_is_rejected_and_nothing_changes(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    result = await agent.ingest_webhook_payload({"persona": {"locale": "not a locale!"}})
    assert result["status"] == "error" and result["changed"] == []
    assert any(e.startswith("persona.locale:") for e in result["errors"])
    assert agent.persona.locale == "en-IN"
    wrong_type = await agent.ingest_webhook_payload({"persona": "calm"})
    assert wrong_type["errors"] == ["persona: expected an object of persona fields"]


async def test_goals_replace_the_current_goals(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    result = await agent.ingest_webhook_payload({"goals": ["collect_feedback"]})
    assert result["changed"] == ["goals"] and agent.goals == ["collect_feedback"]
    bad = await agent.ingest_webhook_payload({"goals": "book_demo"})
    assert bad["status"] == "error" and agent.goals == ["collect_feedback"]


async def test_strategy_merge_adds_an_faq_the_agent_then_answers(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    patch = {"scripts": {"faqs": {"support": "Every plan includes 24/7 chat support."}}}
    result = await agent.ingest_webhook_payload({"strategy": patch})
    assert result["changed"] == ["strategy"]
    assert set(agent.strategy.scripts.faqs) == {"pricing", "security", "support"}
    reply = await agent.generate_response("What kind of customer support do you offer?")
    assert "24/7 chat support" in reply.text
    broken = await agent.ingest_webhook_payload({"strategy": {"subagents": [
        {"name": "x", "class": "os.system"}]}})
    assert broken["status"] == "error" and "unknown subagent class" in broken["errors"][0]


async def test_transcript_with_auto_reply_answers(seed: Strategy) -> None:
    agent, sink = agent_for(seed)
    result = await agent.ingest_webhook_payload(
        {"transcript": "Hey, what's pricing?", "auto_reply": True})
    assert seed.scripts.faqs["pricing"] in result["reply"]
    assert result["reply_detail"]["source"] == "playbook"
    assert result["reply_detail"]["intent"] == "faq:pricing"
    text_alias = await agent.ingest_webhook_payload({"text": "Is it secure?", "auto_reply": True})
    assert seed.scripts.faqs["security"] in text_alias["reply"]
    assert [e.payload["role"] for e in sink.of_type("turn")] == ["lead", "agent"] * 2


async def test_transcript_without_auto_reply_is_only_logged(seed: Strategy) -> None:
    agent, sink = agent_for(seed)
    result = await agent.ingest_webhook_payload({"transcript": "Hey, what's pricing?"})
    assert "reply" not in result and result["status"] == "ok"
    [turn] = sink.of_type("turn")
    assert turn.payload == {"role": "lead", "text": "Hey, what's pricing?", "via": "webhook"}


async def test_stream_sends_tokens_to_the_stream_callback(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    tokens: list[str] = []
    agent.stream_callback = tokens.append
    result = await agent.ingest_webhook_payload(
        {"transcript": "is my data safe?", "auto_reply": True, "stream": True})
    assert "".join(tokens) == result["reply"] and tokens


async def test_registered_adapter_rewrites_the_payload(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    seen: list[dict[str, Any]] = []

    async def twilio_stream(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        return {"transcript": payload.get("SpeechResult"), "sentiment": "curious"}

    agent.register_webhook_adapter("twilio_stream", twilio_stream)
    agent.register_webhook_adapter("chat", lambda payload: None)  # sync adapters work too
    result = await agent.ingest_webhook_payload({
        "adapter_key": "twilio_stream", "SpeechResult": "how much does it cost",
        "auto_reply": True})
    assert seen[0]["SpeechResult"] == "how much does it cost"
    assert result["adapter"] == {"key": "twilio_stream", "result": {
        "transcript": "how much does it cost", "sentiment": "curious"}}
    assert seed.scripts.faqs["pricing"] in result["reply"]
    assert result["ignored"] == ["SpeechResult"]
    chat = await agent.ingest_webhook_payload({"adapter_key": "chat", "text": "hi"})
    assert chat["status"] == "ok" and chat["adapter"]["result"] is None


async def test_builtin_adapters_accept_twilio_and_chat_shapes(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    twilio = await agent.ingest_webhook_payload({
        "adapter_key": "twilio_stream", "SpeechResult": "is my data secure",
        "Confidence": "0.91", "auto_reply": True})
    assert seed.scripts.faqs["security"] in twilio["reply"]
    assert twilio["adapter"]["result"] == {"transcript": "is my data secure", "confidence": 0.91}
    muffled = await agent.ingest_webhook_payload({
        "adapter_key": "twilio_stream", "SpeechResult": "mmf price", "Confidence": "0.2",
        "auto_reply": True})
    assert muffled["reply_detail"]["intent"] == "low_confidence"
    chat = await agent.ingest_webhook_payload({"adapter_key": "chat", "message": "bye",
                                               "auto_reply": True})
    assert chat["reply_detail"]["stage"] == "ended"


async def test_unknown_adapter_is_an_error_and_changes_nothing(seed: Strategy) -> None:
    agent, sink = agent_for(seed)
    result = await agent.ingest_webhook_payload({
        "adapter_key": "telegram", "persona": {"tone": "calm"}, "transcript": "hi",
        "auto_reply": True})
    assert result["status"] == "error" and "reply" not in result
    assert result["errors"] == [
        "adapter_key: unknown adapter 'telegram'; registered: chat, twilio_stream"]
    assert agent.persona.tone == seed.persona.tone
    assert sink.of_type("webhook")[0].importance == 2


async def test_failing_adapter_is_reported(seed: Strategy) -> None:
    agent, _ = agent_for(seed)

    def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("sentiment service down")

    agent.register_webhook_adapter("broken", broken)
    result = await agent.ingest_webhook_payload({"adapter_key": "broken"})
    assert result["status"] == "error"
    assert "sentiment service down" in result["errors"][0]


async def test_intent_delegate_to_hands_off_to_a_subagent(seed: Strategy) -> None:
    agent, sink = agent_for(seed)
    result = await agent.ingest_webhook_payload({
        "transcript": "could you email me", "intent": {"delegate_to": "followup_bot"}})
    assert result["delegation"]["status"] == "ok"
    assert result["delegation"]["result"]["reply"] == "I’ll send you a recap with pricing in a " \
        "few minutes."
    assert result["changed"] == ["delegation"]
    assert sink.of_type("delegation")[0].payload["subagent"] == "followup_bot"
    unknown = await agent.ingest_webhook_payload({"intent": {"delegate_to": "fallback_bot"}})
    assert unknown["status"] == "error"
    assert "unknown subagent 'fallback_bot'; registered: followup_bot" in unknown["errors"][0]
    plain = await agent.ingest_webhook_payload({"intent": "DetectedIntent"})
    assert plain["status"] == "ok" and "delegation" not in plain


async def test_spawn_subagent_registers_through_the_kind_registry(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    spec = {"name": "fallback_bot", "class": "apps.agents.sales.agent.FallbackAgent",
            "init": {"fallback_map": {"invoice": "Our billing team will send it today."}}}
    result = await agent.ingest_webhook_payload({"spawn_subagent": spec})
    assert result["changed"] == ["subagents"] and result["spawned"] == "fallback_bot"
    handoff = await agent.ingest_webhook_payload({
        "text": "where is my invoice", "intent": {"delegate_to": "fallback_bot"}})
    assert handoff["delegation"]["result"]["reply"] == "Our billing team will send it today."
    evil = await agent.ingest_webhook_payload({"spawn_subagent": {
        "name": "x", "class": "subprocess.Popen", "init": {"args": ["rm", "-rf", "/"]}}})
    assert evil["status"] == "error" and "unknown subagent class" in evil["errors"][0]
    bad_init = await agent.ingest_webhook_payload({"spawn_subagent": {
        "name": "y", "class": "fallback", "init": {"colour": "blue"}}})
    assert "bad init" in bad_init["errors"][0]
    assert agent.subagents.names() == ["fallback_bot", "followup_bot"]


async def test_several_fields_in_one_payload_apply_in_order(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    result = await agent.ingest_webhook_payload({
        "persona": {"tone_override": "warm"},
        "goals": ["book_demo"],
        "strategy": {"closing_techniques": ["Shall we pick a time for a demo now?"]},
        "transcript": "ok sounds good", "auto_reply": True, "mystery": 1})
    assert result["changed"] == ["strategy", "persona", "goals"]
    assert result["ignored"] == ["mystery"]
    assert agent.strategy.closing_techniques == ["Shall we pick a time for a demo now?"]
    assert "reply" in result and result["status"] == "ok"


async def test_garbage_payloads_never_raise(seed: Strategy) -> None:
    agent, _ = agent_for(seed)
    not_a_dict = await agent.ingest_webhook_payload(["transcript"])  # type: ignore[arg-type]
    assert not_a_dict["status"] == "error"
    odd = await agent.ingest_webhook_payload({"spawn_subagent": 3, "strategy": [1],
                                              "transcript": 42, "auto_reply": True})
    assert odd["status"] == "error" and len(odd["errors"]) == 2 and "reply" not in odd
    untrained = SalesAgent()
    result = await untrained.ingest_webhook_payload({"goals": ["x"], "text": "hi",
                                                     "auto_reply": True})
    assert result["status"] == "error" and len(result["errors"]) == 2

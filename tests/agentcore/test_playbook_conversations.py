"""Whole conversations with the offline playbook, for every shipped strategy and the seed."""

from __future__ import annotations

import pytest

from agentcore.inmemory import InMemoryMemorySink, RecordingCallControl
from agentcore.sales_agent import SalesAgent
from agentcore.state import Outcome, Reply, Stage
from agentcore.strategy import Strategy
from tests.agentcore.conftest import STRATEGY_FILES, load


async def talk(agent: SalesAgent, *lines: str) -> list[Reply]:
    return [await agent.generate_response(line) for line in lines]


def test_every_shipped_strategy_validates() -> None:
    names = {p.stem for p in STRATEGY_FILES}
    assert {"enterprise_saas", "solar_installer", "logistics_freight"} <= names
    for path in STRATEGY_FILES:
        strategy = load(path.stem)
        assert strategy.scripts.faqs and strategy.scripts.objections
        assert strategy.scripts.voicemail and strategy.closing_techniques


async def test_seed_ten_turn_conversation_books_a_demo(seed: Strategy) -> None:
    control = RecordingCallControl()
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, call_id="c1", memory=sink, call_control=control)
    opening = agent.greeting_text()
    assert opening.startswith("Namaste! This is Scrappy from Scriza.")
    assert "AI assistant" in opening
    faqs, objections = seed.scripts.faqs, seed.scripts.objections
    script = [
        ("Hi, who is this?", Stage.GREETING, "AI assistant calling on behalf of Scriza"),
        ("Maybe. How much does it cost?", Stage.PITCH, faqs["pricing"]),
        ("Is my data secure?", Stage.CLOSING, faqs["security"]),
        ("Sounds expensive, we don't have the budget", Stage.OBJECTION, objections["budget"]),
        ("I'm really busy right now", Stage.OBJECTION, objections["busy"]),
        ("Wait, are you a robot?", Stage.OBJECTION, "Yes, I'm an AI assistant"),
        ("Okay, let's do a demo", Stage.CLOSING, "What day and time"),
        ("Tomorrow afternoon works", Stage.WRAP_UP, "booked for tomorrow afternoon"),
        ("Can you email me the details?", Stage.WRAP_UP,
         seed.subagents[0].init["fallback_map"]["email"]),
        ("No, that's all. Thanks, bye!", Stage.ENDED, "Goodbye"),
    ]
    for line, stage, expected in script:
        reply = await agent.generate_response(line)
        assert expected in reply.text, (line, reply.text)
        assert reply.stage is stage, (line, reply.stage, reply.text)
    assert seed.scripts.pitch in agent.conversation.lines[4].text
    assert agent.outcome is Outcome.DEMO_BOOKED
    assert agent.outcome_detail["slot"] == "tomorrow afternoon"
    assert control.ended == ["goodbye"]
    # every turn of both sides is in memory
    turns = sink.of_type("turn")
    assert [e.payload["role"] for e in turns].count("lead") == 10
    assert sink.of_type("delegation")[0].payload["subagent"] == "followup_bot"


async def test_enterprise_discovery_then_objection_then_slot_choice() -> None:
    strategy = load("enterprise_saas")
    agent = SalesAgent(strategy)
    agent.greeting_text()
    replies = await talk(
        agent,
        "Yes, go ahead",
        "We have about twelve SDRs",
        "We use Outreach for sequences",
        "Do you integrate with Salesforce?",
        "How long does it take to get up and running?",
        "Sure, let's book a demo",
        "The second one",
    )
    discovery = strategy.scripts.model_extra["discovery_questions"]  # type: ignore[index]
    assert replies[0].text == discovery[0] and replies[0].stage is Stage.DISCOVERY
    assert discovery[1] in replies[1].text
    assert strategy.scripts.objections["competitor"] in replies[2].text
    assert replies[2].stage is Stage.OBJECTION
    assert strategy.scripts.faqs["integrations"] in replies[3].text
    assert strategy.scripts.faqs["onboarding"] in replies[4].text
    assert "tomorrow at 11am" in replies[5].text  # the booking slots are offered
    assert replies[6].outcome is Outcome.DEMO_BOOKED
    assert replies[6].outcome_detail == {"slot": "tomorrow at 4pm", "booking": "demo"}
    assert [a.name for a in replies[6].actions] == ["book_demo"]


async def test_solar_homeowner_books_a_site_assessment() -> None:
    strategy = load("solar_installer")
    agent = SalesAgent(strategy)
    assert "BrightRoof Solar" in agent.greeting_text()
    faqs, objections = strategy.scripts.faqs, strategy.scripts.objections
    replies = await talk(
        agent,
        "Yeah, hi.",
        "Around two hundred dollars a month",
        "Yes I own it",
        "Can I finance it?",
        "Is there a tax credit?",
        "What if the power goes out?",
        "We might be moving in a few years",
        "I'd need to talk to my wife first",
        "OK let's do the assessment",
        "Thursday at 5pm",
        "no that's it, thanks bye",
    )
    assert replies[1].stage is Stage.DISCOVERY and "own the home" in replies[1].text
    assert strategy.scripts.pitch in replies[2].text and replies[2].stage is Stage.PITCH
    assert faqs["financing"] in replies[3].text
    assert faqs["incentives"] in replies[4].text and faqs["financing"] not in replies[4].text
    assert faqs["battery"] in replies[5].text
    assert objections["moving"] in replies[6].text
    assert objections["spouse"] in replies[7].text
    assert "Thursday at 5pm" in replies[9].text
    assert replies[9].outcome_detail == {"slot": "Thursday at 5pm", "booking": "site assessment"}
    assert replies[10].stage is Stage.ENDED and replies[10].ends_call


async def test_solar_renter_gets_the_renter_answer() -> None:
    strategy = load("solar_installer")
    agent = SalesAgent(strategy)
    agent.greeting_text()
    reply = await agent.generate_response("I'm renting, my landlord owns the place")
    assert reply.text.startswith(strategy.scripts.objections["renter"])


async def test_logistics_call_with_unknown_question_and_fallback_scenario() -> None:
    strategy = load("logistics_freight")
    agent = SalesAgent(strategy)
    agent.greeting_text()
    replies = await talk(
        agent,
        "Speaking",
        "Who is this?",
        "Can you carry hazardous materials?",
        "Do you do temperature-controlled loads?",
        "We already have a carrier",
        "What are your payment terms?",
        "alright, let's set up a call",
        "Friday at 11 works",
        "That's all, cheers",
    )
    scenarios = strategy.fallback_scenarios
    assert "AI assistant calling on behalf of Northline Logistics" in replies[1].text
    assert scenarios["hazmat"] in replies[2].text
    # nothing in the strategy answers this: the policy picks the catch-all scenario, no facts
    assert replies[3].text.startswith(scenarios["unknown"]) and replies[3].intent == "question"
    assert strategy.scripts.objections["competitor"] in replies[4].text
    assert strategy.scripts.faqs["invoicing"] in replies[5].text
    assert replies[7].outcome_detail["slot"] == "Friday at 11am"
    assert replies[8].stage is Stage.ENDED


@pytest.mark.parametrize("name", ["seed", "enterprise_saas", "solar_installer",
                                  "logistics_freight"])
async def test_take_me_off_your_list_ends_with_do_not_call(name: str) -> None:
    control = RecordingCallControl()
    agent = SalesAgent(load(name), call_control=control)
    agent.greeting_text()
    reply = await agent.generate_response("Please take me off your list.")
    assert reply.outcome is Outcome.DO_NOT_CALL and reply.stage is Stage.ENDED
    assert reply.ends_call and control.ended == ["do_not_call"]
    assert "don't call you again" in reply.text
    after = await agent.generate_response("hello?")
    assert after.stage is Stage.ENDED and not after.actions


@pytest.mark.parametrize("name", ["seed", "solar_installer", "logistics_freight"])
async def test_call_me_later_captures_the_time(name: str) -> None:
    agent = SalesAgent(load(name))
    agent.greeting_text()
    reply = await agent.generate_response("I'm driving, call me back tomorrow at 3pm")
    assert reply.outcome is Outcome.CALLBACK_SCHEDULED
    assert reply.outcome_detail == {"when": "tomorrow at 3pm"}
    assert "tomorrow at 3pm" in reply.text and reply.ends_call


async def test_call_me_later_without_a_time_asks_for_one(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    agent.greeting_text()
    first = await agent.generate_response("Can you call me later?")
    assert "When would be a better time" in first.text and not first.actions
    second = await agent.generate_response("next week")
    assert second.outcome_detail == {"when": "next week"} and second.ends_call


async def test_not_interested_gets_one_soft_recheck_then_a_polite_end(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    agent.greeting_text()
    first = await agent.generate_response("Not interested.")
    assert first.stage is not Stage.ENDED and "call back another time" in first.text
    second = await agent.generate_response("No.")
    assert second.outcome is Outcome.NOT_INTERESTED and second.ends_call
    assert "Thanks for your time" in second.text


async def test_no_thanks_bye_ends_at_once(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    agent.greeting_text()
    reply = await agent.generate_response("No thanks, bye")
    assert reply.outcome is Outcome.NOT_INTERESTED and reply.stage is Stage.ENDED


async def test_unclear_input_asks_to_repeat_then_offers_a_callback(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    agent.greeting_text()
    replies = await talk(agent, "asdf qwrtzp", "uh", "zzkrrp")
    assert "say it again" in replies[0].text
    assert "isn't very clear" in replies[1].text
    assert "call you back another time" in replies[2].text
    assert all(r.stage is Stage.GREETING for r in replies)


async def test_unknown_question_admits_it_and_invents_nothing(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    agent.greeting_text()
    reply = await agent.generate_response("Do you support SAP Ariba?")
    assert reply.intent == "question"
    assert "I don't want to guess" in reply.text and "Scriza" in reply.text
    assert "$" not in reply.text and "SOC2" not in reply.text


async def test_repeat_request_repeats_the_last_line(seed: Strategy) -> None:
    agent = SalesAgent(seed)
    opening = agent.greeting_text()
    assert (await agent.generate_response("Sorry, can you say that again?")).text == opening


async def test_greeting_without_ai_disclosure_and_voicemail(seed: Strategy) -> None:
    agent = SalesAgent(seed, ai_disclosure=False)
    assert "AI assistant" not in agent.greeting_text()
    assert agent.greeting_text(ai_disclosure=True).count("AI assistant") == 1
    assert "AI assistant" not in agent.voicemail_text()
    assert "AI assistant" in SalesAgent(seed).voicemail_text()
    assert load("solar_installer").scripts.voicemail == SalesAgent(
        load("solar_installer")).voicemail_text()


@pytest.mark.parametrize("name", ["seed", "enterprise_saas", "solar_installer",
                                  "logistics_freight"])
def test_all_lines_cover_the_strategy_text(name: str) -> None:
    strategy = load(name)
    lines = SalesAgent(strategy).all_lines()
    for text in [*strategy.scripts.faqs.values(), *strategy.scripts.objections.values(),
                 *strategy.fallback_scenarios.values(), *strategy.closing_techniques]:
        assert text in lines
    assert any(line.startswith(strategy.scripts.greeting) for line in lines)
    assert len(lines) == len(set(lines))


async def test_feedback_goal_captures_what_the_lead_says_at_wrap_up(seed: Strategy) -> None:
    sink = InMemoryMemorySink()
    agent = SalesAgent(seed, memory=sink, call_id="fb")
    agent.greeting_text()
    booked = await agent.generate_response("Sure, book me a demo for Friday at 2pm")
    assert booked.outcome is Outcome.DEMO_BOOKED and "anything we could do better" in booked.text
    thanks = await agent.generate_response("You could have called a bit earlier in the day")
    assert "pass that on" in thanks.text and thanks.stage is Stage.WRAP_UP
    [feedback] = sink.of_type("feedback")
    assert feedback.source == "lead" and feedback.call_id == "fb"
    assert feedback.payload["text"] == "You could have called a bit earlier in the day"
    done = await agent.complete_call()
    assert done is None and await agent.complete_call() is None
    [completed] = [e for e in sink.of_type("turn") if e.payload.get("call_completed")]
    assert completed.payload["outcome"] == "demo_booked" and completed.payload["lead_turns"] == 2


@pytest.mark.parametrize(("question", "flagged"), [
    ("Do you integrate with SAP?", "SAP"),
    ("Does it work with Microsoft Dynamics?", "Microsoft Dynamics"),
    ("Does it work with Salesforce?", None),  # the strategy names Salesforce
    ("Do you integrate with our CRM?", None),
])
async def test_an_integration_the_strategy_never_names_is_not_confirmed(
    question: str, flagged: str | None
) -> None:
    strategy = load("enterprise_saas")
    agent = SalesAgent(strategy)
    agent.greeting_text()
    reply = await agent.generate_response(question)
    if flagged:
        assert reply.text.startswith(f"I don't want to guess about {flagged} specifically")
        assert "follow up" in reply.text
    else:
        assert "guess" not in reply.text
    assert strategy.scripts.faqs["integrations"] in reply.text  # then what the strategy does say

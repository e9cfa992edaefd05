"""Intent matching (keywords, synonyms, typos) and time expressions; odd input never raises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentcore.intents import IntentClassifier, normalise
from agentcore.playbook import Playbook
from agentcore.strategy import Strategy
from agentcore.timeexpr import complete_with_day, find_time_expression
from tests.agentcore.conftest import load

SEED = load("seed")
CLASSIFIER = IntentClassifier(SEED)
KNOWN = {"do_not_call", "ai_check", "identity", "callback", "repeat", "faq", "objection",
         "scenario", "demo_request", "pitch_request", "not_interested", "goodbye", "greeting",
         "affirm", "deny", "question", "statement", "unclear"}


@pytest.mark.parametrize(("text", "label"), [
    ("How much does it cost?", "faq:pricing"),
    ("what's the pricng like", "faq:pricing"),  # typo
    ("Whats your price", "faq:pricing"),
    ("Is our data safe with you?", "faq:security"),
    ("are you GDPR compliant", "faq:security"),
    ("SOC 2?", "faq:security"),
    ("I'm in a meeting", "objection:busy"),
    ("no time for this right now", "objection:busy"),
    ("that's way too pricey for us", "objection:budget"),
    ("we have no budget this year", "objection:budget"),
    ("What about compliance audits?", "scenario:compliance"),
    ("Please remove my number", "do_not_call"),
    ("stop calling me", "do_not_call"),
    ("Is this a bot?", "ai_check"),
    ("am I talking to a real person", "ai_check"),
    ("Who's calling?", "identity"),
    ("Call me back next week", "callback"),
    ("ring me tomorrow morning", "callback"),
    ("I'm not intrested", "not_interested"),  # typo
    ("Sure, let's book a demo", "demo_request"),
    ("What's this about?", "pitch_request"),
    ("Thanks, bye", "goodbye"),
    ("Hello?", "greeting"),
    ("yeah sure", "affirm"),
    ("nope", "deny"),
    ("Do you work with SAP?", "question"),
    ("We have twelve reps in Pune", "statement"),
    ("asdf qwrtzp", "unclear"),
    ("", "unclear"),
])
def test_classification(text: str, label: str) -> None:
    assert CLASSIFIER.classify(text).label == label


def test_words_that_merely_look_alike_do_not_match() -> None:
    assert CLASSIFIER.classify("We have extensive experience").name == "statement"
    assert CLASSIFIER.classify("we cast a wide net").name == "statement"


def test_two_topics_in_one_breath_are_both_kept() -> None:
    intent = CLASSIFIER.classify("what is the price and is it secure?")
    assert intent.label == "faq:pricing" and intent.others("faq") == ["security"]
    agent_reply = Playbook(SEED).respond("what is the price and is it secure?")
    assert SEED.scripts.faqs["pricing"] in agent_reply.text
    assert SEED.scripts.faqs["security"] in agent_reply.text


def test_hang_up_requests_beat_everything_else() -> None:
    assert CLASSIFIER.classify("too expensive, take me off your list").name == "do_not_call"
    assert CLASSIFIER.classify("I'm busy, call me tomorrow at 3").name == "callback"


def test_strategy_keywords_extend_matching() -> None:
    solar = IntentClassifier(load("solar_installer"))
    assert solar.classify("what happens in a blackout?").label == "faq:battery"
    assert solar.classify("Is there a tax credit?").label == "faq:incentives"
    assert solar.classify("I'm renting").label == "objection:renter"


def test_objection_concepts_are_noticed_even_without_a_script() -> None:
    intent = CLASSIFIER.classify("we already use Gong")
    assert intent.name == "statement" and intent.concept == "competitor"


def test_normalise_expands_contractions() -> None:
    assert normalise("I’m NOT sure—what's it cost?") == "i am not sure what is it cost"
    assert normalise("don't, can't, won't") == "do not can not will not"


@pytest.mark.parametrize(("text", "expected"), [
    ("Call me tomorrow at 3pm please", "tomorrow at 3pm"),
    ("next week works", "next week"),
    ("Friday morning?", "Friday morning"),
    ("maybe on Tuesday, at 10:30 am", "on Tuesday, at 10:30 am"),
    ("in two hours", "in two hours"),
    ("March 3rd", "March 3rd"),
    ("I have 2 SDRs", None),
    ("the sun is great and I sat down", None),
    ("not right now", None),
])
def test_time_expressions(text: str, expected: str | None) -> None:
    assert find_time_expression(text) == expected


def test_a_bare_time_takes_the_offered_day() -> None:
    assert complete_with_day("afternoon", "tomorrow morning or afternoon") == "tomorrow afternoon"
    assert complete_with_day("at 4", "Thursday") == "Thursday at 4"
    assert complete_with_day("Friday at 4", "tomorrow") == "Friday at 4"
    assert complete_with_day("afternoon", None) == "afternoon"


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_classifies_without_raising(text: str) -> None:
    intent = CLASSIFIER.classify(text)
    assert intent.name in KNOWN
    found = find_time_expression(text)
    assert found is None or found in text


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.text(max_size=80),
    st.sampled_from(["yes", "no", "price?", "bye", "tomorrow at 3", "take me off your list",
                     "who is this", "I'm busy", "\x00\ufeff", "🙂🙂", "ок да", "?"]),
), max_size=8))
def test_playbook_survives_any_conversation(lines: list[str]) -> None:
    book = Playbook(SEED)
    book.greeting()
    for line in lines:
        reply = book.respond(line)
        assert reply.text.strip()
        assert reply.stage.value in {"greeting", "discovery", "pitch", "objection", "closing",
                                     "wrap-up", "ended"}


def test_classifier_is_built_per_strategy(seed: Strategy) -> None:
    other = IntentClassifier(load("logistics_freight"))
    assert other.classify("what are your payment terms").label == "faq:invoicing"
    assert IntentClassifier(seed).classify("what are your payment terms").label == "faq:pricing"

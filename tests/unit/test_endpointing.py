"""Is a lead's line (as Whisper writes it) a finished sentence?"""

from __future__ import annotations

import pytest

from daemon.media.endpointing import is_complete_utterance, is_preamble

COMPLETE = [
    "Honestly, I am really busy right now.",
    "What does it cost?",
    "Yes.",
    "No.",
    "Okay.",
    "Sure, go ahead.",
    "Take me off your list.",
    "Who is this?",
    "Hello?",
    "Hello.",
    "I'm not interested.",
    "We already have a provider.",
    "Can you send me an email?",
    "I don't think so.",
    "I think so.",
    "Yes, I do.",
    "We can.",
    "Not really.",
    "Not now.",
    "Call me back next week.",
    "Hold on.",
    "Count me in.",
    "Sign me up!",
    "I don't want that.",
    "Stop that.",
    "I see.",
    "Thank you.",
    "It costs $4.99 a month.",
    "About 50.",
    "I'm the owner.",
    "Maybe, it depends on the price.",
    "He said, 'call back later.'",
    "Yeah that works for us",
    "  Fine.  ",
    "It’s too expensive.",
    "Is that so?",
    "What's this about?",
    "Mm-hmm.",
    "Mhm.",
    "Uh-huh.",
]

INCOMPLETE = [
    "Honestly, I",
    "Honestly, I.",
    "Honestly.",
    "Honestly,",
    "Well,",
    "Well.",
    "So.",
    "So, um.",
    "Look.",
    "Actually.",
    "I was thinking that",
    "I was thinking that.",
    "I think that.",
    "I'm not sure if",
    "We use a",
    "We use the.",
    "It depends on the...",
    "It depends on the…",
    "Let me check with my",
    "Let me check with my.",
    "Our budget is",
    "Our budget is.",
    "The thing is,",
    "I'd love to but",
    "I'd love to, but.",
    "I need to talk to",
    "Because",
    "and",
    "Yeah, and",
    "We are",
    "I'm.",
    "It's.",
    "That's.",
    "Um.",
    "Hmm.",
    "Mm.",
    "Uh, we",
    "I like",
    "I was going to",
    "It's kind of",
    "I mean.",
    "you know.",
    "Send it to my -",
    "We tried it last year and -",
    "The price is:",
    "Okay so",
    "",
    "   ",
    "...",
    "?!",
    "— ",
    "I was very",
    "Can we do it when",
]


@pytest.mark.parametrize("text", COMPLETE)
def test_finished_lines_are_complete(text: str) -> None:
    assert is_complete_utterance(text)


@pytest.mark.parametrize("text", INCOMPLETE)
def test_unfinished_lines_are_incomplete(text: str) -> None:
    assert not is_complete_utterance(text)


@pytest.mark.parametrize("text", ["Honestly, I", "I was thinking that", "We use a"])
def test_case_and_quotes_do_not_matter(text: str) -> None:
    assert not is_complete_utterance(text.upper() + ".")
    assert not is_complete_utterance(f'"{text}."')


@pytest.mark.parametrize(("text", "expected"), [
    ("Okay.", True), ("Okay, so.", True), ("Well.", True), ("Let me see.", True), ("Hi.", True),
    ("Hmm, let me think.", True), ("All right.", True), ("Good question.", True),
    ("Yes.", False), ("Sure.", False), ("Right.", False), ("Thursday works.", False),
    ("No thanks.", False), ("Go ahead.", False), ("", False),
])
def test_is_preamble(text: str, expected: bool) -> None:
    assert is_preamble(text) is expected

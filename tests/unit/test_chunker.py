"""Sentence chunking of streamed LLM tokens for TTS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.media.chunker import SentenceChunker, cacheable_sentences, split_sentences


def chunk_all(text: str, sizes: list[int] | None = None, **options: int) -> list[str]:
    """Feed `text` as tokens of the given sizes (cycled), then flush."""
    chunker = SentenceChunker(**options)
    out: list[str] = []
    pos, step = 0, 0
    while pos < len(text):
        size = sizes[step % len(sizes)] if sizes else len(text)
        out += chunker.push(text[pos : pos + size])
        pos, step = pos + size, step + 1
    return out + chunker.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi there. How are you?", ["Hi there.", "How are you?"]),
        ("Great! Let's talk. Okay?", ["Great!", "Let's talk.", "Okay?"]),
        ("Mr. Smith called Dr. Jones.", ["Mr. Smith called Dr. Jones."]),
        ("It costs $4.99 a month. Cheap.", ["It costs $4.99 a month.", "Cheap."]),
        ("Version 3.5 is out. Try it.", ["Version 3.5 is out.", "Try it."]),
        ("We ship across the U.S. and Canada.", ["We ship across the U.S. and Canada."]),
        ("Bring tools, e.g. a hammer. Thanks.", ["Bring tools, e.g. a hammer.", "Thanks."]),
        ("Call at 3 p.m. today. Bye.", ["Call at 3 p.m. today.", "Bye."]),
        ("Ask J. Smith. He knows.", ["Ask J. Smith.", "He knows."]),
        ('He said "yes." Then he left.', ['He said "yes."', "Then he left."]),
        ("(It works.) Really.", ["(It works.)", "Really."]),
        ("Well... I guess so. Fine.", ["Well...", "I guess so.", "Fine."]),
        ("No. I am busy.", ["No.", "I am busy."]),
        ("Wait?! Seriously.", ["Wait?!", "Seriously."]),
        ("First line\nSecond line", ["First line", "Second line"]),
        ("1. Apples\n2. Pears", ["1. Apples", "2. Pears"]),
        ("No terminal punctuation", ["No terminal punctuation"]),
        ("Trailing spaces.   ", ["Trailing spaces."]),
        ("  ", []),
        ("", []),
        (". . .", [".", ".", "."]),
    ],
)
def test_sentences_split_where_a_reader_would(text: str, expected: list[str]) -> None:
    assert chunk_all(text) == expected


def test_a_cut_waits_for_the_character_after_the_period() -> None:
    chunker = SentenceChunker()
    assert chunker.push("It costs $4.") == []  # might become $4.99
    assert chunker.push("99 a month.") == []  # might be followed by more of the sentence
    assert chunker.push(" Deal") == ["It costs $4.99 a month."]
    assert chunker.flush() == ["Deal"]
    assert chunker.flush() == []


def test_first_sentence_is_cut_early_at_a_comma_when_long() -> None:
    text = (
        "I completely understand that you are busy running the business right now, "
        "so I will keep this short and to the point, I promise. "
        "We help shops like yours, and we do it fast, cheaply, and well."
    )
    assert chunk_all(text) == [
        "I completely understand that you are busy running the business right now,",
        "so I will keep this short and to the point, I promise.",
        "We help shops like yours, and we do it fast, cheaply, and well.",
    ]


def test_a_short_first_sentence_keeps_its_commas() -> None:
    assert chunk_all("Yes, sure, of course. Bye.") == ["Yes, sure, of course.", "Bye."]


def test_long_clauses_cut_at_semicolons_and_colons() -> None:
    text = (
        "Here is what we offer to every single customer who signs up with us this month:"
        " a free trial; no fees."
    )
    assert chunk_all(text, clause_chars=60) == [
        "Here is what we offer to every single customer who signs up with us this month:",
        "a free trial; no fees.",
    ]


def test_runaway_text_is_cut_at_a_space() -> None:
    text = " ".join(["word"] * 100)
    chunks = chunk_all(text, max_chars=50, first_comma_chars=20, clause_chars=20)
    assert all(0 < len(c) <= 50 for c in chunks)
    assert " ".join(chunks) == text


def test_reset_forgets_buffered_text() -> None:
    chunker = SentenceChunker()
    chunker.push("This reply was interrupted by the")
    chunker.reset()
    assert chunker.push("New reply. ") == ["New reply."]


@pytest.mark.parametrize("sizes", [[1], [2], [3, 1], [7], [1, 5, 2]])
def test_token_boundaries_do_not_change_the_result(sizes: list[int]) -> None:
    text = "Hi Mr. Lee, it's $4.99. Ready?! Great... Bye.\nP.S. Thanks, really."
    assert chunk_all(text, sizes) == chunk_all(text)


_alphabet = st.sampled_from([*"abc XYZ .,!?;:$'\"\n49", "Mr.", "e.g.", "...", "U.S."])


@settings(max_examples=200, deadline=None)
@given(st.lists(_alphabet, max_size=80).map("".join), st.lists(st.integers(1, 9), min_size=1))
def test_streaming_equals_whole_text(text: str, sizes: list[int]) -> None:
    whole = chunk_all(text, first_comma_chars=15, clause_chars=20, max_chars=40)
    streamed = chunk_all(text, sizes, first_comma_chars=15, clause_chars=20, max_chars=40)
    assert streamed == whole
    assert all(chunk and chunk == chunk.strip() for chunk in whole)
    # nothing but whitespace is lost or reordered
    assert "".join("".join(whole).split()) == "".join(text.split())


PITCH = ("We help your SDRs close more revenue with AI copilots that research accounts, draft "
         "follow-ups and log every call to your CRM. Would that be worth a closer look?")


def test_a_line_after_another_sentence_is_not_cut_at_its_comma() -> None:
    alone = split_sentences(PITCH)
    assert alone[0].endswith("research accounts,")  # opening a reply: first audio sooner
    following = split_sentences(PITCH, opening=False)
    assert following == split_sentences("Thanks, that's helpful. " + PITCH)[1:]
    assert following[0].endswith("to your CRM.")


_line = st.sampled_from([PITCH, "Thanks, that's helpful.", "In short, yes.",
                         "Most teams are live within two weeks, with a dedicated onboarding manager.",
                         "Got it! How many SDRs are on your team today?"])


@given(st.lists(_line, min_size=1, max_size=4))
def test_a_reply_built_from_playbook_lines_speaks_only_cached_chunks(lines: list[str]) -> None:
    # the playbook glues lines into one reply; pre-synthesis caches each line on its own
    cached = set(cacheable_sentences(lines))
    assert set(split_sentences(" ".join(lines))) <= cached

"""Does a (partial) transcript read like a finished sentence? Used to end turns early.

`TurnDetector` asks Whisper for a speculative transcript after a short pause (~180 ms). If the
words form a complete sentence the turn ends right there; otherwise it waits for the long
silence timeout. Ending too early cuts the lead off mid-sentence and splits one sentence into
two turns, while waiting costs only a few hundred milliseconds, so every rule here leans
towards "incomplete".

Whisper ends almost every segment with a period, so punctuation alone says little. We look at
the last word instead: a sentence rarely ends on an article, a conjunction, a preposition, a
subject pronoun, an auxiliary verb or a filler ("Honestly, I." is Whisper's rendering of
"Honestly, I ..."). A lone opener such as "Well." or "Honestly." is a preamble, not an answer.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TRAILING_CLOSERS = "\"')]}»”’"
_INCOMPLETE_ENDINGS = ("...", "…", ",", "-", "–", "—", ";", ":", "/", "&", "+")

DANGLING_WORDS = frozenset(
    """
    a an the
    and but or nor so because cause cuz if unless until whether while although when where
    whereas than as since
    of to for with at from about into onto by via like
    i we they he she
    my your our their its his
    am is are was were be being been
    i'm we're you're they're he's she's it's that's there's what's who's i've we've
    you've they've i'd we'd i'll we'll you'll they'll
    gonna wanna gotta kinda sorta
    um umm uh uhh uhm er erm ah ahh eh hmm hm mm
    very just
    """.split()
)
"""Words a finished sentence almost never ends on. Particles that end phrasal verbs ("hold on",
"sign up", "count me in") and answers like "I do." / "We can." are deliberately absent."""

OPENERS = frozenset(
    """
    honestly well so look listen see actually basically frankly anyway anyways now
    um umm uh uhh uhm er erm ah ahh eh hmm hm mm
    """.split()
)
"""Words that start a thought. An utterance made only of these ("Well.", "So, um.") waits."""

# "that" ends plenty of sentences ("Stop that.") but not after a verb that introduces a clause
_CLAUSE_VERBS = frozenset(
    "think thinking thought say said saying says mean meant believe guess hope feel felt "
    "so such is was but and realize realized sure glad figured heard".split()
)
# "so" is an object in "I think so." and friends
_SO_VERBS = frozenset("think hope guess believe suppose said say do don't not".split())
_FILLER_PHRASES = frozenset({("i", "mean"), ("you", "know")})
# "mm-hmm" is a yes, though it is spelled with two fillers
_AFFIRMATIVE_GRUNTS = re.compile(r"\b(?:m+-?hm+|uh-huh)\b")


def _words(text: str) -> list[str]:
    text = _AFFIRMATIVE_GRUNTS.sub("yes", text.lower().replace("’", "'"))
    return _WORD.findall(text)


def is_complete_utterance(text: str) -> bool:
    """True when `text` looks like a finished sentence or question the agent may answer now."""
    stripped = text.strip()
    while stripped and stripped[-1] in _TRAILING_CLOSERS:
        stripped = stripped[:-1].rstrip()
    if not stripped or stripped.endswith(_INCOMPLETE_ENDINGS):
        return False
    words = _words(stripped)
    if not words:
        return False  # only punctuation or symbols: nothing to answer yet
    if stripped.endswith("?"):
        return True
    if all(word in OPENERS for word in words):
        return False
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if last == "so" and before in _SO_VERBS:
        return True
    if last == "that":
        return before not in _CLAUSE_VERBS
    if (before, last) in _FILLER_PHRASES:
        return False
    return last not in DANGLING_WORDS


PREAMBLE_WORDS = OPENERS | frozenset("okay ok alright oh hi hello hey".split())
_PREAMBLE_PHRASES = re.compile(
    r"\b(?:all right|let me see|let me think|let's see|i mean|you know|good question)\b")


def is_preamble(text: str) -> bool:
    """A short sentence that usually starts a turn rather than ending it: "Okay.", "Well.",
    "Let me see.", "Hi.", "Good question." ("Yes.", "Sure.", "Thursday works." are answers).

    `TurnDetector` waits longer after one of these before it answers.
    """
    words = _PREAMBLE_PHRASES.sub(" ", " ".join(_words(text))).split()
    return bool(_words(text)) and all(word in PREAMBLE_WORDS for word in words)


QUESTION_OPENERS = frozenset({
    "is", "are", "am", "was", "were", "do", "does", "did", "can", "could", "will", "would",
    "should", "shall", "may", "have", "has", "had", "what", "what's", "who", "who's", "whom",
    "whose", "which", "when", "where", "where's", "why", "how", "how's", "isn't", "aren't",
    "don't", "doesn't", "didn't", "can't", "won't", "wouldn't",
})


def is_question(text: str) -> bool:
    """A question by its mark, or by its first word: Whisper often writes "is my data secure."

    Used to end a turn without waiting past comma pauses: a question is rarely a preface.
    """
    if text.rstrip().endswith("?"):
        return True
    words = _words(text)
    return bool(words) and words[0] in QUESTION_OPENERS

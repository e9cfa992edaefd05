"""Split a stream of LLM tokens into sentences for TTS, as early as is safe.

TTS quality needs whole sentences (prosody depends on where a sentence ends); latency needs the
first audio as soon as possible. So we cut at sentence ends and, for the first chunk only, also
at a comma once the chunk has grown long: the lead hears the agent start while the rest of the
sentence is still being generated.

A cut is only decided when the character after the punctuation arrives (a space or a newline),
because "$4." may become "$4.99" and "3." may become "3.5". Every decision depends only on the
text seen so far and is made character by character, so any split of the same text into tokens
gives exactly the same chunks.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset("mr mrs ms dr prof sr jr st mt ft vs approx dept est inc ltd corp co".split())
"""Words that end in a period without ending the sentence ("Dr. Smith"). Ambiguous ones such as
"No." are absent on purpose: "No. I'm busy." is far more common on a sales call."""

_SENTENCE_END = ".!?…"
_CLOSERS = "\"')]}»”’"
_DOTTED = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Za-z]\.")  # U.S. / e.g. / a.m. / initials "J."
_LIST_MARKER = re.compile(r"\(?[0-9]{1,2}[.)]|[-*•]")


class SentenceChunker:
    """Accumulates tokens and hands out complete chunks of speakable text.

    `first_comma_chars`: the first chunk may end at a comma once it is this long (None: never).
    `clause_chars`: any chunk may end at ";" or ":" once it is this long.
    `max_chars`: a chunk with no punctuation at all is cut at the last space before this.
    """

    def __init__(self, first_comma_chars: int | None = 60, clause_chars: int = 80,
                 max_chars: int = 250) -> None:
        comma_ok = first_comma_chars is None or 0 < first_comma_chars < max_chars
        if not comma_ok or not 0 < clause_chars < max_chars:
            raise ValueError("need 0 < first_comma_chars, clause_chars < max_chars")
        self.first_comma_chars = first_comma_chars
        self.clause_chars = clause_chars
        self.max_chars = max_chars
        self._buf: list[str] = []
        self._emitted = 0

    def push(self, token: str) -> list[str]:
        """Add a token; return the chunks it completed (often none)."""
        out: list[str] = []
        for char in token:
            if char.isspace() and self._buf and self._is_boundary(char):
                self._emit(out)
                continue
            self._buf.append(char)
            if len(self._buf) > self.max_chars:
                self._cut_at_last_space(out)
        return out

    def flush(self) -> list[str]:
        """End of the LLM stream: return whatever is left (at most one chunk)."""
        out: list[str] = []
        self._emit(out)
        return out

    def reset(self) -> None:
        """Drop buffered text (the reply was cancelled by a barge-in)."""
        self._buf.clear()
        self._emitted = 0

    # ------------------------------------------------------------------------------------------

    def _emit(self, out: list[str]) -> None:
        text = "".join(self._buf).strip()
        self._buf.clear()
        if text:
            out.append(text)
            self._emitted += 1

    def _cut_at_last_space(self, out: list[str]) -> None:
        text = "".join(self._buf)
        cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
        if cut <= 0:
            return  # one enormous "word": keep it whole rather than split inside it
        self._buf = list(text[:cut])
        self._emit(out)
        self._buf = list(text[cut + 1 :])

    def _is_boundary(self, following: str) -> bool:
        text = "".join(self._buf).rstrip()
        if not text:
            return False
        if following == "\n":
            return _LIST_MARKER.fullmatch(text) is None
        core = text.rstrip(_CLOSERS)
        if not core:
            return False
        last = core[-1]
        if last in _SENTENCE_END:
            return last != "." or not self._is_abbreviation(core)
        if last in ";:":
            return len(core) >= self.clause_chars
        if last == "," and self.first_comma_chars is not None:
            return self._emitted == 0 and len(core) >= self.first_comma_chars
        return False

    @staticmethod
    def _is_abbreviation(core: str) -> bool:
        """True when the period at the end of `core` belongs to a word, not to the sentence."""
        if core.endswith(".."):
            return False  # an ellipsis ends a thought
        word = core.split()[-1].lstrip("\"'([{«“‘")
        if _DOTTED.fullmatch(word) or word[:-1].lower() in ABBREVIATIONS:
            return True
        # a list marker alone ("1.") is not a sentence
        return core == word and _LIST_MARKER.fullmatch(word) is not None


def split_sentences(text: str, *, opening: bool = True) -> list[str]:
    """Cut a whole reply exactly as streaming it through `SentenceChunker` would.

    The call session speaks sentence by sentence and the TTS cache is keyed per sentence, so
    pre-synthesis must cut fixed lines with this same function or every lookup would miss.
    `opening=False` cuts `text` as it is cut when it follows another sentence of the same reply
    ("Thanks. <line>"): no comma cut, which only the reply's first chunk gets. Chunks with
    nothing speakable (a lone ".") are dropped.
    """
    chunker = SentenceChunker() if opening else SentenceChunker(first_comma_chars=None)
    pieces = [*chunker.push(text), *chunker.flush()]
    return [p for p in pieces if any(ch.isalnum() for ch in p)]


def cacheable_sentences(lines: list[str]) -> list[str]:
    """Every chunk a call may speak `lines` as, opening a reply or following another sentence.

    A line's long first sentence is cut at a comma only when it opens the reply, so a line
    spoken after an acknowledgement ("Thanks, that's helpful. We help your SDRs ...") is a
    different chunk from the same line spoken alone; the cache needs both.
    """
    chunks = (chunk for line in lines for opening in (True, False)
              for chunk in split_sentences(line, opening=opening))
    return list(dict.fromkeys(chunks))

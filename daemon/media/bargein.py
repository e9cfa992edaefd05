"""Barge-in: what to do when the lead talks while the agent is answering or speaking.

Theory of operation
-------------------
The policy is pure: no I/O, no tasks, no clock of its own. The session tells it what the agent
is doing (`reply_started` / `reply_finished`) and what the lead is doing (the `TurnDetector`'s
speech events, quick "peek" transcripts of the utterance so far, and the utterance's final
transcript); every call returns the `Action`s it caused, in order. Time comes from the injected
`clock` (milliseconds), so tests drive it with made-up times.

Speech that starts while a reply is pending (being thought of, or playing) opens a *contest*::

    speech starts ──> Pause ──peek/length──> Interrupt | Yield        (committed: it is a turn)
                        │
                        └──lead stops, no words yet──> Resume (provisional "mhm")
                                │
                                └──final transcript──> not a backchannel: Interrupt | Yield

* `Pause` at once: the agent's audio stops reaching the lead within the player's ~100 ms
  buffer, whatever the sound turns out to be.
* A `Peek` (a quick transcript of the utterance so far) is asked for after `peek_first_ms` of
  speech and again every `peek_every_ms` while undecided. A peek holding real words, decoded
  with confidence, that are not a backchannel commits at once. Speech running past `runon_ms`
  commits too: nobody says "mhm" for that long, unless a peek surely heard exactly that
  ("okay, okay, okay", "oh, I see" said slowly): then only past `runon_listening_ms`, a
  second, which also bounds how late an interruption misheard as "okay" is committed.
* A peek that reads as a backchannel ("yeah", "okay"), or the lead falling quiet before any
  words were sure, resumes the agent where it paused. That verdict is provisional: if the lead
  falls quiet and then goes on, the agent pauses again; later peeks and `runon_ms` still
  apply; and the utterance's own final transcript decides. Nothing the
  lead says is lost: an utterance whose final transcript is not a backchannel is a turn, and
  said over the agent, an interruption.
* Committing is an `Interrupt` when the agent had been talking for a while, and a `Yield` when
  the lead resumed within `yield_window_ms` of the turn the reply answers: that turn was not
  over, so the reply is dropped (not kept in history) and the whole turn is answered. A lead
  going on right after their own turn is rarely saying "mhm", so a yield needs only
  `yield_speech_ms` of speech, no words.

An utterance that starts with no reply pending is simply a turn (`Verdict.turn`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.config import Settings

LISTENER_PHRASES = frozenset({
    "ok", "okay", "yeah", "yep", "yup", "yes", "yeah yeah", "right", "sure", "alright",
    "all right", "got it", "gotcha", "i see", "cool", "nice", "great", "true", "exactly",
    "indeed", "totally", "absolutely", "definitely", "of course", "fair enough", "makes sense",
    "i hear you", "that's right", "that's true", "uh huh", "wow", "interesting",
    "fine", "good", "perfect", "understood", "i understand", "go on", "please go on",
    "sure thing", "no worries", "for sure",
})
"""What a listener says to keep the speaker going (normalised: lowercase, no punctuation)."""

# hums and laughs as Whisper spells them: "mhm", "mm-hmm", "uh-huh", "hmm", "um", "ha ha", "heh";
# matched a hyphen-part at a time with simple patterns (no nested alternatives to backtrack in)
_SOUND_HEAD = re.compile(r"h?m+h?m*|u+[hm]+|huh|h[ae]h[aeh]*|ha|hah|heh|[ao]h+|eh|er+")
_SOUND_TAIL = re.compile(r"[mhua]+")
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
_MAX_PHRASE = max(len(p.split()) for p in LISTENER_PHRASES)


def _is_sound(word: str) -> bool:
    head, *tail = word.split("-")
    return bool(_SOUND_HEAD.fullmatch(head)) and all(_SOUND_TAIL.fullmatch(part) for part in tail)


def backchannel_words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def is_backchannel(text: str) -> bool:
    """True when `text` holds only listener sounds and phrases ("Mhm.", "Okay, okay, okay.",
    "Ha ha.", "Oh, I see."): at most three different ones, each as often as Whisper repeats it."""
    words = backchannel_words(text)
    if not words:
        return False
    seen: set[str] = set()
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + size])
            if phrase in LISTENER_PHRASES or (size == 1 and _is_sound(phrase)):
                seen.add(phrase)
                i += size
                break
        else:
            return False
    return len(seen) <= 3


@dataclass(frozen=True)
class BargeInConfig:
    """Timing and confidence of barge-in decisions (milliseconds of the lead's speech)."""

    peek_first_ms: int = 200  # speech over the agent before the first quick transcript
    peek_every_ms: int = 120  # later peeks while still undecided
    runon_ms: int = 680  # speech this long is never a backchannel...
    runon_listening_ms: int = 1000  # ...unless its words so far read as one ("okay, okay")
    yield_window_ms: int = 1500  # resuming this soon after a turn's end means it was not over
    yield_speech_ms: int = 120  # ...and this much speech then is enough to yield
    min_logprob: float = -1.3  # a peek must be at least this sure to interrupt on its own
    short_turn_ms: int = 560  # an unsure final transcript of a sound this short is no turn
    min_confidence: float = 0.3  # ...unsure meaning below this confidence

    @classmethod
    def from_settings(cls, settings: Settings) -> BargeInConfig:
        """BARGEIN_MIN_MS: speech over the agent before the first look at its words."""
        return cls(peek_first_ms=max(20, settings.bargein_min_ms))

    def __post_init__(self) -> None:
        if min(self.peek_first_ms, self.peek_every_ms, self.runon_ms, self.yield_window_ms) <= 0:
            raise ValueError("barge-in durations must be positive")
        if self.runon_listening_ms < self.runon_ms:
            raise ValueError("runon_listening_ms must be at least runon_ms")


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Stop sending agent audio (keep it: it may resume where it paused)."""


@dataclass(frozen=True)
class Resume:
    """Go on where the agent paused: the sound was a backchannel (for now)."""


@dataclass(frozen=True)
class Peek:
    """Transcribe the open utterance so far and pass it to `on_peek`."""

    speech_ms: int


@dataclass(frozen=True)
class Interrupt:
    """The lead took the floor: `clear`, cancel the reply, keep only what was heard."""

    reason: str
    after_ms: float  # since the lead's speech onset


@dataclass(frozen=True)
class Yield:
    """The lead's last turn was not over: `clear`, drop the reply, answer the whole turn."""

    reason: str
    after_ms: float


BargeInAction = Pause | Resume | Peek | Interrupt | Yield


class Verdict(enum.Enum):
    """What a finished utterance was, for the session."""

    turn = "turn"  # answer it (after an Interrupt, as a new turn; after a Yield, merged)
    backchannel = "backchannel"  # said over the agent and only "mhm": not a turn


class _Contest(enum.Enum):
    NONE = "none"  # no lead speech over a pending reply
    CHECKING = "checking"  # paused, waiting for words or length
    PROVISIONAL = "provisional"  # resumed: looked like a backchannel so far
    COMMITTED = "committed"  # interrupted or yielded


class BargeInPolicy:
    """Pure barge-in state machine for one call; see the module docstring."""

    def __init__(self, config: BargeInConfig | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.config = config or BargeInConfig()
        self._clock = clock or _no_clock
        self._reply_active = False
        self._reply_id = 0
        self._reply_turn_end: float | None = None  # when the turn the reply answers ended
        self._contest = _Contest.NONE
        self._onset = 0.0
        self._next_peek = 0
        self._paused = False
        self._quiet = False  # the lead fell quiet since its last speech
        self._listening = False  # a peek read the utterance as a backchannel, surely
        self.yielded = False  # the last commit was a Yield (merge the next turn)

    # --- the agent ----------------------------------------------------------------------------
    @property
    def reply_active(self) -> bool:
        return self._reply_active

    @property
    def contested(self) -> bool:
        """True while lead speech over the reply is being judged (audio held or provisional)."""
        return self._contest in (_Contest.CHECKING, _Contest.PROVISIONAL)

    @property
    def over_agent(self) -> bool:
        """True while the open utterance is one the lead began over the agent (being judged, or
        committed as an interrupt; not a yield, where the lead goes on with their own turn)."""
        if self._contest is _Contest.COMMITTED:
            return not self.yielded
        return self.contested

    def reply_started(self, turn_end: float | None) -> int:
        """A reply is pending (thinking or playing); `turn_end` is when the lead turn it
        answers ended (clock ms), None for lines nobody asked for (greeting, re-prompts).
        Returns the reply's id for `reply_finished`."""
        self._reply_id += 1
        self._reply_active = True
        self._reply_turn_end = turn_end
        return self._reply_id

    def reply_finished(self, reply_id: int) -> list[BargeInAction]:
        """Reply `reply_id` played out (or was cut): nothing left to pause or resume. A reply
        that is no longer the latest one changes nothing."""
        if reply_id != self._reply_id:
            return []
        self._reply_active = False
        self._reply_turn_end = None
        if self._contest is not _Contest.COMMITTED:
            self._contest = _Contest.NONE
        if self._paused:
            self._paused = False
            return [Resume()]
        return []

    # --- the lead -----------------------------------------------------------------------------
    def speech_started(self) -> list[BargeInAction]:
        self.yielded = False
        self._contest = _Contest.NONE
        if not self._reply_active:
            return []
        self._onset = self._clock()
        self._contest = _Contest.CHECKING
        self._next_peek = self.config.peek_first_ms
        self._quiet = self._listening = False
        return self._pause()

    def speech(self, speech_ms: int) -> list[BargeInAction]:
        """The open utterance now holds `speech_ms` of speech (call on every voiced frame)."""
        if self._contest not in (_Contest.CHECKING, _Contest.PROVISIONAL):
            return []
        runon = self.config.runon_listening_ms if self._listening else self.config.runon_ms
        if speech_ms >= runon:
            return self._commit(f"speech ran on ({speech_ms} ms)")
        if speech_ms >= self.config.yield_speech_ms and self._resuming_turn():
            return self._commit(f"the lead went on ({speech_ms} ms)")
        actions: list[BargeInAction] = []
        if self._contest is _Contest.PROVISIONAL and self._quiet:
            self._contest = _Contest.CHECKING  # "mhm" was not all: hold the agent again
            actions += self._pause()
        self._quiet = False
        if speech_ms >= self._next_peek:
            self._next_peek = speech_ms + self.config.peek_every_ms
            actions.append(Peek(speech_ms))
        return actions

    def speech_stopped(self) -> list[BargeInAction]:
        """The lead fell quiet (the utterance may still go on)."""
        self._quiet = True
        if self._contest is _Contest.CHECKING:
            self._contest = _Contest.PROVISIONAL
            return self._resume()
        return []

    def on_peek(self, text: str, avg_logprob: float) -> list[BargeInAction]:
        """A quick transcript of the utterance so far."""
        if self._contest not in (_Contest.CHECKING, _Contest.PROVISIONAL):
            return []
        words = backchannel_words(text)
        if all(word in _HESITATIONS for word in words):
            return []  # nothing yet, or "uh...": the start of anything
        sure = avg_logprob >= self.config.min_logprob
        if is_backchannel(text):  # "Mhm.", "Hmm.", "Okay, okay."
            self._listening = self._listening or sure  # only sure words undo a sure "okay"
            if self._contest is _Contest.CHECKING and sure:
                self._contest = _Contest.PROVISIONAL
                return self._resume()
            return []
        if sure and _has_content(words):
            return self._commit(f"words: {text.strip()[:40]!r}")
        return []

    def utterance_ended(self, text: str, speech_ms: int,
                        confidence: float) -> tuple[Verdict, list[BargeInAction]]:
        """The utterance is over (a turn or dropped); its final transcript decides."""
        contest, self._contest = self._contest, _Contest.NONE
        if contest is _Contest.COMMITTED:
            return Verdict.turn, []
        if not self._reply_active or contest is _Contest.NONE:
            # spoken into silence: every utterance with words is a turn
            return Verdict.turn, []
        unsure = confidence < self.config.min_confidence and speech_ms <= self.config.short_turn_ms
        if not text.strip() or is_backchannel(text) or (unsure and len(backchannel_words(text)) <= 3):
            return Verdict.backchannel, self._resume()
        return Verdict.turn, self._commit_actions(f"final words: {text.strip()[:40]!r}")

    def utterance_dropped(self) -> list[BargeInAction]:
        """Too short or no words at all: a cough, a click, line noise."""
        contest, self._contest = self._contest, _Contest.NONE
        if contest in (_Contest.CHECKING, _Contest.PROVISIONAL):
            return self._resume()
        return []

    # --- helpers ------------------------------------------------------------------------------
    def _pause(self) -> list[BargeInAction]:
        if self._paused:
            return []
        self._paused = True
        return [Pause()]

    def _resume(self) -> list[BargeInAction]:
        if not self._paused:
            return []
        self._paused = False
        return [Resume()]

    def _resuming_turn(self) -> bool:
        """The lead started again soon after the turn this reply answers: it was not over."""
        end = self._reply_turn_end
        return end is not None and self._onset - end <= self.config.yield_window_ms

    def _commit(self, reason: str) -> list[BargeInAction]:
        self._contest = _Contest.COMMITTED
        return self._commit_actions(reason)

    def _commit_actions(self, reason: str) -> list[BargeInAction]:
        after = self._clock() - self._onset
        self._paused = False
        self._reply_active = False
        resuming = self._resuming_turn()
        self._reply_turn_end = None
        if resuming:
            self.yielded = True
            return [Yield(reason, after)]
        self.yielded = False
        return [Interrupt(reason, after)]


_FILLERS = frozenset("uh um umm uhm er erm ah oh eh hmm hm mm m and the a so".split())
_HESITATIONS = frozenset("uh uhh um umm uhm er erm eh ah and the a so".split())
"""A peek of only these is the start of anything ("Um, actually..."): wait for more."""


def _has_content(words: list[str]) -> bool:
    """A word a lead would not make while only listening ("and", "uh" alone are not)."""
    return any(word not in _FILLERS and len(word) > 1 for word in words)


def _no_clock() -> float:
    return 0.0

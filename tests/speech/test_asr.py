"""ASR: real speech (Piper -> phone line -> faster-whisper), silence, noise, and the guards."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from agentcore.tone import VoiceSettings
from daemon.config import ConfigError
from daemon.media import mulaw
from daemon.media.bargein import is_backchannel
from daemon.speech.asr import (
    FasterWhisperASR,
    SegmentScore,
    StubASR,
    Transcript,
    WhisperCppASR,
    combine_segments,
    guard_transcript,
)
from daemon.speech.piper_tts import PiperTTS
from tests.wer import word_error_rate

pytestmark = pytest.mark.audio


async def phone_audio(piper: PiperTTS, text: str) -> np.ndarray:
    """What the daemon receives: the sentence as 8 kHz mu-law, decoded to int16."""
    return mulaw.decode(await piper.synthesize(text, VoiceSettings()))


def noise(seconds: float, level: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, level, int(8000 * seconds)).clip(-32768, 32767).astype(np.int16)


def test_word_error_rate_helper() -> None:
    assert word_error_rate("do you have a minute", "Do you have a minute?") == 0.0
    assert word_error_rate("do you have a minute", "you have a minute now") == pytest.approx(0.4)
    # a spelled acronym is one word: a wrong letter is one error, not three
    assert word_error_rate("Do you integrate with SAP?", "Do you integrate with s-a-t?") == pytest.approx(0.2)
    assert word_error_rate("Is it S.A.P. ready?", "is it sap ready") == 0.0


@pytest.mark.parametrize(
    "sentence",
    [
        "Do you have two minutes to talk about your phone bill?",
        "We can send you the pricing details by email today.",
    ],
)
async def test_spoken_sentence_round_trips(piper: PiperTTS, whisper: FasterWhisperASR, sentence: str) -> None:
    pcm = await phone_audio(piper, sentence)
    result = await whisper.transcribe(pcm)
    assert word_error_rate(sentence, result.text) <= 0.2, result.text
    assert result.dropped_reason is None
    assert result.confidence > 0.5
    assert result.audio_ms == pytest.approx(1000 * pcm.size / 8000)
    assert result.asr_ms > 0


async def test_silence_gives_empty_transcript(whisper: FasterWhisperASR) -> None:
    result = await whisper.transcribe(np.zeros(16000, dtype=np.int16))
    assert result.text == ""
    assert result.confidence == 0.0


@pytest.mark.parametrize("level", [60.0, 400.0])
async def test_line_noise_gives_empty_transcript(whisper: FasterWhisperASR, level: float) -> None:
    result = await whisper.transcribe(noise(2.0, level))
    assert result.text == "", result


async def test_confidence_lower_for_noise_than_speech(piper: PiperTTS, whisper: FasterWhisperASR) -> None:
    speech = await whisper.transcribe(await phone_audio(piper, "Yes, that sounds good to me."))
    hiss = await whisper.transcribe(noise(1.5, 900.0, seed=3))
    assert hiss.confidence < speech.confidence


async def test_transcription_does_not_block_the_event_loop(
    piper: PiperTTS, whisper: FasterWhisperASR
) -> None:
    pcm = await phone_audio(piper, "I am busy right now, call me later.")
    task = asyncio.create_task(whisper.transcribe(pcm))
    for _ in range(3):
        await asyncio.sleep(0)  # the loop keeps turning while the model runs in a thread
    assert not task.done()
    assert (await task).text


async def test_concurrent_utterances_are_transcribed_independently(
    piper: PiperTTS, whisper: FasterWhisperASR
) -> None:
    a, b = "Please call me back on Monday.", "What does it cost per month?"
    results = await asyncio.gather(
        whisper.transcribe(await phone_audio(piper, a)),
        whisper.transcribe(await phone_audio(piper, b)),
    )
    assert word_error_rate(a, results[0].text) <= 0.2
    assert word_error_rate(b, results[1].text) <= 0.2


async def test_rms_gate_skips_the_model_for_quiet_input(whisper: FasterWhisperASR) -> None:
    gated = FasterWhisperASR(min_rms=200.0, workers=1)
    try:
        result = await gated.transcribe(noise(1.0, 50.0))
        assert result.text == "" and result.dropped_reason == "below ASR_MIN_RMS"
        assert result.asr_ms == 0.0
        await gated.warmup()
    finally:
        gated.close()
    assert gated.describe() == "faster-whisper tiny.en (bundled, int8, 2 threads)"


def test_confidence_formula() -> None:
    t = combine_segments(
        [SegmentScore(" Hello there", math.log(0.9), 0.1), SegmentScore("", -5.0, 0.9)],
        audio_ms=1000,
        asr_ms=5,
    )
    assert t.text == "Hello there"
    assert t.confidence == pytest.approx(0.9 * 0.9)
    assert t.no_speech_prob == pytest.approx(0.1)
    empty = combine_segments([], audio_ms=10, asr_ms=1)
    assert (empty.text, empty.confidence, empty.no_speech_prob) == ("", 0.0, 1.0)


def _t(text: str, no_speech: float = 0.05, audio_ms: float = 1500, logprob: float = -0.2) -> Transcript:
    return Transcript(text, 0.8, logprob, no_speech, audio_ms, 10.0)


@pytest.mark.parametrize(
    ("transcript", "kept"),
    [
        (_t("Thank you.", no_speech=0.6), False),
        (_t("Thanks for watching!", audio_ms=300), False),
        (_t("you", logprob=-1.4), False),
        (_t("[BLANK_AUDIO]"), False),
        (_t("(upbeat music)"), False),
        (_t("..."), False),
        (_t("Thank you."), True),  # clear speech, long enough: a real "thank you"
        (_t("Bye."), True),
        (_t("Thank you, I'm not interested.", no_speech=0.6), True),
        (_t("I'm", no_speech=0.97, logprob=-2.3), False),  # Whisper's silence rule, any text
        (_t("I'm not sure.", no_speech=0.97, logprob=-0.5), True),  # decoder confident: keep
    ],
)
def test_hallucination_guard(transcript: Transcript, kept: bool) -> None:
    result = guard_transcript(transcript)
    assert (result.text == transcript.text) is kept
    assert (result.dropped_reason is None) is kept


async def test_stub_asr_returns_pushed_texts_in_order() -> None:
    stub = StubASR(["hello"])
    stub.push("not interested", confidence=0.6)
    silence = np.zeros(800, dtype=np.int16)
    assert (await stub.transcribe(silence)).text == "hello"
    second = await stub.transcribe(silence)
    assert (second.text, second.confidence, second.audio_ms) == ("not interested", 0.6, 100.0)
    assert (await stub.transcribe(silence)).text == ""
    assert stub.calls == 3


def test_whispercpp_without_package_or_model_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match=r"whispercpp|ASR_MODEL_PATH"):
        WhisperCppASR(None)


def test_missing_model_path_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="ASR_MODEL_PATH"):
        FasterWhisperASR("/nonexistent/model-dir")


async def test_speech_over_the_agent_is_heard_as_a_listener_would(
    piper: PiperTTS, whisper: FasterWhisperASR
) -> None:
    """`listener=True` (speech over the agent) writes hums as hums; words stay words."""
    hums = [await phone_audio(piper, "mhm") for _ in range(12)]  # Piper varies each rendition
    heard = [(await whisper.transcribe(pcm, listener=True)).text for pcm in hums]
    plain = [(await whisper.transcribe(pcm)).text for pcm in hums]
    assert sum(map(is_backchannel, heard)) > sum(map(is_backchannel, plain)), (heard, plain)
    for line in ["Sorry, wait, hold on.", "How much is it?", "Okay, but what does it cost?"]:
        transcript = await whisper.transcribe(await phone_audio(piper, line), listener=True)
        assert not is_backchannel(transcript.text), transcript
        assert word_error_rate(line, transcript.text) <= 0.25, transcript


@pytest.mark.parametrize("level", [60.0, 400.0, 900.0])
async def test_line_noise_over_the_agent_is_no_hum(whisper: FasterWhisperASR, level: float) -> None:
    result = await whisper.transcribe(noise(2.0, level, seed=11), listener=True)
    assert result.text == "", result

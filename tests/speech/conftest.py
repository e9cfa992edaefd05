"""Shared, expensive fixtures: each model is loaded once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from daemon.speech.asr import FasterWhisperASR
from daemon.speech.piper_tts import PiperTTS

from .fake_elevenlabs import FakeElevenLabs


@pytest.fixture(scope="session")
def whisper() -> Iterator[FasterWhisperASR]:
    # min_rms=0 so every test input reaches the model (the RMS gate has its own test)
    asr = FasterWhisperASR(cpu_threads=2, workers=2, min_rms=0.0)
    yield asr
    asr.close()


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    return PiperTTS()


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeElevenLabs]:
    server = FakeElevenLabs().start()
    yield server
    server.stop()


@pytest.fixture
def fake_elevenlabs(_fake_server: FakeElevenLabs) -> FakeElevenLabs:
    _fake_server.reset()
    return _fake_server

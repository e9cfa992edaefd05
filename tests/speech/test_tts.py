"""Piper streaming and cancellation, the utterance cache and prewarming (real Piper audio)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from agentcore.tone import VoiceSettings
from daemon.media import mulaw
from daemon.speech.piper_tts import LOOKAHEAD, PiperTTS
from daemon.speech.tts import FRAME_BYTES, TTSBackend
from daemon.speech.tts_cache import CachedTTS, TTSCache

pytestmark = pytest.mark.audio

VOICE = VoiceSettings()
MANY_SENTENCES = " ".join(f"This is sentence number {n}." for n in range(1, 21))


class CountingPiper(PiperTTS):
    """The real Piper backend, counting the sentences its worker thread synthesises."""

    def __init__(self, shared: PiperTTS) -> None:
        super().__init__(loaded_voice=shared._voice)
        self.sentences = 0
        self.worker_done = threading.Event()

    def _sentence_audio(self, text: str, syn_config: Any) -> Generator[npt.NDArray[np.float32], None, None]:
        try:
            for audio in super()._sentence_audio(text, syn_config):
                self.sentences += 1
                yield audio
        finally:
            self.worker_done.set()


class CountingTTS(TTSBackend):
    """Wraps a real backend and counts how often synthesis actually ran to the end."""

    def __init__(self, inner: TTSBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.started = 0
        self.completed = 0

    def cache_id(self, voice_id: str | None = None) -> str:
        return self.inner.cache_id(voice_id)

    async def stream(
        self, text: str, voice: VoiceSettings, voice_id: str | None = None, locale: str = "en-US"
    ) -> AsyncGenerator[bytes, None]:
        self.started += 1
        async with aclosing(self.inner.stream(text, voice, voice_id, locale)) as chunks:
            async for chunk in chunks:
                yield chunk
        self.completed += 1


def files(root: Path, pattern: str) -> list[Path]:
    return list(root.rglob(pattern))


def seconds(audio: bytes) -> float:
    return len(audio) / 8000


async def test_piper_streams_phone_audio_sentence_by_sentence(piper: PiperTTS) -> None:
    chunks = [c async for c in piper.stream("Hello there. How are you today?", VOICE)]
    assert len(chunks) >= 2  # the first sentence arrives on its own, before the second
    audio = b"".join(chunks)
    assert 1.0 < seconds(audio) < 6.0
    pcm = mulaw.decode(audio).astype(np.float64)
    assert np.sqrt(np.mean(pcm**2)) > 1000  # real speech level, not silence
    assert piper.sample_rate == 8000 and piper.encoding == "mulaw"


async def test_piper_speed_and_length_scale_change_pace(piper: PiperTTS) -> None:
    # Piper's durations are stochastic and part of the audio does not scale, so the settings
    # are far apart and the margins loose; the point is that the knobs reach the model
    text = "Thanks for taking my call this afternoon, I promise to keep it brief."
    fast = await piper.synthesize(text, VoiceSettings(speed=1.6))
    slow = await piper.synthesize(text, VoiceSettings(speed=0.7))
    assert seconds(slow) > seconds(fast) * 1.3
    normal = await piper.synthesize(text, VOICE)
    lead_voice = piper.with_length_scale(1.6)
    assert lead_voice.cache_id() != piper.cache_id()
    assert seconds(await lead_voice.synthesize(text, VOICE)) > seconds(normal) * 1.15


async def test_piper_empty_text_yields_nothing(piper: PiperTTS) -> None:
    assert await piper.synthesize("   ", VOICE) == b""


async def test_closing_the_stream_stops_synthesis(piper: PiperTTS) -> None:
    counting = CountingPiper(piper)
    async with aclosing(counting.stream(MANY_SENTENCES, VOICE)) as chunks:
        first = await anext(chunks)
    assert first
    assert await asyncio.to_thread(counting.worker_done.wait, 30)
    assert counting.sentences <= LOOKAHEAD + 2 < 20


async def test_cancelling_the_consumer_task_stops_synthesis(piper: PiperTTS) -> None:
    counting = CountingPiper(piper)
    got_audio = asyncio.Event()

    async def play() -> None:
        async for _chunk in counting.stream(MANY_SENTENCES, VOICE):
            got_audio.set()
            await asyncio.Event().wait()  # "playing" until barge-in cancels us

    task = asyncio.create_task(play())
    await got_audio.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(counting.worker_done.wait, 30)
    assert counting.sentences <= LOOKAHEAD + 2


async def test_cache_hit_returns_identical_audio_without_synthesis(piper: PiperTTS, tmp_path: Path) -> None:
    backend = CountingTTS(piper)
    tts = CachedTTS(backend, TTSCache(tmp_path))
    first = await tts.synthesize("Great, I will send it over.", VOICE)
    frames = [c async for c in tts.stream("Great, I will send it over.", VOICE)]
    assert b"".join(frames) == first
    assert all(len(f) == FRAME_BYTES for f in frames[:-1])
    assert (backend.started, tts.hits, tts.misses) == (1, 1, 1)
    # a fresh cache object over the same directory (daemon restart) still hits
    again = CachedTTS(backend, TTSCache(tmp_path))
    assert await again.synthesize("Great,  I will send it over.", VOICE) == first
    assert backend.started == 1


async def test_cache_key_covers_voice_settings_voice_and_locale(piper: PiperTTS, tmp_path: Path) -> None:
    backend = CountingTTS(piper)
    tts = CachedTTS(backend, TTSCache(tmp_path))
    text = "Okay."
    await tts.synthesize(text, VOICE)
    await tts.synthesize(text, VoiceSettings(stability=0.8))
    await tts.synthesize(text, VOICE, locale="en-GB")
    await tts.synthesize(text, VOICE)
    assert backend.started == 3
    key = TTSCache.key(text, "piper:x", VOICE, "en-US")
    assert key != TTSCache.key(text, "elevenlabs:m:v", VOICE, "en-US")
    assert key == TTSCache.key(" Okay. ", "piper:x", VOICE, "en-US")


async def test_prewarm_fills_the_cache(piper: PiperTTS, tmp_path: Path) -> None:
    backend = CountingTTS(piper)
    tts = CachedTTS(backend, TTSCache(tmp_path))
    lines = ["Hi, this is Sam.", "No problem at all.", "Hi, this is Sam.", "  "]
    assert await tts.prewarm(lines, VOICE, concurrency=2) == 2
    assert backend.completed == 2
    assert all(tts.is_cached(line, VOICE) for line in lines[:2])
    await tts.synthesize("No problem at all.", VOICE)
    assert backend.started == 2
    assert not files(tmp_path, ".tmp-*")  # atomic writes leave no temporaries


async def test_cancelled_stream_is_not_cached(piper: PiperTTS, tmp_path: Path) -> None:
    tts = CachedTTS(CountingPiper(piper), TTSCache(tmp_path))
    async with aclosing(tts.stream(MANY_SENTENCES, VOICE)) as chunks:
        await anext(chunks)
    assert not tts.is_cached(MANY_SENTENCES, VOICE)
    assert not files(tmp_path, "*.ulaw")


def test_cache_prunes_least_recently_used(tmp_path: Path) -> None:
    cache = TTSCache(tmp_path, max_bytes=2500, memory_bytes=0)
    for n in range(4):
        key = f"{n:02d}" + "a" * 62
        cache.put(key, bytes([n]) * 1000)
        os.utime(cache.path(key), (1_000_000 + n, 1_000_000 + n))  # written in this order
    assert cache.get("00" + "a" * 62) is not None
    assert cache.prune() == 2
    assert "00" + "a" * 62 in cache  # recently read: kept
    assert "03" + "a" * 62 in cache
    assert "01" + "a" * 62 not in cache

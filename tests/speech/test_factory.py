"""Backends chosen by configuration, and the full ElevenLabs -> Piper chain behind the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentcore.tone import VoiceSettings
from daemon.config import ConfigError, Settings
from daemon.speech.asr import StubASR
from daemon.speech.factory import build_asr, build_translator, build_tts, describe_speech
from daemon.speech.piper_tts import PiperTTS
from daemon.speech.translation import PassthroughTranslator
from daemon.speech.tts import FallbackTTS
from daemon.speech.tts_cache import CachedTTS

from .fake_elevenlabs import FakeElevenLabs

pytestmark = pytest.mark.audio  # most builds load (or share) the real Piper voice


def settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {"scrappy_data_dir": tmp_path, "elevenlabs_api_key": None}
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


def test_stub_asr_and_passthrough_translator(tmp_path: Path) -> None:
    s = settings(tmp_path, asr_backend="stub")
    assert isinstance(build_asr(s), StubASR)
    assert isinstance(build_translator(s), PassthroughTranslator)


def test_whispercpp_without_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_asr(settings(tmp_path, asr_backend="whispercpp"))


async def test_default_tts_is_cached_piper(tmp_path: Path, piper: PiperTTS) -> None:
    tts = build_tts(settings(tmp_path), piper=piper)
    assert isinstance(tts, CachedTTS) and tts.backend is piper
    assert tts.cache.root == tmp_path / "tts_cache"
    assert tts.describe() == "piper en_US-joe-medium (cached)"
    uncached = build_tts(settings(tmp_path, tts_cache_enabled=False), piper=piper)
    assert uncached is piper


def test_elevenlabs_backend_needs_a_key(tmp_path: Path, piper: PiperTTS) -> None:
    with pytest.raises(ConfigError, match="ELEVENLABS_API_KEY"):
        build_tts(settings(tmp_path, tts_backend="elevenlabs"), piper=piper)


def test_tts_backend_piper_ignores_elevenlabs_key(tmp_path: Path, piper: PiperTTS) -> None:
    s = settings(tmp_path, tts_backend="piper", elevenlabs_api_key="k")
    assert build_tts(s, piper=piper).describe() == "piper en_US-joe-medium (cached)"


async def test_elevenlabs_chain_with_cache(
    tmp_path: Path, piper: PiperTTS, fake_elevenlabs: FakeElevenLabs
) -> None:
    reasons: list[str] = []
    s = settings(
        tmp_path,
        elevenlabs_api_key="k",
        elevenlabs_base_url=fake_elevenlabs.base_url,
        elevenlabs_use_ws_tts=True,
    )
    tts = build_tts(s, on_fallback=reasons.append, piper=piper)
    assert isinstance(tts, FallbackTTS)
    assert [link.name for link in tts.links] == ["elevenlabs-ws", "elevenlabs-rest", "piper"]
    assert tts.describe().startswith("elevenlabs ws ulaw_8000 (eleven_flash_v2_5) (cached) -> ")
    try:
        await tts.warm_connection()
        voice = VoiceSettings()
        first = await tts.synthesize("Thanks for your time today.", voice)
        assert first == fake_elevenlabs.audio
        sessions = len(fake_elevenlabs.ws_sessions)
        # a cached line is served from disk, even by the REST link while WS is down
        fake_elevenlabs.ws_mode = "reject"
        assert await tts.synthesize("Thanks for your time today.", voice) == first
        assert len(fake_elevenlabs.ws_sessions) == sessions
        assert fake_elevenlabs.rest_calls == [] and reasons == []
    finally:
        await tts.links[0].close()
        await tts.links[1].close()
    lines = describe_speech(StubASR(), tts, PassthroughTranslator())
    assert lines["tts"].endswith("piper en_US-joe-medium (cached)")
    assert lines["translation"] == "passthrough"

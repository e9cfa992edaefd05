"""Build the configured speech backends from `Settings` (one place that reads ASR_*, TTS_*,
ELEVENLABS_*, PIPER_*, TRANSLATION_*).

The daemon calls these once at start-up and shares the results across calls: models are
loaded here, not per call. With no configuration the result is fully local: faster-whisper
tiny.en, Piper en_US-joe-medium behind the disk cache, no translation.
"""

from __future__ import annotations

from daemon.config import ConfigError, Settings
from daemon.speech.asr import ASRBackend, FasterWhisperASR, StubASR, WhisperCppASR
from daemon.speech.piper_tts import PiperTTS
from daemon.speech.translation import Translator, create_translator
from daemon.speech.tts import FallbackCallback, FallbackTTS, TTSBackend
from daemon.speech.tts_cache import CachedTTS, TTSCache


def build_asr(settings: Settings) -> ASRBackend:
    """ASR_BACKEND: faster-whisper (default; ASR_MODEL_PATH or bundled tiny.en) | whispercpp
    (needs ASR_MODEL_PATH) | stub (tests)."""
    if settings.asr_backend == "stub":
        return StubASR()
    if settings.asr_backend == "whispercpp":
        return WhisperCppASR(
            settings.asr_model_path,
            cpu_threads=settings.asr_cpu_threads,
            workers=settings.asr_workers,
            min_rms=settings.asr_min_rms,
        )
    return FasterWhisperASR(
        settings.asr_model_path,
        cpu_threads=settings.asr_cpu_threads,
        workers=settings.asr_workers,
        min_rms=settings.asr_min_rms,
    )


def build_tts(
    settings: Settings,
    on_fallback: FallbackCallback | None = None,
    *,
    piper: PiperTTS | None = None,
) -> TTSBackend:
    """The TTS chain: ElevenLabs (WS when ELEVENLABS_USE_WS_TTS, then REST) -> Piper when an
    ElevenLabs key is set and TTS_BACKEND allows it, else Piper alone; each link behind the
    disk cache when TTS_CACHE_ENABLED. Pass `piper` to share an already loaded voice."""
    if settings.tts_backend == "elevenlabs" and not settings.elevenlabs_api_key:
        raise ConfigError("TTS_BACKEND=elevenlabs needs ELEVENLABS_API_KEY")
    local = piper if piper is not None else PiperTTS(settings.piper_voice_path)
    cache = TTSCache(settings.tts_cache_path) if settings.tts_cache_enabled else None

    def cached(backend: TTSBackend) -> TTSBackend:
        return CachedTTS(backend, cache) if cache is not None else backend

    if not settings.elevenlabs_enabled or not settings.elevenlabs_api_key:
        return cached(local)

    from daemon.speech.elevenlabs_tts import ElevenLabsRestTTS, ElevenLabsWsTTS

    key, base_url = settings.elevenlabs_api_key, settings.elevenlabs_base_url
    model_id, voice_id = settings.elevenlabs_model_id, settings.elevenlabs_default_voice_id
    links: list[TTSBackend] = []
    if settings.elevenlabs_use_ws_tts:
        links.append(ElevenLabsWsTTS(key, base_url=base_url, model_id=model_id, default_voice_id=voice_id))
    links.append(ElevenLabsRestTTS(key, base_url=base_url, model_id=model_id, default_voice_id=voice_id))
    links.append(local)
    return FallbackTTS([cached(link) for link in links], on_fallback=on_fallback)


def build_translator(settings: Settings) -> Translator:
    """TRANSLATION_BACKEND: passthrough (default) | nllb (NLLB_MODEL) | bhashini."""
    return create_translator(settings)


def describe_speech(asr: ASRBackend, tts: TTSBackend, translator: Translator) -> dict[str, str]:
    """One line per concern for `scrappy status`."""
    return {"asr": asr.describe(), "tts": tts.describe(), "translation": translator.describe()}

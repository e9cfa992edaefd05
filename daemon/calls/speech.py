"""The daemon's speech models, loaded once and shared by every call.

`speaker_for(strategy)` gives a call its TTS source with the persona's voice settings bound, and
`prewarm(strategy)` synthesises every line the playbook may say into the TTS cache, in the
background at ingest, so playbook replies start at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from agentcore.strategy import Strategy
from agentcore.tone import VoiceSettings, voice_settings_for
from daemon.config import Settings
from daemon.media.chunker import cacheable_sentences
from daemon.speech.asr import ASRBackend
from daemon.speech.piper_tts import PiperTTS
from daemon.speech.translation import Translator
from daemon.speech.tts import TTSBackend

log = logging.getLogger(__name__)
MAX_PREWARM_SENTENCES = 400  # ~1-2 min of Piper on two cores; the shipped strategies need ~100

LEAD_LENGTH_SCALE = 1.25  # simulated leads talk slower than the agent, so they sound different


@dataclass
class SpeechStack:
    asr: ASRBackend
    tts: TTSBackend
    translator: Translator
    piper: PiperTTS

    @classmethod
    async def load(cls, settings: Settings, on_fallback: Callable[[str], Any] | None = None) -> SpeechStack:
        from daemon.speech.factory import build_asr, build_translator, build_tts

        def load_models() -> tuple[ASRBackend, PiperTTS]:
            return build_asr(settings), PiperTTS(settings.piper_voice_path, workers=2)

        asr, piper = await asyncio.to_thread(load_models)
        tts = build_tts(settings, on_fallback, piper=piper)
        stack = cls(asr=asr, tts=tts, translator=build_translator(settings), piper=piper)
        await asyncio.gather(asr.warmup(), piper.warmup())
        return stack

    def lead_voice(self) -> TTSBackend:
        """A slower variant of the bundled voice for simulated leads (shares the loaded model)."""
        return self.piper.with_length_scale(LEAD_LENGTH_SCALE)

    @staticmethod
    def voice_of(strategy: Strategy) -> VoiceSettings:
        return voice_settings_for(strategy.persona.tone, strategy.persona.tone_override)

    def speaker_for(self, strategy: Strategy) -> Callable[[str], AsyncIterator[bytes]]:
        voice = self.voice_of(strategy)
        persona = strategy.persona
        translator, tts = self.translator, self.tts

        async def speak(text: str) -> AsyncIterator[bytes]:
            spoken = await translator.from_english(text, persona.locale)
            async for chunk in tts.stream(spoken, voice, persona.voice_id, persona.locale):
                yield chunk

        return speak

    async def prewarm(self, lines: list[str], strategy: Strategy) -> int:
        """Synthesise the sentences of `lines` into the cache (cut as calls speak them), at
        most `MAX_PREWARM_SENTENCES` per strategy: the rest is synthesised when first said."""
        persona = strategy.persona
        sentences = cacheable_sentences(lines)
        if len(sentences) > MAX_PREWARM_SENTENCES:
            log.warning("strategy %r has %d sentences to pre-synthesise; caching the first %d",
                        strategy.title, len(sentences), MAX_PREWARM_SENTENCES)
            sentences = sentences[:MAX_PREWARM_SENTENCES]
        spoken = [await self.translator.from_english(s, persona.locale) for s in sentences]
        count = await self.tts.prewarm(spoken, self.voice_of(strategy), persona.voice_id,
                                       persona.locale)
        log.info("pre-synthesised %d of %d sentences for %r", count, len(spoken), strategy.title)
        return count

    def describe(self) -> dict[str, str]:
        return {"asr": self.asr.describe(), "tts": self.tts.describe(),
                "translation": self.translator.describe()}

    async def close(self) -> None:
        self.asr.close()
        await self.tts.close()
        await self.translator.close()

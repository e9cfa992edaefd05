"""Text to phone audio: the `TTSBackend` interface and the `FallbackTTS` chain.

Every backend speaks the phone's format directly: G.711 mu-law, 8 kHz, mono, as byte chunks
yielded as soon as they exist, so the call can start playing the first words while the rest
is still being made. Chunks have arbitrary lengths (Piper: one per sentence; ElevenLabs: as
the network delivers); the media layer frames them.

Stopping early: a consumer that stops iterating (barge-in) should close the stream, either by
cancelling the task that iterates or with `contextlib.aclosing(tts.stream(...))`; every
backend then stops synthesising promptly and releases its thread, socket or HTTP response.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing

from agentcore.tone import VoiceSettings

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
ENCODING = "mulaw"
OUTPUT_FORMAT = "ulaw_8000"  # ElevenLabs' name for it; also part of cache keys
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law

FallbackCallback = Callable[[str], Awaitable[None] | None]


class TTSError(RuntimeError):
    """A backend could not produce audio (provider error, bad response, closed socket)."""


def split_frames(audio: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Cut mu-law audio into `size`-byte chunks (the last may be shorter)."""
    return [audio[i : i + size] for i in range(0, len(audio), size)]


class TTSBackend(ABC):
    """Text in, 8 kHz mu-law chunks out."""

    name: str = "tts"
    sample_rate: int = SAMPLE_RATE
    encoding: str = ENCODING

    @abstractmethod
    def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        """Yield mu-law 8 kHz chunks for `text`, the first as early as possible.

        `voice_id` picks a provider voice (persona setting; ignored by single-voice backends)
        and `locale` (e.g. "en-US", "hi-IN") the language.
        """

    def cache_id(self, voice_id: str | None = None) -> str:
        """Identity of the audio this backend makes for `voice_id`, for cache keys.

        Two backends with the same id must produce interchangeable audio for the same text and
        settings (ElevenLabs REST and WebSocket share one).
        """
        return self.name

    async def synthesize(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> bytes:
        """The whole utterance as one mu-law buffer."""
        parts: list[bytes] = []
        async with aclosing(self.stream(text, voice, voice_id, locale)) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
        return b"".join(parts)

    async def prewarm(
        self,
        texts: Iterable[str],
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
        concurrency: int = 1,
    ) -> int:
        """Synthesise `texts` ahead of time (through a cache, this fills it); returns successes.

        Meant to run as a background task at strategy ingest or call start. Failures are
        logged and skipped: prewarming is an optimisation, never a reason to fail a call.
        """
        unique = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(text: str) -> bool:
            async with gate:
                try:
                    await self.synthesize(text, voice, voice_id, locale)
                except Exception as exc:  # prewarm must never break the caller
                    log.warning("TTS prewarm failed for %r: %s", text[:60], exc)
                    return False
                return True

        results = await asyncio.gather(*(one(t) for t in unique))
        return sum(results)

    async def warm_connection(  # noqa: B027 - optional hook
            self, voice_id: str | None = None, locale: str = "en-US") -> None:
        """Open provider connections before they are needed (call start). No-op by default."""

    async def warmup(self) -> None:  # noqa: B027 - optional hook
        """Run the local model once so the first utterance is not slow. No-op by default."""

    def describe(self) -> str:
        return self.name

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads, sockets and HTTP clients."""


class FallbackTTS(TTSBackend):
    """Try each backend in order (e.g. ElevenLabs WS -> REST -> Piper) until one speaks.

    A link that fails before yielding audio (error, or nothing within `first_audio_timeout_s`)
    is skipped and the same text goes to the next link; `on_fallback(reason)` is called each
    time. A link that fails after audio went out cannot be retried without repeating words,
    so that utterance ends short (also reported). A failed link is then skipped for
    `cooldown_s` so later sentences do not each pay the failure's latency; the last link is
    never skipped.
    """

    name = "fallback"

    def __init__(
        self,
        links: Sequence[TTSBackend],
        *,
        on_fallback: FallbackCallback | None = None,
        first_audio_timeout_s: float = 5.0,
        cooldown_s: float = 30.0,
    ) -> None:
        if not links:
            raise ValueError("FallbackTTS needs at least one backend")
        self.links = list(links)
        self.on_fallback = on_fallback
        self._first_audio_timeout_s = first_audio_timeout_s
        self._cooldown_s = cooldown_s
        self._down_until = [0.0] * len(self.links)

    async def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        last = len(self.links) - 1
        for index, link in enumerate(self.links):
            if index < last and time.monotonic() < self._down_until[index]:
                continue
            yielded = False
            try:
                async with aclosing(link.stream(text, voice, voice_id, locale)) as chunks:
                    async with asyncio.timeout(self._first_audio_timeout_s):
                        first = await anext(chunks, None)
                    if first is None:  # silence is a failure too, unless no one else can speak
                        if index == last:
                            return
                        raise RuntimeError("no audio")
                    yielded = True
                    yield first
                    async for chunk in chunks:
                        yield chunk
                return
            except Exception as exc:
                if index == last:
                    raise
                self._down_until[index] = time.monotonic() + self._cooldown_s
                reason = _describe_failure(exc)
                if yielded:
                    await self._report(f"{link.name} failed mid-utterance ({reason}); cut short")
                    return
                await self._report(f"{link.name} failed ({reason}); using {self._next(index).name}")

    def _next(self, index: int) -> TTSBackend:
        """The link that will get the text after link `index` fails."""
        now = time.monotonic()
        for later in range(index + 1, len(self.links) - 1):
            if now >= self._down_until[later]:
                return self.links[later]
        return self.links[-1]

    async def _report(self, reason: str) -> None:
        log.warning("TTS fallback: %s", reason)
        if self.on_fallback is None:
            return
        result = self.on_fallback(reason)
        if inspect.isawaitable(result):
            await result

    def cache_id(self, voice_id: str | None = None) -> str:
        return self.links[0].cache_id(voice_id)

    async def warm_connection(self, voice_id: str | None = None, locale: str = "en-US") -> None:
        for link in self.links:
            try:
                await link.warm_connection(voice_id, locale)
            except Exception as exc:  # warming is best effort; stream() falls back anyway
                log.warning("TTS %s could not pre-connect: %s", link.name, exc)

    async def warmup(self) -> None:
        for link in self.links:
            await link.warmup()

    def describe(self) -> str:
        return " -> ".join(link.describe() for link in self.links)

    async def close(self) -> None:
        for link in self.links:
            await link.close()


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no audio in time"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__

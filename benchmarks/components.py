"""Component benchmarks: each stage of the call pipeline measured alone, in this process.

These run before the daemon starts, so nothing else competes for the cores. Each number is
chosen to answer a capacity question: a call needs 50 inbound frames a second decoded, classified
and parsed, and 50 outbound frames encoded, so throughputs are also given as "calls' worth"
(how many calls one core could feed at that rate). The heavy stages (ASR, TTS, store) use the
same factories as the daemon, so `ASR_*`, `ELEVENLABS_*`, `TTS_*` settings in the environment
change what is measured, and the result names the backend it measured.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agentcore.tone import VoiceSettings
from benchmarks.stats import summarise
from daemon.media import mulaw
from daemon.media.vad import FrameClassifier
from daemon.telephony import codec

FRAMES_PER_CALL_S = 50  # 20 ms frames each way
PHONE_RATE = 8000
ASR_UTTERANCE_S = 3.0
ASR_TEXT = "We mostly use spreadsheets and a shared inbox for that."
# one sentence each: the call's audio player asks the TTS for one sentence at a time
TTS_TEXTS = (
    "We start at four hundred ninety nine dollars a month with volume discounts.",
    "Would a short demo tomorrow morning be worth a closer look?",
)
STREAM_SID = "MZ" + "0" * 32


@dataclass(frozen=True)
class Effort:
    """How hard to measure: seconds per micro-benchmark and iterations per model benchmark."""

    micro_s: float = 0.5
    asr_runs: int = 6
    tts_runs: int = 4
    store_writes: int = 200

    @classmethod
    def quick(cls) -> Effort:
        return cls(micro_s=0.2, asr_runs=3, tts_runs=2, store_writes=60)

    @classmethod
    def tiny(cls) -> Effort:
        """For smoke tests: proves the code runs, measures nothing worth publishing."""
        return cls(micro_s=0.01, asr_runs=1, tts_runs=1, store_writes=5)


def ops_per_second(fn: Callable[[], object], min_s: float, repeats: int = 3) -> float:
    """Median over `repeats` of calls per second of `fn`, each repeat lasting >= `min_s`."""
    rates: list[float] = []
    for _ in range(repeats):
        count, started = 0, time.perf_counter()
        batch = 1
        while True:
            for _ in range(batch):
                fn()
            count += batch
            elapsed = time.perf_counter() - started
            if elapsed >= min_s:
                break
            batch = min(batch * 2, 10_000)
        rates.append(count / elapsed)
    return statistics.median(rates)


def _speechlike_pcm(seconds: float, seed: int = 7) -> npt.NDArray[np.int16]:
    """Deterministic voiced-sounding audio (harmonics with a syllable-rate envelope) + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * PHONE_RATE)) / PHONE_RATE
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560), 1))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    pcm = 6000 * voice * envelope + rng.normal(0, 300, t.size)
    return np.clip(pcm, -32768, 32767).astype(np.int16)


def mulaw_bench(effort: Effort) -> dict[str, Any]:
    """Bulk (1 s buffers) and per-frame (160 B, as the call session decodes) mu-law rates."""
    pcm = _speechlike_pcm(1.0)
    law = mulaw.encode(pcm)
    frame = law[:160]
    decode = ops_per_second(lambda: mulaw.decode(law), effort.micro_s)
    encode = ops_per_second(lambda: mulaw.encode(pcm), effort.micro_s)
    frame_decode = ops_per_second(lambda: mulaw.decode(frame), effort.micro_s)
    return {
        "decode_mb_s": round(decode * len(law) / 1e6, 1),
        "encode_mb_s": round(encode * len(law) / 1e6, 1),
        "frame_decode_per_s": round(frame_decode),
        "frame_decode_calls_per_core": round(frame_decode / FRAMES_PER_CALL_S),
        "unit": "MB/s of mu-law bytes (1 s buffers); frames of 160 bytes",
    }


def vad_bench(effort: Effort) -> dict[str, Any]:
    """webrtcvad + energy gate on 20 ms frames, the per-frame cost of every inbound stream."""
    pcm = _speechlike_pcm(2.0)
    frames = [pcm[i:i + 160] for i in range(0, pcm.size - 159, 160)]
    classifier = FrameClassifier(aggressiveness=2, min_rms=200.0)
    position = [0]

    def one() -> None:
        classifier.is_speech(frames[position[0] % len(frames)])
        position[0] += 1

    rate = ops_per_second(one, effort.micro_s)
    return {"frames_per_s": round(rate), "calls_per_core": round(rate / FRAMES_PER_CALL_S)}


def codec_bench(effort: Effort) -> dict[str, Any]:
    """Parse inbound Twilio `media` JSON; build outbound `media` JSON (both carry 160 B)."""
    payload = mulaw.encode(_speechlike_pcm(0.02))
    inbound = codec.twilio_media(STREAM_SID, 42, 41, 800, payload)
    parse = ops_per_second(lambda: codec.parse(inbound), effort.micro_s)
    build = ops_per_second(lambda: codec.media_message(STREAM_SID, payload), effort.micro_s)
    return {
        "parse_per_s": round(parse),
        "encode_per_s": round(build),
        "calls_per_core": round(1 / (FRAMES_PER_CALL_S / parse + FRAMES_PER_CALL_S / build)),
    }


def _fit(pcm: npt.NDArray[np.int16], seconds: float) -> npt.NDArray[np.int16]:
    """Cut or pad (with silence) to exactly `seconds`."""
    size = int(seconds * PHONE_RATE)
    if pcm.size >= size:
        return pcm[:size]
    return np.concatenate([pcm, np.zeros(size - pcm.size, np.int16)])


async def asr_bench(effort: Effort, piper: Any = None) -> dict[str, Any]:
    """Latency and real-time factor of one 3 s utterance, Piper-spoken and sent via 8 kHz.

    Also the throughput with four utterances in flight: the ceiling on how many lead turns per
    second the daemon's ASR pool can finish, which bounds concurrent calls.
    """
    from daemon.config import load_settings
    from daemon.speech.factory import build_asr
    from daemon.speech.piper_tts import PiperTTS

    voice = piper or PiperTTS()
    audio = await voice.synthesize(ASR_TEXT, VoiceSettings())
    speech_ms = 1000.0 * len(audio) / PHONE_RATE
    pcm = _fit(mulaw.decode(audio), ASR_UTTERANCE_S)
    asr = await asyncio.to_thread(build_asr, load_settings(asr_min_rms=0.0))
    try:
        await asr.warmup()
        latencies: list[float] = []
        text = ""
        for _ in range(effort.asr_runs):
            started = time.perf_counter()
            result = await asr.transcribe(pcm)
            latencies.append(1000.0 * (time.perf_counter() - started))
            text = result.text
        burst = 4
        started = time.perf_counter()
        await asyncio.gather(*(asr.transcribe(pcm) for _ in range(burst)))
        throughput = burst / (time.perf_counter() - started)
        latency = summarise(latencies)
        return {
            "backend": asr.describe(),
            "audio_ms": ASR_UTTERANCE_S * 1000,
            "speech_ms": round(speech_ms),
            "latency_ms": latency.to_dict(),
            "rtf": round((latency.p50 or 0.0) / (ASR_UTTERANCE_S * 1000), 3),
            "utterances_per_s": round(throughput, 2),
            "transcript": text,
        }
    finally:
        asr.close()


async def _first_and_total(stream: AsyncIterator[bytes]) -> tuple[float, float, int]:
    """(ms to the first chunk, ms to the last, bytes) of a TTS stream not yet started."""
    started = time.perf_counter()
    first: float | None = None
    size = 0
    async for chunk in stream:
        if first is None and chunk:
            first = time.perf_counter() - started
        size += len(chunk)
    total = time.perf_counter() - started
    return 1000.0 * (first if first is not None else total), 1000.0 * total, size


async def tts_bench(effort: Effort) -> dict[str, Any]:
    """Time to first audio and real-time factor of the configured TTS, uncached; plus a hit.

    Uncached is what a novel LLM sentence costs; the cache hit is what a pre-synthesised
    playbook line costs (the daemon's default path for playbook replies).
    """
    from daemon.config import load_settings
    from daemon.speech.factory import build_tts
    from daemon.speech.tts_cache import CachedTTS, TTSCache

    voice = VoiceSettings()
    tts = await asyncio.to_thread(build_tts, load_settings(tts_cache_enabled=False))
    try:
        await tts.warmup()
        firsts, rtfs = [], []
        for run in range(effort.tts_runs):
            text = TTS_TEXTS[run % len(TTS_TEXTS)]
            first, total, size = await _first_and_total(tts.stream(text, voice))
            firsts.append(first)
            if size:
                rtfs.append(total / (1000.0 * size / PHONE_RATE))
        with tempfile.TemporaryDirectory(prefix="scrappy-bench-tts-") as tmp:
            cached = CachedTTS(tts, TTSCache(Path(tmp)))
            await cached.synthesize(TTS_TEXTS[0], voice)
            hits = [
                (await _first_and_total(cached.stream(TTS_TEXTS[0], voice)))[0]
                for _ in range(max(3, effort.tts_runs))
            ]
        return {
            "backend": tts.describe(),
            "first_audio_ms": summarise(firsts).to_dict(),
            "rtf": summarise(rtfs).to_dict(3),
            "cache_hit_first_audio_ms": summarise(hits).to_dict(2),
        }
    finally:
        await tts.close()


async def store_bench(effort: Effort) -> dict[str, Any]:
    """`upsert_turn` latency against the store the daemon would use (embedded by default)."""
    from daemon.config import load_settings
    from daemon.store.calls import CallRepository
    from daemon.store.database import Database

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="scrappy-bench-db-") as tmp:
        db = await Database.open(settings.mongodb_url, "scrappy_bench", Path(tmp))
        try:
            await db.ensure_indexes()
            calls = CallRepository(db.db)
            latencies: list[float] = []
            call_id = f"bench_{time.time_ns()}"
            for index in range(effort.store_writes):
                turn = {
                    "index": index, "role": "agent" if index % 2 else "lead",
                    "text": "We start at $499/mo with volume discounts.",
                    "started_at": datetime.now(UTC), "interrupted": False, "confidence": 0.8,
                    "latency_ms": {"endpoint": 300, "asr": 200.0, "llm_first_token": 2.0,
                                   "tts_first_audio": 5.0, "total": 320.0},
                    "stage": "discovery",
                }
                started = time.perf_counter()
                await calls.upsert_turn(call_id, turn)
                latencies.append(1000.0 * (time.perf_counter() - started))
            if settings.mongodb_url:
                await db.db["turns"].delete_many({"call_id": call_id})
            return {"backend": db.description.split(" (")[0],
                    "upsert_turn_ms": summarise(latencies).to_dict(2)}
        finally:
            await db.close()


Section = Callable[[], Awaitable[dict[str, Any]]]


async def run_components(effort: Effort, progress: Callable[[str], None] = lambda _m: None,
                         only: set[str] | None = None) -> dict[str, Any]:
    """Every component benchmark; a failing one is reported as an error, not fatal."""

    async def sync(fn: Callable[[Effort], dict[str, Any]]) -> dict[str, Any]:
        return fn(effort)

    sections: dict[str, Section] = {
        "mulaw": lambda: sync(mulaw_bench),
        "vad": lambda: sync(vad_bench),
        "codec": lambda: sync(codec_bench),
        "asr": lambda: asr_bench(effort),
        "tts": lambda: tts_bench(effort),
        "store": lambda: store_bench(effort),
    }
    results: dict[str, Any] = {}
    for name, section in sections.items():
        if only is not None and name not in only:
            continue
        progress(f"component: {name}")
        try:
            results[name] = await section()
        except Exception as exc:  # one broken backend must not hide the other numbers
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results

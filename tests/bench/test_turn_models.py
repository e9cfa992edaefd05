"""The turn-model benchmark's pieces: smart-turn inference (when its weights are on this machine),
onset confirmation and decision points. Fast: no corpus, no ASR."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.turn_models import (
    Clip,
    SileroV6,
    SmartTurn,
    confirm_onsets,
    eot_samples,
    smart_turn_path,
    to_16k,
)


def _voice_like(ms: int, rate: int = 8000) -> np.ndarray:
    """A 140 Hz harmonic buzz with a syllable-rate envelope: enough to drive the models."""
    t = np.arange(rate * ms // 1000) / rate
    buzz = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    return (3000 * buzz * envelope / 3).astype(np.int16)


def test_smart_turn_returns_a_probability() -> None:
    path = smart_turn_path()
    if path is None:
        pytest.skip("smart-turn-v3.2-cpu.onnx not on this machine (python -m benchmarks.turn_models --fetch)")
    model = SmartTurn(path, threads=1)
    pcm = np.concatenate([np.zeros(1600, np.int16), _voice_like(1200), np.zeros(1600, np.int16)])
    features = model.features(to_16k(pcm))
    assert features.shape == (80, 800) and features.dtype == np.float32
    probability = model.predict(pcm)
    assert 0.0 <= probability <= 1.0


def test_silero_v6_streams_probabilities() -> None:
    vad = SileroV6()
    probabilities = vad.probabilities(np.zeros(8000, np.int16))
    assert len(probabilities) == 31  # 16,000 samples / 512 per window
    assert all(0.0 <= p <= 1.0 for p in probabilities) and max(probabilities) < 0.5


def test_confirm_onsets_needs_80_ms_and_tolerates_short_gaps() -> None:
    flags = [False] * 5 + [True, True, False, True, True] + [False] * 10 + [True] * 3 + [False] * 5
    onsets = confirm_onsets(flags, frame_ms=20)
    assert [(o.first_ms, o.confirmed_ms) for o in onsets] == [(100, 200)]  # the 60 ms blip is noise
    # with 32 ms windows, 80 ms means three windows
    assert confirm_onsets([True, True, False, False, False], 32) == []
    assert confirm_onsets([True, True, True], 32)[0].confirmed_ms == 96


def test_decision_points_label_pauses_incomplete_and_ends_complete() -> None:
    audio = np.zeros(8 * 3000, np.int16)
    clip = Clip("mp-1", "multipart", ["I'd be open to it,", "if it works."], "piper", "clean", "tune",
                audio, [(300, 1000), (1350, 2500)])
    short = Clip("mp-2", "multipart", ["Okay.", "So what does it do?"], "piper", "clean", "tune",
                 audio, [(300, 600), (1100, 2000)])
    samples = eot_samples([clip, short], offsets=(200, 400))
    pauses = [(s.clip.id, s.offset_ms, s.cut_ms) for s in samples if s.kind == "pause"]
    # the 350 ms pause is too short to decide 400 ms into it; the 500 ms one is not
    assert pauses == [("mp-1", 200, 1200), ("mp-2", 200, 800), ("mp-2", 400, 1000)]
    ends = [s for s in samples if s.kind == "end"]
    assert [s.cut_ms for s in ends] == [2700, 2900, 2200, 2400] and all(s.complete for s in ends)
    # audio runs from 200 ms before the first word to the decision point, padded past the tail
    assert ends[1].audio().size == 8 * (2900 - 100)
    assert [s.extra["sentence_done"] for s in samples if s.kind == "pause"] == [False, True, True]

"""FrameClassifier: both gates must agree; input is checked. (Real speech: test_turns_audio.)"""

from __future__ import annotations

import numpy as np
import pytest

from daemon.media.vad import FRAME_SAMPLES, FrameClassifier, frame_rms


def test_rms_of_known_signals() -> None:
    assert frame_rms(np.zeros(FRAME_SAMPLES, dtype=np.int16)) == 0.0
    assert frame_rms(np.full(FRAME_SAMPLES, -300, dtype=np.int16)) == pytest.approx(300.0)
    square = np.tile(np.array([1000, -1000], dtype=np.int16), FRAME_SAMPLES // 2)
    assert frame_rms(square) == pytest.approx(1000.0)
    assert frame_rms(np.zeros(0, dtype=np.int16)) == 0.0


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_silence_is_never_speech(mode: int) -> None:
    classifier = FrameClassifier(mode, min_rms=0.0)
    assert not any(classifier.is_speech(np.zeros(FRAME_SAMPLES, dtype=np.int16)) for _ in range(20))


def test_loud_but_not_voice_is_rejected_by_webrtcvad() -> None:
    # a DC offset passes the energy gate easily; webrtcvad learns it is not a voice
    classifier = FrameClassifier(2, min_rms=200.0)
    frame = np.full(FRAME_SAMPLES, 3000, dtype=np.int16)
    verdicts = [classifier.is_speech(frame) for _ in range(50)]
    assert classifier.last_rms == pytest.approx(3000.0)
    assert not any(verdicts[10:])


def test_the_gate_is_applied_before_webrtcvad() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 150, FRAME_SAMPLES).astype(np.int16)  # webrtcvad calls this speech
    assert FrameClassifier(0, min_rms=0.0).is_speech(noise)
    assert not FrameClassifier(0, min_rms=200.0).is_speech(noise)
    assert FrameClassifier(0, min_rms=100.0).is_speech(noise)


@pytest.mark.parametrize("samples", [0, 80, 159, 161, 240, 320])
def test_frames_must_be_20_ms(samples: int) -> None:
    with pytest.raises(ValueError, match="160"):
        FrameClassifier().is_speech(np.zeros(samples, dtype=np.int16))


@pytest.mark.parametrize(("mode", "rms"), [(-1, 0.0), (4, 0.0), (2, -1.0)])
def test_bad_settings_are_rejected(mode: int, rms: float) -> None:
    with pytest.raises(ValueError):
        FrameClassifier(mode, rms)

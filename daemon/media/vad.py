"""Per-frame speech / non-speech decision for 20 ms of 8 kHz phone audio.

Two tests must both pass for a frame to count as speech:

* webrtcvad's GMM classifier, which tells voice from steady noise but happily calls very quiet
  breathing or far-away TV "speech" at low aggressiveness;
* an energy gate (RMS >= `ASR_MIN_RMS`), which rejects those quiet frames but cannot tell a
  loud hum from a voice on its own.

The result feeds `TurnDetector`, which turns the per-frame booleans into turns.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import webrtcvad

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160


def frame_rms(frame: npt.NDArray[np.int16]) -> float:
    """Root-mean-square level of int16 samples (0 for an empty frame)."""
    if frame.size == 0:
        return 0.0
    samples = frame.astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


class FrameClassifier:
    """Classify one 20 ms frame as speech; holds a webrtcvad instance (cheap, not thread-safe).

    `aggressiveness` is webrtcvad's mode, 0 (keeps the most speech) to 3 (rejects the most
    noise); `min_rms` is the energy gate. One classifier per call.
    """

    def __init__(self, aggressiveness: int = 2, min_rms: float = 200.0) -> None:
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        if min_rms < 0:
            raise ValueError(f"min_rms must be >= 0, got {min_rms}")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.aggressiveness = aggressiveness
        self.min_rms = min_rms
        self.last_rms = 0.0
        """Level of the last classified frame, for diagnostics and live meters."""

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool:
        """True when `frame` (160 int16 samples at 8 kHz) is loud enough and sounds like voice."""
        pcm = np.asarray(frame, dtype=np.int16)
        if pcm.shape != (FRAME_SAMPLES,):
            raise ValueError(f"expected {FRAME_SAMPLES} samples, got shape {pcm.shape}")
        self.last_rms = frame_rms(pcm)
        if self.last_rms < self.min_rms:
            return False
        # webrtcvad wants little-endian 16-bit PCM bytes
        return bool(self._vad.is_speech(pcm.astype("<i2").tobytes(), SAMPLE_RATE))

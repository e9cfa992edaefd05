"""Sample-rate conversion with a proper anti-aliasing filter (libsoxr, via `soxr`).

Used on two paths: the phone's 8 kHz up to Whisper's 16 kHz, and the TTS voice rate (Piper's
22,050 Hz) down to 8 kHz for the phone. soxr low-pass filters before decimating, so energy above
the new Nyquist frequency is removed rather than folded back as audible aliasing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

PHONE_RATE = 8000
ASR_RATE = 16000


def resample(pcm: npt.NDArray[np.int16], src_rate: int, dst_rate: int) -> npt.NDArray[np.int16]:
    """Resample a whole int16 buffer. Returns int16 (clipped, not wrapped)."""
    if src_rate == dst_rate or pcm.size == 0:
        return np.asarray(pcm, dtype=np.int16)
    out = soxr.resample(pcm.astype(np.float32), src_rate, dst_rate, quality="HQ")
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


class StreamResampler:
    """Chunk-by-chunk resampling that keeps filter state between chunks (no clicks at seams)."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="float32", quality="HQ")

    def process(self, pcm: npt.NDArray[np.int16], last: bool = False) -> npt.NDArray[np.int16]:
        out = self._stream.resample_chunk(pcm.astype(np.float32), last=last)
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

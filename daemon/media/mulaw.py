"""G.711 mu-law <-> 16-bit PCM with numpy lookup tables.

Both directions are table lookups (256 entries to decode, 65,536 to encode), built once at import
from the G.711 definition, so they are bit-exact with the standard and need no `audioop`
(removed in Python 3.13).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_BIAS = 0x84
_CLIP = 32635


def _decode_byte(code: int) -> int:
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = ((mantissa << 3) + _BIAS) << exponent
    magnitude -= _BIAS
    return -magnitude if sign else magnitude


def _encode_sample(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    # Negative inputs are one's-complemented (-1 - x), as in ITU-T G.191's reference encoder:
    # that mirrors [-32768, -1] exactly onto [0, 32767], so the quantizer is symmetric and -1
    # encodes as "-0" (0x7F) the way 0 encodes as "+0" (0xFF).
    magnitude = min(-1 - sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


DECODE_TABLE: npt.NDArray[np.int16] = np.array([_decode_byte(c) for c in range(256)], dtype=np.int16)
# indexed by the sample reinterpreted as uint16 (two's complement), so negative samples work
ENCODE_TABLE: npt.NDArray[np.uint8] = np.array(
    [_encode_sample(s if s < 0x8000 else s - 0x10000) for s in range(0x10000)], dtype=np.uint8
)


def decode(data: bytes) -> npt.NDArray[np.int16]:
    """mu-law bytes -> int16 samples."""
    return DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


def encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """int16 samples -> mu-law bytes."""
    return ENCODE_TABLE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()

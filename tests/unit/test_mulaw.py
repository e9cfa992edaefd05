"""G.711 mu-law tables, checked against independent references."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from daemon.media import mulaw

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)

# G.711 Table 2a in the 14-bit scale (x4 for 16-bit samples). Segment s has 16 intervals of
# width 2**(s+1); its lowest decision value is 32 * 2**s - 33 and the reconstruction value of
# its interval q is 33 * 2**s - 33 + q * 2**(s+1), the middle of the interval.
_DECISION = [(32 << s) - 33 for s in range(8)]


def reference_decode(code: int) -> int:
    """Decode from the table's structure, not from the bias/shift trick used by the module."""
    inverted = code ^ 0xFF  # mu-law transmits every bit inverted
    segment, step = (inverted >> 4) & 0x07, inverted & 0x0F
    value14 = (33 << segment) - 33 + (step << (segment + 1))
    return -4 * value14 if inverted & 0x80 else 4 * value14


def reference_encode(sample: int) -> int:
    """ITU-T G.191-style: one's complement for negatives, 14-bit magnitude, interval search."""
    magnitude14 = (~sample if sample < 0 else sample) >> 2
    segment = 7
    while segment > 0 and magnitude14 < _DECISION[segment]:
        segment -= 1
    step = min((magnitude14 - _DECISION[segment]) >> (segment + 1), 15)
    code = (segment << 4) | step
    return (code | 0x80 if sample < 0 else code) ^ 0xFF


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xFE, 8), (0x7E, -8), (0xF0, 120)],
)
def test_published_codewords(code: int, value: int) -> None:
    assert int(mulaw.decode(bytes([code]))[0]) == value


def test_decode_table_matches_the_segment_definition() -> None:
    expected = np.array([reference_decode(c) for c in range(256)], dtype=np.int16)
    np.testing.assert_array_equal(mulaw.DECODE_TABLE, expected)


def test_encode_is_bit_exact_with_the_reference_for_every_sample() -> None:
    expected = np.array([reference_encode(int(s)) for s in ALL_SAMPLES], dtype=np.uint8)
    actual = np.frombuffer(mulaw.encode(ALL_SAMPLES), dtype=np.uint8)
    mismatches = np.nonzero(actual != expected)[0]
    assert mismatches.size == 0, f"first mismatching samples: {ALL_SAMPLES[mismatches[:5]]}"


def test_encoding_is_symmetric_and_decoding_inverts_it() -> None:
    codes = np.frombuffer(mulaw.encode(ALL_SAMPLES), dtype=np.uint8)
    # x and -1 - x differ only in the sign bit
    np.testing.assert_array_equal(codes[:32768] ^ 0x80, codes[32768:][::-1])
    # each codeword's own value encodes back to it (except -0, which is +0's value)
    values = mulaw.DECODE_TABLE
    again = np.frombuffer(mulaw.encode(values), dtype=np.uint8)
    np.testing.assert_array_equal(again[values != 0], np.arange(256)[values != 0])


def _audioop() -> ModuleType | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # Python 3.13+
            return None
    return audioop


def test_agrees_with_audioop_where_it_exists() -> None:
    audioop = _audioop()
    if audioop is None:
        pytest.skip("audioop was removed in Python 3.13")
    decoded = np.frombuffer(audioop.ulaw2lin(bytes(range(256)), 2), dtype=np.int16)
    np.testing.assert_array_equal(mulaw.DECODE_TABLE, decoded)
    theirs = np.frombuffer(audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2), dtype=np.uint8)
    ours = np.frombuffer(mulaw.encode(ALL_SAMPLES), dtype=np.uint8)
    # audioop rounds negative samples in two's complement, G.191 in one's complement: identical
    # for every positive sample, at most one quantization step apart for the negative ones
    positive = ALL_SAMPLES >= 0
    np.testing.assert_array_equal(ours[positive], theirs[positive])
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    assert np.count_nonzero(ours != theirs) < 0.01 * ALL_SAMPLES.size


def _half_step(value: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Half the width (16-bit scale) of the G.711 interval holding each value."""
    segment = np.searchsorted(_DECISION, np.abs(value) // 4, side="right") - 1
    return np.asarray(4 << np.maximum(segment, 0), dtype=np.int64)


def test_round_trip_error_stays_within_half_a_step() -> None:
    samples = ALL_SAMPLES[np.abs(ALL_SAMPLES.astype(np.int64)) <= 32124].astype(np.int64)
    back = mulaw.decode(mulaw.encode(samples.astype(np.int16))).astype(np.int64)
    error = np.abs(back - samples)
    # half an interval, plus up to 4 from dropping two bits and the one's complement
    assert np.all(error <= _half_step(samples) + 4)
    assert error.max() <= 512 + 4
    # what a logarithmic law promises: the relative error is small and roughly constant
    loud = np.abs(samples) > 1000
    assert np.max(error[loud] / np.abs(samples[loud])) < 0.04


def test_full_scale_clips_to_the_largest_codeword() -> None:
    assert mulaw.encode(np.array([32767, -32768], dtype=np.int16)) == b"\x80\x00"


def test_empty_and_dtypes() -> None:
    assert mulaw.encode(np.zeros(0, dtype=np.int16)) == b""
    assert mulaw.decode(b"").dtype == np.int16
    assert mulaw.decode(b"\x00\xff").tolist() == [-32124, 0]

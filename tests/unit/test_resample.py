"""Resampling keeps the speech band and removes what would alias."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from daemon.media.resample import StreamResampler, resample


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def power(pcm: npt.NDArray[np.int16], trim: int) -> float:
    """Mean power away from the edges, where the filter is still filling up."""
    core = pcm[trim:-trim].astype(np.float64)
    return float(np.mean(core * core))


@pytest.mark.parametrize(("src", "dst", "n"), [(8000, 16000, 8000), (22050, 8000, 22050), (16000, 8000, 333)])
def test_output_length_follows_the_rate_ratio(src: int, dst: int, n: int) -> None:
    out = resample(np.zeros(n, dtype=np.int16), src, dst)
    assert out.dtype == np.int16
    assert abs(len(out) - n * dst / src) <= 1


def test_same_rate_and_empty_input_pass_through() -> None:
    pcm = tone(440, 8000, 0.1)
    np.testing.assert_array_equal(resample(pcm, 8000, 8000), pcm)
    assert resample(np.zeros(0, dtype=np.int16), 8000, 16000).size == 0


def test_a_3500_hz_tone_survives_8k_to_16k() -> None:
    src = tone(3500, 8000)
    out = resample(src, 8000, 16000)
    ratio = power(out, 400) / power(src, 200)
    assert 0.9 < ratio < 1.1
    # and it is still a 3.5 kHz tone: the spectrum peaks there
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 3500) < 5


@pytest.mark.parametrize("src_rate", [22050, 16000])
def test_a_6000_hz_tone_is_removed_going_to_8k(src_rate: int) -> None:
    src = tone(6000, src_rate)
    out = resample(src, src_rate, 8000)
    # 6 kHz is above the new 4 kHz Nyquist frequency; it must not fold back to 2 kHz
    attenuation_db = 10 * np.log10(power(src, 500) / max(power(out, 200), 1e-9))
    assert attenuation_db > 40


def test_loud_input_clips_instead_of_wrapping() -> None:
    square = np.tile(np.array([32767] * 20 + [-32768] * 20, dtype=np.int16), 200)
    out = resample(square, 8000, 16000).astype(np.int64)
    # Gibbs overshoot would exceed int16; wrapping would flip the sign of the plateaus
    periods = out[160:-160].reshape(-1, 80)  # one period of the square is 80 output samples
    assert periods[:, 10:30].min() > 20000
    assert periods[:, 50:70].max() < -20000


@pytest.mark.parametrize("chunk", [160, 441, 1000])
@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (8000, 16000)])
def test_stream_resampler_matches_whole_buffer(chunk: int, src: int, dst: int) -> None:
    rng = np.random.default_rng(7)
    pcm = (tone(300, src) + tone(1800, src, amplitude=3000)).astype(np.int16)
    pcm = (pcm + rng.integers(-200, 200, pcm.size)).astype(np.int16)
    whole = resample(pcm, src, dst)
    stream = StreamResampler(src, dst)
    pieces = [stream.process(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    pieces.append(stream.process(np.zeros(0, dtype=np.int16), last=True))
    streamed = np.concatenate(pieces)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    diff = streamed[:n].astype(np.int64) - whole[:n].astype(np.int64)
    # same filter, same state: equal except for float rounding at the seams
    assert np.max(np.abs(diff[100:-100])) <= 2

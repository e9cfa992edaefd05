"""Signal helpers of the turn-taking corpus: telephone band, line noise, speech spans, a cough.

Everything works on float64 arrays at 8 kHz in [-1, 1] and is deterministic given the numpy
`Generator` passed in, so a clip renders to the same bytes on every machine. Pure numpy: no
clock, no I/O.

SNR is defined the way a listener experiences it: speech power over the frames that carry
speech (the spans), against the noise power over those same frames. Silence between words
would otherwise flatter the noise, and a long lead-in would flatter the speech.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000
WINDOW = RATE // 100  # 10 ms energy windows
SPAN_FLOOR_DB = -35.0  # a window within this of the loudest one counts as speech
ABS_FLOOR = 10 ** (-60 / 20)  # and it must be above -60 dBFS whatever the loudest is
BAND = (300.0, 3400.0)  # the telephone band, Hz

Signal = npt.NDArray[np.float64]


def band_limit(signal: Signal, low: float = BAND[0], high: float = BAND[1]) -> Signal:
    """`signal` with everything outside `low`..`high` Hz removed (FFT mask, 50 Hz skirts)."""
    if signal.size == 0:
        return signal.copy()
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(signal.size, 1.0 / RATE)
    rise = np.clip((freqs - (low - 50.0)) / 50.0, 0.0, 1.0)
    gain = rise * np.clip(((high + 50.0) - freqs) / 50.0, 0.0, 1.0)
    return np.fft.irfft(spectrum * gain, n=signal.size)


def window_rms(signal: Signal) -> Signal:
    """RMS of each 10 ms window (the last one zero-padded)."""
    windows = -(-signal.size // WINDOW)
    padded = np.zeros(windows * WINDOW)
    padded[: signal.size] = signal
    return np.asarray(np.sqrt(np.mean(padded.reshape(windows, WINDOW) ** 2, axis=1)), dtype=np.float64)


def speech_bounds(signal: Signal) -> tuple[int, int] | None:
    """(first, last + 1) sample of the windows loud enough to be speech; None if none is."""
    rms = window_rms(signal)
    if rms.size == 0 or rms.max() <= ABS_FLOOR:
        return None
    loud = np.flatnonzero(rms >= max(ABS_FLOOR, rms.max() * 10 ** (SPAN_FLOOR_DB / 20)))
    return int(loud[0]) * WINDOW, min(signal.size, (int(loud[-1]) + 1) * WINDOW)


def span_mask(size: int, spans: list[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    """A boolean mask of `size` samples, True inside the (start, end) sample spans."""
    mask = np.zeros(size, dtype=bool)
    for start, end in spans:
        mask[max(0, start):max(0, end)] = True
    return mask


def pink_hiss(size: int, rng: np.random.Generator) -> Signal:
    """Pinkish (1/f power) noise in the telephone band, unit RMS."""
    if size == 0:
        return np.zeros(0)
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1.0 / RATE)
    spectrum *= 1.0 / np.sqrt(np.maximum(freqs, 1.0))
    hiss = band_limit(np.fft.irfft(spectrum, n=size))
    rms = float(np.sqrt(np.mean(hiss**2)))
    return hiss / rms if rms > 0 else hiss


def hum(size: int, rng: np.random.Generator) -> Signal:
    """Mains hum: 60 Hz and its odd harmonics, unit RMS, random phase."""
    t = np.arange(size) / RATE
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * 60 * t + phase) + 0.5 * np.sin(2 * np.pi * 180 * t + 3 * phase) \
        + 0.25 * np.sin(2 * np.pi * 300 * t + 5 * phase)
    rms = float(np.sqrt(np.mean(wave**2))) if size else 0.0
    return wave / rms if rms > 0 else wave


def crackle(size: int, rng: np.random.Generator, per_s: float = 1.5) -> Signal:
    """Occasional clicks: short decaying bursts at random times, about `per_s` a second."""
    out = np.zeros(size)
    events = rng.poisson(per_s * size / RATE)
    for _ in range(events):
        at = int(rng.integers(0, max(1, size)))
        length = int(rng.integers(16, 64))  # 2..8 ms
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4))
        end = min(size, at + length)
        out[at:end] += rng.uniform(3.0, 6.0) * burst[: end - at]
    return out


def line_noise(size: int, rng: np.random.Generator) -> Signal:
    """Telephone line noise: band-limited pinkish hiss, a little hum, occasional crackle."""
    return pink_hiss(size, rng) + 0.3 * hum(size, rng) + crackle(size, rng)


def add_noise(clean: Signal, spans: list[tuple[int, int]], snr_db: float,
              rng: np.random.Generator) -> Signal:
    """`clean` plus line noise scaled so speech-over-noise on the speech frames is `snr_db`."""
    noise = line_noise(clean.size, rng)
    mask = span_mask(clean.size, spans)
    speech_power = float(np.mean(clean[mask] ** 2)) if mask.any() else 0.0
    noise_power = float(np.mean(noise[mask] ** 2)) if mask.any() else 1.0
    if speech_power <= 0 or noise_power <= 0:
        return clean.copy()
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return np.asarray(clean + scale * noise, dtype=np.float64)


def snr_db(clean: Signal, noisy: Signal, spans: list[tuple[int, int]]) -> float:
    """Speech-over-noise on the speech frames, knowing the clean signal (inf when equal)."""
    mask = span_mask(clean.size, spans)
    noise = noisy[mask] - clean[mask]
    noise_power = float(np.mean(noise**2))
    if noise_power == 0:
        return float("inf")
    return 10 * np.log10(float(np.mean(clean[mask] ** 2)) / noise_power)


def cough(rng: np.random.Generator, *, high: bool = False, bursts: int = 1) -> Signal:
    """A cough: sharp-onset bursts of band-passed noise with a fast decay, 8 kHz.

    A cough is broadband, loudest between a few hundred Hz and 2 kHz, about 250 ms long with
    an explosive start; two in a row are 150-250 ms apart.
    """
    parts: list[Signal] = []
    for index in range(bursts):
        length = int(RATE * rng.uniform(0.20, 0.32))
        t = np.arange(length) / RATE
        envelope = (1 - np.exp(-t / 0.008)) * np.exp(-t / rng.uniform(0.06, 0.10))
        low, top = (500.0, 2600.0) if high else (300.0, 2000.0)
        burst = band_limit(rng.standard_normal(length), low, top) * envelope
        if index:
            parts.append(np.zeros(int(RATE * rng.uniform(0.15, 0.25))))
        parts.append(burst / max(1e-9, float(np.max(np.abs(burst)))))
    return np.concatenate(parts) if parts else np.zeros(0)

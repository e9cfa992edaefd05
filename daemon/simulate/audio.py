"""The simulated lead's own voice: synthesised lines cut into 20 ms phone frames.

Piper pads each utterance with a little silence. The lead trims it, because two measurements
depend on where speech really starts and ends: voice-to-voice latency is timed from the last
frame that carries speech, and a scripted pause inside a sentence must last the number of
milliseconds the scenario says, not that plus Piper's padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from daemon.media import mulaw

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law, Twilio's media frame
FRAME_MS = 20
SILENCE_BYTE = 0xFF  # mu-law "+0": what a phone line sends when nobody talks
SILENCE_FRAME = bytes([SILENCE_BYTE]) * FRAME_BYTES

TRIM_WINDOW = 80  # 10 ms analysis windows
TRIM_PEAK = 400  # int16 peak below which a window counts as silence (about -38 dBFS)
TRIM_KEEP_WINDOWS = 2  # keep 20 ms around the speech so soft onsets and tails survive


def trim_silence(audio: bytes, peak: int = TRIM_PEAK) -> bytes:
    """Drop leading and trailing near-silence from mu-law audio (all of it if nothing is loud)."""
    if not audio:
        return b""
    pcm = np.abs(mulaw.decode(audio).astype(np.int32))
    windows = (pcm.size + TRIM_WINDOW - 1) // TRIM_WINDOW
    padded = np.zeros(windows * TRIM_WINDOW, dtype=np.int32)
    padded[: pcm.size] = pcm
    loud = np.flatnonzero(padded.reshape(windows, TRIM_WINDOW).max(axis=1) >= peak)
    if loud.size == 0:
        return b""
    first = max(0, int(loud[0]) - TRIM_KEEP_WINDOWS) * TRIM_WINDOW
    last = min(windows, int(loud[-1]) + 1 + TRIM_KEEP_WINDOWS) * TRIM_WINDOW
    return audio[first:last]


def to_frames(audio: bytes) -> list[bytes]:
    """Cut mu-law audio into 160-byte frames, padding the last one with silence."""
    frames = [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1].ljust(FRAME_BYTES, bytes([SILENCE_BYTE]))
    return frames


def silence_frames(ms: int) -> list[bytes]:
    """Whole frames of silence covering at least `ms` milliseconds."""
    return [SILENCE_FRAME] * max(0, -(-ms // FRAME_MS))


def is_silent(frame: bytes) -> bool:
    """True for a frame of digital silence (mu-law +0 or -0 only)."""
    return not frame.strip(b"\xff\x7f")


@dataclass(frozen=True)
class SpokenLine:
    """A line ready to send: its frames, and which of them is the last one carrying speech."""

    frames: tuple[bytes, ...]
    last_speech_index: int  # -1 when synthesis produced no audible speech

    @property
    def duration_ms(self) -> int:
        return len(self.frames) * FRAME_MS


def build_line(parts: list[bytes], pause_ms: int = 0) -> SpokenLine:
    """Join trimmed synthesised parts with `pause_ms` of silence between them."""
    frames: list[bytes] = []
    last_speech = -1
    for index, part in enumerate(parts):
        if index and pause_ms:
            frames.extend(silence_frames(pause_ms))
        chunk = to_frames(trim_silence(part))
        frames.extend(chunk)
        if chunk:
            last_speech = len(frames) - 1
    return SpokenLine(tuple(frames), last_speech)

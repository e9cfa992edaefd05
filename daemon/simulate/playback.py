"""What Twilio does with the audio our server sends: a playout buffer, simulated in time.

Theory of operation
-------------------
Twilio queues the `media` the server sends and plays it at exactly 8,000 bytes per second; a
`mark` is echoed when everything queued before it has played; `clear` empties the queue and
echoes every pending mark at once. The daemon relies on all three (marks tell it what the lead
really heard; `clear` is how barge-in silences the agent), so the simulated lead must honour
them with the same timing, not just reply to them.

Audio is not really played, so the buffer is only a clock: `play_until` is the moment the last
queued byte finishes. Queuing audio while the buffer is idle starts playback now; queuing more
pushes `play_until` out by its duration. A mark is due at the `play_until` it was queued
behind. This is exact in continuous time, so the lead's 20 ms pacing tick only decides how
promptly due marks are noticed, never how long audio lasts.

The buffer also segments what it played into agent turns, the way a listener does: a turn
starts when audio begins after quiet, and ends once the buffer has been dry for `gap_s`, or at
a `clear` (interrupted). Running dry for less than `gap_s` and then getting more audio is an
underrun inside the turn: the caller would have heard the agent stutter. Gaps shorter than
`tolerance_s` are not counted (a real phone's jitter buffer hides them).

Sans-IO: every method takes `now` (monotonic seconds) and nothing here reads a clock, sleeps or
sends, so the logic is tested with made-up times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BYTES_PER_S = 8000  # mu-law, 8 kHz, one byte per sample


@dataclass
class HeardTurn:
    """One agent turn as the lead heard it. `audio` is only what actually played."""

    started_at: float
    ended_at: float = 0.0
    audio: bytes = b""
    media_messages: int = 0
    interrupted: bool = False
    cut_off: bool = False
    underruns: int = 0
    underrun_s: float = 0.0

    @property
    def audio_ms(self) -> float:
        return 1000.0 * len(self.audio) / BYTES_PER_S


@dataclass
class _Current:
    started_at: float
    chunks: list[bytes] = field(default_factory=list)
    media_messages: int = 0
    underruns: int = 0
    underrun_s: float = 0.0


class Playout:
    """A simulated Twilio playout buffer for one stream, plus agent-turn segmentation."""

    def __init__(self, gap_s: float = 0.4, tolerance_s: float = 0.02) -> None:
        self.gap_s = gap_s
        self.tolerance_s = tolerance_s
        self.play_until = 0.0
        """When the last queued byte finishes playing (monotonic seconds)."""
        self._marks: list[tuple[float, str]] = []  # (due time, name), in queue order
        self._turn: _Current | None = None
        self._finished: list[HeardTurn] = []

    # --- state ---------------------------------------------------------------------------

    def playing(self, now: float) -> bool:
        """True while queued audio is still being played."""
        return now < self.play_until

    @property
    def in_turn(self) -> bool:
        """True from the first audio of an agent turn until the turn is over (gap or clear)."""
        return self._turn is not None

    @property
    def turn_started_at(self) -> float | None:
        """When the current agent turn began playing, or None between turns."""
        return self._turn.started_at if self._turn else None

    @property
    def pending_marks(self) -> list[str]:
        return [name for _, name in self._marks]

    def take_finished(self) -> list[HeardTurn]:
        """Turns that ended since the last call, oldest first."""
        done, self._finished = self._finished, []
        return done

    # --- events --------------------------------------------------------------------------

    def push_audio(self, payload: bytes, now: float) -> bool:
        """Queue agent audio. Returns True when it starts a new agent turn."""
        if not payload:
            return False
        self.poll(now)
        started = self._turn is None
        if self._turn is None:
            self._turn = _Current(started_at=max(now, self.play_until))
        elif now > self.play_until:
            dry = now - self.play_until
            if dry >= self.tolerance_s:
                self._turn.underruns += 1
                self._turn.underrun_s += dry
        self.play_until = max(now, self.play_until) + len(payload) / BYTES_PER_S
        self._turn.chunks.append(payload)
        self._turn.media_messages += 1
        return started

    def push_mark(self, name: str, now: float) -> list[str]:
        """Queue a mark behind the audio; returns marks due now (this one, if nothing plays)."""
        self._marks.append((max(now, self.play_until), name))
        return self.due_marks(now)

    def clear(self, now: float) -> list[str]:
        """Drop queued audio; returns every pending mark, to be echoed at once."""
        echoed = [name for _, name in self._marks]
        self._marks.clear()
        if self._turn is not None:
            unplayed = max(0.0, self.play_until - now)
            # a clear mid-turn interrupts it even if the buffer happened to be dry just then
            self._finish(min(now, self.play_until), interrupted=True, unplayed_s=unplayed)
        self.play_until = min(self.play_until, now)
        return echoed

    def close(self, now: float) -> None:
        """The call ended: finish the current turn with only the audio played by `now`."""
        self._marks.clear()
        if self._turn is not None:
            unplayed = max(0.0, self.play_until - now)
            self._finish(min(now, self.play_until), cut_off=unplayed > 0, unplayed_s=unplayed)
        self.play_until = min(self.play_until, now)

    def due_marks(self, now: float) -> list[str]:
        """Marks whose audio has finished playing by `now`, in order; they leave the queue."""
        due = 0
        while due < len(self._marks) and self._marks[due][0] <= now:
            due += 1
        names = [name for _, name in self._marks[:due]]
        del self._marks[:due]
        return names

    def poll(self, now: float) -> None:
        """End the current turn if the buffer has been dry for `gap_s` (see `take_finished`)."""
        if self._turn is not None and now >= self.play_until + self.gap_s:
            self._finish(self.play_until, unplayed_s=0.0)

    def _finish(
        self,
        ended_at: float,
        *,
        unplayed_s: float,
        interrupted: bool = False,
        cut_off: bool = False,
    ) -> None:
        turn = self._turn
        assert turn is not None
        audio = b"".join(turn.chunks)
        played = max(0, len(audio) - round(unplayed_s * BYTES_PER_S))
        self._finished.append(
            HeardTurn(
                started_at=turn.started_at,
                ended_at=max(ended_at, turn.started_at),
                audio=audio[:played],
                media_messages=turn.media_messages,
                interrupted=interrupted,
                cut_off=cut_off,
                underruns=turn.underruns,
                underrun_s=turn.underrun_s,
            )
        )
        self._turn = None

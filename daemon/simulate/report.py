"""What a simulated lead measured and heard on one call, as plain JSON-ready data.

The report is the lead's side of the story: the daemon stores its own view of the call (turns,
stages, latency per stage), while the lead knows what only the far end can know: when its own
speech really ended, when the agent's first audio arrived, when `clear` came, what the agent's
audio sounded like through ASR, and whether playback stuttered. The benchmark reads these
numbers; end-to-end tests compare them with the stored call.

Times come in pairs: `*_at` is `time.monotonic()` in the lead's process (exact, for differences)
and `*_at_wall` is the same instant as ISO-8601 UTC (for reading next to the daemon's records).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

HungUpBy = Literal["agent", "lead"]


class WallClock:
    """Maps monotonic instants to wall-clock text using one offset taken at creation."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def iso(self, mono: float | None) -> str | None:
        if mono is None:
            return None
        return datetime.fromtimestamp(mono + self._offset, UTC).isoformat(timespec="milliseconds")


@dataclass
class LineReport:
    """One line the lead spoke (a `say` or `barge_in` step)."""

    step: int
    kind: Literal["say", "barge_in"]
    text: str
    audio_ms: int = 0
    started_at: float | None = None  # first frame of the line sent
    started_at_wall: str | None = None
    ended_at: float | None = None  # last frame carrying speech sent
    ended_at_wall: str | None = None
    waited_ms: float | None = None  # how long the lead waited for its cue before speaking
    wait_timed_out: bool = False  # the cue never came within `max_wait_s`; spoke anyway
    over_agent: bool = False  # agent audio was playing when the line started
    voice_to_voice_ms: float | None = None  # ended_at -> first agent media frame after it
    clear_after_ms: float | None = None  # started_at -> first `clear` received after it
    chosen_by: str | None = None  # the keyword heard that picked this `if_heard` line
    repeated: bool = False  # said again because the agent asked ("could you say it again?")


@dataclass
class AgentTurnReport:
    """One agent turn as heard: contiguous playout, ended by `gap_ms` of quiet or a `clear`."""

    index: int
    started_at: float
    started_at_wall: str | None
    ended_at: float
    audio_ms: float
    media_messages: int
    interrupted: bool  # a `clear` cut it short
    cut_off: bool  # the call ended while it was still playing
    underruns: int  # times playout ran dry mid-turn and more audio came later
    underrun_ms: float
    transcript: str | None = None  # None when not listening or ASR failed
    confidence: float | None = None


@dataclass
class ExpectResult:
    """An `expect_any` of a step: did the agent's reply contain one of the keywords?"""

    step: int
    kind: str
    keywords: list[str]
    heard: str | None  # the transcripts of the agent's reply, joined; None when not listening
    met: bool | None  # None when nothing could be checked (not listening)


@dataclass
class LeadReport:
    """Everything one simulated call measured, `to_dict()` for JSON."""

    scenario: str
    stream_sid: str
    call_sid: str
    account_sid: str
    started_at: float | None = None  # `start` sent
    started_at_wall: str | None = None
    ended_at: float | None = None
    ended_at_wall: str | None = None
    connected: bool = False
    error: str | None = None
    hung_up_by: HungUpBy | None = None
    close_code: int | None = None  # WebSocket close code and reason, as the lead saw them
    close_reason: str | None = None
    first_audio_ms: float | None = None  # `start` sent -> first agent media frame
    lines: list[LineReport] = field(default_factory=list)
    agent_turns: list[AgentTurnReport] = field(default_factory=list)
    expectations: list[ExpectResult] = field(default_factory=list)
    clears_received: int = 0
    marks_received: int = 0
    marks_echoed: list[str] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    agent_media_frames: int = 0  # media messages received (any size)
    agent_audio_ms: float = 0.0
    late_frames: int = 0  # mid-turn playout underruns, all turns (stutter indicator)
    underrun_ms: float = 0.0
    frames_sent: int = 0
    send_stalls: int = 0  # pacing fell > 1 s behind real time and skipped ahead
    protocol_errors: list[str] = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return 1000.0 * (self.ended_at - self.started_at)

    def voice_to_voice_ms(self) -> list[float]:
        """Every measured voice-to-voice latency, in line order."""
        return [ln.voice_to_voice_ms for ln in self.lines if ln.voice_to_voice_ms is not None]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = self.duration_ms
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

"""The lead of one turn-taking trial: a Twilio Media Streams peer that plays one corpus clip.

Theory of operation
-------------------
The wire is `daemon.simulate.phone.PhoneLine`, the same Twilio peer the rehearsals and the
other benchmarks use: 20 ms real-time media, marks echoed when their audio has played, `clear`
honoured by dropping what is buffered, `stop` and close to hang up. What is new here is only
the person and the ears:

* `RecordingPlayout` is the simulated playout buffer that also writes down, for every agent
  frame, when it started and stopped playing at the lead (cut short by a `clear`), a digest of
  its bytes, and whether it carried sound; and the time of each `clear`;
* `run_trial` times the clip against the greeting: over it (interruption, backchannel: once the
  greeting has been audible for `delay_ms`) or after it (multi-part, short: once it has
  finished and the line has been quiet for 300 ms), then hangs up as soon as the trial has
  what it needs (the agent's reply began, or the greeting ended, or a time limit).

All the arithmetic on the recorded timeline lives in `turn_metrics`; nothing here looks inside
the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from benchmarks.harness import PlacedCall
from benchmarks.turn_corpus import Clip
from benchmarks.turn_metrics import Greeting, PlayedFrame, TrialRecord, playing
from daemon.media import mulaw
from daemon.simulate.audio import FRAME_BYTES, FRAME_MS, SpokenLine, to_frames
from daemon.simulate.lead import new_sid
from daemon.simulate.phone import PhoneLine
from daemon.simulate.playback import BYTES_PER_S, Playout
from daemon.simulate.report import LeadReport, LineReport, WallClock
from daemon.telephony import codec

AUDIBLE_PEAK = 64  # int16 peak of a frame that carries sound (about -54 dBFS)
POLL_S = 0.02
GREETING_WAIT_S = 20.0  # for the greeting to start playing
AFTER_GREETING_S = 0.3  # quiet after the greeting before a multi-part or short clip
REPLY_WAIT_S = 6.0  # after the clip's end, for the agent's reply
TALK_OVER_SETTLE_S = 2.0  # after a talked-over clip's end: time to make its last part a turn
QUIET_END_S = 1.5  # a backchannel trial ends once the line has been quiet this long...
QUIET_AFTER_GREETING_S = 0.8  # ...or this long once the whole greeting has played
BACKCHANNEL_CAP_S = 12.0  # ...or this long after the clip's speech began
OVER_AGENT = ("interruption", "backchannel")


def frame_digest(frame: bytes) -> str:
    return hashlib.blake2b(frame, digest_size=8).hexdigest()


def is_audible(frame: bytes) -> bool:
    return bool(np.abs(mulaw.decode(frame).astype(np.int32)).max(initial=0) > AUDIBLE_PEAK)


class RecordingPlayout(Playout):
    """A simulated Twilio playout buffer that remembers what played when (see module doc)."""

    def __init__(self) -> None:
        super().__init__(gap_s=0.4, tolerance_s=0.02)
        self.frames: list[PlayedFrame] = []
        self.clears: list[float] = []

    def push_audio(self, payload: bytes, now: float) -> bool:
        start = max(now, self.play_until)
        started = super().push_audio(payload, now)
        for offset in range(0, len(payload), FRAME_BYTES):
            frame = payload[offset:offset + FRAME_BYTES]
            at = start + offset / BYTES_PER_S
            self.frames.append(PlayedFrame(at, at + len(frame) / BYTES_PER_S, frame_digest(frame),
                                           is_audible(frame)))
        return started

    def clear(self, now: float) -> list[str]:
        self.clears.append(now)
        self.frames = [f if f.end <= now else PlayedFrame(f.start, now, f.digest, f.audible)
                       for f in self.frames if f.start < now]
        return super().clear(now)

    def first_audible(self) -> float | None:
        return next((f.start for f in self.frames if f.audible), None)

    def quiet_for(self, now: float) -> float:
        """Seconds the buffer has been dry at `now` (0 while playing)."""
        return max(0.0, now - self.play_until) if self.frames else 0.0


def spoken(clip: Clip) -> SpokenLine:
    """The clip as 20 ms mu-law frames, all sent (its lead-in and tail are line noise)."""
    frames = tuple(to_frames(mulaw.encode(clip.audio)))
    return SpokenLine(frames, min(len(frames) - 1, clip.speech[-1][1] // FRAME_MS))


def _ignore(*_args: Any, **_kwargs: Any) -> None:
    return None


async def _until(done: Callable[[], bool], limit_s: float, phone: PhoneLine) -> bool:
    """Poll `done()` every 20 ms until True (True), the call closes or `limit_s` passes."""
    deadline = time.monotonic() + limit_s
    while not done():
        if phone.closed.is_set() or time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


class Trial:
    """One call with one clip; `run()` returns what the lead recorded."""

    def __init__(self, ws_url: str, placed: PlacedCall, clip: Clip | None,
                 greeting: Greeting | None, delay_ms: int = 0) -> None:
        self.ws_url = ws_url
        self.placed = placed
        self.clip = clip
        self.greeting = greeting
        self.delay_ms = delay_ms
        self.playout = RecordingPlayout()
        category = clip.category if clip else "calibration"
        self.record = TrialRecord(clip.id if clip else "calibration", category,
                                  clip.split if clip else "", clip.text if clip else "",
                                  clip.speech if clip else ((0, 0),), placed.id,
                                  delay_ms if category in OVER_AGENT else None)
        self._report = LeadReport("turns", new_sid("MZ"), new_sid("CA"), new_sid("AC"))

    async def run(self) -> TrialRecord:
        """Connect, play, hang up; never raises for call problems (they go in `error`)."""
        rec = self.record
        try:
            async with connect(self.ws_url, open_timeout=10.0, compression=None, close_timeout=2.0,
                               max_size=codec.MAX_OUTBOUND_FRAME_BYTES) as ws:
                phone = PhoneLine(ws, self._report, self.playout, clock=WallClock(), emit=_ignore,
                                  on_turn=_ignore)
                rec.began_at = time.monotonic()
                try:
                    await phone.open({"call_id": self.placed.id,
                                      "stream_token": self.placed.stream_token})
                    await self._script(phone)
                finally:
                    rec.hung_up_at = time.monotonic()
                    with contextlib.suppress(Exception):
                        await phone.hang_up("lead")
                    await phone.aclose()
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
            rec.error = f"{type(exc).__name__}: {exc}"[:200]
        rec.frames, rec.clears = list(self.playout.frames), list(self.playout.clears)
        if rec.error is None and self._report.protocol_errors:
            rec.error = f"protocol errors: {self._report.protocol_errors[:2]}"
        return rec

    async def _script(self, phone: PhoneLine) -> None:
        playout, clip, rec = self.playout, self.clip, self.record
        if not await _until(lambda: playout.first_audible() is not None, GREETING_WAIT_S, phone):
            rec.error = "no greeting heard"
            return
        if clip is None:  # calibration: hear the whole greeting, undisturbed
            await _until(lambda: playout.quiet_for(time.monotonic()) >= QUIET_END_S, 30.0, phone)
            return
        if clip.category in OVER_AGENT:
            first = playout.first_audible() or time.monotonic()
            await asyncio.sleep(max(0.0, first + self.delay_ms / 1000.0 - time.monotonic()))
        elif not await _until(self._greeting_over, 30.0, phone):
            rec.error = "the greeting never ended"
            return
        line = LineReport(0, "barge_in" if clip.category in OVER_AGENT else "say", clip.text)
        phone.speak(spoken(clip), line)
        if not await _until(lambda: line.started_at is not None, 5.0, phone):
            rec.error = "the clip was never sent"
            return
        rec.started_at = line.started_at
        await self._until_done(phone)

    def _greeting_over(self) -> bool:
        if self.playout.quiet_for(time.monotonic()) < AFTER_GREETING_S:
            return False
        return self.greeting is None or self._greeting_heard(0.9)

    def _greeting_heard(self, share: float) -> bool:
        """At least `share` of the greeting's frames have played (False not knowing it)."""
        if self.greeting is None:
            return False
        heard = {f.digest for f in self.playout.frames if f.audible} & self.greeting.digests
        return len(heard) >= share * self.greeting.audible_frames

    async def _until_done(self, phone: PhoneLine) -> None:
        """Wait until the trial has what it needs, then return (the caller hangs up)."""
        rec, playout = self.record, self.playout
        end, onset = rec.lead_end, rec.onset
        assert self.clip is not None
        if self.clip.category == "backchannel":
            def done() -> bool:
                now = time.monotonic()
                quiet = QUIET_AFTER_GREETING_S if self._greeting_heard(0.98) else QUIET_END_S
                return now >= max(end, onset + 2.0) and playout.quiet_for(now) >= quiet

            await _until(done, max(0.0, onset + BACKCHANNEL_CAP_S - time.monotonic()), phone)
            return
        interrupting = self.clip.category == "interruption"
        greeting = self.greeting.digests if self.greeting else None

        def is_reply(frame: PlayedFrame, now: float) -> bool:
            if not frame.audible or frame.start > now:
                return False
            if not interrupting:  # after the greeting: anything once the lead has finished
                return frame.start >= end
            if greeting is not None:  # over the greeting: audio that is not the greeting
                return frame.start >= onset and frame.digest not in greeting
            return bool(playout.clears) and frame.start >= playout.clears[-1]

        def talked_over() -> bool:
            return any(f.audible and f.start < end and f.end > onset for f in playout.frames)

        def replied() -> bool:
            now = time.monotonic()
            if now < end or (not interrupting and now < end + TALK_OVER_SETTLE_S and talked_over()):
                return False
            return any(is_reply(f, now) for f in reversed(playout.frames))

        await _until(replied, max(0.0, end + REPLY_WAIT_S - time.monotonic()), phone)


def greeting_from(records: list[TrialRecord]) -> Greeting | None:
    """The greeting, if every calibration call heard the same one (same frames, >= 90 %)."""
    heard = [[f for f in r.frames if f.audible] for r in records if not r.error]
    if not heard or not heard[0]:
        return None
    digests = [frozenset(f.digest for f in frames) for frames in heard]
    if any(len(d & digests[0]) < 0.9 * len(digests[0]) for d in digests[1:]):
        return None  # the greeting differs between calls (live synthesis): no fingerprint
    frames = heard[0]
    runs = playing(records[0].frames)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(runs)]
    return Greeting(digests[0], len(digests[0]), round(1000 * (frames[-1].end - frames[0].start), 1),
                    round(1000 * max(gaps, default=0.0), 1))

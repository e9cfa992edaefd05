"""The wire side of a simulated lead: one Media Streams socket, played exactly as Twilio does.

Theory of operation
-------------------
After `open()` sends `connected` and `start`, two tasks share the socket:

* the pump, a drift-corrected 20 ms clock: each tick sends the next 160-byte `media` frame (a
  queued speech frame, else silence 0xFF, as a phone line never stops sending) and advances the
  simulated playout (`playback.Playout`): marks whose audio has played are echoed, and an agent
  turn quiet for `gap_s` is closed. Deadlines are absolute, so a late tick is made up by the
  next ones instead of drifting; more than a second behind, it skips ahead (`send_stalls`);
* the receiver: agent `media` is queued for playout, a `mark` queues behind it (echoed at once
  when nothing is playing), `clear` empties the buffer and echoes every pending mark at once.

Every send goes through one lock that also assigns `sequenceNumber`, so numbers rise in wire
order; `chunk` and `timestamp` count media frames (media time, like Twilio's). Measurements
are taken when a frame has been handed to the socket or a message has just been read, and
written straight into the shared `LeadReport`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from daemon.simulate.audio import FRAME_MS, SILENCE_FRAME, SpokenLine
from daemon.simulate.playback import BYTES_PER_S, HeardTurn, Playout
from daemon.simulate.report import HungUpBy, LeadReport, LineReport, WallClock
from daemon.telephony import codec

FRAME_S = FRAME_MS / 1000.0
MAX_BEHIND_FRAMES = 50  # > 1 s behind real time: skip ahead instead of bursting the backlog

Emit = Callable[..., None]


@dataclass
class QueuedLine:
    """A line being spoken: its frames, its report (filled in as frames go out), `done`."""

    spoken: SpokenLine
    report: LineReport
    done: asyncio.Event


class PhoneLine:
    """Twilio's end of one media stream; the script (`lead.SimulatedLead`) drives it."""

    def __init__(
        self,
        ws: ClientConnection,
        report: LeadReport,
        playout: Playout,
        *,
        clock: WallClock,
        emit: Emit,
        on_turn: Callable[[HeardTurn], None],
    ) -> None:
        self._ws = ws
        self.report = report
        self.playout = playout
        self._clock = clock
        self._emit = emit
        self._on_turn = on_turn
        self._send_lock = asyncio.Lock()
        self._seq = 0
        self._stopped = False  # `stop` sent: nothing may follow it
        self._chunk = 0
        self._outgoing: deque[tuple[bytes, QueuedLine | None, int]] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self._current: QueuedLine | None = None  # the latest line that started
        self._awaiting_reply: LineReport | None = None  # spoken; the agent has not answered
        self.closed = asyncio.Event()
        self.last_action_at = 0.0
        """End of the lead's last line or key press (or `start`): what the agent answers."""
        self.last_agent_audio_at = -1.0
        self.last_turn_start = -1.0

    # --- driving the line ------------------------------------------------------------------

    async def open(self, custom_parameters: Mapping[str, str]) -> None:
        """Send `connected` and `start`, then start pacing media and listening."""
        r = self.report
        await self._ws.send(codec.twilio_connected())
        await self._send(
            lambda seq: codec.twilio_start(
                r.stream_sid, r.call_sid, r.account_sid, custom_parameters, sequence_number=seq
            )
        )
        r.started_at = self.last_action_at = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._receive(), name="lead-receive"),
            asyncio.create_task(self._pump(), name="lead-pump"),
        ]

    def speak(self, spoken: SpokenLine, report: LineReport) -> asyncio.Event:
        """Queue a line's frames behind anything queued; the event is set once all are sent."""
        line = QueuedLine(spoken, report, asyncio.Event())
        if not spoken.frames:
            line.done.set()
        self._outgoing.extend((frame, line, i) for i, frame in enumerate(spoken.frames))
        return line.done

    async def press(self, digit: str) -> bool:
        """Send one `dtmf` key press; False once the call is over."""
        sid = self.report.stream_sid
        return await self._send(lambda seq: codec.twilio_dtmf(sid, seq, digit))

    async def hang_up(self, by: HungUpBy) -> None:
        """`stop`, then close the socket, as Twilio does when either side hangs up."""
        if self.closed.is_set():
            return
        # claimed before `stop` goes out: the daemon's answering close must not count as its
        # own hang-up
        self._claim_hang_up(by)
        r = self.report
        await self._send(
            lambda seq: codec.twilio_stop(r.stream_sid, seq, r.account_sid, r.call_sid), last=True
        )
        self.mark_closed(by)
        await self._ws.close()

    def mark_closed(self, by: HungUpBy | None) -> None:
        """The call is over (the first caller decides who hung up); wake every waiter."""
        if self.closed.is_set():
            return
        self._claim_hang_up(by)
        self.closed.set()
        self._notify()

    def _claim_hang_up(self, by: HungUpBy | None) -> None:
        if self.report.hung_up_by is None and by is not None:
            self.report.hung_up_by = by
            self._emit("hangup", by=by)

    async def aclose(self) -> None:
        """Stop the pump and receiver, and close the turn that was playing."""
        self.mark_closed(None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.playout.close(time.monotonic())
        self._collect_turns()

    async def wait_until(self, done: Callable[[], bool], limit_s: float) -> bool:
        """Until `done()` (True), the call closes, or `limit_s` seconds pass (False)."""
        deadline = time.monotonic() + max(0.0, limit_s)
        while not done():
            remaining = deadline - time.monotonic()
            if self.closed.is_set() or remaining <= 0:
                return False
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                pass
        return True

    # --- sending ---------------------------------------------------------------------------

    async def _send(self, build: Callable[[int], str], *, last: bool = False) -> bool:
        """Send one Twilio event built for the next sequence number; False once closed.

        `last` (the `stop`) shuts the door inside the lock, so no frame queued behind it on
        the lock can follow it onto the wire.
        """
        async with self._send_lock:
            if self.closed.is_set() or self._stopped:
                return False
            self._seq += 1
            self._stopped = last
            try:
                await self._ws.send(build(self._seq))
            except ConnectionClosed:
                self.mark_closed("agent")
                return False
        return True

    async def _pump(self) -> None:
        next_at = time.monotonic()
        while not self.closed.is_set():
            now = time.monotonic()
            if now - next_at > MAX_BEHIND_FRAMES * FRAME_S:
                self.report.send_stalls += 1
                next_at = now
            while next_at <= now and not self.closed.is_set():
                await self._send_frame()
                next_at += FRAME_S
            now = time.monotonic()
            for name in self.playout.due_marks(now):
                await self._echo_mark(name)
            self.playout.poll(now)
            self._collect_turns()
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _send_frame(self) -> None:
        frame, line, position = (
            self._outgoing.popleft() if self._outgoing else (SILENCE_FRAME, None, 0)
        )
        self._chunk += 1
        sid, chunk, timestamp = self.report.stream_sid, self._chunk, (self._chunk - 1) * FRAME_MS
        if not await self._send(lambda seq: codec.twilio_media(sid, seq, chunk, timestamp, frame)):
            return
        self.report.frames_sent += 1
        if line is not None:
            self._line_progress(line, position, time.monotonic())

    def _line_progress(self, line: QueuedLine, position: int, now: float) -> None:
        report = line.report
        if position == 0:
            report.started_at, report.started_at_wall = now, self._clock.iso(now)
            report.over_agent = self.playout.playing(now)
            self._current = line
            self._emit("line_started", step=report.step, text=report.text)
        if position == line.spoken.last_speech_index:
            report.ended_at, report.ended_at_wall = now, self._clock.iso(now)
            self._awaiting_reply = report
            self.last_action_at = now
            self._emit("line_ended", step=report.step)
        if position == len(line.spoken.frames) - 1:
            line.done.set()
            self._notify()

    async def _echo_mark(self, name: str) -> None:
        sid = self.report.stream_sid
        if await self._send(lambda seq: codec.twilio_mark(sid, seq, name)):
            self.report.marks_echoed.append(name)

    # --- receiving -------------------------------------------------------------------------

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                await self._on_message(raw, time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            self.report.close_code = self._ws.close_code
            self.report.close_reason = self._ws.close_reason or None
            self.mark_closed("agent")  # no-op when the lead hung up first

    async def _on_message(self, raw: str | bytes, now: float) -> None:
        event = codec.parse_outbound(raw)
        if isinstance(event, codec.ProtocolError):
            self.report.protocol_errors.append(event.reason)
            return
        if event.stream_sid != self.report.stream_sid:
            self.report.protocol_errors.append(f"message for stream {event.stream_sid!r}"[:120])
            return
        if isinstance(event, codec.OutboundMedia):
            self._on_media(event.payload, now)
        elif isinstance(event, codec.OutboundMark):
            self.report.marks_received += 1
            for name in self.playout.push_mark(event.name, now):
                await self._echo_mark(name)
        else:
            self.report.clears_received += 1
            line = self._current.report if self._current is not None else None
            # the clear belongs to the latest line if it came before the agent's reply to it
            if (
                line is not None
                and line.started_at is not None
                and line.clear_after_ms is None
                and (line.ended_at is None or self.last_turn_start < line.ended_at)
            ):
                line.clear_after_ms = round(1000.0 * (now - line.started_at), 1)
            self._emit("clear", pending_marks=len(self.playout.pending_marks))
            for name in self.playout.clear(now):
                await self._echo_mark(name)
            self._collect_turns()

    def _on_media(self, payload: bytes, now: float) -> None:
        if not payload:
            return
        r = self.report
        r.agent_media_frames += 1
        r.agent_audio_ms += 1000.0 * len(payload) / BYTES_PER_S
        started = self.playout.push_audio(payload, now)
        self._collect_turns()  # the previous turn may have ended just before this audio
        self.last_agent_audio_at = now
        if r.first_audio_ms is None and r.started_at is not None:
            r.first_audio_ms = round(1000.0 * (now - r.started_at), 1)
        if not started:
            return
        # a reply starts a new agent turn; audio that merely continues a turn the lead talked
        # over is no answer to the line
        waiting = self._awaiting_reply
        if waiting is not None and waiting.ended_at is not None:
            waiting.voice_to_voice_ms = round(1000.0 * (now - waiting.ended_at), 1)
            self._awaiting_reply = None
        self.last_turn_start = self.playout.turn_started_at or now
        self._notify()

    # --- bookkeeping -----------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake whatever the script waits on, so it re-checks its condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _collect_turns(self) -> None:
        finished = self.playout.take_finished()
        for heard in finished:
            self._on_turn(heard)
        if finished:
            self._notify()

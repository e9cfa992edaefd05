"""Stage tier: one `CallSession` driven in-process, on a fake clock, over both sides of a stream.

Theory of operation
-------------------
`StageCall` plays Twilio. Every 20 ms of fake time it encodes the next lead frame as a Twilio
`media` message, which the server side decodes with the daemon's own `MediaStreamDecoder` and
hands to the session, exactly as `daemon/api/media.py` does. What the session sends back is
parsed with `codec.parse_outbound` into a `Playout` (Twilio's playout buffer, simulated in the
same fake time): marks are echoed when their audio has played, `clear` drops what is buffered.

Nothing here waits on real time. The `FakeClock` moves only when the test advances it, and the
session's reply path runs on it: the brain is a real playbook `SalesAgent` (no LLM, no memory
sink), speech is a tone per sentence, and ASR is `ScriptedASR`, which answers from the lead's
script by what the audio covers (so "the first 200 ms read 'All right.'" is reproducible) after
a scripted decode time. The session's port to the daemon, `CallContext`, is kept but stores
turns in memory: the store and the live bus are covered by the end-to-end tier.

The lead's voice is a synthetic vowel buzz that webrtcvad classifies as speech.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentcore.sales_agent import SalesAgent
from agentcore.strategy import parse_strategy
from daemon.calls.brain import CallBrain, _DeferredHangup
from daemon.calls.runtime import CallContext
from daemon.calls.session import CallSession
from daemon.config import Settings
from daemon.media import mulaw
from daemon.simulate.playback import Playout
from daemon.speech.asr import ASRBackend, Transcript
from daemon.telephony import codec

FRAME_S = 0.02
STREAM_SID = "MZ" + "5" * 32
SEED = Path(__file__).resolve().parents[1] / "data" / "strategy.seed.json"


class FakeClock:
    """Time that moves only in `advance`; sleepers wake in deadline order."""

    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self._now + seconds
        await _settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = target
        await _settle()


async def _settle() -> None:
    """Let every task that can run, run (nothing in a stage call waits on real I/O)."""
    for _ in range(30):
        await asyncio.sleep(0)


# --- the lead's script and its ASR ------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """The lead speaks `text` from `at` for `ms` (stream ms). `partial` maps speech heard so
    far (ms) to what a decode of only that much reads, e.g. {200: "All right."}. A decode of
    the whole utterance reads `text`, or `plain` without the listener prompt and `prompted`
    with it when Whisper would mishear it one way ("mhm" as "and make sure.")."""

    at: int
    ms: int
    text: str
    partial: dict[int, str] = field(default_factory=dict)
    confidence: float = 0.9
    plain: str | None = None
    prompted: str | None = None

    @property
    def end(self) -> int:
        return self.at + self.ms

    def heard(self, covered_ms: int, listener: bool = False) -> str:
        if covered_ms >= self.ms - 40:
            misheard = self.prompted if listener else self.plain
            return self.text if misheard is None else misheard
        shown = [ms for ms in self.partial if ms <= covered_ms]
        if shown:
            return self.partial[max(shown)]
        words = self.text.split()
        return " ".join(words[: max(0, len(words) * covered_ms // self.ms)])


class ScriptedASR(ASRBackend):
    """Answers from the script: the audio ends now, so it covers [now - its length, now]."""

    name = "scripted"

    def __init__(self, clock: FakeClock, script: list[Say], *, decode_s: float = 0.12,
                 quick_s: float = 0.06) -> None:
        self.clock, self.script = clock, script
        self.decode_s, self.quick_s = decode_s, quick_s
        self.requests: list[tuple[float, float, bool]] = []  # (start ms, end ms, quick)

    async def transcribe(self, pcm16_8k: Any, *, language: str | None = None,
                         quick: bool = False, listener: bool = False) -> Transcript:
        end_ms = self.clock.now() * 1000
        audio_ms = 1000 * len(pcm16_8k) / 8000
        start_ms = end_ms - audio_ms
        self.requests.append((start_ms, end_ms, quick))
        await self.clock.sleep(self.quick_s if quick else self.decode_s)
        parts, confidence = [], 1.0
        for say in self.script:
            covered = min(say.end, end_ms) - max(say.at, start_ms)
            if covered > 0:
                text = say.heard(int(covered), listener)
                if text:
                    parts.append(text)
                    confidence = min(confidence, say.confidence)
        text = " ".join(parts)
        logprob = math.log(confidence) if text else -20.0
        return Transcript(text, confidence if text else 0.0, logprob, 0.0 if text else 1.0,
                          audio_ms, 1000 * (self.quick_s if quick else self.decode_s))


def buzz(ms: int, seed: int = 0) -> np.ndarray:
    """A vowel-like buzz (webrtcvad calls it speech), 8 kHz int16."""
    t = np.arange(ms * 8) / 8000
    f0 = 125 + 15 * seed + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 8000
    wave = sum((1 / k) * np.sin(k * phase) for k in range(1, 20))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return np.asarray(wave * envelope * 6000, dtype=np.int16)


def tone_speaker(clock: FakeClock, ms_per_char: float = 60.0) -> Any:
    """The agent's voice: a quiet tone as long as the sentence would take to say."""

    async def speak(text: str) -> AsyncIterator[bytes]:
        await clock.sleep(0.03)  # first audio after 30 ms, like a warm TTS
        samples = int(len(text) * ms_per_char * 8)
        t = np.arange(samples) / 8000
        audio = mulaw.encode(np.asarray(1500 * np.sin(2 * np.pi * 440 * t), dtype=np.int16))
        for offset in range(0, len(audio), 1600):
            yield audio[offset:offset + 1600]

    return speak


# --- the call -----------------------------------------------------------------------------------


class StageContext(CallContext):
    """The session's port to the daemon, keeping turns and live updates in memory."""

    turns: list[dict[str, Any]]
    hung_up: str | None

    async def translate_in(self, text: str) -> str:
        return text

    def live_update(self, **fields: Any) -> None:
        pass

    async def persist_turn(self, turn: dict[str, Any]) -> None:
        self.turns.append(turn)

    async def on_reply(self, reply: Any) -> None:
        pass

    async def opt_out(self, source: str) -> None:
        self.opted_out = True
        self.agent.mark_do_not_call()


@dataclass
class Heard:
    """Agent audio as the lead heard it: (start, end) seconds of fake time, per played chunk."""

    spans: list[tuple[float, float]] = field(default_factory=list)

    def playing(self, start: float, end: float) -> float:
        """Seconds of agent audio heard within [start, end)."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans)

    def first_after(self, t: float) -> float | None:
        return next((a for a, _ in sorted(self.spans) if a >= t), None)

    def stopped_after(self, t: float) -> float | None:
        """When agent audio that was playing at `t` (or began after it) stopped."""
        for a, b in sorted(self.spans):
            if b > t:
                if a > t + FRAME_S:
                    return t
                t = b
        return t

    def longest_gap(self, start: float, end: float) -> float:
        inside = sorted((max(a, start), min(b, end)) for a, b in self.spans if b > start and a < end)
        gaps = [b2[0] - b1[1] for b1, b2 in itertools.pairwise(inside)]
        return max(gaps, default=0.0)


class StageCall:
    """Twilio's side of one stream, driving a real `CallSession` on a `FakeClock`."""

    def __init__(self, script: list[Say], *, settings: Settings | None = None,
                 decode_s: float = 0.12, quick_s: float = 0.06) -> None:
        self.clock = FakeClock()
        self.script = sorted(script, key=lambda s: s.at)
        self.settings = settings or Settings(_env_file=None, ai_disclosure=True)  # type: ignore[call-arg]
        self.asr = ScriptedASR(self.clock, self.script, decode_s=decode_s, quick_s=quick_s)
        self.playout = Playout(gap_s=0.4)
        self.decoder = codec.MediaStreamDecoder()
        self.heard = Heard()
        self.clears: list[float] = []
        self.sent: list[bytes] = []  # every agent media payload, in order
        self._seq = 0
        self._lead = self._render()
        strategy = parse_strategy(SEED.read_bytes())
        agent = SalesAgent(strategy, strategy_id="seed", call_id="call_stage", lead_phone="+15550100")
        brain = CallBrain(agent, strategy, _DeferredHangup())
        self.ctx = StageContext(services=None, settings=self.settings,  # type: ignore[arg-type]
                                call={"_id": "call_stage", "lead_phone": "+15550100"},
                                stream_sid=STREAM_SID, send=self._receive, agent=brain,
                                asr=self.asr, speak=tone_speaker(self.clock),
                                hang_up_hook=self._hang_up)
        self.ctx.turns, self.ctx.hung_up = [], None
        self.session: CallSession | None = None

    def say(self, say: Say) -> None:
        """Add a line to the lead's script (it must start after the stream time reached)."""
        assert say.at >= self.clock.now() * 1000
        self.script.append(say)
        self.script.sort(key=lambda s: s.at)
        self._lead = self._render()

    def _render(self) -> np.ndarray:
        end = max((say.end for say in self.script), default=0) + 20
        pcm = np.zeros(end * 8, dtype=np.int16)
        for index, say in enumerate(self.script):
            pcm[say.at * 8:say.end * 8] = buzz(say.ms, seed=index % 3)
        return pcm

    async def _hang_up(self, reason: str) -> None:
        self.ctx.hung_up = reason

    async def _receive(self, raw: str) -> None:
        """The server sent a frame: what Twilio would do with it."""
        now = self.clock.now()
        event = codec.parse_outbound(raw)
        if isinstance(event, codec.OutboundMedia):
            start = max(now, self.playout.play_until)
            self.playout.push_audio(event.payload, now)
            self.heard.spans.append((start, self.playout.play_until))
            self.sent.append(event.payload)
        elif isinstance(event, codec.OutboundMark):
            self._echo(self.playout.push_mark(event.name, now))
        elif isinstance(event, codec.Clear):
            self.clears.append(now)
            # audio queued behind `now` never plays: cut the spans heard
            self.heard.spans = [(a, min(b, now)) for a, b in self.heard.spans if a < now]
            self._echo(self.playout.clear(now))

    def _echo(self, names: list[str]) -> None:
        assert self.session is not None
        for name in names:
            self._seq += 1
            event = self.decoder.receive(codec.twilio_mark(STREAM_SID, self._seq, name))
            assert isinstance(event, codec.Mark)
            self.session.on_mark(event.name)

    async def start(self) -> None:
        self.decoder.receive(codec.twilio_connected())
        start = self.decoder.receive(codec.twilio_start(
            STREAM_SID, "CA" + "6" * 32, "AC" + "7" * 32, {"call_id": "call_stage"}))
        assert isinstance(start, codec.Start)
        self.session = CallSession(self.ctx, clock=self.clock)
        await self.session.begin()

    async def run(self, until_ms: int) -> None:
        """Stream lead frames (silence after the script) until stream time `until_ms`."""
        assert self.session is not None
        while self.clock.now() * 1000 < until_ms - 1:
            index = round(self.clock.now() / FRAME_S)
            frame = self._lead[index * 160:(index + 1) * 160]
            payload = mulaw.encode(frame) if len(frame) == 160 else b"\xff" * 160
            self._seq += 1
            event = self.decoder.receive(codec.twilio_media(STREAM_SID, self._seq, index,
                                                             index * 20, payload))
            assert isinstance(event, codec.Media)
            self.session.on_media(event.payload)
            await self.clock.advance(FRAME_S)
            self._echo(self.playout.due_marks(self.clock.now()))

    async def greeting_end(self) -> float:
        """Run until the greeting has played out; returns when it ended (seconds)."""
        for _ in range(3000):
            await self.run(int(self.clock.now() * 1000) + 20)
            if self.heard.spans and not self.playout.playing(self.clock.now()):
                return self.playout.play_until
        raise AssertionError("the greeting never finished")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.finish()

    # --- what happened ------------------------------------------------------------------------
    def lead_turns(self) -> list[str]:
        return [t["text"] for t in self.ctx.turns if t["role"] == "lead"]

    def agent_turns(self) -> list[dict[str, Any]]:
        return [t for t in self.ctx.turns if t["role"] == "agent"]

    def brain_history(self) -> list[tuple[str, str]]:
        return [(line.role, line.text) for line in self.ctx.agent.agent.conversation.lines]

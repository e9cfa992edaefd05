"""The simulated lead against a fake daemon: a real WebSocket server on loopback that plays the
agent's side and checks every frame the lead sends is what Twilio would send, in order.

Stage tests: real sockets, real Piper for the lead's voice, real time pacing; no daemon.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agentcore.tone import VoiceSettings
from daemon.media import mulaw
from daemon.simulate.audio import build_line, is_silent
from daemon.simulate.lead import SimulatedLead
from daemon.simulate.report import LeadReport
from daemon.simulate.scenario import SayStep, Scenario, load_scenario
from daemon.speech.asr import ASRBackend
from daemon.speech.piper_tts import PiperTTS
from daemon.telephony import codec

pytestmark = pytest.mark.audio  # real Piper voice (and faster-whisper once)

PARAMS = {"call_id": "call_0123456789ab", "stream_token": "tok-xyz"}
SILENT_FRAMES_ENDING_SPEECH = 10  # 200 ms of silence after speech: the lead finished a line
LIMIT_S = 60  # hang protection only; nothing here asserts on durations


@pytest.fixture(scope="session")
def piper() -> Iterator[PiperTTS]:
    tts = PiperTTS()
    yield tts
    asyncio.run(tts.close())


@pytest.fixture(scope="module")
def whisper() -> Iterator[ASRBackend]:
    """The lead's ears, loaded once for the tests that listen."""
    from daemon.speech.asr import FasterWhisperASR

    asr = FasterWhisperASR()
    yield asr
    asr.close()


def tone(ms: int) -> bytes:
    t = np.arange(8 * ms) / 8000
    return mulaw.encode((6000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16))


def scenario(*steps: dict[str, object], listen: bool = False) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "test",
            "lead": {"name": "Pat", "phone": "+14155550123"},
            "listen": listen,
            "gap_ms": 150,
            "max_wait_s": 10,
            "steps": list(steps),
        }
    )


class FakeDaemon:
    """The agent's side of one stream: records every event (validated by the codec's decoder)
    and lets a test script send audio, marks and clears in reaction to them."""

    def __init__(self, script: Callable[[FakeDaemon], Awaitable[None]]) -> None:
        self.script = script
        self.events: list[codec.Event] = []
        self.sent: list[str] = []  # what the fake sent: "media", "mark:NAME", "clear"
        self.log: list[tuple[str, int]] = []  # (what the fake sent, len(events) at that time)
        self.ws: ServerConnection | None = None
        self.closed_by_peer = False
        self._changed = asyncio.Event()
        self.failure: BaseException | None = None

    @property
    def stream_sid(self) -> str:
        start = next(e for e in self.events if isinstance(e, codec.Start))
        return start.stream_sid

    def media(self) -> list[codec.Media]:
        return [e for e in self.events if isinstance(e, codec.Media)]

    def marks(self) -> list[str]:
        return [e.name for e in self.events if isinstance(e, codec.Mark)]

    async def handler(self, ws: ServerConnection) -> None:
        self.ws = ws
        reader = asyncio.create_task(self._read(ws))
        try:
            await self.script(self)
            await asyncio.wait_for(asyncio.shield(reader), LIMIT_S)
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            reader.cancel()

    async def _read(self, ws: ServerConnection) -> None:
        decoder = codec.MediaStreamDecoder()
        try:
            async for raw in ws:
                self.events.append(decoder.receive(raw))
                self._changed.set()
                self._changed = asyncio.Event()
        except ConnectionClosed:
            pass
        self.closed_by_peer = True

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(LIMIT_S):
            while not done():
                await self._changed.wait()

    async def until_lead_finishes_a_line(self, after: int,
                                         quiet_frames: int = SILENT_FRAMES_ENDING_SPEECH) -> int:
        """Index of the event that ends the lead's first line spoken after event `after`
        (`quiet_frames` silent frames after its speech)."""

        def end() -> int | None:
            spoke, quiet = False, 0
            for index in range(after, len(self.events)):
                event = self.events[index]
                if not isinstance(event, codec.Media):
                    continue
                if not is_silent(event.payload):
                    spoke, quiet = True, 0
                elif spoke:
                    quiet += 1
                    if quiet == quiet_frames:
                        return index
            return None

        await self.until(lambda: end() is not None)
        found = end()
        assert found is not None
        return found

    async def until_lead_speaks(self, after: int) -> int:
        def first() -> int | None:
            return next(
                (
                    i
                    for i in range(after, len(self.events))
                    if isinstance(self.events[i], codec.Media)
                    and not is_silent(self.events[i].payload)  # type: ignore[union-attr]
                ),
                None,
            )

        await self.until(lambda: first() is not None)
        found = first()
        assert found is not None
        return found

    async def send_audio(self, audio: bytes, chunk: int = 800) -> None:
        assert self.ws is not None
        for i in range(0, len(audio), chunk):
            await self.ws.send(codec.media_message(self.stream_sid, audio[i : i + chunk]))
        self._note("media")

    async def send_mark(self, name: str) -> None:
        assert self.ws is not None
        await self.ws.send(codec.mark_message(self.stream_sid, name))
        self._note(f"mark:{name}")

    async def send_clear(self) -> None:
        assert self.ws is not None
        await self.ws.send(codec.clear_message(self.stream_sid))
        self._note("clear")

    def _note(self, what: str) -> None:
        self.sent.append(what)
        self.log.append((what, len(self.events)))


@asynccontextmanager
async def fake_daemon(
    script: Callable[[FakeDaemon], Awaitable[None]],
) -> AsyncIterator[tuple[FakeDaemon, str]]:
    fake = FakeDaemon(script)
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield fake, f"ws://127.0.0.1:{port}/twilio/media"


async def run_lead(url: str, plan: Scenario, piper: PiperTTS, **kwargs: object) -> LeadReport:
    lead = SimulatedLead(url, PARAMS, plan, piper.with_length_scale(1.25), **kwargs)  # type: ignore[arg-type]
    async with asyncio.timeout(LIMIT_S):
        return await lead.run()


def assert_twilio_stream(events: list[codec.Event]) -> None:
    """Exactly what Twilio sends: connected, start, numbered 20 ms media (+ marks/dtmf), stop."""
    errors = [e for e in events if isinstance(e, codec.ProtocolError)]
    assert errors == []
    assert isinstance(events[0], codec.Connected)
    start = events[1]
    assert isinstance(start, codec.Start)
    assert dict(start.custom_parameters) == PARAMS
    assert re.fullmatch(r"MZ[0-9a-f]{32}", start.stream_sid)
    assert re.fullmatch(r"CA[0-9a-f]{32}", start.call_sid)
    assert re.fullmatch(r"AC[0-9a-f]{32}", start.account_sid)
    assert start.tracks == ("inbound",)
    assert start.media_format == codec.MediaFormat("audio/x-mulaw", 8000, 1)
    assert isinstance(events[-1], codec.Stop)
    assert events[-1].call_sid == start.call_sid
    numbers = [e.sequence_number for e in events[1:]]  # type: ignore[union-attr]
    assert numbers == list(range(1, len(events)))
    media = [e for e in events if isinstance(e, codec.Media)]
    assert all(len(m.payload) == 160 and m.track == "inbound" for m in media)
    assert [m.chunk for m in media] == list(range(1, len(media) + 1))
    assert [m.timestamp for m in media] == [20 * i for i in range(len(media))]


async def test_lead_speaks_twilio_echoes_marks_handles_clear_and_hangs_up(
    piper: PiperTTS,
) -> None:
    async def agent(fake: FakeDaemon) -> None:
        await fake.until(lambda: any(isinstance(e, codec.Start) for e in fake.events))
        await fake.send_audio(tone(400))  # the greeting
        await fake.send_mark("greeting")
        line_end = await fake.until_lead_finishes_a_line(after=2)
        await fake.send_audio(tone(2000))  # a long pitch, in two sentences
        await fake.send_mark("s1")
        await fake.send_audio(tone(2000))
        await fake.send_mark("s2")
        barge = await fake.until_lead_speaks(after=line_end)  # the barge-in
        await fake.send_clear()
        # 600 ms of quiet: a pause inside "Wait, sorry." (Piper varies it) is not the line's end,
        # and a reply sent before the line's last speech frame answers nothing
        await fake.until_lead_finishes_a_line(after=barge, quiet_frames=30)
        await fake.send_audio(tone(300))
        await fake.send_mark("bye")

    plan = scenario(
        {"say": "What does it cost?"},
        {"barge_in": "Wait, sorry.", "after_ms": 300},
        {"hangup": True},
    )
    async with fake_daemon(agent) as (fake, url):
        report = await run_lead(url, plan, piper)
        await fake.until(lambda: fake.closed_by_peer)
    assert fake.failure is None
    assert_twilio_stream(fake.events)

    # marks come back only after their audio played, and every pending one at `clear`
    assert report.marks_echoed == ["greeting", "s1", "s2", "bye"] == fake.marks()
    first_speech = next(
        i for i, e in enumerate(fake.events) if isinstance(e, codec.Media) and not is_silent(e.payload)
    )
    greeting_echo = next(
        i for i, e in enumerate(fake.events) if isinstance(e, codec.Mark) and e.name == "greeting"
    )
    assert greeting_echo < first_speech, "the lead waited for the greeting to finish"
    clear_at = dict(fake.log)["clear"]
    s1_echo = next(
        i for i, e in enumerate(fake.events) if isinstance(e, codec.Mark) and e.name == "s1"
    )
    assert s1_echo >= clear_at, "s1 was still pending: echoed because of the clear"

    assert report.error is None and report.protocol_errors == []
    assert report.connected and report.hung_up_by == "lead"
    assert report.first_audio_ms is not None
    assert report.clears_received == 1 and report.marks_received == 4
    say, barge = report.lines
    assert (say.kind, barge.kind) == ("say", "barge_in")
    assert say.voice_to_voice_ms is not None and say.voice_to_voice_ms >= 0
    assert not say.over_agent and barge.over_agent
    assert barge.clear_after_ms is not None and barge.clear_after_ms >= 0
    assert barge.voice_to_voice_ms is not None
    assert say.clear_after_ms is None
    assert [t.interrupted for t in report.agent_turns] == [False, True, False]
    assert report.agent_turns[1].audio_ms < 4000  # only what played before the clear
    assert report.agent_media_frames == 4 + 20 + 20 + 3  # 800-byte chunks
    assert report.frames_sent == len(fake.media())
    assert report.late_frames == 0
    as_json = json.loads(report.to_json())
    assert as_json["lines"][0]["text"] == "What does it cost?"
    assert as_json["hung_up_by"] == "lead" and as_json["duration_ms"] > 0


async def test_a_paused_line_keeps_its_pause_as_silence(piper: PiperTTS) -> None:
    step = load_scenario("comma_pause").steps[0]
    assert isinstance(step, SayStep) and step.pause_ms_inside == 400
    voice = piper.with_length_scale(1.25)
    parts = [await voice.synthesize(text, VoiceSettings()) for text in step.split()]
    line = build_line(parts, step.pause_ms_inside)
    runs = "".join("s" if is_silent(f) else "x" for f in line.frames).split("x")
    assert max(len(run) for run in runs) >= 400 // 20
    assert line.last_speech_index == len(line.frames) - 1


async def test_agent_hangs_up_after_a_key_press_and_the_lead_hears_it(
    piper: PiperTTS, whisper: ASRBackend,
) -> None:
    spoken = await piper.synthesize("We start at four hundred ninety nine dollars a month.",
                                    VoiceSettings())

    async def agent(fake: FakeDaemon) -> None:
        await fake.until(lambda: any(isinstance(e, codec.Start) for e in fake.events))
        await fake.send_audio(tone(300))
        await fake.send_mark("greeting")
        await fake.until(lambda: any(isinstance(e, codec.Dtmf) for e in fake.events))
        await fake.send_audio(spoken)
        await fake.send_mark("goodbye")
        await fake.until(lambda: "goodbye" in fake.marks())  # played out: now hang up
        assert fake.ws is not None
        await fake.ws.close()

    events: list[str] = []
    plan = scenario(
        {"dtmf": "9", "expect_any": ["month", "499"]},
        {"silence": 45},
        {"say": "never reached"},
        listen=True,
    )
    async with fake_daemon(agent) as (fake, url):
        report = await run_lead(
            url, plan, piper, asr=whisper, on_event=lambda kind, data: events.append(kind)
        )
    assert fake.failure is None
    dtmf = [e for e in fake.events if isinstance(e, codec.Dtmf)]
    assert [(d.digit, d.track) for d in dtmf] == [("9", "inbound_track")]
    assert not any(isinstance(e, codec.Stop) for e in fake.events)  # the agent hung up
    assert report.error is None
    assert report.hung_up_by == "agent" and report.dtmf_sent == ["9"]
    assert report.close_code == 1000
    assert report.lines == []  # the silence ended with the call; the last line never ran
    assert report.marks_echoed == ["greeting", "goodbye"]
    heard = report.agent_turns[-1].transcript or ""
    assert "month" in heard.lower(), heard
    (expectation,) = report.expectations
    assert expectation.met is True and expectation.step == 0
    assert {"connected", "dtmf", "agent_turn", "agent_heard", "hangup"} <= set(events)


@pytest.mark.parametrize(("offer", "expected", "chosen_by"), [
    ("I can do Thursday at ten or Friday at nine.", "Thursday is best.", "thursday"),
    ("I can do Friday at nine.", "Friday then.", "friday"),
    ("Would next week suit you?", "Any time works.", None),
])
async def test_the_lead_answers_by_what_it_heard(
    piper: PiperTTS, whisper: ASRBackend, offer: str, expected: str, chosen_by: str | None
) -> None:
    offered = await piper.synthesize(offer, VoiceSettings())

    async def agent(fake: FakeDaemon) -> None:
        await fake.until(lambda: any(isinstance(e, codec.Start) for e in fake.events))
        await fake.send_audio(offered)
        await fake.send_mark("offer")
        await fake.until_lead_finishes_a_line(after=2)
        await fake.send_audio(tone(300))
        await fake.send_mark("ok")

    plan = scenario(
        {"say": "Any time works.", "if_heard": [
            {"heard": ["thursday"], "say": "Thursday is best."},
            {"heard": ["friday"], "say": "Friday then."}]},
        {"hangup": True},
        listen=True,
    )
    async with fake_daemon(agent) as (fake, url):
        report = await run_lead(url, plan, piper, asr=whisper)
    assert fake.failure is None and report.error is None
    (line,) = report.lines
    assert (line.text, line.chosen_by) == (expected, chosen_by), report.agent_turns[0].transcript
    assert report.agent_turns[0].transcript  # heard during the call, not transcribed twice


async def test_the_lead_says_its_line_again_when_asked(piper: PiperTTS, whisper: ASRBackend) -> None:
    pardon = await piper.synthesize("Sorry, I didn't quite catch that. Could you say it again?",
                                    VoiceSettings())

    async def agent(fake: FakeDaemon) -> None:
        await fake.until(lambda: any(isinstance(e, codec.Start) for e in fake.events))
        await fake.send_audio(tone(300))
        await fake.send_mark("greeting")
        first = await fake.until_lead_finishes_a_line(after=2)
        await fake.send_audio(pardon)
        await fake.send_mark("pardon")
        await fake.until_lead_finishes_a_line(after=first)  # the same line, again
        await fake.send_audio(tone(300))
        await fake.send_mark("thanks")

    plan = scenario({"say": "Who is this?"}, {"hangup": True}, listen=True)
    async with fake_daemon(agent) as (fake, url):
        report = await run_lead(url, plan, piper, asr=whisper)
    assert fake.failure is None and report.error is None
    assert [(line.text, line.repeated) for line in report.lines] == [
        ("Who is this?", False), ("Who is this?", True)]
    assert report.marks_echoed == ["greeting", "pardon", "thanks"]


def test_choices_need_a_listening_lead() -> None:
    with pytest.raises(ValueError, match="if_heard needs listen"):
        scenario({"say": "A", "if_heard": [{"heard": ["x"], "say": "B"}]}, listen=False)


async def test_a_refused_connection_is_reported_not_raised(piper: PiperTTS) -> None:
    async with serve(lambda ws: ws.close(), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
    report = await run_lead(f"ws://127.0.0.1:{port}/twilio/media", scenario({"say": "Hi"}), piper)
    assert not report.connected and report.error is not None
    assert report.lines == [] and report.hung_up_by is None

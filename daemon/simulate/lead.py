"""A simulated lead: to the daemon, a phone call through Twilio that follows a scenario.

Theory of operation
-------------------
`SimulatedLead.run()` connects to the daemon's `/twilio/media` WebSocket and hands the socket
to a `phone.PhoneLine`, which speaks Twilio's Media Streams protocol exactly (real-time 20 ms
media, mark echoes, `clear`, `dtmf`, `stop`). This module is the person on the phone: it walks
the scenario's steps and decides *when* to act by listening:

* `say` waits for its cue, the agent's turn being over: the agent spoke after the lead's last
  action, its audio has finished playing, and nothing new came for `gap_ms`;
* `barge_in` waits for the agent's next turn to start playing, then `after_ms`, and talks over
  it;
* `silence` waits, ending early if the daemon hangs up; `dtmf` presses keys; `hangup` ends.

A cue that never comes (`max_wait_s`) does not stall the rehearsal: the lead acts anyway and
the report says so. Every line is synthesised up front by a background task (the TTS runs in
its own threads), so a cue is answered within one 20 ms frame. The lead keeps the audio of each
agent turn as it played; when the scenario listens, the ASR transcribes it, off the event loop
and by default after the call (see `SimulatedLead`), to record what the lead heard and check
`expect_any`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from agentcore.tone import VoiceSettings
from daemon.media import mulaw
from daemon.simulate.audio import SpokenLine, build_line
from daemon.simulate.expect import evaluate_expectations, keyword_heard
from daemon.simulate.phone import PhoneLine
from daemon.simulate.playback import HeardTurn, Playout
from daemon.simulate.report import AgentTurnReport, LeadReport, LineReport, WallClock
from daemon.simulate.scenario import (
    BargeInStep,
    DtmfStep,
    HangupStep,
    SayStep,
    Scenario,
    SilenceStep,
    SpeechStep,
    WaitFor,
)
from daemon.speech.asr import ASRBackend
from daemon.speech.tts import TTSBackend
from daemon.telephony import codec

log = logging.getLogger(__name__)

# what an agent says when it wants the lead's last line again (heard through the ASR)
ASKED_TO_REPEAT = ("say it again", "say that again", "didn't quite catch", "did not quite catch",
                   "didn't catch", "repeat that", "come again", "line isn't very clear")

EventCallback = Callable[[str, dict[str, Any]], None]
"""`on_event(kind, data)`: connected, line_started, line_ended, agent_turn, agent_heard,
clear, dtmf, hangup. Called on the event loop; must be quick and must not raise."""

DTMF_SPACING_S = 0.25
ASR_DRAIN_TIMEOUT_S = 60.0  # after the call, for every transcript still to come
LINE_SEND_SLACK_S = 30.0  # beyond a line's own duration, before giving up on sending it


def new_sid(prefix: str) -> str:
    """A Twilio-style id: two-letter prefix and 32 hex digits (MZ stream, CA call, AC account)."""
    return prefix + secrets.token_hex(16)


class SimulatedLead:
    """Plays one scenario against the daemon's media WebSocket; `run()` returns the report.

    `custom_parameters` are the TwiML `<Parameter>`s the daemon issued for the call (e.g.
    `call_id`, `stream_token`), sent verbatim in `start`. `lead_tts` speaks the lead's lines,
    e.g. `PiperTTS.with_length_scale(scenario.voice_length_scale)`, so the lead sounds unlike
    the agent. `asr` transcribes the agent's turns when `scenario.listen` (None: no
    transcripts). `call_sid` defaults to a fresh CA id.

    Transcription happens after the call unless `transcribe_live`: a real lead's ears cost
    the daemon nothing, and in-process the lead's ASR shares the daemon's CPU (often its very
    ASR threads), so transcribing during the call would slow the latency being measured.
    """

    def __init__(
        self,
        ws_url: str,
        custom_parameters: Mapping[str, str],
        scenario: Scenario,
        lead_tts: TTSBackend,
        asr: ASRBackend | None = None,
        *,
        on_event: EventCallback | None = None,
        call_sid: str | None = None,
        voice: VoiceSettings | None = None,
        underrun_tolerance_ms: float = 20.0,
        open_timeout_s: float = 10.0,
        transcribe_live: bool = False,
    ) -> None:
        self.ws_url = ws_url
        self.custom_parameters = dict(custom_parameters)
        self.scenario = scenario
        self._tts = lead_tts
        self._asr = asr if scenario.listen else None
        self._transcribe_live = transcribe_live
        self._unheard: list[tuple[AgentTurnReport, bytes]] = []  # turns to transcribe later
        self._on_event = on_event
        self._voice = voice or VoiceSettings()
        self._tolerance_s = underrun_tolerance_ms / 1000.0
        self._open_timeout_s = open_timeout_s
        self.report = LeadReport(
            scenario=scenario.name,
            stream_sid=new_sid("MZ"),
            call_sid=call_sid or new_sid("CA"),
            account_sid=new_sid("AC"),
        )
        self._clock = WallClock()
        self._phone: PhoneLine | None = None
        self._lines: dict[int, asyncio.Future[SpokenLine]] = {}
        self._choices: dict[int, list[asyncio.Future[SpokenLine]]] = {}  # a say step's if_heard
        self._last_turn: tuple[AgentTurnReport, bytes] | None = None
        self._live: dict[int, asyncio.Task[None]] = {}  # agent turn index -> its transcription
        self._step_times: dict[int, tuple[float, float]] = {}
        self._asr_tasks: set[asyncio.Task[None]] = set()

    @property
    def stream_sid(self) -> str:
        return self.report.stream_sid

    # --- public ----------------------------------------------------------------------------

    async def run(self) -> LeadReport:
        """Connect, play the scenario, hang up unless the daemon did, and return the report.

        Never raises for call problems (refused connection, dropped socket, TTS failure):
        they end up in `report.error`. Cancelling `run()` cancels the call.
        """
        synth = asyncio.create_task(self._synthesise_lines(), name="lead-tts")
        try:
            async with connect(
                self.ws_url,
                open_timeout=self._open_timeout_s,
                max_size=codec.MAX_OUTBOUND_FRAME_BYTES,
                compression=None,
                close_timeout=2.0,
            ) as ws:
                self.report.connected = True
                phone = PhoneLine(
                    ws,
                    self.report,
                    Playout(self.scenario.gap_ms / 1000.0, self._tolerance_s),
                    clock=self._clock,
                    emit=self._emit,
                    on_turn=self._add_turn,
                )
                self._phone = phone
                try:
                    await phone.open(self.custom_parameters)
                    self._emit("connected", call_sid=self.report.call_sid)
                    await self._play_script(phone)
                finally:
                    # the end of the script, an error or cancellation: hang up like a phone,
                    # with `stop` (a no-op when the daemon hung up already)
                    with contextlib.suppress(Exception):
                        await phone.hang_up("lead")
                    await phone.aclose()
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.report.error = f"could not connect to {self.ws_url}: {exc}"
        except ConnectionClosed:  # the daemon closed the socket before `start` went out
            self.report.hung_up_by = self.report.hung_up_by or "agent"
        except Exception as exc:  # reported, so a broken rehearsal still shows what happened
            log.exception("simulated lead failed")
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            synth.cancel()
            await asyncio.gather(synth, return_exceptions=True)
            await self._finish_report()
        return self.report

    async def hang_up(self) -> None:
        """Hang up now, as the lead (`stop`, then close)."""
        if self._phone is not None:
            await self._phone.hang_up("lead")

    async def network_hangup(self) -> None:
        """The daemon ended the call through telephony: like Twilio, send `stop` and close."""
        if self._phone is not None:
            await self._phone.hang_up("agent")

    # --- the script ------------------------------------------------------------------------

    async def _play_script(self, phone: PhoneLine) -> None:
        steps = self.scenario.steps
        for index, step in enumerate(steps):
            if phone.closed.is_set():
                return
            previous = steps[index - 1] if index else None
            # before the next action that waits for the agent anyway (a silence starts at once)
            if isinstance(previous, SayStep) and isinstance(step, SayStep | DtmfStep | HangupStep) \
                    and step.wait_for == "agent_done":
                await self._repeat_if_asked(phone, index - 1, previous)
            if isinstance(step, SayStep):
                waited = await self._await_cue(phone, step.wait_for)
                await self._speak(phone, index, step, waited, *await self._choose(index, step))
            elif isinstance(step, BargeInStep):
                waited = await self._await_turn(phone, step.after_ms)
                await self._speak(phone, index, step, waited, step.barge_in, self._lines[index])
            elif isinstance(step, SilenceStep):
                self._stamp(index)
                await phone.wait_until(lambda: False, step.seconds)
            elif isinstance(step, DtmfStep):
                await self._await_cue(phone, step.wait_for)
                for position, digit in enumerate(step.dtmf):
                    if position:
                        await phone.wait_until(lambda: False, DTMF_SPACING_S)
                    if not await phone.press(digit):
                        return
                    self.report.dtmf_sent.append(digit)
                    self._emit("dtmf", digit=digit)
                phone.last_action_at = self._stamp(index)
            elif isinstance(step, HangupStep):
                await self._await_cue(phone, step.wait_for)
                self._stamp(index)
                return
        if isinstance(steps[-1], SayStep | BargeInStep):
            await self._await_cue(phone, "agent_done")  # hear the reply to the last line

    def _stamp(self, index: int) -> float:
        now = time.monotonic()
        self._step_times[index] = (now, now)
        return now

    async def _await_cue(self, phone: PhoneLine, wait_for: WaitFor) -> tuple[float, bool]:
        """Wait until the agent spoke after the lead's last action and its turn is over.

        Returns (ms waited, whether `max_wait_s` ran out first).
        """
        if wait_for == "none":
            return 0.0, False
        started, since = time.monotonic(), phone.last_action_at
        ok = await phone.wait_until(
            lambda: phone.last_agent_audio_at > since and not phone.playout.in_turn,
            self.scenario.max_wait_s,
        )
        return 1000.0 * (time.monotonic() - started), not ok and not phone.closed.is_set()

    async def _await_turn(self, phone: PhoneLine, after_ms: int) -> tuple[float, bool]:
        """Wait for the agent's next turn to start playing, then `after_ms` more."""
        started, since = time.monotonic(), phone.last_action_at
        ok = await phone.wait_until(
            lambda: phone.last_turn_start >= since, self.scenario.max_wait_s
        )
        if ok:
            delay = phone.last_turn_start + after_ms / 1000.0 - time.monotonic()
            await phone.wait_until(lambda: False, delay)
        return 1000.0 * (time.monotonic() - started), not ok and not phone.closed.is_set()

    async def _repeat_if_asked(self, phone: PhoneLine, index: int, step: SayStep) -> None:
        """Say the last line once more when the agent's reply was "could you say it again?"."""
        if self._asr is None or self._last_turn is None or phone.closed.is_set():
            return
        waited = await self._await_cue(phone, "agent_done")
        turn, audio = self._last_turn
        if turn.started_at < (self._step_times.get(index) or (0.0, 0.0))[1]:
            return  # no reply yet (the cue timed out)
        heard = await self._hear_now(turn, audio)
        if not any(keyword_heard(phrase, heard) for phrase in ASKED_TO_REPEAT):
            return
        previous = next(line for line in reversed(self.report.lines) if line.step == index)
        log.info("lead repeats step %d: the agent asked (%r)", index, heard[:60])
        await self._speak(phone, index, step, waited, previous.text,
                          self._line_for(index, step, previous.text), previous.chosen_by,
                          repeated=True)

    def _line_for(self, index: int, step: SayStep, text: str) -> asyncio.Future[SpokenLine]:
        for choice, line in zip(step.if_heard, self._choices[index], strict=True):
            if choice.say == text:
                return line
        return self._lines[index]

    async def _choose(
        self, index: int, step: SayStep
    ) -> tuple[str, asyncio.Future[SpokenLine], str | None]:
        """The line to say: the first `if_heard` choice whose keyword the lead caught in the
        agent's last turn (transcribed now), else the step's own line."""
        default = (step.say, self._lines[index], None)
        if not step.if_heard or self._asr is None or self._last_turn is None:
            return default
        heard = await self._hear_now(*self._last_turn)
        for choice, line in zip(step.if_heard, self._choices[index], strict=True):
            keyword = next((k for k in choice.heard if keyword_heard(k, heard)), None)
            if keyword is not None:
                return choice.say, line, keyword
        return default

    async def _hear_now(self, turn: AgentTurnReport, audio: bytes) -> str:
        """The transcript of one agent turn, now (it is not transcribed again after the call)."""
        assert self._asr is not None
        if turn.transcript is None:
            task = self._live.get(turn.index)
            if task is None:
                self._unheard = [(t, a) for t, a in self._unheard if t is not turn]
                task = asyncio.create_task(self._transcribe(self._asr, turn, audio))
                self._live[turn.index] = task
            await asyncio.shield(task)
        return turn.transcript or ""

    async def _speak(
        self,
        phone: PhoneLine,
        index: int,
        step: SpeechStep,
        waited: tuple[float, bool],
        text: str,
        line: asyncio.Future[SpokenLine],
        chosen_by: str | None = None,
        repeated: bool = False,
    ) -> None:
        spoken = await line
        if phone.closed.is_set():
            return
        kind: Literal["say", "barge_in"] = "say" if isinstance(step, SayStep) else "barge_in"
        report = LineReport(index, kind, text, audio_ms=spoken.duration_ms, chosen_by=chosen_by,
                            repeated=repeated)
        report.waited_ms, report.wait_timed_out = round(waited[0], 1), waited[1]
        self.report.lines.append(report)
        done = phone.speak(spoken, report)
        await phone.wait_until(done.is_set, spoken.duration_ms / 1000.0 + LINE_SEND_SLACK_S)
        if report.started_at is not None:
            self._step_times[index] = (report.started_at, report.ended_at or report.started_at)

    async def _synthesise_lines(self) -> None:
        """Synthesise every line up front, in order, so each is ready when its cue comes."""
        loop = asyncio.get_running_loop()
        order = [(i, s) for i, s in enumerate(self.scenario.steps) if isinstance(s, SpeechStep)]
        for index, step in order:
            self._lines[index] = loop.create_future()
            if isinstance(step, SayStep):
                self._choices[index] = [loop.create_future() for _ in step.if_heard]
        for index, step in order:
            if isinstance(step, SayStep):
                await self._synthesise(self._lines[index], list(step.split()), step.pause_ms_inside or 0)
                for choice, future in zip(step.if_heard, self._choices[index], strict=True):
                    await self._synthesise(future, [choice.say], 0)
            else:
                await self._synthesise(self._lines[index], [step.barge_in], 0)

    async def _synthesise(self, into: asyncio.Future[SpokenLine], parts: list[str], pause: int) -> None:
        try:
            audio = [await self._tts.synthesize(p, self._voice) for p in parts if p]
            into.set_result(build_line(audio, pause))
        except Exception as exc:  # handed to the step that needs this line
            into.set_exception(exc)

    # --- what the lead heard ---------------------------------------------------------------

    def _add_turn(self, heard: HeardTurn) -> None:
        turn = AgentTurnReport(
            index=len(self.report.agent_turns),
            started_at=heard.started_at,
            started_at_wall=self._clock.iso(heard.started_at),
            ended_at=heard.ended_at,
            audio_ms=round(heard.audio_ms, 1),
            media_messages=heard.media_messages,
            interrupted=heard.interrupted,
            cut_off=heard.cut_off,
            underruns=heard.underruns,
            underrun_ms=round(1000.0 * heard.underrun_s, 1),
        )
        self.report.agent_turns.append(turn)
        self._last_turn = (turn, heard.audio)
        self._emit(
            "agent_turn", index=turn.index, audio_ms=turn.audio_ms, interrupted=turn.interrupted
        )
        if self._asr is None or not heard.audio:
            return
        if not self._transcribe_live:
            self._unheard.append((turn, heard.audio))
            return
        task = asyncio.create_task(self._transcribe(self._asr, turn, heard.audio))
        self._live[turn.index] = task
        self._asr_tasks.add(task)
        task.add_done_callback(self._asr_tasks.discard)

    async def _transcribe(self, asr: ASRBackend, turn: AgentTurnReport, audio: bytes) -> None:
        try:
            result = await asr.transcribe(mulaw.decode(audio))
        except Exception as exc:  # a failed transcript must not end the call
            log.warning("lead ASR failed on agent turn %d: %s", turn.index, exc)
            return
        turn.transcript, turn.confidence = result.text, round(result.confidence, 3)
        self._emit("agent_heard", index=turn.index, text=result.text)

    async def _transcribe_all(self, asr: ASRBackend) -> None:
        # one at a time: other calls may still be running on the same ASR threads
        for turn, audio in self._unheard:
            await self._transcribe(asr, turn, audio)

    async def _finish_report(self) -> None:
        if self._asr is not None and self._unheard:
            self._asr_tasks.add(asyncio.create_task(self._transcribe_all(self._asr)))
        if self._asr_tasks:
            await asyncio.wait(set(self._asr_tasks), timeout=ASR_DRAIN_TIMEOUT_S)
        report = self.report
        now = time.monotonic()
        report.ended_at, report.ended_at_wall = now, self._clock.iso(now)
        report.started_at_wall = self._clock.iso(report.started_at)
        report.late_frames = sum(t.underruns for t in report.agent_turns)
        report.underrun_ms = round(sum(t.underrun_ms for t in report.agent_turns), 1)
        report.agent_audio_ms = round(report.agent_audio_ms, 1)
        report.expectations = evaluate_expectations(
            self.scenario, self._step_times, report.agent_turns, listening=self._asr is not None
        )

    def _emit(self, kind: str, **data: Any) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(kind, {"stream_sid": self.report.stream_sid, **data})
        except Exception:  # a logging callback must never break the call
            log.exception("simulated lead on_event callback failed")

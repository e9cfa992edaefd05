"""One live call: lead audio in, agent audio out, every turn persisted.

The session is wiring. It feeds each 20 ms frame through the speech classifier into the
`TurnDetector` (when is the lead's turn over?) and the `BargeInPolicy` (the lead talks while the
agent answers: pause, resume, interrupt or yield?), runs the ASR those decisions ask for, and
carries out what they decide with the `AudioPlayer` and the brain. Each completed turn is written
through the TurnWriter (idempotent, spooled if the store blinks) and published on the live bus.

All CPU-heavy work (ASR, TTS) runs in the speech backends' worker pools; this object only moves
small buffers and schedules tasks on the event loop. Time comes from an injected `Clock`, so
stage tests run whole calls on a fake one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.calls.clock import REAL_CLOCK, Clock
from daemon.calls.player import AudioPlayer, PlayedTurn
from daemon.media import mulaw
from daemon.media.bargein import (
    BargeInAction,
    BargeInConfig,
    BargeInPolicy,
    Interrupt,
    Pause,
    Peek,
    Resume,
    Verdict,
    Yield,
    is_backchannel,
)
from daemon.media.chunker import SentenceChunker, split_sentences
from daemon.media.turns import (
    SpeculationDiscarded,
    SpeechPaused,
    SpeechStarted,
    TranscribeRequest,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    UtteranceDropped,
)
from daemon.media.vad import FrameClassifier

if TYPE_CHECKING:
    from daemon.calls.runtime import CallContext

log = logging.getLogger(__name__)

LISTENER_RECHECK_WORDS = 6
"""Speech over the agent is decoded as any turn is; when it comes out this short and is not
already a listener sound, it is decoded again with `LISTENER_PROMPT`, and that text is kept only
if it is a listener sound. Whisper without the prompt writes a hum as words ("mhm" -> "and make
sure."), with it a short answer turns to hums ("Thursday works." -> "Our state works."): on the
corpus of `make bench-turns` the pair keeps 27/27 backchannels (plain: 16/27) and the words of
the interruptions and short answers as the plain decode has them (prompt alone: 4 more errors)."""


def _may_be_listener_sound(text: str) -> bool:
    return len(text.split()) <= LISTENER_RECHECK_WORDS and not is_backchannel(text)


@dataclass
class LeadTurn:
    """A lead turn on its way to the brain."""

    record: dict[str, Any]  # what is stored (the words of this utterance)
    brain_text: str  # what the brain answers: with a yielded turn's words before it
    confidence: float
    latency: dict[str, Any]
    speech_end: float  # clock seconds of the lead's last speech


class CallSession:
    """Drives one call from the `start` event to the end of the stream."""

    def __init__(self, ctx: CallContext, clock: Clock = REAL_CLOCK) -> None:
        self.ctx = ctx
        self.clock = clock
        s = ctx.settings
        self.detector = TurnDetector(TurnConfig.from_settings(s))
        self.classifier = FrameClassifier(s.vad_aggressiveness, s.asr_min_rms)
        self.policy = BargeInPolicy(BargeInConfig.from_settings(s), clock=lambda: clock.now() * 1000)
        self.player = AudioPlayer(ctx.send, ctx.stream_sid, ctx.speak, clock=clock)
        self._pcm_tail = b""
        self._asr_tasks: dict[int, asyncio.Task[None]] = {}
        self._peek: asyncio.Task[None] | None = None
        self._utterance_no = 0
        self._utterance_at: datetime | None = None
        self._respond: asyncio.Task[None] | None = None
        self._agent_turn: PlayedTurn | None = None
        self._answering: LeadTurn | None = None  # the lead turn the current reply answers
        self._yielded: PlayedTurn | None = None  # a reply taken back: the lead was not done
        self._carry: str | None = None  # ...whose lead words go before the next turn's
        self._turn_index = 0
        self._last_write: asyncio.Task[None] | None = None  # turns are stored in order
        self._last_activity = clock.now()
        self._prompted_silence = False
        self._ending = False
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdog = asyncio.create_task(self._silence_watchdog())
        self.started = clock.now()
        self.asr_seconds = 0.0

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- lifecycle ----------------------------------------------------------------------------
    async def begin(self) -> None:
        """Play the persona-aware greeting (pre-synthesised at ingest, so it starts at once)."""
        greeting = self.ctx.agent.greeting_text(ai_disclosure=self.ctx.settings.ai_disclosure)
        self._respond = asyncio.create_task(self._speak_turn(greeting, latency=None))

    @property
    def closed(self) -> asyncio.Event:
        """Set when the session has decided the call is over (the socket should close)."""
        return self._closed

    async def finish(self) -> None:
        """Stop everything; persist what the lead heard of an unfinished agent turn."""
        self._watchdog.cancel()
        for task in self._asr_tasks.values():
            task.cancel()
        if self._peek is not None:
            self._peek.cancel()
        self._ending = True
        turn = self._agent_turn
        if turn is not None and not turn.finished.is_set():
            # the line is gone: what was heard so far is the turn; let the turn task store it
            turn.interrupted = True
            turn.finished.set()
        respond = self._respond
        if respond is not None and not respond.done():
            try:
                await asyncio.wait_for(asyncio.shield(respond), timeout=5)
            except TimeoutError:
                log.warning("call %s: reply still pending at hang-up; dropping it", self.ctx.call_id)
                respond.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await respond
        await self.player.close()
        if self._tasks:  # turn writes still in flight (each is bounded: store, else the spool)
            await asyncio.wait(set(self._tasks), timeout=10)
        with contextlib.suppress(asyncio.CancelledError):
            await self._watchdog

    # --- inbound events -----------------------------------------------------------------------
    def on_media(self, payload: bytes) -> None:
        data = self._pcm_tail + payload
        usable = len(data) - len(data) % 160
        self._pcm_tail = data[usable:]
        for offset in range(0, usable, 160):
            frame = mulaw.decode(data[offset:offset + 160])
            speech = self.classifier.is_speech(frame)
            for event in self.detector.feed(frame, speech):
                self._on_turn_event(event)
            if self.policy.contested and self.detector.lead_speaking:
                self._apply(self.policy.speech(self.detector.speech_ms))

    def on_mark(self, name: str) -> None:
        self.player.on_mark(name)

    def on_dtmf(self, digit: str) -> None:
        if digit == self.ctx.settings.dtmf_optout_digit and not self._ending:
            log.info("call %s: lead pressed %s to opt out", self.ctx.call_id, digit)
            self._stop_reply(f"keypad {digit}", yielded=False)  # stop talking now
            self._replace_response(self._opt_out_by_dtmf())

    # --- turn-taking --------------------------------------------------------------------------
    def _on_turn_event(self, event: TurnEvent) -> None:
        if isinstance(event, SpeechStarted):
            self._last_activity = self.clock.now()
            self._utterance_no += 1
            self._utterance_at = datetime.now(UTC)
            self.ctx.live_update(speaking="lead")
            self._apply(self.policy.speech_started())
        elif isinstance(event, SpeechPaused):
            self._apply(self.policy.speech_stopped())
        elif isinstance(event, TranscribeRequest):
            listener = self.policy.over_agent  # speech over the agent may be "mhm"
            self._asr_tasks[event.seq] = asyncio.create_task(self._transcribe(event, listener))
        elif isinstance(event, SpeculationDiscarded):
            task = self._asr_tasks.pop(event.seq, None)
            if task is not None:
                task.cancel()  # the lead went on: that decode is wasted work (if not started)
        elif isinstance(event, TurnEnded):
            self._last_activity = self.clock.now()
            self._prompted_silence = False  # the lead is back: a later silence asks again
            self._on_turn_ended(event)
        elif isinstance(event, UtteranceDropped):
            self._last_activity = self.clock.now()
            self._apply(self.policy.utterance_dropped())
            if self._carry is not None:  # the lead's words after a yield came to nothing
                self._answer_carried()
            self.ctx.live_update(speaking="agent" if self._agent_speaking() else "none")

    async def _transcribe(self, request: TranscribeRequest, listener: bool) -> None:
        try:
            transcript = await self.ctx.asr.transcribe(request.audio)
            if listener and _may_be_listener_sound(transcript.text):
                heard = await self.ctx.asr.transcribe(request.audio, listener=True)
                if is_backchannel(heard.text):
                    transcript = replace(heard, asr_ms=transcript.asr_ms + heard.asr_ms)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: ASR failed", self.ctx.call_id)
            transcript = None
        finally:
            self._asr_tasks.pop(request.seq, None)
        text = transcript.text if transcript is not None else ""
        if transcript is not None:
            self.asr_seconds += transcript.audio_ms / 1000
        for event in self.detector.on_transcript(request.seq, text, transcript):
            self._on_turn_event(event)

    def _apply(self, actions: list[BargeInAction]) -> None:
        for action in actions:
            if isinstance(action, Pause):
                self.player.pause()
            elif isinstance(action, Resume):
                self.player.resume()
            elif isinstance(action, Peek):
                self._start_peek()
            elif isinstance(action, Interrupt | Yield):
                log.info("call %s: %s after %.0f ms (%s)", self.ctx.call_id,
                         "yield" if isinstance(action, Yield) else "barge-in", action.after_ms,
                         action.reason)
                self._stop_reply(action.reason, yielded=isinstance(action, Yield))

    def _start_peek(self) -> None:
        """A quick look at the words of the utterance the lead is saying over the agent."""
        if self._peek is not None and not self._peek.done():
            return  # one at a time; the next Peek comes with more speech
        self._peek = asyncio.create_task(self._run_peek(self._utterance_no,
                                                        self.detector.utterance_audio()))

    async def _run_peek(self, utterance: int, audio: Any) -> None:
        try:
            transcript = await self.ctx.asr.transcribe(audio, quick=True, listener=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # unsure what was said: length and the final transcript still decide
            log.exception("call %s: ASR failed during the barge-in check", self.ctx.call_id)
            return
        if utterance == self._utterance_no and not self._ending:
            log.debug("call %s: peek %r", self.ctx.call_id, transcript.text)
            self._apply(self.policy.on_peek(transcript.text, transcript.avg_logprob))

    def _agent_speaking(self) -> bool:
        turn = self._agent_turn
        return turn is not None and not turn.finished.is_set() and not turn.interrupted

    def _stop_reply(self, reason: str, *, yielded: bool) -> None:
        """Cut the pending reply: `clear`, cancel its stream and TTS, keep only what was heard.

        A yielded reply is taken back entirely (the `_answer` task restores the brain), and the
        lead turn it answered is carried into the next one.
        """
        turn = self._agent_turn
        if turn is None or turn.finished.is_set() or turn.interrupted:
            return
        self.ctx.agent.cancel_active_stream()
        if yielded and self._answering is not None:
            self._yielded = turn
            self._carry = self._answering.brain_text
        self._spawn(self._interrupt(self._respond, keep_heard=not yielded))

    async def _interrupt(self, task: asyncio.Task[None] | None, *, keep_heard: bool) -> None:
        turn = await self.player.interrupt()
        self.ctx.live_update(speaking="lead")
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout=2)
        if turn is not None and keep_heard:
            self.ctx.agent.record_heard(turn.played_text())

    def _on_turn_ended(self, ended: TurnEnded) -> None:
        transcript = ended.transcript
        confidence = transcript.confidence if transcript is not None else 1.0
        verdict, actions = self.policy.utterance_ended(ended.text, ended.speech_ms, confidence)
        self._apply(actions)
        if verdict is Verdict.backchannel:
            log.debug("call %s: backchannel %r, agent goes on", self.ctx.call_id, ended.text)
            return  # "mhm" while the agent talks is not a turn
        decided_at = self.clock.now()
        brain_text = ended.text
        if self._carry is not None:
            brain_text, self._carry = f"{self._carry} {ended.text}", None
        lead = LeadTurn(
            record={
                "role": "lead",
                "text": ended.text,
                "started_at": self._utterance_at or datetime.now(UTC),
                "interrupted": False,
                "confidence": round(transcript.confidence, 3) if transcript else None,
                "latency_ms": None,
            },
            brain_text=brain_text,
            confidence=confidence,
            latency={"endpoint": ended.endpoint_ms,
                     "asr": round(transcript.asr_ms, 1) if transcript else None},
            speech_end=decided_at - ended.endpoint_ms / 1000,
        )
        self._begin_answer(lead)

    def _answer_carried(self) -> None:
        """Answer a yielded turn as it was, when what followed it held no words."""
        text, self._carry = self._carry or "", None
        now = self.clock.now()
        self._begin_answer(LeadTurn(record={}, brain_text=text, confidence=1.0,
                                    latency={"endpoint": None, "asr": None}, speech_end=now))

    def _begin_answer(self, lead: LeadTurn) -> None:
        reply = self.policy.reply_started(lead.speech_end * 1000)
        self._replace_response(self._answer(lead, reply))

    def _replace_response(self, coro: Any) -> None:
        previous = self._respond

        async def run() -> None:
            if previous is not None and not previous.done():
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(previous), timeout=3)
            await coro

        self._respond = asyncio.create_task(run())

    # --- agent turns --------------------------------------------------------------------------
    async def _answer(self, lead: LeadTurn, reply_id: int) -> None:
        if lead.record:  # heard is stored (behind the reply: a slow store never delays it)
            self._persist(lead.record)
        if self._ending:
            self.policy.reply_finished(reply_id)
            return
        self.ctx.live_update(speaking="none")
        checkpoint = self.ctx.agent.checkpoint()
        text = await self.ctx.translate_in(lead.brain_text)
        turn = self.player.start_turn(f"t{self._turn_index}")
        self._agent_turn, self._answering = turn, lead
        chunker = SentenceChunker()
        brain_start = self.clock.now()
        first_sentence_at: list[float] = []

        def add(sentence: str) -> None:
            if not any(ch.isalnum() for ch in sentence) or turn.interrupted:
                return
            if not first_sentence_at:
                first_sentence_at.append(self.clock.now())
            self.player.add_sentence(turn, sentence)

        def on_token(token: str) -> None:
            for sentence in chunker.push(token):
                add(sentence)

        reply = await self.ctx.agent.generate_response(
            text, stream=True, on_token=on_token, confidence=lead.confidence)
        for sentence in chunker.flush():
            add(sentence)
        if not turn.sentences:
            for sentence in split_sentences(reply.text):
                add(sentence)
        self.player.close_turn(turn)
        if not turn.interrupted:
            self.ctx.live_update(speaking="agent", stage=str(reply.stage))
        await turn.finished.wait()
        self._apply(self.policy.reply_finished(reply_id))
        self._answering = None
        if turn is self._yielded:
            # the lead was not done: forget this reply, answer the whole turn when it ends
            self._yielded = None
            self.ctx.agent.restore(checkpoint)
            if turn.played_text():
                await self._finish_agent_turn(turn, reply.text, None, str(reply.stage))
            return
        await self.ctx.on_reply(reply)
        latency = dict(lead.latency)
        first_token = reply.llm_first_token_ms
        if first_token is None and first_sentence_at:
            first_token = (first_sentence_at[0] - brain_start) * 1000
        if turn.first_frame_at is not None and first_sentence_at:
            latency["tts_first_audio"] = round((turn.first_frame_at - first_sentence_at[0]) * 1000, 1)
            latency["total"] = round((turn.first_frame_at - lead.speech_end) * 1000, 1)
        else:
            latency.update(tts_first_audio=None, total=None)
        latency["llm_first_token"] = round(first_token, 1) if first_token is not None else None
        await self._finish_agent_turn(turn, reply.text, latency, str(reply.stage))
        if not turn.interrupted and (reply.ends_call or self.ctx.agent.end_requested):
            await self.end(self.ctx.agent.end_requested or "agent ended the call")

    async def _speak_turn(self, text: str, latency: dict[str, Any] | None,
                          stage: str | None = None) -> None:
        reply_id = self.policy.reply_started(None)
        turn = self.player.start_turn(f"t{self._turn_index}")
        self._agent_turn = turn
        for sentence in split_sentences(text):
            self.player.add_sentence(turn, sentence)
        self.player.close_turn(turn)
        self.ctx.live_update(speaking="agent")
        await turn.finished.wait()
        self._apply(self.policy.reply_finished(reply_id))
        if turn.interrupted:
            self.ctx.agent.record_heard(turn.played_text())
        await self._finish_agent_turn(turn, text, latency, stage)

    async def _finish_agent_turn(self, turn: PlayedTurn, planned: str,
                                 latency: dict[str, Any] | None, stage: str | None) -> None:
        interrupted = turn.interrupted
        text = turn.played_text() if interrupted else planned
        started_at = datetime.now(UTC)  # the turn is stored when it ends; it started when heard
        if turn.first_frame_at is not None:
            started_at -= timedelta(seconds=self.clock.now() - turn.first_frame_at)
        await self._persist({
            "role": "agent",
            "text": text,
            "planned_text": planned if interrupted else None,
            "started_at": started_at,
            "interrupted": interrupted,
            "confidence": None,
            "latency_ms": latency,
            "stage": stage or self.ctx.agent.stage_name(),
        })
        if latency and latency.get("total") is not None:
            self.ctx.live_update(last_latency_ms=latency["total"])
        self._last_activity = self.clock.now()
        self.ctx.live_update(speaking="none")

    def _persist(self, turn: dict[str, Any]) -> Awaitable[None]:
        """Store `turn` as the call's next one; await the result, or let it run behind.

        The index and stage are fixed now, and each write starts after the one before it, so
        turns land (and reach live followers) in the order they were said.
        """
        turn = {**turn, "index": self._turn_index}
        turn.setdefault("stage", self.ctx.agent.stage_name())
        self._turn_index += 1
        previous = self._last_write

        async def write() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            try:
                await self.ctx.persist_turn(turn)
            except Exception:  # the writer spools on store errors; this is a bug, not an outage
                log.exception("call %s: turn %d could not be stored", self.ctx.call_id, turn["index"])

        task = self._spawn(write())
        self._last_write = task
        return task

    # --- endings ------------------------------------------------------------------------------
    async def _opt_out_by_dtmf(self) -> None:
        await self.player.interrupt()
        await self.ctx.opt_out("dtmf")
        await self._speak_turn(self.ctx.agent.opt_out_text(), latency=None, stage="ended")
        await self.end("lead opted out by keypad")

    async def _silence_watchdog(self) -> None:
        timeout = self.ctx.settings.silence_timeout_seconds
        while not self._ending:
            await self.clock.sleep(0.25)
            busy = (self._agent_speaking() or self.detector.utterance_open
                    or self.player.playing or (self._respond is not None and not self._respond.done()))
            if busy:
                continue
            if self.clock.now() - self._last_activity < timeout:
                continue
            if not self._prompted_silence:
                self._prompted_silence = True
                self._last_activity = self.clock.now()
                self._respond = asyncio.create_task(
                    self._speak_turn(self.ctx.agent.still_there_text(), latency=None))
            else:
                self.ctx.on_silence_timeout()
                self._respond = asyncio.create_task(self._silent_goodbye())
                return

    async def _silent_goodbye(self) -> None:
        await self._speak_turn(self.ctx.agent.silence_goodbye_text(), latency=None, stage="ended")
        await self.end("no response from the lead")

    async def end(self, reason: str) -> None:
        """Hang up after queued audio has played (the goodbye is never cut off)."""
        if self._ending:
            return
        self._ending = True
        log.info("call %s: ending (%s)", self.ctx.call_id, reason)
        await self.ctx.hang_up(reason)
        self._closed.set()


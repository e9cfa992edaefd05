"""One live call: lead audio in, agent audio out, every turn persisted.

The session wires the stages of ARCHITECTURE.md's pipeline and owns the decisions that need
more than one of them: when the lead's turn is over (TurnDetector + speculative ASR), when the
lead is barging in rather than saying "mhm" (pause, quick transcript, then `clear` or resume),
when silence means nobody is there, and when the call is over. Each completed turn is written
through the TurnWriter (idempotent, spooled if the store blinks) and published on the live bus.

All CPU-heavy work (ASR, TTS) runs in the speech backends' worker pools; this object only moves
small buffers and schedules tasks on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.calls.player import AudioPlayer, PlayedTurn
from daemon.media import mulaw
from daemon.media.chunker import SentenceChunker, split_sentences
from daemon.media.turns import (
    SpeechOngoing,
    SpeechStarted,
    TranscribeRequest,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    UtteranceDropped,
)
from daemon.media.vad import FrameClassifier

if TYPE_CHECKING:
    from daemon.calls.runtime import CallContext
    from daemon.speech.asr import Transcript

log = logging.getLogger(__name__)

BACKCHANNELS = frozenset({
    "mhm", "mm", "mmhmm", "mm-hmm", "uh-huh", "uh huh", "uhhuh", "hmm", "ok", "okay", "yeah",
    "yep", "yes", "right", "sure", "got it", "i see", "alright", "all right", "ah", "oh", "uh",
})


def is_backchannel(text: str) -> bool:
    words = re.sub(r"[^a-z\- ]", " ", text.lower()).split()
    return 0 < len(words) <= 2 and " ".join(words) in BACKCHANNELS


@dataclass
class _Utterance:
    frames: list[np.ndarray] = field(default_factory=list)
    started_at: datetime | None = None
    check: asyncio.Task[None] | None = None
    backchannel: bool = False
    over_agent: bool = False  # began while the agent was speaking


class CallSession:
    """Drives one call from the `start` event to the end of the stream."""

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        s = ctx.settings
        self.detector = TurnDetector(TurnConfig.from_settings(s))
        self.classifier = FrameClassifier(s.vad_aggressiveness, s.asr_min_rms)
        self.player = AudioPlayer(ctx.send, ctx.stream_sid, ctx.speak)
        self._pcm_tail = b""
        self._transcripts: dict[int, Transcript] = {}
        self._asr_tasks: dict[int, asyncio.Task[None]] = {}
        self._utterance = _Utterance()
        self._respond: asyncio.Task[None] | None = None
        self._agent_turn: PlayedTurn | None = None
        self._turn_index = 0
        self._last_activity = time.monotonic()
        self._prompted_silence = False
        self._ending = False
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdog = asyncio.create_task(self._silence_watchdog())
        self.started = time.monotonic()
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
        if self._utterance.check is not None:
            self._utterance.check.cancel()
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
            if self._utterance.started_at is not None:
                self._utterance.frames.append(frame)
            for event in self.detector.feed(frame, speech):
                self._on_turn_event(event)

    def on_mark(self, name: str) -> None:
        self.player.on_mark(name)

    def on_dtmf(self, digit: str) -> None:
        if digit == self.ctx.settings.dtmf_optout_digit and not self._ending:
            log.info("call %s: lead pressed %s to opt out", self.ctx.call_id, digit)
            self._barge_in(f"keypad {digit}")  # stop talking now, not after the current reply
            self._replace_response(self._opt_out_by_dtmf())

    # --- turn-taking --------------------------------------------------------------------------
    def _on_turn_event(self, event: Any) -> None:
        if isinstance(event, SpeechStarted):
            self._last_activity = time.monotonic()
            self._utterance = _Utterance(started_at=datetime.now(UTC),
                                         over_agent=self._agent_speaking())
            self.ctx.live_update(speaking="lead")
        elif isinstance(event, SpeechOngoing):
            self._maybe_barge_in(event.speech_ms)
        elif isinstance(event, TranscribeRequest):
            self._asr_tasks[event.seq] = asyncio.create_task(self._transcribe(event))
        elif isinstance(event, TurnEnded):
            self._last_activity = time.monotonic()
            self._prompted_silence = False  # the lead is back: a later silence asks again
            self._on_turn_ended(event)
        elif isinstance(event, UtteranceDropped):
            self._last_activity = time.monotonic()
            if self._utterance.check is None:
                self.player.resume()
            self.ctx.live_update(speaking="agent" if self._agent_speaking() else "none")

    async def _transcribe(self, request: TranscribeRequest) -> None:
        try:
            transcript = await self.ctx.asr.transcribe(request.audio)
        except Exception:
            log.exception("call %s: ASR failed", self.ctx.call_id)
            transcript = None
        finally:
            self._asr_tasks.pop(request.seq, None)
        text = transcript.text if transcript is not None else ""
        if transcript is not None:
            self._transcripts[request.seq] = transcript
            self.asr_seconds += transcript.audio_ms / 1000
        for event in self.detector.on_transcript(request.seq, text):
            self._on_turn_event(event)

    def _agent_speaking(self) -> bool:
        turn = self._agent_turn
        return turn is not None and not turn.finished.is_set() and not turn.interrupted

    def _maybe_barge_in(self, speech_ms: int) -> None:
        """Lead speech over the agent: pause, check it is more than "mhm", then interrupt."""
        if not self._agent_speaking() or self._ending:
            return
        s = self.ctx.settings
        utt = self._utterance
        if utt.backchannel:
            return
        if speech_ms >= s.bargein_min_ms and utt.check is None:
            self.player.pause()
            utt.check = asyncio.create_task(self._check_backchannel(utt))
        elif speech_ms >= s.bargein_min_ms + 500 and utt.check is not None:
            utt.check.cancel()  # long speech is never a backchannel: interrupt now
            self._barge_in("speech ran on")

    async def _check_backchannel(self, utt: _Utterance) -> None:
        audio = np.concatenate(utt.frames) if utt.frames else np.zeros(0, np.int16)
        try:
            transcript = await self.ctx.asr.transcribe(audio)
        except Exception:  # unsure what was said: let the agent go on; long speech still interrupts
            log.exception("call %s: ASR failed during the barge-in check", self.ctx.call_id)
            if utt is self._utterance:
                self.player.resume()
            return
        if utt is not self._utterance:
            return
        if is_backchannel(transcript.text) or not transcript.text:
            utt.backchannel = bool(transcript.text)
            log.debug("call %s: backchannel %r, agent goes on", self.ctx.call_id, transcript.text)
            self.player.resume()
        else:
            self._barge_in(transcript.text)

    def _barge_in(self, heard: str) -> None:
        if not self._agent_speaking():
            return
        log.info("call %s: barge-in (%r)", self.ctx.call_id, heard[:40])
        self.ctx.agent.cancel_active_stream()
        self._spawn(self._interrupt(self._respond))

    async def _interrupt(self, task: asyncio.Task[None] | None) -> None:
        turn = await self.player.interrupt()
        self.ctx.live_update(speaking="lead")
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout=2)
        if turn is not None:
            self.ctx.agent.record_heard(turn.played_text())

    def _on_turn_ended(self, ended: TurnEnded) -> None:
        transcript = self._transcripts.pop(ended.seq, None)
        utt = self._utterance
        if utt.backchannel or (self._agent_speaking() and is_backchannel(ended.text)):
            self.player.resume()
            return  # "mhm" while the agent talks is not a turn
        if self._agent_speaking():
            self._barge_in(ended.text)
        decided_at = time.monotonic()
        speech_end = decided_at - ended.endpoint_ms / 1000
        lead_turn = {
            "role": "lead",
            "text": ended.text,
            "started_at": utt.started_at or datetime.now(UTC),
            "interrupted": False,
            "confidence": round(transcript.confidence, 3) if transcript else None,
            "latency_ms": None,
        }
        latency = {
            "endpoint": ended.endpoint_ms,
            "asr": round(transcript.asr_ms, 1) if transcript else None,
        }
        confidence = transcript.confidence if transcript else 1.0
        self._replace_response(self._answer(lead_turn, confidence, latency, speech_end))

    def _replace_response(self, coro: Any) -> None:
        previous = self._respond

        async def run() -> None:
            if previous is not None and not previous.done():
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(previous), timeout=3)
            await coro

        self._respond = asyncio.create_task(run())

    # --- agent turns --------------------------------------------------------------------------
    async def _answer(self, lead_turn: dict[str, Any], confidence: float,
                      latency: dict[str, Any], speech_end: float) -> None:
        await self._persist(lead_turn)  # heard is stored, even if the call is ending
        if self._ending:
            return
        self.ctx.live_update(speaking="none")
        text = await self.ctx.translate_in(lead_turn["text"])
        turn = self.player.start_turn(f"t{self._turn_index}")
        self._agent_turn = turn
        chunker = SentenceChunker()
        brain_start = time.monotonic()
        first_sentence_at: list[float] = []

        def add(sentence: str) -> None:
            if not any(ch.isalnum() for ch in sentence):
                return
            if not first_sentence_at:
                first_sentence_at.append(time.monotonic())
            self.player.add_sentence(turn, sentence)

        def on_token(token: str) -> None:
            for sentence in chunker.push(token):
                add(sentence)

        reply = await self.ctx.agent.generate_response(
            text, stream=True, on_token=on_token, confidence=confidence)
        for sentence in chunker.flush():
            add(sentence)
        if not turn.sentences:
            for sentence in split_sentences(reply.text):
                add(sentence)
        self.player.close_turn(turn)
        self.ctx.live_update(speaking="agent", stage=str(reply.stage))
        await self.ctx.on_reply(reply)
        await turn.finished.wait()
        first_token = reply.llm_first_token_ms
        if first_token is None and first_sentence_at:
            first_token = (first_sentence_at[0] - brain_start) * 1000
        if turn.first_frame_at is not None and first_sentence_at:
            latency["tts_first_audio"] = round((turn.first_frame_at - first_sentence_at[0]) * 1000, 1)
            latency["total"] = round((turn.first_frame_at - speech_end) * 1000, 1)
        else:
            latency.update(tts_first_audio=None, total=None)
        latency["llm_first_token"] = round(first_token, 1) if first_token is not None else None
        await self._finish_agent_turn(turn, reply.text, latency, str(reply.stage))
        if not turn.interrupted and (reply.ends_call or self.ctx.agent.end_requested):
            await self.end(self.ctx.agent.end_requested or "agent ended the call")

    async def _speak_turn(self, text: str, latency: dict[str, Any] | None,
                          stage: str | None = None) -> None:
        turn = self.player.start_turn(f"t{self._turn_index}")
        self._agent_turn = turn
        for sentence in split_sentences(text):
            self.player.add_sentence(turn, sentence)
        self.player.close_turn(turn)
        self.ctx.live_update(speaking="agent")
        await turn.finished.wait()
        if turn.interrupted:
            self.ctx.agent.record_heard(turn.played_text())
        await self._finish_agent_turn(turn, text, latency, stage)

    async def _finish_agent_turn(self, turn: PlayedTurn, planned: str,
                                 latency: dict[str, Any] | None, stage: str | None) -> None:
        interrupted = turn.interrupted
        text = turn.played_text() if interrupted else planned
        started_at = datetime.now(UTC)  # the turn is stored when it ends; it started when heard
        if turn.first_frame_at is not None:
            started_at -= timedelta(seconds=time.monotonic() - turn.first_frame_at)
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
        self._last_activity = time.monotonic()
        self.ctx.live_update(speaking="none")

    async def _persist(self, turn: dict[str, Any]) -> None:
        turn = {**turn, "index": self._turn_index}
        turn.setdefault("stage", self.ctx.agent.stage_name())
        self._turn_index += 1
        await self.ctx.persist_turn(turn)

    # --- endings ------------------------------------------------------------------------------
    async def _opt_out_by_dtmf(self) -> None:
        await self.player.interrupt()
        await self.ctx.opt_out("dtmf")
        await self._speak_turn(self.ctx.agent.opt_out_text(), latency=None, stage="ended")
        await self.end("lead opted out by keypad")

    async def _silence_watchdog(self) -> None:
        timeout = self.ctx.settings.silence_timeout_seconds
        while not self._ending:
            await asyncio.sleep(0.25)
            busy = (self._agent_speaking() or self.detector.utterance_open
                    or self.player.playing or (self._respond is not None and not self._respond.done()))
            if busy:
                continue
            if time.monotonic() - self._last_activity < timeout:
                continue
            if not self._prompted_silence:
                self._prompted_silence = True
                self._last_activity = time.monotonic()
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


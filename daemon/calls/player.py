"""Agent audio out: sentences in, paced 20 ms media frames and marks out.

Theory of operation
-------------------
The far end (Twilio, or the simulated lead) plays audio as it arrives and buffers what comes
early. We keep that buffer short (`lead_ms`, ~100 ms) by pacing frames against a play clock:
the moment at which everything sent so far will have finished playing. Two things follow:

* barge-in is crisp: after `clear` the lead hears at most the buffered ~100 ms, and `pause()`
  (used while we check whether the lead's sound was only "mhm") stops the agent within the same
  ~100 ms without discarding anything;
* marks are honest: after each sentence we send a mark, and the far end echoes it when that
  sentence has actually played; inside long sentences a progress mark goes out every
  `PROGRESS_FRAMES` frames. `played_text()` of a turn is the sentences whose marks came back,
  plus, for a sentence cut off by barge-in, the share of its words matching the share of its
  audio confirmed played — what the lead heard, which is what the brain's history must hold.

Each sentence's audio is produced by its own task into a queue as soon as the sentence is known,
so sentence N+1 is synthesised while sentence N plays, and the first frame goes out as soon as
the first chunk of the first sentence exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from daemon.calls.clock import REAL_CLOCK, Clock
from daemon.telephony import codec

log = logging.getLogger(__name__)

FRAME_BYTES = 160
FRAME_S = 0.020
PROGRESS_FRAMES = 25  # a progress mark every 500 ms of audio inside a sentence
SILENCE = b"\xff"

Send = Callable[[str], Awaitable[None]]
AudioSource = Callable[[str], AsyncIterator[bytes]]


@dataclass
class Sentence:
    text: str
    mark: str
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    producer: asyncio.Task[None] | None = None
    frames_sent: int = 0
    confirmed_frames: int = 0  # frames the far end has played, from progress marks
    audio_bytes: int = 0  # all audio produced for this sentence so far
    played: bool = False
    failed: bool = False

    def heard_part(self) -> str:
        """The words of a cut-off sentence the lead heard, by share of confirmed audio."""
        total = max(self.audio_bytes // FRAME_BYTES, self.frames_sent, 1)
        words = self.text.split()
        count = int(len(words) * min(1.0, self.confirmed_frames / total))
        return " ".join(words[:count]) + "—" if count else ""


@dataclass
class PlayedTurn:
    """One agent turn as the player saw it."""

    turn_id: str
    sentences: list[Sentence] = field(default_factory=list)
    first_frame_at: float | None = None  # monotonic time the first media frame was sent
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False  # no more sentences will be added
    interrupted: bool = False

    def played_text(self) -> str:
        parts = []
        for sentence in self.sentences:
            if sentence.played:
                parts.append(sentence.text)
                continue
            partial = sentence.heard_part()
            if partial:
                parts.append(partial)
            break
        return " ".join(parts)

    def planned_text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def frames(self) -> int:
        return sum(s.frames_sent for s in self.sentences)


class AudioPlayer:
    def __init__(self, send: Send, stream_sid: str, source: AudioSource,
                 lead_ms: int = 100, clock: Clock = REAL_CLOCK) -> None:
        self._clock = clock
        self._send = send
        self._stream_sid = stream_sid
        self._source = source
        self._lead_s = lead_ms / 1000
        self._queue: asyncio.Queue[Sentence | PlayedTurn] = asyncio.Queue()
        self._marks: dict[str, tuple[PlayedTurn, Sentence]] = {}
        self._progress: dict[str, tuple[Sentence, int]] = {}
        self._turn: PlayedTurn | None = None
        self._play_clock = 0.0
        self._resume = asyncio.Event()
        self._resume.set()
        self._pump = asyncio.create_task(self._run(), name=f"player-{stream_sid[-6:]}")
        self.frames_sent = 0
        self.late_frames = 0  # frames sent after the far end's buffer had run dry mid-turn
        self.tts_chars = 0

    # --- building turns -----------------------------------------------------------------------
    def start_turn(self, turn_id: str) -> PlayedTurn:
        turn = PlayedTurn(turn_id)
        self._turn = turn
        return turn

    def add_sentence(self, turn: PlayedTurn, text: str) -> None:
        """Queue a sentence; its synthesis starts now, its playback after the ones before it."""
        sentence = Sentence(text, f"{turn.turn_id}.{len(turn.sentences)}")
        sentence.producer = asyncio.create_task(self._produce(sentence))
        turn.sentences.append(sentence)
        self._marks[sentence.mark] = (turn, sentence)
        self.tts_chars += len(text)
        self._queue.put_nowait(sentence)

    def close_turn(self, turn: PlayedTurn) -> None:
        """No more sentences for this turn; `turn.finished` is set once all have played."""
        turn.closed = True
        self._queue.put_nowait(turn)
        self._check_finished(turn)

    async def _produce(self, sentence: Sentence) -> None:
        try:
            async for chunk in self._source(sentence.text):
                sentence.audio_bytes += len(chunk)
                sentence.queue.put_nowait(chunk)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the TTS chain already fell back; nothing more to try
            log.error("no audio for %r: %s", sentence.text[:60], exc)
            sentence.failed = True
        finally:
            sentence.queue.put_nowait(None)

    # --- the pump -----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, PlayedTurn):
                continue  # a close marker; finishing is driven by marks
            await self._play(item)

    async def _play(self, sentence: Sentence) -> None:
        turn, _ = self._marks.get(sentence.mark, (None, None))
        buffer = b""
        while True:
            chunk = await sentence.queue.get()
            if chunk is None:
                break
            buffer += chunk
            while len(buffer) >= FRAME_BYTES:
                await self._send_frame(buffer[:FRAME_BYTES], turn, sentence)
                buffer = buffer[FRAME_BYTES:]
        if buffer:
            await self._send_frame(buffer.ljust(FRAME_BYTES, SILENCE), turn, sentence)
        if sentence.frames_sent == 0:  # nothing to play: count it as heard-nothing, move on
            sentence.played = False
            if turn is not None:
                self._marks.pop(sentence.mark, None)
                sentence.mark = ""
                self._check_finished(turn)
            return
        await self._send(codec.mark_message(self._stream_sid, sentence.mark))

    async def _send_frame(self, frame: bytes, turn: PlayedTurn | None, sentence: Sentence) -> None:
        await self._resume.wait()
        now = self._clock.now()
        if self._play_clock < now:
            if turn is not None and turn.first_frame_at is not None and sentence.frames_sent:
                self.late_frames += 1  # the far end ran dry in the middle of a sentence
            self._play_clock = now
        ahead = self._play_clock - now
        if ahead > self._lead_s:
            await self._clock.sleep(ahead - self._lead_s)
            await self._resume.wait()
        await self._send(codec.media_message(self._stream_sid, frame))
        if turn is not None and turn.first_frame_at is None:
            turn.first_frame_at = self._clock.now()
        self._play_clock = max(self._play_clock, self._clock.now()) + FRAME_S
        sentence.frames_sent += 1
        self.frames_sent += 1
        if sentence.mark and sentence.frames_sent % PROGRESS_FRAMES == 0:
            name = f"{sentence.mark}~{sentence.frames_sent}"
            self._progress[name] = (sentence, sentence.frames_sent)
            await self._send(codec.mark_message(self._stream_sid, name))

    # --- feedback from the far end ------------------------------------------------------------
    def on_mark(self, name: str) -> None:
        progress = self._progress.pop(name, None)
        if progress is not None:
            sentence, frames = progress
            sentence.confirmed_frames = max(sentence.confirmed_frames, frames)
            return
        entry = self._marks.pop(name, None)
        if entry is None:
            return
        turn, sentence = entry
        if not turn.interrupted:
            sentence.played = True
        self._check_finished(turn)

    def _check_finished(self, turn: PlayedTurn) -> None:
        if turn.closed and not any(s.mark in self._marks for s in turn.sentences if s.mark):
            turn.finished.set()

    @property
    def playing(self) -> bool:
        """True while the far end may still be playing agent audio."""
        return bool(self._marks) or self._clock.now() < self._play_clock

    # --- barge-in -----------------------------------------------------------------------------
    def pause(self) -> None:
        self._resume.clear()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def resume(self) -> None:
        self._play_clock = max(self._play_clock, self._clock.now())
        self._resume.set()

    async def interrupt(self) -> PlayedTurn | None:
        """Stop the current turn: drop queued audio, send `clear`, keep only what played."""
        turn = self._turn
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        pending = []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending:
            if isinstance(item, Sentence) and item.producer is not None:
                item.producer.cancel()
        if turn is not None:
            turn.interrupted = True
            for sentence in turn.sentences:
                if sentence.producer is not None:
                    sentence.producer.cancel()
            turn.closed = True
        # marks still in flight are for audio that will never play now
        self._marks.clear()
        self._progress.clear()
        await self._send(codec.clear_message(self._stream_sid))
        self._play_clock = self._clock.now()
        self._resume.set()
        if turn is not None:
            turn.finished.set()
        self._pump = asyncio.create_task(self._run(), name=f"player-{self._stream_sid[-6:]}")
        return turn

    async def close(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        for turn_sentence in list(self._marks.values()):
            if turn_sentence[1].producer is not None:
                turn_sentence[1].producer.cancel()
        if self._turn is not None:
            for sentence in self._turn.sentences:
                if sentence.producer is not None:
                    sentence.producer.cancel()
            self._turn.finished.set()

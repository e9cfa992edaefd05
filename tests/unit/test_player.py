"""AudioPlayer: paced frames, a mark per sentence, progress marks, barge-in keeps what played."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from daemon.calls.player import FRAME_BYTES, PROGRESS_FRAMES, AudioPlayer

SECOND = 8000  # mu-law bytes per second


class Wire:
    """The far end of the socket: records what the player sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self._changed = asyncio.Event()

    async def send(self, text: str) -> None:
        self.messages.append(json.loads(text))
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), timeout=10)

    def sentence_marks(self) -> int:
        return sum(1 for m in self.of("mark") if "~" not in m["mark"]["name"])  # type: ignore[index]

    def of(self, event: str) -> list[dict[str, object]]:
        return [m for m in self.messages if m["event"] == event]


def source(seconds_per_sentence: float) -> AsyncIterator[bytes]:
    async def speak(text: str) -> AsyncIterator[bytes]:
        audio = b"\x7f" * int(SECOND * seconds_per_sentence)
        for i in range(0, len(audio), 800):
            yield audio[i:i + 800]

    return speak  # type: ignore[return-value]


async def _drain_marks(player: AudioPlayer, wire: Wire, upto: int) -> None:
    for message in wire.of("mark")[:upto]:
        player.on_mark(message["mark"]["name"])  # type: ignore[index]


async def test_sentences_play_in_order_with_marks_and_pacing() -> None:
    wire = Wire()
    player = AudioPlayer(wire.send, "MZ1", source(0.3), lead_ms=100)
    turn = player.start_turn("t0")
    started = time.monotonic()
    for text in ("First sentence.", "Second one."):
        player.add_sentence(turn, text)
    player.close_turn(turn)
    await wire.wait_until(lambda: wire.sentence_marks() >= 2)
    elapsed = time.monotonic() - started
    media = wire.of("media")
    assert len(media) == 2 * int(0.3 * SECOND / FRAME_BYTES)
    # paced in real time: 0.6 s of audio is not sent in a burst (but a lead of 100 ms is allowed)
    assert elapsed >= 0.6 - 0.1 - 0.05
    assert not turn.finished.is_set()
    await _drain_marks(player, wire, 10)
    assert turn.finished.is_set()
    assert turn.played_text() == "First sentence. Second one."
    await player.close()


async def test_interrupt_clears_and_keeps_only_the_heard_words() -> None:
    wire = Wire()
    player = AudioPlayer(wire.send, "MZ2", source(2.0), lead_ms=100)
    turn = player.start_turn("t0")
    player.add_sentence(turn, "one two three four five six seven eight nine ten")
    player.close_turn(turn)
    await wire.wait_until(lambda: len(wire.of("media")) >= 2 * PROGRESS_FRAMES)
    progress = [m for m in wire.of("mark") if "~" in m["mark"]["name"]]  # type: ignore[index]
    assert progress, "a progress mark every 500 ms of audio"
    player.on_mark(progress[0]["mark"]["name"])  # type: ignore[index]
    interrupted = await player.interrupt()
    assert interrupted is turn and turn.interrupted and turn.finished.is_set()
    assert wire.of("clear") == [{"event": "clear", "streamSid": "MZ2"}]
    # 500 ms confirmed of 2 s of audio: a quarter of the ten words
    assert turn.played_text() == "one two—"
    sent = len(wire.of("media"))
    await asyncio.sleep(0.1)
    assert len(wire.of("media")) == sent, "nothing is sent after the clear"
    await player.close()


async def test_pause_holds_audio_and_resume_continues() -> None:
    wire = Wire()
    player = AudioPlayer(wire.send, "MZ3", source(1.0), lead_ms=60)
    turn = player.start_turn("t0")
    player.add_sentence(turn, "Hold on.")
    player.close_turn(turn)
    await asyncio.sleep(0.15)
    player.pause()
    await asyncio.sleep(0.05)
    held = len(wire.of("media"))
    await asyncio.sleep(0.3)
    assert len(wire.of("media")) == held
    player.resume()
    await asyncio.sleep(0.2)
    assert len(wire.of("media")) > held
    await player.close()

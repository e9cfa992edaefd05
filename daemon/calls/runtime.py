"""`CallContext`: what one call session may touch in the daemon, gathered in one object.

The session (pure call logic) talks to the outside only through these methods: send a frame,
speak, transcribe, persist a turn, publish a live update, opt a number out, hang up. Keeping them
here means the session never reaches into the store, the telephony client or the bus directly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from daemon.config import Settings

if TYPE_CHECKING:
    from daemon.calls.brain import CallBrain
    from daemon.services import Services
    from daemon.speech.asr import ASRBackend

log = logging.getLogger(__name__)


@dataclass
class CallContext:
    services: Services
    settings: Settings
    call: dict[str, Any]
    stream_sid: str
    send: Callable[[str], Awaitable[None]]
    agent: CallBrain
    asr: ASRBackend
    speak: Callable[[str], AsyncIterator[bytes]]
    hang_up_hook: Callable[[str], Awaitable[None]]
    locale: str = "en-US"
    tokens_used: int = 0
    silence_timed_out: bool = False
    opted_out: bool = False
    outcome_events: list[str] = field(default_factory=list)

    @property
    def call_id(self) -> str:
        return str(self.call["_id"])

    async def translate_in(self, text: str) -> str:
        translator = self.services.speech.translator
        return await translator.to_english(text, self.locale)

    def live_update(self, **fields: Any) -> None:
        self.services.live.update(self.call_id, **fields)

    async def persist_turn(self, turn: dict[str, Any]) -> None:
        await self.services.turn_writer.write(self.call_id, turn)
        live = self.services.live.get(self.call_id)
        if live is not None:
            live.turns += 1
        self.services.live.publish("turn", self.call_id, turn=_jsonable(turn))
        if turn.get("stage"):
            self.live_update(stage=turn["stage"])

    async def on_reply(self, reply: Any) -> None:
        if reply.tokens_used:  # stored per LLM turn (an idempotent $set), so live views see it
            self.tokens_used += int(reply.tokens_used)
            self.services.spawn(self._store_tokens(self.tokens_used), name=f"tokens-{self.call_id}")
        if reply.outcome is not None and str(reply.outcome) == "do_not_call" and not self.opted_out:
            await self.opt_out("voice")

    async def _store_tokens(self, total: int) -> None:
        try:
            await self.services.calls.update(self.call_id, {"tokens_used": total})
        except Exception as exc:  # finalise stores the total again
            log.warning("call %s: could not store tokens_used yet: %s", self.call_id, exc)

    async def opt_out(self, source: str) -> None:
        self.opted_out = True
        await self.services.dnc.add(self.call["lead_phone"], reason="opted out during call",
                                    source=source)
        self.agent.mark_do_not_call()

    def on_silence_timeout(self) -> None:
        self.silence_timed_out = True

    async def hang_up(self, reason: str) -> None:
        await self.hang_up_hook(reason)


def _jsonable(turn: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in turn.items():
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out

"""The seams between the brain and the rest of the product.

agentcore knows nothing about Mongo, Twilio or audio. Whatever it needs from the outside world
is one of these small protocols; the daemon implements them over its store and telephony
client, and `agentcore.inmemory` has plain in-process versions for tests and for a daemon with
nothing configured. Every method is async because every real implementation does I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from agentcore.memory import MemoryEvent
from agentcore.strategy import Strategy
from agentcore.tone import VoiceSettings


@runtime_checkable
class MemorySink(Protocol):
    """Where memory events go (the daemon: the `memory_logs` collection)."""

    async def log_event(self, event: MemoryEvent) -> None:
        """Store one event. Storing the same `event_id` twice must be harmless."""
        ...

    async def recent_events(
        self,
        types: Sequence[str] | None = None,
        *,
        since: datetime | None = None,
        limit: int = 500,
        call_id: str | None = None,
    ) -> list[MemoryEvent]:
        """Events newest first, optionally filtered by type, strictly after `since`, by call."""
        ...


@runtime_checkable
class StrategyStore(Protocol):
    """Versioned strategies: a new version never overwrites an old one."""

    async def save_new_version(
        self, strategy: Strategy, *, based_on: str | None, reason: str
    ) -> str:
        """Store `strategy` as a new version, make it the active one, return its id."""
        ...

    async def active(self) -> tuple[str, Strategy] | None:
        """The active version's id and strategy, or None when nothing was ingested."""
        ...


@runtime_checkable
class Speaker(Protocol):
    """Text to phone audio. The daemon's `TTSBackend` already has this shape."""

    def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncIterator[bytes]:
        """Yield audio chunks for `text`."""
        ...


@runtime_checkable
class Messenger(Protocol):
    """Outbound text messages (the daemon: Twilio SMS)."""

    async def send_sms(self, to: str, text: str) -> str | None:
        """Send `text` to `to` (E.164). Returns the provider's message id when there is one."""
        ...


@runtime_checkable
class CallControl(Protocol):
    """The live call, as far as the brain may touch it."""

    async def end_call(self, reason: str) -> None:
        """Hang up once the agent's queued audio has played (never cut the goodbye off)."""
        ...


@runtime_checkable
class CRMAdapter(Protocol):
    """Read-only lead data."""

    async def fetch(self, phone: str) -> dict[str, Any] | None:
        """The record for `phone` (E.164), or None when the CRM does not know it."""
        ...

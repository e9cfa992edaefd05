"""Messages the console's parts post to each other.

Data goes down as method calls and news goes up as messages (Textual's rule): `DaemonLink`
posts what it hears from the daemon to the app, widgets post what the operator did, and the
app, the only place that knows every widget, decides what each piece of news changes.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


# --- the link to the daemon ---------------------------------------------------------------
class Connecting(Message):
    """A (re)connection attempt has started."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class Connected(Message):
    """The daemon answered and the live stream is open; `admin` is our token's role."""

    def __init__(self, url: str, admin: bool) -> None:
        super().__init__()
        self.url = url
        self.admin = admin


class Disconnected(Message):
    """The daemon is unreachable (or went away); the next try is at `retry_at` (console clock)."""

    def __init__(self, reason: str, retry_at: float, delay: float) -> None:
        super().__init__()
        self.reason = reason
        self.retry_at = retry_at
        self.delay = delay


class LiveSnapshot(Message):
    """The live calls when the stream (re)opened."""

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        super().__init__()
        self.calls = calls


class LiveCallChanged(Message):
    """A live call started or changed (stage, who is speaking, latency)."""

    def __init__(self, call: dict[str, Any], started: bool) -> None:
        super().__init__()
        self.call = call
        self.started = started


class LiveCallEnded(Message):
    def __init__(self, call: dict[str, Any]) -> None:
        super().__init__()
        self.call = call


class TurnReceived(Message):
    """A turn of a live call completed."""

    def __init__(self, call_id: str, turn: dict[str, Any]) -> None:
        super().__init__()
        self.call_id = call_id
        self.turn = turn


class DaemonNews(Message):
    """Something changed that a REST view shows: `topic` is memory, usage or exports."""

    def __init__(self, topic: str, event: dict[str, Any]) -> None:
        super().__init__()
        self.topic = topic
        self.event = event


# --- REST answers ---------------------------------------------------------------------------
class Loaded(Message):
    """A REST read finished: `what` names it (recent, call, timeline, usage, exports)."""

    def __init__(self, what: str, data: Any) -> None:
        super().__init__()
        self.what = what
        self.data = data


class RequestFailed(Message):
    """A read or an action got an error answer; the console shows it and carries on."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


# --- the operator -----------------------------------------------------------------------------
class CallSelected(Message):
    """The operator moved the calls table's cursor to a call."""

    def __init__(self, call_id: str) -> None:
        super().__init__()
        self.call_id = call_id

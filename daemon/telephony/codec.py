"""Twilio Media Streams protocol, sans-IO: WebSocket text in, frozen events out, and back.

Theory of operation
-------------------
Twilio talks to us over one WebSocket per call. Every frame is a JSON object whose `event` field
names one of six messages, always in this order::

    connected -> start -> (media | mark | dtmf)* -> stop

This module owns the wire format and nothing else: no sockets, no clocks, no audio processing.
`parse()` turns one frame into one event; `MediaStreamDecoder` wraps it with the little state the
order above implies (media before `start`, a second `start`, frames after `stop`, or a frame for a
different stream are all protocol errors). The input is whatever arrived on a public socket, so
nothing here raises on bad input: every defect becomes a `ProtocolError` event the call session
can log and count, exactly like a well-formed event.

Twilio spells numbers as strings (`"sequenceNumber": "2"`, `"chunk": "1"`); we accept strings of
ASCII digits or plain non-negative integers and hand out `int`s.

The other direction has two audiences. Our server sends `media`, `mark` and `clear`
(`media_message`, `mark_message`, `clear_message`). The simulated lead pretends to be Twilio, so
it needs Twilio's own frames (`encode()` and the `twilio_*` builders) and a parser for what the
server sends it (`parse_outbound()`), which is just as forgiving as `parse()`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_FRAME_BYTES = 64 * 1024
"""Inbound frames larger than this are refused: a 20 ms media frame is about 300 bytes."""

MAX_OUTBOUND_FRAME_BYTES = 4 * 1024 * 1024
"""The server may send several seconds of audio in one `media` message."""

_EXCERPT_CHARS = 120
_UINT = re.compile(r"[0-9]{1,15}")


class FrozenParams(Mapping[str, str]):
    """A read-only, hashable `dict[str, str]`, so events carrying parameters stay frozen."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenParams({self._items!r})"


# --- events from Twilio ---------------------------------------------------------------------


@dataclass(frozen=True)
class MediaFormat:
    """The audio format announced in `start`; always mu-law, 8 kHz, mono on the phone network."""

    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True)
class Connected:
    """First frame on the socket; says which protocol version the rest will follow."""

    protocol: str = "Call"
    version: str = "1.0.0"


@dataclass(frozen=True)
class Start:
    """Stream metadata, sent once. `custom_parameters` carries our TwiML `<Parameter>`s."""

    sequence_number: int
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: Mapping[str, str] = field(default_factory=FrozenParams)
    media_format: MediaFormat = field(default_factory=MediaFormat)

    def __post_init__(self) -> None:
        # accept any mapping / sequence from callers but store frozen, hashable versions
        object.__setattr__(self, "custom_parameters", FrozenParams(self.custom_parameters))
        object.__setattr__(self, "tracks", tuple(self.tracks))


@dataclass(frozen=True)
class Media:
    """One chunk of caller audio; `payload` is raw mu-law bytes, `timestamp` is ms since start."""

    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    payload: bytes


@dataclass(frozen=True)
class Mark:
    """Twilio finished playing (or cleared) the audio queued before the mark we sent."""

    sequence_number: int
    stream_sid: str
    name: str


@dataclass(frozen=True)
class Dtmf:
    """The caller pressed a key."""

    sequence_number: int
    stream_sid: str
    track: str
    digit: str


@dataclass(frozen=True)
class Stop:
    """The stream ended (hang-up or TwiML moved on); Twilio closes the socket next."""

    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str


@dataclass(frozen=True)
class ProtocolError:
    """A frame we could not accept. Returned, never raised: the input comes from the network."""

    reason: str
    raw_excerpt: str


StreamEvent = Connected | Start | Media | Mark | Dtmf | Stop
"""A well-formed frame from Twilio."""
Event = StreamEvent | ProtocolError

# --- messages our server sends (parsed by the simulated lead) -------------------------------


@dataclass(frozen=True)
class OutboundMedia:
    """Agent audio for Twilio to play: raw mu-law 8 kHz bytes."""

    stream_sid: str
    payload: bytes


@dataclass(frozen=True)
class OutboundMark:
    """Asks Twilio to echo a `mark` once everything queued before it has played."""

    stream_sid: str
    name: str


@dataclass(frozen=True)
class Clear:
    """Asks Twilio to drop all queued audio (barge-in); pending marks are echoed at once."""

    stream_sid: str


OutboundEvent = OutboundMedia | OutboundMark | Clear | ProtocolError


# --- parsing helpers ------------------------------------------------------------------------


class _Invalid(Exception):
    """Internal: carries the reason a frame is rejected up to the one place that catches it."""


def _excerpt(raw: str | bytes) -> str:
    text = raw[:_EXCERPT_CHARS]
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    return text


def _load_object(raw: str | bytes, limit: int) -> dict[str, Any]:
    size = len(raw)  # a str of more than `limit` characters is too long whatever its encoding
    if isinstance(raw, str) and size <= limit:
        size = len(raw.encode("utf-8", errors="replace"))
    if size > limit:
        raise _Invalid(f"frame of {size} bytes exceeds the {limit}-byte limit")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, digit limits
        raise _Invalid(f"not JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise _Invalid(f"JSON {type(data).__name__}, expected an object")
    return data


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _Invalid(f"'{key}' must be an object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _Invalid(f"'{key}' must be a string")
    return value


def _uint(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
        return value
    if isinstance(value, str) and _UINT.fullmatch(value):
        return int(value)
    raise _Invalid(f"'{key}' must be a non-negative integer or a string of digits")


def _b64(data: Mapping[str, Any], key: str) -> bytes:
    text = _str(data, key)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid(f"'{key}' is not valid base64") from None


def _parse_fields(data: Mapping[str, Any]) -> Event:
    kind = data.get("event")
    if kind == "connected":
        return Connected(protocol=_str(data, "protocol"), version=_str(data, "version"))
    seq = _uint(data, "sequenceNumber")
    if kind == "start":
        start = _obj(data, "start")
        tracks = start.get("tracks")
        if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
            raise _Invalid("'tracks' must be a list of strings")
        params = start.get("customParameters", {})
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise _Invalid("'customParameters' must map strings to strings")
        fmt = _obj(start, "mediaFormat")
        return Start(
            sequence_number=seq,
            stream_sid=_str(start, "streamSid"),
            call_sid=_str(start, "callSid"),
            account_sid=_str(start, "accountSid"),
            tracks=tuple(tracks),
            custom_parameters=params,
            media_format=MediaFormat(_str(fmt, "encoding"), _uint(fmt, "sampleRate"), _uint(fmt, "channels")),
        )
    sid = _str(data, "streamSid")
    if kind == "media":
        media = _obj(data, "media")
        return Media(
            sequence_number=seq,
            stream_sid=sid,
            track=_str(media, "track"),
            chunk=_uint(media, "chunk"),
            timestamp=_uint(media, "timestamp"),
            payload=_b64(media, "payload"),
        )
    if kind == "mark":
        return Mark(sequence_number=seq, stream_sid=sid, name=_str(_obj(data, "mark"), "name"))
    if kind == "dtmf":
        dtmf = _obj(data, "dtmf")
        return Dtmf(seq, sid, track=_str(dtmf, "track"), digit=_str(dtmf, "digit"))
    if kind == "stop":
        stop = _obj(data, "stop")
        return Stop(seq, sid, _str(stop, "accountSid"), _str(stop, "callSid"))
    raise _Invalid(f"unknown event {kind!r}"[:80])


def parse(raw: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Event:
    """Decode one frame from Twilio without checking its place in the stream. Never raises."""
    try:
        return _parse_fields(_load_object(raw, max_bytes))
    except _Invalid as exc:
        return ProtocolError(str(exc), _excerpt(raw))


class _Phase(enum.Enum):
    BEFORE_START = "before start"
    STREAMING = "streaming"
    STOPPED = "stopped"


class MediaStreamDecoder:
    """`parse()` plus the ordering rules of one stream, for the server's side of one socket.

    `connected` is optional (only `start` opens the stream). A `ProtocolError` does not change
    the state: one bad frame should not make the next good one look wrong. Whether to hang up
    on errors is the call session's decision, not ours.
    """

    def __init__(self, *, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max_bytes = max_bytes
        self._phase = _Phase.BEFORE_START
        self.start: Start | None = None
        """The stream's `start` event, once it has arrived."""

    @property
    def stopped(self) -> bool:
        """True once `stop` was received; every later frame is an error."""
        return self._phase is _Phase.STOPPED

    def receive(self, raw: str | bytes) -> Event:
        """Decode one frame and check it fits where the stream is. Never raises."""
        event = parse(raw, max_bytes=self._max_bytes)
        if isinstance(event, ProtocolError):
            return event
        problem = self._out_of_order(event)
        if problem:
            return ProtocolError(problem, _excerpt(raw))
        if isinstance(event, Start):
            self.start, self._phase = event, _Phase.STREAMING
        elif isinstance(event, Stop):
            self._phase = _Phase.STOPPED
        return event

    def _out_of_order(self, event: Event) -> str | None:
        name = type(event).__name__.lower()
        if self._phase is _Phase.STOPPED:
            return f"{name} after stop"
        if isinstance(event, Connected):
            return "connected after start" if self._phase is _Phase.STREAMING else None
        if isinstance(event, Start):
            return "second start" if self._phase is _Phase.STREAMING else None
        if self.start is None:
            return f"{name} before start"
        sid = getattr(event, "stream_sid", self.start.stream_sid)
        if sid != self.start.stream_sid:
            return f"{name} for stream {sid!r}, expected {self.start.stream_sid!r}"[:160]
        return None


# --- what our server sends to Twilio --------------------------------------------------------


def _dump(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _b64text(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")


def media_message(stream_sid: str, payload: bytes) -> str:
    """Agent audio (raw mu-law 8 kHz) for Twilio to queue for playback."""
    return _dump({"event": "media", "streamSid": stream_sid, "media": {"payload": _b64text(payload)}})


def mark_message(stream_sid: str, name: str) -> str:
    """A marker Twilio echoes back when the audio queued before it has played."""
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drop everything queued for playback (barge-in)."""
    return _dump({"event": "clear", "streamSid": stream_sid})


def parse_outbound(raw: str | bytes, *, max_bytes: int = MAX_OUTBOUND_FRAME_BYTES) -> OutboundEvent:
    """Decode one frame the server sent (the simulated lead's side). Never raises."""
    try:
        data = _load_object(raw, max_bytes)
        kind, sid = data.get("event"), _str(data, "streamSid")
        if kind == "media":
            return OutboundMedia(sid, _b64(_obj(data, "media"), "payload"))
        if kind == "mark":
            return OutboundMark(sid, _str(_obj(data, "mark"), "name"))
        if kind == "clear":
            return Clear(sid)
        raise _Invalid(f"unknown event {kind!r}"[:80])
    except _Invalid as exc:
        return ProtocolError(str(exc), _excerpt(raw))


# --- what Twilio sends (the simulated lead's side) ------------------------------------------


def encode(event: StreamEvent) -> str:
    """Serialize an inbound event exactly as Twilio would send it (numbers as strings)."""
    if isinstance(event, Connected):
        return _dump({"event": "connected", "protocol": event.protocol, "version": event.version})
    head: dict[str, Any] = {"event": "", "sequenceNumber": str(event.sequence_number)}
    if isinstance(event, Start):
        fmt = event.media_format
        head["event"] = "start"
        head["start"] = {
            "accountSid": event.account_sid,
            "streamSid": event.stream_sid,
            "callSid": event.call_sid,
            "tracks": list(event.tracks),
            "customParameters": dict(event.custom_parameters),
            "mediaFormat": {
                "encoding": fmt.encoding,
                "sampleRate": fmt.sample_rate,
                "channels": fmt.channels,
            },
        }
    elif isinstance(event, Media):
        head["event"] = "media"
        head["media"] = {
            "track": event.track,
            "chunk": str(event.chunk),
            "timestamp": str(event.timestamp),
            "payload": _b64text(event.payload),
        }
    elif isinstance(event, Mark):
        head["event"], head["mark"] = "mark", {"name": event.name}
    elif isinstance(event, Dtmf):
        head["event"], head["dtmf"] = "dtmf", {"track": event.track, "digit": event.digit}
    else:
        head["event"] = "stop"
        head["stop"] = {"accountSid": event.account_sid, "callSid": event.call_sid}
    head["streamSid"] = event.stream_sid
    return _dump(head)


def twilio_connected() -> str:
    """The `connected` frame Twilio sends first."""
    return encode(Connected())


def twilio_start(
    stream_sid: str,
    call_sid: str,
    account_sid: str,
    custom_parameters: Mapping[str, str] | None = None,
    sequence_number: int = 1,
    tracks: tuple[str, ...] = ("inbound",),
) -> str:
    """The `start` frame; `custom_parameters` are the TwiML `<Parameter>`s of the stream."""
    return encode(Start(sequence_number, stream_sid, call_sid, account_sid, tracks, custom_parameters or {}))


def twilio_media(
    stream_sid: str,
    sequence_number: int,
    chunk: int,
    timestamp: int,
    payload: bytes,
    track: str = "inbound",
) -> str:
    """One `media` frame of caller audio (raw mu-law bytes; base64 is done here)."""
    return encode(Media(sequence_number, stream_sid, track, chunk, timestamp, payload))


def twilio_mark(stream_sid: str, sequence_number: int, name: str) -> str:
    """The `mark` echo Twilio sends when queued audio up to that mark has played."""
    return encode(Mark(sequence_number, stream_sid, name))


def twilio_dtmf(stream_sid: str, sequence_number: int, digit: str) -> str:
    """A key press; Twilio labels the track `inbound_track` here (unlike media frames)."""
    return encode(Dtmf(sequence_number, stream_sid, "inbound_track", digit))


def twilio_stop(stream_sid: str, sequence_number: int, account_sid: str, call_sid: str) -> str:
    """The last frame of a stream."""
    return encode(Stop(sequence_number, stream_sid, account_sid, call_sid))

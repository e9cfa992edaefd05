"""Twilio Media Streams codec: round trips, Twilio's exact shapes, and hostile input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.telephony import codec
from daemon.telephony.codec import (
    Clear,
    Connected,
    Dtmf,
    Event,
    Mark,
    Media,
    MediaFormat,
    MediaStreamDecoder,
    OutboundMark,
    OutboundMedia,
    ProtocolError,
    Start,
    Stop,
    StreamEvent,
)

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA0123456789abcdef0123456789abcdef"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
AUDIO = bytes(range(256)) * 2  # every mu-law code, so base64 covers all alphabet characters

START = Start(1, SID, CALL, ACCOUNT, ("inbound",), {"call_id": "c-42", "lead": "Ana"})
INBOUND_EVENTS: list[StreamEvent] = [
    Connected("Call", "1.0.0"),
    START,
    Media(2, SID, "inbound", chunk=1, timestamp=5, payload=AUDIO),
    Media(3, SID, "outbound", chunk=7, timestamp=140, payload=b""),
    Mark(4, SID, "sentence-3"),
    Dtmf(5, SID, "inbound_track", "9"),
    Stop(6, SID, ACCOUNT, CALL),
]

# Frames exactly as Twilio's documentation shows them (numbers as strings, extra fields).
TWILIO_FRAMES = {
    "connected": {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    "start": {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": ACCOUNT,
            "streamSid": SID,
            "callSid": CALL,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"FirstName": "Jane"},
        },
        "streamSid": SID,
    },
    "media": {
        "event": "media",
        "sequenceNumber": "3",
        "media": {"track": "outbound", "chunk": "1", "timestamp": "5", "payload": "no+JhoaJjpz/"},
        "streamSid": SID,
    },
    "mark": {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "l"}},
    "dtmf": {
        "event": "dtmf",
        "streamSid": SID,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "1"},
    },
    "stop": {
        "event": "stop",
        "sequenceNumber": "5",
        "streamSid": SID,
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    },
}


def _valid_stream() -> list[str]:
    return [codec.encode(e) for e in INBOUND_EVENTS]


# --- round trips and exact shapes -----------------------------------------------------------


@pytest.mark.parametrize("event", INBOUND_EVENTS, ids=lambda e: type(e).__name__)
def test_every_inbound_event_round_trips(event: StreamEvent) -> None:
    text = codec.encode(event)
    assert codec.parse(text) == event
    assert codec.parse(text.encode()) == event  # bytes frames too


@pytest.mark.parametrize("name", sorted(TWILIO_FRAMES))
def test_documented_twilio_frames_parse(name: str) -> None:
    event = codec.parse(json.dumps(TWILIO_FRAMES[name]))
    assert type(event).__name__.lower() == name
    if isinstance(event, Media):
        assert (event.sequence_number, event.chunk, event.timestamp) == (3, 1, 5)
        assert event.payload == base64.b64decode("no+JhoaJjpz/")
    if isinstance(event, Start):
        assert event.custom_parameters == {"FirstName": "Jane"}
        assert event.media_format == MediaFormat("audio/x-mulaw", 8000, 1)
        assert event.tracks == ("inbound",)


def test_numbers_may_be_ints_as_well_as_strings() -> None:
    frame = json.loads(codec.encode(INBOUND_EVENTS[2]))
    frame["sequenceNumber"], frame["media"]["chunk"], frame["media"]["timestamp"] = 2, 1, 5
    assert codec.parse(json.dumps(frame)) == INBOUND_EVENTS[2]


def test_builders_emit_twilios_field_names_and_string_numbers() -> None:
    start = json.loads(codec.twilio_start(SID, CALL, ACCOUNT, {"k": "v"}, sequence_number=1))
    assert start == {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": ACCOUNT,
            "streamSid": SID,
            "callSid": CALL,
            "tracks": ["inbound"],
            "customParameters": {"k": "v"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": SID,
    }
    media = json.loads(codec.twilio_media(SID, 2, 1, 20, b"\xff\x7f"))
    assert media == {
        "event": "media",
        "sequenceNumber": "2",
        "media": {"track": "inbound", "chunk": "1", "timestamp": "20", "payload": "/38="},
        "streamSid": SID,
    }
    assert json.loads(codec.twilio_connected()) == TWILIO_FRAMES["connected"]
    assert json.loads(codec.twilio_dtmf(SID, 5, "1")) == TWILIO_FRAMES["dtmf"]
    assert json.loads(codec.twilio_stop(SID, 5, ACCOUNT, CALL)) == TWILIO_FRAMES["stop"]
    assert json.loads(codec.twilio_mark(SID, 4, "l")) == TWILIO_FRAMES["mark"]


def test_outbound_messages_are_exactly_twilios() -> None:
    assert json.loads(codec.media_message(SID, b"\x00\xff")) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": "AP8="},
    }
    assert json.loads(codec.mark_message(SID, "s1")) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "s1"},
    }
    assert json.loads(codec.clear_message(SID)) == {"event": "clear", "streamSid": SID}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (codec.media_message(SID, AUDIO), OutboundMedia(SID, AUDIO)),
        (codec.mark_message(SID, "s1"), OutboundMark(SID, "s1")),
        (codec.clear_message(SID), Clear(SID)),
    ],
    ids=["media", "mark", "clear"],
)
def test_outbound_round_trips(text: str, expected: codec.OutboundEvent) -> None:
    assert codec.parse_outbound(text) == expected


def test_start_is_frozen_and_hashable_with_dict_like_parameters() -> None:
    assert START.custom_parameters["call_id"] == "c-42"
    assert dict(START.custom_parameters) == {"call_id": "c-42", "lead": "Ana"}
    assert hash(START) == hash(codec.parse(codec.encode(START)))
    with pytest.raises(TypeError):
        START.custom_parameters["x"] = "y"  # type: ignore[index]


# --- malformed input ------------------------------------------------------------------------


def _mutate(name: str, path: tuple[str, ...], value: Any) -> str:
    frame = json.loads(json.dumps(TWILIO_FRAMES[name]))
    node = frame
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(frame)


_DELETE = object()

MALFORMED: dict[str, str | bytes] = {
    "empty": "",
    "not json": "hello",
    "truncated": '{"event": "media"',
    "json array": "[1, 2]",
    "json string": '"media"',
    "json null": "null",
    "json number": "42",
    "bad utf-8": b'{"event": "\xff"}',
    "deep nesting": "[" * 30_000 + "]" * 30_000,
    "huge integer": '{"event": "media", "sequenceNumber": ' + "9" * 6000 + "}",
    "too big": json.dumps({"event": "media", "pad": "x" * (64 * 1024)}),
    "no event": "{}",
    "unknown event": '{"event": "hangup", "sequenceNumber": "1", "streamSid": "MZ"}',
    "event not string": '{"event": 3}',
    "connected without version": '{"event": "connected", "protocol": "Call"}',
    "media without media": _mutate("media", ("media",), _DELETE),
    "media is a list": _mutate("media", ("media",), []),
    "no payload": _mutate("media", ("media", "payload"), _DELETE),
    "payload not base64": _mutate("media", ("media", "payload"), "***not base64***"),
    "payload bad padding": _mutate("media", ("media", "payload"), "abc"),
    "payload non-ascii": _mutate("media", ("media", "payload"), "ÿÿÿÿ"),
    "payload a number": _mutate("media", ("media", "payload"), 7),
    "chunk negative": _mutate("media", ("media", "chunk"), -1),
    "chunk bool": _mutate("media", ("media", "chunk"), True),
    "chunk float": _mutate("media", ("media", "chunk"), 1.5),
    "chunk words": _mutate("media", ("media", "chunk"), "one"),
    "timestamp signed": _mutate("media", ("media", "timestamp"), "-5"),
    "timestamp unicode digits": _mutate("media", ("media", "timestamp"), "٥"),
    "no sequence number": _mutate("media", ("sequenceNumber",), _DELETE),
    "no stream sid": _mutate("media", ("streamSid",), _DELETE),
    "stream sid number": _mutate("mark", ("streamSid",), 12),
    "mark without name": _mutate("mark", ("mark",), {}),
    "dtmf digit null": _mutate("dtmf", ("dtmf", "digit"), None),
    "stop without call": _mutate("stop", ("stop", "callSid"), _DELETE),
    "start without start": _mutate("start", ("start",), _DELETE),
    "tracks a string": _mutate("start", ("start", "tracks"), "inbound"),
    "tracks of numbers": _mutate("start", ("start", "tracks"), [1]),
    "parameters a list": _mutate("start", ("start", "customParameters"), ["a"]),
    "parameter not string": _mutate("start", ("start", "customParameters"), {"a": 1}),
    "no media format": _mutate("start", ("start", "mediaFormat"), _DELETE),
    "sample rate text": _mutate("start", ("start", "mediaFormat", "sampleRate"), "8k"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_frames_become_protocol_errors(name: str) -> None:
    raw = MALFORMED[name]
    event = codec.parse(raw)
    assert isinstance(event, ProtocolError), event
    assert event.reason
    assert len(event.raw_excerpt) <= 120


# the server's frames carry no sequence numbers, chunks or timestamps, so only these apply
OUTBOUND_MALFORMED = [
    *list(MALFORMED)[:15],
    "media without media",
    "media is a list",
    "no payload",
    "payload not base64",
    "payload bad padding",
    "payload non-ascii",
    "payload a number",
    "no stream sid",
    "stream sid number",
    "mark without name",
    "stop without call",
]


@pytest.mark.parametrize("name", OUTBOUND_MALFORMED)
def test_malformed_outbound_frames_become_protocol_errors(name: str) -> None:
    assert isinstance(codec.parse_outbound(MALFORMED[name]), ProtocolError)


@pytest.mark.parametrize(
    "raw",
    [
        '{"event": "media", "streamSid": "MZ", "media": {"payload": "%%"}}',
        '{"event": "mark", "streamSid": "MZ", "mark": "x"}',
        '{"event": "clear"}',
        '{"event": "stop", "streamSid": "MZ"}',
        "x" * (5 * 1024 * 1024),
    ],
    ids=["bad payload", "mark not object", "clear without sid", "stop", "too big"],
)
def test_bad_server_frames_become_protocol_errors(raw: str) -> None:
    assert isinstance(codec.parse_outbound(raw), ProtocolError)


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    frame = json.dumps({"event": "mark", "x": "é" * 40_000}, ensure_ascii=False)
    assert len(frame) < 64 * 1024 < len(frame.encode())
    error = codec.parse(frame)
    assert isinstance(error, ProtocolError) and "limit" in error.reason


# --- stream order (the stateful decoder) ----------------------------------------------------


def test_decoder_accepts_a_well_formed_stream() -> None:
    decoder = MediaStreamDecoder()
    events = [decoder.receive(frame) for frame in _valid_stream()]
    assert events == INBOUND_EVENTS
    assert decoder.start == START and decoder.stopped


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([codec.encode(INBOUND_EVENTS[2])], "media before start"),
        ([codec.encode(Connected()), codec.encode(INBOUND_EVENTS[4])], "mark before start"),
        ([codec.encode(INBOUND_EVENTS[6])], "stop before start"),
        ([codec.encode(START), codec.encode(START)], "second start"),
        ([codec.encode(START), codec.encode(Connected())], "connected after start"),
        (
            [codec.encode(START), codec.encode(Media(2, "MZother", "inbound", 1, 0, b"\xff"))],
            "media for stream 'MZother'",
        ),
        (
            [codec.encode(START), codec.encode(INBOUND_EVENTS[6]), codec.encode(INBOUND_EVENTS[2])],
            "media after stop",
        ),
        (
            [codec.encode(START), codec.encode(INBOUND_EVENTS[6]), codec.encode(START)],
            "start after stop",
        ),
    ],
)
def test_decoder_flags_frames_out_of_order(frames: list[str], reason: str) -> None:
    decoder = MediaStreamDecoder()
    *before, last = [decoder.receive(frame) for frame in frames]
    assert not any(isinstance(e, ProtocolError) for e in before)
    assert isinstance(last, ProtocolError) and last.reason.startswith(reason), last


def test_decoder_error_does_not_derail_the_stream() -> None:
    decoder = MediaStreamDecoder()
    frames = _valid_stream()
    assert isinstance(decoder.receive(frames[2]), ProtocolError)  # media before start
    assert isinstance(decoder.receive("garbage"), ProtocolError)
    assert [decoder.receive(f) for f in frames] == INBOUND_EVENTS


# --- fuzzing: nothing raises ----------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_field_names = st.sampled_from(
    ["event", "sequenceNumber", "streamSid", "start", "media", "mark", "dtmf", "stop", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.text() | st.binary())
def test_fuzz_arbitrary_text(raw: str | bytes) -> None:
    assert isinstance(codec.parse(raw), Event)
    assert isinstance(codec.parse_outbound(raw), codec.OutboundEvent)
    assert isinstance(MediaStreamDecoder().receive(raw), Event)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_field_names | st.text(max_size=8), _json_values, max_size=6))
def test_fuzz_arbitrary_json_objects(obj: dict[str, Any]) -> None:
    raw = json.dumps(obj)
    assert isinstance(codec.parse(raw), Event)
    assert isinstance(codec.parse_outbound(raw), codec.OutboundEvent)


@st.composite
def _mutated_frames(draw: st.DrawFn) -> str:
    frame = json.loads(json.dumps(TWILIO_FRAMES[draw(st.sampled_from(sorted(TWILIO_FRAMES)))]))
    node = frame
    while True:  # walk down to a random object, then replace / delete / add one member
        keys = [k for k, v in node.items() if isinstance(v, dict)]
        if not keys or draw(st.booleans()):
            break
        node = node[draw(st.sampled_from(keys))]
    key = draw(st.sampled_from([*node.keys(), "extra"]))
    if draw(st.booleans()):
        node.pop(key, None)
    else:
        node[key] = draw(_json_values)
    return json.dumps(frame)


@settings(max_examples=400, deadline=None)
@given(_mutated_frames(), st.integers(min_value=0, max_value=3))
def test_fuzz_mutated_valid_frames(raw: str, cut: int) -> None:
    decoder = MediaStreamDecoder()
    for frame in _valid_stream()[:cut]:
        decoder.receive(frame)
    event = decoder.receive(raw)
    assert isinstance(event, Event)
    assert isinstance(codec.parse(raw[: len(raw) // 2]), ProtocolError)

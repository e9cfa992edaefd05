"""Webhook helpers: signatures computed with Twilio's published algorithm, TwiML, status forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from daemon.config import Settings, load_settings
from daemon.telephony.webhooks import (
    PublicUrlError,
    StatusUpdate,
    hangup_twiml,
    is_final,
    is_machine,
    media_ws_url,
    public_base_url,
    public_url,
    stream_twiml,
    verify_signature,
    voicemail_twiml,
)

TOKEN = "12345678901234567890123456789012"
FORM = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": "AC" + "2" * 32,
    "From": "+14155550100",
    "To": "+14155550199",
    "CallStatus": "in-progress",
    "Direction": "outbound-api",
}


def twilio_sign(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm, written out: HMAC-SHA1 over URL + each key+value in key order."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _settings(public: str | None = "https://abc123.ngrok.app") -> Settings:
    return load_settings(
        twilio_public_base_url=public, twilio_call_webhook_url=None, api_base_url=None
    )


def test_signed_request_is_accepted() -> None:
    url = public_url(_settings(), "/twilio/voice", "call_id=c42")
    assert url == "https://abc123.ngrok.app/twilio/voice?call_id=c42"
    assert verify_signature(TOKEN, url, FORM, twilio_sign(TOKEN, url, FORM))


@pytest.mark.parametrize(
    "tamper",
    ["param", "extra_param", "url", "query", "signature", "token", "empty"],
)
def test_tampered_request_is_rejected(tamper: str) -> None:
    url = public_url(_settings(), "/twilio/voice", "call_id=c42")
    signature = twilio_sign(TOKEN, url, FORM)
    params, token = dict(FORM), TOKEN
    if tamper == "param":
        params["CallStatus"] = "completed"
    elif tamper == "extra_param":
        params["AnsweredBy"] = "human"
    elif tamper == "url":
        url = url.replace("abc123", "evil")
    elif tamper == "query":
        url = url.replace("c42", "c43")
    elif tamper == "signature":
        signature = signature[:-4] + ("AAA=" if not signature.endswith("AAA=") else "BBB=")
    elif tamper == "token":
        token = "x" * 32
    elif tamper == "empty":
        signature = ""
    assert not verify_signature(token, url, params, signature)


def test_signature_is_checked_against_the_public_url_not_the_local_one() -> None:
    # What the daemon sees behind ngrok; a request signed for it must not pass.
    local = "http://127.0.0.1:8765/twilio/status"
    signature = twilio_sign(TOKEN, local, FORM)
    assert not verify_signature(TOKEN, public_url(_settings(), "/twilio/status"), FORM, signature)


def test_public_url_without_configuration_is_an_error() -> None:
    with pytest.raises(PublicUrlError, match="TWILIO_PUBLIC_BASE_URL"):
        public_url(_settings(None), "/twilio/voice")


def test_public_base_url_falls_back_to_api_base_url() -> None:
    settings = load_settings(
        twilio_public_base_url=None, twilio_call_webhook_url=None, api_base_url="https://api.x/"
    )
    assert public_base_url(settings) == "https://api.x"
    assert public_url(settings, "twilio/status") == "https://api.x/twilio/status"


@pytest.mark.parametrize(
    ("base", "ws"),
    [
        ("https://abc.ngrok.app", "wss://abc.ngrok.app/twilio/media"),
        ("https://abc.ngrok.app/", "wss://abc.ngrok.app/twilio/media"),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/twilio/media"),
        ("https://x.example/scrappy", "wss://x.example/scrappy/twilio/media"),
    ],
)
def test_media_ws_url(base: str, ws: str) -> None:
    assert media_ws_url(base) == ws


def test_media_ws_url_refuses_non_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        media_ws_url("ftp://x.example")


def test_stream_twiml_carries_url_and_parameters() -> None:
    params = {"call_id": "c42", "stream_token": "t&<ok>\"'"}
    xml = stream_twiml("wss://abc.ngrok.app/twilio/media", params)
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    (connect,) = list(root)
    assert connect.tag == "Connect"
    (stream,) = list(connect)
    assert stream.tag == "Stream"
    assert stream.get("url") == "wss://abc.ngrok.app/twilio/media"
    assert {p.get("name"): p.get("value") for p in stream.findall("Parameter")} == params


def test_stream_twiml_refuses_query_strings() -> None:
    with pytest.raises(ValueError, match="query strings"):
        stream_twiml("wss://x/twilio/media?call_id=1", {})


def test_voicemail_and_hangup_twiml() -> None:
    root = ET.fromstring(voicemail_twiml("Hi, this is Sam from Acme. I'll call back <soon>."))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Hi, this is Sam from Acme. I'll call back <soon>."
    voiced = ET.fromstring(voicemail_twiml("Hello", voice="Polly.Joanna"))
    assert voiced[0].get("voice") == "Polly.Joanna"
    assert [child.tag for child in ET.fromstring(hangup_twiml())] == ["Hangup"]


def test_status_update_parses_a_completed_callback() -> None:
    update = StatusUpdate.from_form(
        {
            **FORM,
            "CallStatus": "completed",
            "AnsweredBy": "machine_end_beep",
            "CallDuration": "37",
            "Timestamp": "Wed, 25 Nov 2026 05:10:35 +0000",
            "SequenceNumber": "3",
        }
    )
    assert update == StatusUpdate(
        call_sid=FORM["CallSid"],
        call_status="completed",
        answered_by="machine_end_beep",
        duration_seconds=37,
        timestamp=datetime(2026, 11, 25, 5, 10, 35, tzinfo=UTC),
        sequence_number=3,
    )
    assert update.final
    assert update.dedupe_key == FORM["CallSid"] + ":completed"


def test_status_update_tolerates_missing_and_malformed_optionals() -> None:
    sid = "CA" + "1" * 32
    update = StatusUpdate.from_form(
        {
            "CallSid": sid,
            "CallStatus": "ringing",
            "CallDuration": "",
            "Timestamp": "soon",
            "SequenceNumber": "x",
            "AnsweredBy": "$set",
        }
    )
    assert update == StatusUpdate(sid, "ringing")
    assert not update.final


@pytest.mark.parametrize("duration", ["-5", "1e3", "99999999999999999999", "٣", "42\x00", " 42"])
def test_only_twilios_durations_are_kept(duration: str) -> None:
    update = StatusUpdate.from_form({**FORM, "CallStatus": "completed", "CallDuration": duration})
    assert update.duration_seconds is None and update.call_status == "completed"


@pytest.mark.parametrize(("form", "problem"), [
    ({"CallSid": "CA" + "1" * 32, "CallStatus": "hacked"}, "CallStatus is not one of Twilio's"),
    ({"CallSid": "CA" + "1" * 32, "CallStatus": "completed\x00"}, "CallStatus is not one of Twilio's"),
    ({"CallSid": "CA" + "1" * 32, "CallStatus": "x" * 10_000}, "CallStatus is not one of Twilio's"),
    ({"CallSid": "{'$ne': null}", "CallStatus": "completed"}, "CallSid is not a Twilio call SID"),
])
def test_a_status_twilio_never_sends_is_refused(form: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        StatusUpdate.from_form(form)


@pytest.mark.parametrize("form", [{"CallSid": "CA1"}, {"CallStatus": "ringing"}, {}])
def test_status_update_requires_sid_and_status(form: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CallSid or CallStatus"):
        StatusUpdate.from_form(form)


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("queued", False),
        ("initiated", False),
        ("ringing", False),
        ("in-progress", False),
        ("completed", True),
        ("busy", True),
        ("no-answer", True),
        ("failed", True),
        ("canceled", True),
    ],
)
def test_is_final(status: str, final: bool) -> None:
    assert is_final(status) is final


@pytest.mark.parametrize(
    ("answered_by", "machine"),
    [
        ("human", False),
        ("unknown", False),
        (None, False),
        ("machine_start", True),
        ("machine_end_beep", True),
        ("machine_end_silence", True),
        ("machine_end_other", True),
        ("fax", True),
    ],
)
def test_is_machine(answered_by: str | None, machine: bool) -> None:
    assert is_machine(answered_by) is machine

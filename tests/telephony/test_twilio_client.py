"""The Twilio REST client against Prism serving Twilio's real OpenAPI schema.

Prism validates every request body and path against the spec, so these tests prove that what
the SDK sends for our arguments (repeated StatusCallbackEvent keys, MachineDetection, …) is a
request Twilio accepts — not just that the SDK raised nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from daemon.config import Settings, load_settings
from daemon.telephony.twilio_client import (
    TelephonyConfigError,
    TelephonyError,
    TwilioTelephony,
    status_callback_url_for,
    webhook_url_for,
)
from tests.prism import PrismServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
FROM = "+14155550199"
TO = "+14155550100"
WEBHOOK = "https://scrappy.example.com/twilio/voice"
STATUS = "https://scrappy.example.com/twilio/status"


_OPEN: list[TwilioTelephony] = []


def _track(telephony: TwilioTelephony) -> TwilioTelephony:
    _OPEN.append(telephony)
    return telephony


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every client a test made, so no pooled socket outlives its test."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(prism: PrismServer, account_sid: str = ACCOUNT_SID) -> TwilioTelephony:
    return _track(TwilioTelephony(account_sid, "test-token", FROM, api_base_url=prism.base_url))


def _passed(prism: PrismServer, mark: int, expected_status: str) -> None:
    """Wait for Prism's answer to the request made after `mark` and check it validated."""
    prism.wait_for(lambda line: f'Responding with "{expected_status}"' in line, since=mark)
    assert prism.validator_errors(since=mark) == []
    assert any("[VALIDATOR]" in line and "success" in line for line in prism.lines_since(mark))


@pytest.mark.prism
async def test_place_call_with_status_events_and_machine_detection(prism: PrismServer) -> None:
    mark = prism.mark()
    sid = await _client(prism).place_call(TO, WEBHOOK, STATUS, machine_detection="DetectMessageEnd")
    assert sid.startswith("CA")
    _passed(prism, mark, "201")
    assert any(
        "/Accounts/" + ACCOUNT_SID + "/Calls.json" in line for line in prism.lines_since(mark)
    )


@pytest.mark.prism
async def test_hang_up_and_send_sms(prism: PrismServer) -> None:
    telephony = _client(prism)
    mark = prism.mark()
    assert await telephony.hang_up("CA" + "a" * 32) is True
    _passed(prism, mark, "200")

    mark = prism.mark()
    message_sid = await telephony.send_sms(TO, "Thanks for your time — here is the demo link.")
    assert message_sid.startswith("SM")
    _passed(prism, mark, "201")


@pytest.mark.prism
async def test_schema_violation_surfaces_as_telephony_error(prism: PrismServer) -> None:
    mark = prism.mark()
    with pytest.raises(TelephonyError) as info:
        await _client(prism, account_sid="XX-not-a-sid").place_call(TO, WEBHOOK, STATUS)
    prism.wait_for(lambda line: "VALIDATOR" in line and "error" in line, since=mark)
    assert info.value.status == 422
    assert "place a call to +14155550100" in str(info.value)
    assert "HTTP 422" in str(info.value)


async def test_unreachable_twilio_surfaces_as_telephony_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    telephony = _track(TwilioTelephony(ACCOUNT_SID, "t", FROM, api_base_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(TelephonyError, match="could not reach Twilio to send an SMS"):
        await telephony.send_sms(TO, "hello")


async def test_empty_sms_is_refused_before_any_request() -> None:
    telephony = _track(TwilioTelephony(ACCOUNT_SID, "t", FROM, api_base_url="http://127.0.0.1:9"))
    with pytest.raises(TelephonyError, match="empty SMS"):
        await telephony.send_sms(TO, "   ")


class _FakeCalls:
    """Stands in for `client.calls`, recording what we asked for."""

    def __init__(self, update_error: Exception | None = None) -> None:
        self.created: list[dict[str, Any]] = []
        self.update_error = update_error

    def create(self, **kwargs: Any) -> Any:
        self.created.append(kwargs)
        return type("Call", (), {"sid": "CA" + "b" * 32})()

    def __call__(self, sid: str) -> _FakeCalls:
        return self

    def update(self, **kwargs: Any) -> Any:
        if self.update_error:
            raise self.update_error
        return None


class _FakeClient:
    def __init__(self, calls: _FakeCalls) -> None:
        self.calls = calls
        self.api = type("Api", (), {"base_url": "https://api.twilio.com"})()


@pytest.mark.parametrize(("setting", "sent"), [("off", None), (None, None), ("Enable", "Enable")])
async def test_machine_detection_off_is_not_sent(setting: str | None, sent: str | None) -> None:
    calls = _FakeCalls()
    telephony = TwilioTelephony(ACCOUNT_SID, "t", FROM, client=_FakeClient(calls))
    await telephony.place_call(TO, WEBHOOK, STATUS, machine_detection=setting)
    (kwargs,) = calls.created
    assert kwargs.get("machine_detection") == sent
    assert kwargs["status_callback_event"] == ["initiated", "ringing", "answered", "completed"]
    assert (kwargs["from_"], kwargs["method"], kwargs["status_callback_method"]) == (
        FROM,
        "POST",
        "POST",
    )


async def test_hang_up_of_an_ended_call_is_not_an_error() -> None:
    from twilio.base.exceptions import TwilioRestException

    ended = TwilioRestException(400, "/Calls/CA1.json", "Call is not in-progress", code=21220)
    telephony = TwilioTelephony(ACCOUNT_SID, "t", FROM, client=_FakeClient(_FakeCalls(ended)))
    assert await telephony.hang_up("CA1") is False

    other = TwilioRestException(404, "/Calls/CA2.json", "not found", code=20404)
    telephony = TwilioTelephony(ACCOUNT_SID, "t", FROM, client=_FakeClient(_FakeCalls(other)))
    with pytest.raises(TelephonyError, match=r"HTTP 404, Twilio error 20404\): not found") as info:
        await telephony.hang_up("CA2")
    assert info.value.code == 20404


# --- URL resolution -----------------------------------------------------------------------


def _settings(**values: str | None) -> Settings:
    fields = ("twilio_call_webhook_url", "twilio_public_base_url", "api_base_url")
    return load_settings(**{name: values.get(name) for name in fields})


@pytest.mark.parametrize(
    ("values", "webhook", "status"),
    [
        (
            {
                "twilio_call_webhook_url": "https://hooks.example/custom/voice",
                "twilio_public_base_url": "https://pub.example",
                "api_base_url": "https://api.example",
            },
            "https://hooks.example/custom/voice",
            "https://pub.example/twilio/status",
        ),
        (
            {
                "twilio_public_base_url": "https://pub.example/",
                "api_base_url": "https://api.example",
            },
            "https://pub.example/twilio/voice",
            "https://pub.example/twilio/status",
        ),
        (
            {"twilio_public_base_url": "https://pub.example/scrappy"},
            "https://pub.example/scrappy/twilio/voice",
            "https://pub.example/scrappy/twilio/status",
        ),
        (
            {"api_base_url": "https://api.example"},
            "https://api.example/twilio/voice",
            "https://api.example/twilio/status",
        ),
        (
            {"api_base_url": "https://api.example/twilio/voice"},
            "https://api.example/twilio/voice",
            "https://api.example/twilio/status",
        ),
        (
            {"twilio_call_webhook_url": "https://hooks.example/twilio/voice"},
            "https://hooks.example/twilio/voice",
            "https://hooks.example/twilio/status",
        ),
    ],
)
def test_webhook_url_resolution_order(values: dict[str, str], webhook: str, status: str) -> None:
    settings = _settings(**values)
    assert webhook_url_for(settings) == webhook
    assert status_callback_url_for(settings) == status


def test_no_public_url_is_a_clear_error_before_dialing() -> None:
    with pytest.raises(TelephonyConfigError, match="set TWILIO_PUBLIC_BASE_URL"):
        webhook_url_for(_settings())
    with pytest.raises(TelephonyConfigError, match="set TWILIO_PUBLIC_BASE_URL"):
        status_callback_url_for(_settings())
    # a custom webhook alone cannot tell where /twilio/status lives
    custom = _settings(twilio_call_webhook_url="https://hooks.example/custom")
    assert webhook_url_for(custom) == "https://hooks.example/custom"
    with pytest.raises(TelephonyConfigError, match="status callback"):
        status_callback_url_for(custom)


def test_relative_webhook_url_is_refused() -> None:
    with pytest.raises(TelephonyConfigError, match="TWILIO_CALL_WEBHOOK_URL must be an absolute"):
        webhook_url_for(_settings(twilio_call_webhook_url="/twilio/voice"))


def test_from_settings_names_every_missing_variable() -> None:
    settings = load_settings(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=None, twilio_phone_number=None
    )
    with pytest.raises(TelephonyConfigError) as info:
        TwilioTelephony.from_settings(settings)
    assert str(info.value) == "real calls need TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER"


@pytest.mark.prism
async def test_from_settings_uses_twilio_api_base_url(prism: PrismServer) -> None:
    settings = load_settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token="tok",
        twilio_phone_number=FROM,
        twilio_api_base_url=prism.base_url,
    )
    mark = prism.mark()
    assert (await TwilioTelephony.from_settings(settings).send_sms(TO, "hi")).startswith("SM")
    _passed(prism, mark, "201")

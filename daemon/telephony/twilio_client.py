"""Twilio REST: the one place where the daemon places, ends and texts real phone calls.

Side effects on the phone network live here and nowhere else: the Media Streams codec only
translates messages, and the call session asks this client to act. The official `twilio` SDK
is synchronous (requests), so every call runs in a worker thread and the event loop that carries
live audio never waits on Twilio's HTTP round trip.

Every SDK or network failure becomes a `TelephonyError` whose message names what we tried and
Twilio's own status, error code and text, so `scrappy call` can print one useful line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from daemon.telephony.webhooks import STATUS_PATH, VOICE_PATH, public_base_url

if TYPE_CHECKING:
    from twilio.rest import Client

T = TypeVar("T")

#: The call progress events we subscribe to; `completed` also carries busy/no-answer/failed.
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")

#: Twilio error 21220 "Invalid call state": the call already ended, so hanging up is done.
_CALL_NOT_IN_PROGRESS = 21220


class TelephonySettings(Protocol):
    """The settings this module reads (daemon.config.Settings satisfies it)."""

    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_phone_number: str | None
    twilio_public_base_url: str | None
    twilio_call_webhook_url: str | None
    twilio_api_base_url: str | None
    api_base_url: str | None


class TelephonyError(Exception):
    """Twilio refused a request or could not be reached; the message says which and why."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class TelephonyConfigError(TelephonyError):
    """The configuration cannot place a real call (raised before anything is dialled)."""


def webhook_url_for(settings: TelephonySettings) -> str:
    """The URL Twilio fetches TwiML from when the lead answers.

    `TWILIO_CALL_WEBHOOK_URL`, else `TWILIO_PUBLIC_BASE_URL` + `/twilio/voice`, else
    `API_BASE_URL` (with `/twilio/voice` appended unless it already ends so). Raising here,
    before `calls.create`, means a misconfigured daemon never rings a lead it cannot talk to.
    """
    if settings.twilio_call_webhook_url:
        return _checked(settings.twilio_call_webhook_url, "TWILIO_CALL_WEBHOOK_URL")
    base = public_base_url(settings)
    if base is None:
        raise TelephonyConfigError(
            "no webhook URL for Twilio: set TWILIO_PUBLIC_BASE_URL to the public https address "
            "of this daemon (e.g. your ngrok URL), or TWILIO_CALL_WEBHOOK_URL"
        )
    return _checked(base + VOICE_PATH, _source_name(settings))


def status_callback_url_for(settings: TelephonySettings) -> str:
    """The URL Twilio posts call progress to: the public base URL + `/twilio/status`."""
    base = public_base_url(settings)
    if base is None:
        raise TelephonyConfigError(
            "no status callback URL for Twilio: set TWILIO_PUBLIC_BASE_URL to the public https "
            "address of this daemon (TWILIO_CALL_WEBHOOK_URL alone does not say where "
            "/twilio/status lives unless it ends in /twilio/voice)"
        )
    return _checked(base + STATUS_PATH, _source_name(settings))


def _source_name(settings: TelephonySettings) -> str:
    if settings.twilio_public_base_url:
        return "TWILIO_PUBLIC_BASE_URL"
    if settings.api_base_url:
        return "API_BASE_URL"
    return "TWILIO_CALL_WEBHOOK_URL"


def _checked(url: str, variable: str) -> str:
    """Refuse URLs Twilio could never fetch, naming the variable to fix."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TelephonyConfigError(f"{variable} must be an absolute http(s) URL, got {url!r}")
    return url


def describe_twilio_error(action: str, exc: BaseException) -> TelephonyError:
    """Turn an SDK or network exception into a TelephonyError with Twilio's own details."""
    from twilio.base.exceptions import TwilioException

    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, TwilioException) and status is not None:
        text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
        more = getattr(exc, "more_info", None) or ""
        detail = f"HTTP {status}" + (f", Twilio error {code}" if code is not None else "")
        message = f"Twilio refused to {action} ({detail})" + (f": {text}" if text else "")
        if more:
            message += f" — see {more}"
        return TelephonyError(message, status=int(status), code=_as_int(code))
    if isinstance(exc, TwilioException):
        return TelephonyError(f"Twilio refused to {action}: {exc}")
    return TelephonyError(f"could not reach Twilio to {action}: {type(exc).__name__}: {exc}")


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]  # any SDK code value, or None
    except (TypeError, ValueError):
        return None


class TwilioTelephony:
    """Places, ends and texts calls through one authenticated Twilio SDK client.

    `api_base_url` (TWILIO_API_BASE_URL) sends the REST traffic elsewhere — Prism in tests.
    `client` lets tests hand in a stand-in; production code leaves it out.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str | None = None,
        *,
        timeout: float = 15.0,
        client: Client | None = None,
    ) -> None:
        if client is None:
            # Imported here: the SDK's REST tree takes ~0.1 s to import and most daemon runs
            # (simulated calls, the CLI) never touch Twilio.
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base_url:
            client.api.base_url = api_base_url.rstrip("/")
        self._client = client
        self.from_number = from_number

    def close(self) -> None:
        """Close the SDK's pooled HTTP connections (its `requests` session)."""
        session = getattr(getattr(self._client, "http_client", None), "session", None)
        if session is not None:
            session.close()

    @classmethod
    def from_settings(cls, settings: TelephonySettings) -> TwilioTelephony:
        """Build the client from configuration, naming every missing variable at once."""
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                ("TWILIO_PHONE_NUMBER", settings.twilio_phone_number),
            )
            if not value
        ]
        if missing:
            raise TelephonyConfigError("real calls need " + ", ".join(missing))
        assert settings.twilio_account_sid and settings.twilio_auth_token  # for mypy
        assert settings.twilio_phone_number
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_phone_number,
            settings.twilio_api_base_url,
        )

    async def _run(self, action: str, func: Callable[[], T]) -> T:
        """Run a blocking SDK call in a thread, translating its failures."""
        try:
            return await asyncio.to_thread(func)
        except Exception as exc:  # the SDK raises TwilioException, requests raises its own
            raise describe_twilio_error(action, exc) from exc

    async def place_call(
        self,
        to: str,
        webhook_url: str,
        status_callback_url: str,
        machine_detection: str | None = None,
    ) -> str:
        """Dial `to` and return Twilio's CallSid.

        Twilio fetches TwiML from `webhook_url` when the call is answered and posts every
        progress event (initiated, ringing, answered, completed) to `status_callback_url`.
        `machine_detection` is "Enable" or "DetectMessageEnd"; None or "off" disables AMD.
        """
        kwargs: dict[str, Any] = {
            "to": to,
            "from_": self.from_number,
            "url": webhook_url,
            "method": "POST",
            "status_callback": status_callback_url,
            "status_callback_method": "POST",
            "status_callback_event": list(STATUS_CALLBACK_EVENTS),
        }
        if machine_detection and machine_detection.lower() != "off":
            kwargs["machine_detection"] = machine_detection
        call = await self._run(f"place a call to {to}", lambda: self._client.calls.create(**kwargs))
        return str(call.sid)

    async def hang_up(self, call_sid: str) -> bool:
        """End a call in progress; True if this request ended it, False if it had already ended.

        A lead hanging up at the same moment as we do is normal, so "not in progress" (Twilio
        error 21220) is not an error here.
        """
        try:
            await self._run(
                f"hang up call {call_sid}",
                lambda: self._client.calls(call_sid).update(status="completed"),
            )
        except TelephonyError as exc:
            if exc.code == _CALL_NOT_IN_PROGRESS:
                return False
            raise
        return True

    async def call_status(self, call_sid: str) -> str:
        """Twilio's current status of a call ("queued", "ringing", "in-progress", "completed"...)."""
        call = await self._run(f"look up call {call_sid}", lambda: self._client.calls(call_sid).fetch())
        return str(call.status)

    async def send_sms(self, to: str, body: str) -> str:
        """Text `body` to `to` from our number and return the MessageSid."""
        if not body.strip():
            raise TelephonyError(f"refusing to send an empty SMS to {to}")
        message = await self._run(
            f"send an SMS to {to}",
            lambda: self._client.messages.create(to=to, from_=self.from_number, body=body),
        )
        return str(message.sid)

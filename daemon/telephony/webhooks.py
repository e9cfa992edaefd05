"""Pure helpers for Twilio's HTTP webhooks: public URLs, signatures, TwiML and status callbacks.

Nothing here does I/O or knows about Starlette, so the routes stay thin and every rule that
decides whether we trust or how we answer Twilio can be tested with plain values.

Why the public URL is rebuilt from configuration: Twilio signs the exact URL it requested
(`X-Twilio-Signature` = base64 HMAC-SHA1 of that URL plus the sorted form parameters). Behind
ngrok or a reverse proxy the daemon sees `http://127.0.0.1:8765/...`, and proxy headers such as
`X-Forwarded-Host` are set by whoever sends the request, so trusting them would let an attacker
choose the URL that gets verified. The operator-configured base URL is the only safe source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

VOICE_PATH = "/twilio/voice"
STATUS_PATH = "/twilio/status"
MEDIA_PATH = "/twilio/media"

#: Call statuses after which Twilio sends nothing more for the call.
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class PublicUrlSettings(Protocol):
    """The three settings that can tell us where Twilio reaches this daemon."""

    twilio_public_base_url: str | None
    twilio_call_webhook_url: str | None
    api_base_url: str | None


class PublicUrlError(ValueError):
    """Raised when no configured URL tells us how Twilio reaches this daemon."""


def _strip_suffix(url: str, suffix: str) -> str | None:
    """`url` without a trailing `suffix` path, or None when its path does not end with it."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(suffix):
        return None
    return urlunsplit((parts.scheme, parts.netloc, path[: -len(suffix)], "", ""))


def _as_base(url: str) -> str:
    """Treat `url` as a base: drop a trailing `/twilio/voice` (a full webhook URL) and slashes."""
    base = _strip_suffix(url, VOICE_PATH)
    return (base if base is not None else url).rstrip("/")


def public_base_url(settings: PublicUrlSettings) -> str | None:
    """The public base URL of this daemon, as Twilio sees it, or None when unknown.

    Order: `TWILIO_PUBLIC_BASE_URL`; else `API_BASE_URL` (a base, or a full `/twilio/voice`
    URL); else `TWILIO_CALL_WEBHOOK_URL` when it ends in `/twilio/voice` (a webhook elsewhere
    tells us nothing about where our other endpoints live).
    """
    if settings.twilio_public_base_url:
        return _as_base(settings.twilio_public_base_url)
    if settings.api_base_url:
        return _as_base(settings.api_base_url)
    if settings.twilio_call_webhook_url:
        return _strip_suffix(settings.twilio_call_webhook_url, VOICE_PATH)
    return None


def public_url(settings: PublicUrlSettings, path: str, query: str = "") -> str:
    """The URL Twilio requested (and signed) for `path` and the raw `query` string.

    Raises PublicUrlError when no base URL is configured, so a route can refuse the request
    instead of verifying against a guess.
    """
    base = public_base_url(settings)
    if base is None:
        raise PublicUrlError(
            "cannot verify Twilio webhooks: set TWILIO_PUBLIC_BASE_URL to the public https "
            "address Twilio uses to reach this daemon (for example your ngrok URL)"
        )
    url = base + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """True when `signature` is Twilio's signature of `url` and the form `params`.

    A missing or empty signature is simply invalid: the caller answers 403 either way.
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def media_ws_url(public_base: str) -> str:
    """The `wss://…/twilio/media` URL for a public http(s) base URL (any path prefix kept)."""
    parts = urlsplit(public_base)
    schemes = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {public_base!r}")
    path = parts.path.rstrip("/") + MEDIA_PATH
    return urlunsplit((schemes[parts.scheme], parts.netloc, path, "", ""))


def stream_twiml(ws_url: str, parameters: Mapping[str, str]) -> str:
    """TwiML that connects the call's audio to our media WebSocket.

    The call's identity travels in `<Parameter>`s (they arrive in the stream's `start` event)
    because Twilio drops query strings from `<Stream>` URLs; we refuse one rather than let
    information silently disappear.
    """
    if "?" in ws_url:
        raise ValueError("Twilio strips query strings from stream URLs; use parameters")
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=ws_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response.to_xml())


def voicemail_twiml(text: str, voice: str | None = None) -> str:
    """TwiML that leaves `text` on an answering machine and hangs up."""
    response = VoiceResponse()
    if voice:
        response.say(text, voice=voice)
    else:
        response.say(text)
    response.hangup()
    return str(response.to_xml())


def hangup_twiml() -> str:
    """TwiML that ends the call at once (e.g. a machine answered and we leave no message)."""
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def is_final(status: str) -> bool:
    """True when Twilio will send no further status for a call in this `status`."""
    return status in FINAL_STATUSES


def is_machine(answered_by: str | None) -> bool:
    """True when answering-machine detection says a machine (or fax) picked up.

    Twilio's values: human, machine_start, machine_end_beep, machine_end_silence,
    machine_end_other, fax, unknown. `unknown` counts as a person: hanging up on a real lead is
    worse than talking to a machine.
    """
    return bool(answered_by) and (str(answered_by).startswith("machine") or answered_by == "fax")


CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy",
                           "failed", "no-answer", "canceled"})
"""Every `CallStatus` Twilio sends (Voice API, status callbacks)."""
ANSWERED_BY = frozenset({"human", "machine_start", "machine_end_beep", "machine_end_silence",
                         "machine_end_other", "fax", "unknown"})
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_MAX_INT = 10**7  # no call lasts 115 days; bigger numbers are not Twilio's
_DIGITS = re.compile(r"[0-9]{1,8}")


def _int_or_none(value: str | None) -> int | None:
    if value is None or not _DIGITS.fullmatch(value):  # refuses "-5", "1e9", "٣", 20 digits
        return None
    number = int(value)
    return number if number < _MAX_INT else None


def _rfc2822_or_none(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StatusUpdate:
    """One status callback from Twilio, with the fields the call record needs."""

    call_sid: str
    call_status: str
    answered_by: str | None = None
    duration_seconds: int | None = None
    timestamp: datetime | None = None
    sequence_number: int | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> StatusUpdate:
        """Parse the form Twilio posts to the status callback.

        CallSid and CallStatus are required (raise ValueError); the rest are optional because
        Twilio sends them only for some events (CallDuration only once the call completed) and
        a malformed optional field must not lose the status itself.
        """
        call_sid = (form.get("CallSid") or "").strip()
        call_status = (form.get("CallStatus") or "").strip()
        if not call_sid or not call_status:
            raise ValueError("status callback without CallSid or CallStatus")
        if not _CALL_SID.fullmatch(call_sid):
            raise ValueError("CallSid is not a Twilio call SID")
        if call_status not in CALL_STATUSES:
            raise ValueError(f"CallStatus is not one of Twilio's ({', '.join(sorted(CALL_STATUSES))})")
        answered_by = form.get("AnsweredBy") or None
        return cls(
            call_sid=call_sid,
            call_status=call_status,
            answered_by=answered_by if answered_by in ANSWERED_BY else None,
            duration_seconds=_int_or_none(form.get("CallDuration")),
            timestamp=_rfc2822_or_none(form.get("Timestamp")),
            sequence_number=_int_or_none(form.get("SequenceNumber")),
        )

    @property
    def final(self) -> bool:
        """True when this update ends the call."""
        return is_final(self.call_status)

    @property
    def dedupe_key(self) -> str:
        """Identifies a repeat of the same update when Twilio retries without its token."""
        return f"{self.call_sid}:{self.call_status}"

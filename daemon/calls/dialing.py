"""The dialing policy: may we phone this number, now?

Run before every real or simulated call. It is pure apart from the clock, which the caller
passes in (`now`), so every rule is testable at any hour. Each refusal is one sentence that
names the number and the rule, because the operator has to act on it.

Rules, in order:
1. The number must be written in E.164 form (`+` and the country code) and parse. Guessing a
   region for a bare national number could ring someone in the wrong country.
2. It must be a valid number (phonenumbers' metadata) in an allowed country (ALLOWED_COUNTRIES).
3. Premium-rate and shared-cost numbers are refused: the caller pays a surcharge to the number's
   owner, the classic toll-fraud pattern. UAN numbers (e.g. UK 03, India 1400) are charged like
   ordinary geographic calls and are allowed.
4. The do-not-call list.
5. Calling hours (CALLING_HOURS_START..END, default 08:00-21:00) in the lead's local time. A
   number that spans several time zones (Newfoundland and Nova Scotia share +1 709; toll-free
   numbers span all of North America) must be within hours in EVERY zone — we cannot know where
   the person is, so the strictest zone decides. A number with no known zone cannot be checked
   and is treated as outside hours.

`force` (an admin's `--force`) overrides calling hours only. Hours are a courtesy/regulatory
window an admin may knowingly step outside (a lead who asked to be called back at 21:30), and the
override is audited (`forced=True`). The do-not-call list is the lead's explicit wish, and
premium/invalid numbers are fraud or typos; no role overrides those.

`simulate` phones no one: every rule except "is this a phone number at all" becomes a warning
("would block a real call: …"), so a rehearsal works at any hour with any fictional number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, timezone

#: Number types whose calls cost the caller a surcharge paid to the callee.
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
}

SIMULATED_PREFIX = "would block a real call: "
FORCED_PREFIX = "calling hours overridden by --force: "


class DialingSettings(Protocol):
    """The settings the policy reads (daemon.config.Settings satisfies it)."""

    @property
    def allowed_country_codes(self) -> frozenset[str]: ...

    calling_hours_start: int
    calling_hours_end: int


DoNotCall = Collection[str] | Callable[[str], bool]


@dataclass(frozen=True)
class DialDecision:
    """The verdict for one number: whether to dial, and every reason behind it."""

    allowed: bool
    e164: str | None
    country: str | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    forced: bool = False

    @property
    def reason(self) -> str:
        """All refusal reasons in one line, for an error message."""
        return "; ".join(self.problems)


class InvalidPhoneNumber(ValueError):
    """Raised by `normalise_phone` for text that is not a phone number."""


def normalise_phone(text: str, default_region: str | None = None) -> str:
    """The E.164 form of `text` (e.g. "+1 (212) 555-0123" -> "+12125550123").

    Used to import do-not-call lists, where numbers come in national formats; pass
    `default_region` (e.g. "US") for lines without a `+`. Validity is not checked: an opt-out
    must be recorded even for a number our metadata does not know.
    """
    try:
        number = phonenumbers.parse(text.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number: {exc}") from None
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _on_dnc(e164: str, dnc: DoNotCall) -> bool:
    if callable(dnc):
        return bool(dnc(e164))
    return e164 in dnc


def _fmt_hour(hour: int) -> str:
    return f"{hour:02d}:00"


def _hours_problems(
    number: phonenumbers.PhoneNumber, e164: str, start: int, end: int, now: datetime
) -> list[str]:
    """Why `now` is outside calling hours for the number (empty when inside in every zone)."""
    names = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    zones: list[ZoneInfo] = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:
            continue
    if not zones:
        return [f"cannot tell the local time of {e164} (no known time zone); calling hours apply"]
    window = f"allowed {_fmt_hour(start)}-{_fmt_hour(end)}"
    spans = (
        f"; {e164} spans {len(zones)} time zones, the strictest applies" if len(zones) > 1 else ""
    )
    for zone in zones:
        local = now.astimezone(zone)
        if not start <= local.hour < end:
            return [f"outside calling hours: {local:%H:%M} in {zone.key} ({window}){spans}"]
    return []


def check_number(
    phone: str,
    settings: DialingSettings,
    now: datetime,
    dnc: DoNotCall = frozenset(),
    force: bool = False,
    simulate: bool = False,
) -> DialDecision:
    """Decide whether `phone` may be dialled at `now` (an aware datetime).

    `dnc` is a set of E.164 numbers or a predicate taking one. See the module docstring for
    the rules, what `force` overrides and what `simulate` downgrades.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    text = phone.strip()
    if not text.startswith("+"):
        return DialDecision(
            False,
            None,
            None,
            [
                f"{phone!r} is not in E.164 form: start with + and the country code, "
                "e.g. +12125550123"
            ],
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        return DialDecision(False, None, None, [f"{phone!r} is not a phone number: {exc}"])

    e164 = str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    country = phonenumbers.region_code_for_number(number)
    problems: list[str] = []  # never overridable by force
    hours: list[str] = []  # overridable by force

    if not phonenumbers.is_valid_number(number):
        problems.append(f"{e164} is not a valid phone number")
    else:
        allowed = settings.allowed_country_codes
        if country not in allowed:
            problems.append(
                f"{e164} is in {country}, which is not an allowed country "
                f"(ALLOWED_COUNTRIES={','.join(sorted(allowed)) or 'none'})"
            )
        kind = REFUSED_TYPES.get(phonenumbers.number_type(number))
        if kind:
            problems.append(f"{e164} is a {kind} number")
        hours = _hours_problems(
            number, e164, settings.calling_hours_start, settings.calling_hours_end, now
        )
    if _on_dnc(e164, dnc):
        problems.append(f"{e164} is on the do-not-call list")

    if simulate:
        warnings = [SIMULATED_PREFIX + p for p in problems + hours]
        return DialDecision(True, e164, country, [], warnings)
    if force and hours:
        if problems:
            return DialDecision(False, e164, country, problems, [])
        return DialDecision(True, e164, country, [], [FORCED_PREFIX + h for h in hours], True)
    problems += hours
    return DialDecision(not problems, e164, country, problems, [])


async def check_number_async(
    phone: str,
    settings: DialingSettings,
    now: datetime,
    dnc_contains: Callable[[str], Awaitable[bool]],
    force: bool = False,
    simulate: bool = False,
) -> DialDecision:
    """`check_number` with an async do-not-call lookup (e.g. `DncRepository.contains`).

    The lookup gets the E.164 form, so the list only ever needs to hold normalised numbers.
    """
    listed: frozenset[str] = frozenset()
    if phone.strip().startswith("+"):
        try:
            e164 = normalise_phone(phone)
        except InvalidPhoneNumber:
            e164 = None  # check_number reports it
        if e164 is not None and await dnc_contains(e164):
            listed = frozenset({e164})
    return check_number(phone, settings, now, listed, force=force, simulate=simulate)


def now_utc() -> datetime:
    """The clock the daemon passes as `now` (a function so callers need not import datetime)."""
    return datetime.now(UTC)

"""Campaign pacing: may this lead be called now, later, or never; and after a call, what next.

Pure functions of the lead, the campaign's rules and the clock (the caller passes `now`), so
every rule is tested at any hour; the workflow turns their answers into durable timers.

Before every attempt, not just at import (`plan_attempt`):
1. The daemon's dialing policy (`daemon.calls.dialing.check_number`): do-not-call (as listed
   *now*: a number added mid-campaign is never called), invalid, premium-rate, shared-cost and
   not-allowed countries are skipped for good, with the reason.
2. Attempts: at most `max_attempts` in all, at most `daily_cap` in one local day.
3. The calling window: the campaign's hours and days *and* the daemon's CALLING_HOURS, in the
   lead's time zone (the `timezone` column, else every zone of the number: a number spanning
   several is called only when the window is open in all of them). Closed now: wait until it
   next opens. A window that does not open in the next 8 days is a skip, not a wait.

A rehearsal (`simulate`) applies rules 1-2 exactly and reads rule 3 without waiting: the lead is
called at once and the attempt records when a real campaign would have called.

After a call (`next_step`): a booking, a refusal or an opt-out ends the lead; a lead who asked to
be called back is called at the time they gave (read from their words in their time zone, else
after `retry_after_s`); no answer, busy, voicemail, silence and failures retry after
`retry_after_s` until `max_attempts`; a conversation with no decision ends the lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from daemon.calls.dialing import DialingSettings, check_number

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOKAHEAD_DAYS = 8
INTERRUPTED_RETRY_S = 60

DONE_OUTCOMES = frozenset({"demo_booked", "do_not_call", "not_interested", "no_decision"})
RETRY_OUTCOMES = frozenset({"no-answer", "no_answer", "busy", "voicemail", "no_response",
                            "failed", "dial_failed", "canceled", "interrupted"})


@dataclass(frozen=True)
class CampaignRules:
    """How a campaign works its leads (validated by `rules_from`)."""

    window_start: time = time(9, 0)
    window_end: time = time(18, 0)
    days: frozenset[int] = frozenset(range(5))  # Monday = 0
    max_attempts: int = 3
    daily_cap: int = 2
    retry_after_s: int = 2 * 3600
    simulate: bool = False

    def to_document(self) -> dict[str, object]:
        return {"window": f"{self.window_start:%H:%M}-{self.window_end:%H:%M}",
                "days": ",".join(DAY_NAMES[d] for d in sorted(self.days)),
                "max_attempts": self.max_attempts, "daily_cap": self.daily_cap,
                "retry_after_s": self.retry_after_s, "simulate": self.simulate}


@dataclass(frozen=True)
class Plan:
    """What to do with a lead now: "dial", "wait" (until `at`) or "skip" (for good)."""

    action: str
    reason: str = ""
    at: datetime | None = None  # wait: when the window opens; a rehearsal's dial: when it would
    kind: str = ""  # skip: "do_not_call", "not_allowed", "max_attempts", "no_timezone", "window"


@dataclass(frozen=True)
class Step:
    """After a call: `done`, or call again after `after_s` seconds (`reason` says why)."""

    done: bool
    reason: str
    after_s: float = 0.0


# --- rules --------------------------------------------------------------------------------------
def parse_window(text: str) -> tuple[time, time]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not match:
        raise ValueError(f"window: {text!r} is not HH:MM-HH:MM (e.g. 09:00-18:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"window: {text!r} is not a time of day")
    start, end = time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"window: {text!r} ends before it starts (windows may not span midnight)")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """"mon-fri", "mon,wed,fri", "sat-sun", "all"."""
    days: set[int] = set()
    if text.strip().lower() in ("all", "every", "daily"):
        return frozenset(range(7))
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        try:
            a = DAY_NAMES.index(first[:3])
            b = DAY_NAMES.index(last[:3]) if last else a
        except ValueError:
            raise ValueError(f"days: {part!r} is not a day range like mon-fri") from None
        days.update(DAY_NAMES.index(DAY_NAMES[(a + i) % 7]) for i in range((b - a) % 7 + 1))
    return frozenset(days)


def parse_duration(text: str) -> int:
    """"2h", "90m", "1d", "3600" (seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"retry_after: {text!r} is not a duration like 2h, 90m or 1d")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


# --- before an attempt --------------------------------------------------------------------------
def lead_zones(phone: str, timezone: str | None) -> list[ZoneInfo]:
    names = [timezone] if timezone else [
        z for z in number_zones.time_zones_for_number(phonenumbers.parse(phone, None))
        if z != "Etc/Unknown"]
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return zones


def plan_attempt(lead: dict[str, object], rules: CampaignRules, now: datetime,
                 dialing: DialingSettings, *, on_dnc: bool,
                 attempts: list[datetime]) -> Plan:
    """Decide the next attempt for `lead` (its `phone`, optional `timezone`); `attempts` are
    the times of the attempts already made."""
    phone = str(lead["phone"])
    # force=True: the policy's hours are checked below, against the campaign window as well
    decision = check_number(phone, dialing, now, frozenset([phone]) if on_dnc else frozenset(),
                            force=True)
    if not decision.allowed:
        kind = "do_not_call" if on_dnc else "not_allowed"
        return Plan("skip", decision.reason, kind=kind)
    if len(attempts) >= rules.max_attempts:
        return Plan("skip", f"{len(attempts)} attempts made (max {rules.max_attempts})",
                    kind="max_attempts")
    zones = lead_zones(phone, lead.get("timezone"))  # type: ignore[arg-type]
    if not zones:
        return Plan("skip", f"cannot tell the local time of {phone}; add a timezone column",
                    kind="no_timezone")
    start, end = effective_window(rules, dialing)
    opens = next_open(zones, start, end, rules.days, now, attempts, rules.daily_cap)
    if opens is None:
        return Plan("skip", f"the calling window ({start:%H:%M}-{end:%H:%M} on "
                    f"{','.join(DAY_NAMES[d] for d in sorted(rules.days))}, "
                    f"{_zone_names(zones)}) does not open in the next "
                    f"{LOOKAHEAD_DAYS} days", kind="window")
    if opens <= now:
        return Plan("dial", "inside the calling window")
    local = opens.astimezone(zones[0])
    why = f"calling window opens {local:%a %H:%M} {zones[0].key}"
    if rules.simulate:
        return Plan("dial", "rehearsal: " + why + " (not waited for)", at=opens)
    return Plan("wait", why, at=opens)


def effective_window(rules: CampaignRules, dialing: DialingSettings) -> tuple[time, time]:
    """The campaign's window inside the daemon's CALLING_HOURS (empty when start >= end)."""
    start = max(rules.window_start, time(dialing.calling_hours_start))
    end = min(rules.window_end, time(23, 59, 59) if dialing.calling_hours_end >= 24
              else time(dialing.calling_hours_end))
    return start, end


def window_problem(rules: CampaignRules, dialing: DialingSettings) -> str | None:
    """Why the window can never open, checked at create time (None when it can)."""
    start, end = effective_window(rules, dialing)
    if start >= end:
        return (f"window: {rules.window_start:%H:%M}-{rules.window_end:%H:%M} never opens inside "
                f"the daemon's calling hours ({dialing.calling_hours_start:02d}:00-"
                f"{dialing.calling_hours_end:02d}:00, CALLING_HOURS_START/END)")
    if not rules.days:
        return "days: no calling days"
    return None


def _zone_names(zones: list[ZoneInfo]) -> str:
    names = ", ".join(z.key for z in zones[:3])
    return names + (f" and {len(zones) - 3} more time zones" if len(zones) > 3 else "")


def next_open(zones: list[ZoneInfo], start: time, end: time, days: frozenset[int],
              now: datetime, attempts: list[datetime], daily_cap: int) -> datetime | None:
    """The first instant >= now when the window is open in every zone and the lead's local
    day (first zone) still has room under `daily_cap`; None if not within LOOKAHEAD_DAYS."""
    if start >= end or not days:
        return None
    candidates = {now}
    for zone in zones:
        today = now.astimezone(zone).date()
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = today + timedelta(days=offset)
            candidates.add(datetime.combine(day, start, zone).astimezone(UTC))
    for t in sorted(c for c in candidates if c >= now):
        if all(_open_at(t, z, start, end, days) for z in zones) and \
                _under_cap(t, zones[0], attempts, daily_cap):
            return t
    return None


def _open_at(t: datetime, zone: ZoneInfo, start: time, end: time, days: frozenset[int]) -> bool:
    local = t.astimezone(zone)
    return local.weekday() in days and start <= local.time() < end


def _under_cap(t: datetime, zone: ZoneInfo, attempts: list[datetime], cap: int) -> bool:
    day: date = t.astimezone(zone).date()
    return sum(1 for a in attempts if a.astimezone(zone).date() == day) < cap


# --- after an attempt ---------------------------------------------------------------------------
def next_step(outcome: str | None, detail: object, rules: CampaignRules, attempts_made: int,
              now: datetime, zone: ZoneInfo | None) -> Step:
    outcome = outcome or "failed"
    if outcome in DONE_OUTCOMES:
        return Step(True, outcome)
    if attempts_made >= rules.max_attempts:
        return Step(True, f"{outcome}; {attempts_made} attempts made (max {rules.max_attempts})")
    if outcome == "callback_scheduled":
        when = detail.get("when") if isinstance(detail, dict) else None
        at = resolve_when(str(when), now.astimezone(zone)) if when and zone else None
        if at is not None and at > now:
            return Step(False, f"callback asked for: {when}", (at - now).total_seconds())
        return Step(False, f"callback asked for{f': {when}' if when else ''} (time not "
                    "understood; retrying after the retry delay)", rules.retry_after_s)
    if outcome == "interrupted":  # cut on our side (a crash, a restart), not by the lead
        return Step(False, "the call was cut on our side; calling again",
                    min(INTERRUPTED_RETRY_S, rules.retry_after_s))
    if outcome in RETRY_OUTCOMES:
        return Step(False, outcome, rules.retry_after_s)
    return Step(True, outcome)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1}
_PART_OF_DAY = {"morning": 10, "noon": 12, "lunch": 12, "afternoon": 14, "evening": 18,
                "tonight": 18, "night": 18}


def resolve_when(text: str, now_local: datetime) -> datetime | None:
    """The instant a lead meant by "Thursday at 4", "tomorrow morning", "in two hours", "next
    week" (in `now_local`'s zone); None when the words name no time."""
    words = text.lower()
    relative = re.search(r"\bin (\d+|[a-z]+) (minute|hour|day|week)s?\b", words)
    if relative:
        n = int(relative.group(1)) if relative.group(1).isdigit() else _NUMBERS.get(relative.group(1))
        if n:
            unit = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[relative.group(2)]
            return now_local + timedelta(seconds=n * unit)
    day: date | None = None
    if "tomorrow" in words:
        day = now_local.date() + timedelta(days=1)
    elif "next week" in words:
        day = now_local.date() + timedelta(days=7 - now_local.weekday())
    elif "today" in words or "tonight" in words or "this " in words or "later" in words:
        day = now_local.date()
    else:
        for i, name in enumerate(_WEEKDAYS):
            if re.search(rf"\b{name[:3]}(?:{name[3:]})?\b", words):
                ahead = (i - now_local.weekday()) % 7 or 7
                day = now_local.date() + timedelta(days=ahead)
                break
    hour, minute = _hour_in(words)
    if day is None and hour is None:
        return None
    if hour is None:
        hour = next((h for part, h in _PART_OF_DAY.items() if part in words), 10)
    at = datetime.combine(day or now_local.date(), time(hour, minute), now_local.tzinfo)
    if at <= now_local and day is None:
        at += timedelta(days=1)  # "at 4" said at 17:00 means tomorrow
    return at.astimezone(UTC)


def _hour_in(words: str) -> tuple[int | None, int]:
    for match in re.finditer(r"\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|"
                             r"eleven|twelve)(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)?(?=\W|$)",
                             words):
        raw, minutes, suffix = match.groups()
        hour = int(raw) if raw.isdigit() else _NUMBERS[raw]
        if hour > 12 and not suffix:
            if hour < 24:
                return hour, int(minutes or 0)
            continue
        if suffix and suffix.startswith("p") and hour < 12:
            hour += 12
        elif suffix and suffix.startswith("a") and hour == 12:
            hour = 0
        elif not suffix or suffix.startswith("o"):
            hour = hour + 12 if 1 <= hour <= 7 else hour  # "at 4": the afternoon
        return hour, int(minutes or 0)
    return None, 0


def rules_from(body: dict[str, object]) -> tuple[CampaignRules | None, list[str]]:
    """Rules from an API body (`window`, `days`, `max_attempts`, `daily_cap`, `retry_after`,
    `simulate`), with one problem line per bad field."""
    problems: list[str] = []
    kwargs: dict[str, object] = {"simulate": bool(body.get("simulate"))}
    try:
        if body.get("window"):
            kwargs["window_start"], kwargs["window_end"] = parse_window(str(body["window"]))
    except ValueError as exc:
        problems.append(str(exc))
    try:
        if body.get("days"):
            kwargs["days"] = parse_days(str(body["days"]))
    except ValueError as exc:
        problems.append(str(exc))
    for key, lo, hi in (("max_attempts", 1, 20), ("daily_cap", 1, 10)):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            problems.append(f"{key}: must be a whole number from {lo} to {hi}")
        else:
            kwargs[key] = value
    if body.get("retry_after") is not None:
        try:
            seconds = parse_duration(str(body["retry_after"]))
            if not 60 <= seconds <= 30 * 86400:
                raise ValueError("retry_after: must be between 1 minute and 30 days")
            kwargs["retry_after_s"] = seconds
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        return None, problems
    return CampaignRules(**kwargs), []  # type: ignore[arg-type]


def rules_from_document(doc: dict[str, object]) -> CampaignRules:
    start, end = parse_window(str(doc["window"]))
    return CampaignRules(start, end, parse_days(str(doc["days"])), int(doc["max_attempts"]),  # type: ignore[call-overload]
                         int(doc["daily_cap"]), int(doc["retry_after_s"]),  # type: ignore[call-overload]
                         bool(doc["simulate"]))

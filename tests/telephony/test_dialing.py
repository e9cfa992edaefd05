"""The dialing policy, at injected times (all in November 2026: no daylight saving in play)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from phonenumbers import timezone

from daemon.calls.dialing import (
    InvalidPhoneNumber,
    check_number,
    check_number_async,
    normalise_phone,
)
from daemon.config import Settings, load_settings

NY = "+12125550123"  # New York, America/New_York (UTC-5 in November)
SF = "+14155552671"  # San Francisco, America/Los_Angeles
BANGALORE = "+918041505000"  # Asia/Calcutta (UTC+5:30)
LONDON = "+442071838750"
NEWFOUNDLAND_NS = "+17095550123"  # one area code, two zones: Halifax (UTC-4), St John's (UTC-3:30)
TOLL_FREE = "+18005550100"  # all of North America, Guam to Newfoundland
PREMIUM = "+19002345678"
SHARED_COST = "+611300123456"  # Australian 1300 number
UAN = "+911409305260"  # Indian universal access number: ordinary rates
PARIS = "+33142685300"

NOON_NY = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 12:00 in New York, 09:00 in SF


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "allowed_countries": "US,CA,GB,IN,AU",
        "calling_hours_start": 8,
        "calling_hours_end": 21,
    }
    values.update(overrides)
    return load_settings(**values)


def at(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "country", "now"),
    [
        (NY, "US", NOON_NY),
        ("+1 (212) 555-0123", "US", NOON_NY),
        (SF, "US", NOON_NY),
        (BANGALORE, "IN", at(6)),
        (LONDON, "GB", at(12)),
        (UAN, "IN", at(6)),
    ],
)
def test_valid_numbers_in_hours_are_allowed(phone: str, country: str, now: datetime) -> None:
    decision = check_number(phone, settings(), now)
    assert decision.allowed, decision.problems
    assert decision.country == country
    assert decision.e164 == phone.replace(" ", "").replace("(", "").replace(")", "").replace(
        "-", ""
    )
    assert decision.problems == decision.warnings == []
    assert not decision.forced


def test_number_without_plus_is_refused_with_an_example() -> None:
    decision = check_number("2125550123", settings(), NOON_NY)
    assert not decision.allowed
    assert decision.e164 is None
    assert decision.problems == [
        "'2125550123' is not in E.164 form: start with + and the country code, e.g. +12125550123"
    ]


@pytest.mark.parametrize("phone", ["+", "+hello", "+1"])
def test_unparseable_number_is_refused_even_when_simulated(phone: str) -> None:
    for simulate in (False, True):
        decision = check_number(phone, settings(), NOON_NY, simulate=simulate)
        assert not decision.allowed
        assert decision.e164 is None
        assert "is not a phone number" in decision.problems[0]


def test_invalid_number_is_refused() -> None:
    decision = check_number("+15555550100", settings(), NOON_NY)
    assert not decision.allowed
    assert decision.problems == ["+15555550100 is not a valid phone number"]


def test_country_outside_the_allowed_list_is_refused() -> None:
    decision = check_number(PARIS, settings(), at(12))
    assert not decision.allowed
    assert decision.country == "FR"
    assert decision.problems == [
        "+33142685300 is in FR, which is not an allowed country (ALLOWED_COUNTRIES=AU,CA,GB,IN,US)"
    ]
    assert check_number(PARIS, settings(allowed_countries="FR"), at(12)).allowed


def test_premium_rate_number_is_refused() -> None:
    decision = check_number(PREMIUM, settings(), NOON_NY)
    assert not decision.allowed
    assert "+19002345678 is a premium-rate number" in decision.problems


def test_shared_cost_number_is_refused() -> None:
    decision = check_number(SHARED_COST, settings(), at(1))  # 12:00 in Sydney
    assert not decision.allowed
    assert "+611300123456 is a shared-cost number" in decision.problems


@pytest.mark.parametrize("as_callable", [False, True])
def test_do_not_call_list(as_callable: bool) -> None:
    listed = {NY}
    dnc = listed.__contains__ if as_callable else listed
    decision = check_number("+1 212 555 0123", settings(), NOON_NY, dnc=dnc)
    assert not decision.allowed
    assert decision.problems == ["+12125550123 is on the do-not-call list"]
    assert check_number(SF, settings(), NOON_NY, dnc=dnc).allowed


@pytest.mark.parametrize(
    ("now", "allowed", "local"),
    [
        (at(12, 59), False, "07:59"),
        (at(13, 0), True, None),  # 08:00 opens the window
        (at(17, 0), True, None),
        (at(1, 59), True, None),  # 20:59 the evening before
        (at(2, 0), False, "21:00"),  # 21:00 closes it
        (at(3, 15), False, "22:15"),
    ],
)
def test_calling_hours_in_the_leads_zone(now: datetime, allowed: bool, local: str | None) -> None:
    decision = check_number(NY, settings(), now)
    assert decision.allowed is allowed
    if local:
        assert decision.problems == [
            f"outside calling hours: {local} in America/New_York (allowed 08:00-21:00)"
        ]


def test_calling_hours_follow_configuration() -> None:
    late = settings(calling_hours_start=9, calling_hours_end=17)
    assert not check_number(NY, late, at(13, 30)).allowed  # 08:30
    assert check_number(NY, late, at(14, 0)).allowed
    assert "(allowed 09:00-17:00)" in check_number(NY, late, at(22)).problems[0]


def test_multi_zone_number_uses_the_strictest_zone() -> None:
    zones = timezone.time_zones_for_number(phonenumbers.parse(NEWFOUNDLAND_NS))
    assert set(zones) == {"America/Halifax", "America/St_Johns"}
    # 20:45 in Halifax but 21:15 in St John's: refused
    evening = check_number(NEWFOUNDLAND_NS, settings(), at(0, 45, day=26))
    assert not evening.allowed
    assert evening.problems == [
        "outside calling hours: 21:15 in America/St_Johns (allowed 08:00-21:00); "
        "+17095550123 spans 2 time zones, the strictest applies"
    ]
    # 07:45 in Halifax but 08:15 in St John's: refused by the other zone
    morning = check_number(NEWFOUNDLAND_NS, settings(), at(11, 45))
    assert morning.problems[0].startswith("outside calling hours: 07:45 in America/Halifax")
    # inside the window in both zones
    assert check_number(NEWFOUNDLAND_NS, settings(), at(0, 15, day=26)).allowed


def test_toll_free_numbers_are_callable_only_where_all_of_north_america_is_awake() -> None:
    # A documented consequence of "the strictest zone": +1 800 spans 42 zones from Guam
    # (UTC+10) to Newfoundland (UTC-3:30), leaving 22:00-00:30 UTC (17:00-19:30 in New York).
    allowed = [h for h in range(24) if check_number(TOLL_FREE, settings(), at(h)).allowed]
    assert allowed == [0, 22, 23]
    refused = check_number(TOLL_FREE, settings(), at(17))
    assert "spans 42 time zones, the strictest applies" in refused.problems[0]
    assert check_number(TOLL_FREE, settings(), at(17), force=True).allowed


def test_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_number(NY, settings(), datetime(2026, 11, 25, 12, 0))


def test_force_overrides_calling_hours_and_is_reported() -> None:
    decision = check_number(NY, settings(), at(3, 15), force=True)
    assert decision.allowed
    assert decision.forced
    assert decision.problems == []
    assert decision.warnings == [
        "calling hours overridden by --force: "
        "outside calling hours: 22:15 in America/New_York (allowed 08:00-21:00)"
    ]


def test_force_within_hours_overrides_nothing() -> None:
    decision = check_number(NY, settings(), NOON_NY, force=True)
    assert decision.allowed
    assert not decision.forced
    assert decision.warnings == []


@pytest.mark.parametrize(
    ("phone", "dnc", "problem"),
    [
        (NY, {NY}, "+12125550123 is on the do-not-call list"),
        (PREMIUM, set(), "+19002345678 is a premium-rate number"),
        ("+15555550100", set(), "+15555550100 is not a valid phone number"),
        (PARIS, set(), "which is not an allowed country"),
    ],
)
def test_force_does_not_override_other_rules(phone: str, dnc: set[str], problem: str) -> None:
    decision = check_number(phone, settings(), at(3, 15), dnc=dnc, force=True)
    assert not decision.allowed
    assert not decision.forced
    assert any(problem in p for p in decision.problems)
    assert not any(p.startswith("outside calling hours") for p in decision.problems)


def test_simulate_turns_every_block_into_a_warning() -> None:
    decision = check_number(PREMIUM, settings(), at(3, 15), dnc={PREMIUM}, simulate=True)
    assert decision.allowed
    assert decision.problems == []
    assert not decision.forced
    assert all(w.startswith("would block a real call: ") for w in decision.warnings)
    joined = "\n".join(decision.warnings)
    assert "is a premium-rate number" in joined
    assert "is on the do-not-call list" in joined
    assert "outside calling hours" in joined


def test_simulate_with_a_fictional_number_still_runs() -> None:
    decision = check_number("+15555550100", settings(), NOON_NY, simulate=True)
    assert decision.allowed
    assert decision.e164 == "+15555550100"
    assert decision.warnings == [
        "would block a real call: +15555550100 is not a valid phone number"
    ]


def test_simulate_clean_number_has_no_warnings() -> None:
    assert check_number(NY, settings(), NOON_NY + timedelta(hours=1), simulate=True).warnings == []


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("(212) 555-0123", "US", "+12125550123"),
        ("+44 20 7183 8750", None, "+442071838750"),
        ("+44 20 7183 8750", "US", "+442071838750"),
        ("080 4150 5000", "IN", "+918041505000"),
        (" +1-555-555-0100 ", None, "+15555550100"),  # recorded even if our metadata rejects it
    ],
)
def test_normalise_phone(text: str, region: str | None, e164: str) -> None:
    assert normalise_phone(text, region) == e164


@pytest.mark.parametrize(("text", "region"), [("hello", "US"), ("2125550123", None), ("", "US")])
def test_normalise_phone_rejects_non_numbers(text: str, region: str | None) -> None:
    with pytest.raises(InvalidPhoneNumber, match="is not a phone number"):
        normalise_phone(text, region)


async def test_async_do_not_call_lookup_gets_the_e164_form() -> None:
    asked: list[str] = []

    async def contains(e164: str) -> bool:
        asked.append(e164)
        return e164 == NY

    decision = await check_number_async("+1 (212) 555-0123", settings(), NOON_NY, contains)
    assert decision.problems == ["+12125550123 is on the do-not-call list"]
    assert (await check_number_async(SF, settings(), NOON_NY, contains)).allowed
    assert not (await check_number_async("2125550123", settings(), NOON_NY, contains)).allowed
    assert asked == [NY, SF]  # nothing looked up for a number that is not E.164

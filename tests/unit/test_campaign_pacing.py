"""Campaign pacing, at any hour: compliance before each attempt, what an outcome means next."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.campaigns.pacing import (
    CampaignRules,
    Plan,
    next_step,
    parse_days,
    plan_attempt,
    resolve_when,
    rules_from,
    window_problem,
)
from daemon.config import load_settings

SETTINGS = load_settings()
LA = ZoneInfo("America/Los_Angeles")
MONDAY_NOON_LA = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
SF: dict[str, object] = {"phone": "+14155550101", "timezone": None}


def plan(lead: dict[str, object] | None = None, rules: CampaignRules | None = None,
         now: datetime = MONDAY_NOON_LA, on_dnc: bool = False,
         attempts: list[datetime] | None = None) -> Plan:
    return plan_attempt(lead or SF, rules or CampaignRules(), now, SETTINGS, on_dnc=on_dnc,
                        attempts=attempts or [])


def test_inside_the_window_the_lead_is_dialled() -> None:
    assert plan().action == "dial"


@pytest.mark.parametrize(("lead", "on_dnc", "kind", "reason"), [
    (SF, True, "do_not_call", "+14155550101 is on the do-not-call list"),
    ({"phone": "+19005550100"}, False, "not_allowed", "+19005550100 is a premium-rate number"),
    ({"phone": "+33142685300"}, False, "not_allowed", "which is not an allowed country"),
])
def test_compliance_skips_for_good_with_the_reason(lead: dict[str, object], on_dnc: bool,
                                                   kind: str, reason: str) -> None:
    p = plan(lead, on_dnc=on_dnc)
    assert (p.action, p.kind) == ("skip", kind)
    assert reason in p.reason


def test_outside_the_window_the_lead_waits_for_it_to_open_in_its_own_zone() -> None:
    sunday_evening = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Sunday 19:00 in LA
    p = plan(now=sunday_evening)
    assert p.action == "wait"
    assert p.at == datetime(2026, 12, 7, 17, 0, tzinfo=UTC) # Mon 09:00 LA
    ny = plan({"phone": "+14155550101", "timezone": "America/New_York"}, now=sunday_evening)
    assert ny.at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


def test_a_rehearsal_does_not_wait_but_records_when_it_would_have_called() -> None:
    p = plan(rules=CampaignRules(simulate=True), now=datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    assert p.action == "dial"
    assert p.at == datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    assert plan(rules=CampaignRules(simulate=True), on_dnc=True).action == "skip"


def test_attempt_caps_total_and_per_local_day() -> None:
    earlier = MONDAY_NOON_LA - timedelta(hours=1)
    assert plan(rules=CampaignRules(max_attempts=1), attempts=[earlier]).kind == "max_attempts"
    p = plan(rules=CampaignRules(daily_cap=1), attempts=[earlier])
    assert p.action == "wait"
    assert p.at is not None and p.at.astimezone(LA).date().isoformat() == "2026-12-08"


def test_a_number_spanning_zones_is_called_only_when_open_in_all() -> None:
    # +1 709 spans Newfoundland and Halifax; the later of the two openings decides
    lead: dict[str, object] = {"phone": "+17095550123"}
    p = plan(lead, now=datetime(2026, 12, 7, 12, 0, tzinfo=UTC))  # 08:30 St John's, 08:00 Halifax
    assert p.action == "wait"
    assert p.at == datetime(2026, 12, 7, 13, 0, tzinfo=UTC) # 09:00 Halifax


def test_a_window_that_never_opens_is_a_clear_error() -> None:
    rules = CampaignRules(window_start=time(5, 0), window_end=time(7, 30))
    assert "never opens inside the daemon's calling hours (08:00-21:00" in str(
        window_problem(rules, SETTINGS))
    assert plan(rules=rules).kind == "window"


def test_rules_from_a_body_name_every_bad_field() -> None:
    rules, problems = rules_from({"window": "10:00-16:30", "days": "sat-mon", "max_attempts": 2,
                                  "retry_after": "90m", "simulate": True})
    assert problems == [] and rules is not None
    assert (rules.window_start, rules.window_end) == (time(10), time(16, 30))
    assert rules.days == {5, 6, 0} and rules.retry_after_s == 5400 and rules.simulate
    _, problems = rules_from({"window": "9-5", "days": "someday", "max_attempts": True,
                              "retry_after": "10s"})
    assert [p.split(":")[0] for p in problems] == ["window", "days", "max_attempts", "retry_after"]
    assert parse_days("all") == set(range(7))


@pytest.mark.parametrize(("outcome", "done"), [
    ("demo_booked", True), ("not_interested", True), ("do_not_call", True), ("no_decision", True),
    ("no-answer", False), ("busy", False), ("voicemail", False), ("no_response", False),
    (None, False),
])
def test_what_an_outcome_means_for_the_next_attempt(outcome: str | None, done: bool) -> None:
    step = next_step(outcome, None, CampaignRules(retry_after_s=3600), 1, MONDAY_NOON_LA, LA)
    assert step.done is done
    if not done:
        assert step.after_s == 3600
    cut = next_step("interrupted", None, CampaignRules(retry_after_s=3600), 1, MONDAY_NOON_LA, LA)
    assert (cut.done, cut.after_s) == (False, 60)  # cut on our side: call again soon
    assert next_step("busy", None, CampaignRules(max_attempts=2), 2, MONDAY_NOON_LA, LA).done


def test_a_callback_is_called_at_the_time_the_lead_gave_in_their_zone() -> None:
    step = next_step("callback_scheduled", {"when": "tomorrow at 3 pm"}, CampaignRules(), 1,
                     MONDAY_NOON_LA, LA)
    assert not step.done
    assert MONDAY_NOON_LA + timedelta(seconds=step.after_s) == datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    vague = next_step("callback_scheduled", {"when": "sometime"}, CampaignRules(), 1,
                      MONDAY_NOON_LA, LA)
    assert vague.after_s == CampaignRules().retry_after_s and "not understood" in vague.reason


@pytest.mark.parametrize(("words", "local"), [
    ("Thursday at 4", "2026-12-10 16:00"),
    ("call me tomorrow morning", "2026-12-08 10:00"),
    ("in two hours", "2026-12-07 14:00"),
    ("next week", "2026-12-14 10:00"),
    ("at 10:30 am", "2026-12-08 10:30"),
    ("monday at 9", "2026-12-14 09:00"),
    ("tomorrow at 3 pm", "2026-12-08 15:00"),
])
def test_callback_times_in_the_leads_words(words: str, local: str) -> None:
    at = resolve_when(words, MONDAY_NOON_LA.astimezone(LA))
    assert at is not None and at.astimezone(LA).strftime("%Y-%m-%d %H:%M") == local
    assert resolve_when("whenever", MONDAY_NOON_LA.astimezone(LA)) is None

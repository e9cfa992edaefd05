"""Scenario files: every shipped rehearsal loads and says what its name promises; bad ones fail
with the field path of each problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.bundled import scenarios_dir
from daemon.simulate.scenario import (
    BargeInStep,
    DtmfStep,
    HangupStep,
    SayStep,
    ScenarioError,
    SilenceStep,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

REQUIRED = {
    "pricing_then_demo",
    "busy_callback",
    "budget_objection",
    "do_not_call",
    "silence_timeout",
    "barge_in",
    "unknown_question",
    "comma_pause",
    "dtmf_optout",
    "latency_probe",
}

MINIMAL = {"name": "t", "lead": {"name": "Pat", "phone": "+14155550123"}}


def scenario_json(*steps: object, **extra: object) -> str:
    return json.dumps({**MINIMAL, "steps": list(steps), **extra})


def test_every_required_scenario_ships() -> None:
    assert REQUIRED <= set(list_scenarios())


@pytest.mark.parametrize("name", sorted(p.stem for p in scenarios_dir().glob("*.json")))
def test_scenario_file_loads_and_is_named_after_its_file(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description
    assert scenario.voice_length_scale > 1.0, "the lead should sound slower than the agent"
    assert scenario.expect.checks(), "every shipped scenario states what the call should show"


def test_shipped_scenarios_script_what_their_names_promise() -> None:
    pricing = load_scenario("pricing_then_demo")
    assert any("cost" in s.say for s in pricing.steps if isinstance(s, SayStep))
    assert any("morning" in s.say.lower() for s in pricing.steps if isinstance(s, SayStep))
    assert pricing.expect.outcome == "demo_booked"

    busy = load_scenario("busy_callback")
    assert "busy" in busy.lines()[0].say.lower()  # type: ignore[union-attr]
    assert busy.expect.outcome == "callback_scheduled"

    dnc = load_scenario("do_not_call")
    assert "off your list" in dnc.lines()[0].say  # type: ignore[union-attr]
    assert dnc.expect.outcome == "do_not_call" and dnc.expect.do_not_call is True

    silent = load_scenario("silence_timeout")
    assert silent.lines() == [] and isinstance(silent.steps[0], SilenceStep)
    assert silent.expect.hung_up_by == "agent"

    barge = load_scenario("barge_in")
    assert any(isinstance(s, BargeInStep) for s in barge.steps)
    assert barge.expect.interrupted_turn is True

    assert "SAP" in load_scenario("unknown_question").lines()[1].say  # type: ignore[union-attr]

    dtmf = load_scenario("dtmf_optout")
    assert isinstance(dtmf.steps[0], DtmfStep) and dtmf.steps[0].dtmf == "9"
    assert dtmf.expect.do_not_call is True

    probe = load_scenario("latency_probe")
    assert len(probe.lines()) == 4 and probe.expect.lead_turns == 4
    assert all("," not in s.say for s in probe.lines() if isinstance(s, SayStep))


def test_comma_pause_splits_after_the_hesitation() -> None:
    step = load_scenario("comma_pause").steps[0]
    assert isinstance(step, SayStep) and step.pause_ms_inside == 400
    assert step.split() == ("Honestly, I,", "I think we already have a tool for that.")
    assert load_scenario("comma_pause").expect.lead_turns == 2


def test_steps_are_told_apart_by_their_action_key() -> None:
    scenario = parse_scenario(
        scenario_json(
            {"say": "Hello?"},
            {"barge_in": "Wait", "after_ms": 100},
            {"silence": 2.5},
            {"silence": {"seconds": 3}},
            {"dtmf": "9#", "wait_for": "none"},
            {"hangup": True},
        )
    )
    kinds = [type(s) for s in scenario.steps]
    assert kinds == [SayStep, BargeInStep, SilenceStep, SilenceStep, DtmfStep, HangupStep]
    say = scenario.steps[0]
    assert isinstance(say, SayStep) and say.wait_for == "agent_done" and say.split()[1] == ""
    assert scenario.steps[2].seconds == 2.5 and scenario.steps[3].seconds == 3  # type: ignore[union-attr]
    assert scenario.listen is True and scenario.gap_ms == 400


def test_default_pause_point_is_the_first_comma() -> None:
    step = parse_scenario(scenario_json({"say": "Well, maybe, later", "pause_ms_inside": 300}))
    assert step.steps[0].split() == ("Well,", "maybe, later")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ({"say": "hi", "wait": "agent_done"}, "steps.0.say.wait"),
        ({"shout": "hi"}, "steps.0"),
        ({"say": ""}, "steps.0.say.say"),
        ({"say": "no comma here", "pause_ms_inside": 400}, "steps.0.say"),
        ({"say": "a, b", "pause_ms_inside": 400, "pause_at": "zzz"}, "steps.0.say"),
        ({"say": "a, b", "pause_at": "a,"}, "steps.0.say"),
        ({"dtmf": "x"}, "steps.0.dtmf.dtmf"),
        ({"silence": 0}, "steps.0.silence.silence"),
        ({"silence": {"minutes": 1}}, "steps.0.silence"),
        ({"barge_in": "hey", "after_ms": -1}, "steps.0.barge_in.after_ms"),
        ({"hangup": False}, "steps.0.hangup.hangup"),
    ],
)
def test_bad_steps_are_refused_naming_the_field(step: dict[str, object], path: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario_json(step), "bad.json")
    assert any(p.startswith(path) for p in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("bad.json: ")


def test_bad_scenario_fields_are_refused() -> None:
    text = json.dumps(
        {
            "name": "t",
            "lead": {"name": "Pat", "phone": "555-0100"},
            "steps": [],
            "expect": {"outcome": "world_peace", "hung_up_by": "nobody"},
        }
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    paths = {p.split(":")[0] for p in caught.value.problems}
    assert {"lead.phone", "steps", "expect.outcome", "expect.hung_up_by"} <= paths


def test_expectation_checks_only_what_the_file_sets() -> None:
    scenario = parse_scenario(scenario_json({"say": "hi"}, expect={"outcome": None}))
    assert scenario.expect.checks() == {"outcome": None}
    assert parse_scenario(scenario_json({"say": "hi"})).expect.checks() == {}


def test_load_by_path_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(scenario_json({"say": "hi"}))
    assert load_scenario(path).name == "t"
    assert load_scenario(str(path)).name == "t"
    assert load_scenario("mine", directory=tmp_path).name == "t"
    with pytest.raises(ScenarioError, match="known: mine"):
        load_scenario("nope", directory=tmp_path)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")
    with pytest.raises(ScenarioError, match="not a scenario name"):
        load_scenario("..")

"""The strategy model: normalisation, field-path errors, the subagent registry, odd inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcore.agent_kinds import canonical_kind, load_kind
from agentcore.strategy import (
    MAX_STRATEGY_BYTES,
    StrategyError,
    merge_strategy,
    normalise_locale,
    parse_strategy,
    validate_strategy,
)

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "tests" / "data" / "strategy.seed.json").read_bytes()


def minimal(**extra: object) -> dict[str, object]:
    return {"title": "T", "persona": {"name": "Ada"}, **extra}


def problems(data: object) -> list[str]:
    with pytest.raises(StrategyError) as info:
        validate_strategy(data)
    return info.value.problems


def test_the_seed_ingests_unchanged() -> None:
    strategy = parse_strategy(SEED)
    assert strategy.persona.locale == "en-IN"
    assert strategy.subagents[0].kind == "apps.agents.sales.agent.FallbackAgent"
    assert canonical_kind(strategy.subagents[0].kind) == "fallback"
    assert strategy.fallback_policies[0].effective_threshold() == 0.45
    assert strategy.to_document()["subagents"][0]["class"] == strategy.subagents[0].kind


@pytest.mark.parametrize("path", sorted((REPO / "strategies").glob("*.json")))
def test_every_shipped_strategy_is_valid(path: Path) -> None:
    assert parse_strategy(path.read_bytes()).persona.name


def test_normalisation() -> None:
    s = validate_strategy(minimal(
        title="  Pitch  ",
        goals=["book_demo", " book_demo ", "BOOK_DEMO", "", "capture_feedback"],
        persona={"name": " Ada ", "locale": "en_in", "tone_override": ""},
        scripts={"faqs": {" Pricing ": " $5 "}, "objections": {"BUSY": "Later?"}},
    ))
    assert s.title == "Pitch" and s.persona.name == "Ada"
    assert s.goals == ["book_demo", "capture_feedback"]
    assert s.persona.locale == "en-IN" and s.persona.tone_override is None
    assert s.scripts.faqs == {"pricing": "$5"} and s.scripts.objections == {"busy": "Later?"}
    assert s.closing_techniques == [] and s.scripts.greeting == ""  # defaults


@pytest.mark.parametrize(("raw", "tag"), [("en_us", "en-US"), ("HI-in", "hi-IN"),
                                          ("zh_hant_tw", "zh-Hant-TW"), ("es-419", "es-419")])
def test_locales_become_bcp47(raw: str, tag: str) -> None:
    assert normalise_locale(raw) == tag


@pytest.mark.parametrize(("data", "expected"), [
    (minimal(persona={}), "persona.name: field required"),
    (minimal(goals="book_demo"), "goals: input should be a valid list"),
    (minimal(persona={"name": "A", "locale": "english please"}), "persona.locale:"),
    (minimal(scripts={"faqs": {"Price": "a", "price": "b"}}), "duplicate FAQ key 'price'"),
    (minimal(fallback_policies=[{"trigger": "x", "action": "dance"}]), "fallback_policies.0.action"),
    (minimal(fallback_policies=[{"trigger": "x", "action": "end_call", "threshold": 3}]),
     "fallback_policies.0.threshold"),
    (minimal(subagents=[{"name": "x", "class": "os.system"}]), "subagents.0.class: unknown"),
    (minimal(subagents=[{"name": "x", "class": "fallback"}, {"name": "x", "class": "fallback"}]),
     "duplicate subagent names: x"),
    (minimal(description="bell\x07"), "description: contains control character"),
    ([minimal()], "body: expected a JSON object, got an array"),
])
def test_bad_input_names_the_field(data: object, expected: str) -> None:
    assert any(expected in p for p in problems(data)), problems(data)


def test_bytes_level_errors() -> None:
    for raw, expected in [(b"\xff", "not UTF-8"), (b"{", "not valid JSON"),
                          (b" " * (MAX_STRATEGY_BYTES + 1), "over the")]:
        with pytest.raises(StrategyError) as info:
            parse_strategy(raw)
        assert expected in info.value.problems[0]


def test_registry_resolves_names_never_import_paths() -> None:
    assert canonical_kind("FallbackAgent") == "fallback"
    assert canonical_kind("os.path.join") is None
    assert load_kind("fallback").__name__ == "FallbackAgent"
    with pytest.raises(KeyError):
        load_kind("subprocess.Popen")


def test_merge_keeps_the_rest_and_revalidates() -> None:
    base = parse_strategy(SEED)
    merged = merge_strategy(base, {"persona": {"tone_override": "calm"}, "goals": ["book_demo"]})
    assert merged.persona.tone_override == "calm" and merged.persona.name == base.persona.name
    assert merged.scripts.faqs == base.scripts.faqs
    with pytest.raises(StrategyError):
        merge_strategy(base, {"goals": "nope"})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)


@given(JSON)
def test_any_json_value_is_accepted_or_refused_cleanly(value: object) -> None:
    try:
        validate_strategy(value)
    except StrategyError as exc:
        assert exc.problems and all(isinstance(p, str) and ":" in p for p in exc.problems)


@given(st.dictionaries(st.sampled_from(["title", "goals", "persona", "scripts", "subagents",
                                        "closing_techniques", "fallback_policies"]), JSON))
def test_mutated_strategies_never_crash(patch: dict[str, object]) -> None:
    data = json.loads(SEED)
    data.update(patch)
    try:
        validate_strategy(data)
    except StrategyError as exc:
        assert exc.problems


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        parse_strategy(raw)
    except StrategyError as exc:
        assert exc.problems


def test_a_subagent_whose_init_its_class_refuses_is_refused_at_ingest() -> None:
    bad = minimal(subagents=[{"name": "f", "class": "fallback", "init": {"fallback_map": "x"}}])
    with pytest.raises(StrategyError) as info:
        parse_strategy(json.dumps(bad).encode())
    assert any(p.startswith("subagents.0.init:") for p in info.value.problems)
    assert validate_strategy(bad).subagents[0].name == "f"  # a stored one still loads
    good = minimal(subagents=[{"name": "f", "class": "fallback",
                               "init": {"fallback_map": {"email": "I'll send it."}}}])
    assert parse_strategy(json.dumps(good).encode()).subagents[0].name == "f"


@pytest.mark.parametrize("field", ["goals", "closing_techniques"])
def test_lists_are_bounded_and_deduplicated_in_linear_time(field: str) -> None:
    assert any("at most 500" in p for p in problems(minimal(**{field: [f"line {i}" for i in range(12_000)]})))
    lines = [f"line {i % 250}" for i in range(500)]  # 500 entries, 250 distinct
    assert len(getattr(validate_strategy(minimal(**{field: lines})), field)) == 250


def test_maps_are_bounded() -> None:
    faqs = {f"question {i}": "answer" for i in range(501)}
    assert any("at most 500" in p for p in problems(minimal(scripts={"faqs": faqs})))


@pytest.mark.parametrize("voice_id", ["../../../v1/user/subscription?x=", "a/b", "a b", "x" * 65])
def test_a_voice_id_is_an_id_never_a_path(voice_id: str) -> None:
    assert any(p.startswith("persona.voice_id") for p in
               problems({"title": "T", "persona": {"name": "Ada", "voice_id": voice_id}}))


@pytest.mark.parametrize(("raw", "message"), [
    (b"[" * 10_000 + b"]" * 10_000, "nested 10000 levels"),
    (b'{"title": "T", "persona": {"name": "Ada"}, "x": 1e999}', "too large a number"),
    (b'{"title": "T", "persona": {"name": "Ada"}, "x": ' + b"9" * 5000 + b"}", "digits"),
    (b'{"title": "A", "title": "B", "persona": {"name": "Ada"}}', "duplicate key 'title'"),
])
def test_hostile_json_gets_a_clear_problem(raw: bytes, message: str) -> None:
    with pytest.raises(StrategyError) as info:
        parse_strategy(raw)
    assert any(message in p for p in info.value.problems)

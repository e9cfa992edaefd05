"""The strategy a sales team writes, as validated and normalised data.

`parse_strategy(raw_bytes)` is the single entry point for untrusted input (HTTP body, file,
webhook merge). It either returns a `Strategy` or raises `StrategyError` whose `problems` are
one line each, naming the field path: `persona.name: field required`.

Normalisation keeps what the team meant and removes what would trip the agent later: text is
trimmed, goals de-duplicated (order kept), FAQ and objection keys lower-cased, the locale written
as BCP-47 (`en_in` -> `en-IN`), and missing optional parts get defaults.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agentcore.agent_kinds import canonical_kind, known_kinds, load_kind
from agentcore.safejson import UntrustedJSONError, loads_untrusted

MAX_STRATEGY_BYTES = 1024 * 1024

# C0 controls and DEL, except tab, newline and carriage return (legitimate in multi-line text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")

FALLBACK_ACTIONS = (
    "prompt_for_clarification",
    "use_fallback_scenario",
    "handoff_to_subagent",
    "switch_to_playbook",
    "end_call",
)


class StrategyError(ValueError):
    """Invalid strategy input. `problems` holds one `field.path: message` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def normalise_locale(value: str) -> str:
    match = _LOCALE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a BCP-47 language tag such as 'en-US'")
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def _clean_text(value: str) -> str:
    return value.strip()


MAX_ITEMS = 500
"""Most entries one list or map of a strategy may hold (FAQs, objections, goals, closing
lines...): far above what a call can use, far below what would stall ingest or pre-synthesis."""


def _clean_mapping(value: dict[str, str], what: str) -> dict[str, str]:
    if len(value) > MAX_ITEMS:
        raise ValueError(f"{len(value)} entries; at most {MAX_ITEMS} are accepted")
    cleaned: dict[str, str] = {}
    for key, text in value.items():
        norm = key.strip().lower()
        if not norm:
            raise ValueError(f"{what} keys must not be empty")
        if norm in cleaned:
            raise ValueError(f"duplicate {what} key {norm!r} (keys are compared in lower case)")
        cleaned[norm] = text.strip()
    return cleaned


class _Model(BaseModel):
    # Strict types: goals as a string is an error, not a list of characters. Extra keys are
    # kept (teams attach business context) but never interpreted.
    model_config = ConfigDict(strict=True, extra="allow", str_strip_whitespace=True)


_VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Persona(_Model):
    name: str = Field(min_length=1)
    tone: str = "friendly, professional"
    tone_override: str | None = None
    description: str = ""
    voice_id: str | None = None
    locale: str = "en-US"

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalise_locale(value)

    @field_validator("tone_override", "voice_id")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("voice_id")
    @classmethod
    def _voice_id(cls, value: str | None) -> str | None:
        # it becomes a URL path segment at the TTS provider: an id, never "../../v1/user?x="
        if value is not None and not _VOICE_ID.fullmatch(value):
            raise ValueError("a voice id is 1-64 letters, digits, '_' or '-' (e.g. 21m00Tcm4TlvDq8ikWAM)")
        return value


class Scripts(_Model):
    greeting: str = ""
    pitch: str = ""
    voicemail: str = ""
    faqs: dict[str, str] = Field(default_factory=dict)
    objections: dict[str, str] = Field(default_factory=dict)

    @field_validator("faqs")
    @classmethod
    def _faqs(cls, value: dict[str, str]) -> dict[str, str]:
        return _clean_mapping(value, "FAQ")

    @field_validator("objections")
    @classmethod
    def _objections(cls, value: dict[str, str]) -> dict[str, str]:
        return _clean_mapping(value, "objection")


class FallbackPolicy(_Model):
    trigger: str = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    action: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _int_threshold(cls, data: Any) -> Any:
        # JSON has one number type; accept `1` where a float is expected despite strict mode.
        if isinstance(data, dict) and isinstance(data.get("threshold"), int):
            data = {**data, "threshold": float(data["threshold"])}
        return data

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        if value not in FALLBACK_ACTIONS:
            raise ValueError(f"unknown action {value!r}; expected one of {', '.join(FALLBACK_ACTIONS)}")
        return value

    def effective_threshold(self) -> float | None:
        """The threshold, or the number written in a trigger such as `confidence_below_0.5`."""
        if self.threshold is not None:
            return self.threshold
        match = re.search(r"_below_([0-9.]+)$", self.trigger)
        return float(match.group(1)) if match else None


class SubagentSpec(_Model):
    name: str = Field(min_length=1)
    kind: str = Field(alias="class", min_length=1)
    init: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(
        strict=True, extra="allow", str_strip_whitespace=True, populate_by_name=True
    )

    @field_validator("kind")
    @classmethod
    def _registered(cls, value: str) -> str:
        if canonical_kind(value) is None:
            raise ValueError(
                f"unknown subagent class {value!r}; allowed: {', '.join(known_kinds())}"
            )
        return value


class Strategy(_Model):
    title: str = Field(min_length=1)
    description: str = ""
    goals: list[str] = Field(default_factory=list)
    persona: Persona
    scripts: Scripts = Field(default_factory=Scripts)
    closing_techniques: list[str] = Field(default_factory=list)
    fallback_scenarios: dict[str, str] = Field(default_factory=dict)
    fallback_policies: list[FallbackPolicy] = Field(default_factory=list)
    subagents: list[SubagentSpec] = Field(default_factory=list)

    @field_validator("goals", "closing_techniques")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{len(value)} entries; at most {MAX_ITEMS} are accepted")
        kept: list[str] = []
        seen: set[str] = set()  # lower-cased: one pass, not a rescan per item
        for item in value:
            text = item.strip()
            if text and text.lower() not in seen:
                seen.add(text.lower())
                kept.append(text)
        return kept

    @field_validator("fallback_scenarios")
    @classmethod
    def _scenarios(cls, value: dict[str, str]) -> dict[str, str]:
        return _clean_mapping(value, "fallback scenario")

    @field_validator("fallback_policies", "subagents")
    @classmethod
    def _bounded(cls, value: list[Any]) -> list[Any]:
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{len(value)} entries; at most {MAX_ITEMS} are accepted")
        return value

    @field_validator("subagents")
    @classmethod
    def _unique_subagents(cls, value: list[SubagentSpec]) -> list[SubagentSpec]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate subagent names: {', '.join(dupes)}")
        return value

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready form we store and hand back (subagent kind under `class`)."""
        return self.model_dump(mode="json", by_alias=True)


def _find_control_chars(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, str):
        match = _CONTROL.search(value)
        if match:
            out.append(f"{path or 'body'}: contains control character {match.group()!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _CONTROL.search(key):
                out.append(f"{sub}: key contains a control character")
            _find_control_chars(item, sub, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _find_control_chars(item, f"{path}.{i}" if path else str(i), out)


def _format_validation(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        msg = msg[0].lower() + msg[1:] if msg else msg
        msg = msg.removeprefix("value error, ")
        problems.append(f"{path}: {msg}")
    return problems


def validate_strategy(data: Any, *, build_subagents: bool = False) -> Strategy:
    """Validate an already-decoded JSON value; with `build_subagents` (what ingest does), also
    construct each subagent once, so a bad `init` is refused before anything is stored."""
    if not isinstance(data, dict):
        names: dict[type, str] = {list: "an array", str: "a string"}
        kind = names.get(type(data), type(data).__name__)
        raise StrategyError([f"body: expected a JSON object, got {kind}"])
    problems: list[str] = []
    _find_control_chars(data, "", problems)
    if problems:
        raise StrategyError(problems)
    try:
        strategy = Strategy.model_validate(data)
    except ValidationError as exc:
        raise StrategyError(_format_validation(exc)) from None
    problems = _subagent_problems(strategy) if build_subagents else []
    if problems:
        raise StrategyError(problems)
    return strategy


def _subagent_problems(strategy: Strategy) -> list[str]:
    """Build each subagent once, as a call would: a bad `init` is refused at ingest, not
    stored and activated to fail every later call."""
    problems = []
    for index, spec in enumerate(strategy.subagents):
        try:
            load_kind(spec.kind)(**{"name": spec.name, **spec.init})
        except Exception as exc:  # whatever the constructor raises is the strategy's fault
            problems.append(f"subagents.{index}.init: {type(exc).__name__}: {str(exc)[:200]}")
    return problems


def parse_strategy(raw: bytes) -> Strategy:
    """Decode and validate untrusted bytes."""
    if len(raw) > MAX_STRATEGY_BYTES:
        raise StrategyError([f"body: {len(raw)} bytes is over the {MAX_STRATEGY_BYTES}-byte limit"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"byte {raw[exc.start]:#04x} at offset {exc.start}"
        raise StrategyError([f"body: not UTF-8 ({bad})"]) from None
    try:
        data = loads_untrusted(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise StrategyError([f"body: not valid JSON: {exc.msg} at {where}"]) from None
    except UntrustedJSONError as exc:
        raise StrategyError([f"body: {exc}"]) from None
    return validate_strategy(data, build_subagents=True)


def merge_strategy(base: Strategy, patch: dict[str, Any]) -> Strategy:
    """Deep-merge a partial strategy (webhook `strategy` field, train-loop delta) and re-validate."""

    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                out[key] = merge(a.get(key), value) if key in a else value
            return out
        return b

    return validate_strategy(merge(base.to_document(), patch), build_subagents=True)

"""Simulated-lead scenarios: what a rehearsal lead says and does, as validated JSON.

A scenario is a script for the far end of a call. It lives in `strategies/scenarios/<name>.json`
so a sales team can write new rehearsals without touching code, and the same files drive the
end-to-end tests and the latency benchmark. Each step is one JSON object whose single action key
names it::

    {"say": "How much does it cost?", "expect_any": ["499", "month"]}
    {"say": "Honestly, I, I think so.", "pause_ms_inside": 400, "pause_at": "Honestly, I,"}
    {"say": "Morning works.", "if_heard": [{"heard": ["4pm", "four"], "say": "Four works."}]}
    {"barge_in": "Sorry, is this a sales call?", "after_ms": 1200}
    {"silence": {"seconds": 30}}          (or the shorthand {"silence": 30})
    {"dtmf": "9"}
    {"hangup": true}

Steps that wait (`say`, `dtmf`, `hangup`) default to `wait_for: "agent_done"`: act once the
agent has finished its turn (its audio has played out and nothing new came for `gap_ms`), like
a person who lets the other side finish. `expect_any` is checked against what the lead heard
the agent say after that step (its reply), and is reported, never enforced: a rehearsal should
run to the end and show everything that went wrong, not stop at the first surprise.

The `expect` block states what the call should have produced (outcome, stages, do-not-call...);
the lead cannot see those, the end-to-end tests compare them with the stored call. A field left
out is not checked; `Expectation.checks()` returns exactly the fields the file sets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from agentcore.state import Outcome, Stage
from daemon.bundled import scenarios_dir

DEFAULT_SCENARIO = "pricing_then_demo"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

WaitFor = Literal["agent_done", "none"]


class _Strict(BaseModel):
    # forbid unknown keys: a typo in a hand-written scenario must fail loudly, not be ignored
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadInfo(_Strict):
    """Who the simulated lead pretends to be (the call is placed to this name and number)."""

    name: str = Field(min_length=1, max_length=80)
    phone: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")


class HeardChoice(_Strict):
    """Another line for a `say` step, chosen when the agent's last turn mentioned a keyword."""

    heard: tuple[str, ...] = Field(min_length=1)
    say: str = Field(min_length=1, max_length=500)


class SayStep(_Strict):
    """Speak one line, normally after the agent has finished its turn.

    With `if_heard`, the lead first transcribes the agent's turn it just heard and says the
    first choice whose keywords it caught, else `say`: how it answers depends on what the agent
    actually said (e.g. which demo slot it offered).
    """

    kind: ClassVar[str] = "say"
    say: str = Field(min_length=1, max_length=500)
    wait_for: WaitFor = "agent_done"
    expect_any: tuple[str, ...] = ()
    if_heard: tuple[HeardChoice, ...] = ()
    pause_ms_inside: int | None = Field(default=None, ge=1, le=5000)
    pause_at: str | None = Field(
        default=None,
        description="text after which the pause goes; default: up to the first comma",
    )

    @model_validator(mode="after")
    def _pause_point_exists(self) -> SayStep:
        if self.pause_ms_inside is None:
            if self.pause_at is not None:
                raise ValueError("pause_at needs pause_ms_inside")
            return self
        head, tail = self.split()
        if not head or not tail:
            where = repr(self.pause_at) if self.pause_at is not None else "a comma"
            raise ValueError(f"pause_ms_inside needs {where} inside the line, with words after")
        return self

    def split(self) -> tuple[str, str]:
        """The line cut where the pause goes: (before, after), both stripped.

        Without a pause the whole line is `before`. The cut keeps the comma with the first
        half, as a speaker who hesitates after "Honestly, I," would.
        """
        text = self.say.strip()
        if self.pause_ms_inside is None:
            return text, ""
        if self.pause_at is not None:
            at = text.find(self.pause_at)
            cut = -1 if at < 0 else at + len(self.pause_at)
        else:
            comma = text.find(",")
            cut = -1 if comma < 0 else comma + 1
        if cut < 0:
            return "", ""
        return text[:cut].strip(), text[cut:].strip()


class BargeInStep(_Strict):
    """Talk over the agent: start `after_ms` after the agent starts its next turn."""

    kind: ClassVar[str] = "barge_in"
    barge_in: str = Field(min_length=1, max_length=500)
    after_ms: int = Field(default=800, ge=0, le=30_000)
    expect_any: tuple[str, ...] = ()


class SilenceStep(_Strict):
    """Say nothing for `silence` seconds, or until the daemon hangs up, whichever is first."""

    kind: ClassVar[str] = "silence"
    silence: float = Field(gt=0, le=900, description="seconds")
    expect_any: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _seconds_object(cls, data: Any) -> Any:
        # accept {"silence": {"seconds": 30}} as well as the shorthand {"silence": 30}
        if isinstance(data, dict) and isinstance(data.get("silence"), dict):
            inner = data["silence"]
            if set(inner) != {"seconds"}:
                raise ValueError('silence takes {"seconds": N} or a number of seconds')
            return {**data, "silence": inner["seconds"]}
        return data

    @property
    def seconds(self) -> float:
        return self.silence


class DtmfStep(_Strict):
    """Press keys on the phone keypad (one `dtmf` event per key, as Twilio sends them)."""

    kind: ClassVar[str] = "dtmf"
    dtmf: str = Field(pattern=r"^[0-9*#A-D]{1,20}$")
    wait_for: WaitFor = "agent_done"
    expect_any: tuple[str, ...] = ()


class HangupStep(_Strict):
    """Hang up: send `stop` and close the socket."""

    kind: ClassVar[str] = "hangup"
    hangup: Literal[True] = True
    wait_for: WaitFor = "agent_done"


Step = SayStep | BargeInStep | SilenceStep | DtmfStep | HangupStep
STEP_KINDS: tuple[str, ...] = ("say", "barge_in", "silence", "dtmf", "hangup")
SpeechStep = SayStep | BargeInStep


def _step_kind(value: Any) -> str | None:
    """Which step a JSON object is: the first action key it has (extra keys fail later)."""
    if isinstance(value, dict):
        return next((key for key in STEP_KINDS if key in value), None)
    return getattr(value, "kind", None)


AnyStep = Annotated[
    Annotated[SayStep, Tag("say")]
    | Annotated[BargeInStep, Tag("barge_in")]
    | Annotated[SilenceStep, Tag("silence")]
    | Annotated[DtmfStep, Tag("dtmf")]
    | Annotated[HangupStep, Tag("hangup")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs one of: say, barge_in, silence, dtmf, hangup",
    ),
]


class Expectation(_Strict):
    """What the stored call should show afterwards; checked by tests, not by the lead."""

    outcome: Outcome | None = None
    stages_include: tuple[Stage, ...] = ()
    do_not_call: bool | None = None
    interrupted_turn: bool | None = None
    hung_up_by: Literal["agent", "lead"] | None = None
    lead_turns: int | None = Field(
        default=None, ge=0, description="lead turns the call should store (one per line)"
    )

    def checks(self) -> dict[str, Any]:
        """Only the fields the scenario sets, JSON-ready (`"outcome": null` means "none")."""
        data = self.model_dump(mode="json")
        return {key: data[key] for key in sorted(self.model_fields_set)}


class Scenario(_Strict):
    """One rehearsal: who the lead is, how it sounds, and what it does, in order."""

    name: str = Field(pattern=_NAME.pattern)
    description: str = ""
    lead: LeadInfo
    voice_length_scale: float = Field(
        default=1.25, ge=0.5, le=3.0, description="Piper length scale; > 1 is slower"
    )
    listen: bool = Field(default=True, description="transcribe the agent's turns with the ASR")
    gap_ms: int = Field(
        default=400, ge=50, le=5000, description="agent silence that ends its turn"
    )
    max_wait_s: float = Field(
        default=20.0, gt=0, le=300, description="longest wait for the agent before acting anyway"
    )
    steps: tuple[AnyStep, ...] = Field(min_length=1)
    expect: Expectation = Field(default_factory=Expectation)

    def lines(self) -> list[SpeechStep]:
        """The steps the lead speaks, in order (what the TTS must synthesise)."""
        return [s for s in self.steps if isinstance(s, SayStep | BargeInStep)]

    @model_validator(mode="after")
    def _choices_need_ears(self) -> Scenario:
        if not self.listen and any(isinstance(s, SayStep) and s.if_heard for s in self.steps):
            raise ValueError("if_heard needs listen: true (the lead must transcribe the agent)")
        return self


class ScenarioError(ValueError):
    """A scenario could not be found or is invalid; `problems` has one line per defect."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def list_scenarios(directory: Path | None = None) -> list[str]:
    """Names of the scenarios available by name, sorted."""
    folder = directory or scenarios_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"]) or "(root)"
        lines.append(f"{path}: {err['msg']}")
    return lines


def parse_scenario(text: str | bytes, source: str = "<scenario>") -> Scenario:
    """Validate scenario JSON; raises `ScenarioError` naming each bad field's path."""
    try:
        return Scenario.model_validate_json(text)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None


MAX_SCENARIO_BYTES = 256 * 1024


def load_named_scenario(name: str, *, directory: Path | None = None) -> Scenario:
    """A shipped or operator-installed scenario by bare name (`<directory>/<name>.json`).

    What the daemon runs: a name is never a path, only a regular file in the scenarios folder
    is read (not a FIFO or a device), and errors name the scenario, not the server's folders.
    Blocking: call it off the event loop.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScenarioError(str(name)[:60], ["not a scenario name (letters, digits, _ . -)"])
    folder = directory or scenarios_dir()
    path = folder / f"{name}.json"
    known = ", ".join(list_scenarios(folder)) or "none"
    try:
        is_file = path.is_file() and not path.is_symlink()
    except OSError:
        is_file = False
    if not is_file:
        raise ScenarioError(name, [f"no scenario named {name!r} (known: {known})"])
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(name, [f"cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(name, [f"larger than {MAX_SCENARIO_BYTES // 1024} KB"])
    return parse_scenario(raw, name)


def load_scenario(name_or_path: str | Path, *, directory: Path | None = None) -> Scenario:
    """A scenario by name (`strategies/scenarios/<name>.json`) or by file path (local tools
    only; the daemon uses `load_named_scenario`).

    A bare name is looked up in `directory` (default `scenarios_dir()`); anything with a
    path separator or a `.json` suffix, or an existing file, is read as a path.
    """
    text = str(name_or_path)
    as_path = Path(text).expanduser()
    is_path = (
        isinstance(name_or_path, Path)
        or os.sep in text
        or "/" in text
        or text.endswith(".json")
        or as_path.is_file()
    )
    if not is_path:
        return load_named_scenario(text, directory=directory)
    try:
        raw = as_path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(as_path), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_scenario(raw, str(as_path))

"""Where a sales conversation stands, and what one agent turn produced.

Both brains (playbook and LLM) report through the same `Reply`, so the call session, the
webhook route and the tests never care which one answered. A reply carries its side effects as
`Action`s (book a demo, hang up...) instead of performing them behind the caller's back: the
session must finish playing the goodbye before it hangs up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Stage(StrEnum):
    GREETING = "greeting"
    DISCOVERY = "discovery"
    PITCH = "pitch"
    OBJECTION = "objection"
    CLOSING = "closing"
    WRAP_UP = "wrap-up"
    ENDED = "ended"


class Outcome(StrEnum):
    DEMO_BOOKED = "demo_booked"
    CALLBACK_SCHEDULED = "callback_scheduled"
    DO_NOT_CALL = "do_not_call"
    NOT_INTERESTED = "not_interested"


# Stages only move forward, except that an objection may be raised at any point before the
# wrap-up and the conversation then returns to closing.
_ORDER = {stage: i for i, stage in enumerate(Stage)}


def advance(current: Stage, proposed: Stage) -> Stage:
    """The stage after `current` when a turn suggests `proposed`."""
    if current is Stage.ENDED:
        return Stage.ENDED
    if proposed is Stage.OBJECTION:
        return current if current in (Stage.WRAP_UP,) else Stage.OBJECTION
    if current is Stage.OBJECTION and proposed in (Stage.DISCOVERY, Stage.PITCH):
        return Stage.OBJECTION
    return proposed if _ORDER[proposed] >= _ORDER[current] else current


@dataclass(frozen=True)
class Action:
    """A side effect the turn decided on: `end_call`, `book_demo`, `schedule_callback`,
    `send_followup_sms`, `delegate`. `result` is what the tool reported, when it ran."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None


Source = Literal["playbook", "llm", "subagent"]


@dataclass
class Reply:
    """One agent turn. `text` is what the lead should hear."""

    text: str
    stage: Stage
    source: Source = "playbook"
    intent: str | None = None
    outcome: Outcome | None = None
    outcome_detail: dict[str, Any] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    tokens_used: int = 0
    llm_first_token_ms: float | None = None
    interrupted: bool = False
    fallback_reason: str | None = None

    @property
    def ends_call(self) -> bool:
        """True when the session should hang up after playing this reply."""
        return any(a.name == "end_call" for a in self.actions)

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (webhook responses, live events)."""
        return {
            "text": self.text,
            "stage": self.stage.value,
            "source": self.source,
            "intent": self.intent,
            "outcome": self.outcome.value if self.outcome else None,
            "outcome_detail": self.outcome_detail,
            "actions": [{"name": a.name, "args": a.args, "result": a.result} for a in self.actions],
            "tokens_used": self.tokens_used,
            "llm_first_token_ms": self.llm_first_token_ms,
            "interrupted": self.interrupted,
            "fallback_reason": self.fallback_reason,
            "ends_call": self.ends_call,
        }

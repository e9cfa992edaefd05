"""Did every lead sentence become exactly one stored lead turn?

The lead knows what it said and when (its `LineReport`s); the daemon stores what it heard as
lead turns. Matching the two is how the benchmark catches a turn detector that cuts a sentence
at a comma (split), glues two sentences together (merged), or drops one (lost) - errors that
latency numbers alone would hide, or even reward.

Theory of operation: both processes stamp wall-clock time on the same host, so each stored lead
turn is assigned to the last line that had started by the turn's start (plus `slack_s` for the
clock offsets of two processes). A line with no turn is *merged* when most of its words appear
in the previous line's turn, else *lost*; every turn beyond the first of a line is a *split*.
Turns that begin before the first line (noise heard as speech) are *stray*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

SLACK_S = 0.5
MERGE_WORD_SHARE = 0.5  # share of a line's words found in the previous turn to call it merged

_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Spoken:
    """A lead line: its text and when its first frame went out (ISO-8601 with offset)."""

    text: str
    started_at: str | None


@dataclass(frozen=True)
class Heard:
    """A stored lead turn: the transcript and when the daemon heard speech start."""

    text: str
    started_at: str | None


@dataclass
class TurnAccounting:
    """Per-call (or summed) match of lead lines to stored lead turns."""

    lines: int = 0
    lead_turns: int = 0
    exact: int = 0  # lines stored as exactly one turn of their own
    split: int = 0  # extra turns a line was cut into
    merged: int = 0  # lines stored inside the previous line's turn
    lost: int = 0  # lines with no trace among the stored turns
    stray: int = 0  # turns that match no line
    problems: list[str] = field(default_factory=list)

    @property
    def without_turn(self) -> int:
        """Lines that got no stored turn of their own (merged or lost): must be 0."""
        return self.merged + self.lost

    @property
    def one_turn_per_line(self) -> bool:
        return self.exact == self.lines and self.stray == 0

    def add(self, other: TurnAccounting) -> TurnAccounting:
        """Sum of two accountings (for a set of calls); problems are concatenated."""
        return TurnAccounting(
            self.lines + other.lines,
            self.lead_turns + other.lead_turns,
            self.exact + other.exact,
            self.split + other.split,
            self.merged + other.merged,
            self.lost + other.lost,
            self.stray + other.stray,
            self.problems + other.problems,
        )

    def to_dict(self, max_problems: int = 20) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems[:max_problems]
        data["without_turn"] = self.without_turn
        data["one_turn_per_line"] = self.one_turn_per_line
        return data


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _mostly_in(line: str, heard: str) -> bool:
    said = words(line)
    if not said:
        return False
    pool = set(words(heard))
    return sum(w in pool for w in said) / len(said) >= MERGE_WORD_SHARE


def account(
    lines: Sequence[Spoken], turns: Sequence[Heard], slack_s: float = SLACK_S
) -> TurnAccounting:
    """Match one call's lead lines to its stored lead turns (see the module docstring)."""
    starts = [_time(line.started_at) for line in lines]
    owned: list[list[Heard]] = [[] for _ in lines]
    result = TurnAccounting(lines=len(lines), lead_turns=len(turns))
    for turn in turns:
        at = _time(turn.started_at)
        owner = None
        if at is not None:
            for index, start in enumerate(starts):
                if start is not None and start <= at + slack_s:
                    owner = index
        if owner is None:
            result.stray += 1
            result.problems.append(f"stray turn {turn.text!r}")
        else:
            owned[owner].append(turn)
    for index, line in enumerate(lines):
        mine = owned[index]
        if len(mine) == 1:
            result.exact += 1
        elif len(mine) > 1:
            result.split += len(mine) - 1
            result.problems.append(f"split {line.text!r} -> {[t.text for t in mine]!r}")
        else:
            before = " ".join(t.text for t in owned[index - 1]) if index else ""
            if before and _mostly_in(line.text, before):
                result.merged += 1
                result.problems.append(f"merged {line.text!r} into {before!r}")
            else:
                result.lost += 1
                result.problems.append(f"lost {line.text!r}")
    return result


def account_call(lead_lines: Sequence[Any], stored_turns: Sequence[dict[str, Any]]) -> TurnAccounting:
    """`account()` for a `LeadReport.lines` list and a call's API `turns` list."""
    spoken = [Spoken(ln.text, ln.started_at_wall) for ln in lead_lines if ln.started_at is not None]
    heard = [
        Heard(str(t.get("text") or ""), t.get("started_at"))
        for t in stored_turns
        if t.get("role") == "lead"
    ]
    return account(spoken, heard)

"""The conversation as the lead experienced it.

The LLM's history must hold what the lead actually heard, not what we meant to say: after a
barge-in the lead heard half a sentence, and a model that believes it said the whole thing
will refer to words that never reached the phone. So an agent reply is recorded in full when
it is produced and corrected by `record_heard(played_text)` when playback was cut short; a
reply cancelled before it finished is only recorded once the session says what was played.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Role = Literal["lead", "agent"]


@dataclass
class Line:
    role: Role
    text: str
    interrupted: bool = False


class Conversation:
    def __init__(self, max_messages: int = 40) -> None:
        self.lines: list[Line] = []
        self.max_messages = max_messages
        self._last_agent: int | None = None

    def lead(self, text: str) -> None:
        self.lines.append(Line("lead", text))

    def agent(self, text: str) -> None:
        """Record a reply the lead is assumed to hear in full."""
        self.lines.append(Line("agent", text))
        self._last_agent = len(self.lines) - 1

    def agent_pending(self) -> None:
        """A reply was cut off before it finished; wait for `record_heard`."""
        self._last_agent = None

    def record_heard(self, played: str) -> None:
        """The last agent reply was heard only up to `played` (empty: not at all)."""
        played = played.strip()
        if self._last_agent is not None and self._last_agent < len(self.lines):
            if played:
                line = self.lines[self._last_agent]
                if played != line.text:
                    line.text, line.interrupted = played, True
            else:
                del self.lines[self._last_agent]
                self._last_agent = None
        elif played:
            self.lines.append(Line("agent", played, interrupted=True))
            self._last_agent = len(self.lines) - 1

    def snapshot(self) -> tuple[list[Line], int | None]:
        """The history as it is now, for `restore` (a reply taken back before it was heard)."""
        return [replace(line) for line in self.lines], self._last_agent

    def restore(self, snapshot: tuple[list[Line], int | None]) -> None:
        lines, last_agent = snapshot
        self.lines, self._last_agent = [replace(line) for line in lines], last_agent

    def messages(self) -> list[dict[str, str]]:
        """Chat Completions messages, most recent `max_messages` only."""
        out = []
        for line in self.lines[-self.max_messages:]:
            role = "user" if line.role == "lead" else "assistant"
            text = line.text + ("—" if line.interrupted else "")  # a dash marks a cut-off
            out.append({"role": role, "content": text})
        return out

    def count(self, role: Role) -> int:
        return sum(1 for line in self.lines if line.role == role)

"""Subagents: small helpers the sales agent hands a topic to, registered from strategy data.

A strategy names a subagent's `class`; that name is resolved only through
`agentcore.agent_kinds.load_kind` (built-ins and installed entry points), never imported as a
dotted path, because strategy files come from outside. A subagent is any object with
`async handle(payload) -> dict`; its constructor takes the spec's `init` mapping as keywords.

Subagents live for a while and then expire (`ttl_seconds`): one spawned by a webhook for a
campaign should not linger for ever. Using a subagent renews its lease. Strategy-declared
subagents default to no expiry unless their spec says `ttl_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agentcore.agent_kinds import load_kind
from agentcore.intents import normalise, tokens
from agentcore.strategy import SubagentSpec


class SubagentError(Exception):
    """Unknown subagent, unknown kind, or a kind that cannot be built from its `init`."""


@runtime_checkable
class Subagent(Protocol):
    async def handle(self, payload: Mapping[str, Any]) -> dict[str, Any]: ...


class FallbackAgent:
    """Answers from a fixed map of topics (`fallback_map`: topic -> line).

    The payload's `topic` (or `key`) picks a line directly; otherwise the words of its `text`
    (or `transcript`) are searched for a topic name. No match is reported, never invented.
    """

    def __init__(
        self,
        name: str = "fallback",
        fallback_map: Mapping[str, str] | None = None,
        agent_id: str | None = None,
        user_id: str | None = None,
        default: str | None = None,
    ) -> None:
        self.name = name
        self.agent_id = agent_id or name
        self.user_id = user_id
        self.default = default
        self.fallback_map = {
            normalise(str(k)): str(v) for k, v in (fallback_map or {}).items() if str(v).strip()
        }

    def match(self, text: str) -> str | None:
        """The topic `text` is about, if any."""
        words = set(tokens(text))
        for topic in self.fallback_map:
            if topic and set(tokens(topic)) <= words:
                return topic
        return None

    async def handle(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        topic = payload.get("topic") or payload.get("key")
        key = normalise(str(topic)) if topic else None
        if key not in self.fallback_map:
            text = str(payload.get("text") or payload.get("transcript") or "")
            key = self.match(text)
        if key is None:
            return {"handled": False, "reply": self.default, "agent": self.name}
        return {"handled": True, "topic": key, "reply": self.fallback_map[key],
                "agent": self.name}


@dataclass
class _Entry:
    agent: Any
    kind: str
    ttl: float | None
    last_used: float


class SubagentManager:
    """Registered subagents by name, with leases. `clock` is injectable for tests."""

    def __init__(
        self, default_ttl_seconds: float | None = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default_ttl = default_ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def register(self, name: str, agent: Any, *, kind: str = "custom",
                 ttl_seconds: float | None = None) -> None:
        if not callable(getattr(agent, "handle", None)):
            raise SubagentError(f"subagent {name!r} has no handle(payload) method")
        self._entries[name] = _Entry(agent, kind, ttl_seconds, self._clock())

    def register_spec(self, spec: SubagentSpec | Mapping[str, Any], *,
                      spawned: bool = False) -> str:
        """Build and register a subagent from a strategy-style spec; returns its name.

        Strategy subagents live as long as the strategy unless the spec sets `ttl_seconds`;
        spawned ones (webhook `spawn_subagent`) get the default lease.
        """
        try:
            if not isinstance(spec, SubagentSpec):
                spec = SubagentSpec.model_validate(dict(spec))
        except Exception as exc:
            raise SubagentError(f"invalid subagent spec: {exc}") from None
        try:
            cls = load_kind(spec.kind)
        except KeyError as exc:
            raise SubagentError(str(exc.args[0])) from None
        init = dict(spec.init)
        init.setdefault("name", spec.name)
        try:
            agent = cls(**init)
        except Exception as exc:  # TypeError, or whatever the class makes of a bad value
            raise SubagentError(
                f"subagent {spec.name!r}: bad init for {spec.kind}: {exc}") from None
        extra = spec.model_extra or {}
        ttl = extra.get("ttl_seconds")
        if not isinstance(ttl, int | float) or isinstance(ttl, bool):
            ttl = self.default_ttl if spawned else None
        self.register(spec.name, agent, kind=spec.kind, ttl_seconds=float(ttl) if ttl else None)
        return spec.name

    def unregister(self, name: str) -> bool:
        return self._entries.pop(name, None) is not None

    def expire(self) -> list[str]:
        """Drop subagents whose lease ran out; returns their names."""
        now = self._clock()
        gone = [n for n, e in self._entries.items()
                if e.ttl is not None and now - e.last_used >= e.ttl]
        for name in gone:
            del self._entries[name]
        return gone

    def names(self) -> list[str]:
        self.expire()
        return sorted(self._entries)

    def get(self, name: str) -> Any | None:
        self.expire()
        entry = self._entries.get(name)
        return entry.agent if entry else None

    def find_topic(self, text: str) -> tuple[str, str] | None:
        """(subagent name, topic) of the first fallback-map subagent that covers `text`."""
        self.expire()
        for name, entry in self._entries.items():
            match = getattr(entry.agent, "match", None)
            topic = match(text) if callable(match) else None
            if isinstance(topic, str):
                return name, topic
        return None

    async def delegate(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.expire()
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise SubagentError(f"unknown subagent {name!r}; registered: {known}")
        entry.last_used = self._clock()
        result = await entry.agent.handle(payload)
        return dict(result) if isinstance(result, Mapping) else {"result": result}

"""The registry of subagent kinds a strategy may name.

A strategy is data written by a sales team; it must never make the daemon import or run code.
So a subagent's `class` is looked up here, by name, among the built-in kinds and the plug-ins
that installed packages declare as Python entry points in the `scrappy.agents` group. Anything
else is a validation error. The old system's dotted paths survive as plain aliases.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "scrappy.agents"

# canonical name -> "module:attribute" inside this package (our code, never strategy data)
_BUILTIN: dict[str, str] = {"fallback": "agentcore.subagents:FallbackAgent"}

_ALIASES: dict[str, str] = {
    "fallbackagent": "fallback",
    "fallback_agent": "fallback",
    # the operator guide's historic class path, accepted as a name only
    "apps.agents.sales.agent.fallbackagent": "fallback",
}


@cache
def _plugins() -> dict[str, Any]:
    return {ep.name.lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def canonical_kind(name: str) -> str | None:
    """Return the registered kind a strategy's `class` value refers to, or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _BUILTIN or key in _plugins():
        return key
    return None


def known_kinds() -> list[str]:
    return sorted({*_BUILTIN, *_plugins()})


def load_kind(name: str) -> type:
    """Load the class behind a registered kind. Raises KeyError for unknown names."""
    kind = canonical_kind(name)
    if kind is None:
        raise KeyError(f"unknown subagent class {name!r}; known: {', '.join(known_kinds())}")
    if kind in _BUILTIN:
        module_name, _, attr = _BUILTIN[kind].partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
    else:
        cls = _plugins()[kind].load()
    if not isinstance(cls, type):
        raise KeyError(f"subagent kind {kind!r} does not name a class")
    return cls

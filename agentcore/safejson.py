"""JSON from outside (API bodies, strategy files), decoded with limits a hostile sender cannot
turn into a 500 or a stalled event loop.

`json.loads` recurses once per nesting level (10,000 nested arrays raise `RecursionError`),
keeps the last of duplicate keys silently (a second "persona" replaces the first) and accepts
`NaN` and `Infinity`, which are not JSON. `loads_untrusted` refuses all three with a message
that says where, in linear time.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # a strategy nests ~6 levels; nothing we accept needs more than a few more


class UntrustedJSONError(ValueError):
    """The text is not JSON we accept; the message says what and where."""


def nesting_depth(text: str) -> int:
    """Deepest `[`/`{` nesting outside strings, in one pass (no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise UntrustedJSONError(f"duplicate key {key[:60]!r} in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise UntrustedJSONError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 is a valid JSON number that Python reads as inf
        raise UntrustedJSONError(f"{text[:20]} is too large a number")
    return value


def loads_untrusted(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Decode `text`; raises `UntrustedJSONError` for nesting deeper than `max_depth`,
    duplicate keys, NaN/Infinity (also as 1e999) and integers too long to read, and
    `json.JSONDecodeError` for malformed JSON."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise UntrustedJSONError(f"nested {depth} levels deep; at most {max_depth} are accepted")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                          parse_float=_finite)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError | UntrustedJSONError):
            raise
        raise UntrustedJSONError(str(exc)[:120]) from None  # e.g. an integer of 5,000 digits

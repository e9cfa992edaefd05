"""Untrusted JSON: deep nesting, duplicate keys and NaN are refused with a message, quickly."""

from __future__ import annotations

import json
import time

import pytest

from agentcore.safejson import UntrustedJSONError, loads_untrusted, nesting_depth


@pytest.mark.parametrize(("text", "depth"), [
    ("{}", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[{{{"', 0), ('["\\"[[", []]', 2), ("3", 0),
])
def test_nesting_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_deep_nesting_is_refused_in_linear_time() -> None:
    started = time.perf_counter()
    with pytest.raises(UntrustedJSONError, match="100000 levels"):
        loads_untrusted("[" * 100_000 + "]" * 100_000)
    assert time.perf_counter() - started < 5  # generous: a recursion would not return at all
    assert loads_untrusted("[" * 64 + "]" * 64) is not None


@pytest.mark.parametrize(("text", "message"), [
    ('{"persona": {}, "persona": {"name": "x"}}', "duplicate key 'persona'"),
    ('{"limit": NaN}', "NaN"), ('{"limit": -Infinity}', "-Infinity"),
])
def test_what_json_loads_would_accept_silently_is_refused(text: str, message: str) -> None:
    with pytest.raises(UntrustedJSONError, match=message):
        loads_untrusted(text)


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_untrusted('{"a": ')

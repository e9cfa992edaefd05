"""Small text formatters shared by the widgets (pure, so they are unit tested directly).

Times are shown in the console's display zone, which the app is given (local by default, UTC
in tests) so screenshots do not depend on the machine's time zone.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

DASH = "—"


def short_id(call_id: str, width: int = 8) -> str:
    """`call_9521e59d9040` -> `9521e59d`: enough to tell calls apart in a narrow table."""
    bare = call_id.removeprefix("call_")
    return bare[:width]


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def latency(ms: float | None) -> str:
    if ms is None:
        return DASH
    return f"{ms / 1000:.1f} s" if ms >= 10_000 else f"{ms:.0f} ms"


def parse_time(value: Any) -> datetime | None:
    """ISO text from the API (with `T` or a space), or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value)).astimezone()
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()


def clock_time(value: Any, tz: tzinfo | None, with_date: bool = True) -> str:
    """`11-25 05:50` (or `05:50:16` without the date) in the display zone."""
    when = parse_time(value)
    if when is None:
        return DASH
    when = when.astimezone(tz)
    return when.strftime("%m-%d %H:%M") if with_date else when.strftime("%H:%M:%S")


def offset(started: Any, call_started: Any) -> str:
    """A turn's time into its call, `m:ss`; blank when either time is unknown."""
    turn_at, call_at = parse_time(started), parse_time(call_started)
    if turn_at is None or call_at is None:
        return ""
    return duration(max(0.0, (turn_at - call_at).total_seconds()))


def size(n: int | None) -> str:
    if n is None:
        return DASH
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover  (loop always returns)


def minutes(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def event_text(event: dict[str, Any]) -> str:
    """One line saying what a memory event is about, whatever its payload's shape."""
    payload = event.get("payload") or {}
    kind = event.get("event_type")
    if not isinstance(payload, dict):
        return str(payload)
    if kind == "feedback":
        return str(payload.get("feedback") or payload.get("text") or "")
    if kind == "train_loop":
        parts = [str(payload.get("status") or "ran")]
        if payload.get("new_strategy_id"):
            parts.append(f"new strategy {payload['new_strategy_id']}")
        suggestions = payload.get("suggestions") or []
        if suggestions:
            parts.append(str(suggestions[0]))
        return ": ".join(parts[:1]) + (" — " + "; ".join(parts[1:]) if parts[1:] else "")
    for key in ("summary", "text", "reason", "message", "detail", "error"):
        if payload.get(key):
            return str(payload[key])
    return json.dumps(payload, default=str, sort_keys=True)[:200]

"""What the console knows about calls, kept apart from Textual so it is tested without a loop.

`CallBook` merges three sources that overlap: the stored recent calls (REST), the live
snapshot sent when the stream opens, and live events after it. Live data wins while a call is
live; once it ends the stored call is the truth. Durations of live calls tick on the console's
own clock from the moment a snapshot was read, so a frozen clock gives a frozen screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})


@dataclass
class CallRow:
    """One line of the calls table."""

    call_id: str
    lead: str
    strategy: str
    direction: str
    stage: str
    speaking: str
    live: bool
    status: str
    started_at: str
    outcome: str | None = None
    duration_base: float = 0.0
    seen_at: float | None = None  # console clock when `duration_base` was read (live calls)
    last_latency_ms: float | None = None

    def duration(self, now: float) -> float:
        if self.live and self.seen_at is not None:
            return self.duration_base + max(0.0, now - self.seen_at)
        return self.duration_base


def _lead(call: dict[str, Any]) -> str:
    return str(call.get("lead_name") or call.get("lead_phone") or "?")


def row_from_stored(call: dict[str, Any]) -> CallRow:
    """A row for a stored call (`GET /api/v1/calls`)."""
    return CallRow(
        call_id=str(call["id"]), lead=_lead(call), strategy=str(call.get("strategy_id") or ""),
        direction=str(call.get("direction") or "outbound"), stage=str(call.get("stage") or ""),
        speaking="", live=False, status=str(call.get("status") or ""),
        started_at=str(call.get("started_at") or ""), outcome=call.get("outcome"),
        duration_base=float(call.get("duration_seconds") or 0.0))


def row_from_live(snap: dict[str, Any], now: float) -> CallRow:
    """A row for a live snapshot (`call_started`, `call_updated`, the stream's first event)."""
    return CallRow(
        call_id=str(snap["call_id"]), lead=_lead(snap), strategy=str(snap.get("strategy_id") or ""),
        direction=str(snap.get("direction") or "outbound"), stage=str(snap.get("stage") or ""),
        speaking=str(snap.get("speaking") or "none"), live=True,
        status=str(snap.get("status") or "in-progress"), started_at=str(snap.get("started_at") or ""),
        duration_base=float(snap.get("duration_seconds") or 0.0), seen_at=now,
        last_latency_ms=snap.get("last_latency_ms"))


@dataclass
class CallBook:
    """Every call the console shows, and the turns it has seen for each."""

    rows: dict[str, CallRow] = field(default_factory=dict)
    turns: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)

    def load_recent(self, calls: list[dict[str, Any]]) -> None:
        """Stored calls; a call we are watching live keeps its live row."""
        for call in calls:
            current = self.rows.get(str(call["id"]))
            if current is not None and current.live:
                continue
            row = row_from_stored(call)
            if current is not None and row.last_latency_ms is None:
                row.last_latency_ms = current.last_latency_ms
            self.rows[row.call_id] = row

    def apply_snapshot(self, calls: list[dict[str, Any]], now: float) -> None:
        """The stream (re)opened: these are live; any other row we thought live has ended."""
        live_ids = {str(c["call_id"]) for c in calls}
        for row in self.rows.values():
            if row.live and row.call_id not in live_ids:
                self._finish(row, now, None)
        for snap in calls:
            self.upsert_live(snap, now)

    def upsert_live(self, snap: dict[str, Any], now: float) -> bool:
        """Returns True when the call is new to us."""
        row = row_from_live(snap, now)
        old = self.rows.get(row.call_id)
        if row.last_latency_ms is None and old is not None:
            row.last_latency_ms = old.last_latency_ms
        self.rows[row.call_id] = row
        return old is None

    def end(self, snap: dict[str, Any], now: float) -> None:
        call_id = str(snap.get("call_id") or snap.get("id"))
        row = self.rows.get(call_id)
        if row is None:
            if "lead_phone" not in snap:
                return
            row = row_from_live({**snap, "call_id": call_id}, now)
            self.rows[call_id] = row
        row.stage = str(snap.get("stage") or row.stage)
        if snap.get("last_latency_ms") is not None:
            row.last_latency_ms = snap["last_latency_ms"]
        self._finish(row, now, snap)

    def _finish(self, row: CallRow, now: float, snap: dict[str, Any] | None) -> None:
        if snap is not None and snap.get("duration_seconds") is not None:
            row.duration_base = float(snap["duration_seconds"])
        elif row.live:
            row.duration_base = row.duration(now)
        row.live = False
        row.seen_at = None
        row.speaking = ""
        row.status = str((snap or {}).get("status") or "completed")
        if snap is not None and snap.get("outcome"):
            row.outcome = str(snap["outcome"])

    def add_turn(self, call_id: str, turn: dict[str, Any]) -> dict[str, Any]:
        """Record a live turn; returns it with its index filled in."""
        seen = self.turns.setdefault(call_id, {})
        index = int(turn["index"]) if turn.get("index") is not None else len(seen)
        turn = {**turn, "index": index}
        seen[index] = turn
        total = (turn.get("latency_ms") or {}).get("total")
        row = self.rows.get(call_id)
        if row is not None and total is not None:
            row.last_latency_ms = float(total)
        return turn

    def set_stored(self, call: dict[str, Any]) -> None:
        """A stored call with its turns: the truth for finished calls, a catch-up for live ones."""
        call_id = str(call["id"])
        seen = self.turns.setdefault(call_id, {})
        for turn in call.get("turns") or []:
            seen[int(turn["index"])] = turn
        row = self.rows.get(call_id)
        if row is None or not row.live:
            stored = row_from_stored(call)
            stored.last_latency_ms = last_latency(self.transcript(call_id))
            if call.get("status") not in TERMINAL_STATUSES and row is not None:
                stored.speaking = row.speaking
            self.rows[call_id] = stored

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        return [t for _, t in sorted(self.turns.get(call_id, {}).items())]

    def ordered(self) -> list[CallRow]:
        """Live calls first, then the rest; newest first within each."""
        live = sorted((r for r in self.rows.values() if r.live), key=lambda r: r.started_at, reverse=True)
        done = sorted((r for r in self.rows.values() if not r.live), key=lambda r: r.started_at,
                      reverse=True)
        return [*live, *done]

    def live_count(self) -> int:
        return sum(1 for r in self.rows.values() if r.live)


def turn_latencies(turns: list[dict[str, Any]]) -> list[float]:
    """Per-turn total latency of the agent turns that measured one, in order."""
    out = []
    for turn in turns:
        total = (turn.get("latency_ms") or {}).get("total")
        if total is not None:
            out.append(float(total))
    return out


def last_latency(turns: list[dict[str, Any]]) -> float | None:
    values = turn_latencies(turns)
    return values[-1] if values else None


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: `initial`, doubling up to `maximum`; reset after a good connection."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.factor)

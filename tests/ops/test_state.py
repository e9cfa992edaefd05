"""Pure units of the console: the call book, the backoff, the formatters (no event loop)."""

from __future__ import annotations

from datetime import UTC
from itertools import islice

from scrappy_cli.ops import fmt
from scrappy_cli.ops.state import Backoff, CallBook, turn_latencies


def _snap(call_id: str = "call_a", **over: object) -> dict[str, object]:
    return {"call_id": call_id, "lead_phone": "+14155550123", "lead_name": None,
            "strategy_id": "enterprise-saas-sales-v1", "direction": "outbound", "simulated": True,
            "started_at": "2026-11-25T05:49:12+00:00", "stage": "greeting", "speaking": "agent",
            "status": "in-progress", "last_latency_ms": None, "turns": 0, "duration_seconds": 10.0,
            **over}


def _stored(call_id: str, started: str, **over: object) -> dict[str, object]:
    return {"id": call_id, "direction": "outbound", "status": "completed", "lead_phone": "+1415",
            "lead_name": "Priya", "strategy_id": "s", "started_at": started, "duration_seconds": 57.6,
            "outcome": "demo_booked", "stage": "ended", **over}


def test_live_duration_ticks_on_the_console_clock_and_freezes_at_the_end() -> None:
    book = CallBook()
    assert book.upsert_live(_snap(), now=100.0) is True
    assert book.rows["call_a"].duration(105.0) == 15.0
    book.end({"call_id": "call_a", "status": "completed", "outcome": "demo_booked"}, now=107.0)
    row = book.rows["call_a"]
    assert not row.live and row.outcome == "demo_booked"
    assert row.duration(500.0) == 17.0


def test_daemon_duration_wins_when_the_end_event_carries_one() -> None:
    book = CallBook()
    book.upsert_live(_snap(), now=0.0)
    book.end({"call_id": "call_a", "duration_seconds": 57.6}, now=999.0)
    assert book.rows["call_a"].duration(2000.0) == 57.6


def test_snapshot_ends_calls_that_finished_while_we_were_away() -> None:
    book = CallBook()
    book.upsert_live(_snap("call_a"), now=0.0)
    book.apply_snapshot([_snap("call_b")], now=5.0)
    assert not book.rows["call_a"].live
    assert book.rows["call_b"].live


def test_ordering_live_first_then_newest() -> None:
    book = CallBook()
    book.load_recent([_stored("call_old", "2026-11-24T10:00:00+00:00"),
                      _stored("call_new", "2026-11-25T10:00:00+00:00")])
    book.upsert_live(_snap("call_live", started_at="2026-11-20T00:00:00+00:00"), now=0.0)
    assert [r.call_id for r in book.ordered()] == ["call_live", "call_new", "call_old"]


def test_recent_calls_do_not_overwrite_a_live_row() -> None:
    book = CallBook()
    book.upsert_live(_snap("call_a", speaking="lead"), now=0.0)
    book.load_recent([_stored("call_a", "2026-11-25T05:49:12+00:00", status="in-progress")])
    assert book.rows["call_a"].live and book.rows["call_a"].speaking == "lead"


def test_turns_merge_live_and_stored_by_index_and_track_latency() -> None:
    book = CallBook()
    book.upsert_live(_snap(), now=0.0)
    book.add_turn("call_a", {"index": 0, "role": "agent", "text": "hi", "latency_ms": None})
    book.add_turn("call_a", {"index": 2, "role": "agent", "text": "price", "latency_ms": {"total": 512.0}})
    assert book.rows["call_a"].last_latency_ms == 512.0
    book.set_stored({"id": "call_a", "status": "in-progress",
                     "turns": [{"index": 1, "role": "lead", "text": "who?", "latency_ms": None}]})
    assert [t["text"] for t in book.transcript("call_a")] == ["hi", "who?", "price"]
    assert book.rows["call_a"].live, "a stored catch-up must not end a live call"
    assert turn_latencies(book.transcript("call_a")) == [512.0]


def test_turn_without_index_is_appended() -> None:
    book = CallBook()
    assert book.add_turn("call_x", {"role": "lead", "text": "a"})["index"] == 0
    assert book.add_turn("call_x", {"role": "agent", "text": "b"})["index"] == 1


def test_backoff_doubles_up_to_its_ceiling() -> None:
    assert list(islice(Backoff(1, 2, 10).delays(), 6)) == [1, 2, 4, 8, 10, 10]


def test_formatters() -> None:
    assert fmt.short_id("call_9521e59d9040") == "9521e59d"
    assert fmt.duration(57.6) == "0:57" and fmt.duration(3725) == "1:02:05" and fmt.duration(None) == "—"
    assert fmt.latency(617.6) == "618 ms" and fmt.latency(12_500) == "12.5 s"
    assert fmt.clock_time("2026-11-25 05:50:16.081834+00:00", UTC) == "11-25 05:50"
    assert fmt.clock_time("2026-11-25T05:50:16Z", UTC, with_date=False) == "05:50:16"
    assert fmt.offset("2026-11-25T05:49:33+00:00", "2026-11-25T05:49:12+00:00") == "0:21"
    assert fmt.size(10666) == "10.4 KB" and fmt.size(12) == "12 B"
    assert fmt.minutes(0.96) == "0.96" and fmt.minutes(2.0) == "2"
    assert fmt.clip("enterprise-saas-sales-v1", 10) == "enterpris…"


def test_event_text_reads_each_kind() -> None:
    assert fmt.event_text({"event_type": "feedback", "payload": {"feedback": "slow down"}}) == "slow down"
    train = {"event_type": "train_loop", "payload": {"status": "no_change", "suggestions": ["ask sooner"]}}
    assert fmt.event_text(train) == "no_change — ask sooner"
    assert fmt.event_text({"event_type": "summary", "payload": {"summary": "booked"}}) == "booked"
    assert "intent" in fmt.event_text({"event_type": "fallback_triggered", "payload": {"intent": "x"}})

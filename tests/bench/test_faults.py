"""The faults report: what a reader of the README table must be able to see."""

from __future__ import annotations

from benchmarks import faults

RESULT = {
    "generated_at": "2026-12-06T08:00:00+00:00", "command": "python -m benchmarks --faults",
    "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "python": "3.11"},
    "git": {"commit": "abc", "dirty": False}, "duration_s": 300.0,
    "crash": {"calls": 3, "restart_s": 9.5, "zombies": 0, "turns_seen_before_kill": 7,
              "turns_kept": 7, "closed_as": ["failed/interrupted"], "exit_code_after": 0},
    "outage": {"calls": 5, "outage_s": 30.0, "turns_heard": 50, "turns_stored": 49,
               "lines_during_outage": 9, "answered_during_outage": 8,
               "answer_ms_p50_during_outage": 612.4, "all_stored_after_s": None,
               "completed": 5, "exit_code": 0},
    "hostile": {"connections": 300, "outcomes": {"idle socket: closed by the daemon": 43,
                                                 "binary frame: left open": 1},
                "healthz_ms": {"n": 200, "p50": 3.2, "p99": 40.0, "max": 55.0},
                "call": {"status": "completed", "outcome": "demo_booked", "turns_heard": 10,
                         "turns_stored": 10},
                "api_probes": {"n": 14, "4xx": 14}, "problems": [], "exit_code": 0},
}


def test_the_table_shows_losses_zombies_and_what_stayed_open() -> None:
    markdown = faults.to_markdown(RESULT)
    assert ("| `kill -9` mid-call, restart | calls left unfinished after the restart (zombies) "
            "| 0 of 3 |") in markdown
    assert "| 50 / 49 |" in markdown  # a lost turn is visible, not averaged away
    assert "| never |" in markdown  # the store never caught up
    assert "| 612 ms |" in markdown
    assert "43 of 300" in markdown  # one socket was left open: not counted as refused
    assert "| 14 / 0 |" in markdown
    assert "Test CPU" in markdown and "binary frame: left open (1)" in markdown


def test_a_partial_run_renders_only_its_rows() -> None:
    only_crash = {k: v for k, v in RESULT.items() if k not in ("outage", "hostile")}
    markdown = faults.to_markdown(only_crash)
    assert "zombies" in markdown and "store down" not in markdown and "hostile" not in markdown

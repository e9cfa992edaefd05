"""The campaign throughput report: caps, spread and scheduling overhead, as a reader sees them."""

from __future__ import annotations

from benchmarks import campaign


def _call(start: str, end: str, daemon: str = "d_a") -> dict[str, str]:
    return {"started_at": f"2026-12-06T10:00:{start}+00:00",
            "ended_at": f"2026-12-06T10:00:{end}+00:00", "daemon": daemon}


def test_most_at_once_and_slot_gaps_come_from_call_times() -> None:
    calls = [_call("00", "14"), _call("01", "15"), _call("14.5", "28"), _call("16", "30")]
    assert campaign._most_at_once(calls) == 2
    gaps = campaign._slot_gaps(calls)
    assert [round(g, 1) for g in gaps] == [0.5, 1.0]  # the last two freed slots had no next dial


def test_the_table_shows_each_setup_with_its_caps_and_spread() -> None:
    run = {"daemons": 2, "cap_per_daemon": 3, "leads": 40, "dials": 40, "wall_s": 120.5,
           "dials_per_min": 19.9, "leads_per_hour_per_daemon": 598, "calls_per_daemon": [19, 21],
           "most_at_once_per_daemon": 3, "slot_to_next_dial_ms": {"p50": 640, "p95": 1210},
           "call_s_p50": 14.2, "not_completed": 0}
    result = {"generated_at": "2026-12-06T08:00:00+00:00", "command": "x",
              "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gb": 8.0,
                          "python": "3.11"},
              "git": {"commit": "abc", "dirty": False}, "duration_s": 300.0,
              "scenario": "dtmf_optout", "runs": [run]}
    markdown = campaign.to_markdown(result)
    assert "| 2 | 3 | 120.5 s | 19.9 | 598 | 640 / 1210 ms | 3 | 19 + 21 | 0 |" in markdown
    assert "40 simulated leads" in markdown and "Test CPU" in markdown

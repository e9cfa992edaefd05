"""The benchmark's arithmetic and publishing: statistics, turn accounting, targets, tables.

Pure units: no daemon, no models, no event loop. The numbers going into these functions are
made up, so the tests pin down definitions (what p95 means, what counts as a split), never how
fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import ablations
from benchmarks.__main__ import options_from, parser
from benchmarks.ablations import Variant
from benchmarks.accounting import Heard, Spoken, account
from benchmarks.capacity import CapacityLimits, best_level, collapse_reason
from benchmarks.meta import code_changed, load_warnings, targets
from benchmarks.report import END_MARK, START_MARK, replace_block, to_markdown, update_readme, write_results
from benchmarks.run import BenchOptions
from benchmarks.single_call import agent_quiet_after_ms
from benchmarks.stats import percentile, summarise
from daemon.simulate.report import AgentTurnReport, LineReport


@pytest.mark.parametrize("q", [0, 5, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = [12.0, 3.5, 7.25, 100.0, 41.0, 41.0, 0.5]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_summary_skips_unmeasured_and_handles_nothing() -> None:
    s = summarise([None, 10.0, None, 30.0, 20.0])
    assert (s.n, s.p50, s.max, s.min, s.mean) == (3, 20.0, 30.0, 10.0, 20.0)
    empty = summarise([None]).to_dict()
    assert empty == {"n": 0, "p50": None, "p95": None, "max": None, "mean": None, "min": None}
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def _at(second: float) -> str:
    return f"2026-01-01T10:00:{second:06.3f}+00:00"


LINES = [Spoken("Who is calling please?", _at(1)), Spoken("What does it cost?", _at(10)),
         Spoken("Is my data secure?", _at(20))]


def test_one_turn_per_line_is_exact() -> None:
    heard = [Heard("Who is calling, please?", _at(1.3)), Heard("What does it cost?", _at(10.2)),
             Heard("Is my data secure?", _at(20.1))]
    result = account(LINES, heard)
    assert (result.exact, result.split, result.merged, result.lost, result.stray) == (3, 0, 0, 0, 0)
    assert result.one_turn_per_line and result.without_turn == 0


def test_split_merged_lost_and_stray_are_told_apart() -> None:
    heard = [
        Heard("uh", _at(0.1)),  # before any line: noise heard as speech
        Heard("Who is calling.", _at(1.2)), Heard("Please.", _at(2.4)),  # one line, two turns
        Heard("What does it cost? Is my data secure?", _at(10.1)),  # two lines, one turn
    ]
    result = account(LINES, heard)
    assert (result.exact, result.split, result.merged, result.lost, result.stray) == (1, 1, 1, 0, 1)
    assert result.without_turn == 1 and not result.one_turn_per_line
    lost = account(LINES, heard[:3])
    assert (lost.merged, lost.lost) == (0, 2)


def test_turn_just_before_its_line_by_clock_offset_still_counts() -> None:
    heard = [Heard("Who is calling please?", _at(0.8))]  # two processes' clocks, 0.2 s apart
    assert account(LINES[:1], heard).exact == 1


def _level(concurrency: int, p95: float | None, without_turn: int = 0, failed: int = 0) -> dict[str, Any]:
    return {"concurrency": concurrency, "voice_to_voice_ms": {"p95": p95},
            "turns": {"without_turn": without_turn}, "failed_calls": failed}


def test_capacity_collapse_and_best_level() -> None:
    limits = CapacityLimits(target_ms=1500, collapse_ms=3000)
    assert collapse_reason(_level(5, 900), limits) is None
    assert "p95" in (collapse_reason(_level(5, 3100), limits) or "")
    assert "no turn" in (collapse_reason(_level(5, 900, without_turn=1), limits) or "")
    assert "failed" in (collapse_reason(_level(5, 900, failed=2), limits) or "")
    levels = [_level(1, 400), _level(5, 1200), _level(10, 1600), _level(20, 1400, without_turn=1)]
    assert best_level(levels, limits) == 5
    assert best_level([_level(1, 2000)], limits) is None


def fake_result() -> dict[str, Any]:
    """A result as `run()` shapes it, with invented numbers, for the renderers."""
    stat = {"n": 4, "p50": 300.0, "p95": 650.0, "max": 700.0, "mean": 350.0, "min": 250.0}
    turns = {"lines": 4, "lead_turns": 4, "exact": 4, "split": 0, "merged": 0, "lost": 0,
             "stray": 0, "problems": [], "without_turn": 0, "one_turn_per_line": True}
    latency = {k: stat for k in ("endpoint", "asr", "llm_first_token", "tts_first_audio", "total",
                                 "after_endpoint")}
    level = {"concurrency": 5, "calls": 5, "voice_to_voice_ms": stat, "turns": turns,
             "late_frames_per_call_min": 0.0, "missing_frames_per_call_min": 0.0,
             "daemon_cpu_pct": {"mean": 40.0, "p95": 80.0, "max": 95.0},
             "daemon_rss_mb": {"before": 560.0, "after": 561.0, "max": 570.0},
             "bench_cpu_pct": {"mean": 5.0, "max": 9.0}, "other_cpu_pct": {"mean": 60.0, "max": 90.0},
             "latency_ms": latency, "failed_calls": 0, "collapsed": None}
    result: dict[str, Any] = {
        "generated_at": "2026-01-01T10:00:00+00:00", "mode": "quick",
        "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "python": "3.11"},
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "providers": {"daemon": {"brain": "strategy playbook", "asr": "faster-whisper tiny.en",
                                 "tts": "piper", "store": "secantusdb (embedded, /tmp/x/db)"}},
        "single_call": {"scenario": "latency_probe", "calls": 1, "voice_to_voice_ms": stat,
                        "latency_ms": latency, "greeting_first_audio_ms": stat, "turns": turns,
                        "late_frames": 0, "missing_frames": 0.0, "problems": [],
                        "barge_in": {"scenario": "barge_in", "clear_after_ms": 280.0,
                                     "agent_quiet_after_ms": 190.0,
                                     "turns": turns, "problems": []}},
        "capacity": {"scenario": "latency_probe", "levels": [level], "target_ms": 1500.0,
                     "collapse_ms": 3000.0, "ramp_s": 2.0, "max_concurrency_meeting_target": 5,
                     "stopped": None, "idle_rss_mb": 560.0, "rss_growth_per_call_mb": 0.2},
        "components": {"mulaw": {"decode_mb_s": 500.0, "encode_mb_s": 400.0,
                                 "frame_decode_per_s": 300000, "frame_decode_calls_per_core": 6000},
                       "store": {"error": "RuntimeError: store down"}},
    }
    result["targets"] = targets(result)
    result["warnings"] = load_warnings(result)
    return result


def test_targets_show_met_missed_and_undecided() -> None:
    rows = {row["name"]: row for row in fake_result()["targets"]}
    assert rows["voice-to-voice p50 (single call)"]["met"] is True
    assert rows["barge-in: clear after lead starts"]["met"] is True
    # capacity stopped at its highest level (5) without collapsing: >= 20 is not decided
    capacity = next(r for name, r in rows.items() if name.startswith("concurrent calls"))
    assert capacity["met"] is None and "highest level tried" in capacity["measured"]


def test_markdown_has_every_table_and_no_local_paths(tmp_path: Path) -> None:
    md = to_markdown(fake_result())
    for title in ("Targets", "Turn latency", "Capacity", "Components"):
        assert f"**{title}" in md
    assert "| voice-to-voice p50 (single call) | <= 350 ms | 300 ms | yes |" in md
    assert "store down" in md and "/tmp/x" not in md
    assert "| barge-in: agent audio stops at the lead | 1 | 190 | 190 | 190 |" in md
    assert "**Warning:** The machine was not idle" in md and "5 calls: 60%" in md
    json_path, md_path = write_results(fake_result(), tmp_path)
    assert json.loads(json_path.read_text())["capacity"]["max_concurrency_meeting_target"] == 5
    assert md_path.read_text() == md


def test_readme_block_is_replaced_only_between_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Scrappy\n\n{START_MARK}\nold numbers\n{END_MARK}\n\nMore text.\n")
    assert update_readme("| new | table |\n", readme)
    text = readme.read_text()
    assert "old numbers" not in text and "| new | table |" in text and text.endswith("More text.\n")
    assert replace_block("no markers here", "x") is None
    plain = tmp_path / "PLAIN.md"
    plain.write_text("nothing to replace\n")
    assert not update_readme("x", plain) and plain.read_text() == "nothing to replace\n"


def test_cli_options_and_mode_defaults() -> None:
    full = options_from(parser().parse_args([])).resolved()
    assert (full.calls, full.levels) == (3, (1, 5, 10, 20, 40))
    quick = options_from(parser().parse_args(["--quick", "--levels", "2,4", "--only", "single"]))
    assert quick.resolved().calls == 1 and quick.resolved().levels == (2, 4)
    assert quick.sections == frozenset({"single"})
    with pytest.raises(SystemExit):
        parser().parse_args(["--levels", "0,5"])
    with pytest.raises(ValueError):
        BenchOptions(sections=frozenset({"nope"})).resolved()


def test_code_moving_under_a_run_is_flagged() -> None:
    before = {"commit": "a" * 40, "diff_sha1": None}
    assert code_changed(before, dict(before)) is None
    assert code_changed(before, {"commit": "b" * 40, "diff_sha1": None}) is not None
    assert code_changed(before, {"commit": "a" * 40, "diff_sha1": "123"}) is not None


def test_ablations_run_fewer_calls_and_one_capacity_level() -> None:
    opts = options_from(parser().parse_args(["--ablations"])).resolved()
    assert (opts.calls, opts.levels) == (2, (20,))
    chosen = options_from(parser().parse_args(["--ablations", "--calls", "3", "--levels", "5,10"]))
    assert (chosen.calls, chosen.levels) == (3, (10,))


def _ablation_row(variant: Variant, v2v_p50: float, load: bool) -> dict[str, Any]:
    stat = {"n": 8, "p50": v2v_p50, "p95": v2v_p50 * 2, "max": v2v_p50 * 2.1, "mean": v2v_p50,
            "min": v2v_p50 / 2}
    run_result: dict[str, Any] = {
        "single_call": {"voice_to_voice_ms": stat, "greeting_first_audio_ms": stat,
                        "latency_ms": {"endpoint": stat, "asr": stat, "tts_first_audio": stat},
                        "turns": {"lines": 8, "exact": 7}},
        "daemon": {"exit_code": 0}}
    if load:
        run_result["capacity"] = {"levels": [{"concurrency": 20, "voice_to_voice_ms": stat,
                                              "latency_ms": {"asr": stat},
                                              "turns": {"without_turn": 0}}]}
    return ablations._row_of(variant, run_result)


def test_ablation_table_names_each_setting_and_what_it_switches_off(tmp_path: Path) -> None:
    base, silence = ablations.VARIANTS[0], ablations.VARIANTS[1]
    result = {"generated_at": "2026-01-01T10:00:00+00:00", "calls": 2, "scenario": "latency_probe",
              "capacity_level": 20, "git": {"commit": "0123456789abcdef", "dirty": True},
              "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "python": "3.11",
                          "cpu_flags": ["avx2", "avx512_vnni"]},
              "variants": [_ablation_row(base, 250.0, True), _ablation_row(silence, 800.0, False)]}
    table = ablations.ablation_table(result)
    assert table.rows[0][:3] == ["baseline (defaults)", "250", "500"]
    assert table.rows[0][-2:] == ["7/8", "500"]
    assert table.rows[1][0] == "silence-only endpointing (`ASR_SPECULATIVE_PAUSE_MS=700`)"
    assert table.rows[1][-1] == "–"  # not measured under load
    assert table.notes == [f"- **silence-only endpointing** switches off: {silence.switched_off}."]
    md = ablations.to_markdown(result)
    assert "commit `0123456789 (dirty)`" in md and "| silence-only endpointing" in md
    assert "Test CPU (8.0 GB, avx2/avx512_vnni)" in md  # the features that set ASR/TTS speed
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- ablations:start -->\nold\n<!-- ablations:end -->\n<!-- bench:start -->keep")
    assert ablations.update_readme(md, readme)
    block = readme.read_text()
    assert "old" not in block and "<!-- bench:start -->keep" in block
    assert block.count("| baseline (defaults) |") == 1


def _agent_turn(index: int, start: float, end: float, interrupted: bool) -> AgentTurnReport:
    return AgentTurnReport(index=index, started_at=start, started_at_wall=None, ended_at=end,
                           audio_ms=1000.0 * (end - start), media_messages=10,
                           interrupted=interrupted, cut_off=False, underruns=0, underrun_ms=0.0)


def test_agent_quiet_is_when_the_talked_over_turn_stopped_playing() -> None:
    line = LineReport(step=2, kind="barge_in", text="Sorry, who is this?", started_at=10.0)
    turns = [_agent_turn(0, 2.0, 6.0, False),  # the greeting, long over
             _agent_turn(1, 8.0, 10.27, True),  # talked over: went quiet 270 ms in
             _agent_turn(2, 11.0, 12.0, False)]  # the answer
    assert agent_quiet_after_ms(line, turns) == 270.0
    # nothing was interrupted (the agent went on talking): no number, not a made-up one
    assert agent_quiet_after_ms(line, [turns[0], _agent_turn(1, 8.0, 13.0, False)]) is None
    assert agent_quiet_after_ms(LineReport(step=2, kind="barge_in", text="x"), turns) is None

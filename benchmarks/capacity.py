"""Capacity: how many concurrent calls one daemon carries before the caller notices.

For each concurrency level, that many `latency_probe` calls run at once against the same
daemon, their starts spread over `ramp_s` (real calls do not all connect in the same 20 ms,
and a perfectly aligned start would measure a thundering herd, not a load). Per level we report
what a lead would notice - p95 voice-to-voice, agent audio that arrived late (stutter), lines
that never became a turn - next to what the machine paid: the daemon's CPU and RSS sampled
while the calls ran. RSS is also taken idle before the first level and after every level, so a
model loaded per call (RSS climbing with each level) is visible at a glance.

The run stops at the first level that collapses (p95 voice-to-voice above `collapse_ms`, a
lead line without a turn, or calls that failed): a broken level says everything the next,
heavier level would, and would only take longer to say it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import (
    CallRun,
    DaemonUnderTest,
    LeadVoices,
    run_lead,
    scenario_named,
)
from benchmarks.resources import ResourceSampler
from benchmarks.single_call import summarise_runs
from daemon.speech.asr import ASRBackend

DEFAULT_LEVELS = (1, 5, 10, 20, 40)


@dataclass(frozen=True)
class CapacityLimits:
    """When a level counts as good (`target_ms`) and when it has collapsed (`collapse_ms`)."""

    target_ms: float = 1500.0
    collapse_ms: float = 3000.0


def collapse_reason(level: dict[str, Any], limits: CapacityLimits) -> str | None:
    """Why this level collapsed, or None when the next level is worth running."""
    p95 = level["voice_to_voice_ms"]["p95"]
    if p95 is None:
        return "no voice-to-voice measured"
    if p95 > limits.collapse_ms:
        return f"p95 voice-to-voice {p95:.0f} ms > {limits.collapse_ms:.0f} ms"
    if level["turns"]["without_turn"]:
        return f"{level['turns']['without_turn']} lead line(s) got no turn"
    if level["failed_calls"]:
        return f"{level['failed_calls']} call(s) failed"
    return None


def meets_target(level: dict[str, Any], limits: CapacityLimits) -> bool:
    p95 = level["voice_to_voice_ms"]["p95"]
    return (p95 is not None and p95 <= limits.target_ms and not level["turns"]["without_turn"]
            and not level["failed_calls"])


def best_level(levels: Sequence[dict[str, Any]], limits: CapacityLimits) -> int | None:
    """The largest concurrency meeting the target (p95 <= target, no lost turns, no failures)."""
    good = [lv["concurrency"] for lv in levels if meets_target(lv, limits)]
    return max(good) if good else None


async def run_level(daemon: DaemonUnderTest, voices: LeadVoices, concurrency: int, *,
                    scenario: str, ramp_s: float, asr: ASRBackend | None) -> dict[str, Any]:
    """`concurrency` calls at once; returns the level's row (lead view + daemon resources)."""
    probe = scenario_named(scenario)
    placed = [await daemon.place_call(scenario) for _ in range(concurrency)]
    sampler = ResourceSampler(daemon.pid)
    rss_before = sampler.rss_mb()
    spacing = ramp_s / concurrency if concurrency > 1 else 0.0
    async with sampler:
        reports = await asyncio.gather(*(
            run_lead(daemon, voices, probe, call, asr, delay_s=i * spacing)
            for i, call in enumerate(placed)))
    rss_after = sampler.rss_mb()
    # read the stored calls only now: polling while calls run would load the daemon under test
    stored = await asyncio.gather(*(daemon.finished_call(call.id) for call in placed))
    runs = [CallRun(*parts) for parts in zip(placed, reports, stored, strict=True)]
    samples = sampler.samples
    summary = summarise_runs(runs)
    failed = sum(1 for r in runs if r.report.error or not r.report.connected
                 or r.call.get("status") != "completed")
    return {
        "concurrency": concurrency,
        **summary,
        "failed_calls": failed,
        "seconds": round(samples.seconds, 1),
        **sampler.cpu_summary(),
        "daemon_rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1),
                          "max": round(max(samples.daemon_rss_mb, default=rss_after), 1)},
    }


async def run_capacity(daemon: DaemonUnderTest, voices: LeadVoices, *,
                       levels: Sequence[int] = DEFAULT_LEVELS, scenario: str = "latency_probe",
                       ramp_s: float = 2.0, limits: CapacityLimits = CapacityLimits(),
                       asr: ASRBackend | None = None, settle_s: float = 3.0,
                       progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run each level in order until one collapses; returns the capacity section."""
    idle_rss = ResourceSampler(daemon.pid).rss_mb()
    rows: list[dict[str, Any]] = []
    stopped: str | None = None
    for concurrency in levels:
        progress(f"capacity: {concurrency} concurrent call(s)")
        row = await run_level(daemon, voices, concurrency, scenario=scenario, ramp_s=ramp_s, asr=asr)
        reason = collapse_reason(row, limits)
        row["collapsed"] = reason
        rows.append(row)
        if reason is not None:
            stopped = f"stopped after {concurrency}: {reason}"
            break
        await asyncio.sleep(settle_s)  # let after-call work (usage, workbooks) drain first
    total_calls = sum(row["calls"] for row in rows)
    final_rss = rows[-1]["daemon_rss_mb"]["after"] if rows else idle_rss
    return {
        "scenario": scenario,
        "levels": rows,
        "target_ms": limits.target_ms,
        "collapse_ms": limits.collapse_ms,
        "ramp_s": ramp_s,
        "max_concurrency_meeting_target": best_level(rows, limits),
        "stopped": stopped,
        "idle_rss_mb": round(idle_rss, 1),
        "rss_growth_per_call_mb": round((final_rss - idle_rss) / total_calls, 2) if total_calls else None,
    }

"""One benchmark run, start to finish: components, then a daemon for the call benchmarks.

Order matters for honesty. Components run first, with no daemon alive, so they measure each
stage alone. Every lead line is synthesised before the daemon starts, so the leads' Piper never
competes with the daemon during a measured call. The single-call benchmark runs before the
capacity levels, on a warm but idle daemon. The daemon is stopped with SIGTERM at the end and
its exit code and logged warnings are part of the result: a benchmark that quietly crashed the
daemon must not publish a number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.capacity import DEFAULT_LEVELS, CapacityLimits, run_capacity
from benchmarks.components import Effort, run_components
from benchmarks.harness import DEFAULT_STRATEGY, DaemonUnderTest, LeadVoices, scenario_named
from benchmarks.meta import (
    code_changed,
    command_line,
    git_state,
    load_warnings,
    machine,
    now_iso,
    providers,
    targets,
)
from benchmarks.single_call import run_single_call

SECTIONS = ("components", "single", "capacity")
QUICK_LEVELS = (1, 5)
SCHEMA = 1


@dataclass(frozen=True)
class BenchOptions:
    """Everything a run can vary; `None` means "the default for this mode" (full or quick)."""

    quick: bool = False
    calls: int | None = None
    levels: tuple[int, ...] | None = None
    sections: frozenset[str] = frozenset(SECTIONS)
    listen: bool = False
    scenario: str = "latency_probe"
    barge_scenario: str | None = "barge_in"
    strategy: Path = DEFAULT_STRATEGY
    ramp_s: float = 2.0
    limits: CapacityLimits = field(default_factory=CapacityLimits)
    data_dir: Path | None = None
    effort: Effort | None = None
    daemon_env: dict[str, str] = field(default_factory=dict)  # settings the daemon is started with

    def resolved(self) -> BenchOptions:
        """Fill the mode's defaults: full (3 calls, 1..40) or quick (1 call, 1 and 5)."""
        unknown = self.sections - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
        if self.calls is not None and self.calls < 1:
            raise ValueError("--calls must be at least 1")
        if self.levels is not None and (not self.levels or min(self.levels) < 1):
            raise ValueError("--levels must be positive integers")
        default_levels = QUICK_LEVELS if self.quick else DEFAULT_LEVELS
        return replace(
            self,
            calls=self.calls if self.calls is not None else (1 if self.quick else 3),
            levels=self.levels if self.levels is not None else default_levels,
            effort=self.effort or (Effort.quick() if self.quick else Effort()),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sections"] = sorted(self.sections)
        data["strategy"] = str(self.strategy)
        data["data_dir"] = str(self.data_dir) if self.data_dir else None
        return data


async def run(options: BenchOptions, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run the selected sections and return the full result (JSON-ready)."""
    opts = options.resolved()
    assert opts.effort is not None and opts.calls is not None and opts.levels is not None
    started = time.monotonic()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": now_iso(),
        "mode": "quick" if opts.quick else "full",
        "command": command_line(),
        "machine": machine(),
        "git": git_state(),
        "options": opts.to_dict(),
    }
    if "components" in opts.sections:
        result["components"] = await run_components(opts.effort, progress)
    health: dict[str, Any] | None = None
    if {"single", "capacity"} & opts.sections:
        health = await _call_benchmarks(opts, result, progress)
    result["providers"] = providers(health, result.get("components"), opts.daemon_env)
    result["targets"] = targets(result)
    result["warnings"] = load_warnings(result)
    moved = code_changed(result["git"], git_state())
    if moved:
        result["warnings"].append(moved)
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


async def _call_benchmarks(opts: BenchOptions, result: dict[str, Any],
                           progress: Callable[[str], None]) -> dict[str, Any] | None:
    """Start a daemon, run the single-call and capacity sections against it, stop it."""
    assert opts.calls is not None and opts.levels is not None
    voices = LeadVoices()
    wanted = [opts.scenario] + ([opts.barge_scenario] if opts.barge_scenario else [])
    progress("synthesising the leads' lines")
    await voices.prepare(scenario_named(name) for name in wanted)
    asr = None
    if opts.listen:
        from daemon.speech.asr import FasterWhisperASR

        asr = FasterWhisperASR(cpu_threads=1, workers=1)
    daemon = DaemonUnderTest(opts.data_dir, env=opts.daemon_env)
    info: dict[str, Any] = {}
    health: dict[str, Any] | None = None
    try:
        progress("starting the daemon")
        clock = time.monotonic()
        await daemon.start()
        info["startup_s"] = round(time.monotonic() - clock, 1)
        progress(f"ingesting {opts.strategy.name} and waiting for its lines to be pre-synthesised")
        clock = time.monotonic()
        await daemon.ingest(opts.strategy)
        info["ingest_and_prewarm_s"] = round(time.monotonic() - clock, 1)
        health = await daemon.health()
        if "single" in opts.sections:
            result["single_call"] = await run_single_call(
                daemon, voices, calls=opts.calls, scenario=opts.scenario,
                barge_scenario=opts.barge_scenario, asr=asr, progress=progress)
        if "capacity" in opts.sections:
            result["capacity"] = await run_capacity(
                daemon, voices, levels=opts.levels, scenario=opts.scenario, ramp_s=opts.ramp_s,
                limits=opts.limits, asr=asr, progress=progress)
    finally:
        progress("stopping the daemon")
        info["exit_code"] = await daemon.stop()
        info["log_problems"], info["log_excerpt"] = daemon.log_problems()
        if info["exit_code"] != 0:
            info["log_tail"] = daemon.log_tail(2000)
        daemon.cleanup()
        await voices.close()
        if asr is not None:
            asr.close()
        result["daemon"] = info
    return health

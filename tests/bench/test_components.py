"""Component benchmarks with tiny iteration counts, and the resource sampler: the code works.

No model is loaded here (ASR and TTS are exercised by the e2e harness test and the real run);
the numbers are only checked for being numbers, never for being fast.
"""

from __future__ import annotations

import asyncio
import os

from benchmarks.components import Effort, codec_bench, mulaw_bench, ops_per_second, run_components, vad_bench
from benchmarks.resources import ResourceSampler


def test_ops_per_second_counts_calls() -> None:
    calls: list[int] = []
    rate = ops_per_second(lambda: calls.append(1), min_s=0.005, repeats=2)
    assert rate > 0 and len(calls) >= 2


def test_micro_benchmarks_report_positive_rates() -> None:
    effort = Effort.tiny()
    mulaw = mulaw_bench(effort)
    assert mulaw["decode_mb_s"] > 0 and mulaw["encode_mb_s"] > 0 and mulaw["frame_decode_per_s"] > 0
    assert vad_bench(effort)["frames_per_s"] > 0
    codec = codec_bench(effort)
    assert codec["parse_per_s"] > 0 and codec["encode_per_s"] > 0 and codec["calls_per_core"] >= 0


def test_run_components_selects_sections_and_reports_progress() -> None:
    seen: list[str] = []
    result = asyncio.run(run_components(Effort.tiny(), seen.append, only={"codec", "vad"}))
    assert set(result) == {"vad", "codec"}
    assert seen == ["component: vad", "component: codec"]


def test_resource_sampler_collects_cpu_rss_and_loop_lag() -> None:
    async def sample() -> ResourceSampler:
        sampler = ResourceSampler(os.getpid(), interval_s=0.05)
        async with sampler:
            await asyncio.sleep(0.3)
        return sampler

    sampler = asyncio.run(sample())
    samples = sampler.samples
    assert samples.daemon_cpu and samples.daemon_rss_mb and samples.bench_lag_ms
    assert min(samples.daemon_rss_mb) > 0 and samples.seconds > 0
    summary = sampler.cpu_summary()
    assert set(summary) == {"daemon_cpu_pct", "bench_cpu_pct", "other_cpu_pct", "bench_loop_lag_ms"}

"""Component benchmarks run end to end with tiny iteration counts: the code works, nothing more.

No model is loaded here (ASR and TTS are exercised by the e2e harness test and the real run);
the numbers are only checked for being numbers, never for being fast.
"""

from __future__ import annotations

import asyncio

from benchmarks.components import Effort, codec_bench, mulaw_bench, ops_per_second, run_components, vad_bench


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

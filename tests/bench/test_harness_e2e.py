"""One real call through the benchmark harness: daemon process, external lead, stored turns.

End to end on purpose: this is the only test that proves the harness measures what it claims
(voice-to-voice at a lead running outside the daemon, latency_ms from the stored turns, one
stored turn per lead line). It asserts on the shape and completeness of the result, never on
durations: how fast this machine is belongs in the published benchmark, not in a test.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.harness import DaemonUnderTest, LeadVoices, scenario_named
from benchmarks.meta import targets
from benchmarks.report import to_markdown
from benchmarks.single_call import run_single_call

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.timeout(180)]


async def test_one_latency_probe_call_is_measured_from_both_ends() -> None:
    voices = LeadVoices()
    await voices.prepare([scenario_named("latency_probe")])
    daemon = DaemonUnderTest()
    try:
        await daemon.start()
        # no waiting for the whole playbook to be pre-synthesised: only the greeting matters here
        await daemon.ingest(prewarm_timeout_s=0)
        single = await run_single_call(daemon, voices, calls=1, barge_scenario=None)
        code = await daemon.stop()
        log = daemon.log_tail()
    finally:
        await daemon.stop()
        daemon.cleanup()
        await voices.close()
    assert code == 0, log
    assert single["problems"] == [], single["problems"]
    call = single["per_call"][0]
    assert call["status"] == "completed"
    assert len(call["lead_lines"]) == 4
    # every line the lead spoke was answered and timed at the lead...
    assert single["voice_to_voice_ms"]["n"] == 4
    assert all(v > 0 for v in call["voice_to_voice_ms"])
    assert single["greeting_first_audio_ms"]["n"] == 1
    # ...and the daemon's own per-stage latency was read back from the stored turns
    assert single["latency_ms"]["total"]["n"] >= 1
    assert single["latency_ms"]["endpoint"]["n"] == single["latency_ms"]["total"]["n"]
    turns = single["turns"]
    assert turns["lines"] == 4 and turns["lead_turns"] >= 1
    result: dict[str, Any] = {"generated_at": "now", "mode": "test", "git": {"commit": None},
              "machine": {"cpu_count": 1, "cpu_model": "x", "memory_gb": 1, "python": "3"},
              "single_call": single}
    result["targets"] = targets(result)
    assert "voice-to-voice at the lead" in to_markdown(result)

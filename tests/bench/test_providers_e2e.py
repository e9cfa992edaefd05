"""One real call through the benchmark harness, with the brain the environment selects.

End to end on purpose: this is the test that proves the harness measures what it claims
(voice-to-voice at a lead running outside the daemon, latency_ms read back from the stored
turns, one stored turn per lead line) and that it measures whichever providers the environment
selects, not only the local stack. The daemon's brain here is an OpenAI-compatible LLM: the real
openai SDK inside the daemon talks to a loopback Chat Completions server that streams its
replies over SSE. The harness must report that brain, count the LLM's first-token latency per
turn, and say the run was not local-only. Durations are never asserted: how fast this machine is
belongs in the published benchmark, not in a test.
"""

from __future__ import annotations

import pytest

from benchmarks.report import to_markdown
from benchmarks.run import BenchOptions, run
from tests.agentcore.fake_openai import FakeOpenAI, StreamReply

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.timeout(240)]

REPLY = "Good question. Plans start at four ninety nine a month. Shall we book a demo?"


async def test_the_harness_measures_a_call_from_both_ends_with_an_openai_compatible_brain() -> None:
    fake = await FakeOpenAI().start()
    fake.enqueue(*[StreamReply(tokens=[word + " " for word in REPLY.split()]) for _ in range(12)])
    options = BenchOptions(quick=True, sections=frozenset({"single"}), barge_scenario=None,
                           daemon_env={"OPENAI_BASE_URL": fake.base_url,
                                       "OPENAI_API_KEY": "sk-bench-test"})
    try:
        result = await run(options)
    finally:
        await fake.close()
    assert result["daemon"]["exit_code"] == 0, result["daemon"].get("log_tail")
    providers = result["providers"]
    assert providers["daemon"]["brain"].startswith("openai-compatible")
    assert providers["local_only"] is False and providers["env"]["OPENAI_BASE_URL"] is True
    assert any(request.get("stream") for request in fake.requests)
    single = result["single_call"]
    assert single["problems"] == [], single["problems"]
    call = single["per_call"][0]
    assert call["status"] == "completed"
    assert len(call["lead_lines"]) == 4
    # every line the lead spoke was answered and timed at the lead...
    assert single["voice_to_voice_ms"]["n"] == single["turns"]["lines"] == 4
    assert all(v > 0 for v in call["voice_to_voice_ms"])
    assert single["greeting_first_audio_ms"]["n"] == 1
    # ...and the daemon's own per-stage latency was read back from the stored turns
    assert single["latency_ms"]["llm_first_token"]["n"] >= 1
    assert single["latency_ms"]["endpoint"]["n"] == single["latency_ms"]["total"]["n"] >= 1
    assert single["turns"]["lead_turns"] >= 1
    assert "voice-to-voice at the lead" in to_markdown(result)
    assert "openai-compatible" in to_markdown(result)

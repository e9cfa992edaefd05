"""The benchmark measures whichever providers the environment selects, not only the local stack.

Here the daemon's brain is an OpenAI-compatible LLM: the real openai SDK inside the daemon talks
to a loopback Chat Completions server that streams its replies over SSE. The harness must report
that brain, count the LLM's first-token latency per turn, and say the run was not local-only.
Durations are never asserted (see test_harness_e2e).
"""

from __future__ import annotations

import pytest

from benchmarks.run import BenchOptions, run
from tests.agentcore.fake_openai import FakeOpenAI, StreamReply

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.timeout(240)]

REPLY = "Good question. Plans start at four ninety nine a month. Shall we book a demo?"


async def test_the_harness_measures_an_openai_compatible_brain() -> None:
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
    assert single["latency_ms"]["llm_first_token"]["n"] >= 1
    assert single["voice_to_voice_ms"]["n"] == single["turns"]["lines"]

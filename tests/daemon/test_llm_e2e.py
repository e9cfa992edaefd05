"""The daemon with an LLM brain: the real openai SDK against a loopback Chat Completions server.

The first lead turn the LLM sees is answered with a streamed reply; every later request gets
HTTP 500, so those turns must be answered by the playbook with a `fallback_triggered` event.
The lead never hears dead air either way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agentcore.fake_openai import FakeOpenAI, StreamReply, Usage
from tests.daemon_proc import REPO, DaemonProcess

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

LLM_TEXT = "Great question. Our plans start at four ninety nine a month. Shall we book a demo?"


class ThreadedFake:
    """FakeOpenAI on its own event loop in a thread, so a subprocess daemon can reach it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()

        async def make() -> FakeOpenAI:
            return await FakeOpenAI().start()

        self.fake = asyncio.run_coroutine_threadsafe(make(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def llm_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Any], FakeOpenAI, list[Any]]]:
    with ThreadedFake() as fake:
        tokens = [w + " " for w in LLM_TEXT.split(" ")]
        fake.enqueue(StreamReply(tokens=tokens, usage=Usage(prompt_tokens=120, completion_tokens=20)))
        proc = DaemonProcess(tmp_path_factory.mktemp("llm") / "data", env={
            "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test",
            "LLM_FIRST_TOKEN_DEADLINE_MS": "3000"})
        proc.start()
        try:
            with proc.client() as c:
                body = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
                assert c.post("/api/v1/strategies", content=body).status_code == 201
                call_id = c.post("/api/v1/calls", json={"phone": "+14155555001", "simulate": True,
                                                        "scenario": "latency_probe"}).json()["id"]
                deadline = time.monotonic() + 120
                call = c.get(f"/api/v1/calls/{call_id}").json()
                while call["status"] != "completed" and time.monotonic() < deadline:
                    time.sleep(0.5)
                    call = c.get(f"/api/v1/calls/{call_id}").json()
                events = c.get("/api/v1/memory", params={"types": "fallback_triggered",
                                                         "call_id": call_id}).json()["events"]
                health = c.get("/healthz").json()
            yield {**call, "_health": health}, fake, events
        finally:
            assert proc.stop() == 0


def test_llm_reply_is_streamed_spoken_and_counted(
    llm_call: tuple[dict[str, Any], FakeOpenAI, list[Any]]
) -> None:
    call, fake, _ = llm_call
    assert call["status"] == "completed"
    agent = [t["text"] for t in call["turns"] if t["role"] == "agent"]
    assert any("four ninety nine" in t for t in agent), agent
    assert call["tokens_used"] == 140
    first = fake.requests[0]
    assert first["model"] == "gpt-4o" and first["stream"] is True
    system = first["messages"][0]
    assert system["role"] == "system" and "Scrappy Singh" in system["content"]
    assert "openai-compatible" in call["_health"]["backends"]["brain"]


def test_api_errors_fall_back_to_the_playbook(
    llm_call: tuple[dict[str, Any], FakeOpenAI, list[Any]]
) -> None:
    call, fake, events = llm_call
    assert len(fake.requests) >= 2, "later turns asked the LLM again and got HTTP 500"
    assert events, "each failed turn logged fallback_triggered"
    lead_turns = [i for i, t in enumerate(call["turns"]) if t["role"] == "lead"]
    for i in lead_turns[:-1]:  # every lead line got a spoken answer (the last one hangs up)
        assert call["turns"][i + 1]["role"] == "agent" and call["turns"][i + 1]["text"]

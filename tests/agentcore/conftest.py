"""Fixtures for the brain's tests: shipped strategies and a loopback OpenAI server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agentcore.inmemory import InMemoryMemorySink
from agentcore.llm import LLMClient, LLMConfig
from agentcore.strategy import Strategy, parse_strategy
from tests.agentcore.fake_openai import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
STRATEGY_FILES = sorted((REPO / "strategies").glob("*.json"))
SEED = REPO / "tests" / "data" / "strategy.seed.json"


def load(name: str) -> Strategy:
    path = SEED if name == "seed" else REPO / "strategies" / f"{name}.json"
    return parse_strategy(path.read_bytes())


@pytest.fixture
def seed() -> Strategy:
    return load("seed")


@pytest.fixture
def sink() -> InMemoryMemorySink:
    return InMemoryMemorySink()


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    yield fake
    await fake.close()


@pytest.fixture
async def make_llm(server: FakeOpenAI) -> AsyncIterator[Callable[..., LLMClient]]:
    """Build LLM clients pointed at the loopback server; all are closed afterwards."""
    made: list[LLMClient] = []

    def make(**overrides: object) -> LLMClient:
        settings: dict[str, object] = {
            "base_url": server.base_url,
            "api_key": "test-key",
            "model_critical": "critical-model",
            "model_cheap": "cheap-model",
            "first_token_deadline_ms": 5000,
            "max_retries": 0,
        }
        settings.update(overrides)
        client = LLMClient(LLMConfig(**settings))  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()

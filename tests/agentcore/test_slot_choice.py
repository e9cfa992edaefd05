"""The lead's words pick the demo slot: part of day, day name, or order."""

from __future__ import annotations

import pytest

from agentcore.sales_agent import SalesAgent
from agentcore.strategy import parse_strategy
from tests.daemon_proc import REPO

STRATEGY = parse_strategy((REPO / "strategies" / "enterprise_saas.json").read_bytes())


@pytest.mark.parametrize(("answer", "slot"), [
    ("Tomorrow morning works for me.", "tomorrow at 11am"),
    ("Tomorrow afternoon is better.", "tomorrow at 4pm"),
    ("Thursday works.", "Thursday at 10am"),
    ("The first one, please.", "tomorrow at 11am"),
    ("Tomorrow at four works for me.", "tomorrow at 4pm"),  # the hour, as a word
    ("Tomorrow at 4 p.m. please.", "tomorrow at 4pm"),
])
async def test_lead_picks_the_slot(answer: str, slot: str) -> None:
    agent = SalesAgent(STRATEGY)
    agent.greeting_text(True)
    for line in ("How much does it cost?", "Sure, I would like to see a demo.", answer):
        await agent.generate_response(line)
    assert agent.outcome_detail["slot"] == slot

"""`expect_any`: did the agent's reply to a step mention one of the keywords?

A step's reply is every agent turn that started after the step's action finished (the line's
last speech frame, the key press, the start of a silence) and before the lead's next action
(a line, key press or hang-up; staying silent is not one) began.

Matching is forgiving on purpose, since the lead hears the agent through ASR: case and
punctuation are ignored ("$499/mo" matches "499") and a keyword matches at the start of a word,
so "month" also matches "monthly" while "ai" does not match "said".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from daemon.simulate.report import AgentTurnReport, ExpectResult
from daemon.simulate.scenario import HangupStep, Scenario, SilenceStep
from daemon.speech.asr import normalise_text


def keyword_heard(keyword: str, heard: str) -> bool:
    """True when `keyword` (normalised) starts at a word boundary inside `heard` (normalised)."""
    needle = normalise_text(keyword)
    if not needle:
        return False
    return re.search(r"(?<!\w)" + re.escape(needle), normalise_text(heard)) is not None


def evaluate_expectations(
    scenario: Scenario,
    step_times: Mapping[int, tuple[float, float]],
    turns: Sequence[AgentTurnReport],
    *,
    listening: bool,
) -> list[ExpectResult]:
    """One result per step with `expect_any`; `step_times[i]` is (action start, action end)."""
    results: list[ExpectResult] = []
    # a silence is not an action the agent answers, so it does not close the reply before it
    acted = sorted(j for j in step_times if not isinstance(scenario.steps[j], SilenceStep))
    for index, step in enumerate(scenario.steps):
        if isinstance(step, HangupStep) or not step.expect_any:
            continue
        keywords = list(step.expect_any)
        if not listening:
            results.append(ExpectResult(index, step.kind, keywords, None, None))
            continue
        if index not in step_times:  # the call ended before this step ran
            results.append(ExpectResult(index, step.kind, keywords, None, False))
            continue
        begin = step_times[index][1]
        end = next((step_times[j][0] for j in acted if j > index), math.inf)
        heard = " ".join(
            t.transcript for t in turns if t.transcript and begin <= t.started_at < end
        ).strip()
        met = any(keyword_heard(k, heard) for k in keywords)
        results.append(ExpectResult(index, step.kind, keywords, heard, met))
    return results

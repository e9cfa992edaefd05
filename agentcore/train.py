"""Learning from calls: memory summaries and the train loop.

Both read the memory trail since their own previous run (the last `summary` / `train_loop`
event marks it), so they work the same whether one agent or a fresh agent per call wrote the
events. Without an LLM they still say something useful, computed from the events: which
objections came up, which common objections had no scripted answer, which questions nobody
could answer, how calls ended.

The train loop's LLM output is untrusted: it must validate against `Improvement` (persona tone
and description, goals, scripts, closing techniques, fallback lines; never subagents, policies,
the persona's name or voice), and the merged strategy must validate again before it is saved
as a NEW version. The old version stays in the store.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentcore.inmemory import InMemoryStrategyStore
from agentcore.llm import LLMError
from agentcore.memory import MemoryEvent
from agentcore.strategy import StrategyError, merge_strategy

if TYPE_CHECKING:
    from agentcore.base_agent import BaseAgent

SUMMARY_EVERY = 5
MAX_EVENTS = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonaDelta(_Strict):
    tone: str | None = None
    tone_override: str | None = None
    description: str | None = None


class ScriptsDelta(_Strict):
    greeting: str | None = None
    pitch: str | None = None
    voicemail: str | None = None
    faqs: dict[str, str] = Field(default_factory=dict)
    objections: dict[str, str] = Field(default_factory=dict)


class Improvement(_Strict):
    """What the cheap model may change. Absent fields mean "keep"."""

    summary: str = Field(min_length=1, description="Why, in one or two sentences.")
    persona: PersonaDelta | None = None
    goals: list[str] | None = None
    scripts: ScriptsDelta | None = None
    closing_techniques: list[str] = Field(default_factory=list,
                                          description="New techniques to add.")
    fallback_scenarios: dict[str, str] = Field(default_factory=dict)

    def patch(self, current_closings: list[str]) -> dict[str, Any]:
        """A partial strategy for `merge_strategy` (closing techniques are appended)."""
        patch: dict[str, Any] = {}
        if self.persona:
            persona = self.persona.model_dump(exclude_none=True)
            if persona:
                patch["persona"] = persona
        if self.goals:
            patch["goals"] = self.goals
        if self.scripts:
            scripts = {k: v for k, v in self.scripts.model_dump(exclude_none=True).items() if v}
            if scripts:
                patch["scripts"] = scripts
        if self.closing_techniques:
            patch["closing_techniques"] = current_closings + self.closing_techniques
        if self.fallback_scenarios:
            patch["fallback_scenarios"] = self.fallback_scenarios
        return patch


def _top(counter: Counter[str], n: int = 5) -> list[tuple[str, int]]:
    """Most common first, ties alphabetical, so reports read the same on every run."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]


def _lead_turns(events: list[MemoryEvent]) -> list[MemoryEvent]:
    return [e for e in events if e.event_type == "turn" and e.payload.get("role") == "lead"]


def compute_report(events: list[MemoryEvent]) -> dict[str, Any]:
    """Counts and concrete suggestions from turn, feedback and fallback events."""
    leads = _lead_turns(events)
    completed = [e for e in events if e.event_type == "turn" and e.payload.get("call_completed")]
    objections: Counter[str] = Counter()
    unscripted: Counter[str] = Counter()
    examples: dict[str, str] = {}
    questions: list[str] = []
    for event in leads:
        intent = str(event.payload.get("intent") or "")
        text = str(event.payload.get("text") or "")
        if intent.startswith("objection:"):
            objections[intent.split(":", 1)[1]] += 1
        elif event.payload.get("concept") and not intent.startswith("faq:"):
            concept = str(event.payload["concept"])
            unscripted[concept] += 1
            examples.setdefault(concept, text)
        if intent == "question" and text not in questions:
            questions.append(text)
    outcomes = Counter(str(e.payload.get("outcome") or "no_outcome") for e in completed)
    turns = [int(e.payload.get("lead_turns") or 0) for e in completed]
    fallbacks = Counter(str(e.payload.get("reason")) for e in events
                        if e.event_type == "fallback_triggered")
    feedback = [str(e.payload.get("text")) for e in events if e.event_type == "feedback"]
    report: dict[str, Any] = {
        "calls": len(completed),
        "lead_turns": len(leads),
        "average_turns": round(sum(turns) / len(turns), 1) if turns else 0.0,
        "top_objections": _top(objections),
        "unscripted_objections": _top(unscripted),
        "unanswered_questions": questions[:5],
        "outcomes": dict(outcomes),
        "fallbacks": dict(fallbacks),
        "feedback": feedback[:20],
    }
    report["suggestions"] = _suggestions(report, examples)
    return report


def _suggestions(report: dict[str, Any], examples: dict[str, str]) -> list[str]:
    out = []
    for concept, count in report["unscripted_objections"]:
        out.append(f"Add an objection answer for '{concept}': heard {count} time(s) with no "
                   f"scripted answer, e.g. \"{examples.get(concept, '')}\".")
    for question in report["unanswered_questions"][:3]:
        out.append(f"Add an FAQ answering \"{question}\" (the agent had to say it did not know).")
    for reason, count in sorted(report["fallbacks"].items()):
        if reason == "low_confidence":
            out.append(f"{count} turn(s) had low ASR confidence: check line quality or the "
                       "ASR model.")
        else:
            out.append(f"The LLM failed {count} time(s) ({reason}); the playbook answered.")
    calls = report["calls"]
    if calls and not report["outcomes"].get("demo_booked"):
        out.append(f"No bookings in {calls} call(s): try a more direct closing technique.")
    out += [f"Review feedback: \"{text}\"" for text in report["feedback"][:5]]
    return out or ["No new calls or feedback since the last run."]


def _computed_text(report: dict[str, Any]) -> str:
    tops = ", ".join(f"{k} ({n})" for k, n in report["top_objections"]) or "none"
    outcomes = ", ".join(f"{k} {n}" for k, n in sorted(report["outcomes"].items())) or "none"
    text = (f"{report['calls']} completed call(s). Top objections: {tops}. "
            f"Outcomes: {outcomes}. Average {report['average_turns']} lead turns per call.")
    if report["unscripted_objections"]:
        text += " Unscripted objections: " + ", ".join(
            f"{k} ({n})" for k, n in report["unscripted_objections"]) + "."
    return text


async def _since(agent: BaseAgent, event_type: str) -> Any:
    last = await agent.memory.recent_events([event_type], limit=1)
    return last[0].created_at if last else None


async def summarize_memory(agent: BaseAgent) -> dict[str, Any]:
    since = await _since(agent, "summary")
    events = await agent.memory.recent_events(["turn", "fallback_triggered"], since=since,
                                              limit=MAX_EVENTS)
    report = compute_report(events)
    payload: dict[str, Any] = {key: report[key] for key in (
        "calls", "average_turns", "top_objections", "unscripted_objections", "outcomes")}
    payload["source"] = "computed"
    payload["text"] = _computed_text(report)
    if agent.llm is not None:
        try:
            result = await agent.llm.complete([
                {"role": "system", "content": "You write a short summary (3 to 5 sentences) of "
                 "objection trends in recent sales calls for a sales manager. Use only the "
                 "numbers and quotes given; do not speculate."},
                {"role": "user", "content": json.dumps(report, default=str)},
            ], cheap=True)
            if result.text.strip():
                payload["text"], payload["source"] = result.text.strip(), "llm"
            agent.tokens_used += result.usage.total_tokens
        except LLMError as exc:
            payload["llm_error"] = exc.reason
    await agent.log_event("summary", payload, importance=2)
    return payload


async def maybe_summarize(agent: BaseAgent) -> dict[str, Any] | None:
    """Summarise when at least `SUMMARY_EVERY` calls completed since the last summary."""
    since = await _since(agent, "summary")
    turns = await agent.memory.recent_events(["turn"], since=since, limit=MAX_EVENTS)
    if sum(1 for e in turns if e.payload.get("call_completed")) < SUMMARY_EVERY:
        return None
    return await summarize_memory(agent)


def _parse_improvement(text: str) -> Improvement:
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    return Improvement.model_validate_json(body)


async def _improve(agent: BaseAgent, report: dict[str, Any]) -> dict[str, Any]:
    assert agent.llm is not None
    document = agent.strategy.to_document()
    document.pop("subagents", None)
    schema = Improvement.model_json_schema()
    result = await agent.llm.complete([
        {"role": "system", "content": "You improve an outbound sales call strategy from call "
         "evidence. Answer with one JSON object matching this schema: " + json.dumps(schema)
         + " Change only what the evidence supports. Never invent product facts (prices, "
         "certifications, features); add an FAQ only if its answer is in the feedback."},
        {"role": "user", "content": json.dumps({"strategy": document, "evidence": report},
                                               default=str)},
    ], cheap=True, use_cache=False, temperature=0.2, max_tokens=1200,
        response_format={"type": "json_object"})
    agent.tokens_used += result.usage.total_tokens
    improvement = _parse_improvement(result.text)
    patch = improvement.patch(list(agent.strategy.closing_techniques))
    if not patch:
        return {"status": "no_change", "improvement": improvement.model_dump(exclude_none=True)}
    updated = merge_strategy(agent.strategy, patch)
    if updated.to_document() == agent.strategy.to_document():
        return {"status": "no_change", "improvement": improvement.model_dump(exclude_none=True)}
    if agent.strategy_store is None:
        agent.strategy_store = InMemoryStrategyStore()
    store = agent.strategy_store
    based_on = agent.strategy_id
    if based_on is None:  # keep the starting point in the history too
        based_on = await store.save_new_version(agent.strategy, based_on=None, reason="baseline")
    new_id = await store.save_new_version(
        updated, based_on=based_on, reason=f"train_loop: {improvement.summary[:200]}")
    agent.train(updated, strategy_id=new_id)
    return {"status": "updated", "improvement": improvement.model_dump(exclude_none=True),
            "strategy_id": new_id, "based_on": based_on}


async def train_loop(agent: BaseAgent) -> dict[str, Any]:
    since = await _since(agent, "train_loop")
    result: dict[str, Any]
    report: dict[str, Any] = {}
    try:
        events = await agent.memory.recent_events(["turn", "feedback", "fallback_triggered"],
                                                  since=since, limit=MAX_EVENTS)
        report = compute_report(events)
        if agent.llm is None:
            result = {"status": "no_change", "suggestions": report["suggestions"]}
        else:
            result = await _improve(agent, report)
    except LLMError as exc:
        result = {"status": "error", "reason": f"llm {exc.reason}: {exc.detail[:200]}"}
    except ValidationError as exc:
        result = {"status": "error", "reason": "the model's improvement did not match the "
                  f"schema: {exc.errors()[0]['msg'] if exc.errors() else exc}"}
    except StrategyError as exc:
        result = {"status": "error", "reason": "the improved strategy is invalid: "
                  + "; ".join(exc.problems)}
    except Exception as exc:  # storage down, a bug: report it, the scheduler must go on
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    result["report"] = report
    result["since"] = since.isoformat() if since else None
    logged = {k: v for k, v in result.items() if k != "report"}
    logged.update(calls=report.get("calls"), feedback=len(report.get("feedback", [])))
    await agent.log_event("train_loop", logged, importance=2)
    return result

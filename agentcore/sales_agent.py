"""SalesAgent: one outbound sales conversation, answered by the LLM or the playbook.

Theory of operation. Every lead utterance goes through, in order:
1. fallback policies (e.g. ASR confidence under the threshold -> ask to repeat);
2. the deterministic turns the LLM is never trusted with: a do-not-call request (compliance)
   and "are you a robot?" (honesty);
3. the LLM, when configured, with the strategy's system prompt, the heard history and the
   tools; any `LLMError` (late first token, HTTP error) falls back to step 4 and logs
   `fallback_triggered`, so the lead never hears dead air;
4. otherwise the playbook (subagents first get a chance at topics they cover).
Whichever brain answers, the playbook's state keeps the stage and outcome, and the reply's
actions are applied after the text exists: hang-ups go through `CallControl` last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agentcore import lines as L
from agentcore.base_agent import BaseAgent, NotTrainedError
from agentcore.conversation import Conversation
from agentcore.intents import Intent
from agentcore.llm import (
    LLMClient,
    LLMDeadlineExceeded,
    LLMError,
    LLMResult,
    Message,
    TokenCallback,
    deliver_token,
)
from agentcore.phones import region_of
from agentcore.playbook import Playbook
from agentcore.prompt import build_system_prompt
from agentcore.protocols import (
    CallControl,
    CRMAdapter,
    MemorySink,
    Messenger,
    Speaker,
    StrategyStore,
)
from agentcore.state import Action, Outcome, Reply, Stage
from agentcore.strategy import FallbackPolicy, Strategy
from agentcore.tools import DECISION_TOOLS, ToolContext, sales_tools
from agentcore.train import maybe_summarize

MAX_TOOL_ROUNDS = 3
_ALWAYS_PLAYBOOK = frozenset({"do_not_call", "ai_check"})


class SalesAgent(BaseAgent):
    """One call's brain. Cheap to construct: no I/O until the first turn."""

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        strategy_id: str | None = None,
        call_id: str | None = None,
        lead_phone: str | None = None,
        lead_name: str | None = None,
        lead_context: dict[str, str] | None = None,
        agent_id: str = "scrappy",
        llm: LLMClient | None = None,
        memory: MemorySink | None = None,
        strategy_store: StrategyStore | None = None,
        speaker: Speaker | None = None,
        messenger: Messenger | None = None,
        call_control: CallControl | None = None,
        crm: CRMAdapter | None = None,
        ai_disclosure: bool = True,
        reply_deadline_seconds: float = 8.0,
        subagent_ttl_seconds: float | None = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lead_phone = lead_phone
        self.lead_name = lead_name
        self.lead_context = dict(lead_context or {})
        self.messenger = messenger
        self.call_control = call_control
        self.crm = crm
        self.ai_disclosure = ai_disclosure
        self.reply_deadline_seconds = reply_deadline_seconds
        self.conversation = Conversation()
        self.playbook: Playbook | None = None
        self._active_stream: Any = None
        self._call_completed = False
        super().__init__(strategy, strategy_id=strategy_id, call_id=call_id, agent_id=agent_id,
                         llm=llm, memory=memory, strategy_store=strategy_store, speaker=speaker,
                         subagent_ttl_seconds=subagent_ttl_seconds, clock=clock)

    def _on_trained(self) -> None:
        if self.playbook is None:
            self.playbook = Playbook(self.strategy)
        else:
            self.playbook.retrain(self.strategy)
        self.tool_registry = sales_tools(ToolContext(
            strategy=lambda: self.strategy, lead_phone=self.lead_phone,
            region=region_of(self.strategy.persona.locale), messenger=self.messenger,
            crm=self.crm))

    @property
    def book(self) -> Playbook:
        if self.playbook is None:
            raise NotTrainedError("call train(strategy) first")
        return self.playbook

    # --- state --------------------------------------------------------------------------------
    @property
    def stage(self) -> Stage:
        return self.book.state.stage

    @property
    def outcome(self) -> Outcome | None:
        return self.book.state.outcome

    @property
    def outcome_detail(self) -> dict[str, Any]:
        return dict(self.book.state.outcome_detail)

    # --- lines the session needs --------------------------------------------------------------
    def greeting_text(self, ai_disclosure: bool | None = None) -> str:
        """The opening line, with an AI disclosure unless disabled; recorded as heard."""
        disclose = self.ai_disclosure if ai_disclosure is None else ai_disclosure
        text = self.book.greeting(disclose)
        self.conversation.agent(text)
        return text

    def voicemail_text(self) -> str:
        return self.book.voicemail(self.ai_disclosure)

    def all_lines(self) -> list[str]:
        """Every fixed line the playbook may say (pre-synthesise these at ingest)."""
        return self.book.all_lines()

    def record_heard(self, text_played: str) -> None:
        """Barge-in: the lead heard only `text_played` of the last reply. Call this before
        passing the lead's next utterance."""
        self.conversation.record_heard(text_played)

    def cancel_active_stream(self) -> bool:
        stream, self._active_stream = self._active_stream, None
        if stream is None:
            return False
        stream.cancel()
        return True

    # --- one turn -----------------------------------------------------------------------------
    async def generate_response(
        self,
        text: str,
        stream: bool = False,
        on_token: TokenCallback | None = None,
        *,
        confidence: float | None = None,
    ) -> Reply:
        book = self.book  # raises NotTrainedError before anything is recorded
        self.cancel_active_stream()  # a new utterance supersedes a reply still streaming
        text = str(text or "").strip()
        self.conversation.lead(text)
        intent = book.classify(text)
        await self.log_turn("lead", text, confidence=confidence, intent=intent.label,
                            concept=intent.concept, stage=self.stage)
        reply = await self._decide(text, intent, stream, on_token, confidence)
        if reply.interrupted:
            self.conversation.agent_pending()
        else:
            self.conversation.agent(reply.text)
        self.tokens_used += reply.tokens_used
        await self.log_turn("agent", reply.text, intent=reply.intent, stage=reply.stage,
                            source=reply.source, outcome=reply.outcome,
                            outcome_detail=reply.outcome_detail,
                            actions=[a.name for a in reply.actions],
                            tokens_used=reply.tokens_used, interrupted=reply.interrupted,
                            llm_first_token_ms=reply.llm_first_token_ms,
                            fallback_reason=reply.fallback_reason)
        await self._apply(reply)
        return reply

    async def _decide(self, text: str, intent: Intent, stream: bool,
                      on_token: TokenCallback | None, confidence: float | None) -> Reply:
        policy = self._policy("confidence_below")
        threshold = policy.effective_threshold() if policy else None
        if (policy and threshold is not None and confidence is not None
                and confidence < threshold and self.stage is not Stage.ENDED):
            reply = await self._apply_policy(policy, text, intent)
            await self.log_event("fallback_triggered", {
                "reason": "low_confidence", "confidence": confidence, "threshold": threshold,
                "action": policy.action, "text": text}, importance=2)
            return await self._deliver(reply, stream, on_token)
        if self.llm is None or intent.name in _ALWAYS_PLAYBOOK or self.stage is Stage.ENDED:
            return await self._deliver(await self._playbook_turn(text, intent), stream, on_token)
        try:
            return await self._llm_turn(intent, stream, on_token)
        except LLMError as exc:
            self._active_stream = None
            llm_policy = self._policy("llm_")  # e.g. llm_timeout -> use_fallback_scenario
            if llm_policy and llm_policy.action not in ("switch_to_playbook",
                                                        "prompt_for_clarification"):
                reply = await self._apply_policy(llm_policy, text, intent)
            else:
                reply = await self._playbook_turn(text, intent)
            reply.fallback_reason = exc.reason
            await self.log_event("fallback_triggered", {
                "reason": exc.reason, "detail": exc.detail[:300], "status": exc.status,
                "text": text, "answered_by": reply.source}, importance=3)
            return await self._deliver(reply, stream, on_token)

    def _policy(self, prefix: str) -> FallbackPolicy | None:
        return next((p for p in self.strategy.fallback_policies
                     if p.trigger.lower().startswith(prefix)), None)

    async def _apply_policy(self, policy: FallbackPolicy, text: str, intent: Intent) -> Reply:
        book = self.book
        if policy.action == "prompt_for_clarification":
            return book.clarify()
        scenarios = self.strategy.fallback_scenarios
        if policy.action == "use_fallback_scenario" and scenarios:
            # the topic's own scenario, else the catch-all one, else the first written
            line = scenarios.get(intent.key or "") or book.voice.generic_scenario \
                or next(iter(scenarios.values()))
            return book.respond_with(line, intent)
        if policy.action == "handoff_to_subagent":
            extra = policy.model_extra or {}
            names = [str(extra["subagent"])] if extra.get("subagent") else self.subagents.names()
            for name in names:
                done = await self.delegate(name, {"text": text, "intent": intent.label})
                said = (done.get("result") or {}).get("reply")
                if done["status"] == "ok" and isinstance(said, str) and said:
                    reply = book.respond_with(said, intent)
                    reply.source = "subagent"
                    reply.actions.append(Action("delegate", {"subagent": name}))
                    return reply
        if policy.action == "end_call":
            return book.farewell()
        return book.respond(text, intent)

    async def _playbook_turn(self, text: str, intent: Intent) -> Reply:
        open_talk = intent.name == "statement" and self.book.state.awaiting is None
        if intent.name == "question" or open_talk:
            found = self.subagents.find_topic(text)
            if found is not None:
                name, topic = found
                done = await self.delegate(name, {"text": text, "topic": topic})
                line = (done.get("result") or {}).get("reply")
                if done["status"] == "ok" and isinstance(line, str) and line:
                    reply = self.book.respond_with(line, intent)
                    reply.source = "subagent"
                    reply.actions.append(Action("delegate", {"subagent": name, "topic": topic}))
                    return reply
            if intent.name == "question" and (policy := self._policy("unknown_question")):
                return await self._apply_policy(policy, text, intent)
        return self.book.respond(text, intent)

    @staticmethod
    async def _deliver(reply: Reply, stream: bool, on_token: TokenCallback | None) -> Reply:
        if stream:
            await deliver_token(on_token, reply.text)
        return reply

    async def _llm_turn(self, intent: Intent, stream: bool,
                        on_token: TokenCallback | None) -> Reply:
        assert self.llm is not None
        system = build_system_prompt(self.strategy, stage=self.stage, lead_name=self.lead_name,
                                     lead_context=self.lead_context,
                                     ai_disclosure=self.ai_disclosure)
        messages: list[Message] = [{"role": "system", "content": system},
                                   *self.conversation.messages()]
        schemas = self.tool_registry.openai_schemas()
        texts: list[str] = []
        actions: list[Action] = []
        tokens, first_ms = 0, None
        for _ in range(MAX_TOOL_ROUNDS):
            try:
                result = await self._llm_round(messages, schemas, stream, on_token, bool(texts))
            except LLMError as exc:
                if exc.partial.strip():
                    texts.append(exc.partial.strip())
                if not texts:
                    raise
                # the lead already heard part of an answer: end the turn there, no restart
                await self.log_event("fallback_triggered", {
                    "reason": exc.reason, "detail": exc.detail[:300], "status": exc.status,
                    "answered_by": "llm_partial"}, importance=3)
                break
            tokens += result.usage.total_tokens
            first_ms = first_ms if first_ms is not None else result.first_token_ms
            if result.text.strip():
                texts.append(result.text.strip())
            if result.cancelled:
                # decisions already taken stand; a hang-up does not: the lead is talking
                kept = [a for a in actions if a.name != "end_call"]
                self.book.apply_actions(kept)
                return Reply(" ".join(texts), self.stage, "llm", intent.label, self.outcome,
                             self.outcome_detail, kept, tokens_used=tokens,
                             llm_first_token_ms=first_ms, interrupted=True)
            if not result.tool_calls:
                break
            messages.append({"role": "assistant", "content": result.text or None,
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.name,
                                                          "arguments": c.arguments}}
                                            for c in result.tool_calls]})
            needs_model = False
            for call in result.tool_calls:
                outcome = await self.tool_registry.call(call.name, call.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": outcome.content()})
                if outcome.ok and call.name in DECISION_TOOLS:
                    actions.append(Action(call.name, outcome.args, outcome.data))
                needs_model = needs_model or not outcome.ok or call.name not in DECISION_TOOLS
            if texts and not needs_model:
                break
        text = " ".join(texts) or self._line_for(actions)
        if not texts and stream:
            await deliver_token(on_token, text)
        self.book.observe(intent, text, actions)
        return Reply(text, self.stage, "llm", intent.label, self.outcome, self.outcome_detail,
                     actions, tokens, first_ms)

    async def _llm_round(self, messages: list[Message], schemas: list[dict[str, Any]],
                         stream: bool, on_token: TokenCallback | None,
                         said_before: bool) -> LLMResult:
        assert self.llm is not None
        if not stream:
            try:
                return await asyncio.wait_for(self.llm.complete(messages, tools=schemas),
                                              self.reply_deadline_seconds)
            except TimeoutError:
                raise LLMDeadlineExceeded(
                    "deadline", f"no reply within {self.reply_deadline_seconds} s") from None
        llm_stream = self.llm.stream(messages, tools=schemas)
        self._active_stream = llm_stream
        pending_space = said_before

        async def forward(token: str) -> None:
            nonlocal pending_space
            if pending_space:  # keep rounds apart for the sentence chunker
                pending_space = False
                await deliver_token(on_token, " ")
            await deliver_token(on_token, token)

        try:
            return await llm_stream.run(forward)
        finally:
            if self._active_stream is llm_stream:
                self._active_stream = None

    def _line_for(self, actions: list[Action]) -> str:
        """Words for tool calls the model made without saying anything."""
        names = [a.name for a in actions]
        for action in actions:
            if action.name == "book_demo":
                slot = str(action.args.get("slot", ""))
                return L.BOOKED.format(booking=self.book.voice.booking, slot=L.slot_phrase(slot))
            if action.name == "schedule_callback":
                return L.CALLBACK_CONFIRM.format(when=action.args.get("when", "later"))
        return L.GOODBYE if "end_call" in names else L.CLARIFY

    async def _apply(self, reply: Reply) -> None:
        for action in reply.actions:
            if action.name == "capture_feedback":
                await self.log_feedback(str(action.args.get("text", "")), source="lead")
            elif action.name == "end_call" and self.call_control is not None:
                try:
                    await self.call_control.end_call(str(action.args.get("reason") or "ended"))
                except Exception as exc:
                    await self.log_event("fallback_triggered", {"reason": "hangup_failed",
                                                                "error": str(exc)[:300]},
                                         importance=3)

    async def complete_call(self) -> dict[str, Any] | None:
        """The call is over (hang-up, stop event). Records the outcome and, after every fifth
        completed call, writes a memory summary (returned)."""
        if self._call_completed:
            return None
        self._call_completed = True
        await self.log_event("turn", {
            "role": "system", "text": "", "call_completed": True,
            "outcome": self.outcome.value if self.outcome else None,
            "outcome_detail": self.outcome_detail, "stage": self.stage.value,
            "lead_turns": self.conversation.count("lead"), "tokens_used": self.tokens_used})
        return await maybe_summarize(self)

"""The offline brain: a deterministic sales conversation built only from the strategy.

Theory of operation. Each lead utterance is classified (`agentcore.intents`), then handled in
two steps: first what the agent is waiting for (`awaiting`: a demo slot, a callback time, an
answer to "anything else?") gets a chance to consume it; otherwise the intent's handler
answers. Most answers end with a "next move" that walks the ladder greeting -> discovery
questions -> pitch -> closing technique -> booking -> wrap-up (`agentcore.moves`), so the
agent always pursues the goal and always hands the lead a question. Facts come only from the
strategy's scripts; the glue comes from `agentcore.lines`. The playbook also runs behind the
LLM: it is the instant answer when the model is late or down, and it keeps the stage and
outcome either way.
"""

from __future__ import annotations

import json
import re

from agentcore import lines as L
from agentcore.intents import Intent, IntentClassifier, normalise, stems
from agentcore.moves import SLOT_ANSWERS, Moves, PlaybookState, Turn, lower_first
from agentcore.state import Action, Outcome, Reply, Stage
from agentcore.strategy import Strategy
from agentcore.timeexpr import find_time_expression

__all__ = ["Playbook", "PlaybookState"]


class Playbook(Moves):
    """Deterministic replies for one call. Construct per call; no I/O."""

    def __init__(self, strategy: Strategy) -> None:
        self.state = PlaybookState()
        self.retrain(strategy)

    def retrain(self, strategy: Strategy) -> None:
        """Swap the strategy mid-call (webhook merge) and keep the conversation state."""
        self.strategy = strategy
        self.voice = L.Voice.of(strategy)
        self.classifier = IntentClassifier(strategy)
        self.booking_goal = L.has_booking_goal(strategy)
        self.known_words = frozenset(stems(json.dumps(strategy.to_document())))
        self.feedback_goal = L.wants_feedback(strategy)

    # --- public -------------------------------------------------------------------------------
    def classify(self, text: str) -> Intent:
        return self.classifier.classify(text)

    def greeting(self, ai_disclosure: bool = True) -> str:
        self.state.greeted = True
        self.state.last_line = self.voice.greeting_line(ai_disclosure)
        return self.state.last_line

    def voicemail(self, ai_disclosure: bool = True) -> str:
        return self.voice.voicemail_line(ai_disclosure)

    def all_lines(self) -> list[str]:
        """Every complete line the playbook can say without filling in a time, for TTS
        pre-synthesis. Composite replies are built from these pieces."""
        s = self.strategy
        pieces = self.voice.static_lines() + list(s.scripts.faqs.values())
        pieces += list(s.scripts.objections.values()) + list(s.fallback_scenarios.values())
        return list(dict.fromkeys(p for p in pieces if p))

    def clarify(self, reason: str = "low_confidence") -> Reply:
        """Ask the lead to repeat (e.g. ASR confidence under the policy threshold)."""
        return self._finish(Turn(reason).say(L.CLARIFY))

    def respond(self, text: str, intent: Intent | None = None) -> Reply:
        intent = intent or self.classify(text)
        turn = Turn(intent.label)
        st = self.state
        if st.stage is Stage.ENDED:
            return self._finish(turn.say(L.AFTER_END))
        if intent.name != "unclear":
            st.unclear_streak = 0
        if not self._awaited(turn, intent, text):
            getattr(self, f"_on_{intent.name}", self._on_statement)(turn, intent, text)
        return self._finish(turn)

    def farewell(self) -> Reply:
        """End the call politely now (a policy's `end_call` action)."""
        turn = Turn("goodbye")
        self._on_goodbye(turn, Intent("goodbye"), "")
        return self._finish(turn)

    def respond_with(self, line: str, intent: Intent) -> Reply:
        """Say a line found elsewhere (a subagent's answer), then carry on the conversation."""
        turn = Turn(intent.label).say(line)
        self._reask(turn)
        return self._finish(turn)

    def observe(self, intent: Intent, text: str, actions: list[Action]) -> None:
        """Keep stage and outcome when the LLM answered the turn instead of the playbook."""
        proposed = {
            "faq": Stage.PITCH, "pitch_request": Stage.PITCH, "scenario": Stage.PITCH,
            "question": Stage.PITCH, "objection": Stage.OBJECTION,
            "not_interested": Stage.OBJECTION, "demo_request": Stage.CLOSING,
        }.get(intent.name, Stage.DISCOVERY)
        self._stage(proposed)
        self.apply_actions(actions)
        self.state.last_line = text

    # --- what we were waiting for -------------------------------------------------------------
    def _awaited(self, turn: Turn, intent: Intent, text: str) -> bool:
        st = self.state
        steering = intent.name in ("do_not_call", "ai_check", "identity", "callback", "repeat",
                                   "faq", "objection", "scenario", "goodbye")
        if st.awaiting == "slot":
            slot = self._slot_from(text, intent)
            if slot and intent.name in SLOT_ANSWERS:
                self._book(turn, slot)
                return True
            if intent.name in ("affirm", "demo_request"):
                if self.voice.slots:
                    st.slots_offered += 1
                    turn.say(L.OFFER_SLOTS.format(slots=L.join_or(list(self.voice.slots))))
                else:
                    turn.say(L.ASK_TIME)
                self._stage(Stage.CLOSING)
                return True
            return False
        if steering and intent.name != "goodbye" and not (
                st.awaiting == "discovery" and intent.name == "faq" and not intent.is_question):
            return False
        if st.awaiting == "callback_time":
            if intent.name == "goodbye" or not intent.when:
                self._schedule_callback(turn, None)
            else:
                self._schedule_callback(turn, intent.when)
            return True
        if st.awaiting == "callback_offer" and intent.name in ("affirm", "deny", "not_interested",
                                                                "statement"):
            if intent.name in ("deny", "not_interested"):
                self._not_interested_end(turn)
            elif intent.when:
                self._schedule_callback(turn, intent.when)
            else:
                st.awaiting = "callback_time"
                turn.say(L.ASK_CALLBACK_TIME)
            return True
        if st.awaiting == "anything_else":
            if intent.name in ("deny", "goodbye", "not_interested"):
                self._on_goodbye(turn, intent, text)
            elif intent.name == "affirm":
                st.awaiting = None
                turn.say(L.WHAT_ELSE)
            elif intent.name == "statement" and self.feedback_goal:
                turn.actions.append(Action("capture_feedback", {"text": text}))
                turn.say(L.FEEDBACK_THANKS, L.ANYTHING_ELSE)
            else:
                return False
            return True
        answer = intent.name in ("statement", "affirm", "deny", "unclear") or (
            intent.name == "faq" and not intent.is_question)  # "about $200 a month"
        if st.awaiting == "discovery" and answer:
            st.awaiting = None
            turn.say(L.DISCOVERY_ACK)
            self._next_move(turn)
            return True
        if st.awaiting == "interest" and intent.name in ("affirm", "statement"):
            self._close(turn)
            return True
        return False

    # --- intent handlers ----------------------------------------------------------------------
    def _on_do_not_call(self, turn: Turn, intent: Intent, text: str) -> None:
        self.state.outcome = Outcome.DO_NOT_CALL
        self.state.outcome_detail = {}
        turn.say(L.DO_NOT_CALL)
        self._end(turn, "do_not_call")

    def _on_ai_check(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(self.voice.fill(L.AI_HONEST))
        self._reask(turn)

    def _on_identity(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(self.voice.fill(L.IDENTITY))
        self._reask(turn)

    def _on_callback(self, turn: Turn, intent: Intent, text: str) -> None:
        if intent.when:
            self._schedule_callback(turn, intent.when)
        else:
            self.state.awaiting = "callback_time"
            turn.say(L.ASK_CALLBACK_TIME)

    def _on_repeat(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(self.state.last_line or L.CLARIFY)

    def _on_faq(self, turn: Turn, intent: Intent, text: str) -> None:
        faqs = self.strategy.scripts.faqs
        unconfirmed = unconfirmed_subject(text, self.known_words)
        if unconfirmed:  # "Do you integrate with SAP?" and the strategy never names SAP
            turn.say(L.CANNOT_CONFIRM.format(thing=unconfirmed))
        for key in [intent.key or "", *intent.others("faq")][:2]:
            if key not in faqs:
                continue
            answer = faqs[key]
            repeated = key in self.state.faqs_answered
            turn.say(L.ALREADY_SAID + lower_first(answer) if repeated else answer)
            self.state.faqs_answered.append(key)
        self._stage(Stage.DISCOVERY)
        if not turn.parts or not turn.parts[-1].endswith("?"):
            self._reask(turn, move_on=True)

    def _on_objection(self, turn: Turn, intent: Intent, text: str) -> None:
        st = self.state
        key = intent.key or ""
        script = self.strategy.scripts.objections.get(key, "")
        if key in st.objections_handled and "interest" in key:
            self._decline(turn, intent, final=True)
            return
        st.objections_handled.append(key)
        self._stage(Stage.OBJECTION)
        turn.say(script)
        if script.endswith("?"):
            offered = find_time_expression(script)
            st.awaiting = "slot" if offered or self.booking_goal else "interest"
            st.offered_time = offered or st.offered_time
        else:
            self._reask(turn, move_on=True)

    def _on_scenario(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(self.strategy.fallback_scenarios.get(intent.key or "", ""))
        self._reask(turn)

    def _on_demo_request(self, turn: Turn, intent: Intent, text: str) -> None:
        slot = self._slot_from(text, intent)
        if slot:
            self._book(turn, slot)
        else:
            self._close(turn)

    def _on_pitch_request(self, turn: Turn, intent: Intent, text: str) -> None:
        if self.state.pitched or not self.voice.pitch:
            turn.say(L.PITCH_AGAIN + self.voice.pitch if self.voice.pitch else "")
            self._close(turn)
        else:
            self._pitch(turn)

    def _on_not_interested(self, turn: Turn, intent: Intent, text: str) -> None:
        self._decline(turn, intent)

    def _on_goodbye(self, turn: Turn, intent: Intent, text: str) -> None:
        st = self.state
        if st.outcome is Outcome.DEMO_BOOKED and st.outcome_detail.get("slot"):
            turn.say(L.GOODBYE_BOOKED.format(slot=st.outcome_detail["slot"]))
        else:
            turn.say(L.GOODBYE)
        self._end(turn, "goodbye")

    def _on_greeting(self, turn: Turn, intent: Intent, text: str) -> None:
        st = self.state
        if not st.greeted:
            turn.say(self.greeting())
        elif intent.mentions("affirm"):  # "yeah, hi" to "do you have a minute?"
            self._next_move(turn)
        elif st.stage is Stage.GREETING:
            turn.say(self.voice.fill(L.HI_AGAIN), L.OPENER_QUESTION)
        else:
            turn.say("Yes, I'm here.")
            self._reask(turn)

    def _on_affirm(self, turn: Turn, intent: Intent, text: str) -> None:
        self._next_move(turn)

    def _on_deny(self, turn: Turn, intent: Intent, text: str) -> None:
        if self.state.stage is Stage.GREETING:
            self.state.awaiting = "callback_time"
            turn.say(L.ASK_CALLBACK_TIME)
        else:
            self._decline(turn, intent)

    def _on_question(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(self.voice.dont_know())
        self._reask(turn)

    def _on_statement(self, turn: Turn, intent: Intent, text: str) -> None:
        turn.say(L.ACK)
        self._next_move(turn)

    def _on_unclear(self, turn: Turn, intent: Intent, text: str) -> None:
        st = self.state
        st.unclear_streak += 1
        if st.unclear_streak == 1:
            turn.say(L.CLARIFY)
        elif st.unclear_streak == 2:
            turn.say(L.CLARIFY_AGAIN)
            self._reask(turn)
        else:
            st.awaiting = "callback_offer"
            turn.say(L.BAD_LINE)


# what a lead asks us to work with: "integrate with SAP", "support Outlook", "sync into Zoho"
_ASKED_FOR = frozenset({"with", "support", "supports", "into"})
_FILLER = frozenset({"it", "that", "this", "our", "my", "your", "the", "a", "an", "us", "me",
                     "them", "you", "we", "please", "too", "also", "as", "well", "both"})


def unconfirmed_subject(text: str, known_words: frozenset[str]) -> str | None:
    """The thing a question asks about, when the strategy never mentions it (else None).

    The playbook answers only from the strategy, so for "Do you integrate with SAP?" it must
    not let the integrations FAQ sound like a yes: it says it cannot confirm SAP and will
    follow up, then gives what the strategy does say.
    """
    words = normalise(text).split()
    starts = [i for i, w in enumerate(words) if w in _ASKED_FOR]
    if not starts:
        return None
    subject = [w for w in words[starts[-1] + 1:][:4] if w not in _FILLER][:3]
    if not subject or all(t in known_words for t in stems(" ".join(subject))):
        return None
    as_written = re.search(r"\s+".join(re.escape(w) for w in subject), text, re.IGNORECASE)
    return as_written.group(0) if as_written else " ".join(subject)

"""The sales ladder: the moves the playbook makes after answering what the lead said.

greeting -> discovery questions -> pitch -> closing technique -> booking -> wrap-up -> ended.
Whatever the lead says, the playbook answers it and then takes the next rung (or asks again
the question it is waiting on), so every reply pursues the goal and ends with something for
the lead to answer. Split from `agentcore.playbook` so each file holds one idea: this one how
the conversation moves forward, that one how to react to an utterance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentcore import lines as L
from agentcore.intents import Intent, tokens
from agentcore.state import Action, Outcome, Reply, Stage, advance
from agentcore.strategy import Strategy
from agentcore.timeexpr import complete_with_day, find_time_expression

_ORDINALS = {"first": 0, "1st": 0, "earlier": 0, "earliest": 0, "second": 1, "2nd": 1,
             "third": 2, "3rd": 2, "last": -1, "later": -1, "latest": -1}
_PROPER = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
                     r"nov|dec)", re.IGNORECASE)
# Intents that may carry a chosen slot ("tomorrow at 3 works"); "I'm busy tomorrow" may not.
SLOT_ANSWERS = frozenset({"affirm", "statement", "demo_request", "question", "greeting", "unclear"})


@dataclass
class PlaybookState:
    """Where the conversation is. Shared truth for both brains."""

    stage: Stage = Stage.GREETING
    greeted: bool = False
    pitched: bool = False
    discovery_asked: int = 0
    closings_offered: int = 0
    slots_offered: int = 0
    awaiting: str | None = None
    offered_time: str | None = None
    outcome: Outcome | None = None
    outcome_detail: dict[str, Any] = field(default_factory=dict)
    faqs_answered: list[str] = field(default_factory=list)
    objections_handled: list[str] = field(default_factory=list)
    declines: int = 0
    unclear_streak: int = 0
    last_line: str = ""


@dataclass
class Turn:
    """One reply under construction: sentences to say and actions decided."""

    intent: str
    parts: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    def say(self, *texts: str) -> Turn:
        self.parts.extend(t for t in texts if t)
        return self


def lower_first(text: str) -> str:
    """"Tomorrow at 3" -> "tomorrow at 3" mid-sentence; weekdays and months keep capitals."""
    if len(text) > 1 and text[0].isupper() and text[1].islower() and not _PROPER.match(text):
        return text[0].lower() + text[1:]
    return text


class Moves:
    """Moves shared by the playbook's handlers. Subclasses set the attributes below."""

    strategy: Strategy
    voice: L.Voice
    state: PlaybookState
    booking_goal: bool
    feedback_goal: bool

    def apply_actions(self, actions: list[Action]) -> None:
        """Record what tools did: a booking, a callback, a hang-up."""
        st = self.state
        for action in actions:
            if action.name == "book_demo":
                st.outcome = Outcome.DEMO_BOOKED
                st.outcome_detail = {"slot": action.args.get("slot"), "booking": self.voice.booking}
                self._stage(Stage.WRAP_UP)
            elif action.name == "schedule_callback" and st.outcome is not Outcome.DEMO_BOOKED:
                st.outcome = Outcome.CALLBACK_SCHEDULED
                st.outcome_detail = {"when": action.args.get("when")}
                self._stage(Stage.WRAP_UP)
            elif action.name == "end_call":
                reason = action.args.get("reason")
                if reason == "do_not_call":
                    st.outcome = Outcome.DO_NOT_CALL
                elif reason == "not_interested" and st.outcome is None:
                    st.outcome = Outcome.NOT_INTERESTED
                self._stage(Stage.ENDED)

    # --- moves --------------------------------------------------------------------------------
    def _next_move(self, turn: Turn) -> None:
        st, voice = self.state, self.voice
        if st.outcome is not None:
            st.awaiting = "anything_else"
            turn.say(L.ANYTHING_ELSE_FEEDBACK if self.feedback_goal else L.ANYTHING_ELSE)
            self._stage(Stage.WRAP_UP)
        elif (not st.pitched and st.discovery_asked < min(2, len(voice.discovery))):
            turn.say(voice.discovery[st.discovery_asked])
            st.discovery_asked += 1
            st.awaiting = "discovery"
            self._stage(Stage.DISCOVERY)
        elif not st.pitched and voice.pitch:
            self._pitch(turn)
        else:
            self._close(turn)

    def _reask(self, turn: Turn, move_on: bool = False) -> None:
        """Hand the lead the pending question again, or make the next move."""
        st = self.state
        if st.awaiting == "slot":
            turn.say(self._slot_question())
        elif st.awaiting == "callback_time":
            turn.say(L.ASK_CALLBACK_TIME)
        elif st.awaiting == "anything_else":
            turn.say(L.ANYTHING_ELSE)
        elif st.awaiting == "discovery" and not move_on:
            turn.say(self.voice.discovery[st.discovery_asked - 1])
        elif st.stage is Stage.GREETING and not move_on:
            turn.say(L.OPENER_QUESTION)
        else:
            self._next_move(turn)

    def _pitch(self, turn: Turn) -> None:
        self.state.pitched = True
        self.state.awaiting = "interest"
        turn.say(self.voice.pitch, L.INTEREST_QUESTION)
        self._stage(Stage.PITCH)

    def _close(self, turn: Turn) -> None:
        st = self.state
        st.pitched = True
        st.awaiting = "slot"
        turn.say(self._slot_question())
        self._stage(Stage.CLOSING)

    def _slot_question(self) -> str:
        st, voice = self.state, self.voice
        if st.closings_offered < len(voice.closings):
            line = voice.closings[st.closings_offered]
            st.closings_offered += 1
            st.offered_time = find_time_expression(line) or st.offered_time
            return line
        st.closings_offered += 1
        if voice.slots:
            st.slots_offered += 1
            if st.slots_offered > 1:
                return L.SLOTS_AGAIN
            return L.OFFER_SLOTS.format(slots=L.join_or(list(voice.slots)))
        if st.offered_time:
            return f"Would {lower_first(st.offered_time)} work for a quick {voice.booking}?"
        return f"Would you like to set up a quick {voice.booking}?"

    def _slot_from(self, text: str, intent: Intent) -> str | None:
        slots = list(self.voice.slots)
        words = tokens(text)
        if slots:
            for word in words:
                index = _ORDINALS.get(word)
                if index is not None and -len(slots) <= index < len(slots):
                    return slots[index]
            scored = [(len(set(tokens(s)) & set(words)) + _part_of_day_match(s, words)
                       + _hour_match(s, words), -i, s) for i, s in enumerate(slots)]
            best = max(scored)  # ties go to the slot offered first
            if best[0] >= 2 or (best[0] == 1 and intent.when):
                return best[2]
        if intent.when:
            return complete_with_day(intent.when, self.state.offered_time)
        return None

    def _book(self, turn: Turn, slot: str) -> None:
        slot = lower_first(slot)
        action = Action("book_demo", {"slot": slot})
        turn.actions.append(action)
        self.apply_actions([action])
        turn.say(L.BOOKED.format(booking=self.voice.booking, slot=L.slot_phrase(slot)))
        self._next_move(turn)

    def _schedule_callback(self, turn: Turn, when: str | None) -> None:
        action = Action("schedule_callback", {"when": when})
        turn.actions.append(action)
        self.apply_actions([action])
        turn.say(L.CALLBACK_CONFIRM.format(when=when) if when else L.CALLBACK_NO_TIME)
        self._end(turn, "callback")

    def _decline(self, turn: Turn, intent: Intent, final: bool = False) -> None:
        st = self.state
        st.declines += 1
        if st.declines == 1 and not final and not intent.mentions("goodbye"):
            st.awaiting = "callback_offer"
            self._stage(Stage.OBJECTION)
            turn.say(L.SOFT_RECHECK)
        else:
            self._not_interested_end(turn)

    def _not_interested_end(self, turn: Turn) -> None:
        if self.state.outcome is None:
            self.state.outcome = Outcome.NOT_INTERESTED
        turn.say(L.NOT_INTERESTED_END)
        self._end(turn, "not_interested")

    def _end(self, turn: Turn, reason: str) -> None:
        self.state.awaiting = None
        turn.actions.append(Action("end_call", {"reason": reason}))
        self._stage(Stage.ENDED)

    def _stage(self, proposed: Stage) -> None:
        self.state.stage = advance(self.state.stage, proposed)

    def _finish(self, turn: Turn) -> Reply:
        st = self.state
        text = " ".join(turn.parts).strip() or L.CLARIFY
        st.last_line = text
        return Reply(
            text=text,
            stage=st.stage,
            source="playbook",
            intent=turn.intent,
            outcome=st.outcome,
            outcome_detail=dict(st.outcome_detail),
            actions=turn.actions,
        )


_PARTS_OF_DAY = {"morning": range(5, 12), "noon": range(12, 13), "afternoon": range(12, 17),
                 "evening": range(17, 23), "tonight": range(17, 23)}


def _slot_hour(slot: str) -> int | None:
    match = re.search(r"\b(\d{1,2})(?::\d{2})?\s*(am|pm)\b", slot.lower())
    if not match:
        return None
    hour = int(match.group(1)) % 12
    return hour + 12 if match.group(2) == "pm" else hour


_HOUR_WORDS = {w: h for h, w in enumerate(
    "twelve one two three four five six seven eight nine ten eleven".split())}


def _hour_match(slot: str, words: list[str]) -> int:
    """1 when the lead names the slot's hour ("four", "4", "4pm" for a 4pm slot)."""
    hour = _slot_hour(slot)
    if hour is None:
        return 0
    for word in words:
        match = re.fullmatch(r"(\d{1,2})(?::\d{2})?(?:am|pm)?", word)
        said = int(match.group(1)) if match else _HOUR_WORDS.get(word)
        if said is not None and said % 12 == hour % 12:
            return 1
    return 0


def _part_of_day_match(slot: str, words: list[str]) -> int:
    """1 when the lead's "morning"/"afternoon"/"evening" fits the slot's hour."""
    hour = _slot_hour(slot)
    if hour is None:
        return 0
    return int(any(hour in _PARTS_OF_DAY[w] for w in words if w in _PARTS_OF_DAY))

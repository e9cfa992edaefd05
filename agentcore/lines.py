"""The playbook's own words: the glue between a strategy's scripted lines.

Facts (prices, certifications, offers) only ever come from the strategy. What lives here is
connective tissue that states no fact: asking for a time, confirming a booking, admitting the
agent does not know, saying goodbye. Keeping it in one place lets the daemon pre-synthesise
every fixed line at ingest (`Playbook.all_lines`) and keeps the tone consistent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agentcore.strategy import Strategy

_FROM_COMPANY = re.compile(r"\bfrom\s+([A-Z][\w&.'\-]*(?:\s+[A-Z][\w&.'\-]*){0,3})")
_BOOKING_VERBS = {"book", "schedule", "set", "arrange", "secure", "get"}
_FILLER = {"a", "an", "the", "up", "in", "for"}
_GENERIC_SCENARIO_KEYS = ("unknown", "unanswered", "default", "general", "other")

OPENER_QUESTION = "Do you have a quick minute?"
INTEREST_QUESTION = "Would that be worth a closer look?"
CLARIFY = "Sorry, I didn't quite catch that. Could you say it again?"
CLARIFY_AGAIN = "Sorry, the line isn't very clear on my end."
BAD_LINE = "It sounds like a bad line. Shall I call you back another time?"
ASK_TIME = "Great! What day and time work best for you?"
ASK_CALLBACK_TIME = "Of course. When would be a better time to call you back?"
SOFT_RECHECK = (
    "No problem at all. If it's just the timing, I'm happy to call back another time. "
    "Would that help?"
)
ANYTHING_ELSE = "Is there anything else I can help with?"
ANYTHING_ELSE_FEEDBACK = (
    "Is there anything else I can help with, or anything we could do better?"
)
WHAT_ELSE = "Sure, what would you like to know?"
FEEDBACK_THANKS = "Thank you, I'll pass that on to the team."
DONT_KNOW = (
    "That's a good question, and I don't want to guess. "
    "I'll make sure someone from {company} follows up with the exact answer."
)
ACK = "Got it, thanks."
DISCOVERY_ACK = "Thanks, that's helpful."
ALREADY_SAID = "As I mentioned, "
CANNOT_CONFIRM = ("I don't want to guess about {thing} specifically, so I'll check with our team "
                  "and follow up.")
HI_AGAIN = "Hi, can you hear me? This is {first} from {company}."
DO_NOT_CALL = (
    "Understood. I'll make sure we don't call you again. "
    "Sorry for the interruption, and have a good day."
)
NOT_INTERESTED_END = "Understood. Thanks for your time, and have a great day. Goodbye!"
GOODBYE = "Thanks for your time, and have a great day. Goodbye!"
GOODBYE_BOOKED = "Thanks again! Talk to you {slot}. Goodbye!"
CALLBACK_CONFIRM = "Sure, I'll make a note to call you back {when}. Thanks, talk then!"
CALLBACK_NO_TIME = "No problem, we'll try you another time. Have a great day!"
AFTER_END = "Thanks again. Goodbye!"
BOOKED = "Perfect, your {booking} is booked {slot}."
OFFER_SLOTS = "I have {slots}. Which works best for you?"
SLOTS_AGAIN = "Would one of those times work for you?"
PITCH_AGAIN = "In short: "
AI_HONEST = (
    "Good question. Yes, I'm an AI assistant calling on behalf of {company}. "
    "If you'd rather talk to a person, I can have someone from the team follow up."
)
IDENTITY = "This is {first}, an AI assistant calling on behalf of {company}."
DISCLOSURE = "Just so you know, I'm an AI assistant calling on behalf of {company}."


def _extra(model: Any, key: str) -> Any:
    return (getattr(model, "model_extra", None) or {}).get(key)


def company_name(strategy: Strategy) -> str:
    """`company` when the team wrote one, else the name after "from" in the greeting."""
    for value in (_extra(strategy, "company"), _extra(strategy.persona, "company")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    match = _FROM_COMPANY.search(strategy.scripts.greeting)
    if match:
        return match.group(1).rstrip(".")
    return "our team"


def booking_noun(strategy: Strategy) -> str:
    """What a booking goal books: `book_demo` -> demo, `schedule_site_visit` -> site visit."""
    for goal in strategy.goals:
        words = goal.lower().replace("_", " ").replace("-", " ").split()
        if words and words[0] in _BOOKING_VERBS:
            noun = [w for w in words[1:] if w not in _FILLER]
            if noun:
                return " ".join(noun)
        if "demo" in words:
            return "demo"
    return "meeting"


def has_booking_goal(strategy: Strategy) -> bool:
    return any(
        g.lower().replace("-", "_").split("_")[0] in _BOOKING_VERBS or "demo" in g.lower()
        for g in strategy.goals
    )


def wants_feedback(strategy: Strategy) -> bool:
    return any("feedback" in g.lower() for g in strategy.goals)


def list_str(items: list[Any]) -> list[str]:
    """A list of non-empty strings from a strategy's optional extra field."""
    return [str(i).strip() for i in items if isinstance(i, str) and i.strip()]


def slot_phrase(slot: str) -> str:
    """"at 3pm" -> "at 3pm"; "tomorrow at 3pm" -> "for tomorrow at 3pm"."""
    head = slot.split(" ", 1)[0].lower()
    return slot if head in {"at", "around", "by", "on", "in", "after", "before"} else f"for {slot}"


def join_or(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


@dataclass(frozen=True)
class Voice:
    """The persona facts the lines need, computed once per strategy.

    Optional strategy fields read here (the strategy model keeps unknown keys): `company`
    (else the name after "from" in the greeting), `booking_slots` (times to offer),
    `scripts.discovery_questions` (asked before the pitch, at most two), and a
    `fallback_scenarios` entry named unknown/default/general/other (said for questions the
    strategy cannot answer). `scripts.keywords` is read by `agentcore.intents`.
    """

    first: str
    company: str
    booking: str
    greeting: str
    pitch: str
    voicemail: str
    discovery: tuple[str, ...]
    slots: tuple[str, ...]
    closings: tuple[str, ...]
    generic_scenario: str | None

    @classmethod
    def of(cls, strategy: Strategy) -> Voice:
        first = strategy.persona.name.split()[0]
        company = company_name(strategy)
        discovery = _extra(strategy.scripts, "discovery_questions") or []
        slots = _extra(strategy, "booking_slots") or []
        generic = next(
            (strategy.fallback_scenarios[k] for k in _GENERIC_SCENARIO_KEYS
             if k in strategy.fallback_scenarios),
            None,
        )
        return cls(
            first=first,
            company=company,
            booking=booking_noun(strategy),
            greeting=strategy.scripts.greeting or f"Hi, this is {first} from {company}.",
            pitch=strategy.scripts.pitch,
            voicemail=strategy.scripts.voicemail,
            discovery=tuple(list_str(discovery if isinstance(discovery, list) else [])),
            slots=tuple(list_str(slots if isinstance(slots, list) else [])),
            closings=tuple(strategy.closing_techniques),
            generic_scenario=generic,
        )

    def fill(self, template: str, **extra: str) -> str:
        return template.format(first=self.first, company=self.company, booking=self.booking,
                               **extra)

    def greeting_line(self, ai_disclosure: bool = True) -> str:
        parts = [self.greeting]
        if ai_disclosure:
            parts.append(self.fill(DISCLOSURE))
        parts.append(OPENER_QUESTION)
        return " ".join(parts)

    def voicemail_line(self, ai_disclosure: bool = True) -> str:
        if self.voicemail:
            return self.voicemail
        who = f"{self.first}, an AI assistant with {self.company}" if ai_disclosure else (
            f"{self.first} from {self.company}")
        return " ".join(p for p in (f"Hi, this is {who}.", self.pitch,
                                    "We'll try you again another time. Thanks!") if p)

    def dont_know(self) -> str:
        return self.generic_scenario or self.fill(DONT_KNOW)

    def static_lines(self) -> list[str]:
        """Every fixed line (no slot or time filled in) the playbook may say."""
        lines = [
            self.greeting_line(True), self.greeting_line(False), self.voicemail_line(True),
            self.voicemail_line(False), self.fill(AI_HONEST), self.fill(IDENTITY),
            self.fill(HI_AGAIN), self.dont_know(), CLARIFY, CLARIFY_AGAIN, BAD_LINE, ASK_TIME,
            ASK_CALLBACK_TIME, SOFT_RECHECK, ANYTHING_ELSE, ANYTHING_ELSE_FEEDBACK, WHAT_ELSE,
            FEEDBACK_THANKS, DO_NOT_CALL, NOT_INTERESTED_END, GOODBYE, CALLBACK_NO_TIME,
            AFTER_END, ACK, DISCOVERY_ACK,
        ]
        if self.pitch:
            lines += [f"{self.pitch} {INTEREST_QUESTION}", PITCH_AGAIN + self.pitch]
        if self.slots:
            lines += [OFFER_SLOTS.format(slots=join_or(list(self.slots))), SLOTS_AGAIN]
        lines += list(self.discovery) + list(self.closings)
        return list(dict.fromkeys(line for line in lines if line))

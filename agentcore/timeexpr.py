"""Finding the time a lead mentions ("tomorrow at 3pm", "next week", "Friday morning").

The agent does not resolve these to datetimes: the lead's words are what a human follows up
on, and turning "after lunch" into a timestamp would invent precision. We only find the
phrase, keep the lead's own wording, and join neighbouring pieces ("tomorrow" + "at 3pm").
"""

from __future__ import annotations

import re

# Full names only: "sun", "sat" and "wed" are ordinary words on a solar or wedding call.
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|tues|thurs)"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_NUMBER_WORD = (
    r"(?:a|an|one|two|three|four|five|six|ten|fifteen|twenty|thirty|a few|a couple of|\d+)"
)
_AMPM = r"(?:a\.?m\.?|p\.?m\.?|o'?clock)"

_PIECES = [
    r"day after tomorrow",
    r"today|tonight|tomorrow|tmrw|this weekend|the weekend|weekend",
    rf"(?:this|next|coming|following)\s+(?:week|month|quarter|year|{_WEEKDAY})",
    rf"(?:on\s+)?{_WEEKDAY}",
    r"(?:early|late|mid)?\s*(?:morning|afternoon|evening|night|noon|midday|lunch\s*time|lunch)",
    r"end of (?:the |this |next )?(?:day|week|month|quarter)",
    rf"in\s+{_NUMBER_WORD}\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?)",
    r"later (?:today|tonight|this week|this month)|in a bit|in a while|after lunch",
    rf"(?:at|around|by|after|before)\s+\d{{1,2}}(?:[:.]\d{{2}})?(?:\s*{_AMPM})?",
    rf"\d{{1,2}}(?:[:.]\d{{2}})?\s*{_AMPM}",
    r"\d{1,2}:\d{2}",
    rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?",
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}",
]
_TIME = re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in _PIECES) + r")\b", re.IGNORECASE)
# What may sit between two pieces of one expression: "tomorrow | at | 3pm", "friday, morning".
_JOINER = re.compile(r"^[\s,]*(?:(?:at|on|in the|around|by|the|about|-|or)\s*)?[\s,]*$", re.I)
_DAY_WORDS = re.compile(
    rf"\b(?:today|tonight|tomorrow|tmrw|weekend|{_WEEKDAY}|next|this|coming|{_MONTH})\b", re.I
)
_PART_OF_DAY = re.compile(r"\b(?:morning|afternoon|evening|night|noon|lunch)", re.I)


def find_time_expression(text: str) -> str | None:
    """The longest run of time words in `text`, in the lead's wording, or None."""
    matches = [m for m in _TIME.finditer(text[:2000]) if m.group().strip()]
    if not matches:
        return None
    groups: list[tuple[int, int]] = []
    start, end = matches[0].start(), matches[0].end()
    for match in matches[1:]:
        if _JOINER.match(text[end : match.start()]):
            end = match.end()
        else:
            groups.append((start, end))
            start, end = match.start(), match.end()
    groups.append((start, end))
    best = max(groups, key=lambda g: g[1] - g[0])
    return text[best[0] : best[1]].strip(" ,") or None


def has_day(expression: str) -> bool:
    """True when the expression names a day (not only a part of the day or a clock time)."""
    return bool(_DAY_WORDS.search(expression))


def complete_with_day(expression: str, offered: str | None) -> str:
    """Attach the offered day to a bare time: offered "tomorrow morning or afternoon", lead
    "afternoon" -> "tomorrow afternoon"."""
    if not offered or has_day(expression):
        return expression
    day = _DAY_WORDS.search(offered)
    if day is None or day.group().lower() in {"next", "this", "coming"}:
        return expression
    if _PART_OF_DAY.search(expression) or re.search(r"\d", expression):
        return f"{day.group()} {expression}"
    return expression

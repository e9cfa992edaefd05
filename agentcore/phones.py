"""Phone numbers the brain may touch, compared in one canonical form.

The guardrail "a tool never dials or texts a number the strategy or the call did not provide"
is only as good as the comparison: "+1 (415) 555-0134" and "4155550134" are the same lead.
Everything is turned into E.164 with phonenumbers (the persona's locale supplies the default
region) before it is compared or used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers

# Candidate numbers inside free text: a run of digits with the usual separators.
_CANDIDATE = re.compile(r"\+?\d[\d\s().\-]{6,}\d")


def region_of(locale: str | None) -> str | None:
    """`en-IN` -> `IN`; None when the locale has no region."""
    if not locale or "-" not in locale:
        return None
    region = locale.rsplit("-", 1)[1].upper()
    return region if len(region) == 2 and region.isalpha() else None


def to_e164(number: str, region: str | None = None) -> str | None:
    """Canonical form, or None when `number` is not a possible phone number."""
    try:
        parsed = phonenumbers.parse(str(number).strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def numbers_in(value: Any, region: str | None = None) -> set[str]:
    """Every phone number written anywhere in a JSON-like value (a strategy document)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            for match in _CANDIDATE.finditer(item):
                e164 = to_e164(match.group(), region)
                if e164:
                    found.add(e164)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def allowed(number: str, allow: Iterable[str], region: str | None = None) -> str | None:
    """The canonical number when it is in `allow`, else None."""
    e164 = to_e164(number, region)
    return e164 if e164 is not None and e164 in set(allow) else None

"""Word error rate, for checking transcripts against what was said."""

from __future__ import annotations

import re

from daemon.speech.asr import normalise_text

# letters spelled out, as Whisper sometimes writes an acronym: "s-a-p", "S.A.P."
_SPELLED = re.compile(r"\b[A-Za-z](?:[-.][A-Za-z])+\b\.?")

_NUMBERS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def _words(text: str) -> list[str]:
    """Normalised words, with small numbers as digits (Whisper writes "ten" as "10") and spelled
    acronyms as one word ("s-a-p" is "sap")."""
    joined = _SPELLED.sub(lambda m: re.sub(r"[-.]", "", m.group()), text)
    return [_NUMBERS.get(w, w) for w in normalise_text(joined).split()]


def word_errors(reference: str, hypothesis: str) -> int:
    """Word-level Levenshtein distance: substitutions, insertions and deletions."""
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word errors over the reference length."""
    return word_errors(reference, hypothesis) / max(len(_words(reference)), 1)

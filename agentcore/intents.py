"""What did the lead just say? Intent matching built only from the strategy and a lexicon.

Theory of operation. Text is normalised (lower case, contractions expanded, punctuation gone,
a light plural stem) and split into tokens. Every intent is a `Rule`: a label, a tier and some
phrases. A phrase matches when its tokens appear contiguously in the text, each exactly or
fuzzily (difflib ratio >= 0.9, same first letter, words of five letters or more, and only
for words that are not themselves in the vocabulary, so "pricng" finds "pricing" but "cost"
never finds "cast" and "price" never becomes "pricey"). All matching rules are ranked by tier first
(hang-up requests beat topic questions, topics beat "yes"), then by how many words matched, then
by exactness. The winner is the intent; the others ride along in `also` because a turn such as
"no thanks, bye" carries two.

Rules come from three places: control intents (lexicon), the strategy's FAQ / objection /
fallback-scenario keys expanded through lexicon concepts, and optional per-strategy phrases
in `scripts.keywords` (`{"financing": ["monthly payment", "loan"]}`). Nothing here can raise on
odd input: the worst case is intent `unclear`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from agentcore.lexicon import (
    CONTROL_PHRASES,
    FAQ_CONCEPTS,
    OBJECTION_CONCEPTS,
    QUESTION_WORDS,
    STOPWORDS,
)
from agentcore.strategy import Strategy
from agentcore.timeexpr import find_time_expression

MAX_TOKENS = 80
_FUZZY_RATIO = 0.9

_CONTRACTIONS = {
    "can't": "can not", "cannot": "can not", "won't": "will not", "n't": " not",
    "'m": " am", "'re": " are", "'ll": " will", "'ve": " have", "'d": " would",
    "let's": "let us", "gonna": "going to", "wanna": "want to", "gotta": "got to",
}
_CONTRACTION = re.compile(
    r"can't|cannot|won't|let's|gonna|wanna|gotta|n't|'m|'re|'ll|'ve|'d", re.IGNORECASE
)
_APOSTROPHE_S = re.compile(r"\b(what|that|it|who|how|where|there|here|he|she)'s\b")
_NON_WORD = re.compile(r"[^a-z0-9\s]+")
_WORDLIKE = re.compile(r"^(?=.*[aeiouy])[a-z]+$|^\d+[a-z]*$")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")

# tier: lower wins. Ties go to the longer, then the more exact match, then the rule order.
TIERS: dict[str, int] = {
    "do_not_call": 0,
    "ai_check": 1,
    "identity": 1,
    "callback": 2,
    "repeat": 3,
    "faq": 4,
    "objection": 4,
    "scenario": 4,
    "demo_request": 4,
    "pitch_request": 5,
    "not_interested": 6,
    "goodbye": 6,
    "greeting": 7,
    "affirm": 8,
    "deny": 8,
}
_CALL_ME = ("call me", "ring me", "try me", "call us", "reach me", "call again", "phone me")


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, contractions expanded."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _APOSTROPHE_S.sub(lambda m: f"{m.group(1)} is", text)
    text = _CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group().lower()], text)
    text = _NON_WORD.sub(" ", text.replace("'", ""))
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return stems(text)[:MAX_TOKENS]


def stems(text: str) -> list[str]:
    """Every word of `text`, normalised and stemmed (`tokens` stops at MAX_TOKENS)."""
    return [_stem(t) for t in normalise(text).split()]


@dataclass(frozen=True)
class Rule:
    name: str
    key: str | None
    phrases: tuple[tuple[str, ...], ...]

    @property
    def label(self) -> str:
        return f"{self.name}:{self.key}" if self.key else self.name

    @property
    def tier(self) -> int:
        return TIERS.get(self.name, 9)


@dataclass(frozen=True)
class Intent:
    """The classified lead utterance. `name` is a rule name or one of `question`,
    `statement`, `unclear`; `key` names the FAQ / objection / scenario."""

    name: str
    key: str | None = None
    score: float = 0.0
    phrase: str = ""
    when: str | None = None
    is_question: bool = False
    also: tuple[str, ...] = ()
    concept: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}:{self.key}" if self.key else self.name

    def mentions(self, name: str) -> bool:
        """True when `name` is the intent or one of the other intents heard in the turn."""
        return self.name == name or any(a.split(":", 1)[0] == name for a in self.also)

    def others(self, name: str) -> list[str]:
        """Keys of further intents of kind `name` (e.g. a second FAQ asked in one breath)."""
        return [a.split(":", 1)[1] for a in self.also if a.startswith(f"{name}:")]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(tokens(text))


def _key_phrases(key: str, concepts: dict[str, tuple[str, ...]]) -> set[tuple[str, ...]]:
    """A key's own words, plus every concept the key names."""
    words = normalise(key.replace("_", " ").replace("-", " ")).split()
    out = {_phrase(" ".join(words))}
    content = [w for w in words if w not in STOPWORDS]
    if len(content) == 1:
        out.add(_phrase(content[0]))
    for concept, phrases in concepts.items():
        singles = {p for p in phrases if " " not in p}
        if any(w == concept or w in singles or _stem(w) in singles for w in content):
            out.update(_phrase(p) for p in phrases)
    return {p for p in out if p}


def _extra_keywords(strategy: Strategy) -> dict[str, list[str]]:
    raw: Any = (strategy.scripts.model_extra or {}).get("keywords") or {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(k).strip().lower(): [str(p) for p in v if isinstance(p, str)]
        for k, v in raw.items()
        if isinstance(v, list)
    }


def build_rules(strategy: Strategy) -> list[Rule]:
    """All rules for one strategy, in tie-break order."""
    extra = _extra_keywords(strategy)
    everything = {**FAQ_CONCEPTS, **OBJECTION_CONCEPTS}
    rules = [
        Rule(name, None, tuple(_phrase(p) for p in CONTROL_PHRASES[name]))
        for name in ("do_not_call", "ai_check", "identity", "callback", "repeat")
    ]
    groups: list[tuple[str, dict[str, str], dict[str, tuple[str, ...]]]] = [
        ("objection", strategy.scripts.objections, OBJECTION_CONCEPTS),
        ("faq", strategy.scripts.faqs, FAQ_CONCEPTS),
        ("scenario", strategy.fallback_scenarios, everything),
    ]
    for name, mapping, concepts in groups:
        for key in mapping:
            phrases = _key_phrases(key, concepts)
            phrases.update(_phrase(p) for p in extra.get(key, []))
            rules.append(Rule(name, key, tuple(sorted(p for p in phrases if p))))
    for name in ("demo_request", "pitch_request", "not_interested", "goodbye", "greeting",
                 "affirm", "deny"):
        rules.append(Rule(name, None, tuple(_phrase(p) for p in CONTROL_PHRASES[name])))
    return rules


@dataclass
class _Match:
    rule: Rule
    length: int
    exact: bool
    phrase: str
    order: int


@dataclass
class IntentClassifier:
    """Classifies lead utterances for one strategy. Cheap to build, no I/O."""

    strategy: Strategy
    rules: list[Rule] = field(init=False)
    _vocab: set[str] = field(init=False)
    _fuzzy_cache: dict[str, frozenset[str]] = field(init=False, default_factory=dict)
    _concepts: list[Rule] = field(init=False)

    def __post_init__(self) -> None:
        self.rules = build_rules(self.strategy)
        self._concepts = [
            Rule("concept", name, tuple(_phrase(p) for p in phrases))
            for name, phrases in OBJECTION_CONCEPTS.items()
        ]
        self._vocab = {t for r in self.rules + self._concepts for p in r.phrases for t in p}

    def _close(self, token: str) -> frozenset[str]:
        """Vocabulary words `token` may be a mis-hearing or typo of."""
        if token in self._fuzzy_cache:
            return self._fuzzy_cache[token]
        found: set[str] = set()
        if len(token) >= 5 and token.isalpha() and token not in self._vocab:
            for word in self._vocab:
                if (len(word) >= 5 and word[0] == token[0] and abs(len(word) - len(token)) <= 2
                        and word != token):
                    matcher = difflib.SequenceMatcher(None, token, word)
                    if matcher.quick_ratio() >= _FUZZY_RATIO and matcher.ratio() >= _FUZZY_RATIO:
                        found.add(word)
        if len(self._fuzzy_cache) > 5000:
            self._fuzzy_cache.clear()
        result = frozenset(found)
        self._fuzzy_cache[token] = result
        return result

    def _match(self, words: list[str], phrase: tuple[str, ...]) -> bool | None:
        """None: no match; True: exact; False: fuzzy."""
        n = len(phrase)
        best: bool | None = None
        for start in range(len(words) - n + 1):
            exact = True
            for offset, want in enumerate(phrase):
                got = words[start + offset]
                if got == want:
                    continue
                if want in self._close(got):
                    exact = False
                    continue
                break
            else:
                if exact:
                    return True
                best = False
        return best

    def _matches(self, words: list[str], rules: list[Rule]) -> list[_Match]:
        found: list[_Match] = []
        for order, rule in enumerate(rules):
            hit: _Match | None = None
            for phrase in rule.phrases:
                result = self._match(words, phrase)
                if result is None:
                    continue
                candidate = _Match(rule, len(phrase), result, " ".join(phrase), order)
                if hit is None or (candidate.length, candidate.exact) > (hit.length, hit.exact):
                    hit = candidate
            if hit is not None:
                found.append(hit)
        return found

    def classify(self, text: str) -> Intent:
        words = tokens(text)
        raw = str(text)
        when = find_time_expression(raw)
        question = raw.rstrip().endswith("?") or bool(words and words[0] in QUESTION_WORDS)
        concept_hits = self._matches(words, self._concepts)
        concept = concept_hits[0].rule.key if concept_hits else None
        matches = self._matches(words, self.rules)
        if when and any(self._match(words, _phrase(p)) for p in _CALL_ME):
            callback = next(r for r in self.rules if r.name == "callback")
            matches.append(_Match(callback, 3, True, "call me + time", -1))
        if not matches:
            return Intent(self._fallback_name(words, question), when=when,
                          is_question=question, concept=concept)
        def rank(m: _Match) -> tuple[int, int, bool, bool, int]:
            # "book a demo" is a request, "what does a demo cost?" a question about a topic
            request_first = (m.rule.name == "demo_request") == (not question)
            return (m.rule.tier, -m.length, not m.exact, not request_first, m.order)

        matches.sort(key=rank)
        best = matches[0]
        shadow = set(best.phrase.split())
        # a weaker match inside the winner's words ("credit" in "tax credit") is no second topic
        also = tuple(dict.fromkeys(
            m.rule.label for m in matches[1:]
            if m.rule != best.rule and not set(m.phrase.split()) <= shadow))
        return Intent(
            name=best.rule.name,
            key=best.rule.key,
            score=1.0 if best.exact else 0.85,
            phrase=best.phrase,
            when=when,
            is_question=question,
            also=also,
            concept=concept,
        )

    @staticmethod
    def _fallback_name(words: list[str], question: bool) -> str:
        wordlike = [w for w in words if _WORDLIKE.match(w) and not _CONSONANT_RUN.search(w)]
        if not words or len(wordlike) * 2 < len(words):
            return "unclear"
        if question and len(words) >= 2:
            return "question"
        return "statement" if len(wordlike) >= 3 else "unclear"

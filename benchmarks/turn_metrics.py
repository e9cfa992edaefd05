"""What one turn-taking trial measured, computed from the lead's timeline; and their summary.

Pure: the inputs are times (monotonic seconds) the lead recorded - when the clip's first frame
went out, when each agent frame played and what it was, when each `clear` came - plus the
lead turns the daemon stored. Nothing here reads a clock or a socket, so the definitions are
tested with made-up timelines.

Two views of the agent's audio are used, on purpose:

* *playing*: the lead's playout buffer had audio (any agent frame, even a quiet one). Gaps in
  it are the daemon's doing (it stopped sending, or a `clear` emptied the buffer), never the
  TTS's natural pauses; "audio stop" and the resume gap after a backchannel use this view;
* *audible*: frames carrying sound (peak above about -54 dBFS). Talk-over and voice-to-voice
  use this view: a lead hears sound, not packets.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import summarise

MERGE_S = 0.040  # playout gaps shorter than this are jitter, not a gap
CLEAR_WINDOW_S = 2.0  # a backchannel followed by `clear` within this is a false clear
TALK_OVER_MIN_MS = 20.0  # less than one frame of overlap is not talking over anyone
KEPT_OVERLAP = 0.5  # share of the clip's words a stored turn must have to count as kept

Interval = tuple[float, float]


@dataclass(frozen=True)
class PlayedFrame:
    """One 160-byte agent frame as it played at the lead (its end cut short by a `clear`)."""

    start: float
    end: float
    digest: str
    audible: bool


@dataclass(frozen=True)
class Greeting:
    """The agent's greeting as heard on an undisturbed call (a calibration call)."""

    digests: frozenset[str]  # audible frames' digests
    audible_frames: int
    duration_ms: float
    max_gap_ms: float  # the longest playout gap inside it with nobody talking (stutter)


@dataclass
class TrialRecord:
    """What the lead of one trial recorded."""

    clip_id: str
    category: str
    split: str
    text: str
    speech: tuple[tuple[int, int], ...]
    call_id: str = ""
    delay_ms: int | None = None
    began_at: float | None = None  # the call was connected
    started_at: float | None = None  # the clip's first frame sent
    frames: list[PlayedFrame] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    hung_up_at: float | None = None
    error: str | None = None
    lead_turns: list[str] = field(default_factory=list)  # filled from the stored call

    def at(self, offset_ms: int) -> float:
        assert self.started_at is not None
        return self.started_at + offset_ms / 1000.0

    @property
    def onset(self) -> float:
        return self.at(self.speech[0][0])

    @property
    def lead_end(self) -> float:
        return self.at(self.speech[-1][1])


# --- intervals --------------------------------------------------------------------------------


def merged(intervals: Iterable[Interval], tolerance: float = 0.0) -> list[Interval]:
    """Sorted union of `intervals`, joining those less than `tolerance` apart."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start - out[-1][1] <= tolerance:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def overlap_s(intervals: Sequence[Interval], start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in intervals)


def playing(frames: Sequence[PlayedFrame]) -> list[Interval]:
    return merged(((f.start, f.end) for f in frames if f.end > f.start), MERGE_S)


def audible(frames: Sequence[PlayedFrame]) -> list[Interval]:
    return merged((f.start, f.end) for f in frames if f.audible and f.end > f.start)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000.0 * seconds, 1)


# --- words --------------------------------------------------------------------------------

_NUMBERS = {str(n): w for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_SAME = {"ok": "okay", "yep": "yes", "yeah": "yes", "gonna": "going"}


def words(text: str) -> list[str]:
    """Lower-case words without punctuation or apostrophes; digits as words ("2" -> "two")."""
    out = []
    for word in re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")):
        word = word.replace("'", "")
        word = _NUMBERS.get(word, word)
        out.append(_SAME.get(word, word))
    return [w for w in out if w]


def word_overlap(reference: str, hypothesis: str) -> float:
    """Share of `reference`'s words (with multiplicity) that `hypothesis` contains."""
    ref = Counter(words(reference))
    if not ref:
        return 0.0
    hyp = Counter(words(hypothesis))
    return sum(min(n, hyp[w]) for w, n in ref.items()) / sum(ref.values())


# --- one trial ------------------------------------------------------------------------------


def _turns(rec: TrialRecord) -> dict[str, Any]:
    best = max((word_overlap(rec.text, t) for t in rec.lead_turns), default=0.0)
    return {"lead_turns": list(rec.lead_turns), "best_overlap": round(best, 2),
            "stored_any": bool(rec.lead_turns), "kept": best >= KEPT_OVERLAP}


def _first_clear(rec: TrialRecord) -> float | None:
    assert rec.started_at is not None
    return next((c for c in rec.clears if c >= rec.started_at), None)


def over_agent_metrics(rec: TrialRecord, greeting: Greeting | None) -> dict[str, Any]:
    """Interruption and backchannel trials: the lead talked over the greeting.

    Audio stop is the end of the agent's audio that was playing when the clip began (its line
    noise) or when its speech began, measured from the speech onset: negative when the agent
    stopped on the lead-in's noise, before any word.
    """
    onset = rec.onset
    assert rec.started_at is not None
    runs = playing(rec.frames)
    under = next(((s, e) for s, e in reversed(runs) if s <= onset and e >= rec.started_at), None)
    clear = _first_clear(rec)
    out: dict[str, Any] = {
        "over_agent": under is not None and under[1] > onset,
        "clear_ms": _ms(clear - onset) if clear is not None else None,
        "audio_stop_ms": _ms(under[1] - onset) if under is not None else None,
        **_turns(rec),
    }
    if greeting is not None:
        late = [f for f in rec.frames if f.audible and f.start >= onset]
        out["answered"] = any(f.digest not in greeting.digests for f in late)
        reply = next((f.start for f in late if f.digest not in greeting.digests), None)
        out["reply_after_end_ms"] = _ms(reply - rec.lead_end) if reply is not None else None
        heard = {f.digest for f in rec.frames if f.audible and f.digest in greeting.digests}
        out["greeting_heard_share"] = round(len(heard) / max(1, greeting.audible_frames), 3)
    if rec.category == "backchannel":
        out.update(_backchannel(rec, greeting, runs, clear))
    return out


def _backchannel(rec: TrialRecord, greeting: Greeting | None, runs: list[Interval],
                 clear: float | None) -> dict[str, Any]:
    onset = rec.onset
    if greeting is not None:  # the greeting ends with the last of its frames the lead heard
        ends = [f.end for f in rec.frames if f.digest in greeting.digests and f.audible]
        turn_end = max(ends, default=onset)
    else:  # ...or, not knowing it, at the first quiet second after the lead's onset
        turn_end = onset
        for index, (_start, end) in enumerate(runs):
            following = runs[index + 1][0] if index + 1 < len(runs) else float("inf")
            if end > onset and following - end >= 1.0:
                turn_end = end
                break
    since = rec.started_at or onset  # a pause on the clip's lead-in noise counts too
    inside = [(max(s, since), min(e, turn_end)) for s, e in runs if e > since and s < turn_end]
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(inside)]
    seen: set[str] = set()
    repeated = 0
    for frame in sorted(rec.frames, key=lambda f: f.start):
        if not frame.audible:
            continue
        repeated += frame.digest in seen
        seen.add(frame.digest)
    return {
        "false_clear": clear is not None and clear - onset <= CLEAR_WINDOW_S,
        "max_gap_ms": _ms(max(gaps, default=0.0)),
        "repeated_frames": repeated,
        "repeat": repeated >= 2,
    }


def answer_metrics(rec: TrialRecord) -> dict[str, Any]:
    """Multi-part and short trials: the lead spoke after the greeting; did the agent wait?"""
    assert rec.started_at is not None
    heard = audible(rec.frames)
    onset, end = rec.onset, rec.lead_end
    part1_end = rec.at(rec.speech[0][1])
    spans = [(rec.at(a), rec.at(b)) for a, b in rec.speech]
    talk_over = overlap_s(heard, onset, end)
    reply = next((s for s, _e in heard if s >= rec.started_at), None)
    after_end = next((max(s, end) for s, e in heard if e > end), None)
    return {
        "talk_over_ms": _ms(talk_over),
        "talk_over": 1000.0 * talk_over >= TALK_OVER_MIN_MS,
        "over_speech_ms": _ms(sum(overlap_s(heard, a, b) for a, b in spans)),
        "over_pause_and_later_ms": _ms(overlap_s(heard, part1_end, end)) if len(spans) > 1 else 0.0,
        "cut_off": reply is not None and reply < end,
        "reply_start_ms": _ms(reply - end) if reply is not None else None,
        "voice_to_voice_ms": _ms(after_end - end) if after_end is not None else None,
        "clears": sum(1 for c in rec.clears if c >= rec.started_at),
        "one_turn": len(rec.lead_turns) == 1 and _turns(rec)["kept"],
        **_turns(rec),
    }


def trial_metrics(rec: TrialRecord, greeting: Greeting | None) -> dict[str, Any]:
    """The trial's numbers, JSON-ready, by category."""
    base: dict[str, Any] = {"clip": rec.clip_id, "category": rec.category, "split": rec.split,
                            "call_id": rec.call_id, "delay_ms": rec.delay_ms, "error": rec.error,
                            "seconds": round(rec.hung_up_at - rec.began_at, 2)
                            if rec.hung_up_at is not None and rec.began_at is not None else None}
    if rec.started_at is None:
        return {**base, "error": rec.error or "the clip was never played"}
    if rec.category in ("interruption", "backchannel"):
        return {**base, **over_agent_metrics(rec, greeting)}
    return {**base, **answer_metrics(rec)}


# --- many trials --------------------------------------------------------------------------


def _count(trials: Sequence[dict[str, Any]], key: str) -> dict[str, int]:
    return {"n": sum(1 for t in trials if t.get(key)), "of": len(trials)}


def summarise_trials(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One split's summary: the table's rows, plus the clip ids behind each failure."""
    ok = [t for t in trials if not t.get("error")]
    by = {c: [t for t in ok if t["category"] == c]
          for c in ("interruption", "backchannel", "multipart", "short")}
    inter, back = by["interruption"], by["backchannel"]
    answers = by["multipart"] + by["short"]
    resumed = [t for t in back if not t.get("false_clear")]
    out: dict[str, Any] = {
        "trials": len(trials),
        "errors": [t["clip"] for t in trials if t.get("error")],
        "stopped_before_onset": [t["clip"] for t in inter + back if (t["audio_stop_ms"] or 0.0) < 0],
        "interruption": {
            "clear_ms": summarise(t["clear_ms"] for t in inter).to_dict(),
            "audio_stop_ms": summarise(t["audio_stop_ms"] for t in inter).to_dict(),
            "kept": _count(inter, "kept"), "stored_any": _count(inter, "stored_any"),
            "not_over_agent": [t["clip"] for t in inter if not t["over_agent"]],
            "no_clear": [t["clip"] for t in inter if t["clear_ms"] is None],
            "lost": [t["clip"] for t in inter if not t["kept"]],
        },
        "backchannel": {
            "false_clear": _count(back, "false_clear"),
            "max_gap_ms": summarise(t["max_gap_ms"] for t in resumed).to_dict(),
            "repeat": _count(back, "repeat"), "answered": _count(back, "answered"),
            "false_clear_clips": [t["clip"] for t in back if t.get("false_clear")],
            "answered_clips": [t["clip"] for t in back if t.get("answered")],
        },
        "talk_over": {"n": sum(1 for t in answers if t["talk_over"]), "of": len(answers),
                      "total_ms": round(sum(t["talk_over_ms"] or 0.0 for t in answers), 1),
                      "over_speech_ms": round(sum(t["over_speech_ms"] or 0.0 for t in answers), 1),
                      "over_pause_and_later_ms": round(
                          sum(t["over_pause_and_later_ms"] or 0.0 for t in answers), 1),
                      "clips": [t["clip"] for t in answers if t["talk_over"]]},
        "cut_off": {**_count(answers, "cut_off"),
                    "clips": [t["clip"] for t in answers if t["cut_off"]]},
    }
    for category in ("short", "multipart"):
        rows = by[category]
        out[category] = {
            "voice_to_voice_ms": summarise(
                t["voice_to_voice_ms"] for t in rows if not t["talk_over"]).to_dict(),
            "voice_to_voice_all_ms": summarise(t["voice_to_voice_ms"] for t in rows).to_dict(),
            "talk_over": _count(rows, "talk_over"), "cut_off": _count(rows, "cut_off"),
            "one_turn": _count(rows, "one_turn"),
            "no_reply": [t["clip"] for t in rows if t["voice_to_voice_ms"] is None],
        }
    return out

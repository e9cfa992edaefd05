"""The turn-taking benchmark's definitions, on made-up timelines (no daemon, no audio models).

Times are seconds on the lead's clock; a clip starts at t = 10 and its speech at 10.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.__main__ import parser, turn_options
from benchmarks.turn_corpus import Clip
from benchmarks.turn_lead import RecordingPlayout, frame_digest
from benchmarks.turn_metrics import (
    Greeting,
    PlayedFrame,
    TrialRecord,
    summarise_trials,
    trial_metrics,
    word_overlap,
)
from benchmarks.turns import delay_ms, select

LOUD = b"\x00" * 160  # mu-law 0x00: full-scale negative, certainly audible
QUIET = b"\xff" * 160


def frames(start: float, end: float, tag: str = "g") -> list[PlayedFrame]:
    """Audible 20 ms frames covering start..end, each with a unique digest `tag`-index."""
    out, t, i = [], start, 0
    while t < end - 1e-9:
        out.append(PlayedFrame(t, min(end, t + 0.02), f"{tag}{i}", True))
        t += 0.02
        i += 1
    return out


def record(category: str, speech: tuple[tuple[int, int], ...], played: list[PlayedFrame],
           clears: list[float] | None = None, turns: list[str] | None = None,
           text: str = "sorry wait hold on") -> TrialRecord:
    return TrialRecord("clip-1", category, "heldout", text, speech, started_at=10.0,
                       frames=played, clears=clears or [], lead_turns=turns or [])


GREETING = Greeting(frozenset(f"g{i}" for i in range(400)), 400, 8000.0, 0.0)


def test_word_overlap_ignores_case_punctuation_and_digits() -> None:
    assert word_overlap("Look, I only have two minutes.", "look i only have 2 minutes") == 1.0
    assert word_overlap("we're not interested", "Were not") == pytest.approx(2 / 3)
    assert word_overlap("ok", "Okay.") == 1.0
    assert word_overlap("", "anything") == 0.0


def test_interruption_clear_audio_stop_and_kept_turn() -> None:
    # greeting plays 9.0-10.7, cleared at 10.75; speech from 10.3 to 11.8
    played = frames(9.0, 10.7) + frames(12.5, 13.0, "reply")
    rec = record("interruption", ((300, 1800),), played, clears=[10.75],
                 turns=["Sorry, wait. Hold on."])
    m = trial_metrics(rec, GREETING)
    assert m["over_agent"] and m["kept"] and m["stored_any"]
    assert m["clear_ms"] == pytest.approx(450.0)
    assert m["audio_stop_ms"] == pytest.approx(400.0)
    assert m["answered"] and m["reply_after_end_ms"] == pytest.approx(700.0)


def test_interruption_not_kept_when_the_stored_turn_has_other_words() -> None:
    rec = record("interruption", ((300, 1800),), frames(9.0, 12.0), turns=["Thank you."])
    m = trial_metrics(rec, GREETING)
    assert m["stored_any"] and not m["kept"] and m["clear_ms"] is None


def test_backchannel_pause_and_resume_is_a_gap_not_a_false_clear() -> None:
    greeting = frames(9.0, 14.0)
    # the agent stops sending at 10.5 and resumes 300 ms later: the greeting's frames after
    # 10.5 play from 10.8 on
    shifted = [f for f in greeting if f.start < 10.5] + [
        PlayedFrame(f.start + 0.3, f.end + 0.3, f.digest, True) for f in greeting if f.start >= 10.5]
    m = trial_metrics(record("backchannel", ((300, 700),), shifted), GREETING)
    assert not m["false_clear"] and not m["repeat"] and not m["answered"]
    assert m["max_gap_ms"] == pytest.approx(300.0)


def test_agent_stopping_on_the_lead_in_noise_is_a_negative_audio_stop() -> None:
    # the clip starts at 10.0, its speech at 10.3; the agent stopped at 10.2 and resumed at 10.6
    played = frames(9.0, 10.2) + frames(10.6, 12.0)
    m = trial_metrics(record("backchannel", ((300, 700),), played), GREETING)
    assert not m["over_agent"]
    assert m["audio_stop_ms"] == pytest.approx(-100.0)
    assert m["max_gap_ms"] == pytest.approx(400.0)
    assert summarise_trials([m])["stopped_before_onset"] == ["clip-1"]


def test_backchannel_false_clear_and_repeated_audio() -> None:
    greeting = frames(9.0, 14.0)
    replayed = [f for f in greeting if f.start < 10.6] + [
        PlayedFrame(f.start + 0.4, f.end + 0.4, f.digest, True) for f in greeting if f.start >= 10.4]
    m = trial_metrics(record("backchannel", ((300, 700),), replayed, clears=[11.0]), GREETING)
    assert m["false_clear"]
    assert m["repeat"] and m["repeated_frames"] == 10


def test_multipart_answered_during_the_pause_is_talk_over_and_cut_off() -> None:
    # parts 10.3-11.3 and 11.9-13.0; the agent starts at 11.6 and is cleared at 12.1
    rec = record("multipart", ((300, 1300), (1900, 3000)), frames(11.6, 12.1, "r") + frames(13.5, 14, "s"),
                 clears=[12.1], turns=["How much is it?", "Is there a discount?"],
                 text="How much is it? Is there a discount?")
    m = trial_metrics(rec, None)
    assert m["talk_over"] and m["cut_off"]
    assert m["talk_over_ms"] == pytest.approx(500.0)
    assert m["over_speech_ms"] == pytest.approx(200.0)
    assert m["over_pause_and_later_ms"] == pytest.approx(500.0)
    assert m["voice_to_voice_ms"] == pytest.approx(500.0)
    assert not m["one_turn"]


def test_short_answer_voice_to_voice() -> None:
    rec = record("short", ((300, 700),), frames(11.3, 12.0, "r"), turns=["Yes."], text="Yes.")
    m = trial_metrics(rec, None)
    assert not m["talk_over"] and not m["cut_off"] and m["one_turn"]
    assert m["voice_to_voice_ms"] == pytest.approx(600.0)


def test_summary_rates_and_lists() -> None:
    trials: list[dict[str, Any]] = [
        trial_metrics(record("short", ((300, 700),), frames(11.3, 12.0, "r"), turns=["Yes."],
                             text="Yes."), None),
        trial_metrics(record("short", ((300, 700),), []), None),
        {"clip": "broken", "category": "short", "split": "heldout", "error": "no greeting heard"},
    ]
    s = summarise_trials(trials)
    assert s["errors"] == ["broken"]
    assert s["short"]["voice_to_voice_ms"]["n"] == 1
    assert s["short"]["no_reply"] == ["clip-1"]
    assert s["cut_off"] == {"n": 0, "of": 2, "clips": []}


def test_recording_playout_keeps_only_what_played_before_a_clear() -> None:
    playout = RecordingPlayout()
    for _ in range(5):
        playout.push_audio(LOUD, 1.0)  # queued back to back: 1.00 .. 1.10
    playout.push_audio(QUIET, 1.0)
    assert [round(f.start, 2) for f in playout.frames] == [1.0, 1.02, 1.04, 1.06, 1.08, 1.1]
    assert not playout.frames[-1].audible and playout.frames[0].digest == frame_digest(LOUD)
    playout.clear(1.05)
    assert [(round(f.start, 2), round(f.end, 2)) for f in playout.frames] == [
        (1.0, 1.02), (1.02, 1.04), (1.04, 1.05)]
    assert playout.clears == [1.05]


def test_cli_options_and_selection() -> None:
    args = parser().parse_args(["--turns", "--limit", "2", "--split", "heldout", "--modes", "default"])
    opts = turn_options(args)
    assert (opts.limit, opts.split, opts.modes, opts.concurrency) == (2, "heldout", ("default",), 2)
    with pytest.raises(ValueError):
        turn_options(parser().parse_args(["--turns", "--modes", "nope"]))

    clips = [Clip(f"{c[:3]}-{i}", c, "x", ("x",), "piper", "clean", s, np.zeros(1, np.int16), ((0, 1),))
             for c in ("interruption", "short") for i, s in enumerate(("tune", "heldout", "heldout"))]
    chosen = select(clips, "heldout", 1)
    assert [c.id for c in chosen] == ["int-1", "sho-1"]
    assert all(500 <= delay_ms(c) <= 1500 for c in clips)

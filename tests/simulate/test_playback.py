"""The simulated playout buffer, the lead's audio framing and `expect_any` matching: pure logic,
driven with made-up times, no event loop."""

from __future__ import annotations

import numpy as np
import pytest

from daemon.media import mulaw
from daemon.simulate.audio import (
    FRAME_BYTES,
    SILENCE_FRAME,
    build_line,
    is_silent,
    silence_frames,
    to_frames,
    trim_silence,
)
from daemon.simulate.expect import evaluate_expectations, keyword_heard
from daemon.simulate.playback import Playout
from daemon.simulate.report import AgentTurnReport
from daemon.simulate.scenario import parse_scenario

SECOND = b"\x10" * 8000  # one second of (loud) mu-law audio


def test_mark_is_due_when_the_audio_before_it_has_played() -> None:
    p = Playout(gap_s=0.4)
    assert p.push_audio(SECOND, now=10.0) is True  # starts a turn
    assert p.push_mark("m1", now=10.1) == []
    assert p.push_audio(SECOND[:4000], now=10.2) is False  # same turn
    assert p.push_mark("m2", now=10.2) == []
    assert p.due_marks(10.99) == []
    assert p.due_marks(11.0) == ["m1"]
    assert p.due_marks(11.49) == []
    assert p.due_marks(11.5) == ["m2"]
    assert p.pending_marks == []


def test_mark_with_nothing_playing_is_echoed_at_once() -> None:
    p = Playout()
    assert p.push_mark("idle", now=3.0) == ["idle"]
    p.push_audio(SECOND[:800], now=3.0)
    assert p.push_mark("after", now=3.5) == ["after"]  # the 100 ms already played


def test_clear_echoes_pending_marks_and_keeps_only_the_audio_that_played() -> None:
    p = Playout(gap_s=0.4)
    p.push_audio(SECOND, now=0.0)
    p.push_mark("a", now=0.0)
    p.push_audio(SECOND, now=0.0)
    p.push_mark("b", now=0.0)
    assert p.clear(now=0.25) == ["a", "b"]
    assert not p.playing(0.25) and not p.in_turn
    (turn,) = p.take_finished()
    assert turn.interrupted and not turn.cut_off
    assert len(turn.audio) == 2000  # 250 ms at 8 kHz
    assert turn.ended_at == pytest.approx(0.25)
    assert p.due_marks(5.0) == []  # nothing left to echo later


def test_turns_are_split_by_a_quiet_gap_and_short_dry_spells_are_underruns() -> None:
    p = Playout(gap_s=0.4, tolerance_s=0.02)
    p.push_audio(SECOND[:1600], now=0.0)  # plays until 0.2
    p.push_audio(SECOND[:1600], now=0.21)  # 10 ms dry: within tolerance
    p.push_audio(SECOND[:1600], now=0.51)  # 100 ms dry, then more audio: a stutter
    p.poll(0.9)
    assert p.in_turn  # dry since 0.71, not yet for gap_s
    p.poll(1.11)
    (first,) = p.take_finished()
    assert (first.underruns, first.interrupted) == (1, False)
    assert first.underrun_s == pytest.approx(0.1)
    assert first.media_messages == 3 and len(first.audio) == 4800
    assert first.started_at == 0.0 and first.ended_at == pytest.approx(0.71)
    assert p.push_audio(SECOND[:800], now=2.0) is True  # a new turn
    assert p.turn_started_at == 2.0


def test_audio_arriving_after_the_gap_starts_a_new_turn_without_polling() -> None:
    p = Playout(gap_s=0.4)
    p.push_audio(SECOND[:800], now=0.0)
    assert p.push_audio(SECOND[:800], now=1.0) is True
    (first,) = p.take_finished()
    assert first.underruns == 0 and first.ended_at == pytest.approx(0.1)


def test_close_cuts_off_the_turn_that_was_playing() -> None:
    p = Playout()
    p.push_audio(SECOND, now=0.0)
    p.push_mark("never", now=0.0)
    p.close(0.5)
    (turn,) = p.take_finished()
    assert turn.cut_off and not turn.interrupted and len(turn.audio) == 4000
    assert p.due_marks(9.0) == []


def _tone(ms: int, amplitude: int = 8000) -> bytes:
    t = np.arange(8 * ms) / 8000
    return mulaw.encode((amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16))


def test_trim_silence_keeps_the_speech_and_a_little_margin() -> None:
    quiet = b"\xff" * 800  # 100 ms
    trimmed = trim_silence(quiet + _tone(300) + quiet)
    assert 2400 <= len(trimmed) <= 2400 + 2 * 160
    assert trim_silence(quiet) == b"" and trim_silence(b"") == b""


def test_frames_are_160_bytes_and_padded_with_silence() -> None:
    frames = to_frames(b"\x01" * 200)
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert frames[1] == b"\x01" * 40 + b"\xff" * 120
    assert silence_frames(400) == [SILENCE_FRAME] * 20 and len(silence_frames(30)) == 2
    assert is_silent(SILENCE_FRAME) and not is_silent(frames[0])


def test_build_line_puts_the_pause_between_parts_and_finds_the_last_speech_frame() -> None:
    line = build_line([_tone(200), _tone(100)], pause_ms=400)
    silent_run = max(
        len(run) for run in "".join("s" if is_silent(f) else "x" for f in line.frames).split("x")
    )
    assert silent_run >= 20  # the scripted 400 ms pause survives as silence
    assert line.last_speech_index == len(line.frames) - 1
    assert build_line([b"\xff" * 800]).last_speech_index == -1


@pytest.mark.parametrize(
    ("keyword", "heard", "met"),
    [
        ("499", "We start at $499/mo with volume discounts.", True),
        ("month", "That is billed monthly.", True),
        ("ai", "As I said before.", False),
        ("still there", "Hello? Are you STILL there?", True),
        ("", "anything", False),
    ],
)
def test_keywords_match_at_word_starts_ignoring_case_and_punctuation(
    keyword: str, heard: str, met: bool
) -> None:
    assert keyword_heard(keyword, heard) is met


def _turn(index: int, start: float, text: str | None) -> AgentTurnReport:
    return AgentTurnReport(index, start, None, start + 1, 1000, 5, False, False, 0, 0, text)


def test_expectations_look_at_the_reply_to_each_step() -> None:
    scenario = parse_scenario(
        '{"name": "t", "lead": {"name": "P", "phone": "+14155550123"}, "steps": ['
        '{"say": "price?", "expect_any": ["499"]},'
        '{"say": "secure?", "expect_any": ["SOC2", "compliant"]},'
        '{"silence": 5, "expect_any": ["still there"]}]}'
    )
    times = {0: (1.0, 2.0), 1: (5.0, 6.0), 2: (9.0, 9.0)}
    turns = [
        _turn(0, 0.1, "Hello, this is Scrappy."),
        _turn(1, 2.5, "It is $499 a month."),
        _turn(2, 6.4, "We take security seriously."),
    ]
    results = evaluate_expectations(scenario, times, turns, listening=True)
    assert [(r.step, r.met) for r in results] == [(0, True), (1, False), (2, False)]
    assert results[0].heard == "It is $499 a month."
    unheard = evaluate_expectations(scenario, times, turns, listening=False)
    assert all(r.met is None and r.heard is None for r in unheard)
    unreached = evaluate_expectations(scenario, {0: (1.0, 2.0)}, turns, listening=True)
    assert [r.met for r in unreached] == [True, False, False]

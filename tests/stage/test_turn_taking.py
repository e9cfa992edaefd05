"""Turn-taking failures from the field, each reproduced deterministically on a fake clock.

A real `CallSession` with the real playbook brain hears a scripted lead (see `harness`): no
daemon, no sockets, no real time. Times below are stream milliseconds.
"""

from __future__ import annotations

import pytest

from tests.stage.harness import Say, StageCall

INTERRUPTION = "Sorry, wait, hold on a second please."


async def _call(*script: Say, **kwargs: float) -> StageCall:
    call = StageCall(list(script), **kwargs)  # type: ignore[arg-type]
    await call.start()
    return call


async def test_an_interruption_first_read_as_all_right_is_kept_as_a_turn() -> None:
    """The issue's lost interruption: the barge-in check read "All right." in the first
    200 ms, the agent talked on, and the lead's words were thrown away."""
    onset = 1500
    call = await _call(Say(onset, 1600, INTERRUPTION, partial={0: "All right.", 350: "Sorry, wait,"}))
    try:
        await call.run(onset + 4000)
        assert call.clears, "the interruption never stopped the agent"
        assert call.clears[0] - onset / 1000 <= 0.75  # the next peek's words commit it
        assert call.lead_turns() == [INTERRUPTION]
        greeting = call.agent_turns()[0]
        assert greeting["interrupted"] and greeting["planned_text"]
        # the brain saw the interruption, after only what the lead heard of the greeting
        history = call.brain_history()
        assert ("lead", INTERRUPTION) in history
        assert history[0][1] == greeting["text"]
    finally:
        await call.close()


async def test_audio_stops_at_once_and_sure_words_commit_within_300_ms() -> None:
    onset = 1500
    call = await _call(Say(onset, 1400, "How much does this cost?", partial={0: "How much"}))
    try:
        await call.run(onset + 3000)
        stopped = call.heard.stopped_after(onset / 1000)
        assert stopped is not None and stopped - onset / 1000 <= 0.2
        assert call.clears and call.clears[0] - onset / 1000 <= 0.3
        assert call.lead_turns() == ["How much does this cost?"]
    finally:
        await call.close()


@pytest.mark.parametrize(("text", "ms"), [
    ("Mhm.", 300), ("Okay.", 380), ("Yeah, yeah.", 520),
    ("Okay, okay, okay.", 900),  # longer than runon_ms: heard as "okay", it is not a run-on
    ("Ha ha ha.", 900),
])
async def test_a_backchannel_never_clears_and_the_agent_resumes_where_it_paused(
        text: str, ms: int) -> None:
    onset = 1500
    call = await _call(Say(onset, ms, text, partial={0: text.split(",")[0]}))
    try:
        await call.run(onset + 2500)
        assert call.clears == []
        assert call.lead_turns() == []
        gap = call.heard.longest_gap(onset / 1000 - 0.1, onset / 1000 + 2)
        assert gap <= 0.3
        # nothing replayed: what the lead heard is no more than what was synthesised
        assert call.heard.playing(0, 1e9) <= len(call.sent) * 0.02 + 1e-6
    finally:
        await call.close()


async def test_a_hum_whisper_writes_as_words_is_still_a_backchannel() -> None:
    """Without the listener prompt Whisper reads "mhm" as words; the call decodes such short
    speech over the agent again with the prompt, and the hum stays a hum."""
    onset = 1500
    call = await _call(Say(onset, 420, "Mhm.", partial={0: "Mhm."}, plain="and make sure."))
    try:
        await call.run(onset + 2500)
        assert call.clears == []
        assert call.lead_turns() == []
    finally:
        await call.close()


async def test_a_short_answer_over_the_agent_keeps_its_words() -> None:
    """With the listener prompt Whisper may turn a short answer into hums and other words; only
    a listener sound is taken from that decode, so the lead's own words make the turn."""
    onset = 1500
    call = await _call(Say(onset, 900, "Thursday works.", partial={0: "Thursday"},
                           prompted="Our state works."))
    try:
        await call.run(onset + 3000)
        assert call.clears
        assert call.lead_turns() == ["Thursday works."]
    finally:
        await call.close()


async def test_a_cough_with_no_words_resumes_the_agent() -> None:
    onset = 1500
    call = await _call(Say(onset, 260, ""))
    try:
        await call.run(onset + 2500)
        assert call.clears == []
        assert call.lead_turns() == []
        assert call.heard.longest_gap(onset / 1000 - 0.1, onset / 1000 + 2) <= 0.3
    finally:
        await call.close()


async def test_a_two_part_question_is_answered_whole_and_the_agent_yields_fast() -> None:
    call = await _call()
    try:
        end = await call.greeting_end()
        first = int(end * 1000) + 400
        part1 = Say(first, 1000, "How much is it?")
        part2 = Say(part1.end + 550, 1800, "Is there a discount for small teams?")
        call.say(part1)
        call.say(part2)
        await call.run(part2.end + 3000)
        # the agent may start into the pause, but yields within 200 ms of the lead going on
        overlap = call.heard.playing(part2.at / 1000, part2.end / 1000)
        assert overlap <= 0.2
        assert call.lead_turns() == ["How much is it?", "Is there a discount for small teams?"]
        history = call.brain_history()
        merged = "How much is it? Is there a discount for small teams?"
        assert ("lead", merged) in history
        assert ("lead", "How much is it?") not in history  # the taken-back reply is gone too
        answer = call.heard.first_after(part2.end / 1000)
        assert answer is not None and answer - part2.end / 1000 <= 0.7
    finally:
        await call.close()


async def test_a_pause_mid_statement_is_not_talked_into() -> None:
    call = await _call()
    try:
        end = await call.greeting_end()
        part1 = Say(int(end * 1000) + 400, 1300, "We use Salesforce today, but")
        part2 = Say(part1.end + 600, 1500, "the contract ends in March.")
        call.say(part1)
        call.say(part2)
        await call.run(part2.end + 3000)
        assert call.heard.playing(part1.end / 1000, part2.end / 1000) == 0
        assert call.lead_turns() == ["We use Salesforce today, but the contract ends in March."]
    finally:
        await call.close()


async def test_a_short_answer_is_answered_quickly() -> None:
    call = await _call()
    try:
        end = await call.greeting_end()
        say = Say(int(end * 1000) + 400, 700, "Yes, it is.")
        call.say(say)
        await call.run(say.end + 3000)
        answer = call.heard.first_after(say.end / 1000)
        assert answer is not None and answer - say.end / 1000 <= 0.75
        assert call.lead_turns() == ["Yes, it is."]
    finally:
        await call.close()

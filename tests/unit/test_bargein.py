"""BargeInPolicy, driven with made-up times: no event loop, no audio."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from daemon.media.bargein import (
    BargeInAction,
    BargeInConfig,
    BargeInPolicy,
    Interrupt,
    Pause,
    Peek,
    Resume,
    Verdict,
    Yield,
    is_backchannel,
)

SURE, UNSURE = -0.4, -2.5  # avg_logprob of a confident and of a guessing decode


@dataclass
class Lead:
    """A policy, a clock in ms, and every action it took, in order."""

    config: BargeInConfig = field(default_factory=BargeInConfig)
    now: float = 0.0
    actions: list[BargeInAction] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.policy = BargeInPolicy(self.config, clock=lambda: self.now)

    def _log(self, actions: list[BargeInAction]) -> list[BargeInAction]:
        self.actions += actions
        return actions

    def talk(self, ms: int, start_speech: int = 0) -> list[BargeInAction]:
        """`ms` more speech, one 20 ms frame at a time (the utterance holds `start_speech`)."""
        out = []
        for done in range(20, ms + 1, 20):
            self.now += 20
            out += self._log(self.policy.speech(start_speech + done))
        return out

    def start(self) -> list[BargeInAction]:
        return self._log(self.policy.speech_started())

    def stop(self) -> list[BargeInAction]:
        return self._log(self.policy.speech_stopped())

    def peek(self, text: str, logprob: float = SURE) -> list[BargeInAction]:
        return self._log(self.policy.on_peek(text, logprob))

    def end(self, text: str, speech_ms: int, confidence: float = 0.9) -> Verdict:
        verdict, actions = self.policy.utterance_ended(text, speech_ms, confidence)
        self._log(actions)
        return verdict

    def kinds(self) -> list[type]:
        return [type(a) for a in self.actions]


def test_speech_into_silence_is_a_turn_and_touches_nothing() -> None:
    lead = Lead()
    assert lead.start() == []
    lead.talk(400)
    assert lead.end("Okay.", 400) is Verdict.turn  # "okay" answers a question: not a backchannel
    assert lead.actions == []


def test_speech_over_the_agent_pauses_it_at_once_and_peeks_after_peek_first_ms() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    assert lead.start() == [Pause()]
    peeks = [a for a in lead.talk(360) if isinstance(a, Peek)]
    assert [p.speech_ms for p in peeks] == [200, 320]  # first at 200 ms, then every 120 ms


def test_a_backchannel_resumes_the_agent_and_is_not_a_turn() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek("Mhm.") == [Resume()]
    lead.talk(100, start_speech=200)
    lead.stop()
    assert lead.end("Mm-hmm.", 300) is Verdict.backchannel
    assert lead.kinds() == [Pause, Peek, Resume]


def test_the_lead_falling_quiet_before_any_sure_word_resumes_the_agent() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    lead.peek("and make it", UNSURE)  # Whisper guessing at a hum: no verdict
    assert lead.stop() == [Resume()]
    # an unsure transcript of a short sound is no turn
    assert lead.end("And make it.", 320, confidence=0.1) is Verdict.backchannel


def test_an_interruption_first_heard_as_all_right_is_still_a_turn() -> None:
    """The issue's lost interruption: the first 200 ms read "All right." (a backchannel)."""
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek("All right.") == [Resume()]  # provisional
    lead.stop()
    lead.now += 250  # comma pause
    again = lead.talk(300, start_speech=220)
    assert Pause() in again  # the lead went on: hold the agent again
    assert lead.end("Sorry, wait, hold on a second please.", 1400) is Verdict.turn
    assert isinstance(lead.actions[-1], Interrupt | Yield)


def test_speech_running_on_commits_without_any_transcript() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    actions = lead.talk(lead.config.runon_ms)
    assert isinstance(actions[-1], Interrupt)
    assert actions[-1].after_ms == lead.config.runon_ms
    assert lead.talk(200, start_speech=lead.config.runon_ms) == []  # committed once


def test_sure_words_commit_at_the_first_peek() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    lead.now += 70  # the quick decode
    actions = lead.peek("How much")
    assert len(actions) == 1 and isinstance(actions[0], Interrupt)
    assert actions[0].after_ms == 270
    assert lead.end("How much does it cost?", 900) is Verdict.turn


def test_speech_heard_as_a_backchannel_runs_on_longer_before_it_commits() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek("Okay.") == [Resume()]
    # "okay, okay, okay" outlasts runon_ms; its peeks keep reading a backchannel
    assert not any(isinstance(a, Interrupt) for a in lead.talk(700, start_speech=200))
    assert lead.peek("Okay, okay, okay.") == []
    committed = lead.talk(200, start_speech=900)  # but nobody says "okay" for a second
    assert [type(a) for a in committed if not isinstance(a, Peek)] == [Interrupt]
    assert lead.policy.config.runon_listening_ms == 1000


def test_a_peek_with_words_after_a_backchannel_reading_commits() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    lead.peek("Okay.")
    lead.talk(200, start_speech=200)
    actions = lead.peek("Okay, but how much is it?")
    assert len(actions) == 1 and isinstance(actions[0], Interrupt)


@pytest.mark.parametrize("text", ["And", "Uh", "Um,", "so"])
def test_hesitations_alone_wait_for_more(text: str) -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek(text) == []  # "Um, actually..." and "Um." start alike


@pytest.mark.parametrize("text", ["M.", "Hmm.", "Mm-hmm.", "Oh."])
def test_a_hum_resumes_the_agent_and_counts_as_listening(text: str) -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek(text) == [Resume()]
    assert not any(isinstance(a, Interrupt) for a in lead.talk(700, start_speech=200))


def test_unsure_words_wait_for_more_evidence() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(200)
    assert lead.peek("Help me.", UNSURE) == []


def test_resuming_soon_after_a_turn_yields_instead_of_interrupting() -> None:
    lead = Lead(now=10_000)
    lead.policy.reply_started(turn_end=10_000 - 300)  # the lead stopped 300 ms ago
    lead.start()
    actions = lead.talk(lead.config.yield_speech_ms)
    assert isinstance(actions[-1], Yield)  # no words needed: the lead just went on
    assert actions[-1].after_ms == lead.config.yield_speech_ms
    assert lead.policy.yielded


def test_talking_over_a_reply_that_has_run_a_while_interrupts() -> None:
    lead = Lead(now=10_000)
    lead.policy.reply_started(turn_end=10_000 - 4_000)
    lead.start()
    lead.talk(200)
    assert isinstance(lead.peek("Wait, stop")[0], Interrupt)
    assert not lead.policy.yielded


def test_a_stale_reply_finishing_does_not_end_the_current_one() -> None:
    policy = BargeInPolicy()
    old = policy.reply_started(None)
    policy.reply_started(None)
    policy.reply_finished(old)
    assert policy.reply_active
    assert policy.speech_started() == [Pause()]


def test_a_reply_finishing_while_paused_releases_the_pause() -> None:
    policy = BargeInPolicy()
    reply = policy.reply_started(None)
    policy.speech_started()
    assert policy.reply_finished(reply) == [Resume()]


def test_a_dropped_utterance_resumes_the_agent() -> None:
    lead = Lead()
    lead.policy.reply_started(None)
    lead.start()
    lead.talk(100)
    assert lead.policy.utterance_dropped() == [Resume()]


@pytest.mark.parametrize(("text", "expected"), [
    ("Mhm.", True), ("Mm-hmm.", True), ("Uh-huh.", True), ("Okay, okay.", True),
    ("Yeah.", True), ("Ha ha ha.", True), ("Right.", True), ("I see.", True),
    ("Sorry.", False), ("Wait.", False), ("Okay, but how much?", False), ("", False),
    ("Yes, I have a question.", False),
    # as Whisper writes hums and repeats them
    ("Yeah, Mm-huh.", True), ("Okay, okay. Okay. Okay. Okay.", True), ("Uh-h-h-h-h", True),
    ("Gotcha.", True), ("Oh, I see.", True), ("Thank you.", False), ("No.", False),
    ("and make sure.", False), ("Okay. Wait.", False), ("Hello?", False),
    ("No way.", False), ("Really?", False), ("He.", False), ("Mum.", False), ("Hmm.", True),
])
def test_is_backchannel(text: str, expected: bool) -> None:
    assert is_backchannel(text) is expected


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        BargeInConfig(runon_ms=0)


def test_over_agent_is_true_for_speech_begun_over_the_agent_but_not_for_a_yield() -> None:
    lead = Lead()
    assert not lead.policy.over_agent
    lead.policy.reply_started(None)
    lead.start()
    assert lead.policy.over_agent  # being judged
    lead.talk(200)
    lead.peek("How much is it?")
    assert lead.policy.over_agent  # an interruption
    lead.end("How much is it?", 900)
    assert not lead.policy.over_agent
    lead.policy.reply_started(lead.now)  # answering a turn that just ended...
    lead.start()
    lead.talk(140)  # ...and the lead goes on: a yield, their own turn continues
    assert lead.policy.yielded and not lead.policy.over_agent

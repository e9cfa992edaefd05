"""The turn-taking corpus: what it promises about its clips, checked without a daemon.

The plan (ids, categories, voices, noise, splits) is checked for the whole corpus; rendering
is checked on a Piper-only subset (every multi-part clip and a few noisy clips of each
category), so the test needs neither espeak-ng nor more than a few seconds of synthesis.
espeak-ng clips are rendered only where the program is installed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks import turn_corpus
from benchmarks.turn_corpus import (
    CATEGORIES,
    ESPEAK_VOICES,
    NOISES,
    PIPER_VOICES,
    SNR_DB,
    VOICES,
    Clip,
    build_corpus,
    espeak_available,
    plan_corpus,
)
from benchmarks.turn_metrics import words

MINIMUM = {"interruption": 40, "backchannel": 25, "multipart": 20, "short": 20}
RATE = 8000


def _subset_ids() -> set[str]:
    plans = plan_corpus(PIPER_VOICES)
    ids = {p.id for p in plans if p.category == "multipart"}
    for category in ("interruption", "backchannel", "short"):
        for noise in NOISES:
            ids.add(next(p.id for p in plans if p.category == category and p.noise == noise))
    ids |= {p.id for p in plans if "[cough]" in p.text}
    return ids


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("turn_corpus")


@pytest.fixture(scope="module")
def clips(cache: Path) -> Iterator[list[Clip]]:
    yield build_corpus(cache, voices=PIPER_VOICES, ids=_subset_ids())


@pytest.mark.parametrize("voices", [VOICES, PIPER_VOICES])
def test_every_category_has_enough_clips_over_voices_and_noise(voices: tuple[str, ...]) -> None:
    plans = plan_corpus(voices)
    assert len({p.id for p in plans}) == len(plans)
    for category in CATEGORIES:
        mine = [p for p in plans if p.category == category]
        assert len(mine) >= MINIMUM[category], category
        assert {p.voice for p in mine} == set(voices), category
        assert {p.noise for p in mine} == set(NOISES), category
        assert len({p.voice for p in mine}) >= 2
        held = [p for p in mine if p.split == "heldout"]
        assert 0.3 <= len(held) / len(mine) <= 0.5, category
        # the headline split meets every voice too
        assert {p.voice for p in held} == set(voices), category


def test_heldout_shares_no_phrase_or_paraphrase_with_tune() -> None:
    plans = plan_corpus()
    for category in CATEGORIES:
        tune = [p for p in plans if p.category == category and p.split == "tune"]
        held = [p for p in plans if p.category == category and p.split == "heldout"]
        assert not {p.family for p in tune} & {p.family for p in held}
        norm = {" ".join(words(p.text)) for p in tune}
        assert not norm & {" ".join(words(p.text)) for p in held}


def test_plan_is_stable_and_ids_say_what_a_clip_is() -> None:
    first, again = plan_corpus(), plan_corpus()
    assert first == again
    for plan in first:
        prefix, _number, voice, noise = plan.id.split("-")
        assert turn_corpus.PREFIX[plan.category] == prefix
        assert (voice, noise) == (plan.voice, plan.noise)
    multipart = [p for p in first if p.category == "multipart"]
    assert all(len(p.parts) >= 2 for p in multipart)
    assert all(len(p.parts) == 1 for p in first if p.category != "multipart")


def test_clips_are_telephone_audio_with_speech_spans_inside(clips: list[Clip]) -> None:
    assert clips
    for clip in clips:
        assert clip.audio.dtype == np.int16 and clip.audio.ndim == 1
        assert len(clip.speech) == len(clip.parts)
        assert 250 <= clip.speech[0][0] <= 400, clip.id  # ~300 ms of line before speech
        for start, end in clip.speech:
            assert 0 <= start < end <= clip.duration_ms, clip.id
        assert clip.text == " ".join(clip.parts)
        # mu-law round-tripped: every sample is one of the 256 G.711 levels
        assert set(np.unique(clip.audio)) <= set(turn_corpus_levels())


def turn_corpus_levels() -> list[int]:
    from daemon.media import mulaw

    return [int(v) for v in mulaw.DECODE_TABLE]


def test_multipart_clips_pause_300_to_900_ms_between_parts(clips: list[Clip]) -> None:
    multipart = [c for c in clips if c.category == "multipart"]
    assert len(multipart) >= 20
    for clip in multipart:
        for (_s1, end), (start, _e2) in zip(clip.speech, clip.speech[1:], strict=False):
            assert 300 <= start - end <= 900, (clip.id, clip.speech)


def _estimated_snr_db(clip: Clip) -> float:
    """Speech-span power minus the noise floor (from the non-speech parts), over that floor."""
    audio = clip.audio.astype(np.float64)
    speech = np.zeros(audio.size, dtype=bool)
    guard = np.zeros(audio.size, dtype=bool)
    for start, end in clip.speech:
        speech[start * RATE // 1000:end * RATE // 1000] = True
        guard[max(0, (start - 50) * RATE // 1000):(end + 50) * RATE // 1000] = True
    noise = float(np.mean(audio[~guard] ** 2))
    return 10 * float(np.log10((float(np.mean(audio[speech] ** 2)) - noise) / noise))


def test_noisy_clips_have_the_snr_on_their_label(clips: list[Clip]) -> None:
    noisy = [c for c in clips if c.noise != "clean"]
    assert {c.noise for c in noisy} == {"snr20", "snr10"}
    for clip in noisy:
        assert abs(_estimated_snr_db(clip) - SNR_DB[clip.noise]) <= 2.0, clip.id
    clean = next(c for c in clips if c.noise == "clean")
    assert not clean.audio[: 250 * RATE // 1000].any()  # a clean line is digitally silent


def test_a_second_build_comes_from_the_cache(cache: Path, clips: list[Clip]) -> None:
    started = time.monotonic()
    again = build_corpus(cache, voices=PIPER_VOICES, ids=_subset_ids())
    assert time.monotonic() - started < 2.0
    assert [c.id for c in again] == [c.id for c in clips]
    for old, new in zip(clips, again, strict=True):
        assert np.array_equal(old.audio, new.audio) and old.speech == new.speech


def test_missing_espeak_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(turn_corpus, "espeak_available", lambda: False)
    with pytest.raises(RuntimeError, match="espeak-ng is not installed"):
        build_corpus(tmp_path)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_espeak_clips_render(tmp_path: Path) -> None:
    plans = plan_corpus()
    wanted = {next(p.id for p in plans if p.voice == voice and p.category == category)
              for voice in ESPEAK_VOICES for category in ("interruption", "multipart")}
    rendered = build_corpus(tmp_path, ids=wanted)
    assert {c.id for c in rendered} == wanted
    for clip in rendered:
        assert clip.voice in ESPEAK_VOICES
        assert all(0 <= s < e <= clip.duration_ms for s, e in clip.speech)

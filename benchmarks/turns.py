"""Turn-taking measured from outside: the corpus's clips played to a real daemon, as Twilio would.

Theory of operation
-------------------
For each mode (the shipped defaults, and silence-only endpointing: `ASR_SPECULATIVE_PAUSE_MS`
= `ASR_MAX_SILENCE_MS`) a fresh daemon is started with `DaemonUnderTest`, the strategy is
ingested, and two calibration calls hear the greeting undisturbed (its frames' digests tell
later trials which audio is still the greeting). Then every selected clip of
`turn_corpus` is one call, run by `turn_lead.Trial`, `concurrency` at a time in all (the two
modes side by side, one call each, by default: see `run_turns`):

* interruption / backchannel: the clip starts once the greeting has been audible for a delay
  drawn per clip from 500-1500 ms, over the greeting. Measured: `clear` after the clip's speech
  onset, when the agent's audio stopped playing at the lead, whether the interruption became a
  stored lead turn (>= 50 % of its words); for backchannels whether a `clear` came within 2 s,
  the longest playout gap until the greeting ended, and whether audio was played twice;
* multi-part / short: the clip starts 300 ms after the greeting has finished. Measured: agent
  audio over the lead's speech or between its parts (talk-over), the agent starting before the
  lead finished (cut-off), voice-to-voice from the lead's true end of speech, and whether the
  lead's words were stored as one turn (a talked-over trial stays on the line 2 s after the
  lead's end, so its last part has the time to become a turn).

The stored turns are read over the API after all trials of a mode (reading them between calls
would load the daemon being measured). Arithmetic lives in `turn_metrics`; tables here.

`python -m benchmarks --turns` writes `results/turns.json` and `turns.md`; with
`--update-readme` the Markdown also replaces README's `<!-- turns:start -->` block.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import DEFAULT_STRATEGY, DaemonUnderTest
from benchmarks.meta import command_line, git_state, machine, now_iso
from benchmarks.report import (
    DASH,
    Table,
    ms,
    one_table_markdown,
    print_rich_tables,
    update_marked_file,
    write_pair,
)
from benchmarks.turn_corpus import CATEGORIES, Clip, build_corpus, counts
from benchmarks.turn_lead import Trial, greeting_from
from benchmarks.turn_metrics import Greeting, TrialRecord, summarise_trials, trial_metrics

START_MARK, END_MARK = "<!-- turns:start -->", "<!-- turns:end -->"
SPLITS = ("heldout", "tune")
SCENARIO = "latency_probe"  # only a label: the lead is ours (external_lead)
CALIBRATION_CALLS = 2
FETCH_AT_ONCE = 16

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Mode:
    name: str
    env: dict[str, str]
    description: str


def modes() -> tuple[Mode, ...]:
    silence = os.environ.get("ASR_MAX_SILENCE_MS", "700")
    return (
        Mode("default", {}, "the shipped turn-taking"),
        Mode("silence-only", {"ASR_SPECULATIVE_PAUSE_MS": silence},
             f"a turn ends only after ASR_MAX_SILENCE_MS ({silence} ms) of silence"),
    )


MODE_NAMES = tuple(m.name for m in modes())


@dataclass(frozen=True)
class TurnOptions:
    """What `--turns` varies: which clips, how many at once, which modes."""

    split: str | None = None  # "heldout" | "tune" | None (both)
    limit: int | None = None  # the first N clips of each category
    concurrency: int = 2
    modes: tuple[str, ...] = MODE_NAMES
    strategy: Path = DEFAULT_STRATEGY
    seed: int = 7
    data_dir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["strategy"], data["data_dir"] = str(self.strategy), str(self.data_dir or "") or None
        return data


def select(clips: Sequence[Clip], split: str | None, limit: int | None) -> list[Clip]:
    """The chosen split's clips, at most `limit` per category, categories interleaved."""
    chosen = [c for c in clips if split is None or c.split == split]
    per = [[c for c in chosen if c.category == cat][:limit] for cat in CATEGORIES]
    out: list[Clip] = []
    for row in range(max((len(p) for p in per), default=0)):
        out += [p[row] for p in per if row < len(p)]
    return out


def delay_ms(clip: Clip) -> int:
    """How long the greeting plays before the clip starts over it: 500-1500 ms, per clip."""
    digest = hashlib.sha256(f"delay:{clip.id}".encode()).digest()
    return 500 + int.from_bytes(digest[:4], "big") % 1001


async def _call(daemon: DaemonUnderTest, clip: Clip | None, greeting: Greeting | None) -> TrialRecord:
    placed = await daemon.place_call(SCENARIO)
    return await Trial(daemon.ws_url, placed, clip, greeting, delay_ms(clip) if clip else 0).run()


class ModeRun:
    """One mode's daemon and trials, in phases, so that modes can run side by side."""

    def __init__(self, mode: Mode, opts: TurnOptions, progress: Progress) -> None:
        self.mode = mode
        self.progress = progress
        self.strategy = opts.strategy
        data_dir = opts.data_dir / mode.name if opts.data_dir else None
        self.daemon = DaemonUnderTest(data_dir, env=mode.env)
        self.info: dict[str, Any] = {}
        self.records: list[TrialRecord] = []
        self.greeting: Greeting | None = None
        self.started = time.monotonic()
        self._stopped = False

    async def start(self) -> None:
        """Start the daemon, ingest the strategy, hear the greeting on calibration calls."""
        self.progress(f"turns ({self.mode.name}): starting the daemon, env {self.mode.env or 'defaults'}")
        await self.daemon.start()
        await self.daemon.ingest(self.strategy)
        self.info["ready_s"] = round(time.monotonic() - self.started, 1)

    async def calibrate(self) -> None:
        calls = [_call(self.daemon, None, None) for _ in range(CALIBRATION_CALLS)]
        self.greeting = greeting_from(list(await asyncio.gather(*calls)))
        if self.greeting is None:
            self.progress(f"turns ({self.mode.name}): the greeting differs between calls; "
                          "greeting-based measures are off")

    async def trials(self, clips: Sequence[Clip], concurrency: int) -> None:
        """Every clip, `concurrency` calls at a time; then the stored lead turns of each."""
        gate = asyncio.Semaphore(max(1, concurrency))
        done = 0

        async def one(clip: Clip) -> TrialRecord:
            nonlocal done
            async with gate:
                record = await _call(self.daemon, clip, self.greeting)
            done += 1
            if done % 10 == 0 or done == len(clips):
                self.progress(f"turns ({self.mode.name}): {done}/{len(clips)} trials")
            return record

        self.records = list(await asyncio.gather(*(one(c) for c in clips)))
        fetch = asyncio.Semaphore(FETCH_AT_ONCE)

        async def stored(rec: TrialRecord) -> None:
            async with fetch:
                call = await self.daemon.finished_call(rec.call_id)
            rec.lead_turns = [str(t.get("text") or "") for t in call.get("turns") or []
                              if t.get("role") == "lead"]

        await asyncio.gather(*(stored(r) for r in self.records))
        self.info["seconds"] = round(time.monotonic() - self.started, 1)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.info["exit_code"] = await self.daemon.stop()
        self.info["log_problems"], self.info["log_excerpt"] = self.daemon.log_problems()
        if self.info["exit_code"] != 0:
            self.info["log_tail"] = self.daemon.log_tail(2000)
        self.daemon.cleanup()

    def section(self) -> dict[str, Any]:
        """The mode's part of the result (after `stop`)."""
        greeting = self.greeting
        trials = [trial_metrics(r, greeting) for r in self.records]
        return {
            "name": self.mode.name, "env": self.mode.env, "description": self.mode.description,
            "greeting": None if greeting is None else {
                "audible_frames": greeting.audible_frames, "duration_ms": greeting.duration_ms,
                "max_gap_ms": greeting.max_gap_ms},
            "daemon": self.info, "seconds": self.info.get("seconds"),
            "summary": {s: summarise_trials([t for t in trials if t["split"] == s])
                        for s in SPLITS if any(t["split"] == s for t in trials)},
            "trials": trials,
        }


async def run_turns(opts: TurnOptions, progress: Progress = lambda _m: None) -> dict[str, Any]:
    """Build (or load) the corpus, then run the modes; the JSON-ready result.

    With `concurrency` at least the number of modes, the modes run side by side, each with its
    share of the trials in flight: their daemons start together (a mode's trials never compete
    with another daemon's start-up), and both modes meet the same conditions at the same time,
    so the comparison is paired. Otherwise they run one after another.
    """
    started = time.monotonic()
    progress("turns: building the corpus (cached under .cache/turn_corpus)")
    corpus = await asyncio.to_thread(build_corpus, None, seed=opts.seed)
    clips = select(corpus, opts.split, opts.limit)
    runs = [ModeRun(m, opts, progress) for m in modes() if m.name in opts.modes]
    side_by_side = len(runs) > 1 and opts.concurrency >= len(runs)
    try:
        if side_by_side:
            for phase in (ModeRun.start, ModeRun.calibrate):  # every daemon ready before any trial
                await asyncio.gather(*(phase(r) for r in runs))
            await asyncio.gather(*(r.trials(clips, opts.concurrency // len(runs)) for r in runs))
        else:
            for run in runs:
                await run.start()
                await run.calibrate()
                await run.trials(clips, opts.concurrency)
                await run.stop()
    finally:
        for run in runs:
            await run.stop()
    return {
        "generated_at": now_iso(), "command": command_line(), "machine": machine(),
        "git": git_state(), "options": {**opts.to_dict(), "side_by_side": side_by_side},
        "corpus": {"clips": len(corpus), "counts": counts(corpus), "selected": counts(clips)},
        "modes": [r.section() for r in runs],
        "duration_s": round(time.monotonic() - started, 1),
    }


# --- tables -------------------------------------------------------------------------------


def _pq(summary: dict[str, Any]) -> str:
    if not summary or not summary.get("n"):
        return DASH
    return f"{ms(summary['p50'])} / {ms(summary['p95'])} (n {summary['n']})"


def _frac(count: dict[str, int]) -> str:
    if not count.get("of"):
        return DASH
    return f"{count['n']}/{count['of']} ({100 * count['n'] / count['of']:.0f} %)"


ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("interruption: `clear` after speech onset, p50 / p95 ms", lambda s: _pq(s["interruption"]["clear_ms"])),
    ("interruption: agent audio stops at the lead, p50 ms",
     lambda s: ms(s["interruption"]["audio_stop_ms"]["p50"])),
    ("interruptions kept as a lead turn (>= 50 % of words)", lambda s: _frac(s["interruption"]["kept"])),
    ("interruptions stored as any lead turn", lambda s: _frac(s["interruption"]["stored_any"])),
    ("backchannel: false `clear` (within 2 s)", lambda s: _frac(s["backchannel"]["false_clear"])),
    ("backchannel: longest gap in agent audio, p50 / p95 ms", lambda s: _pq(s["backchannel"]["max_gap_ms"])),
    ("backchannel: agent audio repeated", lambda s: _frac(s["backchannel"]["repeat"])),
    ("backchannel: agent answered it", lambda s: _frac(s["backchannel"]["answered"])),
    ("talk-over (multi-part + short): trials, total ms",
     lambda s: f"{s['talk_over']['n']}/{s['talk_over']['of']}, {s['talk_over']['total_ms']:.0f} ms"),
    ("false cut-off (agent started before the lead finished)", lambda s: _frac(s["cut_off"])),
    ("voice-to-voice, short answers, p50 / p95 ms", lambda s: _pq(s["short"]["voice_to_voice_ms"])),
    ("voice-to-voice, multi-part turns, p50 / p95 ms", lambda s: _pq(s["multipart"]["voice_to_voice_ms"])),
    ("voice-to-voice, short answers, all trials, p50 ms",
     lambda s: ms(s["short"]["voice_to_voice_all_ms"]["p50"])),
    ("voice-to-voice, multi-part turns, all trials, p50 ms",
     lambda s: ms(s["multipart"]["voice_to_voice_all_ms"]["p50"])),
    ("multi-part turns stored as one lead turn", lambda s: _frac(s["multipart"]["one_turn"])),
)


def turns_table(result: dict[str, Any]) -> Table:
    columns = [(m, split) for m in result["modes"] for split in SPLITS if split in m["summary"]]
    table = Table("Turn-taking on the lead's phone (labelled clips, one call each), by mode and split",
                  ["measure"] + [f"{m['name']}, {split}" for m, split in columns])
    for name, cell in ROWS:
        table.rows.append([name] + [cell(m["summary"][split]) for m, split in columns])
    selected = result["corpus"]["selected"]
    table.notes.append(
        "Clips: " + ", ".join(f"{cat} {c['heldout']} held out + {c['tune']} tune"
                              for cat, c in selected.items())
        + "; voices Piper (two paces) and espeak-ng (two variants), clean / 20 dB / 10 dB SNR "
        "telephone noise. Held-out phrases (and their paraphrases) were never used for tuning.")
    table.notes.append(
        "Onset is the clip's first speech frame on the wire; voice-to-voice runs from the lead's "
        "true end of speech to the first agent audio heard, on trials without talk-over. The "
        "backchannel gap is the longest time the lead's playout ran dry before the greeting ended "
        "(trials without a false `clear`).")
    for mode in result["modes"]:
        greeting = mode.get("greeting") or {}
        table.notes.append(
            f"**{mode['name']}**: {mode['description']}"
            + (f"; env {', '.join(f'`{k}={v}`' for k, v in mode['env'].items())}" if mode["env"] else "")
            + f". Greeting {ms(greeting.get('duration_ms'))} ms (longest gap with no one talking "
            f"{ms(greeting.get('max_gap_ms'))} ms); {mode['seconds']:.0f} s; daemon exit "
            f"{mode['daemon'].get('exit_code')}, {mode['daemon'].get('log_problems')} warnings logged.")
        for split in SPLITS:
            if split in mode["summary"]:
                table.notes.extend(_failures(mode["name"], split, mode["summary"][split]))
    return table


def _failures(mode: str, split: str, s: dict[str, Any], limit: int = 10) -> list[str]:
    lists = (("errors", s["errors"]), ("interruption not kept", s["interruption"]["lost"]),
             ("no `clear`", s["interruption"]["no_clear"]),
             ("agent stopped on the lead-in's line noise", s["stopped_before_onset"]),
             ("backchannel false `clear`", s["backchannel"]["false_clear_clips"]),
             ("backchannel answered", s["backchannel"]["answered_clips"]),
             ("talk-over", s["talk_over"]["clips"]), ("cut-off", s["cut_off"]["clips"]),
             ("no reply within 6 s", s["short"]["no_reply"] + s["multipart"]["no_reply"]))
    parts = [f"{name}: {', '.join(f'`{c}`' for c in clips[:limit])}"
             + (f" (+{len(clips) - limit})" if len(clips) > limit else "")
             for name, clips in lists if clips]
    return [f"{mode}, {split}: " + "; ".join(parts) + "."] if parts else []


def print_tables(result: dict[str, Any]) -> None:
    print_rich_tables([turns_table(result)])


def to_markdown(result: dict[str, Any]) -> str:
    return one_table_markdown(result, turns_table(result), (
        "Generated by `python -m benchmarks --turns` (`make bench-turns`); every trial in "
        "`benchmarks/results/turns.json`."))


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_pair(result, to_markdown(result), out_dir, "turns")


def update_readme(markdown: str, readme: Path) -> bool:
    return update_marked_file(readme, markdown, START_MARK, END_MARK)

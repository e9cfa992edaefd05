"""Turn latency of one call at a time: the number a lead on the phone actually feels.

Two views of every answer are kept side by side, because they measure different things:

* **voice-to-voice at the lead**: the lead's last frame carrying speech sent -> the agent's
  first media frame received. This is ground truth: it includes endpointing, the daemon's
  whole pipeline and both WebSocket hops, and it is measured by a clock the daemon does not own;
* **the daemon's own `latency_ms`** on each stored agent turn: endpoint (silence waited before
  deciding the turn was over), ASR, LLM first token, TTS first audio, total. These say where
  the time went. `after_endpoint` (total - endpoint) is the part that is not waiting.

Calls run one after another, in real time, with the `latency_probe` scenario (four short
lines, each answered). A separate `barge_in` call measures how fast `clear` arrives after the
lead starts talking over the agent, and when the agent's audio actually stopped at the lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.accounting import TurnAccounting, account_call
from benchmarks.harness import (
    CallRun,
    DaemonUnderTest,
    LeadVoices,
    run_call,
    scenario_named,
)
from benchmarks.resources import ResourceSampler
from benchmarks.stats import summarise
from daemon.simulate.report import AgentTurnReport, LineReport
from daemon.speech.asr import ASRBackend

LATENCY_KEYS = ("endpoint", "asr", "llm_first_token", "tts_first_audio", "total")

Progress = Callable[[str], None]


def agent_latencies(call: dict[str, Any]) -> list[dict[str, Any]]:
    """`latency_ms` of every agent turn that answered the lead (the greeting has none)."""
    return [
        t["latency_ms"] for t in call.get("turns") or []
        if t.get("role") == "agent" and t.get("latency_ms") and not t.get("interrupted")
    ]


def latency_breakdown(calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95/max per `latency_ms` component over all answering agent turns of `calls`."""
    rows = [lat for call in calls for lat in agent_latencies(call)]
    out = {key: summarise(r.get(key) for r in rows).to_dict() for key in LATENCY_KEYS}
    out["after_endpoint"] = summarise(
        r["total"] - r["endpoint"] for r in rows
        if r.get("total") is not None and r.get("endpoint") is not None
    ).to_dict()
    return out


def call_problems(run: CallRun) -> list[str]:
    """What went wrong on a call, from either side (empty when it ran cleanly)."""
    problems = []
    report = run.report
    if report.error:
        problems.append(f"{run.placed.id}: lead error: {report.error}")
    if not report.connected:
        problems.append(f"{run.placed.id}: lead never connected")
    if report.send_stalls:
        problems.append(f"{run.placed.id}: lead pacing stalled {report.send_stalls}x (bench overloaded)")
    timeouts = [ln.text for ln in report.lines if ln.wait_timed_out]
    if timeouts:
        problems.append(f"{run.placed.id}: agent never finished before {timeouts!r}")
    if report.protocol_errors:
        problems.append(f"{run.placed.id}: protocol errors {report.protocol_errors[:3]!r}")
    if run.call.get("_bench_timeout"):
        problems.append(f"{run.placed.id}: stored call not final (status {run.call.get('status')!r})")
    return problems


def summarise_runs(runs: Sequence[CallRun]) -> dict[str, Any]:
    """Everything the single-call and capacity tables need from a set of finished calls."""
    accounting = TurnAccounting()
    for run in runs:
        accounting = accounting.add(account_call(run.report.lines, run.call.get("turns") or []))
    minutes = sum((r.report.duration_ms or 0.0) for r in runs) / 60_000.0
    late = sum(r.report.late_frames for r in runs)
    missing = sum(r.report.underrun_ms for r in runs) / 20.0
    return {
        "calls": len(runs),
        "call_minutes": round(minutes, 2),
        "voice_to_voice_ms": summarise(v for r in runs for v in r.report.voice_to_voice_ms()).to_dict(),
        "latency_ms": latency_breakdown([r.call for r in runs]),
        "greeting_first_audio_ms": summarise(r.report.first_audio_ms for r in runs).to_dict(),
        "turns": accounting.to_dict(),
        "late_frames": late,
        "missing_frames": round(missing, 1),
        "late_frames_per_call_min": round(late / minutes, 2) if minutes else None,
        "missing_frames_per_call_min": round(missing / minutes, 2) if minutes else None,
        "send_stalls": sum(r.report.send_stalls for r in runs),
        "problems": [p for r in runs for p in call_problems(r)],
    }


def per_call(run: CallRun) -> dict[str, Any]:
    """The raw numbers of one call, kept in latest.json for anyone re-analysing them."""
    return {
        "id": run.placed.id,
        "status": run.call.get("status"),
        "duration_ms": round(run.report.duration_ms or 0.0),
        "first_audio_ms": run.report.first_audio_ms,
        "voice_to_voice_ms": run.report.voice_to_voice_ms(),
        "latency_ms": agent_latencies(run.call),
        "lead_lines": [ln.text for ln in run.report.lines],
        "lead_turns": [t.get("text") for t in run.call.get("turns") or [] if t.get("role") == "lead"],
        "late_frames": run.report.late_frames,
        "underrun_ms": run.report.underrun_ms,
    }


def agent_quiet_after_ms(line: LineReport, agent_turns: Sequence[AgentTurnReport]) -> float | None:
    """Lead starts talking over the agent -> the agent's audio stops playing at the lead.

    The daemon stops sending at once while it checks whether the sound was only "mhm" and
    sends `clear` after the check; the lead stops hearing the agent when its short playout
    buffer runs dry or the `clear` empties it, whichever comes first. The interrupted turn's
    `ended_at` is that moment (see `daemon.simulate.playback.Playout.clear`).
    """
    if line.started_at is None:
        return None
    for turn in agent_turns:
        if turn.interrupted and turn.started_at <= line.started_at <= turn.ended_at:
            return round(1000.0 * max(0.0, turn.ended_at - line.started_at), 1)
    return None


async def barge_in(daemon: DaemonUnderTest, voices: LeadVoices, scenario: str,
                   asr: ASRBackend | None) -> dict[str, Any]:
    """One barge-in call: lead starts talking -> `clear` received, and what was stored."""
    run = await run_call(daemon, voices, scenario_named(scenario), asr)
    lines = [ln for ln in run.report.lines if ln.kind == "barge_in"]
    turns = run.call.get("turns") or []
    return {
        "scenario": scenario,
        "id": run.placed.id,
        "clear_after_ms": lines[0].clear_after_ms if lines else None,
        "agent_quiet_after_ms": agent_quiet_after_ms(lines[0], run.report.agent_turns) if lines else None,
        "over_agent": lines[0].over_agent if lines else None,
        "clears_received": run.report.clears_received,
        "interrupted_turn_stored": any(t.get("interrupted") for t in turns if t.get("role") == "agent"),
        "voice_to_voice_ms": summarise(run.report.voice_to_voice_ms()).to_dict(),
        "turns": account_call(run.report.lines, turns).to_dict(),
        "problems": call_problems(run),
    }


async def run_single_call(daemon: DaemonUnderTest, voices: LeadVoices, *, calls: int,
                          scenario: str = "latency_probe", barge_scenario: str | None = "barge_in",
                          asr: ASRBackend | None = None,
                          progress: Progress = lambda _m: None) -> dict[str, Any]:
    """`calls` calls in a row with `scenario`, then one `barge_scenario` call."""
    probe = scenario_named(scenario)
    runs: list[CallRun] = []
    sampler = ResourceSampler(daemon.pid)
    async with sampler:
        for number in range(1, calls + 1):
            progress(f"single call {number}/{calls} ({scenario})")
            runs.append(await run_call(daemon, voices, probe, asr))
    result = {"scenario": scenario, **summarise_runs(runs), **sampler.cpu_summary(),
              "per_call": [per_call(r) for r in runs]}
    if barge_scenario:
        progress(f"barge-in call ({barge_scenario})")
        result["barge_in"] = await barge_in(daemon, voices, barge_scenario, asr)
    return result

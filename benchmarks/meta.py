"""What a result was measured on and against: machine, commit, providers, and the targets.

A latency number without its machine and commit is an anecdote; these fields make
`latest.json` comparable across runs and changes. Provider names come from the daemon's own
`/healthz` (what it actually loaded), never from guessing at environment variables; the
environment is only reported as which switches were set, never their values (keys are secrets,
and base URLs can embed credentials).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
PROVIDER_SWITCHES = (
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "ELEVENLABS_API_KEY", "TTS_BACKEND", "ASR_BACKEND",
    "ASR_MODEL_PATH", "MONGODB_URL", "TRANSLATION_BACKEND",
)


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
"""CPU features CTranslate2 and ONNX Runtime use for int8 and float math: two hosts sold under
the same name differ several-fold in ASR and TTS speed when these differ."""


def cpu_speed_flags() -> list[str] | None:
    """Which of `SPEED_FLAGS` this CPU has (Linux), or None when it cannot be told."""
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "load_avg_at_start": [round(x, 2) for x in load] if load else None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else os.cpu_count(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_speed_flags(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def git_state() -> dict[str, Any]:
    """Commit and whether the working tree had changes (a dirty tree is not that commit)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    diff = git("diff", "HEAD", "--no-ext-diff")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        # identifies the uncommitted changes, so a run can tell whether the code moved under it
        "diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:12] if diff else None,
    }


def code_changed(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """A warning when the checkout changed while the benchmark ran (numbers mix two versions)."""
    if before.get("commit") == after.get("commit") and before.get("diff_sha1") == after.get("diff_sha1"):
        return None
    return (f"The code changed while the benchmark ran (commit {str(before.get('commit'))[:10]} -> "
            f"{str(after.get('commit'))[:10]}, or uncommitted edits): results mix versions.")


def environment_switches(daemon_env: dict[str, str] | None = None) -> dict[str, bool]:
    """Which provider switches were set for this run, in our environment or only for the daemon
    (values are never recorded)."""
    env = {**os.environ, **(daemon_env or {})}
    return {name: bool(env.get(name)) for name in PROVIDER_SWITCHES}


def providers(health: dict[str, Any] | None, components: dict[str, Any] | None,
              daemon_env: dict[str, str] | None = None) -> dict[str, Any]:
    """The backends measured: the daemon's own description, plus the component backends."""
    out: dict[str, Any] = {}
    if health is not None:
        out["daemon"] = dict(health.get("backends") or {})
    if components:
        out["components"] = {name: section["backend"] for name, section in components.items()
                             if isinstance(section, dict) and "backend" in section}
    switches = environment_switches(daemon_env)
    out["local_only"] = not any(switches[k] for k in (
        "OPENAI_BASE_URL", "OPENAI_API_KEY", "ELEVENLABS_API_KEY", "MONGODB_URL"))
    out["env"] = switches
    return out


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def command_line() -> str:
    return " ".join(["python -m benchmarks", *sys.argv[1:]])


def _check(name: str, target: str, value: float | None, limit: float, unit: str = "ms",
           at_least: bool = False) -> dict[str, Any]:
    met = None if value is None else (value >= limit if at_least else value <= limit)
    shown = "not measured" if value is None else f"{value:.0f} {unit}".strip()
    return {"name": name, "target": target, "measured": shown, "met": met}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets next to what this run measured (shown, never asserted)."""
    rows: list[dict[str, Any]] = []
    single = result.get("single_call")
    if single:
        v2v = single["voice_to_voice_ms"]
        rows.append(_check("voice-to-voice p50 (single call)", "<= 350 ms", v2v["p50"], 350))
        rows.append(_check("voice-to-voice p95 (single call)", "<= 700 ms", v2v["p95"], 700))
        rows.append(_one_turn_per_line(single["scenario"], single["turns"]))
        rows.append(_check("greeting first audio p95", "<= 300 ms",
                           single["greeting_first_audio_ms"]["p95"], 300))
        barge = single.get("barge_in")
        if barge:
            rows.append(_check("barge-in: clear after lead starts", "<= 300 ms",
                               barge["clear_after_ms"], 300))
            rows.append(_one_turn_per_line(barge["scenario"], barge["turns"]))
    capacity = result.get("capacity")
    if capacity:
        rows.append(_capacity_check(capacity))
        growth = capacity["rss_growth_per_call_mb"]
        rows.append(_check("daemon RSS growth per call (models loaded once)", "< 5 MB",
                           growth, 5, unit="MB"))
        if growth is not None:
            rows[-1]["measured"] = f"{growth:.2f} MB"
    return rows


def _one_turn_per_line(scenario: str, turns: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"every lead sentence is one turn ({scenario})", "target": "all lines",
            "measured": f"{turns['exact']}/{turns['lines']} lines (split {turns['split']}, "
                        f"merged {turns['merged']}, lost {turns['lost']})",
            "met": turns["one_turn_per_line"] and turns["split"] == 0}


def _capacity_check(capacity: dict[str, Any], goal: int = 20) -> dict[str, Any]:
    """Met / not met, or undecided when the run stopped below `goal` without collapsing."""
    levels = [row["concurrency"] for row in capacity["levels"]]
    best = capacity["max_concurrency_meeting_target"]
    name = f"concurrent calls with p95 <= {capacity['target_ms'] / 1000:g} s, 0 lost"
    highest = max(levels, default=0)
    if best is not None and best >= goal:
        return {"name": name, "target": f">= {goal}", "measured": f"{best} calls", "met": True}
    if best == highest and not capacity.get("stopped"):
        return {"name": name, "target": f">= {goal}",
                "measured": f">= {best} calls (highest level tried)", "met": None}
    return {"name": name, "target": f">= {goal}",
            "measured": f"{best if best is not None else 0} calls", "met": False}


BUSY_MACHINE_PCT = 25.0  # other processes' mean CPU (% of one core) that skews the numbers
BENCH_LAG_MS = 20.0  # lateness of the bench's own event loop that makes lead timestamps fuzzy


def load_warnings(result: dict[str, Any]) -> list[str]:
    """Say so when something else was using the CPU while calls were measured."""
    sections = [("single call", result.get("single_call"))]
    sections += [(f"{row['concurrency']} calls", row)
                 for row in (result.get("capacity") or {}).get("levels", [])]
    busy = [f"{name}: {section['other_cpu_pct']['mean']:.0f}%"
            for name, section in sections
            if section and (section.get("other_cpu_pct") or {}).get("mean") is not None
            and section["other_cpu_pct"]["mean"] > BUSY_MACHINE_PCT]
    warnings = []
    if busy:
        warnings.append("The machine was not idle: other processes used (mean % of one core) "
                        + ", ".join(busy) + ". Latency and capacity numbers are pessimistic.")
    late = [f"{name}: p95 {section['bench_loop_lag_ms']['p95']:.0f} ms"
            for name, section in sections
            if section and (section.get("bench_loop_lag_ms") or {}).get("p95") is not None
            and section["bench_loop_lag_ms"]["p95"] > BENCH_LAG_MS]
    if late:
        warnings.append("The leads' event loop woke up late (" + ", ".join(late) + "): "
                        "timestamps taken at the lead carry that much error.")
    return warnings

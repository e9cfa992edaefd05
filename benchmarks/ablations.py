"""What each optimisation buys: the same calls with one optimisation switched off at a time.

Every variant is a fresh daemon started with one or two settings changed (environment variables,
exactly what an operator could set), measured by the normal single-call benchmark, plus one
capacity level for the variants that matter under load. The baseline is measured in the same
run, so the comparison is between numbers taken minutes apart on the same machine.

`python -m benchmarks --ablations` writes `results/ablations.json` and `ablations.md`; with
`--update-readme` the Markdown also replaces README's `<!-- ablations:start -->` block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.meta import command_line, git_state, machine, now_iso
from benchmarks.report import (
    DASH,
    Table,
    measured_line,
    ms,
    num,
    print_rich_tables,
    render_markdown_tables,
    update_marked_file,
    write_pair,
)
from benchmarks.run import BenchOptions, run

START_MARK, END_MARK = "<!-- ablations:start -->", "<!-- ablations:end -->"


@dataclass(frozen=True)
class Variant:
    name: str
    switched_off: str  # the optimisation this variant removes, in a user's words
    env: dict[str, str]
    under_load: bool = False  # also measure the capacity level


VARIANTS = (
    Variant("baseline", "nothing: the shipped defaults", {}, under_load=True),
    Variant("silence-only endpointing",
            "speculative transcription at a 180 ms pause with a sentence-complete check; the turn "
            "ends only after ASR_MAX_SILENCE_MS (700 ms) of silence, then Whisper runs",
            {"ASR_SPECULATIVE_PAUSE_MS": "700"}),
    Variant("no TTS cache",
            "pre-synthesised playbook lines and greeting; Piper synthesises every reply live",
            {"TTS_CACHE_ENABLED": "false"}),
    Variant("ASR on 1 thread", "two CPU threads per Whisper decode", {"ASR_CPU_THREADS": "1"}),
    Variant("1 ASR worker", "two Whisper decodes in flight at once (calls queue for one)",
            {"ASR_WORKERS": "1"}, under_load=True),
)


def _p(summary: dict[str, Any] | None, key: str) -> float | None:
    return None if not summary else summary.get(key)


def _row_of(variant: Variant, result: dict[str, Any]) -> dict[str, Any]:
    single = result["single_call"]
    lat = single["latency_ms"]
    row: dict[str, Any] = {
        "variant": variant.name, "switched_off": variant.switched_off, "env": variant.env,
        "voice_to_voice_ms": single["voice_to_voice_ms"],
        "endpoint_ms": lat["endpoint"], "asr_ms": lat["asr"],
        "tts_first_audio_ms": lat["tts_first_audio"],
        "greeting_first_audio_ms": single["greeting_first_audio_ms"],
        "turns": single["turns"],
        "daemon_exit_code": result["daemon"]["exit_code"],
    }
    if result.get("capacity"):
        level = result["capacity"]["levels"][-1]
        row["capacity"] = {"concurrency": level["concurrency"],
                           "voice_to_voice_ms": level["voice_to_voice_ms"],
                           "asr_ms": level["latency_ms"]["asr"],
                           "without_turn": level["turns"]["without_turn"]}
    return row


async def run_ablations(options: BenchOptions, variants: tuple[Variant, ...] = VARIANTS,
                        progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Measure every variant; the options give the calls, scenario and capacity level."""
    opts = options.resolved()
    assert opts.levels is not None
    level = max(opts.levels)
    rows = []
    for variant in variants:
        progress(f"ablation {variant.name!r}: {variant.env or 'defaults'}")
        sections = frozenset({"single", "capacity"} if variant.under_load else {"single"})
        result = await run(replace(opts, sections=sections, levels=(level,), barge_scenario=None,
                                   daemon_env=variant.env), progress)
        rows.append(_row_of(variant, result))
    return {"generated_at": now_iso(), "command": command_line(), "machine": machine(),
            "git": git_state(), "calls": opts.calls, "scenario": opts.scenario,
            "capacity_level": level, "variants": rows}


def ablation_table(result: dict[str, Any]) -> Table:
    level = result["capacity_level"]
    table = Table(
        f"What each optimisation buys ({result['calls']} x {result['scenario']} per variant, "
        f"plus {level} concurrent calls where marked), ms",
        ["variant (setting)", "v2v p50", "v2v p95", "v2v max", "endpoint p50", "ASR p50",
         "TTS first audio p50", "greeting p50", "lines as one turn", f"{level} calls: v2v p95"])
    for row in result["variants"]:
        v2v, turns = row["voice_to_voice_ms"], row["turns"]
        setting = ", ".join(f"`{k}={v}`" for k, v in row["env"].items()) or "defaults"
        load = row.get("capacity")
        table.rows.append([
            f"{row['variant']} ({setting})", ms(_p(v2v, "p50")), ms(_p(v2v, "p95")),
            ms(_p(v2v, "max")), ms(_p(row["endpoint_ms"], "p50")), ms(_p(row["asr_ms"], "p50")),
            num(_p(row["tts_first_audio_ms"], "p50"), 1), ms(_p(row["greeting_first_audio_ms"], "p50")),
            f"{turns['exact']}/{turns['lines']}",
            ms(_p(load["voice_to_voice_ms"], "p95")) if load else DASH])
    table.notes = [f"- **{row['variant']}** switches off: {row['switched_off']}."
                   for row in result["variants"][1:]]
    return table


def print_tables(result: dict[str, Any]) -> None:
    print_rich_tables([ablation_table(result)])


def to_markdown(result: dict[str, Any]) -> str:
    return "\n".join([measured_line(result) + ".", "", render_markdown_tables([ablation_table(result)]),
                      "Generated by `python -m benchmarks --ablations` (`make bench-ablations`); "
                      "all numbers in `benchmarks/results/ablations.json`.", ""])


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_pair(result, to_markdown(result), out_dir, "ablations")


def update_readme(markdown: str, readme: Path) -> bool:
    return update_marked_file(readme, markdown, START_MARK, END_MARK)

"""Turn a result into tables: rich on the terminal, Markdown for README, and the files.

Each table is built once as plain rows (`Table`), then rendered either way, so the terminal and
the README can never disagree. `latest.json` holds every number (the tables are a selection);
`latest.md` is the Markdown README includes verbatim between `<!-- bench:start -->` and
`<!-- bench:end -->`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parents[1] / "README.md"
START_MARK, END_MARK = "<!-- bench:start -->", "<!-- bench:end -->"
DASH = "–"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ms(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f}"


def num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}{suffix}"


def _stat_row(name: str, summary: dict[str, Any] | None) -> list[str]:
    s = summary or {}
    return [name, str(s.get("n", 0)), ms(s.get("p50")), ms(s.get("p95")), ms(s.get("max"))]


def single_call_table(single: dict[str, Any]) -> Table:
    lat = single["latency_ms"]
    table = Table(
        f"Turn latency, one call at a time ({single['calls']} x {single['scenario']}, real time), ms",
        ["measure", "n", "p50", "p95", "max"])
    table.rows = [
        _stat_row("**voice-to-voice at the lead**", single["voice_to_voice_ms"]),
        _stat_row("endpointing (silence waited)", lat["endpoint"]),
        _stat_row("after endpointing (total - endpoint)", lat["after_endpoint"]),
        _stat_row("ASR", lat["asr"]),
        _stat_row("LLM first token", lat["llm_first_token"]),
        _stat_row("TTS first audio", lat["tts_first_audio"]),
        _stat_row("total (daemon's view)", lat["total"]),
        _stat_row("greeting first audio", single["greeting_first_audio_ms"]),
    ]
    barge = single.get("barge_in")
    if barge:
        for name, value in (("barge-in: `clear` after lead starts", barge["clear_after_ms"]),
                            ("barge-in: agent audio stops at the lead", barge.get("agent_quiet_after_ms"))):
            table.rows.append([name, "1" if value is not None else "0", ms(value), ms(value), ms(value)])
    table.notes.append(
        f"{single['scenario']}: {_turns_note(single['turns'])} Agent audio late "
        f"{single['late_frames']}x ({single['missing_frames']:.0f} frames missing).")
    if barge:
        table.notes.append(f"{barge['scenario']}: {_turns_note(barge['turns'])}")
    table.notes.append(
        "Voice-to-voice runs from the lead's last speech frame sent to the first agent frame "
        "received. The daemon's endpoint counts from the last frame its VAD called voiced, which "
        "can precede the lead's last speech frame (quiet word endings), so endpoint and total "
        "can exceed voice-to-voice.")
    if single.get("daemon_cpu_pct"):
        table.notes.append(
            f"CPU while these calls ran (% of one core, mean): daemon "
            f"{num(single['daemon_cpu_pct']['mean'])}, bench process {num(single['bench_cpu_pct']['mean'])}, "
            f"other processes {num(single['other_cpu_pct']['mean'])}.")
    problems = list(single.get("problems") or []) + list((barge or {}).get("problems") or [])
    problems += [f"turns: {p}" for p in single["turns"].get("problems") or []]
    problems += [f"turns: {p}" for p in (barge or {}).get("turns", {}).get("problems") or []]
    if problems:
        table.notes.append("Problems: " + "; ".join(problems[:6]))
    return table


def _turns_note(turns: dict[str, Any]) -> str:
    return (f"lead lines {turns['lines']}, lead turns stored {turns['lead_turns']}: one turn each "
            f"{turns['exact']}, split {turns['split']}, merged {turns['merged']}, lost "
            f"{turns['lost']}, stray {turns['stray']}.")


def capacity_table(capacity: dict[str, Any]) -> Table:
    table = Table(
        f"Capacity ({capacity['scenario']}, starts spread over {capacity['ramp_s']:.0f} s)",
        ["calls", "v2v p50 ms", "v2v p95 ms", "ASR p95 ms", "late frames /call-min",
         "missing frames /call-min", "lines w/o turn", "split", "daemon CPU % mean/max",
         "daemon RSS MB before>after", "bench / other CPU %", "result"])
    for row in capacity["levels"]:
        v2v, cpu, rss = row["voice_to_voice_ms"], row["daemon_cpu_pct"], row["daemon_rss_mb"]
        status = "collapsed: " + row["collapsed"] if row["collapsed"] else (
            "ok" if v2v["p95"] is not None and v2v["p95"] <= capacity["target_ms"] else "slow")
        other = (row.get("other_cpu_pct") or {}).get("mean")
        table.rows.append([
            str(row["concurrency"]), ms(v2v["p50"]), ms(v2v["p95"]), ms(row["latency_ms"]["asr"]["p95"]),
            num(row["late_frames_per_call_min"], 2), num(row["missing_frames_per_call_min"], 1),
            str(row["turns"]["without_turn"]), str(row["turns"]["split"]),
            f"{num(cpu['mean'])}/{num(cpu['max'])}", f"{num(rss['before'])}>{num(rss['after'])}",
            f"{num(row['bench_cpu_pct']['mean'])} / {num(other)}", status])
    best = capacity["max_concurrency_meeting_target"]
    table.notes.append(
        f"Largest concurrency with p95 voice-to-voice <= {capacity['target_ms']:.0f} ms and no line "
        f"without a turn: **{best if best is not None else 'none'}**. Daemon RSS idle "
        f"{num(capacity['idle_rss_mb'])} MB, growth per call "
        f"{num(capacity['rss_growth_per_call_mb'], 2)} MB. "
        "CPU is % of one core.")
    if capacity.get("stopped"):
        table.notes.append(capacity["stopped"].capitalize() + ".")
    return table


def components_table(comp: dict[str, Any]) -> Table:
    table = Table("Components (alone, in one process)", ["component", "backend", "measure", "value"])
    rows = table.rows

    def add(name: str, backend: str, measure: str, value: str) -> None:
        rows.append([name, backend, measure, value])

    for name, section in comp.items():
        if "error" in section:
            add(name, DASH, "error", section["error"][:80])
    if "mulaw" in comp and "error" not in comp["mulaw"]:
        m = comp["mulaw"]
        add("mu-law", "numpy tables", "decode / encode, MB/s",
            f"{num(m['decode_mb_s'])} / {num(m['encode_mb_s'])}")
        add("mu-law", "numpy tables", "decode per 20 ms frame, frames/s",
            f"{num(m['frame_decode_per_s'])} ({num(m['frame_decode_calls_per_core'])} calls/core)")
    if "vad" in comp and "error" not in comp["vad"]:
        v = comp["vad"]
        add("VAD", "webrtcvad + RMS gate", "frames/s",
            f"{num(v['frames_per_s'])} ({num(v['calls_per_core'])} calls/core)")
    if "codec" in comp and "error" not in comp["codec"]:
        c = comp["codec"]
        add("protocol codec", "Media Streams JSON", "parse / encode media, msgs/s",
            f"{num(c['parse_per_s'])} / {num(c['encode_per_s'])} ({num(c['calls_per_core'])} calls/core)")
    if "asr" in comp and "error" not in comp["asr"]:
        a = comp["asr"]
        add("ASR", a["backend"], f"{a['audio_ms'] / 1000:.0f} s utterance: latency p50 / p95, ms",
            f"{ms(a['latency_ms']['p50'])} / {ms(a['latency_ms']['p95'])}")
        add("ASR", a["backend"], "real-time factor (p50) / utterances per s (4 in flight)",
            f"{a['rtf']:.2f} / {a['utterances_per_s']:.2f}")
    if "tts" in comp and "error" not in comp["tts"]:
        t = comp["tts"]
        add("TTS", t["backend"], "one sentence, uncached: first audio p50 / p95, ms",
            f"{ms(t['first_audio_ms']['p50'])} / {ms(t['first_audio_ms']['p95'])}")
        add("TTS", t["backend"], "real-time factor (p50)", num(t["rtf"]["p50"], 2))
        add("TTS", t["backend"], "cache hit: first audio p50, ms",
            num(t["cache_hit_first_audio_ms"]["p50"], 2))
    if "store" in comp and "error" not in comp["store"]:
        s = comp["store"]["upsert_turn_ms"]
        add("store", comp["store"]["backend"], "upsert_turn p50 / p95, ms",
            f"{num(s['p50'], 2)} / {num(s['p95'], 2)}")
    table.notes.append("calls/core: how many calls one core could feed at that rate (50 frames/s each way).")
    return table


def targets_table(targets: list[dict[str, Any]]) -> Table:
    table = Table("Targets (issue 7) - where we stand", ["target", "goal", "measured", "met"])
    for row in targets:
        mark = DASH if row["met"] is None else ("yes" if row["met"] else "**no**")
        table.rows.append([row["name"], row["target"], row["measured"], mark])
    return table


def measured_line(result: dict[str, Any]) -> str:
    """When, on what machine, at which commit."""
    m, git = result["machine"], result["git"]
    commit = (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else "")
    flags = m.get("cpu_flags")
    features = f", {'/'.join(flags) or 'no AVX2'}" if flags is not None else ""
    return (f"Measured {result['generated_at']} on {m['cpu_count']} x {m['cpu_model']} "
            f"({m['memory_gb']} GB{features}), Python {m['python']}, commit `{commit}`")


def header_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"{measured_line(result)}, {result['mode']} run."]
    lines += [f"**Warning:** {w}" for w in result.get("warnings") or []]
    daemon = (result.get("providers") or {}).get("daemon") or {}
    if daemon:
        lines.append("Daemon backends: " + ", ".join(
            f"{k} = {_no_paths(daemon[k])}" for k in ("brain", "asr", "tts", "store") if k in daemon) + ".")
    return lines


def _no_paths(text: str) -> str:
    """A backend description without local paths (temp dirs mean nothing in a README)."""
    return re.sub(r",?\s*/[^,)\s]+", "", str(text))


def tables(result: dict[str, Any]) -> list[Table]:
    out: list[Table] = []
    if result.get("targets"):
        out.append(targets_table(result["targets"]))
    if result.get("single_call"):
        out.append(single_call_table(result["single_call"]))
    if result.get("capacity"):
        out.append(capacity_table(result["capacity"]))
    if result.get("components"):
        out.append(components_table(result["components"]))
    return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown_tables(tables_: list[Table]) -> str:
    """Each table as a bold title, a Markdown table and its notes."""
    parts: list[str] = []
    for table in tables_:
        parts += [f"**{table.title}**", "", "| " + " | ".join(table.headers) + " |",
                  "|" + "|".join("---" for _ in table.headers) + "|"]
        parts += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        parts += [""] + [note + "\n" for note in table.notes]
    return "\n".join(parts)


def to_markdown(result: dict[str, Any]) -> str:
    """The README block: a header line, then each table with its notes."""
    parts = ["\n\n".join(header_lines(result)), "", render_markdown_tables(tables(result)),
             "Generated by `python -m benchmarks` (`make bench`); all numbers in "
             "`benchmarks/results/latest.json`."]
    return "\n".join(parts).rstrip() + "\n"


def print_tables(result: dict[str, Any]) -> None:
    """Rich tables on stdout (rich is imported here only, lazily)."""
    from rich.console import Console

    console = Console()
    for line in header_lines(result):
        console.print(line.replace("`", ""), highlight=False)
    print_rich_tables(tables(result))


def print_rich_tables(tables_: list[Table]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    for table in tables_:
        rich_table = RichTable(title=table.title.replace("**", ""), title_justify="left")
        for header in table.headers:
            rich_table.add_column(header, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*(c.replace("**", "").replace("`", "") for c in row))
        console.print(rich_table)
        for note in table.notes:
            console.print(note.replace("**", ""), highlight=False, soft_wrap=True)


def progress(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]bench:[/] {message}", highlight=False)


def one_table_markdown(result: dict[str, Any], table: Table, footer: str) -> str:
    """A section's Markdown: when and where it was measured, its table, where it came from."""
    parts = [f"{measured_line(result)}; {result['duration_s'] / 60:.0f} minutes.", "",
             render_markdown_tables([table]), footer]
    return "\n".join(parts).rstrip() + "\n"


def write_pair(result: dict[str, Any], markdown: str, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.json` (every number) and `<stem>.md` (the tables); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n", "utf-8")
    md_path.write_text(markdown, "utf-8")
    return json_path, md_path


def write_results(result: dict[str, Any], out_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Write `latest.json` and `latest.md`; returns their paths."""
    return write_pair(result, to_markdown(result), out_dir, "latest")


def replace_block(text: str, block: str) -> str | None:
    """`text` with the part between the bench markers replaced by `block`; None if unmarked."""
    return replace_marked_block(text, block, START_MARK, END_MARK)


def replace_marked_block(text: str, block: str, start: str, end: str) -> str | None:
    """`text` with the part between `start` and `end` replaced by `block`; None if unmarked."""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda _m: f"{start}\n{block.rstrip()}\n{end}", text, count=1)


def update_marked_file(path: Path, block: str, start: str, end: str) -> bool:
    """Replace the part of `path` between `start` and `end`; False (untouched) when unmarked."""
    if not path.exists():
        return False
    updated = replace_marked_block(path.read_text("utf-8"), block, start, end)
    if updated is None:
        return False
    path.write_text(updated, "utf-8")
    return True


def update_readme(markdown: str, readme: Path = README) -> bool:
    """Replace README's bench block; False (README untouched) when it has no markers."""
    return update_marked_file(readme, markdown, START_MARK, END_MARK)

"""`python -m benchmarks` (what `make bench` runs): every benchmark, tables, result files.

Exit status: 0 when the benchmark ran, whatever the numbers say (targets are shown, never
enforced: a slow build is information, not a crash); 1 when the harness itself failed, in which
case `results/latest.*` are left as they were rather than overwritten with partial numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import ablations, campaign, faults, turns
from benchmarks import profile as cpu_profile
from benchmarks.capacity import CapacityLimits
from benchmarks.report import (
    README,
    RESULTS_DIR,
    print_tables,
    progress,
    to_markdown,
    update_readme,
    write_results,
)
from benchmarks.run import SECTIONS, BenchOptions, run

ABLATION_CALLS, ABLATION_LEVEL = 2, 20


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels must be positive integers")
    return levels


def _sections(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not chosen or chosen - set(SECTIONS):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SECTIONS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Scrappy benchmarks: turn latency, capacity and components, measured against "
                    "a real daemon with simulated leads. The daemon inherits this environment, so "
                    "OPENAI_BASE_URL / ELEVENLABS_API_KEY measure those providers.")
    p.add_argument("--quick", action="store_true", help="1 call, levels 1,5, short component runs")
    p.add_argument("--calls", type=int, help="single-call runs in a row (default 3; quick 1)")
    p.add_argument("--levels", type=_levels, help="concurrency levels (default 1,5,10,20,40)")
    p.add_argument("--only", type=_sections, default=frozenset(SECTIONS),
                   help=f"comma-separated sections to run: {', '.join(SECTIONS)}")
    p.add_argument("--listen", action="store_true",
                   help="leads transcribe the agent (a Whisper in the bench process; costs CPU)")
    p.add_argument("--scenario", default="latency_probe", help="scenario of the latency calls")
    p.add_argument("--barge-scenario", default="barge_in", help="scenario of the barge-in call ('' skips)")
    p.add_argument("--strategy", type=Path, help="strategy JSON to ingest (default enterprise_saas)")
    p.add_argument("--ramp", type=float, default=2.0, help="seconds over which a level's calls start")
    p.add_argument("--target-ms", type=float, default=1500.0, help="p95 voice-to-voice goal per level")
    p.add_argument("--collapse-ms", type=float, default=3000.0, help="p95 at which the capacity run stops")
    p.add_argument("--data-dir", type=Path, help="daemon data dir to use (default: a fresh temp dir)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="where latest.json / latest.md go")
    p.add_argument("--update-readme", action="store_true",
                   help="replace README.md's <!-- bench:start --> ... <!-- bench:end --> block "
                        "(with --ablations, --profile, --turns, --faults or --campaign, that section's "
                        "own block)")
    p.add_argument("--ablations", action="store_true",
                   help="measure what each optimisation buys: single calls (default "
                        f"{ABLATION_CALLS}) with one optimisation switched off at a time, plus "
                        f"{ABLATION_LEVEL} concurrent calls for the ones that matter under load; "
                        "writes ablations.json / ablations.md")
    p.add_argument("--profile", action="store_true",
                   help="sample the daemon with py-spy during one capacity level (default "
                        f"{cpu_profile.DEFAULT_LEVEL} calls): where its CPU goes, by area and by "
                        "function; writes profile.json / profile.md / profile.collapsed.txt")
    p.add_argument("--campaign", action="store_true",
                   help="campaign throughput: one daemon, then two sharing a Temporal server and "
                        "a store; writes campaign.json / campaign.md (about 6 minutes)")
    p.add_argument("--faults", action="store_true",
                   help="crash mid-call and restart, store outage mid-call, hostile input during a "
                        "call; writes faults.json / faults.md (about 5 minutes)")
    p.add_argument("--outage-s", type=float, default=30.0,
                   help="with --faults: how long the store stays down (default 30)")
    p.add_argument("--turns", action="store_true",
                   help="turn-taking: labelled lead clips (interruptions, backchannels, multi-part "
                        "turns, short answers) played over and after the greeting, with the "
                        "default daemon and with silence-only endpointing; writes turns.json / "
                        "turns.md (about 15 minutes)")
    p.add_argument("--split", choices=turns.SPLITS, help="with --turns: only this split of the corpus")
    p.add_argument("--limit", type=int, metavar="N", help="with --turns: the first N clips of each category")
    p.add_argument("--concurrency", type=int, default=2, metavar="N",
                   help="with --turns: trials in flight at once, over all modes (default 2: the "
                        "two modes side by side, one call each; more skews latency)")
    p.add_argument("--modes", default=",".join(turns.MODE_NAMES),
                   help=f"with --turns: comma-separated modes ({', '.join(turns.MODE_NAMES)})")
    return p


def turn_options(args: argparse.Namespace) -> turns.TurnOptions:
    chosen = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if not chosen or set(chosen) - set(turns.MODE_NAMES):
        raise ValueError(f"--modes: choose from {', '.join(turns.MODE_NAMES)}")
    if (args.limit is not None and args.limit < 1) or args.concurrency < 1:
        raise ValueError("--limit and --concurrency must be at least 1")
    extra = {"strategy": args.strategy} if args.strategy else {}
    return turns.TurnOptions(split=args.split, limit=args.limit, concurrency=args.concurrency,
                             modes=chosen, data_dir=args.data_dir, **extra)


def options_from(args: argparse.Namespace) -> BenchOptions:
    extra = {"strategy": args.strategy} if args.strategy else {}
    opts = BenchOptions(
        quick=args.quick, calls=args.calls, levels=args.levels, sections=args.only,
        listen=args.listen, scenario=args.scenario, barge_scenario=args.barge_scenario or None,
        ramp_s=args.ramp, limits=CapacityLimits(args.target_ms, args.collapse_ms),
        data_dir=args.data_dir, **extra)
    if args.ablations:  # fewer calls per variant, and one capacity level (the target's)
        opts = replace(opts, calls=args.calls or ABLATION_CALLS,
                       levels=(max(args.levels),) if args.levels else (ABLATION_LEVEL,))
    return opts


async def _run_stoppable(opts: BenchOptions, args: argparse.Namespace) -> dict[str, Any]:
    """The chosen run, cancelled by SIGTERM like by Ctrl-C, so the daemon child is always stopped."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if args.turns:
            return await turns.run_turns(turn_options(args), progress)
        if args.faults:
            return await faults.run_faults(progress, outage_s=args.outage_s)
        if args.campaign:
            return await campaign.run_campaign(progress)
        if args.ablations:
            return await ablations.run_ablations(opts, progress=progress)
        if args.profile:
            return await cpu_profile.run_profile(
                level=max(args.levels) if args.levels else cpu_profile.DEFAULT_LEVEL,
                scenario=opts.scenario, strategy=opts.strategy, ramp_s=opts.ramp_s,
                out_dir=args.out, progress=progress)
        return await run(opts, progress)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run, print, write; returns the exit status (see the module docstring)."""
    p = parser()
    args = p.parse_args(argv)
    if args.ablations + args.profile + args.turns + args.faults + args.campaign > 1:
        p.error("choose one of --ablations, --profile, --turns, --faults and --campaign")
    if args.turns:
        try:
            turn_options(args)
        except ValueError as exc:
            p.error(str(exc))
    opts = options_from(args)
    try:
        result = asyncio.run(_run_stoppable(opts, args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; results not written")
        return 130
    except Exception as exc:  # the harness broke: say so, keep the last good results
        progress(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 1
    if args.ablations or args.profile or args.turns or args.faults or args.campaign:
        kind = (ablations if args.ablations else cpu_profile if args.profile
                else turns if args.turns else faults if args.faults else campaign)
        return _finish_extra(kind, result, args.out, args.update_readme)
    print_tables(result)
    json_path, md_path = write_results(result, args.out)
    progress(f"wrote {json_path} and {md_path}")
    if args.update_readme:
        if update_readme(to_markdown(result)):
            progress("README.md bench block updated")
        else:
            progress("README.md has no <!-- bench:start --> / <!-- bench:end --> markers; left as is")
    return 0


def _finish_extra(kind: ModuleType, result: dict[str, Any], out: Path, readme: bool) -> int:
    """Print, write and publish an ablations or profile result (the modules share this API)."""
    kind.print_tables(result)
    json_path, md_path = kind.write(result, out)
    progress(f"wrote {json_path} and {md_path}")
    if readme:
        if kind.update_readme(kind.to_markdown(result), README):
            progress(f"README.md {kind.START_MARK} block updated")
        else:
            progress(f"README.md has no {kind.START_MARK} / {kind.END_MARK} markers; left as is")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`scrappy bench`: the benchmarks (`python -m benchmarks`) from the CLI.

The benchmarks live in the source checkout, not in the installed packages (they start a daemon
process and need the scenario files), so this command only translates its options into that
runner's arguments; with an editable install it finds `benchmarks/` next to `scrappy_cli/`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from scrappy_cli import render
from scrappy_cli.app import EXIT_ERROR, app

CHECKOUT = Path(__file__).resolve().parents[1]


def _bench_main():
    """`benchmarks.__main__.main`, importing it from the checkout when not on sys.path."""
    try:
        return importlib.import_module("benchmarks.__main__").main
    except ImportError:
        if not (CHECKOUT / "benchmarks" / "__main__.py").is_file():
            raise
        sys.path.insert(0, str(CHECKOUT))
        return importlib.import_module("benchmarks.__main__").main


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="1 call, levels 1,5, short component runs.")] = False,
    calls: Annotated[int | None, typer.Option(help="Single-call runs in a row (default 3).")] = None,
    levels: Annotated[str | None, typer.Option(help="Concurrency levels, e.g. 1,5,10,20,40.")] = None,
    only: Annotated[str | None, typer.Option(help="Sections: components,single,capacity.")] = None,
    listen: Annotated[bool, typer.Option("--listen", help="Leads transcribe the agent.")] = False,
    out: Annotated[Path | None, typer.Option(help="Directory for latest.json / latest.md.")] = None,
    update_readme: Annotated[bool, typer.Option("--update-readme",
                                                help="Replace README.md's bench block.")] = False,
    ablations: Annotated[bool, typer.Option(
        "--ablations", help="Measure what each optimisation buys: the same calls with one "
                            "switched off at a time (writes ablations.json / ablations.md).")] = False,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Sample the daemon with py-spy during 20 concurrent calls: where its "
                          "CPU goes (writes profile.json / profile.md).")] = False,
) -> None:
    """Measure turn latency, capacity and components against a real daemon; write results."""
    argv = ["--quick"] if quick else []
    if ablations:
        argv.append("--ablations")
    if profile:
        argv.append("--profile")
    for flag, value in (("--calls", calls), ("--levels", levels), ("--only", only), ("--out", out)):
        if value is not None:
            argv += [flag, str(value)]
    if listen:
        argv.append("--listen")
    if update_readme:
        argv.append("--update-readme")
    try:
        main = _bench_main()
    except ImportError:
        render.error("the benchmarks need a source checkout of scrappy (benchmarks/ not found)",
                     "run `make bench` from the repository")
        raise typer.Exit(EXIT_ERROR) from None
    code = main(argv)
    if code:
        raise typer.Exit(code)

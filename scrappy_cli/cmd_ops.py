"""`scrappy ops`: open the operators' console (a Textual TUI).

Textual is imported inside the command, so `scrappy --help` and every other command stay
fast; the console finds the daemon and the token exactly as the other commands do.
"""

from __future__ import annotations

from typing import Annotated

import typer

from scrappy_cli.app import app
from scrappy_cli.client import DEFAULT_URL, find_token, setting


def scenario_names() -> list[str]:
    """Scenario names for the simulated-call dialog (the shipped scenario folder)."""
    from daemon.simulate.scenario import list_scenarios

    return list_scenarios()


@app.command()
def ops(
    url: Annotated[str | None, typer.Option(help="Daemon URL (default: SCRAPPY_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="API token (default: SCRAPPY_TOKEN or the "
                                              "admin token file).")] = None,
) -> None:
    """Operators' console: live calls, transcripts, feedback, usage, latency and exports."""
    from scrappy_cli.ops.app import OpsApp
    from scrappy_cli.ops.feed import HttpFeed

    feed = HttpFeed(url or setting("SCRAPPY_URL") or DEFAULT_URL, token or find_token)
    OpsApp(feed, scenarios=scenario_names()).run()

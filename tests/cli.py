"""Run `scrappy` commands in-process with typer's CliRunner against a given daemon."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from scrappy_cli.main import app
from tests.daemon_proc import DaemonProcess


def run_cli(daemon: DaemonProcess | None, *args: str, token: str | None = None,
            url: str | None = None) -> Result:
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    if daemon is not None:
        env["SCRAPPY_URL"] = url or daemon.url
        env["SCRAPPY_DATA_DIR"] = str(daemon.data_dir)
    elif url:
        env["SCRAPPY_URL"] = url
    if token is not None:
        env["SCRAPPY_TOKEN"] = token
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

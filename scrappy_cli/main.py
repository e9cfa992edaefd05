"""Entry point of the `scrappy` command: imports each command module so it registers."""

from __future__ import annotations

from scrappy_cli import cmd_bench, cmd_calls, cmd_campaign, cmd_core, cmd_ops, demo  # noqa: F401  (importing registers commands)
from scrappy_cli.app import app

__all__ = ["app"]

if __name__ == "__main__":
    app()

"""`scrappy ops` registers without importing Textual, so `scrappy --help` stays fast."""

from __future__ import annotations

import subprocess
import sys

from tests.cli import run_cli
from tests.daemon_proc import REPO


def test_help_does_not_import_textual() -> None:
    code = ("import sys; import scrappy_cli.main, scrappy_cli.cmd_ops; "
            "from typer.testing import CliRunner; "
            "r = CliRunner().invoke(scrappy_cli.main.app, ['--help']); "
            "assert r.exit_code == 0 and 'ops' in r.output, r.output; "
            "assert 'textual' not in sys.modules, 'textual imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_ops_help_lists_its_options() -> None:
    import scrappy_cli.cmd_ops  # noqa: F401  (registers the command, as main.py's import will)

    result = run_cli(None, "ops", "--help")
    assert result.exit_code == 0
    assert "--url" in result.stdout and "--token" in result.stdout


def test_scenarios_come_from_the_repo() -> None:
    from scrappy_cli.cmd_ops import scenario_names

    assert "pricing_then_demo" in scenario_names()

"""`scrappy demo`, what `make demo` runs: a private daemon, the sample strategy, one simulated call."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_proc import REPO, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.audio]


def test_demo_runs_a_whole_call_on_a_private_daemon_and_stops_it(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1", "TMPDIR": str(tmp_path),
           # nothing answers here, so the demo starts (and must stop) a daemon of its own
           "SCRAPPY_URL": f"http://127.0.0.1:{free_port()}"}
    env.pop("SCRAPPY_DATA_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "scrappy_cli.main", "demo", "--scenario", "do_not_call"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "starting a demo daemon" in out
    assert "agent |" in out and "lead |" in out, out
    assert "call ended: outcome do_not_call" in out
    assert "latency per agent turn" in out
    found = re.search(r"excel summary\s+(\S+\.xlsx)", out)
    assert found, out
    from openpyxl import load_workbook

    workbook = load_workbook(found.group(1))
    assert workbook.sheetnames  # a real workbook, written by the after-call step
    (data_dir,) = tmp_path.glob("scrappy-demo-*")
    log = (data_dir / "daemon.log").read_text("utf-8")
    assert "scrappy daemon stopped" in log, log[-2000:]

"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import REPO, DaemonProcess

# A verbatim copy of ../shared/examples/strategy.seed.json, so a clone runs its tests alone.
SEED = REPO / "tests" / "data" / "strategy.seed.json"
STRATEGIES = REPO / "strategies"


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A real daemon with the embedded store, shared by one test module."""
    proc = DaemonProcess(tmp_path_factory.mktemp("daemon") / "data")
    proc.start()
    yield proc
    code = proc.stop()
    assert code == 0, f"daemon exited with {code}:\n{proc.log()}"

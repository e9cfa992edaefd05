"""Scale out, proven on loopback: two daemons share one Temporal server and one store.

A campaign spreads its calls over both daemons, neither runs more calls than its
CALLS_MAX_CONCURRENT, and when one daemon is killed mid-campaign the other finishes every lead
(the calls the dead daemon was running are closed and tried again, once each).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from daemon.campaigns.engine import temporal_binary
from tests.daemon_proc import REPO, DaemonProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

PHONES = [f"+1415555340{i}" for i in range(4)]
CAP = 2


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def _service(args: list[str], port: int, log: Path) -> Iterator[None]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A SecantusDB server and a Temporal dev server of their own, as a cluster would have."""
    db_port, temporal_port = free_port(), free_port()
    secantusd = str(Path(sys.executable).parent / "secantusd-py")
    with _service([secantusd, "--host", "127.0.0.1", "--port", str(db_port), "--storage-path",
                   str(tmp_path / "shared-db"), "--log-level", "WARNING"], db_port,
                  tmp_path / "secantus.log"), \
         _service([temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                   "--port", str(temporal_port), "--http-port", str(free_port()),
                   "--metrics-port", str(free_port()), "--log-level", "warn"], temporal_port,
                  tmp_path / "temporal.log"):
        url = f"mongodb://127.0.0.1:{db_port}"
        with MongoClient(url, serverSelectionTimeoutMS=10000) as client:
            client.admin.command("ping")
        yield {"MONGODB_URL": url, "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
               "CALLS_MAX_CONCURRENT": str(CAP)}


def _most_at_once(calls: list[dict[str, Any]]) -> int:
    edges = sorted([(datetime.fromisoformat(c["started_at"]), 1) for c in calls]
                   + [(datetime.fromisoformat(c["ended_at"]), -1) for c in calls])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_two_daemons_share_a_campaign_and_one_finishes_it_alone(
        shared: dict[str, str], tmp_path: Path) -> None:
    a = DaemonProcess(tmp_path / "a" / "data", env=shared).start()
    b = DaemonProcess(tmp_path / "b" / "data", env=shared).start()
    try:
        with a.client() as c:
            strategy = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
            assert c.post("/api/v1/strategies", content=strategy).status_code == 201
            r = c.post("/api/v1/campaigns", json={
                "leads": [{"phone": p} for p in PHONES], "simulate": True,
                "scenario": "dtmf_optout", "concurrency": len(PHONES)})
            assert r.status_code == 201, r.text
            campaign_id = r.json()["id"]
        # both daemons take calls (each at most CAP); then b dies mid-call
        deadline = time.monotonic() + 60
        while True:
            with a.client() as c:
                live = [x for x in c.get("/api/v1/calls?limit=50").json()["calls"]
                        if x["campaign_id"] == campaign_id and x["status"] != "completed"]
            if len({x["daemon"] for x in live}) == 2:
                break
            assert time.monotonic() < deadline, (live, a.log()[-2000:], b.log()[-2000:])
            time.sleep(0.3)
        b.stop(signal.SIGKILL)
        deadline = time.monotonic() + 180
        while True:
            with a.client() as c:
                campaign = c.get(f"/api/v1/campaigns/{campaign_id}").json()
            if campaign["status"] == "completed":
                break
            assert time.monotonic() < deadline, (campaign, a.log()[-4000:])
            time.sleep(1)
        with a.client() as c:
            calls = [x for x in c.get("/api/v1/calls?limit=100").json()["calls"]
                     if x["campaign_id"] == campaign_id]
    finally:
        assert a.stop() == 0, a.log()[-3000:]
        with contextlib.suppress(Exception):
            b.stop()
    daemons = {x["daemon"] for x in calls}
    assert len(daemons) == 2
    for daemon in daemons:
        assert _most_at_once([x for x in calls if x["daemon"] == daemon]) <= CAP
    assert all(lead["state"] == "done" and lead["outcome"] == "do_not_call"
               for lead in campaign["leads"]), campaign["leads"]
    cut = [x for x in calls if x["outcome"] == "interrupted"]
    assert cut and all(x["status"] == "failed" for x in cut)  # closed, not left in progress
    assert sorted(x["id"] for x in calls) == sorted(
        at["call_id"] for lead in campaign["leads"] for at in lead["attempts"])
    for lead in campaign["leads"]:  # a cut call is tried again once; the others are not
        outcomes = [at["outcome"] for at in lead["attempts"]]
        assert outcomes in (["do_not_call"], ["interrupted", "do_not_call"]), lead

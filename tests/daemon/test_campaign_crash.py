"""A campaign survives `kill -9` of its daemon and of its Temporal server: after a restart it
goes on, the calls that were under way are finalised (not left in progress), no lead is called
twice for one attempt and none is skipped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import REPO, DaemonProcess

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

PHONES = [f"+1415555330{i}" for i in range(3)]


def _get(daemon: DaemonProcess, path: str) -> Any:
    with daemon.client() as c:
        return c.get(path).json()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()


def test_kill_9_mid_campaign_then_restart_finishes_every_lead_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = DaemonProcess(data).start()
    try:
        with first.client() as c:
            strategy = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
            assert c.post("/api/v1/strategies", content=strategy).status_code == 201
            r = c.post("/api/v1/campaigns", json={
                "leads": [{"phone": p} for p in PHONES], "simulate": True,
                "scenario": "dtmf_optout", "concurrency": 3})
            assert r.status_code == 201, r.text
            campaign_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while _get(first, f"/api/v1/campaigns/{campaign_id}")["progress"]["calling"] < 3:
            assert time.monotonic() < deadline, first.log()[-3000:]
            time.sleep(0.2)
        time.sleep(2)  # the leads are on the line
        temporal_pid = int((data / "temporal.pid").read_text())
    finally:
        first.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10  # the dev server dies with its daemon
    while _alive(temporal_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(temporal_pid), "the Temporal dev server outlived its daemon"

    second = DaemonProcess(data, port=first.port).start()
    try:
        # while the cut leads are called again, the embedded Temporal server dies too: the
        # daemon starts it again and the calls, their results and the campaign carry on
        deadline = time.monotonic() + 90
        while _get(second, f"/api/v1/campaigns/{campaign_id}")["progress"]["calling"] == 0:
            assert time.monotonic() < deadline, second.log()[-3000:]
            time.sleep(0.2)
        os.kill(int((data / "temporal.pid").read_text()), signal.SIGKILL)
        deadline = time.monotonic() + 180
        while (campaign := _get(second, f"/api/v1/campaigns/{campaign_id}"))["status"] != "completed":
            assert time.monotonic() < deadline, (campaign, second.log()[-4000:])
            time.sleep(1)
        calls = _get(second, "/api/v1/calls?limit=100")["calls"]
        assert "starting it again" in second.log()
    finally:
        assert second.stop() == 0, second.log()[-3000:]
    ours = [c for c in calls if c["campaign_id"] == campaign_id]
    assert all(c["status"] in ("completed", "failed") for c in ours), ours  # none left open
    interrupted = [c for c in ours if c["outcome"] == "interrupted"]
    assert len(interrupted) == 3  # the calls the crash cut, closed at restart
    leads = campaign["leads"]
    assert all(lead["state"] == "done" and lead["outcome"] == "do_not_call" for lead in leads), leads
    # one call per attempt: each cut call was tried again once, as a new attempt
    assert sorted(c["id"] for c in ours) == sorted(a["call_id"] for lead in leads
                                                   for a in lead["attempts"])
    for lead in leads:
        assert [a["outcome"] for a in lead["attempts"]] == ["interrupted", "do_not_call"], lead
    assert {lead["attempts"][0]["call_id"] for lead in leads} == {c["id"] for c in interrupted}


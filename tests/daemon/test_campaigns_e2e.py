"""Campaigns end to end: a real daemon, its embedded Temporal dev server, simulated leads.

Rehearsals apply every rule a real campaign does (do-not-call checked at dial time,
premium-rate numbers, attempt caps, retries, callbacks) without waiting for calling windows,
so these run at any hour. Lead numbers are unique to this module: an opt-out elsewhere must not
change what is checked here.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.cli import run_cli
from tests.daemon_proc import REPO, DaemonProcess

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

CALLBACK, ON_DNC, PREMIUM, LATE_DNC = "+14155553101", "+14155553102", "+19005550100", "+14155553104"


@pytest.fixture(scope="module")
def ready(daemon: DaemonProcess) -> DaemonProcess:
    with daemon.client() as c:
        strategy = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
        assert c.post("/api/v1/strategies", content=strategy).status_code == 201
    return daemon


def _campaign(daemon: DaemonProcess, campaign_id: str) -> dict[str, Any]:
    with daemon.client() as c:
        data: dict[str, Any] = c.get(f"/api/v1/campaigns/{campaign_id}").json()
        return data


def _wait(daemon: DaemonProcess, campaign_id: str, until: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = _campaign(daemon, campaign_id)
        if until(data):
            return data
        assert time.monotonic() < deadline, f"campaign never got there: {data}\n{daemon.log()[-3000:]}"
        time.sleep(0.5)


def test_a_rehearsal_works_the_list_within_the_rules(ready: DaemonProcess, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("Phone,Name,Company,Deal size\n"
                     f"{CALLBACK},Dan Whitaker,Acme,10k\n{ON_DNC},Ona,,\n{PREMIUM},Pat,,\n"
                     f"{LATE_DNC},Lou,,\n{CALLBACK},,Acme Corp,\n", "utf-8")
    with ready.client() as c:
        assert c.post("/api/v1/dnc", json={"phone": ON_DNC}).status_code in (200, 201)
    made = run_cli(ready, "campaign", "create", str(leads), "--simulate", "busy_callback",
                   "--concurrency", "1", "--max-attempts", "2", "--json")
    assert made.exit_code == 0, made.output
    import json

    campaign = json.loads(made.stdout)
    assert campaign["status"] == "scheduled" and campaign["progress"]["leads"] == 4
    with ready.client() as c:  # put on the list after the campaign was made: never called
        assert c.post("/api/v1/dnc", json={"phone": LATE_DNC}).status_code in (200, 201)
    done = _wait(ready, campaign["id"], lambda d: d["status"] == "completed")
    by_phone = {lead["phone"]: lead for lead in done["leads"]}

    callback = by_phone[CALLBACK]  # asked for a callback twice: called twice, then the cap
    assert callback["state"] == "done" and callback["outcome"] == "callback_scheduled"
    assert callback["context"] == {"Deal size": "10k"} and callback["name"] == "Dan Whitaker"
    assert [a["n"] for a in callback["attempts"]] == [1, 2]
    assert len({a["call_id"] for a in callback["attempts"]}) == 2
    first = callback["attempts"][0]
    assert "callback asked for" in first["next"] and "a real campaign would call again" in first["next"]
    assert "(max 2)" in callback["attempts"][1]["next"]
    for phone, reason in ((ON_DNC, "do-not-call"), (PREMIUM, "premium-rate"),
                          (LATE_DNC, "do-not-call")):
        assert by_phone[phone]["state"] == "skipped"
        assert reason in by_phone[phone]["skip_reason"], by_phone[phone]
    with ready.client() as c:
        calls = c.get("/api/v1/calls", params={"limit": 100}).json()["calls"]
    ours = [call for call in calls if call["campaign_id"] == campaign["id"]]
    assert sorted(call["id"] for call in ours) == sorted(a["call_id"] for a in callback["attempts"])
    assert all(call["lead_phone"] == CALLBACK and call["simulated"] for call in ours)
    assert done["progress"] == {**done["progress"], "leads": 4, "finished": 4, "dialled": 2,
                                "skipped": 3, "remaining": 0}

    listed = run_cli(ready, "campaign", "list", "--json")
    assert campaign["id"] in {c["id"] for c in json.loads(listed.stdout)}
    shown = run_cli(ready, "campaign", "show", campaign["id"])
    assert shown.exit_code == 0 and "premium-rate" in shown.stdout
    out = tmp_path / "campaign.xlsx"
    exported = run_cli(ready, "campaign", "export", campaign["id"], "--out", str(out))
    assert exported.exit_code == 0, exported.output
    book = load_workbook(out)
    assert book.sheetnames == ["Campaign", "Leads", "Per day"]
    rows = list(book["Leads"].iter_rows(values_only=True))
    assert len(rows) == 5 and rows[1][1] == CALLBACK and rows[1][7] == 2
    with ready.client() as c:
        assert "embedded dev server" in c.get("/healthz").json()["backends"]["campaigns"]
        made = c.post("/api/v1/exports", json={}).json()  # the general export has the leads too
        content = c.get(f"/api/v1/exports/{made['name']}", params={"kind": "exports"}).content
    leads_sheet = load_workbook(io.BytesIO(content))["Leads"]
    rows = [row for row in leads_sheet.iter_rows(values_only=True) if row[0] == campaign["id"]]
    assert sorted(row[2] for row in rows) == sorted([CALLBACK, ON_DNC, PREMIUM, LATE_DNC])


def test_pause_holds_new_calls_resume_goes_on_cancel_ends(ready: DaemonProcess) -> None:
    phones = [f"+1415555320{i}" for i in range(4)]
    with ready.client() as c:
        r = c.post("/api/v1/campaigns", json={
            "leads": [{"phone": p} for p in phones], "simulate": True, "scenario": "dtmf_optout",
            "concurrency": 1})
        assert r.status_code == 201, r.text
        campaign_id = r.json()["id"]
        assert c.post(f"/api/v1/campaigns/{campaign_id}/pause").status_code == 202
    paused = _wait(ready, campaign_id, lambda d: d["status"] == "paused" and
                   d["progress"]["calling"] == 0)
    dialled = paused["progress"]["dialled"]
    assert dialled <= 1  # at most the call that was ringing when the pause came
    time.sleep(3)
    assert _campaign(ready, campaign_id)["progress"]["dialled"] == dialled
    with ready.client() as c:
        assert c.post(f"/api/v1/campaigns/{campaign_id}/resume").status_code == 202
    _wait(ready, campaign_id, lambda d: d["status"] == "running" and
          d["progress"]["dialled"] > dialled)
    with ready.client() as c:
        assert c.post(f"/api/v1/campaigns/{campaign_id}/cancel").status_code == 202
    ended = _wait(ready, campaign_id, lambda d: d["status"] == "cancelled")
    assert ended["progress"]["calling"] == 0  # the call under way finished and was recorded
    reached = [lead for lead in ended["leads"] if lead["attempts"]]
    assert all(lead["outcome"] == "do_not_call" for lead in reached)
    left = [lead for lead in ended["leads"] if not lead["attempts"]]
    assert left and all(lead["skip_reason"] == "campaign cancelled" for lead in left)
    with ready.client() as c:
        again = c.post(f"/api/v1/campaigns/{campaign_id}/resume")
    assert again.status_code == 409 and "cancelled" in again.json()["error"]


def test_bad_input_is_refused_and_creates_nothing(ready: DaemonProcess, tmp_path: Path) -> None:
    with ready.client() as c:
        before = len(c.get("/api/v1/campaigns").json()["campaigns"])
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,name\n+14155550101,Ann\nnot a number,Bob\n", "utf-8")
    result = run_cli(ready, "campaign", "create", str(bad), "--simulate")
    assert result.exit_code == 2
    assert "row 3, column phone: 'not a number' is not a phone number" in result.stderr
    with ready.client() as c:
        lead = [{"phone": "+14155550101"}]
        cases = [
            ({"leads": lead, "simulate": True, "strategy_id": "nope"}, "strategy_id: no strategy 'nope'"),
            ({"leads": lead, "simulate": True, "window": "05:00-07:00"}, "never opens"),
            ({"leads": lead}, "no telephony configured"),
            ({"leads": [], "simulate": True}, "leads: a non-empty list"),
            ({"leads": lead, "simulate": True, "scenario": "../../etc/passwd"}, "scenario"),
        ]
        for body, problem in cases:
            r = c.post("/api/v1/campaigns", json=body)
            assert r.status_code == 422, (body, r.text)
            assert any(problem in p for p in r.json()["problems"]), (problem, r.json())
        assert len(c.get("/api/v1/campaigns").json()["campaigns"]) == before
        assert c.get("/api/v1/campaigns/cmp_nope").status_code == 404
        assert c.post("/api/v1/campaigns/cmp_nope/pause").status_code == 404

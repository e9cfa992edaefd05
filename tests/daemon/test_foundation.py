"""The foundation through a real daemon on loopback: ingest, versions, auth, bad input."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.cli import run_cli
from tests.daemon_proc import DaemonProcess, free_port

pytestmark = pytest.mark.e2e


def _count(daemon: DaemonProcess) -> int:
    with daemon.client() as c:
        return len(c.get("/api/v1/strategies").json()["strategies"])


def test_healthz_needs_no_token_and_names_backends(daemon: DaemonProcess) -> None:
    body = httpx.get(daemon.url + "/healthz").json()
    assert body["status"] == "ok"
    assert set(body["backends"]) >= {"store", "brain", "asr", "tts", "telephony", "translation"}
    assert body["backends"]["store"] == "secantusdb"
    # nothing about the machine without a token: no pid, no folders, no live calls
    assert not {"pid", "data_dir", "live_calls"} & set(body)
    assert str(daemon.data_dir) not in json.dumps(body)
    wrong = httpx.get(daemon.url + "/healthz", headers={"Authorization": "Bearer nope"}).json()
    assert "pid" not in wrong
    with daemon.client() as c:
        full = c.get("/healthz").json()
    assert full["data_dir"] == str(daemon.data_dir) and full["pid"] > 0
    assert full["backends"]["store"].startswith("secantusdb (embedded")
    result = run_cli(daemon, "status", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["version"] == body["version"]


def test_seed_ingests_unchanged_and_versions(daemon: DaemonProcess, seed_path: Path) -> None:
    first = run_cli(daemon, "ingest", str(seed_path), "--json")
    assert first.exit_code == 0, first.output
    doc1 = json.loads(first.stdout)
    second = run_cli(daemon, "ingest", str(seed_path))
    assert second.exit_code == 0
    assert f"version {doc1['version'] + 1}" in second.stdout
    listed = json.loads(run_cli(daemon, "strategies", "--json").stdout)
    ids = [d["id"] for d in listed]
    assert doc1["id"] in ids
    active = [d for d in listed if d["active"]]
    assert len(active) == 1 and active[0]["version"] == doc1["version"] + 1
    with daemon.client() as c:  # the older version stays readable
        old = c.get(f"/api/v1/strategies/{doc1['id']}").json()
    assert old["payload"]["persona"]["locale"] == "en-IN"
    assert old["payload"]["subagents"][0]["class"] == "apps.agents.sales.agent.FallbackAgent"


BAD_INPUTS = [
    (b"{not json", "body: not valid JSON"),
    (b"\xff\xfe{}", "body: not UTF-8"),
    (b"[1, 2]", "body: expected a JSON object, got an array"),
    (b'{"title": "t", "persona": {"tone": "calm"}}', "persona.name: field required"),
    (b'{"title": "t", "goals": "book_demo", "persona": {"name": "A"}}',
     "goals: input should be a valid list"),
    (b'{"title": "t", "persona": {"name": "A"}, "subagents": [{"name": "x", "class": "os.system"}]}',
     "subagents.0.class: unknown subagent class 'os.system'"),
    (b'{"title": "t", "persona": {"name": "A\\u0007"}}', "persona.name: contains control character"),
]


@pytest.mark.parametrize(("body", "problem"), BAD_INPUTS)
def test_bad_strategy_input_is_refused_with_field_path(
    daemon: DaemonProcess, tmp_path: Path, body: bytes, problem: str
) -> None:
    before = _count(daemon)
    path = tmp_path / "bad.json"
    path.write_bytes(body)
    result = run_cli(daemon, "ingest", str(path))
    assert result.exit_code == 2
    assert problem in result.stderr
    with daemon.client() as c:
        response = c.post("/api/v1/strategies", content=body)
    assert response.status_code == 422
    assert any(problem in p for p in response.json()["problems"])
    assert _count(daemon) == before


def test_oversized_body_gets_413(daemon: DaemonProcess) -> None:
    before = _count(daemon)
    big = b'{"title": "t", "persona": {"name": "A"}, "description": "' + b"x" * (1024 * 1024) + b'"}'
    with daemon.client() as c:
        response = c.post("/api/v1/strategies", content=big)
    assert response.status_code == 413
    assert _count(daemon) == before


def test_auth_roles(daemon: DaemonProcess, seed_path: Path) -> None:
    assert httpx.get(daemon.url + "/api/v1/strategies").status_code == 401
    bad = httpx.get(daemon.url + "/api/v1/strategies", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    created = run_cli(daemon, "token", "create", "--role", "user", "--name", "sdr", "--json")
    assert created.exit_code == 0
    user = json.loads(created.stdout)
    with daemon.client(user["token"]) as c:
        assert c.get("/api/v1/strategies").status_code == 200
        assert c.post("/api/v1/strategies", content=seed_path.read_bytes()).status_code == 201
        assert c.get("/api/v1/tokens").status_code == 403
    denied = run_cli(daemon, "token", "list", token=user["token"])
    assert denied.exit_code == 1 and "admin" in denied.stderr
    listed = json.loads(run_cli(daemon, "token", "list", "--json").stdout)
    assert user["id"] in [t["id"] for t in listed]
    assert "hash" not in json.dumps(listed) and user["token"] not in json.dumps(listed)
    assert run_cli(daemon, "token", "revoke", user["id"]).exit_code == 0
    with daemon.client(user["token"]) as c:
        assert c.get("/api/v1/strategies").status_code == 401


@pytest.mark.parametrize("scenario", ["/etc/passwd", "/etc/no-such-file", "../scenarios/barge_in",
                                      "barge_in.json", "no_such_scenario", {"$ne": None}])
def test_a_simulated_call_runs_only_named_scenarios(
        daemon: DaemonProcess, seed_path: Path, scenario: object) -> None:
    with daemon.client() as c:
        assert c.post("/api/v1/strategies", content=seed_path.read_bytes()).status_code == 201
        r = c.post("/api/v1/calls", json={"phone": "+14155550123", "simulate": True,
                                          "scenario": scenario})
    assert r.status_code == 422, r.text
    problems = " ".join(r.json()["problems"])
    # a path is no name: the same answer whether the file exists or not, and no server folder
    expected = "no scenario named" if scenario in ("no_such_scenario", "barge_in.json") else (
        "must be a string" if isinstance(scenario, dict) else "not a scenario name")
    assert expected in problems, problems
    assert "strategies/scenarios" not in r.text and str(daemon.data_dir) not in r.text


def test_admin_token_file_is_private(daemon: DaemonProcess) -> None:
    mode = (daemon.data_dir / "admin.token").stat().st_mode & 0o777
    assert mode == 0o600


def test_cli_without_daemon_exits_1_with_hint() -> None:
    result = run_cli(None, "strategies", url=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "no scrappy daemon answers" in result.stderr and "scrappy daemon" in result.stderr


def test_restart_keeps_data_lock_and_sigterm(tmp_path: Path, seed_path: Path) -> None:
    data = tmp_path / "data"
    first = DaemonProcess(data).start()
    try:
        ingested = json.loads(run_cli(first, "ingest", str(seed_path), "--json").stdout)
        second = DaemonProcess(data)
        with pytest.raises(RuntimeError, match="already using"):
            second.start(timeout=20)
        assert second.proc is not None and second.proc.returncode == 3
    finally:
        assert first.stop() == 0
    assert "scrappy daemon stopped" in first.log()
    again = DaemonProcess(data).start()
    try:
        with again.client() as c:
            doc = c.get(f"/api/v1/strategies/{ingested['id']}").json()
        assert doc["active"] and doc["version"] == ingested["version"]
    finally:
        assert again.stop() == 0


def test_a_call_cut_by_a_crash_is_closed_at_restart(tmp_path: Path, seed_path: Path) -> None:
    data = tmp_path / "data"
    first = DaemonProcess(data).start()
    try:
        assert run_cli(first, "ingest", str(seed_path)).exit_code == 0
        with first.client() as c:
            call_id = c.post("/api/v1/calls", json={"phone": "+14155550123", "simulate": True,
                                                     "scenario": "pricing_then_demo"}).json()["id"]
            deadline = time.monotonic() + 90
            while len(c.get(f"/api/v1/calls/{call_id}").json()["turns"]) < 2:
                assert time.monotonic() < deadline, first.log()
                time.sleep(0.2)
    finally:
        first.stop(signal.SIGKILL)
    again = DaemonProcess(data).start()
    try:
        with again.client() as c:
            call = c.get(f"/api/v1/calls/{call_id}").json()
        assert call["status"] == "failed" and call["ended_at"], call
        assert call["outcome"] == "interrupted" and "daemon stopped" in call["outcome_detail"]
        assert len(call["turns"]) >= 2  # what was heard is kept
        assert "left unfinished by the previous daemon run" in again.log()
    finally:
        assert again.stop() == 0


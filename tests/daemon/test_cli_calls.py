"""The call-related CLI commands against a real daemon, and the contract's JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_cli
from tests.daemon_proc import REPO, DaemonProcess

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

CALL_KEYS = {"id", "direction", "status", "lead_phone", "lead_name", "strategy_id", "call_sid",
             "started_at", "ended_at", "duration_seconds", "tokens_used", "outcome", "turns"}
TURN_KEYS = {"index", "role", "text", "started_at", "interrupted", "confidence", "latency_ms"}
LATENCY_KEYS = {"endpoint", "asr", "llm_first_token", "tts_first_audio", "total"}


@pytest.fixture(scope="module")
def followed(daemon: DaemonProcess) -> tuple[str, dict[str, Any]]:
    ingest = run_cli(daemon, "ingest", str(REPO / "strategies" / "enterprise_saas.json"))
    assert ingest.exit_code == 0, ingest.output
    # the contract's form: `--simulate [SCENARIO]`
    result = run_cli(daemon, "call", "+14155554001", "--name", "Priya", "--simulate",
                     "busy_callback", "--follow")
    assert result.exit_code == 0, result.output
    call_id = result.stdout.splitlines()[0].strip()
    shown = run_cli(daemon, "show", call_id, "--json")
    return result.stdout, json.loads(shown.stdout)


def test_follow_streams_turns_until_the_call_ends(followed: tuple[str, dict[str, Any]]) -> None:
    out, call = followed
    assert "agent |" in out and "lead |" in out
    assert "call ended: outcome callback_scheduled" in out
    assert call["outcome"] == "callback_scheduled"


def test_show_json_has_the_contract_shape(followed: tuple[str, dict[str, Any]]) -> None:
    _, call = followed
    assert set(call) >= CALL_KEYS
    assert call["direction"] == "outbound" and call["lead_name"] == "Priya"
    for turn in call["turns"]:
        assert set(turn) >= TURN_KEYS
        assert turn["role"] in ("agent", "lead")
        if turn["latency_ms"] is not None:
            assert set(turn["latency_ms"]) == LATENCY_KEYS
    lead = [t for t in call["turns"] if t["role"] == "lead"]
    assert lead and 0 < lead[0]["confidence"] <= 1
    answered = [t for t in call["turns"] if t["role"] == "agent" and t["latency_ms"]]
    assert answered and answered[0]["latency_ms"]["total"] > 0


def test_calls_tail_and_show_render(daemon: DaemonProcess, followed: tuple[str, dict[str, Any]]) -> None:
    _, call = followed
    listed = json.loads(run_cli(daemon, "calls", "--json").stdout)
    assert call["id"] in [c["id"] for c in listed]
    mine = next(c for c in listed if c["id"] == call["id"])
    assert set(mine) >= CALL_KEYS  # listings carry the whole contract shape, turns included
    assert [t["text"] for t in mine["turns"]] == [t["text"] for t in call["turns"]]
    with daemon.client() as c:
        bad = c.get("/api/v1/calls", params={"limit": "ten"})
    assert bad.status_code == 400 and bad.json()["problems"] == ["limit: not a whole number: 'ten'"]
    table = run_cli(daemon, "calls")
    assert call["id"] in table.stdout
    tail = run_cli(daemon, "tail", call["id"])  # a finished call replays its transcript, then ends
    assert tail.exit_code == 0 and call["turns"][1]["text"][:20] in tail.stdout
    assert "call ended" in tail.stdout
    shown = run_cli(daemon, "show", call["id"])
    assert "transcript" in shown.stdout and call["id"] in shown.stdout


def test_export_writes_a_workbook(daemon: DaemonProcess, followed: tuple[str, dict[str, Any]],
                                  tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "calls.xlsx"
    result = run_cli(daemon, "export", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert {"Calls", "Turns", "Summary"} <= set(wb.sheetnames)
    ids = [row[0].value for row in wb["Calls"].iter_rows(min_row=2)]
    assert followed[1]["id"] in ids
    assert wb["Summary"]._charts, "the summary sheet carries a native chart"
    bad = run_cli(daemon, "export", "--since", "yesterday")
    assert bad.exit_code == 2


def test_feedback_usage_and_train(daemon: DaemonProcess, followed: tuple[str, dict[str, Any]]) -> None:
    _, call = followed
    assert run_cli(daemon, "feedback", call["id"], "Lead wanted SMS", "--importance", "3").exit_code == 0
    with daemon.client() as c:
        events = c.get("/api/v1/memory", params={"types": "feedback"}).json()["events"]
    assert any(e["payload"]["text"] == "Lead wanted SMS" and e["call_id"] == call["id"] for e in events)
    assert run_cli(daemon, "feedback", "call_nope", "x").exit_code == 1
    usage = json.loads(run_cli(daemon, "usage", "--json").stdout)
    assert usage["today"]["calls"] >= 1 and usage["today"]["minutes"] > 0
    today = usage["today"]
    assert today["latency_p50_ms"] > 0 and today["latency_p95_ms"] >= today["latency_p50_ms"]
    trained = json.loads(run_cli(daemon, "train", "--now", "--json").stdout)
    assert trained["status"] == "no_change"  # no LLM configured: a report with suggestions


def test_dnc_commands_and_refusal(daemon: DaemonProcess, tmp_path: Path) -> None:
    assert run_cli(daemon, "dnc", "add", "+14155554002").exit_code == 0
    listed = json.loads(run_cli(daemon, "dnc", "list", "--json").stdout)
    assert "+14155554002" in [n["phone"] for n in listed]
    with daemon.client() as c:  # a real call to a listed number is refused, and says why
        refused = c.post("/api/v1/calls", json={"phone": "+14155554002"})
    assert refused.status_code == 422
    assert any("do-not-call" in p for p in refused.json()["problems"])
    source = tmp_path / "dnc.csv"
    source.write_text("phone,name\n+14155554003,Al\n(415) 555-4004,Bo\nnot a number,Cy\n", "utf-8")
    refused_all = run_cli(daemon, "dnc", "import", str(source), "--region", "US")
    assert refused_all.exit_code == 2 and "nothing was imported" in refused_all.stderr
    assert "dnc.csv:4: 'not a number' is not a phone number" in refused_all.stderr
    listed = json.loads(run_cli(daemon, "dnc", "list", "--json").stdout)
    assert "+14155554003" not in [n["phone"] for n in listed]  # all or nothing
    imported = run_cli(daemon, "dnc", "import", str(source), "--region", "US", "--skip-invalid")
    assert imported.exit_code == 0 and "imported 2 new numbers" in imported.stdout
    assert "dnc.csv:4" in imported.stderr
    assert run_cli(daemon, "dnc", "add", "(415) 555-4005", "--region", "US").exit_code == 0
    assert run_cli(daemon, "dnc", "remove", "+14155554002").exit_code == 0
    listed = json.loads(run_cli(daemon, "dnc", "list", "--json").stdout)
    assert "+14155554002" not in [n["phone"] for n in listed]


def test_webhook_adapters_feed_the_agent(daemon: DaemonProcess, followed: tuple[str, dict[str, Any]]) -> None:
    with daemon.client() as c:
        chat = c.post("/api/v1/hooks/chat", json={"text": "How much does it cost?", "auto_reply": True})
        assert chat.status_code == 200, chat.text
        assert "$499" in json.dumps(chat.json())
        twilio = c.post("/api/v1/hooks/twilio_stream",
                        json={"SpeechResult": "Is my data secure?", "auto_reply": True})
        assert twilio.status_code == 200 and "SOC2" in json.dumps(twilio.json())
        unknown = c.post("/api/v1/hooks/fax", json={"text": "hello"})
        assert unknown.status_code == 422 and "fax" in json.dumps(unknown.json())
        # Twilio posts forms; the operator guide wires it to /api/v1/hooks/twilio
        form = c.post("/api/v1/hooks/twilio", data={"SpeechResult": "Is my data secure?",
                                                    "CallSid": "CA-form", "auto_reply": "true"})
        assert form.status_code == 200 and "SOC2" in json.dumps(form.json())
        # one sender saying goodbye does not end every other conversation
        bye = c.post("/api/v1/hooks/chat", json={"text": "Take me off your list.",
                                                 "conversation_id": "lead-a", "auto_reply": True})
        assert bye.status_code == 200
        other = c.post("/api/v1/hooks/chat", json={"text": "How much does it cost?",
                                                   "conversation_id": "lead-b", "auto_reply": True})
        assert "$499" in other.json()["reply"]
        again = c.post("/api/v1/hooks/chat", json={"text": "How much does it cost?",
                                                   "conversation_id": "lead-a", "auto_reply": True})
        assert "$499" in again.json()["reply"]  # a finished conversation starts afresh
        events = c.get("/api/v1/memory", params={"types": "webhook"}).json()["events"]
    assert events, "webhook payloads are logged to memory"


def test_credit_limit_refuses_new_calls(daemon: DaemonProcess) -> None:
    made = json.loads(run_cli(daemon, "token", "create", "--role", "user", "--name", "capped",
                              "--credit-limit", "0", "--json").stdout)
    with daemon.client(made["token"]) as c:
        refused = c.post("/api/v1/calls", json={"phone": "+14155554005", "simulate": True})
    assert refused.status_code == 402
    assert "credit limit reached" in refused.json()["problems"][0]


def test_the_cli_says_what_went_wrong(daemon: DaemonProcess, tmp_path: Path) -> None:
    """Unknown ids, bad tokens, bad limits and wrong file names are errors, not silence."""
    unknown = run_cli(daemon, "tail", "call_nope")
    assert unknown.exit_code == 1 and "no call 'call_nope'" in unknown.stderr
    wrong = run_cli(daemon, "status", token="wrong")
    assert wrong.exit_code == 1 and "HTTP 401" in wrong.stderr
    assert "pid" not in wrong.stdout
    for limit in ("0", "-3"):
        assert run_cli(daemon, "calls", "--limit", limit).exit_code == 2
    csv = run_cli(daemon, "export", "--out", str(tmp_path / "a.csv"))
    assert csv.exit_code == 2 and "name it .xlsx" in csv.stderr
    assert not (tmp_path / "a.csv").exists()
    version = run_cli(None, "--version")
    assert version.exit_code == 0 and version.stdout.startswith("scrappy ")

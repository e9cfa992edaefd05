"""Twilio end to end: REST through Prism (Twilio's own OpenAPI spec), signed webhooks, streams."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from twilio.request_validator import RequestValidator

from daemon.telephony import codec
from tests.daemon_proc import REPO, DaemonProcess
from tests.prism import PrismServer, running_prism

pytestmark = [pytest.mark.e2e, pytest.mark.prism]

ACCOUNT = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789"
PUBLIC = "https://scrappy.example.com"
LEAD = "+14155552671"


@pytest.fixture(scope="module")
def prism() -> Iterator[PrismServer]:
    with running_prism(dynamic=True) as server:  # a fresh CallSid for every call
        yield server


@pytest.fixture(scope="module")
def twilio_daemon(tmp_path_factory: pytest.TempPathFactory, prism: PrismServer) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(tmp_path_factory.mktemp("twilio") / "data", env={
        "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": "+14155550100", "TWILIO_PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_API_BASE_URL": prism.base_url,
        # any hour, so user tokens (no --force) can dial; a short silence timeout
        "CALLING_HOURS_START": "0", "CALLING_HOURS_END": "24", "SILENCE_TIMEOUT_SECONDS": "1.5"})
    proc.start()
    with proc.client() as c:
        body = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
        assert c.post("/api/v1/strategies", content=body).status_code == 201
    yield proc
    assert proc.stop() == 0, proc.log()


def _signed_post(daemon: DaemonProcess, path: str, form: dict[str, str],
                 signature: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    url = PUBLIC + path
    sig = signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return httpx.post(daemon.url + path, data=form,
                      headers={"X-Twilio-Signature": sig, **(headers or {})}, timeout=30)


def _stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    stream = ET.fromstring(twiml).find("./Connect/Stream")
    assert stream is not None, twiml
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


def _call(daemon: DaemonProcess, call_id: str) -> dict[str, Any]:
    with daemon.client() as c:
        return dict(c.get(f"/api/v1/calls/{call_id}").json())


@pytest.fixture(scope="module")
def outbound(twilio_daemon: DaemonProcess, prism: PrismServer) -> dict[str, Any]:
    mark = prism.mark()
    with twilio_daemon.client() as c:
        r = c.post("/api/v1/calls", json={"phone": LEAD, "name": "Ada", "force": True})
    assert r.status_code == 201, r.text
    assert prism.validator_errors(mark) == []
    call = r.json()
    call["_prism_lines"] = prism.lines_since(mark)
    return call


def test_outbound_call_goes_through_twilio_rest(outbound: dict[str, Any]) -> None:
    assert outbound["call_sid"] and outbound["call_sid"].startswith("CA")
    assert outbound["direction"] == "outbound" and outbound["status"] == "queued"
    assert any("Calls.json" in line for line in outbound["_prism_lines"])


def test_real_calls_need_a_webhook_and_obey_the_policy(twilio_daemon: DaemonProcess) -> None:
    with twilio_daemon.client() as c:
        premium = c.post("/api/v1/calls", json={"phone": "+19005551234", "force": True})
        assert premium.status_code == 422
        assert any("premium" in p for p in premium.json()["problems"])
        assert c.post("/api/v1/calls", json={"phone": "12345"}).status_code == 422


def test_voice_webhook_is_signature_checked(twilio_daemon: DaemonProcess, outbound: dict[str, Any]) -> None:
    form = {"CallSid": outbound["call_sid"], "AccountSid": ACCOUNT, "From": "+14155550100",
            "To": LEAD, "CallStatus": "in-progress"}
    assert _signed_post(twilio_daemon, "/twilio/voice", form, signature="bm9wZQ==").status_code == 403
    assert httpx.post(twilio_daemon.url + "/twilio/voice", data=form).status_code == 403
    tampered = _signed_post(twilio_daemon, "/twilio/voice", form)  # signed, then changed below
    assert tampered.status_code == 200
    sig = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/twilio/voice", form)
    forged = httpx.post(twilio_daemon.url + "/twilio/voice", data={**form, "To": "+19005550000"},
                        headers={"X-Twilio-Signature": sig})
    assert forged.status_code == 403


def test_answered_call_streams_with_a_one_time_token(
    twilio_daemon: DaemonProcess, outbound: dict[str, Any], prism: PrismServer
) -> None:
    form = {"CallSid": outbound["call_sid"], "AccountSid": ACCOUNT, "From": "+14155550100",
            "To": LEAD, "CallStatus": "in-progress", "AnsweredBy": "human"}
    r = _signed_post(twilio_daemon, "/twilio/voice", form)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    url, params = _stream_of(r.text)
    assert url == "wss://scrappy.example.com/twilio/media"
    assert params["call_id"] == outbound["id"] and params["stream_token"]
    mark = prism.mark()

    async def press_nine() -> list[str]:
        events: list[str] = []
        ws_url = twilio_daemon.url.replace("http://", "ws://") + "/twilio/media"
        sid = "MZ" + "1" * 32
        async with websockets.connect(ws_url) as ws:
            await ws.send(codec.twilio_connected())
            await ws.send(codec.twilio_start(sid, outbound["call_sid"], ACCOUNT, params))
            await ws.send(codec.twilio_dtmf(sid, 2, "9"))
            async for raw in ws:  # echo marks at once, like a phone that plays instantly
                message = json.loads(raw)
                events.append(message["event"])
                if message["event"] == "mark":
                    await ws.send(codec.twilio_mark(sid, 3, message["mark"]["name"]))
        return events

    events = asyncio.run(asyncio.wait_for(press_nine(), 60))
    assert "media" in events
    call = _call(twilio_daemon, outbound["id"])
    assert call["outcome"] == "do_not_call"
    # the agent hung up through Twilio's REST API (Calls/{sid}.json with Status=completed)
    prism.wait_for(lambda line: f"Calls/{outbound['call_sid']}.json" in line, mark, timeout=20)
    assert prism.validator_errors(mark) == []
    with twilio_daemon.client() as c:
        assert LEAD in {n["phone"] for n in c.get("/api/v1/dnc").json()["numbers"]}
        c.delete(f"/api/v1/dnc/{LEAD}")


def test_status_callbacks_are_idempotent_and_final(
    twilio_daemon: DaemonProcess, outbound: dict[str, Any]
) -> None:
    base = {"CallSid": outbound["call_sid"], "AccountSid": ACCOUNT}
    ringing = _signed_post(twilio_daemon, "/twilio/status", {**base, "CallStatus": "ringing"},
                           headers={"I-Twilio-Idempotency-Token": "tok-1"})
    again = _signed_post(twilio_daemon, "/twilio/status", {**base, "CallStatus": "ringing"},
                         headers={"I-Twilio-Idempotency-Token": "tok-1"})
    assert ringing.status_code == again.status_code == 204
    bad = _signed_post(twilio_daemon, "/twilio/status", {**base, "CallStatus": "completed"},
                       signature="c2lnbmF0dXJl")
    assert bad.status_code == 403
    done = _signed_post(twilio_daemon, "/twilio/status",
                        {**base, "CallStatus": "completed", "CallDuration": "42"})
    assert done.status_code == 204
    call = _call(twilio_daemon, outbound["id"])
    assert call["status"] == "completed" and call["ended_at"]
    assert call["duration_seconds"] == 42  # Twilio's billed duration wins over our clock
    # a late, out-of-order callback is recorded but does not reopen a finished call
    late = _signed_post(twilio_daemon, "/twilio/status", {**base, "CallStatus": "in-progress"})
    assert late.status_code == 204
    assert _call(twilio_daemon, outbound["id"])["status"] == "completed"


def test_a_replayed_voice_webhook_of_a_finished_call_hangs_up(
    twilio_daemon: DaemonProcess, outbound: dict[str, Any]
) -> None:
    # byte-identical to the signed request Twilio sent when the call was answered
    form = {"CallSid": outbound["call_sid"], "AccountSid": ACCOUNT, "From": "+14155550100",
            "To": LEAD, "CallStatus": "in-progress", "AnsweredBy": "human"}
    before = _call(twilio_daemon, outbound["id"])
    assert before["status"] == "completed"
    replay = _signed_post(twilio_daemon, "/twilio/voice", form)
    assert replay.status_code == 200
    root = ET.fromstring(replay.text)
    assert root.find("./Hangup") is not None and root.find("./Connect") is None
    after = _call(twilio_daemon, outbound["id"])
    assert (after["status"], after["ended_at"]) == (before["status"], before["ended_at"])


def test_busy_is_recorded_as_the_outcome(twilio_daemon: DaemonProcess, prism: PrismServer) -> None:
    with twilio_daemon.client() as c:
        call = c.post("/api/v1/calls", json={"phone": "+12125551234", "force": True}).json()
    sid = call["call_sid"]
    subscribed = threading.Event()
    events: list[dict[str, Any]] = []
    follower = threading.Thread(target=_follow_live, args=(twilio_daemon, call["id"], subscribed, events))
    follower.start()
    assert subscribed.wait(10)
    r = _signed_post(twilio_daemon, "/twilio/status", {"CallSid": sid, "AccountSid": ACCOUNT,
                                                       "CallStatus": "busy"})
    assert r.status_code == 204
    follower.join(20)
    # a call that never streamed still ends for its live followers (tail, --follow, ops)
    assert not follower.is_alive() and events[-1]["type"] == "call_ended"
    assert events[-1]["call"]["outcome"] == "busy"
    stored = _call(twilio_daemon, call["id"])
    assert stored["status"] == "busy" and stored["outcome"] == "busy"
    deadline = time.monotonic() + 20
    while not stored.get("workbook") and time.monotonic() < deadline:  # after-call steps ran
        time.sleep(0.2)
        stored = _call(twilio_daemon, call["id"])
    assert stored["workbook"] and Path(stored["workbook"]).exists()


def _follow_live(daemon: DaemonProcess, call_id: str, subscribed: threading.Event,
                 events: list[dict[str, Any]]) -> None:
    with daemon.client() as c, c.stream("GET", "/api/v1/calls/live", params={"call_id": call_id},
                                        timeout=30) as response:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            events.append(json.loads(line[5:]))
            subscribed.set()
            if events[-1]["type"] == "call_ended":
                return


def test_inbound_call_gets_the_active_strategy(twilio_daemon: DaemonProcess) -> None:
    form = {"CallSid": "CA" + "c" * 32, "AccountSid": ACCOUNT, "From": "+14155559876",
            "To": "+14155550100", "CallStatus": "ringing", "Direction": "inbound"}
    r = _signed_post(twilio_daemon, "/twilio/voice", form)
    assert r.status_code == 200
    _, params = _stream_of(r.text)
    call = _call(twilio_daemon, params["call_id"])
    assert call["direction"] == "inbound" and call["lead_phone"] == "+14155559876"
    assert call["strategy_id"].startswith("enterprise-saas-sales")


def test_answering_machine_gets_the_voicemail_line(twilio_daemon: DaemonProcess) -> None:
    form = {"CallSid": "CA" + "d" * 32, "AccountSid": ACCOUNT, "From": "+14155559999",
            "To": "+14155550100", "CallStatus": "in-progress", "AnsweredBy": "machine_end_beep"}
    r = _signed_post(twilio_daemon, "/twilio/voice", form)
    root = ET.fromstring(r.text)
    say = root.find("Say")
    assert say is not None and "Scriza" in (say.text or "")
    assert root.find("Hangup") is not None
    strategy = json.loads((REPO / "strategies" / "enterprise_saas.json").read_text("utf-8"))
    assert (say.text or "").strip() == strategy["scripts"]["voicemail"].strip()
    with twilio_daemon.client() as c:
        calls = c.get("/api/v1/calls").json()["calls"]
    assert any(x["outcome"] == "voicemail" for x in calls)


def test_status_page_names_twilio(twilio_daemon: DaemonProcess) -> None:
    assert httpx.get(twilio_daemon.url + "/healthz").json()["backends"]["telephony"] == "twilio"



def _wait_for_events(daemon: DaemonProcess, event_type: str, call_id: str,
                     timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        with daemon.client() as c:
            events = c.get("/api/v1/memory", params={"types": event_type, "call_id": call_id}).json()
        if events["events"] or time.monotonic() > deadline:
            return list(events["events"])
        time.sleep(0.2)


def test_budget_alert_at_80_percent_then_calls_refused_at_the_limit(
    twilio_daemon: DaemonProcess,
) -> None:
    with twilio_daemon.client() as c:
        made = c.post("/api/v1/tokens", json={"role": "user", "name": "budget-user",
                                              "credit_limit": 1.0}).json()
    base = {"AccountSid": ACCOUNT, "CallStatus": "completed"}

    def call_then_bill(seconds: int) -> str:
        with twilio_daemon.client(made["token"]) as c:
            r = c.post("/api/v1/calls", json={"phone": "+12125550142"})
        assert r.status_code == 201, r.text
        call = r.json()
        done = _signed_post(twilio_daemon, "/twilio/status",
                            {**base, "CallSid": call["call_sid"], "CallDuration": str(seconds)})
        assert done.status_code == 204
        return str(call["id"])

    first = call_then_bill(50)  # 0.83 of 1 minute: crosses 80%
    [alert] = _wait_for_events(twilio_daemon, "budget_alert", first)
    assert alert["payload"] == {"user": "budget-user", "used_minutes": 0.83, "credit_limit": 1.0,
                                "percent": 83}
    second = call_then_bill(30)  # over the limit now, but the alert is not repeated
    deadline = time.monotonic() + 20
    while _call(twilio_daemon, second).get("workbook") is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the after-call steps (usage first) have run once the workbook exists
    assert _wait_for_events(twilio_daemon, "budget_alert", second, timeout=0) == []
    with twilio_daemon.client(made["token"]) as c:
        refused = c.post("/api/v1/calls", json={"phone": "+12125550142"})
        usage = c.get("/api/v1/usage/summary").json()["user"]
    assert refused.status_code == 402
    assert "credit limit reached" in refused.json()["problems"][0]
    assert usage == {"name": "budget-user", "credit_limit": 1.0, "usage_minutes": 1.33}


def test_silent_lead_is_hung_up_on_then_texted(
    twilio_daemon: DaemonProcess, prism: PrismServer
) -> None:
    lead = "+14155550187"
    with twilio_daemon.client() as c:
        call = c.post("/api/v1/calls", json={"phone": lead, "force": True}).json()
    form = {"CallSid": call["call_sid"], "AccountSid": ACCOUNT, "From": "+14155550100",
            "To": lead, "CallStatus": "in-progress", "AnsweredBy": "human"}
    _, params = _stream_of(_signed_post(twilio_daemon, "/twilio/voice", form).text)
    mark = prism.mark()

    async def say_nothing() -> None:
        """A phone line that is open but silent: 20 ms frames of mu-law silence, marks echoed."""
        ws_url = twilio_daemon.url.replace("http://", "ws://") + "/twilio/media"
        sid = "MZ" + "2" * 32
        async with websockets.connect(ws_url) as ws:
            await ws.send(codec.twilio_connected())
            await ws.send(codec.twilio_start(sid, call["call_sid"], ACCOUNT, params))

            sequence = iter(range(2, 1_000_000))

            async def silence() -> None:
                for chunk in range(1, 10_000):
                    await ws.send(codec.twilio_media(sid, next(sequence), chunk, chunk * 20,
                                                     b"\xff" * 160))
                    await asyncio.sleep(0.02)

            sender = asyncio.create_task(silence())
            try:
                async for raw in ws:
                    message = json.loads(raw)
                    if message["event"] == "mark":
                        await ws.send(codec.twilio_mark(sid, next(sequence), message["mark"]["name"]))
            finally:
                sender.cancel()

    asyncio.run(asyncio.wait_for(say_nothing(), 90))
    stored = _call(twilio_daemon, call["id"])
    deadline = time.monotonic() + 20
    while stored.get("outcome") is None and time.monotonic() < deadline:
        time.sleep(0.2)
        stored = _call(twilio_daemon, call["id"])
    assert stored["outcome"] == "no_response"
    agent_lines = [t["text"] for t in stored["turns"] if t["role"] == "agent"]
    assert len(agent_lines) >= 3  # greeting, "are you still there?", goodbye
    assert not [t for t in stored["turns"] if t["role"] == "lead"]
    [sms] = _wait_for_events(twilio_daemon, "followup_sms", call["id"])
    assert sms["payload"]["to"] == lead
    assert re.fullmatch(r"(SM|MM)[0-9a-fA-F]{32}", sms["payload"]["sid"])  # the MessageSid
    assert sms["payload"]["text"].strip()
    # sent through Twilio's REST API, and the request matched Twilio's own schema
    prism.wait_for(lambda line: "Messages.json" in line, mark, timeout=20)
    assert prism.validator_errors(mark) == []

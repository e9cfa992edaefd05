"""The console against a real daemon on loopback, running one real simulated call.

Order matters only for cost: the empty-daemon and user-token checks run before the call; the
feedback/train/export test reuses the call the live test placed (and places one itself when
run alone). Each wait polls the running app with a generous limit; nothing asserts on time.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from scrappy_cli.cmd_ops import scenario_names
from scrappy_cli.ops.app import OpsApp
from scrappy_cli.ops.calls_table import CallsTable
from scrappy_cli.ops.connection_banner import ConnectionBanner
from scrappy_cli.ops.exports_list import ExportsList
from scrappy_cli.ops.feed import HttpFeed
from scrappy_cli.ops.feedback_modal import FeedbackModal
from scrappy_cli.ops.latency_panel import LatencyPanel
from scrappy_cli.ops.state import Backoff
from scrappy_cli.ops.timeline import FeedbackTimeline
from scrappy_cli.ops.transcript import TranscriptPane
from tests.daemon_proc import REPO, DaemonProcess
from tests.ops.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

CALL_LIMIT_S = 180  # a simulated call takes about a minute of real time


@pytest.fixture(scope="module")
def ingested(daemon: DaemonProcess) -> DaemonProcess:
    """The daemon with the enterprise SaaS strategy active and its phrases in the TTS cache."""
    with daemon.client() as c:
        strategy = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
        assert c.post("/api/v1/strategies", content=strategy).status_code == 201
        deadline = time.monotonic() + 120
        while c.get("/healthz").json()["prewarming"] and time.monotonic() < deadline:
            time.sleep(0.5)
    return daemon


def _app(daemon: DaemonProcess, token: str | None = None) -> OpsApp:
    return OpsApp(HttpFeed(daemon.url, token or daemon.admin_token), scenarios=scenario_names(),
                  backoff=Backoff(0.2, 2.0, 2.0))


def _get(daemon: DaemonProcess, path: str, **params: Any) -> Any:
    with daemon.client() as c:
        response = c.get(path, params=params)
        response.raise_for_status()
        return response.json()


def _finished_call(daemon: DaemonProcess) -> str:
    """The newest completed call; places (and waits for) one when the module has none yet."""
    done = [c for c in _get(daemon, "/api/v1/calls")["calls"] if c["status"] == "completed"]
    if done:
        return str(done[0]["id"])
    with daemon.client() as c:
        call_id = c.post("/api/v1/calls", json={"phone": "+14155550123", "simulate": True,
                                                "scenario": "pricing_then_demo"}).json()["id"]
    deadline = time.monotonic() + CALL_LIMIT_S
    while _get(daemon, f"/api/v1/calls/{call_id}")["status"] != "completed":
        assert time.monotonic() < deadline, f"call {call_id} did not finish\n{daemon.log()[-3000:]}"
        time.sleep(1)
    return str(call_id)


async def test_empty_daemon_shows_no_calls(daemon: DaemonProcess) -> None:
    app = _app(daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", ConnectionBanner)
        await wait_for(pilot, lambda: banner.state == "connected", "the connection")
        await wait_for(pilot, lambda: app.link.pending == 0, "the first REST reads")
        await pilot.pause()
        assert app.admin and app.book.rows == {}
        table = app.query_one("#calls", CallsTable)
        assert table.row_count == 0 and "no calls yet" in str(table.border_subtitle)
        assert "0 live calls" in str(banner.render())
        assert app.check_action("train", ()) is True and app.check_action("feedback", ()) is None


async def test_user_token_has_admin_actions_disabled(daemon: DaemonProcess) -> None:
    with daemon.client() as c:
        token = c.post("/api/v1/tokens", json={"role": "user", "name": "ops-viewer"}).json()["token"]
    app = _app(daemon, token)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", ConnectionBanner)
        await wait_for(pilot, lambda: banner.state == "connected", "the connection")
        assert not app.admin and "admin actions disabled" in str(banner.render())
        assert app.check_action("train", ()) is None and app.check_action("export", ()) is None
        assert app.check_action("new_call", ()) is True
        await pilot.press("t", "x")
        await pilot.pause(0.3)
        assert _get(daemon, "/api/v1/memory", types="train_loop")["events"] == []
        assert "admin token" in str(app.query_one("#exports-body").render())


async def test_live_call_then_its_stored_transcript(ingested: DaemonProcess) -> None:
    app = _app(ingested)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", ConnectionBanner)
        await wait_for(pilot, lambda: banner.state == "connected", "the connection")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.id != "_default", "the call dialog")
        await pilot.press("enter")  # defaults: +14155550123, pricing_then_demo
        await wait_for(pilot, lambda: app.book.live_count() == 1, "the call to go live", limit=60)
        call_id = next(r.call_id for r in app.book.rows.values() if r.live)
        table = app.query_one("#calls", CallsTable)
        assert app.selected == call_id and table.cursor_call == call_id, "a call we placed is followed"
        assert "1 live call" in str(banner.render())

        transcript = app.query_one("#transcript", TranscriptPane)
        await wait_for(pilot, lambda: len(transcript.texts) >= 2, "the first turns", limit=90)
        assert app.book.rows[call_id].live and transcript.source == "live"
        assert transcript.call_id == call_id

        await wait_for(pilot, lambda: not app.book.rows[call_id].live, "the call to end",
                       limit=CALL_LIMIT_S, every=0.2)
        stored = _get(ingested, f"/api/v1/calls/{call_id}")
        texts = [t["text"] for t in stored["turns"]]
        await wait_for(pilot, lambda: transcript.source == "stored" and transcript.texts == texts,
                       "the stored transcript")
        assert str(stored["outcome"]) in str(transcript.border_title)
        assert app.query_one("#latency", LatencyPanel).values, "agent turns measured latency"
        assert str(table.get_row(call_id)[0]).endswith(call_id.removeprefix("call_")[:8])


async def test_feedback_export_and_train_on_a_finished_call(ingested: DaemonProcess) -> None:
    call_id = _finished_call(ingested)
    app = _app(ingested)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: call_id in app.book.rows, "the stored calls")
        if app.selected != call_id:
            app.query_one("#calls", CallsTable).point_at(call_id)
            await pilot.press("enter")
        await wait_for(pilot, lambda: app.selected == call_id, "the selection")

        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FeedbackModal), "the feedback dialog")
        await pilot.press(*"Offer the demo slots sooner", "enter")

        def stored_feedback() -> list[dict[str, Any]]:
            events = _get(ingested, "/api/v1/memory", types="feedback")["events"]
            return [e for e in events if e["call_id"] == call_id
                    and e["payload"].get("text") == "Offer the demo slots sooner"]

        await wait_for(pilot, stored_feedback, "the feedback in the memory timeline", every=0.3)
        timeline = app.query_one("#timeline", FeedbackTimeline)
        await wait_for(pilot, lambda: any(e.get("event_type") == "feedback" for e in timeline.events),
                       "the feedback in the console's timeline")

        exports = app.query_one("#exports", ExportsList)
        await pilot.press("x")
        await wait_for(pilot, lambda: any(e["kind"] == "exports" for e in exports.exports),
                       "the new workbook in the exports list", limit=60)
        await pilot.press("t")
        await wait_for(pilot, lambda: any(e.get("event_type") == "train_loop" for e in timeline.events),
                       "the train loop in the timeline", limit=60)
        assert timeline.events[0]["event_type"] == "train_loop", "newest first"


def test_a_user_token_gets_403_on_the_role_probe(daemon: DaemonProcess) -> None:
    """The console's role check relies on this contract; pin it here."""
    with daemon.client() as c:
        token = c.post("/api/v1/tokens", json={"role": "user", "name": "probe"}).json()["token"]
    assert httpx.get(daemon.url + "/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}
                     ).status_code == 403

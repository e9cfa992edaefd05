"""The console driven with Pilot over recorded sessions: flows, bindings, views, reconnects."""

from __future__ import annotations

import copy
from typing import Any

from textual.widgets._footer import FooterKey

from scrappy_cli.ops import messages as m
from scrappy_cli.ops.app import OpsApp
from scrappy_cli.ops.calls_table import CallsTable
from scrappy_cli.ops.campaigns_panel import CampaignsPanel
from scrappy_cli.ops.connection_banner import ConnectionBanner
from scrappy_cli.ops.exports_list import ExportsList
from scrappy_cli.ops.feedback_modal import FeedbackModal
from scrappy_cli.ops.latency_panel import LatencyPanel
from scrappy_cli.ops.replay import Recording, ReplayFeed
from scrappy_cli.ops.state import turn_latencies
from scrappy_cli.ops.timeline import FeedbackTimeline
from scrappy_cli.ops.transcript import TranscriptPane
from tests.ops.helpers import (
    FROZEN_NOW,
    campaigns,
    finished_recording,
    full_call_recording,
    replay_app,
    session,
    settled,
    wait_for,
)


def _transcript(app: OpsApp) -> TranscriptPane:
    return app.query_one("#transcript", TranscriptPane)


def _lines(app: OpsApp) -> str:
    return "\n".join(strip.text for strip in _transcript(app).lines)


async def test_replayed_call_goes_from_live_to_stored() -> None:
    feed = ReplayFeed(full_call_recording())
    app = replay_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        call_id = next(iter(feed.recording.calls))
        row = app.book.rows[call_id]
        assert not row.live and row.status == "completed"
        assert app.selected == call_id
        transcript = _transcript(app)
        stored = [t["text"] for t in feed.recording.calls[call_id]["turns"]]
        assert transcript.source == "stored" and transcript.texts == stored
        assert "demo_booked" in str(transcript.border_title)
        assert app.query_one("#latency", LatencyPanel).values == turn_latencies(
            feed.recording.calls[call_id]["turns"])


async def test_interrupted_turns_are_marked() -> None:
    rec = full_call_recording()
    for event in rec.events:
        if event["type"] == "turn" and event["turn"]["index"] == 2:
            event["turn"]["interrupted"] = True
    rec.calls = {}  # no stored version: what we see is what the stream said
    app = replay_app(ReplayFeed(rec))
    async with app.run_test(size=(100, 40)) as pilot:
        await settled(pilot)
        assert _lines(app).count("✂ interrupted:") == 1


async def test_enter_selects_another_call() -> None:
    rec = finished_recording()
    first = copy.deepcopy(rec.recent_calls[0])
    older = {**first, "id": "call_000000older", "started_at": "2026-11-24T09:00:00+00:00",
             "outcome": "no_response"}
    rec.recent_calls.append(older)
    rec.calls[older["id"]] = {**older, "turns": [{"index": 0, "role": "agent", "text": "Hello?",
                                                  "started_at": older["started_at"],
                                                  "interrupted": False, "latency_ms": None}]}
    app = replay_app(ReplayFeed(rec))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        assert app.selected == first["id"]
        await pilot.press("down")
        assert app.selected == first["id"], "moving the cursor alone must not switch calls"
        await pilot.press("enter")
        await wait_for(pilot, lambda: _transcript(app).texts == ["Hello?"], "the older call's transcript")
        assert app.selected == "call_000000older"
        assert app.query_one("#calls", CallsTable).cursor_call == "call_000000older"


async def test_feedback_modal_sends_feedback_for_the_selected_call() -> None:
    feed = ReplayFeed(finished_recording())
    app = replay_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        assert isinstance(app.screen, FeedbackModal)
        await pilot.press("enter")  # empty text is refused, the dialog stays
        assert isinstance(app.screen, FeedbackModal)
        await pilot.press(*"Ask for the budget earlier", "tab", "backspace", "4", "enter")
        await wait_for(pilot, lambda: feed.actions, "the feedback to be sent")
        assert feed.actions == [("feedback", {"call_id": app.selected, "text": "Ask for the budget earlier",
                                              "importance": 4})]
        await pilot.press("f", "escape")
        assert not isinstance(app.screen, FeedbackModal) and len(feed.actions) == 1


async def test_simulated_call_modal_defaults_to_the_demo_call() -> None:
    feed = ReplayFeed(Recording())
    app = replay_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("n", "enter")
        await wait_for(pilot, lambda: feed.actions, "the call to be placed")
        assert feed.actions == [("call", {"phone": "+14155550123", "scenario": "pricing_then_demo",
                                          "name": None})]


async def test_user_token_sees_admin_actions_disabled() -> None:
    rec = finished_recording()
    rec.admin = False
    feed = ReplayFeed(rec)
    app = replay_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        assert app.check_action("train", ()) is None and app.check_action("export", ()) is None
        assert app.check_action("feedback", ()) is True and app.check_action("new_call", ()) is True
        await pilot.press("t", "x")
        await pilot.pause()
        assert feed.actions == []
        assert app.query_one("#exports", ExportsList).exports == []
        assert "user" in str(app.query_one("#banner", ConnectionBanner).render())
        footer_keys = {k.key: k.has_class("-disabled") for k in app.query(FooterKey)}
        assert footer_keys["t"] and footer_keys["x"] and not footer_keys["f"]


async def test_admin_train_and_export_now() -> None:
    feed = ReplayFeed(finished_recording())
    app = replay_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("t", "x")
        await wait_for(pilot, lambda: len(feed.actions) == 2, "train and export")
        assert sorted(a for a, _ in feed.actions) == ["export", "train"]


async def test_views_toggle_when_narrow_and_sit_side_by_side_when_wide() -> None:
    app = replay_app(ReplayFeed(finished_recording()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        live, ops = app.query_one("#live-view"), app.query_one("#ops-view")
        assert live.display and not ops.display
        await pilot.press("v")
        assert ops.display and not live.display
        assert app.query_one("#timeline", FeedbackTimeline).events[0]["event_type"] == "train_loop"
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert app.screen.has_class("-wide") and live.display and ops.display
        assert ops.region.width > live.region.width  # the ops view has the larger share
        await pilot.press("v")
        assert live.region.width > ops.region.width


async def test_reconnects_with_backoff_and_says_so() -> None:
    feed = ReplayFeed(Recording(), down=True)
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)
        if len(waits) == 3:
            feed.down = False  # the daemon is back after the third try

    app = replay_app(feed, sleep=sleep)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", ConnectionBanner)
        await wait_for(pilot, lambda: banner.state == "connected", "the reconnection")
        assert waits == [1.0, 2.0, 4.0]
        assert app.connected and not app.query_one("#body").has_class("-offline")


async def test_down_banner_counts_down_on_the_clock() -> None:
    now = [1000.0]
    app = replay_app(ReplayFeed(down=True), clock=lambda: now[0])
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        banner = app.query_one("#banner", ConnectionBanner)
        assert "daemon unreachable — retrying in 1s (connection refused)" in str(banner.render())
        assert app.check_action("new_call", ()) is None
        now[0] += 5
        banner.tick(now[0])
        assert "retrying now" in str(banner.render())


async def test_news_while_a_dialog_is_open_updates_the_main_screen() -> None:
    data = session()
    started = next(e for e in data["events"] if e["type"] == "call_started")
    first_turn = next(e for e in data["events"] if e["type"] == "turn")
    rec = finished_recording()
    app = replay_app(ReplayFeed(rec))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        assert isinstance(app.screen, FeedbackModal)
        live = {**started["call"], "call_id": "call_0000000live", "started_at": "2026-11-25T06:00:00+00:00"}
        app.post_message(m.LiveCallChanged(live, started=True))
        app.post_message(m.TurnReceived("call_0000000live", first_turn["turn"]))
        app.post_message(m.Disconnected("connection refused", retry_at=FROZEN_NOW + 2, delay=2))
        await pilot.pause()
        assert isinstance(app.screen, FeedbackModal), "the dialog stays open"
        await pilot.press("escape")
        assert app.selected == "call_0000000live", "a new live call is followed"
        assert _transcript(app).texts == [first_turn["turn"]["text"]]
        assert app.query_one("#banner", ConnectionBanner).state == "down"
        assert app.query_one("#body").has_class("-offline")


def test_recording_matches_the_contract_shapes() -> None:
    data: dict[str, Any] = session()
    call = next(iter(data["calls"].values()))
    assert {"id", "direction", "status", "lead_phone", "turns"} <= set(call)
    assert {"index", "role", "text", "interrupted", "latency_ms"} <= set(call["turns"][0])
    assert data["events"][0]["type"] == "snapshot" and data["events"][-2]["type"] == "call_ended"


async def test_p_pauses_and_resumes_the_newest_open_campaign() -> None:
    rec = finished_recording()
    rec.campaigns = campaigns()
    feed = ReplayFeed(rec)
    app = replay_app(feed)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        panel = app.query_one("#campaigns", CampaignsPanel)
        await wait_for(pilot, lambda: panel.campaigns, "the campaigns to load")
        assert panel.border_subtitle == "p: pause Q1 dental recalls"
        await pilot.press("p")
        await wait_for(pilot, lambda: panel.border_subtitle.startswith("p: resume"), "the pause")
        await pilot.press("p")
        await wait_for(pilot, lambda: len(feed.actions) == 2, "the resume")
        assert feed.actions == [("pause", {"campaign_id": "cmp_000000000002"}),
                                ("resume", {"campaign_id": "cmp_000000000002"})]


async def test_p_is_off_without_an_open_campaign() -> None:
    rec = finished_recording()
    rec.campaigns = campaigns()[1:]  # only the completed one
    feed = ReplayFeed(rec)
    app = replay_app(feed)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        await wait_for(pilot, lambda: app.query_one("#campaigns", CampaignsPanel).campaigns,
                       "the campaigns to load")
        assert app.check_action("toggle_campaign", ()) is None
        await pilot.press("p")
        await pilot.pause()
        assert feed.actions == []


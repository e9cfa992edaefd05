"""`OpsApp`: the operators' console. It owns the widgets and decides what news changes.

Layout: a banner line, then two views, "live" (calls table, transcript, latency) and "ops"
(usage, campaigns, feedback timeline, exports), then the footer of key bindings. Under 120 columns one
view shows at a time and `v` toggles; wider, both show side by side and `v` gives the other
one the larger share. Everything the app knows comes from messages posted by `DaemonLink`;
the clock and the sleep are injectable so a recorded session renders the same every time.
"""

from __future__ import annotations

import time
from datetime import tzinfo
from typing import Any, ClassVar, TypeVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from scrappy_cli.ops import messages as m
from scrappy_cli.ops.call_modal import DEFAULT_PHONE, CallDraft, SimulatedCallModal
from scrappy_cli.ops.calls_table import CallsTable
from scrappy_cli.ops.campaigns_panel import CampaignsPanel
from scrappy_cli.ops.connection_banner import ConnectionBanner
from scrappy_cli.ops.exports_list import ExportsList
from scrappy_cli.ops.feed import Feed
from scrappy_cli.ops.feedback_modal import FeedbackModal
from scrappy_cli.ops.latency_panel import LatencyPanel
from scrappy_cli.ops.link import Clock, DaemonLink, Sleep
from scrappy_cli.ops.state import Backoff, CallBook, turn_latencies
from scrappy_cli.ops.timeline import FeedbackTimeline
from scrappy_cli.ops.transcript import TranscriptPane
from scrappy_cli.ops.usage_panel import UsagePanel

W = TypeVar("W", bound=Widget)

DAEMON_ACTIONS = {"feedback", "train", "new_call", "export", "toggle_campaign"}
CAMPAIGN_REFRESH_TICKS = 5  # while a campaign runs, its progress is read every 5 ticks
ADMIN_ACTIONS = {"train", "export"}


class OpsApp(App[None]):
    CSS_PATH = "ops.tcss"
    TITLE = "Scrappy ops"
    ENABLE_COMMAND_PALETTE = False
    # Textual reads these per class; annotating them as ClassVar upsets mypy (the base declares them oddly)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "feedback", "Feedback"),
        Binding("t", "train", "Train now"),
        Binding("n", "new_call", "Sim call"),
        Binding("x", "export", "Export"),
        Binding("p", "toggle_campaign", "Campaign"),
        Binding("v", "toggle_view", "Views"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, feed: Feed, *, clock: Clock = time.monotonic, sleep: Sleep | None = None,
                 backoff: Backoff | None = None, tz: tzinfo | None = None,
                 scenarios: list[str] | None = None, tick_seconds: float = 1.0,
                 phone: str = DEFAULT_PHONE) -> None:
        super().__init__()
        self.feed = feed
        self.clock = clock
        self.tz = tz
        self.scenarios = scenarios or []
        self.phone = phone
        self.link = DaemonLink(feed, self.post_message, clock=clock, sleep=sleep, backoff=backoff)
        self.book = CallBook()
        self.selected: str | None = None
        self.connected = False
        self.admin = False
        self.view = "live"
        self._tick_seconds = tick_seconds
        self._follow_next: str | None = None  # a call we placed: select it when it goes live
        self._today: dict[str, Any] = {}
        self._ticks = 0
        self._main: Screen[Any]  # the screen the console's widgets live on (set at mount)

    # --- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ConnectionBanner(id="banner")
        with Horizontal(id="body", classes="-live"):
            with Vertical(id="live-view"):
                yield CallsTable(id="calls")
                yield TranscriptPane(self.tz, id="transcript")
                yield LatencyPanel(id="latency")
            with Vertical(id="ops-view"):
                yield UsagePanel(id="usage")
                yield CampaignsPanel(id="campaigns")
                yield FeedbackTimeline(self.tz, id="timeline")
                yield ExportsList(self.tz, id="exports")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # News keeps arriving while a dialog is open, and `App.query_one` searches the active
        # screen (the dialog), so every widget lookup goes through the main screen.
        self._main = self.screen
        self._main.query_one("#calls", CallsTable).border_title = "Calls"
        self._main.query_one("#calls").focus()
        self.set_interval(self._tick_seconds, self._tick)
        self.run_worker(self.link.run(), name="daemon-link", group="link")

    async def on_unmount(self) -> None:
        await self.feed.aclose()

    def _tick(self) -> None:
        now = self.clock()
        try:
            banner = self._main.query_one("#banner", ConnectionBanner)
        except NoMatches:  # a last tick while the app shuts down and its widgets are gone
            return
        banner.tick(now)
        if self.book.live_count():
            self._show_calls()
        self._ticks += 1
        panel = self._find("#campaigns", CampaignsPanel)
        if self.connected and panel is not None and panel.target is not None \
                and self._ticks % CAMPAIGN_REFRESH_TICKS == 0:
            self._load("campaigns")

    # --- the link ---------------------------------------------------------------------------
    @on(m.Connecting)
    def _connecting(self, message: m.Connecting) -> None:
        self._main.query_one("#banner", ConnectionBanner).connecting(message.url)

    @on(m.Connected)
    def _connected(self, message: m.Connected) -> None:
        self.connected, self.admin = True, message.admin
        self._main.query_one("#body").remove_class("-offline")
        self._main.query_one("#banner", ConnectionBanner).connected(message.url, message.admin)
        self.refresh_bindings()

    @on(m.Disconnected)
    def _disconnected(self, message: m.Disconnected) -> None:
        self.connected = False
        self._main.query_one("#body").add_class("-offline")
        self._main.query_one("#banner", ConnectionBanner).down(message.reason, message.retry_at, self.clock())
        self.refresh_bindings()

    @on(m.LiveSnapshot)
    def _snapshot(self, message: m.LiveSnapshot) -> None:
        self.book.apply_snapshot(message.calls, self.clock())
        self._show_calls()
        for what in ("recent", "timeline", "usage", "campaigns") + (("exports",) if self.admin else ()):
            self._load(what)
        if not self.admin:
            self._main.query_one("#exports", ExportsList).show([], admin=False)

    @on(m.LiveCallChanged)
    def _call_changed(self, message: m.LiveCallChanged) -> None:
        new = self.book.upsert_live(message.call, self.clock())
        call_id = str(message.call["call_id"])
        self._show_calls()
        if new or message.started:
            current = self.book.rows.get(self.selected or "")
            if call_id == self._follow_next or current is None or not current.live:
                self._follow_next = None
                self.select_call(call_id)

    @on(m.TurnReceived)
    def _turn(self, message: m.TurnReceived) -> None:
        turn = self.book.add_turn(message.call_id, message.turn)
        self._show_calls()
        if message.call_id == self.selected:
            self._main.query_one("#transcript", TranscriptPane).append(turn)
            self._show_latency()

    @on(m.LiveCallEnded)
    def _call_ended(self, message: m.LiveCallEnded) -> None:
        self.book.end(message.call, self.clock())
        self._show_calls()
        call_id = str(message.call["call_id"])
        if call_id == self.selected:
            self._load("call", call_id)  # the stored transcript is the final word
        for what in ("recent", "usage", "timeline", "campaigns"):
            self._load(what)

    @on(m.DaemonNews)
    def _news(self, message: m.DaemonNews) -> None:
        topic = {"memory": "timeline", "calls": "recent"}.get(message.topic, message.topic)
        if topic == "exports" and not self.admin:
            return
        self._load(topic)

    @on(m.Loaded)
    def _loaded(self, message: m.Loaded) -> None:
        if message.what == "recent":
            self.book.load_recent(message.data)
            self._show_calls()
        elif message.what == "call":
            self.book.set_stored(message.data)
            self._show_calls()
            if message.data["id"] == self.selected:
                self._show_transcript()
        elif message.what == "timeline":
            if timeline := self._find("#timeline", FeedbackTimeline):
                timeline.show(message.data)
        elif message.what == "usage":
            self._today = dict(message.data.get("today") or {})
            if usage := self._find("#usage", UsagePanel):
                usage.show(message.data)
            if latency := self._find("#latency", LatencyPanel):
                latency.show_today(self._today.get("latency_p50_ms"), self._today.get("latency_p95_ms"))
        elif message.what == "campaigns":
            if campaigns := self._find("#campaigns", CampaignsPanel):
                campaigns.show(message.data)
                self.refresh_bindings()
        elif message.what == "exports":
            if exports := self._find("#exports", ExportsList):
                exports.show(message.data, admin=self.admin)

    @on(m.RequestFailed)
    def _failed(self, message: m.RequestFailed) -> None:
        self.notify(message.error, title=f"{message.what} failed", severity="error")

    def _find(self, selector: str, kind: type[W]) -> W | None:
        """A widget of the console, or None while the screen is not (or no longer) mounted:
        data arriving from the daemon at start-up or shutdown must not crash the app."""
        try:
            return self._main.query_one(selector, kind)
        except (NoMatches, AttributeError):
            return None

    def _load(self, what: str, *args: Any) -> None:
        self.run_worker(self.link.load(what, *args), group=f"load-{what}")

    # --- selection --------------------------------------------------------------------------
    @on(m.CallSelected)
    def _call_selected(self, message: m.CallSelected) -> None:
        self.select_call(message.call_id)

    def select_call(self, call_id: str) -> None:
        """Show a call's transcript: what we have at once, then the stored turns."""
        changed = call_id != self.selected
        self.selected = call_id
        self._main.query_one("#calls", CallsTable).point_at(call_id)
        self._show_calls()
        self._show_transcript()
        if changed:
            self._load("call", call_id)
            self.refresh_bindings()

    def _show_calls(self) -> None:
        rows = self.book.ordered()
        self._main.query_one("#calls", CallsTable).show(rows, self.clock(), self.selected)
        self._main.query_one("#calls", CallsTable).border_subtitle = (
            "no calls yet: press n to place a simulated call" if not rows else "")
        self._main.query_one("#banner", ConnectionBanner).live_calls(self.book.live_count())
        if self.selected is None and rows:
            self.select_call(rows[0].call_id)

    def _show_transcript(self) -> None:
        if self.selected is None:
            return
        row = self.book.rows.get(self.selected)
        live = row is not None and row.live
        note = "" if row is None or live else (row.outcome or row.status)
        self._main.query_one("#transcript", TranscriptPane).show(
            self.selected, self.book.transcript(self.selected),
            call_started=row.started_at if row else None, source="live" if live else "stored",
            note=note)
        self._show_latency()

    def _show_latency(self) -> None:
        turns = self.book.transcript(self.selected) if self.selected else []
        self._main.query_one("#latency", LatencyPanel).show_call(turn_latencies(turns))

    # --- actions ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in DAEMON_ACTIONS and not self.connected:
            return None
        if action in ADMIN_ACTIONS and not self.admin:
            return None
        if action == "feedback" and self.selected is None:
            return None
        if action == "toggle_campaign":
            panel = self._find("#campaigns", CampaignsPanel)
            return None if panel is None or panel.target is None else True
        return True

    def action_toggle_view(self) -> None:
        self.view = "ops" if self.view == "live" else "live"
        body = self._main.query_one("#body")
        body.set_class(self.view == "live", "-live")
        body.set_class(self.view == "ops", "-ops")
        if self.view == "live":
            self._main.query_one("#calls").focus()

    def action_feedback(self) -> None:
        if self.selected is None:
            return
        call_id = self.selected

        def done(result: tuple[str, int] | None) -> None:
            if result is not None:
                self._send_feedback(call_id, *result)

        self.push_screen(FeedbackModal(call_id), done)

    @work(group="actions")
    async def _send_feedback(self, call_id: str, text: str, importance: int) -> None:
        if await self.link.act("feedback", self.feed.add_feedback(call_id, text, importance)) is not None:
            self.notify(f"Feedback stored for {call_id}.", title="Feedback")
            self._load("timeline")

    @work(group="actions", exclusive=True)
    async def action_train(self) -> None:
        self.notify("Running the train loop…", title="Train")
        result = await self.link.act("train", self.feed.train())
        if result is not None:
            detail = result.get("new_strategy_id") or "; ".join(result.get("suggestions") or [])[:120]
            self.notify(f"{result.get('status')}{': ' + detail if detail else ''}", title="Train loop")
            self._load("timeline")

    def action_new_call(self) -> None:
        def done(draft: CallDraft | None) -> None:
            if draft is not None:
                self._place_call(draft)

        self.push_screen(SimulatedCallModal(self.scenarios, self.phone), done)

    @work(group="actions")
    async def _place_call(self, draft: CallDraft) -> None:
        created = await self.link.act("call", self.feed.place_simulated_call(
            draft.phone, draft.scenario, draft.name))
        if created is not None:
            self._follow_next = str(created.get("id"))
            warnings = "; ".join(created.get("warnings") or [])
            self.notify(f"Calling {draft.phone} ({created.get('id')}){' — ' + warnings if warnings else ''}",
                        title="Simulated call")

    @work(group="actions", exclusive=True)
    async def action_toggle_campaign(self) -> None:
        panel = self._find("#campaigns", CampaignsPanel)
        target = panel.target if panel is not None else None
        if target is None:
            return
        action = "resume" if target["status"] == "paused" else "pause"
        if await self.link.act(action, self.feed.control_campaign(target["id"], action)) is not None:
            self.notify(f"{action.capitalize()} {target['name']}.", title="Campaign")
            self._load("campaigns")

    @work(group="actions", exclusive=True)
    async def action_export(self) -> None:
        self.notify("Writing the workbook…", title="Export")
        made = await self.link.act("export", self.feed.export_now())
        if made is not None:
            self.notify(f"Wrote {made.get('name')} ({made.get('calls')} calls).", title="Export")
            self._load("exports")

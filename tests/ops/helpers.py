"""Helpers for the ops console tests: recorded sessions, a frozen clock, polling with Pilot."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from scrappy_cli.ops.app import OpsApp
from scrappy_cli.ops.feed import Feed
from scrappy_cli.ops.replay import Recording, ReplayFeed

SESSION = Path(__file__).parent / "data" / "pricing_then_demo.json"
FROZEN_NOW = 1000.0
SCENARIOS = ["barge_in", "pricing_then_demo", "silence_timeout"]


def session() -> dict[str, Any]:
    return dict(json.loads(SESSION.read_text("utf-8")))


def _rest(part: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(part[k]) for k in ("recent_calls", "timeline", "usage", "exports")}


def live_recording() -> Recording:
    """The recorded call stopped mid-way: pricing asked, the agent answering."""
    data = session()
    events = data["events"]
    cut = next(i for i, e in enumerate(events) if e["type"] == "call_updated"
               and e["call"]["stage"] == "closing" and e["call"]["speaking"] == "agent")
    call_id = next(iter(data["calls"]))
    sent = {e["turn"]["index"] for e in events[:cut + 1] if e["type"] == "turn"}
    detail = copy.deepcopy(data["calls"][call_id])
    detail.update(status="in-progress", ended_at=None, duration_seconds=None, outcome=None,
                  turns=[t for t in detail["turns"] if t["index"] in sent])
    return Recording(url=data["url"], admin=True, calls={call_id: detail}, events=events[:cut + 1],
                     **_rest(data["before"]))


def full_call_recording() -> Recording:
    """Every live event of the recorded call, through `call_ended` and its workbook."""
    data = session()
    return Recording(url=data["url"], admin=True, calls=copy.deepcopy(data["calls"]),
                     events=data["events"], **_rest(data["before"]))


def finished_recording(credit_limit: float | None = 60) -> Recording:
    """After the call: stored call, feedback and train events, exports; a 60-minute budget."""
    data = session()
    rest = _rest(data["after"])
    rest["usage"]["user"]["credit_limit"] = credit_limit
    return Recording(url=data["url"], admin=True, calls=copy.deepcopy(data["calls"]),
                     events=[{"type": "snapshot", "calls": []}], **rest)


def campaigns() -> list[dict[str, Any]]:
    """Two campaigns as `GET /api/v1/campaigns` lists them: one running, one completed."""
    def one(cid: str, name: str, status: str, finished: int, calling: int,
            outcomes: dict[str, int]) -> dict[str, Any]:
        return {"id": cid, "name": name, "status": status, "simulated": False,
                "progress": {"leads": 40, "finished": finished, "remaining": 40 - finished,
                             "dialled": finished + calling, "calling": calling, "waiting": 0,
                             "queued": 0, "skipped": 2, "outcomes": outcomes}}
    return [one("cmp_000000000002", "Q1 dental recalls", "running", 13, 2,
                {"demo_booked": 4, "no-answer": 5}),
            one("cmp_000000000001", "November webinar", "completed", 40, 0, {"demo_booked": 9})]


async def never(_delay: float) -> None:
    """A reconnect sleep that never ends, so a 'daemon down' screen stays exactly as drawn."""
    await asyncio.Event().wait()


def replay_app(feed: ReplayFeed | Feed, **kwargs: Any) -> OpsApp:
    """An app whose screen depends only on its feed: frozen clock, UTC, fixed scenario list."""
    options: dict[str, Any] = {"clock": lambda: FROZEN_NOW, "tz": UTC, "scenarios": SCENARIOS,
                               "sleep": never}
    options.update(kwargs)
    return OpsApp(feed, **options)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], Any], what: str,
                   limit: float = 30.0, every: float = 0.05) -> None:
    """Poll the app (letting it run) until `predicate()` holds; fail after a generous timeout."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")
        await pilot.pause(every)


async def settled(pilot: Pilot[Any]) -> None:
    """Wait until a replay has been played out and every REST read has landed."""
    app = pilot.app
    assert isinstance(app, OpsApp)
    feed = app.feed
    if isinstance(feed, ReplayFeed) and not feed.down:
        await wait_for(pilot, feed.drained.is_set, "the replay to finish")
    else:
        await wait_for(pilot, lambda: app.query_one("#banner").has_class("-down"), "the down banner")
    await pilot.pause()
    await wait_for(pilot, lambda: app.link.pending == 0 and not _loading(app), "REST reads")
    await pilot.pause()


def _loading(app: OpsApp) -> bool:
    return any(w.group.startswith("load-") and not w.is_finished for w in app.workers)

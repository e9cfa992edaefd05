"""`ReplayFeed`: a recorded daemon session played back, for screenshots and offline demos.

Snapshot tests need the same screen on every run, which a real call (new ids, real times)
cannot give. A `Recording` holds what the REST routes answered and the live events in order;
`ReplayFeed` serves it through the same `Feed` interface, keeps the stream open after the last
event (as a quiet daemon would) and records the actions the operator took so tests can check
them. `down=True` makes it a daemon that never answers.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrappy_cli.ops.feed import Feed, FeedError, FeedUnavailable

EMPTY_USAGE: dict[str, Any] = {
    "today": {"calls": 0, "minutes": 0.0, "tokens": 0, "latency_p50_ms": None, "latency_p95_ms": None},
    "days": [], "user": {"name": "local-admin", "credit_limit": None, "usage_minutes": 0.0},
    "top_strategies": []}


@dataclass
class Recording:
    """What a daemon said: REST answers by route, and the live events in order."""

    url: str = "http://127.0.0.1:8765"
    admin: bool = True
    recent_calls: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(EMPTY_USAGE))
    exports: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "snapshot", "calls": []}])

    @classmethod
    def load(cls, path: Path) -> Recording:
        data = json.loads(path.read_text("utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class ReplayFeed(Feed):
    def __init__(self, recording: Recording | None = None, *, down: bool = False,
                 down_reason: str = "connection refused") -> None:
        self.recording = recording or Recording()
        self.url = self.recording.url
        self.down = down
        self.down_reason = down_reason
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.drained = asyncio.Event()  # set once every recorded event has been handed out
        self._closed = asyncio.Event()

    def _check(self) -> None:
        if self.down:
            raise FeedUnavailable(self.down_reason)

    async def is_admin(self) -> bool:
        self._check()
        return self.recording.admin

    async def recent_calls(self, limit: int = 20) -> list[dict[str, Any]]:
        self._check()
        return copy.deepcopy(self.recording.recent_calls[:limit])

    async def call(self, call_id: str) -> dict[str, Any]:
        self._check()
        if call_id not in self.recording.calls:
            raise FeedError(404, f"no call {call_id!r}")
        return copy.deepcopy(self.recording.calls[call_id])

    async def timeline(self) -> list[dict[str, Any]]:
        self._check()
        return copy.deepcopy(self.recording.timeline)

    async def usage(self) -> dict[str, Any]:
        self._check()
        return copy.deepcopy(self.recording.usage)

    async def exports(self) -> list[dict[str, Any]]:
        self._check()
        self._admin_only()
        return copy.deepcopy(self.recording.exports)

    def _admin_only(self) -> None:
        if not self.recording.admin:
            raise FeedError(403, "this needs an admin token")

    async def export_now(self) -> dict[str, Any]:
        self._check()
        self._admin_only()
        self.actions.append(("export", {}))
        return {"name": "scrappy-export-replay.xlsx", "kind": "exports", "calls": len(self.recording.calls)}

    async def add_feedback(self, call_id: str, text: str, importance: int) -> dict[str, Any]:
        self._check()
        self.actions.append(("feedback", {"call_id": call_id, "text": text, "importance": importance}))
        return {"event_id": f"replay-{len(self.actions)}", "stored": True}

    async def train(self) -> dict[str, Any]:
        self._check()
        self._admin_only()
        self.actions.append(("train", {}))
        return {"status": "no_change", "suggestions": []}

    async def place_simulated_call(self, phone: str, scenario: str | None,
                                   name: str | None) -> dict[str, Any]:
        self._check()
        self.actions.append(("call", {"phone": phone, "scenario": scenario, "name": name}))
        return {"id": "call_replay000001", "status": "initiated", "warnings": []}

    async def campaigns(self, limit: int = 5) -> list[dict[str, Any]]:
        self._check()
        return copy.deepcopy(self.recording.campaigns[:limit])

    async def control_campaign(self, campaign_id: str, action: str) -> dict[str, Any]:
        self._check()
        self.actions.append((action, {"campaign_id": campaign_id}))
        status = {"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
        for campaign in self.recording.campaigns:  # as the workflow would record it
            if campaign["id"] == campaign_id:
                campaign["status"] = status
        return {"id": campaign_id, "requested": status}

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        self._check()
        for event in self.recording.events:
            await asyncio.sleep(0)  # let the app handle each event before the next, as over a socket
            yield copy.deepcopy(event)
        self.drained.set()
        await self._closed.wait()

    async def aclose(self) -> None:
        self._closed.set()

"""`campaign show --follow`'s progress display, fed a campaign as the API reports it."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from scrappy_cli import render


def _campaign(status: str, finished: int) -> dict[str, Any]:
    return {"status": status, "progress": {
        "leads": 4, "finished": finished, "remaining": 4 - finished, "dialled": finished,
        "calling": 0 if status == "completed" else 1, "waiting": 0, "skipped": 1,
        "outcomes": {"demo_booked": max(0, finished - 1)}}}


def test_follow_redraws_until_the_campaign_ends(monkeypatch: Any) -> None:
    console = Console(record=True, width=160, force_terminal=False)
    monkeypatch.setattr(render, "console", console)
    states = iter([_campaign("running", 1), _campaign("paused", 2), _campaign("completed", 4)])
    naps: list[float] = []
    final = render.campaign_progress(lambda: next(states), {"completed", "cancelled"},
                                     poll_s=1.0, sleep=naps.append)
    assert final["status"] == "completed" and naps == [1.0, 1.0]
    shown = console.export_text()
    assert "completed" in shown and "4/4" in shown and "demo_booked 3" in shown

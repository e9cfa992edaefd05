"""SVG snapshots of the console's main screens, from recorded sessions (no daemon, no clock).

Regenerate after an intended change with `pytest tests/ops/test_snapshots.py --snapshot-update`
and look at the SVGs in `__snapshots__/` before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrappy_cli.ops.replay import Recording, ReplayFeed
from tests.ops.helpers import campaigns, finished_recording, live_recording, replay_app, settled

SnapCompare = Callable[..., bool]


def test_empty_daemon(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app(ReplayFeed(Recording())), run_before=settled)


def test_live_call(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app(ReplayFeed(live_recording())), run_before=settled)


def test_live_call_large_terminal(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app(ReplayFeed(live_recording())), run_before=settled,
                        terminal_size=(160, 48))


def test_finished_call(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app(ReplayFeed(finished_recording())), run_before=settled)


def test_finished_call_ops_view(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app(ReplayFeed(finished_recording())), run_before=settled, press=["v"])


def test_campaigns_in_the_ops_view(snap_compare: SnapCompare) -> None:
    recording = finished_recording()
    recording.campaigns = campaigns()
    assert snap_compare(replay_app(ReplayFeed(recording)), run_before=settled, press=["v"],
                        terminal_size=(120, 36))


def test_daemon_down(snap_compare: SnapCompare) -> None:
    app: Any = replay_app(ReplayFeed(down=True))
    assert snap_compare(app, run_before=settled)

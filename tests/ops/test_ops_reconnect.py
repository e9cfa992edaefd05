"""The console outlives its daemon: down at start, up, restarting; it says so on screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scrappy_cli.ops.app import OpsApp
from scrappy_cli.ops.connection_banner import ConnectionBanner
from scrappy_cli.ops.feed import HttpFeed
from scrappy_cli.ops.state import Backoff
from tests.daemon_proc import DaemonProcess
from tests.ops.helpers import wait_for

pytestmark = pytest.mark.e2e


async def test_reconnects_when_the_daemon_starts_and_after_it_stops(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data")
    token_file = daemon.data_dir / "admin.token"

    def token() -> str | None:  # as `scrappy ops` does: read again on every connection attempt
        return token_file.read_text("utf-8").strip() if token_file.exists() else None

    app = OpsApp(HttpFeed(daemon.url, token), backoff=Backoff(0.2, 2.0, 1.0))
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", ConnectionBanner)
        await wait_for(pilot, lambda: banner.state == "down", "the down banner")
        assert "daemon unreachable — retrying in" in str(banner.render())
        assert app.query_one("#body").has_class("-offline") and app.check_action("new_call", ()) is None

        await asyncio.to_thread(daemon.start)
        try:
            await wait_for(pilot, lambda: banner.state == "connected", "the reconnection", limit=60)
            assert app.admin and not app.query_one("#body").has_class("-offline")
        finally:
            code = await asyncio.to_thread(daemon.stop)
        assert code == 0, daemon.log()
        await wait_for(pilot, lambda: banner.state == "down", "the banner after the daemon stopped")
        assert "daemon unreachable" in str(banner.render())

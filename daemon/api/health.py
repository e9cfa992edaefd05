"""`GET /healthz`: liveness plus which backend serves each concern (no auth)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from daemon import __version__
from daemon.api.common import JSON, services


async def healthz(request: Request) -> Response:
    svc = services(request)
    return JSON({
        "status": "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - svc.started_monotonic, 1),
        "pid": svc.pid,
        "data_dir": str(svc.settings.data_dir),
        "backends": svc.backends(),
        "live_calls": len(svc.live.calls()),
        "prewarming": sorted(svc.prewarming),
    })

"""`GET /healthz`: liveness plus which backend serves each concern (no auth needed)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from daemon import __version__
from daemon.api.common import JSON, services
from daemon.auth import principal_of


async def healthz(request: Request) -> Response:
    """Liveness for anyone; the daemon's pid, data folder, live calls and backend details only
    for a valid token (`scrappy status` sends one)."""
    svc = services(request)
    backends = svc.backends()
    public = {
        "status": "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - svc.started_monotonic, 1),
        # which engine serves each concern, without paths, hosts or model files
        "backends": {name: str(value).split(" (")[0] for name, value in backends.items()},
    }
    try:
        principal = await principal_of(request)
    except Exception:  # the store is down: liveness must not depend on it
        principal = None
    if principal is None:
        return JSON(public)
    return JSON({
        **public,
        "pid": svc.pid,
        "data_dir": str(svc.settings.data_dir),
        "backends": backends,
        "live_calls": len(svc.live.calls()),
        "prewarming": sorted(svc.prewarming),
    })

"""Re-record `data/pricing_then_demo.json`, the session the ops snapshots replay.

Run by hand (`python -m tests.ops.record_session`), not by pytest: it starts a daemon, places
one simulated call, and saves what the REST routes answered before and after the call plus
every live event in between. Paths that name this machine are replaced by neutral ones.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.daemon_proc import REPO, DaemonProcess

OUT = Path(__file__).parent / "data" / "pricing_then_demo.json"
TIMELINE = "feedback,train_loop,fallback_triggered,summary"


def _rest(c: httpx.Client) -> dict[str, Any]:
    return {"recent_calls": c.get("/api/v1/calls", params={"limit": 20}).json()["calls"],
            "timeline": c.get("/api/v1/memory", params={"types": TIMELINE}).json()["events"],
            "usage": c.get("/api/v1/usage/summary").json(),
            "exports": c.get("/api/v1/exports").json()["exports"]}


def record() -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="scrappy-record-"))
    daemon = DaemonProcess(root / "data").start()
    events: list[dict[str, Any]] = []
    token = daemon.admin_token

    def follow() -> None:
        with httpx.Client(base_url=daemon.url, headers={"Authorization": f"Bearer {token}"}) as c, \
                c.stream("GET", "/api/v1/calls/live", timeout=httpx.Timeout(10, read=None)) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    if events[-1]["type"] in ("workbook", "daemon_stopping"):
                        return

    try:
        with daemon.client() as c:
            c.post("/api/v1/strategies", content=(REPO / "strategies" / "enterprise_saas.json").read_bytes())
            while c.get("/healthz").json()["prewarming"]:
                time.sleep(0.5)
            before = _rest(c)
            reader = threading.Thread(target=follow, daemon=True)
            reader.start()
            time.sleep(1)
            call = c.post("/api/v1/calls", json={"phone": "+14155550123", "simulate": True,
                                                 "scenario": "pricing_then_demo"}).json()
            reader.join(180)
            time.sleep(2)  # the usage row and workbook land just after call_ended
            c.post("/api/v1/feedback", json={"call_id": call["id"], "importance": 3,
                                             "text": "Good pacing; offer the two demo slots sooner."})
            c.post("/api/v1/train")
            c.post("/api/v1/exports", json={})
            after = _rest(c)
            detail = c.get(f"/api/v1/calls/{call['id']}").json()
    finally:
        daemon.stop()
    session = {"url": "http://127.0.0.1:8765", "admin": True, "before": before, "after": after,
               "calls": {call["id"]: detail}, "events": events}
    return json.loads(json.dumps(session).replace(str(root / "data"), "/home/ops/.local/share/scrappy"))


if __name__ == "__main__":
    OUT.write_text(json.dumps(record(), indent=1) + "\n", "utf-8")
    print(f"wrote {OUT}")

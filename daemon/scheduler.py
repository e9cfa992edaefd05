"""The daily train loop, scheduled with APScheduler 3 on the daemon's event loop."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)


def start_scheduler(services: Services) -> Any:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    hour, minute = (int(p) for p in services.settings.train_loop_time.split(":"))

    async def run_train_loop() -> None:
        try:
            result = await services.train_now()
            log.info("scheduled train loop: %s", result.get("status"))
        except Exception:
            log.exception("scheduled train loop failed")

    scheduler = AsyncIOScheduler()
    scheduler.add_job(run_train_loop, "cron", hour=hour, minute=minute, id="train_loop",
                      coalesce=True, max_instances=1, misfire_grace_time=3600)

    async def sweep_orphan_calls() -> None:
        try:
            await services.manager.reconcile(restarted=False)
        except Exception as exc:  # the store may be down for a while: try again next time
            log.warning("could not check for calls whose media stream never connected: %s", exc)

    scheduler.add_job(sweep_orphan_calls, "interval", seconds=30, id="orphan_calls",
                      coalesce=True, max_instances=1)
    scheduler.start()
    log.info("train loop scheduled daily at %02d:%02d", hour, minute)
    return scheduler

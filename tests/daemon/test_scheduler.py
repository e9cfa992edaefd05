"""The daily train loop: scheduled at TRAIN_LOOP_TIME, and when it fires it trains the real brain.

In process, on the real `Services` core (embedded SecantusDB) with the real `BrainService`; only
the clock is skipped, by moving the job's next run to now.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from agentcore.strategy import parse_strategy
from daemon.calls.brain import BrainService
from daemon.config import Settings
from daemon.scheduler import start_scheduler
from daemon.services import Services
from tests.conftest import SEED


async def test_train_loop_runs_daily_at_the_configured_time(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, scrappy_data_dir=tmp_path, train_loop_time="03:17")  # type: ignore[call-arg]
    svc = await Services.start(settings)
    try:
        svc.brain = BrainService(svc)
        await svc.strategies.add_version(parse_strategy(SEED.read_bytes()), activate=True)
        await svc.memory.add("feedback", {"text": "Lead preferred SMS follow-up"},
                             source="qa_team", importance=2)
        svc.scheduler = start_scheduler(svc)
        job = svc.scheduler.get_job("train_loop")
        now = datetime.now().astimezone()
        first = job.next_run_time
        assert (first.hour, first.minute) == (3, 17)
        assert now < first <= now + timedelta(days=1)

        job.modify(next_run_time=datetime.now().astimezone())  # skip the wait: fire now
        events: list[dict[str, object]] = []
        for _ in range(100):
            events = await svc.memory.recent(["train_loop"])
            if events:
                break
            await asyncio.sleep(0.1)
        assert events, "the scheduled train loop did not run"
        payload = events[0]["payload"]
        assert isinstance(payload, dict)
        assert payload["status"] == "no_change" and payload["feedback"] == 1
        # a run does not unschedule tomorrow's
        again = svc.scheduler.get_job("train_loop").next_run_time
        assert (again.hour, again.minute) == (3, 17)
    finally:
        await svc.close()
        with warnings.catch_warnings():  # pymongo monitor sockets of the closed client
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()

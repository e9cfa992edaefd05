"""The time a call session and its player live by, injected so stage tests can run it fake.

`MonotonicClock` is the real one (time.monotonic, asyncio.sleep). Tests pass a clock whose time
only moves when the test advances it (tests/stage/clock.py), so a whole call runs
deterministically without real time passing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


REAL_CLOCK = MonotonicClock()

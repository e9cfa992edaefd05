"""Attach the optional feature layers (speech, calls, scheduler) to a started `Services`.

Kept apart from `Services.start` so the store-only core starts, and is testable, on its own.
"""

from __future__ import annotations

from daemon.services import Services


async def attach_features(services: Services) -> None:
    """Load speech models once, register call handling and the scheduler (filled in by layers)."""
    return None

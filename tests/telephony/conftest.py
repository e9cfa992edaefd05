"""Fixtures for the telephony tests: one Prism mock of Twilio's REST API per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prism import PrismServer, PrismUnavailable, start_prism


@pytest.fixture(scope="session")
def prism() -> Iterator[PrismServer]:
    """Prism serving Twilio's OpenAPI spec; fails (not skips) when Prism is not installed."""
    problem = None
    try:
        server = start_prism()
    except PrismUnavailable as exc:
        problem = str(exc)
    if problem is not None:  # failed outside the except block, so the message appears once
        pytest.fail(problem, pytrace=False)
    try:
        yield server
    finally:
        server.stop()

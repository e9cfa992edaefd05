"""The console's one seam to the daemon: a `Feed` of REST reads, actions and live events.

Widgets never see HTTP. The app talks to a `Feed`; `HttpFeed` is the real one (httpx's async
client, the live stream as server-sent events), `ReplayFeed` (in `replay.py`) plays back a
recorded session so screenshots are identical on every run. Both raise the same two errors:
`FeedUnavailable` when the daemon cannot be reached (the console reconnects) and `FeedError`
when it answered with an error (the console says so and carries on).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

TIMELINE_TYPES = ("feedback", "train_loop", "fallback_triggered", "summary")
# The live stream sends a keepalive comment every 15 s; three missed ones mean a dead socket.
STREAM_READ_TIMEOUT_S = 45.0


class FeedUnavailable(Exception):
    """The daemon did not answer at all (refused, reset, timed out)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FeedError(Exception):
    """The daemon answered with an HTTP error; `message` is its own explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


class Feed(ABC):
    """What the console needs from a daemon; one method per route it uses."""

    url: str

    @abstractmethod
    async def is_admin(self) -> bool:
        """Whether our token may run admin actions (train, exports)."""

    @abstractmethod
    async def recent_calls(self, limit: int = 20) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def call(self, call_id: str) -> dict[str, Any]:
        """One stored call with its turns."""

    @abstractmethod
    async def timeline(self) -> list[dict[str, Any]]:
        """Feedback, train-loop, fallback and summary events, newest first."""

    @abstractmethod
    async def usage(self) -> dict[str, Any]: ...

    @abstractmethod
    async def exports(self) -> list[dict[str, Any]]:
        """The workbooks, newest first (admin)."""

    @abstractmethod
    async def export_now(self) -> dict[str, Any]: ...

    @abstractmethod
    async def add_feedback(self, call_id: str, text: str, importance: int) -> dict[str, Any]: ...

    @abstractmethod
    async def train(self) -> dict[str, Any]: ...

    @abstractmethod
    async def place_simulated_call(self, phone: str, scenario: str | None,
                                   name: str | None) -> dict[str, Any]: ...

    @abstractmethod
    async def campaigns(self, limit: int = 5) -> list[dict[str, Any]]:
        """The newest campaigns with their progress."""

    @abstractmethod
    async def control_campaign(self, campaign_id: str, action: str) -> dict[str, Any]:
        """`pause`, `resume` or `cancel` a campaign."""

    @abstractmethod
    def events(self) -> AsyncIterator[dict[str, Any]]:
        """The live stream: a `snapshot` first, then call, turn and memory events."""

    async def aclose(self) -> None:
        """Release connections; a feed may be closed more than once."""
        return None


class HttpFeed(Feed):
    """The real daemon over HTTP, with the same token rules as `DaemonClient`.

    `token` may be a function: it is asked again on every (re)connection, so a console opened
    before the daemon's first start picks up the admin token file the daemon then writes.
    """

    def __init__(self, url: str, token: str | Callable[[], str | None] | None,
                 timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)
        self._use_token()

    def _use_token(self) -> None:
        token = self._token() if callable(self._token) else self._token
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        else:
            self._http.headers.pop("Authorization", None)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise FeedUnavailable(_reason(exc)) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    async def is_admin(self) -> bool:
        # The first call of every connection attempt: take the token as it is now. Listing
        # tokens is admin-only, so the answer's status is the role check.
        self._use_token()
        try:
            await self._request("GET", "/api/v1/tokens")
        except FeedError as exc:
            if exc.status == 403:
                return False
            raise
        return True

    async def recent_calls(self, limit: int = 20) -> list[dict[str, Any]]:
        body = await self._request("GET", "/api/v1/calls", params={"limit": limit})
        return list(body["calls"])

    async def call(self, call_id: str) -> dict[str, Any]:
        return dict(await self._request("GET", f"/api/v1/calls/{call_id}"))

    async def timeline(self) -> list[dict[str, Any]]:
        body = await self._request("GET", "/api/v1/memory", params={"types": ",".join(TIMELINE_TYPES)})
        return list(body["events"])

    async def usage(self) -> dict[str, Any]:
        return dict(await self._request("GET", "/api/v1/usage/summary"))

    async def exports(self) -> list[dict[str, Any]]:
        return list((await self._request("GET", "/api/v1/exports"))["exports"])

    async def export_now(self) -> dict[str, Any]:
        return dict(await self._request("POST", "/api/v1/exports", json={}, timeout=300))

    async def add_feedback(self, call_id: str, text: str, importance: int) -> dict[str, Any]:
        body = {"call_id": call_id, "text": text, "importance": importance}
        return dict(await self._request("POST", "/api/v1/feedback", json=body))

    async def train(self) -> dict[str, Any]:
        return dict(await self._request("POST", "/api/v1/train", timeout=300))

    async def place_simulated_call(self, phone: str, scenario: str | None,
                                   name: str | None) -> dict[str, Any]:
        body = {"phone": phone, "name": name, "simulate": True, "scenario": scenario}
        return dict(await self._request("POST", "/api/v1/calls", json=body))

    async def campaigns(self, limit: int = 5) -> list[dict[str, Any]]:
        body = await self._request("GET", "/api/v1/campaigns", params={"limit": limit})
        return list(body["campaigns"])

    async def control_campaign(self, campaign_id: str, action: str) -> dict[str, Any]:
        return dict(await self._request("POST", f"/api/v1/campaigns/{campaign_id}/{action}"))

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        timeout = httpx.Timeout(10, read=STREAM_READ_TIMEOUT_S)
        try:
            async with self._http.stream("GET", "/api/v1/calls/live", timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    try:
                        event = json.loads(line[5:])
                    except ValueError:
                        log.warning("skipping a malformed live event: %.80r", line)
                        continue
                    if isinstance(event, dict):
                        yield event
        except httpx.TransportError as exc:
            raise FeedUnavailable(_reason(exc)) from None

    async def aclose(self) -> None:
        await self._http.aclose()


def _reason(exc: httpx.TransportError) -> str:
    """A short cause for the banner: 'connection refused' reads better than a class name."""
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__


def _error(response: httpx.Response) -> FeedError:
    try:
        message = str(response.json().get("error") or response.reason_phrase)
    except ValueError:
        message = response.text[:200] or response.reason_phrase
    return FeedError(response.status_code, message)

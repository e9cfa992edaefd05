"""`DaemonClient`: the CLI's only way to talk to the daemon (HTTP + the live event stream).

It finds the daemon at SCRAPPY_URL (default http://127.0.0.1:8765) and the token in
SCRAPPY_TOKEN or, failing that, the admin token file the daemon wrote into its data dir
(SCRAPPY_DATA_DIR). Like the daemon, it reads these from the environment, then `.env`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8765"


def setting(name: str) -> str | None:
    """A SCRAPPY_* value from the environment, else from `.env` (as the daemon reads them)."""
    value = os.environ.get(name)
    if value:
        return value
    from dotenv import dotenv_values  # comes with pydantic-settings

    return dotenv_values(".env").get(name) or None


def data_dir() -> Path:
    env = setting("SCRAPPY_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("scrappy", appauthor=False))


def find_token() -> str | None:
    token = setting("SCRAPPY_TOKEN")
    if token:
        return token.strip()
    path = data_dir() / "admin.token"
    try:
        return path.read_text("utf-8").strip() or None
    except OSError:
        return None


class DaemonUnavailable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no scrappy daemon answers at {url} ({reason})")
        self.url = url


class ApiError(Exception):
    """A non-2xx answer: `status`, the daemon's `message` and any per-field `problems`."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


class DaemonClient:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30) -> None:
        self.url = (url or setting("SCRAPPY_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else find_token()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DaemonUnavailable(self.url, type(exc).__name__) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error": response.text[:200]}
            raise ApiError(response.status_code, body.get("error", response.reason_phrase),
                           body.get("problems"))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def events(self, call_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Follow the live event stream (server-sent events) until the daemon closes it."""
        params = {"call_id": call_id} if call_id else {}
        try:
            with self._http.stream("GET", "/api/v1/calls/live", params=params,
                                   timeout=httpx.Timeout(10, read=None)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(response.status_code, response.json().get("error", ""))
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:].strip())
        except httpx.TransportError as exc:
            raise DaemonUnavailable(self.url, type(exc).__name__) from None

"""Start Prism, the OpenAPI mock server, on Twilio's REST spec for tests.

Prism answers each request with an example from Twilio's official OpenAPI description and
refuses (HTTP 422, plus a `[VALIDATOR] ✖ error` log line) any request that breaks the schema, so
the real `twilio` SDK can be exercised without an account. The log is captured so tests can
assert that their requests passed validation, not merely that the SDK did not complain.

Prism is a Node program installed by `make test` with
`npm install --prefix <repo>/.cache/prism @stoplight/prism-cli@5`. A missing Prism is a set-up
error, never a reason to skip: tests that silently skip would hide the REST checks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READY_TEXT = "Prism is listening"
INSTALL_HINT = (
    "run `make test`, or install Prism with "
    f"`npm install --prefix {REPO / '.cache' / 'prism'} @stoplight/prism-cli@5` "
    "(or point PRISM_BIN at a prism executable)"
)


class PrismUnavailable(RuntimeError):
    """Prism or the spec is missing, or Prism did not start; the message says how to fix it."""


def prism_binary() -> Path:
    """PRISM_BIN, else the copy `make test` installs under `<repo>/.cache/prism`."""
    configured = os.environ.get("PRISM_BIN")
    return Path(configured) if configured else REPO / ".cache/prism/node_modules/.bin/prism"


def spec_path() -> Path:
    """TWILIO_OPENAPI_SPEC, else the vendored copy of Twilio's spec in `tests/data/` (MIT)."""
    configured = os.environ.get("TWILIO_OPENAPI_SPEC")
    return Path(configured) if configured else REPO / "tests" / "data" / "twilio_api_v2010.json"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrismServer:
    """A running Prism process, its base URL and every log line it has written so far."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="prism-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:  # EOF: wake waiters so they can see the process died
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        """A copy of the log so far."""
        with self._changed:
            return list(self._lines)

    def mark(self) -> int:
        """A position in the log; pass it to `lines_since` to see only later lines."""
        with self._changed:
            return len(self._lines)

    def lines_since(self, mark: int) -> list[str]:
        with self._changed:
            return self._lines[mark:]

    def wait_for(
        self, predicate: Callable[[str], bool], since: int = 0, timeout: float = 30.0
    ) -> str:
        """Block until a log line after `since` satisfies `predicate`; return that line.

        Prism writes a request's log lines around the time it answers, so a test that wants
        to inspect them waits for the request's last line instead of sleeping.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines[since:]:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    tail = "\n".join(self._lines[-20:])
                    raise TimeoutError(f"no matching Prism log line; last lines:\n{tail}")
                self._changed.wait(min(remaining, 0.5))

    def validator_errors(self, since: int = 0) -> list[str]:
        """Lines where Prism's request validator rejected or warned about a request."""
        return [
            line
            for line in self.lines_since(since)
            if "[VALIDATOR]" in line and ("error" in line or "warning" in line)
        ]

    def stop(self) -> None:
        """Stop Prism and whatever it spawned (it runs in its own process group)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_prism(timeout: float = 60.0, dynamic: bool = False) -> PrismServer:
    """Start Prism on a free loopback port and return once it is listening.

    `dynamic` makes Prism generate schema-valid random responses (e.g. a fresh CallSid per
    call) instead of always answering with the spec's one example.

    Raises PrismUnavailable (with an install hint) when Prism or the spec is missing, or when
    Prism exits or stays silent for `timeout` seconds.
    """
    binary, spec = prism_binary(), spec_path()
    if not binary.exists():
        raise PrismUnavailable(f"Prism is not installed at {binary}: {INSTALL_HINT}")
    if not spec.exists():
        raise PrismUnavailable(
            f"Twilio's OpenAPI spec is missing at {spec} (set TWILIO_OPENAPI_SPEC to its path)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), *(["-d"] if dynamic else []),
         str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    server = PrismServer(process, f"http://127.0.0.1:{port}")
    try:
        server.wait_for(lambda line: READY_TEXT in line, timeout=timeout)
    except TimeoutError as exc:
        server.stop()
        raise PrismUnavailable(f"Prism did not start within {timeout:.0f} s: {exc}") from None
    return server


@contextmanager
def running_prism(timeout: float = 60.0, dynamic: bool = False) -> Iterator[PrismServer]:
    """`start_prism` as a context manager that always stops Prism."""
    server = start_prism(timeout, dynamic)
    try:
        yield server
    finally:
        server.stop()

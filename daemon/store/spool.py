"""A write-ahead spool for turns, so a turn once heard survives a database blink.

`TurnWriter.write()` tries the idempotent upsert; if the store does not answer, the turn is
appended to `DATA_DIR/spool/turns.jsonl` (fsynced) and a background task replays the file until
the store takes it. Replaying is safe because turn writes are upserts keyed by call id + index.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.store.calls import CallRepository

log = logging.getLogger(__name__)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot spool {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if set(obj) == {"$date"}:
        return datetime.fromisoformat(obj["$date"])
    return obj


class TurnWriter:
    def __init__(self, calls: CallRepository, spool_dir: Path, timeout: float = 2.0,
                 replay_every: float = 2.0) -> None:
        self._calls = calls
        self._path = spool_dir / "turns.jsonl"
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._replay_every = replay_every
        self._lock = asyncio.Lock()  # one replay at a time
        self._file_lock = asyncio.Lock()  # appends and rewrites of the spool file
        self._task: asyncio.Task[None] | None = None
        self.spooled = 0

    async def write(self, call_id: str, turn: dict[str, Any]) -> bool:
        """Persist a turn. Returns True if it reached the store now, False if it was spooled."""
        try:
            await asyncio.wait_for(self._calls.upsert_turn(call_id, turn), self._timeout)
            return True
        except Exception as exc:  # any store failure: keep the turn on disk, never lose it
            log.warning("store unavailable (%s); spooling turn %s/%s",
                        str(exc).split(",")[0][:120], call_id, turn["index"])
            async with self._file_lock:
                await asyncio.to_thread(self._append, {"call_id": call_id, "turn": turn})
            self.spooled += 1
            self._ensure_replayer()
            return False

    def _append(self, record: dict[str, Any]) -> None:
        with self._path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=_encode) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def pending(self) -> int:
        if not self._path.exists():
            return 0
        return sum(1 for line in self._path.read_text("utf-8").splitlines() if line.strip())

    async def replay(self) -> int:
        """Push spooled turns to the store. Returns how many are still pending."""
        async with self._lock:
            async with self._file_lock:
                if not self._path.exists():
                    return 0
                content = self._path.read_text("utf-8")
            lines = [ln for ln in content.splitlines() if ln.strip()]
            remaining: list[str] = []
            for i, line in enumerate(lines):
                record = json.loads(line, object_hook=_decode)
                try:
                    await asyncio.wait_for(
                        self._calls.upsert_turn(record["call_id"], record["turn"]), self._timeout)
                except Exception:
                    remaining = lines[i:]
                    break
            async with self._file_lock:  # keep turns spooled while we were replaying
                appended = self._path.read_text("utf-8")[len(content):]
                keep = "".join(line + "\n" for line in remaining) + appended
                if keep.strip():
                    tmp = self._path.with_suffix(".tmp")
                    tmp.write_text(keep, "utf-8")
                    tmp.replace(self._path)
                else:
                    self._path.unlink(missing_ok=True)
            return len([ln for ln in keep.splitlines() if ln.strip()])

    def _ensure_replayer(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._replay_loop(), name="turn-spool-replay")

    async def _replay_loop(self) -> None:
        while True:
            remaining = await self.replay()
            if not remaining:
                log.info("turn spool drained")
                return
            log.info("%d spooled turns wait for the store", remaining)
            await asyncio.sleep(self._replay_every)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.replay()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

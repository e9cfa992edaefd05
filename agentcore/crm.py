"""Lead data from a local file: the default `CRMAdapter`.

Small teams keep leads in a spreadsheet. `LocalCRM` reads a JSON file (a list of records, or
an object keyed by phone) or a CSV file with a phone column, and answers lookups by number in
canonical E.164 form. The file is read off the event loop and re-read when it changes, so an
operator can edit it while the daemon runs.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

from agentcore.phones import to_e164

PHONE_COLUMNS = ("phone", "phone_number", "mobile", "number", "lead_phone", "tel")


class CRMError(RuntimeError):
    """The CRM file exists but cannot be read as leads."""


def _phone_of(record: dict[str, Any]) -> str | None:
    lowered = {str(k).strip().lower(): v for k, v in record.items()}
    for column in PHONE_COLUMNS:
        value = lowered.get(column)
        if value:
            return str(value)
    return None


def index_records(records: list[dict[str, Any]], region: str | None) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for record in records:
        phone = _phone_of(record)
        e164 = to_e164(phone, region) if phone else None
        if e164:
            index[e164] = record
    return index


def _load(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return [dict(row) for row in csv.DictReader(text.splitlines())]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CRMError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        return [
            {"phone": phone, **record} if isinstance(record, dict) else {"phone": phone}
            for phone, record in data.items()
        ]
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    raise CRMError(f"{path}: expected a list of leads or an object keyed by phone")


class LocalCRM:
    """Leads from a JSON or CSV file; `region` is the default for numbers without `+`."""

    def __init__(self, path: str | Path, region: str | None = "US") -> None:
        self.path = Path(path)
        self.region = region
        self._index: dict[str, dict[str, Any]] = {}
        self._mtime: float | None = None

    async def fetch(self, phone: str) -> dict[str, Any] | None:
        e164 = to_e164(phone, self.region)
        if e164 is None:
            return None
        await asyncio.to_thread(self._refresh)
        record = self._index.get(e164)
        return dict(record) if record is not None else None

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._index, self._mtime = {}, None
            return
        if mtime != self._mtime:
            self._index = index_records(_load(self.path), self.region)
            self._mtime = mtime


class InMemoryCRM:
    """Leads given as a list of records (tests, demos)."""

    def __init__(self, records: list[dict[str, Any]], region: str | None = "US") -> None:
        self.region = region
        self._index = index_records(records, region)

    async def fetch(self, phone: str) -> dict[str, Any] | None:
        e164 = to_e164(phone, self.region)
        record = self._index.get(e164) if e164 else None
        return dict(record) if record is not None else None

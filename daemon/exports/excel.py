"""Excel workbooks: one summary per finished call, and the `scrappy export` report.

Sales teams live in spreadsheets, so these are built to be opened, filtered and charted
directly: real date cells (not text), a bold frozen header row, fitted columns and a native
Excel chart. openpyxl is imported inside the functions that need it (~0.2 s), keeping it off
the CLI's start-up path.

Input is the contract's call dict (`id, direction, status, lead_phone, …, turns: [...]`) whose
datetimes may be aware `datetime`s or ISO-8601 strings. Excel cells have no time zone, so every
timestamp is converted to UTC and stored naive; headers say "(UTC)". Workbooks are written to a
temporary file and renamed, so a listing never serves a half-written file.
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

Call = Mapping[str, Any]

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
LATENCY_KEYS = ("endpoint", "asr", "llm_first_token", "tts_first_audio", "total")
#: Statuses of calls that never reached anyone.
UNANSWERED = frozenset(
    {"busy", "no-answer", "failed", "canceled", "queued", "initiated", "ringing"}
)
MAX_WIDTH = 60
HEADER_FILL = "DDEBF7"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML cannot hold


@dataclass(frozen=True)
class ExportInfo:
    """One workbook on disk, as `/api/v1/exports` lists it."""

    name: str
    path: Path
    size: int
    modified: datetime


@dataclass(frozen=True)
class DaySummary:
    """The Summary sheet's numbers for one UTC day."""

    day: date
    calls: int
    connected: int
    minutes: float
    tokens: int
    median_latency_ms: float | None
    outcomes: dict[str, int]


# --- values -------------------------------------------------------------------------------


def to_utc_naive(value: Any) -> datetime | None:
    """A naive UTC datetime for Excel from an aware/naive datetime or ISO-8601 text.

    Naive inputs are taken to be UTC already (that is how the store keeps them). Unparseable
    text gives None; the caller decides whether to keep the raw text.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _cell_value(value: Any) -> Any:
    """What to put in a cell: dates as datetimes, text cleaned of XML-illegal characters."""
    if isinstance(value, datetime):
        return to_utc_naive(value)
    if isinstance(value, date):  # a whole day stays a date cell
        return value
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _latency(turn: Mapping[str, Any], key: str) -> Any:
    latency = turn.get("latency_ms") or {}
    return latency.get(key) if isinstance(latency, Mapping) else None


def call_day(call: Call) -> date | None:
    """The UTC day a call belongs to: when it started (else ended)."""
    moment = to_utc_naive(call.get("started_at")) or to_utc_naive(call.get("ended_at"))
    return moment.date() if moment else None


def is_connected(call: Call) -> bool:
    """True when a person answered: the lead spoke, or a non-voicemail call ran for a while."""
    if call.get("status") in UNANSWERED or call.get("outcome") == "voicemail":
        return False
    turns = call.get("turns") or []
    return any(t.get("role") == "lead" for t in turns) or (call.get("duration_seconds") or 0) > 0


def total_latencies(call: Call) -> list[float]:
    """The measured end-to-end latencies (ms) of a call's agent turns."""
    values = (_latency(t, "total") for t in call.get("turns") or [])
    return [float(v) for v in values if isinstance(v, int | float)]


def summarise(calls: Iterable[Call]) -> list[DaySummary]:
    """Per-day totals, oldest day first; calls without any timestamp are left out."""
    by_day: dict[date, list[Call]] = {}
    for call in calls:
        day = call_day(call)
        if day is not None:
            by_day.setdefault(day, []).append(call)
    rows = []
    for day in sorted(by_day):
        group = by_day[day]
        latencies = [v for c in group for v in total_latencies(c)]
        outcomes: dict[str, int] = {}
        for c in group:
            key = str(c.get("outcome") or "none")
            outcomes[key] = outcomes.get(key, 0) + 1
        rows.append(
            DaySummary(
                day=day,
                calls=len(group),
                connected=sum(is_connected(c) for c in group),
                minutes=round(sum(c.get("duration_seconds") or 0 for c in group) / 60, 2),
                tokens=sum(int(c.get("tokens_used") or 0) for c in group),
                median_latency_ms=statistics.median(latencies) if latencies else None,
                outcomes=outcomes,
            )
        )
    return rows


def _in_range(call: Call, since: date | None, until: date | None) -> bool:
    if since is None and until is None:
        return True
    day = call_day(call)
    if day is None:
        return False
    return (since is None or day >= since) and (until is None or day <= until)


# --- sheets -------------------------------------------------------------------------------


def write_table(ws: Worksheet, headers: list[str], rows: Iterable[list[Any]]) -> None:
    """Fill `ws` with a styled, frozen, filterable header row and formatted rows."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
        cell.alignment = Alignment(vertical="center")
    widths = [len(h) for h in headers]
    for row in rows:
        ws.append([_cell_value(v) for v in row])
        for i, cell in enumerate(ws[ws.max_row]):
            if cell.data_type == "f":  # text such as "=HYPERLINK(..)" from a lead stays text
                cell.data_type = "s"
            if isinstance(cell.value, datetime):
                cell.number_format = DATETIME_FORMAT
                width = 19
            elif isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
                width = 10
            else:
                width = len(str(cell.value)) if cell.value is not None else 0
            widths[i] = max(widths[i], width)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(width + 2, MAX_WIDTH)
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions


def write_key_values(ws: Worksheet, pairs: list[tuple[str, Any]]) -> None:
    """A two-column key/value sheet (the Call sheet of a per-call workbook)."""
    write_table(ws, ["Field", "Value"], ([k, v] for k, v in pairs))


TURN_HEADERS = [
    "Index",
    "Time (UTC)",
    "Role",
    "Stage",
    "Text",
    "Interrupted",
    "Confidence",
    *(f"{k} ms" for k in LATENCY_KEYS),
]


def _turn_row(turn: Mapping[str, Any]) -> list[Any]:
    started = turn.get("started_at")
    return [
        turn.get("index"),
        to_utc_naive(started) or started,
        turn.get("role"),
        turn.get("stage"),
        turn.get("text"),
        turn.get("interrupted"),
        turn.get("confidence"),
        *(_latency(turn, k) for k in LATENCY_KEYS),
    ]


def _when(call: Call, key: str) -> Any:
    value = call.get(key)
    return to_utc_naive(value) or value


def _call_pairs(call: Call) -> list[tuple[str, Any]]:
    turns = call.get("turns") or []
    latencies = total_latencies(call)
    return [
        ("Call id", call.get("id")),
        ("Direction", call.get("direction")),
        ("Status", call.get("status")),
        ("Outcome", call.get("outcome")),
        ("Lead name", call.get("lead_name")),
        ("Lead phone", call.get("lead_phone")),
        ("Strategy", call.get("strategy_id")),
        ("Strategy title", call.get("strategy_title")),
        ("Twilio CallSid", call.get("call_sid")),
        ("Started (UTC)", _when(call, "started_at")),
        ("Ended (UTC)", _when(call, "ended_at")),
        ("Duration (s)", call.get("duration_seconds")),
        ("Tokens used", call.get("tokens_used")),
        ("Turns", len(turns)),
        ("Interrupted turns", sum(bool(t.get("interrupted")) for t in turns)),
        ("Median total latency (ms)", statistics.median(latencies) if latencies else None),
    ]


def _save(wb: Workbook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    os.replace(tmp, path)
    return path


def summary_file_name(call: Call) -> str:
    """`YYYY-MM-DD_HHMMSS_<call id>.xlsx`: sorts by time, unique per call, safe on any disk."""
    moment = to_utc_naive(call.get("started_at")) or datetime.now(UTC).replace(tzinfo=None)
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", str(call.get("id") or "call"))
    return f"{moment:%Y-%m-%d_%H%M%S}_{safe_id}.xlsx"


def write_call_summary(call: Call, directory: Path) -> Path:
    """Write the summary workbook of one finished call (sheets Call and Transcript)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook always has one sheet
    ws.title = "Call"
    write_key_values(ws, _call_pairs(call))
    turns = sorted(call.get("turns") or [], key=lambda t: t.get("index") or 0)
    write_table(wb.create_sheet("Transcript"), TURN_HEADERS, (_turn_row(t) for t in turns))
    return _save(wb, directory / summary_file_name(call))


CALL_HEADERS = [
    "Call id",
    "Started (UTC)",
    "Ended (UTC)",
    "Direction",
    "Status",
    "Outcome",
    "Connected",
    "Lead name",
    "Lead phone",
    "Strategy",
    "Twilio CallSid",
    "Duration (s)",
    "Tokens used",
    "Turns",
    "Median total latency (ms)",
]


def _call_row(call: Call) -> list[Any]:
    latencies = total_latencies(call)
    return [
        call.get("id"),
        _when(call, "started_at"),
        _when(call, "ended_at"),
        call.get("direction"),
        call.get("status"),
        call.get("outcome"),
        is_connected(call),
        call.get("lead_name"),
        call.get("lead_phone"),
        call.get("strategy_id"),
        call.get("call_sid"),
        call.get("duration_seconds"),
        call.get("tokens_used"),
        len(call.get("turns") or []),
        statistics.median(latencies) if latencies else None,
    ]


def _summary_sheet(ws: Worksheet, days: list[DaySummary]) -> None:
    """Per-day numbers plus two native charts: calls per day and median latency."""
    from openpyxl.chart import BarChart, LineChart, Reference

    outcomes = sorted({o for d in days for o in d.outcomes})
    headers = ["Date (UTC)", "Calls", "Connected", "Minutes", "Tokens", "Median latency (ms)"]
    headers += [f"Outcome: {o}" for o in outcomes]
    rows = (
        [d.day, d.calls, d.connected, d.minutes, d.tokens, d.median_latency_ms]
        + [d.outcomes.get(o, 0) for o in outcomes]
        for d in days
    )
    write_table(ws, headers, rows)
    if not days:
        return
    last = len(days) + 1
    dates = Reference(ws, min_col=1, min_row=2, max_row=last)
    anchor_col = len(headers) + 2

    bars = BarChart()
    bars.title = "Calls per day"
    bars.y_axis.title = "Calls"
    bars.add_data(
        Reference(ws, min_col=2, max_col=3, min_row=1, max_row=last), titles_from_data=True
    )
    bars.set_categories(dates)
    ws.add_chart(bars, ws.cell(row=2, column=anchor_col).coordinate)

    line = LineChart()
    line.title = "Median total latency per day"
    line.y_axis.title = "ms"
    line.add_data(Reference(ws, min_col=6, min_row=1, max_row=last), titles_from_data=True)
    line.set_categories(dates)
    ws.add_chart(line, ws.cell(row=18, column=anchor_col).coordinate)


LEAD_HEADERS = ["#", "Phone", "Name", "Company", "Time zone", "State", "Outcome", "Attempts",
                "Last attempt (UTC)", "Last call", "Skip reason", "Next try (UTC)"]


def lead_row(lead: Mapping[str, Any]) -> list[Any]:
    """One campaign lead as a Leads-sheet row: where it stands, its last attempt."""
    attempts = lead.get("attempts") or []
    last = attempts[-1] if attempts else {}
    return [lead["index"] + 1, lead.get("phone"), lead.get("name"), lead.get("company"),
            lead.get("timezone"), lead.get("state"), lead.get("outcome"), len(attempts),
            to_utc_naive(last.get("at")), last.get("call_id"), lead.get("skip_reason"),
            to_utc_naive(lead.get("next_at"))]


def write_export(
    calls: Iterable[Call], out: Path, since: date | None = None, until: date | None = None,
    leads: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Write the report for calls started between `since` and `until` (inclusive, UTC days).

    Sheets: Calls (one row per call), Turns (one row per turn, with its call id), Summary
    (per day, with charts) and, when campaigns ran, Leads (one row per campaign lead, with its
    campaign). Returns `out`.
    """
    from openpyxl import Workbook

    chosen = [c for c in calls if _in_range(c, since, until)]
    chosen.sort(key=lambda c: to_utc_naive(c.get("started_at")) or datetime.min)
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook always has one sheet
    ws.title = "Calls"
    write_table(ws, CALL_HEADERS, (_call_row(c) for c in chosen))
    turn_rows = (
        [c.get("id"), *_turn_row(t)]
        for c in chosen
        for t in sorted(c.get("turns") or [], key=lambda t: t.get("index") or 0)
    )
    write_table(wb.create_sheet("Turns"), ["Call id", *TURN_HEADERS], turn_rows)
    _summary_sheet(wb.create_sheet("Summary"), summarise(chosen))
    lead_rows = [[lead.get("campaign_id"), *lead_row(lead)] for lead in leads]
    if lead_rows:
        write_table(wb.create_sheet("Leads"), ["Campaign", *LEAD_HEADERS], lead_rows)
    return _save(wb, out)


def list_exports(directory: Path) -> list[ExportInfo]:
    """The workbooks in `directory`, newest first (temporary half-written files excluded)."""
    if not directory.is_dir():
        return []
    infos = []
    for path in directory.glob("*.xlsx"):
        if path.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        infos.append(ExportInfo(path.name, path, stat.st_size, modified))
    infos.sort(key=lambda i: (i.modified, i.name), reverse=True)
    return infos

"""Excel workbooks, read back with openpyxl: sheets, headers, real dates, charts and numbers."""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from daemon.exports.excel import (
    CALL_HEADERS,
    list_exports,
    summarise,
    to_utc_naive,
    write_call_summary,
    write_export,
)

IST = timezone(timedelta(hours=5, minutes=30))


def turn(
    index: int,
    role: str,
    text: str,
    at: datetime | str,
    total: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    latency = None
    if total is not None:
        latency = {
            "endpoint": 300,
            "asr": 120,
            "llm_first_token": 400,
            "tts_first_audio": 90,
            "total": total,
        }
    return {
        "index": index,
        "role": role,
        "text": text,
        "started_at": at,
        "interrupted": False,
        "confidence": 0.9 if role == "lead" else None,
        "latency_ms": latency,
        **extra,
    }


def call(
    call_id: str,
    started: datetime | str,
    *,
    status: str = "completed",
    outcome: str | None = "booked_demo",
    duration: int = 60,
    tokens: int = 100,
    latencies: tuple[float, ...] = (),
    lead_speaks: bool = True,
) -> dict[str, Any]:
    base = to_utc_naive(started)
    assert base is not None
    turns = []
    for i, total in enumerate(latencies):
        turns.append(
            turn(2 * i, "agent", f"agent line {i}", base + timedelta(seconds=10 * i), total)
        )
        if lead_speaks:
            turns.append(
                turn(2 * i + 1, "lead", f"lead line {i}", base + timedelta(seconds=10 * i + 5))
            )
    return {
        "id": call_id,
        "direction": "outbound",
        "status": status,
        "lead_phone": "+12125550123",
        "lead_name": "Dana",
        "strategy_id": "s1",
        "call_sid": None,
        "started_at": started,
        "ended_at": base + timedelta(seconds=duration) if duration else None,
        "duration_seconds": duration,
        "tokens_used": tokens,
        "outcome": outcome,
        "turns": turns,
    }


def synthetic_calls() -> list[dict[str, Any]]:
    """Two days of calls with known totals (the expected Summary values are in the tests)."""
    return [
        # 2026-11-24 (UTC): three calls, two connected
        call("a1", "2026-11-24T09:00:00Z", latencies=(800, 1000, 3000), duration=120, tokens=300),
        call("a2", datetime(2026, 11, 24, 15, 0, tzinfo=UTC), latencies=(600,), duration=30),
        call("a3", "2026-11-24T16:00:00+00:00", status="busy", outcome=None, duration=0, tokens=0),
        # 2026-11-25 (UTC), one of them given in IST (05:00 IST on the 26th is 23:30 UTC the 25th)
        call("b1", datetime(2026, 11, 26, 5, 0, tzinfo=IST), latencies=(900, 700), duration=90),
        call(
            "b2",
            "2026-11-25T10:00:00Z",
            outcome="voicemail",
            latencies=(2000,),
            lead_speaks=False,
            duration=20,
            tokens=50,
        ),
        # outside the filter windows used below
        call("c1", "2026-11-27T10:00:00Z", latencies=(5000,)),
    ]


def headers(ws: Worksheet) -> list[Any]:
    return [cell.value for cell in ws[1]]


def rows(ws: Worksheet) -> list[dict[str, Any]]:
    keys = headers(ws)
    return [dict(zip(keys, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]


def assert_styled_table(ws: Worksheet) -> None:
    assert ws.freeze_panes == "A2"
    first = ws["A1"]
    assert first.font.b
    assert first.fill.fill_type == "solid"
    for cell in ws[1]:  # columns fitted to their contents, at least to the header
        assert ws.column_dimensions[cell.column_letter].width >= len(str(cell.value)) + 2


def test_to_utc_naive_accepts_datetimes_and_iso_text() -> None:
    expected = datetime(2026, 11, 25, 23, 30)
    assert to_utc_naive(datetime(2026, 11, 26, 5, 0, tzinfo=IST)) == expected
    assert to_utc_naive("2026-11-26T05:00:00+05:30") == expected
    assert to_utc_naive("2026-11-25T23:30:00Z") == expected
    assert to_utc_naive(expected) == expected  # naive is already UTC
    assert to_utc_naive("not a date") is None
    assert to_utc_naive(None) is None


def test_call_summary_workbook(tmp_path: Path) -> None:
    data = call("c-42/x", datetime(2026, 11, 26, 5, 0, tzinfo=IST), latencies=(800, 1200, 4000))
    data["strategy_title"] = "Acme demo booking"
    data["turns"][0]["stage"] = "greeting"
    data["turns"][1]["text"] = '=HYPERLINK("http://evil","click")\x07'
    data["turns"][3]["interrupted"] = True
    path = write_call_summary(data, tmp_path / "logs" / "calls")

    assert path.parent == tmp_path / "logs" / "calls"
    assert path.name == "2026-11-25_233000_c-42_x.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Call", "Transcript"]

    meta = {r["Field"]: r["Value"] for r in rows(wb["Call"])}
    assert meta["Call id"] == "c-42/x"
    assert meta["Strategy title"] == "Acme demo booking"
    assert meta["Started (UTC)"] == datetime(2026, 11, 25, 23, 30)
    assert meta["Ended (UTC)"] == datetime(2026, 11, 25, 23, 31)
    assert wb["Call"]["B11"].is_date  # Started: a real date cell, not text
    assert meta["Turns"] == 6
    assert meta["Interrupted turns"] == 1
    assert meta["Median total latency (ms)"] == 1200
    assert_styled_table(wb["Call"])

    transcript = wb["Transcript"]
    assert headers(transcript) == [
        "Index",
        "Time (UTC)",
        "Role",
        "Stage",
        "Text",
        "Interrupted",
        "Confidence",
        "endpoint ms",
        "asr ms",
        "llm_first_token ms",
        "tts_first_audio ms",
        "total ms",
    ]
    turns = rows(transcript)
    assert [t["Role"] for t in turns] == ["agent", "lead"] * 3
    assert turns[0]["Stage"] == "greeting"
    assert turns[0]["Time (UTC)"] == datetime(2026, 11, 25, 23, 30)
    assert turns[1]["Time (UTC)"] == datetime(2026, 11, 25, 23, 30, 5)
    assert transcript["B2"].is_date
    assert turns[0]["total ms"] == 800 and turns[0]["llm_first_token ms"] == 400
    assert turns[1]["total ms"] is None and turns[1]["Confidence"] == 0.9
    # text that looks like a formula stays text, and control characters are dropped
    assert turns[1]["Text"] == '=HYPERLINK("http://evil","click")'
    assert transcript["E3"].data_type == "s"
    assert turns[3]["Interrupted"] is True
    assert_styled_table(transcript)
    widths = {c.value: transcript.column_dimensions[c.column_letter].width for c in transcript[1]}
    assert widths["Text"] == len('=HYPERLINK("http://evil","click")') + 2
    assert widths["Time (UTC)"] == 21


def test_summary_numbers() -> None:
    days = summarise(synthetic_calls()[:5])
    assert [d.day for d in days] == [date(2026, 11, 24), date(2026, 11, 25)]
    first, second = days
    assert (first.calls, first.connected, first.tokens) == (3, 2, 400)
    assert first.minutes == 2.5
    assert first.median_latency_ms == 900  # median (not mean) of 800, 1000, 3000, 600
    assert first.outcomes == {"booked_demo": 2, "none": 1}
    assert (second.calls, second.connected, second.tokens) == (2, 1, 150)
    assert second.median_latency_ms == 900  # median (not mean) of 900, 700, 2000
    assert second.outcomes == {"booked_demo": 1, "voicemail": 1}


def test_export_workbook(tmp_path: Path) -> None:
    out = write_export(
        synthetic_calls(), tmp_path / "out.xlsx", since=date(2026, 11, 24), until=date(2026, 11, 25)
    )
    wb = load_workbook(out)
    assert wb.sheetnames == ["Calls", "Turns", "Summary"]
    for ws in wb.worksheets:
        assert_styled_table(ws)

    calls = rows(wb["Calls"])
    assert headers(wb["Calls"]) == CALL_HEADERS
    assert [c["Call id"] for c in calls] == ["a1", "a2", "a3", "b2", "b1"]  # by start time
    assert all(isinstance(c["Started (UTC)"], datetime) for c in calls)
    assert calls[4]["Started (UTC)"] == datetime(2026, 11, 25, 23, 30)
    assert [c["Connected"] for c in calls] == [True, True, False, False, True]

    turns = rows(wb["Turns"])
    assert len(turns) == 6 + 2 + 0 + 1 + 4  # b2 reached a voicemail: agent turns only
    assert turns[0]["Call id"] == "a1" and isinstance(turns[0]["Time (UTC)"], datetime)

    summary = wb["Summary"]
    assert headers(summary) == [
        "Date (UTC)",
        "Calls",
        "Connected",
        "Minutes",
        "Tokens",
        "Median latency (ms)",
        "Outcome: booked_demo",
        "Outcome: none",
        "Outcome: voicemail",
    ]
    days = rows(summary)
    assert [(d["Date (UTC)"], d["Calls"], d["Connected"]) for d in days] == [
        (datetime(2026, 11, 24), 3, 2),
        (datetime(2026, 11, 25), 2, 1),
    ]
    assert summary["A2"].is_date and summary["A2"].number_format == "yyyy-mm-dd"
    assert [d["Median latency (ms)"] for d in days] == [900, 900]
    assert [d["Outcome: voicemail"] for d in days] == [0, 1]

    charts = summary._charts  # openpyxl keeps loaded charts here
    assert {type(c).__name__ for c in charts} == {"BarChart", "LineChart"}
    with zipfile.ZipFile(out) as archive:
        assert sum(n.startswith("xl/charts/chart") for n in archive.namelist()) == 2


def test_export_without_filters_includes_every_dated_call(tmp_path: Path) -> None:
    wb = load_workbook(write_export(synthetic_calls(), tmp_path / "all.xlsx"))
    assert len(rows(wb["Calls"])) == 6
    assert [r["Calls"] for r in rows(wb["Summary"])] == [3, 2, 1]


def test_empty_export_still_has_headers(tmp_path: Path) -> None:
    wb = load_workbook(write_export([], tmp_path / "empty.xlsx", since=date(2030, 1, 1)))
    assert headers(wb["Calls"]) == CALL_HEADERS
    assert wb["Summary"].max_row == 1
    assert wb["Summary"]._charts == []


def test_list_exports_newest_first(tmp_path: Path) -> None:
    assert list_exports(tmp_path / "missing") == []
    older = write_export([], tmp_path / "older.xlsx")
    newer = write_call_summary(call("n1", "2026-11-25T10:00:00Z"), tmp_path)
    (tmp_path / ".half-written.xlsx.tmp").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a workbook")
    os.utime(older, (1_700_000_000, 1_700_000_000))
    os.utime(newer, (1_800_000_000, 1_800_000_000))

    infos = list_exports(tmp_path)
    assert [i.name for i in infos] == [newer.name, "older.xlsx"]
    assert infos[0].path == newer
    assert infos[0].size == newer.stat().st_size > 0
    assert infos[0].modified == datetime.fromtimestamp(1_800_000_000, UTC)


@pytest.mark.parametrize("bad", ["yesterday", 12345])
def test_unparseable_timestamps_do_not_break_a_summary(tmp_path: Path, bad: Any) -> None:
    data = call("z1", "2026-11-25T10:00:00Z", latencies=(500,))
    data["ended_at"] = bad
    data["turns"][0]["started_at"] = bad
    wb = load_workbook(write_call_summary(data, tmp_path))
    meta = {r["Field"]: r["Value"] for r in rows(wb["Call"])}
    assert meta["Ended (UTC)"] == bad
    assert rows(wb["Transcript"])[0]["Time (UTC)"] == bad

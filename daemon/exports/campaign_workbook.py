"""A campaign's workbook: Campaign (settings and totals), Leads (one row per lead: last outcome,
attempts, skip reason) and Attempts per day (with a chart), built off the event loop."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from typing import Any

from daemon.exports.excel import (
    LEAD_HEADERS,
    lead_row,
    to_utc_naive,
    write_key_values,
    write_table,
)


def build_campaign_workbook(campaign: dict[str, Any], leads: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook always has one sheet
    ws.title = "Campaign"
    outcomes = Counter(lead.get("outcome") or lead.get("state") for lead in leads)
    rules = campaign.get("rules") or {}
    write_key_values(ws, [("Id", campaign["_id"]), ("Name", campaign.get("name")),
                   ("Status", campaign.get("status")), ("Strategy", campaign.get("strategy_id")),
                   ("Rehearsal", bool(campaign.get("simulate"))),
                   ("Created (UTC)", to_utc_naive(campaign.get("created_at"))),
                   *((f"Rule: {k}", v) for k, v in rules.items()),
                   ("Leads", len(leads)),
                   *((f"Leads: {k}", n) for k, n in sorted(outcomes.items(), key=str))])
    per_day: Counter[Any] = Counter()
    for lead in leads:
        for attempt in lead.get("attempts") or []:
            at = to_utc_naive(attempt.get("at"))
            if at is not None and attempt.get("call_id"):
                per_day[at.date()] += 1
    write_table(wb.create_sheet("Leads"), LEAD_HEADERS, (lead_row(lead) for lead in leads))
    days = wb.create_sheet("Per day")
    write_table(days, ["Date (UTC)", "Calls placed"], [[d, n] for d, n in sorted(per_day.items())])
    if per_day:
        chart = BarChart()
        chart.title = "Calls placed per day"
        chart.add_data(Reference(days, min_col=2, min_row=1, max_row=len(per_day) + 1),
                       titles_from_data=True)
        chart.set_categories(Reference(days, min_col=1, min_row=2, max_row=len(per_day) + 1))
        days.add_chart(chart, "D2")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def campaign_workbook(campaign: dict[str, Any], leads: list[dict[str, Any]]) -> bytes:
    return await asyncio.to_thread(build_campaign_workbook, campaign, leads)

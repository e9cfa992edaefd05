"""Campaigns and their leads.

A campaign is one document in `campaigns` (name, strategy, rules, status); each lead is one
document in `campaign_leads` keyed `<campaign id>:<index>`, so recording an attempt touches one
small document however long the list. A lead's `state` is `pending` (not tried yet), `waiting`
(its calling window or retry time is ahead: `next_at`), `queued` (cleared to call, waiting for a
dial slot), `calling`, `done` (with `outcome`) or `skipped` (with `skip_reason`). Each attempt
records why it was placed, its call and outcome.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

OPEN_STATUSES = ("scheduled", "running", "paused")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def lead_id(campaign_id: str, index: int) -> str:
    return f"{campaign_id}:{index}"


class CampaignRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._campaigns = db["campaigns"]
        self._leads = db["campaign_leads"]

    async def create(self, doc: dict[str, Any], leads: list[dict[str, Any]]) -> dict[str, Any]:
        now = datetime.now(UTC)
        campaign = {"status": "scheduled", "created_at": now, "started_at": None,
                    "ended_at": None, "lead_count": len(leads), **doc}
        rows = [{"_id": lead_id(campaign["_id"], i), "campaign_id": campaign["_id"], "index": i,
                 "state": "pending", "attempts": [], "outcome": None, "skip_reason": None,
                 "next_at": None, **lead} for i, lead in enumerate(leads)]
        for start in range(0, len(rows), 1000):
            await self._leads.insert_many(rows[start:start + 1000], ordered=False)
        await self._campaigns.insert_one(campaign)  # last: a campaign is never seen half made
        return campaign

    async def get(self, campaign_id: str) -> dict[str, Any] | None:
        return await self._campaigns.find_one({"_id": campaign_id})

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        cursor = self._campaigns.find().sort("created_at", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def open_ones(self) -> list[dict[str, Any]]:
        return [doc async for doc in self._campaigns.find({"status": {"$in": list(OPEN_STATUSES)}})]

    async def set_status(self, campaign_id: str, status: str) -> None:
        fields: dict[str, Any] = {"status": status}
        now = datetime.now(UTC)
        if status == "running":
            await self._campaigns.update_one({"_id": campaign_id, "started_at": None},
                                             {"$set": {"started_at": now}})
        if status in ("completed", "cancelled"):
            fields["ended_at"] = now
            if status == "cancelled":  # leads never reached say so
                await self._leads.update_many(
                    {"campaign_id": campaign_id,
                     "state": {"$in": ["pending", "waiting", "queued"]}},
                    {"$set": {"state": "skipped", "skip_reason": "campaign cancelled",
                              "next_at": None}})
        await self._campaigns.update_one({"_id": campaign_id}, {"$set": fields})

    # --- leads ------------------------------------------------------------------------------
    async def lead(self, campaign_id: str, index: int) -> dict[str, Any] | None:
        return await self._leads.find_one({"_id": lead_id(campaign_id, index)})

    async def leads(self, campaign_id: str) -> list[dict[str, Any]]:
        cursor = self._leads.find({"campaign_id": campaign_id}).sort("index", ASCENDING)
        return [doc async for doc in cursor]

    async def leads_created(self, since: datetime | None = None,
                            until: datetime | None = None) -> list[dict[str, Any]]:
        """The leads of campaigns created in [since, until), oldest campaign first."""
        when: dict[str, Any] = {}
        if since is not None:
            when["$gte"] = since
        if until is not None:
            when["$lt"] = until
        query = {"created_at": when} if when else {}
        ids = [c["_id"] async for c in self._campaigns.find(query, {"_id": 1}).sort("created_at", 1)]
        out: list[dict[str, Any]] = []
        for campaign_id in ids:
            out += await self.leads(campaign_id)
        return out

    async def update_lead(self, campaign_id: str, index: int, fields: dict[str, Any]) -> None:
        await self._leads.update_one({"_id": lead_id(campaign_id, index)}, {"$set": fields})

    async def record_attempt(self, campaign_id: str, index: int, attempt: dict[str, Any]) -> None:
        """Add attempt number `attempt["n"]`, or update it when it is already there (a dial
        activity retried after a crash records onto the same attempt)."""
        key = lead_id(campaign_id, index)
        doc = await self._leads.find_one({"_id": key}, {"attempts": 1})
        attempts = list((doc or {}).get("attempts") or [])
        for i, seen in enumerate(attempts):
            if seen.get("n") == attempt["n"]:
                attempts[i] = {**seen, **attempt}
                break
        else:
            attempts.append(attempt)
        await self._leads.update_one({"_id": key}, {"$set": {"attempts": attempts}})

    async def counts(self, campaign_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per campaign: leads by state and by outcome (`outcome:<name>`)."""
        out: dict[str, Counter[str]] = {cid: Counter() for cid in campaign_ids}
        cursor = self._leads.find({"campaign_id": {"$in": campaign_ids}},
                                  {"campaign_id": 1, "state": 1, "outcome": 1, "attempts": 1})
        async for lead in cursor:
            c = out[lead["campaign_id"]]
            c[lead.get("state") or "pending"] += 1
            if lead.get("outcome"):
                c["outcome:" + lead["outcome"]] += 1
            c["dialled"] += sum(1 for a in lead.get("attempts") or [] if a.get("call_id"))
        return {cid: dict(c) for cid, c in out.items()}

    async def delete(self, campaign_id: str) -> None:
        """Undo a create whose workflow could not be started."""
        await self._campaigns.delete_one({"_id": campaign_id})
        await self._leads.delete_many({"campaign_id": campaign_id})

    @staticmethod
    def lead_to_api(lead: dict[str, Any]) -> dict[str, Any]:
        return {
            "index": lead["index"], "phone": lead.get("phone"), "name": lead.get("name"),
            "company": lead.get("company"), "timezone": lead.get("timezone"),
            "context": lead.get("context") or {}, "state": lead.get("state"),
            "outcome": lead.get("outcome"), "skip_reason": lead.get("skip_reason"),
            "next_at": _iso(lead.get("next_at")),
            "attempts": [{k: _iso(v) for k, v in a.items()} for a in lead.get("attempts") or []],
        }

    @staticmethod
    def to_api(campaign: dict[str, Any], counts: dict[str, int] | None = None,
               leads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        counts = counts or {}
        total = int(campaign.get("lead_count") or 0)
        finished = counts.get("done", 0) + counts.get("skipped", 0)
        out: dict[str, Any] = {
            "id": campaign["_id"], "name": campaign.get("name"), "status": campaign.get("status"),
            "strategy_id": campaign.get("strategy_id"), "simulated": bool(campaign.get("simulate")),
            "scenario": campaign.get("scenario"), "concurrency": campaign.get("concurrency"),
            "rules": campaign.get("rules"), "created_at": _iso(campaign.get("created_at")),
            "started_at": _iso(campaign.get("started_at")),
            "ended_at": _iso(campaign.get("ended_at")),
            "start_at": _iso(campaign.get("start_at")), "created_by": campaign.get("created_by"),
            "progress": {
                "leads": total, "finished": finished, "remaining": total - finished,
                "dialled": counts.get("dialled", 0), "calling": counts.get("calling", 0),
                "waiting": counts.get("waiting", 0), "queued": counts.get("queued", 0),
                "skipped": counts.get("skipped", 0),
                "outcomes": {k.removeprefix("outcome:"): v for k, v in sorted(counts.items())
                             if k.startswith("outcome:")},
            },
        }
        if leads is not None:
            out["leads"] = [CampaignRepository.lead_to_api(lead) for lead in leads]
        return out


"""Campaigns over HTTP: create (or preview), list, show, pause, resume, cancel, export.

Same roles as calls (`user` or `admin`). A create validates everything first (leads, strategy,
rules, scenario) and creates nothing when anything is wrong: 422 with one line per problem.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from daemon.api.common import JSON, int_param, read_json_object, services
from daemon.auth import error, requires
from daemon.campaigns.leads import MAX_LEADS, validate_lead
from daemon.campaigns.pacing import CampaignRules, plan_attempt, rules_from, window_problem
from daemon.store.campaigns import OPEN_STATUSES, CampaignRepository

MAX_BODY = 8 * 1024 * 1024  # 10,000 leads with a few context columns
MAX_CONCURRENCY = 100


def new_campaign_id() -> str:
    return "cmp_" + secrets.token_hex(6)


async def _validated(request: Request, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The campaign to create, or the problems (each `field: problem`)."""
    svc = services(request)
    problems: list[str] = []
    raw_leads = body.get("leads")
    if not isinstance(raw_leads, list) or not raw_leads:
        problems.append("leads: a non-empty list of {phone, name, company, timezone, context}")
        raw_leads = []
    elif len(raw_leads) > MAX_LEADS:
        problems.append(f"leads: at most {MAX_LEADS} per campaign (got {len(raw_leads)})")
        raw_leads = []
    leads: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(raw_leads):
        lead, bad = validate_lead(raw, i)
        problems += bad
        if lead is not None:
            leads.setdefault(lead["phone"], lead)  # the same number twice is one lead
    for key in ("name", "strategy_id", "scenario", "start_at"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append(f"{key}: must be a string")
    concurrency = body.get("concurrency", 2)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or \
            not 1 <= concurrency <= MAX_CONCURRENCY:
        problems.append(f"concurrency: must be a whole number from 1 to {MAX_CONCURRENCY}")
    rules, bad = rules_from(body)
    problems += bad
    never = window_problem(rules, svc.settings) if rules is not None else None
    if never:
        problems.append(never)
    strategy_id = body.get("strategy_id") if isinstance(body.get("strategy_id"), str) else None
    strategy = (await svc.strategies.get(strategy_id) if strategy_id
                else await svc.strategies.active())
    if strategy is None:
        problems.append(f"strategy_id: no strategy {strategy_id!r}" if strategy_id else
                        "strategy_id: no strategy ingested yet; run `scrappy ingest FILE` first")
    start_at = None
    if isinstance(body.get("start_at"), str) and body["start_at"]:
        try:
            start_at = datetime.fromisoformat(body["start_at"])
            if start_at.tzinfo is None:
                raise ValueError
        except ValueError:
            problems.append("start_at: an ISO 8601 time with its offset, e.g. "
                            "2026-12-08T09:00:00-05:00")
    scenario = body.get("scenario") if isinstance(body.get("scenario"), str) else None
    if rules is not None and rules.simulate:
        from daemon.calls.manager import CallRefused

        try:
            await svc.manager.check_scenario(scenario or "pricing_then_demo")
        except CallRefused as exc:
            problems += exc.problems
    elif scenario:
        problems.append("scenario: only a rehearsal (simulate) has a scenario")
    if rules is not None and not rules.simulate and not svc.settings.twilio_enabled:
        problems.append("simulate: no telephony configured (set TWILIO_ACCOUNT_SID and "
                        "TWILIO_AUTH_TOKEN), or rehearse with simulate")
    if problems or rules is None or strategy is None:
        return {}, problems
    return {
        "name": body.get("name") or f"campaign of {len(leads)} leads",
        "strategy_id": strategy["_id"], "concurrency": concurrency,
        "rules": rules.to_document(), "simulate": rules.simulate,
        "scenario": (scenario or "pricing_then_demo") if rules.simulate else None,
        "start_at": start_at.astimezone(UTC) if start_at else None,
        "created_by": request.state.principal.get("name"),
        "_leads": list(leads.values()), "_rules": rules, "_duplicates": len(raw_leads) - len(leads),
    }, []


async def _preview(request: Request, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """What each lead would get if the campaign started now (a dry run)."""
    svc = services(request)
    rules: CampaignRules = spec["_rules"]
    now = datetime.now(UTC)
    out = []
    for i, lead in enumerate(spec["_leads"]):
        plan = plan_attempt(lead, rules, now, svc.settings,
                            on_dnc=await svc.dnc.contains(lead["phone"]), attempts=[])
        out.append({"index": i, "phone": lead["phone"], "name": lead["name"],
                    "action": plan.action, "reason": plan.reason,
                    "at": plan.at.isoformat() if plan.at else None})
    return out


@requires("user")
async def create_campaign(request: Request) -> Response:
    svc = services(request)
    body = await read_json_object(request, MAX_BODY)
    spec, problems = await _validated(request, body)
    if problems:
        return error(422, "invalid campaign", problems=problems)
    if body.get("dry_run"):
        preview = await _preview(request, spec)
        return JSON({"dry_run": True, "leads": preview, "duplicates": spec["_duplicates"]})
    leads = spec.pop("_leads")
    spec.pop("_rules")
    duplicates = spec.pop("_duplicates")
    campaign = await svc.campaign_store.create({"_id": new_campaign_id(), **spec}, leads)
    from daemon.campaigns.engine import EngineUnavailable
    from daemon.campaigns.workflow import TASK_QUEUE, CampaignInput, CampaignWorkflow, LeadState

    try:
        client = await svc.campaigns.client()
        start = spec["start_at"].timestamp() if spec["start_at"] else 0.0
        await client.start_workflow(
            CampaignWorkflow.run,
            CampaignInput(campaign["_id"], spec["concurrency"], [LeadState() for _ in leads], start),
            id=campaign["_id"], task_queue=TASK_QUEUE)
    except (EngineUnavailable, RuntimeError) as exc:
        await svc.campaign_store.delete(campaign["_id"])
        return error(503, f"campaign engine unavailable: {exc}")
    out = CampaignRepository.to_api(campaign, {"pending": len(leads)})
    out["duplicates_merged"] = duplicates
    return JSON(out, status_code=201)


@requires("user")
async def list_campaigns(request: Request) -> Response:
    svc = services(request)
    campaigns = await svc.campaign_store.recent(int_param(request, "limit", 50, 1, 500))
    counts = await svc.campaign_store.counts([c["_id"] for c in campaigns])
    return JSON({"campaigns": [CampaignRepository.to_api(c, counts.get(c["_id"]))
                               for c in campaigns]})


@requires("user")
async def get_campaign(request: Request) -> Response:
    svc = services(request)
    campaign_id = request.path_params["campaign_id"]
    campaign = await svc.campaign_store.get(campaign_id)
    if campaign is None:
        return error(404, f"no campaign {campaign_id!r}")
    counts = (await svc.campaign_store.counts([campaign_id]))[campaign_id]
    with_leads = request.query_params.get("leads", "1") not in ("0", "false", "no")
    leads = await svc.campaign_store.leads(campaign_id) if with_leads else None
    return JSON(CampaignRepository.to_api(campaign, counts, leads))


@requires("user")
async def control_campaign(request: Request) -> Response:
    """POST .../{id}/{pause|resume|cancel}: a signal to the campaign's workflow."""
    svc = services(request)
    campaign_id, action = request.path_params["campaign_id"], request.path_params["action"]
    if action not in ("pause", "resume", "cancel"):
        return error(404, f"no campaign action {action!r} (pause, resume or cancel)")
    campaign = await svc.campaign_store.get(campaign_id)
    if campaign is None:
        return error(404, f"no campaign {campaign_id!r}")
    if campaign["status"] not in OPEN_STATUSES:
        return error(409, f"campaign {campaign_id} is {campaign['status']}; nothing to {action}")
    from daemon.campaigns.engine import EngineUnavailable

    try:
        client = await svc.campaigns.client()
        await client.get_workflow_handle(campaign_id).signal(action)
    except (EngineUnavailable, RuntimeError) as exc:
        return error(503, f"campaign engine unavailable: {exc}")
    # the workflow records the new status itself; say what was asked meanwhile
    expected = {"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
    return JSON({**CampaignRepository.to_api(campaign), "requested": expected}, status_code=202)


@requires("user")
async def export_campaign(request: Request) -> Response:
    from daemon.exports.campaign_workbook import campaign_workbook

    svc = services(request)
    campaign_id = request.path_params["campaign_id"]
    campaign = await svc.campaign_store.get(campaign_id)
    if campaign is None:
        return error(404, f"no campaign {campaign_id!r}")
    leads = await svc.campaign_store.leads(campaign_id)
    data = await campaign_workbook(campaign, leads)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{campaign_id}.xlsx"'})

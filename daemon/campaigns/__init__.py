"""Campaigns: a list of leads worked through durably, on Temporal.

The folder reads in the order a campaign lives:

- `leads`: a CSV/XLSX lead list becomes validated lead rows (pure; the CLI previews with it).
- `pacing`: may this lead be called now, later, or never; what an outcome means for the next
  attempt (pure functions of the lead, the rules and the clock).
- `workflow`: the Temporal workflow, one per campaign: pause/resume/cancel signals, a progress
  query, durable timers for calling windows and retries.
- `activities`: the workflow's effects on this daemon: plan an attempt against today's
  do-not-call list, place a call and wait for its end, record what happened.
- `engine`: the Temporal server (embedded dev server by default, or TEMPORAL_ADDRESS) and this
  daemon's worker.
"""

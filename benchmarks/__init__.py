"""Scrappy's benchmarks: how fast the agent answers and how many calls one machine carries.

`python -m benchmarks` (or `make bench`, `scrappy bench`) measures, against a real daemon
process driven by simulated leads over the Twilio Media Streams WebSocket:

* turn latency of single calls (`single_call`), voice-to-voice at the lead and per stage;
* capacity under concurrent calls (`capacity`), with audio gaps, CPU, RSS and lost turns;
* each pipeline stage alone (`components`).

It prints tables and writes `benchmarks/results/latest.json` (every number, machine, commit)
and `latest.md` (the README block). The targets in issue 7 are shown next to the measurements,
never asserted: tests check that the harness works, not how fast this machine is.
"""

# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PRISM  := .cache/prism/node_modules/.bin/prism
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench bench-ablations bench-profile bench-turns bench-faults bench-campaign prism clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Prism mocks Twilio's REST API from its official OpenAPI spec, for the telephony tests.
prism: $(PRISM)

$(PRISM):
	npm install --silent --no-audit --no-fund --prefix .cache/prism @stoplight/prism-cli@5

demo: install
	$(BIN)/scrappy demo

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

pytest: install prism
	$(BIN)/pytest -q

test: lint typecheck pytest

# Latency, capacity and components, then the turn-taking benchmark below (about 45 minutes).
bench: install bench-turns
	$(BIN)/python -m benchmarks --update-readme

# The same calls with one optimisation switched off at a time (about 15 minutes).
bench-ablations: install
	$(BIN)/python -m benchmarks --ablations --update-readme

# Where the daemon's CPU goes during 20 concurrent calls (py-spy; about 2 minutes).
bench-profile: install
	$(BIN)/python -m benchmarks --profile --update-readme

# Turn-taking heard from the lead's phone: labelled interruptions, backchannels, multi-part turns
# and short answers (Piper and espeak-ng voices, clean and noisy), default vs silence-only
# endpointing (about 30 minutes).
bench-turns: install
	command -v espeak-ng >/dev/null || (apt-get install -y espeak-ng || sudo apt-get install -y espeak-ng)
	$(BIN)/python -m benchmarks --turns --update-readme

# A crash mid-call, a 30 s store outage mid-call, hostile input during a call (about 5 minutes).
bench-faults: install
	$(BIN)/python -m benchmarks --faults --update-readme

# Campaign throughput on Temporal: one daemon, then two sharing a server and a store (~6 min).
bench-campaign: install
	$(BIN)/python -m benchmarks --campaign --update-readme

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache

# The project's vocabulary. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
LOCKER := .venv-lock
BIN := $(VENV)/bin
TBIN := $(TOOLS)/bin
STAMP := $(VENV)/.installed
TSTAMP := $(TOOLS)/.installed

# What is installed is what the suite passed with: exact versions with hashes, in the locks below
# (docs/dependencies.md). `make lock` re-resolves them after a range changes in pyproject.toml or
# requirements/tools.in, keeping every locked version that still fits; `make upgrade` moves
# everything to the newest versions, runs the suite, and keeps the new locks only if it passes.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
DEV_LOCK := requirements/dev.txt
TOOLS_LOCK := requirements/tools.txt
LAYER_LOCK := layers/enforcer/requirements.txt
UV := $(LOCKER)/bin/uv
COMPILE = $(UV) pip compile --quiet --universal --generate-hashes --custom-compile-command "make lock"

.PHONY: dev tools lock upgrade dist test unit integration lint types template build demo local-aws bench bench-sweep bench-org bench-burst mutate schema policy-test pr clean

dev: $(STAMP)  ## project venv: the locked dependencies, the package (editable) and the test tools

$(STAMP): $(DEV_LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION)
	$(BIN)/pip install -q --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

tools: $(TSTAMP)  ## AWS SAM CLI and checkov, in a venv of their own (they pin what they like)

$(TSTAMP): $(TOOLS_LOCK)
	$(PYTHON) -m venv $(TOOLS)
	$(TBIN)/pip install -q pip==$(PIP_VERSION)
	$(TBIN)/pip install -q --require-hashes --no-deps -r $(TOOLS_LOCK)
	touch $(TSTAMP)

$(UV):
	$(PYTHON) -m venv $(LOCKER)
	$(LOCKER)/bin/pip install -q pip==$(PIP_VERSION) uv==$(UV_VERSION)

lock: $(UV)  ## re-resolve the three locks from the stated ranges (locked versions kept where they fit)
	$(COMPILE) --python-version 3.11 --extra dev pyproject.toml -o $(DEV_LOCK)
	$(COMPILE) --python-version 3.11 requirements/tools.in -o $(TOOLS_LOCK)
	$(COMPILE) --python-version 3.11 pyproject.toml -o $(LAYER_LOCK)

upgrade: $(UV)  ## the newest versions everywhere: re-resolve, reinstall, run lint and the suite; keep the locks only if they pass
	UV="$(UV)" PYTHON="$(PYTHON)" scripts/upgrade.sh

test: dev  ## the whole test suite against local AWS (the slow, timing-sensitive part alone, after)
	$(BIN)/pytest -n 2 -q -m "not slow"
	$(BIN)/pytest -q -m slow

unit: dev
	$(BIN)/pytest -q tests/unit

integration: dev
	$(BIN)/pytest -q tests/integration

lint: dev  ## ruff and mypy on the project's code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

types: dev
	$(BIN)/mypy

template: dev tools  ## cfn-lint, sam validate --lint, checkov (the hub's template, the member and the management templates)
	$(BIN)/cfn-lint template.yaml templates/member.yaml templates/management.yaml
	SAM_CLI_TELEMETRY=0 $(TBIN)/sam validate --lint --region us-east-1
	$(TBIN)/python scripts/check_sar_metadata.py
	$(TBIN)/checkov --quiet --compact --skip-download -f template.yaml -f templates/member.yaml -f templates/management.yaml --framework cloudformation

build: tools  ## sam build (needs Python 3.13 on PATH; see README)
	SAM_CLI_TELEMETRY=0 PATH="$(abspath $(TBIN)):$$PATH" sam build
	$(TBIN)/python scripts/check_layer.py

demo: dev  ## the enforcer at work on an embedded local AWS (POLICY=FILE: your policy instead of demo/policy.yaml)
	$(BIN)/python -m demo $(if $(POLICY),--policy $(POLICY))

LOCAL_AWS_PORT ?= 5005
local-aws: dev  ## local AWS on LOCAL_AWS_PORT with the stack deployed on it (tables, queue, sweep state machine, functions wired to SES and policy changes)
	$(BIN)/python -m local_aws.server --port $(LOCAL_AWS_PORT)

bench: dev  ## the event function: cold start against the floor, calls per event, peak memory (about four minutes)
	$(BIN)/python -m benchmarks.cold_start
	$(BIN)/python -m benchmarks.event_calls

bench-sweep: dev  ## the 10,000-set sweep at a scaled SES limit (about 5 minutes)
	$(BIN)/python -m benchmarks.sweep_10k

bench-org: dev  ## the organization sweep, 10 accounts x 2 regions x 60 sets at 1 SES call/s a lane (about 2 minutes; local AWS serves one request at a time, so larger sizes measure it, not the budget)
	$(BIN)/python -m benchmarks.org_sweep --accounts 10 --regions 2 --sets 60 --rate 1

bench-burst: dev  ## 1,000 events during a sweep at 1 SES call/s on a scaled clock (about 10 minutes)
	$(BIN)/python -m benchmarks.burst

MODULE ?= work
mutate: dev  ## mutation testing (cosmic-ray) of one guarantee-bearing module with its tests: make mutate MODULE=work|owed|budget|inventory|event_path|reconciler [FUNCTIONS=f,g] [LINES=a-b,c-d] [SESSION=file: go on with a run stopped early] (CPU heavy: one at a time)
	$(BIN)/python scripts/mutate.py $(MODULE) $(if $(FUNCTIONS),--functions $(FUNCTIONS)) $(if $(LINES),--lines $(LINES)) $(if $(SESSION),--session $(SESSION))

schema: dev  ## regenerate schema/policy.schema.json from the policy model
	$(BIN)/python scripts/generate_schema.py --write

policy-test: dev  ## the example policy's test cases (examples/policy.tests.yaml)
	$(BIN)/ses-pool-enforcer test examples/policy.tests.yaml

dist: dev  ## the wheel and sdist users install (dist/), checked as PyPI would, then tried from a clean venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	PYTHON="$(PYTHON)" scripts/try-wheel.sh

pr: lint test policy-test template dist  ## everything CI runs

clean:
	rm -rf $(VENV) $(TOOLS) $(LOCKER) .aws-sam dist .pytest_cache .mypy_cache .ruff_cache

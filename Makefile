# ecogprom: `make demo` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/ecogprom
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: install demo test lint bench services browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo: SQLite, the embedded Celery transport (no Redis), DEBUG on.
demo: install
	@bash deploy/demo.sh

# Make sure PostgreSQL and Redis answer; start them when not (.ci/services.sh).
services:
	@bash .ci/services.sh

# Debian's Chromium for the browser tests (never a downloaded browser).
browser:
	@missing=""; command -v chromium >/dev/null || missing="chromium fonts-liberation"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	  || echo "WARNING: could not install$$missing; browser tests will be skipped"; \
	fi

test: install services browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy scoring surveys ecogprom
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) SECRET_KEY=test-only DEBUG=false \
	  $(BIN)/python manage.py makemigrations --check --dry-run
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) SECRET_KEY=test-only DEBUG=false SECURE_SSL_REDIRECT=false SECURE_COOKIES=false STATIC_MANIFEST=false \
	  $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy scoring surveys ecogprom
	@# pip-audit: the installed dependencies (not the editable ecogprom itself) against the
	@# PyPI vulnerability data, only when the registry answers within 5 s.
	@if $(BIN)/python -c "import urllib.request as u; u.urlopen('https://pypi.org/pypi/pip/json', timeout=5)" \
	    >/dev/null 2>&1; then \
	  $(BIN)/pip-audit --progress-spinner off --skip-editable --timeout 30; \
	else \
	  echo "pip-audit skipped: registry unreachable (https://pypi.org)"; \
	fi

bench: install services
	@for f in bench/bench_*.py; do \
	  echo "== $$f"; \
	  DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) SECRET_KEY=bench-only DEBUG=false \
	    $(BIN)/python $$f || exit 1; \
	done

clean:
	rm -rf var .pytest_cache

"""GET /healthz: 200 when PostgreSQL and Redis answer, 503 when either does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def probe(**env: str) -> dict:
    full = dict(os.environ)
    full.update(env, DJANGO_SETTINGS_MODULE="ecogprom.settings", ALLOWED_HOSTS="testserver")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_it_reports_ok_when_database_and_broker_answer(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_reports_503_when_the_broker_is_unreachable():
    # Port 1 on loopback: nothing listens there.
    result = probe(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert result["status"] == 503
    assert result["body"]["database"] == "ok"
    assert result["body"]["broker"].startswith("error")


def test_it_reports_503_when_the_database_is_unreachable():
    result = probe(DATABASE_URL="postgres://postgres@127.0.0.1:1/ecogprom")
    assert result["status"] == 503
    assert result["body"]["database"].startswith("error")
    assert result["body"]["broker"] == "ok"

"""Production settings refuse to start without their secrets; each check runs in a fresh process
with a controlled environment (settings are read once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STRONG_KEY = "t3st-" + "x7Qp!aZ9" * 8
NEXTWORK = Path(sys.executable).with_name("nextwork")

# Variables the settings read; all are removed, then each test sets its own.
CONTROLLED = {
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DATABASE_URL",
    "NEXTWORK_HOME",
    "DJANGO_SETTINGS_MODULE",
    "NEXTWORK_GEOCODER_URL",
    "NEXTWORK_TERRITORY_SOURCE",
    "LOG_LEVEL",
}

SHOW = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "DEBUG": settings.DEBUG,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
}))
"""


def run(tmp_path, code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    environment.update(
        NEXTWORK_HOME=str(tmp_path / "home"),
        DJANGO_SETTINGS_MODULE="nextwork.settings.production",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": "example.org"}, "SECRET_KEY"),
        ({"SECRET_KEY": "", "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY"),
        ({"SECRET_KEY": STRONG_KEY}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": " , ,"}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "example.org", "DEBUG": "1"}, "DEBUG"),
    ],
    ids=["nothing", "no key", "empty key", "no hosts", "empty hosts", "blank hosts", "debug"],
)
def test_production_refuses_to_start(tmp_path, env, named):
    done = run(tmp_path, "import nextwork.settings.production", **env)
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert named in last, last


def test_production_starts_with_its_secrets(tmp_path):
    done = run(
        tmp_path,
        SHOW,
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="example.org, www.example.org",
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown == {
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": ["example.org", "www.example.org"],
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }


def test_production_passes_the_deployment_checks(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    environment.update(
        NEXTWORK_HOME=str(tmp_path / "home"),
        DJANGO_SETTINGS_MODULE="nextwork.settings.production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="example.org",
    )
    done = subprocess.run(
        [str(NEXTWORK), "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_development_settings_start_without_secrets(tmp_path):
    """Outside production a local key is made once under NEXTWORK_HOME, and kept."""
    show = "from django.conf import settings; print(settings.SECRET_KEY, settings.ALLOWED_HOSTS)"
    first = run(tmp_path, show, DJANGO_SETTINGS_MODULE="nextwork.settings.base")
    assert first.returncode == 0, first.stderr
    second = run(tmp_path, show, DJANGO_SETTINGS_MODULE="nextwork.settings.base")
    assert first.stdout == second.stdout
    key = (tmp_path / "home" / "secret_key").read_text().strip()
    assert first.stdout.startswith(key + " ")
    assert len(key) >= 50

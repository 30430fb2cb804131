"""Production settings pass Django's deployment checks with nothing silenced, send HSTS and
redirect to HTTPS, enforce the Content Security Policy and write JSON log lines. Each check
runs in a fresh process (settings are read once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STRONG_KEY = "t3st-" + "x7Qp!aZ9" * 8
NEXTWORK = Path(sys.executable).with_name("nextwork")
CONTROLLED = {
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DATABASE_URL",
    "NEXTWORK_HOME",
    "DJANGO_SETTINGS_MODULE",
    "LOG_LEVEL",
    "NEXTWORK_LOG_FORMAT",
    "NEXTWORK_CSP_REPORT_ONLY",
}


def run(tmp_path, argv, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    environment.update(
        NEXTWORK_HOME=str(tmp_path / "home"),
        DJANGO_SETTINGS_MODULE="nextwork.settings.production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="example.org",
    )
    environment.update(env)
    return subprocess.run(
        argv, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120
    )


def test_deploy_checks_find_nothing_and_nothing_is_silenced(tmp_path):
    done = run(tmp_path, [str(NEXTWORK), "check", "--deploy", "--fail-level", "DEBUG"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_the_same_checks_do_find_the_development_settings_lacking(tmp_path):
    """The control: the checks are the ones that would complain (no HSTS, no HTTPS redirect)."""
    done = run(
        tmp_path,
        [str(NEXTWORK), "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SETTINGS_MODULE="nextwork.settings.base",
    )
    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout  # SECURE_HSTS_SECONDS
    assert "security.W008" in done.stderr + done.stdout  # SECURE_SSL_REDIRECT


REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="example.org")
plain = client.get("/healthz")
secure = client.get("/healthz", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "secure": dict(secure.headers),
}))
"""


def test_production_redirects_to_https_and_sends_hsts_and_the_policy(tmp_path):
    done = run(tmp_path, [sys.executable, "-c", REQUESTS])
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["plain"] == [301, "https://example.org/healthz"]
    headers = shown["secure"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in headers["Permissions-Policy"]


def test_report_only_is_a_switch(tmp_path):
    done = run(tmp_path, [sys.executable, "-c", REQUESTS], NEXTWORK_CSP_REPORT_ONLY="1")
    assert done.returncode == 0, done.stderr
    headers = json.loads(done.stdout)["secure"]
    assert "Content-Security-Policy" not in headers
    assert "script-src 'self'" in headers["Content-Security-Policy-Report-Only"]


LOG = """
import django, logging
django.setup()
logging.getLogger("nextwork.deploy_test").warning(
    "sent to %s, +33 6 12 34 56 78, password=%s", "lea.martin@example.org", "hunter22"
)
"""


def test_production_writes_json_lines_with_the_request_id_and_redacted(tmp_path):
    done = run(tmp_path, [sys.executable, "-c", LOG])
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING"
    assert line["logger"] == "nextwork.deploy_test"
    assert line["request_id"] == "-"
    assert line["message"] == "sent to [email], [phone], password=[redacted]"
    assert "time" in line


def test_plain_lines_can_be_chosen_and_a_bad_format_is_refused(tmp_path):
    done = run(tmp_path, [sys.executable, "-c", LOG], NEXTWORK_LOG_FORMAT="plain")
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "WARNING nextwork.deploy_test [-] sent to [email], [phone], password=[redacted]" in last
    bad = run(tmp_path, [sys.executable, "-c", LOG], NEXTWORK_LOG_FORMAT="xml")
    assert bad.returncode != 0
    assert "NEXTWORK_LOG_FORMAT must be plain or json, not 'xml'" in bad.stderr

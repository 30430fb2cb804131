"""The log scan's detection (tests/logscan.py) and the formatters' redaction (common/logs.py).

Nothing here goes through a logger of this process: records are made and formatted by hand, and
the plugin's end-to-end check runs pytest in a child process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nextwork.common.logs import JsonLinesFormatter, PlainFormatter, redact
from tests import logscan

ROOT = Path(__file__).resolve().parent.parent

LEAKS = [
    ("confirmation sent to camille.dupont@example.org", "email"),
    ("SMS to +33612345678 queued", "phone"),
    ("SMS to +33 6 12 34 56 78 queued", "phone"),
    ("call 06 12 34 56 78 back", "phone"),
    ("call 06.12.34.56.78 back", "phone"),
    ("token nw_Zx8fK2pQ9rT4vW1y used", "token"),
    ("Authorization: Bearer abcdEFGH12345678", "token"),
    ("login with password=hunter22", "password"),
    ("{'email_ok': True, 'password': 'correct horse battery staple'}", "password"),
]

CLEAN = [
    "member #42 confirmed",
    "delivery #1234567890 failed: mailbox_full",
    "SMS to …78 queued (ref 01HZX3)",
    "import took 0.612345678 s",
    "GET /api/v1/members?page=2 200",
    "donation 2026-11-27 12:00:00+01:00 of 5000 cents",
    "password=[redacted] and token: [redacted]",
]


def record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("nextwork.test", logging.WARNING, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize(("text", "kind"), LEAKS)
def test_the_scanner_finds_each_kind_of_leak(text, kind):
    found = logscan.scan(text)
    assert kind in [k for k, _ in found], found
    # The excerpt shows where, not the data itself.
    for _, excerpt in found:
        assert "camille.dupont@example.org" not in excerpt
        assert "12 34 56 78" not in excerpt and "612345678" not in excerpt
        assert "hunter22" not in excerpt and "battery staple" not in excerpt


@pytest.mark.parametrize("text", CLEAN)
def test_the_scanner_leaves_ids_and_masked_values_alone(text):
    assert logscan.scan(text) == []


def test_the_scanner_reads_arguments_and_tracebacks():
    try:
        raise ValueError("bad address lea@example.org")
    except ValueError:
        rec = record("import failed for row %s", 3, exc_info=sys.exc_info())
    assert {k for k, _ in logscan.scan(logscan.record_text(rec))} == {"email"}
    rec = record("to %s", "lea@example.org")
    assert [k for k, _ in logscan.scan(logscan.record_text(rec))] == ["email"]


@pytest.mark.parametrize(("text", "kind"), LEAKS)
def test_redaction_leaves_nothing_the_scanner_would_find(text, kind):
    assert logscan.scan(redact(text)) == [], redact(text)


@pytest.mark.parametrize("text", CLEAN)
def test_redaction_keeps_clean_text(text):
    assert redact(text) == text


def test_the_formatters_redact_arguments_and_tracebacks_but_not_the_record():
    try:
        raise RuntimeError("no mailbox for lea@example.org")
    except RuntimeError:
        rec = record("sending to %s failed", "lea@example.org", exc_info=sys.exc_info())
    rec.request_id = "abcd1234"
    plain = PlainFormatter().format(rec)
    assert "lea@example.org" not in plain
    assert "sending to [email] failed" in plain and "no mailbox for [email]" in plain
    assert "[abcd1234]" in plain
    line = json.loads(JsonLinesFormatter().format(rec))
    assert line["message"] == "sending to [email] failed"
    assert "[email]" in line["exc_info"] and "lea@example.org" not in json.dumps(line)
    assert line["request_id"] == "abcd1234"
    # Other handlers still see the record as it was made.
    assert rec.getMessage() == "sending to lea@example.org failed"


def test_extras_in_json_lines_are_redacted_too():
    rec = record("signed up")
    rec.contact = "lea@example.org"
    line = json.loads(JsonLinesFormatter().format(rec))
    assert line["contact"] == "[email]"


# -- the plugin end to end, in a child pytest ------------------------------------------------

LEAKY = """
import logging

def test_leaks():
    logging.getLogger("nextwork.leaky").warning("welcome mail to %s", "camille.dupont@example.org")

def test_clean():
    logging.getLogger("nextwork.clean").warning("welcome mail to member #%s", 7)
"""

CLEAN_ONLY = """
import logging

def test_clean():
    logging.getLogger("nextwork.clean").warning("welcome mail to member #%s", 7)
"""


def run_child(tmp_path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_child.py").write_text(source)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.logscan",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "test_child.py",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_a_run_whose_tests_pass_fails_when_a_log_leaks(tmp_path):
    done = run_child(tmp_path, LEAKY)
    assert "2 passed" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1, done.stdout
    assert "personal data or secrets in the logs" in done.stdout
    assert "nextwork.leaky: email" in done.stdout
    assert "test_child.py::test_leaks" in done.stdout
    assert "camille.dupont@example.org" not in done.stdout.split("personal data or secrets")[1]


def test_the_test_smtp_server_s_own_trace_is_not_the_platform_s(tmp_path):
    handler = logscan.ScanHandler()
    leak = "rcpt TO:<camille.dupont@example.org>"
    handler.handle(logging.LogRecord("mail.log", logging.DEBUG, __file__, 1, leak, (), None))
    assert handler.findings == []
    handler.handle(logging.LogRecord("nextwork.mail", logging.INFO, __file__, 1, leak, (), None))
    assert [f.kind for f in handler.findings] == ["email"]


def test_a_clean_run_stays_green(tmp_path):
    done = run_child(tmp_path, CLEAN_ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "personal data or secrets" not in done.stdout

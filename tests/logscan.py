"""The suite's log scan: every log record of the whole run is read before any redaction, and the
run fails if one holds an email address, a phone number, a password or a token.

Registered from tests/conftest.py (``pytest_plugins``). A handler on the root logger sees every
record that propagates; each record's full text (message with its arguments, traceback, stack)
goes through ``scan``. At the end, offending records are listed by logger with a masked excerpt,
and the exit status is non-zero even if every test passed.

The plugin also watches the browser: every context made from the session's Chromium fails its
test on a Content Security Policy violation reported in the console.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pytest

# The passwords the test data uses (tests/conftest.py make_member).
TEST_PASSWORDS = ("correct horse battery staple",)

PATTERNS = [
    ("email", re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "phone",
        re.compile(
            r"(?<![\w+/.-])(?:\+[1-9]\d{0,2}(?:[ .-]?\d){6,13}|0[1-9](?:[ .-]?\d{2}){4})(?![\w])"
        ),
    ),
    ("token", re.compile(r"\bnw_[A-Za-z0-9_-]{8,}|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")),
    (
        "password",
        re.compile(
            r"(?i)\b(?:password|passwd|pwd)[\"']?\s*[:=]\s*[\"']?(?!\[redacted\])[^\s\"',&]+"
        ),
    ),
    ("password", re.compile("|".join(re.escape(p) for p in TEST_PASSWORDS))),
]


# Loggers that are not the platform's, with why their records are not scanned.
IGNORED_LOGGERS = {
    "mail.log": "aiosmtpd, the test SMTP server (tests/smtp.py) standing in for the provider: "
    "its protocol trace is the receiving side, logged when a test lowers the root level",
}


@dataclass(frozen=True)
class Finding:
    logger: str
    kind: str
    excerpt: str
    test: str


def scan(text: str) -> list[tuple[str, str]]:
    """``(kind, excerpt)`` of every email, phone number, token and password in ``text``; the
    excerpt is about 30 characters either side, every finding in it masked but its first
    character, so the report shows where without repeating the data."""
    spans = [
        (match.start(), match.end(), kind)
        for kind, pattern in PATTERNS
        for match in pattern.finditer(text)
    ]
    masked = list(text)
    for start, end, _ in spans:
        masked[start + 1 : end] = "*" * (end - start - 1)
    shown = "".join(masked)
    return [
        (kind, shown[max(0, start - 30) : end + 30].replace("\n", " "))
        for start, end, kind in sorted(spans)
    ]


def record_text(record: logging.LogRecord) -> str:
    """The whole text a handler could write for ``record``, before any redaction."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a broken format string: scan what is there
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class ScanHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.NOTSET)
        self.findings: list[Finding] = []
        self.test = "(outside a test)"

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in IGNORED_LOGGERS:
            return
        for kind, excerpt in scan(record_text(record)):
            self.findings.append(Finding(record.name, kind, excerpt, self.test))


_handler = ScanHandler()
_csp_violations: list[str] = []


def pytest_configure(config):
    logging.getLogger().addHandler(_handler)


def pytest_unconfigure(config):
    logging.getLogger().removeHandler(_handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _handler.test = item.nodeid
    try:
        return (yield)
    finally:
        _handler.test = "(outside a test)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    del _csp_violations[:]
    result = yield
    if _csp_violations:
        pytest.fail("Content Security Policy violations:\n" + "\n".join(_csp_violations))
    return result


def _watch_csp(new_context):
    def watched(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and _csp_violations.append(f"{message.location.get('url', '')}: {message.text}")
            ),
        )
        return context

    return watched


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    result = yield
    if fixturedef.argname == "browser" and hasattr(result, "new_context"):
        result.new_context = _watch_csp(result.new_context)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if _handler.findings and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _handler.findings:
        return
    terminalreporter.section("personal data or secrets in the logs", red=True)
    seen = set()
    for finding in _handler.findings:
        key = (finding.logger, finding.kind, finding.excerpt)
        if key in seen:
            continue
        seen.add(key)
        terminalreporter.line(
            f"{finding.logger}: {finding.kind} in «{finding.excerpt}» ({finding.test})"
        )
    terminalreporter.line(
        f"{len(_handler.findings)} log record(s) hold personal data or secrets in clear: "
        "log ids, not the data."
    )

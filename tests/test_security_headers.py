"""Security headers on pages and API answers, a Content Security Policy that blocks inline
script, templates free of inline script, and the request id on answers and log lines."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

import nextwork

PAGES = [
    "/",
    "/carte/",
    "/connexion/",
    "/inscription/",
    "/circonscriptions/75-02/",
    "/no-such-page/",
    "/healthz",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/no-such-endpoint",
]

EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.parametrize("url", PAGES)
def test_every_answer_carries_the_security_headers(client, registry, url):
    response = client.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, (url, name, response.headers.get(name))
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"][0] == "'self'"
    # HSTS and the HTTPS redirect belong to production settings (tests/test_deploy_check.py).
    assert "Strict-Transport-Security" not in response.headers


def test_write_answers_carry_the_headers_too(client, registry):
    response = client.post("/api/v1/members", data="{}", content_type="application/json")
    assert response.status_code == 400
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers


def test_report_only_sends_the_policy_without_enforcing_it(client, registry, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    del settings.CONTENT_SECURITY_POLICY
    response = client.get("/")
    assert "Content-Security-Policy" not in response.headers
    policy = directives(response.headers["Content-Security-Policy-Report-Only"])
    assert policy["script-src"] == ["'self'"]


def test_a_request_id_from_the_proxy_is_kept_and_junk_is_replaced(client, registry):
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-4f2a9c71"})
    assert kept.headers["X-Request-ID"] == "edge-4f2a9c71"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["X-Request-ID"])


def test_log_lines_written_during_a_request_carry_its_id(client, registry):
    """Django's own line about the outcome is written after every middleware has returned: it
    carries the id too; a line written after the response is closed does not."""
    from nextwork.common.logs import PlainFormatter, RequestIdFilter

    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(PlainFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page/", headers={"X-Request-ID": "abc12345-edge"})
        logger.warning("after the request")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "abc12345-edge"
    assert "[abc12345-edge] Not Found: /no-such-page/" in lines[0]
    assert "[-] after the request" in lines[-1]


# -- templates and static files: no inline script for the policy to block ------------------------

TEMPLATE_DIRS = [p for p in Path(nextwork.__file__).parent.rglob("templates") if p.is_dir()]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def templates():
    for folder in TEMPLATE_DIRS:
        yield from folder.rglob("*.html")


def test_the_template_audit_finds_what_it_looks_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert HANDLER_ATTRIBUTE.search('<button type="button" onclick="go()">')
    assert not HANDLER_ATTRIBUTE.search('<button data-one="x">')
    assert JAVASCRIPT_URL.search('<a href="javascript:history.back()">')


def test_no_template_holds_inline_script_handlers_or_javascript_urls():
    assert len(list(templates())) > 50
    offenders = []
    for path in templates():
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, HANDLER_ATTRIBUTE, JAVASCRIPT_URL):
            offenders += [f"{path}: {m.group(0)[:60]}" for m in pattern.finditer(text)]
    assert not offenders, "\n".join(offenders)


# -- in a real browser: the policy blocks an injected script, and the pages break no rule --------


@pytest.mark.browser
def test_the_browser_blocks_an_injected_inline_script(page, site_server):
    from tests import logscan

    page.goto(site_server.url + "/")
    ran = page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener("securitypolicyviolation",
                e => resolve("blocked " + e.violatedDirective));
            window.__ran = false;
            const s = document.createElement("script");
            s.textContent = "window.__ran = true";
            document.body.appendChild(s);
            setTimeout(() => resolve(window.__ran ? "ran" : "silent"), 2000);
        })"""
    )
    assert ran.startswith("blocked script-src"), ran
    page.wait_for_timeout(200)
    # The suite's CSP watch saw it too; clear it, since this violation is the point of the test.
    assert any("Content Security Policy" in v for v in logscan._csp_violations)
    logscan._csp_violations.clear()


@pytest.mark.browser
def test_the_api_docs_run_under_the_policy(page, site_server):
    page.goto(site_server.url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)

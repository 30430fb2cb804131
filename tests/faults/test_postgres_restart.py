"""PostgreSQL restarted under a load of sign-ups and supports: every request answered 201 is
stored exactly once, the outage is answered 503 with Retry-After (our JSON error for the API,
a French page for pages), never a 500, and the server recovers without a restart of its own.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.faults.conftest import load

pytestmark = pytest.mark.faults

LOAD_SECONDS = 90  # at most: the load stops a few seconds after the database is back
AFTER_SECONDS = 8


def _probe(port: int, plan: dict) -> dict[str, httpx.Response]:
    """One API write and one page while the database is down."""
    base = f"http://127.0.0.1:{port}"
    signup = {
        "email": "probe@example.org",
        "first_name": "Sonde",
        "last_name": "Panne",
        "postcode": load.SIGNUP_POSTCODE,
        "consent_version": plan["consent_version"],
    }
    return {
        "api": httpx.post(f"{base}/api/v1/members", json=signup, timeout=15),
        "page": httpx.get(f"{base}/consultations/{plan['consultation']}/", timeout=15),
    }


def test_postgres_restarted_under_load(pg_cluster, pg_site):
    plan = pg_site.seed(members=300, proposals=10)
    port = pg_site.serve(workers=2, threads=4)
    runner = load.Load(port, plan, clients=8, seconds=LOAD_SECONDS)
    thread = threading.Thread(target=runner.run, daemon=True)
    started = time.monotonic()
    thread.start()

    time.sleep(6)
    restart_seconds = pg_cluster.restart()  # pg_ctl restart -m fast: every connection cut
    time.sleep(4)
    pg_cluster.halt()  # down long enough to look at what people get
    try:
        down = _probe(port, plan)
    finally:
        pg_cluster.resume()
    back_at = time.monotonic()
    time.sleep(AFTER_SECONDS)
    runner.stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the load did not finish"
    records = runner.records
    pg_site.stop()

    # While it was down: a clear, specific answer.
    api, page = down["api"], down["page"]
    assert api.status_code == 503, api.text[:300]
    assert api.headers["Retry-After"] == "5"
    assert api.json()["error"]["code"] == "unavailable"
    assert page.status_code == 503, page.text[:300]
    assert page.headers["Retry-After"] == "5"
    assert "text/html" in page.headers["Content-Type"]
    assert "Service momentanément indisponible" in page.text

    # Under the load: answered, never a 500, and every refusal of the outage is a 503.
    statuses = {r.status for r in records}
    assert 0 not in statuses, [r.answer for r in records if r.status == 0][:5]
    assert not [r for r in records if r.status >= 500 and r.status != 503]
    for r in records:
        if r.status == 503:
            assert r.retry_after == "5" and r.json_error and r.answer == "unavailable"
    unexpected = {(r.kind, r.status) for r in records} - {
        ("signup", 201),
        ("signup", 503),
        ("support", 201),
        ("support", 409),
        ("support", 503),
    }
    assert not unexpected, {
        (r.kind, r.status, r.answer) for r in records if (r.kind, r.status) in unexpected
    }

    # It recovered by itself: writes accepted after the database came back.
    after = [r for r in records if r.started > back_at + 1 and r.status == 201]
    assert {r.kind for r in after} == {"signup", "support"}, "no recovery after the restart"
    assert time.monotonic() - started < 150

    # In the database: what was accepted is there exactly once.
    checks = pg_site.check(plan, records)
    assert checks["failures"] == [], checks
    assert checks["signups_accepted"] > 0 and checks["supports_accepted"] > 0
    elapsed = back_at + AFTER_SECONDS - started
    print(
        f"restart took {restart_seconds:.1f} s; answers: "
        f"{load.figures(records, elapsed)}; stored: {checks}"
    )

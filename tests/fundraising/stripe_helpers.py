"""A local stand-in for Stripe: its API served from recorded answers by ``http.server`` on
loopback (every request kept, to assert what we sent), and signed webhook deliveries."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

RECORDED = Path(__file__).parent / "recorded"
SECRET_KEY = "sk_test_nextwork_local"
WEBHOOK_SECRET = "whsec_nextwork_local"


def load(name: str, **values) -> dict:
    """A recorded payload with its ``__PLACEHOLDERS__`` filled in."""
    text = (RECORDED / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    return json.loads(text)


def deliver(client, payload: dict | bytes, *, secret=WEBHOOK_SECRET, at=None, header=None):
    """POST a webhook as Stripe does: the raw JSON body and its ``Stripe-Signature``."""
    from nextwork.fundraising.providers.stripe import sign

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if header is None:
        header = sign(body, secret, int(at if at is not None else time.time()))
    return client.post(
        "/api/v1/payments/stripe/webhook",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


class FakeStripe:
    def __init__(self):
        self.requests: list[dict] = []
        self.fail_with: tuple[int, dict] | None = None
        self.values: dict = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                owner.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "form": form,
                    }
                )
                status, body = owner.route(self.command, self.path, form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method: str, path: str, form: dict) -> tuple[int, dict]:
        if self.fail_with is not None:
            return self.fail_with
        values = {"donation": form.get("metadata[donation]", ""), **self.values}
        if method == "POST" and path == "/v1/checkout/sessions":
            name = (
                "api_checkout_session_subscription"
                if form.get("mode") == "subscription"
                else "api_checkout_session_payment"
            )
            return 200, load(name, **values)
        if method == "POST" and path == "/v1/refunds":
            return 200, load("api_refund", **values)
        if method == "DELETE" and path.startswith("/v1/subscriptions/"):
            return 200, load("api_subscription_deleted", subscription=path.rsplit("/", 1)[1])
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            return 200, load("api_checkout_session_retrieved", **values)
        if method == "GET" and path.startswith("/v1/invoices/"):
            return 200, load("api_invoice_retrieved", invoice=path.rsplit("/", 1)[1], **values)
        return 404, {"error": {"message": f"Unrecognized request URL ({method}: {path})."}}

    def sent(self, method: str, prefix: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stripe_api(settings):
    fake = FakeStripe()
    settings.NEXTWORK_STRIPE_API_BASE = fake.base
    settings.NEXTWORK_STRIPE_SECRET_KEY = SECRET_KEY
    settings.NEXTWORK_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.NEXTWORK_STRIPE_WEBHOOK_TOLERANCE = 300
    settings.NEXTWORK_SITE_URL = "http://testserver"
    yield fake
    fake.close()


def intent(client, to, **changes):
    body = {
        "beneficiary": to.pk,
        "amount_cents": 5000,
        "frequency": "once",
        "method": "card",
        "provider": "stripe",
        "first_name": "Camille",
        "last_name": "Donne",
        "email": "camille.donne@example.org",
        "address": "3 place du Marché",
        "postcode": "48000",
        "city": "Mende",
        "country": "FR",
        "natural_person": True,
        "french_or_resident": True,
        "source": "utm_source=mastodon",
    }
    body.update(changes)
    return client.post("/api/v1/donations", data=body, content_type="application/json")

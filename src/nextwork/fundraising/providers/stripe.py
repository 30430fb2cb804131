"""Stripe, through its documented REST API (https://docs.stripe.com/api): Checkout Sessions
for one-off and monthly gifts, refunds, subscription cancellation, and signed webhooks.

Our donation id travels in ``metadata[donation]`` of the session, of its payment intent (Stripe
copies it to the charge) and of the subscription, so every event finds its donation even when
it arrives before we stored the session id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import httpx
from django.conf import settings

from nextwork.common.errors import InvalidInput, Unavailable
from nextwork.fundraising.models import Method
from nextwork.fundraising.providers import (
    IGNORED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_SUCCEEDED,
    RECURRING_CANCELLED,
    RECURRING_PAYMENT_FAILED,
    RECURRING_RENEWED,
    RECURRING_STARTED,
    BadSignature,
    Event,
    Provider,
    ProviderUnavailable,
    register,
)

logger = logging.getLogger(__name__)

PAYMENT_METHOD_TYPES = {Method.CARD: "card", Method.SEPA: "sepa_debit"}


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send (tests and tools use it)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(body: bytes, header: str, secret: str, *, tolerance: int, now: float) -> None:
    """Refuse unless one ``v1`` signature is the HMAC-SHA256 of ``"{t}.{body}"`` and ``t`` is
    within ``tolerance`` seconds of now (a replayed old delivery is refused)."""
    if not secret:
        raise BadSignature("Stripe webhooks are not configured (no signing secret).")
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise BadSignature("The Stripe-Signature header is missing or malformed.")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("The Stripe signature does not match.")
    if abs(now - int(timestamp)) > tolerance:
        raise BadSignature("The Stripe signature's timestamp is outside the tolerance.")


def _metadata_donation(obj: dict) -> int | None:
    value = (obj.get("metadata") or {}).get("donation")
    if value is None and isinstance(obj.get("subscription_details"), dict):
        value = (obj["subscription_details"].get("metadata") or {}).get("donation")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _id(value) -> str:
    """A reference that may be expanded into an object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _invoice_subscription(invoice: dict) -> str:
    if invoice.get("subscription"):
        return _id(invoice["subscription"])
    parent = invoice.get("parent") or {}
    return _id((parent.get("subscription_details") or {}).get("subscription"))


def to_event(payload: dict) -> Event:
    """Our meaning of one Stripe event object."""
    event_id, kind = str(payload.get("id") or ""), str(payload.get("type") or "")
    obj = ((payload.get("data") or {}).get("object")) or {}
    common = {"id": event_id, "provider_type": kind}
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        donation = _metadata_donation(obj) or _int(obj.get("client_reference_id"))
        if obj.get("mode") == "subscription":
            return Event(
                kind=RECURRING_STARTED,
                donation_id=donation,
                ref=_id(obj.get("id")),
                recurring_ref=_id(obj.get("subscription")),
                **common,
            )
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            # A SEPA debit still on its way: async_payment_succeeded/failed will tell.
            return Event(kind=IGNORED, note="payment still processing", **common)
        return Event(
            kind=PAYMENT_SUCCEEDED,
            donation_id=donation,
            ref=_id(obj.get("id")),
            amount_cents=obj.get("amount_total"),
            **common,
        )
    if kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        donation = _metadata_donation(obj) or _int(obj.get("client_reference_id"))
        return Event(kind=PAYMENT_FAILED, donation_id=donation, ref=_id(obj.get("id")), **common)
    if kind == "payment_intent.payment_failed":
        return Event(kind=PAYMENT_FAILED, donation_id=_metadata_donation(obj), **common)
    if kind == "charge.refunded":
        if not obj.get("refunded"):
            return Event(kind=IGNORED, note="partial refund: staff decide", **common)
        return Event(
            kind=PAYMENT_REFUNDED,
            donation_id=_metadata_donation(obj),
            # A renewal's charge names its invoice (the donation's provider_ref).
            ref=_id(obj.get("invoice")),
            **common,
        )
    if kind == "invoice.paid":
        if obj.get("billing_reason") == "subscription_create":
            # The first month: checkout.session.completed settles it.
            return Event(kind=IGNORED, note="first payment, settled by the checkout", **common)
        return Event(
            kind=RECURRING_RENEWED,
            ref=_id(obj.get("id")),
            recurring_ref=_invoice_subscription(obj),
            amount_cents=obj.get("amount_paid"),
            **common,
        )
    if kind == "invoice.payment_failed":
        return Event(
            kind=RECURRING_PAYMENT_FAILED,
            ref=_id(obj.get("id")),
            recurring_ref=_invoice_subscription(obj),
            **common,
        )
    if kind == "customer.subscription.deleted":
        return Event(kind=RECURRING_CANCELLED, recurring_ref=_id(obj.get("id")), **common)
    return Event(kind=IGNORED, note="not an event we follow", **common)


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@register
class StripeProvider(Provider):
    name = "stripe"
    methods = (Method.CARD, Method.SEPA)
    recurring = True

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        webhook_secret: str | None = None,
        api_base: str = "https://api.stripe.com",
        tolerance: int = 300,
        timeout: float = 10,
    ):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base.rstrip("/")
        self.tolerance = tolerance
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> StripeProvider:
        return cls(
            secret_key=settings.NEXTWORK_STRIPE_SECRET_KEY,
            webhook_secret=settings.NEXTWORK_STRIPE_WEBHOOK_SECRET,
            api_base=settings.NEXTWORK_STRIPE_API_BASE or "https://api.stripe.com",
            tolerance=settings.NEXTWORK_STRIPE_WEBHOOK_TOLERANCE,
            timeout=settings.NEXTWORK_STRIPE_TIMEOUT,
        )

    # -- API calls --------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, data: dict | None = None, *, idempotency_key: str = ""
    ) -> dict:
        if not self.secret_key:
            raise Unavailable("Online payment is not configured (no Stripe secret key).")
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = httpx.request(
                method,
                f"{self.api_base}{path}",
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            # The exception's text names the URL only, never the key.
            logger.warning("stripe: %s %s failed: %s", method, path, type(exc).__name__)
            raise ProviderUnavailable(
                "The payment provider cannot be reached; try again."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            message = str(((body.get("error") or {}).get("message")) or response.status_code)
            logger.warning("stripe: %s %s answered %s", method, path, response.status_code)
            raise ProviderUnavailable(f"The payment provider refused: {message}")
        return body

    def _session(
        self, *, donation, success_url: str, cancel_url: str, mode: str, extra: dict
    ) -> dict:
        if donation.method not in PAYMENT_METHOD_TYPES:
            raise InvalidInput(
                f"Stripe takes {', '.join(PAYMENT_METHOD_TYPES)}, not {donation.method}.",
                field="method",
            )
        data = {
            "mode": mode,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(donation.pk),
            "customer_email": donation.donor.email,
            "payment_method_types[0]": PAYMENT_METHOD_TYPES[donation.method],
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": str(donation.amount_cents),
            "line_items[0][price_data][product_data][name]": f"Don à {donation.beneficiary.name}",
            "metadata[donation]": str(donation.pk),
            **extra,
        }
        session = self._call(
            "POST", "/v1/checkout/sessions", data, idempotency_key=f"donation-{donation.pk}"
        )
        return {"kind": "redirect", "url": session.get("url", ""), "ref": session.get("id", "")}

    def start(self, *, donation, success_url, cancel_url) -> dict:
        return self._session(
            donation=donation,
            success_url=success_url,
            cancel_url=cancel_url,
            mode="payment",
            extra={"payment_intent_data[metadata][donation]": str(donation.pk)},
        )

    def start_recurring(self, *, donation, recurring, success_url, cancel_url) -> dict:
        return self._session(
            donation=donation,
            success_url=success_url,
            cancel_url=cancel_url,
            mode="subscription",
            extra={
                "line_items[0][price_data][recurring][interval]": "month",
                "subscription_data[metadata][donation]": str(donation.pk),
                "subscription_data[metadata][recurring]": str(recurring.pk),
            },
        )

    def cancel_recurring(self, recurring) -> None:
        if not recurring.provider_ref:
            return  # the checkout never completed: there is no subscription to stop
        self._call("DELETE", f"/v1/subscriptions/{recurring.provider_ref}")

    def _payment_intent(self, ref: str) -> str:
        if ref.startswith("pi_"):
            return ref
        if ref.startswith("cs_"):
            return _id(self._call("GET", f"/v1/checkout/sessions/{ref}").get("payment_intent"))
        if ref.startswith("in_"):
            invoice = self._call("GET", f"/v1/invoices/{ref}")
            found = _id(invoice.get("payment_intent"))
            if not found:  # newer API versions list the invoice's payments instead
                payments = ((invoice.get("payments") or {}).get("data")) or []
                for item in payments:
                    found = _id((item.get("payment") or {}).get("payment_intent"))
                    if found:
                        break
            return found
        return ""

    def refund(self, donation) -> None:
        intent = self._payment_intent(donation.provider_ref)
        if not intent:
            raise InvalidInput(
                f"Donation {donation.pk} has no Stripe payment to refund.", field="donation"
            )
        self._call(
            "POST",
            "/v1/refunds",
            {"payment_intent": intent, "metadata[donation]": str(donation.pk)},
            idempotency_key=f"refund-{donation.pk}",
        )

    # -- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, request_body: bytes, headers) -> list[Event]:
        verify(
            request_body,
            headers.get("Stripe-Signature", ""),
            self.webhook_secret or "",
            tolerance=self.tolerance,
            now=time.time(),
        )
        try:
            payload = json.loads(request_body)
        except ValueError:
            raise BadSignature("The signed body is not JSON.") from None
        if not isinstance(payload, dict) or not payload.get("id"):
            raise BadSignature("The signed body is not a Stripe event.")
        return [to_event(payload)]

"""The test provider: its "checkout" is a page of our own site (``test_checkout``) with
"Payer" and "Refuser" buttons that settle the donation through ``webhooks.process``, the code
path of every provider's webhooks. Offered only while ``NEXTWORK_TEST_PAYMENTS`` is on."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse

from nextwork.fundraising.models import Method
from nextwork.fundraising.providers import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    RECURRING_STARTED,
    Event,
    Provider,
    register,
)

SALT = "nextwork.fundraising.test-checkout"


def token_for(donation_id: int) -> str:
    return signing.dumps(donation_id, salt=SALT)


def token_valid(donation_id: int, token: str) -> bool:
    try:
        return signing.loads(token, salt=SALT, max_age=24 * 3600) == donation_id
    except signing.BadSignature:
        return False


def checkout_url(donation_id: int) -> str:
    path = reverse("fundraising-test-checkout", args=[donation_id, token_for(donation_id)])
    return f"{settings.NEXTWORK_SITE_URL}{path}"


def _local(url: str) -> str:
    """The path and query of a return address: the page only ever redirects within the site."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def events_for(donation, *, pay: bool) -> list[Event]:
    """What a real provider's webhook would say after the donor's choice."""
    event_id = f"test-{uuid.uuid4().hex}"
    if not pay:
        return [Event(id=event_id, kind=PAYMENT_FAILED, donation_id=donation.pk)]
    if donation.recurring_id:
        return [
            Event(
                id=event_id,
                kind=RECURRING_STARTED,
                donation_id=donation.pk,
                recurring_ref=f"test-sub-{donation.recurring_id}",
            )
        ]
    return [Event(id=event_id, kind=PAYMENT_SUCCEEDED, donation_id=donation.pk)]


@register
class TestProvider(Provider):
    name = "test"
    methods = (Method.CARD, Method.SEPA)
    recurring = True

    def start(self, *, donation, success_url, cancel_url) -> dict:
        back = {"retour": _local(success_url), "annuler": _local(cancel_url)}
        url = f"{checkout_url(donation.pk)}?{urlencode(back)}"
        return {"kind": "redirect", "url": url, "ref": f"test-{donation.pk}"}

    def start_recurring(self, *, donation, recurring, success_url, cancel_url) -> dict:
        return self.start(donation=donation, success_url=success_url, cancel_url=cancel_url)

    def cancel_recurring(self, recurring) -> None:
        return None

    def refund(self, donation) -> None:
        return None

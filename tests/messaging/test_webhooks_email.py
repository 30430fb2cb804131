"""Email provider webhooks: recorded Mailgun payloads, signed, through anymail's real views."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from nextwork.messaging import consent
from nextwork.messaging.models import (
    ConsentEvent,
    ConsentState,
    Delivery,
    DeliveryStatus,
    Message,
    Suppression,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "mailgun"
SIGNING_KEY = "key-test-0123456789abcdef"
BASIC_AUTH = "mailgun:0pen-sesame-Webhook"
URL = "/webhooks/email/mailgun/tracking/"


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "WEBHOOK_SECRET": [BASIC_AUTH]}


def payload(name: str, *, message_id: str | None, recipient: str, key: str = SIGNING_KEY):
    """A recorded payload, addressed to our delivery and signed as Mailgun signs."""
    data = copy.deepcopy(json.loads((PAYLOADS / f"{name}.json").read_text()))
    event = data["event-data"]
    event["recipient"] = recipient
    headers = event["message"]["headers"]
    if "to" in headers:
        headers["to"] = recipient
    if message_id is None:
        headers.pop("message-id")
    else:
        headers["message-id"] = message_id
    sig = data["signature"]
    sig["signature"] = hmac.new(
        key.encode(), f"{sig['timestamp']}{sig['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return data


def post(client, data, *, auth: str | None = BASIC_AUTH):
    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(URL, data=json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def sent(make_member, consenting):
    """A campaign email handed to Mailgun for a consenting member."""

    def make(
        *, tracking: bool = False, provider_id="<20260203192638.000be97f99f8cea1@mg.example.org>"
    ):
        member = consenting(make_member("Camille"))
        prefs = consent.preferences_for(member)
        prefs.tracking = tracking
        prefs.save()
        message = Message.objects.create(
            channel="email", message_type="campaign", subject="Journée d'action", status="sent"
        )
        return Delivery.objects.create(
            message=message,
            member=member,
            status=DeliveryStatus.SENT,
            provider_id=provider_id,
        )

    return make


MID = "20260203192638.000be97f99f8cea1@mg.example.org"


def snapshot(delivery):
    delivery.refresh_from_db()
    prefs = consent.preferences_for(delivery.member)
    return (
        delivery.status,
        delivery.error,
        delivery.delivered_at,
        delivery.opened_at,
        delivery.clicked_at,
        prefs.last_opened_at,
        ConsentEvent.objects.count(),
        list(ConsentState.objects.order_by("pk").values_list("given", flat=True)),
        list(Suppression.objects.values_list("address_hash", "reason")),
    )


def test_the_webhook_url_is_anymails_mailgun_view():
    assert reverse("anymail:mailgun_tracking_webhook") == URL


def test_permanent_failure_bounces_and_suppresses_the_address(client, sent):
    delivery = sent()
    email = delivery.member.email
    response = post(client, payload("permanent_fail", message_id=MID, recipient=email))
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED
    assert "@" not in delivery.error
    suppression = Suppression.objects.get()
    assert suppression.address_hash == consent.address_hash("email", email)
    assert (suppression.reason, suppression.source) == ("bounce", "Mailgun")
    assert consent.is_suppressed("email", email.upper())
    # A bounce is not a withdrawal: the consents stay as the member gave them.
    assert set(ConsentState.objects.values_list("given", flat=True)) == {True}


def test_a_temporary_failure_changes_nothing_permanent(client, sent):
    delivery = sent()
    data = payload("permanent_fail", message_id=MID, recipient=delivery.member.email)
    data["event-data"].update(severity="temporary", reason="generic")
    data["event-data"]["delivery-status"]["code"] = 451
    before = snapshot(delivery)
    assert post(client, data).status_code == 200
    assert snapshot(delivery) == before
    assert delivery.status == DeliveryStatus.SENT


def test_complaint_withdraws_every_email_consent(client, sent):
    delivery = sent()
    email = delivery.member.email
    assert post(client, payload("complained", message_id=MID, recipient=email)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.COMPLAINED
    assert Suppression.objects.get().reason == "complaint"
    states = ConsentState.objects.filter(member=delivery.member, channel="email")
    assert states.count() == 3 and not states.filter(given=True).exists()
    withdrawn = ConsentEvent.objects.filter(member=delivery.member, given=False)
    assert set(withdrawn.values_list("how", flat=True)) == {"complaint"}
    assert withdrawn.count() == 3


def test_delivered_records_when(client, sent):
    delivery = sent()
    post(client, payload("delivered", message_id=MID, recipient=delivery.member.email))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at == datetime.fromtimestamp(1770146800.643859, tz=UTC)


def test_a_late_delivered_never_overwrites_a_bounce_or_complaint(client, sent):
    delivery = sent()
    email = delivery.member.email
    post(client, payload("permanent_fail", message_id=MID, recipient=email))
    post(client, payload("delivered", message_id=MID, recipient=email))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED and delivery.delivered_at is None
    # A complaint proves the message arrived, and goes over everything.
    post(client, payload("complained", message_id=MID, recipient=email))
    post(client, payload("delivered", message_id=MID, recipient=email))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.COMPLAINED


def test_the_message_id_matches_with_or_without_angle_brackets(client, sent):
    delivery = sent(provider_id=MID)  # as some backends record it
    post(client, payload("delivered", message_id=f"<{MID}>", recipient=delivery.member.email))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_an_open_is_ignored_unless_the_member_allows_tracking(client, sent):
    delivery = sent(tracking=False)
    post(client, payload("opened", message_id=MID, recipient=delivery.member.email))
    delivery.refresh_from_db()
    assert delivery.opened_at is None
    assert consent.preferences_for(delivery.member).last_opened_at is None


def test_an_open_is_recorded_once_for_a_member_who_allows_it(client, sent):
    delivery = sent(tracking=True)
    post(client, payload("opened", message_id=MID, recipient=delivery.member.email))
    delivery.refresh_from_db()
    at = datetime.fromtimestamp(1770153005.885337, tz=UTC)
    assert delivery.opened_at == at
    assert consent.preferences_for(delivery.member).last_opened_at == at
    later = payload("opened", message_id=MID, recipient=delivery.member.email)
    later["event-data"]["timestamp"] += 3600
    post(client, later)
    delivery.refresh_from_db()
    assert delivery.opened_at == at  # the first open stays
    assert consent.preferences_for(delivery.member).last_opened_at > at  # the latest moves


@pytest.mark.parametrize("name", ["permanent_fail", "complained", "delivered", "opened"])
def test_a_replayed_event_changes_nothing_more(client, sent, name):
    delivery = sent(tracking=True)
    data = payload(name, message_id=MID, recipient=delivery.member.email)
    assert post(client, data).status_code == 200
    after_first = snapshot(delivery)
    assert post(client, data).status_code == 200
    assert snapshot(delivery) == after_first


@pytest.mark.parametrize(
    ("key", "auth"),
    [
        ("not-the-signing-key", BASIC_AUTH),
        (SIGNING_KEY, "mailgun:wrong"),
        (SIGNING_KEY, None),
    ],
    ids=["forged signature", "wrong basic auth", "no basic auth"],
)
def test_an_unauthenticated_post_is_refused_and_changes_nothing(client, sent, key, auth):
    delivery = sent(tracking=True)
    before = snapshot(delivery)
    for name in ("permanent_fail", "complained", "delivered", "opened"):
        data = payload(name, message_id=MID, recipient=delivery.member.email, key=key)
        assert post(client, data, auth=auth).status_code in (400, 403)
    assert snapshot(delivery) == before


def test_a_tampered_payload_fails_its_signature(client, sent):
    """The signature covers the token and timestamp: Mailgun's scheme. Changing the body of a
    signed payload keeps the signature valid, which is why basic auth is also required."""
    delivery = sent()
    data = payload("delivered", message_id=MID, recipient=delivery.member.email)
    data["signature"]["token"] = "0" * 50
    assert post(client, data).status_code == 400
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


def test_a_bounce_for_an_unknown_message_still_suppresses(client, db):
    data = payload("permanent_fail", message_id="unknown@mg.example.org", recipient="x@example.net")
    assert post(client, data).status_code == 200
    assert consent.is_suppressed("email", "x@example.net")


def test_a_complaint_without_message_id_still_withdraws_the_members_consents(client, sent):
    delivery = sent()
    email = delivery.member.email
    assert post(client, payload("complained", message_id=None, recipient=email)).status_code == 200
    assert consent.is_suppressed("email", email)
    assert not ConsentState.objects.filter(member=delivery.member, given=True).exists()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT  # which message it was is not known


def test_logs_name_the_delivery_never_the_address(client, sent, caplog):
    delivery = sent(tracking=True)
    email = delivery.member.email
    with caplog.at_level(logging.DEBUG):
        for name in ("delivered", "opened", "complained", "permanent_fail"):
            post(client, payload(name, message_id=MID, recipient=email))
    text = caplog.text
    assert f"delivery {delivery.pk}" in text
    assert email not in text and email.split("@")[0] not in text

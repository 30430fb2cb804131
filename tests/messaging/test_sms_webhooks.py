"""Twilio's calls to us, signed as Twilio signs them: STOP replies and delivery reports.
A request whose signature does not hold is refused (403) and changes nothing."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from nextwork.messaging import consent
from nextwork.messaging.models import (
    ConsentEvent,
    ConsentHow,
    ConsentState,
    Delivery,
    DeliveryStatus,
    Message,
    Suppression,
)
from nextwork.messaging.sms.stop import STOP_KEYWORDS, is_stop
from nextwork.messaging.sms.twilio import signature

SITE = "https://reseau.example.org"
SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN = "test-auth-token"
PHONE = "+33612345678"
INBOUND = "/sms/twilio/inbound/"
STATUS = "/sms/twilio/status/"


@pytest.fixture(autouse=True)
def _twilio_settings(settings):
    settings.NEXTWORK_SITE_URL = SITE
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN


@pytest.fixture
def twilio_post():
    """POST as Twilio does: form-encoded, signed over the public URL and the parameters."""
    client = Client(enforce_csrf_checks=True)  # server to server: no CSRF token

    def post(path: str, params: dict, *, token: str = TOKEN, url: str | None = None, sign=True):
        headers = {}
        if sign:
            headers["HTTP_X_TWILIO_SIGNATURE"] = signature(
                token, url or SITE + path, sorted(params.items())
            )
        return client.post(
            path, urlencode(params), content_type="application/x-www-form-urlencoded", **headers
        )

    return post


@pytest.fixture
def texter(make_member, consenting):
    """A member with a phone number who agreed to campaign and alert SMS (and email)."""
    member = make_member("Camille")
    member.phone = PHONE
    member.save(update_fields=["phone"])
    consenting(member)  # email
    consenting(member, channel="sms", types=("campaign", "alert"))
    return member


def inbound_params(body: str, sender: str = PHONE) -> dict:
    return {
        "AccountSid": SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "To": "+33757000000",
    }


def sms_consents(member) -> dict[str, bool]:
    return {
        s.message_type: s.given for s in ConsentState.objects.filter(member=member, channel="sms")
    }


# -- the signature ------------------------------------------------------------------------------


def test_the_signature_is_twilios():
    # The example of Twilio's webhook security documentation.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


# -- STOP ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stop_withdraws_sms_consent_and_suppresses_the_number(twilio_post, texter):
    response = twilio_post(INBOUND, inbound_params("Arrêt"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    assert sms_consents(texter) == {"campaign": False, "alert": False}
    events = ConsentEvent.objects.filter(member=texter, channel="sms", given=False)
    assert sorted(events.values_list("message_type", "how")) == [
        ("alert", ConsentHow.SMS_STOP),
        ("campaign", ConsentHow.SMS_STOP),
    ]
    suppression = Suppression.objects.get(channel="sms")
    assert suppression.reason == "stop" and suppression.source == "twilio"
    assert suppression.address_hash == consent.address_hash("sms", PHONE)
    assert consent.is_suppressed("sms", PHONE)
    # Email is another channel: untouched.
    assert consent.may_receive(texter.pk, "email", "newsletter")


@pytest.mark.django_db
def test_every_member_sharing_the_number_stops(twilio_post, texter, make_member, consenting):
    partner = make_member("Dominique")
    partner.phone = PHONE
    partner.save(update_fields=["phone"])
    consenting(partner, channel="sms", types=("alert",))
    twilio_post(INBOUND, inbound_params("stop"))
    assert sms_consents(texter) == {"campaign": False, "alert": False}
    assert sms_consents(partner) == {"alert": False}


@pytest.mark.django_db
def test_stop_from_an_unknown_number_still_suppresses_it(twilio_post):
    response = twilio_post(INBOUND, inbound_params("STOP", sender="+33699999999"))
    assert response.status_code == 200
    assert consent.is_suppressed("sms", "+33699999999")
    assert not ConsentEvent.objects.exists()


@pytest.mark.django_db
def test_a_second_stop_writes_nothing_more(twilio_post, texter):
    twilio_post(INBOUND, inbound_params("STOP"))
    twilio_post(INBOUND, inbound_params("STOP"))
    assert ConsentEvent.objects.filter(member=texter, how=ConsentHow.SMS_STOP).count() == 2
    assert Suppression.objects.count() == 1


@pytest.mark.django_db
def test_twilio_advanced_opt_out_keywords_are_honoured(twilio_post, texter):
    # An organisation may configure its own keywords on a Twilio Messaging Service.
    params = inbound_params("NON MERCI") | {"OptOutType": "STOP"}
    assert twilio_post(INBOUND, params).status_code == 200
    assert sms_consents(texter) == {"campaign": False, "alert": False}
    assert consent.is_suppressed("sms", PHONE)


@pytest.mark.django_db
def test_a_reply_that_is_not_a_stop_changes_nothing(twilio_post, texter):
    response = twilio_post(INBOUND, inbound_params("Stop à la réforme, on sera là samedi !"))
    assert response.status_code == 200
    assert sms_consents(texter) == {"campaign": True, "alert": True}
    assert not Suppression.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        " stop ",
        "Stop.",
        "ARRÊT",
        "arret",
        "Arrêtez",
        "Désinscription",
        "STOP SMS",
        "stop svp merci",
        "Stop all",
        "STOPALL",
        "unsubscribe",
        "OPT-OUT",
        "désabonner",
    ],
)
def test_stop_words(text):
    assert is_stop(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Bonjour",
        "Je viendrai",
        "stop à la réforme des retraites",
        "Non merci stop",
        "STOPPER",
        "arrêt de bus rue de Rivoli ?",
    ],
)
def test_not_stop_words(text):
    assert not is_stop(text)


def test_the_documented_keywords_are_the_ones_used():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    # docs/messaging-sms.md until it is merged into docs/messaging.md
    doc = "".join(p.read_text() for p in docs.glob("messaging*.md"))
    assert all(f"`{word}`" in doc for word in STOP_KEYWORDS)


# -- refused requests change nothing ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("how", "message"),
    [
        ({"token": "someone-elses-token"}, "does not match"),
        ({"url": "https://attacker.example/sms/twilio/inbound/"}, "does not match"),
        ({"sign": False}, "missing"),
    ],
)
def test_a_forged_stop_is_refused_and_changes_nothing(twilio_post, texter, how, message):
    response = twilio_post(INBOUND, inbound_params("STOP"), **how)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and error["field"] == "signature"
    assert message in error["message"]
    assert sms_consents(texter) == {"campaign": True, "alert": True}
    assert not Suppression.objects.exists()
    assert not ConsentEvent.objects.filter(how=ConsentHow.SMS_STOP).exists()


@pytest.mark.django_db
def test_a_tampered_body_is_refused(texter):
    params = inbound_params("Bonjour")
    signed = signature(TOKEN, SITE + INBOUND, sorted(params.items()))
    params["Body"] = "STOP"
    response = Client().post(
        INBOUND,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signed,
    )
    assert response.status_code == 403
    assert sms_consents(texter) == {"campaign": True, "alert": True}


@pytest.mark.django_db
def test_without_an_auth_token_the_webhooks_are_closed(twilio_post, texter, settings):
    settings.TWILIO_AUTH_TOKEN = None
    response = twilio_post(INBOUND, inbound_params("STOP"), token="")
    assert response.status_code == 403
    assert "TWILIO_AUTH_TOKEN" in response.json()["error"]["message"]
    assert sms_consents(texter) == {"campaign": True, "alert": True}


@pytest.mark.django_db
def test_another_account_is_refused(twilio_post, texter):
    params = inbound_params("STOP") | {"AccountSid": "ACzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}
    response = twilio_post(INBOUND, params)
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "AccountSid"
    assert not Suppression.objects.exists()


@pytest.mark.django_db
def test_an_oversized_body_is_refused(twilio_post, texter):
    response = twilio_post(INBOUND, inbound_params("STOP " + "x" * 70_000))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert sms_consents(texter) == {"campaign": True, "alert": True}


@pytest.mark.django_db
def test_only_post_is_accepted(client):
    assert client.get(INBOUND).status_code == 405


# -- delivery reports ---------------------------------------------------------------------------


@pytest.fixture
def delivery(texter):
    message = Message.objects.create(channel="sms", message_type="alert", body_text="Alerte")
    return Delivery.objects.create(
        message=message,
        member=texter,
        status=DeliveryStatus.SENT,
        provider_id="SM1f0e8ae6ade43cb3c0ce4525424e404f",
        sent_at=timezone.now(),
    )


def status_params(state: str, error_code: str | None = None) -> dict:
    params = {
        "AccountSid": SID,
        "ApiVersion": "2010-04-01",
        "From": "+33757000000",
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "MessageStatus": state,
        "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "SmsStatus": state,
        "To": PHONE,
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


@pytest.mark.django_db
def test_a_report_before_the_hand_over_is_recorded_finds_its_delivery(twilio_post, delivery):
    # Twilio may report before the sender has written down its id: the signed callback URL
    # carries our reference (nw.MESSAGE.DELIVERY).
    Delivery.objects.filter(pk=delivery.pk).update(provider_id="", status=DeliveryStatus.HANDING)
    path = f"{STATUS}?ref=nw.{delivery.message_id}.{delivery.pk}"
    assert twilio_post(path, status_params("delivered")).status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.provider_id) == (
        DeliveryStatus.DELIVERED,
        "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    )
    # A reference naming another message's delivery matches nothing.
    other = Delivery.objects.create(
        message=Message.objects.create(channel="sms", message_type="alert", body_text="x"),
        member=delivery.member,
        status=DeliveryStatus.HANDING,
    )
    wrong = f"{STATUS}?ref=nw.{delivery.message_id}.{other.pk}"
    assert (
        twilio_post(wrong, {**status_params("failed"), "MessageSid": "SMother"}).status_code == 200
    )
    other.refresh_from_db()
    assert other.status == DeliveryStatus.HANDING


@pytest.mark.django_db
def test_a_delivered_report_marks_the_delivery(twilio_post, delivery):
    response = twilio_post(STATUS, status_params("delivered"))
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at is not None


@pytest.mark.django_db
def test_an_undelivered_report_fails_the_delivery_with_its_code(twilio_post, delivery):
    twilio_post(STATUS, status_params("undelivered", "30003"))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.error == "twilio-30003 unreachable handset"
    assert "612345678" not in delivery.error


@pytest.mark.django_db
@pytest.mark.parametrize("late", ["failed", "undelivered", "sent", "queued"])
def test_a_delivered_delivery_is_never_downgraded(twilio_post, delivery, late):
    twilio_post(STATUS, status_params("delivered"))
    delivered_at = Delivery.objects.get(pk=delivery.pk).delivered_at
    twilio_post(STATUS, status_params(late, "30008"))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at == delivered_at and delivery.error == ""


@pytest.mark.django_db
def test_intermediate_reports_change_nothing(twilio_post, delivery):
    for state in ("queued", "sending", "sent"):
        assert twilio_post(STATUS, status_params(state)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_report_for_an_unknown_message_is_accepted_quietly(twilio_post, delivery):
    params = status_params("delivered") | {"MessageSid": "SMffff", "SmsSid": "SMffff"}
    assert twilio_post(STATUS, params).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_forged_report_changes_nothing(twilio_post, delivery):
    response = twilio_post(STATUS, status_params("failed", "30007"), token="guess")
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.error == ""

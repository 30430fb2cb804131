"""The SMS channel end to end: the delivery engine hands an SMS message to the configured
provider (the file outbox here), Twilio's report marks it delivered, and after a STOP the
number is neither consented nor written to again."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from nextwork.messaging import delivery, services
from nextwork.messaging.models import Delivery, DeliveryStatus
from nextwork.messaging.sms.twilio import signature

SITE = "https://reseau.example.org"
TOKEN = "test-auth-token"


@pytest.fixture
def outbox(settings, tmp_path):
    settings.NEXTWORK_SMS_PROVIDER = "file"
    settings.NEXTWORK_SMS_FILE = str(tmp_path / "outbox.jsonl")
    settings.NEXTWORK_SMS_STOP_TEXT = "STOP au 36180"
    settings.NEXTWORK_SITE_URL = SITE
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = None

    def read() -> list[dict]:
        path = tmp_path / "outbox.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


@pytest.fixture
def texters(make_member, place, consenting):
    members = []
    for name, phone in (("Ana", "+33612345601"), ("Bo", "+33612345602")):
        member = make_member(name)
        member.phone = phone
        member.save(update_fields=["phone"])
        consenting(member, channel="sms", types=("alert",))
        place(member, "75-02")
        members.append(member)
    return members


def _sms(by, text="Rassemblement demain 18 h place de la République, {{ first_name }} !"):
    message = services.message_create(
        data=services.MessageIn(
            channel="sms", message_type="alert", body_text=text, definition={"area": ["75"]}
        ),
        by=by,
    )
    services.message_send(message=message, by=by)
    return message


def _twilio(path: str, params: dict):
    return Client().post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature(TOKEN, SITE + path, sorted(params.items())),
    )


@pytest.mark.django_db
def test_an_sms_goes_through_the_provider_and_its_report_comes_back(
    people, texters, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        message = _sms(people["staff"])
    report = delivery.send_message(message.pk)
    assert report.sent == 2
    sent = {line["to"]: line for line in outbox()}
    assert set(sent) == {"+33612345601", "+33612345602"}
    assert sent["+33612345601"]["body"].startswith("Rassemblement demain 18 h")
    assert sent["+33612345601"]["body"].endswith("STOP au 36180")
    rows = {d.member_id: d for d in Delivery.objects.filter(message=message)}
    ana = rows[texters[0].pk]
    assert ana.status == DeliveryStatus.SENT
    assert ana.provider_id == sent["+33612345601"]["id"]

    response = _twilio(
        "/sms/twilio/status/", {"MessageSid": ana.provider_id, "MessageStatus": "delivered"}
    )
    assert response.status_code == 200
    ana.refresh_from_db()
    assert ana.status == DeliveryStatus.DELIVERED


@pytest.mark.django_db
def test_after_stop_the_number_gets_nothing_more(
    people, texters, outbox, django_capture_on_commit_callbacks
):
    response = _twilio("/sms/twilio/inbound/", {"From": "+33612345601", "Body": "STOP"})
    assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        message = _sms(people["staff"])
    delivery.send_message(message.pk)
    assert [line["to"] for line in outbox()] == ["+33612345602"]

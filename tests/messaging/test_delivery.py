"""Sending email through a real SMTP server on loopback: headers, parts, consent, failures.

The engine runs in the test process here (``send_message``); the worker-level fault tests
(a killed worker, two workers at once) are in test_exactly_once.py.
"""

from __future__ import annotations

import re

import pytest

from nextwork.common.errors import Conflict, InvalidInput
from nextwork.messaging import consent, delivery, services
from nextwork.messaging.models import (
    ConsentEvent,
    ConsentHow,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
)
from tests import smtp

HTML = (
    "<h1>Bonjour {{ first_name }}</h1><p>Votre député : {{ deputy }} ({{ constituency }})."
    '<script>alert(1)</script></p><p><a href="https://example.org/agir">Agir</a></p>'
)


@pytest.fixture
def audience(make_member, place, consenting):
    """Three members of Paris who agreed, one who did not, one unconfirmed, one in Marseille."""
    agreed = [consenting(make_member(name)) for name in ("Ana", "Bo", "Cy")]
    for member in agreed:
        place(member, "75-02")
    silent = make_member("Dan")
    place(silent, "75-03")
    unconfirmed = consenting(make_member("Eve", confirmed=False))
    place(unconfirmed, "75-02")
    elsewhere = consenting(make_member("Fay"))
    place(elsewhere, "13-01")
    return {"agreed": agreed, "silent": silent, "unconfirmed": unconfirmed, "elsewhere": elsewhere}


def _newsletter(by, **changes):
    data = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Des nouvelles pour {{ first_name }}",
        "body_html": HTML,
        "definition": {"area": ["75"]},
    }
    data.update(changes)
    return services.message_create(data=services.MessageIn(**data), by=by)


def _materialised(message):
    """What a sender does first: the rows, then the message is being sent."""
    delivery.materialise(message)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)


def _send(message, by):
    services.message_send(message=message, by=by)
    return delivery.send_message(message.pk)


@pytest.mark.django_db(transaction=False)
def test_only_consenting_confirmed_members_in_scope_receive_it_once(
    people, audience, inbox, django_capture_on_commit_callbacks
):
    message = _newsletter(people["staff"])
    with django_capture_on_commit_callbacks(execute=False):
        report = _send(message, people["staff"])
    assert report.sent == 3
    received = sorted(rcpt for rcpts, _m in inbox.messages for rcpt in rcpts)
    assert received == sorted(m.email for m in audience["agreed"])
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.recipients == 3
    # A second run (a duplicate task) sends nothing more.
    assert delivery.send_message(message.pk).sent == 0
    assert len(inbox.messages) == 3


@pytest.mark.django_db
def test_the_email_has_both_parts_personal_values_and_rfc8058_headers(
    people, audience, inbox, settings, django_capture_on_commit_callbacks
):
    settings.NEXTWORK_SITE_URL = "https://reseau.example.org"
    message = _newsletter(people["staff"])
    with django_capture_on_commit_callbacks(execute=False):
        _send(message, people["staff"])
    ana = audience["agreed"][0]
    (email,) = [m for rcpts, m in inbox.messages if ana.email in rcpts]
    assert email["Subject"] == f"Des nouvelles pour {ana.first_name}"
    unsubscribe = re.fullmatch(
        r"<(https://reseau\.example\.org/desinscription/[^>]+/)>", email["List-Unsubscribe"]
    )
    assert unsubscribe
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = Delivery.objects.get(message=message, member=ana)
    assert email["Message-ID"] == f"<nw.{message.pk}.{row.pk}@reseau.example.org>"
    assert row.provider_id == email["Message-ID"]
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content()
    assert f"Bonjour {ana.first_name}" in html and "<script" not in html
    assert "75-02" in html and "75-02" in text
    assert f"Bonjour {ana.first_name}" in text  # the plain part was written from the HTML
    assert unsubscribe.group(1) in text and unsubscribe.group(1) in html


@pytest.mark.django_db
def test_unsubscribe_link_works_once_and_forgeries_are_refused(
    client, people, audience, inbox, django_capture_on_commit_callbacks
):
    message = _newsletter(people["staff"])
    with django_capture_on_commit_callbacks(execute=False):
        _send(message, people["staff"])
    ana = audience["agreed"][0]
    (email,) = [m for rcpts, m in inbox.messages if ana.email in rcpts]
    url = email["List-Unsubscribe"].strip("<>")
    path = url.split("testserver", 1)[1]

    # A GET (a person, or a scanner prefetching links) only shows the button.
    assert client.get(path).status_code == 200
    assert consent.current_consents(ana)[("email", "newsletter")] is True

    # The mail client's one-click POST: no session, no CSRF token, only the signed token.
    answer = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert consent.current_consents(ana)[("email", "newsletter")] is False
    assert consent.current_consents(ana)[("email", "alert")] is True  # only this type
    event = ConsentEvent.objects.filter(member=ana).latest("at")
    assert (event.given, event.how, event.message_type) == (
        False,
        ConsentHow.UNSUBSCRIBE,
        "newsletter",
    )
    # Used once: a second POST changes nothing and says so.
    again = client.post(path)
    assert again.status_code == 409
    assert ConsentEvent.objects.filter(member=ana, how=ConsentHow.UNSUBSCRIBE).count() == 1

    # A forged token (another delivery's id with this signature) is refused.
    token = path.split("/")[-2]
    other = Delivery.objects.exclude(member=ana).filter(message=message).first()
    forged = f"{other.pk}:{token.split(':', 1)[1]}"
    assert client.post(f"/desinscription/{forged}/").status_code == 400
    assert client.post(f"/api/v1/unsubscribe/{forged}").status_code == 400
    assert consent.current_consents(other.member)[("email", "newsletter")] is True
    # The API answers the same contract for the real token of another delivery.
    real = delivery.unsubscribe_token(other.pk)
    answer = client.post(f"/api/v1/unsubscribe/{real}")
    assert answer.status_code == 200
    assert answer.json() == {"channel": "email", "message_type": "newsletter"}


@pytest.mark.django_db
def test_temporary_smtp_failures_are_retried_until_delivered(
    people, audience, settings, django_capture_on_commit_callbacks
):
    settings.NEXTWORK_SEND_RETRY_BASE = 0  # retry at once, for the test
    settings.NEXTWORK_SITE_URL = "http://testserver"
    inbox, controller = smtp.start(refuse_data=(451, 4))  # the first 4 DATA answered 451
    try:
        for name, value in smtp.settings_for(controller).items():
            setattr(settings, name, value)
        message = _newsletter(people["staff"])
        with django_capture_on_commit_callbacks(execute=False):
            report = _send(message, people["staff"])
        assert report.retried == 4
        assert sorted(r for rcpts, _m in inbox.messages for r in rcpts) == sorted(
            m.email for m in audience["agreed"]
        )
        rows = Delivery.objects.filter(message=message)
        assert {r.status for r in rows} == {DeliveryStatus.SENT}
        assert sum(r.attempts for r in rows) == 3 + 4  # each once, plus the refused tries
    finally:
        controller.stop()


@pytest.mark.django_db
def test_a_permanent_refusal_fails_that_address_only(
    people, audience, settings, django_capture_on_commit_callbacks
):
    settings.NEXTWORK_SITE_URL = "http://testserver"
    bo = audience["agreed"][1]
    inbox, controller = smtp.start(refuse_rcpt={bo.email: 550})
    try:
        for name, value in smtp.settings_for(controller).items():
            setattr(settings, name, value)
        message = _newsletter(people["staff"])
        with django_capture_on_commit_callbacks(execute=False):
            report = _send(message, people["staff"])
        assert (report.sent, report.failed) == (2, 1)
        failed = Delivery.objects.get(message=message, member=bo)
        assert failed.status == DeliveryStatus.FAILED
        assert failed.error.startswith("smtp 550") and "@" not in failed.error
        assert bo.email not in {r for rcpts, _m in inbox.messages for r in rcpts}
        assert services.message_stats(message)["failed"] == 1
    finally:
        controller.stop()


@pytest.mark.django_db
def test_unsubscribed_mid_send_receives_nothing_after(
    people, audience, inbox, settings, django_capture_on_commit_callbacks
):
    settings.NEXTWORK_SEND_BATCH = 1
    message = _newsletter(people["staff"])
    with django_capture_on_commit_callbacks(execute=False):
        services.message_send(message=message, by=people["staff"])
    first = delivery.send_message(message.pk, max_batches=1)
    assert first.sent == 1
    waiting = Delivery.objects.filter(message=message, status=DeliveryStatus.QUEUED)
    leaver = waiting.first().member
    consent.consent_set(
        member=leaver, channel="email", message_type="newsletter", given=False, how=ConsentHow.SITE
    )
    rest = delivery.send_message(message.pk)
    assert (rest.sent, rest.skipped) == (1, 1)
    assert leaver.email not in {r for rcpts, _m in inbox.messages for r in rcpts}
    assert Delivery.objects.get(message=message, member=leaver).status == DeliveryStatus.SKIPPED


@pytest.mark.django_db
def test_a_claimed_delivery_is_not_handed_over_after_consent_is_withdrawn(people, audience, inbox):
    message = _newsletter(people["staff"])
    services.message_send(message=message, by=people["staff"])
    _materialised(message)
    claimed = delivery.claim(message.pk, "sender-a")
    assert len(claimed) == 3
    delivery_id, member_id, _ = claimed[0]
    consent.consent_set(
        member=audience["agreed"][0].__class__.objects.get(pk=member_id),
        channel="email",
        message_type="newsletter",
        given=False,
        how=ConsentHow.SITE,
    )
    assert delivery._start_handover(delivery_id, "sender-a", message) == delivery.SKIPPED
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.SKIPPED
    # Another sender cannot start a hand-over of rows it did not claim.
    assert delivery._start_handover(claimed[1][0], "sender-b", message) == delivery.LOST
    assert Delivery.objects.get(pk=claimed[1][0]).status == DeliveryStatus.CLAIMED


@pytest.mark.django_db
def test_suppressed_addresses_are_skipped(people, audience, inbox):
    bo = audience["agreed"][1]
    consent.suppress(channel="email", address=bo.email.upper(), reason="bounce")
    message = _newsletter(people["staff"])
    report = _send(message, people["staff"])
    assert (report.sent, report.skipped) == (2, 1)
    assert Delivery.objects.get(message=message, member=bo).error == "suppressed address"


@pytest.mark.django_db
def test_cancelled_message_sends_nothing(people, audience, inbox):
    message = _newsletter(people["staff"])
    services.message_send(message=message, by=people["staff"])
    services.message_cancel(message=message, by=people["staff"])
    assert delivery.send_message(message.pk).sent == 0
    assert inbox.messages == []
    with pytest.raises(Conflict):
        services.message_send(message=message, by=people["staff"])


@pytest.mark.django_db
def test_unknown_variables_and_unsafe_content_are_refused_when_written(people):
    with pytest.raises(InvalidInput) as caught:
        _newsletter(people["staff"], subject="Bonjour {{ prenom }}")
    assert caught.value.field == "subject" and "{{ first_name }}" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        _newsletter(people["staff"], body_html="<p>Bonjour {{ first_name }</p>")
    assert caught.value.code == "unknown_variable"
    with pytest.raises(InvalidInput) as caught:
        _newsletter(people["staff"], definition={"area": ["75"], "colour": "red"})
    assert caught.value.code == "invalid_segment"
    message = _newsletter(
        people["staff"], body_html='<p onclick="x()">Hi</p><a href="javascript:x()">l</a>'
    )
    assert "onclick" not in message.body_html and "javascript" not in message.body_html


@pytest.mark.django_db
def test_test_send_goes_to_the_author_only(people, audience, inbox):
    message = _newsletter(people["staff"])
    assert services.message_test_send(message=message, by=people["staff"]) == "email"
    ((rcpts, email),) = inbox.messages
    assert rcpts == [people["staff"].email]
    assert email["Subject"].startswith("[TEST] Des nouvelles pour Sacha")
    assert Delivery.objects.filter(message=message).count() == 0


@pytest.mark.django_db
def test_a_claim_takes_at_most_its_batch_and_never_a_claimed_row(people, audience):
    message = _newsletter(people["staff"])
    services.message_send(message=message, by=people["staff"])
    _materialised(message)
    first = delivery.claim(message.pk, "sender-a", limit=2)
    second = delivery.claim(message.pk, "sender-b", limit=2)
    assert len(first) == 2 and len(second) == 1
    assert not {d for d, _m, _i in first} & {d for d, _m, _i in second}
    assert delivery.claim(message.pk, "sender-c", limit=2) == []


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_the_hand_over_statement_agrees_with_reachable_q(people, make_member, channel):
    """The SQL written once per message must say what consent.reachable_q says."""
    from nextwork.messaging.models import Message
    from nextwork.network.models import Member

    def member(name, *, confirmed=True, active=True, phone="+33612345678", given=True):
        m = make_member(name, confirmed=confirmed)
        Member.objects.filter(pk=m.pk).update(is_active=active, phone=phone)
        m.refresh_from_db()
        if given and phone:
            consent.consent_set(
                member=m, channel=channel, message_type="alert", given=True, how=ConsentHow.SITE
            )
        elif given:
            consent.consent_set(
                member=m, channel="email", message_type="alert", given=True, how=ConsentHow.SITE
            )
        return m

    cast = [
        member("Ok"),
        member("Unconfirmed", confirmed=False),
        member("Inactive", active=False),
        member("Nophone", phone=""),
        member("Silent", given=False),
    ]
    withdrawn = member("Withdrawn")
    consent.consent_set(
        member=withdrawn, channel=channel, message_type="alert", given=False, how=ConsentHow.SITE
    )
    cast.append(withdrawn)
    message = Message.objects.create(
        channel=channel, message_type="alert", body_text="x", status="sending"
    )
    rows = [Delivery.objects.create(message=message, member=m) for m in cast]
    claimed = delivery.claim(message.pk, "s")
    statements = delivery.Statements(message)
    said = {
        member_id: delivery._start_handover(d, "s", message, statements) == delivery.STARTED
        for d, member_id, _ in claimed
    }
    expected = set(
        Member.objects.filter(
            consent.reachable_q(channel, "alert"), pk__in=[m.pk for m in cast]
        ).values_list("pk", flat=True)
    )
    assert {m for m, ok in said.items() if ok} == expected
    # Email needs a confirmed address, SMS a phone (an active member is confirmed in life;
    # the cast forces the odd case to compare both sides).
    by_channel = {"email": {cast[0].pk, cast[3].pk}, "sms": {cast[0].pk, cast[1].pk}}
    assert expected == by_channel[channel]
    assert len(rows) == len(said)


@pytest.mark.django_db
def test_a_control_character_in_a_name_does_not_stop_the_send(people, audience, inbox):
    from nextwork.network.models import Member

    bo = audience["agreed"][1]
    Member.objects.filter(pk=bo.pk).update(first_name="Jean\rPierre")
    report = _send(_newsletter(people["staff"]), people["staff"])
    assert (report.sent, report.failed) == (3, 0)
    (email,) = [m for rcpts, m in inbox.messages if bo.email in rcpts]
    assert email["Subject"] == "Des nouvelles pour Jean Pierre"


@pytest.mark.django_db
def test_an_unexpected_error_fails_one_recipient_without_its_data(
    people, audience, inbox, monkeypatch, caplog
):
    bo = audience["agreed"][1]
    real_build = delivery.EmailChannel.build

    def build(self, recipient):
        if recipient.member_id == bo.pk:
            raise ValueError(f"cannot build for {recipient.email}")
        return real_build(self, recipient)

    monkeypatch.setattr(delivery.EmailChannel, "build", build)
    message = _newsletter(people["staff"])
    report = _send(message, people["staff"])
    assert (report.sent, report.failed) == (2, 1)
    failed = Delivery.objects.get(message=message, member=bo)
    assert (failed.status, failed.error) == (DeliveryStatus.FAILED, "error ValueError")
    assert bo.email not in caplog.text
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


@pytest.mark.django_db
def test_cancelling_stops_a_running_sender_after_the_message_in_flight(
    people, audience, inbox, monkeypatch
):
    message = _newsletter(people["staff"])
    real_send = delivery.EmailChannel.send

    def send_then_cancel(self, recipient):
        provider_id = real_send(self, recipient)
        if Message.objects.get(pk=message.pk).status == MessageStatus.SENDING:
            services.message_cancel(message=message, by=people["staff"])
        return provider_id

    monkeypatch.setattr(delivery.EmailChannel, "send", send_then_cancel)
    report = _send(message, people["staff"])
    assert report.sent == 1 and len(inbox.messages) == 1
    statuses = sorted(Delivery.objects.filter(message=message).values_list("status", flat=True))
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.SKIPPED]


@pytest.mark.django_db
def test_a_sender_whose_claim_was_taken_over_writes_nothing(people, audience):
    import datetime

    from django.utils import timezone

    message = _newsletter(people["staff"])
    services.message_send(message=message, by=people["staff"])
    _materialised(message)
    (first, *_rest) = delivery.claim(message.pk, "slow")
    statements = delivery.Statements(message)
    assert delivery._start_handover(first[0], "slow", message, statements) == delivery.STARTED
    # The slow sender's lease ends; another takes the row over (and hands it over again).
    Delivery.objects.filter(pk=first[0]).update(
        lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    taken = delivery.claim(message.pk, "fresh")
    assert first[0] in {d for d, _m, _i in taken}
    delivery._done(first[0], "<late>", statements, "slow")
    row = Delivery.objects.get(pk=first[0])
    assert (row.status, row.claimed_by, row.handed_twice) == (DeliveryStatus.CLAIMED, "fresh", True)
    from nextwork.messaging.errors import TemporaryFailure

    assert delivery._failed(first[0], TemporaryFailure("smtp 451"), "slow") == "retry"
    assert Delivery.objects.get(pk=first[0]).status == DeliveryStatus.CLAIMED  # untouched


@pytest.mark.django_db
def test_an_unreachable_server_uses_no_attempt_and_plans_one_retry(
    people, audience, settings, django_capture_on_commit_callbacks
):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.free_port()  # nobody listens
    message = _newsletter(people["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(message=message, by=people["staff"])
    for outages in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            report = delivery.send_message(message.pk)
        assert report.sent == 0
        rows = Delivery.objects.filter(message=message)
        assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.QUEUED, 0)}
        message.refresh_from_db()
        assert (message.status, message.outages) == (MessageStatus.SENDING, outages)
        planned = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        assert planned.count() == 1  # one sender planned, not one per recipient


@pytest.mark.django_db
def test_the_sweep_keeps_an_hour_of_its_own_results():
    import datetime

    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from nextwork.messaging.tasks import sweep_stalled

    old, recent = sweep_stalled.enqueue(), sweep_stalled.enqueue()
    now = timezone.now()
    DBTaskResult.objects.filter(pk=old.id).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - datetime.timedelta(hours=2)
    )
    DBTaskResult.objects.filter(pk=recent.id).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - datetime.timedelta(minutes=5)
    )
    assert sweep_stalled.call() == "resumed 0 messages"
    assert not DBTaskResult.objects.filter(pk=old.id).exists()
    assert DBTaskResult.objects.filter(pk=recent.id).exists()

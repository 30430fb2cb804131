"""Writing to the representative through the platform, and reminders to relays."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.management.commands import db_worker

from nextwork.campaigns import services
from nextwork.campaigns.models import Assignment, ContactLog, RepresentativeContact, Stage
from nextwork.common.ratelimit import RateLimited
from nextwork.messaging import consent


@pytest.fixture
def mine(opened):
    campaign, _ = opened
    assignment = Assignment.objects.get(campaign=campaign, area__code="75-02")
    RepresentativeContact.objects.create(
        chamber="assembly",
        person_id=assignment.person_id,
        email="depute.75-02@assemblee-nationale.example",
        source="Site de l'Assemblée",
        checked_on=datetime.date(2026, 11, 1),
    )
    return assignment


def test_the_relay_emails_the_representative_with_their_reply_to(
    client, people, mine, django_capture_on_commit_callbacks
):
    camille = people["camille"]
    client.force_login(camille)
    services.message_save(assignment=mine, by=camille, subject="Logement", body="Madame, …")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/espace/actions/{mine.pk}/", {"action": "send"})
    assert response.status_code == 302
    (sent,) = mail.outbox
    assert sent.to == ["depute.75-02@assemblee-nationale.example"]
    assert sent.reply_to == [camille.email] and sent.subject == "Logement"
    assert sent.body == "Madame, …"
    mine.refresh_from_db()
    assert (mine.stage, mine.contact_method) == (Stage.CONTACTED, "email")
    assert ContactLog.objects.get(assignment=mine).subject == "Logement"


def test_a_representative_gets_a_few_emails_a_day_at_most(people, mine, opened):
    camille = people["camille"]
    for _ in range(services.REPRESENTATIVE_EMAILS_PER_DAY):
        services.email_representative(assignment=mine, by=camille)
    with pytest.raises(RateLimited):
        services.email_representative(assignment=mine, by=camille)
    assert ContactLog.objects.count() == services.REPRESENTATIVE_EMAILS_PER_DAY


def test_only_the_relay_writes_and_only_where_an_address_is_known(people, opened):
    campaign, _ = opened
    assignment = Assignment.objects.get(campaign=campaign, area__code="75-02")
    with pytest.raises(services.Forbidden):
        services.email_representative(assignment=assignment, by=people["coord75"])
    if not assignment.mandate.email:
        with pytest.raises(services.Conflict) as excinfo:
            services.email_representative(assignment=assignment, by=people["camille"])
        assert excinfo.value.code == "no_address"


def test_reminders_reach_the_relays_who_have_not_acted_once(
    people, opened, make_member, area, monkeypatch
):
    campaign, _ = opened
    campaign.reminder_days = [7, 2]
    campaign.save()
    day = timezone.localtime(campaign.starts_at).date() - datetime.timedelta(days=7)
    # Reminders are messaging sends of type "campaign calls": Camille agreed to those.
    consent.consent_set(
        member=people["camille"], channel="email", message_type="campaign", given=True, how="site"
    )
    assert services.send_reminders(today=day) == 1  # Camille, who has done nothing yet
    _deliver_queued()
    assert mail.outbox[0].to == [people["camille"].email]
    assert "J-7" in mail.outbox[0].subject and "/espace/actions/" in mail.outbox[0].body
    assert f"Bonjour {people['camille'].first_name}" in mail.outbox[0].body
    assert mail.outbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert services.send_reminders(today=day) == 0  # the task may run twice
    assert services.send_reminders(today=day + datetime.timedelta(days=1)) == 0  # not a day
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    services.checklist_update(
        assignment=mine, by=people["camille"], data=services.ChecklistIn(contact_method="phone")
    )
    assert services.send_reminders(today=day + datetime.timedelta(days=5)) == 0  # she acted
    _deliver_queued()
    assert len(mail.outbox) == 1


def test_no_reminder_to_a_relay_who_withdrew_campaign_calls(people, opened):
    campaign, _ = opened
    campaign.reminder_days = [7]
    campaign.save()
    day = timezone.localtime(campaign.starts_at).date() - datetime.timedelta(days=7)
    services.send_reminders(today=day)
    _deliver_queued()
    assert mail.outbox == []  # no consent to campaign calls: nothing is sent


def _deliver_queued():
    from nextwork.messaging.delivery import send_message
    from nextwork.messaging.models import Message

    for message_id in Message.objects.filter(status="queued").values_list("pk", flat=True):
        send_message(message_id)


def test_the_worker_runs_the_reminders_task(
    people, opened, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    campaign, _ = opened
    campaign.reminder_days = [
        (timezone.localtime(campaign.starts_at).date() - timezone.localdate()).days
    ]
    campaign.save()
    consent.consent_set(
        member=people["camille"], channel="email", message_type="campaign", given=True, how="site"
    )
    # The reminders task queues a message; its send task is queued once that commits (here,
    # when the capture ends), and the next worker run hands it over.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("worker", "--batch", stdout=io.StringIO())
    call_command("worker", "--batch", stdout=io.StringIO())
    assert [m.to for m in mail.outbox] == [[people["camille"].email]]

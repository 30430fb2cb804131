"""The reminders of electoral mobilisation: the registration drive, the polling-day reminders,
their one-click links, the task and the command. Each sends once, only to whom consented."""

from __future__ import annotations

import datetime
import io
import json
import logging
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from nextwork.messaging import consent
from nextwork.messaging.models import Message
from nextwork.mobilisation import reminders, services
from nextwork.mobilisation.models import RegistrationAnswer, Turnout
from nextwork.network.models import MemberLocation, Precision


@pytest.fixture
def sms_outbox(settings, tmp_path):
    settings.NEXTWORK_SMS_PROVIDER = "file"
    settings.NEXTWORK_SMS_FILE = str(tmp_path / "sms.jsonl")
    settings.NEXTWORK_SMS_STOP_TEXT = "STOP au 36180"

    def read() -> list[dict]:
        path = tmp_path / "sms.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


@pytest.fixture
def placed(area):
    def put(member, seat: str):
        MemberLocation.objects.filter(member=member, valid_to__isnull=True).delete()
        MemberLocation.objects.create(
            member=member, constituency=area(seat), department=area(seat[:2], "department"),
            precision=Precision.POSTCODE,
        )  # fmt: skip
        return member

    return put


def _email_ok(member):
    consent.consent_set(
        member=member, channel="email", message_type="campaign", given=True, how="site"
    )
    return member


def _sms_ok(member, phone):
    member.phone = phone
    member.save(update_fields=["phone"])
    consent.consent_set(member=member, channel="sms", message_type="campaign", given=True,
                        how="site")  # fmt: skip
    return member


def _deliver():
    from nextwork.messaging.delivery import send_message

    for message_id in Message.objects.filter(status="queued").values_list("pk", flat=True):
        send_message(message_id)


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


@pytest.fixture
def cast(make_member, placed):
    """Who the registration drive is about, all in 75-02 (the election covers everything):
    Anna said nothing (email), Bruno said he is registered (email), Chloé is unsure with no
    consent at all, Damien is not registered and accepts SMS only."""
    anna = _email_ok(placed(make_member("Anna"), "75-02"))
    bruno = _email_ok(placed(make_member("Bruno"), "75-02"))
    services.situation_set(member=bruno, consent=True, registered="yes", commune_code="75056")
    chloe = placed(make_member("Chloe"), "75-02")
    services.situation_set(member=chloe, consent=True, registered="unsure")
    damien = _sms_ok(placed(make_member("Damien"), "75-02"), "+33612345678")
    services.situation_set(member=damien, consent=True, registered="no")
    return {"anna": anna, "bruno": bruno, "chloe": chloe, "damien": damien}


def test_the_registration_drive_writes_once_to_whom_consented(
    election, cast, people, inbox, sms_outbox, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = reminders.registration_drive(election)
    assert (outcome.status, outcome.email, outcome.sms) == ("sent", 1, 1)
    # Chloé has no consent, and the cast of the permission tests neither (they said nothing).
    assert outcome.unreachable == 1 + len(people)
    assert set(outcome.members) == {cast["anna"].pk, cast["damien"].pk}
    _deliver()

    # Anna's email, through a real SMTP server: the official links, the deadline, her link.
    [body] = inbox.bodies(cast["anna"].email)
    assert "Bonjour Anna" in body
    assert reminders.CHECK_REGISTRATION in body and reminders.REGISTER_ONLINE in body
    assert election.registration_deadline.strftime("%d/%m/%Y") in body
    link = inbox.link(cast["anna"].email, "/mobilisation/c-est-fait/")
    assert link.startswith("http://testserver/mobilisation/c-est-fait/")
    for who in ("bruno", "chloe", "damien"):
        assert not inbox.bodies(cast[who].email)
    # Damien's SMS, and nobody else's.
    [sms] = sms_outbox()
    assert sms["to"] == "+33612345678"
    assert "/mobilisation/c-est-fait/" in sms["body"] and reminders.REGISTER_ONLINE in sms["body"]

    # The task may run again (or twice at once): nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        again = reminders.registration_drive(election)
    assert (again.email, again.sms, again.already) == (0, 0, 2)
    _deliver()
    assert len(inbox.messages) == 1 and len(sms_outbox()) == 1
    assert (
        RegistrationAnswer.objects.filter(election=election, reminded_at__isnull=False).count() == 2
    )

    # No address or number in the platform's logs (the test SMTP server's own are not ours).
    ours = "\n".join(
        f"{r.getMessage()} {r.args}" for r in caplog.records if not r.name.startswith("mail.log")
    )
    assert "registration drive of election" in ours
    for member in cast.values():
        assert member.email not in ours
    assert "612345678" not in ours


def test_no_reminder_after_the_deadline_nor_before_the_window(election, cast, settings):
    late = _at(election.registration_deadline + datetime.timedelta(days=1))
    outcome = reminders.registration_drive(election, now=late)
    assert outcome.status == "deadline_passed" and outcome.sent == 0
    assert "deadline" in outcome.detail
    settings.NEXTWORK_REGISTRATION_REMINDER_DAYS = 10
    early = _at(election.registration_deadline - datetime.timedelta(days=11))
    assert reminders.registration_drive(election, now=early).status == "not_yet"
    assert not RegistrationAnswer.objects.exists() and not Message.objects.exists()
    # The deadline's day itself is still open.
    on_the_day = _at(election.registration_deadline, 9)
    assert reminders.registration_drive(election, now=on_the_day).sent == 2


def test_a_by_election_reminds_only_the_members_it_concerns(people, make_member, placed):
    partial = services.election_create(
        by=people["staff"], kind="legislative_partielle", name="Partielle 75-02",
        slug="partielle-75-02", registration_deadline=timezone.localdate(),
        rounds=[services.RoundIn(1, timezone.localdate() + datetime.timedelta(days=30))],
        area_codes=["75-02"], published=True,
    )  # fmt: skip
    inside = _email_ok(placed(make_member("Ines"), "75-02"))
    outside = _email_ok(placed(make_member("Oscar"), "13-01"))
    # Lives in 75-02 but votes in Marseille: the by-election is not hers.
    elsewhere = _email_ok(placed(make_member("Elsa"), "75-02"))
    services.situation_set(member=elsewhere, consent=True, registered="no", commune_code="13055")
    # Lives in Marseille but votes in the seat's arrondissement: his.
    votes_here = _email_ok(placed(make_member("Victor"), "13-01"))
    arrondissement = services.Area.objects.filter(
        kind="arrondissement", constituency_links__constituency__code="75-02"
    ).first()
    services.situation_set(member=votes_here, consent=True, registered="unsure",
                           commune_code=arrondissement.code)  # fmt: skip
    outcome = reminders.registration_drive(partial)
    assert set(outcome.members) == {inside.pk, votes_here.pk}
    assert outside.pk not in outcome.members and elsewhere.pk not in outcome.members
    assert set(reminders.concerned(partial)) == {inside, votes_here}


def _token_of(message: Message, path: str) -> str:
    return re.search(rf"{path}([^/\s]+)/", message.body_text).group(1)


def test_the_done_link_records_on_post_only_and_once(election, cast):
    reminders.registration_drive(election)
    anna = cast["anna"]
    message = Message.objects.get(dedupe_key=f"mobilisation:registration:{election.pk}:{anna.pk}")
    token = _token_of(message, "/mobilisation/c-est-fait/")
    url = f"/mobilisation/c-est-fait/{token}/"
    client = Client()

    page = client.get(url)
    assert page.status_code == 200 and '<form method="post">' in page.content.decode()
    answer = RegistrationAnswer.objects.get(election=election, member=anna)
    assert answer.done_at is None  # a mail scanner's GET changes nothing

    assert client.post(url).status_code == 200
    answer.refresh_from_db()
    first = answer.done_at
    assert first is not None
    second = client.post(url)
    assert second.status_code == 200 and "déjà noté" in second.content.decode()
    answer.refresh_from_db()
    assert answer.done_at == first

    # A forged or altered token, or a token of the other link: refused, nothing written.
    forged = reminders.signing.dumps({"e": election.pk, "m": cast["chloe"].pk}, salt="other")
    for bad in (forged, token[:-2] + "xx", reminders.voted_token(1, anna.pk)):
        assert client.post(f"/mobilisation/c-est-fait/{bad}/").status_code == 400
        assert client.get(f"/mobilisation/c-est-fait/{bad}/").status_code == 400
    assert not RegistrationAnswer.objects.filter(member=cast["chloe"]).exists()

    # After the first round the link has expired.
    election.rounds.update(date=timezone.localdate() - datetime.timedelta(days=1))
    assert client.get(url).status_code == 410


@pytest.fixture
def held(voter, first_round, people):
    """Hugo (email) holds Rania's accepted proxy for the first round."""
    requester = voter("Rania", "75056")
    holder = _email_ok(voter("Hugo", "75056"))
    request = services.request_create(member=requester, round_id=first_round.pk)
    offer = services.offer_create(member=holder, round_id=first_round.pk, commune_codes=["75056"])
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    services.match_accept(match_id=match.pk, member=requester)
    services.match_accept(match_id=match.pk, member=holder)
    return requester, holder


def test_polling_day_reminders_once_per_round_with_hours_station_and_proxy(
    first_round, held, make_member, sms_outbox, django_capture_on_commit_callbacks, mailoutbox
):
    requester, holder = held
    from nextwork.mobilisation.models import VotingSituation

    VotingSituation.objects.filter(member=holder).update(polling_station="École Jean-Jaurès")
    texter = _sms_ok(make_member("Sami"), "+33698765432")
    texter_holder = _sms_ok(requester, "+33611111111")  # Rania accepts SMS; Hugo holds hers
    silent = make_member("Nina")
    eve = _at(first_round.date - datetime.timedelta(days=1), 18)

    too_soon = _at(first_round.date - datetime.timedelta(days=3))
    assert reminders.polling_day(first_round, now=too_soon).status == "not_today"
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = reminders.polling_day(first_round, now=eve)
    assert (outcome.status, outcome.moment, outcome.email, outcome.sms) == ("sent", "eve", 1, 2)
    assert silent.pk not in outcome.members
    _deliver()
    [email] = [m for m in mailoutbox if m.to == [holder.email]]
    assert "demain" in email.subject
    assert "8 h à 18 h" in email.body and "20 h" in email.body
    assert "École Jean-Jaurès" in email.body
    assert "procuration" in email.body and "Paris" in email.body
    assert "/mobilisation/j-ai-vote/" in email.body
    texts = {s["to"]: s["body"] for s in sms_outbox()}
    assert set(texts) == {"+33698765432", "+33611111111"}
    assert "/mobilisation/j-ai-vote/" in texts["+33698765432"]
    assert "procuration" not in texts["+33698765432"]
    turnout = Turnout.objects.get(round=first_round, member=texter)
    assert turnout.channel == "sms" and turnout.reminded_at == eve
    assert Turnout.objects.get(round=first_round, member=texter_holder).channel == "sms"
    # The morning run reaches only whom the eve did not.
    late_joiner = _email_ok(make_member("Paul"))
    morning = _at(first_round.date, 7)
    with django_capture_on_commit_callbacks(execute=True):
        again = reminders.polling_day(first_round, now=morning)
    assert (again.moment, again.members, again.already) == ("morning", [late_joiner.pk], 3)
    _deliver()
    assert len(sms_outbox()) == 2
    # Once the stations are closed, nothing.
    assert reminders.polling_day(first_round, now=_at(first_round.date, 19)).status == "round_over"


def test_a_holder_sms_reminds_the_proxy_without_the_requester_details(
    first_round, held, sms_outbox, django_capture_on_commit_callbacks
):
    requester, holder = held
    consent.consent_set(member=holder, channel="email", message_type="campaign", given=False,
                        how="site")  # fmt: skip
    _sms_ok(holder, "+33622222222")
    with django_capture_on_commit_callbacks(execute=True):
        reminders.polling_day(first_round, now=_at(first_round.date, 8))
    _deliver()
    [sms] = sms_outbox()
    assert sms["to"] == "+33622222222"
    assert "procuration" in sms["body"]
    assert requester.first_name not in sms["body"] and requester.last_name not in sms["body"]
    assert "Paris" not in sms["body"]


def test_the_voted_link_records_on_post_only_and_once(first_round, make_member):
    member = _email_ok(make_member("Vera"))
    reminders.polling_day(first_round, now=_at(first_round.date, 8))
    message = Message.objects.get(dedupe_key=f"mobilisation:polling:{first_round.pk}:{member.pk}")
    token = _token_of(message, "/mobilisation/j-ai-vote/")
    url = f"/mobilisation/j-ai-vote/{token}/"
    client = Client()
    # Three weeks before the round the link does not work yet.
    assert client.post(url).status_code == 400
    first_round.date = timezone.localdate()
    first_round.save(update_fields=["date"])
    assert client.get(url).status_code == 200
    assert Turnout.objects.get(round=first_round, member=member).voted_at is None
    assert client.post(url).status_code == 200
    voted_at = Turnout.objects.get(round=first_round, member=member).voted_at
    assert voted_at is not None
    assert "déjà noté" in client.post(url).content.decode()
    assert Turnout.objects.get(round=first_round, member=member).voted_at == voted_at
    registration = reminders.registration_token(first_round.election_id, member.pk)
    assert client.post(f"/mobilisation/j-ai-vote/{registration}/").status_code == 400
    assert client.post(f"/mobilisation/j-ai-vote/{token}x/").status_code == 400


def test_the_command_and_the_task_send_once(election, cast, django_capture_on_commit_callbacks):
    out = io.StringIO()
    call_command("mobilisation", "remind-registration", "--dry-run", "--json", stdout=out)
    [planned] = json.loads(out.getvalue())
    assert (planned["email"], planned["sms"], planned["dry_run"]) == (1, 1, True)
    assert not RegistrationAnswer.objects.exists()

    out = io.StringIO()
    call_command("mobilisation", "remind-registration", "--json", stdout=out)
    [done] = json.loads(out.getvalue())
    assert (done["status"], done["sent"], done["target"]) == ("sent", 2, election.pk)

    from nextwork.mobilisation.tasks import registration_reminders

    assert registration_reminders.call().startswith("0 reminders sent")
    out = io.StringIO()
    call_command("mobilisation", "remind-polling", stdout=out)
    assert "No election or round is open" in out.getvalue()

"""Retention policies: each purges what is older than its setting and nothing else (the day
before the limit is kept, the day after goes), staff and current roles never, a dry run
changes nothing, a setting of 0 disables; the audit log's prune keeps `audit verify` passing
and a forged or tampered prune is still found."""

from __future__ import annotations

import datetime
import io
import json
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from nextwork.messaging.models import Delivery, Message, Preferences
from nextwork.monitoring.models import Mention, MinuteCount, Post, Spike, WatchRule, WebhookDelivery
from nextwork.network.models import Consent, ConsentText, Grant, Member, Role
from nextwork.privacy import chain, retention
from nextwork.privacy.models import AuditEvent
from nextwork.privacy.services import audit_record
from nextwork.settings import env

pytestmark = pytest.mark.django_db

NOW = timezone.now()
DAYS = 30


def ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


def counts(models) -> dict:
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def text(db):
    return ConsentText.objects.create(kind="retention-test", version=1, body="Texte.")


@pytest.fixture
def member_at(db, text):
    """A member created ``days`` ago: a sign-up (consent of ``source``), confirmed or not."""
    n = iter(range(10_000))

    def make(days: float, *, confirmed: bool = True, source: str = "site") -> Member:
        member = Member.objects.create_user(
            f"retention.{next(n)}.{uuid.uuid4().hex[:6]}@example.org",
            is_active=confirmed,
            confirmed_at=ago(days) if confirmed else None,
            created_at=ago(days),
        )
        Consent.objects.create(member=member, text=text, source=source, given_at=ago(days))
        return member

    return make


def alive(*members) -> set[int]:
    return set(Member.objects.filter(pk__in=[m.pk for m in members]).values_list("pk", flat=True))


# -- unconfirmed sign-ups ---------------------------------------------------------------------


def test_unconfirmed_sign_ups_go_after_the_limit_and_nothing_else(settings, member_at):
    settings.NEXTWORK_RETENTION_UNCONFIRMED_DAYS = DAYS
    recent = member_at(DAYS - 1, confirmed=False)
    old = member_at(DAYS + 1, confirmed=False)
    api = member_at(DAYS + 1, confirmed=False, source="api")
    confirmed = member_at(DAYS + 1)
    imported = member_at(DAYS + 1, confirmed=False, source="import")
    relay_once = member_at(DAYS + 1, confirmed=False)
    Grant.objects.create(member=relay_once, role=Role.STAFF, valid_to=ago(DAYS))
    staff = member_at(DAYS + 1, confirmed=False)
    Member.objects.filter(pk=staff.pk).update(is_staff=True)
    everyone = (recent, old, api, confirmed, imported, relay_once, staff)

    dry = retention.purge_unconfirmed(NOW, dry_run=True)
    assert dry.rows == {"network.Member": 2} and len(alive(*everyone)) == 7

    result = retention.purge_unconfirmed(NOW, dry_run=False)
    assert result.rows == {"network.Member": 2}
    assert alive(*everyone) == alive(recent, confirmed, imported, relay_once, staff)
    assert not Consent.objects.filter(member_id__in=[old.pk, api.pk]).exists()


def test_a_donor_never_confirmed_is_kept(settings, member_at):
    from nextwork.fundraising.models import Donor, DonorPerson

    settings.NEXTWORK_RETENTION_UNCONFIRMED_DAYS = DAYS
    donor = member_at(DAYS + 10, confirmed=False)
    person = DonorPerson.objects.create(key="k" * 64)
    Donor.objects.create(
        member=donor,
        key="k" * 64,
        person=person,
        first_name="A",
        last_name="B",
        email="a@example.org",
        address="1 rue",
        postcode="75002",
        city="Paris",
    )
    assert retention.purge_unconfirmed(NOW, dry_run=False).rows == {"network.Member": 0}
    assert alive(donor)


# -- inactive members ----------------------------------------------------------------------------


INACTIVE = 100  # days; members are told 30 days before (retention.NOTICE_DAYS)


@pytest.fixture
def inactive_cast(settings, member_at):
    settings.NEXTWORK_RETENTION_INACTIVE_DAYS = INACTIVE
    settings.NEXTWORK_SITE_URL = "http://testserver"
    cast = {
        "old": member_at(INACTIVE + 1),
        "imported": member_at(INACTIVE + 1, confirmed=False, source="import"),
        "opened_only": member_at(INACTIVE + 1),  # an opened email is no act of the person
        "former": member_at(INACTIVE + 100),  # a grant that ended
        "due": member_at(INACTIVE - 29),  # inactive for 71 days: told now
        "not_due": member_at(INACTIVE - 32),  # 68 days: not yet
        "logged_in": member_at(INACTIVE + 1),
        "clicked": member_at(INACTIVE + 1),
        "consented": member_at(INACTIVE + 1),
        "relay": member_at(INACTIVE + 100),
        "staff": member_at(INACTIVE + 100),
    }
    Preferences.objects.create(member=cast["opened_only"], last_opened_at=ago(2))
    Grant.objects.create(member=cast["former"], role=Role.STAFF, valid_to=ago(INACTIVE + 50))
    Member.objects.filter(pk=cast["logged_in"].pk).update(last_login=ago(60))
    Preferences.objects.create(member=cast["clicked"], last_clicked_at=ago(2))
    text = Consent.objects.first().text
    Consent.objects.create(member=cast["consented"], text=text, source="site", given_at=ago(3))
    Grant.objects.create(member=cast["relay"], role=Role.STAFF)
    Member.objects.filter(pk=cast["staff"].pk).update(is_staff=True)
    return cast


def notices() -> list[int]:
    events = AuditEvent.objects.filter(action=retention.NOTICE_ACTION)
    return sorted(e.details["member"] for e in events)


def test_inactive_members_are_told_then_erased_30_days_later(
    inactive_cast, mailoutbox, django_capture_on_commit_callbacks
):
    from nextwork.privacy.models import ErasureRecord

    cast = inactive_cast
    told = sorted(cast[n].pk for n in ("old", "imported", "opened_only", "former", "due"))
    dry = retention.purge_inactive(NOW, dry_run=True)
    assert dry.rows == {"network.Member": 0} and "5 members would be told" in dry.note
    assert not notices() and not mailoutbox

    # Nobody is erased without a notice: today, they are told.
    with django_capture_on_commit_callbacks(execute=True):
        first = retention.purge_inactive(NOW, dry_run=False)
    assert first.rows == {"network.Member": 0} and first.note.startswith("5 members told")
    assert notices() == told
    assert sorted(m.to[0] for m in mailoutbox) == sorted(cast[n].email for n in (
        "old", "imported", "opened_only", "former", "due"))  # fmt: skip
    mail = next(m for m in mailoutbox if m.to == [cast["old"].email])
    assert timezone.localdate(NOW + datetime.timedelta(days=30)).strftime("%d/%m/%Y") in mail.body
    assert "http://testserver/connexion/lien/" in mail.body
    unconfirmed = next(m for m in mailoutbox if m.to == [cast["imported"].email])
    assert "http://testserver/confirmer/" in unconfirmed.body
    # The next day, nobody is told twice.
    assert retention.purge_inactive(NOW + datetime.timedelta(days=1), False).rows == {
        "network.Member": 0
    }
    assert notices() == told

    # 31 days later, the told members who gave no sign of life are erased; the one who was not
    # inactive long enough then is told now, and the others stay.
    later = NOW + datetime.timedelta(days=31)
    assert retention.purge_inactive(later, dry_run=True).rows == {"network.Member": 5}
    result = retention.purge_inactive(later, dry_run=False)
    assert result.rows == {"network.Member": 5}, result.note
    assert alive(*cast.values()) == {m.pk for m in cast.values()} - set(told)
    records = ErasureRecord.objects.filter(member_ref__in=told)
    assert records.count() == 5 and set(records.values_list("reason", flat=True)) == {"retention"}
    assert cast["not_due"].pk in notices() and cast["logged_in"].pk in notices()


def test_a_suppressed_address_gets_no_notice_email(
    inactive_cast, mailoutbox, django_capture_on_commit_callbacks
):
    from nextwork.messaging.consent import address_hash
    from nextwork.messaging.models import Suppression

    old = inactive_cast["old"]
    Suppression.objects.create(
        channel="email", address_hash=address_hash("email", old.email), reason="complaint"
    )
    with django_capture_on_commit_callbacks(execute=True):
        retention.purge_inactive(NOW, dry_run=False)
    assert old.pk in notices() and len(mailoutbox) == 4
    assert old.email not in [m.to[0] for m in mailoutbox]


def test_a_sign_of_life_after_the_notice_keeps_the_member(inactive_cast):
    cast = inactive_cast
    retention.purge_inactive(NOW, dry_run=False)
    assert cast["old"].pk in notices()
    Member.objects.filter(pk=cast["old"].pk).update(last_login=ago(-5))
    result = retention.purge_inactive(NOW + datetime.timedelta(days=31), dry_run=False)
    assert result.rows == {"network.Member": 4}
    assert alive(cast["old"])


def test_a_notice_older_than_60_days_no_longer_counts(inactive_cast):
    cast = inactive_cast
    retention.purge_inactive(NOW, dry_run=False)
    AuditEvent.objects.filter(action=retention.NOTICE_ACTION).update(at=ago(61))
    result = retention.purge_inactive(NOW, dry_run=False)
    assert result.rows == {"network.Member": 0} and result.note.startswith("5 members told")
    assert alive(cast["old"])


def test_without_room_for_a_notice_inactive_members_are_erased_at_once(inactive_cast, settings):
    settings.NEXTWORK_RETENTION_INACTIVE_DAYS = 30
    result = retention.purge_inactive(NOW, dry_run=False)
    # Inactive for 30 days: the five told in the test above, "not_due" and "logged_in".
    assert result.rows == {"network.Member": 7} and not notices()
    assert alive(*inactive_cast.values()) == {
        inactive_cast[n].pk for n in ("clicked", "consented", "relay", "staff")
    }


def test_every_sign_of_life_is_a_real_field():
    # One query with every sign of life: a renamed field or model fails here, not at night.
    assert retention.inactive_candidates(NOW, DAYS).count() >= 0
    for label, member_field, date_field, _excluded in retention.SIGNS_OF_LIFE:
        from django.apps import apps

        model = apps.get_model(label)
        assert model._meta.get_field(member_field).related_model is Member
        assert model._meta.get_field(date_field).get_internal_type() == "DateTimeField"


# -- donors ----------------------------------------------------------------------------------------


def test_donors_go_once_their_last_gift_is_past_accounting_law(member_at):
    from nextwork.fundraising.models import Beneficiary, Donation, Donor, DonorPerson

    party = Beneficiary.objects.create(name="P", kind="party", legal_name="P", address="Paris")
    member = member_at(1)

    def donor(key: str, *, gift_years: float, status="succeeded", erased_years=None, **extra):
        person = DonorPerson.objects.create(key=key * 64)
        record = Donor.objects.create(
            key=key * 64, person=person, first_name="Prénom", last_name="Nom",
            email=f"{key}@example.org", address="1 rue", postcode="75002", city="Paris",
            created_at=ago(365 * gift_years),
            erased_at=ago(365 * erased_years) if erased_years else None, **extra,
        )  # fmt: skip
        Donation.objects.create(
            donor=record, person=person, beneficiary=party, amount_cents=1000, method="card",
            provider="test", status=status, created_at=ago(365 * gift_years),
            succeeded_at=ago(365 * gift_years) if status == "succeeded" else None,
        )  # fmt: skip
        return record

    old = donor("a", gift_years=11, member=member)
    recent = donor("b", gift_years=9)
    erased_kept = donor("c", gift_years=11, erased_years=5)
    Donor.objects.filter(pk=erased_kept.pk).update(email="erased@erased.invalid")
    retried = donor("d", gift_years=11)
    person = DonorPerson.objects.get(key="d" * 64)
    Donation.objects.create(donor=retried, person=person, beneficiary=party, amount_cents=500,
                            method="card", provider="test", status="pending",
                            created_at=ago(1))  # fmt: skip

    assert retention.purge_donors(NOW, dry_run=True).rows == {"fundraising.Donor": 2}
    assert Donor.objects.filter(first_name="").count() == 0
    assert retention.purge_donors(NOW, dry_run=False).rows == {"fundraising.Donor": 2}
    for record in (old, recent, erased_kept, retried):
        record.refresh_from_db()
    assert old.email.endswith("@erased.invalid") and old.member is None and old.erased_at
    assert (old.first_name, old.address, erased_kept.last_name, erased_kept.city) == ("",) * 4
    assert recent.email == "b@example.org" and recent.first_name == "Prénom"
    assert retried.email == "d@example.org" and retried.first_name == "Prénom"
    assert Donation.objects.count() == 5  # accounting records stay
    assert alive(member)
    assert retention.purge_donors(NOW, dry_run=False).rows == {"fundraising.Donor": 0}


# -- monitoring posts ----------------------------------------------------------------------------


def test_old_posts_and_their_mentions_go_the_counts_and_spikes_stay(settings):
    settings.NEXTWORK_RETENTION_POSTS_DAYS = DAYS
    rule = WatchRule.objects.create(name="r", terms=["x"])
    posts = {}
    for name, days in (("old", DAYS + 1), ("recent", DAYS - 1)):
        posts[name] = Post.objects.create(
            key=name,
            network="test",
            external_id=name,
            text="x",
            published_at=ago(days),
            seen_at=ago(days),
        )
        Mention.objects.create(rule=rule, post=posts[name], published_at=ago(days))
        MinuteCount.objects.create(rule=rule, minute=ago(days), count=1)
    # Published long ago but only just seen: kept (it was just counted).
    Post.objects.create(
        key="late",
        network="test",
        external_id="late",
        text="x",
        published_at=ago(DAYS + 5),
        seen_at=ago(1),
    )
    Spike.objects.create(
        rule=rule, start=ago(DAYS + 1), peak=ago(DAYS + 1), count=9, expected=1, score=5
    )

    dry = retention.purge_posts(NOW, dry_run=True)
    assert dry.rows == {"monitoring.Mention": 1, "monitoring.Post": 1}
    assert Post.objects.count() == 3

    result = retention.purge_posts(NOW, dry_run=False)
    assert result.rows == {"monitoring.Mention": 1, "monitoring.Post": 1}
    assert set(Post.objects.values_list("key", flat=True)) == {"recent", "late"}
    assert list(Mention.objects.values_list("post__key", flat=True)) == ["recent"]
    assert MinuteCount.objects.count() == 2 and Spike.objects.count() == 1


# -- message deliveries ----------------------------------------------------------------------------


def test_deliveries_of_messages_finished_long_ago_go(settings, member_at):
    settings.NEXTWORK_RETENTION_DELIVERIES_DAYS = DAYS
    lou = member_at(1)

    def message(status, finished_days, delivery_status="delivered"):
        m = Message.objects.create(
            channel="email",
            message_type="newsletter",
            status=status,
            finished_at=ago(finished_days) if finished_days else None,
        )
        Delivery.objects.create(message=m, member=lou, status=delivery_status)
        return m

    old = message("sent", DAYS + 1)
    cancelled = message("cancelled", DAYS + 1, "skipped")
    recent = message("sent", DAYS - 1)
    sending = message("sending", None, "queued")
    waiting = message("sent", DAYS + 1, "digest")  # the weekly digest still owes it

    assert retention.purge_deliveries(NOW, dry_run=True).rows == {"messaging.Delivery": 2}
    assert Delivery.objects.count() == 5
    assert retention.purge_deliveries(NOW, dry_run=False).rows == {"messaging.Delivery": 2}
    assert set(Delivery.objects.values_list("message_id", flat=True)) == {
        recent.pk,
        sending.pk,
        waiting.pk,
    }
    assert Message.objects.filter(pk__in=[old.pk, cancelled.pk]).count() == 2


# -- logs ------------------------------------------------------------------------------------------


def task_result(status: str, finished_days: float | None) -> DBTaskResult:
    return DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="retention.test",
        backend_name="default",
        run_after=ago(finished_days or 0),
        finished_at=ago(finished_days) if finished_days is not None else None,
        exception_class_path="",
        traceback="",
    )


def test_logs_go_after_the_limit_planned_tasks_and_live_sessions_stay(settings):
    settings.NEXTWORK_RETENTION_LOGS_DAYS = DAYS
    old = task_result("SUCCESSFUL", DAYS + 1)
    failed = task_result("FAILED", DAYS + 1)
    recent = task_result("SUCCESSFUL", DAYS - 1)
    planned = task_result("READY", None)
    Session.objects.create(session_key="a" * 32, session_data="", expire_date=ago(1))
    Session.objects.create(session_key="b" * 32, session_data="", expire_date=ago(-1))
    rule = WatchRule.objects.create(name="r", terms=["x"])
    hooks = {}
    for name, status, days in (
        ("old", "sent", DAYS + 1),
        ("recent", "sent", DAYS - 1),
        ("pending", "pending", DAYS + 1),
    ):
        spike = Spike.objects.create(
            rule=rule,
            start=ago(days) + datetime.timedelta(seconds=len(name)),
            peak=ago(days),
            count=9,
            expected=1,
            score=5,
        )
        hooks[name] = WebhookDelivery.objects.create(
            spike=spike, url="http://127.0.0.1/h", status=status, created_at=ago(days)
        )

    expected = {
        "django_tasks_database.DBTaskResult": 2,
        "monitoring.WebhookDelivery": 1,
        "sessions.Session": 1,
    }
    assert retention.purge_logs(NOW, dry_run=True).rows == expected
    assert DBTaskResult.objects.filter(task_path="retention.test").count() == 4
    assert retention.purge_logs(NOW, dry_run=False).rows == expected
    assert set(DBTaskResult.objects.filter(task_path="retention.test")) == {recent, planned}
    assert not DBTaskResult.objects.filter(pk__in=[old.pk, failed.pk]).exists()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]
    assert set(WebhookDelivery.objects.all()) == {hooks["recent"], hooks["pending"]}


# -- the audit log -------------------------------------------------------------------------------


def events(*ages: float) -> None:
    """Sealed events created ``ages`` days ago, in that order."""
    for n, days in enumerate(ages):
        event = audit_record(actor=None, action="members.read", details={"n": n})
        AuditEvent.objects.filter(pk=event.pk).update(at=ago(days))
    chain.seal(now=NOW + datetime.timedelta(days=1000))


def test_the_audit_prune_removes_a_prefix_and_the_chain_still_verifies(settings):
    settings.NEXTWORK_RETENTION_AUDIT_DAYS = DAYS
    # Sealed in (at, id) order: seq 1 is DAYS + 5, ..., seq 4 is DAYS + 1, seq 5 the young one.
    events(DAYS + 3, DAYS + 2, DAYS + 1, DAYS - 1, DAYS + 5)
    assert AuditEvent.objects.filter(seq__isnull=False).count() == 5
    unsealed = audit_record(actor=None, action="members.read")
    AuditEvent.objects.filter(pk=unsealed.pk).update(at=ago(DAYS + 9))
    fourth = AuditEvent.objects.get(seq=4).hash

    dry = retention.purge_audit(NOW, dry_run=True)
    assert dry.rows == {"privacy.AuditEvent": 4}
    assert AuditEvent.objects.count() == 6

    result = retention.purge_audit(NOW, dry_run=False)
    assert result.rows == {"privacy.AuditEvent": 4} and "seq 4" in result.note
    # Left: seq 5 (the young one), the prune's record (seq 6), the unsealed event.
    assert sorted(AuditEvent.objects.filter(seq__isnull=False).values_list("seq", flat=True)) == [
        5,
        6,
    ]
    assert AuditEvent.objects.filter(pk=unsealed.pk, seq__isnull=True).exists()
    record = AuditEvent.objects.get(seq=6)
    assert record.action == "privacy.retention"
    assert record.details["pruned_through_seq"] == 4
    assert record.details["pruned_through_hash"] == fourth
    report = chain.verify(now=NOW)
    assert report.intact, report.message
    assert report.pruned_through == 4 and report.sealed == 2
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)  # exit status 0
    assert "intact" in out.getvalue()
    # Nothing older left in the chain: a second run removes nothing and records nothing.
    assert retention.purge_audit(NOW, dry_run=False).rows == {"privacy.AuditEvent": 0}
    assert AuditEvent.objects.count() == 3


def test_a_second_prune_removes_the_first_s_record_and_still_verifies(settings):
    settings.NEXTWORK_RETENTION_AUDIT_DAYS = DAYS
    events(DAYS + 300, DAYS + 200, DAYS + 100)
    retention.purge_audit(ago(250), dry_run=False)  # seq 1 only
    assert chain.verify(now=NOW).pruned_through == 1
    # A year later, everything up to then is old, the first record too.
    later = NOW + datetime.timedelta(days=400)
    events(-300)
    result = retention.purge_audit(later, dry_run=False)
    assert result.rows == {"privacy.AuditEvent": 4}  # seq 2, 3, the first record, seq 5
    report = chain.verify(now=later)
    assert report.intact and report.pruned_through == 5 and report.sealed == 1


@pytest.fixture
def pruned(settings):
    settings.NEXTWORK_RETENTION_AUDIT_DAYS = DAYS
    events(DAYS + 3, DAYS + 2, DAYS - 1, DAYS - 2)
    retention.purge_audit(NOW, dry_run=False)
    assert chain.verify(now=NOW).intact
    return AuditEvent.objects.get(action="privacy.retention")


def test_removing_more_than_the_prune_recorded_is_found(pruned):
    AuditEvent.objects.filter(seq=3).delete()  # the first event the prune kept
    report = chain.verify(now=NOW)
    assert (report.intact, report.problem) == (False, "removed")


def test_a_changed_prune_record_is_found(pruned):
    details = {**pruned.details, "pruned_through_seq": 3}
    AuditEvent.objects.filter(pk=pruned.pk).update(details=details)
    report = chain.verify(now=NOW)
    assert not report.intact


def test_a_forged_prune_record_covers_nothing(pruned):
    # Someone deletes the next event and adds their own record, unsealed or with a made-up seal.
    removed = AuditEvent.objects.get(seq=3)
    AuditEvent.objects.filter(seq=3).delete()
    AuditEvent.objects.create(
        action="privacy.retention",
        details={"pruned_through_seq": 3, "pruned_through_hash": removed.hash},
    )
    assert not chain.verify(now=NOW).intact
    AuditEvent.objects.create(
        action="privacy.retention",
        seq=99,
        prev_hash="0" * 64,
        hash="f" * 64,
        details={"pruned_through_seq": 3, "pruned_through_hash": removed.hash},
    )
    report = chain.verify(now=NOW)
    assert not report.intact and report.problem in ("removed", "reordered", "changed")


def test_a_prune_whose_hash_does_not_match_is_found(pruned):
    # The first kept event is rewritten to follow another chain: its prev_hash no longer
    # matches the hash the prune recorded.
    AuditEvent.objects.filter(seq=3).update(prev_hash="0" * 64)
    report = chain.verify(now=NOW)
    assert (report.intact, report.broken_seq) == (False, 3)


# -- all together: dry run, disabled, the run's audit, the command, the settings -----------------


@pytest.fixture
def a_bit_of_everything(settings, member_at):
    for name in ("UNCONFIRMED", "INACTIVE", "POSTS", "AUDIT", "DELIVERIES", "LOGS"):
        setattr(settings, f"NEXTWORK_RETENTION_{name}_DAYS", DAYS)
    member_at(DAYS + 1, confirmed=False)
    Post.objects.create(
        key="p",
        network="test",
        external_id="p",
        text="x",
        published_at=ago(DAYS + 1),
        seen_at=ago(DAYS + 1),
    )
    task_result("SUCCESSFUL", DAYS + 1)
    events(DAYS + 1)


MODELS = (Member, Post, DBTaskResult, AuditEvent, Consent, Delivery, Session, WebhookDelivery)


def test_a_dry_run_changes_nothing_and_records_nothing(a_bit_of_everything):
    before = counts(MODELS)
    results = retention.apply_all(now=NOW, dry_run=True)
    assert counts(MODELS) == before
    by_name = {r.name: r for r in results}
    assert set(by_name) == {
        "unconfirmed", "inactive", "donors", "posts", "deliveries", "logs", "audit"
    }  # fmt: skip
    assert by_name["unconfirmed"].total == 1 and by_name["posts"].total == 1
    assert by_name["audit"].total == 1 and all(r.dry_run for r in results)


def test_a_policy_at_zero_days_is_disabled(a_bit_of_everything, settings):
    for name in ("UNCONFIRMED", "INACTIVE", "POSTS", "AUDIT", "DELIVERIES", "LOGS"):
        setattr(settings, f"NEXTWORK_RETENTION_{name}_DAYS", 0)
    before = counts(MODELS)
    results = retention.apply_all(now=NOW)
    # Only the donors' policy stays: its period is the law's, not a setting.
    assert [r.name for r in results if r.enabled or r.rows] == ["donors"]
    after = counts(MODELS)
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1  # the run itself
    assert after == before


def test_a_run_is_audited_with_counts_only(a_bit_of_everything):
    retention.apply_all(now=NOW)
    run = AuditEvent.objects.filter(action="privacy.retention", details__policy="all").get()
    assert run.actor_id is None
    assert run.details["rows"]["unconfirmed"] == {"network.Member": 1}
    assert run.details["rows"]["posts"] == {"monitoring.Mention": 0, "monitoring.Post": 1}
    assert "@" not in json.dumps(run.details)
    assert chain.verify(now=NOW).intact


def test_the_command_prints_each_policy(a_bit_of_everything):
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "unconfirmed (NEXTWORK_RETENTION_UNCONFIRMED_DAYS=30 days): would purge 1 " in text
    assert "posts (NEXTWORK_RETENTION_POSTS_DAYS=30 days): would purge 0 monitoring.Mention" in text
    assert "Dry run: nothing was changed." in text
    assert Post.objects.count() == 1
    out = io.StringIO()
    call_command("retention", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["dry_run"] is False
    posts = next(p for p in data["policies"] if p["name"] == "posts")
    assert posts["rows"] == {"monitoring.Mention": 0, "monitoring.Post": 1}
    assert posts["setting"] == "NEXTWORK_RETENTION_POSTS_DAYS" and posts["enabled"]
    assert not Post.objects.exists()


@pytest.mark.parametrize("value", ["-1", "3.5", "trente", "1e3"])
def test_a_bad_number_of_days_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("NEXTWORK_RETENTION_POSTS_DAYS", value)
    with pytest.raises(env.ConfigurationError, match="NEXTWORK_RETENTION_POSTS_DAYS"):
        env.get_days("NEXTWORK_RETENTION_POSTS_DAYS")


def test_days_default_and_zero(monkeypatch):
    monkeypatch.delenv("NEXTWORK_RETENTION_INACTIVE_DAYS", raising=False)
    assert env.get_days("NEXTWORK_RETENTION_INACTIVE_DAYS") == 1095
    monkeypatch.setenv("NEXTWORK_RETENTION_INACTIVE_DAYS", " 0 ")
    assert env.get_days("NEXTWORK_RETENTION_INACTIVE_DAYS") == 0

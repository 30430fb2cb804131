"""The audit log's hash chain: sealing, verifying, tampering found at the right place, erasure
and late commits harmless, concurrent sealers never sharing a number; the command and the
staff viewer."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from nextwork.privacy import chain
from nextwork.privacy.models import AuditEvent
from nextwork.privacy.services import audit_record

LATER = datetime.timedelta(seconds=10)


def later():
    return timezone.now() + LATER


@pytest.fixture
def logged(db, make_member):
    """Three events by one member, sealed."""
    alex = make_member("Alex")
    for n in range(3):
        audit_record(actor=alex, action="members.read", area_code="75", details={"page": n})
    assert chain.seal(now=later()) == 3
    return alex


def test_seal_chains_the_events_in_order(db, make_member):
    alex = make_member("Alex")
    audit_record(actor=alex, action="members.export", area_code="75-02", details={"count": 3})
    audit_record(actor=None, action="erasure", details={"member": 12, "note": "é"})
    # Too recent: its transaction may still be open elsewhere.
    assert chain.seal() == 0
    assert chain.seal(now=later()) == 2
    first, second = AuditEvent.objects.order_by("seq")
    assert (first.seq, second.seq) == (1, 2)
    assert first.actor_ref == alex.pk and first.prev_hash == ""
    assert second.prev_hash == first.hash
    assert first.hash == chain.event_hash("", seq=1, at=first.at, actor_ref=alex.pk,
                                          action="members.export", area_code="75-02",
                                          details={"count": 3})  # fmt: skip
    assert len({first.hash, second.hash}) == 2 and len(first.hash) == 64
    assert chain.seal(now=later()) == 0  # nothing twice


def test_verify_passes_on_an_intact_chain(logged):
    audit_record(actor=None, action="pending")
    report = chain.verify()
    assert report.intact and report.sealed == 3 and report.unsealed == 1 and not report.stale
    assert report.head_seq == 3
    assert report.head_hash == AuditEvent.objects.get(seq=3).hash


def test_a_changed_event_is_found_at_its_seq(logged):
    AuditEvent.objects.filter(seq=2).update(details={"page": 99})
    report = chain.verify()
    assert not report.intact
    assert (report.broken_seq, report.problem) == (2, "changed")
    assert report.sealed == 3


def test_a_changed_actor_is_found(logged):
    AuditEvent.objects.filter(seq=3).update(actor_ref=logged.pk + 1000)
    assert (chain.verify().broken_seq, chain.verify().problem) == (3, "changed")


def test_a_removed_event_is_found(logged):
    AuditEvent.objects.filter(seq=2).delete()
    report = chain.verify()
    assert (report.intact, report.broken_seq, report.problem) == (False, 2, "removed")
    AuditEvent.objects.filter(seq=1).delete()
    assert (chain.verify().broken_seq, chain.verify().problem) == (1, "removed")


def test_swapped_events_are_found(logged):
    AuditEvent.objects.filter(seq=2).update(seq=-2)
    AuditEvent.objects.filter(seq=3).update(seq=2)
    AuditEvent.objects.filter(seq=-2).update(seq=3)
    report = chain.verify()
    assert (report.intact, report.broken_seq, report.problem) == (False, 2, "reordered")


def test_erasing_the_actor_keeps_the_chain(logged):
    member_id = logged.pk
    logged.delete()
    assert not AuditEvent.objects.filter(actor__isnull=False).exists()
    assert set(AuditEvent.objects.values_list("actor_ref", flat=True)) == {member_id}
    assert chain.verify().intact


def test_late_commits_are_sealed_later(logged):
    # An event created before the last sealed one, whose transaction committed late.
    late = audit_record(actor=None, action="late")
    AuditEvent.objects.filter(pk=late.pk).update(at=timezone.now() - datetime.timedelta(hours=1))
    assert chain.seal(now=later()) == 1
    late.refresh_from_db()
    assert late.seq == 4 and late.prev_hash == AuditEvent.objects.get(seq=3).hash
    assert chain.verify().intact


def test_events_unsealed_too_long_are_a_warning(db):
    audit_record(actor=None, action="old")
    report = chain.verify(now=timezone.now() + datetime.timedelta(minutes=11))
    assert report.intact and report.stale == 1 and "worker" in report.warnings[0]


# -- two sealers at once: committed rows, one connection per thread -----------------------------


@pytest.fixture
def committed_events(django_db_setup, django_db_blocker):
    """300 committed events; afterwards the committed table is as it was (other tests may have
    left committed events: the sealers seal them too, so they are unsealed again)."""
    with django_db_blocker.unblock():
        before = set(AuditEvent.objects.values_list("pk", flat=True))
        unsealed = set(AuditEvent.objects.filter(seq__isnull=True).values_list("pk", flat=True))
        at = timezone.now() - datetime.timedelta(minutes=1)
        AuditEvent.objects.bulk_create(
            AuditEvent(action="concurrent", details={"n": n}, at=at) for n in range(300)
        )
        yield
        AuditEvent.objects.exclude(pk__in=before).delete()
        AuditEvent.objects.filter(pk__in=unsealed).update(seq=None, prev_hash="", hash="")


def test_two_sealers_never_share_a_seq(committed_events, django_db_blocker):
    barrier = threading.Barrier(2)
    counts, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            counts.append(chain.seal())
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        cutoff = timezone.now() - chain.SEAL_DELAY
        waiting = AuditEvent.objects.filter(seq__isnull=True, at__lte=cutoff).count()
        assert waiting >= 300
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sum(counts) == waiting  # each sealed once, by one of the two
        seqs = list(AuditEvent.objects.filter(action="concurrent").values_list("seq", flat=True))
        assert None not in seqs and len(set(seqs)) == 300
        assert chain.verify().intact


# -- the command ------------------------------------------------------------------------------


def test_command_verify_exit_status(logged, capsys):
    call_command("audit", "verify")
    assert "intact: 3 events sealed" in capsys.readouterr().out
    AuditEvent.objects.filter(seq=2).update(action="other")
    with pytest.raises(SystemExit) as exit:
        call_command("audit", "verify")
    assert exit.value.code == 1
    out = capsys.readouterr().out
    assert "BROKEN at seq 2 (changed)" in out
    with pytest.raises(SystemExit):
        call_command("audit", "verify", "--json")
    assert '"broken_seq": 2' in capsys.readouterr().out


def test_command_seal(db, capsys):
    audit_record(actor=None, action="x")
    AuditEvent.objects.update(at=timezone.now() - datetime.timedelta(minutes=1))
    call_command("audit", "seal")
    assert "1 events sealed" in capsys.readouterr().out
    assert AuditEvent.objects.get().seq == 1


# -- the viewer -------------------------------------------------------------------------------

URL = "/espace/journal/"


def test_viewer_is_for_staff_only(client, people):
    assert client.get(URL).status_code == 302
    for who in ("member", "coord75", "camille"):
        client.force_login(people[who])
        assert client.get(URL).status_code == 403
    client.force_login(people["staff"])
    assert client.get(URL).status_code == 200
    viewed = AuditEvent.objects.get(action="audit.view")
    assert viewed.actor_ref == people["staff"].pk


def test_viewer_filters(client, people):
    camille, lou = people["camille"], people["member"]
    audit_record(actor=camille, action="members.read", area_code="75-02")
    audit_record(actor=lou, action="members.export", area_code="13")
    audit_record(actor=lou, action="members.read", area_code="75-11")
    client.force_login(people["staff"])

    page = client.get(URL, {"actor": camille.email}).content.decode()
    assert f"membre #{camille.pk}" in page and f"membre #{lou.pk}" not in page
    assert camille.email not in page.replace(f'value="{camille.email}"', "")
    viewed = AuditEvent.objects.filter(action="audit.view").latest("id")
    assert viewed.details["actor"] == camille.pk and camille.email not in str(viewed.details)

    page = client.get(URL, {"actor": str(lou.pk), "action": "members.read"}).content.decode()
    assert "75-11" in page and ">13<" not in page
    assert '<option value="members.export">' in page  # the actions present

    page = client.get(URL, {"area": "75"}).content.decode()
    assert "75-02" in page and "75-11" in page and ">13<" not in page

    page = client.get(URL, {"actor": "nobody@example.org"}).content.decode()
    assert "Aucun membre" in page and f"membre #{lou.pk}" not in page


def test_viewer_shows_the_chain(client, people):
    audit_record(actor=people["camille"], action="members.read", area_code="75-02")
    chain.seal(now=later())
    sealed = AuditEvent.objects.get(seq=1)
    client.force_login(people["staff"])
    page = client.get(URL).content.decode()
    assert sealed.hash[:12] in page
    assert 'role="alert"' not in page
    AuditEvent.objects.filter(seq=1).update(area_code="13")
    page = client.get(URL).content.decode()
    assert 'role="alert"' in page and "n° 1" in page


def test_the_viewer_walks_only_new_events_between_whole_walks(logged):
    from django.core.cache import cache

    cache.delete(chain.CHECKPOINT_KEY)
    first = chain.verify_for_viewer()
    assert first.intact and first.full_at is None  # a whole walk, just now
    sealed = first.sealed
    audit_record(actor=None, action="test.later", details={"n": 1})
    chain.seal(now=timezone.now() + datetime.timedelta(minutes=1))
    later = chain.verify_for_viewer()
    assert later.intact and later.full_at is not None  # from the checkpoint
    assert later.sealed == sealed + 1 and later.head_seq == first.head_seq + 1
    # A new event changed after sealing is found by the next page load.
    AuditEvent.objects.filter(seq=later.head_seq).update(area_code="99")
    broken = chain.verify_for_viewer()
    assert (broken.intact, broken.broken_seq, broken.problem) == (
        False,
        later.head_seq,
        "changed",
    )
    AuditEvent.objects.filter(seq=later.head_seq).update(area_code="")
    assert chain.verify_for_viewer().intact


def test_the_viewer_walks_everything_again_when_the_checkpoint_event_changed(logged):
    from django.core.cache import cache

    cache.delete(chain.CHECKPOINT_KEY)
    head = chain.verify_for_viewer().head_seq
    # The checkpoint's own event replaced: its hash no longer matches, so the walk is whole
    # and finds the change, instead of trusting what it vouched for.
    AuditEvent.objects.filter(seq=head).update(hash="0" * 64)
    report = chain.verify_for_viewer()
    assert (report.intact, report.broken_seq, report.full_at) == (False, head, None)


def test_the_viewer_walks_everything_again_after_full_every(logged):
    from django.core.cache import cache

    cache.delete(chain.CHECKPOINT_KEY)
    chain.verify_for_viewer()
    # An event in the middle changed: the next loads (from the checkpoint) do not see it, the
    # first after FULL_EVERY does.
    AuditEvent.objects.filter(seq=1).update(area_code="99")
    assert chain.verify_for_viewer().intact
    later = timezone.now() + chain.FULL_EVERY + datetime.timedelta(seconds=1)
    report = chain.verify_for_viewer(now=later)
    assert (report.intact, report.broken_seq) == (False, 1)


def test_viewer_pages_keep_the_filters(client, people):
    from nextwork.privacy.views import PER_PAGE

    for n in range(PER_PAGE + 1):
        audit_record(actor=people["camille"], action="members.read", area_code="75-02",
                     details={"n": n})  # fmt: skip
    client.force_login(people["staff"])
    first = client.get(URL, {"action": "members.read", "area": "75"}).content.decode()
    assert 'href="?action=members.read&amp;area=75&amp;page=2" rel="next"' in first
    second = client.get(URL, {"action": "members.read", "area": "75", "page": 2})
    assert 'href="?action=members.read&amp;area=75&amp;page=1" rel="prev"' in (
        second.content.decode()
    )

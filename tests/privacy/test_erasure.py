"""Erasing a member (``privacy.erasure.member_erase``): who may, what confirms it, and that no
trace of their email, phone, last name or private texts is left in any text column of any
table, except the donor identity that accounting law keeps with a recent gift.

The seed gives each member a row in every app (tests/two_members.py)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from tests import two_members


@pytest.fixture
def cast(people, area):
    """Two members (Ana, Bo) seeded in every app, and the staff who set the stage."""
    stage = two_members.stage(staff=people["staff"], area=area)
    ana = two_members.seed(two_members.member("a", "Nom", "+33612345601"), stage)
    bo = two_members.seed(two_members.member("b", "Nom", "+33612345602"), stage)
    return {"ana": ana, "bo": bo, "stage": stage, **people}


# -- scanning the whole database ---------------------------------------------------------------


def text_columns() -> list[tuple[str, str]]:
    """Every (table, column) of the database that holds text (JSON included)."""
    found = []
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN "
                "('text', 'character varying', 'character', 'json', 'jsonb')"
            )
            return [(t, c) for t, c in cursor.fetchall() if t in tables]
        for table in tables:
            cursor.execute(f'PRAGMA table_info("{table}")')
            for _cid, name, kind, *_rest in cursor.fetchall():
                kind = (kind or "").lower()
                if not kind or any(k in kind for k in ("char", "text", "json", "clob")):
                    found.append((table, name))
    return found


def traces(secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(table, column, which secret) for every text cell holding one of ``secrets``."""
    hits = []
    with connection.cursor() as cursor:
        for table, column in text_columns():
            for name, value in secrets.items():
                if not value:
                    continue
                cursor.execute(
                    f'SELECT COUNT(*) FROM "{table}" WHERE LOWER(CAST("{column}" AS TEXT)) LIKE %s',
                    [f"%{value.lower()}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append((table, column, name))
    return hits


# What accounting law keeps of a donor with a gift in the last ten years (fundraising/erasure.py,
# docs/fundraising-privacy.md): the identity on the donor record and on the receipt.
DONOR_IDENTITY = {
    ("fundraising_donor", "first_name"),
    ("fundraising_donor", "last_name"),
    ("fundraising_donor", "address"),
    ("fundraising_receipt", "snapshot"),
}


# -- erasure -----------------------------------------------------------------------------------


def test_seed_is_found_by_the_scan(cast):
    """The scan finds the seeded data before erasure: its silence afterwards means something."""
    hits = traces(cast["ana"].personal)
    tables = {t for t, _c, _n in hits}
    for table in ("network_member", "network_relayapplication", "participation_proposal",
                  "participation_report", "fundraising_donor", "fundraising_fundraisingpage",
                  "mobilisation_votingsituation", "monitoring_channel"):  # fmt: skip
        assert table in tables, table


def test_self_erasure_leaves_no_trace_but_the_donor_identity(cast, settings, tmp_path):
    from django.contrib.sessions.backends.db import SessionStore

    from nextwork.messaging.consent import address_hash, is_suppressed
    from nextwork.messaging.models import Suppression
    from nextwork.network.models import Member
    from nextwork.participation.models import Proposal
    from nextwork.privacy.erasure import member_erase
    from nextwork.privacy.models import AuditEvent, ErasureRecord

    settings.NEXTWORK_ERASURE_LEDGER = str(tmp_path / "ledger.jsonl")
    ana, bo = cast["ana"], cast["bo"]
    member = ana.member
    email, public_id, pk = member.email, member.public_id, member.pk
    session = SessionStore()
    session["_auth_user_id"] = str(pk)
    session.create()
    other_session = SessionStore()
    other_session["_auth_user_id"] = str(bo.member.pk)
    other_session.create()
    bo_before = traces(bo.personal)

    record = member_erase(member=member, by=member, reason="self")

    assert not Member.objects.filter(pk=pk).exists()
    left = [h for h in traces(ana.personal) if (h[0], h[1]) not in DONOR_IDENTITY]
    assert left == []
    # The donor identity is kept (a gift this year), the email is not.
    kept = {(t, c) for t, c, _n in traces(ana.personal)}
    assert ("fundraising_donor", "last_name") in kept
    # Bo lost nothing.
    assert traces(bo.personal) == bo_before
    # The published proposal stays, authorless; the held one is emptied.
    public, held = ana.ids["proposal_id"]
    assert Proposal.objects.get(pk=public).author_id is None
    assert Proposal.objects.get(pk=public).body == "Des pistes cyclables partout."
    assert Proposal.objects.get(pk=held).body == ""
    # Sessions: theirs gone, Bo's kept.
    assert not SessionStore().exists(session.session_key)
    assert SessionStore().exists(other_session.session_key)
    # Suppression: they had unsubscribed from email, so a hash of it is listed, never the address.
    assert is_suppressed("email", email)
    assert Suppression.objects.filter(address_hash=address_hash("email", email)).count() == 1
    assert record.suppressed == ["email"]
    # The ledger row, and its audit event: no personal data in either.
    assert ErasureRecord.objects.get(public_id=public_id).by_self
    event = AuditEvent.objects.filter(action="privacy.erase").latest("id")
    assert event.actor_ref == pk and event.details["self"] is True
    assert email not in json.dumps(event.details)
    assert record.email_hmac and email not in record.email_hmac


def test_ledger_file_is_written_after_commit(
    cast, settings, tmp_path, django_capture_on_commit_callbacks
):
    import os
    import stat

    from nextwork.privacy.erasure import member_erase
    from nextwork.privacy.ledger import read

    settings.NEXTWORK_ERASURE_LEDGER = str(tmp_path / "sub" / "ledger.jsonl")
    member = cast["ana"].member
    email = member.email
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = member_erase(member=member, by=cast["staff"], reason="request")
    assert not (tmp_path / "sub" / "ledger.jsonl").exists()  # not before the commit
    for callback in callbacks:
        callback()
    entries = read().entries
    assert [e.public_id for e in entries] == [str(record.public_id)]
    assert entries[0].by_id == cast["staff"].pk and not entries[0].by_self
    raw = (tmp_path / "sub" / "ledger.jsonl").read_text()
    assert email not in raw and cast["ana"].member.last_name not in raw
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "ledger.jsonl").st_mode) == 0o600
    record.refresh_from_db()
    assert record.filed_at is not None


def test_a_failed_append_is_retried_by_the_next_erasure(cast, settings, tmp_path):
    from nextwork.privacy import ledger
    from nextwork.privacy.erasure import member_erase
    from nextwork.privacy.models import ErasureRecord

    blocked = tmp_path / "file"
    blocked.write_text("")
    settings.NEXTWORK_ERASURE_LEDGER = str(blocked / "ledger.jsonl")  # parent is a file
    first = member_erase(member=cast["ana"].member, by=None, reason="retention")
    assert ledger.file_pending() == 0
    assert ErasureRecord.objects.get(pk=first.pk).filed_at is None
    settings.NEXTWORK_ERASURE_LEDGER = str(tmp_path / "ledger.jsonl")
    member_erase(member=cast["bo"].member, by=None, reason="retention")
    assert ledger.file_pending() == 2
    assert len(ledger.read().entries) == 2


@pytest.mark.parametrize("who", ["coord75", "camille", "member"])
def test_others_may_not_erase(cast, who):
    from nextwork.network.models import Member
    from nextwork.privacy.erasure import member_erase

    target = cast["ana"].member
    with pytest.raises(Forbidden):
        member_erase(member=target, by=cast[who], reason="request")
    assert Member.objects.filter(pk=target.pk).exists()


def test_erasing_twice_is_not_found_and_bad_reason_is_refused(cast):
    from nextwork.privacy.erasure import member_erase

    member = cast["ana"].member
    with pytest.raises(InvalidInput) as bad:
        member_erase(member=member, by=cast["staff"], reason="because")
    assert bad.value.field == "reason"
    member_erase(member=member, by=cast["staff"], reason="request")
    with pytest.raises(NotFound):
        member_erase(member=member, by=cast["staff"], reason="request")


def test_confirmation_password_or_phrase(make_member):
    from nextwork.privacy.erasure import confirm_self_erasure

    member = make_member("Rui")
    for wrong in ("", "  ", "wrong password", "effacer mon compte"):
        with pytest.raises(InvalidInput) as exc:
            confirm_self_erasure(member=member, confirmation=wrong)
        assert exc.value.field == "confirmation"
    confirm_self_erasure(member=member, confirmation="correct horse battery staple")
    member.set_unusable_password()  # a member who only logs in by link
    with pytest.raises(InvalidInput):
        confirm_self_erasure(member=member, confirmation="correct horse battery staple")
    confirm_self_erasure(member=member, confirmation="  Effacer   MON compte ")


# -- pages and API -----------------------------------------------------------------------------


def test_my_data_page_erases_after_confirmation_and_logs_out(client, make_member):
    from nextwork.network.models import Member

    member = make_member("Noa")
    client.force_login(member)
    page = client.get("/espace/donnees/")
    assert page.status_code == 200
    assert b"Effacer mon compte" in page.content and b'type="password"' in page.content
    wrong = client.post("/espace/donnees/effacer/", {"confirmation": "nope"})
    assert wrong.status_code == 400
    assert "pas votre mot de passe" in wrong.content.decode()
    assert Member.objects.filter(pk=member.pk).exists()
    done = client.post("/espace/donnees/effacer/", {"confirmation": "correct horse battery staple"})
    assert done.status_code == 302 and done["Location"] == "/au-revoir/"
    assert not Member.objects.filter(pk=member.pk).exists()
    assert client.get("/espace/").status_code == 302  # logged out
    assert "Votre compte a été effacé" in client.get("/au-revoir/").content.decode()


def test_link_only_member_confirms_with_the_phrase(client, make_member):
    from nextwork.network.models import Member

    member = make_member("Lin")
    member.set_unusable_password()
    member.save(update_fields=["password"])
    client.force_login(member)
    assert "effacer mon compte" in client.get("/espace/donnees/").content.decode()
    client.post("/espace/donnees/effacer/", {"confirmation": "effacer mon compte"})
    assert not Member.objects.filter(pk=member.pk).exists()


def test_staff_erasure_page(client, people, area):
    from nextwork.network.models import Member, MemberLocation
    from nextwork.privacy.models import ErasureRecord

    lou = people["member"]
    url = f"/espace/membres/{lou.public_id}/effacer/"
    MemberLocation.objects.create(member=lou, postcode="75002", precision="postcode",
                                  constituency=area("75-02"))  # fmt: skip
    client.force_login(people["staff"])
    assert url in client.get("/espace/membres/?zone=75-02").content.decode()  # the staff's link
    client.force_login(people["coord75"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "request", "confirm": "yes"}).status_code == 403
    client.force_login(people["staff"])
    page = client.get(url)
    assert page.status_code == 200 and lou.email in page.content.decode()
    unconfirmed = client.post(url, {"reason": "request"})
    assert unconfirmed.status_code == 400 and Member.objects.filter(pk=lou.pk).exists()
    done = client.post(url, {"reason": "request", "confirm": "yes"})
    assert done.status_code == 302
    assert not Member.objects.filter(pk=lou.pk).exists()
    record = ErasureRecord.objects.get(public_id=lou.public_id)
    assert record.by_ref == people["staff"].pk and record.reason == "request"
    assert client.get(url).status_code == 404


def test_api_erasure(client, people):
    from nextwork.network.models import Member

    lou, camille = people["member"], people["camille"]
    client.force_login(camille)
    forbidden = client.post(f"/api/v1/members/{lou.public_id}/erase",
                            {"reason": "request"}, content_type="application/json")  # fmt: skip
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    client.force_login(people["staff"])
    bad = client.post(f"/api/v1/members/{lou.public_id}/erase", {"reason": "self"},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "reason"
    done = client.post(f"/api/v1/members/{lou.public_id}/erase", {"reason": "request"},
                       content_type="application/json")  # fmt: skip
    assert done.status_code == 200 and done.json()["member"] == str(lou.public_id)
    again = client.post(f"/api/v1/members/{lou.public_id}/erase", {"reason": "request"},
                        content_type="application/json")  # fmt: skip
    assert again.status_code == 404

    client.force_login(camille)
    refused = client.post("/api/v1/me/erase", {"confirmation": "effacer mon compte"},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "confirmation"
    assert Member.objects.filter(pk=camille.pk).exists()
    ok = client.post("/api/v1/me/erase", {"confirmation": "correct horse battery staple"},
                     content_type="application/json")  # fmt: skip
    assert ok.status_code == 200 and ok.json()["reason"] == "self"
    assert not Member.objects.filter(pk=camille.pk).exists()
    assert client.get("/api/v1/me/export").status_code == 401


def test_an_erasure_that_lost_the_race_changes_nothing(make_member):
    """Another erasure of the same member committed first (its ledger row is there): this one
    is refused as not found and rolled back whole."""
    from nextwork.network.models import Member
    from nextwork.privacy.erasure import member_erase
    from nextwork.privacy.models import ErasureRecord

    member = make_member("Race")
    ErasureRecord.objects.create(member_ref=member.pk, public_id=member.public_id, reason="self")
    with pytest.raises(NotFound):
        member_erase(member=member, by=None, reason="retention")
    assert Member.objects.filter(pk=member.pk).exists()
    assert ErasureRecord.objects.filter(public_id=member.public_id).count() == 1


def test_a_personal_token_exports_but_never_erases(client, people):
    """A script's token reads the member's data; erasing takes the logged-in session."""
    from nextwork.network.models import Member
    from nextwork.network.security.tokens import token_create

    lou = people["member"]
    _token, text = token_create(member=lou, name="script", scope="write")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {text}"}
    assert client.get("/api/v1/me/export", **auth).status_code == 200
    refused = client.post("/api/v1/me/erase", {"confirmation": "correct horse battery staple"},
                          content_type="application/json", **auth)  # fmt: skip
    assert refused.status_code == 401
    assert Member.objects.filter(pk=lou.pk).exists()
    staff_text = token_create(member=people["staff"], name="s", scope="write", two_factor=True)[1]
    staff = client.post(f"/api/v1/members/{lou.public_id}/erase", {"reason": "request"},
                        content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {staff_text}")  # fmt: skip
    assert staff.status_code == 401
    assert Member.objects.filter(pk=lou.pk).exists()

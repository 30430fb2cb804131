"""Erasing a member (``privacy.erasure.member_erase``): who may, what confirms it, and that no
trace of their email, phone, last name or private texts is left in any text column of any
table, except the donor identity that accounting law keeps with a recent gift.

The seed gives each member a row in every app (after tests/isolation_seed.py's recipe)."""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound

# -- the seed: two members with personal data in every app -------------------------------------


@dataclass
class Seeded:
    member: object
    marker: str
    ids: dict[str, list] = field(default_factory=dict)

    def add(self, name: str, value) -> None:
        self.ids.setdefault(name, []).append(value)

    def secrets(self) -> dict[str, str]:
        m = self.member
        return {
            "email": m.email.lower(),
            "phone": m.phone.removeprefix("+33"),
            "last_name": m.last_name.lower(),
            "marker": self.marker,
        }


@dataclass
class Stage:
    staff: object
    consultation: object
    election: object
    first_round: object
    beneficiary: object
    event: object
    community: object
    area: object
    others_proposal: object


def new_member(letter: str, phone: str = ""):
    from nextwork.network.models import Member

    tag = uuid.uuid4().hex[:10]
    return Member.objects.create_user(
        f"rights.{letter}.{tag}@example.org",
        "correct horse battery staple",
        first_name=f"Rights{letter.upper()}",
        last_name=f"Nom{tag}",
        phone=phone,
        is_active=True,
        confirmed_at=timezone.now() - datetime.timedelta(days=90),
    )


def make_stage(*, staff, area) -> Stage:
    from nextwork.events import services as events
    from nextwork.fundraising.models import Beneficiary
    from nextwork.messaging import communities
    from nextwork.mobilisation import services as mobilisation
    from nextwork.participation import services as participation
    from nextwork.participation.models import Consultation

    now = timezone.now()
    today = timezone.localdate()
    consultation = Consultation.objects.create(
        title="Consultation ouverte", text="Vos idées.",
        opens_at=now - datetime.timedelta(days=1),
        proposals_close_at=now + datetime.timedelta(days=10),
        closes_at=now + datetime.timedelta(days=20), status="published", created_by=staff,
    )  # fmt: skip
    election = mobilisation.election_create(
        by=staff, kind="legislatives", name="Législatives", slug=f"rights-{uuid.uuid4().hex[:8]}",
        registration_deadline=today + datetime.timedelta(days=5),
        rounds=[mobilisation.RoundIn(1, today + datetime.timedelta(days=21)),
                mobilisation.RoundIn(2, today + datetime.timedelta(days=28))],
        published=True,
    )  # fmt: skip
    beneficiary = Beneficiary.objects.create(
        name="Parti R", kind="party", legal_name="Parti R (association de financement)",
        address="1 rue de la République, 75011 Paris", registration="AF-0011",
    )  # fmt: skip
    start = datetime.datetime.combine(today + datetime.timedelta(days=10), datetime.time(18, 30))
    event = events.event_create(
        creator=staff, title="Rencontre", kind="meetup", starts_at=start,
        ends_at=start + datetime.timedelta(hours=2),
        place=events.Place(address="12 rue de la Roquette, 75011 Paris", constituency="75-06"),
        capacity=None, public=True,
    )  # fmt: skip
    community = communities.community_create(actor=staff, name="Cyclistes", public=True)
    other = new_member("o")
    others_proposal = participation.proposal_submit(
        consultation=consultation, author=other, title="Idée d'un tiers", body="Du vélo."
    )
    return Stage(staff, consultation, election, election.rounds.get(number=1), beneficiary, event,
                 community, area("75-02"), others_proposal)  # fmt: skip


def seed(person, s: Stage) -> Seeded:
    """Give ``person`` rows in every app, through the services where a member writes them."""
    seeded = Seeded(member=person, marker=f"mk{uuid.uuid4().hex}")
    for step in (_network, _messaging, _events, _participation, _fundraising, _mobilisation,
                 _monitoring):  # fmt: skip
        step(seeded, s)
    return seeded


def _network(seeded: Seeded, s: Stage) -> None:
    from nextwork.network import services
    from nextwork.network.models import Consent, ConsentSource, ConsentText, MemberLocation

    m, mk = seeded.member, seeded.marker
    location = MemberLocation.objects.create(member=m, constituency=s.area, postcode="75002",
                                             precision="postcode")  # fmt: skip
    seeded.add("network.memberlocation", location.pk)
    text = ConsentText.objects.filter(kind="signup").first() or ConsentText.objects.create(
        kind="signup", version=1, body="J'accepte."
    )
    Consent.objects.create(member=m, text=text, source=ConsentSource.SITE)
    application = services.relay_apply(
        member=m, area=s.area, motivation=f"Je veux aider ({mk}), appelez le {m.phone}."
    )
    seeded.add("network.relayapplication", application.pk)


def _messaging(seeded: Seeded, s: Stage) -> None:
    from nextwork.messaging import communities, consent
    from nextwork.messaging.models import Delivery, Message

    m = seeded.member
    for message_type in ("newsletter", "campaign", "alert"):
        consent.consent_set(member=m, channel="email", message_type=message_type, given=True,
                            how="site")  # fmt: skip
    # They unsubscribed from the newsletter: their address is to be suppressed at erasure.
    consent.consent_set(member=m, channel="email", message_type="newsletter", given=False,
                        how="unsubscribe")  # fmt: skip
    communities.community_join(member=m, community=s.community, community_news=True)
    message = Message.objects.create(
        channel="email", message_type="newsletter", subject="Lettre", body_text="Bonjour",
        created_by=s.staff,
    )  # fmt: skip
    delivery = Delivery.objects.create(message=message, member=m, status="sent",
                                       sent_at=timezone.now())  # fmt: skip
    seeded.add("messaging.delivery", delivery.pk)


def _events(seeded: Seeded, s: Stage) -> None:
    from nextwork.events import services

    services.rsvp_set(event=s.event, member=seeded.member, going=True)
    seeded.add("events.rsvp", s.event.pk)


def _participation(seeded: Seeded, s: Stage) -> None:
    from nextwork.participation import moderation, services
    from nextwork.participation.models import Comment, Proposal, State

    m, mk = seeded.member, seeded.marker
    public = services.proposal_submit(
        consultation=s.consultation, author=m, title=f"Idée publique de {m.first_name}",
        body="Des pistes cyclables partout.",
    )  # fmt: skip
    held = services.proposal_submit(
        consultation=s.consultation, author=m, title="Idée en attente",
        body=f"Texte que seul l'auteur voit {mk}.",
    )  # fmt: skip
    Proposal.objects.filter(pk=held.pk).update(state=State.PENDING)
    services.comment_add(proposal=public, author=m, body="Un avis public.")
    hidden = services.comment_add(proposal=public, author=m, body=f"Un avis masqué {mk}.")
    Comment.objects.filter(pk=hidden.pk).update(state=State.HIDDEN)
    services.follow_set(proposal=public, member=m, follow=True)
    services.support_add(proposal_id=s.others_proposal.pk, member=m)
    moderation.report_create(kind="proposal", target_id=s.others_proposal.pk, reason="other",
                             note=f"Signalé par {m.phone} {mk}", by=m)  # fmt: skip
    seeded.add("participation.proposal", public.pk)
    seeded.add("participation.proposal", held.pk)


def _fundraising(seeded: Seeded, s: Stage) -> None:
    from nextwork.fundraising import services
    from nextwork.fundraising.models import FundraisingPage

    m, mk = seeded.member, seeded.marker
    donor = services.DonorIn(
        first_name=m.first_name, last_name=m.last_name, email=m.email,
        address=f"{mk[:12]} rue des Lilas", postcode="75002", city="Paris",
        natural_person=True, french_or_resident=True,
    )  # fmt: skip
    donation = services.donation_create(
        beneficiary_id=s.beneficiary.pk, donor=donor, amount_cents=2500, method="card",
        provider="test", member=m,
    )  # fmt: skip
    services.donation_succeeded(donation_id=donation.pk)
    seeded.add("fundraising.donation", donation.pk)
    page = FundraisingPage.objects.create(
        owner=m, beneficiary=s.beneficiary, slug=f"page-{mk[:12]}",
        title=f"La page de {m.last_name}", text=f"Aidez-moi {mk}", goal_cents=100_000,
    )  # fmt: skip
    seeded.add("fundraising.fundraisingpage", page.pk)


def _mobilisation(seeded: Seeded, s: Stage) -> None:
    from nextwork.mobilisation import services
    from nextwork.mobilisation.models import RegistrationAnswer, Turnout

    m, mk = seeded.member, seeded.marker
    services.situation_set(member=m, consent=True, registered="yes", commune_code="75056",
                           polling_station=f"Bureau {mk}")  # fmt: skip
    RegistrationAnswer.objects.create(election=s.election, member=m, reminded_at=timezone.now(),
                                      done_at=timezone.now())  # fmt: skip
    Turnout.objects.create(round=s.first_round, member=m, reminded_at=timezone.now(),
                           channel="email", voted_at=timezone.now())  # fmt: skip
    request = services.request_create(member=m, round_id=s.first_round.pk)
    seeded.add("mobilisation.proxyrequest", request.pk)
    second = s.election.rounds.get(number=2)
    offer = services.offer_create(member=m, round_id=second.pk, commune_codes=["75056"])
    seeded.add("mobilisation.proxyoffer", offer.pk)
    holder = new_member(f"h{uuid.uuid4().hex[:4]}")
    services.situation_set(member=holder, consent=True, registered="yes", commune_code="75056")
    holding = services.offer_create(member=holder, round_id=s.first_round.pk,
                                    commune_codes=["75056"])  # fmt: skip
    match = services.match_propose(request_id=request.pk, offer_id=holding.pk, by=s.staff)
    seeded.add("mobilisation.proxymatch", match.pk)
    seeded.holder = holder


def _monitoring(seeded: Seeded, s: Stage) -> None:
    from nextwork.monitoring.models import Channel

    m = seeded.member
    channel = Channel.objects.create(
        kind="mastodon", url=f"https://mastodon.example/@{seeded.marker}",
        label=f"Compte de {m.last_name}", area=s.area, member=m, created_by=s.staff,
    )  # fmt: skip
    seeded.add("monitoring.channel", channel.pk)


@pytest.fixture
def cast(people, area):
    """Two members (Ana, Bo) seeded in every app, and the staff who set the stage."""
    stage = make_stage(staff=people["staff"], area=area)
    ana = seed(new_member("a", "+33612345601"), stage)
    bo = seed(new_member("b", "+33612345602"), stage)
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
    hits = traces(cast["ana"].secrets())
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
    bo_before = traces(bo.secrets())

    record = member_erase(member=member, by=member, reason="self")

    assert not Member.objects.filter(pk=pk).exists()
    left = [h for h in traces(ana.secrets()) if (h[0], h[1]) not in DONOR_IDENTITY]
    assert left == []
    # The donor identity is kept (a gift this year), the email is not.
    kept = {(t, c) for t, c, _n in traces(ana.secrets())}
    assert ("fundraising_donor", "last_name") in kept
    # Bo lost nothing.
    assert traces(bo.secrets()) == bo_before
    # The published proposal stays, authorless; the held one is emptied.
    public, held = ana.ids["participation.proposal"]
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

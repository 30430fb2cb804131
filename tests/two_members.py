"""Two ordinary members, each with greppable personal data in every app where a member owns
rows: the isolation run of tests/test_api_isolation.py, and the erasure and export tests of
tests/privacy/.

Each member's personal data (``Seeded.personal``) is their email, phone, last name and a random
marker written into every private free text (an application's motivation, a report's note, a
polling station, a donor's address, a held proposal, a hidden comment, a fundraising page's
text, a channel's address): erasure leaves none of it in any text column. Their secrets
(``Seeded.secrets``) add the public id, which no other member may ever read either. First
names are not secrets: proposals, comments and proxy matches show them by design
(participation/apis.py PersonRef, mobilisation/apis.py).

``Seeded.ids`` is keyed by path parameter name (``proposal_id``, ``match_id``…), as the
isolation run puts them into the API's paths."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.utils import timezone


@dataclass
class Seeded:
    """One member, their secrets, and the ids of what they own (by path parameter name)."""

    member: object
    marker: str
    ids: dict[str, list] = field(default_factory=dict)

    def add(self, name: str, value) -> None:
        self.ids.setdefault(name, []).append(value)

    @property
    def personal(self) -> dict[str, str]:
        """The member's personal data by name, lower-cased: what erasure must leave nowhere.
        The phone as people write it too: 06 12 34 56 01 → "612345601" survives any format."""
        m = self.member
        return {
            "email": m.email.lower(),
            "phone": m.phone.removeprefix("+33"),
            "last_name": m.last_name.lower(),
            "marker": self.marker,
        }

    @property
    def secrets(self) -> list[bytes]:
        """What no other member may read: the personal data, the full phone and the public id."""
        m = self.member
        values = [*self.personal.values(), m.phone, str(m.public_id), m.public_id.hex]
        return [v.lower().encode() for v in values]


@dataclass
class Stage:
    """What both members act in: made by staff once."""

    staff: object
    consultation: object
    election: object
    first_round: object
    beneficiary: object
    event: object
    community: object
    area: object  # the constituency both members live in (75-02)
    other: object  # a third member, author of a proposal both support and report
    others_proposal: object


def member(letter: str, last_name: str = "Nom", phone: str = ""):
    """A confirmed, ordinary member (no grant) with distinctive personal data."""
    from nextwork.network.models import Member

    tag = uuid.uuid4().hex[:10]
    return Member.objects.create_user(
        f"iso.{letter}.{tag}@example.org",
        "correct horse battery staple",
        first_name=f"Iso{letter.upper()}",
        last_name=f"{last_name}{tag}",
        phone=phone,
        is_active=True,
        confirmed_at=timezone.now() - datetime.timedelta(days=90),
    )


def stage(*, staff, area) -> Stage:
    from nextwork.events import services as events
    from nextwork.fundraising.models import Beneficiary
    from nextwork.messaging import communities
    from nextwork.mobilisation import services as mobilisation
    from nextwork.participation import services as participation
    from nextwork.participation.models import Consultation

    now = timezone.now()
    today = timezone.localdate()
    consultation = Consultation.objects.create(
        title="Consultation ouverte",
        text="Vos idées.",
        opens_at=now - datetime.timedelta(days=1),
        proposals_close_at=now + datetime.timedelta(days=10),
        closes_at=now + datetime.timedelta(days=20),
        status="published",
        created_by=staff,
    )
    election = mobilisation.election_create(
        by=staff, kind="legislatives", name="Législatives", slug=f"leg-{uuid.uuid4().hex[:8]}",
        registration_deadline=today + datetime.timedelta(days=5),
        rounds=[mobilisation.RoundIn(1, today + datetime.timedelta(days=21)),
                mobilisation.RoundIn(2, today + datetime.timedelta(days=28))],
        published=True,
    )  # fmt: skip
    beneficiary = Beneficiary.objects.create(
        name="Parti I", kind="party", legal_name="Parti I (association de financement)",
        address="1 rue de la République, 75011 Paris", registration="AF-0009",
    )  # fmt: skip
    start = datetime.datetime.combine(today + datetime.timedelta(days=10), datetime.time(18, 30))
    event = events.event_create(
        creator=staff, title="Rencontre", kind="meetup", starts_at=start,
        ends_at=start + datetime.timedelta(hours=2),
        place=events.Place(address="12 rue de la Roquette, 75011 Paris", constituency="75-06"),
        capacity=None, public=True,
    )  # fmt: skip
    community = communities.community_create(actor=staff, name="Cyclistes", public=True)
    other = member("o", "Tiers")
    others_proposal = participation.proposal_submit(
        consultation=consultation, author=other, title="Idée d'un tiers", body="Du vélo."
    )
    return Stage(
        staff=staff,
        consultation=consultation,
        election=election,
        first_round=election.rounds.get(number=1),
        beneficiary=beneficiary,
        event=event,
        community=community,
        area=area("75-02"),
        other=other,
        others_proposal=others_proposal,
    )


def seed(person, s: Stage) -> Seeded:
    """Give ``person`` a row in every table a member can own, through the services where a
    member writes it, and return their secrets and ids."""
    seeded = Seeded(member=person, marker=f"mk{uuid.uuid4().hex}")
    for step in (_network, _messaging, _events, _participation, _fundraising, _mobilisation,
                 _monitoring):  # fmt: skip
        step(seeded, s)
    return seeded


def _network(seeded: Seeded, s: Stage) -> None:
    from nextwork.network import services
    from nextwork.network.models import (
        Consent,
        ConsentSource,
        ConsentText,
        MemberLocation,
        Precision,
    )
    from nextwork.network.security import tokens

    m, mk = seeded.member, seeded.marker
    MemberLocation.objects.create(member=m, constituency=s.area, postcode="75002",
                                  precision=Precision.POSTCODE)  # fmt: skip
    text = ConsentText.objects.filter(kind="signup").first() or ConsentText.objects.create(
        kind="signup", version=1, body="J'accepte."
    )
    Consent.objects.create(member=m, text=text, source=ConsentSource.SITE)
    application = services.relay_apply(
        member=m, area=s.area, motivation=f"Je veux aider ({mk}), appelez le {m.phone}."
    )
    seeded.add("application_id", application.pk)
    invitation = services.relay_invite(member=m, area=s.area, role="substitute", invited_by=s.staff)
    seeded.add("invitation_id", invitation.pk)
    token, _text = tokens.token_create(member=m, name=f"Script {mk}", scope="read")
    seeded.add("token_id", token.pk)


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
    preferences = consent.preferences_for(m)
    preferences.weekly_digest = True
    preferences.save(update_fields=["weekly_digest"])
    communities.community_join(member=m, community=s.community, community_news=True)
    seeded.add("community_id", s.community.pk)
    message = Message.objects.create(
        channel="email", message_type="newsletter", subject=f"Pour {m.first_name}",
        body_text="Bonjour", created_by=s.staff,
    )  # fmt: skip
    Delivery.objects.create(message=message, member=m, status="sent", sent_at=timezone.now())
    seeded.add("message_id", message.pk)


def _events(seeded: Seeded, s: Stage) -> None:
    from nextwork.events import services

    services.rsvp_set(event=s.event, member=seeded.member, going=True)
    seeded.add("event_id", s.event.pk)


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
    comment = services.comment_add(proposal=public, author=m, body="Un avis public.")
    hidden = services.comment_add(proposal=public, author=m, body=f"Un avis masqué {mk}.")
    Comment.objects.filter(pk=hidden.pk).update(state=State.HIDDEN)
    for proposal in (public, held):
        seeded.add("proposal_id", proposal.pk)
    for item in (comment, hidden):
        seeded.add("comment_id", item.pk)
    services.follow_set(proposal=public, member=m, follow=True)
    services.support_add(proposal_id=s.others_proposal.pk, member=m)
    moderation.report_create(kind="proposal", target_id=s.others_proposal.pk, reason="other",
                             note=f"Signalé par {m.phone} {mk}", by=m)  # fmt: skip
    seeded.add("consultation_id", s.consultation.pk)
    seeded.public_proposal = public


def _fundraising(seeded: Seeded, s: Stage) -> None:
    from nextwork.fundraising import services
    from nextwork.fundraising.models import FundraisingPage, Recurring

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
    donation.refresh_from_db()
    recurring = Recurring.objects.create(
        donor=donation.donor, beneficiary=s.beneficiary, amount_cents=1000, provider="test",
        provider_ref=f"sub_{mk[:16]}", status=Recurring.Status.ACTIVE,
    )  # fmt: skip
    seeded.add("recurring_id", recurring.pk)
    FundraisingPage.objects.create(
        owner=m, beneficiary=s.beneficiary, slug=f"page-{mk[:12]}",
        title=f"La page de {m.last_name}", text=f"Aidez-moi {mk}", goal_cents=100_000,
    )  # fmt: skip


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
    seeded.add("request_id", request.pk)
    second = s.election.rounds.get(number=2)
    offer = services.offer_create(member=m, round_id=second.pk, commune_codes=["75056"])
    seeded.add("offer_id", offer.pk)
    # A holder of their own carries this member's proxy (the law allows one per holder): a
    # match only these two may act on.
    holder = member(f"h{m.first_name}", "Porteur", "")
    services.situation_set(member=holder, consent=True, registered="yes", commune_code="75056")
    holding = services.offer_create(member=holder, round_id=s.first_round.pk,
                                    commune_codes=["75056"])  # fmt: skip
    match = services.match_propose(request_id=request.pk, offer_id=holding.pk, by=s.staff)
    seeded.add("match_id", match.pk)
    seeded.add("election_id", s.election.pk)
    seeded.holder = holder


def _monitoring(seeded: Seeded, s: Stage) -> None:
    from nextwork.monitoring.models import Channel

    m = seeded.member
    channel = Channel.objects.create(
        kind="mastodon", url=f"https://mastodon.example/@{seeded.marker}",
        label=f"Compte de {m.first_name} {m.last_name}", area=s.area, member=m, created_by=s.staff,
    )  # fmt: skip
    seeded.add("channel_id", channel.pk)


# Fields of a member's rows that others change by design: the counters of supports, comments
# and followers on their public proposal; the last login their own session sets.
MOVING = {"support_count", "comment_count", "follower_count", "last_login", "updated_at"}


def _plain(row) -> tuple:
    from django.forms.models import model_to_dict

    values = model_to_dict(row)
    values.update({f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields})
    return tuple(sorted((k, str(v)) for k, v in values.items() if k not in MOVING))


def snapshot(seeded: Seeded) -> dict:
    """Everything stored about the member, as plain values: equal before and after a run
    means nothing of theirs changed."""
    from django.apps import apps

    from nextwork.network.models import Member

    m = Member.objects.get(pk=seeded.member.pk)
    rows = {"member": [_plain(m)]}
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Member:
                rows[f"{model._meta.label}.{f.name}"] = sorted(
                    _plain(row) for row in model.objects.filter(**{f.name: m})
                )
    return rows

"""« Mes dons »: a member's own gifts and monthly donations, and stopping one."""

from __future__ import annotations

import re

import pytest

from nextwork.fundraising import services
from nextwork.fundraising.models import Recurring
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/espace/dons/"


def text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def member(make_member):
    return make_member("Camille")


def gift(beneficiaries, donor, *, member=None, email, kind="association", cents=5000, succeed=True):
    donation = services.donation_create(
        beneficiary_id=beneficiaries[kind].pk, donor=donor(email=email), amount_cents=cents,
        method="card", provider="test", member=member,
    )  # fmt: skip
    if succeed:
        services.donation_succeeded(donation_id=donation.pk)
    return donation


def monthly(beneficiaries, donor, *, member, email, cents=1500, status="active"):
    from nextwork.fundraising import recurring

    first = gift(beneficiaries, donor, member=member, email=email, cents=cents, succeed=False)
    row = recurring.recurring_open(donation=first)
    services.donation_succeeded(donation_id=first.pk)
    Recurring.objects.filter(pk=row.pk).update(status=status, provider_ref=f"sub-{row.pk}")
    return Recurring.objects.get(pk=row.pk)


def test_the_member_sees_their_gifts_with_those_made_before_sign_up(
    client, member, make_member, beneficiaries, donor
):
    gift(beneficiaries, donor, member=member, email=member.email, cents=4200)
    gift(beneficiaries, donor, member=member, email=member.email, cents=1000, succeed=False)
    # Before sign-up, with the same address typed in capitals: matched by the cap key.
    gift(beneficiaries, donor, email=member.email.upper(), kind="party", cents=7700)
    # Someone else's gift, and a gift made with another address: not shown.
    stranger = make_member("Lou")
    gift(beneficiaries, donor, member=stranger, email=stranger.email, cents=9900)
    gift(beneficiaries, donor, email="autre@example.org", cents=8800)

    client.force_login(member)
    response = client.get(URL)
    assert response.status_code == 200
    page = text(response)
    assert "42 €" in page and "10 €" in page and "77 €" in page
    assert "99 €" not in page and "88 €" not in page
    assert "Parti A" in page and "Association C" in page
    assert "Association C 42 € reçu" in page and "Association C 10 € en attente" in page
    assert "Parti A 77 € reçu" in page
    assert "avant votre inscription" in page
    assert "/espace/dons/recus/" in response.content.decode()


def test_an_unconfirmed_address_or_an_erased_record_shows_nothing(
    client, make_member, beneficiaries, donor, people
):
    from nextwork.fundraising.erasure import donor_erase

    unconfirmed = make_member("Noa", confirmed=False)
    gift(beneficiaries, donor, email=unconfirmed.email, cents=3100)
    client.force_login(unconfirmed)
    assert "31 €" not in text(client.get(URL))

    member = make_member("Ali")
    old = gift(beneficiaries, donor, email=member.email, cents=3300)
    client.force_login(member)
    assert "33 €" in text(client.get(URL))
    donor_erase(key=old.donor.key, by=people["staff"])
    assert "33 €" not in text(client.get(URL))


def test_anonymous_is_sent_to_log_in(client):
    from django.urls import reverse

    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("network:login"))


def test_the_member_stops_their_monthly_donation_after_confirming(
    client, member, beneficiaries, donor
):
    recurring = monthly(beneficiaries, donor, member=member, email=member.email)
    client.force_login(member)
    page = client.get(URL)
    stop = f"/espace/dons/mensuel/{recurring.pk}/arreter/"
    assert stop in page.content.decode() and "Arrêter ce don mensuel" in text(page)
    assert "15 € par mois" in text(page)

    confirm = client.get(stop)
    assert confirm.status_code == 200
    assert "15 € par mois à Association C" in text(confirm)
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.ACTIVE  # a GET changes nothing

    done = client.post(stop, follow=True)
    assert done.redirect_chain[-1][0] == URL
    assert "est arrêté" in text(done)
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED and recurring.cancelled_at
    assert AuditEvent.objects.filter(
        action="recurring.cancel", actor=member, details={"recurring": recurring.pk}
    ).exists()
    assert stop not in client.get(URL).content.decode()  # no button on a stopped one


def test_another_members_monthly_donation_is_not_found(
    client, member, make_member, beneficiaries, donor, people
):
    theirs = monthly(beneficiaries, donor, member=member, email=member.email)
    intruder = make_member("Lou")
    client.force_login(intruder)
    stop = f"/espace/dons/mensuel/{theirs.pk}/arreter/"
    missing = f"/espace/dons/mensuel/{theirs.pk + 1000}/arreter/"
    for url in (stop, missing):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    # Staff too: this page is the member's own; staff stop gifts from the API.
    client.force_login(people["staff"])
    assert client.post(stop).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Recurring.Status.ACTIVE


def test_a_monthly_donation_made_before_sign_up_is_read_only(client, member, beneficiaries, donor):
    before = monthly(beneficiaries, donor, member=None, email=member.email, cents=2500)
    client.force_login(member)
    page = client.get(URL)
    assert "25 € par mois" in text(page)
    assert f"/espace/dons/mensuel/{before.pk}/arreter/" not in page.content.decode()
    assert "écrivez à l'équipe" in text(page)
    assert client.post(f"/espace/dons/mensuel/{before.pk}/arreter/").status_code == 404


def test_a_provider_that_fails_leaves_it_running_with_a_clear_message(
    client, member, beneficiaries, donor, monkeypatch
):
    from nextwork.common.errors import Unavailable
    from nextwork.fundraising.providers.test import TestProvider

    def down(self, recurring):
        raise Unavailable("The payment provider did not answer.")

    monkeypatch.setattr(TestProvider, "cancel_recurring", down)
    recurring = monthly(beneficiaries, donor, member=member, email=member.email)
    client.force_login(member)
    response = client.post(f"/espace/dons/mensuel/{recurring.pk}/arreter/")
    assert response.status_code == 503
    assert "Le service de paiement ne répond pas" in text(response)
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.ACTIVE

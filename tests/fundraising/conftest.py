"""Fundraising fixtures: one beneficiary of each kind and a well-formed donor."""

from __future__ import annotations

import pytest


@pytest.fixture
def beneficiaries(db):
    from nextwork.fundraising.models import Beneficiary

    def make(kind, name, **extra):
        return Beneficiary.objects.create(
            name=name, kind=kind, legal_name=f"{name} (association de financement)",
            address="1 rue de la République, 75011 Paris", registration="AF-0001", **extra,
        )  # fmt: skip

    return {
        "party": make("party", "Parti A"),
        "party2": make("party", "Parti B"),
        "campaign": make("campaign", "Campagne 75-02", election="legislatives-2027"),
        "association": make("association", "Association C"),
    }


@pytest.fixture
def donor():
    from nextwork.fundraising.services import DonorIn

    def make(email="camille.donne@example.org", **changes):
        values = {
            "first_name": "Camille",
            "last_name": "Donne",
            "email": email,
            "address": "3 place du Marché",
            "postcode": "48000",
            "city": "Mende",
            "country": "FR",
            "natural_person": True,
            "french_or_resident": True,
        }
        values.update(changes)
        return DonorIn(**values)

    return make


@pytest.fixture
def give(beneficiaries, donor):
    from nextwork.fundraising import services

    def make(kind="party", cents=5000, method="card", succeed=True, **donor_changes):
        donation = services.donation_create(
            beneficiary_id=beneficiaries[kind].pk,
            donor=donor(**donor_changes),
            amount_cents=cents,
            method=method,
            provider="test",
        )
        if succeed:
            services.donation_succeeded(donation_id=donation.pk)
            donation.refresh_from_db()
        return donation

    return make

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.campaigns import services

LETTER = (
    "{representative_title},\n\nJe suis {relay_name}, habitant de {constituency}. "
    "Le {campaign_date}, nous souhaitons vous rencontrer au sujet de {campaign_title}."
)


@pytest.fixture
def campaign_in():
    def make(**changes) -> services.CampaignIn:
        values = {
            "title": "Journée pour le logement",
            "starts_at": timezone.now() + datetime.timedelta(days=7),
            "chambers": "both",
            "briefing": "## Le dossier\n\nTrois demandes **précises**.",
            "topics": [
                services.TopicIn("Encadrement des loyers", "Note…", "Voter l'amendement 12"),
                services.TopicIn("Rénovation thermique", "Note…", "Doubler MaPrimeRénov'"),
            ],
            "templates": [
                services.TemplateIn("assembly", "Rencontre le {campaign_date}", LETTER),
                services.TemplateIn("senate", "Rencontre", LETTER),
            ],
        }
        values.update(changes)
        return services.CampaignIn(**values)

    return make


@pytest.fixture
def campaign(people, campaign_in):
    return services.campaign_create(data=campaign_in(), by=people["staff"])


@pytest.fixture
def opened(people, campaign):
    report = services.campaign_open(campaign=campaign, by=people["staff"])
    campaign.refresh_from_db()
    return campaign, report

"""The summary report shows only what relays marked publishable, in HTML, PDF and CSV."""

from __future__ import annotations

import csv
import io

import pytest

from nextwork.campaigns import report, services
from nextwork.campaigns.models import Assignment
from nextwork.network.models import Grant, Role

PUBLIC_QUOTE = "Je voterai l'amendement 12"
PRIVATE_QUOTE = "Entre nous, mon groupe hésite"


@pytest.fixture
def reported(opened, people, make_member, area):
    campaign, _ = opened
    campaign.recommendations = "Adopter **l'encadrement** des loyers."
    campaign.save()
    topic = campaign.topics.first()
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    services.report_submit(
        assignment=mine,
        by=people["camille"],
        data=services.ReportIn(
            visibility="publishable",
            commitments="Cosigner l'amendement",
            positions=[services.PositionIn(topic.pk, "supports", PUBLIC_QUOTE)],
        ),
    )
    other_relay = make_member("Discret")
    Grant.objects.create(member=other_relay, role=Role.RELAY, area=area("75-05"))
    other = Assignment.objects.get(campaign=campaign, area__code="75-05")
    other.relay = other_relay
    other.save()
    services.report_submit(
        assignment=other,
        by=other_relay,
        data=services.ReportIn(
            visibility="internal",
            commitments="Promesse confidentielle",
            positions=[services.PositionIn(topic.pk, "opposes", PRIVATE_QUOTE)],
        ),
    )
    return campaign, mine, other


def test_the_report_holds_publishable_content_only(reported):
    campaign, _, _ = reported
    text = report.html(campaign)
    assert "Je voterai l&#x27;amendement 12" in text and "Cosigner" in text
    assert "hésite" not in text and "confidentielle" not in text
    assert "<strong>l'encadrement</strong>" in text  # recommendations, rendered
    data = report.build(campaign)
    assert (data["publishable"], data["reports"], data["reached"]["held"]) == (1, 2, 2)
    topic = data["topics"][0]
    assert topic["count"] == 1 and topic["totals"] == [1, 0, 0, 0]  # the internal one is out


def test_the_csv_gives_stances_of_publishable_reports_only(reported):
    campaign, _, _ = reported
    rows = {r["seat"]: r for r in csv.DictReader(io.StringIO(report.csv_text(campaign)))}
    assert len(rows) >= 560
    column = f"position: {campaign.topics.first().title}"
    assert rows["75-02"][column] == "supports" and rows["75-02"]["report_publishable"] == "yes"
    assert rows["75-05"][column] == "" and rows["75-05"]["stage"] == "reported"


def test_the_pdf_is_a_real_document(reported):
    from weasyprint import HTML

    campaign, _, _ = reported
    data = report.pdf(campaign)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = HTML(string=report.html(campaign)).render().pages
    assert len(pages) >= 3  # the cover, the summary, the positions and quotes


@pytest.mark.parametrize(
    ("who", "status"), [("camille", 403), ("member", 403), ("coord75", 200), ("staff", 200)]
)
def test_report_downloads_are_for_coordinators_and_staff(client, reported, people, who, status):
    campaign, _, _ = reported
    client.force_login(people[who])
    pdf = client.get(f"/api/v1/campaigns/{campaign.pk}/report.pdf")
    assert pdf.status_code == status
    page = client.get(f"/espace/campagnes/{campaign.pk}/rapport.csv")
    assert page.status_code == status
    if status == 200:
        assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
        assert PRIVATE_QUOTE.encode() not in page.content


def test_the_public_page_shows_what_happened_without_internal_words_or_relays(
    client, reported, people
):
    campaign, _, _ = reported
    assert client.get("/journees/").status_code == 200
    page = client.get(f"/journees/{campaign.pk}/").content.decode()
    assert "Je voterai l&#x27;amendement 12" in page
    assert "hésite" not in page and "confidentielle" not in page
    assert people["camille"].last_name not in page  # relays are never named
    assert "75-02" in page and "Rencontre tenue" in page


def test_a_draft_has_no_public_page(client, people, campaign):
    assert client.get(f"/journees/{campaign.pk}/").status_code == 404

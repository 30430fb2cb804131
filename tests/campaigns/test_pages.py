"""The relay's assignment page and the campaign dashboard, within grants."""

from __future__ import annotations

import pytest

from nextwork.campaigns.models import Assignment, Report, Stage


@pytest.fixture
def mine(opened):
    campaign, _ = opened
    return Assignment.objects.get(campaign=campaign, area__code="75-02")


def test_the_relay_reads_the_briefing_and_the_filled_message(client, people, mine):
    client.force_login(people["camille"])
    listing = client.get("/espace/actions/").content.decode()
    assert f"/espace/actions/{mine.pk}/" in listing
    page = client.get(f"/espace/actions/{mine.pk}/").content.decode()
    assert "<h2>Le dossier</h2>" in page and "<strong>précises</strong>" in page
    assert "Encadrement des loyers" in page and "Voter l&#x27;amendement 12" in page
    assert mine.mandate.full_name in page
    assert people["camille"].full_name in page  # {relay_name} filled in
    assert "{relay_name}" not in page
    assert "encore identique au modèle" in page  # the nudge


def test_the_relay_changes_the_message_and_sees_what_changed(client, people, mine):
    client.force_login(people["camille"])
    page = client.get(f"/espace/actions/{mine.pk}/").content.decode()
    assert "encore identique" in page
    client.post(
        f"/espace/actions/{mine.pk}/",
        {"action": "message", "subject": "Logement", "body": "Madame, j'habite rue X."},
    )
    page = client.get(f"/espace/actions/{mine.pk}/").content.decode()
    assert "encore identique" not in page and "+Madame, j&#x27;habite rue X." in page


def test_checklist_and_report_from_the_phone_page(client, people, mine):
    client.force_login(people["camille"])
    client.post(
        f"/espace/actions/{mine.pk}/",
        {
            "action": "checklist",
            "contact_method": "visit",
            "meeting_at": "2030-01-15T10:30",
            "meeting_place": "Permanence",
        },
    )
    mine.refresh_from_db()
    assert mine.stage == Stage.SCHEDULED and mine.contact_method == "visit"
    assert mine.meeting_at.isoformat() == "2030-01-15T09:30:00+00:00"  # 10:30 in Paris
    topic = mine.campaign.topics.first()
    client.post(
        f"/espace/actions/{mine.pk}/",
        {
            "action": "report",
            "attendees": "La députée",
            f"stance-{topic.pk}": "supports",
            f"quote-{topic.pk}": "Je soutiens",
            "visibility": "publishable",
        },
    )
    report = Report.objects.get(assignment=mine)
    assert report.positions.get(topic=topic).stance == "supports"
    mine.refresh_from_db()
    assert mine.stage == Stage.REPORTED


@pytest.mark.parametrize(("who", "status"), [("member", 404), ("coord13", 404), ("coord75", 200)])
def test_others_do_not_see_or_write_the_assignment(client, people, mine, who, status):
    client.force_login(people[who])
    assert client.get(f"/espace/actions/{mine.pk}/").status_code == status
    response = client.post(
        f"/espace/actions/{mine.pk}/", {"action": "checklist", "outcome": "held"}
    )
    assert response.status_code in (403, 404)
    mine.refresh_from_db()
    assert mine.outcome == ""


@pytest.mark.parametrize(
    ("who", "status"), [("member", 403), ("camille", 403), ("coord75", 200), ("staff", 200)]
)
def test_the_dashboard_is_for_coordinators_and_staff(client, people, opened, who, status):
    campaign, _ = opened
    client.force_login(people[who])
    response = client.get(f"/espace/campagnes/{campaign.pk}/")
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert "stage-gap" in page and "Avancement" in page


def test_staff_add_files_from_the_dashboard_and_relays_download_them(client, people, opened):
    from django.core.files.uploadedfile import SimpleUploadedFile

    campaign, _ = opened
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    client.force_login(people["coord75"])
    client.post(
        f"/espace/campagnes/{campaign.pk}/fichiers/",
        {"file": SimpleUploadedFile("kit.pdf", pdf, "application/pdf")},
    )
    assert campaign.attachments.count() == 0  # coordinators do not change the kit
    client.force_login(people["staff"])
    client.post(
        f"/espace/campagnes/{campaign.pk}/fichiers/",
        {"file": SimpleUploadedFile("kit.pdf", pdf, "application/pdf")},
    )
    bad = client.post(
        f"/espace/campagnes/{campaign.pk}/fichiers/",
        {"file": SimpleUploadedFile("kit.pdf", b"plain text", "application/pdf")},
        follow=True,
    )
    assert "Only PDF, PNG, JPEG and WebP" in bad.content.decode()
    (kit,) = campaign.attachments.all()
    client.force_login(people["camille"])
    response = client.get(f"/espace/actions/fichiers/{kit.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == pdf
    client.force_login(people["member"])  # no role: the campaign is not theirs
    assert client.get(f"/espace/actions/fichiers/{kit.pk}/").status_code == 404

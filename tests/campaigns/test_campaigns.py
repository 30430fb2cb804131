"""Action days: preparing, opening, the relay's checklist and report, within grants."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.campaigns import services
from nextwork.campaigns.models import (
    Assignment,
    Report,
    ReportVersion,
    Stage,
    Status,
)
from nextwork.common.errors import Conflict, Forbidden, InvalidInput
from nextwork.network.models import Grant, Role
from nextwork.territories.models import AreaKind


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


# -- preparing ----------------------------------------------------------------------------------


def test_an_unknown_template_variable_is_refused_with_the_list(people, campaign_in):
    data = campaign_in(templates=[services.TemplateIn("assembly", "Objet", "Bonjour {depute}")])
    with pytest.raises(InvalidInput) as excinfo:
        services.campaign_create(data=data, by=people["staff"])
    message = excinfo.value.message
    assert "{depute}" in message and "{representative_name}" in message
    assert excinfo.value.field == "templates.body"


@pytest.mark.parametrize("text", ["Bonjour {representative_name", "a } b", "{}"])
def test_stray_braces_are_refused(people, campaign_in, text):
    data = campaign_in(templates=[services.TemplateIn("assembly", "Objet", text)])
    with pytest.raises(InvalidInput):
        services.campaign_create(data=data, by=people["staff"])


def test_a_new_campaign_is_in_the_future_and_prepared_by_staff(people, campaign_in):
    past = campaign_in(starts_at=timezone.now() - datetime.timedelta(hours=1))
    with pytest.raises(InvalidInput) as excinfo:
        services.campaign_create(data=past, by=people["staff"])
    assert excinfo.value.field == "starts_at"
    for who in ("coord75", "camille", "member"):
        with pytest.raises(Forbidden):
            services.campaign_create(data=campaign_in(), by=people[who])


def _png() -> bytes:
    # A whole 1×1 PNG: uploads are decoded, not only identified by their first bytes.
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attachments_are_checked_by_content_and_size(people, campaign):
    staff = people["staff"]
    kit = services.attachment_add(campaign=campaign, name="dossier.pdf", data=PDF, by=staff)
    assert (kit.content_type, kit.size) == ("application/pdf", len(PDF))
    with kit.file.open("rb") as stored:  # the test settings keep files in memory
        assert stored.read() == PDF
    png = services.attachment_add(campaign=campaign, name="carte.png", data=_png(), by=staff)
    assert png.content_type == "image/png"
    cases = [
        ("carte.pdf", _png(), "not what its extension says"),
        ("notes.txt", b"just text", "Only PDF, PNG, JPEG and WebP"),
        ("vide.pdf", b"", "empty"),
        ("gros.pdf", PDF + b"0" * services.MAX_ATTACHMENT_BYTES, "at most 10 MB"),
    ]
    for name, data, message in cases:
        with pytest.raises(InvalidInput) as excinfo:
            services.attachment_add(campaign=campaign, name=name, data=data, by=staff)
        assert message in excinfo.value.message, name
    assert campaign.attachments.count() == 2


# -- opening ------------------------------------------------------------------------------------


def test_opening_assigns_every_representative_to_the_relay_or_lists_a_gap(opened, people):
    campaign, report = opened
    assert campaign.status == Status.OPEN
    deputies = Assignment.objects.filter(campaign=campaign, chamber="assembly")
    senators = Assignment.objects.filter(campaign=campaign, chamber="senate")
    # 577 seats, 13 of them vacant in the data; 348 senators.
    assert (deputies.count(), senators.count()) == (564, 348)
    assert len(report.vacant) == 13 and report.assignments == 912
    mine = deputies.get(area__code="75-02")
    assert mine.relay == people["camille"]
    assert report.with_relay == 1 and "75-02" not in report.gaps and "75-01" in report.gaps
    # Opening twice is refused.
    with pytest.raises(Conflict):
        services.campaign_open(campaign=campaign, by=people["staff"])


def test_a_substitute_goes_when_there_is_no_titular_relay(people, campaign, make_member, area):
    sub = make_member("Sub")
    Grant.objects.create(member=sub, role=Role.SUBSTITUTE, area=area("75-03"))
    senate = make_member("Sen")
    Grant.objects.create(
        member=senate, role=Role.SENATE_RELAY, area=area("75", AreaKind.DEPARTMENT)
    )
    services.campaign_open(campaign=campaign, by=people["staff"])
    assert Assignment.objects.get(campaign=campaign, area__code="75-03").relay == sub
    paris_senators = Assignment.objects.filter(campaign=campaign, chamber="senate", area__code="75")
    assert paris_senators.count() > 1 and {a.relay for a in paris_senators} == {senate}


def test_a_departmental_campaign_targets_its_seats_only(people, campaign_in, area):
    data = campaign_in(chambers="assembly", departments=["48", "2a"])
    campaign = services.campaign_create(data=data, by=people["staff"])
    report = services.campaign_open(campaign=campaign, by=people["staff"])
    codes = set(Assignment.objects.filter(campaign=campaign).values_list("area__code", flat=True))
    assert codes == {"48-01", "2A-01", "2A-02"} and report.assignments == 3


def test_overseas_seats_keep_their_local_time(people, campaign_in, area):
    moment = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    data = campaign_in(starts_at=moment, chambers="assembly", departments=["971", "75"])
    campaign = services.campaign_create(data=data, by=people["staff"])
    services.campaign_open(campaign=campaign, by=people["staff"])
    guadeloupe = Assignment.objects.filter(campaign=campaign, area__code__startswith="971").first()
    local = services.local_start(campaign, guadeloupe.area)
    assert local == moment and local.utcoffset() == datetime.timedelta(hours=-4)
    paris = services.local_start(campaign, area("75-02"))
    assert paris.tzname() in ("CET", "CEST")


# -- the relay's work ---------------------------------------------------------------------------


def test_the_template_is_filled_for_the_assignment(opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    template = campaign.templates.get(chamber="assembly")
    text = services.template_render(template.body, services.template_values(mine))
    assert people["camille"].full_name in text and "{" not in text
    assert mine.mandate.full_name not in text or "député" in text


def test_only_the_relay_moves_the_checklist_through_the_stages(opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    with pytest.raises(Forbidden):
        services.checklist_update(
            assignment=mine, by=people["coord75"], data=services.ChecklistIn(contacted=True)
        )
    camille = people["camille"]
    step = services.checklist_update(
        assignment=mine, by=camille, data=services.ChecklistIn(contact_method="email")
    )
    assert step.stage == Stage.CONTACTED and step.contacted_at is not None
    when = timezone.now() + datetime.timedelta(days=2)
    step = services.checklist_update(
        assignment=mine,
        by=camille,
        data=services.ChecklistIn(meeting_at=when, meeting_place="Permanence, rue X"),
    )
    assert step.stage == Stage.SCHEDULED and step.requested_at is not None
    step = services.checklist_update(
        assignment=mine, by=camille, data=services.ChecklistIn(outcome="held")
    )
    assert step.stage == Stage.HELD
    with pytest.raises(InvalidInput):
        services.checklist_update(
            assignment=mine, by=camille, data=services.ChecklistIn(outcome="maybe")
        )


def _report(campaign, **changes):
    topics = list(campaign.topics.all())
    values = {
        "held_on": timezone.localdate(),
        "attendees": "La députée, son assistant, deux relais",
        "commitments": "Déposer l'amendement",
        "visibility": "publishable",
        "positions": [
            services.PositionIn(topics[0].pk, "supports", "« Je voterai l'amendement »"),
            services.PositionIn(topics[1].pk, "neutral"),
        ],
    }
    values.update(changes)
    return services.ReportIn(**values)


def test_a_report_filed_twice_is_one_report_and_edits_after_the_close_are_versions(opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    camille = people["camille"]
    first = services.report_submit(assignment=mine, by=camille, data=_report(campaign))
    again = services.report_submit(assignment=mine, by=camille, data=_report(campaign))
    assert first.pk == again.pk and Report.objects.filter(assignment=mine).count() == 1
    assert again.positions.count() == 2 and again.version == 1
    mine.refresh_from_db()
    assert mine.stage == Stage.REPORTED and mine.outcome == "held"

    services.campaign_close(campaign=campaign, by=people["staff"])
    edited = services.report_submit(
        assignment=mine, by=camille, data=_report(campaign, commitments="Amendement déposé")
    )
    assert edited.version == 2
    old = ReportVersion.objects.get(report=edited)
    assert old.version == 1 and old.data["commitments"] == "Déposer l'amendement"


def test_a_closed_campaign_takes_no_new_report(opened, people, make_member, area):
    campaign, _ = opened
    relay = make_member("Late")
    Grant.objects.create(member=relay, role=Role.RELAY, area=area("75-05"))
    late = Assignment.objects.get(campaign=campaign, area__code="75-05")
    late.relay = relay
    late.save()
    services.campaign_close(campaign=campaign, by=people["staff"])
    with pytest.raises(Conflict) as excinfo:
        services.report_submit(assignment=late, by=relay, data=_report(campaign))
    assert excinfo.value.code == "campaign_not_open"


def test_report_input_is_checked(opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    bad = [
        _report(campaign, positions=[services.PositionIn(999999, "supports")]),
        _report(campaign, visibility="public"),
        _report(campaign, held_on=timezone.localdate() + datetime.timedelta(days=30)),
        _report(campaign, positions=[services.PositionIn(campaign.topics.first().pk, "maybe")]),
    ]
    for data in bad:
        with pytest.raises(InvalidInput):
            services.report_submit(assignment=mine, by=people["camille"], data=data)
    assert not Report.objects.exists()


# -- the API, within grants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "count"),
    [
        ("member", 404, None),  # no role: campaigns are not shown
        ("camille", 200, 1),  # her own assignment
        ("coord75", 200, None),  # Paris: its deputies and senators
        ("coord13", 200, None),
        ("staff", 200, 912),
    ],
)
def test_assignments_stay_within_grants(client, opened, people, who, status, count):
    campaign, _ = opened
    client.force_login(people[who])
    response = client.get("/api/v1/assignments", {"campaign": campaign.pk})
    assert response.status_code == status
    if status != 200:
        return
    areas = {a["area"] for a in response.json()}
    if count is not None:
        assert len(response.json()) == count
    if who == "coord75":
        assert areas and all(a == "75" or a.startswith("75-") for a in areas)
    if who == "coord13":
        assert areas and all(a == "13" or a.startswith("13-") for a in areas)


def test_reporting_through_the_api_and_on_someone_else_s_assignment(client, opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    other = Assignment.objects.filter(campaign=campaign, area__code="75-01").first()
    topic = campaign.topics.first()
    body = {"visibility": "internal", "positions": [{"topic": topic.pk, "stance": "opposes"}]}
    client.force_login(people["camille"])
    assert post(client, f"/api/v1/assignments/{other.pk}/report", body).status_code == 404
    first = post(client, f"/api/v1/assignments/{mine.pk}/report", body)
    second = post(client, f"/api/v1/assignments/{mine.pk}/report", body)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["positions"] == [
        {"topic": topic.pk, "stance": "opposes", "quote": "", "note": ""}
    ]
    # A coordinator reads the territory but does not report in the relay's place.
    client.force_login(people["coord75"])
    response = post(client, f"/api/v1/assignments/{mine.pk}/report", body)
    assert response.status_code == 403


def test_progress_counts_the_funnel_nationally_and_by_department(client, opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    services.checklist_update(
        assignment=mine, by=people["camille"], data=services.ChecklistIn(contact_method="phone")
    )
    client.force_login(people["staff"])
    body = client.get(f"/api/v1/campaigns/{campaign.pk}/progress").json()
    assert body["total"] == 912 and body["gaps"] == 911
    assert body["stages"] == {
        "assigned": 1,
        "contacted": 1,
        "scheduled": 0,
        "held": 0,
        "reported": 0,
    }
    paris = next(d for d in body["by_department"] if d["code"] == "75")
    assert (paris["assigned"], paris["contacted"]) == (1, 1)
    client.force_login(people["coord13"])
    body = client.get(f"/api/v1/campaigns/{campaign.pk}/progress").json()
    assert [d["code"] for d in body["by_department"]] == ["13"] and body["stages"]["assigned"] == 0


def test_creating_and_opening_through_the_api(client, people):
    client.force_login(people["staff"])
    starts = (timezone.now() + datetime.timedelta(days=10)).isoformat()
    bad = post(
        client,
        "/api/v1/campaigns",
        {"title": "T", "starts_at": starts, "templates": [
            {"chamber": "assembly", "subject": "{nope}", "body": "x"}
        ]},
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_variable"
    created = post(
        client,
        "/api/v1/campaigns",
        {"title": "Journée", "starts_at": starts, "chambers": "assembly", "departments": ["48"]},
    )
    assert created.status_code == 201
    campaign_id = created.json()["id"]
    opened = post(client, f"/api/v1/campaigns/{campaign_id}/open", {})
    assert opened.status_code == 200 and opened.json()["assignments"] == 1
    assert post(client, f"/api/v1/campaigns/{campaign_id}/open", {}).status_code == 409
    closed = post(client, f"/api/v1/campaigns/{campaign_id}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert post(client, f"/api/v1/campaigns/{campaign_id}/close", {}).status_code == 409
    too_many = post(
        client,
        "/api/v1/campaigns",
        {"title": "R", "starts_at": starts, "reminder_days": [90]},
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["field"] == "reminder_days"
    client.force_login(people["coord75"])
    assert post(client, "/api/v1/campaigns", {"title": "X", "starts_at": starts}).status_code == 403


def test_attachments_through_the_api(client, people, campaign):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = f"/api/v1/campaigns/{campaign.pk}/attachments"
    client.force_login(people["staff"])
    ok = client.post(url, {"file": SimpleUploadedFile("kit.pdf", PDF, "application/pdf")})
    assert ok.status_code == 201 and ok.json()["content_type"] == "application/pdf"
    lying = client.post(url, {"file": SimpleUploadedFile("kit.pdf", _png(), "application/pdf")})
    assert lying.status_code == 400 and "extension" in lying.json()["error"]["message"]
    client.force_login(people["coord75"])
    refused = client.post(url, {"file": SimpleUploadedFile("kit.pdf", PDF, "application/pdf")})
    assert refused.status_code in (403, 404)
    assert campaign.attachments.count() == 1


def test_the_admin_refuses_unknown_template_variables(campaign):
    from django.core.exceptions import ValidationError

    template = campaign.templates.first()
    template.body = "Bonjour {prenom}"
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "{prenom}" in str(excinfo.value)

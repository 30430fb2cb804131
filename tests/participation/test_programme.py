"""The programme: staff write a draft, publish frozen versions, readers compare them, and every
measure traces back to the members' proposals, never showing one that is no longer public."""

from __future__ import annotations

import datetime
import html
import shutil
import subprocess

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.participation import programme
from nextwork.participation.models import (
    Chapter,
    Consultation,
    Measure,
    ProgrammeVersion,
    Proposal,
)

SECRET = "Titre secret de la proposition masquée"


@pytest.fixture
def consultation_row(people):
    now = timezone.now()
    return Consultation.objects.create(
        title="Quelle école pour demain ?",
        opens_at=now - datetime.timedelta(days=10),
        proposals_close_at=now - datetime.timedelta(days=5),
        closes_at=now - datetime.timedelta(days=1),
        status="published",
    )


@pytest.fixture
def props(consultation_row, people):
    def make(title, state="published"):
        return Proposal.objects.create(
            consultation=consultation_row,
            author=people["member"],
            title=title,
            body="Le texte de la proposition.",
            state=state,
        )

    return {
        "bio": make("Des cantines bio et locales"),
        "velo": make("Des pistes cyclables autour des écoles"),
        "secret": make(SECRET),
        "pending": make("Une proposition en attente", state="pending"),
        "hidden": make("Une proposition déjà masquée", state="hidden"),
    }


@pytest.fixture
def draft(people, props):
    """Two chapters, three measures, one measure linked to two public proposals."""
    staff = people["staff"]
    school = programme.chapter_create(by=staff, title="Éducation", intro="L'école d'abord.")
    housing = programme.chapter_create(by=staff, title="Logement")
    canteens = programme.measure_create(
        by=staff,
        chapter_id=school.pk,
        title="Cantines bio",
        body="Servir des repas bio et locaux dans toutes les cantines.",
    )
    bikes = programme.measure_create(
        by=staff, chapter_id=school.pk, title="Rues scolaires", body="Fermer les rues aux voitures."
    )
    rents = programme.measure_create(
        by=staff, chapter_id=housing.pk, title="Encadrer les loyers", body="Partout."
    )
    programme.measure_link_proposals(
        by=staff, measure_id=canteens.pk, proposal_ids={props["bio"].pk, props["secret"].pk}
    )
    return {
        "school": school,
        "housing": housing,
        "canteens": canteens,
        "bikes": bikes,
        "rents": rents,
    }


def text(response) -> str:
    return html.unescape(response.content.decode())


def titles(chapter: Chapter) -> list[str]:
    return list(chapter.measures.order_by("position").values_list("title", flat=True))


# -- services: editing the draft -----------------------------------------------------------------


def test_chapters_and_measures_keep_a_gapless_order(people):
    staff = people["staff"]
    a = programme.chapter_create(by=staff, title="A")
    b = programme.chapter_create(by=staff, title="B")
    first = programme.chapter_create(by=staff, title="Zéro", position=1)
    assert list(Chapter.objects.values_list("title", "position")) == [
        ("Zéro", 1),
        ("A", 2),
        ("B", 3),
    ]
    programme.chapter_move(by=staff, chapter_id=b.pk, position=1)
    assert list(Chapter.objects.values_list("title", flat=True)) == ["B", "Zéro", "A"]
    programme.chapter_delete(by=staff, chapter_id=first.pk)
    assert list(Chapter.objects.values_list("title", "position")) == [("B", 1), ("A", 2)]

    m1 = programme.measure_create(by=staff, chapter_id=a.pk, title="m1")
    m2 = programme.measure_create(by=staff, chapter_id=a.pk, title="m2")
    programme.measure_create(by=staff, chapter_id=a.pk, title="m0", position=1)
    assert titles(a) == ["m0", "m1", "m2"]
    programme.measure_move(by=staff, measure_id=m2.pk, position=1)
    assert titles(a) == ["m2", "m0", "m1"]
    moved = programme.measure_move(by=staff, measure_id=m1.pk, chapter_id=b.pk)
    assert moved.chapter_id == b.pk and titles(b) == ["m1"] and titles(a) == ["m2", "m0"]
    assert list(a.measures.values_list("position", flat=True)) == [1, 2]
    programme.measure_delete(by=staff, measure_id=m2.pk)
    assert list(a.measures.values_list("title", "position")) == [("m0", 1)]


def test_bad_input_is_refused_with_the_field_at_fault(people):
    staff = people["staff"]
    with pytest.raises(InvalidInput) as exc:
        programme.chapter_create(by=staff, title="   ")
    assert exc.value.field == "title" and "required" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        programme.chapter_create(by=staff, title="x" * 201)
    assert exc.value.field == "title" and "201" in exc.value.message
    chapter = programme.chapter_create(by=staff, title="A")
    with pytest.raises(InvalidInput) as exc:
        programme.measure_create(by=staff, chapter_id=chapter.pk, title="m", body="a\x00b")
    assert exc.value.field == "body"
    with pytest.raises(InvalidInput) as exc:
        programme.chapter_move(by=staff, chapter_id=chapter.pk, position=2)
    assert exc.value.field == "position" and "between 1 and 1" in exc.value.message
    with pytest.raises(NotFound):
        programme.measure_create(by=staff, chapter_id=chapter.pk + 999, title="m")
    assert not Measure.objects.exists()


def test_only_staff_edit_or_publish(people, draft):
    for who in ("coord75", "camille", "member"):
        member = people[who]
        attempts = [
            lambda m=member: programme.chapter_create(by=m, title="Intrus"),
            lambda m=member: programme.chapter_update(
                by=m, chapter_id=draft["school"].pk, title="Intrus"
            ),
            lambda m=member: programme.chapter_delete(by=m, chapter_id=draft["school"].pk),
            lambda m=member: programme.chapter_move(
                by=m, chapter_id=draft["school"].pk, position=2
            ),
            lambda m=member: programme.measure_create(
                by=m, chapter_id=draft["school"].pk, title="Intrus"
            ),
            lambda m=member: programme.measure_update(
                by=m, measure_id=draft["bikes"].pk, title="Intrus"
            ),
            lambda m=member: programme.measure_delete(by=m, measure_id=draft["bikes"].pk),
            lambda m=member: programme.measure_move(by=m, measure_id=draft["bikes"].pk, position=1),
            lambda m=member: programme.measure_link_proposals(
                by=m, measure_id=draft["bikes"].pk, proposal_ids=set()
            ),
            lambda m=member: programme.programme_publish(by=m, note="Intrus"),
        ]
        for attempt in attempts:
            with pytest.raises(Forbidden):
                attempt()
    with pytest.raises(Forbidden):
        programme.programme_publish(by=None, note="")
    assert Chapter.objects.count() == 2 and Measure.objects.count() == 3
    assert not Chapter.objects.filter(title="Intrus").exists()
    assert not ProgrammeVersion.objects.exists()
    assert programme.programme_publish(by=people["staff"], note="v1").number == 1


def test_links_refuse_unknown_pending_and_hidden_proposals(people, props, draft):
    staff, measure = people["staff"], draft["bikes"]
    programme.measure_link_proposals(
        by=staff, measure_id=measure.pk, proposal_ids={props["velo"].pk}
    )
    missing = max(p.pk for p in props.values()) + 100
    with pytest.raises(programme.ProposalsRefused) as exc:
        programme.measure_link_proposals(
            by=staff,
            measure_id=measure.pk,
            proposal_ids={props["bio"].pk, props["pending"].pk, props["hidden"].pk, missing},
        )
    assert exc.value.field == "proposals"
    assert exc.value.unknown == [missing]
    assert exc.value.not_public == sorted([props["pending"].pk, props["hidden"].pk])
    assert str(missing) in exc.value.message and str(props["pending"].pk) in exc.value.message
    # Refused as a whole: the links are as they were.
    assert list(measure.proposals.values_list("pk", flat=True)) == [props["velo"].pk]


def test_a_merged_proposal_may_be_linked_and_keeps_its_own_title(people, props, draft):
    merged = props["velo"]
    merged.merged_into = props["bio"]
    merged.save(update_fields=["merged_into"])
    programme.measure_link_proposals(
        by=people["staff"], measure_id=draft["bikes"].pk, proposal_ids={merged.pk}
    )
    version = programme.programme_publish(by=people["staff"], note="")
    doc = programme.document(version.snapshot)
    shown = doc["chapters"][0]["measures"][1]["proposals"]
    assert shown == [
        {
            "id": merged.pk,
            "title": merged.title,
            "url": f"/propositions/{merged.pk}/",
            "withdrawn": False,
        }
    ]


# -- publishing ----------------------------------------------------------------------------------


def test_publish_freezes_the_draft_numbers_versions_and_audits(people, props, draft):
    from nextwork.privacy.models import AuditEvent

    staff = people["staff"]
    v1 = programme.programme_publish(by=staff, note="Première version")
    assert v1.number == 1 and v1.published_by == staff and v1.note == "Première version"
    chapters = v1.snapshot["chapters"]
    assert [c["title"] for c in chapters] == ["Éducation", "Logement"]
    canteens = chapters[0]["measures"][0]
    assert canteens["title"] == "Cantines bio" and canteens["body"].startswith("Servir")
    assert canteens["proposals"] == [
        {"id": props["bio"].pk, "title": props["bio"].title},
        {"id": props["secret"].pk, "title": SECRET},
    ]
    event = AuditEvent.objects.get(action="programme.publish")
    assert event.actor == staff and event.details == {"version": 1}

    programme.measure_update(by=staff, measure_id=draft["rents"].pk, body="Dans les zones tendues.")
    v2 = programme.programme_publish(by=staff, note="")
    assert v2.number == 2 and programme.current_version() == v2
    assert AuditEvent.objects.filter(action="programme.publish").count() == 2
    assert [v.number for v in programme.versions()] == [2, 1]


def test_publish_refuses_an_empty_or_unchanged_draft(people, draft):
    staff = people["staff"]
    programme.programme_publish(by=staff, note="")
    with pytest.raises(Conflict) as exc:
        programme.programme_publish(by=staff, note="encore")
    assert exc.value.code == "unchanged" and "version 1" in exc.value.message
    # Deleting a measure and writing it again word for word changes nothing readers see.
    bikes = draft["bikes"]
    programme.measure_delete(by=staff, measure_id=bikes.pk)
    programme.measure_create(
        by=staff, chapter_id=draft["school"].pk, title=bikes.title, body=bikes.body
    )
    assert not programme.has_changes()
    with pytest.raises(Conflict):
        programme.programme_publish(by=staff, note="")
    programme.chapter_delete(by=staff, chapter_id=draft["school"].pk)
    programme.chapter_delete(by=staff, chapter_id=draft["housing"].pk)
    with pytest.raises(InvalidInput) as exc:
        programme.programme_publish(by=staff, note="")
    assert exc.value.code == "empty"
    assert ProgrammeVersion.objects.count() == 1


def test_editing_the_draft_never_changes_a_published_version(people, props, draft, client):
    staff = people["staff"]
    v1 = programme.programme_publish(by=staff, note="")
    frozen = programme.version(1).snapshot
    programme.chapter_update(by=staff, chapter_id=draft["school"].pk, title="École")
    programme.measure_update(by=staff, measure_id=draft["canteens"].pk, body="Autre texte.")
    programme.measure_link_proposals(by=staff, measure_id=draft["canteens"].pk, proposal_ids=set())
    programme.chapter_delete(by=staff, chapter_id=draft["housing"].pk)
    programme.programme_publish(by=staff, note="v2")

    v1.refresh_from_db()
    assert v1.snapshot == frozen
    assert [c["title"] for c in v1.snapshot["chapters"]] == ["Éducation", "Logement"]
    page = text(client.get("/programme/versions/1/"))
    assert "Éducation" in page and "Encadrer les loyers" in page and "Servir des repas" in page
    assert "Autre texte" not in page
    latest = text(client.get("/programme/"))
    assert "École" in latest and "Encadrer les loyers" not in latest


# -- the diff ------------------------------------------------------------------------------------


@given(st.text(alphabet="ab \n", max_size=30), st.text(alphabet="ab \n", max_size=30))
def test_text_ops_spell_both_texts(old, new):
    ops = programme.text_ops(old, new)
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == old
    assert "".join(o["text"] for o in ops if o["op"] != "delete") == new


def test_text_ops_keep_words_and_punctuation_apart():
    assert programme.text_ops("partout.", "partout en France.") == [
        {"op": "equal", "text": "partout"},
        {"op": "insert", "text": " en France"},
        {"op": "equal", "text": "."},
    ]


def test_diff_names_what_was_added_removed_moved_renamed_and_rewritten(people, props, draft):
    staff = people["staff"]
    programme.programme_publish(by=staff, note="v1")
    programme.measure_update(
        by=staff,
        measure_id=draft["canteens"].pk,
        title="Cantines bio et locales",
        body="Servir des repas bio et de saison dans toutes les cantines.",
    )
    programme.measure_move(by=staff, measure_id=draft["bikes"].pk, chapter_id=draft["housing"].pk)
    programme.measure_delete(by=staff, measure_id=draft["rents"].pk)
    programme.measure_create(by=staff, chapter_id=draft["housing"].pk, title="Rénover")
    programme.measure_link_proposals(
        by=staff, measure_id=draft["bikes"].pk, proposal_ids={props["velo"].pk}
    )
    programme.chapter_create(by=staff, title="Santé", position=1)
    programme.chapter_update(by=staff, chapter_id=draft["housing"].pk, intro="Se loger.")
    programme.programme_publish(by=staff, note="v2")

    changes = programme.diff(1, 2)
    assert changes["from_version"]["number"] == 1 and changes["to_version"]["note"] == "v2"
    assert changes["changed"] is True
    assert changes["summary"] == {
        "chapters_added": 1,
        "chapters_removed": 0,
        "chapters_renamed": 0,
        "chapters_moved": 0,
        "chapters_intro_changed": 1,
        "measures_added": 1,
        "measures_removed": 1,
        "measures_renamed": 1,
        "measures_moved": 1,
        "measures_text_changed": 1,
        "proposals_linked": 1,
        "proposals_unlinked": 0,
    }
    health, school, housing = changes["chapters"]
    assert (health["title"], health["status"]) == ("Santé", "added")
    assert school["status"] == "changed" and not school["moved"]
    canteens = school["measures"][0]
    assert canteens["renamed"] and canteens["old_title"] == "Cantines bio"
    assert {"op": "insert", "text": " et locales"} in canteens["title_ops"]
    assert {"op": "delete", "text": "locaux"} in canteens["body_ops"]
    assert {"op": "insert", "text": "de saison"} in canteens["body_ops"]
    assert len(school["measures"]) == 1  # the street measure is listed where it went
    assert housing["intro_changed"] and housing["intro_ops"] == [
        {"op": "insert", "text": "Se loger."}
    ]
    by_title = {m["title"]: m for m in housing["measures"]}
    assert by_title["Encadrer les loyers"]["status"] == "removed"
    assert by_title["Rénover"]["status"] == "added"
    streets = by_title["Rues scolaires"]
    assert streets["moved"] and streets["moved_from_chapter"] == "Éducation"
    assert [p["title"] for p in streets["proposals_added"]] == [props["velo"].title]

    with pytest.raises(InvalidInput):
        programme.diff(2, 2)
    with pytest.raises(NotFound):
        programme.diff(1, 3)


def test_reordering_is_a_move_not_a_removal(people, draft):
    staff = people["staff"]
    programme.programme_publish(by=staff, note="")
    programme.chapter_move(by=staff, chapter_id=draft["housing"].pk, position=1)
    programme.measure_move(by=staff, measure_id=draft["bikes"].pk, position=1)
    programme.programme_publish(by=staff, note="")
    changes = programme.diff(1, 2)
    assert changes["summary"]["chapters_removed"] == changes["summary"]["measures_removed"] == 0
    assert changes["summary"]["chapters_moved"] == 1
    assert changes["summary"]["measures_moved"] == 1
    assert [c["title"] for c in changes["chapters"]] == ["Logement", "Éducation"]


# -- a proposal that is no longer public ---------------------------------------------------------


def pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode()


def test_a_hidden_proposal_title_never_shows_anywhere_public(people, props, draft, client):
    staff = people["staff"]
    programme.programme_publish(by=staff, note="v1")
    programme.measure_update(by=staff, measure_id=draft["rents"].pk, body="Partout en France.")
    programme.programme_publish(by=staff, note="v2")
    # Before moderation: the title is there, so the checks below can tell.
    assert SECRET in text(client.get("/programme/"))
    assert SECRET in pdf_text(client.get("/programme.pdf").content)

    secret = props["secret"]
    secret.state = "hidden"
    secret.save(update_fields=["state"])

    page = text(client.get("/programme/"))
    assert SECRET not in page and "retirée par la modération" in page
    assert f"/propositions/{secret.pk}/" not in page
    assert props["bio"].title in page
    for url in ("/programme/versions/1/", "/programme/diff/1/2/"):
        assert SECRET not in text(client.get(url))
    for url in (
        "/api/v1/programme",
        "/api/v1/programme/versions/1",
        "/api/v1/programme/diff?from=1&to=2",
    ):
        assert SECRET not in text(client.get(url))
    links = client.get("/api/v1/programme").json()["chapters"][0]["measures"][0]["proposals"]
    assert links[1] == {"id": None, "title": None, "url": None, "withdrawn": True}
    printed = pdf_text(client.get("/programme.pdf").content)
    assert SECRET not in printed and props["bio"].title in printed
    assert SECRET not in pdf_text(client.get("/programme/versions/1.pdf").content)

    # Hidden between two versions: the diff says nothing of it either.
    programme.measure_link_proposals(
        by=staff, measure_id=draft["canteens"].pk, proposal_ids={props["bio"].pk}
    )
    programme.programme_publish(by=staff, note="v3")
    assert SECRET not in text(client.get("/programme/diff/2/3/"))
    assert SECRET not in text(client.get("/api/v1/programme/diff?from=1&to=3"))


def test_a_proposal_hidden_before_publishing_is_frozen_without_its_title(people, props, draft):
    secret = props["secret"]
    secret.state = "hidden"
    secret.save(update_fields=["state"])
    version = programme.programme_publish(by=people["staff"], note="")
    links = version.snapshot["chapters"][0]["measures"][0]["proposals"]
    assert {"id": secret.pk, "title": None} in links
    # Public again later (a review overturned the decision): it shows again.
    secret.state = "published"
    secret.save(update_fields=["state"])
    shown = programme.document(version.snapshot)["chapters"][0]["measures"][0]["proposals"]
    assert [p["title"] for p in shown] == [props["bio"].title, SECRET]


# -- the API -------------------------------------------------------------------------------------


def test_api_before_anything_is_published(client, db):
    response = client.get("/api/v1/programme")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/programme/versions").json() == []


def test_api_shapes(client, people, props, draft):
    programme.programme_publish(by=people["staff"], note="Première")
    programme.measure_create(by=people["staff"], chapter_id=draft["housing"].pk, title="Rénover")
    programme.programme_publish(by=people["staff"], note="Deuxième")

    latest = client.get("/api/v1/programme").json()
    assert latest["number"] == 2 and latest["note"] == "Deuxième"
    assert latest["measures"] == 4 and latest["traced"] == 1
    school = latest["chapters"][0]
    assert school["number"] == 1 and school["title"] == "Éducation"
    assert school["intro_html"] == "<p>L'école d'abord.</p>\n"
    canteens = school["measures"][0]
    assert canteens["number"] == "1.1" and canteens["body_html"].startswith("<p>Servir")
    assert canteens["proposals"][0] == {
        "id": props["bio"].pk,
        "title": props["bio"].title,
        "url": f"/propositions/{props['bio'].pk}/",
        "withdrawn": False,
    }
    listing = client.get("/api/v1/programme/versions").json()
    assert [(v["number"], v["note"]) for v in listing] == [(2, "Deuxième"), (1, "Première")]
    assert set(listing[0]) == {"number", "note", "published_at"}
    assert client.get("/api/v1/programme/versions?limit=1&offset=1").json()[0]["number"] == 1
    assert client.get("/api/v1/programme/versions/1").json()["measures"] == 3

    for huge in ("/api/v1/programme/versions/99999999999999999999999", "/programme/versions/0/"):
        assert client.get(huge).status_code == 404
    missing = client.get("/api/v1/programme/versions/9")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "No programme version 9.", "field": "number"}
    }
    changes = client.get("/api/v1/programme/diff?from=1&to=2").json()
    assert changes["summary"]["measures_added"] == 1
    assert changes["chapters"][1]["measures"][1]["status"] == "added"
    same = client.get("/api/v1/programme/diff?from=2&to=2")
    assert same.status_code == 400 and same.json()["error"]["field"] == "to"
    assert client.get("/api/v1/programme/diff?from=1&to=7").status_code == 404
    no_from = client.get("/api/v1/programme/diff?to=2")
    assert no_from.status_code == 400 and no_from.json()["error"]["field"] == "from"


# -- pages ---------------------------------------------------------------------------------------


def test_public_pages_before_and_after_publishing(client, people, draft):
    empty = client.get("/programme/")
    assert empty.status_code == 200 and "Aucune version n'est encore publiée" in text(empty)
    assert client.get("/programme.pdf").status_code == 404
    programme.programme_publish(by=people["staff"], note="Note de la v1")
    programme.measure_create(by=people["staff"], chapter_id=draft["housing"].pk, title="Rénover")
    programme.programme_publish(by=people["staff"], note="")

    page = text(client.get("/programme/"))
    for expected in ("Éducation", "1.1", "Cantines bio", "Issue des propositions", "Sommaire"):
        assert expected in page
    assert 'href="/programme/diff/1/2/"' in page and 'href="/programme.pdf"' in page
    versions = text(client.get("/programme/versions/"))
    assert "Note de la v1" in versions and "/programme/versions/1/" in versions
    old = text(client.get("/programme/versions/1/"))
    assert "n'est plus la version en vigueur" in old
    diff = text(client.get("/programme/diff/1/2/"))
    assert "Nouvelle mesure" in diff and "Rénover" in diff
    assert client.get("/programme/diff/?from=1&to=2").url == "/programme/diff/1/2/"
    assert client.get("/programme/versions/5/").status_code == 404
    assert client.get("/programme/diff/1/5/").status_code == 404
    pdf = client.get("/programme/versions/1.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_staff_pages_need_a_staff_grant(client, people, draft):
    for url in ("/equipe/programme/", "/equipe/programme/apercu/"):
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "next=" in anonymous.url
    client.force_login(people["coord75"])
    assert client.get("/equipe/programme/").status_code == 403
    forbidden = client.post("/equipe/programme/chapitres/", {"title": "Intrus"})
    assert forbidden.status_code == 403 and not Chapter.objects.filter(title="Intrus").exists()
    assert client.post("/equipe/programme/apercu/", {"note": "x"}).status_code == 403
    assert not ProgrammeVersion.objects.exists()
    client.force_login(people["staff"])
    page = client.get("/equipe/programme/")
    assert page.status_code == 200 and "Cantines bio" in text(page)
    preview = text(client.get("/equipe/programme/apercu/"))
    assert "Publier la première version" in preview and "Cantines bio" in preview


def test_staff_forms_show_errors_next_to_fields_and_redirect_on_success(
    client, people, props, draft
):
    client.force_login(people["staff"])
    empty = client.post("/equipe/programme/chapitres/", {"title": " ", "intro": "Gardée"})
    assert empty.status_code == 400
    shown = text(empty)
    assert 'id="new-chapter-title-error"' in shown and "Donnez un titre." in shown
    assert "Gardée" in shown  # what was typed is not lost

    created = client.post("/equipe/programme/chapitres/", {"title": "Santé", "intro": ""})
    chapter = Chapter.objects.get(title="Santé")
    assert created.status_code == 302 and created.url.endswith(f"#chapter-{chapter.pk}")

    url = f"/equipe/programme/mesures/{draft['bikes'].pk}/"
    bad = client.post(url, {"title": "Rues scolaires", "body": "Nouveau", "proposals": "12, abc"})
    assert bad.status_code == 400 and "« abc » n'est pas un numéro" in text(bad)
    hidden = client.post(
        url, {"title": "Rues", "body": "Nouveau", "proposals": str(props["hidden"].pk)}
    )
    assert hidden.status_code == 400
    assert "pas publique" in text(hidden)
    draft["bikes"].refresh_from_db()
    assert draft["bikes"].title == "Rues scolaires" and draft["bikes"].body != "Nouveau"

    # A link hidden by moderation since does not block editing the text.
    canteens = draft["canteens"]
    props["secret"].state = "hidden"
    props["secret"].save(update_fields=["state"])
    kept = f"{props['bio'].pk}, {props['secret'].pk}"
    edited = client.post(
        f"/equipe/programme/mesures/{canteens.pk}/",
        {"title": "Cantines", "body": "Texte revu.", "proposals": kept},
    )
    assert edited.status_code == 302
    canteens.refresh_from_db()
    assert canteens.body == "Texte revu." and canteens.proposals.count() == 2

    ok = client.post(url, {"title": "Rues", "body": "Nouveau", "proposals": f"#{props['velo'].pk}"})
    assert ok.status_code == 302
    draft["bikes"].refresh_from_db()
    assert draft["bikes"].title == "Rues"
    assert list(draft["bikes"].proposals.all()) == [props["velo"]]

    moved = client.post(f"/equipe/programme/chapitres/{chapter.pk}/deplacer/", {"position": "1"})
    assert moved.status_code == 302 and Chapter.objects.first() == chapter

    published = client.post("/equipe/programme/apercu/", {"note": "Avec la santé"})
    assert published.status_code == 302 and published.url == "/programme/"
    assert programme.current_version().note == "Avec la santé"
    again = client.post("/equipe/programme/apercu/", {"note": "Encore"})
    assert again.status_code == 400 and "Rien n'a changé" in text(again)
    assert ProgrammeVersion.objects.count() == 1


def test_staff_forms_need_the_csrf_token(people, draft):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["staff"])
    response = browser.post("/equipe/programme/chapitres/", {"title": "Sans jeton"})
    assert response.status_code == 403
    assert not Chapter.objects.filter(title="Sans jeton").exists()

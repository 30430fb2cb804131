"""/api/v1/ participation endpoints: shapes, permissions, bad input, what hidden content never
shows, and a schemathesis run with two members' sessions, each checked for the other's data."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextwork.participation import moderation, services
from nextwork.participation.models import Comment, Consultation, Proposal, State
from tests.territories.test_api import CHECKS, same_connection

API = "/api/v1"

pytestmark = pytest.mark.django_db


# -- helpers and fixtures -----------------------------------------------------------------------


def call(client, method, path, body=None):
    if body is None:
        return getattr(client, method)(f"{API}{path}")
    return getattr(client, method)(f"{API}{path}", body, content_type="application/json")


def as_(client, member, method, path, body=None):
    client.force_login(member)
    return call(client, method, path, body)


def error_of(response, status, field=None):
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    assert body["error"]["field"] == field, body
    return body["error"]


@pytest.fixture
def unconfirmed(make_member):
    """Logged in, active, but the email was never confirmed."""
    member = make_member("Noa")
    member.confirmed_at = None
    member.save(update_fields=["confirmed_at"])
    return member


@pytest.fixture
def alice(old_member):
    return _named(old_member("Alice"), "Vermandois")


@pytest.fixture
def bruno(old_member):
    return _named(old_member("Bruno"), "Quenardel")


def _named(member, last_name):
    member.last_name = last_name
    member.email = f"{member.first_name.lower()}.{last_name.lower()}@secret.example.org"
    member.phone = "+33612345678" if last_name == "Quenardel" else "+33698765432"
    member.save(update_fields=["last_name", "email", "phone"])
    return member


def _move(consultation, *, opens, proposals_close, closes):
    now = timezone.now()
    consultation.opens_at = now + datetime.timedelta(days=opens)
    consultation.proposals_close_at = now + datetime.timedelta(days=proposals_close)
    consultation.closes_at = now + datetime.timedelta(days=closes)
    consultation.save()


def _hide(item, reason="Propos injurieux.", by=None):
    kind = "proposal" if isinstance(item, Proposal) else "comment"
    return moderation.moderate(kind=kind, target_id=item.pk, action="hide", reason=reason, by=by)


# -- consultations ------------------------------------------------------------------------------


def test_consultations_public_list_drafts_for_their_organisers(client, consultation, people, area):
    now = timezone.now()
    dates = {
        "opens_at": now + datetime.timedelta(days=5),
        "proposals_close_at": now + datetime.timedelta(days=8),
        "closes_at": now + datetime.timedelta(days=9),
    }
    paris_draft = Consultation.objects.create(
        title="Brouillon parisien", area=area("75", "department"), status="draft", **dates
    )
    Consultation.objects.create(title="Brouillon national", status="draft", **dates)
    upcoming = Consultation.objects.create(title="Bientôt", status="published", **dates)

    body = call(client, "get", "/consultations").json()
    assert body["total"] == 2 and body["limit"] == 20 and body["offset"] == 0
    assert [c["title"] for c in body["items"]] == ["Bientôt", consultation.title]
    first = body["items"][1]
    assert set(first) == {
        "id", "title", "text", "text_html", "area", "status", "phase", "opens_at",
        "proposals_close_at", "closes_at", "supports_per_member",
    }  # fmt: skip
    assert first["phase"] == "proposals" and first["area"] is None
    assert first["text_html"] == "<p>Vos idées pour l'école.</p>\n"
    assert call(client, "get", f"/consultations/{paris_draft.pk}").status_code == 404
    public = call(client, "get", f"/consultations/{consultation.pk}").json()
    assert public["may_manage"] is False and public["supports_left"] is None

    client.force_login(people["coord75"])
    titles = {c["title"] for c in call(client, "get", "/consultations").json()["items"]}
    assert titles == {"Brouillon parisien", "Bientôt", consultation.title}
    detail = call(client, "get", f"/consultations/{paris_draft.pk}").json()
    assert detail["may_manage"] is True and detail["status"] == "draft"
    assert detail["area"] == {"code": "75", "name": "Paris"}
    client.force_login(people["staff"])
    assert call(client, "get", "/consultations").json()["total"] == 4

    client.logout()
    upcoming_only = call(client, "get", "/consultations?phase=upcoming").json()["items"]
    assert [c["id"] for c in upcoming_only] == [upcoming.pk]
    national = call(client, "get", "/consultations?area=national").json()["items"]
    assert {c["id"] for c in national} == {upcoming.pk, consultation.pk}
    assert call(client, "get", "/consultations?area=75").json()["total"] == 0
    error_of(call(client, "get", "/consultations?area=ZZ"), 400, "area")
    error_of(call(client, "get", "/consultations?phase=later"), 400, "phase")
    error_of(call(client, "get", "/consultations?limit=101"), 400, "limit")
    error_of(call(client, "get", "/consultations/999999"), 404, "consultation")


def consultation_payload(**changes):
    now = timezone.now()
    body = {
        "title": "Quels transports ?",
        "text": "Dites-nous.",
        "opens_at": now.isoformat(),
        "proposals_close_at": (now + datetime.timedelta(days=10)).isoformat(),
        "closes_at": (now + datetime.timedelta(days=20)).isoformat(),
        "supports_per_member": 5,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("who", "area_code", "status"),
    [
        ("staff", None, 201),
        ("staff", "13", 201),
        ("coord75", "75-02", 201),
        ("coord75", "75", 201),
        ("coord75", None, 403),
        ("coord13", "75", 403),
        ("camille", "75-02", 403),
        ("member", None, 403),
    ],
)
def test_who_opens_a_consultation_where(client, people, who, area_code, status):
    response = as_(
        client, people[who], "post", "/consultations", consultation_payload(area=area_code)
    )
    assert response.status_code == status, response.content
    if status == 201:
        body = response.json()
        assert body["may_manage"] is True and body["supports_per_member"] == 5
        assert (body["area"] or {}).get("code") == area_code
        assert Consultation.objects.get().created_by == people[who]
    else:
        assert response.json()["error"]["code"] == "forbidden"
        assert not Consultation.objects.exists()


def test_opening_needs_a_login(client):
    response = call(client, "post", "/consultations", consultation_payload())
    assert error_of(response, 401)["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "T" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"closes_at": timezone.now().isoformat(), "proposals_close_at": None}, "closes_at"),
        ({"opens_at": "2030-01-01T10:00:00"}, "opens_at"),
        ({"opens_at": "9999-12-31T23:00:00-05:00"}, "opens_at"),
        ({"supports_per_member": 0}, "supports_per_member"),
        ({"area": "ZZ"}, "area"),
        ({"opens_at": "tomorrow"}, "opens_at"),
    ],
)
def test_opening_refuses_bad_input_by_field(client, people, changes, field):
    response = as_(
        client, people["staff"], "post", "/consultations", consultation_payload(**changes)
    )
    error_of(response, 400, field)
    assert not Consultation.objects.exists()


# -- proposals ----------------------------------------------------------------------------------

PROPOSAL_KEYS = {
    "id", "consultation", "title", "body", "body_html", "author", "area", "created_at",
    "edited_at", "version", "state", "hidden_reason", "support_count", "comment_count",
    "answer_status", "merged_into", "supported",
}  # fmt: skip


def test_proposal_list_shape_sorts_and_pages(client, consultation, propose, alice, bruno, area):
    first = propose(alice, title="Des cantines bio", body="Servir **bio**.", area_code="75-02")
    second = propose(bruno, title="Des pistes cyclables", body="Partout.")
    services.support_add(proposal_id=second.pk, member=alice)
    services.comment_add(proposal=first, author=bruno, body="Oui")

    response = call(client, "get", f"/consultations/{consultation.pk}/proposals")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["limit"] == 20 and body["offset"] == 0
    assert [p["id"] for p in body["items"]] == [second.pk, first.pk]  # most supported first
    item = body["items"][1]
    assert set(item) == PROPOSAL_KEYS
    assert item["author"] == {"first_name": "Alice"}
    assert item["area"] == "75-02" and item["body"] == "Servir **bio**."
    assert item["body_html"] == "<p>Servir <strong>bio</strong>.</p>\n"
    assert item["state"] == "published" and item["hidden_reason"] is None
    assert item["comment_count"] == 1 and item["supported"] is False
    for secret in ("Vermandois", "Quenardel", "secret.example.org", "+336"):
        assert secret not in response.content.decode()

    client.force_login(alice)
    mine = call(client, "get", f"/consultations/{consultation.pk}/proposals?sort=recent").json()
    assert [(p["id"], p["supported"]) for p in mine["items"]] == [
        (second.pk, True),
        (first.pk, False),
    ]
    discussed = call(client, "get", f"/consultations/{consultation.pk}/proposals?sort=discussed")
    assert [p["id"] for p in discussed.json()["items"]] == [first.pk, second.pk]
    page = call(client, "get", f"/consultations/{consultation.pk}/proposals?limit=1&offset=1")
    assert page.json()["total"] == 2 and [p["id"] for p in page.json()["items"]] == [first.pk]
    in_paris = call(client, "get", f"/consultations/{consultation.pk}/proposals?area=75-02")
    assert [p["id"] for p in in_paris.json()["items"]] == [first.pk]
    found = call(client, "get", f"/consultations/{consultation.pk}/proposals?q=cyclab")
    assert [p["id"] for p in found.json()["items"]] == [second.pk]

    url = f"/consultations/{consultation.pk}/proposals"
    error_of(call(client, "get", f"{url}?sort=best"), 400, "sort")
    error_of(call(client, "get", f"{url}?limit=101"), 400, "limit")
    error_of(call(client, "get", f"{url}?limit=0"), 400, "limit")
    error_of(call(client, "get", f"{url}?offset=-1"), 400, "offset")
    error_of(call(client, "get", f"{url}?q=!!!"), 400, "q")
    error_of(call(client, "get", f"{url}?area=ZZ-99"), 400, "area")
    error_of(call(client, "get", f"{url}?q=%00"), 400, "q")
    error_of(call(client, "get", "/consultations/999999/proposals"), 404, "consultation")


def test_submit_a_proposal_and_read_it(client, consultation, alice):
    response = as_(
        client,
        alice,
        "post",
        f"/consultations/{consultation.pk}/proposals",
        {"title": "Des jardins partagés", "body": "Dans chaque *quartier*.", "area": "75-02"},
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == PROPOSAL_KEYS | {"following", "answers"}
    assert created["state"] == "published" and created["following"] is True
    assert created["author"] == {"first_name": "Alice"} and created["area"] == "75-02"
    assert created["answers"] == [] and created["version"] == 1
    client.logout()
    detail = call(client, "get", f"/proposals/{created['id']}").json()
    assert detail["title"] == "Des jardins partagés" and detail["following"] is False
    error_of(call(client, "get", "/proposals/999999"), 404, "proposal")


def test_a_held_proposal_says_so_and_stays_out_of_sight(client, consultation, make_member, alice):
    newcomer = make_member("Zoé")  # confirmed a moment ago: a new account
    response = as_(
        client,
        newcomer,
        "post",
        f"/consultations/{consultation.pk}/proposals",
        {"title": "Voir ici", "body": "https://a.example http://b.example www.c.example"},
    )
    assert response.status_code == 201
    held = response.json()
    assert held["state"] == "pending" and held["title"] == "Voir ici"
    assert call(client, "get", f"/proposals/{held['id']}").status_code == 200  # its author
    client.force_login(alice)
    error_of(call(client, "get", f"/proposals/{held['id']}"), 404, "proposal")
    listed = call(client, "get", f"/consultations/{consultation.pk}/proposals").json()
    assert listed["total"] == 0
    error_of(call(client, "post", f"/proposals/{held['id']}/support"), 404, "proposal")


def parsed(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The tags and attributes a browser would build from ``html``."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_markdown_injection_comes_back_sanitised(client, consultation, alice):
    nasty = (
        "<script>alert(1)</script>\n\n"
        "[clic](javascript:alert(2)) et <img src=x onerror=alert(3)>\n\n"
        '<a href="javascript:alert(4)" onclick="alert(5)">lien</a> '
        "![img](javascript:alert(6)) [ok](https://example.org)"
    )
    created = as_(
        client,
        alice,
        "post",
        f"/consultations/{consultation.pk}/proposals",
        {"title": "<b>Titre</b>", "body": nasty},
    ).json()
    comment = call(client, "post", f"/proposals/{created['id']}/comments", {"body": nasty}).json()
    listed = call(client, "get", f"/consultations/{consultation.pk}/proposals").json()["items"][0]
    thread = call(client, "get", f"/proposals/{created['id']}/comments").json()["items"][0]
    for html in (
        created["body_html"],
        listed["body_html"],
        comment["body_html"],
        thread["body_html"],
    ):
        tags = parsed(html)
        assert "script" not in {tag for tag, _ in tags} and "img" not in {tag for tag, _ in tags}
        attributes = [(name, value or "") for _, attrs in tags for name, value in attrs]
        assert not [name for name, _ in attributes if name.startswith("on")], html
        assert [v for n, v in attributes if n == "href"] == ["https://example.org"], html
        assert "<script" not in html.lower()  # as text it is escaped: &lt;script&gt;
    assert created["body"] == nasty  # the source is kept as written, for editing


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "", "body": "texte"}, "title"),
        ({"title": "   ", "body": "texte"}, "title"),
        ({"title": "T" * 201, "body": "texte"}, "title"),
        ({"title": "Titre", "body": "nul \x00 caractère"}, "body"),
        ({"title": "Titre\x00", "body": "texte"}, "title"),
        ({"title": "Titre", "body": "texte", "area": "ZZ"}, "area"),
        ({"title": "Titre", "body": "texte", "area": "75\x00"}, "area"),
        ({"title": 12, "body": "texte"}, "title"),
    ],
)
def test_bad_proposals_get_a_400_naming_the_field(client, consultation, alice, payload, field):
    response = as_(client, alice, "post", f"/consultations/{consultation.pk}/proposals", payload)
    error_of(response, 400, field)
    assert not Proposal.objects.exists()


BODY_CASES = [
    ("post", "/consultations/{c}/proposals", {"title": "Titre", "body": "x" * 10_001}),
    ("post", "/consultations/{c}/proposals", {"title": "Titre"}),
    ("patch", "/proposals/{p}", {"body": "x" * 10_001}),
    ("post", "/proposals/{p}/comments", {"body": "x" * 5_001}),
    ("patch", "/comments/{k}", {"body": "x" * 5_001}),
]


@pytest.mark.parametrize(("method", "path", "body"), BODY_CASES)
def test_an_oversized_or_missing_body_is_a_400(client, targets, bruno, method, path, body):
    before = (
        list(Proposal.objects.values_list("title", "body")),
        list(Comment.objects.values_list("body", flat=True)),
    )
    response = as_(client, bruno, method, path.format(**targets), body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert (
        list(Proposal.objects.values_list("title", "body")),
        list(Comment.objects.values_list("body", flat=True)),
    ) == before


@pytest.mark.parametrize(("method", "path", "body"), BODY_CASES)
def test_an_oversized_or_missing_body_names_the_body(client, targets, bruno, method, path, body):
    error_of(as_(client, bruno, method, path.format(**targets), body), 400, "body")


def test_proposals_only_within_the_period(client, consultation, alice):
    url = f"/consultations/{consultation.pk}/proposals"
    body = {"title": "Trop tôt", "body": "Texte"}
    _move(consultation, opens=1, proposals_close=2, closes=3)
    assert "opens on" in error_of(as_(client, alice, "post", url, body), 409)["message"]
    _move(consultation, opens=-3, proposals_close=-1, closes=3)
    assert "over" in error_of(call(client, "post", url, body), 409)["message"]
    _move(consultation, opens=-3, proposals_close=-2, closes=-1)
    error_of(call(client, "post", url, body), 409)
    assert not Proposal.objects.exists()


def test_author_edits_others_cannot(client, propose, alice, bruno):
    proposal = propose(alice)
    edited = as_(client, alice, "patch", f"/proposals/{proposal.pk}", {"body": "Plus *local*."})
    assert edited.status_code == 200
    assert edited.json()["body"] == "Plus *local*." and edited.json()["title"] == proposal.title
    assert edited.json()["edited_at"] is not None
    error_of(call(client, "patch", f"/proposals/{proposal.pk}", {"title": " "}), 400, "title")
    response = as_(client, bruno, "patch", f"/proposals/{proposal.pk}", {"title": "À moi"})
    error_of(response, 403)
    assert Proposal.objects.get().title == proposal.title


# -- supports and follows -----------------------------------------------------------------------


def test_support_once_withdraw_and_quota(client, consultation, propose, alice, bruno, old_member):
    consultation.supports_per_member = 2
    consultation.save()
    first, second = propose(bruno), propose(old_member(), title="Autre")
    third = propose(old_member(), title="Encore une")
    client.force_login(alice)
    response = call(client, "post", f"/proposals/{first.pk}/support")
    assert response.status_code == 201
    assert response.json() == {
        "proposal": first.pk,
        "supported": True,
        "support_count": 1,
        "supports_left": 1,
    }
    again = error_of(call(client, "post", f"/proposals/{first.pk}/support"), 409, "proposal")
    assert "already support" in again["message"] and again["code"] == "conflict"
    assert call(client, "post", f"/proposals/{second.pk}/support").json()["supports_left"] == 0
    over = error_of(call(client, "post", f"/proposals/{third.pk}/support"), 409)
    assert "used your 2 supports" in over["message"]
    detail = call(client, "get", f"/proposals/{first.pk}").json()
    assert detail["supported"] is True and detail["support_count"] == 1
    withdrawn = call(client, "delete", f"/proposals/{first.pk}/support")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["support_count"] == 0 and withdrawn.json()["supports_left"] == 1
    error_of(call(client, "delete", f"/proposals/{first.pk}/support"), 409, "proposal")
    assert Proposal.objects.get(pk=first.pk).support_count == 0
    assert Proposal.objects.get(pk=third.pk).support_count == 0


def test_no_support_after_closing(client, consultation, propose, alice, bruno):
    proposal = propose(bruno)
    _move(consultation, opens=-10, proposals_close=-5, closes=-1)
    response = as_(client, alice, "post", f"/proposals/{proposal.pk}/support")
    assert "closed" in error_of(response, 409)["message"]
    assert Proposal.objects.get().support_count == 0


def test_follow_and_unfollow(client, propose, alice, bruno):
    proposal = propose(bruno)
    client.force_login(alice)
    assert call(client, "post", f"/proposals/{proposal.pk}/follow").json() == {
        "proposal": proposal.pk,
        "following": True,
        "changed": True,
    }
    assert call(client, "post", f"/proposals/{proposal.pk}/follow").json()["changed"] is False
    assert call(client, "get", f"/proposals/{proposal.pk}").json()["following"] is True
    assert call(client, "delete", f"/proposals/{proposal.pk}/follow").json() == {
        "proposal": proposal.pk,
        "following": False,
        "changed": True,
    }
    assert call(client, "get", f"/proposals/{proposal.pk}").json()["following"] is False


# -- permissions ------------------------------------------------------------------------------


WRITES = [
    ("post", "/consultations", {"title": "x"}),
    ("post", "/consultations/{c}/proposals", {"title": "x", "body": "y"}),
    ("patch", "/proposals/{p}", {"title": "x"}),
    ("post", "/proposals/{p}/support", None),
    ("delete", "/proposals/{p}/support", None),
    ("post", "/proposals/{p}/follow", None),
    ("delete", "/proposals/{p}/follow", None),
    ("post", "/proposals/{p}/comments", {"body": "x"}),
    ("patch", "/comments/{k}", {"body": "x"}),
    ("delete", "/comments/{k}", None),
    ("post", "/reports", {"kind": "proposal", "id": 1, "reason": "spam"}),
    ("post", "/reviews", {"kind": "proposal", "id": 1, "note": "x"}),
    ("post", "/proposals/{p}/answer", {"status": "accepted", "text": "x"}),
    ("post", "/proposals/{p}/merge", {"into": 1}),
    ("get", "/moderation/queue", None),
    ("post", "/moderation/decisions", {"kind": "proposal", "id": 1, "action": "approve"}),
]


@pytest.fixture
def targets(consultation, propose, alice, bruno):
    proposal = propose(bruno)
    comment = services.comment_add(proposal=proposal, author=bruno, body="Je précise.")
    return {"c": consultation.pk, "p": proposal.pk, "k": comment.pk}


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_writes_need_a_login(client, targets, method, path, body):
    response = call(client, method, path.format(**targets), body)
    assert error_of(response, 401)["code"] == "unauthenticated"


def test_writes_need_the_csrf_token_with_a_session(alice, targets):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post(f"{API}/proposals/{targets['p']}/support")
    assert "CSRF" in error_of(response, 403)["message"]
    assert Proposal.objects.get(pk=targets["p"]).support_count == 0


def test_unconfirmed_members_cannot_contribute(client, unconfirmed, targets):
    client.force_login(unconfirmed)
    for method, path, body in [
        ("post", "/consultations/{c}/proposals", {"title": "Idée", "body": "Texte"}),
        ("post", "/proposals/{p}/support", None),
        ("post", "/proposals/{p}/comments", {"body": "Bien vu"}),
        ("post", "/proposals/{p}/follow", None),
        ("post", "/reports", {"kind": "proposal", "id": targets["p"], "reason": "spam"}),
    ]:
        response = call(client, method, path.format(**targets), body)
        assert "confirmed" in error_of(response, 403)["message"], path
    assert Proposal.objects.count() == 1 and Comment.objects.count() == 1


def test_a_member_cannot_answer_merge_or_moderate(client, targets, propose, old_member, alice):
    other = propose(old_member(), title="Doublon")
    client.force_login(alice)
    p = targets["p"]
    error_of(
        call(client, "post", f"/proposals/{p}/answer", {"status": "accepted", "text": "Oui"}), 403
    )
    error_of(call(client, "post", f"/proposals/{other.pk}/merge", {"into": p}), 403)
    error_of(call(client, "get", "/moderation/queue"), 403)
    decision = {"kind": "proposal", "id": p, "action": "hide", "reason": "Non"}
    error_of(call(client, "post", "/moderation/decisions", decision), 403)
    assert Proposal.objects.get(pk=p).state == State.PUBLISHED
    assert Proposal.objects.get(pk=other.pk).merged_into_id is None
    assert not Proposal.objects.get(pk=p).answers.exists()


def test_a_coordinator_answers_only_in_their_area(client, people, area, alice, propose):
    paris = Consultation.objects.create(
        title="Paris demain",
        area=area("75", "department"),
        opens_at=timezone.now() - datetime.timedelta(days=1),
        proposals_close_at=timezone.now() + datetime.timedelta(days=5),
        closes_at=timezone.now() + datetime.timedelta(days=6),
        status="published",
    )
    proposal = Proposal.objects.create(consultation=paris, author=alice, title="T", body="B")
    body = {"status": "under_review", "text": "Nous regardons."}
    error_of(as_(client, people["coord13"], "post", f"/proposals/{proposal.pk}/answer", body), 403)
    response = as_(client, people["coord75"], "post", f"/proposals/{proposal.pk}/answer", body)
    assert response.status_code == 201


# -- answers, merges, comments, reports, moderation ---------------------------------------------


def test_staff_answers_and_merges(client, people, consultation, propose, alice, bruno):
    target, duplicate = propose(alice), propose(bruno, title="Pareil", body="Même idée.")
    services.support_add(proposal_id=duplicate.pk, member=alice)
    client.force_login(people["staff"])
    url = f"/proposals/{target.pk}/answer"
    error_of(call(client, "post", url, {"status": "maybe", "text": "?"}), 400, "status")
    error_of(call(client, "post", url, {"status": "accepted", "text": ""}), 400, "text")
    response = call(
        client, "post", url, {"status": "accepted", "text": "Retenue **telle quelle**."}
    )
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "accepted" and answer["proposal"] == target.pk
    assert answer["text_html"] == "<p>Retenue <strong>telle quelle</strong>.</p>\n"

    error_of(
        call(client, "post", f"/proposals/{target.pk}/merge", {"into": target.pk}), 400, "into"
    )
    error_of(
        call(client, "post", f"/proposals/{duplicate.pk}/merge", {"into": 999999}), 404, "into"
    )
    merged = call(client, "post", f"/proposals/{duplicate.pk}/merge", {"into": target.pk})
    assert merged.status_code == 200
    assert merged.json()["id"] == target.pk and merged.json()["support_count"] == 1
    client.logout()
    detail = call(client, "get", f"/proposals/{duplicate.pk}").json()
    assert detail["merged_into"] == target.pk and detail["support_count"] == 0
    target_detail = call(client, "get", f"/proposals/{target.pk}").json()
    assert target_detail["answer_status"] == "accepted"
    assert [a["status"] for a in target_detail["answers"]] == ["accepted"]
    listed = call(client, "get", f"/consultations/{consultation.pk}/proposals").json()
    assert [p["id"] for p in listed["items"]] == [target.pk]


def test_comment_thread_edit_and_delete(client, propose, alice, bruno):
    proposal = propose(alice)
    client.force_login(bruno)
    url = f"/proposals/{proposal.pk}/comments"
    first = call(client, "post", url, {"body": "Bonne idée"})
    assert first.status_code == 201
    first = first.json()
    assert first["author"] == {"first_name": "Bruno"} and first["parent"] is None
    client.force_login(alice)
    reply = call(client, "post", url, {"body": "Merci", "parent": first["id"]}).json()
    deeper = call(client, "post", url, {"body": "Encore", "parent": reply["id"]}).json()
    assert reply["parent"] == first["id"] and deeper["parent"] == first["id"]  # one level
    error_of(call(client, "post", url, {"body": "?", "parent": 999999}), 400, "parent")
    error_of(call(client, "post", url, {"body": "nul\x00"}), 400, "body")
    error_of(call(client, "patch", f"/comments/{first['id']}", {"body": "Pas à moi"}), 403)

    client.force_login(bruno)
    edited = call(client, "patch", f"/comments/{first['id']}", {"body": "Très bonne idée"})
    assert edited.status_code == 200 and edited.json()["edited_at"] is not None
    deleted = call(client, "delete", f"/comments/{first['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True and deleted.json()["body"] == ""
    error_of(call(client, "delete", f"/comments/{first['id']}"), 409)

    client.logout()
    thread = call(client, "get", url).json()
    assert thread["withheld"] is False
    [top] = thread["items"]
    assert top["deleted"] is True and top["body"] == "" and top["body_html"] == ""
    assert top["author"] is None
    assert [(r["body"], r["author"]) for r in top["replies"]] == [
        ("Merci", {"first_name": "Alice"}),
        ("Encore", {"first_name": "Alice"}),
    ]
    assert call(client, "get", f"/proposals/{proposal.pk}").json()["comment_count"] == 2


def test_report_then_moderate_through_the_api(client, people, propose, alice, bruno):
    proposal = propose(bruno, title="Titre douteux", body="Texte douteux")
    client.force_login(alice)
    report = {"kind": "proposal", "id": proposal.pk, "reason": "abuse", "note": "Insultant"}
    response = call(client, "post", "/reports", report)
    assert response.status_code == 201
    assert response.json()["kind"] == "proposal" and response.json()["target"] == proposal.pk
    error_of(call(client, "post", "/reports", report), 409)
    error_of(call(client, "post", "/reports", {**report, "reason": "boring"}), 400, "reason")
    error_of(call(client, "post", "/reports", {**report, "kind": "user"}), 400, "kind")
    error_of(call(client, "post", "/reports", {**report, "note": "n" * 1001}), 400, "note")
    error_of(call(client, "post", "/reports", {**report, "id": 999999}), 404, "id")

    client.force_login(people["staff"])
    queue = call(client, "get", "/moderation/queue").json()
    assert queue["held"] == [] and queue["reviews"] == []
    [item] = queue["reported"]
    assert item["id"] == proposal.pk and item["author"] == {"first_name": "Bruno"}
    assert [(r["reason"], r["note"]) for r in item["reports"]] == [("abuse", "Insultant")]
    assert "Alice" not in str(item) and "Vermandois" not in str(item)

    hide = {"kind": "proposal", "id": proposal.pk, "action": "hide"}
    error_of(call(client, "post", "/moderation/decisions", hide), 400, "reason")
    response = call(client, "post", "/moderation/decisions", {**hide, "reason": "Injurieux."})
    assert response.status_code == 201
    assert response.json()["state"] == "hidden" and response.json()["hidden_reason"] == "Injurieux."
    error_of(call(client, "post", "/moderation/decisions", {**hide, "reason": "Encore"}), 409)
    assert call(client, "get", "/moderation/queue").json()["reported"] == []

    client.force_login(bruno)
    review = {"kind": "proposal", "id": proposal.pk, "note": "C'était de l'ironie."}
    assert call(client, "post", "/reviews", review).status_code == 201
    error_of(call(client, "post", "/reviews", review), 409)
    client.force_login(people["staff"])
    [asked] = call(client, "get", "/moderation/queue").json()["reviews"]
    assert asked["review_note"] == "C'était de l'ironie."


def test_moderators_cannot_decide_on_their_own_content(client, people, consultation):
    staff = people["staff"]
    staff.confirmed_at = timezone.now() - datetime.timedelta(days=30)
    staff.save(update_fields=["confirmed_at"])
    own = services.proposal_submit(
        consultation=consultation, author=staff, title="Mon idée", body="Texte"
    )
    decision = {"kind": "proposal", "id": own.pk, "action": "hide", "reason": "Non"}
    response = as_(client, staff, "post", "/moderation/decisions", decision)
    assert "own" in error_of(response, 403)["message"]


# -- hidden content never leaks -----------------------------------------------------------------


def test_hidden_content_never_leaks(client, people, consultation, propose, alice, bruno):
    hidden = propose(bruno, title="Zanzibarique affirmation", body="Texte zanzibarique.")
    services.comment_add(proposal=hidden, author=alice, body="Commentaire zanzibarique")
    public = propose(alice, title="Une idée sage", body="Rien à cacher.")
    services.comment_add(proposal=public, author=alice, body="Premier avis")
    rude = services.comment_add(proposal=public, author=bruno, body="Insulte zanzibarique")
    held = services.comment_add(proposal=public, author=bruno, body="En attente zanzibarique")
    Comment.objects.filter(pk=held.pk).update(state=State.PENDING)
    _hide(hidden, reason="Hors charte.", by=people["staff"])
    _hide(rude, reason="Propos injurieux.", by=people["staff"])

    def leaks(response):
        assert response.status_code == 200, response.content[:300]
        return "zanzibarique" in response.content.decode().lower()

    readers = {"anonymous": None, "alice": alice, "coord13": people["coord13"]}
    for name, reader in readers.items():
        client.logout()
        if reader is not None:
            client.force_login(reader)
        url = f"/consultations/{consultation.pk}/proposals"
        assert not leaks(call(client, "get", url)), name
        search = call(client, "get", f"{url}?q=zanzibarique")
        assert not leaks(search) and search.json()["total"] == 0, name
        detail = call(client, "get", f"/proposals/{hidden.pk}")
        assert not leaks(detail), name
        body = detail.json()
        assert body["state"] == "hidden" and body["hidden_reason"] == "Hors charte."
        assert body["title"] is None and body["body"] is None and body["author"] is None
        thread = call(client, "get", f"/proposals/{hidden.pk}/comments")
        assert not leaks(thread) and thread.json() == {
            "proposal": hidden.pk,
            "withheld": True,
            "items": [],
        }, name
        public_thread = call(client, "get", f"/proposals/{public.pk}/comments")
        assert not leaks(public_thread), name
        items = public_thread.json()["items"]
        assert [c["state"] for c in items] == ["published", "hidden"], name
        placeholder = items[1]
        assert placeholder["body"] is None and placeholder["body_html"] is None
        assert placeholder["author"] is None and placeholder["hidden_reason"] == "Propos injurieux."

    # Its author and the moderators still read the words.
    client.force_login(bruno)
    assert call(client, "get", f"/proposals/{hidden.pk}").json()["title"] == (
        "Zanzibarique affirmation"
    )
    own = call(client, "get", f"/proposals/{public.pk}/comments").json()["items"]
    assert [c["body"] for c in own] == [
        "Premier avis",
        "Insulte zanzibarique",
        "En attente zanzibarique",
    ]
    client.force_login(people["staff"])
    assert call(client, "get", f"/proposals/{hidden.pk}").json()["body"] == "Texte zanzibarique."
    # A hidden proposal can be neither supported nor commented on by others.
    client.force_login(alice)
    assert call(client, "post", f"/proposals/{hidden.pk}/support").status_code in (404, 409)
    response = call(client, "post", f"/proposals/{hidden.pk}/comments", {"body": "Et alors ?"})
    error_of(response, 409)


# -- OpenAPI and schemathesis -------------------------------------------------------------------

PREFIXES = ("/consultations", "/proposals", "/comments", "/reports", "/reviews", "/moderation")


def participation_operations(document):
    for path, methods in sorted(document["paths"].items()):
        if path.removeprefix(API).startswith(PREFIXES):
            for method in methods:
                yield path, method


def test_openapi_documents_every_error(client):
    document = call(client, "get", "/openapi.json").json()
    operations = list(participation_operations(document))
    assert len(operations) == 21
    for path, method in operations:
        operation = document["paths"][path][method]
        responses = set(operation["responses"])
        assert {"400", "404"} <= responses, (path, method)
        if method != "get" or path.endswith("/queue"):
            assert {"401", "403", "409", "429"} <= responses, (path, method)
        assert operation["tags"] == ["participation"]
    proposal_in = document["components"]["schemas"]["ProposalIn"]["properties"]
    assert proposal_in["title"]["maxLength"] == 200 and proposal_in["body"]["maxLength"] == 10_000
    assert document["components"]["schemas"]["ModerationReportIn"]["properties"]["reason"]["enum"]


def session_of(member):
    """A member's session and CSRF token, sent as a browser sends them."""
    from django.middleware.csrf import _get_new_csrf_string

    browser = Client()
    browser.force_login(member)
    token = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": browser.cookies["sessionid"].value, "csrftoken": token},
        "headers": {"X-CSRFToken": token},
    }


@pytest.fixture
def world(settings, consultation, people, alice, bruno, propose):
    """Both members wrote: proposals (one hidden, one held), comments (one hidden)."""
    settings.NEXTWORK_PROPOSALS_PER_HOUR = 1000
    settings.NEXTWORK_COMMENTS_PER_HOUR = 1000
    ids = {"proposal_id": [], "comment_id": [], "consultation_id": [consultation.pk]}
    for author in (alice, bruno):
        for n in range(3):
            proposal = propose(author, title=f"Idée {n} de {author.first_name}", body=f"Texte {n}")
            comment = services.comment_add(proposal=proposal, author=author, body=f"Avis {n}")
            ids["proposal_id"].append(proposal.pk)
            ids["comment_id"].append(comment.pk)
        Proposal.objects.filter(pk=proposal.pk).update(state=State.PENDING)
        _hide(comment, by=people["staff"])
    _hide(Proposal.objects.get(pk=ids["proposal_id"][0]), by=people["staff"])
    draft = Consultation.objects.create(
        title="Brouillon",
        opens_at=consultation.opens_at,
        proposals_close_at=consultation.proposals_close_at,
        closes_at=consultation.closes_at,
    )
    ids["consultation_id"].append(draft.pk)
    return ids


def _real_ids(case, world, pick):
    for name, values in world.items():
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = values[pick % len(values)]
    if isinstance(case.body, dict):
        kind = "comment_id" if case.body.get("kind") == "comment" else "proposal_id"
        for key in ("id", "into"):
            if key in case.body and pick % 4:
                case.body[key] = world[kind][(pick // 4) % len(world[kind])]


def _secrets(member) -> list[bytes]:
    return [s.lower().encode() for s in (member.email, member.last_name, member.phone)]


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("who", ["alice", "bruno"])
def test_schemathesis_two_members(api_schema, world, alice, bruno, who, mode):
    import schemathesis

    me, other = (alice, bruno) if who == "alice" else (bruno, alice)
    session = session_of(me)
    secrets = _secrets(other)
    generation = schemathesis.GenerationMode(mode)
    statuses: dict[str, list[int]] = {}
    operations = list(participation_operations(api_schema.raw_schema))
    assert len(operations) == 21

    for path, method in operations:
        operation = api_schema[path][method.upper()]
        seen = statuses.setdefault(f"{method.upper()} {path}", [])

        @settings(
            max_examples=8 if generation.is_positive else 4,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=generation),
            pick=st.integers(min_value=0, max_value=1000),
        )
        def run(case, pick):
            if generation.is_positive:
                # Mostly real rows, the other member's included, so 2xx answers are checked.
                _real_ids(case, world, pick)
            response = case.call(**session)
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)
            content = response.content.lower()
            leaked = [s for s in secrets if s in content]
            assert not leaked, (case.method, case.formatted_path, leaked)

        with same_connection():
            run()
    every = [s for codes in statuses.values() for s in codes]
    assert 401 not in every, statuses  # the session and its CSRF token were accepted
    assert not [s for s in every if s >= 500]
    if generation.is_positive:
        assert any(200 <= s < 300 for s in every), statuses

"""Atom feeds of consultations, proposal threads and news: valid Atom, the expected entries,
nothing held or hidden, and no addresses."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from nextwork.participation import moderation, services
from nextwork.participation.models import Consultation, NewsItem

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


def parse(response) -> ET.Element:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def entries(feed: ET.Element) -> list[dict]:
    return [
        {
            "title": entry.findtext(f"{ATOM}title"),
            "link": entry.find(f"{ATOM}link").get("href"),
            "author": entry.findtext(f"{ATOM}author/{ATOM}name"),
            "summary": entry.findtext(f"{ATOM}summary") or "",
        }
        for entry in feed.findall(f"{ATOM}entry")
    ]


def test_a_consultation_feed_lists_its_public_proposals_newest_first(
    client, consultation, old_member, make_member, propose, people
):
    ines = old_member("Ines")
    first = propose(ines, title="Première idée", body="Du **bio**.")
    second = propose(old_member("Paul"), title="Seconde idée", body="Des vélos.")
    second.created_at = first.created_at + datetime.timedelta(minutes=5)
    second.save(update_fields=["created_at"])
    held = propose(make_member("Neuf"), title="Retenue", body="http://a.x http://b.x http://c.x")
    assert held.state == "pending"
    hidden = propose(old_member("Zed"), title="Masquée Zorglub", body="Zorglub")
    moderation.moderate(
        kind="proposal", target_id=hidden.pk, action="hide", reason="Injures", by=people["staff"]
    )
    response = client.get(f"/consultations/{consultation.pk}/feed.atom")
    feed = parse(response)
    assert feed.findtext(f"{ATOM}title") == consultation.title
    rows = entries(feed)
    assert [r["title"] for r in rows] == ["Seconde idée", "Première idée"]
    assert rows[1]["link"].endswith(f"/propositions/{first.pk}/")
    assert rows[1]["author"] == "Ines" and "<strong>bio</strong>" in rows[1]["summary"]
    body = response.content.decode()
    assert "Zorglub" not in body and "Retenue" not in body
    assert ines.email not in body and ines.last_name not in body and "@" not in body


def test_only_published_consultations_have_a_feed(client, consultation):
    Consultation.objects.filter(pk=consultation.pk).update(status="draft")
    assert client.get(f"/consultations/{consultation.pk}/feed.atom").status_code == 404
    assert client.get("/consultations/999999/feed.atom").status_code == 404


def test_a_proposal_feed_carries_comments_and_answers_but_no_hidden_one(
    client, old_member, propose, people
):
    proposal = propose(old_member())
    alice = old_member("Alice")
    services.comment_add(proposal=proposal, author=alice, body="Bonne idée")
    spam = services.comment_add(
        proposal=proposal, author=old_member("Spam"), body="Blurbo pas cher"
    )
    moderation.moderate(
        kind="comment", target_id=spam.pk, action="hide", reason="Pub", by=people["staff"]
    )
    gone = services.comment_add(proposal=proposal, author=alice, body="Effacé")
    services.comment_delete(comment_id=gone.pk, by=alice)
    services.proposal_answer(
        proposal_id=proposal.pk, status="accepted", text="Nous la retenons.", by=people["staff"]
    )
    response = client.get(f"/propositions/{proposal.pk}/feed.atom")
    rows = entries(parse(response))
    titles = [r["title"] for r in rows]
    assert titles == ["Réponse de l'équipe : retenue", "Commentaire de Alice"]
    assert "Nous la retenons." in rows[0]["summary"] and rows[1]["author"] == "Alice"
    assert rows[1]["link"].endswith(f"/propositions/{proposal.pk}/#c{proposal.comments.first().pk}")
    body = response.content.decode()
    assert "Blurbo" not in body and "Effacé" not in body and alice.email not in body


def test_a_hidden_proposal_s_feed_has_no_text(client, old_member, propose, people):
    proposal = propose(old_member(), title="Zorglub titre", body="Zorglub texte")
    services.comment_add(proposal=proposal, author=old_member("Alice"), body="Zorglub aussi")
    moderation.moderate(
        kind="proposal", target_id=proposal.pk, action="hide", reason="Injures", by=people["staff"]
    )
    response = client.get(f"/propositions/{proposal.pk}/feed.atom")
    feed = parse(response)
    assert entries(feed) == [] and "Zorglub" not in response.content.decode()


def test_a_pending_proposal_has_no_feed(client, make_member, propose):
    held = propose(make_member("Neuf"), title="Retenue", body="http://a.x http://b.x http://c.x")
    assert client.get(f"/propositions/{held.pk}/feed.atom").status_code == 404


def test_the_news_feed_and_page(client, people):
    NewsItem.objects.create(
        title="Ouverte", body="La consultation *ouvre*.", author=people["staff"]
    )
    NewsItem.objects.create(
        title="Plus tard",
        body="Pas encore",
        published_at=timezone.now() + datetime.timedelta(days=2),
    )
    response = client.get("/actualites/feed.atom")
    rows = entries(parse(response))
    assert [r["title"] for r in rows] == ["Ouverte"]
    assert "<em>ouvre</em>" in rows[0]["summary"]
    assert people["staff"].email not in response.content.decode()
    page = client.get("/actualites/").content.decode()
    assert "<em>ouvre</em>" in page and "Plus tard" not in page
    assert 'type="application/atom+xml"' in page and 'href="/actualites/feed.atom"' in page


def test_the_pages_announce_their_feeds(client, consultation, old_member, propose):
    proposal = propose(old_member())
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Commentaires et réponses" '
        f'href="/propositions/{proposal.pk}/feed.atom">'
    ) in page
    page = client.get(f"/consultations/{consultation.pk}/").content.decode()
    head = page.split("</head>")[0]
    assert f'href="/consultations/{consultation.pk}/feed.atom"' in head

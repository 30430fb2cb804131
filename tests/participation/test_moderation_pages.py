"""The moderation queue page: who may open it, its three sections, and its decisions."""

from __future__ import annotations

import pytest

from nextwork.participation import moderation, services
from nextwork.participation.models import State

pytestmark = pytest.mark.django_db
QUEUE = "/equipe/moderation/"


def test_visitors_log_in_and_members_are_refused(client, people):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    client.force_login(people["member"])
    response = client.get(QUEUE)
    assert response.status_code == 403 and "Accès réservé" in response.content.decode()
    assert (
        client.post(QUEUE, {"kind": "proposal", "id": "1", "action": "approve"}).status_code == 403
    )
    client.force_login(people["staff"])
    assert client.get(QUEUE).status_code == 200


def test_a_held_proposal_is_approved_from_the_queue(client, people, make_member, propose):
    held = propose(make_member("Neuf"), title="Mon site", body="http://a.x http://b.x http://c.x")
    client.force_login(people["staff"])
    page = client.get(QUEUE).content.decode()
    assert "Retenues avant publication" in page and "Mon site" in page and "liens" in page
    response = client.post(QUEUE, {"kind": "proposal", "id": held.pk, "action": "approve"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.state == State.PUBLISHED
    assert "Contenu publié" in client.get(QUEUE).content.decode()


def test_a_reported_comment_is_hidden_with_a_reason(client, people, old_member, propose):
    proposal = propose(old_member())
    comment = services.comment_add(proposal=proposal, author=old_member("Eve"), body="Blurbo !")
    moderation.report_create(
        kind="comment", target_id=comment.pk, reason="spam", note="de la pub", by=people["member"]
    )
    unreported = propose(old_member("Calme"), title="Sans histoire", body="Rien à signaler")
    client.force_login(people["staff"])
    page = client.get(QUEUE).content.decode()
    assert "Blurbo" in page and "Publicité ou spam" in page and "de la pub" in page
    assert "Sans histoire" not in page  # never reported: nothing to decide
    assert unreported.state == State.PUBLISHED
    refused = client.post(
        QUEUE, {"kind": "comment", "id": comment.pk, "action": "hide", "reason": ""}
    )
    assert refused.status_code == 400
    assert "Indiquez le motif affiché à la place du contenu" in refused.content.decode()
    client.post(QUEUE, {"kind": "comment", "id": comment.pk, "action": "hide", "reason": "Pub"})
    comment.refresh_from_db()
    assert comment.state == State.HIDDEN and comment.hidden_reason == "Pub"
    assert not comment.reports.filter(resolved_at__isnull=True).exists()
    assert "Blurbo" not in client.get(QUEUE).content.decode()


def test_reports_are_dismissed_and_the_content_stays(client, people, old_member, propose):
    proposal = propose(old_member(), title="Contestée")
    moderation.report_create(
        kind="proposal", target_id=proposal.pk, reason="off_topic", by=people["member"]
    )
    client.force_login(people["staff"])
    client.post(QUEUE, {"kind": "proposal", "id": proposal.pk, "action": "dismiss"})
    proposal.refresh_from_db()
    assert proposal.state == State.PUBLISHED
    assert not proposal.reports.filter(resolved_at__isnull=True).exists()
    again = client.post(QUEUE, {"kind": "proposal", "id": proposal.pk, "action": "dismiss"})
    assert again.status_code == 400 and "aucun signalement en cours" in again.content.decode()


def test_a_review_request_shows_the_author_s_note_and_can_restore(
    client, people, old_member, propose
):
    author = old_member()
    proposal = propose(author, title="À revoir")
    moderation.moderate(
        kind="proposal", target_id=proposal.pk, action="hide", reason="Doute", by=people["staff"]
    )
    moderation.review_request(
        kind="proposal", target_id=proposal.pk, note="J'ai corrigé", by=author
    )
    client.force_login(people["coord75"])  # a national consultation is staff's
    assert "J&#x27;ai corrigé" not in client.get(QUEUE).content.decode()
    client.force_login(people["staff"])
    page = client.get(QUEUE).content.decode()
    assert "Demandes de réexamen" in page and "J&#x27;ai corrigé" in page and "Doute" in page
    client.post(QUEUE, {"kind": "proposal", "id": proposal.pk, "action": "restore"})
    proposal.refresh_from_db()
    assert proposal.state == State.PUBLISHED and proposal.review_decided_at is not None


def test_moderators_never_see_or_decide_their_own_content(client, people, consultation, propose):
    staff = people["staff"]
    own = services.proposal_submit(
        consultation=consultation, author=staff, title="La mienne", body="Texte"
    )
    moderation.report_create(kind="proposal", target_id=own.pk, reason="spam", by=people["member"])
    client.force_login(staff)
    assert "La mienne" not in client.get(QUEUE).content.decode()
    response = client.post(
        QUEUE, {"kind": "proposal", "id": own.pk, "action": "hide", "reason": "x"}
    )
    assert response.status_code == 400
    assert "Un modérateur ne décide pas de ses propres contributions." in response.content.decode()
    own.refresh_from_db()
    assert own.state == State.PUBLISHED


def test_the_queue_links_each_item_to_its_page(client, people, old_member, propose):
    proposal = propose(old_member())
    moderation.report_create(
        kind="proposal", target_id=proposal.pk, reason="abuse", by=people["member"]
    )
    client.force_login(people["staff"])
    page = client.get(QUEUE).content.decode()
    assert f'href="/propositions/{proposal.pk}/"' in page

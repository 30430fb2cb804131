"""The participation pages: consultations, a proposal's page and thread, the organisers' forms.

Each test goes through the page as a browser would (client, POST forms) and checks both what
the page says (French, next to the field) and what the database holds."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from nextwork.participation import moderation, services
from nextwork.participation.models import Comment, Consultation, Proposal, State, Support

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def hide(item, staff, reason="Propos injurieux"):
    kind = "proposal" if isinstance(item, Proposal) else "comment"
    return moderation.moderate(kind=kind, target_id=item.pk, action="hide", reason=reason, by=staff)


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "member", "staff"])
def test_the_pages_render_for_visitors_members_and_staff(
    client, people, consultation, old_member, propose, who
):
    proposal = propose(old_member(), title="Des cantines bio", body="Du **bio** local.")
    if who:
        client.force_login(people[who])
    listing = client.get("/consultations/").content.decode()
    assert consultation.title.replace("'", "&#x27;") in listing and "National" in listing
    page = client.get(f"/consultations/{consultation.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Des cantines bio" in html and "Plus soutenues" in html and "Plus discutées" in html
    assert f'href="/consultations/{consultation.pk}/feed.atom"' in html
    assert ("Soutenir" in html) == (who is not None)
    detail = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "<strong>bio</strong>" in detail and "Ines" in detail
    assert (who == "staff") == ("Répondre à la proposition" in detail)
    assert client.get("/actualites/").status_code == 200


def test_the_list_is_sorted_paginated_and_searchable(
    client, consultation, old_member, propose, people, settings
):
    settings.NEXTWORK_PROPOSALS_PER_HOUR = 100
    authors = [old_member(f"Auteur{i}") for i in range(3)]
    made = []
    for i in range(22):
        made.append(
            propose(authors[i % 3], title=f"Idée numéro {i}", body=f"Texte {i} sur les écoles")
        )
    services.support_add(proposal_id=made[3].pk, member=people["member"])
    first = client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert first.index("Idée numéro 3<") < first.index("Idée numéro 21<")
    assert "1 / 2" in first and "22 propositions" in first
    second = client.get(f"/consultations/{consultation.pk}/?sort=recent&page=2").content.decode()
    assert "Idée numéro 0<" in second and "Idée numéro 21<" not in second
    found = client.get(f"/consultations/{consultation.pk}/?q=numéro+7").content.decode()
    assert "Idée numéro 7<" in found and "Idée numéro 8<" not in found
    bad = client.get(f"/consultations/{consultation.pk}/?q=" + "a" * 250)
    assert bad.status_code == 400 and "Cherchez 200 caractères au plus." in bad.content.decode()


def test_pending_proposals_are_not_listed_but_their_author_reads_them(
    client, consultation, make_member, people, propose
):
    newcomer = make_member("Nouveau")  # confirmed a moment ago: the heuristic is stricter
    held = propose(newcomer, title="Promotion", body="http://a.example http://b.example")
    assert held.state == State.PENDING
    client.force_login(people["member"])
    assert "Promotion" not in client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert client.get(f"/propositions/{held.pk}/").status_code == 404
    client.force_login(newcomer)
    page = client.get(f"/propositions/{held.pk}/").content.decode()
    assert "Promotion" in page and "après relecture par un modérateur" in page


def test_a_hidden_proposal_s_text_shows_nowhere_but_to_its_author(
    client, consultation, old_member, propose, people
):
    author = old_member()
    proposal = propose(author, title="Zorglub titre", body="Zorglub injure")
    hide(proposal, people["staff"], reason="Insultes envers un élu")
    for viewer in (None, people["member"]):
        client.logout()
        if viewer:
            client.force_login(viewer)
        for url in (
            f"/consultations/{consultation.pk}/",
            f"/consultations/{consultation.pk}/?q=zorglub",
            f"/consultations/{consultation.pk}/?sort=recent",
        ):
            assert "Zorglub" not in client.get(url).content.decode()
        page = client.get(f"/propositions/{proposal.pk}/").content.decode()
        assert "Zorglub" not in page and "Insultes envers un élu" in page
    client.force_login(author)
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Zorglub injure" in page and "Demander un réexamen" in page


# -- proposing ----------------------------------------------------------------------------------


def test_a_member_proposes_with_a_file_and_lands_on_the_proposal(client, consultation, old_member):
    member = old_member()
    client.force_login(member)
    form = client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert "vous recevrez par courriel les réponses et les nouveaux commentaires" in form
    response = client.post(
        f"/consultations/{consultation.pk}/",
        {
            "title": "Un potager par école",
            "body": "Avec les *parents*.",
            "area": "75-02",
            "attachments": [SimpleUploadedFile("plan.png", png_bytes(), "image/png")],
        },
    )
    proposal = Proposal.objects.get(title="Un potager par école")
    assert response.status_code == 302 and response["Location"] == f"/propositions/{proposal.pk}/"
    assert proposal.author == member and proposal.area.code == "75-02"
    page = client.get(response["Location"]).content.decode()
    assert "Votre proposition est publiée" in page and "plan.png" in page
    assert "<em>parents</em>" in page


def test_a_held_proposal_says_it_waits_for_a_moderator(client, consultation, make_member):
    client.force_login(make_member("Nouvelle"))
    response = client.post(
        f"/consultations/{consultation.pk}/",
        {"title": "Mon site", "body": "https://x.example https://y.example https://z.example"},
        follow=True,
    )
    assert "Votre proposition sera publiée après relecture par un modérateur" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("data", "files", "field_error", "kept"),
    [
        ({"title": "", "body": "Un texte gardé"}, [], "Donnez un titre.", "Un texte gardé"),
        (
            {"title": "Titre gardé", "body": "x" * 10_001},
            [],
            "Ce texte compte 10\u202f001 caractères : 10\u202f000 au plus",
            "Titre gardé",
        ),
        (
            {"title": "Titre gardé", "body": "Corps"},
            [("faux.pdf", b"ceci n'est pas un PDF", "application/pdf")],
            "Seuls les fichiers PDF, PNG, JPEG et WebP sont acceptés.",
            "Titre gardé",
        ),
        (
            {"title": "Titre gardé", "body": "Corps"},
            [("image.pdf", None, "application/pdf")],
            "« image.pdf » n&#x27;est pas ce qu&#x27;annonce son extension",
            "Titre gardé",
        ),
        (
            {"title": "Titre gardé", "body": "Corps"},
            [("gros.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "application/pdf")],
            "« gros.pdf » pèse 5,0 Mo : 5 Mo au plus sont acceptés.",
            "Titre gardé",
        ),
        (
            {"title": "Titre gardé", "body": "Corps", "area": "99-99"},
            [],
            "Territoire « 99-99 » inconnu",
            "Titre gardé",
        ),
    ],
)
def test_bad_proposals_are_refused_in_french_and_keep_what_was_typed(
    client, consultation, old_member, data, files, field_error, kept
):
    client.force_login(old_member())
    uploads = [
        SimpleUploadedFile(name, content if content is not None else png_bytes(), mime)
        for name, content, mime in files
    ]
    response = client.post(f"/consultations/{consultation.pk}/", {**data, "attachments": uploads})
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error in html and kept in html
    assert 'class="field-error"' in html
    assert not Proposal.objects.filter(consultation=consultation).exists()


def test_every_fault_of_the_form_is_told_at_once(client, consultation, old_member):
    client.force_login(old_member())
    html = client.post(
        f"/consultations/{consultation.pk}/", {"title": "", "body": "", "area": "ZZ"}
    ).content.decode()
    assert "Donnez un titre." in html and "Écrivez le texte." in html
    assert "Territoire « ZZ » inconnu" in html


def test_a_visitor_is_sent_to_the_login_page_to_propose(client, consultation):
    response = client.post(f"/consultations/{consultation.pk}/", {"title": "t", "body": "b"})
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    assert not Proposal.objects.exists()


def test_the_propose_form_is_gone_once_proposals_are_closed(client, consultation, old_member):
    import datetime

    from django.utils import timezone

    Consultation.objects.filter(pk=consultation.pk).update(
        opens_at=timezone.now() - datetime.timedelta(days=5),
        proposals_close_at=timezone.now() - datetime.timedelta(days=1),
    )
    member = old_member()
    client.force_login(member)
    assert (
        "Écrire une proposition"
        not in client.get(f"/consultations/{consultation.pk}/").content.decode()
    )
    html = client.post(
        f"/consultations/{consultation.pk}/", {"title": "Tard", "body": "Trop tard"}
    ).content.decode()
    assert "Le temps des propositions est terminé dans cette consultation." in html


# -- supporting and following -------------------------------------------------------------------


def test_the_support_button_adds_and_withdraws(client, consultation, old_member, propose, people):
    proposal = propose(old_member())
    member = people["member"]
    client.force_login(member)
    back = f"/consultations/{consultation.pk}/?sort=recent#propositions"
    response = client.post(f"/propositions/{proposal.pk}/soutien/", {"action": "add", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    proposal.refresh_from_db()
    assert proposal.support_count == 1 and Support.objects.filter(member=member).exists()
    page = client.get(back).content.decode()
    assert "Soutenue" in page and "Merci pour votre soutien" in page
    again = client.post(f"/propositions/{proposal.pk}/soutien/", {"action": "add"}, follow=True)
    assert "Vous soutenez déjà cette proposition." in again.content.decode()
    client.post(f"/propositions/{proposal.pk}/soutien/", {"action": "withdraw"})
    proposal.refresh_from_db()
    assert proposal.support_count == 0


def test_support_goes_back_only_to_this_site(client, old_member, propose, people):
    proposal = propose(old_member())
    client.force_login(people["member"])
    response = client.post(
        f"/propositions/{proposal.pk}/soutien/", {"action": "add", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/propositions/{proposal.pk}/"


def test_the_quota_is_shown_and_its_end_explained(
    client, consultation, old_member, propose, people
):
    Consultation.objects.filter(pk=consultation.pk).update(supports_per_member=1)
    first, second = propose(old_member("A")), propose(old_member("B"), title="Autre idée")
    client.force_login(people["member"])
    assert (
        "Il vous reste 1 soutien."
        in client.get(f"/consultations/{consultation.pk}/").content.decode()
    )
    client.post(f"/propositions/{first.pk}/soutien/", {"action": "add"})
    page = client.post(f"/propositions/{second.pk}/soutien/", {"action": "add"}, follow=True)
    assert "Vous avez utilisé vos 1 soutiens" in page.content.decode()


def test_follow_and_unfollow(client, old_member, propose, people):
    proposal = propose(old_member())
    member = people["member"]
    client.force_login(member)
    client.post(f"/propositions/{proposal.pk}/suivi/", {"follow": "yes"})
    assert proposal.follows.filter(member=member).exists()
    assert "Ne plus suivre" in client.get(f"/propositions/{proposal.pk}/").content.decode()
    client.post(f"/propositions/{proposal.pk}/suivi/", {"follow": "no"})
    assert not proposal.follows.filter(member=member).exists()


# -- the thread ---------------------------------------------------------------------------------


def test_comments_replies_edits_and_deletions(client, old_member, propose, people):
    proposal = propose(old_member())
    alice, bob = old_member("Alice"), old_member("Bob")
    client.force_login(alice)
    client.post(f"/propositions/{proposal.pk}/commentaires/", {"body": "Premier avis"})
    top = Comment.objects.get(body="Premier avis")
    client.force_login(bob)
    client.post(
        f"/propositions/{proposal.pk}/commentaires/", {"body": "Une réponse", "parent": top.pk}
    )
    reply = Comment.objects.get(body="Une réponse")
    assert reply.parent == top
    client.force_login(alice)
    client.post(
        f"/propositions/{proposal.pk}/commentaires/{top.pk}/modifier/", {"body": "Avis revu"}
    )
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Avis revu" in page and "modifié" in page and "Une réponse" in page
    client.post(f"/propositions/{proposal.pk}/commentaires/{top.pk}/supprimer/")
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Commentaire supprimé par son auteur" in page and "Avis revu" not in page
    assert "Une réponse" in page  # the thread is kept
    # Bob cannot delete Alice's comment.
    client.force_login(bob)
    mine = Comment.objects.create(proposal=proposal, author=alice, body="À Alice")
    client.post(f"/propositions/{proposal.pk}/commentaires/{mine.pk}/supprimer/")
    mine.refresh_from_db()
    assert mine.deleted_at is None


def test_an_empty_comment_is_refused_in_french(client, old_member, propose):
    proposal = propose(old_member())
    client.force_login(old_member("Alice"))
    response = client.post(f"/propositions/{proposal.pk}/commentaires/", {"body": "   "})
    assert response.status_code == 400 and "Écrivez le texte." in response.content.decode()
    long = "y" * 5001
    response = client.post(f"/propositions/{proposal.pk}/commentaires/", {"body": long})
    assert "Ce texte compte 5\u202f001 caractères" in response.content.decode()
    assert long in response.content.decode()  # kept for the member to shorten


def test_a_hidden_comment_shows_its_reason_not_its_text(client, old_member, propose, people):
    proposal = propose(old_member())
    comment = services.comment_add(
        proposal=proposal, author=old_member("Spam"), body="Achetez Blurbo"
    )
    hide(comment, people["staff"], reason="Publicité")
    client.force_login(people["member"])
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Blurbo" not in page and "Commentaire masqué par la modération : Publicité" in page


def test_reports_and_the_author_s_one_review(client, old_member, propose, people):
    author = old_member()
    proposal = propose(author)
    client.force_login(people["member"])
    client.post(
        f"/propositions/{proposal.pk}/signaler/",
        {"kind": "proposal", "reason": "spam", "note": "pub"},
    )
    assert proposal.reports.filter(reason="spam", resolved_at__isnull=True).count() == 1
    again = client.post(
        f"/propositions/{proposal.pk}/signaler/", {"kind": "proposal", "reason": "spam"}
    )
    assert (
        again.status_code == 400 and "Vous avez déjà signalé ce contenu" in again.content.decode()
    )
    bad = client.post(
        f"/propositions/{proposal.pk}/signaler/", {"kind": "proposal", "reason": "nope"}
    )
    assert "Choisissez un motif dans la liste." in bad.content.decode()
    hide(proposal, people["staff"])
    client.force_login(author)
    empty = client.post(f"/propositions/{proposal.pk}/reexamen/", {"kind": "proposal", "note": ""})
    assert "Dites en 1" in empty.content.decode()
    client.post(f"/propositions/{proposal.pk}/reexamen/", {"kind": "proposal", "note": "Relisez"})
    proposal.refresh_from_db()
    assert proposal.review_note == "Relisez"
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Demander un réexamen" not in page and "réexamen est en cours" in page


# -- files --------------------------------------------------------------------------------------


def test_files_are_served_with_their_type_and_only_when_readable(
    client, consultation, old_member, propose, people
):
    author = old_member()
    proposal = propose(author, attachments=[services.AttachmentIn("plan.png", png_bytes())])
    item = proposal.attachments.get()
    url = f"/propositions/{proposal.pk}/pieces/{item.pk}/"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert 'filename="plan.png"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == png_bytes()
    other = propose(old_member("Autre"), title="Autre", body="Autre texte")
    assert client.get(f"/propositions/{other.pk}/pieces/{item.pk}/").status_code == 404
    hide(proposal, people["staff"])
    assert client.get(url).status_code == 404
    client.force_login(people["member"])
    assert client.get(url).status_code == 404
    client.force_login(author)
    assert client.get(url).status_code == 200


# -- the author's edit and the organisers' answer and merge -------------------------------------


def test_the_author_edits_while_proposals_are_open(client, old_member, propose, people):
    author = old_member()
    proposal = propose(author)
    client.force_login(people["member"])
    assert (
        "Modifier ma proposition"
        not in client.get(f"/propositions/{proposal.pk}/").content.decode()
    )
    client.force_login(author)
    assert "Modifier ma proposition" in client.get(f"/propositions/{proposal.pk}/").content.decode()
    bad = client.post(
        f"/propositions/{proposal.pk}/modifier/", {"title": "", "body": "Nouveau corps"}
    )
    assert bad.status_code == 400
    assert "Donnez un titre." in bad.content.decode() and "Nouveau corps" in bad.content.decode()
    client.post(
        f"/propositions/{proposal.pk}/modifier/", {"title": "Titre revu", "body": "Nouveau corps"}
    )
    proposal.refresh_from_db()
    assert proposal.title == "Titre revu" and proposal.edited_at is not None
    assert "modifiée" in client.get(f"/propositions/{proposal.pk}/").content.decode()


def test_earlier_versions_are_listed(client, old_member, propose, settings):
    settings.NEXTWORK_PROPOSAL_EDIT_MINUTES = 0
    author = old_member()
    proposal = propose(author, title="Première", body="Texte d'origine")
    services.proposal_edit(proposal=proposal, by=author, title="Seconde", body="Texte revu")
    page = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "1 version précédente" in page and "Texte d&#x27;origine" in page


def test_staff_answer_and_merge_from_the_page(client, old_member, propose, people):
    first = propose(old_member("A"), title="Des cantines bio", body="Bio partout")
    double = propose(old_member("B"), title="Du bio à la cantine", body="Bio à la cantine")
    client.force_login(people["member"])
    refused = client.post(
        f"/propositions/{first.pk}/reponse/", {"status": "accepted", "text": "Oui"}
    )
    assert refused.status_code == 403
    assert (
        "Seuls les organisateurs de cette consultation peuvent le faire."
        in refused.content.decode()
    )
    client.force_login(people["staff"])
    empty = client.post(f"/propositions/{first.pk}/reponse/", {"status": "accepted", "text": ""})
    assert "Écrivez le texte." in empty.content.decode()
    client.post(
        f"/propositions/{first.pk}/reponse/", {"status": "accepted", "text": "Retenue, **merci**."}
    )
    page = client.get(f"/propositions/{first.pk}/").content.decode()
    assert "Retenue" in page and "<strong>merci</strong>" in page
    bad = client.post(f"/propositions/{double.pk}/regrouper/", {"target": "abc"})
    assert "Indiquez le numéro de la proposition" in bad.content.decode()
    response = client.post(f"/propositions/{double.pk}/regrouper/", {"target": str(first.pk)})
    assert response["Location"] == f"/propositions/{first.pk}/"
    double.refresh_from_db()
    assert double.merged_into_id == first.pk
    page = client.get(f"/propositions/{double.pk}/").content.decode()
    assert (
        "Cette proposition a été regroupée avec" in page
        and f'href="/propositions/{first.pk}/"' in page
    )


# -- organisers' consultation form ----------------------------------------------------------------


def test_the_consultation_form_is_for_organisers(client, people):
    response = client.get("/equipe/consultations/nouvelle/")
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    client.force_login(people["member"])
    assert client.get("/equipe/consultations/nouvelle/").status_code == 403
    client.force_login(people["coord75"])
    assert client.get("/equipe/consultations/nouvelle/").status_code == 200


def test_staff_open_a_consultation_in_paris_time_and_see_french_errors(client, people):
    client.force_login(people["staff"])
    form = {
        "title": "Quels transports ?",
        "text": "Parlons **transports**.",
        "area": "",
        "opens_at": "2030-01-15T10:30",
        "proposals_close_at": "",
        "closes_at": "2030-01-10T10:30",
        "supports_per_member": "5",
        "publish": "on",
    }
    bad = client.post("/equipe/consultations/nouvelle/", form)
    assert bad.status_code == 400
    assert "La clôture doit venir après l&#x27;ouverture." in bad.content.decode()
    assert "Quels transports ?" in bad.content.decode()
    form["closes_at"] = "2030-02-15T18:00"
    response = client.post("/equipe/consultations/nouvelle/", form)
    consultation = Consultation.objects.get(title="Quels transports ?")
    assert response["Location"] == f"/consultations/{consultation.pk}/"
    assert consultation.opens_at.isoformat() == "2030-01-15T09:30:00+00:00"
    assert consultation.supports_per_member == 5 and consultation.area is None
    edit = client.get(f"/equipe/consultations/{consultation.pk}/modifier/").content.decode()
    assert 'value="2030-01-15T10:30"' in edit


def test_a_coordinator_opens_only_in_their_territory(client, people, consultation):
    client.force_login(people["coord13"])
    form = {
        "title": "Local",
        "area": "75",
        "opens_at": "2030-01-15T10:30",
        "closes_at": "2030-02-15T10:30",
    }
    response = client.post("/equipe/consultations/nouvelle/", form)
    assert response.status_code == 400
    assert "Vos rôles ne vous permettent pas d&#x27;ouvrir une consultation ici" in (
        response.content.decode()
    )
    assert client.get(f"/equipe/consultations/{consultation.pk}/modifier/").status_code == 403


# -- the French catalog -------------------------------------------------------------------------


def test_the_services_errors_the_pages_meet_have_a_french_text(
    consultation, old_member, propose, people
):
    """A new or reworded English message would reach members untranslated: this fails first."""
    from nextwork.common.errors import DomainError
    from nextwork.participation import forms

    author = old_member()
    proposal = propose(author)

    def support_twice():
        services.support_add(proposal_id=proposal.pk, member=people["member"])
        services.support_add(proposal_id=proposal.pk, member=people["member"])

    attempts = [
        support_twice,
        lambda: services.support_withdraw(proposal_id=proposal.pk, member=people["camille"]),
        lambda: services.comment_add(proposal=proposal, author=author, body=""),
        lambda: moderation.report_create(
            kind="proposal", target_id=proposal.pk, reason="spam", by=author
        ),
        lambda: services.proposal_merge(
            source_id=proposal.pk, target_id=proposal.pk, by=people["staff"]
        ),
        lambda: services.proposal_answer(
            proposal_id=proposal.pk, status="x", text="t", by=people["staff"]
        ),
        lambda: moderation.moderate(
            kind="proposal", target_id=proposal.pk, action="restore", by=people["staff"]
        ),
        lambda: moderation.review_request(
            kind="proposal", target_id=proposal.pk, note="n", by=author
        ),
        lambda: services.proposal_edit(proposal=proposal, by=people["member"], title="t", body="b"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as caught:
            attempt()
        assert forms.french(caught.value) != caught.value.message, caught.value.message


def test_a_comment_after_the_closing_is_refused_visibly(client, consultation, old_member, propose):
    import datetime

    from django.utils import timezone

    proposal = propose(old_member())
    past = timezone.now() - datetime.timedelta(days=1)
    Consultation.objects.filter(pk=consultation.pk).update(
        opens_at=past - datetime.timedelta(days=2), proposals_close_at=past, closes_at=past
    )
    client.force_login(old_member("Tardif"))
    response = client.post(f"/propositions/{proposal.pk}/commentaires/", {"body": "Trop tard ?"})
    html = response.content.decode()
    assert response.status_code == 400 and "Cette consultation est close." in html
    assert not Comment.objects.exists()


def test_a_date_out_of_range_is_told_in_french(client, people):
    client.force_login(people["staff"])
    response = client.post(
        "/equipe/consultations/nouvelle/",
        {"title": "Loin", "opens_at": "1999-01-01T10:00", "closes_at": "2030-01-01T10:00"},
    )
    assert response.status_code == 400
    assert "Indiquez une date entre 2000 et 2200." in response.content.decode()

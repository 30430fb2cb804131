"""The pages with which senders write to members: who may use them, what each scope offers,
drafts, preview, counts, the confirmation step, sending, alerts and community coordinators."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from nextwork.messaging import communities
from nextwork.messaging.models import (
    CommunityCoordinator,
    Message,
    MessageStatus,
)

pytestmark = pytest.mark.django_db

NEW = "/espace/messages/nouveau/"
ALERT = "/espace/alertes/nouvelle/"


def email_form(**changes) -> dict:
    form = {
        "channel": "email",
        "message_type": "newsletter",
        "scope": "national",
        "source": "filters",
        "areas": "",
        "confirmed": "on",
        "subject": "Bonjour {{ first_name }}",
        "body_html": "<p>Bonjour {{ first_name }}, vous êtes en {{ constituency }}.</p>",
        "body_text": "",
        "action": "save",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def scope_options(html: str) -> list[str]:
    select = re.search(r'<select id="scope" name="scope".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)


def type_options(html: str) -> list[str]:
    select = re.search(r'<select id="message_type".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)


@pytest.fixture
def audience(people, place, consenting, make_member):
    """Three members in Paris who accept newsletters and alerts by email, one in Marseille."""
    paris = [consenting(make_member(name)) for name in ("Alice", "Bastien", "Chloé")]
    for member in paris:
        place(member, "75-02")
    marseille = consenting(make_member("Marius"))
    place(marseille, "13-01")
    place(people["staff"], "75-02")
    place(people["coord75"], "75-03")
    return {"paris": paris, "marseille": marseille}


@pytest.fixture
def jeunes(people, make_member):
    community = communities.community_create(actor=people["staff"], name="Jeunes")
    coordinator = make_member("Inès")
    communities.coordinator_grant(actor=people["staff"], community=community, member=coordinator)
    communities.community_create(actor=people["staff"], name="Seniors")
    return {"community": community, "coordinator": coordinator}


# -- who may use the pages ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/espace/messages/", NEW, ALERT])
def test_a_plain_member_or_a_relay_is_refused_with_a_clear_page(client, people, url):
    for who in ("member", "camille"):
        client.force_login(people[who])
        response = client.get(url)
        assert response.status_code == 403
        assert "Seuls l&#x27;équipe nationale" in response.content.decode()
    assert client.post(url, email_form()).status_code == 403
    assert not Message.objects.exists()


def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get("/espace/messages/")
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_the_space_links_to_messages_only_for_senders(client, people, jeunes):
    client.force_login(people["member"])
    assert "/espace/messages/" not in client.get("/espace/").content.decode()
    for who in (people["staff"], people["coord75"], jeunes["coordinator"]):
        client.force_login(who)
        page = client.get("/espace/").content.decode()
        assert 'href="/espace/messages/"' in page
        assert 'href="/espace/alertes/nouvelle/"' in page


# -- scopes -------------------------------------------------------------------------------------


def test_staff_choose_national_or_any_community(client, people, jeunes):
    client.force_login(people["staff"])
    html = client.get(NEW).content.decode()
    assert scope_options(html) == ["national"]
    assert type_options(html) == ["newsletter", "campaign", "alert", "community"]


def test_a_department_coordinator_writes_only_under_their_department(client, people, audience):
    client.force_login(people["coord75"])
    html = client.get(NEW).content.decode()
    assert scope_options(html) == ["area:75"]

    forged = client.post(NEW, email_form(scope="area:13"))
    assert forged.status_code == 400
    page = forged.content.decode()
    assert "13 n&#x27;est pas dans le territoire que vous coordonnez" in page
    assert 'id="scope-error"' in page  # next to the scope field
    national = client.post(NEW, email_form(scope="national"))
    assert national.status_code == 400
    assert "Seule l&#x27;équipe nationale écrit à tous les membres" in national.content.decode()
    assert not Message.objects.exists()

    # Counting outside the territory is refused the same way.
    count = client.post(NEW, email_form(scope="area:13", action="count"))
    assert "13 n&#x27;est pas dans le territoire" in count.content.decode()

    saved = client.post(NEW, email_form(scope="area:75"))
    assert saved.status_code == 302
    message = Message.objects.get()
    assert message.scope_area.code == "75" and message.created_by == people["coord75"]


def test_a_community_coordinator_picks_only_their_community_and_community_news(
    client, people, jeunes
):
    community, coordinator = jeunes["community"], jeunes["coordinator"]
    client.force_login(coordinator)
    html = client.get(NEW).content.decode()
    assert scope_options(html) == [f"community:{community.slug}"]
    assert type_options(html) == ["community"]

    other = client.post(NEW, email_form(scope="community:seniors", message_type="community"))
    assert other.status_code == 400
    assert "Vous ne coordonnez pas la communauté « seniors »" in other.content.decode()
    newsletter = client.post(NEW, email_form(scope=f"community:{community.slug}"))
    assert newsletter.status_code == 400
    assert "nouvelles des communautés" in newsletter.content.decode()
    assert 'id="message_type-error"' in newsletter.content.decode()
    assert not Message.objects.exists()

    ok = client.post(NEW, email_form(scope=f"community:{community.slug}", message_type="community"))
    assert ok.status_code == 302
    assert Message.objects.get().scope_community == community


# -- drafts, preview, count, send ---------------------------------------------------------------


def test_a_draft_is_created_from_the_form(client, people, audience):
    client.force_login(people["staff"])
    response = client.post(
        NEW,
        email_form(
            areas="75, 13-01",
            roles=["relay"],
            exclude_community="",
            active_days="",
            language="fr",
            body_text="Version texte",
        ),
    )
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/espace/messages/{message.pk}/"
    assert message.status == MessageStatus.DRAFT
    assert message.channel == "email" and message.message_type == "newsletter"
    assert message.subject == "Bonjour {{ first_name }}"
    assert message.body_text == "Version texte"
    assert message.definition == {
        "and": [{"area": ["75", "13-01"]}, {"role": ["relay"]}, {"confirmed": True},
                {"language": ["fr"]}]
    }  # fmt: skip
    assert message.scope_area is None and message.scope_community is None


def test_errors_are_shown_next_to_their_field(client, people, audience):
    client.force_login(people["staff"])
    page = client.post(NEW, email_form(subject="")).content.decode()
    assert 'id="subject-error">Un courriel a besoin d&#x27;un objet.' in page
    page = client.post(NEW, email_form(body_html="<p>{{ prenom }}</p>")).content.decode()
    assert 'id="body_html-error">La variable {{ prenom }} n&#x27;existe pas' in page
    page = client.post(NEW, email_form(areas="75, ZZ")).content.decode()
    assert 'id="areas-error">Aucune zone « ZZ »' in page
    page = client.post(NEW, email_form(active_days="beaucoup")).content.decode()
    assert 'id="active_days-error">Un nombre de jours' in page
    sms = email_form(channel="sms", sms_text="Lien : {{ unsubscribe_url }}")
    page = client.post(NEW, sms).content.decode()
    assert 'id="sms_text-error">{{ unsubscribe_url }} ne sert qu&#x27;aux courriels' in page
    assert not Message.objects.exists()
    # What was typed is kept.
    assert "Lien : {{ unsubscribe_url }}</textarea>" in page


def test_count_gives_members_and_reachable_before_saving(client, people, audience, make_member):
    unconsenting = make_member("Zoé")
    from nextwork.network.models import MemberLocation, Precision
    from nextwork.territories.models import Area

    MemberLocation.objects.create(
        member=unconsenting,
        constituency=Area.objects.get(kind="constituency", code="75-02", boundary_set__active=True),
        precision=Precision.POSTCODE,
    )
    client.force_login(people["staff"])
    page = client.post(NEW, email_form(areas="75-02", action="count")).content.decode()
    # Alice, Bastien, Chloé, Zoé and the staff member live in 75-02; three accept newsletters.
    assert "<strong>5</strong> membres dans ce public" in page
    assert "<strong>3</strong> joignables par courriel" in page
    assert not Message.objects.exists()
    # The inline script asks for the box alone.
    box = client.post(
        NEW, email_form(areas="75-02", action="count"), HTTP_X_REQUESTED_WITH="count"
    ).content.decode()
    assert "<strong>5</strong>" in box and "<html" not in box


def test_an_sms_count_gives_segments_and_cost(client, people, audience, consenting, settings):
    settings.NEXTWORK_SMS_PRICE_PER_SEGMENT = "0.05"
    for member in audience["paris"]:
        member.phone = "+33612345678"
        member.save(update_fields=["phone"])
        consenting(member, channel="sms", types=["newsletter"])
    client.force_login(people["staff"])
    text = "Rendez-vous samedi à 10 h devant la mairie. " * 4  # 180 characters, GSM-7
    page = client.post(
        NEW, email_form(channel="sms", sms_text=text, areas="75", action="count")
    ).content.decode()
    assert "<strong>3</strong> joignables par SMS" in page
    assert "2 SMS par membre (GSM-7" in page
    assert "<strong>6</strong> SMS au total" in page
    assert "0,30 €" in page
    page = client.post(
        NEW, email_form(channel="sms", sms_text="Ça bouge ! Êtes-vous prêts ?", action="count")
    ).content.decode()
    assert "UCS-2" in page and "Ê" in page


@pytest.fixture
def draft(client, people, audience):
    client.force_login(people["staff"])
    client.post(NEW, email_form(areas="75"))
    return Message.objects.get()


def test_the_draft_page_previews_with_the_authors_values(client, people, draft):
    page = client.get(f"/espace/messages/{draft.pk}/").content.decode()
    # The subject and the HTML filled with the author's own first name and constituency.
    assert "<h1>Bonjour Sacha</h1>" in page
    frame = re.search(r'<iframe[^>]*srcdoc="([^"]*)"', page)
    assert frame is not None and " sandbox " in frame.group(0)
    assert "Bonjour Sacha, vous êtes en 75-02." in frame.group(1)
    assert "Content-Security-Policy" in frame.group(1)
    assert "{{ first_name }}" not in frame.group(1)
    # The live count of the audience (three consenting members in Paris, staff is not).
    assert "<strong>3</strong> joignables par courriel" in page
    assert "Envoyer un test" in page


def test_a_test_send_goes_to_the_author_only(client, people, draft):
    response = client.post(f"/espace/messages/{draft.pk}/test/", follow=True)
    assert "Un exemplaire de test vous a été envoyé" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[people["staff"].email]]
    assert mail.outbox[0].subject == "[TEST] Bonjour Sacha"
    assert Message.objects.get().status == MessageStatus.DRAFT


def test_the_confirmation_states_the_count_then_sending_queues(client, people, draft):
    confirm = client.get(f"/espace/messages/{draft.pk}/envoyer/").content.decode()
    assert "Envoyer à 3 membres ?" in confirm
    assert Message.objects.get().status == MessageStatus.DRAFT  # a GET sends nothing
    response = client.post(f"/espace/messages/{draft.pk}/envoyer/", follow=True)
    draft.refresh_from_db()
    assert draft.status == MessageStatus.QUEUED
    page = response.content.decode()
    assert "Message en file d&#x27;envoi" in page
    assert "Suivi de l'envoi" in page and "Annuler l'envoi" in page
    # Sending twice is refused, in French.
    again = client.post(f"/espace/messages/{draft.pk}/envoyer/", follow=True)
    assert "n&#x27;est plus un brouillon" in again.content.decode()


def test_a_queued_message_can_be_cancelled(client, people, draft):
    client.post(f"/espace/messages/{draft.pk}/envoyer/")
    client.post(f"/espace/messages/{draft.pk}/annuler/")
    draft.refresh_from_db()
    assert draft.status == MessageStatus.CANCELLED
    twice = client.post(f"/espace/messages/{draft.pk}/annuler/", follow=True).content.decode()
    assert "Ce message est déjà « annulé »" in twice


def test_others_messages_are_not_found_and_the_list_is_scoped(client, people, draft, audience):
    client.force_login(people["coord75"])
    assert client.get(f"/espace/messages/{draft.pk}/").status_code == 404
    assert client.post(f"/espace/messages/{draft.pk}/envoyer/").status_code == 404
    client.post(NEW, email_form(scope="area:75", subject="Réunion à Paris"))
    listing = client.get("/espace/messages/").content.decode()
    assert "Réunion à Paris" in listing and "Bonjour {{ first_name }}" not in listing
    client.force_login(people["staff"])
    listing = client.get("/espace/messages/").content.decode()
    assert "Réunion à Paris" in listing and "Bonjour {{ first_name }}" in listing
    assert listing.index("Réunion à Paris") < listing.index("Bonjour {{ first_name }}")


def test_start_again_from_a_draft_fills_the_form(client, people, draft):
    page = client.get(f"{NEW}?depuis={draft.pk}").content.decode()
    assert 'value="Bonjour {{ first_name }}"' in page
    assert 'name="areas" value="75"' in page


# -- alerts -------------------------------------------------------------------------------------


def alert_form(**changes) -> dict:
    form = {
        "channels": ["email", "sms"],
        "scope": "national",
        "source": "filters",
        "areas": "75",
        "confirmed": "on",
        "subject": "Vote demain",
        "body": "Le vote a lieu demain à 15 h : écrivez à votre député.",
        "action": "review",
    }
    form.update(changes)
    return form


def test_an_alert_is_confirmed_with_its_counts_then_sent(client, people, audience, consenting):
    member = audience["paris"][0]
    member.phone = "+33612345678"
    member.save(update_fields=["phone"])
    consenting(member, channel="sms", types=["alert"])
    client.force_login(people["staff"])
    review = client.post(ALERT, alert_form())
    page = review.content.decode()
    assert review.status_code == 200
    assert "<strong>3</strong> membres joignables par courriel" in page
    assert "<strong>1</strong> membre joignable par SMS" in page
    assert not Message.objects.exists()  # nothing written before the confirmation
    # The confirmation carries every field back.
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert hidden["areas"] == "75" and hidden["subject"] == "Vote demain"

    response = client.post(ALERT, alert_form(action="confirm"), follow=True)
    assert response.redirect_chain[-1][0] == "/espace/messages/"
    assert "Alerte envoyée" in response.content.decode()
    alerts = Message.objects.filter(is_alert=True)
    assert sorted(alerts.values_list("channel", flat=True)) == ["email", "sms"]
    assert set(alerts.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    assert set(alerts.values_list("message_type", flat=True)) == {"alert"}


def test_alert_errors_are_shown_and_nothing_is_sent(client, people, audience):
    client.force_login(people["staff"])
    page = client.post(ALERT, alert_form(channels=[])).content.decode()
    assert "Choisissez au moins un canal" in page
    page = client.post(ALERT, alert_form(channels=["email"], subject="")).content.decode()
    assert 'id="subject-error">Un courriel a besoin d&#x27;un objet.' in page
    page = client.post(ALERT, alert_form(action="edit")).content.decode()
    assert "Vote demain" in page and "Vérifier avant d'envoyer" in page
    client.force_login(people["coord75"])
    page = client.post(ALERT, alert_form(scope="area:13", action="confirm")).content.decode()
    assert "13 n&#x27;est pas dans le territoire" in page
    assert not Message.objects.exists()


# -- community coordinators ---------------------------------------------------------------------


def test_staff_name_and_end_community_coordinators(client, people, jeunes):
    community = jeunes["community"]
    url = f"/espace/communautes/{community.slug}/coordination/"
    client.force_login(people["coord75"])
    assert client.get(url).status_code == 403
    client.force_login(people["staff"])
    page = client.get(url).content.decode()
    assert jeunes["coordinator"].email in page

    lou = people["member"]
    client.post(url, {"action": "grant", "email": lou.email.upper()})
    assert CommunityCoordinator.objects.filter(
        community=community, member=lou, valid_to__isnull=True
    ).exists()
    again = client.post(url, {"action": "grant", "email": lou.email})
    assert again.status_code == 400
    assert "Ce membre coordonne déjà cette communauté." in again.content.decode()
    unknown = client.post(url, {"action": "grant", "email": "personne@example.org"})
    assert "Aucun membre n&#x27;a cette adresse" in unknown.content.decode()

    client.post(url, {"action": "end", "member": str(lou.public_id)})
    assert not CommunityCoordinator.objects.filter(
        community=community, member=lou, valid_to__isnull=True
    ).exists()
    assert client.get("/espace/communautes/inconnue/coordination/").status_code == 404

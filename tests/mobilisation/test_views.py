"""The mobilisation pages: the public calendar, the voting situation under its consent, the
member's proxies and the coordinators' page; errors next to their field, nothing typed lost,
nobody sees what is not theirs."""

from __future__ import annotations

import datetime
import html

import pytest
from django.test import Client

from nextwork.mobilisation import services
from nextwork.mobilisation.models import ProxyMatch, ProxyOffer, ProxyRequest, VotingSituation

PROXIES = "/espace/procurations/"
COORDINATION = "/espace/procurations/coordination/"
SITUATION = "/espace/situation-electorale/"


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def test_the_calendar_is_public_with_the_official_links(client, election, people):
    services.election_create(
        by=people["staff"], kind="municipales", name="Municipales brouillon", slug="brouillon",
        registration_deadline=datetime.date(2030, 1, 1),
        rounds=[services.RoundIn(1, datetime.date(2030, 3, 1))],
    )  # fmt: skip
    page = text_of(client.get("/elections/"))
    assert election.name in page and "brouillon" not in page.lower()
    assert "service-public.fr/particuliers/vosdroits/services-en-ligne-et-formulaires/ISE" in page
    assert "maprocuration.gouv.fr" in page and "1er tour" in page and "2d tour" in page
    detail = client.get(f"/elections/{election.slug}/")
    assert detail.status_code == 200 and "Inscription sur les listes jusqu" in text_of(detail)
    assert client.get("/elections/brouillon/").status_code == 404


def test_member_pages_need_a_login(client):
    for url in (SITUATION, PROXIES, COORDINATION, SITUATION + "retirer/"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion/" in response["Location"], url


def test_the_situation_needs_the_unticked_box_and_keeps_what_was_typed(client, make_member):
    member = make_member("Zoe")
    client.force_login(member)
    form = text_of(client.get(SITUATION))
    assert (
        'name="consent" value="yes"' in form
        and "checked" not in form.split('name="consent"')[1][:40]
    )
    assert "conserve ce que je choisis de dire" in form and "{organisation}" not in form
    refused = client.post(SITUATION, {"registered": "yes", "commune": "75011",
                                      "polling_station": "École Voltaire"})  # fmt: skip
    assert refused.status_code == 400
    page = text_of(refused)
    assert 'id="consent-error"' in page and "Cochez la case" in page
    assert 'value="École Voltaire"' in page and 'value="75011"' in page
    assert not VotingSituation.objects.filter(member=member).exists()
    typed = {"registered": "yes", "commune": "75011", "polling_station": "École Voltaire"}
    saved = client.post(SITUATION, {**typed, "consent": "yes"})
    assert saved.status_code == 302
    situation = VotingSituation.objects.get(member=member)
    assert situation.commune.code == "75111" and situation.registered == "yes"  # by postcode
    page = text_of(client.get(SITUATION))
    assert "enregistrée" in page and 'name="consent"' not in page and "Retirer mon accord" in page


def test_a_code_that_names_two_communes_asks_which(client, make_member):
    member = make_member("Marius")
    client.force_login(member)
    # 13001: Aix-en-Provence's INSEE code, and the postcode of Marseille's 1st arrondissement.
    asked = client.post(SITUATION, {"commune": "13001", "consent": "yes"})
    assert asked.status_code == 400
    page = text_of(asked)
    assert "plusieurs communes" in page and 'value="13201"' in page and 'value="13001"' in page
    client.post(SITUATION, {"commune": "13001", "commune_choice": "13201", "consent": "yes"})
    assert VotingSituation.objects.get(member=member).commune.code == "13201"
    bad = client.post(SITUATION, {"commune": "00000"})
    assert 'id="commune-error"' in text_of(bad)


def test_withdrawing_asks_first_then_erases(client, voter, first_round):
    member = voter("Rania")
    services.request_create(member=member, round_id=first_round.pk)
    client.force_login(member)
    confirm = client.get(SITUATION + "retirer/")
    assert "Oui, retirer mon accord" in text_of(confirm) and "sera annulée" in text_of(confirm)
    assert VotingSituation.objects.filter(member=member).exists()
    client.post(SITUATION + "retirer/")
    assert not VotingSituation.objects.filter(member=member).exists()
    assert ProxyRequest.objects.get(member=member).status == "cancelled"


def test_posts_need_the_csrf_token(voter):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(voter())
    assert browser.post(PROXIES, {"action": "request"}).status_code == 403
    assert browser.post(SITUATION + "retirer/").status_code == 403
    assert VotingSituation.objects.exists()


def test_asking_and_offering_on_the_proxies_page(client, voter, first_round, make_member):
    client.force_login(make_member("Zoe"))
    assert "indiquez d'abord votre situation" in text_of(client.get(PROXIES))

    rania = voter("Rania")
    client.force_login(rania)
    page = text_of(client.get(PROXIES))
    assert "je cherche un mandataire" in page and "Je peux porter une procuration" in page
    wrong = client.post(PROXIES, {"action": "request", "round": first_round.pk,
                                  "commune": "99999"})  # fmt: skip
    assert wrong.status_code == 400
    page = text_of(wrong)
    assert f'id="commune-{first_round.pk}-error"' in page and 'value="99999"' in page
    assert '<details class="ask" open>' in page
    done = client.post(PROXIES, {"action": "request", "round": first_round.pk, "commune": "75056",
                                 "anchor": f"#tour-{first_round.pk}"})  # fmt: skip
    assert done.status_code == 302 and done["Location"].endswith(f"#tour-{first_round.pk}")
    page = text_of(client.get(PROXIES))
    assert "Vous cherchez un mandataire pour voter à <strong>Paris</strong>" in page
    again = client.post(PROXIES, {"action": "offer", "round": first_round.pk,
                                  "communes": "75056"})  # fmt: skip
    assert "vous ne pouvez pas en porter une" in text_of(again)
    request = ProxyRequest.objects.get(member=rania)
    client.post(PROXIES, {"action": "cancel", "request": request.pk})
    assert ProxyRequest.objects.get(pk=request.pk).status == "cancelled"
    client.post(PROXIES, {"action": "offer", "round": first_round.pk, "communes": "75056, 92100"})
    offer = ProxyOffer.objects.get(member=rania, active=True)
    assert sorted(c.code for c in offer.communes.all()) == ["75056", "92012"]
    client.post(PROXIES, {"action": "withdraw", "offer": offer.pk})
    # 13001: Aix-en-Provence's INSEE code and Marseille 1er's postcode.
    asked = text_of(client.post(PROXIES, {"action": "offer", "round": first_round.pk,
                                          "communes": "75056, 13001"}))  # fmt: skip
    assert "Aix-en-Provence (13001), Marseille 1er Arrondissement (13201)" in asked
    assert 'value="75056, 13001"' in asked


def test_a_past_round_is_refused_next_to_the_form(client, voter, election):
    from django.utils import timezone

    close = election.rounds.get(number=1)
    close.date = timezone.localdate() + datetime.timedelta(days=1)
    close.save()
    client.force_login(voter())
    refused = client.post(PROXIES, {"action": "request", "round": close.pk, "commune": "75056"})
    assert refused.status_code == 400
    assert "adressez-vous maintenant directement à votre mairie" in text_of(refused)


def test_coordination_is_scoped_and_the_match_goes_through(client, voter, first_round, people):
    rania, hugo, third = voter("Rania"), voter("Hugo"), voter("Tiago")
    request = services.request_create(member=rania, round_id=first_round.pk)
    offer = services.offer_create(member=hugo, round_id=first_round.pk, commune_codes=["75056"])
    marseille = services.request_create(member=voter("Marius", "13055"), round_id=first_round.pk)

    client.force_login(people["member"])
    assert client.get(COORDINATION).status_code == 403
    client.force_login(people["coord13"])
    page = text_of(client.get(COORDINATION))
    assert "Marius" in page and "Rania" not in page and "Hugo" not in page
    refused = client.post(COORDINATION, {"action": "propose", "round": first_round.pk,
                                         "request": request.pk, "offer": offer.pk})  # fmt: skip
    assert refused.status_code == 400 and "n'existe pas" in text_of(refused)
    assert not ProxyMatch.objects.exists()

    client.force_login(people["coord75"])
    page = text_of(client.get(COORDINATION))
    assert "Rania" in page and "Hugo" in page and "Marius" not in page
    assert rania.email not in page and rania.last_name not in page
    made = client.post(COORDINATION, {"action": "propose", "round": first_round.pk,
                                      "request": request.pk, "offer": offer.pk})  # fmt: skip
    assert made.status_code == 302
    match = ProxyMatch.objects.get()
    assert "proposée" in text_of(client.get(COORDINATION))
    run = client.post(COORDINATION, {"action": "run", "round": first_round.pk, "radius_km": "abc"})
    assert run.status_code == 400 and "rayon de 0 à 200" in text_of(run)

    for member in (rania, hugo):
        client.force_login(member)
        page = text_of(client.get(PROXIES))
        assert "J'accepte" in page
        assert (hugo if member == rania else rania).email not in page
        client.post(PROXIES, {"action": "accept", "match": match.pk})
    client.force_login(rania)
    page = text_of(client.get(PROXIES))
    assert hugo.email in page and hugo.last_name in page and "maprocuration.gouv.fr" in page
    client.post(PROXIES, {"action": "declared", "match": match.pk})
    assert ProxyMatch.objects.get().status == "declared"
    client.force_login(hugo)
    page = text_of(client.get(PROXIES))
    assert rania.email in page and "le jour du vote" in page.lower()
    early = client.post(PROXIES, {"action": "voted", "match": match.pk})
    assert early.status_code == 400

    client.force_login(third)
    page = text_of(client.get(PROXIES))
    assert "Rania" not in page and "Hugo" not in page
    stolen = client.post(PROXIES, {"action": "decline", "match": match.pk})
    assert stolen.status_code == 400 and ProxyMatch.objects.get().status == "declared"
    assert marseille.status == "requested"


def test_automatic_matching_from_the_page(
    client, voter, first_round, people, django_capture_on_commit_callbacks
):
    from nextwork.mobilisation.models import MatchRun

    services.request_create(member=voter("Rania"), round_id=first_round.pk)
    services.offer_create(member=voter("Hugo"), round_id=first_round.pk, commune_codes=["75056"])
    client.force_login(people["coord75"])
    run = {"action": "run", "round": first_round.pk, "radius_km": "20"}
    with django_capture_on_commit_callbacks() as queued:
        started = text_of(client.post(COORDINATION, run, follow=True))
    assert len(queued) == 1 and "Appariement lancé" in started
    assert "Appariement en cours (jusqu'à 20 km)" in started
    again = client.post(COORDINATION, run)  # while it runs: refused, said next to the round
    assert again.status_code == 400 and "under way" not in text_of(again)
    assert "Un appariement de ce tour que vous avez lancé est en cours" in text_of(again)
    services.match_run_do(MatchRun.objects.get().pk)  # what the worker does
    page = text_of(client.get(COORDINATION))
    assert "1 mise(s) en relation proposée(s) (1 dans la même commune" in page
    assert ProxyMatch.objects.count() == 1
    # Hugo carries a French proxy now: no longer listed among the holders available.
    assert "<strong>0</strong> mandataires disponibles" in page
    assert "Aucun mandataire disponible." in page


def test_long_lists_show_the_first_hundred_and_the_totals(client, voter, first_round, people):
    from nextwork.mobilisation.views import LISTED

    for i in range(LISTED + 5):
        services.request_create(member=voter(f"V{i}"), round_id=first_round.pk)
    client.force_login(people["coord75"])
    page = text_of(client.get(COORDINATION))
    assert f"<strong>{LISTED + 5}</strong> demandes en attente" in page
    assert f"Les {LISTED} plus anciennes demandes sur {LISTED + 5}." in page
    assert "V0</strong>" in page and f"V{LISTED + 4}</strong>" not in page


@pytest.mark.parametrize("who", ["coord75", "staff", "member"])
def test_the_member_space_links_the_pages(client, people, who):
    client.force_login(people[who])
    page = text_of(client.get("/espace/"))
    assert "Ma situation électorale" in page and "Mes procurations" in page
    assert ("Procurations de mon territoire" in page) == (who != "member")


def test_the_admin_enters_elections_and_lists_proxies_without_people(
    client, voter, first_round, people
):
    from nextwork.network.models import Member

    request = services.request_create(member=voter("Rania"), round_id=first_round.pk)
    offer = services.offer_create(member=voter("Hugo"), round_id=first_round.pk,
                                  commune_codes=["75056"])  # fmt: skip
    services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    admin = Member.objects.create_superuser("admin.mob@example.org", "x" * 20)
    client.force_login(admin)
    assert client.get("/admin/mobilisation/election/add/").status_code == 200
    assert "Round" in text_of(
        client.get(f"/admin/mobilisation/election/{first_round.election_id}/change/")
    )
    for model in ("proxyrequest", "proxyoffer", "proxymatch"):
        page = text_of(client.get(f"/admin/mobilisation/{model}/"))
        assert "75056" in page, model
        assert "Rania" not in page and "Hugo" not in page and '@example.org"' not in page
    assert client.get(f"/admin/mobilisation/proxymatch/{request.pk}/delete/").status_code == 403


@pytest.mark.parametrize("field", ["round", "request", "match"])
def test_odd_digits_in_a_form_are_a_clear_refusal_not_an_error(client, people, field):
    client.force_login(people["coord75"])
    for page, action in ((PROXIES, "request"), (PROXIES, "cancel"), (COORDINATION, "propose")):
        answer = client.post(page, {"action": action, field: "²"})
        assert answer.status_code == 400, (page, action)

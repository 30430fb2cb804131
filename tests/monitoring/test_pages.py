"""The monitoring pages: staff only; the rule's series as SVG with its spikes, its messages
and authors, CSV exports (formulas neutralised), following a rule, a new rule whose errors
come back in French next to their field with what was typed, the sources' health, and the
representatives' rules generated from the registry."""

from __future__ import annotations

import csv
import datetime
import html
import io

import pytest
from django.utils import timezone

from nextwork.monitoring import services
from nextwork.monitoring.models import Source, Spike, WatchRule
from nextwork.monitoring.services import PostIn

HOME = "/espace/veille/"


def text_of(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def watched(rule, people):
    made = rule("Retraites", ["retraites", "#RéformeDesRetraites"], exclusions=["complémentaires"])
    now = timezone.now()
    services.store_posts(source=None, posts=[
        PostIn(network="mastodon", external_id=str(i), text=f"La réforme des retraites {i}",
               author_handle="@alice@social.example" if i % 2 else "=cmd|' /C calc'!A0",
               url=f"https://social.example/@alice/{i}",
               published_at=now - datetime.timedelta(minutes=3 * i))
        for i in range(12)
    ])  # fmt: skip
    Spike.objects.create(rule=made, start=now - datetime.timedelta(minutes=20),
                         peak=now - datetime.timedelta(minutes=18),
                         end=now - datetime.timedelta(minutes=10), count=42, expected=3.2,
                         score=9.1)  # fmt: skip
    return made


@pytest.mark.parametrize("who", ["member", "coord75", "camille"])
def test_only_staff_see_the_pages(client, people, watched, who):
    assert client.get(HOME).status_code == 302  # to the login page
    client.force_login(people[who])
    for url in (HOME, f"{HOME}regles/{watched.pk}/", f"{HOME}sources/", f"{HOME}elus/",
                f"{HOME}regles/nouvelle/", f"{HOME}regles/{watched.pk}/serie.csv"):  # fmt: skip
        assert client.get(url).status_code == 403, url


def test_the_rule_page_draws_the_series_and_lists_messages_and_authors(client, people, watched):
    client.force_login(people["staff"])
    home = text_of(client.get(HOME))
    assert "Retraites" in home and "42 messages en 5 min" in home
    page = client.get(f"{HOME}regles/{watched.pk}/")
    body = text_of(page)
    assert page.status_code == 200
    assert "<svg" in body and 'class="spike"' in body and 'class="peak"' in body
    assert "12 mentions" in body and "@alice@social.example" in body
    assert "complémentaires" in body  # the exclusion, shown struck through
    week = text_of(client.get(f"{HOME}regles/{watched.pk}/?periode=7j"))
    assert "<svg" in week
    assert client.get(f"{HOME}regles/999999/").status_code == 404


def test_the_csv_exports_neutralise_formulas(client, people, watched):
    client.force_login(people["staff"])
    series = list(csv.reader(io.StringIO(
        client.get(f"{HOME}regles/{watched.pk}/serie.csv").content.decode())))  # fmt: skip
    assert series[0] == ["Début (UTC)", "Messages"] and len(series) == 1 + 24 * 60 + 1
    assert sum(int(row[1]) for row in series[1:]) == 12
    rows = list(csv.reader(io.StringIO(
        client.get(f"{HOME}regles/{watched.pk}/messages.csv").content.decode())))  # fmt: skip
    assert len(rows) == 13
    assert {r[2] for r in rows[1:]} == {"@alice@social.example", "'=cmd|' /C calc'!A0"}


def test_following_a_rule_from_its_page(client, people, watched):
    client.force_login(people["staff"])
    client.post(f"{HOME}regles/{watched.pk}/suivre/", {"follow": "0"})
    assert not watched.followers.filter(pk=people["staff"].pk).exists()
    page = text_of(client.post(f"{HOME}regles/{watched.pk}/suivre/", {"follow": "1"}, follow=True))
    assert watched.followers.filter(pk=people["staff"].pk).exists()
    assert "Ne plus recevoir ses alertes" in page


def test_a_new_rule_keeps_what_was_typed_and_says_what_is_wrong_in_french(client, people):
    client.force_login(people["staff"])
    url = f"{HOME}regles/nouvelle/"
    sent = {"name": "Loi travail", "terms": "loi travail\n!\n#LoiTravail", "exclusions": "",
            "languages": "fr", "min_count": "10"}  # fmt: skip
    refused = client.post(url, sent)
    page = text_of(refused)
    assert refused.status_code == 400 and "Terme n° 2 refusé" in page
    assert "loi travail\n!\n#LoiTravail" in page and not WatchRule.objects.exists()
    page = text_of(client.post(url, {**sent, "terms": "loi travail", "min_count": "dix"}))
    assert "Seuil : un nombre entier" in page
    made = client.post(url, {**sent, "terms": "loi travail, #LoiTravail"})
    rule = WatchRule.objects.get()
    assert made.status_code == 302 and made["Location"] == f"{HOME}regles/{rule.pk}/"
    assert rule.terms == ["loi travail", "#LoiTravail"] and rule.languages == ["fr"]


def test_the_sources_page_shows_their_health(client, people):
    services.source_create(by=people["staff"], kind="rss", name="Quotidien",
                           config={"url": "https://quotidien.example/rss"})  # fmt: skip
    broken, _ = services.source_create(by=people["staff"], kind="rss", name="Blog en panne",
                                       config={"url": "https://blog.example/rss"})  # fmt: skip
    Source.objects.filter(pk=broken.pk).update(
        failures=3, last_error="HTTP 500 from the feed's server.", last_error_at=timezone.now()
    )
    client.force_login(people["staff"])
    page = text_of(client.get(f"{HOME}sources/"))
    assert "jamais lue" in page and "3 échecs de suite" in page
    assert "HTTP 500 from the feed's server." in page
    assert "1 source ne répond plus" in text_of(client.get(HOME))


def test_representatives_rules_come_from_the_registry(client, people, registry):
    from nextwork.territories.models import Mandate

    client.force_login(people["staff"])
    done = text_of(client.post(f"{HOME}elus/", follow=True))
    current = Mandate.objects.filter(boundary_set__active=True, end__isnull=True).count()
    assert WatchRule.objects.filter(kind="representative", active=True).count() == current
    assert f"{current} créées" in done
    again = services.representative_rules_sync(by=people["staff"])
    assert again == {"created": 0, "updated": 0, "ended": 0}
    someone = Mandate.objects.filter(boundary_set__active=True, end__isnull=True).first()
    rule = WatchRule.objects.get(person_id=someone.person_id, chamber=someone.chamber)
    assert rule.terms == [f"{someone.first_name} {someone.last_name}"]


@pytest.mark.parametrize(("who", "sees"), [("member", False), ("camille", True), ("coord13", True)])
def test_the_member_space_links_presence_and_publishing_for_those_who_speak_for_an_area(
    client, people, who, sees
):
    client.force_login(people[who])
    page = text_of(client.get("/espace/"))
    assert ("Publier sur nos réseaux" in page) is sees
    assert ("/espace/veille/presence/" in page) is sees

"""The pages of the presence audit and of publishing: scoped as the selectors say (a member
gets a 403, a relay sees their area, the coordinator of 13 nothing of 75's); a channel with a
bad address keeps what was typed and says why in French; an audit run from the page against
recorded answers shows its score, its findings and the progress; profiles typed by hand;
composing checks each channel without publishing, publishing creates targets without calling
any network, and the log shows what became of each."""

from __future__ import annotations

import datetime
import html
import re

import pytest

from nextwork.monitoring import presence, publishing
from nextwork.monitoring.models import (
    Channel,
    ChannelSnapshot,
    PresenceReport,
    Publication,
    PublicationTarget,
    TargetStatus,
)
from nextwork.monitoring.presence import services
from nextwork.privacy.models import AuditEvent
from tests.monitoring import test_presence
from tests.recorded_server import RecordedServer

PRESENCE = "/espace/veille/presence/"
PUBLISH = "/espace/veille/publier/"
LOG = "/espace/veille/publications/"

# The recorded website, Mastodon instance and Bluesky AppView of the presence tests.
net = test_presence.net
presence_of = test_presence.presence_of


def text_of(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture(autouse=True)
def local_servers_allowed(monkeypatch):
    monkeypatch.setattr(presence, "ALLOW_PRIVATE_ADDRESSES", True)


@pytest.fixture
def local(people, area):
    """A channel of the organisation, one of 75-02 (typed by hand, audited: no network) and
    one of 13-01."""
    staff = people["staff"]
    national = services.channel_create(
        by=staff, kind="bluesky", url="https://bsky.app/profile/nextwork.bsky.social"
    )
    paris = services.channel_create(
        by=people["camille"],
        kind="youtube",
        area=area("75-02"),
        url="https://www.youtube.com/@relais7502",
        label="Relais 75-02",
    )
    services.snapshot_enter(
        by=people["camille"],
        channel=paris,
        name="Relais 75-02",
        last_post_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
    )
    marseille = services.channel_create(
        by=people["coord13"],
        kind="facebook",
        area=area("13-01"),
        url="https://www.facebook.com/relais1301",
    )
    report = services.presence_audit(by=people["camille"], area=area("75-02"))
    return {"national": national, "paris": paris, "marseille": marseille, "report": report}


def test_visitors_log_in_and_members_without_a_grant_get_403(client, people):
    for url in (PRESENCE, PUBLISH, LOG):
        assert client.get(url).status_code == 302, url
    client.force_login(people["member"])
    for url in (PRESENCE, PUBLISH, LOG):
        assert client.get(url).status_code == 403, url
    assert client.post(f"{PRESENCE}audit/", {"zone": ""}).status_code == 403
    assert (
        client.post(PRESENCE, {"kind": "website", "url": "https://a.example/"}).status_code == 403
    )
    assert not Channel.objects.exists()


def test_a_relay_sees_their_area_only(client, people, local):
    client.force_login(people["camille"])
    page = text_of(client.get(PRESENCE))
    assert "youtube.com/@relais7502" in page and "nextwork.bsky.social" not in page
    assert "facebook.com/relais1301" not in page
    assert f">{local['report'].score}<small>/100" in page and "Aucun site web" in page
    assert 'value="" selected' not in page  # no organisation scope offered
    for zone in ("13-01", "75"):
        assert client.get(f"{PRESENCE}?zone={zone}").status_code == 403, zone
    assert client.post(f"{PRESENCE}audit/", {"zone": "13-01"}).status_code == 403
    assert client.post(f"{PRESENCE}?zone=13-01", {"kind": "website",
                       "url": "https://relais.example/"}).status_code == 403  # fmt: skip
    assert client.get(f"{PRESENCE}?zone=ZZ-99").status_code == 404


def test_the_coordinator_of_13_sees_nothing_of_75(client, people, local):
    client.force_login(people["coord13"])
    page = text_of(client.get(PRESENCE))
    assert "facebook.com/relais1301" in page and "relais7502" not in page
    assert client.get(f"{PRESENCE}?zone=75-02").status_code == 403
    assert client.get(f"{PRESENCE}?code=75").status_code == 403
    publish = text_of(client.get(PUBLISH))
    assert "relais1301" in publish and "relais7502" not in publish
    # The coordinator of 75 sees 75-02's channels and its report.
    client.force_login(people["coord75"])
    page = text_of(client.get(f"{PRESENCE}?zone=75-02"))
    assert "relais7502" in page and f">{local['report'].score}<small>/100" in page


def test_a_bad_address_keeps_what_was_typed_and_says_why_in_french(client, people):
    client.force_login(people["staff"])
    sent = {"zone": "", "kind": "mastodon", "url": "https://mastodon.social/nextwork",
            "label": "Compte national"}  # fmt: skip
    refused = client.post(PRESENCE, sent)
    page = text_of(refused)
    assert refused.status_code == 400 and not Channel.objects.exists()
    assert "Un compte Mastodon s'écrit https://instance/@nom" in page
    assert 'value="https://mastodon.social/nextwork"' in page and 'value="Compte national"' in page
    assert '<option value="mastodon" selected>' in page and 'aria-invalid="true"' in page
    page = text_of(client.post(PRESENCE, {**sent, "kind": "youtube",
                                          "url": "https://www.facebook.com/nextwork"}))  # fmt: skip
    assert "Ce réseau est sur youtube.com, cette adresse sur facebook.com" in page
    page = text_of(client.post(PRESENCE, {**sent, "url": "mastodon.social/@nextwork"}))
    assert "L'adresse doit commencer par https://" in page
    made = client.post(PRESENCE, {**sent, "url": "https://mastodon.social/@nextwork"})
    assert made.status_code == 302
    channel = Channel.objects.get()
    assert (channel.handle, channel.area, channel.label) == (
        "@nextwork@mastodon.social",
        None,
        "Compte national",
    )
    assert AuditEvent.objects.filter(action="presence.channel_create").count() == 1
    again = text_of(client.post(PRESENCE, {**sent, "url": "https://mastodon.social/@nextwork"}))
    assert "Ce canal est déjà enregistré ici." in again


def test_an_audit_from_the_page_shows_the_score_the_findings_and_the_progress(
    client,
    people,
    net,
    presence_of,
):
    presence_of()
    client.force_login(people["staff"])
    done = client.post(f"{PRESENCE}audit/", {"zone": ""}, follow=True)
    page = text_of(done)
    assert "Audit terminé : 100 sur 100." in page and "Premier audit" in page
    assert "Rien à corriger" in page
    net.masto.route("/api/v1/accounts/lookup", net.load("mastodon-account-without-site.json"))
    page = text_of(client.post(f"{PRESENCE}audit/", {"zone": ""}, follow=True))
    assert ">90<small>/100" in page
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "−10 depuis le 27" in words and "score précédent : 100" in page
    assert "Important" in page and "Votre bio Mastodon ne renvoie pas vers le site." in page
    assert "Ajoutez l'adresse du site" in page  # the fix
    assert '<svg class="history"' in page and "<polyline" in page
    assert PresenceReport.objects.count() == 2
    assert "« Nextwork »" in page  # the name read on the website


def test_a_profile_typed_by_hand(client, people, area):
    client.force_login(people["camille"])
    channel = services.channel_create(by=people["camille"], kind="instagram",
                                      area=area("75-02"),
                                      url="https://www.instagram.com/relais7502")  # fmt: skip
    url = f"{PRESENCE}canaux/{channel.pk}/profil/"
    refused = client.post(url, {"name": "", "description": "Bio", "last_post_at": "2026-11-03"})
    page = text_of(refused)
    assert refused.status_code == 400 and "Indiquez le nom affiché sur le profil." in page
    assert ">Bio</textarea>" in page and 'value="2026-11-03"' in page
    page = text_of(client.post(url, {"name": "Relais", "last_post_at": "2099-01-01"}))
    assert "Cette date est dans le futur." in page
    page = text_of(client.post(url, {"name": "Relais", "last_post_at": "3 novembre"}))
    assert "Une date comme 03/11/2026." in page
    done = client.post(url, {"name": "Relais 75-02", "description": "Le relais",
                             "last_post_at": "2026-11-03", "website": ""}, follow=True)  # fmt: skip
    snapshot = ChannelSnapshot.objects.get(channel=channel)
    assert snapshot.entered_by_hand and snapshot.name == "Relais 75-02"
    assert snapshot.last_post_at == datetime.datetime(2026, 11, 3, 11, 0, tzinfo=datetime.UTC)
    page = text_of(done)
    assert "saisi à la main" in page and "dernière publication le 3 " in page
    client.force_login(people["coord13"])
    assert client.post(url, {"name": "Pirate"}).status_code == 403


@pytest.fixture
def instance():
    with RecordedServer() as server:
        yield server


@pytest.fixture
def channels(people, instance):
    staff = people["staff"]
    masto = services.channel_create(by=staff, kind="mastodon", url=f"{instance.url}/@nextwork")
    publishing.account_set(by=staff, channel_id=masto.pk, token="recorded-token")
    bsky = services.channel_create(by=staff, kind="bluesky",
                                   url="https://bsky.app/profile/nextwork.bsky.social")  # fmt: skip
    youtube = services.channel_create(by=staff, kind="youtube",
                                      url="https://www.youtube.com/@nextwork")  # fmt: skip
    return {"mastodon": masto, "bluesky": bsky, "youtube": youtube}


def test_checking_shows_the_bluesky_problem_in_french_and_publishes_nothing(
    client, people, channels, instance
):
    client.force_login(people["staff"])
    text = "La réforme des retraites " + "encore " * 45
    checked = client.post(PUBLISH, {"text": text, "link": "https://nextwork.example/tribune",
                                    "channels": [channels["bluesky"].pk, channels["youtube"].pk],
                                    "action": "check"})  # fmt: skip
    page = text_of(checked)
    assert checked.status_code == 400
    assert "Trop long pour Bluesky (nextwork.bsky.social)" in page and "graphèmes" in page
    assert "Le texte est refusé par au moins un canal" in page
    assert text.strip() in page  # what was typed stays
    assert "https://nextwork.example/tribune" in page  # the link, added for YouTube
    assert not Publication.objects.exists() and not AuditEvent.objects.filter(
        action="publishing.create").exists()  # fmt: skip
    fine = text_of(client.post(PUBLISH, {"text": "Rendez-vous samedi.", "channels": [
        channels["mastodon"].pk, channels["bluesky"].pk], "action": "check"}))  # fmt: skip
    assert "Rien n'empêche la publication" in fine
    assert "Aucun compte de publication n'est enregistré pour Bluesky" in fine
    assert not Publication.objects.exists() and instance.requests == []
    bad = text_of(client.post(PUBLISH, {"text": "Bonjour", "link": "javascript:alert(1)",
                                        "channels": [channels["youtube"].pk],
                                        "action": "check"}))  # fmt: skip
    assert "Le lien doit commencer par https://" in bad
    none = text_of(client.post(PUBLISH, {"text": "Bonjour", "action": "check"}))
    assert "Choisissez au moins un canal." in none


def test_publishing_creates_the_targets_without_calling_any_network(
    client, people, channels, instance
):
    client.force_login(people["staff"])
    sent = {"text": "Rendez-vous samedi place de la République.", "link": "",
            "channels": [channels["mastodon"].pk, channels["youtube"].pk], "action": "publish",
            "day": "2026-12-01", "time": "09:30"}  # fmt: skip
    done = client.post(PUBLISH, sent)
    assert done.status_code == 302 and done["Location"] == LOG
    publication = Publication.objects.get()
    assert publication.scheduled_at == datetime.datetime(2026, 12, 1, 8, 30, tzinfo=datetime.UTC)
    targets = {t.channel_id: t for t in publication.targets.all()}
    assert targets[channels["mastodon"].pk].status == TargetStatus.PENDING
    assert targets[channels["youtube"].pk].status == TargetStatus.PREPARED
    assert instance.requests == []  # the worker publishes, not the page
    past = text_of(client.post(PUBLISH, {**sent, "day": "2020-01-01"}))
    assert "Cette heure est passée" in past and Publication.objects.count() == 1
    wrong = text_of(client.post(PUBLISH, {**sent, "day": "demain"}))
    assert "Une date (jj/mm/aaaa) et une heure (hh:mm)." in wrong


def test_the_log_shows_each_target_and_is_scoped(client, people, channels, area):
    staff = people["staff"]
    made = publishing.publication_create(
        by=staff, text="Tribune sur les retraites", link="https://nextwork.example/t",
        channel_ids=[channels["mastodon"].pk, channels["bluesky"].pk, channels["youtube"].pk],
    )  # fmt: skip
    PublicationTarget.objects.filter(publication=made, channel=channels["mastodon"]).update(
        status=TargetStatus.PUBLISHED, remote_url="https://piaille.example/@nextwork/1",
        published_at=made.created_at, attempts=1)  # fmt: skip
    PublicationTarget.objects.filter(publication=made, channel=channels["bluesky"]).update(
        status=TargetStatus.FAILED, error="Bluesky refuse la session : mot de passe d'application "
        "incorrect.", attempts=1)  # fmt: skip
    client.force_login(staff)
    page = text_of(client.get(LOG))
    assert "publié" in page and 'href="https://piaille.example/@nextwork/1"' in page
    assert "échec" in page and "mot de passe d'application incorrect" in page
    assert "texte prêt à copier" in page and "<textarea" in page and "readonly" in page
    assert "Tribune sur les retraites\n\nhttps://nextwork.example/t</textarea>" in page
    # Camille manages none of these channels: an empty log, not a 403.
    client.force_login(people["camille"])
    assert "Tribune" not in text_of(client.get(LOG))

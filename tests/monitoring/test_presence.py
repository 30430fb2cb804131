"""The presence audit against recorded answers served by local servers (a website, a Mastodon
instance, the Bluesky AppView and its CDN): a consistent presence scores 100; each kind of
inconsistency yields its finding, in French, and costs its weight; reports are kept so the
progress shows; relays see and manage their own area only; what is too large or not an image
is an error on the snapshot, never a crash.

The recorded files name their hosts as the real services would (https://nextwork.example,
https://piaille.example, https://cdn.bsky.example); ``load`` points them at the local servers.
"""

from __future__ import annotations

import datetime
import socket
import threading

import imagehash
import pytest
from django.urls import Resolver404, path, resolve
from PIL import Image

from nextwork.common.errors import Conflict, Forbidden, InvalidInput
from nextwork.monitoring import presence
from nextwork.monitoring.models import ChannelSnapshot, PresenceReport
from nextwork.monitoring.presence import checks, readers, services
from nextwork.privacy.models import AuditEvent
from tests.recorded_server import RECORDED, Answer, RecordedServer

API = "/api/v1"
NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
MASTODON_AVATAR = "/system/accounts/avatars/109/402/394/112/304/857/original/logo.png"
BSKY_AVATAR = "/img/avatar/plain/did:plc:4kq2xtgcpzu3m7yqkfvj2nre/bafkrei"


def _test_api_urls():
    """Until /api/v1 mounts the presence router, these tests mount it on an API of their own
    with the project's error handlers."""
    from ninja import NinjaAPI

    from nextwork.api.urls import api
    from nextwork.monitoring.presence_apis import router

    local = NinjaAPI(urls_namespace="presence-tests", docs_url=None)
    local._exception_handlers.update(api._exception_handlers)
    local.add_router("", router)
    return [path("api/v1/", local.urls)]


urlpatterns: list = []


@pytest.fixture
def api_urls(settings):
    try:
        resolve(f"{API}/channels")
    except Resolver404:
        if not urlpatterns:
            urlpatterns.extend(_test_api_urls())
        settings.ROOT_URLCONF = __name__


@pytest.fixture(autouse=True)
def local_servers_allowed(monkeypatch):
    monkeypatch.setattr(presence, "ALLOW_PRIVATE_ADDRESSES", True)


@pytest.fixture
def net(monkeypatch):
    """Three recorded hosts: the website, a Mastodon instance, the Bluesky AppView (and CDN)."""
    servers = [RecordedServer().__enter__() for _ in range(3)]
    site, masto, bsky = servers
    try:
        monkeypatch.setattr(readers, "BLUESKY_APPVIEW", bsky.url)
        origins = {
            "https://nextwork.example": site.url,
            "https://piaille.example": masto.url,
            "https://cdn.bsky.example": bsky.url,
        }

        def load(name: str, content_type: str = JSON) -> Answer:
            answer = Answer.file(f"presence/{name}", content_type=content_type)
            if not name.endswith(".png"):
                text = answer.body.decode()
                for recorded, local in origins.items():
                    text = text.replace(recorded, local)
                answer.body = text.encode()
            return answer

        site.route("/", load("site.html", HTML))
        site.route("/logo-64.png", load("logo-64.png", "image/png"))
        masto.route("/api/v1/accounts/lookup", load("mastodon-account.json"))
        masto.route(MASTODON_AVATAR, load("logo-128.png", "image/png"))
        bsky.route("/xrpc/app.bsky.actor.getProfile", load("bluesky-profile.json"))
        bsky.route("/xrpc/app.bsky.feed.getAuthorFeed", load("bluesky-author-feed.json"))
        bsky.route(BSKY_AVATAR + "gx3nextworklogo@png", load("logo-128.png", "image/png"))
        bsky.route(BSKY_AVATAR + "otheravatar@png", load("other-avatar.png", "image/png"))
        bsky.route(
            BSKY_AVATAR + "notanimage@png",
            Answer(body=b"<html><body>Image not found</body></html>",
                   headers={"Content-Type": HTML}),
        )  # fmt: skip

        class Net:
            pass

        found = Net()
        found.site, found.masto, found.bsky, found.load = site, masto, bsky, load
        yield found
    finally:  # side by side: each shutdown waits for its server's poll (0.5 s)
        stopping = [threading.Thread(target=s.__exit__, args=(None, None, None)) for s in servers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()


@pytest.fixture
def presence_of(people, net):
    """The organisation's channels, consistent: its site, Mastodon, Bluesky, and YouTube
    typed by hand."""
    staff = people["staff"]

    def make(area=None, by=staff):
        site = services.channel_create(by=by, kind="website", url=net.site.url + "/", area=area)
        masto = services.channel_create(
            by=by, kind="mastodon", url=f"{net.masto.url}/@nextwork", area=area
        )
        bsky = services.channel_create(
            by=by, kind="bluesky", url="https://bsky.app/profile/nextwork.bsky.social", area=area
        )
        youtube = services.channel_create(
            by=by, kind="youtube", url="https://www.youtube.com/@nextwork", area=area
        )
        services.snapshot_enter(
            by=by, channel=youtube, name="NEXTWORK !",
            description="Les vidéos du réseau des relais citoyens.",
            last_post_at=datetime.datetime(2026, 10, 30, 18, 0, tzinfo=datetime.UTC),
            website=net.site.url + "/",
        )  # fmt: skip
        return {"site": site, "mastodon": masto, "bluesky": bsky, "youtube": youtube}

    return make


def audit(people, **extra) -> PresenceReport:
    return services.presence_audit(by=people["staff"], now=NOW, **extra)


def codes(report: PresenceReport) -> list[str]:
    return [f["code"] for f in report.findings]


def finding(report: PresenceReport, code: str) -> dict:
    (found,) = [f for f in report.findings if f["code"] == code]
    return found


# -- what is read, and a consistent presence ------------------------------------------------


def test_a_consistent_presence_scores_100_and_everything_is_read(people, net, presence_of):
    channels = presence_of()
    report = audit(people)
    assert report.findings == [] and report.score == 100 and report.previous is None
    snaps = {s.channel_id: s for s in report.snapshots.all()}
    site = snaps[channels["site"].pk]
    assert (site.name, site.read_ok, site.error) == ("Nextwork", True, "")
    assert site.description.startswith("Nextwork, le réseau des relais citoyens")
    assert site.avatar_url == net.site.url + "/logo-64.png"  # the PNG icon, not the SVG one
    assert site.website == net.site.url + "/"
    assert f"{net.masto.url}/@nextwork" in site.me_links
    assert "https://bsky.app/profile/nextwork.bsky.social" in site.links
    assert not any(link.startswith("mailto:") for link in site.links)
    masto = snaps[channels["mastodon"].pk]
    assert masto.name == "Nextwork" and "<p>" not in masto.description
    assert masto.me_links == [net.site.url + "/"]  # the field the instance verified
    assert masto.last_post_at == datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
    bsky = snaps[channels["bluesky"].pk]
    assert bsky.links == [net.site.url + "/"]
    # The newest item is a repost: the latest post is the account's own.
    assert bsky.last_post_at == datetime.datetime(2026, 11, 20, 8, 2, 11, 512000,
                                                  tzinfo=datetime.UTC)  # fmt: skip
    youtube = snaps[channels["youtube"].pk]
    assert youtube.entered_by_hand and youtube.name == "NEXTWORK !"
    # The same logo at 64 and 128 pixels: close hashes.
    assert presence.same_avatar(site.avatar_hash, masto.avatar_hash)
    assert masto.avatar_hash == bsky.avatar_hash
    (lookup,) = net.masto.seen("/api/v1/accounts/lookup")
    assert "acct=nextwork" in lookup.path
    assert lookup.headers["user-agent"].startswith("nextwork-monitoring/")
    (event,) = AuditEvent.objects.filter(action="presence.audit")
    assert event.details == {"report": report.pk, "score": 100}


def test_the_same_logo_at_two_sizes_is_the_same_avatar_and_another_is_not():
    def phash(name):
        with Image.open(RECORDED / "presence" / name) as image:
            return imagehash.phash(image.convert("RGB"))

    small, large, other = phash("logo-64.png"), phash("logo-128.png"), phash("other-avatar.png")
    assert small - large <= presence.SAME_AVATAR_DISTANCE < small - other
    assert presence.same_avatar(str(small), str(large))
    assert not presence.same_avatar(str(small), str(other))


# -- each inconsistency, its finding and its cost -------------------------------------------


def test_three_names_are_one_finding_whatever_the_case_and_punctuation(people, net, presence_of):
    channels = presence_of()
    net.masto.route("/api/v1/accounts/lookup", net.load("mastodon-account-other-name.json"))
    net.bsky.route("/xrpc/app.bsky.actor.getProfile", net.load("bluesky-profile-other-name.json"))
    report = audit(people)
    assert codes(report) == ["names_differ"] and report.score == 100 - 15
    found = finding(report, "names_differ")
    assert found["message"] == (
        "Trois noms différents : « Nextwork » (site web, YouTube), « Nextwork France » "
        "(Mastodon), « NW Officiel » (Bluesky)."
    )
    assert found["fix"] == "Utilisez le même nom partout, celui du site : « Nextwork »."
    assert found["severity"] == "high"
    assert found["channels"] == sorted(c.pk for c in channels.values())


def test_a_mastodon_bio_without_the_site(people, net, presence_of):
    channels = presence_of()
    net.masto.route("/api/v1/accounts/lookup", net.load("mastodon-account-without-site.json"))
    report = audit(people)
    assert codes(report) == ["no_link_to_website"] and report.score == 90
    found = finding(report, "no_link_to_website")
    assert found["message"] == "Votre bio Mastodon ne renvoie pas vers le site."
    assert found["fix"].startswith(f"Ajoutez l'adresse du site ({net.site.url}/) dans la bio ou")
    assert found["channels"] == [channels["mastodon"].pk]


def test_a_link_to_mastodon_without_rel_me_cannot_be_verified(people, net, presence_of):
    channels = presence_of()
    net.site.route("/", net.load("site-without-rel-me.html", HTML))
    report = audit(people)
    assert codes(report) == ["not_reciprocal"] and report.score == 95
    found = finding(report, "not_reciprocal")
    assert 'n\'a pas rel="me"' in found["message"]
    assert f'<a rel="me" href="{net.masto.url}/@nextwork">' in found["fix"]
    assert found["channels"] == sorted([channels["site"].pk, channels["mastodon"].pk])


def test_a_different_avatar(people, net, presence_of):
    channels = presence_of()
    net.bsky.route("/xrpc/app.bsky.actor.getProfile",
                   net.load("bluesky-profile-other-avatar.json"))  # fmt: skip
    report = audit(people)
    assert codes(report) == ["avatars_differ"] and report.score == 90
    found = finding(report, "avatars_differ")
    assert found["message"] == "L'image de profil diffère de celle de site web sur : Bluesky."
    assert found["channels"] == [channels["bluesky"].pk]


def test_a_channel_silent_for_fourteen_months(people, net, presence_of):
    channels = presence_of()
    net.bsky.route("/xrpc/app.bsky.feed.getAuthorFeed",
                   net.load("bluesky-author-feed-silent.json"))  # fmt: skip
    report = audit(people)
    assert codes(report) == ["silent"] and report.score == 90
    found = finding(report, "silent")
    assert found["message"] == "Aucune publication sur Bluesky depuis 14 mois."
    assert found["channels"] == [channels["bluesky"].pk]


def test_an_unreachable_channel_is_a_finding_not_a_crash(people, net, presence_of):
    channels = presence_of()
    net.masto.route("/api/v1/accounts/lookup",
                    Answer(status=404, body=b'{"error":"Record not found"}'))  # fmt: skip
    report = audit(people)
    assert codes(report) == ["unreachable"] and report.score == 85
    found = finding(report, "unreachable")
    assert found["message"] == (
        f"Impossible de lire votre compte Mastodon ({net.masto.url}/@nextwork) : "
        "le profil Mastodon répond HTTP 404."
    )
    snap = report.snapshots.get(channel=channels["mastodon"])
    assert not snap.read_ok and snap.error == "le profil Mastodon répond HTTP 404"


def test_a_dead_website_and_a_hand_channel_never_typed(people, net):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    staff = people["staff"]
    site = services.channel_create(by=staff, kind="website", url=dead)
    facebook = services.channel_create(by=staff, kind="facebook",
                                       url="https://www.facebook.com/nextwork")  # fmt: skip
    report = audit(people)
    assert codes(report) == ["unreachable", "not_entered"] and report.score == 80
    assert "la page est injoignable (ConnectError)" in finding(report, "unreachable")["message"]
    assert finding(report, "not_entered")["channels"] == [facebook.pk]
    assert [s.channel_id for s in report.snapshots.all()] == [site.pk]


def test_a_huge_page_and_an_avatar_that_is_not_an_image_are_refused(people, net, presence_of):
    channels = presence_of()
    net.site.route("/", Answer(body=b"<html>" + b"x" * (presence.PAGE_MAX_BYTES + 10),
                               headers={"Content-Type": HTML}))  # fmt: skip
    net.bsky.route("/xrpc/app.bsky.actor.getProfile",
                   net.load("bluesky-profile-avatar-not-an-image.json"))  # fmt: skip
    report = audit(people)
    assert codes(report) == ["unreachable", "avatar_unreadable"], report.findings
    site = report.snapshots.get(channel=channels["site"])
    assert not site.read_ok and site.error == "la page dépasse 2 Mo : non lue"
    bsky = report.snapshots.get(channel=channels["bluesky"])
    assert bsky.read_ok and bsky.avatar_hash == ""
    assert bsky.error == "image de profil : l'image de profil n'est pas une image (text/html)"
    # Without the site's page, the channels are still checked against its address.
    assert "no_link_to_website" not in codes(report)


def test_private_addresses_are_not_read_outside_tests(people, net, presence_of, monkeypatch):
    presence_of()
    monkeypatch.setattr(presence, "ALLOW_PRIVATE_ADDRESSES", False)
    report = audit(people)
    assert codes(report).count("unreachable") == 3  # the site, Mastodon, Bluesky's AppView
    assert "127.0.0.1 est une adresse privée : non lue" in finding_of_kind(report, "website")
    assert net.site.requests == [] and net.masto.requests == []


def finding_of_kind(report, kind) -> str:
    channel = report.snapshots.get(channel__kind=kind).channel
    return next(f["message"] for f in report.findings if channel.pk in f["channels"])


# -- reports over time ----------------------------------------------------------------------


def test_reports_are_kept_and_show_the_progress(people, net, presence_of, client, api_urls):
    presence_of()
    net.masto.route("/api/v1/accounts/lookup", net.load("mastodon-account-without-site.json"))
    net.bsky.route("/xrpc/app.bsky.feed.getAuthorFeed",
                   net.load("bluesky-author-feed-silent.json"))  # fmt: skip
    first = audit(people)
    assert first.score == 80
    # The team fixes the Mastodon bio and posts on Bluesky again.
    net.masto.route("/api/v1/accounts/lookup", net.load("mastodon-account.json"))
    net.bsky.route("/xrpc/app.bsky.feed.getAuthorFeed", net.load("bluesky-author-feed.json"))
    client.force_login(people["staff"])
    response = client.post(f"{API}/presence/audit", {}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["score"], body["previous_score"], body["delta"]) == (100, 80, 20)
    assert body["previous_report"] == first.pk and body["area"] is None
    assert len(body["snapshots"]) == 4 and body["findings"] == []
    again = client.get(f"{API}/presence/reports/{first.pk}").json()
    assert again["score"] == 80 and again["previous_score"] is None
    assert [f["code"] for f in again["findings"]] == ["no_link_to_website", "silent"]
    assert PresenceReport.objects.count() == 2
    assert ChannelSnapshot.objects.filter(report__isnull=False).count() == 8


# -- channels: addresses and permissions ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        ("mastodon", "https://mastodon.social/nextwork", "https://instance/@name"),
        ("mastodon", "https://mastodon.social/@nextwork/posts", "https://instance/@name"),
        ("youtube", "https://vimeo.com/nextwork", "is on youtube.com"),
        ("bluesky", "https://bsky.app/nextwork", "https://bsky.app/profile/<handle>"),
        ("website", "ftp://nextwork.example/", "must start with https://"),
        ("website", "javascript:alert(1)", "must start with https://"),
        ("website", "https://user:secret@nextwork.example/", "user name or password"),
        ("website", "https://nextwork.example/" + "a" * 1000, "at most 1,000"),
        ("website", "https://nextwork.example/une page", "spaces"),
    ],
)
def test_a_channel_address_is_checked_with_a_clear_message(people, kind, url, expected):
    with pytest.raises(InvalidInput) as refused:
        services.channel_create(by=people["staff"], kind=kind, url=url)
    assert refused.value.field == "url" and expected in refused.value.message


def test_handles_are_derived_and_duplicates_refused(people):
    staff = people["staff"]
    masto = services.channel_create(by=staff, kind="mastodon",
                                    url="https://Piaille.fr/@nextwork")  # fmt: skip
    assert masto.handle == "@nextwork@piaille.fr"
    bsky = services.channel_create(by=staff, kind="bluesky",
                                   url="https://bsky.app/profile/Nextwork.bsky.social")  # fmt: skip
    assert bsky.handle == "nextwork.bsky.social"
    with pytest.raises(Conflict):
        services.channel_create(by=staff, kind="mastodon", url="https://piaille.fr/@nextwork/")


def test_a_relay_manages_the_channels_of_their_own_area_only(people, area, client, api_urls):
    camille = people["camille"]  # relay of 75-02
    client.force_login(camille)
    created = client.post(f"{API}/channels", {
        "kind": "mastodon", "url": "https://piaille.fr/@relais7502", "area": "75-02",
        "held_by_me": True,
    }, content_type="application/json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["area"] == "75-02" and created.json()["member"] == camille.pk
    assert created.json()["read_automatically"] is True
    elsewhere = client.post(f"{API}/channels", {
        "kind": "website", "url": "https://marseille.nextwork.example/", "area": "13-01",
    }, content_type="application/json")  # fmt: skip
    assert elsewhere.status_code == 403, elsewhere.content
    assert "13-01" in elsewhere.json()["error"]["message"]
    national = client.post(
        f"{API}/channels",
        {"kind": "website", "url": "https://nextwork.example/"},
        content_type="application/json",
    )
    assert national.status_code == 403
    unknown = client.post(f"{API}/channels", {"kind": "website",
                          "url": "https://a.example/", "area": "75-99"},
                          content_type="application/json")  # fmt: skip
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "area"
    # The organisation's channel and report, and a channel of 13-01, stay out of sight.
    staff = people["staff"]
    services.channel_create(by=staff, kind="website", url="https://nextwork.example/")
    services.channel_create(
        by=people["coord13"],
        kind="website",
        url="https://marseille.nextwork.example/",
        area=area("13-01"),
    )
    report = PresenceReport.objects.create(score=70, created_by=staff)
    listed = client.get(f"{API}/channels").json()
    assert [c["url"] for c in listed["items"]] == ["https://piaille.fr/@relais7502"]
    forbidden = client.get(f"{API}/presence/reports/{report.pk}")
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert client.post(f"{API}/presence/audit", {}, content_type="application/json"
                       ).status_code == 403  # fmt: skip
    assert client.get(f"{API}/presence/reports/999999").status_code == 404
    # Their coordinator sees 75-02's channel; the coordinator of 13 does not.
    client.force_login(people["coord75"])
    assert [c["area"] for c in client.get(f"{API}/channels").json()["items"]] == ["75-02"]
    client.force_login(people["coord13"])
    assert [c["area"] for c in client.get(f"{API}/channels").json()["items"]] == ["13-01"]
    client.force_login(people["member"])
    assert client.get(f"{API}/channels").status_code == 403
    assert AuditEvent.objects.filter(action="presence.channel_create").count() == 3


def test_a_relay_audits_their_area_against_the_national_site(people, net, area):
    camille = people["camille"]
    services.channel_create(by=people["staff"], kind="website", url=net.site.url + "/")
    masto = services.channel_create(by=camille, kind="mastodon", area=area("75-02"),
                                    url=f"{net.masto.url}/@nextwork")  # fmt: skip
    report = services.presence_audit(by=camille, area=area("75-02"), now=NOW)
    assert report.area.code == "75-02" and report.findings == [] and report.score == 100
    assert [s.channel_id for s in report.snapshots.all()] == [masto.pk]
    with pytest.raises(Forbidden):
        services.presence_audit(by=camille, area=area("13-01"))
    with pytest.raises(Forbidden):
        services.presence_audit(by=camille)


def test_hand_entry_through_the_api(people, client, api_urls):
    staff = people["staff"]
    youtube = services.channel_create(by=staff, kind="youtube",
                                      url="https://www.youtube.com/@nextwork")  # fmt: skip
    masto = services.channel_create(by=staff, kind="mastodon", url="https://piaille.fr/@nw")
    client.force_login(staff)
    typed = client.post(f"{API}/channels/{youtube.pk}/snapshots", {
        "name": "Nextwork", "description": "Nos vidéos.",
        "last_post_at": "2025-09-20T10:00:00Z", "website": "https://nextwork.example/",
    }, content_type="application/json")  # fmt: skip
    assert typed.status_code == 201, typed.content
    assert typed.json()["entered_by_hand"] is True
    naive = client.post(f"{API}/channels/{youtube.pk}/snapshots",
                        {"name": "Nextwork", "last_post_at": "2025-09-20T10:00:00"},
                        content_type="application/json")  # fmt: skip
    assert naive.status_code == 400 and naive.json()["error"]["field"] == "last_post_at"
    read = client.post(f"{API}/channels/{masto.pk}/snapshots", {"name": "Nextwork"},
                       content_type="application/json")  # fmt: skip
    assert read.status_code == 400 and "read by the audit" in read.json()["error"]["message"]
    youtube_reading = services._read_one(youtube, services._latest_typed([youtube])[youtube.pk],
                                         presence.Deadline(5))  # fmt: skip
    found = checks.run([checks.Read(youtube, youtube_reading)],
                       sites=["https://nextwork.example/"], now=NOW)  # fmt: skip
    assert [f["message"] for f in found] == ["Aucune publication sur YouTube depuis 14 mois."]


def test_a_deactivated_channel_is_no_longer_audited(people, net, presence_of):
    channels = presence_of()
    services.channel_deactivate(by=people["staff"], channel=channels["youtube"])
    services.channel_update(by=people["staff"], channel=channels["site"], label="Site national")
    report = audit(people)
    assert report.score == 100
    assert channels["youtube"].pk not in {s.channel_id for s in report.snapshots.all()}
    with pytest.raises(Forbidden):
        services.channel_deactivate(by=people["camille"], channel=channels["site"])

"""Publishing against recorded answers of Mastodon and Bluesky served by a local server:
composed once, published on the channels with an API (exactly the requests a real network
expects: the Idempotency-Key, the facets' byte offsets, the record key), prepared for the
others; retries that never duplicate, scheduling, per-network limits, who may publish where,
credentials that never show, and two ticks at once that publish once.

The recorded files name the instance as a real one would (https://piaille.example); the
record key of Bluesky's answers is written ``RKEY`` and replaced by the one the test expects.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connections
from django.urls import Resolver404, path, resolve
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput
from nextwork.monitoring import publishing
from nextwork.monitoring.models import (
    Channel,
    Publication,
    PublicationTarget,
    PublishingAccount,
)
from nextwork.monitoring.presence import services as presence
from nextwork.monitoring.publishers import bluesky, credentials, graphemes, publisher_for
from nextwork.monitoring.publishers.mastodon import idempotency_key
from nextwork.privacy.models import AuditEvent
from tests.recorded_server import Answer, RecordedServer

API = "/api/v1"
JSON = "application/json; charset=utf-8"
NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)  # in the past: due
STATUSES = "/api/v1/statuses"
SESSION = "/xrpc/com.atproto.server.createSession"
CREATE = "/xrpc/com.atproto.repo.createRecord"
GET_RECORD = "/xrpc/com.atproto.repo.getRecord"
TOKEN = "tok-mastodon-Zr8xq2PvL0wKc7nE4sYhT1uB9"
APP_PASSWORD = "k7qm-2vxe-p9ld-w3tz"
DID = "did:plc:4kq2xtgcpzu3m7yqkfvj2nre"
SECRETS = (TOKEN, APP_PASSWORD, "SESSION-ACCESS-SIGNATURE", "SESSION-REFRESH-SIGNATURE")
TEXT = "Réforme des retraites : la tribune de nos relais est en ligne ✊🏽 #retraites"
LINK = "https://nextwork.example/tribune-retraites-2026"


def recorded(name: str, status: int = 200, rkey: str = "", **headers) -> Answer:
    answer = Answer.file(f"publishing/{name}", status=status, content_type=JSON, **headers)
    if rkey:
        answer.body = answer.body.replace(b"RKEY", rkey.encode())
    return answer


def body(seen) -> dict:
    """A request's parameters, sent as JSON or as a form."""
    try:
        return json.loads(seen.body)
    except ValueError:
        return {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}


def decode_tid(value: str) -> tuple[int, int]:
    """(microseconds, clock id) of a TID, decoded independently of the encoder."""
    number = 0
    for ch in value:
        number = number * 32 + "234567abcdefghijklmnopqrstuvwxyz".index(ch)
    return number >> 10, number & 0x3FF


def _test_api_urls():
    """Until /api/v1 mounts the publishing router, these tests mount it with the presence one
    on an API of their own, with the project's error handlers."""
    from ninja import NinjaAPI

    from nextwork.api.urls import api
    from nextwork.monitoring.presence_apis import router as presence_router
    from nextwork.monitoring.publishing_apis import router

    local = NinjaAPI(urls_namespace="publishing-tests", docs_url=None)
    local._exception_handlers.update(api._exception_handlers)
    local.add_router("", router)
    local.add_router("", presence_router)
    return [path("api/v1/", local.urls)]


urlpatterns: list = []


@pytest.fixture
def api_urls(settings):
    try:
        resolve(f"{API}/posts")
    except Resolver404:
        if not urlpatterns:
            urlpatterns.extend(_test_api_urls())
        settings.ROOT_URLCONF = __name__


@pytest.fixture
def server():
    with RecordedServer() as running:
        yield running


@pytest.fixture
def org(people, server):
    """The organisation's Mastodon (on the local server), Bluesky (its PDS: the local server)
    and Instagram channels, with their publishing accounts."""
    staff = people["staff"]
    masto = presence.channel_create(by=staff, kind="mastodon", url=f"{server.url}/@nextwork")
    bsky = presence.channel_create(
        by=staff, kind="bluesky", url="https://bsky.app/profile/nextwork.bsky.social"
    )
    insta = presence.channel_create(
        by=staff, kind="instagram", url="https://www.instagram.com/nextwork"
    )
    publishing.account_set(by=staff, channel_id=masto.pk, token=TOKEN)
    publishing.account_set(by=staff, channel_id=bsky.pk, handle="nextwork.bsky.social",
                           app_password=APP_PASSWORD, endpoint=server.url)  # fmt: skip
    return {"mastodon": masto, "bluesky": bsky, "instagram": insta}


def compose(people, channels, text=TEXT, link=LINK, **extra) -> Publication:
    return publishing.publication_create(
        by=people["staff"], text=text, link=link, channel_ids=[c.pk for c in channels],
        now=extra.pop("now", NOW), **extra,
    )  # fmt: skip


def targets(publication) -> dict[str, PublicationTarget]:
    found = PublicationTarget.objects.filter(publication=publication).select_related("channel")
    return {t.channel.kind: t for t in found}


def route_success(server, rkey: str) -> None:
    server.route(STATUSES, recorded("mastodon_status.json"))
    server.route(SESSION, recorded("bluesky_session.json"))
    server.route(CREATE, recorded("bluesky_record.json", rkey=rkey))


# -- composed once, published twice, prepared once ------------------------------------------


def test_composed_once_published_on_mastodon_and_bluesky_prepared_for_instagram(
    people, org, server
):
    publication = compose(people, org.values())
    made = targets(publication)
    rkey = bluesky.record_key(made["bluesky"])
    route_success(server, rkey)
    assert publication.status == "scheduled" and server.requests == []  # nothing sent yet
    assert publishing.publish_due() == {"published": 2, "retrying": 0, "failed": 0}

    # Mastodon: one status, public, in French, with the target's idempotency key and token.
    (status,) = server.seen(STATUSES)
    assert status.method == "POST"
    key = f"nextwork-{made['mastodon'].pk}-{int(NOW.timestamp() * 1_000_000)}"
    assert status.headers["idempotency-key"] == key == idempotency_key(made["mastodon"])
    assert status.headers["authorization"] == f"Bearer {TOKEN}"
    sent = body(status)
    assert sent["status"] == f"{TEXT}\n\n{LINK}"
    assert (sent["visibility"], sent["language"]) == ("public", "fr")

    # Bluesky: a session opened with the app password, then one record with a fixed key.
    (session,) = server.seen(SESSION)
    assert body(session) == {"identifier": "nextwork.bsky.social", "password": APP_PASSWORD}
    (create,) = server.seen(CREATE)
    assert create.headers["authorization"].endswith(".SESSION-ACCESS-SIGNATURE")
    sent = body(create)
    assert (sent["repo"], sent["collection"], sent["rkey"]) == (DID, "app.bsky.feed.post", rkey)
    assert len(rkey) == 13 and decode_tid(rkey) == (
        int(NOW.timestamp() * 1_000_000),
        made["bluesky"].pk % 1024,
    )
    record = sent["record"]
    shown = "nextwork.example/tribune-retr…"  # the address shortened as the Bluesky app does
    assert record["text"] == f"{TEXT}\n\n{shown}"
    assert record["$type"] == "app.bsky.feed.post" and record["langs"] == ["fr"]
    assert record["createdAt"].endswith("Z")
    raw = record["text"].encode("utf-8")
    tag, link = record["facets"]
    # Offsets in UTF-8 bytes: "é", "✊" and the skin tone before them are 2 + 3 + 4 bytes.
    prefix = TEXT.replace("#retraites", "")
    assert tag["index"] == {"byteStart": len(prefix.encode()),
                            "byteEnd": len(TEXT.encode())}  # fmt: skip
    assert tag["index"]["byteStart"] == len(prefix) + 1 + 2 + 3  # chars + bytes beyond one
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "retraites"}]
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert start == len(f"{TEXT}\n\n".encode()) and raw[start:end].decode() == shown
    assert link["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": LINK}]

    # The log: what was published where, and the text ready to copy for Instagram.
    publication.refresh_from_db()
    made = targets(publication)
    assert publication.status == "done"
    masto, bsky, insta = made["mastodon"], made["bluesky"], made["instagram"]
    assert (masto.status, masto.remote_id, masto.attempts) == ("published", "113571234567890123", 1)
    assert masto.remote_url == "https://piaille.example/@nextwork/113571234567890123"
    assert bsky.status == "published" and bsky.remote_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert bsky.remote_url == f"https://bsky.app/profile/nextwork.bsky.social/post/{rkey}"
    assert masto.published_at is not None and masto.error == ""
    assert insta.status == "prepared" and insta.text == f"{TEXT}\n\n{LINK}"
    assert [p["code"] for p in insta.problems] == ["link_not_clickable"]
    assert "ne sont pas cliquables" in insta.problems[0]["message"]
    assert insta.remote_id == "" and insta.attempts == 0
    (event,) = AuditEvent.objects.filter(action="publishing.create")
    assert event.details["channels"] == [c.pk for c in org.values()]
    # Nothing more to do: a second tick sends nothing.
    assert publishing.publish_due() == {"published": 0, "retrying": 0, "failed": 0}
    assert len(server.requests) == 3


def test_the_monitoring_tick_publishes_what_is_due(people, org, server):
    publication = compose(people, [org["mastodon"]])
    route_success(server, "")
    from nextwork.monitoring.tasks import monitoring_tick

    outcome = monitoring_tick.call()
    assert outcome.endswith("1 published, 0 to retry, 0 failed"), outcome
    assert targets(publication)["mastodon"].status == "published"


# -- retries that never duplicate -----------------------------------------------------------


def test_a_retry_after_a_5xx_sends_the_same_keys_and_does_not_duplicate(people, org, server):
    publication = compose(people, [org["mastodon"], org["bluesky"]])
    rkey = bluesky.record_key(targets(publication)["bluesky"])
    server.route(STATUSES, Answer.file("publishing/mastodon_503.html", status=503,
                                       content_type="text/html"),
                 recorded("mastodon_status.json"))  # fmt: skip
    server.route(SESSION, recorded("bluesky_session.json"))
    # The first record went through but its answer was lost (502): the retry conflicts.
    server.route(CREATE, recorded("bluesky_502.json", status=502),
                 recorded("bluesky_already_exists.json", status=400, rkey=rkey))  # fmt: skip
    server.route(GET_RECORD, Answer.file("publishing/bluesky_get_record.json",
                                         content_type=JSON))  # fmt: skip
    server.routes[GET_RECORD][0].body = server.routes[GET_RECORD][0].body.replace(
        b"RKEY", rkey.encode()
    )

    now = timezone.now()
    assert publishing.publish_due(now=now) == {"published": 0, "retrying": 2, "failed": 0}
    made = targets(publication)
    for target in made.values():
        assert target.status == "pending" and target.attempts == 1
        assert target.next_attempt_at == now + datetime.timedelta(seconds=60)
    assert made["mastodon"].error.startswith("HTTP 503 : ") and "en difficulté" in (
        made["mastodon"].error)  # fmt: skip
    assert made["bluesky"].error.startswith("HTTP 502 : ")
    assert Publication.objects.get(pk=publication.pk).status == "publishing"
    # Not before its time.
    assert publishing.publish_due(now=now + datetime.timedelta(seconds=30))["retrying"] == 0
    assert len(server.seen(STATUSES)) == 1

    later = now + datetime.timedelta(seconds=61)
    assert publishing.publish_due(now=later) == {"published": 2, "retrying": 0, "failed": 0}
    first, second = server.seen(STATUSES)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert [body(r)["rkey"] for r in server.seen(CREATE)] == [rkey, rkey]
    (read_back,) = server.seen(GET_RECORD)
    assert parse_qs(urlsplit(read_back.path).query) == {
        "repo": [DID], "collection": ["app.bsky.feed.post"], "rkey": [rkey],
    }  # fmt: skip
    made = targets(publication)
    assert made["bluesky"].remote_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert made["bluesky"].attempts == 2 and made["bluesky"].error == ""
    assert made["mastodon"].status == "published" and made["mastodon"].attempts == 2
    assert Publication.objects.get(pk=publication.pk).status == "done"


def test_a_429_waits_as_long_as_the_network_asks(people, org, server):
    publication = compose(people, [org["mastodon"], org["bluesky"]])
    now = timezone.now()
    reset = (now + datetime.timedelta(minutes=10)).isoformat()
    server.route(STATUSES, recorded("mastodon_429.json", status=429, **{
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
    }))  # fmt: skip
    server.route(SESSION, recorded("bluesky_429.json", status=429, **{"Retry-After": "240"}))
    assert publishing.publish_due(now=now)["retrying"] == 2
    made = targets(publication)
    wait = (made["mastodon"].next_attempt_at - now).total_seconds()
    assert 590 <= wait <= 601, wait  # the reset time, not the first back-off of 60 s
    assert "limite le nombre de publications" in made["mastodon"].error
    assert made["bluesky"].next_attempt_at == now + datetime.timedelta(seconds=240)
    assert made["bluesky"].error.startswith("HTTP 429 : ")


def test_refusals_fail_at_once_with_the_reason(people, org, server, caplog):
    publication = compose(people, [org["mastodon"], org["bluesky"]])
    server.route(STATUSES, recorded("mastodon_422.json", status=422))
    server.route(SESSION, recorded("bluesky_401.json", status=401))
    with caplog.at_level(logging.DEBUG):
        assert publishing.publish_due() == {"published": 0, "retrying": 0, "failed": 2}
    made = targets(publication)
    assert made["mastodon"].status == "failed" and made["mastodon"].next_attempt_at is None
    assert made["mastodon"].error.endswith(
        "refuse la publication : Validation failed: Text character limit of 500 exceeded"
    )
    assert made["bluesky"].error.startswith("HTTP 401 : ")
    assert "mot de passe d'application" in made["bluesky"].error
    assert server.seen(CREATE) == []
    assert Publication.objects.get(pk=publication.pk).status == "failed"
    for secret in SECRETS:
        assert secret not in caplog.text
        assert all(secret not in t.error for t in made.values())


def test_five_attempts_then_failed(people, org, server):
    publication = compose(people, [org["mastodon"]])
    server.route(STATUSES, Answer(status=503, body=b"busy"))
    now = timezone.now()
    for attempt in range(1, 6):
        outcome = publishing.publish_due(now=now)
        target = targets(publication)["mastodon"]
        assert target.attempts == attempt
        if attempt < 5:
            assert outcome["retrying"] == 1 and target.status == "pending"
            # 1, 2, 4, 8 minutes
            assert target.next_attempt_at == now + datetime.timedelta(minutes=2 ** (attempt - 1))
        now = now + datetime.timedelta(hours=1)
    assert outcome["failed"] == 1 and target.status == "failed"
    assert target.error.endswith("Abandon après 5 essais.")
    assert len(server.seen(STATUSES)) == 5
    assert len({r.headers["idempotency-key"] for r in server.seen(STATUSES)}) == 1


def test_a_partial_publication(people, org, server):
    publication = compose(people, [org["mastodon"], org["bluesky"]])
    server.route(STATUSES, recorded("mastodon_status.json"))
    server.route(SESSION, recorded("bluesky_401.json", status=401))
    publishing.publish_due()
    assert Publication.objects.get(pk=publication.pk).status == "partial"


# -- scheduling -----------------------------------------------------------------------------


def test_scheduled_in_the_future_nothing_until_due(people, org, server):
    now = timezone.now()
    at = now + datetime.timedelta(hours=2)
    publication = compose(people, [org["mastodon"]], now=now, scheduled_at=at)
    route_success(server, "")
    assert publishing.publish_due(now=now + datetime.timedelta(minutes=119))["published"] == 0
    assert server.requests == [] and targets(publication)["mastodon"].status == "pending"
    assert Publication.objects.get(pk=publication.pk).status == "scheduled"
    assert publishing.publish_due(now=at)["published"] == 1
    assert Publication.objects.get(pk=publication.pk).status == "done"


@pytest.mark.parametrize("when, expected", [
    (datetime.datetime(2026, 12, 1, 9, 0), "give the time zone"),
    (NOW - datetime.timedelta(hours=1), "in the past"),
    (NOW + datetime.timedelta(days=400), "a year ahead at most"),
])  # fmt: skip
def test_a_bad_schedule_is_refused(people, org, when, expected):
    with pytest.raises(InvalidInput, match=expected) as caught:
        compose(people, [org["mastodon"]], scheduled_at=when)
    assert caught.value.field == "scheduled_at"


# -- per-network rules ----------------------------------------------------------------------


def test_too_long_for_bluesky_is_refused_with_the_channel_and_what_to_change(people, org):
    # 290 characters and a link: Mastodon counts 290 + 2 + 23, Bluesky 290 + 2 + 30 graphemes.
    text = ("Les relais rencontrent leurs députés ce samedi. " * 7)[:290]
    assert publisher_for("mastodon").check(text, LINK) == []
    with pytest.raises(InvalidInput) as caught:
        compose(people, org.values(), text=text)
    error = caught.value
    assert (error.field, error.code) == ("text", "too_long")
    assert error.message == (
        "Trop long pour Bluesky (nextwork.bsky.social) : 322 graphèmes pour 300 au plus. "
        "Raccourcissez le texte de 22 graphèmes ou retirez ce canal."
    )
    assert not Publication.objects.exists()
    # Without the Bluesky channel, it goes.
    compose(people, [org["mastodon"], org["instagram"]], text=text)


def test_too_long_for_x_is_a_warning_and_the_prepared_text_is_cut(people):
    staff = people["staff"]
    x = presence.channel_create(by=staff, kind="x", url="https://x.com/nextwork")
    youtube = presence.channel_create(by=staff, kind="youtube",
                                      url="https://www.youtube.com/@nextwork")  # fmt: skip
    text = "Samedi, chaque relais rencontre son député à la même heure. " * 6
    publication = compose(people, [x, youtube], text=text.strip())
    made = targets(publication)
    assert publication.status == "done"  # nothing to publish by API
    assert made["x"].status == "prepared" and made["x"].text.endswith(f"…\n\n{LINK}")
    assert publisher_for("x").length(made["x"].text) <= 280
    (problem,) = made["x"].problems
    assert problem["code"] == "too_long" and problem["severity"] == "warning"
    assert problem["message"].startswith("Trop long pour X (nextwork) : 384 caractères pour 280")
    assert made["youtube"].text == f"{text.strip()}\n\n{LINK}" and made["youtube"].problems == []


def test_graphemes_and_addresses_are_counted_as_each_network_counts():
    family, flag, accent = "👨\u200d👩\u200d👧\u200d👦", "🇫🇷", "e\u0301"
    assert [len(graphemes(t)) for t in (family, flag, accent, "✊🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿")] == [1, 1, 1, 1, 1]
    assert len(graphemes("🇫🇷🇪🇺")) == 2 and len(graphemes("\r\n")) == 1
    assert len(graphemes("한국어")) == 3
    bsky, masto = publisher_for("bluesky"), publisher_for("mastodon")
    assert bsky.length(family * 300) == 300 and bsky.check(family * 300, "") == []
    assert bsky.check(family * 301, "")[0].code == "too_long"
    long_url = "https://nextwork.example/" + "a" * 200
    assert masto.length(f"Lisez {long_url}") == 6 + 23
    assert masto.length("@camille@piaille.example merci") == len("@camille merci")
    assert publisher_for("x").length(f"Lisez {long_url}.") == 6 + 23 + 1


def test_a_mastodon_instance_that_allows_more(people, org):
    text = "Compte rendu de la journée d'action nationale. " * 14  # 658 characters
    with pytest.raises(InvalidInput, match="Trop long pour Mastodon"):
        compose(people, [org["mastodon"]], text=text, link="")
    publishing.account_set(by=people["staff"], channel_id=org["mastodon"].pk, token=TOKEN,
                           max_length=1000)  # fmt: skip
    assert compose(people, [org["mastodon"]], text=text, link="").status == "scheduled"


@pytest.mark.parametrize("link, expected", [
    ("ftp://nextwork.example/f", "https://"),
    ("https://nextwork.example/a b", "https://"),
    ("https://user:pw@nextwork.example/", "user name or password"),
    ("https://nextwork.example/" + "a" * 1000, "1,000"),
])  # fmt: skip
def test_a_bad_link_is_refused(people, org, link, expected):
    with pytest.raises(InvalidInput, match=expected) as caught:
        compose(people, [org["mastodon"]], link=link)
    assert caught.value.field == "link"


def test_a_channel_without_an_account_is_prepared_with_a_warning(people, server):
    masto = presence.channel_create(by=people["staff"], kind="mastodon",
                                    url=f"{server.url}/@autre")  # fmt: skip
    target = targets(compose(people, [masto]))["mastodon"]
    assert target.status == "prepared" and target.problems[0]["code"] == "no_account"


# -- who may publish where ------------------------------------------------------------------


def test_a_relay_publishes_on_their_own_area_only(people, org, area, client, api_urls, server):
    camille = people["camille"]  # relay of 75-02
    own = presence.channel_create(by=camille, kind="mastodon", area=area("75-02"),
                                  url=f"{server.url}/@relais7502")  # fmt: skip
    marseille = presence.channel_create(by=people["staff"], kind="x", area=area("13-01"),
                                        url="https://x.com/relais1301")  # fmt: skip
    with pytest.raises(Forbidden):
        publishing.publication_create(by=camille, text="Bonjour", channel_ids=[org["mastodon"].pk])
    client.force_login(camille)

    def post(channels):
        return client.post(f"{API}/posts", {"text": "Rendez-vous samedi", "channels": channels},
                           content_type="application/json")  # fmt: skip

    national = post([org["mastodon"].pk])
    assert national.status_code == 403 and "organisation" in national.json()["error"]["message"]
    elsewhere = post([own.pk, marseille.pk])
    assert elsewhere.status_code == 403 and "13-01" in elsewhere.json()["error"]["message"]
    assert post([999999]).json()["error"] == {
        "code": "not_found",
        "message": "No channel 999999.",
        "field": "channels",
    }
    mine = post([own.pk])
    assert mine.status_code == 201, mine.content
    assert [t["status"] for t in mine.json()["targets"]] == ["prepared"]  # no account yet
    assert not Publication.objects.filter(targets__channel=marseille).exists()
    # The log is scoped as channels are.
    staff_pub = compose(people, [org["mastodon"], own])
    listed = client.get(f"{API}/posts").json()
    assert [p["id"] for p in listed["items"]] == [mine.json()["id"], staff_pub.pk]  # newest first
    assert [t["channel"] for t in listed["items"][1]["targets"]] == [own.pk]  # not the org's
    national_only = compose(people, [org["bluesky"]])
    assert client.get(f"{API}/posts/{national_only.pk}").status_code == 403
    assert client.get(f"{API}/posts/999999").status_code == 404
    assert (
        client.put(
            f"{API}/channels/{org['mastodon'].pk}/publishing-account",
            {"token": "x"},
            content_type="application/json",
        ).status_code
        == 403
    )
    client.force_login(people["coord13"])
    assert [p["id"] for p in client.get(f"{API}/posts").json()["items"]] == []
    client.force_login(people["member"])
    assert client.get(f"{API}/posts").status_code == 403


# -- the API, and secrets that never show ---------------------------------------------------


def test_the_api_composes_and_shows_the_log_without_any_secret(people, org, client, api_urls,
                                                               server, caplog):  # fmt: skip
    client.force_login(people["staff"])
    caplog.set_level(logging.DEBUG)
    accounts = [
        client.put(f"{API}/channels/{org['mastodon'].pk}/publishing-account",
                   {"token": TOKEN}, content_type="application/json"),
        client.put(f"{API}/channels/{org['bluesky'].pk}/publishing-account",
                   {"handle": "@Nextwork.bsky.social", "app_password": APP_PASSWORD,
                    "endpoint": server.url + "/"}, content_type="application/json"),
        client.get(f"{API}/channels/{org['bluesky'].pk}/publishing-account"),
        client.get(f"{API}/channels/{org['instagram'].pk}/publishing-account"),
    ]  # fmt: skip
    assert [a.status_code for a in accounts] == [200, 200, 200, 200]
    assert accounts[2].json() == {
        "channel": org["bluesky"].pk, "kind": "bluesky", "set": True,
        "handle": "nextwork.bsky.social", "endpoint": server.url, "max_length": None,
        "set_at": accounts[2].json()["set_at"],
    }  # fmt: skip
    assert accounts[3].json()["set"] is False
    wrong = client.put(f"{API}/channels/{org['bluesky'].pk}/publishing-account",
                       {"handle": "nextwork.bsky.social", "app_password": "mon mot de passe"},
                       content_type="application/json")  # fmt: skip
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "app_password"
    assert "mon mot de passe" not in wrong.content.decode()
    insecure = client.put(f"{API}/channels/{org['bluesky'].pk}/publishing-account",
                          {"handle": "nextwork.bsky.social", "app_password": APP_PASSWORD,
                           "endpoint": "http://pds.example"},
                          content_type="application/json")  # fmt: skip
    assert insecure.json()["error"]["field"] == "endpoint"

    created = client.post(f"{API}/posts", {
        "text": TEXT, "link": LINK,
        "channels": [org["mastodon"].pk, org["bluesky"].pk, org["instagram"].pk],
    }, content_type="application/json")  # fmt: skip
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["status"] == "scheduled" and out["scheduled_at"] is None
    assert [(t["kind"], t["status"]) for t in out["targets"]] == [
        ("mastodon", "pending"),
        ("bluesky", "pending"),
        ("instagram", "prepared"),
    ]
    assert out["targets"][1]["text"] == f"{TEXT}\n\nnextwork.example/tribune-retr…"
    assert out["targets"][2]["problems"][0]["code"] == "link_not_clickable"
    refused = client.post(f"{API}/posts", {"text": "x" * 301, "channels": [org["bluesky"].pk]},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "too_long"
    assert refused.json()["error"]["field"] == "text"

    rkey = bluesky.record_key(PublicationTarget.objects.get(channel=org["bluesky"]))
    route_success(server, rkey)
    publishing.publish_due()
    detail = client.get(f"{API}/posts/{out['id']}").json()
    assert detail["status"] == "done"
    assert detail["targets"][0]["remote_url"].endswith("/@nextwork/113571234567890123")
    listed = client.get(f"{API}/posts?status=done")
    answers = [a.content.decode() for a in [*accounts, created, listed]] + [json.dumps(detail)]
    stored = PublishingAccount.objects.get(channel=org["mastodon"])
    for secret in SECRETS:
        assert all(secret not in answer for answer in answers), secret
        assert secret not in caplog.text, secret
        assert secret not in repr(stored) and secret not in str(stored)
        for account in PublishingAccount.objects.all():
            assert secret not in account.secret  # encrypted at rest
    assert "secret" not in accounts[0].json()
    assert AuditEvent.objects.filter(action="publishing.account_set").count() >= 4
    assert all(TOKEN not in json.dumps(e.details) for e in AuditEvent.objects.all())


def test_a_changed_key_makes_the_credentials_unreadable_and_says_so(people, org, server,
                                                                    settings):  # fmt: skip
    assert credentials.decrypt(PublishingAccount.objects.get(channel=org["mastodon"]).secret) == {
        "token": TOKEN
    }
    publication = compose(people, [org["mastodon"]])
    settings.NEXTWORK_SECRETS_KEY = "une autre clé, après une rotation"
    assert publishing.publish_due()["failed"] == 1
    target = targets(publication)["mastodon"]
    assert target.status == "failed" and "saisissez-les de nouveau" in target.error
    assert server.requests == []
    # Entered again under the new key, they work.
    publishing.account_set(by=people["staff"], channel_id=org["mastodon"].pk, token=TOKEN)
    route_success(server, "")
    assert targets(compose(people, [org["mastodon"]]))["mastodon"].status == "pending"
    assert publishing.publish_due()["published"] == 1


def test_only_mastodon_and_bluesky_take_an_account(people, org):
    with pytest.raises(InvalidInput, match="no publishing API") as caught:
        publishing.account_set(by=people["staff"], channel_id=org["instagram"].pk, token=TOKEN)
    assert caught.value.field == "channel_id" and TOKEN not in str(caught.value)


# -- two ticks at once ----------------------------------------------------------------------


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """A channel, its account and a due publication committed for real (each thread has a
    connection of its own), removed afterwards. No ``transaction=True``: its flush at the end
    would also empty the territory registry that the session imported once."""
    server = RecordedServer().__enter__()
    with django_db_blocker.unblock():
        channel = Channel.objects.create(kind="mastodon", url=f"{server.url}/@race",
                                         handle="@race")  # fmt: skip
        PublishingAccount.objects.create(channel=channel,
                                         secret=credentials.encrypt({"token": TOKEN}))  # fmt: skip
        publication = Publication.objects.create(text="Une seule fois", created_at=NOW)
        target = PublicationTarget.objects.create(
            publication=publication, channel=channel, text="Une seule fois", next_attempt_at=NOW
        )
    try:
        yield server, target
    finally:
        server.__exit__(None, None, None)
        with django_db_blocker.unblock():
            Publication.objects.filter(pk=publication.pk).delete()
            channel.delete()


def test_two_ticks_at_once_publish_once(committed, django_db_blocker):
    server, target = committed
    server.route(STATUSES, recorded("mastodon_status.json"))
    results, errors = [], []
    barrier = threading.Barrier(4)

    def tick():
        try:
            barrier.wait()
            results.append(publishing.publish_due())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=tick) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(r["published"] for r in results) == 1
        assert len(server.seen(STATUSES)) == 1
        done = PublicationTarget.objects.get(pk=target.pk)
        assert (done.status, done.attempts) == ("published", 1)
        assert Publication.objects.get(pk=target.publication_id).status == "done"

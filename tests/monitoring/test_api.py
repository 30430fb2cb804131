"""/api/v1/ingest (a source's token, JSON lines: bad lines reported by number, the rest
stored; oversized bodies and wrong tokens refused with nothing stored) and the watch rules
with their series (staff only)."""

from __future__ import annotations

import datetime

import orjson
import pytest

from nextwork.monitoring import services
from nextwork.monitoring.ingest import MAX_BYTES, MAX_LINES
from nextwork.monitoring.models import Mention, MinuteCount, Post

API = "/api/v1"


def lines(*items) -> bytes:
    return b"\n".join(i if isinstance(i, bytes) else orjson.dumps(i) for i in items)


def send(client, token, body: bytes, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.post(f"{API}/ingest", body, content_type="application/x-ndjson",
                       **headers, **extra)  # fmt: skip


def error_of(response, status, field=None):
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    if field is not None:
        assert error["field"] == field, error
    return error["message"]


def test_good_lines_are_stored_and_bad_ones_reported_by_number(client, ingest_source, rule):
    source, token = ingest_source
    watched = rule()
    body = lines(
        {"id": "1", "text": "Non à la réforme des retraites", "lang": "fr",
         "published_at": "2026-11-27T10:00:00Z", "handle": "@alice@forum.example"},
        b"{not json",
        {"id": "2"},
        b"",
        {"text": "sans identité"},
        {"id": 3, "text": "Un autre sujet", "url": "https://forum.example/t/3"},
        {"id": "4", "text": "retraites", "published_at": "hier"},
        {"id": "5", "text": "retraites", "published_at": "2026-11-27T10:00:00"},
        [1, 2],
        {"id": "1", "text": "Non à la réforme des retraites"},  # the same post again
    )  # fmt: skip
    answer = send(client, token, body)
    assert answer.status_code == 200, answer.content
    got = answer.json()
    assert (got["lines"], got["accepted"], got["new"], got["duplicates"], got["mentions"]) == (
        9, 3, 2, 1, 1,
    )  # fmt: skip
    assert got["error_count"] == 6
    assert [(e["line"], e["message"].split(":")[0].split(" (")[0]) for e in got["errors"]] == [
        (2, "not valid JSON"), (3, "text"), (5, "id or url"),
        (7, "published_at"), (8, "published_at"), (9, "each line is a JSON object"),
    ]  # fmt: skip
    stored = Post.objects.get(external_id="1")
    assert stored.author_handle == "@alice@forum.example" and stored.network == "ingest"
    assert stored.published_at == datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
    assert Mention.objects.get().rule == watched
    source.refresh_from_db()
    assert source.posts_stored == 2


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "Authorization: Bearer"), ("wrong", "Wrong ingestion token")],
)
def test_a_missing_or_wrong_token_is_refused_and_nothing_stored(client, ingest_source, token,
                                                               message):  # fmt: skip
    answer = send(client, token, lines({"id": "1", "text": "x"}))
    assert message in error_of(answer, 401)
    assert not Post.objects.exists()


def test_a_switched_off_source_refuses_its_token(client, ingest_source):
    source, token = ingest_source
    source.active = False
    source.save()
    assert "switched off" in error_of(send(client, token, lines({"id": "1", "text": "x"})), 401)


def test_oversized_bodies_are_refused_whole(client, ingest_source):
    _, token = ingest_source
    big = lines({"id": "1", "text": "x" * 19_000}) + b"\n" + b" " * (MAX_BYTES)
    assert "send it in parts" in error_of(send(client, token, big), 413, "body")
    many = lines(*({"id": str(i), "text": "x"} for i in range(MAX_LINES + 1)))
    assert len(many) < MAX_BYTES
    assert "10,000 lines" in error_of(send(client, token, many), 413, "body")
    assert not Post.objects.exists()
    assert "empty" in error_of(send(client, token, b"\n \n"), 400, "body")


def test_rules_are_staff_only_and_checked(client, people):
    payload = {"name": "Retraites", "terms": ["retraites", "#RéformeDesRetraites"],
               "exclusions": ["retraites complémentaires"], "languages": ["fr"]}  # fmt: skip
    client.force_login(people["coord75"])
    error_of(client.post(f"{API}/watch-rules", payload, content_type="application/json"), 403)
    error_of(client.get(f"{API}/watch-rules"), 403)
    client.force_login(people["staff"])
    made = client.post(f"{API}/watch-rules", payload, content_type="application/json")
    assert made.status_code == 201 and made.json()["followers"] == 1
    bad = {**payload, "terms": ["retraites", "!"]}
    message = error_of(client.post(f"{API}/watch-rules", bad, content_type="application/json"),
                       400, "terms")  # fmt: skip
    assert message.startswith("terms[1]:")
    bad = {**payload, "languages": ["français"]}
    error_of(client.post(f"{API}/watch-rules", bad, content_type="application/json"), 400,
             "languages")  # fmt: skip
    listed = client.get(f"{API}/watch-rules").json()
    assert listed["total"] == 1 and listed["items"][0]["terms"] == payload["terms"]


def test_the_series_counts_per_minute_and_hour_with_zeros(client, people, rule):
    watched = rule()
    t0 = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)
    services.store_posts(source=None, posts=[
        services.PostIn(network="t", external_id=str(i), text="retraites",
                        published_at=t0 + datetime.timedelta(minutes=m))
        for i, m in enumerate([0, 0, 2, 59, 61])
    ])  # fmt: skip
    assert MinuteCount.objects.count() == 4
    client.force_login(people["staff"])
    url = f"{API}/watch-rules/{watched.pk}/series"
    minutes = client.get(url, {"bucket": "minute", "from": "2026-11-27T09:00:00Z",
                               "to": "2026-11-27T09:05:00Z"}).json()  # fmt: skip
    assert [p["count"] for p in minutes["points"]] == [2, 0, 1, 0, 0]
    hours = client.get(url, {"bucket": "hour", "from": "2026-11-27T08:00:00Z",
                             "to": "2026-11-27T11:00:00Z"}).json()  # fmt: skip
    assert [p["count"] for p in hours["points"]] == [0, 4, 1]
    assert hours["points"][1]["t"].startswith("2026-11-27T09:00:00")
    error_of(client.get(url, {"bucket": "day"}), 400, "bucket")
    error_of(client.get(url, {"from": "2026-11-20T00:00:00Z", "to": "2026-11-28T00:00:00Z"}),
             400, "from")  # fmt: skip
    error_of(client.get(url, {"from": "2026-11-27T09:00:00"}), 400, "from")
    error_of(client.get(f"{API}/watch-rules/999999/series"), 404)
    client.force_login(people["member"])
    error_of(client.get(url), 403)

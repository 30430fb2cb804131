"""Mastodon timelines read through the plugin (Mastodon.py) against recorded answers served by a
local server: hashtags and a timeline stored, the position sent back next time, a boost stored
as its original, HTML made text, a 429 obeyed, errors shown, a busy hashtag read in bounded
pages without a hole, and the same status seen under two hashtags stored once."""

from __future__ import annotations

import copy
import datetime
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from nextwork.common.errors import InvalidInput
from nextwork.monitoring import runner, services
from nextwork.monitoring.models import Mention, Post, Source
from nextwork.monitoring.sources import mastodon
from tests.recorded_server import RECORDED, Answer, RecordedServer

JSON = "application/json; charset=utf-8"
TAG = "/api/v1/timelines/tag/{}"
PUBLIC = "/api/v1/timelines/public"


def recorded(name: str, **headers) -> Answer:
    return Answer.file(f"monitoring/{name}", content_type=JSON, **headers)


def statuses(name: str) -> list[dict]:
    return json.loads((RECORDED / "monitoring" / name).read_text())


@pytest.fixture
def server():
    with RecordedServer() as running:
        running.route("/api/v2/instance/", recorded("mastodon_instance.json"))
        yield running


@pytest.fixture
def source(people, server):
    def make(hashtags=("retraites",), timeline="", name="Mastodon"):
        made, _ = services.source_create(
            by=people["staff"], kind="mastodon", name=name, interval_seconds=120,
            config={"instance": server.url + "/", "hashtags": list(hashtags),
                    "timeline": timeline},
        )  # fmt: skip
        return made

    return make


def reload(source) -> Source:
    return Source.objects.get(pk=source.pk)


def query(seen) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(seen.path).query).items()}


def test_hashtags_and_the_local_timeline_are_read_stored_and_matched(source, server, rule):
    retraites = rule()
    here = server.url + TAG.format("retraites")
    link = (f'<{here}?max_id=113560000000000001>; rel="next", '
            f'<{here}?min_id=113560000000000003>; rel="prev"')  # fmt: skip
    server.route(TAG.format("retraites"), recorded("mastodon_tag_retraites.json", Link=link))
    server.route(TAG.format("greve"), recorded("mastodon_tag_greve.json"))
    server.route(PUBLIC, recorded("mastodon_timeline_local.json"))
    made = source(["retraites", "greve"], timeline="local")
    outcome = runner.poll_source(made.pk)
    # 3 + 2 + 2 statuses read; the manifestation tagged twice is one post.
    assert outcome.endswith("6 new, 1 seen before, 4 mentions"), outcome
    host = urlsplit(server.url).netloc
    shared = Post.objects.get(external_id="https://mastodon.example/users/camille/statuses/"
                                          "113560000000000001")  # fmt: skip
    assert shared.url == "https://mastodon.example/@camille/113560000000000001"
    assert (shared.author, shared.author_handle) == ("Camille Durand", f"@camille@{host}")
    assert shared.text == ("Manif contre la réforme des retraites jeudi, départ 14 h place "
                           "d'Italie. #Retraites #greve")  # fmt: skip
    assert shared.lang == "fr"
    assert shared.published_at == datetime.datetime(2026, 11, 27, 8, 1, 10, tzinfo=datetime.UTC)
    remote = Post.objects.get(url="https://piaille.example/@lea/113559999000000001")
    assert remote.author_handle == "@lea@piaille.example" and remote.author == "Léa :syndicat:"
    assert remote.text == ("@camille la caisse de grève est ici : "
                           "https://caisse.example/greve-2026 #retraites")  # fmt: skip
    # No web address: the uri is the address; no language: "".
    english = Post.objects.get(external_id="https://social.example/users/noor/statuses/77001")
    assert english.url == english.external_id and english.lang == "en"
    assert Post.objects.filter(author_handle=f"@camille@{host}", lang="").count() == 1
    assert Mention.objects.filter(rule=retraites).count() == 4
    made = reload(made)
    assert made.failures == 0 and made.posts_stored == 6 and made.lag_seconds > 0
    assert json.loads(made.cursor) == {
        "#retraites": "113560000000000003", "#greve": "113560000000000004",
        "@local": "113560000000000010",
    }  # fmt: skip
    first = {urlsplit(s.path).path: query(s) for s in server.requests}
    assert first[TAG.format("retraites")] == {"limit": "40"}  # newest page, no history
    assert first[PUBLIC] == {"limit": "40", "local": "1"}
    assert server.seen(PUBLIC)[0].headers["user-agent"].startswith("nextwork-monitoring/")
    assert "authorization" not in server.seen(PUBLIC)[0].headers


def test_the_position_is_sent_back_and_only_what_is_newer_is_read(source, server, rule):
    rule()
    server.route(TAG.format("retraites"), recorded("mastodon_tag_retraites.json"),
                 recorded("mastodon_tag_retraites_next.json"))  # fmt: skip
    made = source()
    runner.poll_source(made.pk)
    assert runner.poll_source(made.pk).endswith("1 new, 0 seen before, 1 mentions")
    second = server.seen(TAG.format("retraites"))[1]
    assert query(second) == {"min_id": "113560000000000003", "limit": "40"}
    assert reload(made).cursor == '{"#retraites":"113560000000000020"}'
    assert Post.objects.count() == 4


def test_a_boost_is_stored_as_the_status_it_boosts(source, server):
    server.route(PUBLIC, recorded("mastodon_timeline_local.json"))
    runner.poll_source(source([], timeline="public").pk)
    original = Post.objects.get(url="https://autre.example/@sam/990")
    assert original.external_id == "https://autre.example/users/sam/statuses/990"
    assert (original.author, original.author_handle) == ("Sam B.", "@sam@autre.example")
    assert original.text == "Tribune : pourquoi la réforme des retraites ne passera pas."
    assert not Post.objects.filter(external_id__endswith="/activity").exists()
    assert query(server.seen(PUBLIC)[0]) == {"limit": "40"}  # the federated timeline


def test_html_becomes_text_with_the_content_warning_first():
    (spoiler,) = [s for s in statuses("mastodon_tag_retraites.json") if s["spoiler_text"]]
    post = mastodon._post(spoiler, "mastodon.example")
    assert post.text == ('Politique, retraites\nLe 49.3 encore ? "Inacceptable" & prévisible.\n'
                         "On lâche rien !\nRendez-vous demain.")  # fmt: skip
    assert mastodon.text_of("<p>a<br>b</p><p>c &lt;3</p><script>x()</script>") == "a\nb\nc <3"


def test_a_busy_hashtag_is_read_in_bounded_pages_and_resumes_without_a_hole(source, server):
    template = statuses("mastodon_tag_retraites_next.json")[0]

    def page(first: int, count: int = mastodon.PAGE_SIZE) -> Answer:
        found = []
        for n in range(first + count - 1, first - 1, -1):  # newest first, as Mastodon answers
            status = copy.deepcopy(template)
            status["id"] = str(113570000000000000 + n)
            status["uri"] = status["url"] = f"https://piaille.example/@lea/{n}"
            found.append(status)
        return Answer(body=json.dumps(found).encode(), headers={"Content-Type": JSON})

    made = source()
    Source.objects.filter(pk=made.pk).update(cursor='{"#retraites":"113570000000000000"}')
    pages = [page(1 + i * 40) for i in range(mastodon.MAX_PAGES + 1)]
    server.route(TAG.format("retraites"), *pages[:5], pages[5], page(241, 3))
    assert runner.poll_source(made.pk).endswith("200 new, 0 seen before, 0 mentions")
    asked = [query(s)["min_id"] for s in server.seen(TAG.format("retraites"))]
    assert asked == [str(113570000000000000 + n) for n in (0, 40, 80, 120, 160)]
    assert reload(made).cursor == '{"#retraites":"113570000000000200"}'
    assert runner.poll_source(made.pk).endswith("43 new, 0 seen before, 0 mentions")
    assert query(server.seen(TAG.format("retraites"))[5])["min_id"] == "113570000000000200"
    assert Post.objects.count() == 243


def test_a_cursor_too_long_for_its_field_keeps_one_safe_position(source, server):
    tags = [f"mobilisation{i:02d}" for i in range(mastodon.MAX_HASHTAGS)]
    for i, tag in enumerate(tags):
        status = statuses("mastodon_tag_retraites_next.json")[0]
        status["id"] = str(113580000000000000 + i)
        server.route(TAG.format(tag), Answer(body=json.dumps([status]).encode()))
    made = source(tags)
    runner.poll_source(made.pk)
    assert reload(made).cursor == '{"*":"113580000000000019"}'
    runner.poll_source(made.pk)
    for tag in tags:
        assert query(server.seen(TAG.format(tag))[1])["min_id"] == "113580000000000019"


def test_a_429_is_obeyed_until_the_reset_time(source, server):
    reset = (timezone.now() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    server.route(TAG.format("retraites"), Answer(
        status=429, body=b'{"error":"Too many requests"}',
        headers={"Content-Type": JSON, "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": reset},
    ))  # fmt: skip
    made = source()
    before = timezone.now()
    assert "busy, back in" in runner.poll_source(made.pk)
    made = reload(made)
    assert made.failures == 0 and made.last_error.startswith("HTTP 429: ")
    assert made.next_run_at >= before + datetime.timedelta(minutes=59)
    server.route(TAG.format("retraites"), Answer(status=503, headers={"Retry-After": "900"}))
    runner.poll_source(made.pk)
    assert reload(made).last_error.endswith("asks to wait 900 s.")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(status=500, body=b"<html>oops</html>"), "HTTP 500 from http://"),
        (Answer.file("monitoring/mastodon_malformed.json", content_type=JSON),
         "answered with something that is not a list of statuses (HTTP 200)"),
        (Answer.file("monitoring/mastodon_not_statuses.json", content_type=JSON),
         "answered with something that is not a list of statuses"),
        (Answer(status=401, body=b'{"error":"This API requires an authenticated user"}'),
         "HTTP 401: http://"),
        (Answer(status=404, body=b'{"error":"Record not found"}'), "has no such timeline"),
    ],
)  # fmt: skip
def test_errors_are_failures_with_a_clear_message(source, server, answer, error):
    server.route(TAG.format("retraites"), answer)
    made = source()
    runner.poll_source(made.pk)
    made = reload(made)
    assert made.failures == 1 and error in made.last_error, made.last_error
    assert "oops" not in made.last_error and "coup" not in made.last_error  # no body quoted
    assert made.cursor == "" and Post.objects.count() == 0


def test_an_unreachable_instance_is_a_failure(people):
    made, _ = services.source_create(by=people["staff"], kind="mastodon", name="Gone",
                                     config={"instance": "http://127.0.0.1:9",
                                             "hashtags": ["retraites"]})  # fmt: skip
    runner.poll_source(made.pk)
    assert reload(made).last_error == "http://127.0.0.1:9 unreachable."


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hashtags": ["retraites"]}, r"config\.instance: the instance's address"),
        ({"instance": "https://m.example/@camille", "hashtags": ["a"]}, r"\(no path\)"),
        ({"instance": "https://m.example"}, "at least one hashtag or a timeline"),
        ({"instance": "https://m.example", "hashtags": ["#greve"]},
         r"config\.hashtags\[0\]: without the #, as 'greve'"),
        ({"instance": "https://m.example", "hashtags": ["a", "b c"]}, r"hashtags\[1\]: letters"),
        ({"instance": "https://m.example", "hashtags": "greve"}, "a list of hashtags"),
        ({"instance": "https://m.example", "hashtags": [f"t{i}" for i in range(21)]},
         "20 hashtags at most"),
        ({"instance": "https://m.example", "timeline": "home"}, "empty, public or local"),
        ({"instance": "https://m.example", "token": "secret"}, "unknown setting 'token'"),
    ],
)  # fmt: skip
def test_the_config_is_checked(people, config, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        services.source_create(by=people["staff"], kind="mastodon", name="x", config=config)
    assert refused.value.field == "config"


def test_a_config_is_kept_tidy(people):
    made, _ = services.source_create(
        by=people["staff"], kind="mastodon", name="x", interval_seconds=60,
        config={"instance": "https://mastodon.social/", "hashtags": ["Retraites", "retraites",
                                                                      "grève"]},
    )  # fmt: skip
    assert made.config == {"instance": "https://mastodon.social",
                           "hashtags": ["Retraites", "grève"], "timeline": ""}  # fmt: skip


def test_an_unreadable_status_is_skipped_not_a_stuck_source(source, server):
    odd = {"id": "113560000000000021", "created_at": "2026-11-27T09:01:00.000Z", "content": ""}
    good = statuses("mastodon_tag_retraites_next.json")[0]
    server.route(TAG.format("retraites"), Answer(body=json.dumps([odd, good]).encode()))
    made = source()
    assert runner.poll_source(made.pk).endswith("1 new, 0 seen before, 0 mentions")
    made = reload(made)
    assert made.failures == 0 and made.cursor == '{"#retraites":"113560000000000021"}'

"""Opens and clicks: instrumented HTML, the pixel, the signed redirect, the member's choice."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest
from django.core import signing
from PIL import Image

from nextwork.messaging import consent, tracking
from nextwork.messaging.models import Delivery, DeliveryStatus, Message

SITE = "https://reseau.example.org"


@pytest.fixture(autouse=True)
def site(settings):
    settings.NEXTWORK_SITE_URL = SITE


@pytest.fixture
def delivery(make_member):
    def make(*, tracking_on: bool = True) -> Delivery:
        member = make_member("Camille")
        prefs = consent.preferences_for(member)
        prefs.tracking = tracking_on
        prefs.save()
        message = Message.objects.create(channel="email", message_type="newsletter", status="sent")
        return Delivery.objects.create(message=message, member=member, status=DeliveryStatus.SENT)

    return make


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.imgs = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.hrefs.append(attrs.get("href"))
        if tag == "img":
            self.imgs.append(attrs)


def parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


class Ref:
    def __init__(self, pk):
        self.pk = pk


HTML = """<!DOCTYPE html>
<html><head><title>Lettre</title></head>
<body>
<!--[if mso]><table><tr><td><![endif]-->
<p>Bonjour, <a href="https://example.net/article?a=1&amp;b=2" class="cta" data-x>lisez</a>
et <A HREF='http://example.net/autre'>ceci</A>.</p>
<p><a href="mailto:contact@example.org">écrire</a> <a href="#haut">haut</a>
<a href="/relatif">relatif</a> <a name="ancre">ancre</a> <a href="tel:+33100000000">appel</a></p>
<p><a href="https://reseau.example.org/desinscription/abc/">Se désinscrire</a>
<a href="https://reseau.example.org/espace/preferences">Préférences</a>
<a href="https://reseau.example.org/evenements/">Nos événements</a></p>
<p>Texte avec href="https://example.net/pas-un-lien" écrit en clair.</p>
</body></html>
"""


def test_instrument_rewrites_web_links_only_and_keeps_the_rest(db):
    out = tracking.instrument_html(HTML, Ref(42))
    hrefs = parse(out).hrefs
    rewritten = [h for h in hrefs if h and h.startswith(f"{SITE}/m/c/")]
    assert len(rewritten) == 3  # two outside links and the events page of the site
    targets = [
        tracking.read_click_token(h.removeprefix(f"{SITE}/m/c/").rstrip("/")) for h in rewritten
    ]
    assert targets == [
        (42, "https://example.net/article?a=1&b=2"),
        (42, "http://example.net/autre"),
        (42, f"{SITE}/evenements/"),
    ]
    for kept in (
        "mailto:contact@example.org",
        "#haut",
        "/relatif",
        "tel:+33100000000",
        f"{SITE}/desinscription/abc/",
        f"{SITE}/espace/preferences",
    ):
        assert kept in hrefs
    # The rest of the document is given back as it was: comments, text, other attributes.
    assert "<!--[if mso]><table><tr><td><![endif]-->" in out
    assert 'Texte avec href="https://example.net/pas-un-lien" écrit en clair.' in out
    assert 'class="cta" data-x>lisez</a>' in out
    assert '<a name="ancre">ancre</a>' in out
    assert out.startswith("<!DOCTYPE html>\n<html><head><title>Lettre</title></head>")


def test_instrument_adds_one_pixel_inside_the_body(db):
    out = tracking.instrument_html(HTML, Ref(42))
    imgs = parse(out).imgs
    assert len(imgs) == 1
    src = imgs[0]["src"]
    assert src.startswith(f"{SITE}/m/o/") and src.endswith(".gif")
    assert tracking.read_open_token(src.removeprefix(f"{SITE}/m/o/").removesuffix(".gif")) == 42
    assert (imgs[0]["width"], imgs[0]["height"], imgs[0]["alt"]) == ("1", "1", "")
    assert out.index(src) < out.index("</body>")
    # A fragment without a body gets the pixel at its end.
    fragment = tracking.instrument_html('<p><a href="https://example.net">x</a></p>', Ref(7))
    assert fragment.startswith("<p><a href=") and fragment.endswith(
        '.gif" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px" />'
    )


def test_a_link_is_not_wrapped_twice(db):
    once = tracking.instrument_html('<a href="https://example.net/">x</a>', Ref(3))
    twice = tracking.instrument_html(once.split("<img")[0], Ref(3))
    assert parse(twice).hrefs == parse(once).hrefs


def test_the_click_redirects_to_the_signed_target_and_records_once(client, delivery):
    d = delivery()
    url = tracking.click_url(d.pk, "https://example.net/article?a=1&b=2")
    response = client.get(url.removeprefix(SITE))
    assert response.status_code == 302
    assert response["Location"] == "https://example.net/article?a=1&b=2"
    assert "no-store" in response["Cache-Control"]
    d.refresh_from_db()
    first = d.clicked_at
    assert first is not None
    assert d.opened_at == first  # images were blocked: the click is the open
    prefs = consent.preferences_for(d.member)
    assert prefs.last_clicked_at == first and prefs.last_opened_at == first
    client.get(url.removeprefix(SITE))
    d.refresh_from_db()
    assert d.clicked_at == first
    assert consent.preferences_for(d.member).last_clicked_at > first


def test_a_click_is_not_recorded_when_the_member_does_not_allow_it(client, delivery):
    d = delivery(tracking_on=False)
    response = client.get(tracking.click_url(d.pk, "https://example.net/").removeprefix(SITE))
    assert response.status_code == 302  # the member still gets where the link pointed
    d.refresh_from_db()
    assert d.clicked_at is None and d.opened_at is None
    assert consent.preferences_for(d.member).last_clicked_at is None


def test_the_member_turning_tracking_off_after_the_send_wins(client, delivery):
    d = delivery(tracking_on=True)
    url = tracking.open_url(d.pk).removeprefix(SITE)
    prefs = consent.preferences_for(d.member)
    prefs.tracking = False
    prefs.save()
    client.get(url)
    d.refresh_from_db()
    assert d.opened_at is None


@pytest.mark.parametrize(
    "token",
    [
        "nimportequoi",
        signing.dumps([1, "https://evil.example/"], salt="another.salt"),
        signing.dumps([1, "javascript:alert(1)"], salt=tracking.CLICK_SALT),
        signing.dumps({"d": 1}, salt=tracking.CLICK_SALT),
        tracking.open_token(1),
    ],
    ids=["garbage", "other salt", "script target", "wrong shape", "open token"],
)
def test_a_forged_click_link_gets_a_clear_400_page(client, delivery, token):
    d = delivery()
    response = client.get(f"/m/c/{token}/")
    assert response.status_code == 400
    assert "Location" not in response
    assert "Ce lien ne fonctionne pas" in response.content.decode()
    d.refresh_from_db()
    assert d.clicked_at is None


def test_a_tampered_target_is_refused(client, delivery):
    d = delivery()
    token = tracking.click_token(d.pk, "https://example.net/")
    other = tracking.click_token(d.pk, "https://evil.example/")
    forged = other.split(":")[0] + ":" + token.split(":", 1)[1]
    assert client.get(f"/m/c/{forged}/").status_code == 400


def test_the_pixel_is_a_transparent_gif_and_records_the_open(client, delivery):
    d = delivery()
    response = client.get(tracking.open_url(d.pk).removeprefix(SITE))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert response["Pragma"] == "no-cache"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "GIF" and image.size == (1, 1)
    assert image.convert("RGBA").getpixel((0, 0))[3] == 0
    d.refresh_from_db()
    first = d.opened_at
    assert first is not None and d.clicked_at is None
    assert consent.preferences_for(d.member).last_opened_at == first
    client.get(tracking.open_url(d.pk).removeprefix(SITE))
    d.refresh_from_db()
    assert d.opened_at == first


def test_a_bad_pixel_token_still_answers_the_gif_and_records_nothing(client, delivery):
    d = delivery()
    for token in ("abc", tracking.click_token(d.pk, "https://example.net/")):
        response = client.get(f"/m/o/{token}.gif")
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    d.refresh_from_db()
    assert d.opened_at is None


def test_head_requests_record_nothing(client, delivery):
    d = delivery()
    assert client.head(tracking.open_url(d.pk).removeprefix(SITE)).status_code == 200
    url = tracking.click_url(d.pk, "https://example.net/").removeprefix(SITE)
    assert client.head(url).status_code == 302
    d.refresh_from_db()
    assert d.opened_at is None and d.clicked_at is None


def test_an_erased_member_s_link_still_redirects(client, delivery):
    d = delivery()
    url = tracking.click_url(d.pk, "https://example.net/").removeprefix(SITE)
    d.member.delete()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "https://example.net/"

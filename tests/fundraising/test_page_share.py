"""Share previews of personal fundraising pages: OpenGraph and Twitter card tags, none for a
hidden page."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from nextwork.fundraising import pages
from tests.fundraising.test_pages_service import image

pytestmark = pytest.mark.django_db

SITE = "https://dons.example.org"


def metas(response) -> dict[str, str]:
    found = {}
    for tag in re.findall(r"<meta [^>]+>", response.content.decode()):
        key = re.search(r'(?:property|name)="([^"]+)"', tag)
        value = re.search(r'content="([^"]*)"', tag)
        if key and value:
            found[key.group(1)] = htmllib.unescape(value.group(1))
    return found


@pytest.fixture
def owner(make_member):
    return make_member("Léa")


@pytest.fixture
def site(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.NEXTWORK_SITE_URL = SITE


def test_a_page_with_a_photo_has_its_preview(client, site, owner, beneficiaries):
    text = (
        "Pour mes 30 ans, je collecte pour que l'école du quartier ouvre le samedi.\n\n"
        "<b>Chaque don</b> compte & sera utile. " + "Merci ! " * 40
    )
    page = pages.page_create(
        owner=owner, beneficiary_id=beneficiaries["association"].pk, title="Mes 30 ans",
        text=text, goal_cents=300_000, photo=image("PNG", "fete.png"),
    )  # fmt: skip
    # Requested as http://testserver: the preview's addresses are on NEXTWORK_SITE_URL.
    response = client.get(f"/dons/pages/{page.slug}/")
    assert response.status_code == 200
    meta = metas(response)
    url = f"{SITE}/dons/pages/{page.slug}/"
    assert meta["og:title"] == meta["twitter:title"] == "Mes 30 ans"
    assert meta["og:url"] == url
    assert meta["og:type"] == "website"
    description = meta["og:description"]
    assert description == meta["twitter:description"] == meta["description"]
    assert description.startswith(
        "Pour mes 30 ans, je collecte pour que l'école du quartier ouvre le samedi. "
        "Chaque don compte & sera utile. Merci !"
    )
    assert len(description) <= 200 and description.endswith("…")
    assert "<b>" not in description and "\n" not in description
    assert meta["og:image"] == meta["twitter:image"] == f"{SITE}{page.photo.url}"
    assert meta["og:image"].startswith(f"{SITE}/") and meta["og:image"].endswith(".png")
    assert meta["twitter:card"] == "summary_large_image"
    assert f'<link rel="canonical" href="{url}">' in response.content.decode()


def test_a_page_without_photo_or_text(client, site, owner, beneficiaries):
    page = pages.page_create(
        owner=owner, beneficiary_id=beneficiaries["party"].pk, title="Sans photo",
        text="", goal_cents=10_000,
    )  # fmt: skip
    meta = metas(client.get(f"/dons/pages/{page.slug}/"))
    assert "og:image" not in meta and "twitter:image" not in meta
    assert meta["twitter:card"] == "summary"
    assert meta["og:description"] == "Collecte pour Parti A."


def test_a_hidden_page_has_no_preview(client, site, owner, beneficiaries, people):
    page = pages.page_create(
        owner=owner, beneficiary_id=beneficiaries["party"].pk, title="Titre injurieux",
        text="Texte injurieux", goal_cents=10_000, photo=image("PNG", "x.png"),
    )  # fmt: skip
    pages.page_moderate(page_id=page.pk, by=people["staff"], hide=True, reason="Injures")
    response = client.get(f"/dons/pages/{page.slug}/")
    html = response.content.decode()
    meta = metas(response)
    assert not [k for k in meta if k.startswith(("og:", "twitter:"))]
    assert "description" not in meta and meta["robots"] == "noindex"
    assert "Titre injurieux" not in html and "Texte injurieux" not in html

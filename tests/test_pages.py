"""Pages rendered by Django's test client (the browser tests cover the key paths)."""

import pytest


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/", "Trouver ma circonscription"),
        ("/carte/", "Les 577 circonscriptions"),
        ("/circonscriptions/48-01/", "Lozère (1re circonscription)"),
        ("/circonscriptions/99-07/", "Allemagne"),
    ],
)
def test_pages_render(client, registry, url, text):
    response = client.get(url)
    assert response.status_code == 200
    assert text in response.content.decode()


def test_vacant_seat_page_never_shows_the_former_deputy_as_current(client, engine):
    code = next(c for c, seat in engine.seats.items() if seat["vacant"])
    html = client.get(f"/circonscriptions/{code}/").content.decode()
    assert "Siège vacant" in html
    assert "a pris fin le" in html


def test_unique_postcode_redirects_to_the_seat(client, registry):
    response = client.get("/trouver/", {"postcode": "48000"})
    assert response.status_code == 302
    assert response["Location"] == "/circonscriptions/48-01/"


def test_bad_postcode_is_a_400_with_the_form_again(client, registry):
    response = client.get("/trouver/", {"postcode": "4800"})
    assert response.status_code == 400
    assert (
        "cinq chiffres" in response.content.decode() or "five digits" in response.content.decode()
    )


def test_unknown_seat_is_a_404_page(client, registry):
    assert client.get("/circonscriptions/ZZ-99/").status_code == 404


def test_unknown_api_path_is_json(client, registry):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_english_is_available(client, registry):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Find my constituency" in response.content.decode()


def test_language_switch_keeps_the_page(client, registry):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/carte/"})
    assert response.status_code == 302 and response["Location"] == "/carte/"
    assert "The 577 constituencies" in client.get("/carte/").content.decode()


def test_every_ui_string_has_an_english_translation():
    from pathlib import Path

    po = Path(__file__).resolve().parent.parent / "src/nextwork/locale/en/LC_MESSAGES/django.po"
    # The header is the first entry; an entry whose last line is an empty msgstr is untranslated.
    entries = po.read_text().split("\n\n")[1:]
    untranslated = [
        e for e in entries if e.strip().splitlines()[-1] in ('msgstr ""', 'msgstr[0] ""')
    ]
    assert not untranslated, untranslated[:3]
    import gettext

    with po.with_suffix(".mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    translated = {e.split("msgid ", 1)[1].split("\n")[0] for e in entries if "msgid " in e}
    # The compiled catalog holds every entry of the .po file (plus its header).
    assert len(compiled._catalog) >= len(translated), "run `nextwork manage compilemessages`"


def test_api_docs_load_nothing_from_other_sites(client, registry):
    import re

    html = client.get("/api/v1/docs").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))]


@pytest.mark.parametrize(
    "url", ["/", "/elections/", "/carte/", "/circonscriptions/48-01/", "/connexion/"]
)
def test_pages_answer_head_as_get(client, registry, url):
    # Uptime monitors and link checkers send HEAD: the same status as GET, not a 405.
    assert client.head(url).status_code == client.get(url).status_code == 200

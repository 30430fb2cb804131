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

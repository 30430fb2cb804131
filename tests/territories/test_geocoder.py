"""Addresses through a BAN-format geocoder: a real HTTP server on 127.0.0.1 replays recorded
answers (tests/fixtures/ban/), or misbehaves on purpose. A geocoder that fails must never fail
the lookup: the postcode (or commune) in the text answers instead, with a warning.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from nextwork.common.errors import InvalidInput
from nextwork.territories.geocoders import BanGeocoder, GeocoderUnavailable
from nextwork.territories.lookup import locate, normalise

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ban"

AMIENS = "8 boulevard du Port 80000 Amiens"
MENDE = "1 place Charles de Gaulle 48000 Mende"
RECORDED = {
    normalise(AMIENS): "amiens_8_boulevard_du_port.json",
    normalise(MENDE): "mende_1_place_charles_de_gaulle.json",
    normalise("avenue Foch Mende"): "mende_avenue_foch.json",
    normalise("Mende"): "mende.json",
    normalise("Toulouse"): "toulouse.json",
}
NOTHING = "nothing_found.json"

# Answers of a misbehaving geocoder: (status, content type, body).
BROKEN = {
    "error500": (500, "text/plain", b"Internal Server Error"),
    "error404": (404, "text/html", b"<html><body>Not Found</body></html>"),
    "html": (200, "text/html", b"<!doctype html><html><body>Maintenance</body></html>"),
    "truncated": (200, "application/json", b'{"type": "FeatureCollection", "features": [{"ty'),
    "list": (200, "application/json", b"[1, 2, 3]"),
    "no-geometry": (
        200,
        "application/json",
        json.dumps(
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}
        ).encode(),
    ),
    "coordinates-not-numbers": (
        200,
        "application/json",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": ["east", "north"]},
                        "properties": {"type": "housenumber", "score": 0.9},
                    }
                ],
            }
        ).encode(),
    ),
    # Well-formed, but the point cannot be on Earth.
    "out-of-range": (
        200,
        "application/json",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [3.4995, 144.5179]},
                        "properties": {
                            "label": "1 Place Charles de Gaulle 48000 Mende",
                            "score": 0.97,
                            "type": "housenumber",
                            "postcode": "48000",
                            "citycode": "48095",
                            "city": "Mende",
                        },
                    }
                ],
            }
        ).encode(),
    ),
}
SLOW_SECONDS = 2.0


class Handler(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict]] = []

    def do_GET(self):
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        mode, _, rest = url.path.strip("/").partition("/")
        type(self).requests.append((url.path, params))
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
            mode = "ban"
        if mode in BROKEN:
            self._send(*BROKEN[mode])
        elif mode == "ban" and rest == "search":
            query = normalise(params.get("q", [""])[0])
            body = (FIXTURES / RECORDED.get(query, NOTHING)).read_bytes()
            self._send(200, "application/json; charset=utf-8", body)
        else:
            self._send(404, "text/plain", b"no such path")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def geocoder(server, settings):
    """Point the settings at the replaying geocoder; return a function to pick its mode."""
    Handler.requests.clear()

    def use(mode: str = "ban") -> str:
        settings.NEXTWORK_GEOCODER_URL = f"{server}/{mode}"
        return settings.NEXTWORK_GEOCODER_URL

    use()
    return use


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def codes(result: dict) -> list[str]:
    return [c["code"] for c in result["candidates"]]


# --------------------------------------------------------------------------------------------
# The BAN client itself
# --------------------------------------------------------------------------------------------


def test_client_speaks_the_ban_format(server):
    places = BanGeocoder(f"{server}/ban/").geocode(AMIENS, limit=3)
    path, params = Handler.requests[-1]
    assert path == "/ban/search/"
    assert params == {"q": [AMIENS], "limit": ["3"]}
    assert [p.kind for p in places] == ["housenumber", "street"]
    best = places[0]
    assert best.label == "8 Boulevard du Port 80000 Amiens"
    assert (best.lat, best.lon) == (49.897443, 2.290084)  # GeoJSON is [lon, lat]
    assert best.citycode == "80021"
    assert best.postcode == "80000"
    assert best.score == pytest.approx(0.9558545)


@pytest.mark.parametrize("mode", sorted(set(BROKEN) - {"out-of-range"}))
def test_client_reports_a_broken_geocoder_as_unavailable(server, mode):
    with pytest.raises(GeocoderUnavailable):
        BanGeocoder(f"{server}/{mode}").geocode(MENDE)


def test_client_reports_a_closed_port_as_unavailable():
    with pytest.raises(GeocoderUnavailable):
        BanGeocoder(closed_port_url()).geocode(MENDE)


# --------------------------------------------------------------------------------------------
# Addresses through the lookup service
# --------------------------------------------------------------------------------------------


def test_address_in_mende(engine, geocoder):
    result = locate(q=MENDE)
    assert result["precision"] == "address"
    assert codes(result) == ["48-01"]
    assert result["ambiguous"] is False
    assert result["commune"]["code"] == "48095"
    assert result["address"] == {
        "label": "1 Place Charles de Gaulle 48000 Mende",
        "score": pytest.approx(0.968, abs=0.001),
        "lat": 44.517906,
        "lon": 3.499462,
    }
    assert result["warnings"] == []
    assert Handler.requests[-1][1]["q"] == [MENDE]


def test_address_in_amiens(engine, geocoder):
    result = locate(q=AMIENS)
    assert result["precision"] == "address"
    assert result["commune"]["code"] == "80021"  # the best-scored place, not Abbeville
    assert result["address"]["label"] == "8 Boulevard du Port 80000 Amiens"
    # Amiens is divided between the Somme's 1st and 2nd seats; near their boundary, both.
    assert result["candidates"]
    assert set(codes(result)) <= {"80-01", "80-02"}
    assert result["ambiguous"] is (len(result["candidates"]) > 1)


def test_street_answer_locates_its_point(engine, geocoder):
    result = locate(q="avenue Foch Mende")
    assert result["precision"] == "address"
    assert codes(result) == ["48-01"]
    assert result["address"]["label"] == "Avenue Foch 48000 Mende"


@pytest.mark.parametrize(("query", "commune"), [("Mende", "48095"), ("Toulouse", "31555")])
def test_municipality_answer_is_the_whole_commune(engine, geocoder, query, commune):
    result = locate(q=query)
    assert result["precision"] == "commune"
    assert result["commune"]["code"] == commune
    assert result["address"]["label"] == query
    assert sum(c["share"] for c in result["candidates"]) == pytest.approx(1.0, abs=0.01)
    if commune == "31555":
        assert result["ambiguous"] is True


def test_nothing_found_falls_back_to_the_postcode(engine, geocoder):
    result = locate(q="42 rue Imaginaire 48000 Mende")
    assert codes(result) == ["48-01"]
    assert result["precision"] in ("commune", "postcode")
    assert any("found nothing" in w for w in result["warnings"])


FALLBACKS = [
    *sorted(BROKEN),
    "slow",
]


@pytest.mark.parametrize("mode", FALLBACKS)
def test_broken_geocoder_falls_back_to_the_postcode(engine, geocoder, settings, mode):
    geocoder(mode)
    settings.NEXTWORK_GEOCODER_TIMEOUT = 0.5
    result = locate(q=MENDE)
    assert codes(result) == ["48-01"]
    assert result["precision"] in ("commune", "postcode")
    assert result["warnings"], "the fallback must say the geocoder failed"
    assert "address" not in result


def test_unreachable_geocoder_falls_back_to_the_postcode(engine, settings):
    settings.NEXTWORK_GEOCODER_URL = closed_port_url()
    result = locate(q=AMIENS)
    assert result["precision"] in ("commune", "postcode")
    assert set(codes(result)) <= {"80-01", "80-02"}
    assert any("could not be reached" in w for w in result["warnings"])


def test_unreachable_geocoder_and_ambiguous_postcode(engine, settings):
    settings.NEXTWORK_GEOCODER_URL = closed_port_url()
    result = locate(q="12 rue Alsace-Lorraine 31000")
    assert result["precision"] in ("commune", "postcode")
    assert result["ambiguous"] is True
    assert all(c.startswith("31-") for c in codes(result))
    assert result["warnings"]


# --------------------------------------------------------------------------------------------
# No geocoder configured
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_geocoder(settings):
    settings.NEXTWORK_GEOCODER_URL = None


def test_without_geocoder_the_postcode_answers(engine, no_geocoder):
    result = locate(q=MENDE)
    assert codes(result) == ["48-01"]
    assert result["precision"] in ("commune", "postcode")
    assert any("No geocoder" in w for w in result["warnings"])


def test_without_geocoder_a_commune_name_answers(engine, no_geocoder):
    result = locate(q="Mairie de Mende")
    assert result["commune"]["code"] == "48095"
    assert codes(result) == ["48-01"]


@pytest.mark.parametrize(
    "query",
    [
        "quelque part loin d'ici",
        "42",
        # Street words are not commune names: 'Rue' (Somme) and 'Placé' (Mayenne) are communes,
        # but an address without postcode that merely contains these words names neither.
        "12 rue Victor Hugo",
        "3 place de la Mairie",
    ],
)
def test_without_geocoder_nor_postcode_the_address_is_refused(engine, no_geocoder, query):
    with pytest.raises(InvalidInput) as excinfo:
        result = locate(q=query)
        pytest.fail(f"{query!r} was located in {result.get('commune')}: {codes(result)}")
    assert excinfo.value.field == "q"


def test_a_member_placed_by_address_keeps_the_geocoded_point(registry, geocoder):
    """The point is what re-places the member if the constituency boundaries change."""
    from nextwork.network.models import MemberLocation
    from nextwork.network.signup import Location, current_signup_text, member_register

    expected = locate(q=MENDE)["address"]
    member_register(
        email="mende@example.org",
        first_name="Ada",
        last_name="Port",
        location=Location(address=MENDE),
        consent_version=current_signup_text().version,
        source="site",
    )

    location = MemberLocation.objects.get(member__email="mende@example.org")
    assert location.precision == "address"
    assert (location.lat, location.lon) == (expected["lat"], expected["lon"])
    assert location.constituency.code == codes(locate(q=MENDE))[0]

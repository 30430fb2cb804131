"""The lookup service on the real registry: points, postcodes, communes, countries, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from nextwork.common.errors import InvalidInput, NotFound
from nextwork.territories.lookup import locate
from nextwork.territories.models import Area, AreaKind, Mandate


def codes(result: dict) -> list[str]:
    return [c["code"] for c in result["candidates"]]


def geometry(registry, code: str):
    area = Area.objects.get(
        boundary_set=registry, kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT], code=code
    )
    return shapely.from_wkb(bytes(area.geometry))


def sample_points(geoms: list, n: int, seed: int) -> list[tuple[int, float, float]]:
    """n random (index, lon, lat) points, each inside geoms[index] (rejection sampling)."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n:
        i = int(rng.integers(len(geoms)))
        minx, miny, maxx, maxy = geoms[i].bounds
        for _ in range(100):
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(geoms[i], lon, lat):
                points.append((i, float(lon), float(lat)))
                break
    return points


# --------------------------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("department", "seat"), [("48", "48-01"), ("23", "23-01")])
def test_any_point_of_a_single_seat_department(registry, engine, department, seat):
    communes = list(
        Area.objects.filter(
            boundary_set=registry,
            kind=AreaKind.COMMUNE,
            parent__code=department,
            geometry__isnull=False,
        ).values_list("code", "geometry")
    )
    assert len(communes) > 100
    geoms = [shapely.from_wkb(bytes(wkb)) for _code, wkb in communes]
    for i, lon, lat in sample_points(geoms, 300, seed=int(department)):
        result = engine.locate_point(lat, lon)
        assert codes(result) == [seat], (lat, lon)
        assert result["commune"]["code"] == communes[i][0], (lat, lon)
        assert result["precision"] == "point"
        assert result["ambiguous"] is False


def test_point_through_the_service_accepts_strings(registry):
    result = locate(lat="44.518", lon="3.501")
    assert codes(result) == ["48-01"]
    assert result["commune"]["code"] == "48095"  # Mende
    candidate = result["candidates"][0]
    assert candidate["department"]["code"] == "48"
    assert candidate["deputy"] is not None
    assert not candidate["vacant"]
    assert len(candidate["senators"]) == 1  # Lozère elects one senator


@pytest.mark.parametrize(
    ("lat", "lon", "arrondissement", "seat"),
    [
        (48.8606, 2.3376, "75101", "75-01"),  # the Louvre
        (48.8530, 2.3499, "75104", "75-07"),  # Notre-Dame
        (48.8768, 2.3592, "75110", "75-05"),  # Gare de l'Est
    ],
)
def test_paris_landmarks(engine, lat, lon, arrondissement, seat):
    result = engine.locate_point(lat, lon)
    assert result["commune"] == {
        "code": arrondissement,
        "name": result["commune"]["name"],
        "kind": "arrondissement",
    }
    assert codes(result) == [seat]


def test_every_paris_arrondissement_answers_for_itself(registry, engine):
    for n in range(1, 21):
        code = f"751{n:02d}"
        point = shapely.point_on_surface(geometry(registry, code))
        result = engine.locate_point(point.y, point.x)
        assert result["commune"]["code"] == code
        assert result["commune"]["kind"] == "arrondissement"
        by_code = {seat for seat, _share in engine.table[code]}
        assert result["candidates"], code
        assert set(codes(result)) <= by_code, code
        assert all(c.startswith("75-") for c in codes(result))


def test_paris_as_a_commune_spans_its_eighteen_seats(engine):
    result = locate(commune="75056")
    assert set(codes(result)) == {f"75-{n:02d}" for n in range(1, 19)}
    assert result["ambiguous"] is True
    assert sum(c["share"] for c in result["candidates"]) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("commune", "department"), [("29083", "29"), ("56069", "56")], ids=["Sein", "Groix"]
)
def test_island_communes(registry, engine, commune, department):
    by_code = locate(commune=commune)
    assert len(by_code["candidates"]) == 1
    seat = codes(by_code)[0]
    assert seat.startswith(f"{department}-")
    assert by_code["commune"]["code"] == commune
    assert by_code["precision"] == "commune"

    island = geometry(registry, commune)
    for _i, lon, lat in sample_points([island], 20, seed=int(commune)):
        by_point = locate(lat=lat, lon=lon)
        assert by_point["commune"]["code"] == commune
        assert codes(by_point) == [seat]


def test_ile_de_sein_is_in_the_finistere_seventh(engine):
    # The island belongs to the canton of Douarnenez, in Finistère's 7th constituency.
    assert codes(engine.locate_point(48.0375, -4.8508)) == ["29-07"]


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (46.0, -5.0),  # Bay of Biscay
        (43.0, 5.0),  # Gulf of Lion
        (52.52, 13.405),  # Berlin
        (40.4168, -3.7038),  # Madrid
        (-33.9, 18.4),  # Cape Town
        (0.0, 0.0),
    ],
)
def test_point_outside_france_is_not_found(engine, lat, lon):
    with pytest.raises(NotFound) as excinfo:
        locate(lat=lat, lon=lon)
    assert excinfo.value.field == "lat"


# --------------------------------------------------------------------------------------------
# Postcodes and communes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("postcode", "department"), [("31000", "31"), ("06000", "06")])
def test_big_city_postcode_is_ambiguous(engine, postcode, department):
    result = locate(postcode=postcode)
    assert result["precision"] == "postcode"
    assert result["ambiguous"] is True
    assert len(result["candidates"]) >= 2
    assert len(set(codes(result))) == len(result["candidates"])
    assert all(c.startswith(f"{department}-") for c in codes(result))
    shares = [c["share"] for c in result["candidates"]]
    assert all(0 < s <= 1 for s in shares)
    assert sum(shares) == pytest.approx(1.0, abs=0.01)
    assert shares == sorted(shares, reverse=True)


def test_postcode_of_several_communes_in_one_seat(engine):
    result = locate(postcode="48000")
    assert codes(result) == ["48-01"]
    assert result["ambiguous"] is False
    assert result["candidates"][0]["share"] == pytest.approx(1.0)
    communes = {c["code"] for c in result["communes"]}
    assert "48095" in communes
    assert len(communes) > 1


def test_toulouse_by_commune_code_is_split(engine):
    result = locate(commune="31555")
    assert result["ambiguous"] is True
    assert len(result["candidates"]) >= 3
    assert sum(c["share"] for c in result["candidates"]) == pytest.approx(1.0, abs=0.01)


def test_corsican_commune_code(engine):
    result = locate(commune="2a004")  # Ajaccio, lower case accepted
    assert result["commune"]["code"] == "2A004"
    assert all(c.startswith("2A-") for c in codes(result))


# --------------------------------------------------------------------------------------------
# French residents abroad
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["DE", "de", "Allemagne", "allemagne", " ALLEMAGNE ", "Germany"])
def test_germany(engine, query):
    result = locate(country=query)
    assert result["precision"] == "country"
    assert result["country"] == {"code": "DE", "name": "Allemagne"}
    assert codes(result) == ["99-07"]
    assert result["candidates"][0]["department"]["kind"] == "abroad"


@pytest.mark.parametrize(
    "query", ["US", "United States", "États-Unis", "etats-unis", "États-Unis d'Amérique"]
)
def test_united_states(engine, query):
    result = locate(country=query)
    assert result["country"]["code"] == "US"
    assert codes(result) == ["99-01"]
    assert len(result["candidates"][0]["senators"]) == 12  # the senators of French abroad


# --------------------------------------------------------------------------------------------
# Vacant seats
# --------------------------------------------------------------------------------------------


def test_vacant_seats_show_no_deputy(registry, engine):
    vacant = sorted(code for code, seat in engine.seats.items() if seat["vacant"])
    assert len(vacant) == 13
    current = {seat["deputy"]["id"] for seat in engine.seats.values() if seat["deputy"]}
    assert len(current) == 564
    by_seat: dict[str, str] = {}
    for commune, seats in engine.table.items():
        for seat, _share in seats:
            by_seat.setdefault(seat, commune)
    by_seat.update({seat: iso for iso, (_name, seat) in engine.countries.items()})
    for code in vacant:
        ended = Mandate.objects.filter(
            boundary_set=registry, chamber="assembly", area__code=code, end__isnull=False
        )
        assert ended.exists(), code
        assert not set(ended.values_list("person_id", flat=True)) & current, code
        query = by_seat[code]
        result = locate(country=query) if code.startswith("99-") else locate(commune=query)
        candidate = next(c for c in result["candidates"] if c["code"] == code)
        assert candidate["vacant"] is True
        assert candidate["deputy"] is None
        # Senators are still there: a vacant Assembly seat does not empty the Senate.
        assert candidate["senators"], code


# --------------------------------------------------------------------------------------------
# Bad input: each names the field at fault
# --------------------------------------------------------------------------------------------

BAD = [
    # (kwargs, error, field)
    ({"lat": 91, "lon": 2}, InvalidInput, "lat"),
    ({"lat": -90.01, "lon": 2}, InvalidInput, "lat"),
    ({"lat": 45, "lon": 180.5}, InvalidInput, "lon"),
    ({"lat": 45, "lon": -181}, InvalidInput, "lon"),
    ({"lat": "north", "lon": 2}, InvalidInput, "lat"),
    ({"lat": 45, "lon": "east"}, InvalidInput, "lon"),
    ({"lat": "", "lon": 2}, InvalidInput, "lat"),
    ({"lat": [45], "lon": 2}, InvalidInput, "lat"),
    ({"lat": math.nan, "lon": 2}, InvalidInput, "lat"),
    ({"lat": 45, "lon": "nan"}, InvalidInput, "lon"),
    ({"lat": "inf", "lon": 2}, InvalidInput, "lat"),
    ({"lat": 45, "lon": -math.inf}, InvalidInput, "lon"),
    ({"lat": 44.5}, InvalidInput, "lon"),
    ({"lon": 3.5}, InvalidInput, "lat"),
    ({"postcode": "4800"}, InvalidInput, "postcode"),
    ({"postcode": "ABCDE"}, InvalidInput, "postcode"),
    ({"postcode": "480000"}, InvalidInput, "postcode"),
    ({"postcode": "48 000"}, InvalidInput, "postcode"),
    ({"postcode": ""}, InvalidInput, "postcode"),
    ({"postcode": "00000"}, NotFound, "postcode"),
    ({"commune": "99999"}, NotFound, "commune"),
    ({"commune": "2A999"}, NotFound, "commune"),
    ({"commune": "ABCDE"}, InvalidInput, "commune"),
    ({"commune": "4809"}, InvalidInput, "commune"),
    ({"commune": "2C001"}, InvalidInput, "commune"),
    ({"commune": ""}, InvalidInput, "commune"),
    ({"country": "ZZ"}, NotFound, "country"),
    ({"country": "Atlantide"}, NotFound, "country"),
    ({"country": "FR"}, InvalidInput, "country"),
    ({"country": "fr"}, InvalidInput, "country"),
    ({"country": "France"}, InvalidInput, "country"),
    ({"country": ""}, InvalidInput, "country"),
    ({"country": "x" * 101}, InvalidInput, "country"),
    ({}, InvalidInput, "q"),
    ({"q": ""}, InvalidInput, "q"),
    ({"q": "   "}, InvalidInput, "q"),
    ({"q": "a" * 501}, InvalidInput, "q"),
    ({"q": "x" * 495 + " 48000"}, InvalidInput, "q"),
]


def _id(case) -> str:
    kwargs, error, field = case
    text = ",".join(f"{k}={v!r}"[:20] for k, v in kwargs.items()) or "nothing"
    return f"{text}->{error.__name__}:{field}"


@pytest.mark.parametrize(("kwargs", "error", "field"), BAD, ids=[_id(c) for c in BAD])
def test_bad_input_names_the_field(engine, kwargs, error, field):
    with pytest.raises(error) as excinfo:
        locate(**kwargs)
    assert type(excinfo.value) is error
    assert excinfo.value.field == field
    assert excinfo.value.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"postcode": "48000", "commune": "48095"},
        {"country": "DE", "q": "Berlin"},
        {"lat": 44.5, "lon": 3.5, "postcode": "48000"},
        {"lat": 44.5, "postcode": "48000"},
    ],
)
def test_several_kinds_of_query_are_refused(engine, kwargs):
    with pytest.raises(InvalidInput) as excinfo:
        locate(**kwargs)
    # Any of the fields given (or the missing half of a point) may be blamed, never None.
    assert excinfo.value.field in {*kwargs, "lat", "lon", "q"}


def test_postcode_alone_as_an_address(engine):
    result = locate(q=" 48000 ")
    assert result["precision"] == "postcode"
    assert codes(result) == ["48-01"]


@pytest.mark.parametrize(
    ("postcode", "seats"),
    [
        ("97500", ["975-01"]),  # Saint-Pierre-et-Miquelon
        ("97133", ["977-01"]),  # Saint-Barthélemy
        ("97150", ["977-01"]),  # Saint-Martin votes with Saint-Barthélemy
        ("98600", ["986-01"]),  # Wallis-et-Futuna
        ("98800", ["988-01", "988-02"]),  # Nouméa
        ("98713", ["987-01", "987-02", "987-03"]),  # Papeete, missing from the postcode data
    ],
)
def test_collectivities_without_communes_answer_with_their_seats(engine, postcode, seats):
    result = engine.locate_postcode(postcode)
    assert [c["code"] for c in result["candidates"]] == seats
    assert result["ambiguous"] == (len(seats) > 1)
    assert result["precision"] == "postcode"


def test_other_unknown_postcodes_stay_unknown(engine):
    with pytest.raises(NotFound):
        engine.locate_postcode("99999")


def test_an_address_in_a_collectivity_finds_its_seats_without_a_geocoder(registry, settings):
    settings.NEXTWORK_GEOCODER_URL = None
    result = locate(q="Mairie, place Jacques Chirac, 98713 Papeete")
    assert [c["code"] for c in result["candidates"]] == ["987-01", "987-02", "987-03"]

"""Territory endpoints of /api/v1/: thin, typed, one selector or service each."""

from __future__ import annotations

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from nextwork.api.schemas import ErrorOut
from nextwork.territories import lookup, selectors

router = Router(tags=["territories"])

MAX_PAGE = 100


class Person(Schema):
    id: str
    title: str
    first_name: str
    last_name: str
    name: str
    group: str | None = None
    party: str | None = None
    email: str | None = None
    since: str | None = None


class AreaRef(Schema):
    code: str
    name: str | None = None
    kind: str | None = None


class Candidate(Schema):
    code: str = Field(description="Constituency code, such as 48-01 or 99-07.")
    name: str = Field(description="Such as 'Lozère (1re circonscription)'.")
    department: AreaRef | None = None
    share: float | None = Field(None, description="Part of the queried place in this seat.")
    deputy: Person | None = None
    vacant: bool
    senators: list[Person]


class AddressOut(Schema):
    label: str
    score: float
    lat: float
    lon: float


class LocateOut(Schema):
    precision: str = Field(description="point, address, commune, postcode or country.")
    ambiguous: bool
    candidates: list[Candidate]
    warnings: list[str]
    commune: AreaRef | None = None
    communes: list[AreaRef] | None = None
    country: AreaRef | None = None
    address: AddressOut | None = None


LOCATE_PARAMS = [
    ("lat", "number", "Latitude, WGS84, with lon."),
    ("lon", "number", "Longitude, WGS84, with lat."),
    ("postcode", "string", "Postcode, five digits."),
    ("commune", "string", "INSEE commune code."),
    ("country", "string", "ISO 3166 alpha-2 code or French name."),
    ("q", "string", "Free-text address (at most 500 characters)."),
]

ERRORS = {400: ErrorOut, 404: ErrorOut, 503: ErrorOut}


@router.get(
    "/locate",
    response={200: LocateOut, **ERRORS},
    summary="Find constituencies",
    description="Give exactly one of: lat and lon, postcode, commune, country, q.",
    openapi_extra={
        "parameters": [
            {
                "in": "query",
                "name": name,
                "required": False,
                "description": text,
                "schema": {"type": kind},
            }
            for name, kind, text in LOCATE_PARAMS
        ]
    },
)
def locate(request: HttpRequest):
    # The hottest endpoint, kept close to the framework's floor: the lookup service validates
    # its own input (with messages naming the field) and its dicts are written as they are,
    # without a second pass through LocateOut, which documents them (the schemathesis tests
    # check that every answer conforms).
    query = {name: request.GET[name] for name, _kind, _text in LOCATE_PARAMS if name in request.GET}
    return HttpResponse(orjson.dumps(lookup.locate(**query)), content_type="application/json")


class ConstituencyPage(Schema):
    count: int
    limit: int
    offset: int
    results: list[Candidate]


class Pagination(Schema):
    limit: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


@router.get("/constituencies", response={200: ConstituencyPage, **ERRORS})
def constituencies(request: HttpRequest, page: Query[Pagination]):
    count, results = selectors.constituency_list(limit=page.limit, offset=page.offset)
    return {"count": count, "limit": page.limit, "offset": page.offset, "results": results}


class LastMandate(Person):
    ended: str


class RelayRef(Schema):
    name: str


class ConstituencyOut(Candidate):
    relay: RelayRef | None = Field(
        None, description="The titular relay, only when they chose to be shown publicly."
    )
    coverage: str | None = Field(
        None, description="Relay coverage: covered, substitute_only, pending or uncovered."
    )
    neighbours: list[Candidate]
    countries: list[AreaRef]
    last_mandate: LastMandate | None = Field(
        None, description="For a vacant seat: the mandate that ended, never shown as current."
    )


@router.get("/constituencies/{code}", response={200: ConstituencyOut, **ERRORS})
def constituency(request: HttpRequest, code: str):
    return selectors.constituency_detail(code)


class RepresentativeOut(Person):
    chamber: str
    area: AreaRef


class RepresentativesIn(Schema):
    chamber: str | None = Field(None, description="assembly or senate.")
    department: str | None = Field(None, description="Department code, such as 75 or 2A.")


@router.get("/representatives", response={200: list[RepresentativeOut], **ERRORS})
def representatives(request: HttpRequest, params: Query[RepresentativesIn]):
    return selectors.representatives(chamber=params.chamber, department=params.department)


class DepartmentOut(Schema):
    code: str
    name: str
    kind: str
    region: AreaRef | None = None
    constituencies: list[Candidate]
    senators: list[Person]


@router.get("/departments/{code}", response={200: DepartmentOut, **ERRORS})
def department(request: HttpRequest, code: str):
    return selectors.department_detail(code)

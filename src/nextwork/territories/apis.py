"""Territory endpoints of /api/v1/: thin, typed, one selector or service each."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from nextwork.territories import lookup, selectors

router = Router(tags=["territories"])

MAX_PAGE = 100


class ErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorBody


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


class LocateIn(Schema):
    lat: float | None = Field(None, description="Latitude, WGS84, with lon.")
    lon: float | None = Field(None, description="Longitude, WGS84, with lat.")
    postcode: str | None = Field(None, description="Postcode, five digits.")
    commune: str | None = Field(None, description="INSEE commune code.")
    country: str | None = Field(None, description="ISO 3166 alpha-2 code or French name.")
    q: str | None = Field(None, description="Free-text address (at most 500 characters).")


ERRORS = {400: ErrorOut, 404: ErrorOut, 503: ErrorOut}


@router.get("/locate", response={200: LocateOut, **ERRORS}, summary="Find constituencies")
def locate(request: HttpRequest, params: Query[LocateIn]):
    return lookup.locate(**params.dict())


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


class ConstituencyOut(Candidate):
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

"""Programme endpoints of /api/v1/: the published versions and the changes between two.

Public reads, no login. Like the pages, they only show what anyone may read: a proposal that
is not public now appears as ``withdrawn``, without its number or title.
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from nextwork.common.errors import NotFound
from nextwork.participation import programme
from nextwork.participation.models import ProgrammeVersion

router = Router(tags=["programme"])

MAX_PAGE = 100


class ProgrammeErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class ProgrammeErrorOut(Schema):
    error: ProgrammeErrorBody


class ProposalRef(Schema):
    id: int | None = Field(description="The proposal's number; empty when withdrawn.")
    title: str | None = Field(description="Its title when the version was published.")
    url: str | None = Field(description="The proposal's page, such as /propositions/12/.")
    withdrawn: bool = Field(
        description="True when the proposal is no longer public (hidden by moderation or "
        "deleted): its number and title are not shown."
    )


class MeasureOut(Schema):
    number: str = Field(description="Chapter and rank, such as 2.3.")
    title: str
    body: str = Field(description="Markdown.")
    body_html: str = Field(description="The Markdown rendered to sanitised HTML.")
    proposals: list[ProposalRef] = Field(description="The members' proposals it came from.")


class ChapterOut(Schema):
    number: int
    title: str
    intro: str = Field(description="Markdown.")
    intro_html: str = Field(description="The Markdown rendered to sanitised HTML.")
    measures: list[MeasureOut]


class VersionSummary(Schema):
    number: int = Field(description="1 for the first version, then 2, 3…")
    note: str = Field(description="What this version changed, in the staff's words.")
    published_at: datetime.datetime


class ProgrammeOut(VersionSummary):
    measures: int = Field(description="How many measures.")
    traced: int = Field(description="How many measures come from at least one proposal.")
    chapters: list[ChapterOut]


def _programme_out(found: ProgrammeVersion) -> dict:
    doc = programme.document(found.snapshot)
    return {
        "number": found.number,
        "note": found.note,
        "published_at": found.published_at,
        "measures": doc["measures"],
        "traced": doc["traced"],
        "chapters": [
            {
                "number": c["number"],
                "title": c["title"],
                "intro": c["intro"],
                "intro_html": str(c["intro_html"]),
                "measures": [
                    {
                        "number": m["number"],
                        "title": m["title"],
                        "body": m["body"],
                        "body_html": str(m["body_html"]),
                        "proposals": m["proposals"],
                    }
                    for m in c["measures"]
                ],
            }
            for c in doc["chapters"]
        ],
    }


@router.get(
    "/programme",
    response={200: ProgrammeOut, 404: ProgrammeErrorOut},
    summary="The programme as last published (404 before the first version)",
)
def programme_latest(request: HttpRequest):
    found = programme.current_version()
    if found is None:
        raise NotFound("No version of the programme is published yet.")
    return _programme_out(found)


class VersionsFilter(Schema):
    limit: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(
    "/programme/versions",
    response={200: list[VersionSummary], 400: ProgrammeErrorOut},
    summary="The published versions, newest first",
)
def programme_versions(request: HttpRequest, filters: Query[VersionsFilter]):
    rows = programme.versions()[filters.offset : filters.offset + filters.limit]
    return [{"number": v.number, "note": v.note, "published_at": v.published_at} for v in rows]


@router.get(
    "/programme/versions/{number}",
    response={200: ProgrammeOut, 400: ProgrammeErrorOut, 404: ProgrammeErrorOut},
    summary="One published version, as it was published",
)
def programme_version(request: HttpRequest, number: int):
    return _programme_out(programme.version(number))


# -- the diff ------------------------------------------------------------------------------------

Status = Literal["added", "removed", "changed", "unchanged"]


class TextOp(Schema):
    op: Literal["equal", "insert", "delete"]
    text: str


class MeasureChange(Schema):
    status: Status
    title: str = Field(description="The title in the newer version (the old one if removed).")
    old_title: str | None = Field(description="The former title, when renamed.")
    title_ops: list[TextOp] | None = Field(description="The title's word changes, if renamed.")
    renamed: bool
    moved: bool = Field(description="Moved within its chapter or from another one.")
    moved_from_chapter: str | None = Field(description="The chapter it came from, if another.")
    text_changed: bool
    body: str = Field(description="Markdown, as in the newer version (or the older if removed).")
    body_ops: list[TextOp] | None = Field(
        description="Word-level changes of the text: equal+delete spell the old text, "
        "equal+insert the new one."
    )
    proposals: list[ProposalRef] = Field(description="Its proposals in the newer version.")
    proposals_added: list[ProposalRef]
    proposals_removed: list[ProposalRef]


class ChapterChange(Schema):
    status: Status
    title: str
    old_title: str | None
    title_ops: list[TextOp] | None
    renamed: bool
    moved: bool
    intro: str
    intro_changed: bool
    intro_ops: list[TextOp] | None
    unchanged_measures: int
    measures: list[MeasureChange] = Field(description="Every measure, unchanged ones included.")


class DiffSummary(Schema):
    chapters_added: int
    chapters_removed: int
    chapters_renamed: int
    chapters_moved: int
    chapters_intro_changed: int
    measures_added: int
    measures_removed: int
    measures_renamed: int
    measures_moved: int
    measures_text_changed: int
    proposals_linked: int
    proposals_unlinked: int


class DiffOut(Schema):
    from_version: VersionSummary
    to_version: VersionSummary
    changed: bool
    summary: DiffSummary
    chapters: list[ChapterChange] = Field(
        description="In the newer version's order; removed chapters where they were."
    )


class DiffQuery(Schema):
    from_: int = Field(alias="from", ge=1, description="The older version's number.")
    to: int = Field(ge=1, description="The newer version's number.")


@router.get(
    "/programme/diff",
    response={200: DiffOut, 400: ProgrammeErrorOut, 404: ProgrammeErrorOut},
    summary="What changed between two versions (?from=1&to=2)",
)
def programme_diff(request: HttpRequest, query: Query[DiffQuery]):
    return programme.diff(query.from_, query.to)

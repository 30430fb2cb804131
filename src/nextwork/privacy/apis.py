"""Members' rights in /api/v1/: one's data as a zip, one's erasure, the staff's erasure of a
member. Erasures take the logged-in session only (``session_auth``): a personal token, which a
script holds, cannot erase an account; the export takes a token too (``member_auth``)."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model, logout
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import Field

from nextwork.api.auth import member_auth, session_auth
from nextwork.api.schemas import ErrorOut
from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.network.permissions import is_staff
from nextwork.privacy import erasure, export
from nextwork.privacy.models import ErasureReason

router = Router(tags=["privacy"])


class SelfErasureIn(Schema):
    confirmation: str = Field(
        max_length=200,
        description="Your password; without one (login by link only), the phrase "
        f"« {erasure.CONFIRMATION_PHRASE} ».",
    )


class StaffErasureIn(Schema):
    reason: str = Field(max_length=20, description="request, legal or other")


class ErasureOut(Schema):
    member: str = Field(description="The erased member's public id.")
    erased_at: str
    reason: str


def _out(record) -> dict:
    return {
        "member": str(record.public_id),
        "erased_at": record.erased_at.isoformat(),
        "reason": record.reason,
    }


@router.get(
    "/me/export",
    auth=member_auth,
    response={200: None, 401: ErrorOut},
    summary="Download all of your data: a zip of data.json, one CSV per table and a README",
)
def me_export(request: HttpRequest):
    response = HttpResponse(export.member_export(request.user), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="mes-donnees.zip"'
    response["Cache-Control"] = "no-store"
    return response


@router.post(
    "/me/erase",
    auth=session_auth,
    response={200: ErasureOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="Erase your own account for good (confirmed by your password or the phrase)",
)
def me_erase(request: HttpRequest, payload: SelfErasureIn):
    member = request.user
    erasure.confirm_self_erasure(member=member, confirmation=payload.confirmation)
    record = erasure.member_erase(member=member, by=member, reason=ErasureReason.SELF)
    logout(request)
    return _out(record)


@router.post(
    "/members/{public_id}/erase",
    auth=session_auth,
    response={200: ErasureOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Erase a member (staff), with a reason code",
)
def member_erase(request: HttpRequest, public_id: str, payload: StaffErasureIn):
    # Forbidden before anything is looked up: no one else learns which public ids exist.
    if not is_staff(request.user):
        raise Forbidden("Only staff erase members.")
    if payload.reason not in erasure.STAFF_REASONS:
        raise InvalidInput(
            f"Unknown reason {payload.reason!r}; staff give one of "
            f"{', '.join(erasure.STAFF_REASONS)}.",
            field="reason",
        )
    member = get_user_model().objects.filter(public_id=_uuid(public_id)).first()
    if member is None:
        raise NotFound("No member has this public id (or they were already erased).",
                       field="public_id")  # fmt: skip
    record = erasure.member_erase(member=member, by=request.user, reason=payload.reason)
    return _out(record)


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound("No member has this public id.", field="public_id") from None

"""Reads the API needs that ``selectors`` does not offer yet, kept small and scoped the same
way: every list starts from ``selectors.consultations_visible``."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from nextwork.common.errors import InvalidInput
from nextwork.network.models import Member
from nextwork.participation import selectors
from nextwork.participation.models import Answer, Consultation, Phase, Proposal


def _phase_filter(phase: str) -> Q:
    """The dates that put a consultation in ``phase`` now (``Consultation.phase_at``)."""
    now = timezone.now()
    return {
        Phase.UPCOMING: Q(opens_at__gt=now),
        Phase.PROPOSALS: Q(opens_at__lte=now, proposals_close_at__gt=now),
        Phase.SUPPORT: Q(proposals_close_at__lte=now, closes_at__gt=now),
        Phase.ANSWERS: Q(closes_at__lte=now),
    }[phase]


def consultations_filtered(
    viewer: Member | None, *, phase: str | None = None, area_code: str | None = None
) -> QuerySet[Consultation]:
    """The consultations the viewer may see, in one phase and/or one area, latest first.
    ``area_code`` ``national`` keeps the national ones."""
    consultations = selectors.consultations_visible(viewer)
    if phase:
        consultations = consultations.filter(_phase_filter(phase))
    if area_code:
        if area_code.strip().lower() == "national":
            consultations = consultations.filter(area__isnull=True)
        else:
            from nextwork.network.selectors import area_by_code

            area = area_by_code(area_code)
            if area is None:
                raise InvalidInput(
                    f"Unknown area {area_code!r}: give a constituency (75-02), a department "
                    "(75), a region (R11) or national.",
                    field="area",
                )
            consultations = consultations.filter(area=area)
    return consultations.order_by("-opens_at", "-id")


def answers_of(proposal: Proposal) -> list[Answer]:
    """A proposal's answers, oldest first: the last one is its fate."""
    return list(proposal.answers.order_by("answered_at", "id"))

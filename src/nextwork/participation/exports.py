"""The organisers' export of a consultation: one CSV row per public proposal, with its fate.

Only published proposals are exported (held and hidden ones never leave through here), and
no personal data: no author, only counts, areas, dates and answers. Each export is written to
the audit log.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, StreamingHttpResponse

from nextwork.common.errors import DomainError
from nextwork.participation import selectors
from nextwork.participation.models import AnswerStatus, Consultation, Proposal, State
from nextwork.privacy.services import audit_record

COLUMNS = [
    "id", "title", "area", "created_at", "version", "supports", "comments", "followers",
    "answer_status", "answer_label", "answered_at", "merged_into", "url",
]  # fmt: skip


def rows(consultation: Consultation, *, by) -> Iterator[list]:
    """The export's rows, header first; ``Forbidden`` unless ``by`` manages the consultation."""
    selectors.require_manager(by, consultation, "export its proposals")
    from django.conf import settings

    audit_record(
        actor=by,
        action="consultation.export",
        area_code=consultation.area.code if consultation.area_id else "",
        details={"consultation": consultation.pk},
    )
    yield COLUMNS
    proposals = (
        Proposal.objects.filter(consultation=consultation, state=State.PUBLISHED)
        .select_related("area")
        .order_by("-support_count", "id")
    )
    labels = dict(AnswerStatus.choices)
    for p in proposals.iterator(chunk_size=2000):
        yield [
            p.pk,
            _cell(p.title),
            p.area.code if p.area_id else "",
            p.created_at.isoformat(),
            p.version,
            p.support_count,
            p.comment_count,
            p.follower_count,
            p.answer_status,
            str(labels.get(p.answer_status, "")),
            p.answered_at.isoformat() if p.answered_at else "",
            p.merged_into_id or "",
            f"{settings.NEXTWORK_SITE_URL}/propositions/{p.pk}/",
        ]


def _cell(text: str) -> str:
    """A spreadsheet must not read a member's title as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_view(request: HttpRequest, consultation_id: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        consultation = selectors.consultation_for(consultation_id, viewer=request.user)
        produced = rows(consultation, by=request.user)
        header = next(produced)  # checks the rights before the response starts
    except DomainError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from exc
        raise PermissionDenied(exc.message) from exc
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff" + writer.writerow(header)
        for row in produced:
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="consultation-{consultation.pk}-propositions.csv"'
    )
    return response

"""Fundraising pages: giving, personal fundraising pages and receipts. Thin: each view reads
its input, calls one service or selector, renders."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from nextwork.common.errors import NotFound
from nextwork.fundraising import receipts_pdf


@require_GET
@login_required
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        receipt = receipts_pdf.access_receipt(request.user, pk)
    except NotFound:
        raise Http404 from None
    response = HttpResponse(receipts_pdf.render(receipt), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="recu-{receipt.year}-{receipt.number:06d}.pdf"'
    )
    response["Cache-Control"] = "private, no-store"
    return response

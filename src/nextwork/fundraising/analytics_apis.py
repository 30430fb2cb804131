"""The analytics of donations over HTTP: staff only, every access in the audit log."""

from __future__ import annotations

import csv
import datetime
import io

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from nextwork.api.auth import member_auth
from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.fundraising import analytics
from nextwork.network.apis import AUTH_ERRORS, ErrorOut
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

router = Router(tags=["fundraising analytics"])


# The period's dates stay where local midnights convert to UTC and back without overflow.
FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


def _date(value: str | None, field: str) -> datetime.date | None:
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"Give the {field} date as YYYY-MM-DD.", field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"Give the {field} date between 1900 and 2999.", field=field)
    return day


def period(
    start: str | None, end: str | None, threshold: int
) -> tuple[datetime.date | None, datetime.date | None, list[int]]:
    """The checked ``from`` and ``to`` dates (None: no bound) and the thresholds in cents,
    the asked one first, for ``analytics.summary``; InvalidInput names the field at fault
    (the API and the staff dashboard share it)."""
    first, last = _date(start, "from"), _date(end, "to")
    if first and last and first > last:
        raise InvalidInput("The period ends before it starts.", field="to")
    if not 1 <= threshold <= 1_000_000:
        raise InvalidInput("Give the threshold in whole euros, 1 to 1,000,000.", field="threshold")
    cents = threshold * 100
    return first, last, [cents, *(t for t in analytics.DEFAULT_THRESHOLDS if t != cents)]


def _summary(request: HttpRequest, start: str | None, end: str | None, threshold: int, what: str):
    if not is_staff(request.user):
        raise Forbidden("The donation analytics are for staff.")
    first, last, thresholds = period(start, end, threshold)
    data = analytics.summary(start=first, end=last, thresholds=thresholds)
    audit_record(
        actor=request.user,
        action="fundraising.analytics",
        details={"what": what, "from": start or "", "to": end or "", "threshold": threshold},
    )
    return data


@router.get(
    "/donations/analytics",
    response={200: dict, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Long-tail analytics of succeeded donations (staff)",
    description="`from` and `to`: dates (YYYY-MM-DD, both included); `threshold`: what a small "
    "gift is, in whole euros (≤). See docs/fundraising-analytics.md.",
)
def donation_analytics(
    request: HttpRequest,
    start: str | None = Query(None, alias="from"),
    end: str | None = Query(None, alias="to"),
    threshold: int = 100,
):
    return _summary(request, start, end, threshold, "summary")


@router.get(
    "/donations/analytics/{chart}.csv",
    response={200: None, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="The numbers behind one analytics chart, as CSV (staff)",
    description="chart: " + ", ".join(analytics.CHARTS),
)
def donation_analytics_csv(
    request: HttpRequest,
    chart: str,
    start: str | None = Query(None, alias="from"),
    end: str | None = Query(None, alias="to"),
    threshold: int = 100,
):
    if chart not in analytics.CHARTS:
        raise NotFound(f"No chart {chart!r}: {', '.join(analytics.CHARTS)}.", field="chart")
    data = _summary(request, start, end, threshold, f"csv:{chart}")
    header, rows = analytics.chart_rows(data, chart)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="donations-{chart}.csv"'
    return response

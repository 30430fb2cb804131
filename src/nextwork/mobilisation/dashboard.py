"""The mobilisation dashboard of coordinators and staff: per election and round, a table by
constituency of what the registration drive, the proxies and the polling-day reminders did.

Numbers only, never a name: each row counts the members concerned by the election whose
current location lies in that constituency (members whose seat is still to be chosen share a
row per department). A coordinator sees the constituencies under their grants, staff all
(``network.selectors.location_scope_filter``); every view and export is audited. Each table
is one aggregate query, whatever the number of members. A territory of more than
``SEATS_SHOWN`` rows is shown by department first, each opening its seats; the CSV always has
every seat.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from nextwork.mobilisation.models import (
    CURRENT,
    Election,
    MatchStatus,
    ProxyMatch,
    ProxyRequest,
    Registered,
    RegistrationAnswer,
    Round,
    Turnout,
    VotingSituation,
)
from nextwork.mobilisation.reminders import concerned_q
from nextwork.mobilisation.selectors import coordinates_anything
from nextwork.network.models import MemberLocation, Role
from nextwork.network.selectors import location_scope_filter
from nextwork.privacy.services import audit_record

# Elections stay on the dashboard this long after their last round.
KEPT_AFTER = datetime.timedelta(days=60)
ACCEPTED = (MatchStatus.ACCEPTED, MatchStatus.DECLARED, MatchStatus.VOTED)

# Column key → its heading (the page and the CSV say the same).
COLUMNS = (
    ("members", gettext_lazy("Membres concernés")),
    ("registered", gettext_lazy("Se disent inscrits")),
    ("reg_reminded", gettext_lazy("Relancés (inscription)")),
    ("reg_done", gettext_lazy("« C'est fait »")),
    ("requests", gettext_lazy("Procurations demandées")),
    ("matched", gettext_lazy("Mandataires trouvés")),
    ("accepted", gettext_lazy("Acceptées")),
    ("poll_reminded", gettext_lazy("Relancés (jour du vote)")),
    ("voted", gettext_lazy("« J'ai voté »")),
)
KEYS = [key for key, _label in COLUMNS]


@dataclass
class Table:
    round: Round
    rows: list[dict]
    totals: dict
    grouped: bool = False  # rows are departments, each linking to its seats
    department: str = ""  # the rows are the seats of this department only

    @property
    def election(self) -> Election:
        return self.round.election


def _flag(queryset, field: str = "member_id") -> Exists:
    return Exists(queryset.filter(**{field: OuterRef("member_id")}))


def round_table(*, caller, round_: Round) -> Table:
    """The figures of one round by constituency of the caller's territory: one query."""
    election = round_.election
    answers = RegistrationAnswer.objects.filter(election=election)
    requests = ProxyRequest.objects.filter(round=round_).exclude(status="cancelled")
    matches = ProxyMatch.objects.filter(CURRENT, round=round_)
    turnout = Turnout.objects.filter(round=round_)
    flags = {
        "registered": _flag(VotingSituation.objects.filter(registered=Registered.YES)),
        "reg_reminded": _flag(answers.filter(reminded_at__isnull=False)),
        "reg_done": _flag(answers.filter(done_at__isnull=False)),
        "requests": _flag(requests),
        "matched": _flag(matches, "request__member_id"),
        "accepted": _flag(matches.filter(status__in=ACCEPTED), "request__member_id"),
        "poll_reminded": _flag(turnout.filter(reminded_at__isnull=False)),
        "voted": _flag(turnout.filter(voted_at__isnull=False)),
    }
    locations = (
        MemberLocation.objects.filter(valid_to__isnull=True, member__is_active=True)
        .filter(location_scope_filter(caller, [Role.COORDINATOR]))
        .filter(concerned_q(election, "member_id"))
    )
    found = (
        locations.values(
            "constituency__code", "constituency__name", "department__code", "department__name"
        )
        .annotate(members=Count("id"), **{k: Count("id", filter=Q(f)) for k, f in flags.items()})
        .order_by("constituency__code", "department__code")
    )
    # The seats first, by code; then the members whose seat is still to be chosen.
    found = sorted(
        found,
        key=lambda r: (
            r["constituency__code"] is None,
            r["constituency__code"] or "",
            r["department__code"] or "",
        ),
    )
    rows = []
    for row in found:
        code = row["constituency__code"]
        if code:
            name = row["constituency__name"]
        else:
            code = row["department__code"] or ""
            name = _("%(department)s, circonscription à préciser") % {
                "department": row["department__name"] or _("département inconnu")
            }
        # The page shows the code and the department (the seat's full name says it again).
        place = row["department__name"] if row["constituency__code"] else name
        rows.append({
            "code": code, "name": name, "place": place,
            "department": row["department__code"] or "",
            "department_name": row["department__name"] or _("département inconnu"),
            **{k: row[k] for k in KEYS},
        })  # fmt: skip
    totals = {k: sum(r[k] for r in rows) for k in KEYS}
    return Table(round=round_, rows=rows, totals=totals)


def by_department(table: Table) -> Table:
    """The same figures summed by department (a national table has 577 seats and more)."""
    summed: dict[str, dict] = {}
    for row in table.rows:
        code = row["department"]
        entry = summed.setdefault(code, {
            "code": code, "name": row["department_name"], "place": row["department_name"],
            "department": code, "department_name": row["department_name"],
            **dict.fromkeys(KEYS, 0),
        })  # fmt: skip
        for key in KEYS:
            entry[key] += row[key]
    rows = sorted(summed.values(), key=lambda r: _department_order(r["code"]))
    return Table(round=table.round, rows=rows, totals=table.totals, grouped=True)


def _department_order(code: str) -> float:
    # 01 … 19, 2A, 2B, 21 … 95, then 971 …: Corsica sits where 20 was; unknown last.
    corsica = {"2A": 20.1, "2B": 20.2}
    return corsica.get(code) or (float(code) if code.isdigit() else 10_000.0)


def in_department(table: Table, code: str) -> Table:
    rows = [r for r in table.rows if r["department"] == code]
    totals = {k: sum(r[k] for r in rows) for k in KEYS}
    return Table(round=table.round, rows=rows, totals=totals, department=code)


def cells(values: dict) -> list[tuple[str, int]]:
    """A row's figures in the order of the columns, with their headings (the page)."""
    return [(str(label), values[key]) for key, label in COLUMNS]


def rounds_shown(today: datetime.date | None = None) -> list[Round]:
    """The rounds of published elections not over for more than ``KEPT_AFTER``."""
    today = today or timezone.localdate()
    return list(
        Round.objects.filter(election__published=True, date__gte=today - KEPT_AFTER)
        .select_related("election")
        .order_by("election__registration_deadline", "election_id", "number")
    )


# Beyond this many rows (a region, the country) the page shows departments first.
SEATS_SHOWN = 60


def dashboard_tables(*, caller, department: str = "") -> list[Table]:
    tables = [round_table(caller=caller, round_=r) for r in rounds_shown()]
    if department:
        return [in_department(t, department) for t in tables]
    return [by_department(t) if len(t.rows) > SEATS_SHOWN else t for t in tables]


def _require(user) -> None:
    if not coordinates_anything(user):
        raise PermissionDenied


@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Coordinators (their territory) and staff (everything); others are refused."""
    _require(request.user)
    department = request.GET.get("departement", "").strip().upper()
    if department and not re.fullmatch(r"\d[\dAB]\d?", department):
        return render(request, "mobilisation/dashboard.html",
                      {"elections": [], "columns": COLUMNS, "bad_department": department[:10]},
                      status=400)  # fmt: skip
    tables = dashboard_tables(caller=request.user, department=department)
    audit_record(
        actor=request.user,
        action="mobilisation.dashboard_view",
        details={"rounds": [t.round.pk for t in tables], "rows": sum(len(t.rows) for t in tables),
                 "department": department},
    )  # fmt: skip
    elections: dict[int, dict] = {}
    for table in tables:
        entry = elections.setdefault(table.election.pk, {"election": table.election, "tables": []})
        entry["tables"].append(table)
        for row in table.rows:
            row["cells"] = cells(row)
        table.totals["cells"] = cells(table.totals)
    return render(
        request,
        "mobilisation/dashboard.html",
        {"elections": list(elections.values()), "columns": COLUMNS, "department": department},
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    value = str(value)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


@login_required
@require_safe
def dashboard_csv(request: HttpRequest, round_id: int) -> HttpResponse:
    """The same table as CSV (one round), scoped and audited like the page."""
    _require(request.user)
    round_ = next((r for r in rounds_shown() if r.pk == round_id), None)
    if round_ is None:
        raise Http404
    table = round_table(caller=request.user, round_=round_)
    audit_record(
        actor=request.user,
        action="mobilisation.dashboard_export",
        details={"round": round_.pk, "rows": len(table.rows), "format": "csv"},
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Circonscription"), _("Nom"), *[str(label) for _k, label in COLUMNS]])
    for row in table.rows:
        writer.writerow([_cell(row["code"]), _cell(row["name"]), *[row[k] for k in KEYS]])
    writer.writerow([_("Total"), "", *[table.totals[k] for k in KEYS]])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"mobilisation-{round_.election.slug}-tour{round_.number}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

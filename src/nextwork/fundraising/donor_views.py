"""« Mes dons »: a member's own gifts and monthly donations, and stopping a monthly donation.

Which gifts are the member's (``donations_of``):
- the donor records linked to their account (``Donor.member``: gifts made while logged in);
- and, read-only, the records made **with the same email address before they signed up**
  (``Donor.key``, the SHA-256 of the normalised address, which is how caps already know a
  person), provided the member has confirmed that address (double opt-in proves they hold the
  mailbox the gift was declared with). Erased donor records never show: after an erasure the
  key stays only to count caps (docs/fundraising-privacy.md), not to reveal the gifts to
  whoever registers the address later.

Only what the member declared themselves is shown, and only the date, beneficiary, amount
and status: never the identity on the record, since someone else may have typed that address.
A monthly donation can be stopped from here only when it is linked to the account (the rule
of ``recurring.recurring_cancel``); one matched by address is shown with a hint to contact
the team. Another member's monthly donation answers 404, like one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from nextwork.common.errors import DomainError, NotFound
from nextwork.fundraising import recurring as monthly
from nextwork.fundraising import rules
from nextwork.fundraising.models import Donation, Recurring
from nextwork.network.models import Member

STOPPABLE = (Recurring.Status.PENDING, Recurring.Status.ACTIVE)


def _mine(member: Member) -> Q:
    """The donor records of ``member``: linked to the account, or (confirmed address) made
    with the same address before sign-up; never an erased one."""
    mine = Q(member=member)
    if member.confirmed_at is not None and member.email:
        mine |= Q(key=rules.donor_key(member.email))
    return mine & Q(erased_at__isnull=True)


def donations_of(member: Member) -> list[Donation]:
    """The member's gifts, newest first (monthly payments included)."""
    from nextwork.fundraising.models import Donor

    donors = Donor.objects.filter(_mine(member)).values("pk")
    return list(
        Donation.objects.filter(donor__in=donors)
        .select_related("beneficiary", "donor")
        .order_by("-created_at", "-pk")
    )


def recurring_of(member: Member) -> list[Recurring]:
    from nextwork.fundraising.models import Donor

    donors = Donor.objects.filter(_mine(member)).values("pk")
    return list(
        Recurring.objects.filter(donor__in=donors)
        .select_related("beneficiary", "donor")
        .order_by("-created_at", "-pk")
    )


def access_own_recurring(member: Member, recurring_id: int) -> Recurring:
    """The monthly donation, when its donor record is linked to ``member``; otherwise
    ``NotFound`` whether it exists or not (staff included: they stop it from the API)."""
    found = (
        Recurring.objects.select_related("beneficiary")
        .filter(pk=recurring_id, donor__member=member, donor__erased_at__isnull=True)
        .first()
    )
    if found is None:
        raise NotFound(f"No monthly donation {recurring_id}.", field="recurring")
    return found


@require_safe
@login_required
def my_donations(request: HttpRequest) -> HttpResponse:
    member = request.user
    gifts = [
        {
            "donation": d,
            "date": d.succeeded_at or d.created_at,
            "amount": rules.euros(d.amount_cents),
            "linked": d.donor.member_id == member.pk,
        }
        for d in donations_of(member)
    ]
    monthly_rows = [
        {
            "recurring": r,
            "amount": rules.euros(r.amount_cents),
            "stoppable": r.status in STOPPABLE and r.donor.member_id == member.pk,
            "linked": r.donor.member_id == member.pk,
        }
        for r in recurring_of(member)
    ]
    monthly_rows.sort(key=lambda row: row["recurring"].status not in STOPPABLE)  # running first
    context = {
        "gifts": gifts,
        "monthly": monthly_rows,
        "has_unlinked": any(not g["linked"] for g in gifts)
        or any(not r["linked"] for r in monthly_rows),
    }
    return render(request, "fundraising/my_donations.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def recurring_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation; POST: stop it (the provider is told first)."""
    try:
        recurring = access_own_recurring(request.user, pk)
    except NotFound:
        raise Http404 from None
    context = {"recurring": recurring, "amount": rules.euros(recurring.amount_cents)}
    if recurring.status not in STOPPABLE:
        return redirect("fundraising:my_donations")
    if request.method == "POST":
        from nextwork.fundraising.views import french

        try:
            monthly.recurring_cancel(recurring_id=recurring.pk, by=request.user)
        except DomainError as exc:
            context["error"] = french(exc)
            return render(request, "fundraising/recurring_stop.html", context, status=exc.status)
        messages.success(
            request,
            _("Votre don mensuel de %(amount)s à %(name)s est arrêté : plus rien ne sera prélevé.")
            % {"amount": context["amount"], "name": recurring.beneficiary.name},
        )
        return redirect("fundraising:my_donations")
    return render(request, "fundraising/recurring_stop.html", context)

"""Staff refunding a received gift.

Promises:
- staff only (a national staff grant); anyone else gets ``Forbidden``;
- only a received gift is refunded; a refunded one is refused with the date it was, anything
  else (pending, failed, cancelled) with its status;
- an online gift is refunded at its provider **first**, outside any transaction: if the
  provider cannot be reached or refuses, the error goes up and nothing is changed here;
- then the gift is marked refunded (``services.donation_refunded``: caps given back, receipts
  cancelled, ``donation.refund`` in the audit log with the staff member). The provider's own
  news of the refund arriving later (Stripe's ``charge.refunded``) finds it refunded and changes
  nothing;
- a gift paid by cheque, transfer or in cash (provider ``manual``) is marked refunded only:
  staff send the money back themselves;
- the request is written to the audit log (``donation.refund_request``: the donation, its
  provider and amount; never the donor's identity).

Stripe is called with the idempotency key ``refund-<donation id>``: two staff members refunding
the same gift at the same moment refund it once.
"""

from __future__ import annotations

from nextwork.common.errors import Conflict, Forbidden, NotFound
from nextwork.fundraising import providers, services
from nextwork.fundraising.models import Donation, DonationStatus
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

MANUAL = "manual"


def refund_request(*, donation_id: int, by: Member) -> Donation:
    """Refund a received gift (see the module's promises); returns it, refunded."""
    if by is None or not by.is_authenticated or not is_staff(by):
        raise Forbidden("Only staff refund a gift.")
    donation = Donation.objects.filter(pk=donation_id).first()
    if donation is None:
        raise NotFound(f"No donation {donation_id}.", field="donation")
    if donation.status == DonationStatus.REFUNDED:
        raise Conflict(
            f"Donation {donation.pk} was refunded already ({donation.refunded_at:%Y-%m-%d}).",
            field="donation",
        )
    if donation.status != DonationStatus.SUCCEEDED:
        raise Conflict(
            f"Donation {donation.pk} is {donation.status}: only a received gift is refunded.",
            field="donation",
        )
    if donation.provider != MANUAL:
        # Asked first and outside a transaction: a provider error leaves everything as it was.
        providers.get(donation.provider).refund(donation)
    refunded = services.donation_refunded(donation_id=donation.pk, by=by)
    audit_record(
        actor=by,
        action="donation.refund_request",
        details={
            "donation": donation.pk,
            "provider": donation.provider,
            "amount_cents": donation.amount_cents,
        },
    )
    return refunded

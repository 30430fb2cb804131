"""Cheques and transfers: the donor is told where to send the money; staff record it when it
arrives (``services.manual_record``, or settle the pending donation)."""

from __future__ import annotations

from nextwork.fundraising import rules
from nextwork.fundraising.models import Method
from nextwork.fundraising.providers import Provider, register


@register
class ManualProvider(Provider):
    name = "manual"
    methods = (Method.CHEQUE, Method.TRANSFER)

    def start(self, *, donation, success_url, cancel_url) -> dict:
        beneficiary = donation.beneficiary
        reference = f"DON-{donation.pk}"
        if donation.method == Method.CHEQUE:
            how = (
                f"Send a cheque of {rules.euros(donation.amount_cents)} to the order of "
                f"{beneficiary.legal_name}, {beneficiary.address}, writing {reference} on "
                "its back."
            )
        else:
            how = (
                f"Make a transfer of {rules.euros(donation.amount_cents)} to "
                f"{beneficiary.legal_name} with the reference {reference}."
            )
        return {
            "kind": "instructions",
            "text": how + " Your receipt follows when the money is received.",
        }

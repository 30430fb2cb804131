"""Background work of fundraising (run by ``nextwork worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def issue_receipt_task(donation_id: int) -> str:
    """The tax receipt of a one-off gift that went through. Idempotent: a gift that has its
    receipt already keeps it."""
    from nextwork.common.errors import Conflict
    from nextwork.fundraising.services import receipt_issue

    try:
        receipt = receipt_issue(donation_id=donation_id)
    except Conflict as exc:
        return f"donation #{donation_id}: {exc.message}"
    return f"donation #{donation_id}: receipt {receipt.year}-{receipt.number:06d}"

"""Background work of fundraising (run by ``nextwork worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def issue_receipt_task(donation_id: int) -> str:
    """The tax receipt of a one-off gift that went through, then its mail to the donor (a task
    of its own). Idempotent: a gift that has its receipt already keeps it, and the mail task,
    queued again, sends nothing twice."""
    from nextwork.common.errors import Conflict
    from nextwork.fundraising.models import Receipt
    from nextwork.fundraising.receipt_mail import mail_on_commit
    from nextwork.fundraising.services import receipt_issue

    try:
        receipt = receipt_issue(donation_id=donation_id)
    except Conflict as exc:
        # Run again after the receipt was issued (a crash before its mail was queued): queue
        # the mail of the receipt in force, which is sent only if it never was.
        current = Receipt.objects.filter(donations=donation_id, cancelled_at__isnull=True).first()
        if current is not None:
            mail_on_commit(current.pk)
        return f"donation #{donation_id}: {exc.message}"
    mail_on_commit(receipt.pk)
    return f"donation #{donation_id}: receipt {receipt.year}-{receipt.number:06d}"


@task()
def mail_receipt_task(receipt_id: int) -> str:
    """Email a receipt to its donor with the PDF attached; never twice (``receipt_mail``)."""
    from nextwork.fundraising.receipt_mail import receipt_mail

    return receipt_mail(receipt_id=receipt_id)

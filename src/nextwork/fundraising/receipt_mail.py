"""Tax receipts sent to donors by email, PDF attached.

Promises:
- the mail is sent by its own task (``tasks.mail_receipt_task``), queued once the receipt is
  committed: a mail that fails never undoes a receipt;
- a receipt is mailed at most once, even when its task runs again: the sending is written to
  the audit log (``receipt.mail``, with the receipt's id), which is the durable record checked
  first (no model field is needed). Two workers running the same task at the same moment wait
  on the receipt's row lock (PostgreSQL); SQLite serialises the writes but does not lock the
  row, so there a duplicate needs two workers on the same receipt within the same seconds;
- a donor who was erased (their address replaced by ``…@erased.invalid``) gets nothing;
- log lines name the receipt by its id, never the donor's address or name.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from nextwork.fundraising import receipts_pdf, rules
from nextwork.fundraising.models import Receipt

logger = logging.getLogger(__name__)

ACTION = "receipt.mail"


def mail_on_commit(receipt_id: int) -> None:
    """Queue the receipt's mail for after the current transaction commits (at once outside
    one). Call it after issuing a receipt: one-off, annual or a replacement."""

    def enqueue() -> None:
        from nextwork.fundraising.tasks import mail_receipt_task

        mail_receipt_task.enqueue(receipt_id)

    transaction.on_commit(enqueue)


def was_mailed(receipt_id: int) -> bool:
    from nextwork.privacy.models import AuditEvent

    return AuditEvent.objects.filter(action=ACTION, details__receipt=receipt_id).exists()


def number(receipt: Receipt) -> str:
    return f"{receipt.year}-{receipt.number:06d}"


def _message(receipt: Receipt) -> EmailMessage:
    donor = receipt.snapshot.get("donor", {})
    values = {
        "first_name": donor.get("first_name", ""),
        "number": number(receipt),
        "amount": rules.euros(receipt.amount_cents),
        "beneficiary": receipt.snapshot.get("beneficiary", {}).get("name", ""),
        "year": receipt.year,
    }
    with translation.override("fr"):
        subject = _("Votre reçu fiscal n° %(number)s") % values
        lines = [_("Bonjour %(first_name)s,") % values, ""]
        if receipt.consolidated:
            lines.append(
                _(
                    "Voici le reçu fiscal annuel de vos dons de %(year)s à %(beneficiary)s, "
                    "d'un montant total de %(amount)s : le reçu n° %(number)s, en pièce jointe."
                )
                % values
            )
        else:
            lines.append(
                _(
                    "Merci pour votre don de %(amount)s à %(beneficiary)s. Votre reçu fiscal "
                    "n° %(number)s est en pièce jointe."
                )
                % values
            )
        if receipt.replaces_id:
            old = receipt.replaces
            lines += [
                "",
                _("Ce reçu annule et remplace le reçu n° %(old)s, que vous pouvez détruire.")
                % {"old": number(old)},
            ]
        lines += [
            "",
            _(
                "Conservez-le : l'administration fiscale peut vous le demander pour justifier "
                "la réduction d'impôt."
            ),
        ]
        if receipt.donor.member_id and settings.NEXTWORK_SITE_URL:
            lines += [
                "",
                _("Tous vos reçus sont aussi dans votre espace : %(url)s")
                % {"url": settings.NEXTWORK_SITE_URL + reverse("fundraising:my_receipts")},
            ]
        lines += ["", _("Ce message est envoyé automatiquement : merci de ne pas y répondre.")]
    message = EmailMessage(subject=subject, body="\n".join(lines), to=[receipt.donor.email])
    message.attach(f"recu-{number(receipt)}.pdf", receipts_pdf.render(receipt), "application/pdf")
    return message


def receipt_mail(*, receipt_id: int) -> str:
    """Mail the receipt to its donor, once. Returns what happened (for the task's result);
    raises when the mail could not be sent, so the task shows as failed and can be run
    again."""
    from nextwork.privacy.services import audit_record

    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update(of=("self",))
            .select_related("donor", "replaces", "beneficiary")
            .filter(pk=receipt_id)
            .first()
        )
        if receipt is None:
            return f"receipt #{receipt_id}: no such receipt"
        if was_mailed(receipt_id):
            return f"receipt #{receipt_id}: mailed already"
        if receipt.cancelled_at is not None:
            return f"receipt #{receipt_id}: cancelled, not mailed"
        if receipt.donor.erased_at is not None or receipt.donor.email.endswith(".invalid"):
            return f"receipt #{receipt_id}: donor erased, not mailed"
        try:
            _message(receipt).send()
        except Exception as exc:
            # The error's type only: SMTP errors quote the recipient's address.
            logger.error("receipt #%s not mailed: %s", receipt_id, type(exc).__name__)
            raise
        # In the same transaction as the lock: the record and the mail go together.
        audit_record(actor=None, action=ACTION, details={"receipt": receipt_id})
    return f"receipt #{receipt_id}: mailed"

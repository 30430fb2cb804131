"""Receipts mailed to donors: PDF attached, once, through a real SMTP server."""

from __future__ import annotations

import logging

import pytest
from django_tasks_db.models import DBTaskResult

from nextwork.fundraising import receipt_mail, services
from nextwork.fundraising.models import Receipt
from nextwork.fundraising.tasks import issue_receipt_task, mail_receipt_task
from nextwork.privacy.models import AuditEvent
from tests.fundraising.test_receipts_pdf import pdf_text

pytestmark = pytest.mark.django_db

EMAIL = "camille.donne@example.org"


def queued(name: str) -> list[list]:
    return [r.args_kwargs["args"] for r in DBTaskResult.objects.filter(task_path__endswith=name)]


def mails_to(inbox, to: str) -> list:
    return [m for rcpt, m in inbox.messages if to in rcpt]


def attachment(message) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    return part.get_filename(), part.get_content()


def test_a_one_off_receipt_is_mailed_once_with_its_pdf(
    inbox, give, django_capture_on_commit_callbacks
):
    gift = give("association", cents=4200)
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        issue_receipt_task.call(gift.pk)
    (receipt,) = Receipt.objects.filter(donations=gift)
    assert queued("mail_receipt_task") == [[receipt.pk]]
    assert inbox.messages == []  # the receipt task itself sends nothing

    assert mail_receipt_task.call(receipt.pk) == f"receipt #{receipt.pk}: mailed"
    (message,) = mails_to(inbox, EMAIL)
    number = f"{receipt.year}-{receipt.number:06d}"
    assert message["Subject"] == f"Votre reçu fiscal n° {number}"
    body = message.get_body(("plain",)).get_content()
    assert "Bonjour Camille," in body and "42 €" in body and "Association C" in body
    name, data = attachment(message)
    assert name == f"recu-{number}.pdf"
    text = pdf_text(data)
    assert number in text and "Camille" in text and "quarante-deux euros" in text

    # The task run again (a retry), and the receipt task run again: nothing more is sent.
    assert mail_receipt_task.call(receipt.pk) == f"receipt #{receipt.pk}: mailed already"
    with django_capture_on_commit_callbacks(execute=True):
        issue_receipt_task.call(gift.pk)
    mail_receipt_task.call(receipt.pk)
    assert len(mails_to(inbox, EMAIL)) == 1
    (event,) = AuditEvent.objects.filter(action="receipt.mail")
    assert event.details == {"receipt": receipt.pk}


def test_a_mail_failure_keeps_the_receipt_and_a_rerun_sends_it(
    settings, give, django_capture_on_commit_callbacks, caplog
):
    from tests import smtp

    handler, controller = smtp.start(refuse_data=(451, 1))
    for name, value in smtp.settings_for(controller).items():
        setattr(settings, name, value)
    try:
        gift = give("party", cents=5000)
        with django_capture_on_commit_callbacks(execute=True):
            issue_receipt_task.call(gift.pk)
        receipt = Receipt.objects.get(donations=gift)
        with caplog.at_level(logging.ERROR, logger="nextwork.fundraising.receipt_mail"):
            with pytest.raises(Exception, match="451"):
                mail_receipt_task.call(receipt.pk)
        assert Receipt.objects.filter(pk=receipt.pk, cancelled_at__isnull=True).exists()
        assert not receipt_mail.was_mailed(receipt.pk)
        assert handler.messages == []
        assert f"receipt #{receipt.pk} not mailed: SMTPDataError" in caplog.text
        assert EMAIL not in caplog.text and "Camille" not in caplog.text

        assert mail_receipt_task.call(receipt.pk) == f"receipt #{receipt.pk}: mailed"
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_annual_and_reissued_receipts_are_mailed(
    inbox, give, beneficiaries, people, django_capture_on_commit_callbacks
):
    from nextwork.fundraising.rules import donor_key

    first = give("association", cents=1000)
    give("association", cents=2500)
    year = first.succeeded_at.year
    with django_capture_on_commit_callbacks(execute=True):
        annual = services.receipt_issue_annual(
            key=donor_key(EMAIL), beneficiary_id=beneficiaries["association"].pk, year=year
        )  # the service queues the mail itself
    assert [annual.pk] in queued("mail_receipt_task")
    mail_receipt_task.call(annual.pk)
    (message,) = mails_to(inbox, EMAIL)
    assert "reçu fiscal annuel de vos dons de" in message.get_body(("plain",)).get_content()
    text = pdf_text(attachment(message)[1])
    assert f"{annual.year}-{annual.number:06d}" in text and "trente-cinq euros" in text

    with django_capture_on_commit_callbacks(execute=True):
        new = services.receipt_reissue(
            receipt_id=annual.pk, reason="adresse corrigée", donor=None, by=people["staff"]
        )
    assert [new.pk] in queued("mail_receipt_task")
    mail_receipt_task.call(new.pk)
    message = mails_to(inbox, EMAIL)[-1]
    old_number, new_number = f"{year}-{annual.number:06d}", f"{year}-{new.number:06d}"
    assert message["Subject"] == f"Votre reçu fiscal n° {new_number}"
    assert (
        f"annule et remplace le reçu n° {old_number}" in message.get_body(("plain",)).get_content()
    )
    assert new_number in pdf_text(attachment(message)[1])
    # The cancelled one, if its task runs late, is not sent.
    mail_receipt_task.call(annual.pk)  # mailed already anyway
    assert len(mails_to(inbox, EMAIL)) == 2


def test_cancelled_and_erased_donors_get_nothing(inbox, give, people):
    from nextwork.fundraising.erasure import donor_erase

    gift = give("association", cents=3000)
    receipt = services.receipt_issue(donation_id=gift.pk)
    services.donation_refunded(donation_id=gift.pk, by=people["staff"])
    assert mail_receipt_task.call(receipt.pk).endswith("cancelled, not mailed")

    other = give("association", cents=3000, email="lou@example.org")
    kept = services.receipt_issue(donation_id=other.pk)
    donor_erase(key=other.donor.key, by=people["staff"])
    assert mail_receipt_task.call(kept.pk).endswith("donor erased, not mailed")
    assert inbox.messages == []

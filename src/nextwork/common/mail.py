"""Sending after commit without letting a mail outage break the request that caused it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger("nextwork.mail")


def send_after_commit(send: Callable[..., None], *args, what: str, ref: str) -> None:
    """Queue ``send(*args)`` for after the commit; a failure is logged (``what`` and ``ref``
    name the message and the record, never an address) and the request goes on."""

    def run() -> None:
        try:
            send(*args)
        except Exception as exc:  # SMTP down, refused, timed out: the data is saved, not the mail
            # The error's type only: SMTP errors quote the recipients' addresses.
            logger.error("%s not sent (%s): %s", what, ref, type(exc).__name__)

    transaction.on_commit(run)

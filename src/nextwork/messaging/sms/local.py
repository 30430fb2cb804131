"""The providers that send nothing: ``console`` (the default) and ``file`` (a developer's outbox).

``console`` prints one line per SMS with the number's last two digits, the reference and the
size of the text — never the number nor the text — so it is safe as the default of an
instance whose SMS provider is not configured yet.

``file`` appends one JSON object per SMS to ``NEXTWORK_SMS_FILE`` (default
``NEXTWORK_HOME/sms-outbox.jsonl``): ``id``, ``at``, ``to``, ``body``, ``reference``,
``encoding``, ``segments``. It keeps the number and the text on purpose: it is the
developer's own outbox, to read what would have been sent (and what tests assert on). It is
created readable by its owner only. Never use it in production.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.utils import timezone

from nextwork.messaging.errors import PermanentFailure, TemporaryFailure
from nextwork.messaging.sms.base import SmsProvider, e164, redact, register
from nextwork.messaging.sms.encoding import analyse

logger = logging.getLogger("nextwork.messaging.sms")


def _check_body(body: str) -> None:
    if not body or not body.strip():
        raise PermanentFailure("empty-body", "the text is empty")


@register
class ConsoleProvider(SmsProvider):
    """Prints a redacted line on standard output (or the given stream) and sends nothing."""

    name = "console"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def send(self, *, to: str, body: str, reference: str) -> str:
        number = e164(to)
        _check_body(body)
        parts = analyse(body)
        message_id = f"console-{uuid.uuid4().hex}"
        line = (
            f"[sms console] to {redact(number)} ref {reference} {parts.encoding} "
            f"{parts.units} units {parts.segments} segment(s) id {message_id}"
        )
        print(line, file=self.stream or sys.stdout, flush=True)
        logger.info("SMS not sent (console provider): to %s, ref %s", redact(number), reference)
        return message_id


@register
class FileProvider(SmsProvider):
    """Appends each SMS, number and text included, to a JSON-lines file (development)."""

    name = "file"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> FileProvider:
        return cls(settings.NEXTWORK_SMS_FILE)

    def send(self, *, to: str, body: str, reference: str) -> str:
        number = e164(to)
        _check_body(body)
        parts = analyse(body)
        message_id = f"file-{uuid.uuid4().hex}"
        record = {
            "id": message_id,
            "at": timezone.now().isoformat(),
            "to": number,
            "body": body,
            "reference": reference,
            "encoding": parts.encoding,
            "segments": parts.segments,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write() on an O_APPEND file: lines of concurrent senders do not interleave.
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise TemporaryFailure("outbox-unwritable", exc.strerror or "cannot write") from exc
        return message_id

    def read(self) -> list[dict]:
        """Every SMS written so far (for tests and the developer)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Inbox:
    """Keeps what it accepts. ``refuse_data=(code, n)`` answers the first n DATA with that
    code; ``refuse_rcpt`` maps addresses to the code their RCPT gets (a 550 for one)."""

    def __init__(self, refuse_data: tuple[int, int] | None = None, refuse_rcpt=None):
        self.messages = []
        self.refuse_data = list(refuse_data) if refuse_data else None
        self.refuse_rcpt = {k.lower(): v for k, v in (refuse_rcpt or {}).items()}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.refuse_rcpt.get(address.lower())
        if code:
            return f"{code} 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data and self.refuse_data[1] > 0:
            self.refuse_data[1] -= 1
            return f"{self.refuse_data[0]} 4.3.0 try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted"

    def bodies(self, to: str) -> list[str]:
        return [m.get_body().get_content() for rcpt, m in self.messages if to in rcpt]

    def link(self, to: str, path_pattern: str) -> str:
        """The last link of the messages to ``to`` whose path matches ``path_pattern``."""
        for body in reversed(self.bodies(to)):
            found = re.search(rf"https?://\S+?({path_pattern})", body)
            if found:
                return found.group(0)
        raise AssertionError(f"no {path_pattern} link in the messages to {to}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(**options) -> tuple[Inbox, Controller]:
    inbox = Inbox(**options)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return inbox, controller


def settings_for(controller: Controller) -> dict:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": controller.port,
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
    }

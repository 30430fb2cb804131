"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
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


def start() -> tuple[Inbox, Controller]:
    inbox = Inbox()
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

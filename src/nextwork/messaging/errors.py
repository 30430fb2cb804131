"""What a channel backend raises when a hand-over fails: the sender retries or gives up."""

from __future__ import annotations


class SendFailure(Exception):
    """A hand-over that failed. ``code`` is short and never contains an address."""

    def __init__(self, code: str, reason: str = ""):
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason[:150]


class TemporaryFailure(SendFailure):
    """Worth retrying later (SMTP 4xx, HTTP 429/5xx, a connection lost).
    ``retry_after`` (seconds) when the provider said when."""

    def __init__(self, code: str, reason: str = "", retry_after: float | None = None):
        super().__init__(code, reason)
        self.retry_after = retry_after


class PermanentFailure(SendFailure):
    """Never worth retrying for this recipient (SMTP 5xx, an invalid number)."""

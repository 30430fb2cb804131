"""The audit log of sensitive actions: who did what, when, on which records.

Rows are only ever added (the service has no update or delete); the hash chain that makes
tampering detectable comes with the trust work (issue 10).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for the operator (command line).",
    )
    action = models.CharField(max_length=60, db_index=True)
    area_code = models.CharField(max_length=20, blank=True)
    # Counts and identifiers only: never an email, a name or a phone number.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

"""The audit log of sensitive actions: who did what, when, on which records.

Rows are only ever added (the service has no update or delete). A worker task seals them a few
seconds after they commit into a hash chain (``privacy.chain``): each sealed event carries a
sequence number and the hash of its content and of the event before it, so that a changed,
removed or reordered row is found by ``nextwork audit verify``.
"""

from __future__ import annotations

import json

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
    # The actor's id as it was at insert: the foreign key becomes NULL when a member is erased,
    # and the hash must not change then.
    actor_ref = models.BigIntegerField(null=True, blank=True)
    # Set by the sealer (``privacy.chain.seal``), empty until then.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def details_text(self) -> str:
        return json.dumps(self.details, ensure_ascii=False, sort_keys=True)

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
from django.utils.translation import gettext_lazy as _


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


class ErasureReason(models.TextChoices):
    SELF = "self", _("à sa demande, en ligne")
    REQUEST = "request", _("à sa demande, par l'équipe")
    RETENTION = "retention", _("durée de conservation écoulée")
    LEGAL = "legal", _("décision de justice ou de la CNIL")
    OTHER = "other", _("autre motif")


class ErasureRecord(models.Model):
    """One erased member, in the erasure ledger: never an address or a name.

    The ledger outlives the member so that a restore can erase them again (``privacy.ledger``):
    each row is also appended to the ledger file (``NEXTWORK_ERASURE_LEDGER``) once the erasure
    has committed; ``filed_at`` says when. The hashes are keyed (HMAC-SHA256 with a key derived
    from ``SECRET_KEY``, see docs/privacy.md): they tell whether an address was erased, but
    cannot be reversed by hashing a list of known addresses without the key.
    """

    member_ref = models.BigIntegerField(help_text="The erased member's id.")
    public_id = models.UUIDField(unique=True)
    erased_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Who erased: the member themself, a staff member (their id), or the system (neither).
    by_self = models.BooleanField(default=False)
    by_ref = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=ErasureReason.choices)
    email_hmac = models.CharField(max_length=64, blank=True)
    phone_hmac = models.CharField(max_length=64, blank=True)
    # Channels whose address went on the suppression list at erasure ("email", "sms").
    suppressed = models.JSONField(default=list, blank=True)
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return f"erasure of member #{self.member_ref} ({self.reason})"

from __future__ import annotations

from nextwork.privacy.models import AuditEvent


def audit_record(*, actor, action: str, area_code: str = "", details: dict | None = None):
    """Append one event to the audit log (in the caller's transaction)."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        area_code=area_code,
        details=details or {},
    )

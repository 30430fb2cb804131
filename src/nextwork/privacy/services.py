from __future__ import annotations

from nextwork.privacy.models import AuditEvent


def audit_record(*, actor, action: str, area_code: str = "", details: dict | None = None):
    """Append one event to the audit log (in the caller's transaction). Cheap and lock-free:
    the event is sealed into the hash chain later, by the worker (``privacy.chain.seal``)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_ref=actor.pk if actor is not None else None,
        action=action,
        area_code=area_code,
        details=details or {},
    )

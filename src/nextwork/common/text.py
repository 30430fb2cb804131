"""Text that people type, checked the same way everywhere: trimmed, no NUL character (which
PostgreSQL refuses), required or not, and bounded."""

from __future__ import annotations

from nextwork.common.errors import InvalidInput


def clean_text(value: str | None, *, field: str, limit: int, required: bool = True) -> str:
    """``value`` trimmed; ``InvalidInput`` naming ``field`` when it is missing, too long or
    holds a NUL character."""
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput("The text holds a NUL character.", field=field)
    name = field.replace("_", " ")
    if required and not value:
        raise InvalidInput(f"The {name} is required.", field=field)
    if len(value) > limit:
        raise InvalidInput(
            f"The {name} is {len(value):,} characters long; at most {limit:,} are accepted.",
            field=field,
        )
    return value

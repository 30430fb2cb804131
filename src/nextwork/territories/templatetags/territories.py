from datetime import date

from django import template
from django.utils.formats import date_format

register = template.Library()


@register.filter
def isodate(value: str | None) -> str:
    """'2024-07-07' → '7 juillet 2024' in the current language."""
    if not value:
        return ""
    try:
        return date_format(date.fromisoformat(value), "j F Y")
    except ValueError:
        return value

"""Template tags for fundraising links shown on other apps' pages."""

from __future__ import annotations

from django import template

from nextwork.network.permissions import is_staff

register = template.Library()


@register.simple_tag
def is_fundraising_staff(user) -> bool:
    """Whether ``user`` may see the donation analytics (a current staff grant)."""
    return bool(user.is_authenticated) and is_staff(user)

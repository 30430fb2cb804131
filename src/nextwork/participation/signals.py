"""Counters follow the rows when a member is deleted (erasure, a demo replaced): their
supports and follows go with them by cascade, so the proposals' counters come down first."""

from __future__ import annotations

from django.db.models import F


def member_deleted(sender, instance, **kwargs) -> None:
    from nextwork.participation.models import Follow, Proposal, Support

    Proposal.objects.filter(
        pk__in=Support.objects.filter(member=instance).values("proposal_id")
    ).update(support_count=F("support_count") - 1)
    Proposal.objects.filter(
        pk__in=Follow.objects.filter(member=instance).values("proposal_id")
    ).update(follower_count=F("follower_count") - 1)

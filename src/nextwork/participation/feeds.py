"""Atom feeds: a consultation's proposals, a proposal's thread (comments and answers), and the
organisation's news, for anyone with a feed reader.

Feeds are read without a login, so they read as a visitor does (``selectors``, viewer None):
only published consultations have feeds, only published contributions appear, a hidden
proposal's feed carries no text. Authors appear by first name only, never with an address.
"""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from nextwork.common.errors import DomainError
from nextwork.common.richtext import render as markdown
from nextwork.participation import selectors
from nextwork.participation.models import (
    Answer,
    AnswerStatus,
    Comment,
    Consultation,
    NewsItem,
    Proposal,
    State,
)

ENTRIES = 50


def _first_name(member) -> str | None:
    return member.first_name if member is not None and member.first_name else None


class ConsultationFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, pk: int) -> Consultation:
        try:
            return selectors.consultation_for(pk, viewer=None)
        except DomainError as exc:
            raise Http404(exc.message) from exc

    def title(self, obj: Consultation) -> str:
        return obj.title

    def subtitle(self, obj: Consultation) -> str:
        return _("Les propositions des membres, les plus récentes d'abord.")

    def link(self, obj: Consultation) -> str:
        return reverse("participation:consultation", args=[obj.pk])

    def items(self, obj: Consultation):
        return (
            Proposal.objects.filter(
                consultation=obj, state=State.PUBLISHED, merged_into__isnull=True
            )
            .select_related("author")
            .order_by("-created_at", "-id")[:ENTRIES]
        )

    def item_title(self, item: Proposal) -> str:
        return item.title

    def item_description(self, item: Proposal) -> str:
        return markdown(item.body)

    def item_link(self, item: Proposal) -> str:
        return reverse("participation:proposal", args=[item.pk])

    def item_pubdate(self, item: Proposal):
        return item.created_at

    def item_updateddate(self, item: Proposal):
        return item.edited_at or item.created_at

    def item_author_name(self, item: Proposal) -> str | None:
        return _first_name(item.author)


class ProposalFeed(Feed):
    """A proposal's thread: its published comments and its answers, newest first."""

    feed_type = Atom1Feed

    def get_object(self, request, pk: int) -> Proposal:
        try:
            return selectors.proposal_for(pk, viewer=None)
        except DomainError as exc:
            raise Http404(exc.message) from exc

    def title(self, obj: Proposal) -> str:
        if obj.state != State.PUBLISHED:
            return _("Proposition n° %(n)s (masquée par la modération)") % {"n": obj.pk}
        return obj.title

    def subtitle(self, obj: Proposal) -> str:
        return _("Commentaires et réponses de l'équipe.")

    def link(self, obj: Proposal) -> str:
        return reverse("participation:proposal", args=[obj.pk])

    def items(self, obj: Proposal) -> list:
        if obj.state != State.PUBLISHED:
            return []
        comments = list(
            Comment.objects.filter(proposal=obj, state=State.PUBLISHED, deleted_at__isnull=True)
            .select_related("author")
            .order_by("-created_at", "-id")[:ENTRIES]
        )
        answers = list(Answer.objects.filter(proposal=obj).order_by("-answered_at")[:ENTRIES])
        rows = comments + answers
        rows.sort(key=self.item_pubdate, reverse=True)
        return rows[:ENTRIES]

    def item_title(self, item) -> str:
        if isinstance(item, Answer):
            return _("Réponse de l'équipe : %(status)s") % {
                "status": AnswerStatus(item.status).label
            }
        name = _first_name(item.author) or _("un membre")
        return _("Commentaire de %(name)s") % {"name": name}

    def item_description(self, item) -> str:
        return markdown(item.text if isinstance(item, Answer) else item.body)

    def item_link(self, item) -> str:
        anchor = f"#r{item.pk}" if isinstance(item, Answer) else f"#c{item.pk}"
        return reverse("participation:proposal", args=[item.proposal_id]) + anchor

    def item_pubdate(self, item):
        return item.answered_at if isinstance(item, Answer) else item.created_at

    def item_updateddate(self, item):
        if isinstance(item, Comment) and item.edited_at:
            return item.edited_at
        return self.item_pubdate(item)

    def item_author_name(self, item) -> str | None:
        if isinstance(item, Answer):
            return _("L'équipe")
        return _first_name(item.author)


class NewsFeed(Feed):
    feed_type = Atom1Feed

    def title(self) -> str:
        return _("Actualités")

    def link(self) -> str:
        return reverse("participation:news")

    def items(self):
        return NewsItem.objects.filter(published_at__lte=timezone.now())[:ENTRIES]

    def item_title(self, item: NewsItem) -> str:
        return item.title

    def item_description(self, item: NewsItem) -> str:
        return markdown(item.body)

    def item_link(self, item: NewsItem) -> str:
        return reverse("participation:news") + f"#n{item.pk}"

    def item_pubdate(self, item: NewsItem):
        return item.published_at

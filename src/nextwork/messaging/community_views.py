"""Community pages: the public list, one community, joining and leaving."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from nextwork.common.errors import DomainError
from nextwork.messaging import communities
from nextwork.messaging.models import Community
from nextwork.messaging.texts import COMMUNITY_NEWS_V1_FR

PER_PAGE = 48


@require_safe
def community_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(communities.public_communities(), PER_PAGE).get_page(request.GET.get("page"))
    mine = list(communities.my_communities(request.user))
    return render(
        request,
        "messaging/community_list.html",
        {
            "page": page,
            "communities": page.object_list,
            "mine": mine,
            "mine_ids": {c.pk for c in mine},
            "coordinated": list(communities.coordinated(request.user)),
        },
    )


def _visible(request: HttpRequest, slug: str) -> Community:
    try:
        return communities.community_for(request.user, slug=slug)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@require_safe
def community_detail(request: HttpRequest, slug: str) -> HttpResponse:
    community = _visible(request, slug)
    member = request.user if request.user.is_authenticated else None
    return render(
        request,
        "messaging/community_detail.html",
        {
            "community": community,
            "membership": communities.current_membership(member, community),
            # The box is offered only to members who never answered for community news.
            "ask_news": member is not None and not communities.has_community_answer(member),
            "news_text": COMMUNITY_NEWS_V1_FR,
            "coordinates": communities.is_coordinator(member, community),
        },
    )


@login_required
@require_POST
def community_join(request: HttpRequest, slug: str) -> HttpResponse:
    community = _visible(request, slug)
    try:
        result = communities.community_join(
            member=request.user,
            community=community,
            community_news=request.POST.get("community_news") == "on",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if not result.created:
            messages.info(request, _("Vous faites déjà partie de cette communauté."))
        elif result.consent_given:
            messages.success(
                request,
                _(
                    "Bienvenue ! Vous recevrez par courriel les nouvelles des communautés : "
                    "vous pouvez changer d'avis dans vos préférences."
                ),
            )
        else:
            messages.success(request, _("Bienvenue dans la communauté !"))
    return redirect("messaging:community", slug=community.slug)


@login_required
@require_POST
def community_leave(request: HttpRequest, slug: str) -> HttpResponse:
    community = _visible(request, slug)
    try:
        left = communities.community_leave(member=request.user, community=community)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if left is None:
            messages.info(request, _("Vous ne faisiez pas partie de cette communauté."))
        else:
            messages.success(request, _("Vous avez quitté cette communauté."))
    if not communities.visible_to(request.user).filter(pk=community.pk).exists():
        return redirect("messaging:communities")  # a hidden community, left
    return redirect("messaging:community", slug=community.slug)

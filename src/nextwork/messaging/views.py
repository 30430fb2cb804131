"""Pages of messaging: one-click unsubscribe (RFC 8058).

Mail clients POST ``List-Unsubscribe=One-Click`` to the link without a session or a CSRF
token: the signed token is the authority, so the view is exempt from CSRF. A GET (a person
clicking, or a mail scanner prefetching) never unsubscribes: it shows a button.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from nextwork.common.errors import DomainError
from nextwork.messaging.models import MessageType
from nextwork.messaging.services import unsubscribe as unsubscribe_service

MAX_BODY = 4096


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    context = {"token": token}
    if request.method == "GET":
        return render(request, "messaging/unsubscribe.html", context)
    if len(request.body or b"") > MAX_BODY:
        return HttpResponse("Request too large.", status=413, content_type="text/plain")
    try:
        delivery = unsubscribe_service(token=token)
    except DomainError as exc:
        context.update(error=exc.message, code=exc.code)
        return render(request, "messaging/unsubscribe.html", context, status=exc.status)
    context.update(done=True, kind=MessageType(delivery.message.message_type).label)
    return render(request, "messaging/unsubscribe.html", context)

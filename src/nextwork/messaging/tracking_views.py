"""The open pixel and the click redirect (see ``tracking.py``): thin views over its services.

Both record only on GET (a HEAD from a link checker records nothing) and only when the member
allows tracking; ``tracking.record_*`` checks the preference again.
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from nextwork.messaging import tracking

# A 1×1 transparent GIF (GIF89a, one colour, transparency extension).
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _no_cache(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    response["Pragma"] = "no-cache"
    return response


@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """Always the image, even for a bad token: a mail client shows no error pages."""
    if request.method == "GET":
        try:
            delivery_id = tracking.read_open_token(token)
        except signing.BadSignature:
            pass
        else:
            tracking.record_open(delivery_id=delivery_id)
    return _no_cache(HttpResponse(PIXEL, content_type="image/gif"))


@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the signed target; a forged or damaged link gets a page that says so."""
    try:
        delivery_id, url = tracking.read_click_token(token)
    except signing.BadSignature:
        response = render(request, "messaging/bad_link.html", status=400)
        return _no_cache(response)
    if request.method == "GET":
        tracking.record_click(delivery_id=delivery_id)
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return _no_cache(response)

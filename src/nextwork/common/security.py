"""Web hardening that applies to every request: a request id for the logs, the security headers
Django does not set itself, and a ceiling on writes per member (or per address) and minute."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

from nextwork.common.logs import request_id

# An id set by the reverse proxy is kept when it looks like one (so its logs and ours match).
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

# Features no page of the site uses: a script injected despite the CSP cannot use them either.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Routes called by outside services, which retry on a refusal: they get their own, higher
# ceiling per address (``NEXTWORK_WEBHOOK_WRITES_PER_MINUTE``), never the visitors' one.
# Keys are URL names (Django views) or Django Ninja operation paths under /api/v1/.
WEBHOOK_ROUTES = {
    "messaging:sms-twilio-inbound": "Twilio posts incoming SMS (signed).",
    "messaging:sms-twilio-status": "Twilio posts delivery statuses (signed).",
    "anymail:*": "Email providers post delivery events (basic auth or signature).",
    "/api/v1/payments/{provider}/webhook": "Payment providers post events (signed).",
    "/api/v1/ingest": "Monitoring collectors push posts in batches (ingestion token).",
}


def new_request_id(incoming: str | None) -> str:
    if incoming and _INCOMING_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)


class RequestIdMiddleware:
    """Gives each request an id, sent back in ``X-Request-ID`` and written on its log lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = rid
        # Kept until the response is closed: Django logs the request's outcome
        # ("Not Found: /x") after every middleware has returned.
        request_id.set(rid)
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


@receiver(request_finished)
def _request_done(sender, **kwargs) -> None:
    request_id.set("-")


class SecurityHeadersMiddleware:
    """Headers harmless in every environment that Django's SecurityMiddleware does not send
    (it sends nosniff, Referrer-Policy and Cross-Origin-Opener-Policy; XFrameOptionsMiddleware
    sends X-Frame-Options). HSTS and the HTTPS redirect stay in production settings."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def route_template(route: str) -> str:
    """``/api/v1/payments/{provider}/webhook`` for ``api/v1/payments/<provider>/webhook``."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route or "")


def is_webhook(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    names = {f"{match.namespace}:*", f"{match.namespace}:{match.url_name}"}
    return bool(names & WEBHOOK_ROUTES.keys()) or route_template(match.route) in WEBHOOK_ROUTES


def clock() -> float:
    """The time the ceiling counts by (a function of its own, so tests can hold it)."""
    return time.time()


class TooManyWrites(Exception):
    def __init__(self, retry_after: int):
        super().__init__("too many writes")
        self.retry_after = retry_after


def _bucket_key(request: HttpRequest) -> tuple[str, int]:
    """Who is writing and their ceiling: a member, an API token's address, a webhook caller or
    a visitor's address. The cache only ever holds a hash."""
    member_limit, anonymous_limit = settings.NEXTWORK_WRITES_PER_MINUTE
    if is_webhook(request.path_info):
        return f"hook:{request.META.get('REMOTE_ADDR', '')}", (
            settings.NEXTWORK_WEBHOOK_WRITES_PER_MINUTE
        )
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"member:{user.pk}", member_limit
    address = request.META.get("REMOTE_ADDR", "")
    if request.headers.get("Authorization"):
        # A personal API token, checked later by the API: counted by address at the members'
        # ceiling (not by token, or a visitor could send a new made-up token with each write).
        return f"bearer:{address}", member_limit
    return f"ip:{address}", anonymous_limit


def count_write(request: HttpRequest) -> None:
    """Count one write; raise ``TooManyWrites`` past the ceiling of the current minute."""
    who, limit = _bucket_key(request)
    if limit <= 0:
        return
    now = clock()
    bucket = int(now // 60)
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    key = f"wl:{digest}:{bucket}"
    if cache.add(key, 1, timeout=60):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=60)
            count = 1
    if count > limit:
        raise TooManyWrites(retry_after=max(1, 60 - int(now % 60)))


def too_many_writes(request: HttpRequest, retry_after: int) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        body = {
            "error": {
                "code": "rate_limited",
                "message": f"Too many changes in a minute: try again in {retry_after} s.",
                "field": None,
            }
        }
        response: HttpResponse = JsonResponse(body, status=429)
    else:
        html = render_to_string("429.html", {"retry_after": retry_after}, request=request)
        response = HttpResponse(html, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class WriteRateLimitMiddleware:
    """Every POST, PUT, PATCH and DELETE counts against a per-minute ceiling (after the
    authentication middleware, so a member is counted as themselves wherever they write from).
    The specific limits of sign-up, contributions and donations still apply on top."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in WRITE_METHODS:
            try:
                count_write(request)
            except TooManyWrites as exc:
                return too_many_writes(request, exc.retry_after)
        return self.get_response(request)


def ninja_operation(view_func, method: str):
    """The Django Ninja operation ``view_func`` runs for ``method``, or None for another view.

    Ninja's views are closures over their PathView; the CSRF coverage test checks that every
    API route is found this way, so a change in Ninja cannot hide one."""
    from ninja.operation import PathView

    for cell in getattr(view_func, "__closure__", None) or ():
        path_view = cell.cell_contents
        if isinstance(path_view, PathView):
            return next((op for op in path_view.operations if method in op.methods), None)
    return None


class ApiSessionCsrfMiddleware:
    """Django Ninja checks CSRF only for operations that authenticate by session cookie. An
    operation open to visitors (sign-up, a donation) may still act for the member whose session
    cookie comes with the request: then the CSRF token is required too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method not in WRITE_METHODS:
            return None
        operation = ninja_operation(view_func, request.method)
        if operation is None or operation.auth_callbacks:
            return None  # not an API route, or Ninja checks its authentication (and CSRF)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session to act for
        from ninja.utils import check_csrf

        if check_csrf(request) is None:
            return None
        body = {
            "error": {
                "code": "forbidden",
                "message": "CSRF check failed: with a session login, send the csrftoken "
                "cookie's value in the X-CSRFToken header.",
                "field": None,
            }
        }
        return JsonResponse(body, status=403)


class RequestSizeMiddleware:
    """Refuses a request whose declared body exceeds ``NEXTWORK_MAX_REQUEST_MB`` before anything
    reads it. Django caps form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams uploaded files
    to disk whatever their size; each upload endpoint then applies its own, smaller cap."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.NEXTWORK_MAX_REQUEST_MB * 2**20
        if length > limit:
            message = (
                f"The request is {length / 2**20:.1f} MB; at most "
                f"{settings.NEXTWORK_MAX_REQUEST_MB} MB are accepted."
            )
            if request.path_info.startswith("/api/"):
                body = {"error": {"code": "too_large", "message": message, "field": None}}
                response: HttpResponse = JsonResponse(body, status=413)
            else:
                response = HttpResponse(message, status=413, content_type="text/plain")
            response["Connection"] = "close"
            return response
        return self.get_response(request)

"""Two middlewares after AuthenticationMiddleware: idle sessions end, and staff and
coordinators give a second factor before anything else is served."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from nextwork.network.security import sessions, two_factor

# What a member held at the two-factor step may still reach.
OPEN_PREFIXES = ("/espace/securite/double-authentification/", "/deconnexion/")


class IdleSessionMiddleware:
    """Ends a logged-in session after NEXTWORK_SESSION_IDLE_MINUTES without a request.

    A middleware rather than SESSION_SAVE_EVERY_REQUEST with a short SESSION_COOKIE_AGE: that
    would write the session on every request and could not give staff a shorter limit; here
    the last-seen stamp is written at most once a minute.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            session = request.session
            now = sessions.now()
            seen = session.get(sessions.LAST_SEEN_KEY)
            strict = session.get(sessions.STRICT_KEY)
            if strict is None:
                strict = two_factor.holds_power(request.user)
                session[sessions.STRICT_KEY] = strict
            if seen is not None and now - seen > sessions.idle_limit(strict):
                auth.logout(request)  # flushes the row and gives a new, empty session
            elif seen is None or now - seen >= sessions.TOUCH_SECONDS:
                session[sessions.LAST_SEEN_KEY] = now
        return self.get_response(request)


class TwoFactorMiddleware:
    """Holds a member who needs a second factor until a code is checked in this session:
    pages redirect to enrolment or verification; API calls made with the session get
    403 ``two_factor_required``. Calls with a token and no session are judged by the token
    (api/auth.py); a session that has not given its code is held even if a token comes along."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        held = self._held(request)
        return held if held is not None else self.get_response(request)

    def _held(self, request: HttpRequest) -> HttpResponse | None:
        if not request.user.is_authenticated or two_factor.is_verified(request):
            return None
        path = request.path_info
        if path.startswith(OPEN_PREFIXES) or path.startswith("/" + settings.STATIC_URL):
            return None
        if not two_factor.must_verify(request.user):
            return None
        if path.startswith("/api/"):
            error = two_factor.TwoFactorRequired(
                "Give your two-factor code in the site first (/espace/securite/"
                "double-authentification/verifier/), or use a personal API token."
            )
            return JsonResponse(error.as_dict(), status=error.status)
        enrolled = two_factor.confirmed_device(request.user) is not None
        target = "network:two_factor_verify" if enrolled else "network:two_factor_enrol"
        response = redirect(target)
        if request.method == "GET":
            response["Location"] += "?" + urlencode({"next": request.get_full_path()})
        return response

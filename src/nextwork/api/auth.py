"""Who is calling the API: a personal token (``Authorization: Bearer nw_…``) or the session.

``member_auth`` is what every member endpoint declares. A token acts with its member's own
grants, never more; a ``read`` token only reads; calls with a token need no CSRF token (no
browser sends it by itself). ``session_auth`` is for what a token must not do (mint tokens).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from nextwork.common.errors import Forbidden, Unauthenticated
from nextwork.network.security import tokens, two_factor

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    """A personal API token, made in "Mon espace" → Sécurité."""

    def authenticate(self, request: HttpRequest, token: str):
        if not tokens.looks_like_token(token):
            # Another scheme's bearer value (a proxy's, an extension's): not ours to judge; the
            # session, or "Log in first." (401), decides.
            return None
        try:
            api_token = tokens.token_for(token)
        except tokens.UnknownToken:
            if request.user.is_authenticated:
                # A logged-in browser sent a token of ours that does not exist: the session
                # decides, two-factor step included (SessionAuth below).
                return None
            raise
        if api_token.scope == "read" and request.method not in READ_METHODS:
            raise Forbidden(
                "This token only reads (scope read): make a write token to change data.",
                code="insufficient_scope",
            )
        member = api_token.member
        if not api_token.two_factor and two_factor.requires_two_factor(member):
            raise two_factor.TwoFactorRequired(
                "Your role needs two-factor authentication: make a new token in a session "
                "where you gave your code."
            )
        request.user = member
        request.api_token = api_token
        return member


class SessionOnlyAuth(NinjaSessionAuth):
    """The logged-in session, with its CSRF token; a call carrying a token is refused plainly
    (rather than with a CSRF error it could never fix)."""

    def __call__(self, request: HttpRequest):
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            raise Unauthenticated(
                "This operation accepts only a logged-in session, not a personal token.",
                field="Authorization",
            )
        return super().__call__(request)


class SessionAuth(NinjaSessionAuth):
    """The logged-in session, with its CSRF token, once a member who needs a second factor
    has given their code (the middleware holds them before; this holds whatever reaches here).
    Named as Django Ninja's: the OpenAPI document names the scheme after the class."""

    def authenticate(self, request: HttpRequest, key: str | None):
        member = super().authenticate(request, key)
        if member is not None and not two_factor.is_verified(request):
            if two_factor.must_verify(member):
                raise two_factor.TwoFactorRequired(
                    "Give your two-factor code in the site first, or use a personal API token."
                )
        return member


session_auth = SessionOnlyAuth()
member_auth = [TokenAuth(), SessionAuth()]

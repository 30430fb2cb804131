"""Pages of "Mon espace" → Sécurité: password, sessions, two-factor codes, API tokens; and the
staff page that resets a member's two-factor authentication."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from nextwork.common.errors import DomainError
from nextwork.network.models import Member, TokenScope
from nextwork.network.permissions import is_staff
from nextwork.network.security import sessions, tokens, two_factor

CODE_ERRORS = {
    "code": lambda: _(
        "Ce code n'est pas le bon : vérifiez l'heure de votre téléphone et réessayez."
    ),
    "throttled": lambda: _(
        "Trop de codes erronés : patientez quelques secondes avant de réessayer."
    ),
    "not_enrolled": lambda: _("Configurez d'abord la double authentification."),
}
TOKEN_ERRORS = {
    "name": lambda: _("Donnez un nom au jeton (à quoi il sert)."),
    "scope": lambda: _("Choisissez la portée : lecture, ou lecture et écriture."),
    "expires_at": lambda: _("La date d'expiration doit être dans le futur."),
}


def _code_error(exc: DomainError) -> str:
    key = exc.field if exc.field in CODE_ERRORS else exc.code
    return CODE_ERRORS.get(key, CODE_ERRORS["code"])()


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/espace/"


def _security_context(request: HttpRequest, **extra) -> dict:
    member = request.user
    return {
        "password_form": PasswordChangeForm(member),
        "enrolled": two_factor.confirmed_device(member) is not None,
        "required": two_factor.requires_two_factor(member),
        "backup_left": two_factor.backup_codes_left(member),
        "tokens": list(tokens.tokens_of(member)),
        "scopes": TokenScope.choices,
        "now": timezone.now(),
        **extra,
    }


@login_required
def security(request: HttpRequest) -> HttpResponse:
    return render(request, "network/security.html", _security_context(request))


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        context = _security_context(request, password_form=form)
        return render(request, "network/security.html", context, status=400)
    form.save()
    # This session stays (with a new key); every other one of the member ends.
    update_session_auth_hash(request, form.user)
    sessions.end_sessions(request.user, keep=request.session.session_key)
    messages.success(request, _("Mot de passe changé. Vos autres sessions sont fermées."))
    return redirect("network:security")


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """Ends every session of the member, this one included."""
    sessions.end_sessions(request.user)
    request.session.flush()
    return redirect("network:login")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    member = request.user
    if two_factor.confirmed_device(member) is not None:
        if two_factor.is_verified(request):
            return redirect("network:security")
        return redirect("network:two_factor_verify")
    device = two_factor.pending_device(member)
    context = {
        "qr": two_factor.qr_svg(device),
        "secret": two_factor.secret_text(device),
        "next": _next_url(request),
        "required": two_factor.requires_two_factor(member),
    }
    if request.method == "GET":
        return render(request, "network/two_factor_enrol.html", context)
    try:
        codes = two_factor.confirm_enrolment(request=request, code=request.POST.get("code", ""))
    except DomainError as exc:
        context["error"] = _code_error(exc)
        return render(request, "network/two_factor_enrol.html", context, status=400)
    return render(
        request, "network/two_factor_codes.html", {"codes": codes, "next": context["next"]}
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    if two_factor.confirmed_device(request.user) is None:
        return redirect("network:two_factor_enrol")
    context = {"next": _next_url(request)}
    if request.method == "GET":
        return render(request, "network/two_factor_verify.html", context)
    try:
        two_factor.verify(request=request, code=request.POST.get("code", ""))
    except DomainError as exc:
        context["error"] = _code_error(exc)
        status = 429 if isinstance(exc, two_factor.CodeThrottled) else 400
        return render(request, "network/two_factor_verify.html", context, status=status)
    return redirect(context["next"])


@login_required
@require_POST
def backup_codes_renew(request: HttpRequest) -> HttpResponse:
    if two_factor.confirmed_device(request.user) is None:
        return redirect("network:two_factor_enrol")
    codes = two_factor.new_backup_codes(request.user)
    return render(
        request, "network/two_factor_codes.html", {"codes": codes, "next": "/espace/securite/"}
    )


def _expiry(value: str) -> datetime.datetime | None:
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise DomainError("Not a date.", field="expires_at") from None
    end = datetime.datetime.combine(day, datetime.time(23, 59, 59))
    return timezone.make_aware(end)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    try:
        token, text = tokens.token_create(
            member=request.user,
            name=request.POST.get("name", ""),
            scope=request.POST.get("scope", ""),
            expires_at=_expiry(request.POST.get("expires_at", "")),
            two_factor=two_factor.is_verified(request),
        )
    except DomainError as exc:
        message = TOKEN_ERRORS.get(
            exc.field, lambda: _("Trop de jetons : révoquez-en un d'abord.")
        )()
        context = _security_context(request, token_error=message, token_form=request.POST)
        return render(request, "network/security.html", context, status=400)
    context = _security_context(request, new_token=token, new_secret=text)
    return render(request, "network/security.html", context)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = tokens.token_revoke(member=request.user, token_id=pk)
    except DomainError:
        raise Http404 from None
    messages.success(request, _("Jeton « %(name)s » révoqué.") % {"name": token.name})
    return redirect("network:security")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_reset(request: HttpRequest, public_id) -> HttpResponse:
    """Staff: remove a member's second factor (a lost phone), after a confirmation."""
    if not (request.user.is_staff or is_staff(request.user)):
        raise PermissionDenied
    member = get_object_or_404(Member, public_id=public_id)
    enrolled = two_factor.confirmed_device(member) is not None
    if request.method == "GET":
        return render(
            request, "network/two_factor_reset.html", {"member": member, "enrolled": enrolled}
        )
    two_factor.reset(member=member, by=request.user)
    messages.success(request, _("Double authentification réinitialisée."))
    return render(
        request,
        "network/two_factor_reset.html",
        {"member": member, "enrolled": False, "done": True},
    )

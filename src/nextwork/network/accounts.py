"""Login by password or by an emailed one-time link; logout; password reset (Django's views)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import auth
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from nextwork.common import ratelimit
from nextwork.common.errors import DomainError
from nextwork.network.models import Member, normalise_email
from nextwork.network.security import lockout
from nextwork.network.security.sessions import end_sessions

LINK_SALT = "nextwork.network.login-link"
LINK_MAX_AGE = 15 * 60


class LockoutMixin:
    """Refuses a locked account or address before the password is even checked, and counts
    each failure (the site's login form and the admin's)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": _(
            "Trop de tentatives de connexion ont échoué : réessayez dans %(minutes)s minutes."
        ),
    }

    def clean(self):
        email = normalise_email(self.cleaned_data.get("username") or "")
        ip = client_ip(self.request)
        try:
            lockout.check(email=email, ip=ip)
        except lockout.LockedOut:
            raise forms.ValidationError(
                self.error_messages["locked_out"],
                code="locked_out",
                params={"minutes": settings.NEXTWORK_LOGIN_LOCKOUT_MINUTES},
            ) from None
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if email and self.cleaned_data.get("password"):
                lockout.record_failure(email=email, ip=ip)
            raise
        lockout.record_success(email=email)
        return cleaned


class EmailAuthenticationForm(LockoutMixin, AuthenticationForm):
    username = forms.EmailField(label=_("Adresse électronique"), max_length=254)

    def clean_username(self):
        return normalise_email(self.cleaned_data["username"])


class AdminLoginForm(LockoutMixin, AdminAuthenticationForm):
    error_messages = {**AdminAuthenticationForm.error_messages, **LockoutMixin.error_messages}


def client_ip(request: HttpRequest | None) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


class LoginView(auth_views.LoginView):
    template_name = "network/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


def login_link_token(member: Member) -> str:
    # The last login is signed in: once the link has been used, it no longer matches.
    stamp = member.last_login.isoformat() if member.last_login else ""
    return signing.dumps({"m": str(member.public_id), "l": stamp}, salt=LINK_SALT)


@require_http_methods(["GET", "POST"])
def login_link_request(request: HttpRequest) -> HttpResponse:
    """Ask for a link; the answer is the same whether the address is known or not."""
    if request.method == "GET":
        return render(request, "network/login_link.html")
    email = normalise_email(request.POST.get("email", ""))
    try:
        ratelimit.check("login-link", request.META.get("REMOTE_ADDR", ""), limit=10, window=3600)
        ratelimit.check("login-link-email", email, limit=3, window=3600)
    except DomainError as exc:
        return render(request, "network/login_link.html", {"error": exc.message}, status=429)
    member = Member.objects.filter(email=email, is_active=True).first()
    if member is not None:
        url = settings.NEXTWORK_SITE_URL + reverse(
            "network:login_link", args=[login_link_token(member)]
        )
        send_mail(
            f"Votre lien de connexion — {settings.NEXTWORK_ORGANISATION}",
            f"Bonjour {member.first_name},\n\nPour vous connecter, suivez ce lien (valable "
            f"15 minutes, une seule fois) :\n\n{url}\n\nSi vous n'avez rien demandé, ignorez "
            "ce message.\n",
            None,
            [member.email],
        )
    return render(request, "network/login_link.html", {"sent": True})


@require_http_methods(["GET", "POST"])
def login_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links); POST logs in, once."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
        member = Member.objects.get(public_id=payload["m"], is_active=True)
    except (signing.BadSignature, Member.DoesNotExist, KeyError, ValueError):
        return render(request, "network/login_link.html", {"invalid": True}, status=400)
    stamp = member.last_login.isoformat() if member.last_login else ""
    if stamp != payload.get("l"):
        return render(request, "network/login_link.html", {"invalid": True}, status=400)
    if request.method == "GET":
        return render(request, "network/login_link.html", {"confirm": True})
    auth.login(request, member, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("network:space")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "network/password_reset.html"
    email_template_name = "network/password_reset_email.txt"
    subject_template_name = "network/password_reset_subject.txt"
    success_url = "/connexion/mot-de-passe/envoye/"


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "network/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "network/password_reset_confirm.html"
    success_url = "/connexion/?reset=1"

    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password ends every session opened with the old one (a stolen session too).
        end_sessions(form.user)
        return response

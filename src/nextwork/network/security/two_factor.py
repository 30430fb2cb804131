"""Two-factor codes (TOTP, with single-use backup codes) for staff and coordinators.

A session counts as verified once a code has been checked in it (``VERIFIED_KEY``); the
middleware holds every other request of a member who needs a second factor until then.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from nextwork.common.errors import DomainError
from nextwork.network.models import Member, Role
from nextwork.network.permissions import current_grants

VERIFIED_KEY = "nextwork_2fa_verified"
BACKUP_CODES = 10


class TwoFactorRequired(DomainError):
    code = "two_factor_required"
    status = 403


class CodeThrottled(DomainError):
    code = "throttled"
    status = 429


def holds_power(member: Member) -> bool:
    """Staff and coordinators (current grants, or Django's is_staff): they see others' data."""
    if not member.is_authenticated:
        return False
    return member.is_staff or current_grants(member, [Role.STAFF, Role.COORDINATOR]).exists()


def requires_two_factor(member: Member) -> bool:
    return settings.NEXTWORK_REQUIRE_2FA and holds_power(member)


def must_verify(member: Member) -> bool:
    """Asked for a code after login: those who need a second factor, and anyone who set one up
    of their own accord (an app that is never asked for protects nothing)."""
    return requires_two_factor(member) or confirmed_device(member) is not None


def is_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(VERIFIED_KEY))


def confirmed_device(member: Member) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=member, confirmed=True).first()


def pending_device(member: Member) -> TOTPDevice:
    """The device being enrolled: made once, kept until confirmed (reloading shows the same
    secret, so a code from an app set up a minute ago still works)."""
    device = TOTPDevice.objects.filter(user=member, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=member, name="totp", confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps ask for it when typed: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=4, title="QR code")


def _clean(code: str) -> str:
    return "".join(code.split()).lower()


def _throttled(device) -> bool:
    allowed, _ = device.verify_is_allowed()
    return not allowed


@transaction.atomic
def confirm_enrolment(*, request: HttpRequest, code: str) -> list[str]:
    """Check the first code of the pending device, make it the member's device, and return
    new backup codes (shown once: only django-otp's rows keep them)."""
    member = request.user
    device = pending_device(member)
    if _throttled(device):
        raise CodeThrottled("Too many wrong codes: wait a few seconds and try again.")
    if not device.verify_token(_clean(code)):
        raise DomainError("This code is not the one the app shows.", field="code")
    TOTPDevice.objects.filter(user=member).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = new_backup_codes(member)
    mark_verified(request, device)
    return codes


@transaction.atomic
def new_backup_codes(member: Member) -> list[str]:
    StaticDevice.objects.filter(user=member).delete()
    static = StaticDevice.objects.create(user=member, name="backup", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in codes)
    return codes


def verify(*, request: HttpRequest, code: str) -> None:
    """Check a code from the app or a backup code (each backup code works once)."""
    member = request.user
    code = _clean(code)
    totp = confirmed_device(member)
    if totp is None:
        raise DomainError("Set up two-factor authentication first.", code="not_enrolled")
    # Six digits come from the app; a backup code holds letters: each goes to its own device,
    # so that a mistyped code only slows down the kind that was tried.
    if code.isdigit():
        devices = [totp]
    else:
        devices = list(StaticDevice.objects.filter(user=member, confirmed=True))
    if any(_throttled(d) for d in devices):
        raise CodeThrottled("Too many wrong codes: wait a few seconds and try again.")
    for device in devices:
        if device.verify_token(code):
            mark_verified(request, device)
            return
    raise DomainError("Wrong code.", field="code")


def mark_verified(request: HttpRequest, device) -> None:
    # A new session key as the session gains a privilege, as at login.
    request.session.cycle_key()
    otp_login(request, device)
    request.session[VERIFIED_KEY] = True


def backup_codes_left(member: Member) -> int:
    return StaticToken.objects.filter(device__user=member).count()


@transaction.atomic
def reset(*, member: Member, by: Member) -> None:
    """Staff remove a member's second factor (a lost phone): they enrol again at next login,
    and their current sessions end."""
    from nextwork.common.errors import Forbidden
    from nextwork.network.permissions import is_staff
    from nextwork.network.security.sessions import end_sessions
    from nextwork.privacy.services import audit_record

    if not (by.is_staff or is_staff(by)):
        raise Forbidden("Only staff can reset another member's two-factor authentication.")
    TOTPDevice.objects.filter(user=member).delete()
    StaticDevice.objects.filter(user=member).delete()
    end_sessions(member)
    audit_record(actor=by, action="auth.2fa_reset", details={"member": str(member.public_id)})

"""Sign-up with double opt-in, and the emailed confirmation link.

Signing up with an address that is already known creates nothing and answers exactly as a new
sign-up does; the email tells the address's owner instead. Until the link is followed, the
member is inactive and receives nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from nextwork.common.errors import DomainError, InvalidInput, NotFound
from nextwork.common.mail import send_after_commit
from nextwork.network.models import (
    Consent,
    ConsentText,
    Member,
    MemberLocation,
    normalise_email,
)
from nextwork.network.signals import member_registered, phone_changed
from nextwork.territories import lookup
from nextwork.territories.models import Area, AreaKind

CONFIRM_SALT = "nextwork.network.confirm"
CONFIRM_MAX_AGE = 7 * 24 * 3600


class AmbiguousLocation(InvalidInput):
    """The place matches several constituencies: the person picks one of ``candidates``."""

    code = "ambiguous_location"

    def __init__(self, candidates: list[dict]):
        codes = ", ".join(c["code"] for c in candidates)
        super().__init__(
            f"This place lies in several constituencies ({codes}): choose yours.",
            field="constituency",
        )
        self.candidates = candidates

    def as_dict(self) -> dict:
        body = super().as_dict()
        body["error"]["candidates"] = [
            {"code": c["code"], "name": c["name"], "share": c.get("share")} for c in self.candidates
        ]
        return body


@dataclass(frozen=True)
class Location:
    postcode: str | None = None
    commune: str | None = None
    country: str | None = None
    address: str | None = None
    constituency: str | None = None  # the person's choice among ambiguous candidates


def current_signup_text(language: str = "fr") -> ConsentText:
    text = (
        ConsentText.objects.filter(kind="signup", language=language).order_by("-version").first()
        or ConsentText.objects.filter(kind="signup").order_by("-version").first()
    )
    if text is None:
        raise NotFound("No sign-up text is configured.", field="consent_version")
    return text


def render_consent(text: ConsentText) -> str:
    return text.body.replace("{organisation}", settings.NEXTWORK_ORGANISATION)


def clean_phone(phone: str | None) -> str:
    if not phone or not phone.strip():
        return ""
    try:
        number = phonenumbers.parse(phone, "FR")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"The phone number cannot be read: {exc}.", field="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("This phone number is not valid.", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_name(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"The {field.replace('_', ' ')} is required.", field=field)
    if len(value) > 100:
        raise InvalidInput(f"The {field.replace('_', ' ')} is too long (100 at most).", field=field)
    return value


def resolve_location(location: Location) -> tuple[dict, dict]:
    """The lookup result and the chosen candidate; ambiguity without a choice is an error."""
    given = {
        k: v
        for k, v in (
            ("postcode", location.postcode),
            ("commune", location.commune),
            ("country", location.country),
            ("q", location.address),
        )
        if v
    }
    if not given:
        raise InvalidInput(
            "Give a postcode, an address, or a country if you live abroad.", field="postcode"
        )
    if len(given) > 1 and "q" in given:
        given.pop("postcode", None)  # an address usually repeats its postcode
    name, value = next(iter(given.items()))
    try:
        result = lookup.locate(**{name: value})
    except DomainError as exc:  # an unknown postcode is bad input here, named as sent
        raise InvalidInput(exc.message, field={"q": "address"}.get(exc.field, exc.field)) from exc
    candidates = result["candidates"]
    if location.constituency:
        chosen = [c for c in candidates if c["code"] == location.constituency]
        if not chosen:
            raise InvalidInput(
                f"{location.constituency} is not among the constituencies of this place.",
                field="constituency",
            )
        return result, chosen[0]
    if result["ambiguous"] or len(candidates) != 1:
        raise AmbiguousLocation(candidates)
    return result, candidates[0]


@transaction.atomic
def member_register(
    *,
    honeypot: str = "",
    email: str,
    first_name: str,
    last_name: str,
    location: Location,
    consent_version: int,
    source: str,
    phone: str | None = None,
    sms_opt_in: bool = False,
) -> uuid.UUID:
    """Register a member (inactive until confirmed); answer the same for a known address.

    ``sms_opt_in`` is the optional, unticked box asking for SMS: it needs a phone number.

    Returns an opaque id: the new member's public id, or a random one for a known address, so
    the answer never tells whether the address exists.
    """
    if honeypot:  # a field people never see: only robots fill it; they learn nothing
        return uuid.uuid4()
    email = normalise_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("This email address is not valid.", field="email") from exc
    first_name = _clean_name(first_name, "first_name")
    last_name = _clean_name(last_name, "last_name")
    phone = clean_phone(phone)
    if sms_opt_in and not phone:
        raise InvalidInput(
            "Give a phone number to receive SMS, or untick the SMS box.", field="sms_opt_in"
        )
    text = current_signup_text()
    if consent_version != text.version:
        raise InvalidInput(
            f"The consent text has changed (version {text.version}): read it and agree again.",
            field="consent_version",
        )
    result, chosen = resolve_location(location)

    existing = Member.objects.filter(email=email).first()
    if existing is not None:
        send_after_commit(
            _send_already_registered,
            existing,
            what="already-registered mail",
            ref=f"member #{existing.pk}",
        )
        return uuid.uuid4()
    member = Member(email=email, first_name=first_name, last_name=last_name, phone=phone)
    member.set_unusable_password()
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:  # the same address at the same moment: the first one won
        return uuid.uuid4()
    _set_location(member, result, chosen, postcode=location.postcode or "")
    Consent.objects.create(member=member, text=text, source=source)
    member_registered.send(
        sender=Member, member=member, text=text, source=source, sms_opt_in=sms_opt_in
    )
    send_after_commit(
        _send_confirmation, member, what="confirmation mail", ref=f"member #{member.pk}"
    )
    return member.public_id


def _set_location(member: Member, result: dict, chosen: dict, *, postcode: str) -> MemberLocation:
    engine = lookup.get_engine()
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id)
    commune = (result.get("commune") or {}).get("code")
    country = (result.get("country") or {}).get("code")
    point = result.get("address") if result["precision"] == "address" else None
    now = timezone.now()
    MemberLocation.objects.filter(member=member, valid_to__isnull=True).update(valid_to=now)
    seat = areas.get(kind=AreaKind.CONSTITUENCY, code=chosen["code"])
    return MemberLocation.objects.create(
        lat=point["lat"] if point else None,
        lon=point["lon"] if point else None,
        member=member,
        constituency=seat,
        department_id=seat.parent_id,
        commune=areas.filter(
            kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT], code=commune
        ).first()
        if commune
        else None,
        country=areas.filter(kind=AreaKind.COUNTRY, code=country).first() if country else None,
        postcode=postcode.strip()[:5] if result["precision"] == "postcode" else "",
        precision=result["precision"],
        valid_from=now,
    )


def confirmation_token(member: Member) -> str:
    return signing.dumps({"m": str(member.public_id)}, salt=CONFIRM_SALT)


def confirmation_url(member: Member) -> str:
    path = reverse("network:confirm", args=[confirmation_token(member)])
    return f"{settings.NEXTWORK_SITE_URL}{path}"


@transaction.atomic
def member_confirm(*, token: str) -> Member:
    """Follow the emailed link: the member becomes active (a second click changes nothing)."""
    try:
        payload = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
        member = Member.objects.select_for_update().get(public_id=payload["m"])
    except signing.SignatureExpired as exc:
        raise InvalidInput(
            "This link has expired: sign up again to get a new one.", field="token"
        ) from exc
    except (signing.BadSignature, Member.DoesNotExist, KeyError, ValueError) as exc:
        raise InvalidInput("This link is not valid.", field="token") from exc
    if member.confirmed_at is None:
        member.confirmed_at = timezone.now()
        member.is_active = True
        member.save(update_fields=["confirmed_at", "is_active"])
    return member


def _send_confirmation(member: Member) -> None:
    organisation = settings.NEXTWORK_ORGANISATION
    send_mail(
        f"Confirmez votre inscription — {organisation}",
        f"Bonjour {member.first_name},\n\n"
        f"Pour confirmer votre inscription au réseau de {organisation}, suivez ce lien :\n\n"
        f"{confirmation_url(member)}\n\n"
        "Sans confirmation, votre inscription restera inactive et vous ne recevrez rien "
        "d'autre de notre part. Si vous n'êtes pas à l'origine de cette demande, ignorez ce "
        "message.\n",
        None,
        [member.email],
    )


def _send_already_registered(member: Member) -> None:
    organisation = settings.NEXTWORK_ORGANISATION
    send_mail(
        f"Votre inscription — {organisation}",
        "Bonjour,\n\nQuelqu'un (peut-être vous) a demandé à inscrire cette adresse au réseau de "
        f"{organisation}, où elle est déjà inscrite : aucun nouveau compte n'a été créé.\n\n"
        + (
            f"Pour confirmer votre inscription : {confirmation_url(member)}\n"
            if member.confirmed_at is None
            else ""
        )
        + "\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
        None,
        [member.email],
    )


@transaction.atomic
def member_update_profile(
    *, member: Member, first_name: str, last_name: str, phone: str | None, public_relay: bool
) -> Member:
    """Update the profile. A different phone number sends ``signals.phone_changed`` in this
    transaction (messaging withdraws the SMS consents given for the old number)."""
    member.first_name = _clean_name(first_name, "first_name")
    member.last_name = _clean_name(last_name, "last_name")
    phone = clean_phone(phone)
    # The stored number, not the instance's (a form may have changed it already), locked
    # until the end of the transaction so two updates cannot both miss the change.
    previous = (
        Member.objects.select_for_update().filter(pk=member.pk).values_list("phone", flat=True)
    ).first() or ""
    member.phone = phone
    member.public_relay = public_relay
    member.save(update_fields=["first_name", "last_name", "phone", "public_relay"])
    if phone != previous:
        phone_changed.send(sender=Member, member=member, previous=previous, by="member")
    return member


@transaction.atomic
def member_move(*, member: Member, location: Location) -> MemberLocation:
    """A new home: the constituency is resolved again; the previous place stays in history."""
    result, chosen = resolve_location(location)
    return _set_location(member, result, chosen, postcode=location.postcode or "")

"""Personal fundraising pages: a member collects for the organisation or a campaign, shares
the page, sees what it brought and thanks the donors; staff hide a page that breaks the rules.

Promises:
- only a confirmed member creates a page; only its owner edits it and thanks its donors;
  only staff hide or restore it, and each decision is in the audit log with its reason;
- a page's progress counts received donations only (a pending, failed or refunded one never
  moves the thermometer);
- the owner sees each donor's first name and amount, nothing else: the page's donors gave to
  the beneficiary, not to the owner, and their address and email stay with the accounts.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.text import slugify

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.common.text import clean_text
from nextwork.common.uploads import checked_upload
from nextwork.fundraising import rules
from nextwork.fundraising.models import Beneficiary, Donation, DonationStatus, FundraisingPage
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

TITLE_MAX = 200
TEXT_MAX = 5000
REASON_MAX = 500
GOAL_MAX_CENTS = 100_000_000  # €1,000,000
PHOTO_MAX_BYTES = 5 * 2**20
PHOTO_TYPES = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
}
SLUG_MAX = 80


def _goal(goal_cents: int) -> int:
    if not isinstance(goal_cents, int) or isinstance(goal_cents, bool) or goal_cents < 100:
        raise InvalidInput("The goal is at least €1, in whole cents.", field="goal")
    if goal_cents > GOAL_MAX_CENTS:
        raise InvalidInput(f"The goal is at most {rules.euros(GOAL_MAX_CENTS)}.", field="goal")
    return goal_cents


def _unique_slug(title: str) -> str:
    base = slugify(title)[: SLUG_MAX - 8].strip("-") or "page"
    slug, n = base, 1
    while FundraisingPage.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _photo(photo) -> ContentFile:
    """``photo``: an uploaded file (anything with ``name`` and ``read()``)."""
    name, _mime, data = checked_upload(
        photo.name, photo.read(), types=PHOTO_TYPES, max_bytes=PHOTO_MAX_BYTES, field="photo"
    )
    return ContentFile(data, name=name)


def _owned(page_id: int, member: Member) -> FundraisingPage:
    page = FundraisingPage.objects.select_for_update().filter(pk=page_id).first()
    if page is None or page.owner_id != member.pk:
        raise NotFound(f"No fundraising page {page_id} of yours.", field="page")
    return page


@transaction.atomic
def page_create(
    *,
    owner: Member,
    beneficiary_id: int,
    title: str,
    text: str,
    goal_cents: int,
    photo=None,
) -> FundraisingPage:
    """A member's page for an active beneficiary; its address comes from its title, made
    unique with a number."""
    if owner is None or not owner.is_authenticated or owner.confirmed_at is None:
        raise Forbidden(
            "Only members with a confirmed email address may create a fundraising page."
        )
    beneficiary = Beneficiary.objects.filter(pk=beneficiary_id, active=True).first()
    if beneficiary is None:
        raise NotFound(f"No beneficiary {beneficiary_id} takes gifts.", field="beneficiary")
    title = clean_text(title, field="title", limit=TITLE_MAX, required=True)
    page = FundraisingPage(
        owner=owner,
        beneficiary=beneficiary,
        title=title,
        text=clean_text(text, field="text", limit=TEXT_MAX, required=False),
        goal_cents=_goal(goal_cents),
        slug=_unique_slug(title),
    )
    if photo is not None:
        upload = _photo(photo)
        page.photo.save(upload.name, upload, save=False)
    page.full_clean(exclude=["photo"])
    page.save()
    return page


@transaction.atomic
def page_update(
    *,
    page_id: int,
    by: Member,
    title: str | None = None,
    text: str | None = None,
    goal_cents: int | None = None,
    photo=None,
) -> FundraisingPage:
    """The owner changes what they name; the address (slug) stays, so shared links work."""
    page = _owned(page_id, by)
    fields = []
    if title is not None:
        page.title = clean_text(title, field="title", limit=TITLE_MAX, required=True)
        fields.append("title")
    if text is not None:
        page.text = clean_text(text, field="text", limit=TEXT_MAX, required=False)
        fields.append("text")
    if goal_cents is not None:
        page.goal_cents = _goal(goal_cents)
        fields.append("goal_cents")
    if photo is not None:
        upload = _photo(photo)
        page.photo.save(upload.name, upload, save=False)
        fields.append("photo")
    if fields:
        page.save(update_fields=fields)
    return page


@transaction.atomic
def page_moderate(*, page_id: int, by: Member, hide: bool, reason: str) -> FundraisingPage:
    """Staff hide a page (it then shows the reason instead of its content, and takes no
    gifts) or restore it; either way with a reason, in the audit log."""
    if not is_staff(by):
        raise Forbidden("Only staff moderate fundraising pages.")
    page = FundraisingPage.objects.select_for_update().filter(pk=page_id).first()
    if page is None:
        raise NotFound(f"No fundraising page {page_id}.", field="page")
    reason = clean_text(reason, field="reason", limit=REASON_MAX, required=True)
    if hide == (page.hidden_at is not None):
        raise Conflict("This page is hidden already." if hide else "This page is not hidden.")
    if hide:
        page.hidden_at, page.hidden_reason = timezone.now(), reason
    else:
        page.hidden_at, page.hidden_reason = None, ""
    page.save(update_fields=["hidden_at", "hidden_reason"])
    audit_record(
        actor=by,
        action="fundraising_page.hide" if hide else "fundraising_page.restore",
        details={"page": page.pk, "reason": reason},
    )
    return page


def page_progress(page: FundraisingPage) -> dict:
    """``{raised_cents, donors, goal_cents, percent}``: received donations only; ``donors``
    counts people (by their email key), ``percent`` is capped at 100 for the bar."""
    found = Donation.objects.filter(page=page, status=DonationStatus.SUCCEEDED).aggregate(
        raised=Sum("amount_cents"), donors=Count("donor__key", distinct=True)
    )
    raised = found["raised"] or 0
    return {
        "raised_cents": raised,
        "donors": found["donors"] or 0,
        "goal_cents": page.goal_cents,
        "percent": min(100, raised * 100 // page.goal_cents) if page.goal_cents else 0,
    }


# -- reads --------------------------------------------------------------------------------------


def page_public(slug: str) -> FundraisingPage:
    """A page by its address, hidden or not (a hidden one shows its reason)."""
    page = FundraisingPage.objects.select_related("beneficiary", "owner").filter(slug=slug).first()
    if page is None:
        raise NotFound(f"No fundraising page {slug!r}.", field="page")
    return page


def pages_of(member: Member) -> list[FundraisingPage]:
    return list(
        FundraisingPage.objects.select_related("beneficiary")
        .filter(owner=member)
        .order_by("-created_at")
    )


def page_owned(page_id: int, member: Member) -> FundraisingPage:
    page = FundraisingPage.objects.select_related("beneficiary").filter(pk=page_id).first()
    if page is None or page.owner_id != member.pk:
        raise NotFound(f"No fundraising page {page_id} of yours.", field="page")
    return page


def page_donations(page: FundraisingPage, member: Member) -> list[dict]:
    """What the owner sees of the gifts their page brought: first name, amount, date and
    whether they thanked them. Received gifts only; no last name, email or address."""
    if page.owner_id != member.pk:
        raise NotFound(f"No fundraising page {page.pk} of yours.", field="page")
    rows = (
        Donation.objects.filter(page=page, status=DonationStatus.SUCCEEDED)
        .select_related("donor")
        .order_by("-succeeded_at")
    )
    return [
        {
            "id": d.pk,
            "first_name": "" if d.donor.erased_at else d.donor.first_name,
            "amount_cents": d.amount_cents,
            "succeeded_at": d.succeeded_at,
            "thanked_at": d.thanked_at,
        }
        for d in rows
    ]


@transaction.atomic
def donation_thank(*, donation_id: int, by: Member) -> Donation:
    """The page's owner marks a gift as thanked; thanking twice keeps the first date."""
    donation = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("page")
        .filter(pk=donation_id, status=DonationStatus.SUCCEEDED)
        .first()
    )
    if donation is None or donation.page is None or donation.page.owner_id != by.pk:
        raise NotFound(f"No donation {donation_id} to your pages.", field="donation")
    if donation.thanked_at is None:
        donation.thanked_at = timezone.now()
        donation.save(update_fields=["thanked_at"])
    return donation

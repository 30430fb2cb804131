"""Personal fundraising pages: who creates, edits, moderates; what the thermometer counts."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.fundraising import pages, services


def image(fmt="PNG", name="photo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue())


@pytest.fixture
def member(db):
    from django.utils import timezone

    from nextwork.network.models import Member

    def make(name="lea", *, confirmed=True, staff=False):
        from nextwork.network.models import Grant, Role

        m = Member.objects.create_user(
            f"{name}@example.org", "correct horse battery staple", first_name=name.title(),
            is_active=True, confirmed_at=timezone.now() if confirmed else None,
        )  # fmt: skip
        if staff:
            Grant.objects.create(member=m, role=Role.STAFF)
        return m

    return make


@pytest.fixture
def a_page(member, beneficiaries, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    owner = member("lea")
    page = pages.page_create(
        owner=owner, beneficiary_id=beneficiaries["party"].pk, title="Mes 30 ans pour la cause",
        text="Aidez-moi !", goal_cents=300_000,
    )  # fmt: skip
    return page


def test_create_makes_a_unique_slug_from_the_title(a_page, beneficiaries):
    assert a_page.slug == "mes-30-ans-pour-la-cause"
    again = pages.page_create(
        owner=a_page.owner, beneficiary_id=beneficiaries["party"].pk,
        title="Mes 30 ans pour la cause !", text="", goal_cents=1000,
    )  # fmt: skip
    assert again.slug == "mes-30-ans-pour-la-cause-2"


def test_unconfirmed_member_cannot_create(member, beneficiaries):
    with pytest.raises(Forbidden):
        pages.page_create(
            owner=member("neo", confirmed=False), beneficiary_id=beneficiaries["party"].pk,
            title="T", text="", goal_cents=1000,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"goal_cents": 0}, "goal"),
        ({"goal_cents": 10**12}, "goal"),
        ({"text": "a\x00b"}, "text"),
        ({"beneficiary_id": 999_999}, "beneficiary"),
    ],
)
def test_bad_input_names_its_field(member, beneficiaries, changes, field):
    from nextwork.fundraising.models import FundraisingPage

    values = {"beneficiary_id": beneficiaries["party"].pk, "title": "Titre", "text": "",
              "goal_cents": 1000} | changes  # fmt: skip
    with pytest.raises((InvalidInput, NotFound)) as caught:
        pages.page_create(owner=member(), **values)
    assert caught.value.field == field
    assert not FundraisingPage.objects.exists()


def test_photo_is_checked(member, beneficiaries, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    owner = member()
    base = {"owner": owner, "beneficiary_id": beneficiaries["party"].pk, "title": "T",
            "text": "", "goal_cents": 1000}  # fmt: skip
    page = pages.page_create(**base, photo=image("WEBP", "moi.webp"))
    assert page.photo.name.endswith(".webp") and page.photo.size > 0
    for bad in (
        SimpleUploadedFile("x.png", b"%PDF-1.4 not an image"),
        image("PNG", "moi.jpg"),
        SimpleUploadedFile("big.png", image().read() + b"\0" * (5 * 2**20)),
    ):
        with pytest.raises(InvalidInput) as caught:
            pages.page_create(**base, photo=bad)
        assert caught.value.field == "photo"


def test_only_the_owner_updates_and_the_slug_stays(a_page, member):
    with pytest.raises(NotFound):
        pages.page_update(page_id=a_page.pk, by=member("autre"), title="Piraté")
    page = pages.page_update(page_id=a_page.pk, by=a_page.owner, title="Nouveau", goal_cents=5000)
    page.refresh_from_db()
    assert (page.title, page.goal_cents, page.slug) == ("Nouveau", 5000, a_page.slug)


def test_moderation_is_staff_only_and_audited(a_page, member):
    from nextwork.privacy.models import AuditEvent

    with pytest.raises(Forbidden):
        pages.page_moderate(page_id=a_page.pk, by=a_page.owner, hide=True, reason="x")
    staff = member("sacha", staff=True)
    with pytest.raises(InvalidInput):
        pages.page_moderate(page_id=a_page.pk, by=staff, hide=True, reason=" ")
    page = pages.page_moderate(page_id=a_page.pk, by=staff, hide=True, reason="Propos injurieux")
    assert page.hidden_at and page.hidden_reason == "Propos injurieux"
    with pytest.raises(Conflict):
        pages.page_moderate(page_id=a_page.pk, by=staff, hide=True, reason="encore")
    page = pages.page_moderate(page_id=a_page.pk, by=staff, hide=False, reason="Corrigé")
    assert page.hidden_at is None and page.hidden_reason == ""
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", "details__reason"))
    assert actions == [
        ("fundraising_page.hide", "Propos injurieux"),
        ("fundraising_page.restore", "Corrigé"),
    ]


def _give(page, donor, cents, *, email, succeed=True, first_name="Camille"):
    d = services.donation_create(
        beneficiary_id=page.beneficiary_id, donor=donor(email=email, first_name=first_name),
        amount_cents=cents, method="card", provider="test", page_slug=page.slug,
    )  # fmt: skip
    if succeed:
        services.donation_succeeded(donation_id=d.pk)
    return d


def test_progress_counts_received_gifts_only(a_page, donor):
    assert pages.page_progress(a_page) == {
        "raised_cents": 0, "donors": 0, "goal_cents": 300_000, "percent": 0,
    }  # fmt: skip
    _give(a_page, donor, 100_000, email="a@example.org")
    _give(a_page, donor, 25_000, email="a@example.org")
    _give(a_page, donor, 5_000, email="b@example.org", succeed=False)  # pending
    refunded = _give(a_page, donor, 7_000, email="c@example.org")
    services.donation_refunded(donation_id=refunded.pk)
    assert pages.page_progress(a_page) == {
        "raised_cents": 125_000, "donors": 1, "goal_cents": 300_000, "percent": 41,
    }  # fmt: skip


def test_progress_is_capped_at_100_percent(member, beneficiaries, donor):
    page = pages.page_create(
        owner=member(), beneficiary_id=beneficiaries["association"].pk, title="Petit",
        text="", goal_cents=1000,
    )  # fmt: skip
    _give(page, donor, 5000, email="x@example.org")
    assert pages.page_progress(page)["percent"] == 100


def test_owner_sees_first_names_and_amounts_and_thanks(a_page, donor, member):
    gift = _give(a_page, donor, 2000, email="z@example.org", first_name="Zoé")
    _give(a_page, donor, 3000, email="y@example.org", succeed=False)
    rows = pages.page_donations(a_page, a_page.owner)
    assert [(r["first_name"], r["amount_cents"], r["thanked_at"]) for r in rows] == [
        ("Zoé", 2000, None)
    ]
    assert set(rows[0]) == {"id", "first_name", "amount_cents", "succeeded_at", "thanked_at"}
    with pytest.raises(NotFound):
        pages.page_donations(a_page, member("intrus"))
    with pytest.raises(NotFound):
        pages.donation_thank(donation_id=gift.pk, by=member("intrus2"))
    first = pages.donation_thank(donation_id=gift.pk, by=a_page.owner).thanked_at
    assert first is not None
    assert pages.donation_thank(donation_id=gift.pk, by=a_page.owner).thanked_at == first

"""Payment endpoints of /api/v1/: the donation intent, providers' webhooks, stopping a
monthly donation."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.api.schemas import ErrorOut
from nextwork.common import ratelimit
from nextwork.fundraising import intents, recurring, services, webhooks

router = Router(tags=["fundraising"])


class DonationIn(Schema):
    beneficiary: int
    amount_cents: int
    frequency: Literal["once", "monthly"] = "once"
    method: str = Field("card", max_length=10)
    provider: str = Field(max_length=30)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    address: str = Field(max_length=300)
    postcode: str = Field(max_length=10)
    city: str = Field(max_length=100)
    country: str = Field("FR", max_length=2)
    natural_person: bool = True
    french_or_resident: bool = False
    source: str = Field("", max_length=200)
    page: str = Field("", max_length=80)
    return_path: str = Field("/", max_length=500)


class NextStep(Schema):
    kind: Literal["redirect", "instructions"]
    url: str | None = None
    text: str | None = None


class DonationOut(Schema):
    donation: int
    status: str
    recurring: int | None = None
    next: NextStep


@router.post(
    "/donations",
    response={201: DonationOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut,
              429: ErrorOut, 503: ErrorOut},
    summary="Start a donation (one-off or monthly); answers the provider's next step",
)  # fmt: skip
def donation_intent(request: HttpRequest, payload: DonationIn):
    ratelimit.check(
        "donation",
        request.META.get("REMOTE_ADDR", ""),
        limit=settings.NEXTWORK_DONATIONS_PER_HOUR,
        window=3600,
    )
    donation, step = intents.donation_start(
        provider_name=payload.provider,
        beneficiary_id=payload.beneficiary,
        donor=services.DonorIn(
            first_name=payload.first_name,
            last_name=payload.last_name,
            email=payload.email,
            address=payload.address,
            postcode=payload.postcode,
            city=payload.city,
            country=payload.country,
            natural_person=payload.natural_person,
            french_or_resident=payload.french_or_resident,
        ),
        amount_cents=payload.amount_cents,
        frequency=payload.frequency,
        method=payload.method,
        source=payload.source,
        page_slug=payload.page,
        member=request.user if request.user.is_authenticated else None,
        return_path=payload.return_path,
    )
    return Status(
        201,
        {
            "donation": donation.pk,
            "status": donation.status,
            "recurring": donation.recurring_id,
            "next": step,
        },
    )


class WebhookOut(Schema):
    received: int
    outcomes: list[dict]


@router.post(
    "/payments/{provider}/webhook",
    response={200: WebhookOut, 400: ErrorOut, 404: ErrorOut},
    summary="A payment provider's webhook (signed by the provider; no login)",
)
def payment_webhook(request: HttpRequest, provider: str):
    outcomes = webhooks.receive(provider_name=provider, body=request.body, headers=request.headers)
    return {"received": len(outcomes), "outcomes": outcomes}


class RecurringOut(Schema):
    recurring: int
    status: str


@router.post(
    "/recurring/{recurring_id}/cancel",
    auth=member_auth,
    response={200: RecurringOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 503: ErrorOut},
    summary="Stop a monthly donation (its donor, or staff)",
)
def recurring_cancel(request: HttpRequest, recurring_id: int):
    stopped = recurring.recurring_cancel(recurring_id=recurring_id, by=request.user)
    return {"recurring": stopped.pk, "status": stopped.status}

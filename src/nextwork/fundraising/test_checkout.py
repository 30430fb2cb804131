"""The test provider's checkout page, ``/dons/paiement-test/<donation>/<token>/``: "Payer"
settles the donation as a provider's webhook would (``webhooks.process``), "Refuser" fails
it. Answers 404 unless ``NEXTWORK_TEST_PAYMENTS`` is on."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.html import escape

from nextwork.fundraising import rules, webhooks
from nextwork.fundraising.models import Donation
from nextwork.fundraising.providers import test as test_provider

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Paiement de test</title></head>
<body><main>
<h1>Paiement de test</h1>
<p>Aucun argent n'est pris : ce fournisseur sert au développement et aux tests.</p>
<p>Don n° {pk} de <strong data-amount>{amount}</strong> à {beneficiary}{monthly}.</p>
<p>État : <span data-status>{status}</span></p>
<form method="post">
<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">
<button name="action" value="pay">Payer</button>
<button name="action" value="refuse">Refuser</button>
</form>
</main></body></html>
"""


def checkout(request: HttpRequest, donation_id: int, token: str) -> HttpResponse:
    if not settings.NEXTWORK_TEST_PAYMENTS or not test_provider.token_valid(donation_id, token):
        raise Http404
    donation = (
        Donation.objects.select_related("beneficiary")
        .filter(pk=donation_id, provider="test")
        .first()
    )
    if donation is None:
        raise Http404
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("pay", "refuse"):
            return HttpResponse("Choisissez Payer ou Refuser.", status=400)
        webhooks.process("test", test_provider.events_for(donation, pay=action == "pay"))
        back = request.GET.get("retour" if action == "pay" else "annuler", "")
        if back.startswith("/") and not back.startswith("//"):
            return HttpResponseRedirect(back)
        return HttpResponseRedirect(request.path)
    donation.refresh_from_db()
    return HttpResponse(
        PAGE.format(
            pk=donation.pk,
            amount=escape(rules.euros(donation.amount_cents)),
            beneficiary=escape(donation.beneficiary.name),
            monthly=" chaque mois" if donation.recurring_id else "",
            status=escape(donation.get_status_display()),
            csrf=get_token(request),
        )
    )


urlpatterns = [
    path(
        "dons/paiement-test/<int:donation_id>/<str:token>/",
        checkout,
        name="fundraising-test-checkout",
    ),
]

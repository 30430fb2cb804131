"""The fundraising admin: staff set up beneficiaries here. Donations, receipts and donors are
read-only: money moves through the services (rules, caps, audit), never by editing a row; the
one action, refunding, calls ``refunds.refund_request`` after a confirmation page."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from nextwork.common.errors import DomainError, Unavailable
from nextwork.fundraising import refunds, rules
from nextwork.fundraising.models import (
    Beneficiary,
    Donation,
    DonationStatus,
    FundraisingPage,
    Receipt,
)
from nextwork.network.permissions import is_staff


@admin.register(Beneficiary)
class BeneficiaryAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "election", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "legal_name"]


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Donation)
class DonationAdmin(ReadOnly):
    # Numbers and states only: donors' identities are read through the audited exports.
    list_display = ["id", "beneficiary", "amount_cents", "method", "provider", "status",
                    "succeeded_at"]  # fmt: skip
    list_filter = ["status", "method", "provider", "beneficiary"]
    exclude = ["donor"]
    actions = ["refund"]

    def has_refund_permission(self, request) -> bool:
        return is_staff(request.user)

    @admin.action(
        description=gettext_lazy("Rembourser les dons sélectionnés"),
        permissions=["refund"],
    )
    def refund(self, request, queryset):
        """First a confirmation page listing the gifts; its POST (``confirm``) refunds them
        one by one, each through ``refunds.refund_request`` (which audits it)."""
        donations = list(queryset.select_related("beneficiary").order_by("pk"))
        if request.POST.get("confirm") != "yes":
            rows = [
                {
                    "donation": d,
                    "amount": rules.euros(d.amount_cents),
                    "refundable": d.status == DonationStatus.SUCCEEDED,
                    "online": d.provider != refunds.MANUAL,
                }
                for d in donations
            ]
            context = {
                **self.admin_site.each_context(request),
                "title": _("Rembourser des dons"),
                "opts": self.model._meta,
                "rows": rows,
                "refundable": [r for r in rows if r["refundable"]],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "fundraising/admin_refund_confirm.html", context)
        for donation in donations:
            if donation.status != DonationStatus.SUCCEEDED:
                # Said in French here; the service refuses it too, whoever calls it.
                self.message_user(
                    request,
                    _(
                        "Don n° %(id)s non remboursé : il est « %(status)s », seul un don "
                        "reçu peut l'être."
                    )
                    % {"id": donation.pk, "status": donation.get_status_display()},
                    messages.ERROR,
                )
                continue
            try:
                refunds.refund_request(donation_id=donation.pk, by=request.user)
            except Unavailable as exc:
                self.message_user(
                    request,
                    _(
                        "Don n° %(id)s : le prestataire de paiement n'a pas remboursé "
                        "(%(reason)s). Rien n'a été changé ; réessayez plus tard."
                    )
                    % {"id": donation.pk, "reason": exc.message},
                    messages.ERROR,
                )
            except DomainError as exc:
                self.message_user(
                    request,
                    _("Don n° %(id)s non remboursé : %(reason)s")
                    % {"id": donation.pk, "reason": exc.message},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("Don n° %(id)s remboursé (%(amount)s).")
                    % {"id": donation.pk, "amount": rules.euros(donation.amount_cents)},
                    messages.SUCCESS,
                )
        return None


@admin.register(Receipt)
class ReceiptAdmin(ReadOnly):
    list_display = ["id", "beneficiary", "year", "number", "amount_cents", "cancelled_at"]
    list_filter = ["beneficiary", "year"]
    exclude = ["donor", "snapshot", "donations"]


@admin.register(FundraisingPage)
class FundraisingPageAdmin(ReadOnly):
    list_display = ["slug", "beneficiary", "goal_cents", "hidden_at"]
    exclude = ["owner"]

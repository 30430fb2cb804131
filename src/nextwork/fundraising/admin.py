"""The fundraising admin: staff set up beneficiaries here. Donations, receipts and donors are
read-only: money moves through the services (rules, caps, audit), never by editing a row."""

from django.contrib import admin

from nextwork.fundraising.models import Beneficiary, Donation, FundraisingPage, Receipt


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


@admin.register(Receipt)
class ReceiptAdmin(ReadOnly):
    list_display = ["id", "beneficiary", "year", "number", "amount_cents", "cancelled_at"]
    list_filter = ["beneficiary", "year"]
    exclude = ["donor", "snapshot", "donations"]


@admin.register(FundraisingPage)
class FundraisingPageAdmin(ReadOnly):
    list_display = ["slug", "beneficiary", "goal_cents", "hidden_at"]
    exclude = ["owner"]

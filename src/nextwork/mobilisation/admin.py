"""The admin of electoral mobilisation. Staff enter elections here (with their rounds); proxy
requests, offers and matches are listed read-only for follow-up, by ids, round, commune and
status: never the members behind them (their pages and the coordinators' page show first
names, to those allowed)."""

from django.contrib import admin

from nextwork.mobilisation.models import (
    Election,
    MatchRun,
    ProxyMatch,
    ProxyOffer,
    ProxyRequest,
    Round,
)


class RoundInline(admin.TabularInline):
    model = Round
    extra = 1
    max_num = 2
    fields = ["number", "date", "opens_at", "closes_at"]


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "registration_deadline", "published"]
    list_filter = ["kind", "published"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["areas"]
    inlines = [RoundInline]
    fields = ["kind", "name", "slug", "registration_deadline", "areas", "published", "notes"]


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProxyRequest)
class ProxyRequestAdmin(ReadOnly):
    list_display = ["id", "round", "commune_code", "established_abroad", "status", "created_at"]
    list_filter = ["status", "round__election"]
    fields = ["round", "established_abroad", "status", "created_at", "updated_at"]
    list_select_related = ["round__election", "commune"]

    @admin.display(description="commune", ordering="commune__code")
    def commune_code(self, obj) -> str:
        return f"{obj.commune.code} {obj.commune.name}"


@admin.register(ProxyOffer)
class ProxyOfferAdmin(ReadOnly):
    list_display = ["id", "round", "commune_codes", "active", "created_at"]
    list_filter = ["active", "round__election"]
    fields = ["round", "active", "created_at"]
    list_select_related = ["round__election"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("communes")

    @admin.display(description="communes")
    def commune_codes(self, obj) -> str:
        return ", ".join(c.code for c in obj.communes.all())


@admin.register(ProxyMatch)
class ProxyMatchAdmin(ReadOnly):
    list_display = [
        "id", "round", "request_id", "offer_id", "commune_code", "slot", "abroad", "status",
        "distance_km", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "abroad", "round__election"]
    fields = ["round", "slot", "abroad", "status", "distance_km", "created_at", "updated_at",
              "cancel_reason"]  # fmt: skip
    list_select_related = ["round__election", "request__commune"]

    @admin.display(description="commune", ordering="request__commune__code")
    def commune_code(self, obj) -> str:
        return obj.request.commune.code


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnly):
    list_display = ["id", "round", "by_id", "radius_km", "status", "created_at", "finished_at"]
    list_filter = ["status", "round__election"]
    fields = ["round", "radius_km", "status", "result", "error", "created_at", "started_at",
              "finished_at"]  # fmt: skip
    list_select_related = ["round__election"]

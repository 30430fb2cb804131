from django.contrib import admin

from nextwork.territories.models import Area, BoundarySet, Mandate


@admin.register(BoundarySet)
class BoundarySetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "source_version", "active", "imported_at"]
    readonly_fields = ["stats"]


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "boundary_set"]
    list_filter = ["kind", "boundary_set"]
    search_fields = ["code", "name"]
    exclude = ["geometry", "point", "countries"]
    raw_id_fields = ["parent"]


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "chamber", "area", "start", "end", "group"]
    list_filter = ["chamber", "boundary_set"]
    search_fields = ["last_name", "first_name", "person_id"]
    raw_id_fields = ["area"]

from django.contrib import admin

from nextwork.events.models import Event, Rsvp


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "starts_at", "department", "status", "public", "capacity"]
    list_filter = ["kind", "status", "public"]
    search_fields = ["title", "address"]
    raw_id_fields = ["constituency", "department", "commune", "campaign", "created_by"]
    date_hierarchy = "starts_at"


@admin.register(Rsvp)
class RsvpAdmin(admin.ModelAdmin):
    # Names stay in the organisers' page (audited); the admin lists ids and statuses.
    list_display = ["event", "member", "status", "queued_at"]
    list_filter = ["status"]
    raw_id_fields = ["event", "member"]

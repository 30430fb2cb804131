"""Messaging in Django's admin: communities editable; segments, messages and suppressions
mostly read. Sending, cancelling and naming coordinators go through the pages and services
(audited), never through a bare admin save."""

from django.contrib import admin

from nextwork.messaging.models import (
    Community,
    CommunityCoordinator,
    Message,
    Segment,
    Suppression,
)


class CoordinatorInline(admin.TabularInline):
    model = CommunityCoordinator
    fields = ["member", "valid_from", "valid_to", "granted_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "coordinateurs (nommés depuis la page Coordination)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "public", "created_at"]
    list_filter = ["public"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "created_by"]
    inlines = [CoordinatorInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the community in segments and links: fixed once created.
        return [*self.readonly_fields, "slug"] if obj is not None else self.readonly_fields


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["definition", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False  # segment_create checks the definition and the sender


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "message_type", "subject", "status", "is_alert",
                    "recipients", "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "channel", "message_type", "is_alert"]
    search_fields = ["subject"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["channel", "reason", "at", "source"]
    list_filter = ["channel", "reason"]
    readonly_fields = ["channel", "address_hash", "reason", "at", "source"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from nextwork.network.models import (
    CoverageSnapshot,
    Grant,
    Member,
    MemberLocation,
    RelayApplication,
)
from nextwork.network.signals import phone_changed


@admin.register(Member)
class MemberAdmin(UserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "confirmed_at", "is_staff"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Identité", {"fields": ["first_name", "last_name", "phone", "public_relay"]}),
        ("État", {"fields": ["is_active", "confirmed_at", "created_at", "last_login"]}),
        ("Administration", {"fields": ["is_staff", "is_superuser", "groups"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["created_at", "last_login"]

    def save_model(self, request, obj, form, change):
        """A number changed by the staff is a new number like any other: ``phone_changed``
        (the admin saves inside a transaction, so the consents go with the change or not)."""
        super().save_model(request, obj, form, change)
        if change and "phone" in form.changed_data:
            previous = form.initial.get("phone") or ""
            if (obj.phone or "") != previous:
                phone_changed.send(sender=Member, member=obj, previous=previous, by="staff")


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["member", "role", "area", "valid_from", "valid_to"]
    list_filter = ["role"]
    raw_id_fields = ["member", "area", "granted_by"]


@admin.register(RelayApplication)
class RelayApplicationAdmin(admin.ModelAdmin):
    list_display = ["member", "area", "role", "status", "created_at", "decided_at"]
    list_filter = ["status", "role"]
    raw_id_fields = ["member", "area", "invited_by", "decided_by"]


@admin.register(MemberLocation)
class MemberLocationAdmin(admin.ModelAdmin):
    list_display = ["member", "constituency", "precision", "valid_from", "valid_to"]
    raw_id_fields = ["member", "constituency", "commune", "country"]


@admin.register(CoverageSnapshot)
class CoverageSnapshotAdmin(admin.ModelAdmin):
    list_display = ["day", "covered", "substitute_only", "pending", "uncovered", "total"]

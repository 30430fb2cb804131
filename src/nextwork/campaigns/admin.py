from django.contrib import admin

from nextwork.campaigns.models import (
    Assignment,
    Attachment,
    Campaign,
    MessageTemplate,
    Report,
    RepresentativeContact,
    Topic,
)


class TopicInline(admin.StackedInline):
    model = Topic
    extra = 0


class TemplateInline(admin.StackedInline):
    model = MessageTemplate
    extra = 0


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at"]
    fields = readonly_fields
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # files go through the checked upload, not the admin


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["title", "starts_at", "chambers", "status"]
    list_filter = ["status", "chambers"]
    filter_horizontal = ["departments"]
    readonly_fields = ["status", "opened_at", "closed_at", "created_by", "created_at"]
    inlines = [TopicInline, TemplateInline, AttachmentInline]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["campaign", "area", "chamber", "stage"]
    list_filter = ["campaign", "chamber", "stage"]
    raw_id_fields = ["area", "mandate", "relay", "grant"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["assignment", "visibility", "version", "submitted_at"]
    raw_id_fields = ["assignment", "submitted_by"]


@admin.register(RepresentativeContact)
class RepresentativeContactAdmin(admin.ModelAdmin):
    list_display = ["chamber", "person_id", "email", "source", "checked_on"]
    search_fields = ["person_id", "email"]

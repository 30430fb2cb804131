from django.contrib import admin, messages

from nextwork.campaigns import services
from nextwork.campaigns.models import (
    Assignment,
    Attachment,
    Campaign,
    MessageTemplate,
    Report,
    RepresentativeContact,
    Topic,
)
from nextwork.common.errors import DomainError


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
    actions = ["open_campaigns", "close_campaigns"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Ouvrir : créer les missions des relais")
    def open_campaigns(self, request, queryset):
        for campaign in queryset:
            try:
                report = services.campaign_open(campaign=campaign, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{campaign.title} : {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{campaign.title} : {report.assignments} missions, {report.with_relay} "
                    f"avec un relais, {len(report.gaps)} sièges sans relais.",
                )

    @admin.action(description="Clore")
    def close_campaigns(self, request, queryset):
        for campaign in queryset:
            try:
                services.campaign_close(campaign=campaign, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{campaign.title} : {exc.message}", messages.ERROR)


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

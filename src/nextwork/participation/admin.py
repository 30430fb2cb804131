"""The admin of participation. Staff write the news here; consultations, proposals and reports
are better handled on the site's own pages (moderation goes through the queue, so it is
audited and the authors are told), so the admin mostly reads them. List pages show ids and
states, never members' names or addresses."""

from django.contrib import admin

from nextwork.participation.models import Consultation, NewsItem, Proposal, Report


@admin.register(NewsItem)
class NewsItemAdmin(admin.ModelAdmin):
    list_display = ["title", "published_at"]
    search_fields = ["title"]
    date_hierarchy = "published_at"
    exclude = ["author"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "status", "area", "opens_at", "closes_at"]
    list_filter = ["status"]
    search_fields = ["title"]
    raw_id_fields = ["area", "created_by"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    """Read-mostly: states change through the moderation queue, texts through their author."""

    list_display = [
        "id", "consultation_id", "state", "answer_status", "support_count", "comment_count",
        "created_at",
    ]  # fmt: skip
    list_filter = ["state", "answer_status"]
    search_fields = ["=id", "title"]
    raw_id_fields = ["consultation", "author", "area", "merged_into", "moderated_by"]
    readonly_fields = [
        "consultation", "author", "title", "body", "area", "created_at", "edited_at", "version",
        "merged_into", "answer_status", "answered_at", "support_count", "comment_count",
        "follower_count", "body_digest", "state", "held_for", "hidden_reason", "moderated_by",
        "moderated_at", "review_requested_at", "review_note", "review_decided_at",
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "reason", "proposal_id", "comment_id", "created_at", "resolved_at"]
    list_filter = ["reason"]
    raw_id_fields = ["proposal", "comment", "reporter", "resolved_by"]
    readonly_fields = ["proposal", "comment", "reporter", "reason", "note", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

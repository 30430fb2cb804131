from django.urls import path

from nextwork.participation import feeds, views

app_name = "participation"

urlpatterns = [
    path("consultations/", views.consultation_list, name="consultations"),
    path("consultations/<int:pk>/", views.consultation_detail, name="consultation"),
    path("consultations/<int:pk>/feed.atom", feeds.ConsultationFeed(), name="consultation_feed"),
    path("propositions/<int:pk>/", views.proposal_detail, name="proposal"),
    path("propositions/<int:pk>/feed.atom", feeds.ProposalFeed(), name="proposal_feed"),
    path(
        "propositions/<int:pk>/pieces/<int:attachment_id>/",
        views.attachment,
        name="attachment",
    ),
    path("propositions/<int:pk>/soutien/", views.support, name="support"),
    path("propositions/<int:pk>/suivi/", views.follow, name="follow"),
    path("propositions/<int:pk>/modifier/", views.proposal_edit, name="edit"),
    path("propositions/<int:pk>/commentaires/", views.comment_add, name="comment"),
    path(
        "propositions/<int:pk>/commentaires/<int:comment_id>/modifier/",
        views.comment_edit,
        name="comment_edit",
    ),
    path(
        "propositions/<int:pk>/commentaires/<int:comment_id>/supprimer/",
        views.comment_delete,
        name="comment_delete",
    ),
    path("propositions/<int:pk>/signaler/", views.report, name="report"),
    path("propositions/<int:pk>/reexamen/", views.review, name="review"),
    path("propositions/<int:pk>/reponse/", views.answer, name="answer"),
    path("propositions/<int:pk>/regrouper/", views.merge, name="merge"),
    path("equipe/consultations/nouvelle/", views.consultation_create, name="consultation_create"),
    path(
        "equipe/consultations/<int:pk>/modifier/",
        views.consultation_edit,
        name="consultation_edit",
    ),
    path("equipe/moderation/", views.moderation_queue, name="moderation"),
    path("actualites/", views.news_list, name="news"),
    path("actualites/feed.atom", feeds.NewsFeed(), name="news_feed"),
    path(
        "espace/actions/<int:assignment_id>/propositions/",
        views.meeting_proposals,
        name="meeting",
    ),
]

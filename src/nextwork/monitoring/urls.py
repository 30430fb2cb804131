from django.urls import path

from nextwork.monitoring import presence_views, views

app_name = "monitoring"

urlpatterns = [
    path("espace/veille/", views.home, name="home"),
    path("espace/veille/regles/nouvelle/", views.rule_new, name="rule_new"),
    path("espace/veille/regles/<int:rule_id>/", views.rule, name="rule"),
    path("espace/veille/regles/<int:rule_id>/suivre/", views.rule_follow, name="rule_follow"),
    path("espace/veille/regles/<int:rule_id>/serie.csv", views.rule_csv, name="rule_csv"),
    path(
        "espace/veille/regles/<int:rule_id>/messages.csv",
        views.rule_mentions_csv,
        name="rule_mentions_csv",
    ),
    path("espace/veille/sources/", views.sources, name="sources"),
    path("espace/veille/elus/", views.representatives, name="representatives"),
    path("espace/veille/presence/", presence_views.presence_home, name="presence"),
    path("espace/veille/presence/audit/", presence_views.presence_audit, name="presence_audit"),
    path(
        "espace/veille/presence/canaux/<int:channel_id>/profil/",
        presence_views.presence_enter,
        name="presence_enter",
    ),
    path("espace/veille/publier/", presence_views.publish, name="publish"),
    path("espace/veille/publications/", presence_views.publications, name="publications"),
]

from django.urls import path

from nextwork.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("journees/", views.public_list, name="public_list"),
    path("journees/<int:pk>/", views.public_campaign, name="public"),
    path("espace/actions/", views.my_actions, name="mine"),
    path("espace/actions/<int:pk>/", views.assignment_page, name="assignment"),
    path("espace/actions/fichiers/<int:pk>/", views.attachment_download, name="attachment"),
    path("espace/campagnes/", views.campaign_list, name="list"),
    path("espace/campagnes/<int:pk>/", views.campaign_dashboard, name="dashboard"),
    path("espace/campagnes/<int:pk>/rapport/", views.campaign_report, name="report"),
    path("espace/campagnes/<int:pk>/fichiers/", views.attachment_upload, name="upload"),
    path("espace/campagnes/<int:pk>/positions/", views.campaign_positions, name="positions"),
    path(
        "espace/elus/<str:chamber>/<str:person_id>/",
        views.representative_page,
        name="representative",
    ),
    path(
        "espace/campagnes/<int:pk>/rapport.pdf",
        views.campaign_report,
        {"fmt": "pdf"},
        name="report_pdf",
    ),
    path(
        "espace/campagnes/<int:pk>/rapport.csv",
        views.campaign_report,
        {"fmt": "csv"},
        name="report_csv",
    ),
]

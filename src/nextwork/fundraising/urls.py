from django.urls import path

from nextwork.fundraising import donor_views, views
from nextwork.fundraising.dashboard import dashboard

app_name = "fundraising"

urlpatterns = [
    path("dons/", views.give_index, name="give_index"),
    path("dons/merci/", views.thanks, name="thanks"),
    path("dons/<int:beneficiary_id>/", views.give, name="give"),
    path("dons/pages/<slug:slug>/", views.page_public, name="page"),
    path("dons/pages/<slug:slug>/moderation/", views.page_moderate, name="page_moderate"),
    path("espace/dons/pages/", views.my_pages, name="my_pages"),
    path("espace/dons/pages/nouvelle/", views.page_new, name="page_new"),
    path("espace/dons/pages/<int:pk>/", views.page_edit, name="page_edit"),
    path(
        "espace/dons/pages/<int:pk>/merci/<int:donation_id>/",
        views.page_thank,
        name="page_thank",
    ),
    path("espace/dons/", donor_views.my_donations, name="my_donations"),
    path(
        "espace/dons/mensuel/<int:pk>/arreter/", donor_views.recurring_stop, name="recurring_stop"
    ),
    path("espace/dons/recus/", views.my_receipts, name="my_receipts"),
    path("espace/dons/recus/<int:pk>.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("espace/dons/analyse/", dashboard, name="dashboard"),
]

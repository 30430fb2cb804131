"""Pages of the mobilisation reminders: the coordinators' dashboard and its CSV, and the
one-click links of the reminders ("C'est fait", "J'ai voté")."""

from django.urls import path

from nextwork.mobilisation import dashboard, reminders

app_name = "mobilisation_reminders"

urlpatterns = [
    path("espace/mobilisation/", dashboard.dashboard, name="dashboard"),
    path("espace/mobilisation/tour-<int:round_id>.csv", dashboard.dashboard_csv, name="csv"),
    path(
        "mobilisation/c-est-fait/<str:token>/",
        reminders.registration_done_page,
        name="registration_done",
    ),
    path("mobilisation/j-ai-vote/<str:token>/", reminders.voted_page, name="voted"),
]

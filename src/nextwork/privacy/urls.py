from django.urls import path

from nextwork.privacy import views

app_name = "privacy"

urlpatterns = [
    path("espace/journal/", views.journal, name="journal"),
]

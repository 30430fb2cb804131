from django.urls import path

from nextwork.privacy import views

app_name = "privacy"

urlpatterns = [
    path("espace/journal/", views.journal, name="journal"),
    path("espace/donnees/", views.my_data, name="my_data"),
    path("espace/donnees/export/", views.my_data_export, name="my_data_export"),
    path("espace/donnees/effacer/", views.my_erasure, name="my_erasure"),
    path("au-revoir/", views.goodbye, name="goodbye"),
    path("espace/membres/<uuid:public_id>/effacer/", views.staff_erasure, name="staff_erasure"),
]

from django.urls import path

from nextwork.network import views

app_name = "network"

urlpatterns = [
    path("carte/", views.coverage_map, name="map"),
]

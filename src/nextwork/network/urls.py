from django.urls import path

from nextwork.network import views

app_name = "network"

urlpatterns = [
    path("carte/", views.coverage_map, name="map"),
    path("inscription/", views.signup, name="signup"),
    path("inscription/envoyee/", views.signup_sent, name="signup_sent"),
    path("confirmer/<str:token>/", views.confirm, name="confirm"),
]
